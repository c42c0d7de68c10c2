/* optim.c — SGD (momentum, Nesterov), Adam and AdamW on flat float arrays, gradient clipping by
 * global norm and closed-form learning-rate schedules, following PyTorch 1.13's single-tensor
 * code path operation by operation (float32 tensor arithmetic, double-precision scalars) so a
 * few steps agree with torch.optim to float rounding. */
#include "nn/optim.h"

#include <math.h>
#include <string.h>

opt_config opt_defaults(opt_kind kind)
{
    opt_config c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    c.beta1 = 0.9;
    c.beta2 = 0.999;
    c.eps = 1e-8;
    c.weight_decay = kind == OPT_ADAMW ? 0.01 : 0.0;
    return c;
}

static const char *kind_str(opt_kind k)
{
    switch (k) {
    case OPT_SGD: return "sgd";
    case OPT_ADAM: return "adam";
    case OPT_ADAMW: return "adamw";
    }
    return "?";
}

static nn_status range_fail(nn_err *err, opt_kind k, const char *field, const char *range, double v)
{
    return nn_fail(err, NN_E_ARG, "optimizer %s: %s out of range (expected %s, got %g)", kind_str(k), field,
                   range, v);
}

nn_status opt_validate(const opt_config *c, nn_err *err)
{
    if (c->kind != OPT_SGD && c->kind != OPT_ADAM && c->kind != OPT_ADAMW)
        return nn_fail(err, NN_E_ARG, "optimizer: unknown kind (expected sgd, adam or adamw, got %d)",
                       (int)c->kind);
    if (!(c->weight_decay >= 0.0 && isfinite(c->weight_decay)))
        return range_fail(err, c->kind, "weight_decay", ">= 0", c->weight_decay);
    if (c->kind == OPT_SGD) {
        if (!(c->momentum >= 0.0 && c->momentum < 1.0))
            return range_fail(err, c->kind, "momentum", "0 <= momentum < 1", c->momentum);
        if (!(c->dampening >= 0.0 && c->dampening <= 1.0))
            return range_fail(err, c->kind, "dampening", "0 <= dampening <= 1", c->dampening);
        if (c->nesterov && !(c->momentum > 0.0))
            return range_fail(err, c->kind, "momentum", "> 0 with nesterov", c->momentum);
        if (c->nesterov && c->dampening != 0.0)
            return range_fail(err, c->kind, "dampening", "0 with nesterov", c->dampening);
        return NN_OK;
    }
    if (!(c->beta1 >= 0.0 && c->beta1 < 1.0))
        return range_fail(err, c->kind, "beta1", "0 <= beta1 < 1", c->beta1);
    if (!(c->beta2 >= 0.0 && c->beta2 < 1.0))
        return range_fail(err, c->kind, "beta2", "0 <= beta2 < 1", c->beta2);
    if (!(c->eps > 0.0 && isfinite(c->eps)))
        return range_fail(err, c->kind, "eps", "> 0", c->eps);
    return NN_OK;
}

size_t opt_state_floats(const opt_config *c, size_t n_params)
{
    if (c->kind == OPT_SGD)
        return c->momentum > 0.0 ? n_params : 0;
    return 2 * n_params;
}

nn_status opt_init(opt_state *o, const opt_config *cfg, float *state, size_t n_params, nn_err *err)
{
    memset(o, 0, sizeof *o);
    nn_status s = opt_validate(cfg, err);
    if (s)
        return s;
    size_t ns = opt_state_floats(cfg, n_params);
    if (ns && !state)
        return nn_fail(err, NN_E_ARG, "optimizer %s: no state buffer for %zu floats", kind_str(cfg->kind), ns);
    o->cfg = *cfg;
    o->state = state;
    o->n = n_params;
    if (ns)
        memset(state, 0, ns * sizeof *state);
    return NN_OK;
}

void opt_begin_step(opt_state *o) { o->step++; }

/* torch: d_p = g (+ wd*p); buf = d_p (first step) | buf*m + (1-damp)*d_p; d_p = nesterov ?
 * d_p + m*buf : buf; p += -lr * d_p. */
static void sgd_update(const opt_state *o, float *p, const float *g, float *buf, size_t n, double lr, double wd)
{
    const float fwd = (float)wd, m = (float)o->cfg.momentum, damp = (float)(1.0 - o->cfg.dampening);
    const float neg_lr = (float)-lr;
    const bool first = o->step <= 1, nesterov = o->cfg.nesterov;
    for (size_t i = 0; i < n; i++) {
        float d = g[i];
        if (wd != 0.0)
            d = d + fwd * p[i];
        if (buf) {
            float b = first ? d : buf[i] * m + damp * d;
            buf[i] = b;
            d = nesterov ? d + m * b : b;
        }
        p[i] = p[i] + neg_lr * d;
    }
}

/* torch: (AdamW: p *= 1 - lr*wd) (Adam: g += wd*p); m = m*b1 + (1-b1)*g; v = v*b2 + (1-b2)*g*g;
 * denom = sqrt(v)/sqrt(1-b2^t) + eps; p += -(lr/(1-b1^t)) * m/denom. */
static void adam_update(const opt_state *o, float *p, const float *g, float *m, float *v, size_t n, double lr,
                        double wd)
{
    const double b1 = o->cfg.beta1, b2 = o->cfg.beta2, t = (double)o->step;
    const float fb1 = (float)b1, fb2 = (float)b2, c1 = (float)(1.0 - b1), c2 = (float)(1.0 - b2);
    const double bc1 = 1.0 - pow(b1, t), bc2 = 1.0 - pow(b2, t);
    const float neg_step = (float)-(lr / bc1), bc2_sqrt = (float)sqrt(bc2), eps = (float)o->cfg.eps;
    const bool decoupled = o->cfg.kind == OPT_ADAMW;
    const float fwd = (float)wd, decay = (float)(1.0 - lr * wd);
    for (size_t i = 0; i < n; i++) {
        float gi = g[i];
        if (decoupled) {
            if (wd != 0.0)
                p[i] = p[i] * decay;
        } else if (wd != 0.0) {
            gi = gi + fwd * p[i];
        }
        float mi = m[i] * fb1 + c1 * gi;
        float vi = v[i] * fb2 + c2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        float denom = sqrtf(vi) / bc2_sqrt + eps;
        p[i] = p[i] + neg_step * (mi / denom);
    }
}

void opt_update(opt_state *o, float *params, const float *grads, size_t offset, size_t count, double lr,
                double weight_decay)
{
    if (offset > o->n || count > o->n - offset)
        return; /* a caller bug: nothing sensible to update */
    float *p = params + offset;
    const float *g = grads + offset;
    if (o->cfg.kind == OPT_SGD) {
        float *buf = o->cfg.momentum > 0.0 ? o->state + offset : NULL;
        sgd_update(o, p, g, buf, count, lr, weight_decay);
    } else {
        adam_update(o, p, g, o->state + offset, o->state + o->n + offset, count, lr, weight_decay);
    }
}

void opt_step(opt_state *o, float *params, const float *grads, double lr)
{
    opt_begin_step(o);
    opt_update(o, params, grads, 0, o->n, lr, o->cfg.weight_decay);
}

float opt_clip_grad_norm(float *grads, size_t n, float max_norm)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += (double)grads[i] * (double)grads[i];
    float total = (float)sqrt(sum);
    float coef = max_norm / (total + 1e-6f);
    if (coef < 1.0f) /* torch clamps to 1 and always multiplies; x * 1 == x */
        for (size_t i = 0; i < n; i++)
            grads[i] *= coef;
    return total;
}

/* ---- schedules ---- */

nn_status lr_validate(const lr_schedule *s, nn_err *err)
{
    if (!(s->lr > 0.0 && isfinite(s->lr)))
        return nn_fail(err, NN_E_ARG, "schedule: lr out of range (expected > 0, got %g)", s->lr);
    switch (s->kind) {
    case LR_CONSTANT:
        return NN_OK;
    case LR_STEP:
        if (s->step_size < 1)
            return nn_fail(err, NN_E_ARG, "schedule step: step_size out of range (expected >= 1, got %d)",
                           s->step_size);
        if (!(s->gamma > 0.0 && s->gamma <= 1.0))
            return nn_fail(err, NN_E_ARG, "schedule step: gamma out of range (expected 0 < gamma <= 1, got %g)",
                           s->gamma);
        return NN_OK;
    case LR_COSINE:
        if (s->warmup < 0)
            return nn_fail(err, NN_E_ARG, "schedule cosine: warmup out of range (expected >= 0, got %d)",
                           s->warmup);
        if (s->warmup > 0 && !(s->warmup_start > 0.0 && s->warmup_start <= 1.0))
            return nn_fail(err, NN_E_ARG,
                           "schedule cosine: warmup_start out of range (expected 0 < warmup_start <= 1, got %g)",
                           s->warmup_start);
        if (s->total <= s->warmup)
            return nn_fail(err, NN_E_ARG, "schedule cosine: total out of range (expected > warmup = %d, got %d)",
                           s->warmup, s->total);
        if (!(s->min_lr >= 0.0 && s->min_lr <= s->lr))
            return nn_fail(err, NN_E_ARG, "schedule cosine: min_lr out of range (expected 0 <= min_lr <= lr, got %g)",
                           s->min_lr);
        return NN_OK;
    }
    return nn_fail(err, NN_E_ARG, "schedule: unknown kind (expected constant, step or cosine, got %d)",
                   (int)s->kind);
}

double lr_at(const lr_schedule *s, int64_t t)
{
    if (t < 0)
        t = 0;
    switch (s->kind) {
    case LR_CONSTANT:
        return s->lr;
    case LR_STEP:
        return s->lr * pow(s->gamma, (double)(t / (s->step_size > 0 ? s->step_size : 1)));
    case LR_COSINE: {
        if (t < s->warmup)
            return s->lr * (s->warmup_start + (1.0 - s->warmup_start) * (double)t / (double)s->warmup);
        int64_t span = s->total - s->warmup, u = t - s->warmup;
        if (span < 1)
            return s->min_lr;
        if (u > span)
            u = span;
        return s->min_lr + (s->lr - s->min_lr) * (1.0 + cos(M_PI * (double)u / (double)span)) / 2.0;
    }
    }
    return s->lr;
}
