/* depthwise.c — depthwise 2-D convolution forward, NHWC, explicit zero padding, depth multiplier.
 *   in [batch][IH][IW][C]    weight [kh][kw][C*dm]    bias [C*dm] or NULL
 *   out [batch][OH][OW][C*dm];  output channel o reads input channel o/dm.
 * Channels are contiguous in NHWC, so the kernel vectorises across them: AVX-512 (16 channels a
 * step, masked tails, a lane permute for dm > 1) when the CPU has it, plain C otherwise. Each
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

/* Portable path: out row (b, oh) accumulated in place. */
static void dw_row_scalar(const dw_ctx *d, int b, int oh)
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

#if DW_X86
#define T512 __attribute__((target("avx512f,avx2,fma")))

T512 static void dw_row_avx512(const dw_ctx *d, int b, int oh)
{
    const nn_layer *l = d->a->l;
    const float *w = d->a->p[0];
    const float *bias = l->has_bias ? d->a->p[1] : NULL;
    const int C = d->C, CO = d->CO, dm = d->dm, sw = l->sw, KW = l->kw;
    int kh0, kh1;
    tap_range(oh, l->sh, l->pad_top, l->kh, d->IH, &kh0, &kh1);
    const float *img = d->a->in[0] + (size_t)b * d->IH * d->IW * C;
    float *orow = d->a->out + ((size_t)b * d->OH + oh) * d->OW * CO;
    const __m512 zero = _mm512_setzero_ps(), alpha = _mm512_set1_ps(l->act_alpha);
    for (int o0 = 0; o0 < CO; o0 += 16) {
        const int n = CO - o0 < 16 ? CO - o0 : 16;
        const __mmask16 mo = (__mmask16)((1u << n) - 1u);
        /* input channels o/dm for this block: a contiguous run starting at i0, permuted by idx */
        const int i0 = o0 / dm, ni = (o0 + n - 1) / dm - i0 + 1;
        const __mmask16 mi = (__mmask16)((1u << ni) - 1u);
        int lanes[16];
        for (int j = 0; j < 16; j++) lanes[j] = j < n ? (o0 + j) / dm - i0 : 0;
        const __m512i idx = _mm512_loadu_si512(lanes);
        const __m512 b0 = bias ? _mm512_maskz_loadu_ps(mo, bias + o0) : zero;
        for (int ow = 0; ow < d->OW; ow++) {
            int kw0, kw1;
            tap_range(ow, sw, l->pad_left, KW, d->IW, &kw0, &kw1);
            __m512 acc0 = b0, acc1 = zero;
            for (int kh = kh0; kh < kh1; kh++) {
                const int ih = oh * l->sh - l->pad_top + kh;
                const float *x = img + ((size_t)ih * d->IW + (size_t)(ow * sw - l->pad_left + kw0)) * C + i0;
                const float *wk = w + (size_t)(kh * KW + kw0) * CO + o0;
                const int nt = kw1 - kw0;
                int kw = 0;
                for (; kw + 1 < nt; kw += 2) {
                    __m512 x0 = _mm512_maskz_loadu_ps(mi, x + (size_t)kw * C);
                    __m512 x1 = _mm512_maskz_loadu_ps(mi, x + (size_t)(kw + 1) * C);
                    if (dm != 1) x0 = _mm512_permutexvar_ps(idx, x0), x1 = _mm512_permutexvar_ps(idx, x1);
                    acc0 = _mm512_fmadd_ps(x0, _mm512_maskz_loadu_ps(mo, wk + (size_t)kw * CO), acc0);
                    acc1 = _mm512_fmadd_ps(x1, _mm512_maskz_loadu_ps(mo, wk + (size_t)(kw + 1) * CO), acc1);
                }
                if (kw < nt) {
                    __m512 x0 = _mm512_maskz_loadu_ps(mi, x + (size_t)kw * C);
                    if (dm != 1) x0 = _mm512_permutexvar_ps(idx, x0);
                    acc0 = _mm512_fmadd_ps(x0, _mm512_maskz_loadu_ps(mo, wk + (size_t)kw * CO), acc0);
                }
            }
            __m512 y = _mm512_add_ps(acc0, acc1);
            if (l->act == NN_ACT_RELU) y = _mm512_max_ps(y, zero);
            else if (l->act == NN_ACT_LEAKY)
                y = _mm512_mask_mul_ps(y, _mm512_cmp_ps_mask(y, zero, _CMP_LT_OQ), y, alpha);
            _mm512_mask_storeu_ps(orow + (size_t)ow * CO + o0, mo, y);
        }
    }
}
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
    /* dm <= 16 keeps one block's input channels inside one vector */
    if (p.d.dm <= 16 && nn_cpu_isa_best() == NN_CPU_ISA_AVX512) p.row = dw_row_avx512;
#endif
    const int rows = a->batch * p.d.OH;
    cpu_run(a->pool, (double)rows * p.d.OW * p.d.CO * l->kh * l->kw, rows, dw_task, &p);
}
