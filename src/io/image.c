/* image.c — JPEG (libjpeg-turbo's libjpeg API) and PNG (libpng) decode to packed RGB and encode
 * from it. Both libraries report fatal errors through longjmp: each decoder keeps everything the
 * error path needs in a context struct in memory (not in registers), so nothing is clobbered. */
#include "io/image.h"

#include <errno.h>
#include <setjmp.h>
#include <stdio.h> /* before jpeglib.h, which uses FILE */
#include <jpeglib.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>

#include "io/file.h"

io_image_format io_image_sniff(const uint8_t *head, size_t n)
{
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (head && n >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF)
        return IO_IMG_JPEG;
    if (head && n >= 8 && memcmp(head, png_sig, 8) == 0)
        return IO_IMG_PNG;
    return IO_IMG_UNKNOWN;
}

void io_image_free(io_image *img)
{
    free(img->data);
    memset(img, 0, sizeof *img);
}

/* Makes room for a width x height RGB image. */
static nn_status image_size(io_image *img, const char *path, unsigned long w, unsigned long h, nn_err *err)
{
    if (w < 1 || h < 1 || w > IO_IMAGE_MAX_SIDE || h > IO_IMAGE_MAX_SIDE)
        return nn_fail(err, NN_E_PARSE, "%s: image size %lux%lu is outside 1..%d", path, w, h, IO_IMAGE_MAX_SIDE);
    size_t need = (size_t)w * (size_t)h * 3;
    if (need > img->cap) {
        uint8_t *p = realloc(img->data, need);
        if (!p)
            return nn_fail(err, NN_E_NOMEM, "%s: out of memory for a %lux%lu image", path, w, h);
        img->data = p;
        img->cap = need;
    }
    img->width = (int)w;
    img->height = (int)h;
    return NN_OK;
}

/* ---- JPEG ---- */

typedef struct {
    struct jpeg_error_mgr pub; /* first: libjpeg hands back a pointer to it */
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
    int warnings;
} jpeg_ctx;

static void jpeg_on_error(j_common_ptr c)
{
    jpeg_ctx *e = (jpeg_ctx *)c->err;
    c->err->format_message(c, e->msg);
    longjmp(e->jb, 1);
}

/* Warnings (level < 0) such as "Premature end of JPEG file" mean corrupt data: remember the
 * first one; trace messages (level >= 0) are ignored. Nothing is printed. */
static void jpeg_on_message(j_common_ptr c, int level)
{
    jpeg_ctx *e = (jpeg_ctx *)c->err;
    if (level < 0 && e->warnings++ == 0)
        c->err->format_message(c, e->msg);
}

typedef struct {
    struct jpeg_decompress_struct ci;
    jpeg_ctx e;
    nn_status status;
} jpeg_dec;

static nn_status load_jpeg(io_image *img, FILE *f, const char *path, nn_err *err)
{
    jpeg_dec *d = calloc(1, sizeof *d);
    if (!d)
        return nn_fail(err, NN_E_NOMEM, "%s: out of memory", path);
    d->ci.err = jpeg_std_error(&d->e.pub);
    d->e.pub.error_exit = jpeg_on_error;
    d->e.pub.emit_message = jpeg_on_message;
    if (setjmp(d->e.jb)) {
        jpeg_destroy_decompress(&d->ci);
        nn_status s = nn_fail(err, NN_E_PARSE, "%s: corrupt JPEG: %s", path, d->e.msg);
        free(d);
        return s;
    }
    jpeg_create_decompress(&d->ci);
    jpeg_stdio_src(&d->ci, f);
    jpeg_read_header(&d->ci, TRUE);
    if (d->ci.jpeg_color_space == JCS_CMYK || d->ci.jpeg_color_space == JCS_YCCK) {
        d->status = nn_fail(err, NN_E_UNSUPPORTED, "%s: CMYK JPEG images are not supported (RGB or grayscale only)",
                            path);
    } else {
        d->ci.out_color_space = JCS_RGB;
        d->status = image_size(img, path, d->ci.image_width, d->ci.image_height, err);
    }
    if (!d->status) {
        jpeg_start_decompress(&d->ci);
        if (d->ci.output_components != 3 || (int)d->ci.output_width != img->width ||
            (int)d->ci.output_height != img->height) {
            d->status = nn_fail(err, NN_E_PARSE, "%s: JPEG decodes to %ux%ux%d, not the RGB header size", path,
                                d->ci.output_width, d->ci.output_height, d->ci.output_components);
        } else {
            size_t stride = (size_t)img->width * 3;
            while (d->ci.output_scanline < d->ci.output_height) {
                JSAMPROW row = img->data + (size_t)d->ci.output_scanline * stride;
                jpeg_read_scanlines(&d->ci, &row, 1);
            }
            jpeg_finish_decompress(&d->ci);
            if (d->e.warnings)
                d->status = nn_fail(err, NN_E_PARSE, "%s: corrupt JPEG: %s", path, d->e.msg);
        }
    }
    jpeg_destroy_decompress(&d->ci);
    nn_status s = d->status;
    free(d);
    return s;
}

/* ---- PNG ---- */

typedef struct {
    png_structp png;
    png_infop info;
    png_bytep *rows;
    char msg[256];
    nn_status status;
} png_ctx;

static void png_on_error(png_structp p, png_const_charp msg)
{
    png_ctx *c = png_get_error_ptr(p);
    snprintf(c->msg, sizeof c->msg, "%s", msg);
    png_longjmp(p, 1);
}

static void png_on_warning(png_structp p, png_const_charp msg)
{
    (void)p; /* ancillary-chunk warnings (e.g. a bad iCCP profile) do not affect the pixels */
    (void)msg;
}

static nn_status load_png(io_image *img, FILE *f, const char *path, nn_err *err)
{
    png_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return nn_fail(err, NN_E_NOMEM, "%s: out of memory", path);
    c->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, c, png_on_error, png_on_warning);
    if (c->png)
        c->info = png_create_info_struct(c->png);
    if (!c->png || !c->info) {
        png_destroy_read_struct(&c->png, &c->info, NULL);
        free(c);
        return nn_fail(err, NN_E_NOMEM, "%s: out of memory", path);
    }
    if (setjmp(png_jmpbuf(c->png))) {
        png_destroy_read_struct(&c->png, &c->info, NULL);
        free(c->rows);
        nn_status s = nn_fail(err, NN_E_PARSE, "%s: corrupt PNG: %s", path, c->msg);
        free(c);
        return s;
    }
    png_init_io(c->png, f);
    png_set_user_limits(c->png, IO_IMAGE_MAX_SIDE, IO_IMAGE_MAX_SIDE);
    png_read_info(c->png, c->info);
    int depth = png_get_bit_depth(c->png, c->info), type = png_get_color_type(c->png, c->info);
    if (depth == 16)
        png_set_strip_16(c->png);
    if (type == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(c->png);
    if (type == PNG_COLOR_TYPE_GRAY && depth < 8)
        png_set_expand_gray_1_2_4_to_8(c->png);
    if (type == PNG_COLOR_TYPE_GRAY || type == PNG_COLOR_TYPE_GRAY_ALPHA)
        png_set_gray_to_rgb(c->png);
    png_set_strip_alpha(c->png);
    png_set_interlace_handling(c->png);
    png_read_update_info(c->png, c->info);
    unsigned long w = png_get_image_width(c->png, c->info), h = png_get_image_height(c->png, c->info);
    c->status = image_size(img, path, w, h, err);
    if (!c->status && png_get_rowbytes(c->png, c->info) != w * 3)
        c->status = nn_fail(err, NN_E_PARSE, "%s: PNG rows are %lu bytes after conversion, expected %lu (RGB)",
                            path, (unsigned long)png_get_rowbytes(c->png, c->info), w * 3);
    if (!c->status) {
        c->rows = malloc(h * sizeof *c->rows);
        if (!c->rows)
            c->status = nn_fail(err, NN_E_NOMEM, "%s: out of memory", path);
    }
    if (!c->status) {
        for (unsigned long y = 0; y < h; y++)
            c->rows[y] = img->data + y * w * 3;
        png_read_image(c->png, c->rows);
        png_read_end(c->png, NULL);
    }
    png_destroy_read_struct(&c->png, &c->info, NULL);
    free(c->rows);
    nn_status s = c->status;
    free(c);
    return s;
}

nn_status io_image_load(io_image *img, const char *path, nn_err *err)
{
    FILE *f;
    nn_status os = io_fopen_regular(path, &f, err);
    if (os)
        return os;
    uint8_t head[8];
    size_t n = fread(head, 1, sizeof head, f);
    nn_status s;
    io_image_format fmt = io_image_sniff(head, n);
    if (fmt == IO_IMG_UNKNOWN) {
        s = ferror(f) ? nn_fail(err, NN_E_IO, "%s: read error: %s", path, strerror(errno))
                      : nn_fail(err, NN_E_PARSE, "%s: not a JPEG or PNG image (%zu byte%s read)", path, n,
                                n == 1 ? "" : "s");
    } else if (fseek(f, 0, SEEK_SET) != 0) {
        s = nn_fail(err, NN_E_IO, "%s: cannot seek: %s", path, strerror(errno));
    } else {
        s = fmt == IO_IMG_JPEG ? load_jpeg(img, f, path, err) : load_png(img, f, path, err);
    }
    fclose(f);
    return s;
}

/* ---- encoders ---- */

static nn_status check_args(const char *path, const uint8_t *rgb, int width, int height, nn_err *err)
{
    if (!rgb || width < 1 || height < 1 || width > IO_IMAGE_MAX_SIDE || height > IO_IMAGE_MAX_SIDE)
        return nn_fail(err, NN_E_ARG, "%s: cannot write a %dx%d image", path, width, height);
    return NN_OK;
}

static nn_status close_written(FILE *f, const char *path, nn_status s, nn_err *err)
{
    if (fclose(f) != 0 && !s)
        s = nn_fail(err, NN_E_IO, "%s: write error: %s", path, strerror(errno));
    if (s)
        remove(path);
    return s;
}

nn_status io_image_save_png(const char *path, const uint8_t *rgb, int width, int height, nn_err *err)
{
    nn_status s = check_args(path, rgb, width, height, err);
    if (s)
        return s;
    png_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return nn_fail(err, NN_E_NOMEM, "%s: out of memory", path);
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(c);
        return nn_fail(err, NN_E_IO, "%s: cannot create: %s", path, strerror(errno));
    }
    c->png = png_create_write_struct(PNG_LIBPNG_VER_STRING, c, png_on_error, png_on_warning);
    if (c->png)
        c->info = png_create_info_struct(c->png);
    if (!c->png || !c->info) {
        png_destroy_write_struct(&c->png, &c->info);
        free(c);
        return close_written(f, path, nn_fail(err, NN_E_NOMEM, "%s: out of memory", path), err);
    }
    if (setjmp(png_jmpbuf(c->png))) {
        png_destroy_write_struct(&c->png, &c->info);
        s = nn_fail(err, NN_E_IO, "%s: PNG write failed: %s", path, c->msg);
        free(c);
        return close_written(f, path, s, err);
    }
    png_init_io(c->png, f);
    png_set_IHDR(c->png, c->info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(c->png, c->info);
    for (int y = 0; y < height; y++)
        png_write_row(c->png, rgb + (size_t)y * (size_t)width * 3);
    png_write_end(c->png, NULL);
    png_destroy_write_struct(&c->png, &c->info);
    free(c);
    return close_written(f, path, NN_OK, err);
}

typedef struct {
    struct jpeg_compress_struct ci;
    jpeg_ctx e;
} jpeg_enc;

nn_status io_image_save_jpeg(const char *path, const uint8_t *rgb, int width, int height, int quality,
                             nn_err *err)
{
    nn_status s = check_args(path, rgb, width, height, err);
    if (s)
        return s;
    if (quality < 1 || quality > 100)
        return nn_fail(err, NN_E_ARG, "%s: JPEG quality must be in [1, 100] (got %d)", path, quality);
    jpeg_enc *c = calloc(1, sizeof *c);
    if (!c)
        return nn_fail(err, NN_E_NOMEM, "%s: out of memory", path);
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(c);
        return nn_fail(err, NN_E_IO, "%s: cannot create: %s", path, strerror(errno));
    }
    c->ci.err = jpeg_std_error(&c->e.pub);
    c->e.pub.error_exit = jpeg_on_error;
    c->e.pub.emit_message = jpeg_on_message;
    if (setjmp(c->e.jb)) {
        jpeg_destroy_compress(&c->ci);
        s = nn_fail(err, NN_E_IO, "%s: JPEG write failed: %s", path, c->e.msg);
        free(c);
        return close_written(f, path, s, err);
    }
    jpeg_create_compress(&c->ci);
    jpeg_stdio_dest(&c->ci, f);
    c->ci.image_width = (JDIMENSION)width;
    c->ci.image_height = (JDIMENSION)height;
    c->ci.input_components = 3;
    c->ci.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c->ci);
    jpeg_set_quality(&c->ci, quality, TRUE);
    jpeg_start_compress(&c->ci, TRUE);
    while (c->ci.next_scanline < c->ci.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)c->ci.next_scanline * (size_t)width * 3);
        jpeg_write_scanlines(&c->ci, &row, 1);
    }
    jpeg_finish_compress(&c->ci);
    jpeg_destroy_compress(&c->ci);
    free(c);
    return close_written(f, path, NN_OK, err);
}
