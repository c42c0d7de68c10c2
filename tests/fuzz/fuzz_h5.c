/* fuzz_h5.c — libFuzzer harness for the Keras .h5 importer (imp_keras_parse: libhdf5 on an
 * in-memory image, the model_config JSON, the layer walk): any input either fails with one line
 * echoing no file bytes, or gives an imported model whose layers and tensors are consistent
 * (input shape set, every tensor's data fully readable). Build/run: tests/fuzz/run.sh h5 SECONDS. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_echo.h"
#include "import/import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    imp_model m;
    imp_init(&m, "fuzz.h5", "Keras .h5");
    nn_err err = {{0}};
    if (imp_keras_parse(&m, data, size, &err) != NN_OK) {
        if (err.msg[0] == '\0' || strchr(err.msg, '\n'))
            abort();
        fuzz_check_no_echo(data, size, err.msg);
    } else {
        if (m.n_l < 1 || m.in_h < 1 || m.in_w < 1 || m.in_c < 1)
            abort();
        volatile float acc = 0;
        for (int i = 0; i < m.n_t; i++) {
            size_t n = 1;
            for (int d = 0; d < m.t[i].ndim; d++)
                n *= (size_t)m.t[i].dims[d];
            for (size_t e = 0; e < n; e++)
                acc += m.t[i].data[e];
        }
        (void)acc;
    }
    imp_free(&m);
    return 0;
}
