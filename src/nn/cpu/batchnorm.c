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
