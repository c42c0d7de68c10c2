/* test_daemon_preprocess.c — frame -> model input: identity copy, exact 2x downscale (bilinear
 * at half-pixel centres = 2x2 mean), crop scaled with the frame size, scale/offset, grayscale,
 * row stride, a crop that does not fit, agreement with a double-precision reference, the
 * vector paths bit-identical to the scalar formula (frames allocated to their last byte, so a
 * sanitized build catches a read past the end), the rows pp_rows reports are the only ones read
 * (the capture copies just those), source.aspect: crop (keep_aspect: the centred part of the
 * source's aspect ratio, bit for bit), and no allocation per frame (allocator calls counted via
 * --wrap). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "nn/preprocess.h"

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

/* The vector paths (SSE2 horizontal pass, AVX2 vertical blend) against the scalar formula on the
 * plan's own tables, bit for bit: h = a*(1-wx) + b*wx per channel, then (h0*vy + h1*wy)*scale +
 * offset (the CUDA kernel's rounding). Frames are exactly width*3*height bytes (no padding) so
 * the 4-byte loads at the right edge would read past the end. */
static void test_vector_paths_match_scalar(void **state)
{
    (void)state;
    static const int cases[][4] = {/* frame w, h, out w, h */ {320, 160, 128, 128}, {7, 5, 7, 5},   {2, 2, 5, 3},
                                   {33, 17, 8, 40},                                  {640, 320, 66, 200}, {1, 9, 3, 3}};
    nn_preprocess pre = {.scale = 0.00392156862745098f, .offset = -0.5f};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int fw = cases[k][0], fh = cases[k][1], ow = cases[k][2], oh = cases[k][3];
        pp_plan p;
        assert_int_equal(pp_init(&p, &pre, oh, ow, 3, NULL), NN_OK);
        uint8_t *f = make_frame(fw, fh, fw * 3, (uint32_t)(10 + k));
        float *out = malloc((size_t)oh * (size_t)ow * 3 * sizeof *out);
        assert_non_null(out);
        assert_int_equal(pp_run(&p, f, fw, fh, fw * 3, out, NULL), NN_OK);
        for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++)
                for (int c = 0; c < 3; c++) {
                    const uint8_t *r0 = f + (size_t)p.y0[y] * (size_t)fw * 3, *r1 = f + (size_t)p.y1[y] * (size_t)fw * 3;
                    float wx = p.wx[x], vx = 1.0f - wx, wy = p.wy[y], vy = 1.0f - wy;
                    float h0 = r0[p.x0[x] * 3 + c] * vx + r0[p.x1[x] * 3 + c] * wx;
                    float h1 = r1[p.x0[x] * 3 + c] * vx + r1[p.x1[x] * 3 + c] * wx;
                    float want = (h0 * vy + h1 * wy) * pre.scale + pre.offset;
                    if (out[((size_t)y * (size_t)ow + (size_t)x) * 3 + (size_t)c] != want)
                        fail_msg("frame %dx%d -> %dx%d: pixel (%d,%d) channel %d: %.9g, the scalar formula gives %.9g",
                                 fw, fh, ow, oh, x, y, c, out[((size_t)y * (size_t)ow + (size_t)x) * 3 + (size_t)c],
                                 want);
                }
        free(out);
        free(f);
        pp_free(&p);
    }
}

/* pp_rows: the crop's source rows, scaled with the frame; pp_run reads no other row (rows outside
 * are overwritten with junk: the output stays bit-identical), RGB and luma. */
static void test_rows_read_are_the_only_rows_read(void **state)
{
    (void)state;
    nn_preprocess crop = {.crop = true, .src_h = 160, .src_w = 320, .top = 80, .bottom = 140, .left = 0,
                          .right = 320, .scale = 1.0f / 255.0f, .offset = -0.5f};
    nn_preprocess whole = plain();
    const struct {
        const nn_preprocess *pre;
        int fw, fh, oh, ow, oc, first, end;
    } cases[] = {
        {&crop, 320, 160, 128, 128, 3, 80, 140}, {&crop, 640, 320, 128, 128, 3, 160, 280},
        {&crop, 320, 160, 66, 200, 1, 80, 140},  {&whole, 7, 5, 5, 7, 3, 0, 5},
        {&whole, 40, 30, 4, 4, 3, 3, 27}, /* 4 output rows of 30: sampled at 3.25 .. 25.75 */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int fw = cases[k].fw, fh = cases[k].fh, n = cases[k].oh * cases[k].ow * cases[k].oc;
        pp_plan p;
        assert_int_equal(pp_init(&p, cases[k].pre, cases[k].oh, cases[k].ow, cases[k].oc, NULL), NN_OK);
        int first = -1, end = -1;
        assert_int_equal(pp_rows(&p, fw, fh, &first, &end, NULL), NN_OK);
        if (first != cases[k].first || end != cases[k].end)
            fail_msg("case %zu (%dx%d frame): rows [%d, %d), expected [%d, %d)", k, fw, fh, first, end,
                     cases[k].first, cases[k].end);
        uint8_t *f = make_frame(fw, fh, fw * 3, (uint32_t)(20 + k));
        uint8_t *g = malloc((size_t)fw * 3 * (size_t)fh);
        float *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
        assert_non_null(g);
        assert_non_null(a);
        assert_non_null(b);
        memcpy(g, f, (size_t)fw * 3 * (size_t)fh);
        memset(g, 0xab, (size_t)first * (size_t)fw * 3);
        memset(g + (size_t)end * (size_t)fw * 3, 0x5a, (size_t)(fh - end) * (size_t)fw * 3);
        assert_int_equal(pp_run(&p, f, fw, fh, fw * 3, a, NULL), NN_OK);
        assert_int_equal(pp_run(&p, g, fw, fh, fw * 3, b, NULL), NN_OK);
        if (memcmp(a, b, (size_t)n * sizeof *a) != 0)
            fail_msg("case %zu (%dx%d frame): the output depends on rows outside [%d, %d)", k, fw, fh, first, end);
        free(a);
        free(b);
        free(g);
        free(f);
        pp_free(&p);
    }
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

/* keep_aspect (steerd's source.aspect: crop): a frame of another aspect ratio than the model's
 * source is cropped to its centred part of the source's ratio, then treated as a source frame: the
 * result equals stretch mode on exactly that part. 4:3 for 2:1 drops rows, 4:1 drops columns. */
static void test_keep_aspect_crops_centre(void **state)
{
    (void)state;
    nn_preprocess pre = plain();
    pre.crop = true;
    pre.src_w = 320, pre.src_h = 160;
    pre.top = 80, pre.bottom = 140, pre.left = 0, pre.right = 320;
    static const struct { int w, h, x0, y0, uw, uh; } cases[] = {
        {640, 480, 0, 80, 640, 320},  /* 4:3: rows 80..400 are the 2:1 part */
        {1280, 160, 480, 0, 320, 160}, /* 8:1: columns 480..800 */
        {320, 160, 0, 0, 320, 160},   /* same ratio: unchanged */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int w = cases[i].w, h = cases[i].h, stride = w * 3;
        uint8_t *f = make_frame(w, h, stride, 7 + (uint32_t)i);
        pp_plan a, b;
        nn_preprocess keep = pre, stretch = pre;
        keep.keep_aspect = true;
        assert_int_equal(pp_init(&a, &keep, 33, 100, 3, NULL), NN_OK);
        assert_int_equal(pp_init(&b, &stretch, 33, 100, 3, NULL), NN_OK);
        float out_a[33 * 100 * 3], out_b[33 * 100 * 3];
        assert_int_equal(pp_run(&a, f, w, h, stride, out_a, NULL), NN_OK);
        const uint8_t *part = f + (size_t)cases[i].y0 * (size_t)stride + (size_t)cases[i].x0 * 3;
        assert_int_equal(pp_run(&b, part, cases[i].uw, cases[i].uh, stride, out_b, NULL), NN_OK);
        assert_memory_equal(out_a, out_b, sizeof out_a);
        if (cases[i].w != 320) { /* and it is not what stretching the whole frame gives */
            assert_int_equal(pp_run(&b, f, w, h, stride, out_b, NULL), NN_OK);
            assert_true(memcmp(out_a, out_b, sizeof out_a) != 0);
        }
        pp_free(&a);
        pp_free(&b);
        free(f);
    }
    /* Without a source size the reference is the input size (100x50, 2:1) and no crop. */
    nn_preprocess nocrop = plain();
    nocrop.keep_aspect = true;
    pp_plan c, d;
    uint8_t *f = make_frame(200, 150, 600, 3);
    assert_int_equal(pp_init(&c, &nocrop, 50, 100, 3, NULL), NN_OK);
    nn_preprocess st = plain();
    assert_int_equal(pp_init(&d, &st, 50, 100, 3, NULL), NN_OK);
    float oc[50 * 100 * 3], od[50 * 100 * 3];
    assert_int_equal(pp_run(&c, f, 200, 150, 600, oc, NULL), NN_OK);
    assert_int_equal(pp_run(&d, f + 25 * 600, 200, 100, 600, od, NULL), NN_OK); /* rows 25..125 */
    assert_memory_equal(oc, od, sizeof oc);
    pp_free(&c);
    pp_free(&d);
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identity),
        cmocka_unit_test(test_half_size_is_block_mean_with_scale_offset),
        cmocka_unit_test(test_crop_resize_matches_reference),
        cmocka_unit_test(test_vector_paths_match_scalar),
        cmocka_unit_test(test_rows_read_are_the_only_rows_read),
        cmocka_unit_test(test_grayscale_and_constant),
        cmocka_unit_test(test_crop_does_not_fit),
        cmocka_unit_test(test_keep_aspect_crops_centre),
        cmocka_unit_test(test_no_allocation_per_frame),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
