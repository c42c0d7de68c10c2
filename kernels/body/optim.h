/* optim.h — per-element bodies of the optimizer steps and gradient clipping (optim.cu), the
 * float operations of src/nn/optim.c one for one, each rounded on its own (no FMA contraction),
 * and the step's scalars made from opt_config exactly as there (host code):
 *   SGD   d = g (+ wd p); buf = d (first step) | buf m + (1-damp) d; d = nesterov ? d + m buf : buf;
 *         p += -lr d
 *   Adam  (AdamW: p *= 1 - lr wd | Adam: g += wd p); m = m b1 + (1-b1) g; v = v b2 + (1-b2) g g;
 *         p += -(lr/(1-b1^t)) m / (sqrt(v)/sqrt(1-b2^t) + eps)
 * over the elements whose mask byte is set. Clipping: g *= max_norm / (norm + 1e-6) when below 1. */
#ifndef STEERD_KERNELS_BODY_OPTIM_H
#define STEERD_KERNELS_BODY_OPTIM_H

#include <stdbool.h>

#include "body.h"
#include "nn/optim.h"

typedef struct {
    float fwd, m, damp, neg_lr;
    bool first, nesterov, has_wd, has_buf;
} sgd_k;

typedef struct {
    float fb1, fb2, c1, c2, neg_step, bc2_sqrt, eps, fwd, decay;
    bool decoupled, has_wd;
} adam_k;

/* The scalars of step `step` (1 = the first) with learning rate lr and weight decay wd. */
static inline sgd_k sgd_k_of(const opt_config *o, int64_t step, double lr, double wd)
{
    const sgd_k k = {(float)wd, (float)o->momentum, (float)(1.0 - o->dampening), (float)-lr, step <= 1,
                     o->nesterov, wd != 0.0, o->momentum > 0.0};
    return k;
}

static inline adam_k adam_k_of(const opt_config *o, int64_t step, double lr, double wd)
{
    const double b1 = o->beta1, b2 = o->beta2, t = (double)step;
    const double bc1 = 1.0 - pow(b1, t), bc2 = 1.0 - pow(b2, t);
    const adam_k k = {(float)b1, (float)b2, (float)(1.0 - b1), (float)(1.0 - b2), (float)-(lr / bc1),
                      (float)sqrt(bc2), (float)o->eps, (float)wd, (float)(1.0 - lr * wd),
                      o->kind == OPT_ADAMW, wd != 0.0};
    return k;
}

static NN_HD void sgd_at(float *p, const float *g, float *buf, const unsigned char *mask, size_t i, const sgd_k *k)
{
    if (!mask[i]) return;
    float d = g[i];
    if (k->has_wd) d = NN_ADD_RN(d, NN_MUL_RN(k->fwd, p[i]));
    if (k->has_buf) {
        const float b = k->first ? d : NN_ADD_RN(NN_MUL_RN(buf[i], k->m), NN_MUL_RN(k->damp, d));
        buf[i] = b;
        d = k->nesterov ? NN_ADD_RN(d, NN_MUL_RN(k->m, b)) : b;
    }
    p[i] = NN_ADD_RN(p[i], NN_MUL_RN(k->neg_lr, d));
}

/* m, v: the state's exp_avg and exp_avg_sq. */
static NN_HD void adam_at(float *p, const float *g, float *m, float *v, const unsigned char *mask, size_t i,
                          const adam_k *k)
{
    if (!mask[i]) return;
    float gi = g[i], pi = p[i];
    if (k->decoupled) {
        if (k->has_wd) pi = NN_MUL_RN(pi, k->decay);
    } else if (k->has_wd) {
        gi = NN_ADD_RN(gi, NN_MUL_RN(k->fwd, pi));
    }
    const float mi = NN_ADD_RN(NN_MUL_RN(m[i], k->fb1), NN_MUL_RN(k->c1, gi));
    const float vi = NN_ADD_RN(NN_MUL_RN(v[i], k->fb2), NN_MUL_RN(NN_MUL_RN(k->c2, gi), gi));
    m[i] = mi;
    v[i] = vi;
    const float denom = NN_ADD_RN(NN_DIV_RN(NN_SQRT_RN(vi), k->bc2_sqrt), k->eps);
    p[i] = NN_ADD_RN(pi, NN_MUL_RN(k->neg_step, NN_DIV_RN(mi, denom)));
}

/* The gradient norm: blocks of SUM_THREADS sum g^2 over a grid stride into one partial each
 * (norm_blocks(n) of them, at most NORM_BLOCKS), then one block sums the partials. */
#define NORM_BLOCKS 1024

static inline size_t norm_blocks(size_t n)
{
    size_t blocks = (n + SUM_THREADS - 1) / SUM_THREADS;
    if (blocks < 1) blocks = 1;
    return blocks > NORM_BLOCKS ? NORM_BLOCKS : blocks;
}

/* The clipping factor from the total norm: below 1 scales, else the gradients stay. */
static NN_HD float clip_coef(float norm, float max_norm) { return NN_DIV_RN(max_norm, NN_ADD_RN(norm, 1e-6f)); }

static NN_HD void clip_at(float *g, size_t i, float coef) { g[i] = NN_MUL_RN(g[i], coef); }

#endif
