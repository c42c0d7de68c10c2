/* fuzz_idx.c — libFuzzer harness for the IDX reader (src/train/idx.c): raw and gzip input, both
 * layouts. A parse either fails with a one-line message and nothing allocated, or returns
 * count*rows*cols data bytes (all read, so ASan sees a short buffer) with the header's shape. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "train/idx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int k = 0; k < 2; k++) {
        idx_array a;
        nn_err err;
        err.msg[0] = 0;
        if (idx_parse(&a, data, size, k ? IDX_LABELS : IDX_IMAGES, "fuzz", &err) != NN_OK) {
            if (!err.msg[0] || strchr(err.msg, '\n') || a.data)
                abort();
            continue;
        }
        if (a.count < 1 || a.rows < 1 || a.cols < 1 || (k && (a.rows != 1 || a.cols != 1)))
            abort();
        size_t n = a.count * (size_t)a.rows * (size_t)a.cols;
        unsigned sum = 0;
        for (size_t i = 0; i < n; i++)
            sum += a.data[i];
        if (sum == 0xdeadbeefu) /* keep the reads */
            abort();
        idx_free(&a);
    }
    return 0;
}
