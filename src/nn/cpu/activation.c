/* activation.c — element-wise activations and softmax, forward:
 *   relu, leaky_relu: in/out [n] (out may alias in)
 *   sigmoid, tanh, elu, clip: in/out [n] (out may alias in), as PyTorch (see pw_body below)
 *   softmax over channels: in/out [batch][H][W][C], per pixel y = exp(x - max) / sum exp(x - max).
 * Threads split the elements (or pixels) when there are enough of them. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#define ACT_X86 1
#define T512 __attribute__((target("avx512f,avx2,fma")))
#define T256 __attribute__((target("avx2,fma")))
#else
#define ACT_X86 0
#endif
#if defined(__aarch64__)
#include "neon.h"
#define ACT_NEON 1
#else
#define ACT_NEON 0
#endif
#define INLINE static inline __attribute__((always_inline))

/* The element-wise loops below are branch-free selects over restrict pointers, so the compiler
 * vectorises them; each is compiled for AVX-512, AVX2 and the baseline and picked at run time
 * (a data-dependent branch per element mispredicts half the time on real activations). */
typedef enum { EW_BASE = 0, EW_AVX2, EW_AVX512, EW_NEON } ew_isa;

static ew_isa ew_pick(nn_cpu_isa isa)
{
    return isa == NN_CPU_ISA_AVX512 ? EW_AVX512 : isa == NN_CPU_ISA_AVX2 ? EW_AVX2 : isa == NN_CPU_ISA_NEON ? EW_NEON
                                                                                                            : EW_BASE;
}

#if ACT_NEON
/* The NEON flavours of the element-wise loops below: 8 floats a step, the same selects (x > 0
 * picks the value; otherwise alpha times it, or 0), the tail lane by lane. */
NEON_INLINE float32x4_t neon_sel(float32x4_t x, float32x4_t v, bool leaky, float32x4_t alpha)
{
    return vbslq_f32(vcgtzq_f32(x), v, leaky ? vmulq_f32(v, alpha) : vdupq_n_f32(0.0f));
}

static void act_neon(float *y, const float *x, size_t n, bool leaky, float alpha)
{
    const float32x4_t al = vdupq_n_f32(alpha);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) { /* y may be x: both vectors are loaded before either is stored */
        const float32x4_t a = vld1q_f32(x + i), b = vld1q_f32(x + i + 4);
        vst1q_f32(y + i, neon_sel(a, a, leaky, al));
        vst1q_f32(y + i + 4, neon_sel(b, b, leaky, al));
    }
    for (; i < n; i += 4) {
        const int k = n - i < 4 ? (int)(n - i) : 4;
        const float32x4_t a = neon_ld(x + i, k);
        neon_st(y + i, neon_sel(a, a, leaky, al), k);
    }
}

static void act_bwd_neon(float *d, const float *x, const float *g, size_t n, bool leaky, float alpha, bool ow)
{
    const float32x4_t al = vdupq_n_f32(alpha);
    for (size_t i = 0; i < n; i += 4) {
        const int k = n - i < 4 ? (int)(n - i) : 4;
        float32x4_t v = neon_sel(neon_ld(x + i, k), neon_ld(g + i, k), leaky, al);
        if (!ow) v = vaddq_f32(neon_ld(d + i, k), v);
        neon_st(d + i, v, k);
    }
}
#endif

/* y[n] = act(x[n]); y may be x (in place). relu: x > 0 ? x : 0; leaky: x > 0 ? x : x*alpha. */
INLINE void act_body(float *y, const float *x, size_t n, bool leaky, float alpha)
{
    if (y == x) {
        for (size_t i = 0; i < n; i++) {
            const float v = y[i];
            y[i] = v > 0.0f ? v : (leaky ? v * alpha : 0.0f);
        }
        return;
    }
    float *restrict yr = y;
    const float *restrict xr = x;
    for (size_t i = 0; i < n; i++) {
        const float v = xr[i];
        yr[i] = v > 0.0f ? v : (leaky ? v * alpha : 0.0f);
    }
}

static void act_base(float *y, const float *x, size_t n, bool leaky, float alpha) { act_body(y, x, n, leaky, alpha); }
#if ACT_X86
T256 static void act_256(float *y, const float *x, size_t n, bool leaky, float alpha) { act_body(y, x, n, leaky, alpha); }
T512 static void act_512(float *y, const float *x, size_t n, bool leaky, float alpha) { act_body(y, x, n, leaky, alpha); }
#endif

static void act_run(ew_isa isa, float *y, const float *x, size_t n, bool leaky, float alpha)
{
#if ACT_X86
    if (isa == EW_AVX512) return act_512(y, x, n, leaky, alpha);
    if (isa == EW_AVX2) return act_256(y, x, n, leaky, alpha);
#endif
#if ACT_NEON
    if (isa == EW_NEON) return act_neon(y, x, n, leaky, alpha);
#endif
    (void)isa;
    act_base(y, x, n, leaky, alpha);
}

/* sigmoid, tanh and elu in branch-free float arithmetic (no libm calls: expf / tanhf / expm1f
 * cost 3-20 ns an element), so that their loops vectorise in every flavour, NEON included. The
 * choices between two computed values are integer masks (pw_sel): a float select with arithmetic
 * in an arm stays a branch under -ftrapping-math. test_cpu_kernels holds them to a few ulp of the
 * double functions over their whole range; a NaN gives NaN, +-inf the limits.
 * exp (x <= 0): x = n ln2 + r (Cody-Waite, |r| <= ln2/2), e^r by Cephes expf's degree-6
 * polynomial, 2^n from the exponent bits (n read from the low mantissa bits of x/ln2 + 1.5 * 2^23:
 * no float -> int conversion); x below -86 (or NaN) is taken as -86 (e^-86 = 4e-38). */
INLINE uint32_t pw_bits(float x)
{
    uint32_t b;
    memcpy(&b, &x, sizeof b);
    return b;
}

INLINE float pw_float(uint32_t b)
{
    float x;
    memcpy(&x, &b, sizeof x);
    return x;
}

INLINE uint32_t pw_mask(bool c) { return 0u - (uint32_t)c; }
INLINE uint32_t pw_nan(float x) { return pw_mask((pw_bits(x) & 0x7FFFFFFFu) > 0x7F800000u); }
/* a where the mask m is all ones, else b. */
INLINE float pw_sel(uint32_t m, float a, float b) { return pw_float((pw_bits(a) & m) | (pw_bits(b) & ~m)); }

INLINE float pw_exp(float x)
{
    const uint32_t b = pw_bits(x);
    const float c = pw_float(b > 0xC2AC0000u ? 0xC2AC0000u : b); /* -86.0f: negative floats grow as integers */
    const float t = c * 1.44269504088896341f + 12582912.0f, n = t - 12582912.0f;
    const float r = (c - n * 0.693359375f) - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    return p * pw_float((pw_bits(t) - 0x4B400000u + 127u) << 23);
}

/* e = e^-|x|: 1 / (1 + e) for x >= 0, e / (1 + e) below (no cancellation in either tail). */
INLINE float pw_sigmoid(float x)
{
    const float e = pw_exp(-fabsf(x)), s = 1.0f / (1.0f + e);
    return pw_sel(pw_nan(x), x, pw_sel(pw_mask(pw_bits(x) >> 31), e * s, s));
}

/* Cephes tanhf: x + x^3 P(x^2) below |x| = 0.625 (0x3F200000), else (1 - e) / (1 + e), e = e^-2|x|. */
INLINE float pw_tanh(float x)
{
    const float a = fabsf(x), s = x * x, e = pw_exp(-2.0f * a);
    const float small =
        ((((-5.70498872745e-3f * s + 2.06390887954e-2f) * s - 5.37397155531e-2f) * s + 1.33314422036e-1f) * s -
         3.33332819422e-1f) * s * x + x;
    const float big = copysignf((1.0f - e) / (1.0f + e), x);
    return pw_sel(pw_nan(x), x, pw_sel(pw_mask(pw_bits(a) < 0x3F200000u), small, big));
}

/* x > 0 ? x : alpha * expm1(x), expm1 by its degree-7 Taylor series above -0.25, else e^x - 1. */
INLINE float pw_elu(float x, float alpha)
{
    const uint32_t keep = pw_mask(x > 0.0f) | pw_nan(x);
    const float v = pw_float(pw_bits(x) & ~keep); /* x <= 0, else +0 */
    const float taylor =
        v * (1.0f + v * (0.5f + v * (1.0f / 6 + v * (1.0f / 24 + v * (1.0f / 120 + v * (1.0f / 720 + v / 5040))))));
    const float m = alpha * pw_sel(pw_mask(v > -0.25f), taylor, pw_exp(v) - 1.0f);
    return pw_sel(keep, x, m);
}

/* elu's derivative: x > 0 ? 1 : alpha * e^x (NaN for a NaN x). */
INLINE float pw_elu_grad(float x, float alpha)
{
    const uint32_t pos = pw_mask(x > 0.0f);
    const float v = pw_float(pw_bits(x) & ~pos);
    return pw_sel(pw_nan(x), x, pw_sel(pos, 1.0f, alpha * pw_exp(v)));
}

/* sigmoid, tanh, elu (above); clip: x < lo ? lo : x > hi ? hi : x (a NaN passes, as torch.clamp).
 * y may be x. */
INLINE void pw_body(float *y, const float *x, size_t n, const nn_layer *l)
{
    const float lo = l->lo, hi = l->hi, alpha = l->alpha;
    switch (l->op) {
    case NN_OP_CLIP:
        if (y == x) {
            for (size_t i = 0; i < n; i++) y[i] = y[i] < lo ? lo : y[i] > hi ? hi : y[i];
        } else {
            float *restrict yr = y;
            const float *restrict xr = x;
            for (size_t i = 0; i < n; i++) yr[i] = xr[i] < lo ? lo : xr[i] > hi ? hi : xr[i];
        }
        break;
    case NN_OP_SIGMOID:
        for (size_t i = 0; i < n; i++) y[i] = pw_sigmoid(x[i]);
        break;
    case NN_OP_TANH:
        for (size_t i = 0; i < n; i++) y[i] = pw_tanh(x[i]);
        break;
    default: /* NN_OP_ELU */
        for (size_t i = 0; i < n; i++) y[i] = pw_elu(x[i], alpha);
        break;
    }
}

static void pw_base(float *y, const float *x, size_t n, const nn_layer *l) { pw_body(y, x, n, l); }
#if ACT_X86
T256 static void pw_256(float *y, const float *x, size_t n, const nn_layer *l) { pw_body(y, x, n, l); }
T512 static void pw_512(float *y, const float *x, size_t n, const nn_layer *l) { pw_body(y, x, n, l); }
#endif

static bool pw_op(nn_op op) { return op == NN_OP_SIGMOID || op == NN_OP_TANH || op == NN_OP_ELU || op == NN_OP_CLIP; }

static void pw_run(ew_isa isa, float *y, const float *x, size_t n, const nn_layer *l)
{
#if ACT_X86
    if (isa == EW_AVX512) return pw_512(y, x, n, l);
    if (isa == EW_AVX2) return pw_256(y, x, n, l);
#endif
    (void)isa; /* NEON: the portable loops */
    pw_base(y, x, n, l);
}

typedef struct {
    const cpu_fwd_args *a;
    bool leaky;
    float alpha;
    ew_isa isa;
    size_t n;     /* total elements (element-wise ops) */
    int parts;
} act_ctx;

static void act_task(void *ctx, int begin, int end, int thread)
{
    (void)thread;
    const act_ctx *p = ctx;
    const size_t b = p->n * (size_t)begin / (size_t)p->parts, e = p->n * (size_t)end / (size_t)p->parts;
    if (pw_op(p->a->l->op)) pw_run(p->isa, p->a->out + b, p->a->in[0] + b, e - b, p->a->l);
    else act_run(p->isa, p->a->out + b, p->a->in[0] + b, e - b, p->leaky, p->alpha);
}

static void act_forward(const cpu_fwd_args *a, bool leaky, float alpha)
{
    act_ctx p = {.a = a, .leaky = leaky, .alpha = alpha, .isa = ew_pick(cpu_isa(a)),
                 .n = (size_t)a->batch * nn_shape_size(a->l->out), .parts = 64};
    cpu_run(a->pool, (double)p.n, p.parts, act_task, &p);
}

void cpu_relu_forward(const cpu_fwd_args *a) { act_forward(a, false, 0.0f); }
void cpu_leaky_relu_forward(const cpu_fwd_args *a) { act_forward(a, true, a->l->alpha); }
void cpu_pointwise_forward(const cpu_fwd_args *a) { act_forward(a, false, 0.0f); }

static void softmax_task(void *ctx, int begin, int end, int thread)
{
    (void)thread;
    const cpu_fwd_args *a = ctx;
    const int C = a->l->out.c;
    for (int px = begin; px < end; px++) {
        const float *x = a->in[0] + (size_t)px * C; /* may alias y */
        float *y = a->out + (size_t)px * C;
        float mx = -INFINITY;
        for (int c = 0; c < C; c++) mx = x[c] > mx ? x[c] : mx;
        float sum = 0.0f;
        for (int c = 0; c < C; c++) {
            y[c] = expf(x[c] - mx);
            sum += y[c];
        }
        const float inv = 1.0f / sum;
        for (int c = 0; c < C; c++) y[c] *= inv;
    }
}

void cpu_softmax_forward(const cpu_fwd_args *a)
{
    const nn_layer *l = a->l;
    const int pixels = a->batch * l->out.h * l->out.w;
    cpu_run(a->pool, (double)pixels * l->out.c * 8.0, pixels, softmax_task, (void *)a);
}

/* ---------------------------------------------------------------------------- backward
 * relu: d_in += dy where x > 0;  leaky: d_in += dy * (x < 0 ? alpha : 1) (from the saved input);
 * softmax (per pixel, y saved): d_in += y * (dy - sum_c dy*y). */
/* d[n] (+)= x > 0 ? g : (leaky ? g*alpha : 0)  (x is the forward's input; ow: = instead of +=). */
INLINE void act_bwd_body(float *restrict d, const float *restrict x, const float *restrict g, size_t n, bool leaky,
                         float alpha, bool ow)
{
    if (ow)
        for (size_t i = 0; i < n; i++) d[i] = x[i] > 0.0f ? g[i] : (leaky ? g[i] * alpha : 0.0f);
    else
        for (size_t i = 0; i < n; i++) d[i] += x[i] > 0.0f ? g[i] : (leaky ? g[i] * alpha : 0.0f);
}

static void act_bwd_base(float *d, const float *x, const float *g, size_t n, bool leaky, float alpha, bool ow)
{
    act_bwd_body(d, x, g, n, leaky, alpha, ow);
}
#if ACT_X86
T256 static void act_bwd_256(float *d, const float *x, const float *g, size_t n, bool leaky, float alpha, bool ow)
{
    act_bwd_body(d, x, g, n, leaky, alpha, ow);
}
T512 static void act_bwd_512(float *d, const float *x, const float *g, size_t n, bool leaky, float alpha, bool ow)
{
    act_bwd_body(d, x, g, n, leaky, alpha, ow);
}
#endif

/* The pointwise layers' backward, d (+)= dy * f'(...) (x: the forward's input, y: its output):
 *   sigmoid: dy * y * (1 - y);  tanh: dy * (1 - y*y)   (from the saved output, as PyTorch)
 *   elu:     x > 0 ? dy : dy * alpha * exp(x)        (from the saved input)
 *   clip:    lo < x < hi ? dy : 0                    (hardtanh's rule: 0 at the bounds, like relu at 0) */
#define PW_BWD_LOOP(expr)                                      \
    do {                                                       \
        if (ow)                                                \
            for (size_t i = 0; i < n; i++) d[i] = (expr);      \
        else                                                   \
            for (size_t i = 0; i < n; i++) d[i] += (expr);     \
    } while (0)

INLINE void pw_bwd_body(float *restrict d, const float *restrict x, const float *restrict y, const float *restrict g,
                        size_t n, const nn_layer *l, bool ow)
{
    const float lo = l->lo, hi = l->hi, alpha = l->alpha;
    switch (l->op) {
    case NN_OP_CLIP: PW_BWD_LOOP(x[i] > lo && x[i] < hi ? g[i] : 0.0f); break;
    case NN_OP_SIGMOID: PW_BWD_LOOP(g[i] * (y[i] * (1.0f - y[i]))); break;
    case NN_OP_TANH: PW_BWD_LOOP(g[i] * (1.0f - y[i] * y[i])); break;
    default: PW_BWD_LOOP(g[i] * pw_elu_grad(x[i], alpha)); break; /* NN_OP_ELU */
    }
}
#undef PW_BWD_LOOP

static void pw_bwd_base(float *d, const float *x, const float *y, const float *g, size_t n, const nn_layer *l, bool ow)
{
    pw_bwd_body(d, x, y, g, n, l, ow);
}
#if ACT_X86
T256 static void pw_bwd_256(float *d, const float *x, const float *y, const float *g, size_t n, const nn_layer *l,
                            bool ow)
{
    pw_bwd_body(d, x, y, g, n, l, ow);
}
T512 static void pw_bwd_512(float *d, const float *x, const float *y, const float *g, size_t n, const nn_layer *l,
                            bool ow)
{
    pw_bwd_body(d, x, y, g, n, l, ow);
}
#endif

static void pw_bwd_run(ew_isa isa, float *d, const float *x, const float *y, const float *g, size_t n,
                       const nn_layer *l, bool ow)
{
#if ACT_X86
    if (isa == EW_AVX512) return pw_bwd_512(d, x, y, g, n, l, ow);
    if (isa == EW_AVX2) return pw_bwd_256(d, x, y, g, n, l, ow);
#endif
    (void)isa;
    pw_bwd_base(d, x, y, g, n, l, ow);
}

typedef struct {
    const cpu_bwd_args *a;
    bool leaky;
    float alpha;
    ew_isa isa;
    size_t n;
    int parts;
} act_bctx;

static void act_bwd_task(void *ctx, int begin, int end, int thread)
{
    (void)thread;
    const act_bctx *p = ctx;
    const size_t b = p->n * (size_t)begin / (size_t)p->parts, e = p->n * (size_t)end / (size_t)p->parts;
    float *d = p->a->d_in[0] + b;
    const float *x = p->a->in[0] + b, *g = p->a->dy + b;
    const bool ow = p->a->overwrite;
    if (pw_op(p->a->l->op)) return pw_bwd_run(p->isa, d, x, p->a->out + b, g, e - b, p->a->l, ow);
#if ACT_X86
    if (p->isa == EW_AVX512) return act_bwd_512(d, x, g, e - b, p->leaky, p->alpha, ow);
    if (p->isa == EW_AVX2) return act_bwd_256(d, x, g, e - b, p->leaky, p->alpha, ow);
#endif
#if ACT_NEON
    if (p->isa == EW_NEON) return act_bwd_neon(d, x, g, e - b, p->leaky, p->alpha, ow);
#endif
    act_bwd_base(d, x, g, e - b, p->leaky, p->alpha, ow);
}

static void act_backward(const cpu_bwd_args *a, bool leaky, float alpha)
{
    act_bctx p = {.a = a, .leaky = leaky, .alpha = alpha, .isa = ew_pick(cpu_bwd_isa(a)),
                  .n = (size_t)a->batch * nn_shape_size(a->l->out), .parts = 64};
    cpu_run(a->pool, (double)p.n, p.parts, act_bwd_task, &p);
}

/* At x == 0, as PyTorch: relu passes 0, leaky_relu passes alpha * dy. */
void cpu_relu_backward(const cpu_bwd_args *a) { act_backward(a, false, 0.0f); }
void cpu_leaky_relu_backward(const cpu_bwd_args *a) { act_backward(a, true, a->l->alpha); }
void cpu_pointwise_backward(const cpu_bwd_args *a) { act_backward(a, false, 0.0f); }

static void softmax_bwd_task(void *ctx, int begin, int end, int thread)
{
    (void)thread;
    const cpu_bwd_args *a = ctx;
    const int C = a->l->out.c;
    for (int px = begin; px < end; px++) {
        const float *y = a->out + (size_t)px * C, *g = a->dy + (size_t)px * C;
        float *d = a->d_in[0] + (size_t)px * C;
        double s = 0.0;
        for (int c = 0; c < C; c++) s += (double)g[c] * y[c];
        for (int c = 0; c < C; c++) d[c] += y[c] * (g[c] - (float)s);
    }
}

void cpu_softmax_backward(const cpu_bwd_args *a)
{
    const nn_layer *l = a->l;
    const int pixels = a->batch * l->out.h * l->out.w;
    cpu_run(a->pool, (double)pixels * l->out.c * 4.0, pixels, softmax_bwd_task, (void *)a);
}
