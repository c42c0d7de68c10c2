/* npy.h — NumPy .npy arrays (format 1.0/2.0/3.0), read as float32, written as '<f4' C-order. */
#ifndef STEERD_NPY_H
#define STEERD_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "nn/nn.h"

#define NPY_MAX_DIMS 8

typedef struct {
    float *data;                /* malloc'ed, count floats */
    size_t count;
    int ndim;
    int64_t dims[NPY_MAX_DIMS];
} npy_array;

/* Reads '<f4', '<f8', '|u1' (and other numeric little-endian dtypes) into float32.
 * Non-numeric dtypes, fortran_order True, big-endian and truncated data are errors. */
nn_status npy_read(npy_array *a, const char *path, nn_err *err);
nn_status npy_parse(npy_array *a, const uint8_t *buf, size_t len, const char *name_for_errors, nn_err *err);
void npy_free(npy_array *a);
nn_status npy_write_f32(const char *path, const float *data, int ndim, const int64_t *dims, nn_err *err);

#endif
