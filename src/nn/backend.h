/* backend.h — the backend table: what an engine backend implements, behind the public calls of
 * nn.h (inference) and train.h (training). infer.c and train.c are backend-neutral (argument
 * checks, the plan, the optimizer's host state, the training step's order); every call that
 * touches memory a backend owns goes through its table. An executor is the backend's own
 * opaque state (void *), made by its create and passed back to every other entry.
 *
 * How to add a backend (a NEON CPU, reduced precision, another GPU):
 *   1. Implement nn_infer_ops and nn_train_ops in the backend's own folder (src/nn/cpu/ is the
 *      reference: backend_cpu.c runs the inference plan, train_cpu.c the training layers; the
 *      CUDA tables are kernels/backend_table.c over the kernels). An entry marked optional may
 *      be NULL: the neutral code then reports NN_E_UNSUPPORTED or takes the slower generic path.
 *   2. Add its nn_backend value to nn.h (name and parse are in backend.c) and one row to the
 *      registry in backend.c, under the build flag that compiles it (the only place with
 *      #ifdef NN_HAVE_<BACKEND>); `available` says whether it can run on this machine (AUTO
 *      takes the first available accelerator, else the CPU).
 *   3. Compile its files into the engine library (src/nn/meson.build, or kernels/meson.build
 *      for CUDA) and run the engine's tests with it (tests/test_cuda_infer.c and
 *      tests/test_cuda_train.c compare a backend against the CPU layer by layer and step by step).
 * Training numerics: the CPU is the reference; another backend matches it to float32 rounding
 * and must use optim.c's float operations for the optimizer and nn_train_dropout_seed for the
 * dropout masks, so a run can move between backends through a checkpoint. */
#ifndef STEERD_NN_BACKEND_H
#define STEERD_NN_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nn/graph.h"
#include "nn/optim.h"
#include "nn/plan.h"
#include "nn/train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- inference: one executor runs the plan (plan.h) built by infer.c ---- */
typedef struct {
    /* p and g outlive the executor (the nn_infer context owns p). threads: 1..256. */
    nn_status (*create)(void **out, const nn_plan *p, const nn_graph *g, const nn_infer_opts *o, int threads,
                        nn_err *err);
    void (*free)(void *x);
    float *(*input)(void *x);               /* host [max_batch, in] */
    const float *(*output)(const void *x);  /* host [max_batch, out], valid after run */
    /* The whole plan on `batch` images (checked by the caller); step_ns[n_steps]: each step's
     * time when the backend measures it. Allocates nothing. */
    nn_status (*run)(void *x, int batch, uint64_t *step_ns, nn_err *err);
    /* Optional: runs step i alone on `batch` images and returns its output (host), so the
     * self-check can name the first layer giving non-finite values; NULL: whole runs only. */
    const float *(*step)(void *x, int i, int batch);
    /* Optional (NULL: NN_E_UNSUPPORTED): GPU preprocessing of camera frames (nn.h). */
    nn_status (*frame_reserve)(void *x, size_t max_frame_bytes, nn_err *err);
    nn_status (*frame)(void *x, const uint8_t *rgb, int width, int height, int stride, nn_err *err);
} nn_infer_ops;

/* ---- training: one executor holds every layer's output and gradient, the parameter gradients
 * and (for a device) the parameters and the optimizer state; train.c holds the dropout step and
 * the optimizer's configuration, step count and host state (opt_state: the CPU's own state, a
 * device's copy) ---- */
typedef struct {
    /* m outlives the executor. max_batch is checked by the caller (nn_graph_check_batch). */
    nn_status (*create)(void **out, nn_model *m, int max_batch, int threads, nn_err *err);
    void (*free)(void *x);
    float *(*input)(void *x);                  /* host [max_batch, in] */
    const float *(*output)(void *x);           /* host copy of the last forward's output; NULL on failure */
    float *(*grads)(void *x);                  /* host [n_param_floats]; NULL on failure */
    /* Host copy of graph layer i's output (what 0), output gradient (1) or saved statistics /
     * dropout mask (2), [max_batch, ...] as nn_train_layout places them; NULL on failure. */
    const float *(*layer)(void *x, int i, int what);
    void (*zero_grad)(void *x);
    /* Training forward (layers 1..n-1); dropout masks from nn_train_dropout_seed(seed, step, i).
     * prof_ns: NULL or per graph layer wall time added. */
    nn_status (*forward)(void *x, int batch, uint64_t seed, uint64_t step, uint64_t *prof_ns, nn_err *err);
    /* Loss of the last forward (arguments checked by the caller), its gradient kept for backward. */
    nn_status (*loss)(void *x, nn_loss_kind kind, const int *labels, const float *targets, int batch, float delta,
                      bool y_is_prob, double *loss, nn_err *err);
    /* Back-propagates dy (host [batch, size of layer top]) or, dy NULL, the last loss gradient,
     * from graph layer `top` down; parameter gradients accumulate. */
    nn_status (*backward)(void *x, int batch, int top, const float *dy, uint64_t *prof_ns, nn_err *err);
    /* clip_grad_norm_ over every gradient (optim.h opt_clip_grad_norm); *norm before clipping. */
    nn_status (*clip)(void *x, float max_norm, float *norm, nn_err *err);
    /* The optimizer: setup once (o->cfg validated, o->state zeroed, state_floats of it), then one
     * update of every trainable parameter per step with o->step already advanced; o->state is the
     * host copy (the CPU updates it in place). */
    nn_status (*opt_setup)(void *x, const opt_state *o, size_t state_floats, nn_err *err);
    nn_status (*opt_step)(void *x, opt_state *o, double lr, double weight_decay, nn_err *err);
    /* Host <-> backend copies: the model's parameters (m->params), the optimizer state (host
     * floats). A backend working in host memory leaves both NULL (nothing to copy). */
    nn_status (*sync_params)(void *x, bool to_device, nn_err *err);
    nn_status (*sync_opt)(void *x, float *host, bool to_device, nn_err *err);
    /* Optional (NULL: NN_E_UNSUPPORTED): data parallelism (train.h nn_train_shard; s NULL clears;
     * s outlives its use): forward, loss and backward then work on the slice of a global batch. */
    nn_status (*set_shard)(void *x, const nn_train_shard *s, nn_err *err);
    /* With set_shard: sums the parameter gradients in place across the replicas (the shard's
     * sum_f32, or on a device its sum_dev_f32 / staging), before the clip. */
    nn_status (*sum_grads)(void *x, nn_err *err);
} nn_train_ops;

/* ---- the registry (backend.c) ---- */
typedef struct {
    nn_backend id;                            /* never NN_BACKEND_AUTO */
    bool (*available)(char *why, size_t n);   /* usable on this machine; why: the reason either way */
    const nn_infer_ops *infer;
    const nn_train_ops *train;
} nn_backend_ops;

/* The table of backend b, NULL when this build does not have it (or b is AUTO / unknown). */
const nn_backend_ops *nn_backend_table(nn_backend b);
/* "CPU", "CUDA" (messages). */
const char *nn_backend_title(nn_backend b);
/* Can backend b run here? why (may be NULL): the reason either way; "this build has no CUDA
 * backend" when this build does not have it. */
bool nn_backend_usable(nn_backend b, char *why, size_t n);
/* Resolves AUTO (the first available accelerator, else the CPU) and checks that the chosen
 * backend is built and available: NN_E_UNSUPPORTED / NN_E_DEVICE "backend cuda: <why>". */
nn_status nn_backend_pick(nn_backend want, const nn_backend_ops **out, nn_err *err);

extern const nn_infer_ops nn_cpu_infer_ops;   /* src/nn/cpu/backend_cpu.c */
extern const nn_train_ops nn_cpu_train_ops;   /* src/nn/cpu/train_cpu.c */
extern const nn_infer_ops nn_cuda_infer_ops;  /* kernels/backend_table.c (CUDA builds) */
extern const nn_train_ops nn_cuda_train_ops;  /* kernels/backend_table.c (CUDA builds) */

/* ---- shared by the backends ---- */
/* The dropout seed of graph layer `layer` at training step `step` (every backend, so that their
 * masks are identical). */
static inline uint64_t nn_train_dropout_seed(uint64_t seed, uint64_t step, int layer)
{
    return seed ^ (step * 0x100000001b3ull + (uint64_t)layer * 0x9e3779b97f4a7c15ull);
}

/* One graph layer of a training context in the host layout: the CPU arena's, and the host copies
 * a device backend returns from nn_train_ops.layer. */
typedef struct {
    nn_layer l;                 /* copy, act forced to NN_ACT_NONE */
    size_t act, dact, aux;      /* offsets, floats */
    size_t size;                /* per-sample output floats */
    int zero_at;                /* CPU backward: dact is zeroed just before this layer's backward (its first
                                   reader in reverse order, so the zeroed lines are still in cache when
                                   small); 0 = zeroed up front (no consumer runs: stays zero) */
} nn_train_layer;

#define NN_TRAIN_ALIGN_FLOATS 16 /* 64 bytes */
/* n floats rounded up to the layout's alignment. */
static inline size_t nn_train_round_up(size_t n)
{
    return (n + NN_TRAIN_ALIGN_FLOATS - 1) / NN_TRAIN_ALIGN_FLOATS * NN_TRAIN_ALIGN_FLOATS;
}
/* Fills layers[g->n_layers] (outputs, their gradients, saved statistics, in graph order from
 * offset 0, aligned, for max_batch images); returns the floats used (train.c). */
size_t nn_train_layout(const nn_graph *g, int max_batch, nn_train_layer *layers);

#ifdef __cplusplus
}
#endif

#endif
