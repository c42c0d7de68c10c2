/* train_cuda.h — the CUDA training context (kernels/train_cuda.cu) as the C side of the engine
 * sees it (kernels/backend_table.c, the CUDA backend's table: backend.h). Only in builds with
 * the CUDA backend (NN_HAVE_CUDA).
 * One context = one stream and one device arena sized once at create: parameters, gradients,
 * the trainable mask, every layer's output / gradient / saved statistics, the loss gradient and
 * staging; pinned host buffers for the input, output, labels and targets. */
#ifndef STEERD_NN_TRAIN_CUDA_H
#define STEERD_NN_TRAIN_CUDA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nn/backend.h"
#include "nn/graph.h"
#include "nn/train.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nn_cuda_train nn_cuda_train;

/* Uploads m's parameters. m must outlive the context. */
nn_status nn_cuda_train_create(nn_cuda_train **out, nn_model *m, int max_batch, nn_err *err);
void nn_cuda_train_free(nn_cuda_train *c);
float *nn_cuda_train_input(nn_cuda_train *c);                 /* pinned host [max_batch, in] */
/* Uploads the input, enqueues the training forward and the output's download. prof_ns: NULL,
 * or per graph layer wall time added (synchronising after every layer). */
nn_status nn_cuda_train_forward(nn_cuda_train *c, int batch, uint64_t seed, uint64_t step, uint64_t *prof_ns,
                                nn_err *err);
/* The last forward's output (host), after waiting for its download; NULL when that failed. */
const float *nn_cuda_train_output(nn_cuda_train *c, nn_err *err);
/* Loss on the device (see nn_train_loss); waits for the value. */
nn_status nn_cuda_train_loss(nn_cuda_train *c, nn_loss_kind kind, const int *labels, const float *targets, int batch,
                             float delta, bool y_is_prob, double *loss, nn_err *err);
/* Back-propagates dy (host, [batch, size of layer `top`]) or, when dy is NULL, the last loss
 * gradient, from graph layer `top` down. */
nn_status nn_cuda_train_backward(nn_cuda_train *c, int batch, int top, const float *dy, uint64_t *prof_ns,
                                 nn_err *err);
nn_status nn_cuda_train_zero_grad(nn_cuda_train *c, nn_err *err);
/* Model parameters host <-> device (waits). */
nn_status nn_cuda_train_params(nn_cuda_train *c, bool to_device, nn_err *err);
/* Downloads n_param_floats gradients into host (waits). */
nn_status nn_cuda_train_grads(nn_cuda_train *c, float *host, nn_err *err);
/* Downloads graph layer i's output (what 0), output gradient (1) or saved statistics / mask (2):
 * floats of it, from the start (waits). */
nn_status nn_cuda_train_layer(nn_cuda_train *c, int i, int what, float *host, size_t floats, nn_err *err);
size_t nn_cuda_train_opt_state_floats(const nn_cuda_train *c);
nn_status nn_cuda_train_opt_setup(nn_cuda_train *c, const opt_config *o, size_t state_floats, nn_err *err);
nn_status nn_cuda_train_opt_state(nn_cuda_train *c, float *host, bool to_device, nn_err *err);
nn_status nn_cuda_train_clip(nn_cuda_train *c, float max_norm, float *norm, nn_err *err);
nn_status nn_cuda_train_opt_step(nn_cuda_train *c, int64_t step, double lr, double weight_decay, nn_err *err);
/* Data parallelism (train.h nn_train_shard; NULL clears): copies *s; the first call allocates the
 * pinned staging of the batch norms' sums. Then the forward, loss and backward compute the slice
 * of the global batch, and sum_grads adds the device gradients across the replicas (waits when
 * staged through the host). */
nn_status nn_cuda_train_set_shard(nn_cuda_train *c, const nn_train_shard *s, nn_err *err);
nn_status nn_cuda_train_sum_grads(nn_cuda_train *c, nn_err *err);

#ifdef __cplusplus
}
#endif

#endif
