/* test_daemon_preprocess.c — frame -> model input: identity copy, exact 2x downscale (bilinear
 * at half-pixel centres = 2x2 mean), crop scaled with the frame size, scale/offset, grayscale,
 * row stride, a crop that does not fit, agreement with a double-precision reference, and no
 * allocation per frame (allocator calls counted via --wrap). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "daemon/preprocess.h"

static int alloc_calls;
void *__real_malloc(size_t n);
void *__wrap_malloc(size_t n)
{
    alloc_calls++;
    return __real_malloc(n);
}

static uint8_t *make_frame(int w, int h, int stride, uint32_t seed)
{
    uint8_t *f = malloc((size_t)stride * (size_t)h);
    assert_true(stride >= w * 3);
    assert_non_null(f);
    for (int i = 0; i < stride * h; i++) {
        seed = seed * 1664525u + 1013904223u;
        f[i] = (uint8_t)(seed >> 24);
    }
    return f;
}

static nn_preprocess plain(void)
{
    nn_preprocess p = {.scale = 1.0f, .offset = 0.0f};
    return p;
}

static void test_identity(void **state)
{
    (void)state;
    pp_plan p;
    nn_preprocess pre = plain();
    assert_int_equal(pp_init(&p, &pre, 5, 7, 3, NULL), NN_OK);
    uint8_t *f = make_frame(7, 5, 7 * 3 + 5, 1); /* padded rows */
    float out[5 * 7 * 3];
    assert_int_equal(pp_run(&p, f, 7, 5, 7 * 3 + 5, out, NULL), NN_OK);
    for (int y = 0; y < 5; y++)
        for (int x = 0; x < 7; x++)
            for (int c = 0; c < 3; c++)
                assert_float_equal(out[(y * 7 + x) * 3 + c], f[y * 26 + x * 3 + c], 0);
    free(f);
    pp_free(&p);
}

static void test_half_size_is_block_mean_with_scale_offset(void **state)
{
    (void)state;
    pp_plan p;
    nn_preprocess pre = {.scale = 1.0f / 255.0f, .offset = -0.5f};
    assert_int_equal(pp_init(&p, &pre, 3, 4, 3, NULL), NN_OK);
    uint8_t *f = make_frame(8, 6, 24, 2);
    float out[3 * 4 * 3];
    assert_int_equal(pp_run(&p, f, 8, 6, 24, out, NULL), NN_OK);
    for (int y = 0; y < 3; y++)
        for (int x = 0; x < 4; x++)
            for (int c = 0; c < 3; c++) {
                double m = (f[(2 * y) * 24 + (2 * x) * 3 + c] + f[(2 * y) * 24 + (2 * x + 1) * 3 + c] +
                            f[(2 * y + 1) * 24 + (2 * x) * 3 + c] + f[(2 * y + 1) * 24 + (2 * x + 1) * 3 + c]) /
                           4.0;
                assert_float_equal(out[(y * 4 + x) * 3 + c], m / 255.0 - 0.5, 1e-5);
            }
    free(f);
    pp_free(&p);
}

/* Independent reference: PyTorch's interpolate(bilinear, align_corners=False) on the crop. */
static double ref_sample(const uint8_t *f, int stride, int top, int left, int ch, int cw, int oh, int ow, int oy,
                         int ox, int c)
{
    double sy = (oy + 0.5) * ch / oh - 0.5, sx = (ox + 0.5) * cw / ow - 0.5;
    if (sy < 0)
        sy = 0;
    if (sx < 0)
        sx = 0;
    int y0 = (int)sy, x0 = (int)sx;
    int y1 = y0 + 1 < ch ? y0 + 1 : ch - 1, x1 = x0 + 1 < cw ? x0 + 1 : cw - 1;
    double ly = sy - y0, lx = sx - x0;
#define P(y, x) ((double)f[(size_t)(top + (y)) * (size_t)stride + (size_t)(left + (x)) * 3 + (size_t)c])
    return (1 - ly) * ((1 - lx) * P(y0, x0) + lx * P(y0, x1)) + ly * ((1 - lx) * P(y1, x0) + lx * P(y1, x1));
#undef P
}

static void test_crop_resize_matches_reference(void **state)
{
    (void)state;
    /* effnet-steer: 160x320 frame, rows 80..139, to 128x128 */
    nn_preprocess pre = {.crop = true, .src_h = 160, .src_w = 320, .top = 80, .bottom = 140, .left = 0,
                         .right = 320, .scale = 1.0f, .offset = 0.0f};
    pp_plan p;
    assert_int_equal(pp_init(&p, &pre, 128, 128, 3, NULL), NN_OK);
    float *out = malloc(128 * 128 * 3 * sizeof *out);
    uint8_t *f = make_frame(320, 160, 960, 3);
    assert_int_equal(pp_run(&p, f, 320, 160, 960, out, NULL), NN_OK);
    double worst = 0;
    for (int y = 0; y < 128; y++)
        for (int x = 0; x < 128; x++)
            for (int c = 0; c < 3; c++) {
                double r = ref_sample(f, 960, 80, 0, 60, 320, 128, 128, y, x, c);
                double e = fabs(out[(y * 128 + x) * 3 + c] - r);
                worst = e > worst ? e : worst;
            }
    assert_true(worst < 1e-3);
    free(f);

    /* A camera at twice the size: the crop scales with it (rows 160..279 of 320). */
    f = make_frame(640, 320, 1920, 4);
    assert_int_equal(pp_run(&p, f, 640, 320, 1920, out, NULL), NN_OK);
    worst = 0;
    for (int y = 0; y < 128; y++)
        for (int x = 0; x < 128; x++)
            for (int c = 0; c < 3; c++) {
                double r = ref_sample(f, 1920, 160, 0, 120, 640, 128, 128, y, x, c);
                double e = fabs(out[(y * 128 + x) * 3 + c] - r);
                worst = e > worst ? e : worst;
            }
    assert_true(worst < 1e-3);
    free(f);
    free(out);
    pp_free(&p);
}

static void test_grayscale_and_constant(void **state)
{
    (void)state;
    nn_preprocess pre = {.scale = 2.0f, .offset = 1.0f};
    pp_plan p;
    assert_int_equal(pp_init(&p, &pre, 4, 4, 1, NULL), NN_OK);
    uint8_t f[10 * 9 * 3];
    for (int i = 0; i < 10 * 9; i++)
        f[3 * i] = 100, f[3 * i + 1] = 50, f[3 * i + 2] = 10;
    float out[16];
    assert_int_equal(pp_run(&p, f, 10, 9, 30, out, NULL), NN_OK);
    for (int i = 0; i < 16; i++)
        assert_float_equal(out[i], (0.299 * 100 + 0.587 * 50 + 0.114 * 10) * 2 + 1, 1e-3);
    pp_free(&p);
    assert_int_not_equal(pp_init(&p, &pre, 4, 4, 2, NULL), NN_OK);
}

static void test_crop_does_not_fit(void **state)
{
    (void)state;
    nn_preprocess pre = {.crop = true, .top = 10, .bottom = 50, .left = 0, .right = 20, .scale = 1};
    pp_plan p;
    nn_err err;
    assert_int_equal(pp_init(&p, &pre, 4, 4, 3, NULL), NN_OK);
    uint8_t f[30 * 20 * 3] = {0};
    assert_int_equal(pp_run(&p, f, 20, 30, 60, (float[48]){0}, &err), NN_E_ARG);
    assert_non_null(strstr(err.msg, "does not fit a 20x30 frame"));
    assert_int_equal(pp_run(&p, f, 10, 30, 20, (float[48]){0}, &err), NN_E_ARG); /* stride < width*3 */
    pp_free(&p);
}

static void test_no_allocation_per_frame(void **state)
{
    (void)state;
    nn_preprocess pre = plain();
    pp_plan p;
    assert_int_equal(pp_init(&p, &pre, 16, 16, 3, NULL), NN_OK);
    uint8_t *a = make_frame(32, 24, 96, 5), *b = make_frame(40, 30, 120, 6);
    float out[16 * 16 * 3];
    int before = alloc_calls;
    for (int i = 0; i < 100; i++) {
        assert_int_equal(pp_run(&p, a, 32, 24, 96, out, NULL), NN_OK);
        assert_int_equal(pp_run(&p, b, 40, 30, 120, out, NULL), NN_OK); /* size change: re-plan */
    }
    assert_int_equal(alloc_calls, before);
    free(a);
    free(b);
    pp_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identity),
        cmocka_unit_test(test_half_size_is_block_mean_with_scale_offset),
        cmocka_unit_test(test_crop_resize_matches_reference),
        cmocka_unit_test(test_grayscale_and_constant),
        cmocka_unit_test(test_crop_does_not_fit),
        cmocka_unit_test(test_no_allocation_per_frame),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
