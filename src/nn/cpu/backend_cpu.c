/* backend_cpu.c — the CPU inference executor (nn_infer_ops, backend.h): the plan's arena in host
 * memory (activations at the plan's offsets, then the largest step's scratch), the thread pool,
 * and the steps run one after another with their times. Allocates nothing after create. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/backend.h"
#include "nn/cpu/cpu.h"
#include "nn/limits.h"

typedef struct {
    const nn_plan *plan;        /* owned by the nn_infer context */
    nn_pool *pool;
    float *arena;               /* activations, then scratch */
    float *scratch;
    nn_cpu_isa isa;             /* resolved by nn_infer_create_opts (never AUTO) */
} cpu_infer;

static void cpu_infer_free(void *x)
{
    cpu_infer *c = x;
    if (!c)
        return;
    nn_pool_free(c->pool);
    free(c->arena);
    free(c);
}

static nn_status cpu_infer_create(void **out, const nn_plan *p, const nn_graph *g, const nn_infer_opts *o,
                                  int threads, nn_err *err)
{
    *out = NULL;
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
    cpu_infer *c = calloc(1, sizeof *c);
    if (!c)
        return nn_fail(err, NN_E_NOMEM, "out of memory");
    c->plan = p;
    c->isa = o->isa;
    c->arena = aligned_alloc(64, (total * sizeof(float) + 63) / 64 * 64);
    if (!c->arena) {
        cpu_infer_free(c);
        return nn_fail(err, NN_E_NOMEM, "cannot allocate a %zu-byte arena for batch %d", total * sizeof(float),
                       p->max_batch);
    }
    memset(c->arena, 0, total * sizeof(float));
    c->scratch = c->arena + p->act_floats;
    if ((s = nn_pool_create(&c->pool, threads, err))) {
        cpu_infer_free(c);
        return s;
    }
    *out = c;
    return NN_OK;
}

static float *cpu_infer_input(void *x)
{
    cpu_infer *c = x;
    return c->arena + c->plan->input_off;
}

static const float *cpu_infer_output(const void *x)
{
    const cpu_infer *c = x;
    return c->arena + c->plan->output_off;
}

/* Step i of the plan on `batch` images; returns its output. */
static const float *cpu_infer_step(void *x, int i, int batch)
{
    cpu_infer *c = x;
    const nn_plan *p = c->plan;
    const nn_plan_step *st = &p->steps[i];
    cpu_fwd_args a = {.l = &st->l, .out = c->arena + st->out_off, .batch = batch, .scratch = c->scratch,
                      .pool = c->pool, .isa = c->isa};
    for (int k = 0; k < st->l.n_inputs; k++) {
        a.in[k] = c->arena + st->in_off[k];
        a.in_c[k] = st->in_c[k];
    }
    for (int k = 0; k < 4; k++)
        a.p[k] = nn_plan_param(p, st, k);
    cpu_forward(&a);
    return a.out;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static nn_status cpu_infer_run(void *x, int batch, uint64_t *step_ns, nn_err *err)
{
    (void)err;
    const cpu_infer *c = x;
    uint64_t t0 = now_ns();
    for (int i = 0; i < c->plan->n_steps; i++) {
        cpu_infer_step(x, i, batch);
        uint64_t t1 = now_ns();
        step_ns[i] = t1 - t0;
        t0 = t1;
    }
    return NN_OK;
}

const nn_infer_ops nn_cpu_infer_ops = {
    .create = cpu_infer_create,
    .free = cpu_infer_free,
    .input = cpu_infer_input,
    .output = cpu_infer_output,
    .run = cpu_infer_run,
    .step = cpu_infer_step,
    .frame_reserve = NULL, /* GPU preprocessing only */
    .frame = NULL,
};
