/* conv2d.cu — standard (grouped) 2-D convolution forward (CUDA) through cuDNN, NHWC float32,
 * then the shared bias + activation epilogue (activation.cu):
 *   in [batch][IH][IW][cin]   weight (device) [cout][kh][kw][cin/groups] (cuDNN KRSC, repacked
 *   from the engine's [groups][kh][kw][cin/g][cout/g] at upload)   out [batch][OH][OW][cout].
 * Per layer, once (cu_conv2d_plan_create): filter and convolution descriptors (FMA math: no
 * TF32), and for batch max_batch and 1 the fastest algorithm cuDNN measures
 * (cudnnFindConvolutionForwardAlgorithm) that needs at most CONV_WS_LIMIT bytes of workspace.
 * Other batch sizes get a slot on first use (heuristic choice, within the workspace already
 * reserved). cuDNN pads symmetrically: asymmetric padding ("same" with stride 2 or an even
 * kernel) is used as the symmetric top/left padding when that gives the same output size, else
 * the input is copied into a zero-padded buffer at the start of the workspace first. A direct
 * kernel (one thread per output, bias + activation fused) runs instead of cuDNN when cuDNN has no
 * algorithm for a shape, and for small work (batch x MACs <= env->conv_direct_macs, default
 * NN_CUDA_CONV_DIRECT_MACS): there one launch beats cuDNN's kernels + the epilogue's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "body/conv.h"
#include "cuda.h"

#define CONV_SLOTS 4
#define CONV_WS_LIMIT ((size_t)256 << 20)
#define WS_ALIGN ((size_t)256)

typedef struct {
    int batch;                       /* 0: free */
    cudnnTensorDescriptor_t x, y;
    cudnnConvolutionFwdAlgo_t algo;
    size_t ws;                       /* the algorithm's workspace bytes */
} conv_slot;

struct cu_plan {
    int max_batch;
    int IH, IW, C, OH, OW, K, kh, kw, sh, sw, pt, pb, pl, pr, groups;
    bool direct;                     /* no cuDNN algorithm: own kernel */
    bool padded;                     /* input copied into a zero-padded buffer first */
    int XH, XW;                      /* input size cuDNN sees */
    size_t pad_bytes;                /* padded buffer at max_batch, WS_ALIGN multiple (0 if not padded) */
    size_t ws_bytes;                 /* pad_bytes + the largest slot workspace */
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv;
    conv_slot slot[CONV_SLOTS];
    int next;                        /* slot replaced next when all are taken */
    char name[NN_NAME_LEN];          /* the layer's, for the warning lines */
    bool warned;                     /* the fallback warning was given (one line per layer) */
};

static size_t align_up(size_t n) { return (n + WS_ALIGN - 1) / WS_ALIGN * WS_ALIGN; }

void cu_conv2d_pack_weights(float *dst, const float *src, const nn_layer *l)
{
    const int G = l->groups > 0 ? l->groups : 1, og = l->units / G, ig = l->in.c / G;
    for (int g = 0; g < G; g++)
        for (int kh = 0; kh < l->kh; kh++)
            for (int kw = 0; kw < l->kw; kw++)
                for (int ci = 0; ci < ig; ci++)
                    for (int o = 0; o < og; o++) {
                        size_t s = ((((size_t)g * l->kh + kh) * l->kw + kw) * ig + ci) * og + o;
                        size_t d = ((((size_t)g * og + o) * l->kh + kh) * l->kw + kw) * ig + ci;
                        dst[d] = src[s];
                    }
}

void cu_conv2d_unpack_weights(float *dst, const float *src, const nn_layer *l)
{
    const int G = l->groups > 0 ? l->groups : 1, og = l->units / G, ig = l->in.c / G;
    for (int g = 0; g < G; g++)
        for (int kh = 0; kh < l->kh; kh++)
            for (int kw = 0; kw < l->kw; kw++)
                for (int ci = 0; ci < ig; ci++)
                    for (int o = 0; o < og; o++) {
                        size_t s = ((((size_t)g * og + o) * l->kh + kh) * l->kw + kw) * ig + ci;
                        size_t d = ((((size_t)g * l->kh + kh) * l->kw + kw) * ig + ci) * og + o;
                        dst[d] = src[s];
                    }
}

static bool fma_only(cudnnMathType_t m) { return m != CUDNN_TENSOR_OP_MATH && m != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION; }

/* Sets slot descriptors for `batch` and picks its algorithm (measured when `measure`, else by
 * heuristics) needing at most `limit` workspace bytes. *found = false when cuDNN has none. */
static nn_status slot_set(cu_plan *p, conv_slot *s, const cu_env *env, int batch, bool measure, size_t limit,
                          bool *found, nn_err *err)
{
    *found = false;
    if (!s->x) CUDNN_TRY(cudnnCreateTensorDescriptor(&s->x));
    if (!s->y) CUDNN_TRY(cudnnCreateTensorDescriptor(&s->y));
    CUDNN_TRY(cudnnSetTensor4dDescriptor(s->x, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, batch, p->C, p->XH, p->XW));
    CUDNN_TRY(cudnnSetTensor4dDescriptor(s->y, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, batch, p->K, p->OH, p->OW));
    s->batch = batch;
    int n, c, h, w;
    CUDNN_TRY(cudnnGetConvolution2dForwardOutputDim(p->conv, s->x, p->w, &n, &c, &h, &w));
    if (n != batch || c != p->K || h != p->OH || w != p->OW)
        return nn_fail(err, NN_E_SHAPE, "conv2d: cuDNN computes a %dx%dx%dx%d output, the engine %dx%dx%dx%d", n, h,
                       w, c, batch, p->OH, p->OW, p->K);
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int got = 0;
    cudnnStatus_t st;
    if (measure)
        st = cudnnFindConvolutionForwardAlgorithm(env->dnn, s->x, p->w, p->conv, s->y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT,
                                                  &got, perf);
    else
        st = cudnnGetConvolutionForwardAlgorithm_v7(env->dnn, s->x, p->w, p->conv, s->y,
                                                    CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &got, perf);
    if ((int)st / 1000 == 2 || (int)st / 1000 == 3)
        return NN_OK; /* a BAD_PARAM_* or NOT_SUPPORTED_* family status: cuDNN cannot do this
                         shape / layout here, the direct kernel will (correct, slower) */
    CUDNN_TRY(st);
    nn_algo_cand cand[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    for (int i = 0; i < got; i++) {
        cand[i].algo = (int)perf[i].algo;
        cand[i].ok = perf[i].status == CUDNN_STATUS_SUCCESS;
        cand[i].fp32 = fma_only(perf[i].mathType);
        cand[i].ws = perf[i].memory;
        /* the workspace the algorithm needs for this descriptor (perf.memory is cuDNN's estimate) */
        if (cand[i].ok && cudnnGetConvolutionForwardWorkspaceSize(env->dnn, s->x, p->w, p->conv, s->y, perf[i].algo,
                                                                  &cand[i].ws) != CUDNN_STATUS_SUCCESS)
            cand[i].ok = false;
    }
    const int *pinned = NULL;
    int n_pinned = env->pin_gemm ? nn_cudnn_pinned(NN_PASS_FWD, &pinned) : 0;
    int k = nn_algo_pick(cand, got, limit, pinned, n_pinned);
    if (k < 0)
        return NN_OK;
    s->algo = perf[k].algo;
    s->ws = cand[k].ws;
    *found = true;
    return NN_OK;
}

static nn_status plan_init(cu_plan *p, const cu_env *env, const nn_layer *l, int max_batch, nn_err *err)
{
    p->max_batch = max_batch;
    snprintf(p->name, sizeof p->name, "%s", l->name);
    p->IH = l->in.h, p->IW = l->in.w, p->C = l->in.c, p->OH = l->out.h, p->OW = l->out.w, p->K = l->out.c;
    p->kh = l->kh, p->kw = l->kw, p->sh = l->sh, p->sw = l->sw;
    p->pt = l->pad_top, p->pb = l->pad_bottom, p->pl = l->pad_left, p->pr = l->pad_right;
    p->groups = l->groups > 0 ? l->groups : 1;
    /* Symmetric padding cuDNN can take: top/left, when it yields the engine's output size. */
    int sym_oh = (p->IH + 2 * p->pt - p->kh) / p->sh + 1, sym_ow = (p->IW + 2 * p->pl - p->kw) / p->sw + 1;
    p->padded = sym_oh != p->OH || sym_ow != p->OW || p->IH + 2 * p->pt < p->kh || p->IW + 2 * p->pl < p->kw;
    p->XH = p->padded ? p->IH + p->pt + p->pb : p->IH;
    p->XW = p->padded ? p->IW + p->pl + p->pr : p->IW;
    if (p->padded)
        p->pad_bytes = align_up((size_t)max_batch * p->XH * p->XW * p->C * sizeof(float));
    CUDNN_TRY(cudnnCreateFilterDescriptor(&p->w));
    CUDNN_TRY(cudnnSetFilter4dDescriptor(p->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC, p->K, p->C / p->groups, p->kh,
                                         p->kw));
    CUDNN_TRY(cudnnCreateConvolutionDescriptor(&p->conv));
    CUDNN_TRY(cudnnSetConvolution2dDescriptor(p->conv, p->padded ? 0 : p->pt, p->padded ? 0 : p->pl, p->sh, p->sw, 1,
                                              1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    CUDNN_TRY(cudnnSetConvolutionGroupCount(p->conv, p->groups));
    CUDNN_TRY(cudnnSetConvolutionMathType(p->conv, CUDNN_FMA_MATH));
    int batches[2] = {max_batch, 1};
    size_t ws = 0;
    for (int i = 0; i < (max_batch > 1 ? 2 : 1); i++) {
        bool found;
        nn_status s = slot_set(p, &p->slot[i], env, batches[i], true, CONV_WS_LIMIT, &found, err);
        if (s)
            return s;
        if (!found) {
            p->direct = true;
            cu_note(env, "conv2d %s: batch %d: no cuDNN algorithm%s within %zu bytes: direct kernel", l->name,
                    batches[i], env->pin_gemm ? " of the pinned GEMM family" : "", CONV_WS_LIMIT);
            break;
        }
        cu_note(env, "conv2d %s: batch %d: %s (measured%s), %zu bytes of workspace", l->name, batches[i],
                nn_cudnn_algo_name(NN_PASS_FWD, (int)p->slot[i].algo), env->pin_gemm ? ", GEMM family pinned" : "",
                p->slot[i].ws);
        if (p->slot[i].ws > ws)
            ws = p->slot[i].ws;
    }
    p->next = max_batch > 1 ? 2 : 1;
    p->ws_bytes = p->direct ? 0 : p->pad_bytes + align_up(ws);
    return NN_OK;
}

nn_status cu_conv2d_plan_create(cu_plan **out, const cu_env *env, const nn_layer *l, int max_batch, nn_err *err)
{
    *out = NULL;
    cu_plan *p = (cu_plan *)calloc(1, sizeof *p);
    if (!p)
        return nn_fail(err, NN_E_NOMEM, "%s: out of memory", l->name);
    nn_status s = plan_init(p, env, l, max_batch, err);
    if (s) {
        cu_conv2d_plan_free(p);
        char msg[NN_ERR_LEN];
        snprintf(msg, sizeof msg, "%s", err ? err->msg : "");
        return nn_fail(err, s, "%s (conv2d %dx%d, %d->%d channels): %s", l->name, l->kh, l->kw, l->in.c, l->out.c,
                       msg);
    }
    *out = p;
    return NN_OK;
}

size_t cu_conv2d_plan_ws_bytes(const cu_plan *p) { return p ? p->ws_bytes : 0; }

void cu_conv2d_plan_free(cu_plan *p)
{
    if (!p)
        return;
    for (int i = 0; i < CONV_SLOTS; i++) {
        if (p->slot[i].x) cudnnDestroyTensorDescriptor(p->slot[i].x);
        if (p->slot[i].y) cudnnDestroyTensorDescriptor(p->slot[i].y);
    }
    if (p->conv) cudnnDestroyConvolutionDescriptor(p->conv);
    if (p->w) cudnnDestroyFilterDescriptor(p->w);
    free(p);
}

/* xp [batch][XH][XW][C] = x placed at (pt, pl), zeros around (body/conv.h). */
__global__ void k_pad(float *__restrict__ xp, const float *__restrict__ x, size_t total, int IH, int IW, int C,
                      int XH, int XW, int pt, int pl)
{
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total; e += (size_t)gridDim.x * blockDim.x)
        conv_pad_at(xp, x, e, IH, IW, C, XH, XW, pt, pl);
}

/* Direct convolution, one thread per output element, fused bias + activation (body/conv.h). */
__global__ void k_conv_direct(float *__restrict__ y, const float *__restrict__ x, const float *__restrict__ w,
                              const float *__restrict__ bias, size_t total, conv_dims d, nn_act act, float alpha)
{
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total; e += (size_t)gridDim.x * blockDim.x)
        conv_fwd_at(y, x, w, bias, e, &d, act, alpha);
}

/* The slot for this batch: cached, else a free one, else the next in turn, filled by cuDNN's
 * heuristics (cudnnGetConvolutionForwardAlgorithm_v7) within the workspace already reserved.
 * *out = NULL when the heuristics find nothing: the caller falls back to the direct kernel. */
static nn_status slot_for(cu_plan *p, const cu_env *env, int batch, conv_slot **out, nn_err *err)
{
    *out = NULL;
    for (int i = 0; i < CONV_SLOTS; i++)
        if (p->slot[i].batch == batch) {
            *out = &p->slot[i];
            return NN_OK;
        }
    conv_slot *s = &p->slot[p->next];
    p->next = p->next + 1 < CONV_SLOTS ? p->next + 1 : (p->max_batch > 1 ? 2 : 1);
    size_t limit = env->ws_bytes > p->pad_bytes ? env->ws_bytes - p->pad_bytes : 0;
    bool found;
    nn_status st = slot_set(p, s, env, batch, false, limit, &found, err);
    if (st)
        return st;
    if (nn_conv_route_pick(false, false, false, found) == NN_CONV_DIRECT) {
        s->batch = 0;
        return NN_OK;
    }
    cu_note(env, "conv2d %s: batch %d: %s (heuristic), %zu bytes of workspace", p->name, batch,
            nn_cudnn_algo_name(NN_PASS_FWD, (int)s->algo), s->ws);
    *out = s;
    return NN_OK;
}

/* The direct kernel (fused bias + activation) for this call. */
static nn_status direct(const cu_fwd_args *a, const cu_plan *p, size_t total, const float *bias, nn_err *err)
{
    conv_dims d = {p->IH, p->IW, p->C, p->OH, p->OW, p->K, p->kh, p->kw, p->sh, p->sw, p->pt, p->pl,
                   p->C / p->groups, p->K / p->groups};
    k_conv_direct<<<cu_blocks(total, 128), 128, 0, a->env->stream>>>(a->out, a->in[0], a->p[0], bias, total, d,
                                                                     a->l->act, a->l->act_alpha);
    CU_LAUNCHED();
    return NN_OK;
}

/* Once per layer: why it runs on the direct kernel instead of cuDNN. */
static void warn_direct(cu_plan *p, const char *why, int batch)
{
    if (!p->warned)
        cu_warn("conv2d %s: %s at batch %d: using the direct kernel", p->name, why, batch);
    p->warned = true;
}

nn_status cu_conv2d_forward(const cu_fwd_args *a, nn_err *err)
{
    const nn_layer *l = a->l;
    cu_plan *p = a->plan;
    if (!p)
        return nn_fail(err, NN_E_ARG, "%s: conv2d forward without a plan", l->name);
    if (a->batch < 1 || a->batch > p->max_batch)
        return nn_fail(err, NN_E_ARG, "%s: batch %d outside the plan's [1, %d]", l->name, a->batch, p->max_batch);
    const cu_env *env = a->env;
    size_t total = (size_t)a->batch * nn_shape_size(l->out);
    const float *bias = l->has_bias ? a->p[1] : NULL;
    const double macs = (double)a->batch * p->OH * p->OW * p->K * p->kh * p->kw * (double)(p->C / p->groups);
    const bool small = env->conv_direct_macs >= 0 && macs <= (double)env->conv_direct_macs;
    if (nn_conv_route_pick(p->direct, small, false, true) == NN_CONV_DIRECT)
        return direct(a, p, total, bias, err);
    if (env->ws_bytes < p->pad_bytes)
        return nn_fail(err, NN_E_ARG, "%s: workspace %zu bytes, the padded input needs %zu", l->name, env->ws_bytes,
                       p->pad_bytes);
    conv_slot *s = NULL;
    nn_status st = slot_for(p, env, a->batch, &s, err);
    if (st)
        return st;
    if (!s) {
        warn_direct(p, "cuDNN's heuristics offer no algorithm within the reserved workspace", a->batch);
        return direct(a, p, total, bias, err);
    }
    if (env->ws_bytes < p->pad_bytes + s->ws)
        return nn_fail(err, NN_E_ARG, "%s: workspace %zu bytes, conv2d needs %zu", l->name, env->ws_bytes,
                       p->pad_bytes + s->ws);
    const float *x = a->in[0];
    if (p->padded) {
        size_t n = (size_t)a->batch * p->XH * p->XW * p->C;
        k_pad<<<cu_blocks(n, 256), 256, 0, env->stream>>>((float *)env->ws, x, n, p->IH, p->IW, p->C, p->XH, p->XW,
                                                          p->pt, p->pl);
        CU_LAUNCHED();
        x = (const float *)env->ws;
    }
    const float one = 1.0f, zero = 0.0f;
    cudnnStatus_t cs = cudnnConvolutionForward(env->dnn, &one, s->x, x, p->w, a->p[0], p->conv, s->algo,
                                               s->ws ? (char *)env->ws + p->pad_bytes : NULL, s->ws, &zero, s->y,
                                               a->out);
    if (cs != CUDNN_STATUS_SUCCESS) { /* the chosen algorithm failed: this layer runs direct from now on */
        char why[160];
        snprintf(why, sizeof why, "cuDNN %s failed (%s)", nn_cudnn_algo_name(NN_PASS_FWD, (int)s->algo),
                 cudnnGetErrorString(cs));
        warn_direct(p, why, a->batch);
        p->direct = true;
        (void)cudaGetLastError();
        return direct(a, p, total, bias, err);
    }
    return cu_bias_act(env, a->out, total, p->K, bias, l->act, l->act_alpha, err);
}
