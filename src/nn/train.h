/* train.h — the training engine: a context that runs the model's primitive layers in training
 * mode (batch-norm batch statistics, dropout active, no folding or fusion), keeps every layer's
 * output, back-propagates into parameter gradients, and the losses. Sized once at create: the
 * forward, backward, zero_grad and losses allocate nothing.
 * Tensors are NHWC float32; parameters and their gradients use the engine layout (graph.h) at
 * the same offsets as the model's parameters. */
#ifndef STEERD_NN_TRAIN_H
#define STEERD_NN_TRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nn/nn.h"
#include "nn/optim.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nn_train nn_train;

/* m stays owned by the caller and must outlive the context; the forward updates its batch-norm
 * running statistics in place and optimizers update its parameters in place. seed: dropout. */
nn_status nn_train_create(nn_train **out, nn_model *m, int max_batch, int threads, uint64_t seed, nn_err *err);
void nn_train_free(nn_train *t);

/* Input buffer [max_batch, H, W, C]: fill the first `batch` images, then nn_train_forward. */
float *nn_train_input(nn_train *t);
/* Training-mode forward of `batch` images (1..max_batch). Dropout masks are drawn from
 * (seed, step, layer, element); the step then advances by one. */
nn_status nn_train_forward(nn_train *t, int batch, nn_err *err);
/* Output of the last forward [batch, output_size] (probabilities when the last layer is softmax). */
const float *nn_train_output(const nn_train *t);
int nn_train_output_size(const nn_train *t);
/* True when the model's last layer is a softmax (then nn_train_backward takes dL/dlogits). */
bool nn_train_softmax_output(const nn_train *t);
/* Back-propagates the last forward. dy [batch, output_size] is dL/d(output), except when the
 * last layer is a softmax and logits mode is on (the default): then it is dL/d(pre-softmax
 * logits) (nn_loss_softmax_ce's gradient) and the softmax layer itself is skipped. Parameter
 * gradients ACCUMULATE into nn_train_grads (call nn_train_zero_grad between steps). */
nn_status nn_train_backward(nn_train *t, int batch, const float *dy, nn_err *err);
/* (dy NULL: the gradient of the last nn_train_loss.) */
/* Logits mode (see nn_train_backward); off: dy is always w.r.t. the output (tests). */
void nn_train_set_softmax_logits(nn_train *t, bool on);
void nn_train_zero_grad(nn_train *t);
/* Parameter gradients, n_param_floats, engine layout, same offsets as the model's parameters
 * (zero for batch-norm running statistics). */
float *nn_train_grads(nn_train *t);
size_t nn_train_param_floats(const nn_train *t);
/* dL/d(input) of the last backward [batch, H, W, C]. */
const float *nn_train_input_grad(const nn_train *t);
/* Output of graph layer i (0 = input) of the last forward [batch, out_i], and what its training
 * forward saved: dropout mask [batch, out_i] (0 or 1/(1-rate)), batch norm mean [C] + 1/std [C];
 * NULL for other layers. Tests and diagnostics. */
int nn_train_layers(const nn_train *t);
const float *nn_train_layer_output(const nn_train *t, int i);
const float *nn_train_layer_saved(const nn_train *t, int i);
/* The dropout step counter (reproducible masks: set it before a forward to replay one). */
void nn_train_set_step(nn_train *t, uint64_t step);
uint64_t nn_train_get_step(const nn_train *t);
/* Per-layer timing (benchmarks): while set, every forward / backward adds graph layer i's wall
 * time in ns to fwd_ns[i] / bwd_ns[i] (nn_train_layers() entries each, owned by the caller, not
 * zeroed here); NULL turns it off. */
void nn_train_set_profile(nn_train *t, uint64_t *fwd_ns, uint64_t *bwd_ns);

/* ---- backends: the same training API on the CPU or on a CUDA device ----
 * nn_train_create_on with NN_BACKEND_CPU is nn_train_create. NN_BACKEND_CUDA keeps the whole
 * training state on the GPU (kernels/train_cuda.cu: one device arena for the parameters, their
 * gradients, every layer's output and gradient and the optimizer state; one stream): the model's
 * host parameters are uploaded at create and by nn_train_sync_params(t, true, ...), and copied
 * back, batch-norm running statistics included, by nn_train_sync_params(t, false, ...) (before a
 * checkpoint or an evaluation). NN_BACKEND_AUTO: CUDA when nn_cuda_available(), else the CPU.
 * CUDA without a device fails with NN_E_DEVICE ("no CUDA device (...)"), and in a build without
 * the CUDA backend with NN_E_UNSUPPORTED ("this build has no CUDA backend").
 * On CUDA the input buffer is pinned host memory; nn_train_output, nn_train_grads,
 * nn_train_input_grad, nn_train_layer_output and nn_train_layer_saved return host copies made by
 * that call (the device copy stays authoritative: editing them changes nothing; the layer copies
 * allocate a host mirror on first use — diagnostics, not the training loop). Results match the
 * CPU to float32 rounding (cuDNN/cuBLAS FMA math, no TF32), not bit for bit.
 * The backend table behind these calls: src/nn/backend.h. */
nn_status nn_train_create_on(nn_train **out, nn_model *m, int max_batch, int threads, uint64_t seed,
                             nn_backend backend, nn_err *err);
/* The backend the context runs on (never AUTO). */
nn_backend nn_train_backend(const nn_train *t);
/* CUDA: to_device uploads the model's host parameters, else downloads them (waits). CPU: no-op. */
nn_status nn_train_sync_params(nn_train *t, bool to_device, nn_err *err);

/* Loss of the last forward on the context (either backend; nothing allocated): softmax
 * cross-entropy against labels [batch] (probabilities when the model ends in a softmax, else
 * logits), MSE or Huber (delta) against targets [batch, output_size]; semantics of the
 * nn_loss_* functions below. *loss: the mean (NAN for a bad label). The gradient is kept for
 * nn_train_backward(t, batch, NULL, err), which then back-propagates it. */
typedef enum { NN_LOSS_CE = 0, NN_LOSS_MSE, NN_LOSS_HUBER } nn_loss_kind;
nn_status nn_train_loss(nn_train *t, nn_loss_kind kind, const int *labels, const float *targets, int batch,
                        float delta, double *loss, nn_err *err);

/* ---- the optimizer (optim.h, either backend: optim.c on the CPU, the same float operations in
 * kernels/optim.cu on CUDA). The context keeps its state; the host copy (nn_train_opt_host) is
 * the CPU's state itself and a device's copy, made current by nn_train_sync. ---- */
/* Validates o (opt_validate), allocates and zeroes the state (once; host, and device). */
nn_status nn_train_opt_setup(nn_train *t, const opt_config *o, nn_err *err);
/* Optimizer state floats (opt_state_floats: sgd with momentum n, adam 2n, else 0; 0 before setup). */
size_t nn_train_opt_state_floats(const nn_train *t);
/* The host copy of the state [nn_train_opt_state_floats] (checkpoints read and --resume writes it). */
float *nn_train_opt_host(nn_train *t);
/* Optimizer steps taken (PyTorch's state['step']; checkpoints). */
int64_t nn_train_opt_steps(const nn_train *t);
void nn_train_set_opt_steps(nn_train *t, int64_t steps);
/* Copies the state to (to_device) or from the backend; host holds nn_train_opt_state_floats(t). */
nn_status nn_train_opt_state(nn_train *t, float *host, bool to_device, nn_err *err);
/* The parameters and the optimizer state between the host copies (the model's params,
 * nn_train_opt_host) and the backend: to_device before training from them (start, --resume),
 * else back (checkpoints, evaluation). A no-op on the CPU, where the host copies are the state. */
nn_status nn_train_sync(nn_train *t, bool to_device, nn_err *err);
/* clip_grad_norm_ over all gradients (max_norm = INFINITY: measure only); *norm = the total norm
 * before clipping (NaN/Inf when a gradient is not finite). Waits for the result. */
nn_status nn_train_clip_grad_norm(nn_train *t, float max_norm, float *norm, nn_err *err);
/* One optimizer step (PyTorch's state step `step` >= 1; the context's count becomes step) over
 * every trainable parameter. */
nn_status nn_train_opt_step(nn_train *t, int64_t step, double lr, double weight_decay, nn_err *err);

/* ---- the training step, the same four calls on every backend ---- */
typedef struct {
    nn_loss_kind loss;
    const int *labels;          /* cross-entropy: [batch] */
    const float *targets;       /* mse / huber: [batch, output_size] */
    float delta;                /* huber */
    double lr;                  /* this step's learning rate (the weight decay is the optimizer's) */
    float max_norm;             /* clip_grad_norm_ bound; INFINITY: measure only */
} nn_step_args;
typedef struct {
    double loss;                /* the batch's mean loss */
    float grad_norm;            /* total gradient norm before clipping (0 when the loss was not finite) */
    const float *output;        /* host copy of the output [batch, output_size] (metrics) */
} nn_step_result;
/* One training step on the first `batch` images of the input: zero the gradients, training
 * forward, loss, backward, clip, optimizer update (after nn_train_opt_setup; the step count
 * advances by one). A non-finite loss stops it before the backward, a non-finite gradient norm
 * before the update; both return NN_OK with the result showing it (the caller decides: the
 * parameters are then unchanged, but batch-norm running statistics saw the batch). Allocates
 * nothing. */
nn_status nn_train_step(nn_train *t, int batch, const nn_step_args *a, nn_step_result *r, nn_err *err);

/* ---- data parallelism: N replicas (processes, each with its own context over its own copy of
 * the model) train one global batch of global_batch samples together; this context computes
 * samples [first, first + batch) of it. The engine then computes what one context would over the
 * whole batch, to float summation order: the loss is the mean over global_batch (its gradient
 * divided by global_batch), batch norm normalises with the statistics of the whole batch (and
 * moves its running statistics by them), dropout masks are drawn by global element index, and
 * the parameter gradients are summed over the replicas before the clip and the update. The
 * engine calls sum_f64 / sum_f32 to add n values element-wise across all replicas, in place;
 * every replica makes the same calls in the same order (batch-norm sums forward and backward,
 * the loss, the gradients). The transport is the caller's (src/train/comm.h: MPI), so the engine
 * links none; a failing sum must stop the process (MPI's fatal error handler does).
 * A device backend (CUDA) sums device buffers: with sum_dev_f64 / sum_dev_f32 set it hands them
 * the device address and its stream (a cudaStream_t) and they add in place across the replicas
 * (src/train/comm_nccl.h: ncclAllReduce), finished when they return; a failure returns its
 * status with err filled and the engine returns it. Left NULL, the backend stages every sum
 * through the host ones (copy down into pinned memory it allocated at set_shard, sum_f64 /
 * sum_f32, copy up), so an MPI-only build also trains on GPUs. The CPU backend never calls them.
 * The CUDA backend's sums per step: per batch norm 2 x C doubles forward (the mean, then the
 * squared deviations from the whole batch's mean: its two-pass statistics), 2 x C backward; the
 * loss (one double, host); the gradients (one sum over its whole device gradient buffer, padding
 * included). ---- */
typedef struct {
    int first, global_batch;    /* 0 <= first, first + batch <= global_batch */
    void (*sum_f64)(void *ctx, double *v, size_t n);
    void (*sum_f32)(void *ctx, float *v, size_t n);
    void *ctx;
    /* optional, device backends (see above): v is a device address, stream the backend's */
    nn_status (*sum_dev_f64)(void *dev_ctx, double *v, size_t n, void *stream, nn_err *err);
    nn_status (*sum_dev_f32)(void *dev_ctx, float *v, size_t n, void *stream, nn_err *err);
    void *dev_ctx;
} nn_train_shard;
/* Sets (s NULL: clears) the shard (copied); both host sums are required, the device sums both or
 * neither; NN_E_UNSUPPORTED on a backend without data parallelism. Set-up time (it may allocate). */
nn_status nn_train_set_shard(nn_train *t, const nn_train_shard *s, nn_err *err);

/* ---- losses (src/nn/cpu/loss.c): mean over the batch, gradient written to d (may not alias) ----
 * Softmax cross-entropy: y [batch, classes] holds probabilities (y_is_prob, the model ends in a
 * softmax) or raw logits; labels in [0, classes). d = dL/dlogits = (softmax - onehot) / batch.
 * Returns the mean of -log p[label] (probabilities clamped at 1e-30), or NAN for a bad label. */
double nn_loss_softmax_ce(const float *y, bool y_is_prob, const int *labels, int batch, int classes, float *d);
/* Mean squared error over all batch*n elements (PyTorch MSELoss): d = 2 (y - t) / (batch*n). */
double nn_loss_mse(const float *y, const float *target, int batch, int n, float *d);
/* Huber over all elements (PyTorch HuberLoss, delta > 0): 0.5 e^2 for |e| <= delta, else
 * delta (|e| - delta/2); d = clamp(e, -delta, delta) / (batch*n). */
double nn_loss_huber(const float *y, const float *target, int batch, int n, float delta, float *d);

#ifdef __cplusplus
}
#endif

#endif
