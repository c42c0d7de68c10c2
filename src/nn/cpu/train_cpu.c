/* train_cpu.c — the CPU training executor (nn_train_ops, backend.h): every primitive layer of the
 * graph runs in training mode (batch-norm batch statistics + running-stat update, dropout masks,
 * no folding or fusion) and keeps its output; the backward walks the layers in reverse,
 * accumulating activation gradients (a value read by several layers sums their contributions)
 * and parameter gradients. One arena, sized once at create, holds for each layer i:
 *   act[i]  [max_batch, out_i]   output (act[0] is the input)
 *   dact[i] [max_batch, out_i]   dL/d(output)
 *   aux[i]  cpu_train_aux_floats (BN mean/istd, dropout mask)
 * (nn_train_layout) then the parameter gradients [n_param_floats], the loss gradient [max_batch,
 * output] and the kernels' scratch (forward and backward). The parameters are the model's own
 * (host) and the optimizer updates them in place with optim.c. With a shard (train.h) the
 * context computes one slice of a data-parallel batch: batch norm sums its statistics through it,
 * dropout draws by global element index, the loss is the share of the global mean. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/backend.h"
#include "nn/cpu/cpu.h"
#include "nn/limits.h"

typedef struct {
    nn_model *m;
    int n;
    nn_pool *pool;
    nn_train_layer *layers;
    float *arena, *grads, *scratch;
    float *dloss;               /* the loss gradient [max_batch, output] */
    size_t grad_floats;
    nn_cpu_isa isa;         /* kernel flavour: $STEERD_ISA or the best (nn_cpu_isa_resolve) */
    const nn_train_shard *shard; /* data parallelism (train.h), or NULL */
} cpu_train;

static void cpu_train_free(void *x)
{
    cpu_train *c = x;
    if (!c) return;
    nn_pool_free(c->pool);
    free(c->arena);
    free(c->layers);
    free(c);
}

static nn_status cpu_train_create(void **out, nn_model *m, int max_batch, int threads, nn_err *err)
{
    *out = NULL;
    const nn_graph *g = &m->g;
    nn_cpu_isa isa;
    nn_status s = nn_cpu_isa_resolve(NN_CPU_ISA_AUTO, &isa, err);
    if (s) return s;
    cpu_train *c = calloc(1, sizeof *c);
    if (!c) return nn_fail(err, NN_E_NOMEM, "out of memory");
    c->isa = isa;
    c->m = m;
    c->n = g->n_layers;
    c->layers = calloc((size_t)g->n_layers, sizeof *c->layers);
    if (!c->layers) {
        cpu_train_free(c);
        return nn_fail(err, NN_E_NOMEM, "%s: out of memory", g->name);
    }
    size_t off = nn_train_layout(g, max_batch, c->layers), scratch = 0;
    for (int i = 1; i < g->n_layers; i++) {
        const size_t s1 = cpu_scratch_floats(&c->layers[i].l, max_batch, threads);
        const size_t s2 = cpu_bwd_scratch_floats(&c->layers[i].l, max_batch, threads);
        if (s1 > scratch) scratch = s1;
        if (s2 > scratch) scratch = s2;
    }
    c->grad_floats = g->n_param_floats;
    const size_t grads_off = off;
    off += nn_train_round_up(g->n_param_floats);
    const size_t dloss_off = off;
    off += nn_train_round_up(c->layers[g->n_layers - 1].size * (size_t)max_batch);
    const size_t scratch_off = off;
    off += nn_train_round_up(scratch) + NN_TRAIN_ALIGN_FLOATS;
    s = nn_check_arena(g, "training", off, max_batch, err);
    if (s) {
        cpu_train_free(c);
        return s;
    }
    c->arena = aligned_alloc(64, off * sizeof(float));
    if (!c->arena) {
        cpu_train_free(c);
        return nn_fail(err, NN_E_NOMEM, "%s: cannot allocate a %zu-byte training arena for batch %d", g->name,
                       off * sizeof(float), max_batch);
    }
    memset(c->arena, 0, off * sizeof(float));
    c->grads = c->arena + grads_off;
    c->dloss = c->arena + dloss_off;
    c->scratch = c->arena + scratch_off;
    if ((s = nn_pool_create(&c->pool, threads, err))) {
        cpu_train_free(c);
        return s;
    }
    *out = c;
    return NN_OK;
}

static float *cpu_train_input(void *x)
{
    cpu_train *c = x;
    return c->arena + c->layers[0].act;
}

static const float *cpu_train_output(void *x)
{
    cpu_train *c = x;
    return c->arena + c->layers[c->n - 1].act;
}

static float *cpu_train_grads(void *x) { return ((cpu_train *)x)->grads; }

static const float *cpu_train_layer(void *x, int i, int what)
{
    cpu_train *c = x;
    const nn_train_layer *tl = &c->layers[i];
    return c->arena + (what == 0 ? tl->act : what == 1 ? tl->dact : tl->aux);
}

static void cpu_train_zero_grad(void *x)
{
    cpu_train *c = x;
    memset(c->grads, 0, c->grad_floats * sizeof(float));
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Parameter r of layer l in the model (engine layout). */
static float *param(const cpu_train *c, const nn_layer *l, int r)
{
    return c->m->params + nn_layer_param(&c->m->g, l, r)->offset;
}

static nn_status cpu_train_forward(void *x, int batch, uint64_t seed, uint64_t step, uint64_t *prof_ns, nn_err *err)
{
    (void)err;
    cpu_train *c = x;
    for (int i = 1; i < c->n; i++) {
        const uint64_t t0 = prof_ns ? now_ns() : 0;
        nn_train_layer *tl = &c->layers[i];
        const nn_layer *l = &tl->l;
        cpu_fwd_args a = {.l = l, .out = c->arena + tl->act, .batch = batch, .scratch = c->scratch, .pool = c->pool,
                          .isa = c->isa};
        for (int k = 0; k < l->n_inputs; k++) {
            a.in[k] = c->arena + c->layers[l->inputs[k]].act;
            a.in_c[k] = c->layers[l->inputs[k]].l.out.c;
        }
        for (int k = 0; k < l->n_params && k < 4; k++) a.p[k] = param(c, l, k);
        if (l->op == NN_OP_BATCHNORM)
            cpu_batchnorm_forward_train(&a, param(c, l, 2), param(c, l, 3), c->arena + tl->aux, c->shard);
        else if (l->op == NN_OP_DROPOUT) /* masks by the element's index in the whole (data-parallel) batch */
            cpu_dropout_forward_train(&a, nn_train_dropout_seed(seed, step, i),
                                      c->shard ? (uint64_t)c->shard->first * tl->size : 0, c->arena + tl->aux);
        else
            cpu_forward(&a);
        if (prof_ns) prof_ns[i] += now_ns() - t0;
    }
    return NN_OK;
}

static nn_status cpu_train_loss(void *x, nn_loss_kind kind, const int *labels, const float *targets, int batch,
                                float delta, bool y_is_prob, double *loss, nn_err *err)
{
    (void)err;
    cpu_train *c = x;
    const float *y = cpu_train_output(x);
    const int n = (int)c->layers[c->n - 1].size, denom = c->shard ? c->shard->global_batch : batch;
    if (kind == NN_LOSS_CE) *loss = cpu_loss_softmax_ce(y, y_is_prob, labels, batch, n, denom, c->dloss);
    else if (kind == NN_LOSS_MSE) *loss = cpu_loss_mse(y, targets, batch, n, denom, c->dloss);
    else *loss = cpu_loss_huber(y, targets, batch, n, delta, denom, c->dloss);
    return NN_OK;
}

static nn_status cpu_train_backward(void *x, int batch, int top, const float *dy, uint64_t *prof_ns, nn_err *err)
{
    (void)err;
    cpu_train *c = x;
    nn_train_layer *layers = c->layers;
    if (!dy) dy = c->dloss; /* the gradient of the last loss */
    for (int i = 0; i < c->n; i++) layers[i].zero_at = 0;
    for (int j = 1; j <= top; j++)
        for (int k = 0; k < layers[j].l.n_inputs; k++) {
            nn_train_layer *src = &layers[layers[j].l.inputs[k]];
            if (j > src->zero_at) src->zero_at = j;
        }
    for (int i = 0; i < c->n; i++)
        if (i != top && layers[i].zero_at == 0)
            memset(c->arena + layers[i].dact, 0, layers[i].size * (size_t)batch * sizeof(float));
    memcpy(c->arena + layers[top].dact, dy, layers[top].size * (size_t)batch * sizeof(float));
    for (int i = top; i >= 1; i--) {
        const uint64_t t0 = prof_ns ? now_ns() : 0;
        const nn_train_layer *tl = &layers[i];
        const nn_layer *l = &tl->l;
        bool overwrite = false;
        for (int k = 0; k < l->n_inputs; k++) {
            const nn_train_layer *src = &layers[l->inputs[k]];
            if (src->zero_at != i) continue;
            if (l->n_inputs == 1 && cpu_bwd_overwrites(l)) overwrite = true; /* the kernel writes it */
            else memset(c->arena + src->dact, 0, src->size * (size_t)batch * sizeof(float)); /* (twice when read twice: harmless) */
        }
        cpu_bwd_args a = {.l = l, .dy = c->arena + tl->dact, .out = c->arena + tl->act, .aux = c->arena + tl->aux,
                          .batch = batch, .scratch = c->scratch, .pool = c->pool, .overwrite = overwrite,
                          .isa = c->isa,
                          .shard = c->shard};
        for (int k = 0; k < l->n_inputs; k++) {
            const nn_train_layer *src = &layers[l->inputs[k]];
            a.d_in[k] = c->arena + src->dact;
            a.in[k] = c->arena + src->act;
            a.in_c[k] = src->l.out.c;
        }
        for (int k = 0; k < l->n_params && k < 4; k++) {
            const nn_param *p = nn_layer_param(&c->m->g, l, k);
            a.p[k] = c->m->params + p->offset;
            a.d_p[k] = p->trainable ? c->grads + p->offset : NULL;
        }
        cpu_backward(&a);
        if (prof_ns) prof_ns[i] += now_ns() - t0;
    }
    return NN_OK;
}

static nn_status cpu_train_clip(void *x, float max_norm, float *norm, nn_err *err)
{
    (void)err;
    cpu_train *c = x;
    *norm = opt_clip_grad_norm(c->grads, c->grad_floats, max_norm);
    return NN_OK;
}

static nn_status cpu_train_opt_setup(void *x, const opt_state *o, size_t state_floats, nn_err *err)
{
    (void)x, (void)o, (void)state_floats, (void)err; /* the host state is the CPU's */
    return NN_OK;
}

static nn_status cpu_train_opt_step(void *x, opt_state *o, double lr, double weight_decay, nn_err *err)
{
    (void)err;
    cpu_train *c = x;
    const nn_graph *g = &c->m->g;
    for (int p = 0; p < g->n_params; p++)
        if (g->params[p].trainable)
            opt_update(o, c->m->params, c->grads, g->params[p].offset, g->params[p].count, lr, weight_decay);
    return NN_OK;
}

static nn_status cpu_train_set_shard(void *x, const nn_train_shard *s, nn_err *err)
{
    (void)err;
    ((cpu_train *)x)->shard = s;
    return NN_OK;
}

static nn_status cpu_train_sum_grads(void *x, nn_err *err)
{
    (void)err;
    cpu_train *c = x;
    c->shard->sum_f32(c->shard->ctx, c->grads, c->grad_floats);
    return NN_OK;
}

const nn_train_ops nn_cpu_train_ops = {
    .create = cpu_train_create,
    .free = cpu_train_free,
    .input = cpu_train_input,
    .output = cpu_train_output,
    .grads = cpu_train_grads,
    .layer = cpu_train_layer,
    .zero_grad = cpu_train_zero_grad,
    .forward = cpu_train_forward,
    .loss = cpu_train_loss,
    .backward = cpu_train_backward,
    .clip = cpu_train_clip,
    .opt_setup = cpu_train_opt_setup,
    .opt_step = cpu_train_opt_step,
    .sync_params = NULL, /* the parameters and the optimizer state are the host's */
    .sync_opt = NULL,
    .set_shard = cpu_train_set_shard,
    .sum_grads = cpu_train_sum_grads,
};
