/* activation.c — element-wise activations and softmax, forward:
 *   relu, leaky_relu: in/out [n] (out may alias in)
 *   softmax over channels: in/out [batch][H][W][C], per pixel y = exp(x - max) / sum exp(x - max).
 * Threads split the elements (or pixels) when there are enough of them. */
#include <math.h>
#include <string.h>

#include "cpu.h"

typedef struct {
    const cpu_fwd_args *a;
    nn_act act;
    float alpha;
    size_t n;     /* total elements (element-wise ops) */
    int parts;
} act_ctx;

static void act_task(void *ctx, int begin, int end, int thread)
{
    (void)thread;
    const act_ctx *p = ctx;
    const size_t b = p->n * (size_t)begin / (size_t)p->parts, e = p->n * (size_t)end / (size_t)p->parts;
    float *y = p->a->out + b;
    const float *x = p->a->in[0] + b;
    if (x != y) memcpy(y, x, (e - b) * sizeof(float));
    cpu_apply_act(y, e - b, p->act, p->alpha);
}

static void act_forward(const cpu_fwd_args *a, nn_act act, float alpha)
{
    act_ctx p = {.a = a, .act = act, .alpha = alpha, .n = (size_t)a->batch * nn_shape_size(a->l->out), .parts = 64};
    cpu_run(a->pool, (double)p.n, p.parts, act_task, &p);
}

void cpu_relu_forward(const cpu_fwd_args *a) { act_forward(a, NN_ACT_RELU, 0.0f); }
void cpu_leaky_relu_forward(const cpu_fwd_args *a) { act_forward(a, NN_ACT_LEAKY, a->l->alpha); }

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
