/* optim.h — the engine's optimizers, learning-rate schedules and gradient clipping on flat float
 * arrays (parameters, gradients and optimizer state laid out alike), with PyTorch 1.13 semantics:
 *   SGD   torch.optim.SGD(momentum, dampening, nesterov, weight_decay): the momentum buffer is
 *         the first step's gradient, then buf = momentum*buf + (1-dampening)*g.
 *   Adam  torch.optim.Adam (L2 weight decay added to the gradient, bias correction).
 *   AdamW torch.optim.AdamW (decoupled decay: p *= 1 - lr*weight_decay, then Adam).
 * Nothing allocates: the caller sizes the state with opt_state_floats() and owns it (a training
 * context keeps it, nn_train_opt_setup in train.h, and it goes into checkpoints with `step`). A
 * step is opt_begin_step() followed by one opt_update() per parameter range (so ranges may use
 * different weight decay, and non-trainable tensors such as batch-norm running statistics are
 * simply not passed). opt_config is the one optimizer configuration of the engine: the CPU runs
 * these functions, the CUDA backend the same float operations (kernels/optim.cu). */
#ifndef STEERD_NN_OPTIM_H
#define STEERD_NN_OPTIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nn/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { OPT_SGD = 0, OPT_ADAM, OPT_ADAMW } opt_kind;

typedef struct {
    opt_kind kind;
    double momentum;      /* SGD: 0 = plain SGD (no state) */
    double dampening;     /* SGD */
    bool nesterov;        /* SGD: needs momentum > 0 and dampening == 0 (as PyTorch) */
    double beta1, beta2;  /* Adam/AdamW */
    double eps;           /* Adam/AdamW */
    double weight_decay;  /* default for opt_step(); opt_update() takes its own */
} opt_config;

/* PyTorch's defaults for kind: SGD momentum 0; Adam betas (0.9, 0.999), eps 1e-8, weight decay
 * 0; AdamW the same with weight decay 0.01. */
opt_config opt_defaults(opt_kind kind);
/* Checks ranges (momentum and betas in [0,1), eps > 0, weight decay >= 0, Nesterov rules);
 * the message names the field and value. */
nn_status opt_validate(const opt_config *c, nn_err *err);
/* State floats needed for n parameters: SGD with momentum n, Adam/AdamW 2n (exp_avg then
 * exp_avg_sq), plain SGD 0. */
size_t opt_state_floats(const opt_config *c, size_t n_params);

typedef struct {
    opt_config cfg;
    float *state;     /* opt_state_floats(cfg, n) floats, owned by the caller */
    size_t n;         /* parameter floats covered */
    int64_t step;     /* steps begun (PyTorch's state['step']) */
} opt_state;

/* Validates cfg, zeroes state and sets step = 0. */
nn_status opt_init(opt_state *o, const opt_config *cfg, float *state, size_t n_params, nn_err *err);
/* Starts a step (step += 1). */
void opt_begin_step(opt_state *o);
/* Updates params[offset, offset+count) from grads at the same offsets (state likewise), with
 * learning rate lr and this range's weight decay. Call after opt_begin_step(). */
void opt_update(opt_state *o, float *params, const float *grads, size_t offset, size_t count, double lr,
                double weight_decay);
/* One whole step over all n parameters with cfg.weight_decay. */
void opt_step(opt_state *o, float *params, const float *grads, double lr);

/* torch.nn.utils.clip_grad_norm_(max_norm, norm_type=2): scales grads by
 * min(1, max_norm / (total_norm + 1e-6)) and returns the total norm before clipping (NaN/Inf
 * when a gradient is not finite; the caller decides). */
float opt_clip_grad_norm(float *grads, size_t n, float max_norm);

/* Learning-rate schedules, evaluated in closed form at step t = 0, 1, ... (the caller chooses
 * whether t counts epochs or iterations):
 *   constant  lr
 *   step      lr * gamma^floor(t / step_size)                       (torch StepLR)
 *   cosine    t < warmup: lr * (start + (1 - start) * t / warmup)   (torch LinearLR)
 *             then min_lr + (lr - min_lr) * (1 + cos(pi * (t - warmup) / (total - warmup))) / 2,
 *             t clamped to total                                     (torch CosineAnnealingLR,
 *             both chained by SequentialLR at milestone warmup) */
typedef enum { LR_CONSTANT = 0, LR_STEP, LR_COSINE } lr_kind;

typedef struct {
    lr_kind kind;
    double lr;             /* base learning rate */
    int step_size;         /* step */
    double gamma;          /* step */
    int warmup;            /* cosine: warm-up steps (0 = none) */
    double warmup_start;   /* cosine: start factor of the warm-up, in (0, 1] */
    int total;             /* cosine: total steps, > warmup */
    double min_lr;         /* cosine: eta_min */
} lr_schedule;

nn_status lr_validate(const lr_schedule *s, nn_err *err);
double lr_at(const lr_schedule *s, int64_t t);

#ifdef __cplusplus
}
#endif

#endif
