/* shuffle.c — ShuffleNet channel shuffle forward, NHWC:
 *   in/out [batch][H][W][C], groups g, C = g * n:  out[.., j*g + i] = in[.., i*n + j]
 * (PyTorch: x.view(N, g, n, H, W).transpose(1, 2)). A per-pixel transpose of a g x n matrix. */
#include "cpu.h"

typedef struct {
    const cpu_fwd_args *a;
    int C, g;
} shuffle_ctx;

static void shuffle_task(void *ctx, int begin, int end, int thread)
{
    (void)thread;
    const shuffle_ctx *s = ctx;
    const int C = s->C, g = s->g, n = C / g;
    for (int px = begin; px < end; px++) {
        const float *restrict x = s->a->in[0] + (size_t)px * C;
        float *restrict y = s->a->out + (size_t)px * C;
        for (int i = 0; i < g; i++)
            for (int j = 0; j < n; j++) y[j * g + i] = x[i * n + j];
    }
}

void cpu_channel_shuffle_forward(const cpu_fwd_args *a)
{
    const nn_layer *l = a->l;
    shuffle_ctx s = {.a = a, .C = l->in.c, .g = l->groups > 0 ? l->groups : 1};
    const int pixels = a->batch * l->in.h * l->in.w;
    cpu_run(a->pool, (double)pixels * s.C, pixels, shuffle_task, &s);
}

/* Backward: the inverse permutation, d_in[.., i*n + j] += dy[.., j*g + i]. */
static void shuffle_bwd_task(void *ctx, int begin, int end, int thread)
{
    (void)thread;
    const cpu_bwd_args *a = ctx;
    const int C = a->l->in.c, g = a->l->groups > 0 ? a->l->groups : 1, n = C / g;
    for (int px = begin; px < end; px++) {
        const float *restrict dy = a->dy + (size_t)px * C;
        float *restrict d = a->d_in[0] + (size_t)px * C;
        for (int i = 0; i < g; i++)
            for (int j = 0; j < n; j++) d[i * n + j] += dy[j * g + i];
    }
}

void cpu_channel_shuffle_backward(const cpu_bwd_args *a)
{
    const nn_layer *l = a->l;
    const int pixels = a->batch * l->in.h * l->in.w;
    cpu_run(a->pool, (double)pixels * l->in.c, pixels, shuffle_bwd_task, (void *)a);
}
