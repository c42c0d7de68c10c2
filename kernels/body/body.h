/* body.h — what the per-element kernel bodies (kernels/body/ headers) share. A body is the work of
 * one grid index: a `static inline` function compiled by nvcc for the device (called from a
 * .cu kernel's grid-stride loop, where it is inlined) and by the C compiler for the host (the CPU
 * test tests/test_kernel_bodies.c runs it over every index of the grid the kernel launches and
 * compares with src/nn/cpu). So a body uses only C: no templates, no CUDA intrinsics except
 * through the macros below, no shared memory or warp shuffles (those kernels keep their
 * reduction in the .cu and put only the per-element term here). */
#ifndef STEERD_KERNELS_BODY_H
#define STEERD_KERNELS_BODY_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "nn/graph.h"

#ifdef __CUDACC__
#define NN_HD __host__ __device__ __forceinline__
#else
#define NN_HD inline
#endif

/* Unfused float arithmetic where the CPU's rounding must be reproduced to the bit (nvcc would
 * contract a*b + c into one FMA in device code; the C build compiles with ISO C, no contraction). */
#if defined(__CUDA_ARCH__)
#define NN_ADD_RN(a, b) __fadd_rn((a), (b))
#define NN_SUB_RN(a, b) __fsub_rn((a), (b))
#define NN_MUL_RN(a, b) __fmul_rn((a), (b))
#define NN_DIV_RN(a, b) __fdiv_rn((a), (b))
#define NN_SQRT_RN(a) __fsqrt_rn(a)
#else
#define NN_ADD_RN(a, b) ((a) + (b))
#define NN_SUB_RN(a, b) ((a) - (b))
#define NN_MUL_RN(a, b) ((a) * (b))
#define NN_DIV_RN(a, b) ((a) / (b))
#define NN_SQRT_RN(a) sqrtf(a)
#endif

/* Threads of the one-block tree sums in shared memory (loss.cu's loss, optim.cu's gradient norm). */
#define SUM_THREADS 256

static NN_HD float body_act(float v, nn_act act, float alpha)
{
    if (act == NN_ACT_RELU) return v > 0.0f ? v : 0.0f;
    if (act == NN_ACT_LEAKY) return v < 0.0f ? v * alpha : v;
    return v;
}

/* Flat NHWC index e of an H x W x C tensor -> image b, row h, column w, channel c. */
static NN_HD void body_nhwc(size_t e, int H, int W, int C, size_t *b, int *h, int *w, int *c)
{
    *c = (int)(e % (size_t)C);
    size_t t = e / (size_t)C;
    *w = (int)(t % (size_t)W);
    t /= (size_t)W;
    *h = (int)(t % (size_t)H);
    *b = t / (size_t)H;
}

/* Output positions along one axis whose window (size k, stride s, leading padding pad) contains
 * input coordinate i: [o0, o1), clipped to [0, n_out). Pooling, depthwise and conv backward gather. */
static NN_HD void body_windows(int i, int k, int s, int pad, int n_out, int *o0, int *o1)
{
    const int num = i + pad - k + 1; /* o*s >= num */
    int lo = num <= 0 ? 0 : (num + s - 1) / s;
    int hi = (i + pad) / s + 1;      /* o*s <= i + pad */
    if (hi > n_out) hi = n_out;
    *o0 = lo;
    *o1 = hi;
}

/* The gather of a backward pass per input element e of a [B][IH][IW][C] tensor: its place and
 * the output rows [oh0, oh1) and columns [ow0, ow1) whose windows read it. */
typedef struct {
    size_t b;
    int ih, iw, c, oh0, oh1, ow0, ow1;
} body_gather;

static NN_HD body_gather body_gather_of(size_t e, int IH, int IW, int C, int kh, int kw, int sh, int sw, int pt,
                                        int pl, int OH, int OW)
{
    body_gather g;
    body_nhwc(e, IH, IW, C, &g.b, &g.ih, &g.iw, &g.c);
    body_windows(g.ih, kh, sh, pt, OH, &g.oh0, &g.oh1);
    body_windows(g.iw, kw, sw, pl, OW, &g.ow0, &g.ow1);
    return g;
}

#endif
