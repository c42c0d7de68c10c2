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

/* ---------------------------------------------------------------------------- backward
 * relu: d_in += dy where x > 0;  leaky: d_in += dy * (x < 0 ? alpha : 1) (from the saved input);
 * softmax (per pixel, y saved): d_in += y * (dy - sum_c dy*y). */
typedef struct {
    const cpu_bwd_args *a;
    float alpha;
    size_t n;
    int parts;
} act_bctx;

static void act_bwd_task(void *ctx, int begin, int end, int thread)
{
    (void)thread;
    const act_bctx *p = ctx;
    const size_t b = p->n * (size_t)begin / (size_t)p->parts, e = p->n * (size_t)end / (size_t)p->parts;
    const float *x = p->a->in[0], *g = p->a->dy;
    float *d = p->a->d_in[0];
    const float al = p->alpha;
    for (size_t i = b; i < e; i++) d[i] += x[i] > 0.0f ? g[i] : (x[i] < 0.0f ? g[i] * al : 0.0f);
}

static void act_backward(const cpu_bwd_args *a, float alpha)
{
    act_bctx p = {.a = a, .alpha = alpha, .n = (size_t)a->batch * nn_shape_size(a->l->out), .parts = 64};
    cpu_run(a->pool, (double)p.n, p.parts, act_bwd_task, &p);
}

/* At x == 0, as PyTorch: relu passes 0, leaky_relu passes alpha * dy. */
void cpu_relu_backward(const cpu_bwd_args *a) { act_backward(a, 0.0f); }

static void leaky_bwd_task(void *ctx, int begin, int end, int thread)
{
    (void)thread;
    const act_bctx *p = ctx;
    const size_t b = p->n * (size_t)begin / (size_t)p->parts, e = p->n * (size_t)end / (size_t)p->parts;
    const float *x = p->a->in[0], *g = p->a->dy;
    float *d = p->a->d_in[0];
    for (size_t i = b; i < e; i++) d[i] += x[i] > 0.0f ? g[i] : g[i] * p->alpha;
}

void cpu_leaky_relu_backward(const cpu_bwd_args *a)
{
    act_bctx p = {.a = a, .alpha = a->l->alpha, .n = (size_t)a->batch * nn_shape_size(a->l->out), .parts = 64};
    cpu_run(a->pool, (double)p.n, p.parts, leaky_bwd_task, &p);
}

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
