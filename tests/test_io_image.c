/* test_io_image.c — src/io/image.c: PNG round trip (exact) and JPEG round trip (close) through
 * files written in a temporary directory, format sniffing by magic bytes (not by name), buffer
 * reuse across frames, and one-line errors for missing, truncated, bit-flipped and non-image
 * files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "test_util.h"

#include "io/image.h"

static int setup(void **state)
{
    return tmp_fixture_new(state, "test_io_image", NULL) ? 0 : -1;
}

/* A smooth test image (JPEG-friendly): gradients per channel. */
static uint8_t *make_rgb(int w, int h)
{
    uint8_t *p = malloc((size_t)w * (size_t)h * 3);
    assert_non_null(p);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *q = p + ((size_t)y * (size_t)w + (size_t)x) * 3;
            q[0] = (uint8_t)(x * 255 / (w - 1));
            q[1] = (uint8_t)(y * 255 / (h - 1));
            q[2] = (uint8_t)((x + y) * 127 / (w + h - 2) + 64);
        }
    return p;
}

static long file_size(const char *path)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fclose(fp);
    return n;
}

/* Keeps the first `keep` bytes of src in dst; flips byte `flip` (if >= 0). */
static void copy_damaged(const char *src, const char *dst, long keep, long flip)
{
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    assert_non_null(in);
    assert_non_null(out);
    for (long i = 0; i < keep; i++) {
        int c = fgetc(in);
        assert_int_not_equal(c, EOF);
        fputc(i == flip ? c ^ 0x5A : c, out);
    }
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

static void test_png_round_trip(void **state)
{
    tmp_fixture *f = *state;
    const int w = 37, h = 23;
    uint8_t *rgb = make_rgb(w, h);
    nn_err err;
    assert_int_equal(io_image_save_png(tmp_path(f, "a.png"), rgb, w, h, &err), NN_OK);
    io_image img = {0};
    assert_int_equal(io_image_load(&img, f->buf, &err), NN_OK);
    assert_int_equal(img.width, w);
    assert_int_equal(img.height, h);
    assert_memory_equal(img.data, rgb, (size_t)w * h * 3);
    io_image_free(&img);
    free(rgb);
}

static void test_jpeg_round_trip(void **state)
{
    tmp_fixture *f = *state;
    const int w = 64, h = 48;
    uint8_t *rgb = make_rgb(w, h);
    nn_err err;
    /* Named .png on purpose: the format comes from the magic bytes. */
    assert_int_equal(io_image_save_jpeg(tmp_path(f, "really-a-jpeg.png"), rgb, w, h, 95, &err), NN_OK);
    io_image img = {0};
    assert_int_equal(io_image_load(&img, f->buf, &err), NN_OK);
    assert_int_equal(img.width, w);
    assert_int_equal(img.height, h);
    double sum = 0;
    for (size_t i = 0; i < (size_t)w * h * 3; i++)
        sum += abs((int)img.data[i] - (int)rgb[i]);
    double mean = sum / ((double)w * h * 3);
    if (mean > 2.0)
        fail_msg("JPEG q95 round trip: mean abs error %.2f > 2", mean);
    io_image_free(&img);
    free(rgb);
}

static void test_buffer_reuse(void **state)
{
    tmp_fixture *f = *state;
    uint8_t *big = make_rgb(40, 30), *small = make_rgb(20, 10);
    nn_err err;
    char a[128], b[128];
    snprintf(a, sizeof a, "%s", tmp_path(f, "big.png"));
    snprintf(b, sizeof b, "%s", tmp_path(f, "small.jpg"));
    assert_int_equal(io_image_save_png(a, big, 40, 30, &err), NN_OK);
    assert_int_equal(io_image_save_jpeg(b, small, 20, 10, 90, &err), NN_OK);
    io_image img = {0};
    assert_int_equal(io_image_load(&img, a, &err), NN_OK);
    uint8_t *data = img.data;
    size_t cap = img.cap;
    assert_int_equal(io_image_load(&img, b, &err), NN_OK);
    assert_ptr_equal(img.data, data); /* smaller frame: same buffer */
    assert_int_equal(img.cap, cap);
    assert_int_equal(img.width, 20);
    assert_int_equal(img.height, 10);
    assert_int_equal(io_image_load(&img, a, &err), NN_OK);
    assert_memory_equal(img.data, big, 40 * 30 * 3);
    io_image_free(&img);
    free(big);
    free(small);
}

static void expect_error(const char *path, nn_status want, const char *needle)
{
    io_image img = {0};
    nn_err err;
    nn_status s = io_image_load(&img, path, &err);
    if (s != want || !strstr(err.msg, needle) || !strstr(err.msg, path) || strchr(err.msg, '\n'))
        fail_msg("%s: got status %d '%s', want %d with '%s'", path, s, s ? err.msg : "", want, needle);
    io_image_free(&img);
}

static void test_errors(void **state)
{
    tmp_fixture *f = *state;
    uint8_t *rgb = make_rgb(64, 48);
    nn_err err;
    char png[128], jpg[128];
    snprintf(png, sizeof png, "%s", tmp_path(f, "ok.png"));
    snprintf(jpg, sizeof jpg, "%s", tmp_path(f, "ok.jpg"));
    assert_int_equal(io_image_save_png(png, rgb, 64, 48, &err), NN_OK);
    assert_int_equal(io_image_save_jpeg(jpg, rgb, 64, 48, 90, &err), NN_OK);
    free(rgb);

    expect_error(tmp_path(f, "missing.jpg"), NN_E_IO, "cannot open");
    copy_damaged(jpg, tmp_path(f, "trunc.jpg"), file_size(jpg) / 2, -1);
    expect_error(f->buf, NN_E_PARSE, "corrupt JPEG");
    copy_damaged(jpg, tmp_path(f, "header-only.jpg"), 40, -1);
    expect_error(f->buf, NN_E_PARSE, "corrupt JPEG");
    copy_damaged(png, tmp_path(f, "trunc.png"), file_size(png) / 2, -1);
    expect_error(f->buf, NN_E_PARSE, "corrupt PNG");
    copy_damaged(png, tmp_path(f, "crc.png"), file_size(png), file_size(png) - 20); /* inside IDAT */
    expect_error(f->buf, NN_E_PARSE, "corrupt PNG");
    write_text(tmp_path(f, "text.jpg"), "center,left,right\n");
    expect_error(f->buf, NN_E_PARSE, "not a JPEG or PNG");
    write_text(tmp_path(f, "empty.png"), "");
    expect_error(f->buf, NN_E_PARSE, "not a JPEG or PNG");
    /* not a regular file: refused by kind, and a FIFO without a writer does not block */
    make_dir(tmp_path(f, "dir.jpg"));
    expect_error(f->buf, NN_E_IO, ": is a directory, expected a regular file");
    assert_int_equal(mkfifo(tmp_path(f, "fifo.jpg"), 0600), 0);
    expect_error(f->buf, NN_E_IO, ": is a FIFO, expected a regular file");
    expect_error("/dev/zero", NN_E_IO, "/dev/zero: is a character device, expected a regular file");

    assert_int_not_equal(io_image_save_png(tmp_path(f, "x.png"), NULL, 4, 4, &err), NN_OK);
    assert_int_not_equal(io_image_save_jpeg(tmp_path(f, "x.jpg"), (const uint8_t *)"abc", 1, 1, 0, &err), NN_OK);
    assert_int_equal(io_image_save_png("/nonexistent-dir/x.png", (const uint8_t *)"abc", 1, 1, &err), NN_E_IO);
    assert_non_null(strstr(err.msg, "/nonexistent-dir/x.png: cannot create"));
}

static void test_sniff(void **state)
{
    (void)state;
    const uint8_t jpg[] = {0xFF, 0xD8, 0xFF, 0xE0}, png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    assert_int_equal(io_image_sniff(jpg, sizeof jpg), IO_IMG_JPEG);
    assert_int_equal(io_image_sniff(png, sizeof png), IO_IMG_PNG);
    assert_int_equal(io_image_sniff(png, 7), IO_IMG_UNKNOWN);
    assert_int_equal(io_image_sniff(NULL, 0), IO_IMG_UNKNOWN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_png_round_trip, setup, tmp_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_jpeg_round_trip, setup, tmp_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_buffer_reuse, setup, tmp_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, tmp_fixture_teardown),
        cmocka_unit_test(test_sniff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
