/* idx.h — IDX files (the MNIST / Fashion-MNIST layout), raw or gzip-compressed (chosen by the
 * gzip magic bytes 1f 8b, not by the name). Only the two u8 layouts the datasets use are read:
 * images, magic 0x00000803 (rank 3: count, rows, cols) and labels, magic 0x00000801 (rank 1:
 * count). Dimensions are big-endian u32. The header is validated (magic, zero counts, sizes),
 * then exactly count*rows*cols (or count) data bytes must follow: a short file is
 * `file: truncated image data (expected N bytes, got M)`, extra bytes are an error too. Every
 * failure is one line naming the file, and nothing stays allocated. */
#ifndef STEERD_TRAIN_IDX_H
#define STEERD_TRAIN_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "nn/nn.h"

#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_MAGIC_LABELS 0x00000801u
#define IDX_MAX_SIDE 4096                /* rows and cols above this are refused */
#define IDX_MAX_BYTES ((size_t)1 << 33)  /* 8 GiB of data at most */

typedef enum { IDX_IMAGES = 0, IDX_LABELS } idx_kind;

typedef struct {
    idx_kind kind;
    size_t count;      /* images or labels */
    int rows, cols;    /* image size (1, 1 for labels) */
    uint8_t *data;     /* count * rows * cols bytes, row-major, one image after the other */
    char digest[72];   /* idx_load: "sha256:<hex>" of the decoded content (kind, count, rows, cols, data),
                          the dataset's identity: recompressing the file does not change it; "" otherwise */
} idx_array;

/* Parses an IDX file held in memory (raw or gzip). `name` is used in messages. `want` is the
 * layout the caller needs: a file of the other kind is a magic-number error. */
nn_status idx_parse(idx_array *out, const uint8_t *buf, size_t len, idx_kind want, const char *name,
                    nn_err *err);
/* Reads and parses path: a regular file (a directory, FIFO or device is refused by kind, without
 * blocking: `f: is a FIFO, expected a regular file`) of at most IDX_MAX_BYTES + 16 bytes. */
nn_status idx_load(idx_array *out, const char *path, idx_kind want, nn_err *err);
/* Loads an images file and its labels file; the counts must match. On failure neither stays
 * allocated. */
nn_status idx_load_pair(idx_array *images, idx_array *labels, const char *images_path,
                        const char *labels_path, nn_err *err);
void idx_free(idx_array *a);

#endif
