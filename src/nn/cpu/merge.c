/* merge.c — layers that combine or pass tensors through, forward:
 *   add:    out [batch][H][W][C] = sum of n_inputs inputs of the same shape (out may alias any)
 *   concat: out [batch][H][W][sum Ci] = inputs side by side along channels, in inputs order
 *   copy:   flatten / dropout (identity at inference) when not run in place. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "cpu.h"

typedef struct {
    const cpu_fwd_args *a;
    size_t n;    /* elements */
    int parts;
} flat_ctx;

static void range_of(const flat_ctx *f, int begin, int end, size_t *b, size_t *e)
{
    *b = f->n * (size_t)begin / (size_t)f->parts;
    *e = f->n * (size_t)end / (size_t)f->parts;
}

static void add_task(void *ctx, int begin, int end, int thread)
{
    (void)thread;
    const flat_ctx *f = ctx;
    const cpu_fwd_args *a = f->a;
    size_t b, e;
    range_of(f, begin, end, &b, &e);
    float *y = a->out;
    const float *x0 = a->in[0], *x1 = a->in[1];
    if (a->l->n_inputs == 2) { /* each y[i] is written after its own inputs are read: alias-safe */
        for (size_t i = b; i < e; i++) y[i] = x0[i] + x1[i];
        return;
    }
    float t[256]; /* y may alias any input: sum a block fully before storing it */
    for (size_t i0 = b; i0 < e; i0 += 256) {
        const size_t n = e - i0 < 256 ? e - i0 : 256;
        for (size_t i = 0; i < n; i++) t[i] = x0[i0 + i] + x1[i0 + i];
        for (int k = 2; k < a->l->n_inputs; k++) {
            const float *xk = a->in[k] + i0;
            for (size_t i = 0; i < n; i++) t[i] += xk[i];
        }
        memcpy(y + i0, t, n * sizeof(float));
    }
}

void cpu_add_forward(const cpu_fwd_args *a)
{
    flat_ctx f = {.a = a, .n = (size_t)a->batch * nn_shape_size(a->l->out), .parts = 64};
    if (a->l->n_inputs < 2) {
        if (a->out != a->in[0]) memcpy(a->out, a->in[0], f.n * sizeof(float));
        return;
    }
    cpu_run(a->pool, (double)f.n * a->l->n_inputs, f.parts, add_task, &f);
}

/* Channels of input k: from a->in_c when the caller filled it, else inputs 1.. split the rest. */
static int concat_channels(const cpu_fwd_args *a, int k)
{
    const nn_layer *l = a->l;
    if (a->in_c[k] > 0) return a->in_c[k];
    if (k == 0) return l->in.c;
    int rest = l->out.c, unknown = 0;
    for (int i = 0; i < l->n_inputs; i++) {
        if (a->in_c[i] > 0) rest -= a->in_c[i];
        else if (i == 0) rest -= l->in.c;
        else unknown++;
    }
    return unknown > 0 ? rest / unknown : 0;
}

static void concat_task(void *ctx, int begin, int end, int thread)
{
    (void)thread;
    const cpu_fwd_args *a = ctx;
    const int C = a->l->out.c;
    int off = 0;
    for (int k = 0; k < a->l->n_inputs; k++) {
        const int ck = concat_channels(a, k);
        for (int px = begin; px < end; px++)
            memcpy(a->out + (size_t)px * C + off, a->in[k] + (size_t)px * ck, (size_t)ck * sizeof(float));
        off += ck;
    }
}

void cpu_concat_forward(const cpu_fwd_args *a)
{
    const nn_layer *l = a->l;
    const int pixels = a->batch * l->out.h * l->out.w;
    cpu_run(a->pool, (double)pixels * l->out.c, pixels, concat_task, (void *)a);
}

static void copy_task(void *ctx, int begin, int end, int thread)
{
    (void)thread;
    const flat_ctx *f = ctx;
    size_t b, e;
    range_of(f, begin, end, &b, &e);
    memcpy(f->a->out + b, f->a->in[0] + b, (e - b) * sizeof(float));
}

void cpu_copy_forward(const cpu_fwd_args *a)
{
    if (a->out == a->in[0]) return;
    flat_ctx f = {.a = a, .n = (size_t)a->batch * nn_shape_size(a->l->out), .parts = 64};
    cpu_run(a->pool, (double)f.n, f.parts, copy_task, &f);
}

/* ---------------------------------------------------------------------------- training
 * add: d_in[k] += dy for every input (inputs may be one tensor: it then gets dy once per use);
 * concat: d_in[k] += its channel slice of dy; flatten: d_in += dy;
 * dropout (training): y = x * mask, mask[i] = 0 (probability rate) or 1/(1-rate), the uniform
 * draw a hash of (seed, i); backward d_in += dy * mask. Threads split elements / pixels, and
 * every loop below visits one element's inputs in order, so aliased d_in never races. */
typedef struct {
    const cpu_bwd_args *a;
    size_t n;
    int parts;
} flat_bctx;

static void add_bwd_task(void *ctx, int begin, int end, int thread)
{
    (void)thread;
    const flat_bctx *f = ctx;
    const size_t b = f->n * (size_t)begin / (size_t)f->parts, e = f->n * (size_t)end / (size_t)f->parts;
    const cpu_bwd_args *a = f->a;
    const int k_end = a->l->op == NN_OP_ADD ? a->l->n_inputs : 1;
    for (int k = 0; k < k_end; k++) {
        float *d = a->d_in[k];
        for (size_t i = b; i < e; i++) d[i] += a->dy[i];
    }
}

void cpu_add_backward(const cpu_bwd_args *a)
{
    flat_bctx f = {.a = a, .n = (size_t)a->batch * nn_shape_size(a->l->out), .parts = 64};
    cpu_run(a->pool, (double)f.n * a->l->n_inputs, f.parts, add_bwd_task, &f);
}

static void copy_bwd_task(void *ctx, int begin, int end, int thread)
{
    (void)thread;
    const flat_bctx *f = ctx;
    const size_t b = f->n * (size_t)begin / (size_t)f->parts, e = f->n * (size_t)end / (size_t)f->parts;
    memcpy(f->a->d_in[0] + b, f->a->dy + b, (e - b) * sizeof(float));
}

void cpu_copy_backward(const cpu_bwd_args *a)
{
    flat_bctx f = {.a = a, .n = (size_t)a->batch * nn_shape_size(a->l->out), .parts = 64};
    cpu_run(a->pool, (double)f.n, f.parts, a->overwrite ? copy_bwd_task : add_bwd_task, &f);
}

static void concat_bwd_task(void *ctx, int begin, int end, int thread)
{
    (void)thread;
    const cpu_bwd_args *a = ctx;
    const int C = a->l->out.c;
    for (int px = begin; px < end; px++) {
        int off = 0;
        for (int k = 0; k < a->l->n_inputs; k++) {
            const int ck = a->in_c[k];
            const float *g = a->dy + (size_t)px * C + off;
            float *d = a->d_in[k] + (size_t)px * ck;
            for (int c = 0; c < ck; c++) d[c] += g[c];
            off += ck;
        }
    }
}

void cpu_concat_backward(const cpu_bwd_args *a)
{
    const nn_layer *l = a->l;
    const int pixels = a->batch * l->out.h * l->out.w;
    cpu_run(a->pool, (double)pixels * l->out.c, pixels, concat_bwd_task, (void *)a);
}

#define INLINE_DROP static inline __attribute__((always_inline))

/* splitmix64 finaliser: a well-mixed 64-bit value of (seed, i). */
INLINE_DROP uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

typedef struct {
    const cpu_fwd_args *a;
    float *mask;
    uint64_t seed, base;
    size_t n;
    int parts;
    bool wide;   /* AVX-512 with 64-bit multiplies (avx512dq) */
} drop_ctx;

/* Elements [b, e): u = (mix64(key ^ (i*golden + 1)) >> 11) * 2^-53 in [0, 1) and the element is
 * dropped when u < rate, i.e. when the 53-bit integer is below thr = ceil(rate * 2^53) (the same
 * decision without a conversion, so the loop vectorises with 64-bit lanes). */
INLINE_DROP void drop_body(const drop_ctx *p, size_t b, size_t e)
{
    const float rate = p->a->l->rate, keep = rate < 1.0f ? 1.0f / (1.0f - rate) : 0.0f;
    const uint64_t key = mix64(p->seed + 0x9e3779b97f4a7c15ull);
    const uint64_t thr = (uint64_t)ceil((double)rate * 0x1.0p53);
    float *restrict mask = p->mask, *restrict out = p->a->out;
    const float *restrict in = p->a->in[0];
    const uint64_t base = p->base;
    for (size_t i = b; i < e; i++) {
        const float m = (mix64(key ^ ((base + i) * 0x9e3779b97f4a7c15ull + 1)) >> 11) < thr ? 0.0f : keep;
        mask[i] = m;
        out[i] = in[i] * m;
    }
}

static void drop_base(const drop_ctx *p, size_t b, size_t e) { drop_body(p, b, e); }
#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma"))) static void drop_512(const drop_ctx *p, size_t b, size_t e)
{
    drop_body(p, b, e);
}
#endif

static void drop_task(void *ctx, int begin, int end, int thread)
{
    (void)thread;
    const drop_ctx *p = ctx;
    const size_t b = p->n * (size_t)begin / (size_t)p->parts, e = p->n * (size_t)end / (size_t)p->parts;
#if defined(__x86_64__) || defined(__i386__)
    if (p->wide) {
        drop_512(p, b, e);
        return;
    }
#endif
    drop_base(p, b, e);
}

void cpu_dropout_forward_train(const cpu_fwd_args *a, uint64_t seed, uint64_t base, float *mask)
{
    drop_ctx p = {.a = a, .mask = mask, .seed = seed, .base = base, .n = (size_t)a->batch * nn_shape_size(a->l->out), .parts = 64};
#if defined(__x86_64__) || defined(__i386__)
    p.wide = cpu_isa(a) == NN_CPU_ISA_AVX512 && __builtin_cpu_supports("avx512dq");
#endif
    cpu_run(a->pool, (double)p.n * 4.0, p.parts, drop_task, &p);
}

static void drop_bwd_task(void *ctx, int begin, int end, int thread)
{
    (void)thread;
    const flat_bctx *f = ctx;
    const size_t b = f->n * (size_t)begin / (size_t)f->parts, e = f->n * (size_t)end / (size_t)f->parts;
    float *restrict d = f->a->d_in[0];
    const float *restrict g = f->a->dy, *restrict m = f->a->aux;
    if (f->a->overwrite)
        for (size_t i = b; i < e; i++) d[i] = g[i] * m[i];
    else
        for (size_t i = b; i < e; i++) d[i] += g[i] * m[i];
}

void cpu_dropout_backward(const cpu_bwd_args *a)
{
    flat_bctx f = {.a = a, .n = (size_t)a->batch * nn_shape_size(a->l->out), .parts = 64};
    cpu_run(a->pool, (double)f.n, f.parts, drop_bwd_task, &f);
}
