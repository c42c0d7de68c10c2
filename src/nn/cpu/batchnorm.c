/* batchnorm.c — batch normalisation forward with inference (running) statistics, NHWC:
 *   in/out [batch][H][W][C] (out may alias in), gamma beta mean var [C]
 *   y = (x - mean) / sqrt(var + eps) * gamma + beta, then the fused activation.
 * Computed as y = x * scale + shift with scale and shift built per block of channels on the
 * stack (no scratch). A flattened input has H = W = 1 and C = its feature count. */
#include <math.h>
#include <stdint.h>

#include "cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#define BN_X86 1
#include <immintrin.h>
#define T512 __attribute__((target("avx512f,avx2,fma")))
#else
#define BN_X86 0
#endif
#if defined(__aarch64__)
#include "neon.h"
#define BN_NEON 1
#else
#define BN_NEON 0
#endif
#define INLINE static inline __attribute__((always_inline))

enum { BN_BLOCK = 512 }; /* channels per stack block */

typedef struct {
    const cpu_fwd_args *a;
    size_t pixels_per_row; /* pixels handled per work item */
} bn_ctx;

/* scale[c] and shift[c] of channels c0 .. c0+n-1 (y = x*scale + shift). */
static void bn_coeffs(const cpu_fwd_args *a, int c0, int n, float *scale, float *shift)
{
    const float *gamma = a->p[0], *beta = a->p[1], *mean = a->p[2], *var = a->p[3];
    for (int c = 0; c < n; c++) {
        float s = gamma[c0 + c] / sqrtf(var[c0 + c] + a->l->eps);
        scale[c] = s;
        shift[c] = beta[c0 + c] - mean[c0 + c] * s;
    }
}

/* Rows [begin, end) of pixels_per_row pixels each. */
INLINE void bn_rows(const bn_ctx *p, int begin, int end)
{
    const cpu_fwd_args *a = p->a;
    const nn_layer *l = a->l;
    const int C = l->in.c;
    float scale[BN_BLOCK], shift[BN_BLOCK];
    for (int c0 = 0; c0 < C; c0 += BN_BLOCK) {
        const int n = C - c0 < BN_BLOCK ? C - c0 : BN_BLOCK;
        bn_coeffs(a, c0, n, scale, shift);
        const size_t px0 = (size_t)begin * p->pixels_per_row, px1 = (size_t)end * p->pixels_per_row;
        for (size_t px = px0; px < px1; px++) {
            const float *x = a->in[0] + px * C + c0; /* may alias y: element-wise */
            float *y = a->out + px * C + c0;
            if (l->act == NN_ACT_RELU) {
                for (int c = 0; c < n; c++) {
                    float v = x[c] * scale[c] + shift[c];
                    y[c] = v > 0.0f ? v : 0.0f;
                }
            } else if (l->act == NN_ACT_LEAKY) {
                const float al = l->act_alpha;
                for (int c = 0; c < n; c++) {
                    float v = x[c] * scale[c] + shift[c];
                    y[c] = v < 0.0f ? v * al : v;
                }
            } else {
                for (int c = 0; c < n; c++) y[c] = x[c] * scale[c] + shift[c];
            }
        }
    }
}

static void bn_base(const bn_ctx *p, int b, int e) { bn_rows(p, b, e); }
#if BN_X86
T512 static void bn_512(const bn_ctx *p, int b, int e) { bn_rows(p, b, e); }
#endif

#if BN_NEON
/* bn_rows with NEON: y = x*scale + shift (multiply, then add, as the scalar path) 4 channels a
 * step with the fused activation; scale and shift as bn_rows builds them. */
static void bn_neon(const bn_ctx *p, int begin, int end)
{
    const cpu_fwd_args *a = p->a;
    const nn_layer *l = a->l;
    const int C = l->in.c;
    const float32x4_t alpha = vdupq_n_f32(l->act_alpha);
    float scale[BN_BLOCK], shift[BN_BLOCK];
    for (int c0 = 0; c0 < C; c0 += BN_BLOCK) {
        const int n = C - c0 < BN_BLOCK ? C - c0 : BN_BLOCK;
        bn_coeffs(a, c0, n, scale, shift);
        const size_t px0 = (size_t)begin * p->pixels_per_row, px1 = (size_t)end * p->pixels_per_row;
        for (size_t px = px0; px < px1; px++) {
            const float *x = a->in[0] + px * C + c0; /* may alias y: element-wise */
            float *y = a->out + px * C + c0;
            for (int c = 0; c < n; c += 4) {
                const int k = n - c < 4 ? n - c : 4;
                const float32x4_t v = vaddq_f32(vmulq_f32(neon_ld(x + c, k), neon_ld(scale + c, k)), neon_ld(shift + c, k));
                neon_st(y + c, neon_act(v, l->act, alpha), k);
            }
        }
    }
}
#endif

static void bn_task(void *ctx, int begin, int end, int thread)
{
    (void)thread;
#if BN_NEON
    if (cpu_isa(((const bn_ctx *)ctx)->a) == NN_CPU_ISA_NEON) {
        bn_neon(ctx, begin, end);
        return;
    }
#endif
#if BN_X86
    if (cpu_isa(((const bn_ctx *)ctx)->a) == NN_CPU_ISA_AVX512) {
        bn_512(ctx, begin, end);
        return;
    }
#endif
    bn_base(ctx, begin, end);
}

void cpu_batchnorm_forward(const cpu_fwd_args *a)
{
    const nn_layer *l = a->l;
    const size_t pixels = (size_t)a->batch * l->in.h * l->in.w;
    bn_ctx p = {.a = a, .pixels_per_row = (size_t)l->in.h * l->in.w};
    int rows = a->batch;
    if (rows < 16 && pixels % 16 == 0) rows = 16, p.pixels_per_row = pixels / 16; /* finer split for batch 1 */
    cpu_run(a->pool, (double)pixels * l->in.c, rows, bn_task, &p);
}

/* ---------------------------------------------------------------------------- training
 * Forward with batch statistics over the n = batch*H*W pixels of each channel:
 *   mean = sum x / n,  var = sum x^2 / n - mean^2,  y = (x - mean) * istd * gamma + beta,
 *   istd = 1/sqrt(var + eps);  saved = mean [C], istd [C];
 *   running_mean = (1-m) running_mean + m mean,  running_var = (1-m) running_var + m var*n/(n-1).
 * Backward (xh = (x - mean) * istd):
 *   dbeta += sum dy,  dgamma += sum dy*xh,  dx += gamma*istd/n * (n dy - sum dy - xh sum dy*xh).
 * Each is two passes over the pixels: the sums, then the element-wise part. Threads split the
 * pixels (all channels of a pixel are contiguous, so the loops vectorise over channels); in the
 * sum pass part t adds its pixels, in order, into its own double slice of scratch
 * (cpu_bn_train_scratch_floats), and the slices are added in part order, so the result depends
 * only on the batch and the thread count. Sums are in double; the loops are compiled for AVX-512
 * and the baseline, with a NEON flavour on AArch64. In a data-parallel step (train.h nn_train_shard)
 * the totals of every slice are summed (forward: sum x, sum x^2; backward: sum dy, sum dy*xh) and n is
 * the whole batch's. */
enum { BN_PARTS_MAX = 64 };

typedef struct {
    const float *x, *g;          /* input, and dy (backward) or NULL (forward) */
    const float *mean, *istd;    /* backward: saved statistics */
    float *y;                    /* forward output or backward d_in */
    const float *k1, *k2, *k3;   /* element-wise pass: forward y = x*k1 + k2; backward see bn_bwd_apply */
    double *part;                /* [parts][2][C] partial sums */
    size_t n;                    /* pixels */
    int C, parts;
    bool wide;                   /* the AVX-512 flavour */
    bool neon;                   /* the NEON flavour */
    bool ow;                     /* backward: write d_in instead of adding (cpu_bwd_args.overwrite) */
} bn_tctx;

size_t cpu_bn_train_scratch_floats(const nn_layer *l, int batch, int threads)
{
    (void)batch;
    const int parts = threads < BN_PARTS_MAX ? threads : BN_PARTS_MAX;
    /* partial sums (doubles) + k1 k2 k3 [C] floats + alignment */
    return (size_t)parts * 2 * (size_t)l->in.c * 2 + 3 * (size_t)l->in.c + 16;
}

static void bn_range(const bn_tctx *t, int part, size_t *p0, size_t *p1)
{
    *p0 = t->n * (size_t)part / (size_t)t->parts;
    *p1 = t->n * (size_t)(part + 1) / (size_t)t->parts;
}

/* Forward sums of pixels [p0, p1): s1[c] = sum x, s2[c] = sum x^2. */
INLINE void bn_sums_fwd(const bn_tctx *t, size_t p0, size_t p1, double *restrict s1, double *restrict s2)
{
    const int C = t->C;
    for (int c = 0; c < C; c++) s1[c] = s2[c] = 0.0;
    for (size_t px = p0; px < p1; px++) {
        const float *restrict x = t->x + px * C;
        for (int c = 0; c < C; c++) {
            const double v = x[c];
            s1[c] += v;
            s2[c] += v * v;
        }
    }
}

/* Backward sums of pixels [p0, p1): s1[c] = sum dy, s2[c] = sum dy * xh. */
INLINE void bn_sums_bwd(const bn_tctx *t, size_t p0, size_t p1, double *restrict s1, double *restrict s2)
{
    const int C = t->C;
    const float *restrict mean = t->mean, *restrict istd = t->istd;
    for (int c = 0; c < C; c++) s1[c] = s2[c] = 0.0;
    for (size_t px = p0; px < p1; px++) {
        const float *restrict x = t->x + px * C, *restrict g = t->g + px * C;
        for (int c = 0; c < C; c++) {
            s1[c] += g[c];
            s2[c] += (double)g[c] * ((x[c] - mean[c]) * istd[c]);
        }
    }
}

/* Forward: y = x * k1 + k2. */
INLINE void bn_fwd_apply(const bn_tctx *t, size_t p0, size_t p1)
{
    const int C = t->C;
    const float *restrict k1 = t->k1, *restrict k2 = t->k2;
    for (size_t px = p0; px < p1; px++) {
        const float *restrict x = t->x + px * C;
        float *restrict y = t->y + px * C;
        for (int c = 0; c < C; c++) y[c] = x[c] * k1[c] + k2[c];
    }
}

/* Backward: d_in += k1*dy - k2 - xh*k3 with k1 = gamma*istd, k2 = k1*sum dy/n, k3 = k1*sum(dy xh)/n. */
INLINE void bn_bwd_apply(const bn_tctx *t, size_t p0, size_t p1)
{
    const int C = t->C;
    const float *restrict k1 = t->k1, *restrict k2 = t->k2, *restrict k3 = t->k3;
    const float *restrict mean = t->mean, *restrict istd = t->istd;
    for (size_t px = p0; px < p1; px++) {
        const float *restrict x = t->x + px * C, *restrict g = t->g + px * C;
        float *restrict dx = t->y + px * C;
        if (t->ow)
            for (int c = 0; c < C; c++) {
                const float xh = (x[c] - mean[c]) * istd[c];
                dx[c] = k1[c] * g[c] - k2[c] - xh * k3[c];
            }
        else
            for (int c = 0; c < C; c++) {
                const float xh = (x[c] - mean[c]) * istd[c];
                dx[c] += k1[c] * g[c] - k2[c] - xh * k3[c];
            }
    }
}

/* Pass 0 (sums) or 1 (element-wise) of part `part`. */
INLINE void bn_pass(const bn_tctx *t, int pass, int part)
{
    size_t p0, p1;
    bn_range(t, part, &p0, &p1);
    double *s1 = t->part + (size_t)part * 2 * t->C, *s2 = s1 + t->C;
    if (pass == 0) {
        if (t->g) bn_sums_bwd(t, p0, p1, s1, s2);
        else bn_sums_fwd(t, p0, p1, s1, s2);
    } else {
        if (t->g) bn_bwd_apply(t, p0, p1);
        else bn_fwd_apply(t, p0, p1);
    }
}

static void bn_pass_base(const bn_tctx *t, int pass, int part) { bn_pass(t, pass, part); }

#if BN_X86
/* AVX-512: one block of 16 channels at a time (one cache line of a pixel), pixels inner, sums
 * in double held in registers (two pixels a step into separate accumulators, added at the end:
 * the order is fixed, so results are still reproducible). */
INLINE T512 __m512d lo_pd(__m512 v) { return _mm512_cvtps_pd(_mm512_castps512_ps256(v)); }
INLINE T512 __m512d hi_pd(__m512 v) { return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))); }

/* Stores the 16 (masked: n) sums held as lo/hi double halves. */
INLINE T512 void store_pd16(double *d, __m512d lo, __m512d hi, int n)
{
    const __mmask8 ml = (__mmask8)(n >= 8 ? 0xFF : (1u << n) - 1u), mh = (__mmask8)(n > 8 ? (1u << (n - 8)) - 1u : 0);
    _mm512_mask_storeu_pd(d, ml, lo);
    _mm512_mask_storeu_pd(d + 8, mh, hi);
}

T512 static void bn_pass_512(const bn_tctx *t, int pass, int part)
{
    size_t p0, p1;
    bn_range(t, part, &p0, &p1);
    const int C = t->C;
    double *s1 = t->part + (size_t)part * 2 * C, *s2 = s1 + C;
    const bool bwd = t->g != NULL;
    for (int c0 = 0; c0 < C; c0 += 16) {
        const int n = C - c0 < 16 ? C - c0 : 16;
        const __mmask16 m = (__mmask16)(n == 16 ? 0xFFFFu : (1u << n) - 1u);
        const float *x = t->x + c0, *g = bwd ? t->g + c0 : NULL;
        float *y = t->y + c0;
        const __m512 mean = bwd ? _mm512_maskz_loadu_ps(m, t->mean + c0) : _mm512_setzero_ps();
        const __m512 istd = bwd ? _mm512_maskz_loadu_ps(m, t->istd + c0) : _mm512_setzero_ps();
        if (pass == 0) {
            __m512d a[2][4];
            for (int u = 0; u < 2; u++)
                for (int v = 0; v < 4; v++) a[u][v] = _mm512_setzero_pd();
            size_t px = p0;
            for (; px < p1; px++) {
                const int u = (int)(px & 1);
                const __m512 xv = _mm512_maskz_loadu_ps(m, x + px * C);
                __m512 av, bv; /* sums of av and of av*bv */
                if (bwd) {
                    av = _mm512_maskz_loadu_ps(m, g + px * C);
                    bv = _mm512_mul_ps(_mm512_sub_ps(xv, mean), istd);
                } else {
                    av = bv = xv;
                }
                const __m512d al = lo_pd(av), ah = hi_pd(av);
                a[u][0] = _mm512_add_pd(a[u][0], al);
                a[u][1] = _mm512_add_pd(a[u][1], ah);
                a[u][2] = _mm512_fmadd_pd(al, lo_pd(bv), a[u][2]);
                a[u][3] = _mm512_fmadd_pd(ah, hi_pd(bv), a[u][3]);
            }
            store_pd16(s1 + c0, _mm512_add_pd(a[0][0], a[1][0]), _mm512_add_pd(a[0][1], a[1][1]), n);
            store_pd16(s2 + c0, _mm512_add_pd(a[0][2], a[1][2]), _mm512_add_pd(a[0][3], a[1][3]), n);
            continue;
        }
        const __m512 k1 = _mm512_maskz_loadu_ps(m, t->k1 + c0), k2 = _mm512_maskz_loadu_ps(m, t->k2 + c0);
        if (!bwd) {
            for (size_t px = p0; px < p1; px++)
                _mm512_mask_storeu_ps(y + px * C, m, _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + px * C), k1, k2));
            continue;
        }
        const __m512 k3 = _mm512_maskz_loadu_ps(m, t->k3 + c0);
        for (size_t px = p0; px < p1; px++) {
            const __m512 xh = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + px * C), mean), istd);
            const __m512 gv = _mm512_maskz_loadu_ps(m, g + px * C);
            /* dx += k1*g - k2 - xh*k3, in the scalar path's order */
            const __m512 v = _mm512_sub_ps(_mm512_sub_ps(_mm512_mul_ps(k1, gv), k2), _mm512_mul_ps(xh, k3));
            _mm512_mask_storeu_ps(y + px * C, m, t->ow ? v : _mm512_add_ps(_mm512_maskz_loadu_ps(m, y + px * C), v));
        }
    }
}
#endif

#if BN_NEON
/* NEON: the AVX-512 pass's structure, one block of 16 channels (a cache line of a pixel, four q
 * registers) at a time; sum pass: pixels inner, the 16 channels' two sums in double in 16
 * registers (vcvt to float64x2 pairs), one accumulator per channel, pixels in order (the scalar
 * order: only the fused multiply-add in s2 differs). The element-wise pass runs pixel by pixel, 4
 * channels a step, in the scalar path's operation order. */
NEON_INLINE float32x4_t bn_ld16(const float *p, int n, int v) /* floats 4v.. of a block of n */
{
    const int k = n - 4 * v;
    return k <= 0 ? vdupq_n_f32(0.0f) : neon_ld(p + 4 * v, k);
}

static void bn_pass_neon(const bn_tctx *t, int pass, int part)
{
    size_t p0, p1;
    bn_range(t, part, &p0, &p1);
    const int C = t->C;
    const bool bwd = t->g != NULL;
    if (pass == 0) {
        double *s1 = t->part + (size_t)part * 2 * C, *s2 = s1 + C;
        for (int c0 = 0; c0 < C; c0 += 16) {
            const int n = C - c0 < 16 ? C - c0 : 16;
            float32x4_t mean[4], istd[4];
            float64x2_t a1[8], a2[8];
            for (int v = 0; v < 4; v++) {
                mean[v] = bwd ? bn_ld16(t->mean + c0, n, v) : vdupq_n_f32(0.0f);
                istd[v] = bwd ? bn_ld16(t->istd + c0, n, v) : vdupq_n_f32(0.0f);
            }
            for (int v = 0; v < 8; v++) a1[v] = a2[v] = vdupq_n_f64(0.0);
            for (size_t px = p0; px < p1; px++) {
                const float *x = t->x + px * C + c0;
#pragma GCC unroll 4
                for (int v = 0; v < 4; v++) {
                    const float32x4_t xv = bn_ld16(x, n, v);
                    float32x4_t av = xv, bv = xv; /* sums of av and of av*bv */
                    if (bwd) {
                        av = bn_ld16(t->g + px * C + c0, n, v);
                        bv = vmulq_f32(vsubq_f32(xv, mean[v]), istd[v]);
                    }
                    const float64x2_t al = vcvt_f64_f32(vget_low_f32(av)), ah = vcvt_high_f64_f32(av);
                    a1[2 * v] = vaddq_f64(a1[2 * v], al);
                    a1[2 * v + 1] = vaddq_f64(a1[2 * v + 1], ah);
                    a2[2 * v] = vfmaq_f64(a2[2 * v], al, vcvt_f64_f32(vget_low_f32(bv)));
                    a2[2 * v + 1] = vfmaq_f64(a2[2 * v + 1], ah, vcvt_high_f64_f32(bv));
                }
            }
            double d1[16], d2[16];
            for (int v = 0; v < 8; v++) vst1q_f64(d1 + 2 * v, a1[v]), vst1q_f64(d2 + 2 * v, a2[v]);
            for (int c = 0; c < n; c++) s1[c0 + c] = d1[c], s2[c0 + c] = d2[c];
        }
        return;
    }
    for (size_t px = p0; px < p1; px++) {
        const float *x = t->x + px * C;
        float *y = t->y + px * C;
        for (int c = 0; c < C; c += 4) {
            const int k = C - c < 4 ? C - c : 4;
            const float32x4_t xv = neon_ld(x + c, k), k1 = neon_ld(t->k1 + c, k), k2 = neon_ld(t->k2 + c, k);
            if (!bwd) { /* y = x*k1 + k2 */
                neon_st(y + c, vaddq_f32(vmulq_f32(xv, k1), k2), k);
                continue;
            }
            const float32x4_t xh = vmulq_f32(vsubq_f32(xv, neon_ld(t->mean + c, k)), neon_ld(t->istd + c, k));
            const float32x4_t gv = neon_ld(t->g + px * C + c, k);
            const float32x4_t v = vsubq_f32(vsubq_f32(vmulq_f32(k1, gv), k2), vmulq_f32(xh, neon_ld(t->k3 + c, k)));
            neon_st(y + c, t->ow ? v : vaddq_f32(neon_ld(y + c, k), v), k);
        }
    }
}
#endif

static void run_pass(const bn_tctx *t, int pass, int begin, int end)
{
    for (int part = begin; part < end; part++) {
#if BN_X86
        if (t->wide) {
            bn_pass_512(t, pass, part);
            continue;
        }
#endif
#if BN_NEON
        if (t->neon) {
            bn_pass_neon(t, pass, part);
            continue;
        }
#endif
        bn_pass_base(t, pass, part);
    }
}

static void bn_sum_task(void *ctx, int begin, int end, int thread)
{
    (void)thread;
    run_pass(ctx, 0, begin, end);
}

static void bn_apply_task(void *ctx, int begin, int end, int thread)
{
    (void)thread;
    run_pass(ctx, 1, begin, end);
}

/* Sets up t over `scratch` and runs the sum pass; s1/s2 (= part 0) then hold the totals. */
static void bn_sums(bn_tctx *t, nn_cpu_isa isa, nn_pool *pool, float *scratch, float **kbuf)
{
    const int T = nn_pool_threads(pool);
    const double work = (double)t->n * t->C;
    t->parts = T < BN_PARTS_MAX ? T : BN_PARTS_MAX;
    if (work < 65536.0 || (size_t)t->parts > t->n) t->parts = 1;
    t->part = (double *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    *kbuf = (float *)(t->part + (size_t)t->parts * 2 * t->C);
    t->wide = isa == NN_CPU_ISA_AVX512;
    t->neon = isa == NN_CPU_ISA_NEON;
    if (t->parts == 1) bn_sum_task(t, 0, 1, 0);
    else nn_pool_run(pool, t->parts, bn_sum_task, t);
    double *s = t->part;
    for (int p = 1; p < t->parts; p++)
        for (int c = 0; c < 2 * t->C; c++) s[c] += t->part[(size_t)p * 2 * t->C + c];
}

static void bn_apply(bn_tctx *t, nn_pool *pool)
{
    if (t->parts == 1) bn_apply_task(t, 0, 1, 0);
    else nn_pool_run(pool, t->parts, bn_apply_task, t);
}

/* Pixels per channel of the whole batch: this batch's, or the data-parallel batch's. */
static double bn_count(const nn_layer *l, int batch, const nn_train_shard *shard)
{
    return (double)(shard ? shard->global_batch : batch) * l->in.h * l->in.w;
}

void cpu_batchnorm_forward_train(const cpu_fwd_args *a, float *running_mean, float *running_var, float *saved,
                                 const nn_train_shard *shard)
{
    const nn_layer *l = a->l;
    const int C = l->in.c;
    bn_tctx t = {.x = a->in[0], .y = a->out, .n = (size_t)a->batch * l->in.h * l->in.w, .C = C};
    if (t.n == 0) return;
    float *k;
    bn_sums(&t, cpu_isa(a), a->pool, a->scratch, &k);
    if (shard) shard->sum_f64(shard->ctx, t.part, 2 * (size_t)C); /* s1 then s2: the whole batch's sums */
    const double *s1 = t.part, *s2 = t.part + C, n = bn_count(l, a->batch, shard);
    const float *gamma = a->p[0], *beta = a->p[1];
    const float m = l->momentum;
    for (int c = 0; c < C; c++) {
        const double mean = s1[c] / n;
        double var = s2[c] / n - mean * mean;
        if (var < 0.0) var = 0.0;
        const float istd = (float)(1.0 / sqrt(var + (double)l->eps));
        saved[c] = (float)mean;
        saved[C + c] = istd;
        k[c] = gamma[c] * istd;
        k[C + c] = beta[c] - (float)mean * k[c];
        if (running_mean) running_mean[c] = (1.0f - m) * running_mean[c] + m * (float)mean;
        if (running_var) {
            const double unbiased = n > 1 ? var * n / (n - 1) : var;
            running_var[c] = (1.0f - m) * running_var[c] + m * (float)unbiased;
        }
    }
    t.k1 = k, t.k2 = k + C;
    bn_apply(&t, a->pool);
}

void cpu_batchnorm_backward(const cpu_bwd_args *a)
{
    const nn_layer *l = a->l;
    const int C = l->in.c;
    bn_tctx t = {.x = a->in[0], .g = a->dy, .mean = a->aux, .istd = a->aux + C, .y = a->d_in[0],
                 .n = (size_t)a->batch * l->in.h * l->in.w, .C = C, .ow = a->overwrite};
    if (t.n == 0) return;
    float *k;
    bn_sums(&t, cpu_bwd_isa(a), a->pool, a->scratch, &k);
    const double *sdy = t.part, *sdx = t.part + C, n = bn_count(l, a->batch, a->shard);
    const float *gamma = a->p[0];
    for (int c = 0; c < C; c++) { /* this slice's share: the parameter gradients are summed later */
        if (a->d_p[0]) a->d_p[0][c] += (float)sdx[c];
        if (a->d_p[1]) a->d_p[1][c] += (float)sdy[c];
    }
    if (a->shard) a->shard->sum_f64(a->shard->ctx, t.part, 2 * (size_t)C); /* the whole batch's sums */
    for (int c = 0; c < C; c++) {
        const float s = gamma[c] * t.istd[c];
        k[c] = s; /* dx = s*dy - s*(sdy/n) - s*xh*(sdx/n) */
        k[C + c] = s * (float)(sdy[c] / n);
        k[2 * C + c] = s * (float)(sdx[c] / n);
    }
    t.k1 = k, t.k2 = k + C, t.k3 = k + 2 * C;
    bn_apply(&t, a->pool);
}
