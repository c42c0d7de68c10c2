/* train_cuda.cu — the GPU training context (src/nn/train_cuda.h): every primitive layer of the
 * graph runs in training mode on one stream, the CPU context's structure (src/nn/cpu/train_cpu.c) on
 * the device. Sized once at create, one device arena (256-byte aligned pieces):
 *   params [Pd]  grads [Pd]  trainable mask [Pd bytes]  (Pd: the device layout of the parameters,
 *   every tensor on 256 bytes, gaps zero and masked off: src/nn/dev_layout.h; host transfers go
 *   through a pinned staging image [Pd] and pack / unpack)
 *   act[i] [max_batch, out_i] for every layer (act[0] = the input)
 *   dact[i] [max_batch, out_i], contiguous for all layers (one memset zeroes them)
 *   aux[i] (batch norm mean/istd [2][C], dropout mask [max_batch, out_i])
 *   dloss [max_batch, out], labels [max_batch] int, targets [max_batch, out], loss (double),
 *   norm (float), loss scratch, norm scratch
 * plus the environment's workspace (cu_env_reserve: the largest per-layer training scratch and
 * cuDNN workspace), the optimizer state (allocated once by opt_setup), and pinned host buffers
 * for the input, output, labels, targets, loss and norm. Forward: upload the input, each layer's
 * training forward (conv2d: conv2d_bwd.cu on engine-layout weights; batch norm with batch
 * statistics; dropout with the CPU's masks; the rest: the inference launchers, cu_forward,
 * whose unfused forms are the training forms), download the output. Backward: zero the
 * gradients of the activations, seed the top one, cu_backward from the top layer down.
 * Data parallelism (nn_cuda_train_set_shard, train.h): batch norm sums its statistics across the
 * replicas (shard.cu), dropout draws by global element index, the loss divides by the global
 * batch, and nn_cuda_train_sum_grads adds the whole gradient buffer [Pd] across them (one sum;
 * staged through h_stage when the shard has no device sums; h_sums: the batch norms' staging). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "body/loss.h"
#include "cuda_train.h"
#include "nn/train_cuda.h"

#define A256(n) (((n) + 255) / 256 * 256)

typedef struct {
    nn_layer l;                   /* act forced to NN_ACT_NONE */
    size_t size;                  /* per-sample output floats */
    size_t act, dact, aux;        /* arena offsets, bytes */
    size_t aux_floats;
    cu_conv_train *conv;          /* conv2d only */
} cu_tlayer;

struct nn_cuda_train {
    nn_model *m;
    int max_batch, n, out_size, in_size;
    cu_env env;
    bool env_ok;
    cu_tlayer *layers;
    char *arena;
    size_t dact_off, dact_bytes;
    float *params, *grads, *dloss, *targets;
    unsigned char *mask;
    int *labels;
    double *loss_dev;
    float *norm_dev;
    void *loss_scratch, *norm_scratch;
    size_t P;                     /* the engine's parameter floats (host layout) */
    size_t Pd;                    /* the device layout's floats (dp.dev_floats) */
    nn_dev_params dp;
    float *h_stage;               /* pinned [Pd]: parameters / gradients / optimizer state in device layout */
    float *state;                 /* optimizer state (device, slices of Pd), NULL until opt_setup */
    size_t state_floats;          /* host floats (slices of P), as opt_state_floats counts them */
    size_t state_slices;
    opt_config opt;
    bool opt_ready;
    float *h_in, *h_out, *h_targets, *h_norm; /* pinned */
    int *h_labels;
    double *h_loss;
    bool out_pending;
    nn_train_shard shard;         /* nn_cuda_train_set_shard's copy; sh.s points at it when set */
    cu_shard sh;
    double *h_sums;               /* pinned [2 x the widest batch norm's channels] (first set_shard) */
};

static float *fptr(const nn_cuda_train *c, size_t off) { return (float *)(c->arena + off); }

static size_t aux_floats(const nn_layer *l, int batch)
{
    if (l->op == NN_OP_BATCHNORM) return 2 * (size_t)l->in.c;
    if (l->op == NN_OP_DROPOUT) return (size_t)batch * nn_shape_size(l->out);
    return 0;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

enum { CUDNN_WS_CAP = 512 << 20 }; /* the most cuDNN workspace one convolution may take */

static nn_status create(nn_cuda_train *c, nn_model *m, int max_batch, nn_err *err)
{
    const nn_graph *g = &m->g;
    c->m = m;
    c->max_batch = max_batch;
    c->n = g->n_layers;
    c->P = g->n_param_floats;
    c->layers = (cu_tlayer *)calloc((size_t)c->n, sizeof *c->layers);
    if (!c->layers) return nn_fail(err, NN_E_NOMEM, "%s: out of memory", g->name);
    nn_status s = nn_dev_params_graph(&c->dp, g, err);
    if (s) return s;
    c->Pd = c->dp.dev_floats;
    s = cu_env_create(&c->env, err);
    if (s) return s;
    c->env_ok = true;
    /* layout */
    size_t off = 0, ws = 0;
    const size_t pb = A256(c->Pd * sizeof(float));
    const size_t params_off = off; off += pb;
    const size_t grads_off = off; off += pb;
    const size_t mask_off = off; off += A256(c->Pd);
    for (int i = 0; i < c->n; i++) {
        cu_tlayer *t = &c->layers[i];
        t->l = g->layers[i];
        t->l.act = NN_ACT_NONE;
        t->size = nn_shape_size(t->l.out);
        t->act = off, off += A256(t->size * (size_t)max_batch * sizeof(float));
        t->aux_floats = aux_floats(&t->l, max_batch);
        t->aux = off, off += A256(t->aux_floats * sizeof(float));
        if (i == 0) continue;
        const size_t need = cu_train_scratch_bytes(&t->l, max_batch);
        if (need > ws) ws = need;
        if (t->l.op == NN_OP_CONV2D) {
            size_t conv_need = 0;
            if ((s = cu_conv_train_create(&t->conv, &c->env, &t->l, max_batch, CUDNN_WS_CAP, &conv_need, err)))
                return s;
            if (conv_need > ws) ws = conv_need;
        }
    }
    c->dact_off = off;
    for (int i = 0; i < c->n; i++) {
        cu_tlayer *t = &c->layers[i];
        t->dact = off, off += A256(t->size * (size_t)max_batch * sizeof(float));
    }
    c->dact_bytes = off - c->dact_off;
    c->out_size = (int)c->layers[c->n - 1].size;
    c->in_size = (int)c->layers[0].size;
    const size_t outs = (size_t)max_batch * c->out_size;
    const size_t dloss_off = off; off += A256(outs * sizeof(float));
    const size_t labels_off = off; off += A256((size_t)max_batch * sizeof(int));
    const size_t targets_off = off; off += A256(outs * sizeof(float));
    const size_t loss_off = off; off += 256;
    const size_t norm_off = off; off += 256;
    const size_t lscr_off = off; off += A256(cu_loss_scratch_bytes(max_batch, c->out_size));
    const size_t nscr_off = off; off += A256(cu_norm_scratch_bytes(c->Pd));
    CU_TRY(cudaMalloc((void **)&c->arena, off));
    CU_TRY(cudaMemsetAsync(c->arena, 0, off, c->env.stream));
    if (ws && (s = cu_env_reserve(&c->env, ws, err))) return s;
    c->params = fptr(c, params_off);
    c->grads = fptr(c, grads_off);
    c->mask = (unsigned char *)(c->arena + mask_off);
    c->dloss = fptr(c, dloss_off);
    c->labels = (int *)(c->arena + labels_off);
    c->targets = fptr(c, targets_off);
    c->loss_dev = (double *)(c->arena + loss_off);
    c->norm_dev = fptr(c, norm_off);
    c->loss_scratch = c->arena + lscr_off;
    c->norm_scratch = c->arena + nscr_off;
    /* pinned host buffers */
    CU_TRY(cudaMallocHost((void **)&c->h_in, (size_t)max_batch * c->in_size * sizeof(float) + 16));
    CU_TRY(cudaMallocHost((void **)&c->h_out, outs * sizeof(float) + 16));
    CU_TRY(cudaMallocHost((void **)&c->h_targets, outs * sizeof(float) + 16));
    CU_TRY(cudaMallocHost((void **)&c->h_labels, (size_t)max_batch * sizeof(int) + 16));
    CU_TRY(cudaMallocHost((void **)&c->h_loss, sizeof(double)));
    CU_TRY(cudaMallocHost((void **)&c->h_norm, sizeof(float)));
    CU_TRY(cudaMallocHost((void **)&c->h_stage, c->Pd * sizeof(float)));
    memset(c->h_in, 0, (size_t)max_batch * c->in_size * sizeof(float));
    /* every device tensor on 256 bytes (dev_layout.h): checked once, an internal error if not */
    for (int i = 0; i < c->n; i++)
        if (!nn_dev_aligned(fptr(c, c->layers[i].act)) || !nn_dev_aligned(fptr(c, c->layers[i].dact)))
            return nn_fail(err, NN_E_DEVICE, "internal: activation of layer '%s' not on %zu bytes", c->layers[i].l.name,
                           NN_DEV_ALIGN);
    for (int p = 0; p < g->n_params; p++)
        if (!nn_dev_aligned(c->params + nn_dev_params_map(&c->dp, g->params[p].offset)))
            return nn_fail(err, NN_E_DEVICE, "internal: parameter '%s' not on %zu bytes", g->params[p].name,
                           NN_DEV_ALIGN);
    if (c->env.ws && !nn_dev_aligned(c->env.ws))
        return nn_fail(err, NN_E_DEVICE, "internal: workspace not on %zu bytes", NN_DEV_ALIGN);
    /* trainable mask (the layout's gaps: 0), then the parameters */
    unsigned char *mask = (unsigned char *)calloc(c->Pd, 1);
    if (!mask) return nn_fail(err, NN_E_NOMEM, "%s: out of memory", g->name);
    for (int p = 0; p < g->n_params; p++)
        if (g->params[p].trainable)
            memset(mask + nn_dev_params_map(&c->dp, g->params[p].offset), 1, g->params[p].count);
    cudaError_t e = cudaMemcpyAsync(c->mask, mask, c->Pd, cudaMemcpyHostToDevice, c->env.stream);
    if (e == cudaSuccess) e = cudaStreamSynchronize(c->env.stream); /* before mask is freed */
    free(mask);
    CU_TRY(e);
    return nn_cuda_train_params(c, true, err);
}

extern "C" nn_status nn_cuda_train_create(nn_cuda_train **out, nn_model *m, int max_batch, nn_err *err)
{
    *out = NULL;
    char why[160];
    if (!nn_cuda_probe(why, sizeof why)) return nn_fail(err, NN_E_DEVICE, "%s", why);
    nn_cuda_train *c = (nn_cuda_train *)calloc(1, sizeof *c);
    if (!c) return nn_fail(err, NN_E_NOMEM, "out of memory");
    nn_status s = create(c, m, max_batch, err);
    if (s) {
        nn_cuda_train_free(c);
        return s;
    }
    *out = c;
    return NN_OK;
}

extern "C" void nn_cuda_train_free(nn_cuda_train *c)
{
    if (!c) return;
    if (c->env_ok) cudaStreamSynchronize(c->env.stream);
    if (c->layers)
        for (int i = 0; i < c->n; i++) cu_conv_train_free(c->layers[i].conv);
    free(c->layers);
    cudaFree(c->arena);
    cudaFree(c->state);
    cudaFreeHost(c->h_in);
    cudaFreeHost(c->h_out);
    cudaFreeHost(c->h_targets);
    cudaFreeHost(c->h_labels);
    cudaFreeHost(c->h_loss);
    cudaFreeHost(c->h_norm);
    cudaFreeHost(c->h_stage);
    cudaFreeHost(c->h_sums);
    if (c->env_ok) cu_env_free(&c->env);
    nn_dev_params_free(&c->dp);
    free(c);
}

extern "C" float *nn_cuda_train_input(nn_cuda_train *c) { return c->h_in; }

/* Device pointer of parameter r of layer l. */
static float *param(const nn_cuda_train *c, const nn_layer *l, int r)
{
    return c->params + nn_dev_params_map(&c->dp, nn_layer_param(&c->m->g, l, r)->offset);
}

static nn_status layer_forward(nn_cuda_train *c, int i, int batch, uint64_t seed, uint64_t step, nn_err *err)
{
    cu_tlayer *t = &c->layers[i];
    const nn_layer *l = &t->l;
    cu_fwd_args a;
    memset(&a, 0, sizeof a);
    a.env = &c->env;
    a.l = l;
    a.out = fptr(c, t->act);
    a.batch = batch;
    for (int k = 0; k < l->n_inputs; k++) {
        const cu_tlayer *src = &c->layers[l->inputs[k]];
        a.in[k] = fptr(c, src->act);
        a.in_c[k] = src->l.out.c;
    }
    for (int k = 0; k < l->n_params && k < 4; k++) a.p[k] = param(c, l, k);
    switch (l->op) {
    case NN_OP_CONV2D: return cu_conv2d_forward_train(&a, t->conv, err);
    case NN_OP_BATCHNORM:
        return cu_batchnorm_forward_train(&a, param(c, l, 2), param(c, l, 3), fptr(c, t->aux), &c->sh, err);
    case NN_OP_DROPOUT: /* masks by the element's index in the whole (data-parallel) batch */
        return cu_dropout_forward_train(&a, nn_train_dropout_seed(seed, step, i),
                                        c->sh.s ? (uint64_t)c->sh.s->first * t->size : 0, fptr(c, t->aux), err);
    default: return cu_forward(&a, err);
    }
}

extern "C" nn_status nn_cuda_train_forward(nn_cuda_train *c, int batch, uint64_t seed, uint64_t step, uint64_t *prof_ns,
                                           nn_err *err)
{
    cudaStream_t st = c->env.stream;
    CU_TRY(cudaMemcpyAsync(fptr(c, c->layers[0].act), c->h_in, (size_t)batch * c->in_size * sizeof(float),
                           cudaMemcpyHostToDevice, st));
    for (int i = 1; i < c->n; i++) {
        const uint64_t t0 = prof_ns ? now_ns() : 0;
        nn_status s = layer_forward(c, i, batch, seed, step, err);
        if (s) return s;
        if (prof_ns) {
            CU_TRY(cudaStreamSynchronize(st));
            prof_ns[i] += now_ns() - t0;
        }
    }
    CU_TRY(cudaMemcpyAsync(c->h_out, fptr(c, c->layers[c->n - 1].act), (size_t)batch * c->out_size * sizeof(float),
                           cudaMemcpyDeviceToHost, st));
    c->out_pending = true;
    return NN_OK;
}

static nn_status wait_output(nn_cuda_train *c, nn_err *err)
{
    if (c->out_pending) {
        c->out_pending = false;
        CU_TRY(cudaStreamSynchronize(c->env.stream));
    }
    return NN_OK;
}

extern "C" const float *nn_cuda_train_output(nn_cuda_train *c, nn_err *err)
{
    return wait_output(c, err) ? NULL : c->h_out;
}

extern "C" nn_status nn_cuda_train_loss(nn_cuda_train *c, nn_loss_kind kind, const int *labels, const float *targets,
                                        int batch, float delta, bool y_is_prob, double *loss, nn_err *err)
{
    cudaStream_t st = c->env.stream;
    const float *y = fptr(c, c->layers[c->n - 1].act);
    nn_status s = wait_output(c, err); /* the pinned staging below may not race a pending copy */
    if (s) return s;
    const int denom = loss_divisor(batch, c->sh.s ? c->sh.s->global_batch : 0);
    if (kind == NN_LOSS_CE) {
        memcpy(c->h_labels, labels, (size_t)batch * sizeof(int));
        CU_TRY(cudaMemcpyAsync(c->labels, c->h_labels, (size_t)batch * sizeof(int), cudaMemcpyHostToDevice, st));
        s = cu_loss_softmax_ce(&c->env, y, y_is_prob, c->labels, batch, c->out_size, denom, c->dloss, c->loss_dev,
                               c->loss_scratch, err);
    } else {
        const size_t n = (size_t)batch * c->out_size;
        memcpy(c->h_targets, targets, n * sizeof(float));
        CU_TRY(cudaMemcpyAsync(c->targets, c->h_targets, n * sizeof(float), cudaMemcpyHostToDevice, st));
        s = kind == NN_LOSS_HUBER ? cu_loss_huber(&c->env, y, c->targets, batch, c->out_size, denom, delta,
                                                  c->dloss, c->loss_dev, c->loss_scratch, err)
                                  : cu_loss_mse(&c->env, y, c->targets, batch, c->out_size, denom, c->dloss,
                                                c->loss_dev, c->loss_scratch, err);
    }
    if (s) return s;
    CU_TRY(cudaMemcpyAsync(c->h_loss, c->loss_dev, sizeof(double), cudaMemcpyDeviceToHost, st));
    CU_TRY(cudaStreamSynchronize(st));
    *loss = *c->h_loss;
    return NN_OK;
}

extern "C" nn_status nn_cuda_train_backward(nn_cuda_train *c, int batch, int top, const float *dy, uint64_t *prof_ns,
                                            nn_err *err)
{
    cudaStream_t st = c->env.stream;
    CU_TRY(cudaMemsetAsync(c->arena + c->dact_off, 0, c->dact_bytes, st));
    const size_t top_bytes = c->layers[top].size * (size_t)batch * sizeof(float);
    float *dtop = fptr(c, c->layers[top].dact);
    if (dy)
        CU_TRY(cudaMemcpyAsync(dtop, dy, top_bytes, cudaMemcpyHostToDevice, st));
    else
        CU_TRY(cudaMemcpyAsync(dtop, c->dloss, top_bytes, cudaMemcpyDeviceToDevice, st));
    for (int i = top; i >= 1; i--) {
        const uint64_t t0 = prof_ns ? now_ns() : 0;
        const cu_tlayer *t = &c->layers[i];
        const nn_layer *l = &t->l;
        cu_bwd_args a;
        memset(&a, 0, sizeof a);
        a.env = &c->env;
        a.l = l;
        a.dy = fptr(c, t->dact);
        a.out = fptr(c, t->act);
        a.aux = fptr(c, t->aux);
        a.batch = batch;
        a.shard = &c->sh;
        for (int k = 0; k < l->n_inputs; k++) {
            const cu_tlayer *src = &c->layers[l->inputs[k]];
            a.d_in[k] = fptr(c, src->dact);
            a.in[k] = fptr(c, src->act);
            a.in_c[k] = src->l.out.c;
        }
        for (int k = 0; k < l->n_params && k < 4; k++) {
            const nn_param *p = nn_layer_param(&c->m->g, l, k);
            const size_t o = nn_dev_params_map(&c->dp, p->offset);
            a.p[k] = c->params + o;
            a.d_p[k] = p->trainable ? c->grads + o : NULL;
        }
        nn_status s = cu_backward(&a, t->conv, err);
        if (s) return s;
        if (prof_ns) {
            CU_TRY(cudaStreamSynchronize(st));
            prof_ns[i] += now_ns() - t0;
        }
    }
    if (dy) CU_TRY(cudaStreamSynchronize(st)); /* dy is the caller's pageable memory */
    return NN_OK;
}

extern "C" nn_status nn_cuda_train_zero_grad(nn_cuda_train *c, nn_err *err)
{
    CU_TRY(cudaMemsetAsync(c->grads, 0, c->Pd * sizeof(float), c->env.stream));
    return NN_OK;
}

/* dev [Pd] (device) <-> host [P] (engine layout) through the pinned staging image (waits). */
static nn_status transfer(nn_cuda_train *c, float *dev, float *host, bool to_device, nn_err *err)
{
    if (to_device) {
        nn_dev_params_pack(&c->dp, c->h_stage, host);
        CU_TRY(cudaMemcpyAsync(dev, c->h_stage, c->Pd * sizeof(float), cudaMemcpyHostToDevice, c->env.stream));
        CU_TRY(cudaStreamSynchronize(c->env.stream));
    } else {
        CU_TRY(cudaMemcpyAsync(c->h_stage, dev, c->Pd * sizeof(float), cudaMemcpyDeviceToHost, c->env.stream));
        CU_TRY(cudaStreamSynchronize(c->env.stream));
        nn_dev_params_unpack(&c->dp, host, c->h_stage);
    }
    return NN_OK;
}

extern "C" nn_status nn_cuda_train_params(nn_cuda_train *c, bool to_device, nn_err *err)
{
    if (!c->P) return NN_OK;
    return transfer(c, c->params, c->m->params, to_device, err);
}

extern "C" nn_status nn_cuda_train_grads(nn_cuda_train *c, float *host, nn_err *err)
{
    if (!c->P) return NN_OK;
    return transfer(c, c->grads, host, false, err);
}

extern "C" nn_status nn_cuda_train_layer(nn_cuda_train *c, int i, int what, float *host, size_t floats, nn_err *err)
{
    if (i < 0 || i >= c->n) return nn_fail(err, NN_E_ARG, "layer %d outside [0, %d)", i, c->n);
    const cu_tlayer *t = &c->layers[i];
    const size_t cap = what == 2 ? t->aux_floats : t->size * (size_t)c->max_batch;
    if (floats > cap) floats = cap;
    if (!floats) return NN_OK;
    const size_t off = what == 0 ? t->act : what == 1 ? t->dact : t->aux;
    CU_TRY(cudaMemcpyAsync(host, fptr(c, off), floats * sizeof(float), cudaMemcpyDeviceToHost, c->env.stream));
    CU_TRY(cudaStreamSynchronize(c->env.stream));
    return NN_OK;
}

extern "C" size_t nn_cuda_train_opt_state_floats(const nn_cuda_train *c) { return c->state_floats; }

extern "C" nn_status nn_cuda_train_opt_setup(nn_cuda_train *c, const opt_config *o, size_t state_floats, nn_err *err)
{
    if (c->opt_ready) return nn_fail(err, NN_E_ARG, "the optimizer of this training context is already set up");
    if (c->P && state_floats % c->P)
        return nn_fail(err, NN_E_ARG, "optimizer state of %zu floats is not whole slices of %zu parameters",
                       state_floats, c->P);
    c->state_slices = c->P ? state_floats / c->P : 0;
    if (c->state_slices) {
        CU_TRY(cudaMalloc((void **)&c->state, c->state_slices * c->Pd * sizeof(float)));
        CU_TRY(cudaMemsetAsync(c->state, 0, c->state_slices * c->Pd * sizeof(float), c->env.stream));
    }
    c->state_floats = state_floats;
    c->opt = *o;
    c->opt_ready = true;
    return NN_OK;
}

extern "C" nn_status nn_cuda_train_opt_state(nn_cuda_train *c, float *host, bool to_device, nn_err *err)
{
    for (size_t k = 0; k < c->state_slices; k++) { /* Adam: m then v; SGD momentum: one slice */
        nn_status s = transfer(c, c->state + k * c->Pd, host + k * c->P, to_device, err);
        if (s) return s;
    }
    return NN_OK;
}

extern "C" nn_status nn_cuda_train_clip(nn_cuda_train *c, float max_norm, float *norm, nn_err *err)
{
    nn_status s = cu_clip_grad_norm(&c->env, c->grads, c->Pd, max_norm, c->norm_dev, c->norm_scratch, err);
    if (s) return s;
    CU_TRY(cudaMemcpyAsync(c->h_norm, c->norm_dev, sizeof(float), cudaMemcpyDeviceToHost, c->env.stream));
    CU_TRY(cudaStreamSynchronize(c->env.stream));
    *norm = *c->h_norm;
    return NN_OK;
}

extern "C" nn_status nn_cuda_train_opt_step(nn_cuda_train *c, int64_t step, double lr, double weight_decay,
                                            nn_err *err)
{
    if (!c->opt_ready) return nn_fail(err, NN_E_ARG, "optimizer step before nn_train_opt_setup");
    return cu_opt_step(&c->env, &c->opt, step, lr, weight_decay, c->params, c->grads, c->state, c->mask, c->Pd, err);
}

extern "C" nn_status nn_cuda_train_set_shard(nn_cuda_train *c, const nn_train_shard *s, nn_err *err)
{
    c->sh.s = NULL;
    if (!s) return NN_OK;
    if (!c->h_sums) { /* set-up time: the host staging of the batch norms' sums (the gradients use h_stage) */
        size_t cmax = 1;
        for (int i = 0; i < c->n; i++)
            if (c->layers[i].l.op == NN_OP_BATCHNORM && (size_t)c->layers[i].l.in.c > cmax)
                cmax = (size_t)c->layers[i].l.in.c;
        CU_TRY(cudaMallocHost((void **)&c->h_sums, 2 * cmax * sizeof(double)));
        c->sh.f64_cap = 2 * cmax;
    }
    c->shard = *s;
    c->sh.s = &c->shard;
    c->sh.h_f64 = c->h_sums;
    c->sh.h_f32 = c->h_stage;
    c->sh.f32_cap = c->Pd;
    return NN_OK;
}

extern "C" nn_status nn_cuda_train_sum_grads(nn_cuda_train *c, nn_err *err)
{
    return cu_shard_sum_f32(&c->env, &c->sh, c->grads, c->Pd, err);
}
