/* preprocess.c — crop + bilinear resize (half-pixel centres, edge clamped, as OpenCV's
 * INTER_LINEAR and PyTorch's interpolate(align_corners=False)) + scale/offset into the
 * engine's input buffer. The sampling tables come from src/nn/resample.c (shared with the CUDA
 * backend's GPU preprocessing, kernels/preprocess.cu). On x86 the horizontal pass converts and
 * blends a pixel's three channels in one SSE2 operation and the vertical pass runs 8 floats wide
 * (AVX2, chosen at run time); on AArch64 both passes use NEON (one pixel per operation, 4 floats
 * wide). All do the scalar code's float operations in its order (no fused multiply-add), so the
 * result is bit-identical to it (and to the GPU's). */
#include "nn/preprocess.h"

#include "nn/resample.h"

#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__) /* x86-64, or x86 built with SSE2: the SSE2 pass; AVX2 when the CPU has it */
#include <immintrin.h>
#define PP_X86 1
#endif
#if defined(__aarch64__) /* Advanced SIMD is part of AArch64 */
#include <arm_neon.h>
#define PP_NEON 1
#endif

/* Vertical blend + scale/offset of one output row (RGB: n = out_w*3 floats), in the same float
 * operations and order as the CUDA kernel (kernels/preprocess.cu): (h0*vy + h1*wy)*scale + offset,
 * no FMA contraction, so every build and backend gives the same bits. */
static void vblend_c(float *restrict o, const float *restrict h0, const float *restrict h1, float vy, float wy,
                     float scale, float offset, int n)
{
    for (int i = 0; i < n; i++)
        o[i] = (h0[i] * vy + h1[i] * wy) * scale + offset;
}

#ifdef PP_X86
__attribute__((target("avx2"))) static void vblend_avx2(float *restrict o, const float *restrict h0,
                                                        const float *restrict h1, float vy, float wy, float scale,
                                                        float offset, int n)
{
    const __m256 v = _mm256_set1_ps(vy), w = _mm256_set1_ps(wy), s = _mm256_set1_ps(scale),
                 b = _mm256_set1_ps(offset);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(h0 + i), v), _mm256_mul_ps(_mm256_loadu_ps(h1 + i), w));
        _mm256_storeu_ps(o + i, _mm256_add_ps(_mm256_mul_ps(x, s), b));
    }
    vblend_c(o + i, h0 + i, h1 + i, vy, wy, scale, offset, n - i); /* the last n % 8 */
}
#endif

#ifdef PP_NEON
static void vblend_neon(float *restrict o, const float *restrict h0, const float *restrict h1, float vy, float wy,
                        float scale, float offset, int n)
{
    const float32x4_t v = vdupq_n_f32(vy), w = vdupq_n_f32(wy), s = vdupq_n_f32(scale), b = vdupq_n_f32(offset);
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        float32x4_t x = vaddq_f32(vmulq_f32(vld1q_f32(h0 + i), v), vmulq_f32(vld1q_f32(h1 + i), w));
        vst1q_f32(o + i, vaddq_f32(vmulq_f32(x, s), b));
    }
    vblend_c(o + i, h0 + i, h1 + i, vy, wy, scale, offset, n - i); /* the last n % 4 */
}
#endif

nn_status pp_init(pp_plan *p, const nn_preprocess *pre, int out_h, int out_w, int out_c, nn_err *err)
{
    memset(p, 0, sizeof *p);
    if (out_h < 1 || out_w < 1 || (out_c != 3 && out_c != 1))
        return nn_fail(err, NN_E_ARG, "preprocess: model input %dx%dx%d is not an RGB (3) or grayscale (1) image",
                       out_h, out_w, out_c);
    p->pre = *pre;
    p->out_h = out_h;
    p->out_w = out_w;
    p->out_c = out_c;
    p->x0 = malloc((size_t)out_w * sizeof *p->x0);
    p->x1 = malloc((size_t)out_w * sizeof *p->x1);
    p->wx = malloc((size_t)out_w * sizeof *p->wx);
    p->y0 = malloc((size_t)out_h * sizeof *p->y0);
    p->y1 = malloc((size_t)out_h * sizeof *p->y1);
    p->wy = malloc((size_t)out_h * sizeof *p->wy);
    /* +1: the vector path of resized_row stores 4 floats per pixel (the 4th is the next pixel's R). */
    p->rows[0] = malloc(((size_t)out_w * 3 + 1) * sizeof *p->rows[0]);
    p->rows[1] = malloc(((size_t)out_w * 3 + 1) * sizeof *p->rows[1]);
    if (!p->x0 || !p->x1 || !p->wx || !p->y0 || !p->y1 || !p->wy || !p->rows[0] || !p->rows[1]) {
        pp_free(p);
        return nn_fail(err, NN_E_NOMEM, "preprocess: out of memory");
    }
    p->vblend = vblend_c;
#ifdef PP_X86
    if (__builtin_cpu_supports("avx2"))
        p->vblend = vblend_avx2;
#endif
#ifdef PP_NEON
    p->vblend = vblend_neon;
#endif
    return NN_OK;
}

void pp_free(pp_plan *p)
{
    free(p->x0);
    free(p->x1);
    free(p->wx);
    free(p->y0);
    free(p->y1);
    free(p->wy);
    free(p->rows[0]);
    free(p->rows[1]);
    memset(p, 0, sizeof *p);
}

nn_status pp_plan_for(pp_plan *p, int width, int height, nn_err *err)
{
    nn_status s = nn_resample_tables(&p->pre, width, height, p->out_h, p->out_w, p->y0, p->y1, p->wy, p->x0, p->x1,
                                     p->wx, err);
    if (s)
        return s;
    p->src_w = width;
    p->src_h = height;
    /* Pixels whose 4-byte loads (3 channels + the next pixel's first byte) stay inside the row;
     * the table is non-decreasing, so they are a prefix. */
    p->n_vec = 0;
    while (p->n_vec < p->out_w && p->x1[p->n_vec] <= width - 2)
        p->n_vec++;
    return NN_OK;
}

nn_status pp_rows(pp_plan *p, int width, int height, int *first, int *end, nn_err *err)
{
    if (width != p->src_w || height != p->src_h) {
        nn_status s = pp_plan_for(p, width, height, err);
        if (s)
            return s;
    }
    *first = p->y0[0]; /* y0 <= y1, both non-decreasing */
    *end = p->y1[p->out_h - 1] + 1;
    return NN_OK;
}

/* Source row y resized horizontally into one of the two cached rows (kept while still needed). */
static const float *resized_row(pp_plan *p, const uint8_t *rgb, int stride, int y)
{
    for (int i = 0; i < 2; i++)
        if (p->row_y[i] == y)
            return p->rows[i];
    /* Rows are needed in increasing order: replace the one with the smaller source row. */
    int slot = p->row_y[0] < p->row_y[1] ? 0 : 1;
    float *h = p->rows[slot];
    const uint8_t *r = rgb + (size_t)y * (size_t)stride;
    const int *restrict x0 = p->x0, *restrict x1 = p->x1;
    const float *restrict wxs = p->wx;
    const int out_w = p->out_w;
    int ox = 0;
#ifdef PP_X86
    /* One pixel (3 channels) per SSE2 operation: the same float products and sum as below. */
    const __m128i zero = _mm_setzero_si128();
    for (const int n_vec = p->n_vec; ox < n_vec; ox++) {
        uint32_t ua, ub;
        memcpy(&ua, r + x0[ox] * 3, 4);
        memcpy(&ub, r + x1[ox] * 3, 4);
        __m128 a = _mm_cvtepi32_ps(_mm_unpacklo_epi16(_mm_unpacklo_epi8(_mm_cvtsi32_si128((int)ua), zero), zero));
        __m128 b = _mm_cvtepi32_ps(_mm_unpacklo_epi16(_mm_unpacklo_epi8(_mm_cvtsi32_si128((int)ub), zero), zero));
        const float wx = wxs[ox];
        _mm_storeu_ps(h + 3 * ox, _mm_add_ps(_mm_mul_ps(a, _mm_set1_ps(1.0f - wx)), _mm_mul_ps(b, _mm_set1_ps(wx))));
    }
#endif
#ifdef PP_NEON
    /* One pixel (3 channels + the next pixel's first byte) per NEON operation, as the SSE2 pass. */
    for (const int n_vec = p->n_vec; ox < n_vec; ox++) {
        uint32_t ua, ub;
        memcpy(&ua, r + x0[ox] * 3, 4);
        memcpy(&ub, r + x1[ox] * 3, 4);
        const float32x4_t a = vcvtq_f32_u32(vmovl_u16(vget_low_u16(vmovl_u8(vcreate_u8(ua)))));
        const float32x4_t b = vcvtq_f32_u32(vmovl_u16(vget_low_u16(vmovl_u8(vcreate_u8(ub)))));
        const float wx = wxs[ox];
        vst1q_f32(h + 3 * ox, vaddq_f32(vmulq_n_f32(a, 1.0f - wx), vmulq_n_f32(b, wx)));
    }
#endif
    for (; ox < out_w; ox++) {
        const uint8_t *a = r + x0[ox] * 3, *b = r + x1[ox] * 3;
        const float wx = wxs[ox], vx = 1.0f - wx;
        h[3 * ox] = a[0] * vx + b[0] * wx;
        h[3 * ox + 1] = a[1] * vx + b[1] * wx;
        h[3 * ox + 2] = a[2] * vx + b[2] * wx;
    }
    p->row_y[slot] = y;
    return h;
}

nn_status pp_run(pp_plan *p, const uint8_t *rgb, int width, int height, int stride, float *out, nn_err *err)
{
    if (!rgb || stride < width * 3)
        return nn_fail(err, NN_E_ARG, "preprocess: bad frame (stride %d for width %d)", stride, width);
    if (width != p->src_w || height != p->src_h) {
        nn_status s = pp_plan_for(p, width, height, err);
        if (s)
            return s;
    }
    /* Separable bilinear: each needed source row is resized horizontally once (cached: with
     * upscaling, consecutive output rows share source rows), then pairs of rows are blended
     * vertically and scaled in one contiguous, vectorisable pass. */
    const float scale = p->pre.scale, offset = p->pre.offset;
    const int ow = p->out_w, n = ow * 3;
    p->row_y[0] = p->row_y[1] = -1;
    for (int oy = 0; oy < p->out_h; oy++) {
        const float *h0 = resized_row(p, rgb, stride, p->y0[oy]);
        const float *h1 = resized_row(p, rgb, stride, p->y1[oy]);
        const float wy = p->wy[oy], vy = 1.0f - wy;
        float *o = out + (size_t)oy * (size_t)ow * (size_t)p->out_c;
        if (p->out_c == 3) {
            p->vblend(o, h0, h1, vy, wy, scale, offset, n);
        } else {
            for (int ox = 0; ox < ow; ox++) {
                const float *a = h0 + 3 * ox, *b = h1 + 3 * ox;
                float r = a[0] * vy + b[0] * wy, g = a[1] * vy + b[1] * wy, bl = a[2] * vy + b[2] * wy;
                o[ox] = (0.299f * r + 0.587f * g + 0.114f * bl) * scale + offset;
            }
        }
    }
    return NN_OK;
}
