/* safetensors.h — bounds-checked reader and atomic writer for the safetensors format
 * (8-byte little-endian header length, JSON header, raw little-endian tensor data).
 * Integrity: __metadata__ "checksum" = "sha256:<hex of the data section>", verified when present. */
#ifndef STEERD_SAFETENSORS_H
#define STEERD_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "nn/nn.h"

#define ST_MAX_DIMS 8
#define ST_NAME_LEN 192

typedef struct {
    char name[ST_NAME_LEN];
    char dtype[8];              /* as written in the file, e.g. "F32", "F16", "I64" */
    int ndim;
    int64_t dims[ST_MAX_DIMS];
    size_t begin, end;          /* byte offsets into the data section */
} st_tensor;

typedef struct {
    char key[64];
    char value[256];
} st_meta_kv;

typedef struct {
    char path[512];             /* for error messages */
    void *map;                  /* mmap of the whole file (st_open), or NULL (st_parse) */
    size_t map_len;
    const uint8_t *data;        /* data section (may be unaligned: copy with memcpy) */
    size_t data_len;
    st_tensor *tensors;
    int n_tensors;
    st_meta_kv *meta;
    int n_meta;
} st_file;

/* Maps and parses a file; verifies the checksum when __metadata__ has one. */
nn_status st_open(st_file *f, const char *path, nn_err *err);
/* Parses an in-memory file (buf stays owned by the caller and must outlive f). */
nn_status st_parse(st_file *f, const uint8_t *buf, size_t len, const char *name_for_errors, nn_err *err);
void st_close(st_file *f);

const st_tensor *st_find(const st_file *f, const char *name);
/* Bytes per element of a safetensors dtype ("F32" → 4), 0 for an unknown dtype. */
size_t st_dtype_size(const char *dtype);
const char *st_meta(const st_file *f, const char *key);   /* NULL when absent */
/* n little-endian IEEE half-precision values (src may be unaligned) to float32. Exact: every half
 * (subnormals, ±0, ±inf, NaN with its payload) is a float32 value. */
void st_f16_to_f32(const uint8_t *src, float *dst, size_t n);

typedef struct {
    const char *name;
    int ndim;
    const int *dims;
    const float *data;          /* F32 */
} st_out_tensor;

/* Writes F32 tensors in the given order, __metadata__ = meta_kv (NULL-terminated key/value
 * pairs, may be NULL; keys < 64 and values < 256 bytes, no "checksum") plus "checksum".
 * Header padded with spaces to a multiple of 8. Atomic: writes path.tmp, fsyncs, renames;
 * on failure the temp file is removed. Bad arguments: NN_E_ARG; I/O: NN_E_IO.
 * checksum_out (may be NULL) receives "sha256:<hex>". */
nn_status st_write(const char *path, const st_out_tensor *t, int n, const char *const *meta_kv,
                   char checksum_out[80], nn_err *err);

#endif
