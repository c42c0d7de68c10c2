/* batchnorm.c — batch normalisation forward with inference (running) statistics, NHWC:
 *   in/out [batch][H][W][C] (out may alias in), gamma beta mean var [C]
 *   y = (x - mean) / sqrt(var + eps) * gamma + beta, then the fused activation.
 * Computed as y = x * scale + shift with scale and shift built per block of channels on the
 * stack (no scratch). A flattened input has H = W = 1 and C = its feature count. */
#include <math.h>

#include "cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#define BN_X86 1
#define T512 __attribute__((target("avx512f,avx2,fma")))
#else
#define BN_X86 0
#endif
#define INLINE static inline __attribute__((always_inline))

enum { BN_BLOCK = 512 }; /* channels per stack block */

typedef struct {
    const cpu_fwd_args *a;
    size_t pixels_per_row; /* pixels handled per work item */
} bn_ctx;

/* Rows [begin, end) of pixels_per_row pixels each. */
INLINE void bn_rows(const bn_ctx *p, int begin, int end)
{
    const cpu_fwd_args *a = p->a;
    const nn_layer *l = a->l;
    const int C = l->in.c;
    const float *gamma = a->p[0], *beta = a->p[1], *mean = a->p[2], *var = a->p[3];
    float scale[BN_BLOCK], shift[BN_BLOCK];
    for (int c0 = 0; c0 < C; c0 += BN_BLOCK) {
        const int n = C - c0 < BN_BLOCK ? C - c0 : BN_BLOCK;
        for (int c = 0; c < n; c++) {
            float s = gamma[c0 + c] / sqrtf(var[c0 + c] + l->eps);
            scale[c] = s;
            shift[c] = beta[c0 + c] - mean[c0 + c] * s;
        }
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

static void bn_task(void *ctx, int begin, int end, int thread)
{
    (void)thread;
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
 *   mean = sum x / n,  var = sum (x - mean)^2 / n,  y = (x - mean) * istd * gamma + beta,
 *   istd = 1/sqrt(var + eps);  saved = mean [C], istd [C];
 *   running_mean = (1-m) running_mean + m mean,  running_var = (1-m) running_var + m var*n/(n-1).
 * Backward (xh = (x - mean) * istd):
 *   dbeta += sum dy,  dgamma += sum dy*xh,  dx += gamma*istd/n * (n dy - sum dy - xh sum dy*xh).
 * Threads split the channels; sums in double, per stack block of BN_BLOCK channels. */
typedef struct {
    const cpu_fwd_args *f;
    const cpu_bwd_args *b;
    float *rm, *rv, *saved;
    size_t n;          /* pixels */
    int parts;
} bn_tctx;

static void bn_train_task(void *ctx, int begin, int end, int thread)
{
    (void)thread;
    const bn_tctx *t = ctx;
    const cpu_fwd_args *a = t->f;
    const nn_layer *l = a->l;
    const int C = l->in.c;
    const int c0 = (int)((long long)C * begin / t->parts), c1 = (int)((long long)C * end / t->parts);
    const float *gamma = a->p[0], *beta = a->p[1];
    double s1[BN_BLOCK], s2[BN_BLOCK];
    for (int cb = c0; cb < c1; cb += BN_BLOCK) {
        const int nc = c1 - cb < BN_BLOCK ? c1 - cb : BN_BLOCK;
        for (int c = 0; c < nc; c++) s1[c] = s2[c] = 0.0;
        for (size_t px = 0; px < t->n; px++) {
            const float *x = a->in[0] + px * C + cb;
            for (int c = 0; c < nc; c++) s1[c] += x[c];
        }
        for (int c = 0; c < nc; c++) s1[c] /= (double)t->n;
        for (size_t px = 0; px < t->n; px++) {
            const float *x = a->in[0] + px * C + cb;
            for (int c = 0; c < nc; c++) {
                const double d = x[c] - s1[c];
                s2[c] += d * d;
            }
        }
        float scale[BN_BLOCK], shift[BN_BLOCK];
        for (int c = 0; c < nc; c++) {
            const double var = s2[c] / (double)t->n;
            const float istd = (float)(1.0 / sqrt(var + (double)l->eps));
            t->saved[cb + c] = (float)s1[c];
            t->saved[C + cb + c] = istd;
            scale[c] = gamma[cb + c] * istd;
            shift[c] = beta[cb + c] - (float)s1[c] * scale[c];
            const float m = l->momentum;
            if (t->rm) t->rm[cb + c] = (1.0f - m) * t->rm[cb + c] + m * (float)s1[c];
            if (t->rv) {
                const double unbiased = t->n > 1 ? s2[c] / (double)(t->n - 1) : var;
                t->rv[cb + c] = (1.0f - m) * t->rv[cb + c] + m * (float)unbiased;
            }
        }
        for (size_t px = 0; px < t->n; px++) {
            const float *x = a->in[0] + px * C + cb;
            float *y = a->out + px * C + cb;
            for (int c = 0; c < nc; c++) y[c] = x[c] * scale[c] + shift[c];
        }
    }
}

void cpu_batchnorm_forward_train(const cpu_fwd_args *a, float *running_mean, float *running_var, float *saved)
{
    const nn_layer *l = a->l;
    bn_tctx t = {.f = a, .rm = running_mean, .rv = running_var, .saved = saved,
                 .n = (size_t)a->batch * l->in.h * l->in.w};
    const int T = nn_pool_threads(a->pool);
    t.parts = T < l->in.c ? T : l->in.c;
    if (t.parts < 1) t.parts = 1;
    cpu_run(a->pool, (double)t.n * l->in.c * 3.0, t.parts, bn_train_task, &t);
}

static void bn_bwd_task(void *ctx, int begin, int end, int thread)
{
    (void)thread;
    const bn_tctx *t = ctx;
    const cpu_bwd_args *a = t->b;
    const int C = a->l->in.c;
    const int c0 = (int)((long long)C * begin / t->parts), c1 = (int)((long long)C * end / t->parts);
    const float *gamma = a->p[0], *mean = a->aux, *istd = a->aux + C;
    double sdy[BN_BLOCK], sdx[BN_BLOCK];
    for (int cb = c0; cb < c1; cb += BN_BLOCK) {
        const int nc = c1 - cb < BN_BLOCK ? c1 - cb : BN_BLOCK;
        for (int c = 0; c < nc; c++) sdy[c] = sdx[c] = 0.0;
        for (size_t px = 0; px < t->n; px++) {
            const float *x = a->in[0] + px * C + cb, *g = a->dy + px * C + cb;
            for (int c = 0; c < nc; c++) {
                sdy[c] += g[c];
                sdx[c] += (double)g[c] * ((x[c] - mean[cb + c]) * istd[cb + c]);
            }
        }
        float k1[BN_BLOCK], k2[BN_BLOCK], k3[BN_BLOCK];
        for (int c = 0; c < nc; c++) {
            if (a->d_p[0]) a->d_p[0][cb + c] += (float)sdx[c];
            if (a->d_p[1]) a->d_p[1][cb + c] += (float)sdy[c];
            const float s = gamma[cb + c] * istd[cb + c];
            k1[c] = s;                                           /* dx = s*dy - s*(sdy/n) - s*xh*(sdx/n) */
            k2[c] = s * (float)(sdy[c] / (double)t->n);
            k3[c] = s * (float)(sdx[c] / (double)t->n);
        }
        for (size_t px = 0; px < t->n; px++) {
            const float *x = a->in[0] + px * C + cb, *g = a->dy + px * C + cb;
            float *dx = a->d_in[0] + px * C + cb;
            for (int c = 0; c < nc; c++) {
                const float xh = (x[c] - mean[cb + c]) * istd[cb + c];
                dx[c] += k1[c] * g[c] - k2[c] - xh * k3[c];
            }
        }
    }
}

void cpu_batchnorm_backward(const cpu_bwd_args *a)
{
    const nn_layer *l = a->l;
    bn_tctx t = {.b = a, .n = (size_t)a->batch * l->in.h * l->in.w};
    const int T = nn_pool_threads(a->pool);
    t.parts = T < l->in.c ? T : l->in.c;
    if (t.parts < 1) t.parts = 1;
    cpu_run(a->pool, (double)t.n * l->in.c * 3.0, t.parts, bn_bwd_task, &t);
}
