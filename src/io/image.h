/* image.h — still-image files <-> packed 8-bit RGB: JPEG (libjpeg-turbo) and PNG (libpng),
 * chosen by the file's magic bytes, not its name. Grayscale, palette, 16-bit and alpha PNGs and
 * grayscale JPEGs are converted to RGB; CMYK JPEGs are refused. The decode buffer belongs to the
 * caller's io_image and only grows (a replay of same-sized frames allocates once). Corrupt or
 * truncated files are errors (libjpeg's "premature end of data" warning included), reported as
 * one line `path: problem`. Encoders exist for tests and tools that write frames. */
#ifndef STEERD_IO_IMAGE_H
#define STEERD_IO_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "nn/nn.h"

#define IO_IMAGE_MAX_SIDE 16384 /* larger images are refused (a corrupt header must not allocate GBs) */

typedef struct {
    uint8_t *data;  /* height rows of width*3 bytes (stride = width * 3) */
    size_t cap;     /* bytes allocated */
    int width, height;
} io_image;

typedef enum { IO_IMG_UNKNOWN = 0, IO_IMG_JPEG, IO_IMG_PNG } io_image_format;

/* Decodes path into img (img zero-initialised by the caller before the first use). On failure
 * img keeps its buffer but its size is unspecified. */
nn_status io_image_load(io_image *img, const char *path, nn_err *err);
void io_image_free(io_image *img);
/* The format named by the first bytes of a file (NULL/short -> IO_IMG_UNKNOWN). */
io_image_format io_image_sniff(const uint8_t *head, size_t n);

/* rgb: height rows of width*3 bytes. quality 1..100. */
nn_status io_image_save_png(const char *path, const uint8_t *rgb, int width, int height, nn_err *err);
nn_status io_image_save_jpeg(const char *path, const uint8_t *rgb, int width, int height, int quality,
                             nn_err *err);

#endif
