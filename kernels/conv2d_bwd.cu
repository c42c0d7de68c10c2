/* conv2d_bwd.cu — 2-D convolution for training through cuDNN (NHWC, float32, grouped, FMA math:
 * no TF32, so results stay within float rounding of the CPU): forward, backward-data and
 * backward-filter. The algorithms are measured once at max_batch when the layer is created
 * (cudnnFind…AlgorithmEx on scratch buffers; cuDNN's heuristic list when a measurement fails,
 * and for other batch sizes), picked by nn_algo_pick (float32 only, within the workspace, the
 * GEMM family when env->pin_gemm), logged per layer (cu_note) and cached in the layer's state.
 * Where cuDNN has no algorithm for a pass, or a cuDNN call fails, the layer runs on the engine's
 * own kernels (body/conv.h: direct forward, gathered backward-data, per-weight backward-filter;
 * grouped NHWC float32 backward is the least certain configuration in cuDNN 9) from then on,
 * with one warning; env->conv_own (STEERD_CUDA_CONV_OWN) forces them, so a device run can check
 * them against the CPU.
 *   in [batch][IH][IW][cin]   engine weight [G][kh][kw][cin/G][cout/G]   bias [cout]
 *   out, dy [batch][OH][OW][cout]
 * The engine keeps its own weight layout (the optimizer and checkpoints see it), so each call
 * first repacks W into cuDNN's KRSC ([cout][kh][kw][cin/G]) in scratch, and the filter gradient
 * comes back in KRSC and is added to d_p[0] in the engine layout. cuDNN pads symmetrically: a
 * layer with asymmetric padding ("same" with an even window) runs on an explicitly zero-padded
 * copy of its input, and its input gradient is cropped back (the own kernels read the unpadded
 * input with bounds checks). Biases: a broadcast add forward, column sums of dy backward (reduce.cu).
 * Scratch (env->ws): [cuDNN workspace | W KRSC | dW KRSC | padded x | padded dx]. */
#include <stdlib.h>

#include "body/conv.h"
#include "body/eltwise.h"
#include "reduce.cuh"

struct cu_conv_train {
    const cu_env *env;   /* the training context's (stable for the layer's life) */
    cudnnHandle_t dnn;
    cudnnTensorDescriptor_t xd, yd;
    cudnnFilterDescriptor_t wd;
    cudnnConvolutionDescriptor_t cd;
    const char *name;
    int G, cin, cout, cin_g, cout_g, KH, KW, IH, IW, OH, OW, pt, pl;
    int PH, PW;          /* height / width cuDNN sees (padded copy when asymmetric) */
    bool padded;
    int batch;           /* batch the descriptors and algorithms are set for (0 = none) */
    cudnnConvolutionFwdAlgo_t fwd;
    cudnnConvolutionBwdDataAlgo_t bwd_data;
    cudnnConvolutionBwdFilterAlgo_t bwd_filter;
    size_t ws_fwd, ws_data, ws_filter;
    size_t ws_cap;       /* bytes of cuDNN workspace at the start of env->ws */
    size_t w_count;      /* weight floats */
    size_t off_w, off_dw, off_xp, off_dxp; /* scratch offsets, bytes */
    bool own;            /* the engine's own kernels instead of cuDNN (from now on) */
    bool warned;         /* the fallback's warning was given */
    conv_dims d;         /* the own kernels' geometry (unpadded input, asymmetric padding by bounds) */
};

static size_t round_256(size_t n) { return (n + 255) / 256 * 256; }

/* The cuDNN scratch layout after a workspace of ws bytes, for max_batch. */
static size_t layout(cu_conv_train *c, size_t ws, int max_batch)
{
    c->ws_cap = round_256(ws);
    c->off_w = c->ws_cap;
    c->off_dw = c->off_w + round_256(c->w_count * sizeof(float));
    c->off_xp = c->off_dw + round_256(c->w_count * sizeof(float));
    const size_t xp = c->padded ? (size_t)max_batch * c->PH * c->PW * c->cin * sizeof(float) : 0;
    c->off_dxp = c->off_xp + round_256(xp);
    return c->off_dxp + round_256(xp);
}

static bool usable_math(cudnnMathType_t m) { return m == CUDNN_FMA_MATH || m == CUDNN_DEFAULT_MATH; }

/* The pick among cuDNN's ranked candidates perf[0..got) (nn_algo_pick: succeeded, float32 math,
 * workspace by ws_size(algo, &bytes) within cap, the pinned GEMM family when env->pin_gemm):
 * into *algo and *ws. False when none qualifies (*algo and *ws untouched). One template for the
 * forward, backward-data and backward-filter lists (their perf types differ, their fields do not). */
template <class Perf, class Algo, class WsSize>
static bool pick_algo(const cu_env *env, nn_conv_pass pass, const Perf *perf, int got, size_t cap, WsSize ws_size,
                      Algo *algo, size_t *ws)
{
    enum { N = 16 };
    nn_algo_cand cand[N];
    if (got > N) got = N;
    for (int i = 0; i < got; i++) {
        cand[i].algo = (int)perf[i].algo;
        cand[i].ok = perf[i].status == CUDNN_STATUS_SUCCESS;
        cand[i].fp32 = usable_math(perf[i].mathType);
        cand[i].ws = 0;
        if (cand[i].ok && ws_size(perf[i].algo, &cand[i].ws) != CUDNN_STATUS_SUCCESS) cand[i].ok = false;
    }
    const int *pinned = NULL;
    const int n_pinned = env->pin_gemm ? nn_cudnn_pinned(pass, &pinned) : 0;
    const int k = nn_algo_pick(cand, got, cap, pinned, n_pinned);
    if (k < 0) return false;
    *algo = perf[k].algo, *ws = cand[k].ws;
    return true;
}

/* Device buffers cudnnFind…AlgorithmEx runs the candidates on (contents do not matter: zeroed). */
typedef struct {
    float *x, *y, *w, *dx, *dw;
    void *ws;
    size_t ws_bytes;
} find_bufs;

static void find_bufs_free(find_bufs *b)
{
    cudaFree(b->x), cudaFree(b->y), cudaFree(b->w), cudaFree(b->dx), cudaFree(b->dw), cudaFree(b->ws);
    memset(b, 0, sizeof *b);
}

/* False when the buffers cannot be had (then the heuristics choose). The workspace: up to cap,
 * halved until it fits. */
static bool find_bufs_alloc(find_bufs *b, const cu_conv_train *c, int batch, size_t cap)
{
    memset(b, 0, sizeof *b);
    const size_t xb = (size_t)batch * c->PH * c->PW * c->cin * sizeof(float);
    const size_t yb = (size_t)batch * c->OH * c->OW * c->cout * sizeof(float), wb = c->w_count * sizeof(float);
    bool ok = cudaMalloc((void **)&b->x, xb) == cudaSuccess && cudaMalloc((void **)&b->y, yb) == cudaSuccess &&
              cudaMalloc((void **)&b->w, wb) == cudaSuccess && cudaMalloc((void **)&b->dx, xb) == cudaSuccess &&
              cudaMalloc((void **)&b->dw, wb) == cudaSuccess;
    for (size_t w = cap; ok && w >= ((size_t)1 << 20); w /= 2)
        if (cudaMalloc(&b->ws, w) == cudaSuccess) {
            b->ws_bytes = w;
            break;
        }
    ok = ok && cudaMemsetAsync(b->x, 0, xb, c->env->stream) == cudaSuccess &&
         cudaMemsetAsync(b->y, 0, yb, c->env->stream) == cudaSuccess &&
         cudaMemsetAsync(b->w, 0, wb, c->env->stream) == cudaSuccess;
    if (!ok) find_bufs_free(b);
    (void)cudaGetLastError(); /* a failed allocation is not an error here */
    return ok;
}

/* Sets the descriptors for `batch` and picks the three algorithms within cap bytes: measured
 * (cudnnFind…AlgorithmEx) when `measure` and the buffers can be had, else cuDNN's heuristics.
 * *found = false when a pass has no algorithm: the caller falls back to the own kernels. */
static nn_status choose(cu_conv_train *c, int batch, size_t cap, bool measure, bool *found, nn_err *err)
{
    *found = false;
    CUDNN_TRY(cudnnSetTensor4dDescriptor(c->xd, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, batch, c->cin, c->PH, c->PW));
    CUDNN_TRY(cudnnSetTensor4dDescriptor(c->yd, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, batch, c->cout, c->OH, c->OW));
    int n, oc, oh, ow;
    CUDNN_TRY(cudnnGetConvolution2dForwardOutputDim(c->cd, c->xd, c->wd, &n, &oc, &oh, &ow));
    if (n != batch || oc != c->cout || oh != c->OH || ow != c->OW)
        return nn_fail(err, NN_E_DEVICE, "layer '%s': cuDNN computes a %dx%dx%d output, the engine %dx%dx%d", c->name,
                       oh, ow, oc, c->OH, c->OW, c->cout);
    enum { N_ALGO = 16 };
    find_bufs fb;
    const bool ex = measure && find_bufs_alloc(&fb, c, batch, cap);
    const size_t fcap = ex && fb.ws_bytes < cap ? fb.ws_bytes : cap;
    int got = 0;
    cudnnConvolutionFwdAlgoPerf_t pf[N_ALGO];
    cudnnConvolutionBwdDataAlgoPerf_t pd[N_ALGO];
    cudnnConvolutionBwdFilterAlgoPerf_t pw[N_ALGO];
    auto fwd_ws = [c](cudnnConvolutionFwdAlgo_t a, size_t *bytes) {
        return cudnnGetConvolutionForwardWorkspaceSize(c->dnn, c->xd, c->wd, c->cd, c->yd, a, bytes);
    };
    auto data_ws = [c](cudnnConvolutionBwdDataAlgo_t a, size_t *bytes) {
        return cudnnGetConvolutionBackwardDataWorkspaceSize(c->dnn, c->wd, c->yd, c->cd, c->xd, a, bytes);
    };
    auto filter_ws = [c](cudnnConvolutionBwdFilterAlgo_t a, size_t *bytes) {
        return cudnnGetConvolutionBackwardFilterWorkspaceSize(c->dnn, c->xd, c->yd, c->cd, c->wd, a, bytes);
    };
    bool measured = ex && cudnnFindConvolutionForwardAlgorithmEx(c->dnn, c->xd, fb.x, c->wd, fb.w, c->cd, c->yd, fb.y,
                                                                 N_ALGO, &got, pf, fb.ws, fb.ws_bytes) ==
                              CUDNN_STATUS_SUCCESS;
    if (!measured)
        CUDNN_TRY(cudnnGetConvolutionForwardAlgorithm_v7(c->dnn, c->xd, c->wd, c->cd, c->yd, N_ALGO, &got, pf));
    bool ok = pick_algo(c->env, NN_PASS_FWD, pf, got, measured ? fcap : cap, fwd_ws, &c->fwd, &c->ws_fwd);
    bool m2 = ex && cudnnFindConvolutionBackwardDataAlgorithmEx(c->dnn, c->wd, fb.w, c->yd, fb.y, c->cd, c->xd, fb.dx,
                                                                N_ALGO, &got, pd, fb.ws, fb.ws_bytes) ==
                        CUDNN_STATUS_SUCCESS;
    if (!m2)
        CUDNN_TRY(cudnnGetConvolutionBackwardDataAlgorithm_v7(c->dnn, c->wd, c->yd, c->cd, c->xd, N_ALGO, &got, pd));
    ok = ok && pick_algo(c->env, NN_PASS_BWD_DATA, pd, got, m2 ? fcap : cap, data_ws, &c->bwd_data, &c->ws_data);
    bool m3 = ex && cudnnFindConvolutionBackwardFilterAlgorithmEx(c->dnn, c->xd, fb.x, c->yd, fb.y, c->cd, c->wd, fb.dw,
                                                                  N_ALGO, &got, pw, fb.ws, fb.ws_bytes) ==
                        CUDNN_STATUS_SUCCESS;
    if (!m3)
        CUDNN_TRY(cudnnGetConvolutionBackwardFilterAlgorithm_v7(c->dnn, c->xd, c->yd, c->cd, c->wd, N_ALGO, &got, pw));
    ok = ok && pick_algo(c->env, NN_PASS_BWD_FILTER, pw, got, m3 ? fcap : cap, filter_ws, &c->bwd_filter,
                         &c->ws_filter);
    if (ex) {
        (void)cudaStreamSynchronize(c->env->stream);
        find_bufs_free(&fb);
    }
    (void)cudaGetLastError();
    if (!ok) return NN_OK;
    c->batch = batch;
    *found = true;
    cu_note(c->env, "conv2d %s (training, batch %d): forward %s, backward-data %s, backward-filter %s (%s%s), "
            "%zu/%zu/%zu bytes of workspace", c->name, batch, nn_cudnn_algo_name(NN_PASS_FWD, (int)c->fwd),
            nn_cudnn_algo_name(NN_PASS_BWD_DATA, (int)c->bwd_data),
            nn_cudnn_algo_name(NN_PASS_BWD_FILTER, (int)c->bwd_filter),
            measured && m2 && m3 ? "measured" : "heuristic", c->env->pin_gemm ? ", GEMM family pinned" : "",
            c->ws_fwd, c->ws_data, c->ws_filter);
    return NN_OK;
}

/* From now on the layer runs on the own kernels; says why once. */
static void go_own(cu_conv_train *c, const char *why, int batch)
{
    if (!c->warned)
        cu_warn("conv2d %s (training): %s at batch %d: using the engine's own convolution kernels", c->name, why,
                batch);
    c->warned = true;
    c->own = true;
    (void)cudaGetLastError();
}

nn_status cu_conv_train_create(cu_conv_train **out, const cu_env *env, const nn_layer *l, int max_batch,
                               size_t ws_cap, size_t *ws_need, nn_err *err)
{
    *out = NULL;
    cu_conv_train *c = (cu_conv_train *)calloc(1, sizeof *c);
    if (!c) return nn_fail(err, NN_E_NOMEM, "layer '%s': out of memory", l->name);
    c->env = env;
    c->dnn = env->dnn;
    c->name = l->name;
    c->G = l->groups > 0 ? l->groups : 1;
    c->cin = l->in.c, c->cout = l->out.c, c->cin_g = c->cin / c->G, c->cout_g = c->cout / c->G;
    c->KH = l->kh, c->KW = l->kw, c->IH = l->in.h, c->IW = l->in.w, c->OH = l->out.h, c->OW = l->out.w;
    c->pt = l->pad_top, c->pl = l->pad_left;
    c->padded = l->pad_top != l->pad_bottom || l->pad_left != l->pad_right;
    c->PH = c->padded ? c->IH + l->pad_top + l->pad_bottom : c->IH;
    c->PW = c->padded ? c->IW + l->pad_left + l->pad_right : c->IW;
    c->w_count = (size_t)c->cout * c->KH * c->KW * c->cin_g;
    c->d = conv_dims{c->IH, c->IW, c->cin, c->OH, c->OW, c->cout, c->KH, c->KW, l->sh, l->sw, l->pad_top, l->pad_left,
                     c->cin_g, c->cout_g};
    nn_status s = NN_OK;
    if (cudnnCreateTensorDescriptor(&c->xd) != CUDNN_STATUS_SUCCESS ||
        cudnnCreateTensorDescriptor(&c->yd) != CUDNN_STATUS_SUCCESS ||
        cudnnCreateFilterDescriptor(&c->wd) != CUDNN_STATUS_SUCCESS ||
        cudnnCreateConvolutionDescriptor(&c->cd) != CUDNN_STATUS_SUCCESS) {
        cu_conv_train_free(c);
        return nn_fail(err, NN_E_DEVICE, "layer '%s': cannot create cuDNN descriptors", l->name);
    }
    const int ph = c->padded ? 0 : l->pad_top, pw = c->padded ? 0 : l->pad_left;
    if (cudnnSetFilter4dDescriptor(c->wd, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC, c->cout, c->cin_g, c->KH, c->KW) !=
            CUDNN_STATUS_SUCCESS ||
        cudnnSetConvolution2dDescriptor(c->cd, ph, pw, l->sh, l->sw, 1, 1, CUDNN_CROSS_CORRELATION,
                                        CUDNN_DATA_FLOAT) != CUDNN_STATUS_SUCCESS ||
        cudnnSetConvolutionGroupCount(c->cd, c->G) != CUDNN_STATUS_SUCCESS ||
        cudnnSetConvolutionMathType(c->cd, CUDNN_FMA_MATH) != CUDNN_STATUS_SUCCESS)
        s = nn_fail(err, NN_E_DEVICE, "layer '%s': cuDNN rejects a %dx%d convolution, stride %dx%d, padding %d,%d, "
                    "%d groups", l->name, c->KH, c->KW, l->sh, l->sw, ph, pw, c->G);
    bool found = false;
    if (!s && env->conv_own) {
        cu_note(env, "conv2d %s (training): the engine's own kernels (STEERD_CUDA_CONV_OWN)", l->name);
        c->own = c->warned = true;
    } else if (!s && !(s = choose(c, max_batch, ws_cap, true, &found, err)) && !found) {
        go_own(c, "cuDNN offers no float32 algorithm for a pass within the workspace", max_batch);
    }
    if (s) {
        cu_conv_train_free(c);
        return s;
    }
    size_t ws = c->ws_fwd > c->ws_data ? c->ws_fwd : c->ws_data;
    if (c->ws_filter > ws) ws = c->ws_filter;
    *ws_need = layout(c, ws, max_batch);
    *out = c;
    return NN_OK;
}

void cu_conv_train_free(cu_conv_train *c)
{
    if (!c) return;
    if (c->xd) cudnnDestroyTensorDescriptor(c->xd);
    if (c->yd) cudnnDestroyTensorDescriptor(c->yd);
    if (c->wd) cudnnDestroyFilterDescriptor(c->wd);
    if (c->cd) cudnnDestroyConvolutionDescriptor(c->cd);
    free(c);
}

/* KRSC repacking both ways, the padded copy and its cropped gradient (body/conv.h). */
__global__ static void k_to_krsc(float *k, const float *w, size_t n, int taps, int cin_g, int cout_g)
{
    GRID_STRIDE(i, n) conv_to_krsc_at(k, w, i, taps, cin_g, cout_g);
}

__global__ static void k_from_krsc_add(float *dw, const float *k, size_t n, int taps, int cin_g, int cout_g)
{
    GRID_STRIDE(i, n) conv_from_krsc_add_at(dw, k, i, taps, cin_g, cout_g);
}

__global__ static void k_pad(float *xp, const float *x, size_t n, int IH, int IW, int PH, int PW, int C, int pt, int pl)
{
    GRID_STRIDE(i, n) conv_pad_at(xp, x, i, IH, IW, C, PH, PW, pt, pl);
}

__global__ static void k_crop_add(float *dx, const float *dxp, size_t n, int IH, int IW, int PH, int PW, int C, int pt,
                                  int pl)
{
    GRID_STRIDE(i, n) conv_crop_add_at(dx, dxp, i, IH, IW, PH, PW, C, pt, pl);
}

/* The own kernels (body/conv.h): forward with the bias fused, backward-data accumulated into
 * d_in, backward-filter written in KRSC. */
__global__ static void k_own_fwd(float *y, const float *x, const float *w, const float *bias, size_t n, conv_dims d)
{
    GRID_STRIDE(i, n) conv_fwd_at(y, x, w, bias, i, &d, NN_ACT_NONE, 0.0f);
}

__global__ static void k_own_bwd_data(float *dx, const float *dy, const float *w, size_t n, conv_dims d)
{
    GRID_STRIDE(i, n) conv_bwd_data_at(dx, dy, w, i, &d);
}

__global__ static void k_own_bwd_filter(float *dk, const float *x, const float *dy, size_t n, int batch, conv_dims d)
{
    GRID_STRIDE(i, n) conv_bwd_filter_at(dk, x, dy, i, batch, &d);
}

/* out [M][C] += bias [C]. */
__global__ static void k_bias_add(float *out, const float *bias, size_t n, int C)
{
    GRID_STRIDE(i, n) bias_add_at(out, bias, i, C);
}

/* Descriptors and algorithms for this batch (the workspace never grows past create's). */
static nn_status ensure_batch(cu_conv_train *c, int batch, nn_err *err)
{
    if (c->own || c->batch == batch) return NN_OK;
    bool found = false;
    nn_status s = choose(c, batch, c->ws_cap, false, &found, err);
    if (!s && !found) go_own(c, "cuDNN's heuristics offer no float32 algorithm within the workspace", batch);
    return s;
}

static char *ws_at(const cu_env *env, size_t off) { return (char *)env->ws + off; }

/* The start of every training call: the descriptors and algorithms for batch (ensure_batch), W
 * repacked and, when padded, the input; returns the input cuDNN reads. */
static nn_status prepare(const cu_env *env, cu_conv_train *c, const float *w, const float *in, int batch,
                         const float **x, nn_err *err)
{
    nn_status s = ensure_batch(c, batch, err);
    if (s) return s;
    float *krsc = (float *)ws_at(env, c->off_w);
    k_to_krsc<<<cu_blocks(c->w_count, 256), 256, 0, env->stream>>>(krsc, w, c->w_count, c->KH * c->KW, c->cin_g,
                                                                c->cout_g);
    CU_LAUNCHED();
    *x = in;
    if (c->padded && !c->own) {
        float *xp = (float *)ws_at(env, c->off_xp);
        const size_t n = (size_t)batch * c->PH * c->PW * c->cin;
        k_pad<<<cu_blocks(n, 256), 256, 0, env->stream>>>(xp, in, n, c->IH, c->IW, c->PH, c->PW, c->cin, c->pt, c->pl);
        CU_LAUNCHED();
        *x = xp;
    }
    return NN_OK;
}

nn_status cu_conv2d_forward_train(const cu_fwd_args *a, cu_conv_train *c, nn_err *err)
{
    const cu_env *env = a->env;
    const float *x = NULL;
    nn_status s = prepare(env, c, a->p[0], a->in[0], a->batch, &x, err);
    if (s) return s;
    const float one = 1.0f, zero = 0.0f;
    const size_t n_out = (size_t)a->batch * c->OH * c->OW * c->cout;
    if (!c->own) {
        cudnnStatus_t cs = cudnnConvolutionForward(env->dnn, &one, c->xd, x, c->wd, ws_at(env, c->off_w), c->cd, c->fwd,
                                                   env->ws, c->ws_fwd, &zero, c->yd, a->out);
        if (cs != CUDNN_STATUS_SUCCESS) go_own(c, cudnnGetErrorString(cs), a->batch);
    }
    if (c->own) {
        const float *bias = a->l->has_bias ? a->p[1] : NULL;
        k_own_fwd<<<cu_blocks(n_out, 128), 128, 0, env->stream>>>(a->out, a->in[0], (const float *)ws_at(env, c->off_w),
                                                                  bias, n_out, c->d);
        CU_LAUNCHED();
        return NN_OK;
    }
    if (a->l->has_bias && a->p[1]) {
        const size_t n = (size_t)a->batch * c->OH * c->OW * c->cout;
        k_bias_add<<<cu_blocks(n, 256), 256, 0, env->stream>>>(a->out, a->p[1], n, c->cout);
        CU_LAUNCHED();
    }
    return NN_OK;
}

/* dw (engine layout) += dwk (KRSC, the filter gradient in scratch). */
static nn_status add_filter_grad(const cu_env *env, const cu_conv_train *c, float *dw, const float *dwk, nn_err *err)
{
    k_from_krsc_add<<<cu_blocks(c->w_count, 256), 256, 0, env->stream>>>(dw, dwk, c->w_count, c->KH * c->KW, c->cin_g,
                                                                      c->cout_g);
    CU_LAUNCHED();
    return NN_OK;
}

/* The own kernels' backward: d_in += dconv (when `data`), dW += (engine layout). */
static nn_status own_backward(const cu_bwd_args *a, cu_conv_train *c, bool data, nn_err *err)
{
    const cu_env *env = a->env;
    const float *krsc = (const float *)ws_at(env, c->off_w);
    const size_t n_in = (size_t)a->batch * c->IH * c->IW * c->cin;
    if (data) {
        k_own_bwd_data<<<cu_blocks(n_in, 128), 128, 0, env->stream>>>(a->d_in[0], a->dy, krsc, n_in, c->d);
        CU_LAUNCHED();
    }
    if (a->d_p[0]) {
        float *dwk = (float *)ws_at(env, c->off_dw);
        k_own_bwd_filter<<<cu_blocks(c->w_count, 128), 128, 0, env->stream>>>(dwk, a->in[0], a->dy, c->w_count,
                                                                             a->batch, c->d);
        CU_LAUNCHED();
        return add_filter_grad(env, c, a->d_p[0], dwk, err);
    }
    return NN_OK;
}

/* cuDNN's backward: d_in += dconv (through the padded copy when padded), dW += (engine layout).
 * A failed cuDNN call is returned (*data_done: whether d_in was already added to); *s: a failed
 * launch of our own kernels. */
static cudnnStatus_t dnn_backward(const cu_bwd_args *a, cu_conv_train *c, const float *x, bool *data_done, nn_err *err,
                                  nn_status *s)
{
    *data_done = false;
    const cu_env *env = a->env;
    const float one = 1.0f, zero = 0.0f;
    cudnnStatus_t cs;
    *s = NN_OK;
    if (c->padded) {
        float *dxp = (float *)ws_at(env, c->off_dxp);
        cs = cudnnConvolutionBackwardData(env->dnn, &one, c->wd, ws_at(env, c->off_w), c->yd, a->dy, c->cd,
                                          c->bwd_data, env->ws, c->ws_data, &zero, c->xd, dxp);
        if (cs != CUDNN_STATUS_SUCCESS) return cs;
        const size_t n = (size_t)a->batch * c->IH * c->IW * c->cin;
        k_crop_add<<<cu_blocks(n, 256), 256, 0, env->stream>>>(a->d_in[0], dxp, n, c->IH, c->IW, c->PH, c->PW, c->cin,
                                                           c->pt, c->pl);
        const cudaError_t ce = cudaGetLastError();
        if (ce != cudaSuccess)
            *s = nn_fail(err, NN_E_DEVICE, "layer '%s': k_crop_add: %s", c->name, cudaGetErrorString(ce));
    } else {
        cs = cudnnConvolutionBackwardData(env->dnn, &one, c->wd, ws_at(env, c->off_w), c->yd, a->dy, c->cd,
                                          c->bwd_data, env->ws, c->ws_data, &one, c->xd, a->d_in[0]);
        if (cs != CUDNN_STATUS_SUCCESS) return cs;
    }
    *data_done = true;
    if (*s || !a->d_p[0]) return CUDNN_STATUS_SUCCESS;
    float *dwk = (float *)ws_at(env, c->off_dw);
    cs = cudnnConvolutionBackwardFilter(env->dnn, &one, c->xd, x, c->yd, a->dy, c->cd, c->bwd_filter, env->ws,
                                        c->ws_filter, &zero, c->wd, dwk);
    if (cs != CUDNN_STATUS_SUCCESS) return cs;
    *s = add_filter_grad(env, c, a->d_p[0], dwk, err);
    return CUDNN_STATUS_SUCCESS;
}

nn_status cu_conv2d_backward(const cu_bwd_args *a, cu_conv_train *c, nn_err *err)
{
    const cu_env *env = a->env;
    const float *x = NULL;
    nn_status s = prepare(env, c, a->p[0], a->in[0], a->batch, &x, err);
    if (s) return s;
    bool data_done = false;
    if (!c->own) {
        /* A failed cuDNN call (it fails before it launches) falls back to the own kernels for
         * what is left: both passes, or the filter pass when backward-data already ran. */
        cudnnStatus_t cs = dnn_backward(a, c, x, &data_done, err, &s);
        if (s) return s;
        if (cs != CUDNN_STATUS_SUCCESS) {
            go_own(c, cudnnGetErrorString(cs), a->batch); /* the own kernels read the unpadded input */
        }
    }
    if (c->own && (s = own_backward(a, c, !data_done, err))) return s;
    if (a->l->has_bias && a->d_p[1])
        return cu_col_sums_add(env, a->d_p[1], a->dy, a->batch * c->OH * c->OW, c->cout, err);
    return NN_OK;
}
