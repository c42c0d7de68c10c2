/* depthwise.h — per-element bodies of the depthwise kernels (depthwise.cu, depthwise_bwd.cu),
 * NHWC, explicit padding, depth multiplier dm (output channel o reads input channel o/dm):
 *   x [B][IH][IW][C]   w [kh][kw][CO]   bias [CO] or NULL   y, dy [B][OH][OW][CO], CO = C*dm.
 * kh_n / kw_n: the window the caller unrolls for (the forward kernel passes its template
 * constants, so the loops unroll after inlining; d->kh / d->kw otherwise). */
#ifndef STEERD_KERNELS_BODY_DEPTHWISE_H
#define STEERD_KERNELS_BODY_DEPTHWISE_H

#include "body.h"

typedef struct {
    int IH, IW, C, OH, OW, CO, dm, kh, kw, sh, sw, pt, pl;
} dw_dims;

/* y[e] = act(bias[o] + sum of the in-bounds taps) for output e < B*OH*OW*CO. */
static NN_HD void dw_fwd_at(float *y, const float *x, const float *w, const float *bias, size_t e, const dw_dims *d,
                            int kh_n, int kw_n, nn_act act, float alpha)
{
    size_t b;
    int oh, ow, o;
    body_nhwc(e, d->OH, d->OW, d->CO, &b, &oh, &ow, &o);
    const int ih0 = oh * d->sh - d->pt, iw0 = ow * d->sw - d->pl;
    const float *img = x + b * (size_t)d->IH * d->IW * d->C + o / d->dm;
    float acc = bias ? bias[o] : 0.0f;
#ifdef __CUDA_ARCH__
#pragma unroll
#endif
    for (int kh = 0; kh < kh_n; kh++) {
        const int ih = ih0 + kh;
        if (ih < 0 || ih >= d->IH) continue;
#ifdef __CUDA_ARCH__
#pragma unroll
#endif
        for (int kw = 0; kw < kw_n; kw++) {
            const int iw = iw0 + kw;
            if (iw < 0 || iw >= d->IW) continue;
            acc += img[((size_t)ih * d->IW + iw) * d->C] * w[(size_t)(kh * kw_n + kw) * d->CO + o];
        }
    }
    y[e] = body_act(acc, act, alpha);
}

/* dx[e] += sum over the taps that read input e < B*IH*IW*C (the CPU's (oh, ow) order) of
 * sum_m w[tap][c*dm + m] * dy[.., c*dm + m], with the CPU's unfused rounding. */
static NN_HD void dw_bwd_input_at(float *dx, const float *w, const float *dy, size_t e, const dw_dims *p)
{
    const body_gather g = body_gather_of(e, p->IH, p->IW, p->C, p->kh, p->kw, p->sh, p->sw, p->pt, p->pl, p->OH, p->OW);
    const size_t b = g.b;
    const int ih = g.ih, iw = g.iw, c = g.c, oh0 = g.oh0, oh1 = g.oh1, ow0 = g.ow0, ow1 = g.ow1;
    float acc = dx[e];
    for (int oh = oh0; oh < oh1; oh++) {
        const int kh = ih + p->pt - oh * p->sh;
        for (int ow = ow0; ow < ow1; ow++) {
            const int kw = iw + p->pl - ow * p->sw;
            const float *gp = dy + ((b * p->OH + oh) * p->OW + ow) * p->CO + (size_t)c * p->dm;
            const float *wp = w + (size_t)(kh * p->kw + kw) * p->CO + (size_t)c * p->dm;
            float s = 0.0f;
            for (int m = 0; m < p->dm; m++) s = NN_ADD_RN(s, NN_MUL_RN(wp[m], gp[m]));
            acc = NN_ADD_RN(acc, s);
        }
    }
    dx[e] = acc;
}

/* The terms the filter / bias gradients sum over rows r = output pixels (b, oh, ow), channel o:
 * z < taps: x[.., tap z's input pixel, o/dm] * dy[r][o] (0 out of bounds); z == taps: dy[r][o]. */
static NN_HD double dw_grad_term(const float *x, const float *dy, int r, int o, int z, const dw_dims *p)
{
    const float gv = dy[(size_t)r * p->CO + o];
    if (z == p->kh * p->kw) return gv;
    const int ow = r % p->OW, oh = r / p->OW % p->OH, b = r / (p->OW * p->OH);
    const int ih = oh * p->sh - p->pt + z / p->kw, iw = ow * p->sw - p->pl + z % p->kw;
    if (ih < 0 || ih >= p->IH || iw < 0 || iw >= p->IW) return 0.0;
    const float xv = x[(((size_t)b * p->IH + ih) * p->IW + iw) * p->C + o / p->dm];
    return (double)xv * (double)gv;
}

/* dw[i] += tot[i] (i < taps*CO), db[i - taps*CO] += tot[i] after; i < (taps + 1) * CO. */
static NN_HD void dw_add_grads_at(float *dw, float *db, const double *tot, size_t i, int taps, int CO)
{
    if (i < (size_t)taps * CO) {
        if (dw) dw[i] += (float)tot[i];
    } else if (db) {
        db[i - (size_t)taps * CO] += (float)tot[i];
    }
}

#endif
