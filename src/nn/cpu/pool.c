/* pool.c — pooling forward, NHWC:
 *   max/avg pool: in [batch][IH][IW][C] -> out [batch][OH][OW][C], window kh x kw, stride sh x sw,
 *     explicit padding; max ignores padded cells, avg divides by the number of real cells or,
 *     with count_pad, by the window's cells inside the padded input (PyTorch's count_include_pad).
 *   global avg pool: in [batch][H][W][C] -> out [batch][1][1][C].
 * Each output pixel visits only its in-bounds window cells; the per-channel inner loops are
 * contiguous and compiled twice (AVX-512 and baseline) so the compiler vectorises them for the
 * CPU at hand; on AArch64 the NEON flavour reduces each window 4 channels a step in registers. Threads split output rows (batch x OH) or, for the global pool, samples. */
#include <string.h>

#include "cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define POOL_X86 1
#define T512 __attribute__((target("avx512f,avx2,fma")))
#else
#define POOL_X86 0
#endif
#if defined(__aarch64__)
#include "neon.h"
#define POOL_NEON 1
#else
#define POOL_NEON 0
#endif
#define INLINE static inline __attribute__((always_inline))

/* The average's divisor for the window at (ih0, iw0) with `cells` real cells: those, or with
 * count_pad the window's cells inside the padded input (kh x kw unless the window overhangs the
 * trailing padding). kernels/body/pool.h's pool_divisor is the device's copy. */
INLINE int avg_divisor(const nn_layer *l, int ih0, int iw0, int cells)
{
    if (!l->count_pad) return cells;
    const int he = ih0 + l->kh < l->in.h + l->pad_bottom ? ih0 + l->kh : l->in.h + l->pad_bottom;
    const int we = iw0 + l->kw < l->in.w + l->pad_right ? iw0 + l->kw : l->in.w + l->pad_right;
    return (he - ih0) * (we - iw0);
}

typedef struct {
    const cpu_fwd_args *a;
    bool is_max;
    bool wide;   /* AVX-512 available */
    bool neon;   /* the NEON flavour */
} pool_ctx;

INLINE void pool_row(const pool_ctx *p, int b, int oh)
{
    const nn_layer *l = p->a->l;
    const int IH = l->in.h, IW = l->in.w, C = l->in.c, OH = l->out.h, OW = l->out.w;
    const int ih0 = oh * l->sh - l->pad_top;
    const int kh0 = ih0 < 0 ? -ih0 : 0, kh1 = ih0 + l->kh > IH ? IH - ih0 : l->kh;
    const float *img = p->a->in[0] + (size_t)b * IH * IW * C;
    float *orow = p->a->out + ((size_t)b * OH + oh) * OW * C;
    for (int ow = 0; ow < OW; ow++) {
        const int iw0 = ow * l->sw - l->pad_left;
        const int kw0 = iw0 < 0 ? -iw0 : 0, kw1 = iw0 + l->kw > IW ? IW - iw0 : l->kw;
        float *restrict o = orow + (size_t)ow * C;
        const int cells = (kh1 - kh0) * (kw1 - kw0);
        if (cells <= 0) { /* window entirely in padding (not produced by valid specs) */
            memset(o, 0, (size_t)C * sizeof(float));
            continue;
        }
        const float *restrict first = img + ((size_t)(ih0 + kh0) * IW + (size_t)(iw0 + kw0)) * C;
        memcpy(o, first, (size_t)C * sizeof(float));
        for (int kh = kh0; kh < kh1; kh++)
            for (int kw = kw0; kw < kw1; kw++) {
                if (kh == kh0 && kw == kw0) continue;
                const float *restrict x = img + ((size_t)(ih0 + kh) * IW + (size_t)(iw0 + kw)) * C;
                if (p->is_max)
                    for (int c = 0; c < C; c++) o[c] = x[c] > o[c] ? x[c] : o[c];
                else
                    for (int c = 0; c < C; c++) o[c] += x[c];
            }
        const int div = p->is_max ? 1 : avg_divisor(l, ih0, iw0, cells);
        if (div > 1) {
            const float inv = 1.0f / (float)div;
            for (int c = 0; c < C; c++) o[c] *= inv;
        }
    }
}

static void pool_row_base(const pool_ctx *p, int b, int oh) { pool_row(p, b, oh); }

#if POOL_X86
/* pool_row with AVX-512: 16 channels a step, masked tail, the window reduced in registers. */
T512 static void pool_row_512(const pool_ctx *p, int b, int oh)
{
    const nn_layer *l = p->a->l;
    const int IH = l->in.h, IW = l->in.w, C = l->in.c, OH = l->out.h, OW = l->out.w;
    const int ih0 = oh * l->sh - l->pad_top;
    const int kh0 = ih0 < 0 ? -ih0 : 0, kh1 = ih0 + l->kh > IH ? IH - ih0 : l->kh;
    const float *img = p->a->in[0] + (size_t)b * IH * IW * C;
    float *orow = p->a->out + ((size_t)b * OH + oh) * OW * C;
    const bool is_max = p->is_max;
    for (int ow = 0; ow < OW; ow++) {
        const int iw0 = ow * l->sw - l->pad_left;
        const int kw0 = iw0 < 0 ? -iw0 : 0, kw1 = iw0 + l->kw > IW ? IW - iw0 : l->kw;
        const int cells = (kh1 - kh0) * (kw1 - kw0);
        const __m512 inv =
            _mm512_set1_ps(!is_max && cells > 0 ? 1.0f / (float)avg_divisor(l, ih0, iw0, cells) : 0.0f);
        const float *x0 = img + ((size_t)(ih0 + kh0) * IW + (size_t)(iw0 + kw0)) * C;
        float *o = orow + (size_t)ow * C;
        for (int c0 = 0; c0 < C; c0 += 16) {
            const __mmask16 m = (__mmask16)(C - c0 >= 16 ? 0xFFFFu : (1u << (C - c0)) - 1u);
            if (cells <= 0) {
                _mm512_mask_storeu_ps(o + c0, m, _mm512_setzero_ps());
                continue;
            }
            __m512 v = _mm512_maskz_loadu_ps(m, x0 + c0);
            for (int kh = 0; kh < kh1 - kh0; kh++) {
                const float *xr = x0 + (size_t)kh * IW * C + c0;
                for (int kw = kh == 0; kw < kw1 - kw0; kw++) {
                    const __m512 x = _mm512_maskz_loadu_ps(m, xr + (size_t)kw * C);
                    v = is_max ? _mm512_max_ps(v, x) : _mm512_add_ps(v, x);
                }
            }
            if (!is_max) v = _mm512_mul_ps(v, inv);
            _mm512_mask_storeu_ps(o + c0, m, v);
        }
    }
}
#endif

#if POOL_NEON
/* pool_row with NEON: 4 channels a step (n lanes at the tail), the window reduced in registers;
 * max keeps the scalar select (x > v ? x : v), avg multiplies by 1/divisor as the scalar path. */
static void pool_row_neon(const pool_ctx *p, int b, int oh)
{
    const nn_layer *l = p->a->l;
    const int IH = l->in.h, IW = l->in.w, C = l->in.c, OH = l->out.h, OW = l->out.w;
    const int ih0 = oh * l->sh - l->pad_top;
    const int kh0 = ih0 < 0 ? -ih0 : 0, kh1 = ih0 + l->kh > IH ? IH - ih0 : l->kh;
    const float *img = p->a->in[0] + (size_t)b * IH * IW * C;
    float *orow = p->a->out + ((size_t)b * OH + oh) * OW * C;
    const bool is_max = p->is_max;
    for (int ow = 0; ow < OW; ow++) {
        const int iw0 = ow * l->sw - l->pad_left;
        const int kw0 = iw0 < 0 ? -iw0 : 0, kw1 = iw0 + l->kw > IW ? IW - iw0 : l->kw;
        const int cells = (kh1 - kh0) * (kw1 - kw0);
        float *o = orow + (size_t)ow * C;
        if (cells <= 0) { /* window entirely in padding (not produced by valid specs) */
            memset(o, 0, (size_t)C * sizeof(float));
            continue;
        }
        const int div = is_max ? 1 : avg_divisor(l, ih0, iw0, cells);
        const float inv = 1.0f / (float)div;
        const float *x0 = img + ((size_t)(ih0 + kh0) * IW + (size_t)(iw0 + kw0)) * C;
        for (int c0 = 0; c0 < C; c0 += 4) {
            const int n = C - c0 < 4 ? C - c0 : 4;
            float32x4_t v = neon_ld(x0 + c0, n);
            for (int kh = 0; kh < kh1 - kh0; kh++) {
                const float *xr = x0 + (size_t)kh * IW * C + c0;
                for (int kw = kh == 0; kw < kw1 - kw0; kw++) {
                    const float32x4_t x = neon_ld(xr + (size_t)kw * C, n);
                    v = is_max ? vbslq_f32(vcgtq_f32(x, v), x, v) : vaddq_f32(v, x);
                }
            }
            if (div > 1) v = vmulq_n_f32(v, inv);
            neon_st(o + c0, v, n);
        }
    }
}
#endif

static void pool_task(void *ctx, int begin, int end, int thread)
{
    (void)thread;
    const pool_ctx *p = ctx;
    const int OH = p->a->l->out.h;
    for (int r = begin; r < end; r++) {
#if POOL_X86
        if (p->wide) {
            pool_row_512(p, r / OH, r % OH);
            continue;
        }
#endif
#if POOL_NEON
        if (p->neon) {
            pool_row_neon(p, r / OH, r % OH);
            continue;
        }
#endif
        pool_row_base(p, r / OH, r % OH);
    }
}

static void pool_forward(const cpu_fwd_args *a, bool is_max)
{
    const nn_layer *l = a->l;
    pool_ctx p = {.a = a, .is_max = is_max, .wide = cpu_isa(a) == NN_CPU_ISA_AVX512,
                  .neon = cpu_isa(a) == NN_CPU_ISA_NEON};
    const int rows = a->batch * l->out.h;
    cpu_run(a->pool, (double)rows * l->out.w * l->out.c * l->kh * l->kw, rows, pool_task, &p);
}

void cpu_maxpool_forward(const cpu_fwd_args *a) { pool_forward(a, true); }
void cpu_avgpool_forward(const cpu_fwd_args *a) { pool_forward(a, false); }

/* out[b][c] = mean over the H*W pixels of in[b][.][.][c]. */
INLINE void gap_sample(const cpu_fwd_args *a, int b)
{
    const nn_layer *l = a->l;
    const size_t HW = (size_t)l->in.h * l->in.w;
    const int C = l->in.c;
    const float *restrict x = a->in[0] + (size_t)b * HW * C;
    float *restrict o = a->out + (size_t)b * C;
    memset(o, 0, (size_t)C * sizeof(float));
    for (size_t i = 0; i < HW; i++, x += C)
        for (int c = 0; c < C; c++) o[c] += x[c];
    const float inv = HW ? 1.0f / (float)HW : 0.0f;
    for (int c = 0; c < C; c++) o[c] *= inv;
}

static void gap_base(const cpu_fwd_args *a, int b) { gap_sample(a, b); }
#if POOL_NEON
/* gap_sample with NEON: 16 channels a step in four accumulators over the H*W pixels (then the
 * 4-channel tail), the same additions in the same order as the scalar loop. */
static void gap_neon(const cpu_fwd_args *a, int b)
{
    const nn_layer *l = a->l;
    const size_t HW = (size_t)l->in.h * l->in.w;
    const int C = l->in.c;
    const float *x = a->in[0] + (size_t)b * HW * C;
    float *o = a->out + (size_t)b * C;
    const float inv = HW ? 1.0f / (float)HW : 0.0f;
    int c0 = 0;
    for (; c0 + 16 <= C; c0 += 16) {
        float32x4_t s0 = vdupq_n_f32(0.0f), s1 = s0, s2 = s0, s3 = s0;
        for (size_t i = 0; i < HW; i++) {
            const float *p = x + i * C + c0;
            s0 = vaddq_f32(s0, vld1q_f32(p)), s1 = vaddq_f32(s1, vld1q_f32(p + 4));
            s2 = vaddq_f32(s2, vld1q_f32(p + 8)), s3 = vaddq_f32(s3, vld1q_f32(p + 12));
        }
        vst1q_f32(o + c0, vmulq_n_f32(s0, inv)), vst1q_f32(o + c0 + 4, vmulq_n_f32(s1, inv));
        vst1q_f32(o + c0 + 8, vmulq_n_f32(s2, inv)), vst1q_f32(o + c0 + 12, vmulq_n_f32(s3, inv));
    }
    for (; c0 < C; c0 += 4) {
        const int n = C - c0 < 4 ? C - c0 : 4;
        float32x4_t s0 = vdupq_n_f32(0.0f);
        for (size_t i = 0; i < HW; i++) s0 = vaddq_f32(s0, neon_ld(x + i * C + c0, n));
        neon_st(o + c0, vmulq_n_f32(s0, inv), n);
    }
}
#endif
#if POOL_X86
T512 static void gap_512(const cpu_fwd_args *a, int b) { gap_sample(a, b); }
#endif

static void gap_task(void *ctx, int begin, int end, int thread)
{
    (void)thread;
    const cpu_fwd_args *a = ctx;
#if POOL_X86
    if (cpu_isa(a) == NN_CPU_ISA_AVX512) {
        for (int b = begin; b < end; b++) gap_512(a, b);
        return;
    }
#endif
#if POOL_NEON
    if (cpu_isa(a) == NN_CPU_ISA_NEON) {
        for (int b = begin; b < end; b++) gap_neon(a, b);
        return;
    }
#endif
    for (int b = begin; b < end; b++) gap_base(a, b);
}

void cpu_global_avgpool_forward(const cpu_fwd_args *a)
{
    const nn_layer *l = a->l;
    cpu_run(a->pool, (double)a->batch * nn_shape_size(l->in), a->batch, gap_task, (void *)a);
}

/* ---------------------------------------------------------------------------- backward
 * max: each output's gradient goes to the first maximal in-bounds cell of its window (row-major
 *   window order, as PyTorch on the -inf padded input); avg: dy / divisor to each real cell;
 * global avg: dy[b][c] / (H*W) to every pixel. Threads split the samples (windows of one sample
 * may overlap, samples never do). On AArch64 the NEON flavour handles each window 4 channels a
 * step in registers. */
typedef struct {
    const cpu_bwd_args *a;
    bool is_max;
    bool wide;   /* AVX-512 available */
    bool neon;   /* the NEON flavour */
} pool_bctx;

enum { POOL_CB = 64 }; /* channels per block of the max-pool backward (stack arrays) */

#if POOL_NEON
/* pool_bwd_pixel (below) with NEON, 4 channels a step (n lanes at the tail): max finds each
 * lane's first maximal cell in registers (strict >, as the scalar path) and hands dy to it with
 * a compare-and-mask per cell; avg adds dy * (1/divisor) to every cell. Bit-identical to scalar. */
NEON_INLINE void pool_bwd_pixel_neon(const pool_bctx *p, const float *img, float *dimg, const float *g, int ih0,
                                     int iw0, int kh0, int kh1, int kw0, int kw1, const bool assign)
{
    const nn_layer *l = p->a->l;
    const int IW = l->in.w, C = l->in.c;
    const size_t rs = (size_t)IW * C, off = ((size_t)(ih0 + kh0) * IW + (size_t)(iw0 + kw0)) * C;
    const float *x0 = img + off;
    float *d0 = dimg + off;
    const float inv = 1.0f / (float)avg_divisor(l, ih0, iw0, (kh1 - kh0) * (kw1 - kw0));
    for (int c0 = 0; c0 < C; c0 += 4) {
        const int n = C - c0 < 4 ? C - c0 : 4;
        const float32x4_t gv = neon_ld(g + c0, n);
        if (!p->is_max) {
            const float32x4_t v = vmulq_n_f32(gv, inv);
            for (int kh = 0; kh < kh1 - kh0; kh++)
                for (int kw = 0; kw < kw1 - kw0; kw++) {
                    float *d = d0 + kh * rs + (size_t)kw * C + c0;
                    neon_st(d, assign ? v : vaddq_f32(neon_ld(d, n), v), n);
                }
            continue;
        }
        float32x4_t bv = neon_ld(x0 + c0, n);
        uint32x4_t bi = vdupq_n_u32(0);
        uint32_t k = 0;
        for (int kh = 0; kh < kh1 - kh0; kh++)
            for (int kw = 0; kw < kw1 - kw0; kw++, k++) {
                const float32x4_t x = neon_ld(x0 + kh * rs + (size_t)kw * C + c0, n);
                const uint32x4_t gt = vcgtq_f32(x, bv);
                bv = vbslq_f32(gt, x, bv);
                bi = vbslq_u32(gt, vdupq_n_u32(k), bi);
            }
        k = 0;
        for (int kh = 0; kh < kh1 - kh0; kh++)
            for (int kw = 0; kw < kw1 - kw0; kw++, k++) {
                float *d = d0 + kh * rs + (size_t)kw * C + c0;
                const float32x4_t v =
                    vreinterpretq_f32_u32(vandq_u32(vceqq_u32(bi, vdupq_n_u32(k)), vreinterpretq_u32_f32(gv)));
                neon_st(d, assign ? v : vaddq_f32(neon_ld(d, n), v), n);
            }
    }
}
#endif

/* One output pixel's window: cells [kh0, kh1) x [kw0, kw1) of the window at (ih0, iw0).
 * max: per channel the first maximal cell in row-major window order (a strict > keeps the first)
 * gets dy; avg: every cell gets dy / divisor. Channel loops are branch-free over restrict
 * pointers, so they vectorise. */
INLINE void pool_bwd_pixel(const pool_bctx *p, const float *img, float *dimg, const float *g, int ih0, int iw0,
                           int kh0, int kh1, int kw0, int kw1, const bool assign)
{
    const nn_layer *l = p->a->l;
    const int IW = l->in.w, C = l->in.c, ww = kw1 - kw0, cells = (kh1 - kh0) * ww;
#if POOL_NEON
    if (p->neon) {
        pool_bwd_pixel_neon(p, img, dimg, g, ih0, iw0, kh0, kh1, kw0, kw1, assign);
        return;
    }
#endif
    if (!p->is_max) {
        const float inv = 1.0f / (float)avg_divisor(l, ih0, iw0, cells);
        for (int kh = kh0; kh < kh1; kh++)
            for (int kw = kw0; kw < kw1; kw++) {
                float *restrict d = dimg + ((size_t)(ih0 + kh) * IW + (size_t)(iw0 + kw)) * C;
                const float *restrict gr = g;
                if (assign)
                    for (int c = 0; c < C; c++) d[c] = gr[c] * inv;
                else
                    for (int c = 0; c < C; c++) d[c] += gr[c] * inv;
            }
        return;
    }
    for (int c0 = 0; c0 < C; c0 += POOL_CB) {
        const int nc = C - c0 < POOL_CB ? C - c0 : POOL_CB;
        float bv[POOL_CB];
        int bi[POOL_CB];
        const float *restrict x0 = img + ((size_t)(ih0 + kh0) * IW + (size_t)(iw0 + kw0)) * C + c0;
        for (int c = 0; c < nc; c++) bv[c] = x0[c], bi[c] = 0;
        for (int k = 1; k < cells; k++) {
            const float *restrict x =
                img + ((size_t)(ih0 + kh0 + k / ww) * IW + (size_t)(iw0 + kw0 + k % ww)) * C + c0;
            for (int c = 0; c < nc; c++) {
                const bool gt = x[c] > bv[c];
                bv[c] = gt ? x[c] : bv[c];
                bi[c] = gt ? k : bi[c];
            }
        }
        const float *restrict gr = g + c0;
        for (int k = 0; k < cells; k++) {
            float *restrict d = dimg + ((size_t)(ih0 + kh0 + k / ww) * IW + (size_t)(iw0 + kw0 + k % ww)) * C + c0;
            if (assign)
                for (int c = 0; c < nc; c++) d[c] = bi[c] == k ? gr[c] : 0.0f;
            else
                for (int c = 0; c < nc; c++) d[c] += bi[c] == k ? gr[c] : 0.0f;
        }
    }
}

INLINE void pool_bwd_sample(const pool_bctx *p, int b)
{
    const cpu_bwd_args *a = p->a;
    const nn_layer *l = a->l;
    const int IH = l->in.h, IW = l->in.w, C = l->in.c, OH = l->out.h, OW = l->out.w;
    const float *img = a->in[0] + (size_t)b * IH * IW * C;
    float *dimg = a->d_in[0] + (size_t)b * IH * IW * C;
    /* overwrite: windows that tile the input exactly (stride = window, no padding, nothing left
     * over) write every cell once; otherwise the sample is zeroed just before its scatter-adds */
    const bool tiles = l->sh == l->kh && l->sw == l->kw && l->pad_top == 0 && l->pad_left == 0 && OH * l->kh == IH &&
                       OW * l->kw == IW;
    const bool assign = a->overwrite && tiles;
    if (a->overwrite && !tiles) memset(dimg, 0, (size_t)IH * IW * C * sizeof(float));
    for (int oh = 0; oh < OH; oh++) {
        const int ih0 = oh * l->sh - l->pad_top;
        const int kh0 = ih0 < 0 ? -ih0 : 0, kh1 = ih0 + l->kh > IH ? IH - ih0 : l->kh;
        for (int ow = 0; ow < OW; ow++) {
            const int iw0 = ow * l->sw - l->pad_left;
            const int kw0 = iw0 < 0 ? -iw0 : 0, kw1 = iw0 + l->kw > IW ? IW - iw0 : l->kw;
            if (kh1 <= kh0 || kw1 <= kw0) continue;
            const float *g = a->dy + (((size_t)b * OH + oh) * OW + ow) * C;
            if (assign) pool_bwd_pixel(p, img, dimg, g, ih0, iw0, kh0, kh1, kw0, kw1, true);
            else pool_bwd_pixel(p, img, dimg, g, ih0, iw0, kh0, kh1, kw0, kw1, false);
        }
    }
}

static void pool_bwd_base(const pool_bctx *p, int b) { pool_bwd_sample(p, b); }
#if POOL_X86
T512 static void pool_bwd_512(const pool_bctx *p, int b) { pool_bwd_sample(p, b); }
#endif

/* Threads split the samples (windows of one sample may overlap, samples never do). */
static void pool_bwd_task(void *ctx, int begin, int end, int thread)
{
    (void)thread;
    const pool_bctx *p = ctx;
    for (int b = begin; b < end; b++) {
#if POOL_X86
        if (p->wide) {
            pool_bwd_512(p, b);
            continue;
        }
#endif
        pool_bwd_base(p, b);
    }
}

static void pool_backward(const cpu_bwd_args *a, bool is_max)
{
    const nn_layer *l = a->l;
    pool_bctx p = {.a = a, .is_max = is_max, .wide = cpu_bwd_isa(a) == NN_CPU_ISA_AVX512,
                   .neon = cpu_bwd_isa(a) == NN_CPU_ISA_NEON};
    cpu_run(a->pool, (double)a->batch * nn_shape_size(l->out) * l->kh * l->kw, a->batch, pool_bwd_task, &p);
}

void cpu_maxpool_backward(const cpu_bwd_args *a) { pool_backward(a, true); }
void cpu_avgpool_backward(const cpu_bwd_args *a) { pool_backward(a, false); }

static void gap_bwd_task(void *ctx, int begin, int end, int thread)
{
    (void)thread;
    const cpu_bwd_args *a = ctx;
    const size_t HW = (size_t)a->l->in.h * a->l->in.w;
    const int C = a->l->in.c;
    const float inv = HW ? 1.0f / (float)HW : 0.0f;
    for (int b = begin; b < end; b++) {
        const float *g = a->dy + (size_t)b * C;
        float *d = a->d_in[0] + (size_t)b * HW * C;
        for (size_t i = 0; i < HW; i++, d += C)
            for (int c = 0; c < C; c++) d[c] += g[c] * inv;
    }
}

void cpu_global_avgpool_backward(const cpu_bwd_args *a)
{
    cpu_run(a->pool, (double)a->batch * nn_shape_size(a->l->in), a->batch, gap_bwd_task, (void *)a);
}
