/* fuzz_npy.c — libFuzzer harness for the .npy reader (npy_parse): any input must either parse
 * into count = product(dims) floats (all read back) or fail with a one-line message.
 * Build/run: tests/fuzz/run.sh. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/format/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    npy_array a;
    nn_err err = {{0}};
    if (npy_parse(&a, data, size, "fuzz.npy", &err) != NN_OK) {
        if (err.msg[0] == '\0' || strchr(err.msg, '\n') || a.data)
            abort();
        return 0;
    }
    size_t count = 1;
    for (int i = 0; i < a.ndim; i++)
        count *= (size_t)a.dims[i];
    if (a.ndim < 0 || a.ndim > NPY_MAX_DIMS || count != a.count || !a.data)
        abort();
    volatile float acc = 0;
    for (size_t i = 0; i < a.count; i++)
        acc += a.data[i];
    (void)acc;
    npy_free(&a);
    return 0;
}
