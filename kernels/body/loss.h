/* loss.h — per-element bodies of the training losses (loss.cu), the semantics of
 * src/nn/cpu/loss.c (double arithmetic): each writes its gradient and its loss term; the
 * kernel then sums the terms in one block of SUM_THREADS (body.h) (a NaN term makes the loss NaN).
 *   cross-entropy  per sample b of [batch][classes], labels [batch], inv_b = 1/denom
 *   MSE, Huber     per element i of batch*n, divisor M = denom*n
 * denom: batch, or in a data-parallel slice the global batch (loss_divisor), so that the slices'
 * gradients and loss shares add up to the whole batch's mean. */
#ifndef STEERD_KERNELS_BODY_LOSS_H
#define STEERD_KERNELS_BODY_LOSS_H

#include <stdbool.h>

#include "body.h"

static NN_HD void ce_at(float *d, double *term, const float *y, bool y_is_prob, const int *labels, int classes,
                        double inv_b, size_t b)
{
    const float *yb = y + b * (size_t)classes;
    float *db = d + b * (size_t)classes;
    const int lab = labels[b];
    if (lab < 0 || lab >= classes) {
        term[b] = nan("");
        return;
    }
    if (y_is_prob) {
        const double p = yb[lab] > 1e-30f ? yb[lab] : 1e-30;
        term[b] = -log(p);
        for (int c = 0; c < classes; c++) db[c] = (float)(((double)yb[c] - (c == lab)) * inv_b);
    } else {
        double mx = yb[0], sum = 0.0;
        for (int c = 1; c < classes; c++) mx = yb[c] > mx ? yb[c] : mx;
        for (int c = 0; c < classes; c++) sum += exp((double)yb[c] - mx);
        const double lse = mx + log(sum);
        term[b] = lse - yb[lab];
        for (int c = 0; c < classes; c++) db[c] = (float)((exp((double)yb[c] - lse) - (c == lab)) * inv_b);
    }
}

/* The samples a loss averages over: this batch, or a data-parallel slice's global batch
 * (global_batch > 0); the CPU's denom (src/nn/cpu/loss.c). */
static NN_HD int loss_divisor(int batch, int global_batch) { return global_batch > 0 ? global_batch : batch; }

/* term = e^2, d = 2e / M, e = y - t. */
static NN_HD void mse_at(float *d, double *term, const float *y, const float *t, size_t M, size_t i)
{
    const double e = (double)y[i] - t[i];
    term[i] = e * e;
    d[i] = (float)(2.0 * e / (double)M);
}

/* term = |e| <= delta ? e^2/2 : delta (|e| - delta/2), d = clamp(e, +-delta) / M. */
static NN_HD void huber_at(float *d, double *term, const float *y, const float *t, size_t M, float delta, size_t i)
{
    const double e = (double)y[i] - t[i], ae = fabs(e);
    term[i] = ae <= delta ? 0.5 * e * e : delta * (ae - 0.5 * delta);
    const double g = ae <= delta ? e : (e > 0 ? delta : -delta);
    d[i] = (float)(g / (double)M);
}

#endif
