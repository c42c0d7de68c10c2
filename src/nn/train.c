/* train.c — the training context, backend-neutral: argument checks, the dropout step, the
 * optimizer (its configuration, step count and host state) and the training step's order
 * (nn_train_step). Everything that touches the layers' buffers runs in the backend's executor
 * (backend.h: the CPU's in src/nn/cpu/train_cpu.c, the CUDA one in kernels/), which holds every
 * layer's output and gradient, the parameter gradients and, on a device, the parameters and
 * the optimizer state. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/backend.h"
#include "nn/cpu/cpu.h"
#include "nn/graph.h"
#include "nn/train.h"

struct nn_train {
    nn_model *m;
    int max_batch, n;
    uint64_t seed, step;
    bool logits;
    nn_backend backend;         /* never AUTO */
    const nn_train_ops *ops;    /* the backend's executor table */
    void *x;                    /* its executor */
    uint64_t *prof_fwd, *prof_bwd; /* nn_train_set_profile, or NULL */
    opt_state opt;              /* nn_train_opt_setup: config, steps, host state (the CPU's own, a device's copy) */
    bool opt_ready;
    nn_train_shard shard;       /* nn_train_set_shard: the executor points at this copy */
    bool sharded;
};

size_t nn_train_layout(const nn_graph *g, int max_batch, nn_train_layer *layers)
{
    size_t off = 0;
    for (int i = 0; i < g->n_layers; i++) {
        nn_train_layer *tl = &layers[i];
        tl->l = g->layers[i];
        tl->l.act = NN_ACT_NONE;
        tl->size = nn_shape_size(tl->l.out);
        const size_t buf = nn_train_round_up(tl->size * (size_t)max_batch);
        tl->act = off, off += buf;
        tl->dact = off, off += buf;
        tl->aux = off, off += nn_train_round_up(cpu_train_aux_floats(&tl->l, max_batch));
    }
    return off;
}

static nn_status batch_fail(const nn_train *t, int batch, nn_err *err)
{
    return nn_fail(err, NN_E_ARG, "batch %d outside [1, %d] of this training context", batch, t->max_batch);
}
#define CHECK_BATCH(t, batch, err) \
    if ((batch) < 1 || (batch) > (t)->max_batch) return batch_fail(t, batch, err)

nn_status nn_train_create_on(nn_train **out, nn_model *m, int max_batch, int threads, uint64_t seed,
                             nn_backend backend, nn_err *err)
{
    *out = NULL;
    const nn_backend_ops *b = NULL;
    if (backend == NN_BACKEND_AUTO) {
        (void)nn_backend_pick(backend, &b, err); /* AUTO always resolves */
    } else if (!(b = nn_backend_table(backend))) {
        char why[128];
        if (strcmp(nn_backend_name(backend), "?") == 0)
            return nn_fail(err, NN_E_ARG, "unknown backend %d", (int)backend);
        nn_backend_usable(backend, why, sizeof why);
        return nn_fail(err, NN_E_UNSUPPORTED, "%s: training on %s: %s", m->g.name, nn_backend_title(backend), why);
    }
    if (threads < 1 || threads > 256)
        return nn_fail(err, NN_E_ARG, "threads must be in [1, 256] (got %d)", threads);
    nn_status s = nn_graph_check_batch(&m->g, max_batch, err); /* every size below then fits */
    if (s)
        return s;
    nn_train *t = calloc(1, sizeof *t);
    if (!t) return nn_fail(err, NN_E_NOMEM, "out of memory");
    t->m = m;
    t->max_batch = max_batch;
    t->n = m->g.n_layers;
    t->seed = seed;
    t->logits = true;
    t->backend = b->id;
    t->ops = b->train;
    if ((s = t->ops->create(&t->x, m, max_batch, threads, err))) {
        nn_train_free(t);
        return s;
    }
    *out = t;
    return NN_OK;
}

nn_status nn_train_create(nn_train **out, nn_model *m, int max_batch, int threads, uint64_t seed, nn_err *err)
{
    return nn_train_create_on(out, m, max_batch, threads, seed, NN_BACKEND_CPU, err);
}

void nn_train_free(nn_train *t)
{
    if (!t) return;
    if (t->x) t->ops->free(t->x);
    free(t->opt.state);
    free(t);
}

nn_backend nn_train_backend(const nn_train *t) { return t->backend; }
float *nn_train_input(nn_train *t) { return t->ops->input(t->x); }
const float *nn_train_output(const nn_train *t) { return t->ops->output(t->x); }
int nn_train_output_size(const nn_train *t) { return (int)nn_shape_size(t->m->g.layers[t->n - 1].out); }
bool nn_train_softmax_output(const nn_train *t) { return t->m->g.layers[t->n - 1].op == NN_OP_SOFTMAX; }
void nn_train_set_softmax_logits(nn_train *t, bool on) { t->logits = on; }
float *nn_train_grads(nn_train *t) { return t->ops->grads(t->x); }
size_t nn_train_param_floats(const nn_train *t) { return t->m->g.n_param_floats; }
const float *nn_train_input_grad(const nn_train *t) { return t->ops->layer(t->x, 0, 1); }
void nn_train_set_step(nn_train *t, uint64_t step) { t->step = step; }
uint64_t nn_train_get_step(const nn_train *t) { return t->step; }
int nn_train_layers(const nn_train *t) { return t->n; }
const float *nn_train_layer_output(const nn_train *t, int i) { return t->ops->layer(t->x, i, 0); }
const float *nn_train_layer_saved(const nn_train *t, int i)
{
    if (!cpu_train_aux_floats(&t->m->g.layers[i], 1)) return NULL;
    return t->ops->layer(t->x, i, 2);
}
void nn_train_set_profile(nn_train *t, uint64_t *fwd_ns, uint64_t *bwd_ns)
{
    t->prof_fwd = fwd_ns;
    t->prof_bwd = bwd_ns;
}

void nn_train_zero_grad(nn_train *t) { t->ops->zero_grad(t->x); }

nn_status nn_train_forward(nn_train *t, int batch, nn_err *err)
{
    CHECK_BATCH(t, batch, err);
    nn_status s = t->ops->forward(t->x, batch, t->seed, t->step, t->prof_fwd, err);
    if (!s) t->step++;
    return s;
}

nn_status nn_train_backward(nn_train *t, int batch, const float *dy, nn_err *err)
{
    CHECK_BATCH(t, batch, err);
    int top = t->n - 1;
    if (t->logits && nn_train_softmax_output(t) && top > 0) top = t->m->g.layers[top].inputs[0];
    return t->ops->backward(t->x, batch, top, dy, t->prof_bwd, err);
}

nn_status nn_train_set_shard(nn_train *t, const nn_train_shard *s, nn_err *err)
{
    if (!t->ops->set_shard)
        return nn_fail(err, NN_E_UNSUPPORTED, "%s: data-parallel training is not implemented on the %s backend",
                       t->m->g.name, nn_backend_title(t->backend));
    if (s && (!s->sum_f64 || !s->sum_f32 || s->first < 0 || s->global_batch < 1 || s->first >= s->global_batch))
        return nn_fail(err, NN_E_ARG, "shard: first %d of global batch %d (and both sums) expected", s ? s->first : 0,
                       s ? s->global_batch : 0);
    if (s && !s->sum_dev_f64 != !s->sum_dev_f32)
        return nn_fail(err, NN_E_ARG, "shard: both device sums (f64 and f32) or neither expected");
    if (s) t->shard = *s;
    nn_status st = t->ops->set_shard(t->x, s ? &t->shard : NULL, err);
    t->sharded = !st && s;
    return st;
}

nn_status nn_train_sync_params(nn_train *t, bool to_device, nn_err *err)
{
    return t->ops->sync_params ? t->ops->sync_params(t->x, to_device, err) : NN_OK;
}

nn_status nn_train_loss(nn_train *t, nn_loss_kind kind, const int *labels, const float *targets, int batch,
                        float delta, double *loss, nn_err *err)
{
    CHECK_BATCH(t, batch, err);
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
    return t->ops->loss(t->x, kind, labels, targets, batch, delta, prob, loss, err);
}

/* ---------------------------------------------------------------------------- optimizer */

static nn_status no_opt(nn_err *err)
{
    return nn_fail(err, NN_E_ARG, "optimizer step before nn_train_opt_setup");
}

nn_status nn_train_opt_setup(nn_train *t, const opt_config *o, nn_err *err)
{
    if (t->opt_ready) return nn_fail(err, NN_E_ARG, "the optimizer of this training context is already set up");
    const size_t P = t->m->g.n_param_floats, n = opt_state_floats(o, P);
    float *state = calloc(n ? n : 1, sizeof *state);
    if (!state) return nn_fail(err, NN_E_NOMEM, "out of memory for the optimizer state (%zu floats)", n);
    nn_status s = opt_init(&t->opt, o, state, P, err);
    if (!s) s = t->ops->opt_setup(t->x, &t->opt, n, err);
    if (s) {
        free(state);
        memset(&t->opt, 0, sizeof t->opt);
        return s;
    }
    t->opt_ready = true;
    return NN_OK;
}

size_t nn_train_opt_state_floats(const nn_train *t)
{
    return t->opt_ready ? opt_state_floats(&t->opt.cfg, t->opt.n) : 0;
}

float *nn_train_opt_host(nn_train *t) { return t->opt.state; }
int64_t nn_train_opt_steps(const nn_train *t) { return t->opt.step; }
void nn_train_set_opt_steps(nn_train *t, int64_t steps) { t->opt.step = steps; }

nn_status nn_train_opt_state(nn_train *t, float *host, bool to_device, nn_err *err)
{
    if (!t->opt_ready) return no_opt(err);
    if (t->ops->sync_opt) return t->ops->sync_opt(t->x, host, to_device, err);
    const size_t n = nn_train_opt_state_floats(t) * sizeof(float);
    if (host != t->opt.state && n) memcpy(to_device ? t->opt.state : host, to_device ? host : t->opt.state, n);
    return NN_OK;
}

nn_status nn_train_sync(nn_train *t, bool to_device, nn_err *err)
{
    nn_status s = nn_train_sync_params(t, to_device, err);
    if (!s && t->opt_ready && t->ops->sync_opt) s = t->ops->sync_opt(t->x, t->opt.state, to_device, err);
    return s;
}

nn_status nn_train_clip_grad_norm(nn_train *t, float max_norm, float *norm, nn_err *err)
{
    return t->ops->clip(t->x, max_norm, norm, err);
}

nn_status nn_train_opt_step(nn_train *t, int64_t step, double lr, double weight_decay, nn_err *err)
{
    if (!t->opt_ready) return no_opt(err);
    t->opt.step = step;
    return t->ops->opt_step(t->x, &t->opt, lr, weight_decay, err);
}

/* ---------------------------------------------------------------------------- the step */

nn_status nn_train_step(nn_train *t, int batch, const nn_step_args *a, nn_step_result *r, nn_err *err)
{
    *r = (nn_step_result){.loss = 0, .grad_norm = 0, .output = NULL};
    if (!t->opt_ready) return no_opt(err);
    if (t->sharded && t->shard.first + batch > t->shard.global_batch)
        return nn_fail(err, NN_E_ARG, "batch %d from sample %d overruns the global batch %d", batch, t->shard.first,
                       t->shard.global_batch);
    nn_train_zero_grad(t);
    nn_status s = nn_train_forward(t, batch, err);
    if (!s) s = nn_train_loss(t, a->loss, a->labels, a->targets, batch, a->delta, &r->loss, err);
    if (s) return s;
    if (t->sharded) t->shard.sum_f64(t->shard.ctx, &r->loss, 1); /* the slices' shares of the global mean */
    if (!(r->output = nn_train_output(t)))
        return nn_fail(err, NN_E_DEVICE, "cannot read the model output back from the %s backend",
                       nn_backend_title(t->backend));
    if (!isfinite(r->loss)) return NN_OK; /* diverged: the caller says so */
    /* the norm is measured every step (clipping or not): a non-finite gradient stops here, before
     * relu/softmax clamps could hide NaN parameters behind a finite loss */
    if ((s = nn_train_backward(t, batch, NULL, err)))
        return s;
    if (t->sharded && (s = t->ops->sum_grads(t->x, err))) /* the replicas' gradients, before the clip */
        return s;
    if ((s = nn_train_clip_grad_norm(t, a->max_norm, &r->grad_norm, err)))
        return s;
    if (!isfinite(r->grad_norm)) return NN_OK;
    return nn_train_opt_step(t, t->opt.step + 1, a->lr, t->opt.cfg.weight_decay, err);
}
