/* fuzz_safetensors.c — libFuzzer harness for the safetensors reader (st_parse): any input must
 * either parse into tensors whose byte ranges lie inside the data section (every byte is read,
 * so ASan catches a bad range) or fail with a one-line message. Build/run: tests/fuzz/run.sh. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/format/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    st_file f;
    nn_err err = {{0}};
    if (st_parse(&f, data, size, "fuzz.safetensors", &err) != NN_OK) {
        if (err.msg[0] == '\0' || strchr(err.msg, '\n') || f.tensors || f.meta)
            abort();
        return 0;
    }
    volatile uint8_t acc = 0;
    for (int i = 0; i < f.n_tensors; i++) {
        const st_tensor *t = &f.tensors[i];
        if (t->begin > t->end || t->end > f.data_len || st_find(&f, t->name) != t || st_dtype_size(t->dtype) == 0)
            abort();
        for (size_t b = t->begin; b < t->end; b++)
            acc ^= f.data[b];
    }
    for (int i = 0; i < f.n_meta; i++)
        if (st_meta(&f, f.meta[i].key) != f.meta[i].value)
            abort();
    (void)acc;
    st_close(&f);
    return 0;
}
