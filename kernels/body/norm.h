/* norm.h — per-element bodies of batch normalisation (batchnorm.cu: inference statistics;
 * batchnorm_bwd.cu: training), NHWC viewed as [M][C] (M = batch*H*W pixels), the arithmetic of
 * src/nn/cpu/batchnorm.c with every float step rounded on its own (no FMA contraction):
 *   inference  y = act(x * s + (beta - mean * s)), s = gamma / sqrt(var + eps)
 *   training   the statistics' sum terms (sum x by col_term, then sum (x - mean)^2; backward
 *              sum dy and sum dy*xh), the per-channel steps after the sums (saved mean / istd
 *              and running statistics; the backward's coefficients and parameter gradients) and
 *              the element-wise passes; in a data-parallel slice the pixel count of the whole
 *              batch and the slice's share of the parameter gradients. */
#ifndef STEERD_KERNELS_BODY_NORM_H
#define STEERD_KERNELS_BODY_NORM_H

#include "body.h"

/* Pixels per channel the training statistics are over: n = B*H*W with B this batch, or in a
 * data-parallel slice (global_batch > 0) the whole batch (src/nn/cpu/batchnorm.c bn_count). */
static NN_HD double bn_pixels(int batch, int global_batch, int h, int w)
{
    return (double)(global_batch > 0 ? global_batch : batch) * h * w;
}

/* y[i] (may alias x) with the running statistics, C channels, then the fused activation. */
static NN_HD void bn_infer_at(float *y, const float *x, size_t i, int C, const float *gamma, const float *beta,
                              const float *mean, const float *var, float eps, nn_act act, float alpha)
{
    const int c = (int)(i % (size_t)C);
    const float s = NN_DIV_RN(gamma[c], NN_SQRT_RN(NN_ADD_RN(var[c], eps)));
    const float t = NN_SUB_RN(beta[c], NN_MUL_RN(mean[c], s));
    y[i] = body_act(NN_ADD_RN(NN_MUL_RN(x[i], s), t), act, alpha);
}

/* Pass 2 of the training statistics: (x[r][c] - mean)^2, mean = tot[c] / n in double. */
static NN_HD double bn_dev2_term(const float *x, const double *tot, double n, int r, int c, int C)
{
    const double d = (double)x[(size_t)r * C + c] - tot[c] / n;
    return d * d;
}

/* The backward's sums: z = 0: dy, z = 1: dy * xh, xh = (x - mean) * istd. */
static NN_HD double bn_bwd_term(const float *x, const float *g, const float *mean, const float *istd, int r, int c,
                                int z, int C)
{
    const size_t i = (size_t)r * C + c;
    if (z == 0) return g[i];
    return (double)g[i] * (double)NN_MUL_RN(NN_SUB_RN(x[i], mean[c]), istd[c]);
}

/* Channel c from tot1 = sum x, tot2 = sum (x - mean)^2 over n pixels: saved = mean [C] then
 * istd [C]; running statistics (either may be NULL) with momentum m, unbiased variance. */
static NN_HD void bn_stats_at(float *saved, float *rm, float *rv, const double *tot1, const double *tot2, size_t c,
                              int C, double n, float eps, float m)
{
    const double mean = tot1[c] / n, s2 = tot2[c], var = s2 / n;
    saved[c] = (float)mean;
    saved[C + c] = (float)(1.0 / sqrt(var + (double)eps));
    const float keep = NN_SUB_RN(1.0f, m);
    if (rm) rm[c] = NN_ADD_RN(NN_MUL_RN(keep, rm[c]), NN_MUL_RN(m, (float)mean));
    if (rv) {
        const double unbiased = n > 1.0 ? s2 / (n - 1.0) : var;
        rv[c] = NN_ADD_RN(NN_MUL_RN(keep, rv[c]), NN_MUL_RN(m, (float)unbiased));
    }
}

/* Training forward of element i: y = x * (gamma*istd) + (beta - mean*gamma*istd). */
static NN_HD void bn_norm_at(float *y, const float *x, const float *saved, const float *gamma, const float *beta,
                             size_t i, int C)
{
    const int c = (int)(i % (size_t)C);
    const float scale = NN_MUL_RN(gamma[c], saved[C + c]);
    const float shift = NN_SUB_RN(beta[c], NN_MUL_RN(saved[c], scale));
    y[i] = NN_ADD_RN(NN_MUL_RN(x[i], scale), shift);
}

/* Channel c of the backward from tot [2][C] = sum dy, sum dy*xh: dgamma += sum dy*xh, dbeta +=
 * sum dy (either may be NULL), k [3][C] = s, s*sum dy/n, s*sum dy*xh/n with s = gamma*istd. */
static NN_HD void bn_bwd_coef_at(float *k, float *dgamma, float *dbeta, const double *tot, size_t c, int C, double n,
                                 const float *gamma, const float *istd)
{
    const double sdy = tot[c], sdx = tot[C + c];
    if (dgamma) dgamma[c] += (float)sdx;
    if (dbeta) dbeta[c] += (float)sdy;
    const float s = NN_MUL_RN(gamma[c], istd[c]);
    k[c] = s;
    k[C + c] = NN_MUL_RN(s, (float)(sdy / n));
    k[2 * C + c] = NN_MUL_RN(s, (float)(sdx / n));
}

/* A data-parallel slice's share of the parameter gradients from its own sums tot [2][C] (sum dy,
 * sum dy*xh): dgamma += sum dy*xh, dbeta += sum dy (either may be NULL); the shares are summed
 * with the other gradients, and bn_bwd_coef_at then runs on the whole batch's sums without them. */
static NN_HD void bn_grad_share_at(float *dgamma, float *dbeta, const double *tot, size_t c, int C)
{
    if (dgamma) dgamma[c] += (float)tot[C + c];
    if (dbeta) dbeta[c] += (float)tot[c];
}

/* dx[i] += k1*dy - k2 - xh*k3 (the CPU's order). */
static NN_HD void bn_bwd_dx_at(float *dx, const float *x, const float *g, const float *mean, const float *istd,
                               const float *k, size_t i, int C)
{
    const int c = (int)(i % (size_t)C);
    const float xh = NN_MUL_RN(NN_SUB_RN(x[i], mean[c]), istd[c]);
    const float v = NN_SUB_RN(NN_SUB_RN(NN_MUL_RN(k[c], g[i]), k[C + c]), NN_MUL_RN(xh, k[2 * C + c]));
    dx[i] = NN_ADD_RN(dx[i], v);
}

#endif
