/* backend_table.c — the CUDA backend's tables (src/nn/backend.h) over its extern "C" entry
 * points: the inference executor (backend_cuda.cu, src/nn/cuda_exec.h) and the training context
 * (train_cuda.cu, src/nn/train_cuda.h). Compiled only in CUDA builds; src/nn/backend.c
 * registers these tables. Besides forwarding, the training side keeps the host copies the API
 * hands out (gradients, and a mirror of layer outputs for diagnostics, made on first use). */
#include <stdlib.h>

#include "nn/backend.h"
#include "nn/cpu/cpu.h"
#include "nn/cuda_exec.h"
#include "nn/limits.h"
#include "nn/train_cuda.h"

/* ---- inference ---- */

static nn_status cuda_infer_create(void **out, const nn_plan *p, const nn_graph *g, const nn_infer_opts *o,
                                   int threads, nn_err *err)
{
    (void)threads;
    return nn_cuda_exec_create((nn_cuda_exec **)out, p, &g->pre, g->in_h, g->in_w, g->in_c, o->cuda_eager,
                               o->profile, o->cuda_conv_direct_macs, err);
}

static void cuda_infer_free(void *x) { nn_cuda_exec_free(x); }
static float *cuda_infer_input(void *x) { return nn_cuda_exec_input(x); }
static const float *cuda_infer_output(const void *x) { return nn_cuda_exec_output(x); }
static nn_status cuda_infer_run(void *x, int batch, uint64_t *step_ns, nn_err *err)
{
    return nn_cuda_exec_run(x, batch, step_ns, err);
}
static nn_status cuda_frame_reserve(void *x, size_t max_frame_bytes, nn_err *err)
{
    return nn_cuda_exec_frame_reserve(x, max_frame_bytes, err);
}
static nn_status cuda_frame(void *x, const uint8_t *rgb, int width, int height, int stride, nn_err *err)
{
    return nn_cuda_exec_frame(x, rgb, width, height, stride, err);
}

const nn_infer_ops nn_cuda_infer_ops = {
    .create = cuda_infer_create,
    .free = cuda_infer_free,
    .input = cuda_infer_input,
    .output = cuda_infer_output,
    .run = cuda_infer_run,
    .step = NULL, /* the steps run as one graph */
    .frame_reserve = cuda_frame_reserve,
    .frame = cuda_frame,
};

/* ---- training ---- */

typedef struct {
    nn_cuda_train *cu;
    int n, max_batch;
    nn_train_layer *layers;     /* the host layout of the mirror */
    size_t mirror_floats;
    float *host_grads;          /* nn_train_grads' host copy [n_param_floats] */
    float *mirror;              /* host copies of act / dact / aux, allocated on first use */
} cuda_train;

static void cuda_train_free(void *x)
{
    cuda_train *c = x;
    if (!c) return;
    nn_cuda_train_free(c->cu);
    free(c->layers);
    free(c->host_grads);
    free(c->mirror);
    free(c);
}

static nn_status cuda_train_create(void **out, nn_model *m, int max_batch, int threads, nn_err *err)
{
    (void)threads;
    *out = NULL;
    const nn_graph *g = &m->g;
    cuda_train *c = calloc(1, sizeof *c);
    if (!c) return nn_fail(err, NN_E_NOMEM, "out of memory");
    c->n = g->n_layers;
    c->max_batch = max_batch;
    c->layers = calloc((size_t)g->n_layers, sizeof *c->layers);
    c->host_grads = calloc(g->n_param_floats ? g->n_param_floats : 1, sizeof(float));
    if (!c->layers || !c->host_grads) {
        cuda_train_free(c);
        return nn_fail(err, NN_E_NOMEM, "%s: out of memory", g->name);
    }
    /* the mirror's layout (the CPU arena's), and about what the device holds */
    c->mirror_floats = nn_train_layout(g, max_batch, c->layers);
    nn_status s = nn_check_arena(g, "training", c->mirror_floats, max_batch, err);
    if (!s) s = nn_cuda_train_create(&c->cu, m, max_batch, err);
    if (s) {
        cuda_train_free(c);
        return s;
    }
    *out = c;
    return NN_OK;
}

static float *cuda_train_input(void *x) { return nn_cuda_train_input(((cuda_train *)x)->cu); }

static const float *cuda_train_output(void *x)
{
    nn_err err;
    return nn_cuda_train_output(((cuda_train *)x)->cu, &err);
}

static float *cuda_train_grads(void *x)
{
    cuda_train *c = x;
    nn_err err;
    return nn_cuda_train_grads(c->cu, c->host_grads, &err) ? NULL : c->host_grads;
}

static const float *cuda_train_layer(void *x, int i, int what)
{
    cuda_train *c = x;
    const nn_train_layer *tl = &c->layers[i];
    if (!c->mirror && !(c->mirror = calloc(c->mirror_floats ? c->mirror_floats : 1, sizeof(float))))
        return NULL;
    const size_t off = what == 0 ? tl->act : what == 1 ? tl->dact : tl->aux;
    const size_t n = what == 2 ? cpu_train_aux_floats(&tl->l, c->max_batch) : tl->size * (size_t)c->max_batch;
    nn_err err;
    return nn_cuda_train_layer(c->cu, i, what, c->mirror + off, n, &err) ? NULL : c->mirror + off;
}

static void cuda_train_zero_grad(void *x)
{
    nn_err err;
    (void)nn_cuda_train_zero_grad(((cuda_train *)x)->cu, &err); /* a failed enqueue resurfaces at the next wait */
}

static nn_status cuda_train_forward(void *x, int batch, uint64_t seed, uint64_t step, uint64_t *prof_ns,
                                    nn_err *err)
{
    return nn_cuda_train_forward(((cuda_train *)x)->cu, batch, seed, step, prof_ns, err);
}

static nn_status cuda_train_loss(void *x, nn_loss_kind kind, const int *labels, const float *targets, int batch,
                                 float delta, bool y_is_prob, double *loss, nn_err *err)
{
    return nn_cuda_train_loss(((cuda_train *)x)->cu, kind, labels, targets, batch, delta, y_is_prob, loss, err);
}

static nn_status cuda_train_backward(void *x, int batch, int top, const float *dy, uint64_t *prof_ns, nn_err *err)
{
    return nn_cuda_train_backward(((cuda_train *)x)->cu, batch, top, dy, prof_ns, err);
}

static nn_status cuda_train_clip(void *x, float max_norm, float *norm, nn_err *err)
{
    return nn_cuda_train_clip(((cuda_train *)x)->cu, max_norm, norm, err);
}

static nn_status cuda_train_opt_setup(void *x, const opt_state *o, size_t state_floats, nn_err *err)
{
    return nn_cuda_train_opt_setup(((cuda_train *)x)->cu, &o->cfg, state_floats, err);
}

static nn_status cuda_train_opt_step(void *x, opt_state *o, double lr, double weight_decay, nn_err *err)
{
    return nn_cuda_train_opt_step(((cuda_train *)x)->cu, o->step, lr, weight_decay, err);
}

static nn_status cuda_train_sync_params(void *x, bool to_device, nn_err *err)
{
    return nn_cuda_train_params(((cuda_train *)x)->cu, to_device, err);
}

static nn_status cuda_train_sync_opt(void *x, float *host, bool to_device, nn_err *err)
{
    return nn_cuda_train_opt_state(((cuda_train *)x)->cu, host, to_device, err);
}

static nn_status cuda_train_set_shard(void *x, const nn_train_shard *s, nn_err *err)
{
    return nn_cuda_train_set_shard(((cuda_train *)x)->cu, s, err);
}

static nn_status cuda_train_sum_grads(void *x, nn_err *err)
{
    return nn_cuda_train_sum_grads(((cuda_train *)x)->cu, err);
}

const nn_train_ops nn_cuda_train_ops = {
    .create = cuda_train_create,
    .free = cuda_train_free,
    .input = cuda_train_input,
    .output = cuda_train_output,
    .grads = cuda_train_grads,
    .layer = cuda_train_layer,
    .zero_grad = cuda_train_zero_grad,
    .forward = cuda_train_forward,
    .loss = cuda_train_loss,
    .backward = cuda_train_backward,
    .clip = cuda_train_clip,
    .opt_setup = cuda_train_opt_setup,
    .opt_step = cuda_train_opt_step,
    .sync_params = cuda_train_sync_params,
    .sync_opt = cuda_train_sync_opt,
    .set_shard = cuda_train_set_shard,   /* data parallelism: one GPU per replica (train_cuda.cu) */
    .sum_grads = cuda_train_sum_grads,
};
