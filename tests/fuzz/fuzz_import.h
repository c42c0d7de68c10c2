/* fuzz_import.h — what the importer harnesses (fuzz_onnx.c, fuzz_h5.c) check after a parse: a
 * failure is one line echoing no file bytes (fuzz_echo.h); a success is a model with layers, an
 * input shape and tensors whose data is fully readable (ASan sees a short buffer). Frees m. */
#ifndef STEERD_FUZZ_IMPORT_H
#define STEERD_FUZZ_IMPORT_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_echo.h"
#include "import/import.h"

static inline void fuzz_import_check(nn_status s, imp_model *m, const nn_err *err, const uint8_t *data, size_t size)
{
    if (s != NN_OK) {
        if (err->msg[0] == '\0' || strchr(err->msg, '\n'))
            abort();
        fuzz_check_no_echo(data, size, err->msg);
    } else {
        if (m->n_l < 1 || m->in_h < 1 || m->in_w < 1 || m->in_c < 1)
            abort();
        volatile float acc = 0;
        for (int i = 0; i < m->n_t; i++) {
            size_t n = 1;
            for (int d = 0; d < m->t[i].ndim; d++)
                n *= (size_t)m->t[i].dims[d];
            for (size_t e = 0; e < n; e++)
                acc += m->t[i].data[e];
        }
        (void)acc;
    }
    imp_free(m);
}

#endif
