/* pool_bwd.cu — pooling backward, NHWC, as the CPU (src/nn/cpu/pool.c):
 *   max:  each output's gradient goes to the first maximal in-bounds cell of its window
 *         (row-major window order: the window's first in-bounds cell, replaced only by a
 *         strictly larger one, as PyTorch on the -inf padded input);
 *   avg:  dy / (real cells of the window) to every real cell;
 *   global avg: dy[b][c] / (H*W) to every pixel.
 * Gathered per input element (one thread each, no atomics): the windows that contain it are
 * visited in the CPU's (oh, ow) order and summed onto the old value in that order, so the
 * result is the CPU's to the bit. in, d_in [batch][IH][IW][C]; dy [batch][OH][OW][C]. */
#include "reduce.cuh"

typedef struct {
    int IH, IW, C, OH, OW, kh, kw, sh, sw, pt, pl;
} pool_dims;

template <bool IS_MAX>
__global__ static void k_pool_bwd(float *d, const float *x, const float *g, size_t total, pool_dims p)
{
    GRID_STRIDE(e, total)
    {
        size_t b;
        int ih, iw, c;
        nhwc_of(e, p.IH, p.IW, p.C, &b, &ih, &iw, &c);
        int oh0, oh1, ow0, ow1;
        windows_of(ih, p.kh, p.sh, p.pt, p.OH, &oh0, &oh1);
        windows_of(iw, p.kw, p.sw, p.pl, p.OW, &ow0, &ow1);
        const float *img = x + b * (size_t)p.IH * p.IW * p.C;
        float acc = d[e];
        for (int oh = oh0; oh < oh1; oh++) {
            const int y0 = oh * p.sh - p.pt;
            const int kh0 = y0 < 0 ? -y0 : 0, kh1 = y0 + p.kh > p.IH ? p.IH - y0 : p.kh;
            for (int ow = ow0; ow < ow1; ow++) {
                const int x0 = ow * p.sw - p.pl;
                const int kw0 = x0 < 0 ? -x0 : 0, kw1 = x0 + p.kw > p.IW ? p.IW - x0 : p.kw;
                const float gv = g[((b * p.OH + oh) * p.OW + ow) * p.C + c];
                if (IS_MAX) {
                    int bh = y0 + kh0, bw = x0 + kw0;
                    float bv = img[((size_t)bh * p.IW + bw) * p.C + c];
                    for (int kh = kh0; kh < kh1; kh++)
                        for (int kw = kw0; kw < kw1; kw++) {
                            const float v = img[((size_t)(y0 + kh) * p.IW + (x0 + kw)) * p.C + c];
                            if (v > bv) bv = v, bh = y0 + kh, bw = x0 + kw;
                        }
                    if (bh == ih && bw == iw) acc += gv;
                } else {
                    const int cells = (kh1 - kh0) * (kw1 - kw0);
                    acc = __fadd_rn(acc, __fmul_rn(gv, 1.0f / (float)cells)); /* no FMA: the CPU's rounding */
                }
            }
        }
        d[e] = acc;
    }
}

static nn_status pool_backward(const cu_bwd_args *a, bool is_max, nn_err *err)
{
    const nn_layer *l = a->l;
    const pool_dims p = {l->in.h, l->in.w, l->in.c, l->out.h, l->out.w, l->kh, l->kw, l->sh, l->sw, l->pad_top,
                         l->pad_left};
    const size_t total = (size_t)a->batch * nn_shape_size(l->in);
    if (is_max)
        k_pool_bwd<true><<<cu_blocks(total, 256), 256, 0, a->env->stream>>>(a->d_in[0], a->in[0], a->dy, total, p);
    else
        k_pool_bwd<false><<<cu_blocks(total, 256), 256, 0, a->env->stream>>>(a->d_in[0], a->in[0], a->dy, total, p);
    CU_LAUNCHED();
    return NN_OK;
}

nn_status cu_maxpool_backward(const cu_bwd_args *a, nn_err *err) { return pool_backward(a, true, err); }
nn_status cu_avgpool_backward(const cu_bwd_args *a, nn_err *err) { return pool_backward(a, false, err); }

__global__ static void k_gap_bwd(float *d, const float *g, size_t total, size_t HW, int C, float inv)
{
    GRID_STRIDE(e, total)
    {
        const size_t c = e % (size_t)C, b = e / (HW * (size_t)C);
        d[e] = __fadd_rn(d[e], __fmul_rn(g[b * (size_t)C + c], inv));
    }
}

nn_status cu_global_avgpool_backward(const cu_bwd_args *a, nn_err *err)
{
    const nn_layer *l = a->l;
    const size_t HW = (size_t)l->in.h * l->in.w, total = (size_t)a->batch * HW * l->in.c;
    const float inv = HW ? 1.0f / (float)HW : 0.0f;
    k_gap_bwd<<<cu_blocks(total, 256), 256, 0, a->env->stream>>>(a->d_in[0], a->dy, total, HW, l->in.c, inv);
    CU_LAUNCHED();
    return NN_OK;
}
