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
uint64_t nn_train_step(const nn_train *t);

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

#endif
