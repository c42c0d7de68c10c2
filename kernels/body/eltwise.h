/* eltwise.h — per-element bodies of the element-wise and gather kernels: activations, the bias +
 * activation epilogue and sigmoid / tanh / elu / clip (activation.cu, activation_bwd.cu), channel
 * shuffle (shuffle.cu, shuffle_bwd.cu), add / concat / dropout (merge.cu, merge_bwd.cu), softmax
 * backward per pixel. NHWC float32; C = channels of the tensor indexed. */
#ifndef STEERD_KERNELS_BODY_ELTWISE_H
#define STEERD_KERNELS_BODY_ELTWISE_H

#include "body.h"

/* x[i] = act(x[i] + bias[i % c]) (bias may be NULL). */
static NN_HD void bias_act_at(float *x, size_t i, int c, const float *bias, nn_act act, float alpha)
{
    float v = x[i];
    if (bias) v += bias[i % (size_t)c];
    x[i] = body_act(v, act, alpha);
}

/* relu: d += x > 0 ? dy : 0; leaky: d += x > 0 ? dy : alpha * dy (from the saved input). */
static NN_HD void act_bwd_at(float *d, const float *x, const float *g, size_t i, nn_act act, float alpha)
{
    d[i] += x[i] > 0.0f ? g[i] : act == NN_ACT_LEAKY ? g[i] * alpha : 0.0f;
}

/* The pointwise activations sigmoid, tanh, elu (alpha), clip (lo, hi), as src/nn/cpu/activation.c:
 * sigmoid 1 / (1 + exp(-x)); elu x > 0 ? x : alpha * expm1(x); clip x < lo ? lo : x > hi ? hi : x. */
typedef struct {
    nn_op op;
    float alpha, lo, hi;
} body_pw;

static NN_HD body_pw body_pw_of(const nn_layer *l)
{
    const body_pw f = {l->op, l->alpha, l->lo, l->hi};
    return f;
}

/* y[i] = f(x[i]) (y may alias x). */
static NN_HD void pw_at(float *y, const float *x, size_t i, body_pw f)
{
    const float v = x[i];
    if (f.op == NN_OP_CLIP) y[i] = v < f.lo ? f.lo : v > f.hi ? f.hi : v;
    else if (f.op == NN_OP_SIGMOID) y[i] = 1.0f / (1.0f + expf(-v));
    else if (f.op == NN_OP_TANH) y[i] = tanhf(v);
    else y[i] = v > 0.0f ? v : f.alpha * expm1f(v);
}

/* d[i] += dy * f' (x: the forward's input, y: its output): sigmoid dy * y * (1 - y), tanh
 * dy * (1 - y*y), elu x > 0 ? dy : dy * alpha * exp(x), clip lo < x < hi ? dy : 0. */
static NN_HD void pw_bwd_at(float *d, const float *x, const float *y, const float *g, size_t i, body_pw f)
{
    float t;
    if (f.op == NN_OP_CLIP) t = x[i] > f.lo && x[i] < f.hi ? g[i] : 0.0f;
    else if (f.op == NN_OP_SIGMOID) t = g[i] * (y[i] * (1.0f - y[i]));
    else if (f.op == NN_OP_TANH) t = g[i] * (1.0f - y[i] * y[i]);
    else t = x[i] > 0.0f ? g[i] : g[i] * (f.alpha * expf(x[i]));
    d[i] += t;
}

/* Softmax backward of pixel px (y saved): d += y * (dy - sum_c dy*y), the sum in double. */
static NN_HD void softmax_bwd_px(float *d, const float *y, const float *g, size_t px, int C)
{
    const float *yp = y + px * (size_t)C, *gp = g + px * (size_t)C;
    float *dp = d + px * (size_t)C;
    double s = 0.0;
    for (int c = 0; c < C; c++) s += (double)gp[c] * yp[c];
    const float fs = (float)s;
    for (int c = 0; c < C; c++) dp[c] += yp[c] * (gp[c] - fs);
}

/* Channel shuffle, groups g, C = g*n: y[.., j*g + i] = x[.., i*n + j] (e < B*H*W*C). */
static NN_HD void shuffle_at(float *y, const float *x, size_t e, int C, int g)
{
    const int n = C / g;
    const size_t px = e / (size_t)C;
    const int oc = (int)(e % (size_t)C), j = oc / g, i = oc % g;
    y[e] = x[px * (size_t)C + (size_t)(i * n + j)];
}

/* Its backward: d[.., i*n + j] += dy[.., j*g + i]. */
static NN_HD void shuffle_bwd_at(float *d, const float *dy, size_t e, int C, int g)
{
    const int n = C / g;
    const size_t px = e / (size_t)C;
    const int k = (int)(e % (size_t)C), i = k / n, j = k % n;
    d[e] += dy[px * (size_t)C + (size_t)(j * g + i)];
}

/* The inputs of add / concat: x[k], and for concat c0[k] = first output channel of input k, c0[n] = C. */
typedef struct {
    const float *x[NN_MAX_INPUTS];
    int c0[NN_MAX_INPUTS + 1];
    int n;
} body_inputs;

/* y[i] = sum of the n >= 2 inputs (y may alias any: every input read before the write). */
static NN_HD void add_at(float *y, const body_inputs *in, size_t i)
{
    float v = in->x[0][i] + in->x[1][i];
    for (int k = 2; k < in->n; k++) v += in->x[k][i];
    y[i] = v;
}

/* y[e] = the input channel that output channel e % C comes from (inputs side by side). */
static NN_HD void concat_at(float *y, const body_inputs *in, size_t e)
{
    const int C = in->c0[in->n];
    const size_t px = e / (size_t)C;
    const int c = (int)(e % (size_t)C);
    int k = 0;
    while (k + 1 < in->n && c >= in->c0[k + 1]) k++;
    const int ck = in->c0[k + 1] - in->c0[k];
    y[e] = in->x[k][px * (size_t)ck + (size_t)(c - in->c0[k])];
}

/* d [pixels][ck] += dy [pixels][C] channels [off, off+ck); e < pixels*ck. */
static NN_HD void concat_bwd_at(float *d, const float *dy, size_t e, int C, int off, int ck)
{
    const size_t px = e / (size_t)ck, c = e % (size_t)ck;
    d[e] += dy[px * (size_t)C + (size_t)off + c];
}

/* splitmix64 finaliser, as src/nn/cpu/merge.c. */
static NN_HD uint64_t body_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Training dropout of element i: mask 0 with probability rate (the CPU's counter hash of the
 * key and the element's global index base + i), else keep = 1/(1-rate); y = x * mask. key =
 * body_mix64(seed + golden ratio); base: 0, or in a data-parallel slice first * (floats per
 * sample), so that a slice draws the whole batch's mask rows (src/nn/cpu/merge.c drop_body). */
static NN_HD void dropout_fwd_at(float *y, float *mask, const float *x, size_t i, uint64_t base, uint64_t key,
                                 float rate, float keep)
{
    const uint64_t g = base + (uint64_t)i;
    const double u = (double)(body_mix64(key ^ (g * 0x9e3779b97f4a7c15ull + 1)) >> 11) * 0x1.0p-53;
    const float m = u < (double)rate ? 0.0f : keep;
    mask[i] = m;
    y[i] = x[i] * m;
}

/* The trivial accumulations: dropout backward d += dy * mask (merge_bwd.cu), the training
 * forward's bias add out += bias[i % c] (conv2d_bwd.cu, after cuDNN's convolution). */
static NN_HD void dropout_bwd_at(float *d, const float *g, const float *mask, size_t i)
{
    d[i] = NN_ADD_RN(d[i], NN_MUL_RN(g[i], mask[i]));
}

static NN_HD void bias_add_at(float *out, const float *bias, size_t i, int c) { out[i] += bias[i % (size_t)c]; }

#endif
