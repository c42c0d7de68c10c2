/* infer.c — inference contexts: the backend-neutral plan (plan.c) run by a backend's executor
 * (backend.h: the CPU's in src/nn/cpu/backend_cpu.c, the CUDA one in kernels/), the argument
 * checks, the per-step times and the load-time self-check. nn_infer_run allocates nothing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/backend.h"
#include "nn/graph.h"
#include "nn/plan.h"

struct nn_infer {
    nn_backend backend;         /* never AUTO */
    nn_cpu_isa isa;             /* CPU kernel flavour (resolved: never AUTO) */
    const nn_infer_ops *ops;    /* the backend's executor table */
    void *x;                    /* its executor */
    nn_plan plan;
    uint64_t *ns;               /* [n_steps] time of each step in the last run */
};

nn_status nn_infer_create_opts(nn_infer **out, const nn_model *m, const nn_infer_opts *o, nn_err *err)
{
    *out = NULL;
    int threads = o->threads ? o->threads : 1;
    if (o->max_batch < 1 || o->max_batch > 65536)
        return nn_fail(err, NN_E_ARG, "batch size must be in [1, 65536] (got %d)", o->max_batch);
    if (threads < 1 || threads > 256)
        return nn_fail(err, NN_E_ARG, "threads must be in [1, 256] (got %d)", threads);
    nn_infer_opts ro = *o; /* the backend gets the resolved kernel flavour */
    nn_status s = nn_cpu_isa_resolve(o->isa, &ro.isa, err);
    if (s)
        return s;
    const nn_backend_ops *b;
    if ((s = nn_backend_pick(o->backend, &b, err)))
        return s;
    nn_infer *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return nn_fail(err, NN_E_NOMEM, "out of memory");
    ctx->backend = b->id;
    ctx->isa = ro.isa;
    ctx->ops = b->infer;
    s = nn_plan_build(&ctx->plan, m, o->max_batch, err);
    if (!s) {
        ctx->ns = calloc((size_t)ctx->plan.n_steps + 1, sizeof *ctx->ns);
        if (!ctx->ns)
            s = nn_fail(err, NN_E_NOMEM, "out of memory");
    }
    if (!s)
        s = ctx->ops->create(&ctx->x, &ctx->plan, &m->g, &ro, threads, err);
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
    if (ctx->x)
        ctx->ops->free(ctx->x);
    free(ctx->ns);
    nn_plan_free(&ctx->plan);
    free(ctx);
}

nn_backend nn_infer_backend(const nn_infer *ctx) { return ctx->backend; }
nn_cpu_isa nn_infer_isa(const nn_infer *ctx) { return ctx->isa; }

float *nn_infer_input(nn_infer *ctx) { return ctx->ops->input(ctx->x); }
const float *nn_infer_output(const nn_infer *ctx) { return ctx->ops->output(ctx->x); }

int nn_infer_output_size(const nn_infer *ctx) { return ctx->plan.out_size; }
int nn_infer_steps(const nn_infer *ctx) { return ctx->plan.n_steps; }
const char *nn_infer_step_name(const nn_infer *ctx, int i) { return ctx->plan.steps[i].l.name; }
uint64_t nn_infer_step_ns(const nn_infer *ctx, int i) { return ctx->ns[i]; }

/* A backend without GPU preprocessing. */
static nn_status no_frames(const nn_infer *ctx, nn_err *err)
{
    return nn_fail(err, NN_E_UNSUPPORTED, "GPU preprocessing needs the CUDA backend (this context runs on the %s)",
                   nn_backend_name(ctx->backend));
}

nn_status nn_infer_frame_reserve(nn_infer *ctx, size_t max_frame_bytes, nn_err *err)
{
    if (!ctx->ops->frame_reserve)
        return no_frames(ctx, err);
    return ctx->ops->frame_reserve(ctx->x, max_frame_bytes, err);
}

nn_status nn_infer_frame(nn_infer *ctx, const uint8_t *rgb, int width, int height, int stride, nn_err *err)
{
    if (!ctx->ops->frame)
        return no_frames(ctx, err);
    return ctx->ops->frame(ctx->x, rgb, width, height, stride, err);
}

nn_status nn_infer_run(nn_infer *ctx, int batch, nn_err *err)
{
    const nn_plan *p = &ctx->plan;
    if (batch < 1 || batch > p->max_batch)
        return nn_fail(err, NN_E_ARG, "batch %d outside [1, %d] of this inference context", batch, p->max_batch);
    return ctx->ops->run(ctx->x, batch, ctx->ns, err);
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
    if (ctx->ops->step) { /* step by step, to name the layer where it starts */
        for (int i = 0; i < p->n_steps; i++) {
            const float *out = ctx->ops->step(ctx->x, i, 1);
            const nn_layer *l = &p->steps[i].l;
            if (!where[0] && first_nonfinite(out, nn_shape_size(l->out)) >= 0)
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
