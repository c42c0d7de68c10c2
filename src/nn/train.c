/* train.c — the training context: every primitive layer of the graph runs in training mode
 * (batch-norm batch statistics + running-stat update, dropout masks, no folding or fusion) and
 * keeps its output; the backward walks the layers in reverse, accumulating activation gradients
 * (a value read by several layers sums their contributions) and parameter gradients.
 * One arena, sized once at create, holds for each layer i:
 *   act[i]  [max_batch, out_i]   output (act[0] is the input)
 *   dact[i] [max_batch, out_i]   dL/d(output)
 *   aux[i]  cpu_train_aux_floats (BN mean/istd, dropout mask)
 * then the parameter gradients [n_param_floats] and the kernels' scratch (forward and backward). */
#include <stdlib.h>
#include <string.h>

#include "nn/cpu/cpu.h"
#include "nn/graph.h"
#include "nn/train.h"

#define ALIGN_FLOATS 16 /* 64 bytes */

typedef struct {
    nn_layer l;                 /* copy, act forced to NN_ACT_NONE */
    size_t act, dact, aux;      /* arena offsets, floats */
    size_t size;                /* per-sample output floats */
} train_layer;

struct nn_train {
    nn_model *m;
    int max_batch, n;
    uint64_t seed, step;
    bool logits;
    nn_pool *pool;
    train_layer *layers;
    float *arena, *grads, *scratch;
    size_t grad_floats;
};

static size_t round_up(size_t n) { return (n + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS; }

nn_status nn_train_create(nn_train **out, nn_model *m, int max_batch, int threads, uint64_t seed, nn_err *err)
{
    *out = NULL;
    if (max_batch < 1 || max_batch > 65536)
        return nn_fail(err, NN_E_ARG, "batch size must be in [1, 65536] (got %d)", max_batch);
    if (threads < 1 || threads > 256)
        return nn_fail(err, NN_E_ARG, "threads must be in [1, 256] (got %d)", threads);
    const nn_graph *g = &m->g;
    nn_train *t = calloc(1, sizeof *t);
    if (!t) return nn_fail(err, NN_E_NOMEM, "out of memory");
    t->m = m;
    t->max_batch = max_batch;
    t->n = g->n_layers;
    t->seed = seed;
    t->logits = true;
    t->layers = calloc((size_t)g->n_layers, sizeof *t->layers);
    if (!t->layers) {
        nn_train_free(t);
        return nn_fail(err, NN_E_NOMEM, "%s: out of memory", g->name);
    }
    size_t off = 0, scratch = 0;
    for (int i = 0; i < g->n_layers; i++) {
        train_layer *tl = &t->layers[i];
        tl->l = g->layers[i];
        tl->l.act = NN_ACT_NONE;
        tl->size = nn_shape_size(tl->l.out);
        const size_t buf = round_up(tl->size * (size_t)max_batch);
        tl->act = off, off += buf;
        tl->dact = off, off += buf;
        tl->aux = off, off += round_up(cpu_train_aux_floats(&tl->l, max_batch));
        if (i == 0) continue;
        const size_t s1 = cpu_scratch_floats(&tl->l, max_batch, threads);
        const size_t s2 = cpu_bwd_scratch_floats(&tl->l, max_batch, threads);
        if (s1 > scratch) scratch = s1;
        if (s2 > scratch) scratch = s2;
    }
    t->grad_floats = g->n_param_floats;
    const size_t grads_off = off;
    off += round_up(g->n_param_floats);
    const size_t scratch_off = off;
    off += round_up(scratch) + ALIGN_FLOATS;
    t->arena = aligned_alloc(64, off * sizeof(float));
    if (!t->arena) {
        nn_train_free(t);
        return nn_fail(err, NN_E_NOMEM, "%s: cannot allocate a %zu-byte training arena for batch %d", g->name,
                       off * sizeof(float), max_batch);
    }
    memset(t->arena, 0, off * sizeof(float));
    t->grads = t->arena + grads_off;
    t->scratch = t->arena + scratch_off;
    nn_status s = nn_pool_create(&t->pool, threads, err);
    if (s) {
        nn_train_free(t);
        return s;
    }
    *out = t;
    return NN_OK;
}

void nn_train_free(nn_train *t)
{
    if (!t) return;
    nn_pool_free(t->pool);
    free(t->arena);
    free(t->layers);
    free(t);
}

float *nn_train_input(nn_train *t) { return t->arena + t->layers[0].act; }
const float *nn_train_output(const nn_train *t) { return t->arena + t->layers[t->n - 1].act; }
int nn_train_output_size(const nn_train *t) { return (int)t->layers[t->n - 1].size; }
bool nn_train_softmax_output(const nn_train *t) { return t->layers[t->n - 1].l.op == NN_OP_SOFTMAX; }
void nn_train_set_softmax_logits(nn_train *t, bool on) { t->logits = on; }
float *nn_train_grads(nn_train *t) { return t->grads; }
size_t nn_train_param_floats(const nn_train *t) { return t->grad_floats; }
const float *nn_train_input_grad(const nn_train *t) { return t->arena + t->layers[0].dact; }
void nn_train_set_step(nn_train *t, uint64_t step) { t->step = step; }
uint64_t nn_train_step(const nn_train *t) { return t->step; }
int nn_train_layers(const nn_train *t) { return t->n; }
const float *nn_train_layer_output(const nn_train *t, int i) { return t->arena + t->layers[i].act; }
const float *nn_train_layer_saved(const nn_train *t, int i)
{
    return cpu_train_aux_floats(&t->layers[i].l, 1) ? t->arena + t->layers[i].aux : NULL;
}
void nn_train_zero_grad(nn_train *t) { memset(t->grads, 0, t->grad_floats * sizeof(float)); }

/* Parameter r of layer l in the model (engine layout). */
static float *param(const nn_train *t, const nn_layer *l, int r)
{
    return t->m->params + nn_layer_param(&t->m->g, l, r)->offset;
}

nn_status nn_train_forward(nn_train *t, int batch, nn_err *err)
{
    if (batch < 1 || batch > t->max_batch)
        return nn_fail(err, NN_E_ARG, "batch %d outside [1, %d] of this training context", batch, t->max_batch);
    for (int i = 1; i < t->n; i++) {
        train_layer *tl = &t->layers[i];
        const nn_layer *l = &tl->l;
        cpu_fwd_args a = {.l = l, .out = t->arena + tl->act, .batch = batch, .scratch = t->scratch, .pool = t->pool};
        for (int k = 0; k < l->n_inputs; k++) {
            a.in[k] = t->arena + t->layers[l->inputs[k]].act;
            a.in_c[k] = t->layers[l->inputs[k]].l.out.c;
        }
        for (int k = 0; k < l->n_params && k < 4; k++) a.p[k] = param(t, l, k);
        if (l->op == NN_OP_BATCHNORM)
            cpu_batchnorm_forward_train(&a, param(t, l, 2), param(t, l, 3), t->arena + tl->aux);
        else if (l->op == NN_OP_DROPOUT)
            cpu_dropout_forward_train(&a, t->seed ^ (t->step * 0x100000001b3ull + (uint64_t)i * 0x9e3779b97f4a7c15ull),
                                      t->arena + tl->aux);
        else
            cpu_forward(&a);
    }
    t->step++;
    return NN_OK;
}

nn_status nn_train_backward(nn_train *t, int batch, const float *dy, nn_err *err)
{
    if (batch < 1 || batch > t->max_batch)
        return nn_fail(err, NN_E_ARG, "batch %d outside [1, %d] of this training context", batch, t->max_batch);
    for (int i = 0; i < t->n; i++)
        memset(t->arena + t->layers[i].dact, 0, t->layers[i].size * (size_t)batch * sizeof(float));
    int top = t->n - 1;
    if (t->logits && nn_train_softmax_output(t) && top > 0) top = t->layers[top].l.inputs[0];
    memcpy(t->arena + t->layers[top].dact, dy, t->layers[top].size * (size_t)batch * sizeof(float));
    for (int i = top; i >= 1; i--) {
        const train_layer *tl = &t->layers[i];
        const nn_layer *l = &tl->l;
        cpu_bwd_args a = {.l = l, .dy = t->arena + tl->dact, .out = t->arena + tl->act, .aux = t->arena + tl->aux,
                          .batch = batch, .scratch = t->scratch, .pool = t->pool};
        for (int k = 0; k < l->n_inputs; k++) {
            const train_layer *src = &t->layers[l->inputs[k]];
            a.d_in[k] = t->arena + src->dact;
            a.in[k] = t->arena + src->act;
            a.in_c[k] = src->l.out.c;
        }
        for (int k = 0; k < l->n_params && k < 4; k++) {
            const nn_param *p = nn_layer_param(&t->m->g, l, k);
            a.p[k] = t->m->params + p->offset;
            a.d_p[k] = p->trainable ? t->grads + p->offset : NULL;
        }
        cpu_backward(&a);
    }
    return NN_OK;
}
