/* conv2d_bwd.cu — 2-D convolution for training through cuDNN (NHWC, float32, grouped, FMA math:
 * no TF32, so results stay within float rounding of the CPU): forward, backward-data and
 * backward-filter, with the algorithms chosen once per batch size by cuDNN's heuristics (the
 * first that succeeds within the workspace) and cached in the layer's state.
 *   in [batch][IH][IW][cin]   engine weight [G][kh][kw][cin/G][cout/G]   bias [cout]
 *   out, dy [batch][OH][OW][cout]
 * The engine keeps its own weight layout (the optimizer and checkpoints see it), so each call
 * first repacks W into cuDNN's KRSC ([cout][kh][kw][cin/G]) in scratch, and the filter gradient
 * comes back in KRSC and is added to d_p[0] in the engine layout. cuDNN pads symmetrically: a
 * layer with asymmetric padding ("same" with an even window) runs on an explicitly zero-padded
 * copy of its input, and its input gradient is cropped back. Biases: a broadcast add forward,
 * column sums of dy backward (reduce.cu).
 * Scratch (env->ws): [cuDNN workspace | W KRSC | dW KRSC | padded x | padded dx]. */
#include <stdlib.h>

#include "reduce.cuh"

struct cu_conv_train {
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

/* The first of cuDNN's ranked candidates perf[0..got) that succeeded, keeps float32 (FMA) math
 * and needs at most cap bytes of workspace by ws_size(algo, &bytes): into *algo and *ws. False
 * when none does (*algo and *ws untouched). One template for the forward, backward-data and
 * backward-filter lists (their perf types differ, their fields do not). */
template <class Perf, class Algo, class WsSize>
static bool pick_algo(const Perf *perf, int got, size_t cap, WsSize ws_size, Algo *algo, size_t *ws)
{
    size_t need = 0;
    for (int i = 0; i < got; i++) {
        if (perf[i].status != CUDNN_STATUS_SUCCESS || !usable_math(perf[i].mathType)) continue;
        if (ws_size(perf[i].algo, &need) != CUDNN_STATUS_SUCCESS || need > cap) continue;
        *algo = perf[i].algo, *ws = need;
        return true;
    }
    return false;
}

static nn_status no_algo(const cu_conv_train *c, const char *pass, int batch, size_t cap, nn_err *err)
{
    return nn_fail(err, NN_E_DEVICE, "layer '%s': cuDNN offers no float32 %s algorithm for batch %d within %zu bytes "
                   "of workspace", c->name, pass, batch, cap);
}

/* Sets the descriptors for `batch` and picks the three algorithms within cap bytes. */
static nn_status choose(cu_conv_train *c, int batch, size_t cap, nn_err *err)
{
    CUDNN_TRY(cudnnSetTensor4dDescriptor(c->xd, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, batch, c->cin, c->PH, c->PW));
    CUDNN_TRY(cudnnSetTensor4dDescriptor(c->yd, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, batch, c->cout, c->OH, c->OW));
    int n, oc, oh, ow;
    CUDNN_TRY(cudnnGetConvolution2dForwardOutputDim(c->cd, c->xd, c->wd, &n, &oc, &oh, &ow));
    if (n != batch || oc != c->cout || oh != c->OH || ow != c->OW)
        return nn_fail(err, NN_E_DEVICE, "layer '%s': cuDNN computes a %dx%dx%d output, the engine %dx%dx%d", c->name,
                       oh, ow, oc, c->OH, c->OW, c->cout);
    enum { N_ALGO = 16 };
    int got = 0;
    cudnnConvolutionFwdAlgoPerf_t pf[N_ALGO];
    CUDNN_TRY(cudnnGetConvolutionForwardAlgorithm_v7(c->dnn, c->xd, c->wd, c->cd, c->yd, N_ALGO, &got, pf));
    auto fwd_ws = [c](cudnnConvolutionFwdAlgo_t a, size_t *bytes) {
        return cudnnGetConvolutionForwardWorkspaceSize(c->dnn, c->xd, c->wd, c->cd, c->yd, a, bytes);
    };
    if (!pick_algo(pf, got, cap, fwd_ws, &c->fwd, &c->ws_fwd)) return no_algo(c, "forward", batch, cap, err);
    cudnnConvolutionBwdDataAlgoPerf_t pd[N_ALGO];
    CUDNN_TRY(cudnnGetConvolutionBackwardDataAlgorithm_v7(c->dnn, c->wd, c->yd, c->cd, c->xd, N_ALGO, &got, pd));
    auto data_ws = [c](cudnnConvolutionBwdDataAlgo_t a, size_t *bytes) {
        return cudnnGetConvolutionBackwardDataWorkspaceSize(c->dnn, c->wd, c->yd, c->cd, c->xd, a, bytes);
    };
    if (!pick_algo(pd, got, cap, data_ws, &c->bwd_data, &c->ws_data))
        return no_algo(c, "backward-data", batch, cap, err);
    cudnnConvolutionBwdFilterAlgoPerf_t pw[N_ALGO];
    CUDNN_TRY(cudnnGetConvolutionBackwardFilterAlgorithm_v7(c->dnn, c->xd, c->yd, c->cd, c->wd, N_ALGO, &got, pw));
    auto filter_ws = [c](cudnnConvolutionBwdFilterAlgo_t a, size_t *bytes) {
        return cudnnGetConvolutionBackwardFilterWorkspaceSize(c->dnn, c->xd, c->yd, c->cd, c->wd, a, bytes);
    };
    if (!pick_algo(pw, got, cap, filter_ws, &c->bwd_filter, &c->ws_filter))
        return no_algo(c, "backward-filter", batch, cap, err);
    c->batch = batch;
    return NN_OK;
}

nn_status cu_conv_train_create(cu_conv_train **out, cudnnHandle_t dnn, const nn_layer *l, int max_batch,
                               size_t ws_cap, size_t *ws_need, nn_err *err)
{
    *out = NULL;
    cu_conv_train *c = (cu_conv_train *)calloc(1, sizeof *c);
    if (!c) return nn_fail(err, NN_E_NOMEM, "layer '%s': out of memory", l->name);
    c->dnn = dnn;
    c->name = l->name;
    c->G = l->groups > 0 ? l->groups : 1;
    c->cin = l->in.c, c->cout = l->out.c, c->cin_g = c->cin / c->G, c->cout_g = c->cout / c->G;
    c->KH = l->kh, c->KW = l->kw, c->IH = l->in.h, c->IW = l->in.w, c->OH = l->out.h, c->OW = l->out.w;
    c->pt = l->pad_top, c->pl = l->pad_left;
    c->padded = l->pad_top != l->pad_bottom || l->pad_left != l->pad_right;
    c->PH = c->padded ? c->IH + l->pad_top + l->pad_bottom : c->IH;
    c->PW = c->padded ? c->IW + l->pad_left + l->pad_right : c->IW;
    c->w_count = (size_t)c->cout * c->KH * c->KW * c->cin_g;
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
    if (!s) s = choose(c, max_batch, ws_cap, err);
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

/* k[o][kh][kw][ci] = w[g][kh][kw][ci][j], o = g*cout_g + j (one thread per KRSC element). */
__global__ static void k_to_krsc(float *k, const float *w, size_t n, int taps, int cin_g, int cout_g)
{
    GRID_STRIDE(i, n)
    {
        const int ci = (int)(i % (size_t)cin_g);
        size_t t = i / (size_t)cin_g;
        const int tap = (int)(t % (size_t)taps);
        const int o = (int)(t / (size_t)taps), g = o / cout_g, j = o % cout_g;
        k[i] = w[(((size_t)g * taps + tap) * cin_g + ci) * cout_g + j];
    }
}

/* dw[g][kh][kw][ci][j] += k[o][kh][kw][ci] (one thread per engine element: coalesced writes). */
__global__ static void k_from_krsc_add(float *dw, const float *k, size_t n, int taps, int cin_g, int cout_g)
{
    GRID_STRIDE(i, n)
    {
        const int j = (int)(i % (size_t)cout_g);
        size_t t = i / (size_t)cout_g;
        const int ci = (int)(t % (size_t)cin_g);
        t /= (size_t)cin_g;
        const int tap = (int)(t % (size_t)taps), g = (int)(t / (size_t)taps);
        dw[i] += k[(((size_t)g * cout_g + j) * taps + tap) * cin_g + ci];
    }
}

/* xp [batch][PH][PW][C] = x placed at (pt, pl), zeros around. */
__global__ static void k_pad(float *xp, const float *x, size_t n, int IH, int IW, int PH, int PW, int C, int pt, int pl)
{
    GRID_STRIDE(i, n)
    {
        const int c = (int)(i % (size_t)C);
        size_t t = i / (size_t)C;
        const int pw = (int)(t % (size_t)PW);
        t /= (size_t)PW;
        const int ph = (int)(t % (size_t)PH);
        const size_t b = t / (size_t)PH;
        const int ih = ph - pt, iw = pw - pl;
        xp[i] = ih >= 0 && ih < IH && iw >= 0 && iw < IW ? x[((b * IH + ih) * IW + iw) * C + c] : 0.0f;
    }
}

/* dx [batch][IH][IW][C] += dxp at (pt, pl). */
__global__ static void k_crop_add(float *dx, const float *dxp, size_t n, int IH, int IW, int PH, int PW, int C, int pt,
                                  int pl)
{
    GRID_STRIDE(i, n)
    {
        const int c = (int)(i % (size_t)C);
        size_t t = i / (size_t)C;
        const int iw = (int)(t % (size_t)IW);
        t /= (size_t)IW;
        const int ih = (int)(t % (size_t)IH);
        const size_t b = t / (size_t)IH;
        dx[i] += dxp[((b * PH + ih + pt) * PW + iw + pl) * C + c];
    }
}

/* out [M][C] += bias [C]. */
__global__ static void k_bias_add(float *out, const float *bias, size_t n, int C)
{
    GRID_STRIDE(i, n) out[i] += bias[i % (size_t)C];
}

/* Descriptors and algorithms for this batch (the workspace never grows past create's). */
static nn_status ensure_batch(cu_conv_train *c, int batch, nn_err *err)
{
    return c->batch == batch ? NN_OK : choose(c, batch, c->ws_cap, err);
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
    if (c->padded) {
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
    CUDNN_TRY(cudnnConvolutionForward(env->dnn, &one, c->xd, x, c->wd, ws_at(env, c->off_w), c->cd, c->fwd, env->ws,
                                      c->ws_fwd, &zero, c->yd, a->out));
    if (a->l->has_bias && a->p[1]) {
        const size_t n = (size_t)a->batch * c->OH * c->OW * c->cout;
        k_bias_add<<<cu_blocks(n, 256), 256, 0, env->stream>>>(a->out, a->p[1], n, c->cout);
        CU_LAUNCHED();
    }
    return NN_OK;
}

nn_status cu_conv2d_backward(const cu_bwd_args *a, cu_conv_train *c, nn_err *err)
{
    const cu_env *env = a->env;
    const float *x = NULL;
    nn_status s = prepare(env, c, a->p[0], a->in[0], a->batch, &x, err);
    if (s) return s;
    const float one = 1.0f, zero = 0.0f;
    if (c->padded) {
        float *dxp = (float *)ws_at(env, c->off_dxp);
        CUDNN_TRY(cudnnConvolutionBackwardData(env->dnn, &one, c->wd, ws_at(env, c->off_w), c->yd, a->dy, c->cd,
                                               c->bwd_data, env->ws, c->ws_data, &zero, c->xd, dxp));
        const size_t n = (size_t)a->batch * c->IH * c->IW * c->cin;
        k_crop_add<<<cu_blocks(n, 256), 256, 0, env->stream>>>(a->d_in[0], dxp, n, c->IH, c->IW, c->PH, c->PW, c->cin,
                                                           c->pt, c->pl);
        CU_LAUNCHED();
    } else {
        CUDNN_TRY(cudnnConvolutionBackwardData(env->dnn, &one, c->wd, ws_at(env, c->off_w), c->yd, a->dy, c->cd,
                                               c->bwd_data, env->ws, c->ws_data, &one, c->xd, a->d_in[0]));
    }
    if (a->d_p[0]) {
        float *dwk = (float *)ws_at(env, c->off_dw);
        CUDNN_TRY(cudnnConvolutionBackwardFilter(env->dnn, &one, c->xd, x, c->yd, a->dy, c->cd, c->bwd_filter, env->ws,
                                                 c->ws_filter, &zero, c->wd, dwk));
        k_from_krsc_add<<<cu_blocks(c->w_count, 256), 256, 0, env->stream>>>(a->d_p[0], dwk, c->w_count, c->KH * c->KW,
                                                                          c->cin_g, c->cout_g);
        CU_LAUNCHED();
    }
    if (a->l->has_bias && a->d_p[1])
        return cu_col_sums_add(env, a->d_p[1], a->dy, a->batch * c->OH * c->OW, c->cout, err);
    return NN_OK;
}
