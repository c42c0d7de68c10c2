/* train.c — the training context: every primitive layer of the graph runs in training mode
 * (batch-norm batch statistics + running-stat update, dropout masks, no folding or fusion) and
 * keeps its output; the backward walks the layers in reverse, accumulating activation gradients
 * (a value read by several layers sums their contributions) and parameter gradients.
 * One arena, sized once at create, holds for each layer i:
 *   act[i]  [max_batch, out_i]   output (act[0] is the input)
 *   dact[i] [max_batch, out_i]   dL/d(output)
 *   aux[i]  cpu_train_aux_floats (BN mean/istd, dropout mask)
 * then the parameter gradients [n_param_floats], the loss gradient of nn_train_loss [max_batch,
 * output] and the kernels' scratch (forward and backward).
 * On the CUDA backend (nn_train_create_on) the same calls go to kernels/train_cuda.cu, which
 * holds all of this on the device; this file then keeps only the layer list and host copies. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/cpu/cpu.h"
#include "nn/graph.h"
#include "nn/limits.h"
#include "nn/train.h"
#include "nn/train_cuda.h"

#define ALIGN_FLOATS 16 /* 64 bytes */

typedef struct {
    nn_layer l;                 /* copy, act forced to NN_ACT_NONE */
    size_t act, dact, aux;      /* arena offsets, floats */
    size_t size;                /* per-sample output floats */
    int zero_at;                /* backward: dact is zeroed just before this layer's backward (its first
                                   reader in reverse order, so the zeroed lines are still in cache when
                                   small); 0 = zeroed up front (no consumer runs: stays zero) */
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
    uint64_t *prof_fwd, *prof_bwd; /* nn_train_set_profile, or NULL */
    float *dloss;               /* nn_train_loss's gradient [max_batch, output] (CPU arena) */
    nn_backend backend;         /* NN_BACKEND_CPU or NN_BACKEND_CUDA */
    nn_cuda_train *cu;          /* CUDA: the device context (else NULL) */
    float *host_grads;          /* CUDA: nn_train_grads' host copy [n_param_floats] */
    float *mirror;              /* CUDA: lazily made host copy of act / dact / aux, offsets as the CPU's */
};

static size_t round_up(size_t n) { return (n + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS; }

/* A zeroed context with the fields both backends set first; NULL when out of memory. */
static nn_train *train_new(nn_model *m, int max_batch, uint64_t seed, nn_backend backend)
{
    nn_train *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->m = m;
    t->max_batch = max_batch;
    t->n = m->g.n_layers;
    t->seed = seed;
    t->logits = true;
    t->backend = backend;
    return t;
}

/* Each layer's place in the arena (activations, their gradients, the layer's own training
 * buffers), in graph order from offset 0, for t->max_batch images; returns the floats used. The
 * CPU arena and the CUDA backend's host mirror share this layout. */
static size_t layout_layers(nn_train *t)
{
    const nn_graph *g = &t->m->g;
    size_t off = 0;
    for (int i = 0; i < g->n_layers; i++) {
        train_layer *tl = &t->layers[i];
        tl->l = g->layers[i];
        tl->l.act = NN_ACT_NONE;
        tl->size = nn_shape_size(tl->l.out);
        const size_t buf = round_up(tl->size * (size_t)t->max_batch);
        tl->act = off, off += buf;
        tl->dact = off, off += buf;
        tl->aux = off, off += round_up(cpu_train_aux_floats(&tl->l, t->max_batch));
    }
    return off;
}

nn_status nn_train_create(nn_train **out, nn_model *m, int max_batch, int threads, uint64_t seed, nn_err *err)
{
    *out = NULL;
    if (threads < 1 || threads > 256)
        return nn_fail(err, NN_E_ARG, "threads must be in [1, 256] (got %d)", threads);
    const nn_graph *g = &m->g;
    nn_status s = nn_graph_check_batch(g, max_batch, err); /* every size below then fits */
    if (s)
        return s;
    nn_train *t = train_new(m, max_batch, seed, NN_BACKEND_CPU);
    if (!t) return nn_fail(err, NN_E_NOMEM, "out of memory");
    t->layers = calloc((size_t)g->n_layers, sizeof *t->layers);
    if (!t->layers) {
        nn_train_free(t);
        return nn_fail(err, NN_E_NOMEM, "%s: out of memory", g->name);
    }
    size_t off = layout_layers(t), scratch = 0;
    for (int i = 1; i < g->n_layers; i++) {
        const size_t s1 = cpu_scratch_floats(&t->layers[i].l, max_batch, threads);
        const size_t s2 = cpu_bwd_scratch_floats(&t->layers[i].l, max_batch, threads);
        if (s1 > scratch) scratch = s1;
        if (s2 > scratch) scratch = s2;
    }
    t->grad_floats = g->n_param_floats;
    const size_t grads_off = off;
    off += round_up(g->n_param_floats);
    const size_t dloss_off = off;
    off += round_up(t->layers[g->n_layers - 1].size * (size_t)max_batch);
    const size_t scratch_off = off;
    off += round_up(scratch) + ALIGN_FLOATS;
    if ((s = nn_check_arena(g, "training", off, max_batch, err))) {
        nn_train_free(t);
        return s;
    }
    t->arena = aligned_alloc(64, off * sizeof(float));
    if (!t->arena) {
        nn_train_free(t);
        return nn_fail(err, NN_E_NOMEM, "%s: cannot allocate a %zu-byte training arena for batch %d", g->name,
                       off * sizeof(float), max_batch);
    }
    memset(t->arena, 0, off * sizeof(float));
    t->grads = t->arena + grads_off;
    t->dloss = t->arena + dloss_off;
    t->scratch = t->arena + scratch_off;
    s = nn_pool_create(&t->pool, threads, err);
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
#ifdef NN_HAVE_CUDA
    nn_cuda_train_free(t->cu);
#endif
    free(t->host_grads);
    free(t->mirror);
    nn_pool_free(t->pool);
    free(t->arena);
    free(t->layers);
    free(t);
}

float *nn_train_input(nn_train *t)
{
#ifdef NN_HAVE_CUDA
    if (t->cu) return nn_cuda_train_input(t->cu);
#endif
    return t->arena + t->layers[0].act;
}
const float *nn_train_output(const nn_train *t)
{
#ifdef NN_HAVE_CUDA
    nn_err err;
    if (t->cu) return nn_cuda_train_output(t->cu, &err);
#endif
    return t->arena + t->layers[t->n - 1].act;
}
int nn_train_output_size(const nn_train *t) { return (int)t->layers[t->n - 1].size; }
bool nn_train_softmax_output(const nn_train *t) { return t->layers[t->n - 1].l.op == NN_OP_SOFTMAX; }
void nn_train_set_softmax_logits(nn_train *t, bool on) { t->logits = on; }
float *nn_train_grads(nn_train *t)
{
#ifdef NN_HAVE_CUDA
    nn_err err;
    if (t->cu) return nn_cuda_train_grads(t->cu, t->host_grads, &err) ? NULL : t->host_grads;
#endif
    return t->grads;
}
size_t nn_train_param_floats(const nn_train *t) { return t->grad_floats; }
static const float *mirrored(const nn_train *t, int i, int what);
const float *nn_train_input_grad(const nn_train *t)
{
    return t->cu ? mirrored(t, 0, 1) : t->arena + t->layers[0].dact;
}
void nn_train_set_step(nn_train *t, uint64_t step) { t->step = step; }
uint64_t nn_train_step(const nn_train *t) { return t->step; }
int nn_train_layers(const nn_train *t) { return t->n; }
const float *nn_train_layer_output(const nn_train *t, int i)
{
    return t->cu ? mirrored(t, i, 0) : t->arena + t->layers[i].act;
}
const float *nn_train_layer_saved(const nn_train *t, int i)
{
    if (!cpu_train_aux_floats(&t->layers[i].l, 1)) return NULL;
    return t->cu ? mirrored(t, i, 2) : t->arena + t->layers[i].aux;
}
void nn_train_set_profile(nn_train *t, uint64_t *fwd_ns, uint64_t *bwd_ns)
{
    t->prof_fwd = fwd_ns;
    t->prof_bwd = bwd_ns;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void nn_train_zero_grad(nn_train *t)
{
#ifdef NN_HAVE_CUDA
    nn_err err;
    if (t->cu) {
        (void)nn_cuda_train_zero_grad(t->cu, &err); /* a failed enqueue resurfaces at the next wait */
        return;
    }
#endif
    memset(t->grads, 0, t->grad_floats * sizeof(float));
}

/* Parameter r of layer l in the model (engine layout). */
static float *param(const nn_train *t, const nn_layer *l, int r)
{
    return t->m->params + nn_layer_param(&t->m->g, l, r)->offset;
}

nn_status nn_train_forward(nn_train *t, int batch, nn_err *err)
{
    if (batch < 1 || batch > t->max_batch)
        return nn_fail(err, NN_E_ARG, "batch %d outside [1, %d] of this training context", batch, t->max_batch);
#ifdef NN_HAVE_CUDA
    if (t->cu) {
        nn_status s = nn_cuda_train_forward(t->cu, batch, t->seed, t->step, t->prof_fwd, err);
        if (!s) t->step++;
        return s;
    }
#endif
    for (int i = 1; i < t->n; i++) {
        const uint64_t t0 = t->prof_fwd ? now_ns() : 0;
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
            cpu_dropout_forward_train(&a, nn_train_dropout_seed(t->seed, t->step, i),
                                      t->arena + tl->aux);
        else
            cpu_forward(&a);
        if (t->prof_fwd) t->prof_fwd[i] += now_ns() - t0;
    }
    t->step++;
    return NN_OK;
}

nn_status nn_train_backward(nn_train *t, int batch, const float *dy, nn_err *err)
{
    if (batch < 1 || batch > t->max_batch)
        return nn_fail(err, NN_E_ARG, "batch %d outside [1, %d] of this training context", batch, t->max_batch);
    int top = t->n - 1;
    if (t->logits && nn_train_softmax_output(t) && top > 0) top = t->layers[top].l.inputs[0];
#ifdef NN_HAVE_CUDA
    if (t->cu) return nn_cuda_train_backward(t->cu, batch, top, dy, t->prof_bwd, err);
#endif
    if (!dy) dy = t->dloss; /* the gradient of the last nn_train_loss */
    for (int i = 0; i < t->n; i++) t->layers[i].zero_at = 0;
    for (int j = 1; j <= top; j++)
        for (int k = 0; k < t->layers[j].l.n_inputs; k++) {
            train_layer *src = &t->layers[t->layers[j].l.inputs[k]];
            if (j > src->zero_at) src->zero_at = j;
        }
    for (int i = 0; i < t->n; i++)
        if (i != top && t->layers[i].zero_at == 0)
            memset(t->arena + t->layers[i].dact, 0, t->layers[i].size * (size_t)batch * sizeof(float));
    memcpy(t->arena + t->layers[top].dact, dy, t->layers[top].size * (size_t)batch * sizeof(float));
    for (int i = top; i >= 1; i--) {
        const uint64_t t0 = t->prof_bwd ? now_ns() : 0;
        const train_layer *tl = &t->layers[i];
        const nn_layer *l = &tl->l;
        bool overwrite = false;
        for (int k = 0; k < l->n_inputs; k++) {
            const train_layer *src = &t->layers[l->inputs[k]];
            if (src->zero_at != i) continue;
            if (l->n_inputs == 1 && cpu_bwd_overwrites(l)) overwrite = true; /* the kernel writes it */
            else memset(t->arena + src->dact, 0, src->size * (size_t)batch * sizeof(float)); /* (twice when read twice: harmless) */
        }
        cpu_bwd_args a = {.l = l, .dy = t->arena + tl->dact, .out = t->arena + tl->act, .aux = t->arena + tl->aux,
                          .batch = batch, .scratch = t->scratch, .pool = t->pool, .overwrite = overwrite};
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
        if (t->prof_bwd) t->prof_bwd[i] += now_ns() - t0;
    }
    return NN_OK;
}

/* ---------------------------------------------------------------------------- backends */

nn_backend nn_train_backend(const nn_train *t) { return t->backend; }

/* Host copy of layer i's act (what 0), dact (1) or aux (2) from the device, in a mirror laid out
 * as the CPU arena would be (allocated on first use: diagnostics only). NULL on failure. */
static const float *mirrored(const nn_train *t, int i, int what)
{
#ifdef NN_HAVE_CUDA
    nn_train *mt = (nn_train *)t; /* the mirror is a cache, not the context's state */
    const train_layer *tl = &t->layers[i];
    if (!mt->mirror) {
        size_t total = 0;
        for (int k = 0; k < t->n; k++) {
            const train_layer *x = &t->layers[k];
            total = x->aux + round_up(cpu_train_aux_floats(&x->l, t->max_batch));
        }
        mt->mirror = calloc(total ? total : 1, sizeof(float));
        if (!mt->mirror) return NULL;
    }
    const size_t off = what == 0 ? tl->act : what == 1 ? tl->dact : tl->aux;
    const size_t n = what == 2 ? cpu_train_aux_floats(&tl->l, t->max_batch) : tl->size * (size_t)t->max_batch;
    nn_err err;
    return nn_cuda_train_layer(t->cu, i, what, mt->mirror + off, n, &err) ? NULL : mt->mirror + off;
#else
    (void)t, (void)i, (void)what;
    return NULL;
#endif
}

nn_status nn_train_create_on(nn_train **out, nn_model *m, int max_batch, int threads, uint64_t seed,
                             nn_backend backend, nn_err *err)
{
    *out = NULL;
    if (backend == NN_BACKEND_AUTO) backend = nn_cuda_available(NULL, 0) ? NN_BACKEND_CUDA : NN_BACKEND_CPU;
    if (backend == NN_BACKEND_CPU) {
        nn_status s = nn_train_create(out, m, max_batch, threads, seed, err);
        if (!s) (*out)->backend = NN_BACKEND_CPU;
        return s;
    }
    if (backend != NN_BACKEND_CUDA) return nn_fail(err, NN_E_ARG, "unknown backend %d", (int)backend);
#ifndef NN_HAVE_CUDA
    (void)threads, (void)seed;
    return nn_fail(err, NN_E_UNSUPPORTED, "%s: training on CUDA: this build has no CUDA backend", m->g.name);
#else
    const nn_graph *g = &m->g;
    nn_status s = nn_graph_check_batch(g, max_batch, err);
    if (s)
        return s;
    nn_train *t = train_new(m, max_batch, seed, NN_BACKEND_CUDA);
    if (!t) return nn_fail(err, NN_E_NOMEM, "out of memory");
    t->grad_floats = g->n_param_floats;
    t->layers = calloc((size_t)g->n_layers, sizeof *t->layers);
    t->host_grads = calloc(g->n_param_floats ? g->n_param_floats : 1, sizeof(float));
    if (!t->layers || !t->host_grads) {
        nn_train_free(t);
        return nn_fail(err, NN_E_NOMEM, "%s: out of memory", g->name);
    }
    /* the mirror's layout (the CPU arena's), and about what the device holds */
    if ((s = nn_check_arena(g, "training", layout_layers(t), max_batch, err))) {
        nn_train_free(t);
        return s;
    }
    s = nn_cuda_train_create(&t->cu, m, max_batch, err);
    if (s) {
        nn_train_free(t);
        return s;
    }
    *out = t;
    return NN_OK;
#endif
}

nn_status nn_train_sync_params(nn_train *t, bool to_device, nn_err *err)
{
#ifdef NN_HAVE_CUDA
    if (t->cu) return nn_cuda_train_params(t->cu, to_device, err);
#endif
    (void)t, (void)to_device, (void)err;
    return NN_OK;
}

nn_status nn_train_loss(nn_train *t, nn_loss_kind kind, const int *labels, const float *targets, int batch,
                        float delta, double *loss, nn_err *err)
{
    if (batch < 1 || batch > t->max_batch)
        return nn_fail(err, NN_E_ARG, "batch %d outside [1, %d] of this training context", batch, t->max_batch);
    if (kind != NN_LOSS_CE && kind != NN_LOSS_MSE && kind != NN_LOSS_HUBER)
        return nn_fail(err, NN_E_ARG, "unknown loss kind %d", (int)kind);
    if (kind == NN_LOSS_CE ? !labels : !targets)
        return nn_fail(err, NN_E_ARG, "loss %s without %s", kind == NN_LOSS_CE ? "cross_entropy" : "mse/huber",
                       kind == NN_LOSS_CE ? "labels" : "targets");
    if (kind == NN_LOSS_HUBER && !(delta > 0.0f))
        return nn_fail(err, NN_E_ARG, "huber loss: delta must be > 0 (got %g)", (double)delta);
    const bool prob = nn_train_softmax_output(t);
    if (prob && !t->logits)
        return nn_fail(err, NN_E_ARG, "loss on a softmax output needs logits mode (its gradient is w.r.t. the logits)");
    const int n = nn_train_output_size(t);
#ifdef NN_HAVE_CUDA
    if (t->cu) return nn_cuda_train_loss(t->cu, kind, labels, targets, batch, delta, prob, loss, err);
#endif
    const float *y = nn_train_output(t);
    if (kind == NN_LOSS_CE) *loss = nn_loss_softmax_ce(y, prob, labels, batch, n, t->dloss);
    else if (kind == NN_LOSS_MSE) *loss = nn_loss_mse(y, targets, batch, n, t->dloss);
    else *loss = nn_loss_huber(y, targets, batch, n, delta, t->dloss);
    return NN_OK;
}

static nn_status cpu_no_opt(nn_err *err)
{
    return nn_fail(err, NN_E_UNSUPPORTED, "the device optimizer needs the CUDA backend (the CPU trainer runs "
                                          "src/train/optim.c on nn_train_grads)");
}

size_t nn_train_opt_state_floats(const nn_train *t)
{
#ifdef NN_HAVE_CUDA
    if (t->cu) return nn_cuda_train_opt_state_floats(t->cu);
#endif
    (void)t;
    return 0;
}

nn_status nn_train_opt_setup(nn_train *t, const nn_opt_cfg *o, nn_err *err)
{
#ifdef NN_HAVE_CUDA
    if (t->cu) {
        if (o->kind < 0 || o->kind > 2) return nn_fail(err, NN_E_ARG, "optimizer: unknown kind %d", o->kind);
        const size_t n = o->kind == 0 ? (o->momentum > 0.0 ? t->grad_floats : 0) : 2 * t->grad_floats;
        return nn_cuda_train_opt_setup(t->cu, o, n, err);
    }
#endif
    (void)t, (void)o;
    return cpu_no_opt(err);
}

nn_status nn_train_opt_state(nn_train *t, float *host, bool to_device, nn_err *err)
{
#ifdef NN_HAVE_CUDA
    if (t->cu) return nn_cuda_train_opt_state(t->cu, host, to_device, err);
#endif
    (void)t, (void)host, (void)to_device;
    return cpu_no_opt(err);
}

nn_status nn_train_clip_grad_norm(nn_train *t, float max_norm, float *norm, nn_err *err)
{
#ifdef NN_HAVE_CUDA
    if (t->cu) return nn_cuda_train_clip(t->cu, max_norm, norm, err);
#endif
    (void)t, (void)max_norm, (void)norm;
    return cpu_no_opt(err);
}

nn_status nn_train_opt_step(nn_train *t, int64_t step, double lr, double weight_decay, nn_err *err)
{
#ifdef NN_HAVE_CUDA
    if (t->cu) return nn_cuda_train_opt_step(t->cu, step, lr, weight_decay, err);
#endif
    (void)t, (void)step, (void)lr, (void)weight_decay;
    return cpu_no_opt(err);
}
