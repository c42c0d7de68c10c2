/* cuda_train.h — the CUDA backend's training half (CUDA sources only): the training-mode
 * forwards that differ from inference (convolution on engine-layout weights, batch-norm batch
 * statistics, dropout masks), one backward launcher per layer type with the CPU's semantics
 * (src/nn/cpu/cpu.h: outputs first, gradients ACCUMULATED, d_in[k] may alias), the
 * `cu_backward` dispatcher, losses and optimizer steps. Launchers only enqueue work on
 * env->stream, never synchronise and never allocate: scratch is env->ws (env->ws_bytes, sized by
 * the training context from cu_train_scratch_bytes), device pointers, NHWC float32. */
#ifndef STEERD_KERNELS_CUDA_TRAIN_H
#define STEERD_KERNELS_CUDA_TRAIN_H

#include <stdint.h>

#include "cuda.h"
#include "nn/train.h"

/* ---- convolution (conv2d_bwd.cu): cuDNN NHWC forward / backward-data / backward-filter ----
 * Per-layer state made once: descriptors and the algorithms measured at max_batch
 * (cudnnFind…AlgorithmEx on scratch buffers; cuDNN's heuristic list when that fails, and for
 * other batch sizes), never above the workspace the context holds. Where cuDNN has no float32
 * algorithm for a pass, or a call fails, the layer runs on the engine's own kernels
 * (body/conv.h) from then on, with one warning; env->conv_own forces them. Weights stay in the
 * engine layout; each call repacks them into scratch. */
typedef struct cu_conv_train cu_conv_train;

/* Creates the state for conv layer l at max_batch; *ws_need: scratch bytes its calls need
 * (cuDNN workspace within ws_cap, the KRSC weight and gradient copies, padded copies). May
 * allocate and free device memory (the measurement's buffers): set-up time only. */
nn_status cu_conv_train_create(cu_conv_train **out, const cu_env *env, const nn_layer *l, int max_batch,
                               size_t ws_cap, size_t *ws_need, nn_err *err);
void cu_conv_train_free(cu_conv_train *c);
/* out = conv(in, W) + bias; W engine layout (a->p[0]) repacked into the state's KRSC copy. */
nn_status cu_conv2d_forward_train(const cu_fwd_args *a, cu_conv_train *c, nn_err *err);
/* d_in += dconv, dW += (engine layout), db += column sums; uses the KRSC copy of the forward. */
nn_status cu_conv2d_backward(const cu_bwd_args *a, cu_conv_train *c, nn_err *err);

/* ---- data parallelism (shard.cu): sums across the replicas of a shard (train.h) ----
 * With the shard's device sums, in place on the device (env->stream); without them staged
 * through pinned host memory (copy down, the host sum, copy up; waits). Either way the sum is
 * complete (or queued ahead of every later launch) when the call returns. */
typedef struct cu_shard {
    const nn_train_shard *s;    /* NULL: not sharded (the sums are no-ops) */
    double *h_f64;              /* pinned staging, f64_cap doubles */
    float *h_f32;               /* pinned staging, f32_cap floats */
    size_t f64_cap, f32_cap;
} cu_shard;
nn_status cu_shard_sum_f64(const cu_env *env, const cu_shard *sh, double *dev, size_t n, nn_err *err);
nn_status cu_shard_sum_f32(const cu_env *env, const cu_shard *sh, float *dev, size_t n, nn_err *err);
/* Pixels per channel a batch norm normalises over: this batch's, or the data-parallel batch's. */
double cu_shard_bn_count(const cu_shard *sh, const nn_layer *l, int batch);

/* ---- training-mode forwards ---- */
/* batchnorm_bwd.cu: batch statistics (biased variance) normalise the batch; saved = mean [C],
 * 1/sqrt(var + eps) [C]; running mean/var move by l->momentum towards the batch mean and the
 * unbiased variance (PyTorch), exactly as cpu_batchnorm_forward_train. sh (NULL or not sharded:
 * this batch alone): the statistics of the whole data-parallel batch (both passes' per-channel
 * sums added across the replicas). */
nn_status cu_batchnorm_forward_train(const cu_fwd_args *a, float *running_mean, float *running_var, float *saved,
                                     const cu_shard *sh, nn_err *err);
/* merge_bwd.cu: dropout mask from the CPU's counter hash of (seed, base + element): identical
 * masks (base: the first element's index in the whole data-parallel batch, else 0). */
nn_status cu_dropout_forward_train(const cu_fwd_args *a, uint64_t seed, uint64_t base, float *mask, nn_err *err);

/* ---- backward launchers (one file per layer type) ---- */
nn_status cu_depthwise_backward(const cu_bwd_args *a, nn_err *err);      /* depthwise_bwd.cu */
nn_status cu_maxpool_backward(const cu_bwd_args *a, nn_err *err);        /* pool_bwd.cu (first maximum) */
nn_status cu_avgpool_backward(const cu_bwd_args *a, nn_err *err);        /* pool_bwd.cu */
nn_status cu_global_avgpool_backward(const cu_bwd_args *a, nn_err *err); /* pool_bwd.cu */
nn_status cu_batchnorm_backward(const cu_bwd_args *a, nn_err *err);      /* batchnorm_bwd.cu (a->shard) */
nn_status cu_relu_backward(const cu_bwd_args *a, nn_err *err);           /* activation_bwd.cu */
nn_status cu_leaky_relu_backward(const cu_bwd_args *a, nn_err *err);     /* activation_bwd.cu */
nn_status cu_softmax_backward(const cu_bwd_args *a, nn_err *err);        /* activation_bwd.cu */
nn_status cu_pointwise_backward(const cu_bwd_args *a, nn_err *err);      /* activation_bwd.cu: sigmoid tanh elu clip */
nn_status cu_dense_backward(const cu_bwd_args *a, nn_err *err);          /* dense_bwd.cu (cuBLAS) */
nn_status cu_channel_shuffle_backward(const cu_bwd_args *a, nn_err *err); /* shuffle_bwd.cu */
nn_status cu_add_backward(const cu_bwd_args *a, nn_err *err);            /* merge_bwd.cu */
nn_status cu_concat_backward(const cu_bwd_args *a, nn_err *err);         /* merge_bwd.cu */
nn_status cu_copy_backward(const cu_bwd_args *a, nn_err *err);           /* merge_bwd.cu: flatten */
nn_status cu_dropout_backward(const cu_bwd_args *a, nn_err *err);        /* merge_bwd.cu */

/* backward.cu: dispatches on a->l->op (conv2d takes its state from conv). */
nn_status cu_backward(const cu_bwd_args *a, cu_conv_train *conv, nn_err *err);
/* Scratch bytes (env->ws) the layer's training forward and backward need besides cuDNN's. */
size_t cu_train_scratch_bytes(const nn_layer *l, int batch);

/* ---- per-channel sums (reduce.cu): tot[z][c] = sum over rows r < M of f(r, c, z), double ----
 * Partial sums per block of rows, then one pass over the partials; deterministic. */
size_t cu_chan_scratch_bytes(int M, int C, int nz);
/* d[c] += (float)(sum over rows of x[r*C + c]) for an [M][C] matrix (bias gradients). */
nn_status cu_col_sums_add(const cu_env *env, float *d, const float *x, int M, int C, nn_err *err);

/* ---- losses (loss.cu): same semantics as src/nn/cpu/loss.c (cpu_loss_*, with denom) ----
 * Each writes d (gradient, [batch][n]) and the loss as a double into *loss_dev (device): the
 * sum over this batch divided by denom (batch: the mean; a data-parallel slice: the global
 * batch, its share of the mean); a bad label makes it NaN. scratch: cu_loss_scratch_bytes(batch,
 * n) bytes. */
size_t cu_loss_scratch_bytes(int batch, int n);
nn_status cu_loss_softmax_ce(const cu_env *env, const float *y, bool y_is_prob, const int *labels, int batch,
                             int classes, int denom, float *d, double *loss_dev, void *scratch, nn_err *err);
nn_status cu_loss_mse(const cu_env *env, const float *y, const float *target, int batch, int n, int denom, float *d,
                      double *loss_dev, void *scratch, nn_err *err);
nn_status cu_loss_huber(const cu_env *env, const float *y, const float *target, int batch, int n, int denom,
                        float delta, float *d, double *loss_dev, void *scratch, nn_err *err);

/* ---- optimizers (optim.cu): same float operations as src/nn/optim.c (opt_config: optim.h) ---- */
/* One step over the n floats where mask[i] != 0: state = [n] (sgd momentum) or [2][n] (adam). */
nn_status cu_opt_step(const cu_env *env, const opt_config *o, int64_t step, double lr, double weight_decay,
                      float *params, const float *grads, float *state, const unsigned char *mask, size_t n,
                      nn_err *err);
/* Global L2 norm of grads[n] into *norm_dev (float), then grads *= min(1, max_norm/(norm+1e-6))
 * (torch.nn.utils.clip_grad_norm_); scratch: cu_norm_scratch_bytes(n). */
size_t cu_norm_scratch_bytes(size_t n);
nn_status cu_clip_grad_norm(const cu_env *env, float *grads, size_t n, float max_norm, float *norm_dev, void *scratch,
                            nn_err *err);

#endif
