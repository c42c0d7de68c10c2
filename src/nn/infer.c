/* infer.c — inference contexts: the backend-neutral plan (plan.c) run by the CPU executor below
 * (arena in host memory, thread pool, per-step timing) or by the CUDA executor
 * (kernels/backend_cuda.cu via cuda_exec.h). nn_infer_run allocates nothing on either. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/cpu/cpu.h"
#include "nn/graph.h"
#include "nn/limits.h"
#include "nn/plan.h"
#ifdef NN_HAVE_CUDA
#include "nn/cuda_exec.h"
#endif

struct nn_infer {
    nn_backend backend;         /* CPU or CUDA, never AUTO */
    nn_plan plan;
    uint64_t *ns;               /* [n_steps] time of each step in the last run */
    /* CPU */
    nn_pool *pool;
    float *arena;               /* activations, then scratch */
    float *scratch;
#ifdef NN_HAVE_CUDA
    nn_cuda_exec *cu;
#endif
};

const char *nn_backend_name(nn_backend b)
{
    switch (b) {
    case NN_BACKEND_AUTO: return "auto";
    case NN_BACKEND_CPU: return "cpu";
    case NN_BACKEND_CUDA: return "cuda";
    }
    return "?";
}

bool nn_backend_parse(const char *s, nn_backend *out)
{
    static const nn_backend all[] = {NN_BACKEND_AUTO, NN_BACKEND_CPU, NN_BACKEND_CUDA};
    for (size_t i = 0; s && i < sizeof all / sizeof all[0]; i++)
        if (strcmp(s, nn_backend_name(all[i])) == 0) {
            *out = all[i];
            return true;
        }
    return false;
}

bool nn_cuda_available(char *why, size_t n)
{
#ifdef NN_HAVE_CUDA
    return nn_cuda_probe(why, n);
#else
    if (why && n)
        snprintf(why, n, "this build has no CUDA backend");
    return false;
#endif
}

bool nn_cuda_built(void)
{
#ifdef NN_HAVE_CUDA
    return true;
#else
    return false;
#endif
}

/* CPU executor: the arena (activations at the plan's offsets, then the largest step's scratch). */
static nn_status cpu_build(nn_infer *ctx, const nn_graph *g, int threads, nn_err *err)
{
    const nn_plan *p = &ctx->plan;
    size_t scratch = 0;
    for (int i = 0; i < p->n_steps; i++) {
        size_t sc = cpu_scratch_floats(&p->steps[i].l, p->max_batch, threads);
        if (sc > scratch)
            scratch = sc;
    }
    size_t total = p->act_floats;
    if (!nn_add_sz(&total, scratch) || !nn_add_sz(&total, NN_PLAN_ALIGN_FLOATS))
        total = SIZE_MAX;
    nn_status s = nn_check_arena(g, "inference", total, p->max_batch, err);
    if (s)
        return s;
    ctx->arena = aligned_alloc(64, (total * sizeof(float) + 63) / 64 * 64);
    if (!ctx->arena)
        return nn_fail(err, NN_E_NOMEM, "cannot allocate a %zu-byte arena for batch %d", total * sizeof(float),
                       p->max_batch);
    memset(ctx->arena, 0, total * sizeof(float));
    ctx->scratch = ctx->arena + p->act_floats;
    return nn_pool_create(&ctx->pool, threads, err);
}

/* Resolves AUTO and checks that the chosen backend can run here. */
static nn_status pick_backend(nn_backend want, nn_backend *got, nn_err *err)
{
    char why[256];
    if (want == NN_BACKEND_CPU) {
        *got = NN_BACKEND_CPU;
        return NN_OK;
    }
    if (want != NN_BACKEND_AUTO && want != NN_BACKEND_CUDA)
        return nn_fail(err, NN_E_ARG, "unknown backend %d (expected auto, cpu or cuda)", (int)want);
    bool ok = nn_cuda_available(why, sizeof why);
    if (ok) {
        *got = NN_BACKEND_CUDA;
        return NN_OK;
    }
    if (want == NN_BACKEND_AUTO) {
        *got = NN_BACKEND_CPU;
        return NN_OK;
    }
#ifdef NN_HAVE_CUDA
    return nn_fail(err, NN_E_DEVICE, "backend cuda: %s", why);
#else
    return nn_fail(err, NN_E_UNSUPPORTED, "backend cuda: %s", why);
#endif
}

nn_status nn_infer_create_opts(nn_infer **out, const nn_model *m, const nn_infer_opts *o, nn_err *err)
{
    *out = NULL;
    int threads = o->threads ? o->threads : 1;
    if (o->max_batch < 1 || o->max_batch > 65536)
        return nn_fail(err, NN_E_ARG, "batch size must be in [1, 65536] (got %d)", o->max_batch);
    if (threads < 1 || threads > 256)
        return nn_fail(err, NN_E_ARG, "threads must be in [1, 256] (got %d)", threads);
    nn_backend backend;
    nn_status s = pick_backend(o->backend, &backend, err);
    if (s)
        return s;
    nn_infer *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return nn_fail(err, NN_E_NOMEM, "out of memory");
    ctx->backend = backend;
    s = nn_plan_build(&ctx->plan, m, o->max_batch, err);
    if (!s) {
        ctx->ns = calloc((size_t)ctx->plan.n_steps + 1, sizeof *ctx->ns);
        if (!ctx->ns)
            s = nn_fail(err, NN_E_NOMEM, "out of memory");
    }
    if (!s && backend == NN_BACKEND_CPU)
        s = cpu_build(ctx, &m->g, threads, err);
#ifdef NN_HAVE_CUDA
    if (!s && backend == NN_BACKEND_CUDA)
        s = nn_cuda_exec_create(&ctx->cu, &ctx->plan, &m->g.pre, m->g.in_h, m->g.in_w, m->g.in_c, o->cuda_eager,
                                o->profile, o->cuda_conv_direct_macs, err);
#endif
    if (s) {
        nn_infer_free(ctx);
        return s;
    }
    *out = ctx;
    return NN_OK;
}

nn_status nn_infer_create(nn_infer **out, const nn_model *m, int max_batch, int threads, nn_err *err)
{
    nn_infer_opts o = {.max_batch = max_batch, .threads = threads, .backend = NN_BACKEND_CPU};
    if (threads < 1 || threads > 256) { /* 0 means 1 in the options, not here */
        *out = NULL;
        return nn_fail(err, NN_E_ARG, "threads must be in [1, 256] (got %d)", threads);
    }
    return nn_infer_create_opts(out, m, &o, err);
}

void nn_infer_free(nn_infer *ctx)
{
    if (!ctx)
        return;
#ifdef NN_HAVE_CUDA
    nn_cuda_exec_free(ctx->cu);
#endif
    nn_pool_free(ctx->pool);
    free(ctx->arena);
    free(ctx->ns);
    nn_plan_free(&ctx->plan);
    free(ctx);
}

nn_backend nn_infer_backend(const nn_infer *ctx) { return ctx->backend; }

float *nn_infer_input(nn_infer *ctx)
{
#ifdef NN_HAVE_CUDA
    if (ctx->cu)
        return nn_cuda_exec_input(ctx->cu);
#endif
    return ctx->arena + ctx->plan.input_off;
}

const float *nn_infer_output(const nn_infer *ctx)
{
#ifdef NN_HAVE_CUDA
    if (ctx->cu)
        return nn_cuda_exec_output(ctx->cu);
#endif
    return ctx->arena + ctx->plan.output_off;
}

int nn_infer_output_size(const nn_infer *ctx) { return ctx->plan.out_size; }
int nn_infer_steps(const nn_infer *ctx) { return ctx->plan.n_steps; }
const char *nn_infer_step_name(const nn_infer *ctx, int i) { return ctx->plan.steps[i].l.name; }
uint64_t nn_infer_step_ns(const nn_infer *ctx, int i) { return ctx->ns[i]; }

nn_status nn_infer_frame_reserve(nn_infer *ctx, size_t max_frame_bytes, nn_err *err)
{
#ifdef NN_HAVE_CUDA
    if (ctx->cu)
        return nn_cuda_exec_frame_reserve(ctx->cu, max_frame_bytes, err);
#endif
    (void)max_frame_bytes;
    return nn_fail(err, NN_E_UNSUPPORTED, "GPU preprocessing needs the CUDA backend (this context runs on the %s)",
                   nn_backend_name(ctx->backend));
}

nn_status nn_infer_frame(nn_infer *ctx, const uint8_t *rgb, int width, int height, int stride, nn_err *err)
{
#ifdef NN_HAVE_CUDA
    if (ctx->cu)
        return nn_cuda_exec_frame(ctx->cu, rgb, width, height, stride, err);
#endif
    (void)rgb, (void)width, (void)height, (void)stride;
    return nn_fail(err, NN_E_UNSUPPORTED, "GPU preprocessing needs the CUDA backend (this context runs on the %s)",
                   nn_backend_name(ctx->backend));
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* CPU executor: step i of the plan on `batch` images. */
static void cpu_step(nn_infer *ctx, int i, int batch)
{
    const nn_plan *p = &ctx->plan;
    const nn_plan_step *st = &p->steps[i];
    cpu_fwd_args a = {.l = &st->l, .out = ctx->arena + st->out_off, .batch = batch, .scratch = ctx->scratch,
                      .pool = ctx->pool};
    for (int k = 0; k < st->l.n_inputs; k++) {
        a.in[k] = ctx->arena + st->in_off[k];
        a.in_c[k] = st->in_c[k];
    }
    for (int k = 0; k < 4; k++)
        a.p[k] = nn_plan_param(p, st, k);
    cpu_forward(&a);
}

nn_status nn_infer_run(nn_infer *ctx, int batch, nn_err *err)
{
    const nn_plan *p = &ctx->plan;
    if (batch < 1 || batch > p->max_batch)
        return nn_fail(err, NN_E_ARG, "batch %d outside [1, %d] of this inference context", batch, p->max_batch);
#ifdef NN_HAVE_CUDA
    if (ctx->cu)
        return nn_cuda_exec_run(ctx->cu, batch, ctx->ns, err);
#endif
    uint64_t t0 = now_ns();
    for (int i = 0; i < p->n_steps; i++) {
        cpu_step(ctx, i, batch);
        uint64_t t1 = now_ns();
        ctx->ns[i] = t1 - t0;
        t0 = t1;
    }
    return NN_OK;
}

/* Index of the first non-finite value of x[0..n), or -1. */
static long first_nonfinite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return (long)i;
    return -1;
}

nn_status nn_infer_selfcheck(nn_infer *ctx, const nn_model *m, nn_err *err)
{
    const nn_plan *p = &ctx->plan;
    const nn_preprocess *pre = &m->g.pre;
    float *x = nn_infer_input(ctx);
    for (size_t i = 0; i < (size_t)p->in_size; i++)
        x[i] = (float)((i * 37 + 11) % 256) * pre->scale + pre->offset;
    const char *from = nn_model_weights(m)[0] ? nn_model_weights(m) : m->g.path;
    long bad = first_nonfinite(x, (size_t)p->in_size);
    if (bad >= 0) /* the preprocess scale/offset are bounded, so only a corrupted model gets here */
        return nn_fail(err, NN_E_SPEC, "%s: self-check: preprocessing gives a non-finite input value at index %ld",
                       m->g.path, bad);
    char where[NN_NAME_LEN + 80] = "";
    if (ctx->backend == NN_BACKEND_CPU) { /* step by step, to name the layer where it starts */
        for (int i = 0; i < p->n_steps; i++) {
            cpu_step(ctx, i, 1);
            const nn_layer *l = &p->steps[i].l;
            if (!where[0] && first_nonfinite(ctx->arena + p->steps[i].out_off, nn_shape_size(l->out)) >= 0)
                snprintf(where, sizeof where, " (non-finite values start at layer '%s' (%s))", l->name,
                         nn_op_name(l->op));
        }
    } else {
        nn_status s = nn_infer_run(ctx, 1, err);
        if (s)
            return s;
    }
    const float *y = nn_infer_output(ctx);
    long k = first_nonfinite(y, (size_t)p->out_size);
    if (k >= 0)
        return nn_fail(err, NN_E_WEIGHTS, "%s: self-check: output %ld is %g for the fixed test input%s; the model "
                       "is unusable with these weights", from, k, (double)y[k], where);
    return NN_OK;
}
