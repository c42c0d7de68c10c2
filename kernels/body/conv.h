/* conv.h — per-element bodies of the conv2d kernels (conv2d.cu, conv2d_bwd.cu): the zero-padded
 * copy and its cropped gradient, the weight repacking to and from cuDNN's KRSC order, and the
 * engine's own convolution (forward with fused bias + activation; backward-data and
 * backward-filter: the fallback when cuDNN has no algorithm, or one fails, for a layer — grouped
 * NHWC float32 backward is the least certain configuration in cuDNN 9). NHWC float32:
 *   x [B][IH][IW][C]   w (KRSC) [K][kh][kw][C/groups]   y, dy [B][OH][OW][K]
 *   engine weight [groups][kh][kw][C/groups][K/groups]. */
#ifndef STEERD_KERNELS_BODY_CONV_H
#define STEERD_KERNELS_BODY_CONV_H

#include "body.h"

typedef struct {
    int IH, IW, C, OH, OW, K, kh, kw, sh, sw, pt, pl, ig, og; /* ig = C/groups, og = K/groups */
} conv_dims;

/* xp [B][XH][XW][C] = x [B][IH][IW][C] placed at (pt, pl), zeros around; e < B*XH*XW*C. */
static NN_HD void conv_pad_at(float *xp, const float *x, size_t e, int IH, int IW, int C, int XH, int XW, int pt,
                              int pl)
{
    size_t b;
    int xh, xw, c;
    body_nhwc(e, XH, XW, C, &b, &xh, &xw, &c);
    const int ih = xh - pt, iw = xw - pl;
    xp[e] = ih >= 0 && ih < IH && iw >= 0 && iw < IW ? x[((b * IH + ih) * IW + iw) * C + c] : 0.0f;
}

/* dx [B][IH][IW][C] += dxp [B][XH][XW][C] at (pt, pl); e < B*IH*IW*C. */
static NN_HD void conv_crop_add_at(float *dx, const float *dxp, size_t e, int IH, int IW, int XH, int XW, int C,
                                   int pt, int pl)
{
    size_t b;
    int ih, iw, c;
    body_nhwc(e, IH, IW, C, &b, &ih, &iw, &c);
    dx[e] += dxp[((b * XH + ih + pt) * XW + iw + pl) * C + c];
}

/* k[o][tap][ci] = w[g][tap][ci][j], o = g*og + j; e < K*taps*ig (one per KRSC element). */
static NN_HD void conv_to_krsc_at(float *k, const float *w, size_t e, int taps, int ig, int og)
{
    const int ci = (int)(e % (size_t)ig);
    size_t t = e / (size_t)ig;
    const int tap = (int)(t % (size_t)taps);
    const int o = (int)(t / (size_t)taps), g = o / og, j = o % og;
    k[e] = w[(((size_t)g * taps + tap) * ig + ci) * og + j];
}

/* dw[g][tap][ci][j] += k[o][tap][ci] (one per engine element: coalesced writes); e < K*taps*ig. */
static NN_HD void conv_from_krsc_add_at(float *dw, const float *k, size_t e, int taps, int ig, int og)
{
    const int j = (int)(e % (size_t)og);
    size_t t = e / (size_t)og;
    const int ci = (int)(t % (size_t)ig);
    t /= (size_t)ig;
    const int tap = (int)(t % (size_t)taps), g = (int)(t / (size_t)taps);
    dw[e] += k[(((size_t)g * og + j) * taps + tap) * ig + ci];
}

/* y[e] = act(bias + sum over the window's in-bounds taps of x * w) for output e < B*OH*OW*K. */
static NN_HD void conv_fwd_at(float *y, const float *x, const float *w, const float *bias, size_t e,
                              const conv_dims *d, nn_act act, float alpha)
{
    size_t b;
    int oh, ow, o;
    body_nhwc(e, d->OH, d->OW, d->K, &b, &oh, &ow, &o);
    const int g = o / d->og;
    float acc = 0.0f;
    for (int kh = 0; kh < d->kh; kh++) {
        const int ih = oh * d->sh - d->pt + kh;
        if (ih < 0 || ih >= d->IH) continue;
        for (int kw = 0; kw < d->kw; kw++) {
            const int iw = ow * d->sw - d->pl + kw;
            if (iw < 0 || iw >= d->IW) continue;
            const float *xp = x + ((b * d->IH + ih) * d->IW + iw) * d->C + (size_t)g * d->ig;
            const float *wp = w + (((size_t)o * d->kh + kh) * d->kw + kw) * d->ig;
            for (int ci = 0; ci < d->ig; ci++) acc += xp[ci] * wp[ci];
        }
    }
    if (bias) acc += bias[o];
    y[e] = body_act(acc, act, alpha);
}

/* dx[e] += sum over the outputs whose window reads input e < B*IH*IW*C, over the group's
 * output channels, of dy * w (KRSC), gathered: no atomics. */
static NN_HD void conv_bwd_data_at(float *dx, const float *dy, const float *w, size_t e, const conv_dims *d)
{
    const body_gather w0 = body_gather_of(e, d->IH, d->IW, d->C, d->kh, d->kw, d->sh, d->sw, d->pt, d->pl, d->OH,
                                          d->OW);
    const size_t b = w0.b;
    const int ih = w0.ih, iw = w0.iw, g = w0.c / d->ig, ci = w0.c % d->ig;
    const int oh0 = w0.oh0, oh1 = w0.oh1, ow0 = w0.ow0, ow1 = w0.ow1;
    float acc = 0.0f;
    for (int oh = oh0; oh < oh1; oh++) {
        const int kh = ih + d->pt - oh * d->sh;
        for (int ow = ow0; ow < ow1; ow++) {
            const int kw = iw + d->pl - ow * d->sw;
            const float *gp = dy + ((b * d->OH + oh) * d->OW + ow) * d->K + (size_t)g * d->og;
            const float *wp = w + (((size_t)g * d->og * d->kh + kh) * d->kw + kw) * d->ig + ci;
            const size_t ostride = (size_t)d->kh * d->kw * d->ig;
            for (int j = 0; j < d->og; j++) acc += gp[j] * wp[j * ostride];
        }
    }
    dx[e] += acc;
}

/* dk[e] = sum over batch and output pixels of x * dy for KRSC weight element e < K*kh*kw*ig
 * (written, not added: conv_from_krsc_add_at adds it to the engine-layout gradient). */
static NN_HD void conv_bwd_filter_at(float *dk, const float *x, const float *dy, size_t e, int B, const conv_dims *d)
{
    const int ci = (int)(e % (size_t)d->ig);
    size_t t = e / (size_t)d->ig;
    const int kw = (int)(t % (size_t)d->kw);
    t /= (size_t)d->kw;
    const int kh = (int)(t % (size_t)d->kh);
    const int o = (int)(t / (size_t)d->kh), c = o / d->og * d->ig + ci;
    float acc = 0.0f;
    for (int b = 0; b < B; b++)
        for (int oh = 0; oh < d->OH; oh++) {
            const int ih = oh * d->sh - d->pt + kh;
            if (ih < 0 || ih >= d->IH) continue;
            for (int ow = 0; ow < d->OW; ow++) {
                const int iw = ow * d->sw - d->pl + kw;
                if (iw < 0 || iw >= d->IW) continue;
                acc += x[(((size_t)b * d->IH + ih) * d->IW + iw) * d->C + c] *
                       dy[(((size_t)b * d->OH + oh) * d->OW + ow) * d->K + o];
            }
        }
    dk[e] = acc;
}

#endif
