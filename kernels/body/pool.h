/* pool.h — per-element bodies of the pooling kernels (pool.cu, pool_bwd.cu), NHWC, the CPU's
 * semantics (src/nn/cpu/pool.c): max ignores padded cells; avg divides by the real cells, or with
 * count_pad by the window's cells inside the padded input (summed in window order, then times
 * 1/divisor); backward gathered per input element in the CPU's (oh, ow) order (max: the first
 * maximal cell of each window gets the gradient); global average pool.
 *   x, dx [B][IH][IW][C]   y, dy [B][OH][OW][C]. */
#ifndef STEERD_KERNELS_BODY_POOL_H
#define STEERD_KERNELS_BODY_POOL_H

#include "body.h"

typedef struct {
    int IH, IW, C, OH, OW, kh, kw, sh, sw, pt, pl;
    int pb, pr, count_pad; /* trailing padding and avg_pool's count_pad (the divisor) */
} pool_dims;

/* The dims of a max_pool2d / avg_pool2d layer (host side: the launches and the CPU test). */
static inline pool_dims pool_dims_of(const nn_layer *l)
{
    const pool_dims d = {l->in.h, l->in.w, l->in.c, l->out.h, l->out.w, l->kh, l->kw, l->sh, l->sw, l->pad_top,
                         l->pad_left, l->pad_bottom, l->pad_right, l->count_pad ? 1 : 0};
    return d;
}

/* The average's divisor for the window at (ih0, iw0) whose real cells are [kh0, kh1) x [kw0, kw1):
 * those cells, or with count_pad the window's cells inside the padded input (PyTorch's
 * count_include_pad; kh x kw unless the window overhangs the trailing padding). */
static NN_HD int pool_divisor(const pool_dims *d, int ih0, int iw0, int kh0, int kh1, int kw0, int kw1)
{
    if (!d->count_pad) return (kh1 - kh0) * (kw1 - kw0);
    const int he = ih0 + d->kh < d->IH + d->pb ? ih0 + d->kh : d->IH + d->pb;
    const int we = iw0 + d->kw < d->IW + d->pr ? iw0 + d->kw : d->IW + d->pr;
    return (he - ih0) * (we - iw0);
}

/* y[e] for output e < B*OH*OW*C. */
static NN_HD void pool_fwd_at(float *y, const float *x, size_t e, const pool_dims *d, int is_max)
{
    size_t b;
    int oh, ow, c;
    body_nhwc(e, d->OH, d->OW, d->C, &b, &oh, &ow, &c);
    const int ih0 = oh * d->sh - d->pt, iw0 = ow * d->sw - d->pl;
    const int kh0 = ih0 < 0 ? -ih0 : 0, kh1 = ih0 + d->kh > d->IH ? d->IH - ih0 : d->kh;
    const int kw0 = iw0 < 0 ? -iw0 : 0, kw1 = iw0 + d->kw > d->IW ? d->IW - iw0 : d->kw;
    const int cells = (kh1 - kh0) * (kw1 - kw0), div = pool_divisor(d, ih0, iw0, kh0, kh1, kw0, kw1);
    if (cells <= 0) {
        y[e] = 0.0f;
        return;
    }
    const float *img = x + b * (size_t)d->IH * d->IW * d->C + c;
    float v = img[((size_t)(ih0 + kh0) * d->IW + (size_t)(iw0 + kw0)) * d->C];
    for (int kh = kh0; kh < kh1; kh++)
        for (int kw = kw0; kw < kw1; kw++) {
            if (kh == kh0 && kw == kw0) continue;
            const float t = img[((size_t)(ih0 + kh) * d->IW + (size_t)(iw0 + kw)) * d->C];
            v = is_max ? fmaxf(v, t) : v + t;
        }
    if (!is_max && div > 1) v *= 1.0f / (float)div;
    y[e] = v;
}

/* dx[e] += the gradients of the windows input e < B*IH*IW*C is in. */
static NN_HD void pool_bwd_at(float *dx, const float *x, const float *dy, size_t e, const pool_dims *p, int is_max)
{
    const body_gather g = body_gather_of(e, p->IH, p->IW, p->C, p->kh, p->kw, p->sh, p->sw, p->pt, p->pl, p->OH, p->OW);
    const size_t b = g.b;
    const int ih = g.ih, iw = g.iw, c = g.c, oh0 = g.oh0, oh1 = g.oh1, ow0 = g.ow0, ow1 = g.ow1;
    const float *img = x + b * (size_t)p->IH * p->IW * p->C;
    float acc = dx[e];
    for (int oh = oh0; oh < oh1; oh++) {
        const int y0 = oh * p->sh - p->pt;
        const int kh0 = y0 < 0 ? -y0 : 0, kh1 = y0 + p->kh > p->IH ? p->IH - y0 : p->kh;
        for (int ow = ow0; ow < ow1; ow++) {
            const int x0 = ow * p->sw - p->pl;
            const int kw0 = x0 < 0 ? -x0 : 0, kw1 = x0 + p->kw > p->IW ? p->IW - x0 : p->kw;
            const float gv = dy[((b * p->OH + oh) * p->OW + ow) * p->C + c];
            if (is_max) {
                int bh = y0 + kh0, bw = x0 + kw0;
                float bv = img[((size_t)bh * p->IW + bw) * p->C + c];
                for (int kh = kh0; kh < kh1; kh++)
                    for (int kw = kw0; kw < kw1; kw++) {
                        const float v = img[((size_t)(y0 + kh) * p->IW + (x0 + kw)) * p->C + c];
                        if (v > bv) bv = v, bh = y0 + kh, bw = x0 + kw;
                    }
                if (bh == ih && bw == iw) acc += gv;
            } else {
                const int div = pool_divisor(p, y0, x0, kh0, kh1, kw0, kw1);
                acc = NN_ADD_RN(acc, NN_MUL_RN(gv, 1.0f / (float)div)); /* the CPU's rounding */
            }
        }
    }
    dx[e] = acc;
}

/* y[e] = mean over the HW pixels (summed in order) for e < B*C. */
static NN_HD void gap_fwd_at(float *y, const float *x, size_t e, int C, size_t HW)
{
    const size_t b = e / (size_t)C;
    const int c = (int)(e % (size_t)C);
    const float *p = x + b * HW * (size_t)C + c;
    float s = 0.0f;
    for (size_t i = 0; i < HW; i++) s += p[i * (size_t)C];
    y[e] = s * (1.0f / (float)HW);
}

/* dx[e] += dy[b][c] / HW for e < B*HW*C (inv = 1/HW). */
static NN_HD void gap_bwd_at(float *dx, const float *dy, size_t e, size_t HW, int C, float inv)
{
    const size_t c = e % (size_t)C, b = e / (HW * (size_t)C);
    dx[e] = NN_ADD_RN(dx[e], NN_MUL_RN(dy[b * (size_t)C + c], inv));
}

#endif
