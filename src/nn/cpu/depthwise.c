/* depthwise.c — depthwise 2-D convolution forward, NHWC, explicit zero padding, depth multiplier.
 *   in [batch][IH][IW][C]    weight [kh][kw][C*dm]    bias [C*dm] or NULL
 *   out [batch][OH][OW][C*dm];  output channel o reads input channel o/dm.
 * Channels are contiguous in NHWC, so the kernel vectorises across them: AVX-512 (16 channels a
 * step, masked tails, a lane permute for dm > 1) when the CPU has it, NEON on AArch64 (4
 * channels a step, dm = 1), plain C otherwise (built for AVX2 too, where the compiler vectorises
 * it). Each
 * output pixel only visits its in-bounds taps, so padding costs nothing. The bias and activation
 * are applied before the single store. Threads split output rows. */
#include <string.h>

#include "cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DW_X86 1
#else
#define DW_X86 0
#endif
#if defined(__aarch64__)
#include "neon.h"
#define DW_NEON 1
#else
#define DW_NEON 0
#endif
#define INLINE static inline __attribute__((always_inline))

typedef struct {
    const cpu_fwd_args *a;
    int IH, IW, C, OH, OW, CO, dm;
} dw_ctx;

/* In-bounds tap range [k0, k1) of output coordinate o: input o*s - pad + k in [0, n). */
static inline void tap_range(int o, int s, int pad, int k, int n, int *k0, int *k1)
{
    int i0 = o * s - pad;
    *k0 = i0 < 0 ? -i0 : 0;
    *k1 = i0 + k > n ? n - i0 : k;
}

/* Portable path: out row (b, oh) accumulated in place; compiled for the baseline ISA and for AVX2
 * (dw_row_avx2), where the compiler vectorises the channel loops. */
static inline __attribute__((always_inline)) void dw_row_plain(const dw_ctx *d, int b, int oh)
{
    const nn_layer *l = d->a->l;
    const float *restrict w = d->a->p[0];
    const float *bias = l->has_bias ? d->a->p[1] : NULL;
    const int C = d->C, CO = d->CO, dm = d->dm;
    int kh0, kh1;
    tap_range(oh, l->sh, l->pad_top, l->kh, d->IH, &kh0, &kh1);
    const float *img = d->a->in[0] + (size_t)b * d->IH * d->IW * C;
    float *restrict orow = d->a->out + ((size_t)b * d->OH + oh) * d->OW * CO;
    for (int ow = 0; ow < d->OW; ow++) {
        float *restrict o = orow + (size_t)ow * CO;
        int kw0, kw1;
        tap_range(ow, l->sw, l->pad_left, l->kw, d->IW, &kw0, &kw1);
        for (int c = 0; c < CO; c++) o[c] = bias ? bias[c] : 0.0f;
        for (int kh = kh0; kh < kh1; kh++) {
            const int ih = oh * l->sh - l->pad_top + kh;
            for (int kw = kw0; kw < kw1; kw++) {
                const int iw = ow * l->sw - l->pad_left + kw;
                const float *restrict x = img + ((size_t)ih * d->IW + iw) * C;
                const float *restrict wk = w + (size_t)(kh * l->kw + kw) * CO;
                if (dm == 1)
                    for (int c = 0; c < CO; c++) o[c] += x[c] * wk[c];
                else
                    for (int c = 0; c < C; c++)
                        for (int m = 0; m < dm; m++) o[c * dm + m] += x[c] * wk[c * dm + m];
            }
        }
        cpu_apply_act(o, (size_t)CO, l->act, l->act_alpha);
    }
}

static void dw_row_scalar(const dw_ctx *d, int b, int oh) { dw_row_plain(d, b, oh); }

#if DW_X86
__attribute__((target("avx2,fma"))) static void dw_row_avx2(const dw_ctx *d, int b, int oh) { dw_row_plain(d, b, oh); }

#define T512 __attribute__((target("avx512f,avx2,fma")))

INLINE T512 __m512 act512(__m512 y, nn_act act, __m512 alpha)
{
    const __m512 zero = _mm512_setzero_ps();
    if (act == NN_ACT_RELU) return _mm512_max_ps(y, zero);
    if (act == NN_ACT_LEAKY) return _mm512_mask_mul_ps(y, _mm512_cmp_ps_mask(y, zero, _CMP_LT_OQ), y, alpha);
    return y;
}

/* Interior pixels [owa, owb) of one row for one channel block (dm = 1): the KH x KW window fully
 * unrolled with the weights in registers. x0 is the window's top-left input for pixel owa. FULL:
 * all 16 lanes valid, so plain (unmasked) loads and stores. */
INLINE T512 void dw512_inner(const float *x0, float *ob, const float *w, __m512 b0, __mmask16 mo, int owa, int owb,
                             int sw, int C, int CO, int IW, const nn_layer *l, const int KH_, const int KW_,
                             const bool FULL)
{
    const __m512 zero = _mm512_setzero_ps(), alpha = _mm512_set1_ps(l->act_alpha);
    const nn_act act = l->act;
    __m512 wv[KH_ ? KH_ : 1][KW_ ? KW_ : 1];
#pragma GCC unroll 5
    for (int kh = 0; kh < KH_; kh++)
#pragma GCC unroll 5
        for (int kw = 0; kw < KW_; kw++) wv[kh][kw] = _mm512_maskz_loadu_ps(mo, w + (size_t)(kh * KW_ + kw) * CO);
    const size_t xstep = (size_t)sw * C, rstep = (size_t)IW * C;
    for (int ow = owa; ow < owb; ow++, x0 += xstep) {
        __m512 acc0 = b0, acc1 = zero;
#pragma GCC unroll 5
        for (int kh = 0; kh < KH_; kh++)
#pragma GCC unroll 5
            for (int kw = 0; kw < KW_; kw++) {
                const float *px = x0 + kh * rstep + (size_t)kw * C;
                const __m512 x = FULL ? _mm512_loadu_ps(px) : _mm512_maskz_loadu_ps(mo, px);
                if ((kh * KW_ + kw) & 1) acc1 = _mm512_fmadd_ps(x, wv[kh][kw], acc1);
                else acc0 = _mm512_fmadd_ps(x, wv[kh][kw], acc0);
            }
        const __m512 y = act512(_mm512_add_ps(acc0, acc1), act, alpha);
        if (FULL) _mm512_storeu_ps(ob + (size_t)ow * CO, y);
        else _mm512_mask_storeu_ps(ob + (size_t)ow * CO, mo, y);
    }
}

/* One output row, 16 channels a step. Pixels whose window touches padding (and every pixel when
 * dm > 1 or the kernel size is not specialised) take the general loop over in-range taps with
 * weights read from L1. When KH_/KW_ > 0 (dm = 1), the remaining interior pixels run a fully
 * unrolled window with the block's weights held in registers. For dm > 1 the block's input
 * channels o/dm are one contiguous run of the input pixel, spread to the lanes by a permute. */
INLINE T512 void dw512_row(const dw_ctx *d, int b, int oh, const int KH_, const int KW_)
{
    const nn_layer *l = d->a->l;
    const int KH = l->kh, KW = l->kw;
    const float *w = d->a->p[0];
    const float *bias = l->has_bias ? d->a->p[1] : NULL;
    const int C = d->C, CO = d->CO, dm = d->dm, sw = l->sw, IW = d->IW, OW = d->OW, pl = l->pad_left;
    int kh0, kh1;
    tap_range(oh, l->sh, l->pad_top, KH, d->IH, &kh0, &kh1);
    const int ih0 = oh * l->sh - l->pad_top;
    const float *img = d->a->in[0] + (size_t)b * d->IH * IW * C;
    float *orow = d->a->out + ((size_t)b * d->OH + oh) * OW * CO;
    const __m512 zero = _mm512_setzero_ps(), alpha = _mm512_set1_ps(l->act_alpha);
    /* interior pixels [owa, owb): iw0 = ow*sw - pl >= 0 and iw0 + KW <= IW */
    int owa = 0, owb = 0;
    if (KH_ && kh0 == 0 && kh1 == KH) {
        owa = (pl + sw - 1) / sw;
        owb = IW - KW + pl >= 0 ? (IW - KW + pl) / sw + 1 : 0;
        if (owb > OW) owb = OW;
        if (owa > owb) owa = owb = 0;
    }
    for (int o0 = 0; o0 < CO; o0 += 16) {
        const int n = CO - o0 < 16 ? CO - o0 : 16;
        const __mmask16 mo = (__mmask16)((1u << n) - 1u);
        const int i0 = o0 / dm, ni = (o0 + n - 1) / dm - i0 + 1;
        const __mmask16 mi = (__mmask16)((1u << ni) - 1u);
        __m512i idx = _mm512_setzero_si512();
        if (dm != 1) {
            int lanes[16];
            for (int j = 0; j < 16; j++) lanes[j] = j < n ? (o0 + j) / dm - i0 : 0;
            idx = _mm512_loadu_si512(lanes);
        }
        const __m512 b0 = bias ? _mm512_maskz_loadu_ps(mo, bias + o0) : zero;
        const float *xb = img + i0;
        float *ob = orow + o0;
        for (int ow = 0; ow < OW; ow++) {
            if (ow == owa && owa < owb) { /* skip the interior: done below */
                ow = owb - 1;
                continue;
            }
            const int iw0 = ow * sw - pl;
            const int kw0 = iw0 < 0 ? -iw0 : 0, kw1 = iw0 + KW > IW ? IW - iw0 : KW;
            __m512 acc = b0;
            for (int kh = kh0; kh < kh1; kh++) {
                const float *xr = xb + ((size_t)(ih0 + kh) * IW + (size_t)(iw0 + kw0)) * C; /* tap kw0 */
                const float *wr = w + (size_t)kh * KW * CO + o0;
                for (int kw = kw0; kw < kw1; kw++) {
                    __m512 x = _mm512_maskz_loadu_ps(mi, xr + (size_t)(kw - kw0) * C);
                    if (dm != 1) x = _mm512_permutexvar_ps(idx, x);
                    acc = _mm512_fmadd_ps(x, _mm512_maskz_loadu_ps(mo, wr + (size_t)kw * CO), acc);
                }
            }
            _mm512_mask_storeu_ps(ob + (size_t)ow * CO, mo, act512(acc, l->act, alpha));
        }
        if (KH_ && owa < owb) {
            const float *x0 = xb + ((size_t)ih0 * IW + (size_t)(owa * sw - pl)) * C;
            if (n == 16) dw512_inner(x0, ob, w + o0, b0, mo, owa, owb, sw, C, CO, IW, l, KH_, KW_, true);
            else dw512_inner(x0, ob, w + o0, b0, mo, owa, owb, sw, C, CO, IW, l, KH_, KW_, false);
        }
    }
}

T512 static void dw512_1x3(const dw_ctx *d, int b, int oh) { dw512_row(d, b, oh, 1, 3); }
T512 static void dw512_3x1(const dw_ctx *d, int b, int oh) { dw512_row(d, b, oh, 3, 1); }
T512 static void dw512_3x3(const dw_ctx *d, int b, int oh) { dw512_row(d, b, oh, 3, 3); }
T512 static void dw512_5x5(const dw_ctx *d, int b, int oh) { dw512_row(d, b, oh, 5, 5); }
T512 static void dw512_any(const dw_ctx *d, int b, int oh) { dw512_row(d, b, oh, 0, 0); }
#endif

#if DW_NEON
/* NEON, dm = 1: one output row, 4 channels a step (n = 1..3 lanes for the channel tail). Border
 * pixels (window touching padding) run the in-range taps with weights from L1; when KH_/KW_ > 0
 * the interior pixels run the window unrolled with the block's weights in registers (5x5: 25 of
 * the 32 q registers) and two accumulators (even / odd taps), as the AVX-512 path. */
NEON_INLINE void dwn_row(const dw_ctx *d, int b, int oh, const int KH_, const int KW_)
{
    const nn_layer *l = d->a->l;
    const int KH = l->kh, KW = l->kw;
    const float *w = d->a->p[0];
    const float *bias = l->has_bias ? d->a->p[1] : NULL;
    const int C = d->C, sw = l->sw, IW = d->IW, OW = d->OW, pl = l->pad_left;
    int kh0, kh1;
    tap_range(oh, l->sh, l->pad_top, KH, d->IH, &kh0, &kh1);
    const int ih0 = oh * l->sh - l->pad_top;
    const float *img = d->a->in[0] + (size_t)b * d->IH * IW * C;
    float *orow = d->a->out + ((size_t)b * d->OH + oh) * OW * C;
    const float32x4_t zero = vdupq_n_f32(0.0f), alpha = vdupq_n_f32(l->act_alpha);
    int owa = 0, owb = 0; /* interior pixels: iw0 = ow*sw - pl >= 0 and iw0 + KW <= IW */
    if (KH_ && kh0 == 0 && kh1 == KH) {
        owa = (pl + sw - 1) / sw;
        owb = IW - KW + pl >= 0 ? (IW - KW + pl) / sw + 1 : 0;
        if (owb > OW) owb = OW;
        if (owa > owb) owa = owb = 0;
    }
    for (int c0 = 0; c0 < C; c0 += 4) {
        const int n = C - c0 < 4 ? C - c0 : 4;
        const float32x4_t b0 = bias ? neon_ld(bias + c0, n) : zero;
        const float *xb = img + c0;
        float *ob = orow + c0;
        for (int ow = 0; ow < OW; ow++) {
            if (ow == owa && owa < owb) { /* the interior: below */
                ow = owb - 1;
                continue;
            }
            const int iw0 = ow * sw - pl;
            const int kw0 = iw0 < 0 ? -iw0 : 0, kw1 = iw0 + KW > IW ? IW - iw0 : KW;
            float32x4_t acc = b0;
            for (int kh = kh0; kh < kh1; kh++) {
                const float *xr = xb + ((size_t)(ih0 + kh) * IW + (size_t)(iw0 + kw0)) * C; /* tap kw0 */
                const float *wr = w + (size_t)kh * KW * C + c0;
                for (int kw = kw0; kw < kw1; kw++)
                    acc = vfmaq_f32(acc, neon_ld(xr + (size_t)(kw - kw0) * C, n), neon_ld(wr + (size_t)kw * C, n));
            }
            neon_st(ob + (size_t)ow * C, neon_act(acc, l->act, alpha), n);
        }
        if (!KH_ || owa >= owb) continue;
        float32x4_t wv[KH_ ? KH_ : 1][KW_ ? KW_ : 1];
#pragma GCC unroll 5
        for (int kh = 0; kh < KH_; kh++)
#pragma GCC unroll 5
            for (int kw = 0; kw < KW_; kw++) wv[kh][kw] = neon_ld(w + (size_t)(kh * KW_ + kw) * C + c0, n);
        const size_t xstep = (size_t)sw * C, rstep = (size_t)IW * C;
        const float *x0 = xb + ((size_t)ih0 * IW + (size_t)(owa * sw - pl)) * C;
        for (int ow = owa; ow < owb; ow++, x0 += xstep) {
            float32x4_t acc0 = b0, acc1 = zero;
#pragma GCC unroll 5
            for (int kh = 0; kh < KH_; kh++)
#pragma GCC unroll 5
                for (int kw = 0; kw < KW_; kw++) {
                    const float32x4_t x = neon_ld(x0 + kh * rstep + (size_t)kw * C, n);
                    if ((kh * KW_ + kw) & 1) acc1 = vfmaq_f32(acc1, x, wv[kh][kw]);
                    else acc0 = vfmaq_f32(acc0, x, wv[kh][kw]);
                }
            neon_st(ob + (size_t)ow * C, neon_act(vaddq_f32(acc0, acc1), l->act, alpha), n);
        }
    }
}

static void dwn_1x3(const dw_ctx *d, int b, int oh) { dwn_row(d, b, oh, 1, 3); }
static void dwn_3x1(const dw_ctx *d, int b, int oh) { dwn_row(d, b, oh, 3, 1); }
static void dwn_3x3(const dw_ctx *d, int b, int oh) { dwn_row(d, b, oh, 3, 3); }
static void dwn_5x5(const dw_ctx *d, int b, int oh) { dwn_row(d, b, oh, 5, 5); }
static void dwn_any(const dw_ctx *d, int b, int oh) { dwn_row(d, b, oh, 0, 0); }
#endif

typedef void (*dw_row_fn)(const dw_ctx *d, int b, int oh);

typedef struct {
    dw_ctx d;
    dw_row_fn row;
} dw_par;

static void dw_task(void *ctx, int begin, int end, int thread)
{
    (void)thread;
    const dw_par *p = ctx;
    for (int r = begin; r < end; r++) p->row(&p->d, r / p->d.OH, r % p->d.OH);
}

void cpu_depthwise_forward(const cpu_fwd_args *a)
{
    const nn_layer *l = a->l;
    dw_par p = {.d = {.a = a, .IH = l->in.h, .IW = l->in.w, .C = l->in.c, .OH = l->out.h, .OW = l->out.w,
                      .CO = l->out.c, .dm = l->depth_multiplier > 0 ? l->depth_multiplier : 1},
                .row = dw_row_scalar};
#if DW_X86
    if (cpu_isa(a) == NN_CPU_ISA_AVX2) p.row = dw_row_avx2;
    if (cpu_isa(a) == NN_CPU_ISA_AVX512) {
        const int kh = l->kh, kw = l->kw;
        p.row = dw512_any;
        if (p.d.dm == 1)
            p.row = kh == 1 && kw == 3 ? dw512_1x3 : kh == 3 && kw == 1 ? dw512_3x1 : kh == 3 && kw == 3 ? dw512_3x3
                  : kh == 5 && kw == 5 ? dw512_5x5 : dw512_any;
    }
#endif
#if DW_NEON
    if (cpu_isa(a) == NN_CPU_ISA_NEON && p.d.dm == 1) {
        const int kh = l->kh, kw = l->kw;
        p.row = kh == 1 && kw == 3 ? dwn_1x3 : kh == 3 && kw == 1 ? dwn_3x1 : kh == 3 && kw == 3 ? dwn_3x3
              : kh == 5 && kw == 5 ? dwn_5x5 : dwn_any;
    }
#endif
    const int rows = a->batch * p.d.OH;
    cpu_run(a->pool, (double)rows * p.d.OW * p.d.CO * l->kh * l->kw, rows, dw_task, &p);
}

/* ---------------------------------------------------------------------------- backward
 * dy [batch][OH][OW][C*dm]:  d_in[.., c] += sum w[kh][kw][o] dy[.., o],  dW[kh][kw][o] += x dy,
 * db[o] += dy, over the in-bounds taps (o = c*dm + m). Threads split the samples (windows of one
 * sample overlap, samples never do): part t sums dW and db over its samples, in order, into its
 * own slice of scratch [KH*KW*CO + CO], and the caller adds the slices in part order, so the
 * result depends only on the batch and the thread count. The loops run over contiguous channels
 * with restrict pointers and are compiled for AVX-512, AVX2 and the baseline (vectorised by the
 * compiler; with dm = 1 an AVX-512 path, and on AArch64 a NEON one, keep the window's dW sums in
 * registers); each tap of an output pixel updates d_in and dW for the whole channel run. */
typedef struct {
    const cpu_bwd_args *a;
    int IH, IW, C, OH, OW, CO, dm, parts;
    size_t slice; /* scratch floats per part */
} dw_bctx;

size_t cpu_depthwise_bwd_scratch_floats(const nn_layer *l, int batch, int threads)
{
    const int parts = threads < batch ? threads : batch;
    return (size_t)(parts < 1 ? 1 : parts) * ((size_t)l->kh * l->kw * l->out.c + (size_t)l->out.c);
}

/* Sample b's contribution: d_in += ..., dwp [KH*KW][CO] += ..., dbp [CO] += ... (NULL: skip). */
INLINE void dw_bwd_sample(const dw_bctx *d, int b, float *dwp, float *dbp)
{
    const cpu_bwd_args *a = d->a;
    const nn_layer *l = a->l;
    const int C = d->C, CO = d->CO, dm = d->dm;
    const float *w = a->p[0];
    for (int oh = 0; oh < d->OH; oh++) {
        int kh0, kh1;
        tap_range(oh, l->sh, l->pad_top, l->kh, d->IH, &kh0, &kh1);
        for (int ow = 0; ow < d->OW; ow++) {
            int kw0, kw1;
            tap_range(ow, l->sw, l->pad_left, l->kw, d->IW, &kw0, &kw1);
            const float *restrict g = a->dy + (((size_t)b * d->OH + oh) * d->OW + ow) * CO;
            if (dbp) {
                float *restrict db = dbp;
                for (int o = 0; o < CO; o++) db[o] += g[o];
            }
            for (int kh = kh0; kh < kh1; kh++) {
                const int ih = oh * l->sh - l->pad_top + kh;
                for (int kw = kw0; kw < kw1; kw++) {
                    const int iw = ow * l->sw - l->pad_left + kw;
                    const size_t px = (((size_t)b * d->IH + ih) * d->IW + iw) * C;
                    const float *restrict x = a->in[0] + px;
                    float *restrict dx = a->d_in[0] + px;
                    const size_t tap = (size_t)(kh * l->kw + kw) * CO;
                    const float *restrict wk = w + tap;
                    if (dm == 1) {
                        if (dwp) {
                            float *restrict dwk = dwp + tap;
                            for (int c = 0; c < C; c++) {
                                dx[c] += wk[c] * g[c];
                                dwk[c] += x[c] * g[c];
                            }
                        } else {
                            for (int c = 0; c < C; c++) dx[c] += wk[c] * g[c];
                        }
                        continue;
                    }
                    for (int c = 0; c < C; c++) {
                        float s = 0.0f;
                        for (int m = 0; m < dm; m++) {
                            const int o = c * dm + m;
                            s += wk[o] * g[o];
                            if (dwp) dwp[tap + o] += x[c] * g[o];
                        }
                        dx[c] += s;
                    }
                }
            }
        }
    }
}

static void dw_bwd_base(const dw_bctx *d, int b, float *dwp, float *dbp) { dw_bwd_sample(d, b, dwp, dbp); }
#if DW_X86
__attribute__((target("avx2,fma"))) static void dw_bwd_avx2(const dw_bctx *d, int b, float *dwp, float *dbp)
{
    dw_bwd_sample(d, b, dwp, dbp);
}
T512 static void dw_bwd_512(const dw_bctx *d, int b, float *dwp, float *dbp) { dw_bwd_sample(d, b, dwp, dbp); }

/* AVX-512, dm = 1: 16 channels a step. Interior pixels (whole window in bounds) run the
 * KH_ x KW_ window unrolled with the block's weights and dW sums in registers (added to dwp at
 * the end of the sample's block); border pixels take the general loop over in-range taps with dW
 * in dwp. dx gets w*dy added tap by tap. dwp/dbp NULL: not wanted. */
INLINE T512 void dw512_bwd_sample(const dw_bctx *d, int b, float *dwp, float *dbp, const int KH_, const int KW_)
{
    const cpu_bwd_args *a = d->a;
    const nn_layer *l = a->l;
    const int KH = l->kh, KW = l->kw, C = d->C, IW = d->IW, OW = d->OW, sw = l->sw, pl = l->pad_left;
    const float *w = a->p[0];
    const float *img = a->in[0] + (size_t)b * d->IH * IW * C;
    float *dimg = a->d_in[0] + (size_t)b * d->IH * IW * C;
    const float *gimg = a->dy + (size_t)b * d->OH * OW * C;
    const bool want_w = dwp != NULL;
    /* interior columns [owa, owb): iw0 = ow*sw - pl >= 0 and iw0 + KW <= IW */
    int owa = (pl + sw - 1) / sw, owb = IW - KW + pl >= 0 ? (IW - KW + pl) / sw + 1 : 0;
    if (owb > OW) owb = OW;
    if (owa > owb) owa = owb;
    for (int c0 = 0; c0 < C; c0 += 16) {
        const int n = C - c0 < 16 ? C - c0 : 16;
        const __mmask16 m = (__mmask16)(n == 16 ? 0xFFFFu : (1u << n) - 1u);
        __m512 wv[KH_ ? KH_ : 1][KW_ ? KW_ : 1], acc[KH_ ? KH_ : 1][KW_ ? KW_ : 1];
#pragma GCC unroll 5
        for (int kh = 0; kh < KH_; kh++)
#pragma GCC unroll 5
            for (int kw = 0; kw < KW_; kw++) {
                wv[kh][kw] = _mm512_maskz_loadu_ps(m, w + (size_t)(kh * KW_ + kw) * C + c0);
                acc[kh][kw] = _mm512_setzero_ps();
            }
        __m512 dbv = _mm512_setzero_ps();
        for (int oh = 0; oh < d->OH; oh++) {
            int kh0, kh1;
            tap_range(oh, l->sh, l->pad_top, KH, d->IH, &kh0, &kh1);
            const int ih0 = oh * l->sh - l->pad_top;
            const bool full_h = KH_ && kh0 == 0 && kh1 == KH;
            const float *grow = gimg + (size_t)oh * OW * C + c0;
            for (int ow = 0; ow < OW; ow++) {
                const __m512 g = _mm512_maskz_loadu_ps(m, grow + (size_t)ow * C);
                dbv = _mm512_add_ps(dbv, g);
                const int iw0 = ow * sw - pl;
                if (full_h && ow >= owa && ow < owb) {
                    const size_t px0 = ((size_t)ih0 * IW + (size_t)iw0) * C + c0;
#pragma GCC unroll 5
                    for (int kh = 0; kh < KH_; kh++)
#pragma GCC unroll 5
                        for (int kw = 0; kw < KW_; kw++) {
                            const size_t px = px0 + ((size_t)kh * IW + (size_t)kw) * C;
                            if (want_w) acc[kh][kw] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, img + px), g, acc[kh][kw]);
                            _mm512_mask_storeu_ps(dimg + px, m,
                                                  _mm512_fmadd_ps(wv[kh][kw], g, _mm512_maskz_loadu_ps(m, dimg + px)));
                        }
                    continue;
                }
                const int kw0 = iw0 < 0 ? -iw0 : 0, kw1 = iw0 + KW > IW ? IW - iw0 : KW;
                for (int kh = kh0; kh < kh1; kh++)
                    for (int kw = kw0; kw < kw1; kw++) {
                        const size_t px = ((size_t)(ih0 + kh) * IW + (size_t)(iw0 + kw)) * C + c0;
                        const size_t tap = (size_t)(kh * KW + kw) * C + c0;
                        if (want_w)
                            _mm512_mask_storeu_ps(dwp + tap, m, _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, img + px), g,
                                                                                _mm512_maskz_loadu_ps(m, dwp + tap)));
                        const __m512 wk = _mm512_maskz_loadu_ps(m, w + tap);
                        _mm512_mask_storeu_ps(dimg + px, m, _mm512_fmadd_ps(wk, g, _mm512_maskz_loadu_ps(m, dimg + px)));
                    }
            }
        }
        if (want_w)
#pragma GCC unroll 5
            for (int kh = 0; kh < KH_; kh++)
#pragma GCC unroll 5
                for (int kw = 0; kw < KW_; kw++) {
                    float *dt = dwp + (size_t)(kh * KW_ + kw) * C + c0;
                    _mm512_mask_storeu_ps(dt, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, dt), acc[kh][kw]));
                }
        if (dbp) _mm512_mask_storeu_ps(dbp + c0, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, dbp + c0), dbv));
    }
}

T512 static void dw512_bwd_1x3(const dw_bctx *d, int b, float *dwp, float *dbp) { dw512_bwd_sample(d, b, dwp, dbp, 1, 3); }
T512 static void dw512_bwd_3x1(const dw_bctx *d, int b, float *dwp, float *dbp) { dw512_bwd_sample(d, b, dwp, dbp, 3, 1); }
T512 static void dw512_bwd_3x3(const dw_bctx *d, int b, float *dwp, float *dbp) { dw512_bwd_sample(d, b, dwp, dbp, 3, 3); }
T512 static void dw512_bwd_5x5(const dw_bctx *d, int b, float *dwp, float *dbp) { dw512_bwd_sample(d, b, dwp, dbp, 5, 5); }
T512 static void dw512_bwd_any(const dw_bctx *d, int b, float *dwp, float *dbp) { dw512_bwd_sample(d, b, dwp, dbp, 0, 0); }
#endif

#if DW_NEON
/* NEON, dm = 1: the AVX-512 backward's structure, 4 channels a step (n = 1..3 lanes at the
 * channel tail). Interior pixels run the KH_ x KW_ window unrolled with the block's dW sums and
 * weights in registers (5x5: the 25 sums take 25 of the 32 q registers and the compiler keeps
 * the weights in stack slots, one load each; reading them from w instead cost an address load
 * more per tap); the sums are added to dwp at the end of the block. Border pixels take the
 * general loop over in-range taps with dW in dwp. */
NEON_INLINE void dwn_bwd_block(const dw_bctx *d, int b, float *dwp, float *dbp, int c0, const int n, const int KH_,
                               const int KW_)
{
    const cpu_bwd_args *a = d->a;
    const nn_layer *l = a->l;
    const int KH = l->kh, KW = l->kw, C = d->C, IW = d->IW, OW = d->OW, sw = l->sw, pl = l->pad_left;
    const float *w = a->p[0];
    const float *img = a->in[0] + (size_t)b * d->IH * IW * C;
    float *dimg = a->d_in[0] + (size_t)b * d->IH * IW * C;
    const float *gimg = a->dy + (size_t)b * d->OH * OW * C;
    const bool want_w = dwp != NULL;
    int owa = (pl + sw - 1) / sw, owb = IW - KW + pl >= 0 ? (IW - KW + pl) / sw + 1 : 0; /* interior columns */
    if (owb > OW) owb = OW;
    if (owa > owb) owa = owb;
    float32x4_t wv[5][5], acc[5][5]; /* fixed size (not a VLA), so they live in registers */
#pragma GCC unroll 5
    for (int kh = 0; kh < KH_; kh++)
#pragma GCC unroll 5
        for (int kw = 0; kw < KW_; kw++) {
            wv[kh][kw] = neon_ld(w + (size_t)(kh * KW_ + kw) * C + c0, n);
            acc[kh][kw] = vdupq_n_f32(0.0f);
        }
    float32x4_t dbv = vdupq_n_f32(0.0f);
    for (int oh = 0; oh < d->OH; oh++) {
        int kh0, kh1;
        tap_range(oh, l->sh, l->pad_top, KH, d->IH, &kh0, &kh1);
        const int ih0 = oh * l->sh - l->pad_top;
        const bool full_h = KH_ && kh0 == 0 && kh1 == KH;
        const float *grow = gimg + (size_t)oh * OW * C + c0;
        for (int ow = 0; ow < OW; ow++) {
            const float32x4_t g = neon_ld(grow + (size_t)ow * C, n);
            dbv = vaddq_f32(dbv, g);
            const int iw0 = ow * sw - pl;
            if (full_h && ow >= owa && ow < owb) {
                const size_t px0 = ((size_t)ih0 * IW + (size_t)iw0) * C + c0;
#pragma GCC unroll 5
                for (int kh = 0; kh < KH_; kh++)
#pragma GCC unroll 5
                    for (int kw = 0; kw < KW_; kw++) {
                        const size_t px = px0 + ((size_t)kh * IW + (size_t)kw) * C;
                        if (want_w) acc[kh][kw] = vfmaq_f32(acc[kh][kw], neon_ld(img + px, n), g);
                        neon_st(dimg + px, vfmaq_f32(neon_ld(dimg + px, n), wv[kh][kw], g), n);
                    }
                continue;
            }
            const int kw0 = iw0 < 0 ? -iw0 : 0, kw1 = iw0 + KW > IW ? IW - iw0 : KW;
            for (int kh = kh0; kh < kh1; kh++)
                for (int kw = kw0; kw < kw1; kw++) {
                    const size_t px = ((size_t)(ih0 + kh) * IW + (size_t)(iw0 + kw)) * C + c0;
                    const size_t tap = (size_t)(kh * KW + kw) * C + c0;
                    if (want_w) neon_st(dwp + tap, vfmaq_f32(neon_ld(dwp + tap, n), neon_ld(img + px, n), g), n);
                    neon_st(dimg + px, vfmaq_f32(neon_ld(dimg + px, n), neon_ld(w + tap, n), g), n);
                }
        }
    }
    if (want_w)
#pragma GCC unroll 5
        for (int kh = 0; kh < KH_; kh++)
#pragma GCC unroll 5
            for (int kw = 0; kw < KW_; kw++) {
                float *dt = dwp + (size_t)(kh * KW_ + kw) * C + c0;
                neon_st(dt, vaddq_f32(neon_ld(dt, n), acc[kh][kw]), n);
            }
    if (dbp) neon_st(dbp + c0, vaddq_f32(neon_ld(dbp + c0, n), dbv), n);
}

/* Full blocks of 4 channels with a constant n (plain loads and stores), then the tail. */
NEON_INLINE void dwn_bwd_sample(const dw_bctx *d, int b, float *dwp, float *dbp, const int KH_, const int KW_)
{
    int c0 = 0;
    for (; c0 + 4 <= d->C; c0 += 4) dwn_bwd_block(d, b, dwp, dbp, c0, 4, KH_, KW_);
    if (c0 < d->C) dwn_bwd_block(d, b, dwp, dbp, c0, d->C - c0, KH_, KW_);
}

static void dwn_bwd_1x3(const dw_bctx *d, int b, float *dwp, float *dbp) { dwn_bwd_sample(d, b, dwp, dbp, 1, 3); }
static void dwn_bwd_3x1(const dw_bctx *d, int b, float *dwp, float *dbp) { dwn_bwd_sample(d, b, dwp, dbp, 3, 1); }
static void dwn_bwd_3x3(const dw_bctx *d, int b, float *dwp, float *dbp) { dwn_bwd_sample(d, b, dwp, dbp, 3, 3); }
static void dwn_bwd_5x5(const dw_bctx *d, int b, float *dwp, float *dbp) { dwn_bwd_sample(d, b, dwp, dbp, 5, 5); }
static void dwn_bwd_any(const dw_bctx *d, int b, float *dwp, float *dbp) { dwn_bwd_sample(d, b, dwp, dbp, 0, 0); }
#endif

typedef void (*dw_bwd_fn)(const dw_bctx *d, int b, float *dwp, float *dbp);

/* The per-sample kernel for this layer on this CPU. */
static dw_bwd_fn dw_bwd_pick(const nn_layer *l, int dm, nn_cpu_isa isa)
{
#if DW_X86
    if (isa == NN_CPU_ISA_AVX512 && dm == 1) {
        const int kh = l->kh, kw = l->kw;
        return kh == 1 && kw == 3 ? dw512_bwd_1x3 : kh == 3 && kw == 1 ? dw512_bwd_3x1
             : kh == 3 && kw == 3 ? dw512_bwd_3x3 : kh == 5 && kw == 5 ? dw512_bwd_5x5 : dw512_bwd_any;
    }
    if (isa == NN_CPU_ISA_AVX512) return dw_bwd_512;
    if (isa == NN_CPU_ISA_AVX2) return dw_bwd_avx2;
#endif
#if DW_NEON
    if (isa == NN_CPU_ISA_NEON && dm == 1) {
        const int kh = l->kh, kw = l->kw;
        return kh == 1 && kw == 3 ? dwn_bwd_1x3 : kh == 3 && kw == 1 ? dwn_bwd_3x1
             : kh == 3 && kw == 3 ? dwn_bwd_3x3 : kh == 5 && kw == 5 ? dwn_bwd_5x5 : dwn_bwd_any;
    }
#endif
    (void)l, (void)dm, (void)isa;
    return dw_bwd_base;
}

static void dw_bwd_task(void *ctx, int begin, int end, int thread)
{
    (void)thread; /* slices are per part */
    const dw_bctx *d = ctx;
    const cpu_bwd_args *a = d->a;
    const dw_bwd_fn fn = dw_bwd_pick(a->l, d->dm, cpu_bwd_isa(a));
    for (int t = begin; t < end; t++) {
        float *dwp = a->scratch + (size_t)t * d->slice, *dbp = dwp + (size_t)a->l->kh * a->l->kw * d->CO;
        memset(dwp, 0, d->slice * sizeof(float));
        float *dwq = a->d_p[0] ? dwp : NULL, *dbq = a->l->has_bias && a->d_p[1] ? dbp : NULL;
        const int s0 = (int)((long long)a->batch * t / d->parts), s1 = (int)((long long)a->batch * (t + 1) / d->parts);
        for (int b = s0; b < s1; b++) {
            if (a->overwrite) /* zeroed just before its scatter-adds: still in cache */
                memset(a->d_in[0] + (size_t)b * d->IH * d->IW * d->C, 0, (size_t)d->IH * d->IW * d->C * sizeof(float));
            fn(d, b, dwq, dbq);
        }
    }
}

void cpu_depthwise_backward(const cpu_bwd_args *a)
{
    const nn_layer *l = a->l;
    dw_bctx d = {.a = a, .IH = l->in.h, .IW = l->in.w, .C = l->in.c, .OH = l->out.h, .OW = l->out.w,
                 .CO = l->out.c, .dm = l->depth_multiplier > 0 ? l->depth_multiplier : 1};
    d.slice = (size_t)l->kh * l->kw * d.CO + (size_t)d.CO;
    const int T = nn_pool_threads(a->pool);
    d.parts = T < a->batch ? T : a->batch;
    if (d.parts < 1) d.parts = 1;
    const double work = (double)a->batch * d.OH * d.OW * d.CO * l->kh * l->kw * 2.0;
    if (d.parts == 1 || work < 65536.0) {
        d.parts = 1;
        dw_bwd_task(&d, 0, 1, 0);
    } else {
        nn_pool_run(a->pool, d.parts, dw_bwd_task, &d);
    }
    const size_t nw = (size_t)l->kh * l->kw * d.CO;
    for (int t = 0; t < d.parts; t++) {
        const float *dwp = a->scratch + (size_t)t * d.slice, *dbp = dwp + nw;
        if (a->d_p[0])
            for (size_t i = 0; i < nw; i++) a->d_p[0][i] += dwp[i];
        if (l->has_bias && a->d_p[1])
            for (int o = 0; o < d.CO; o++) a->d_p[1][o] += dbp[o];
    }
}
