/* pool.cu — pooling forward (CUDA), NHWC (the CPU backend's semantics, src/nn/cpu/pool.c):
 *   max/avg pool: in [batch][IH][IW][C] -> out [batch][OH][OW][C], window kh x kw (2x1 too),
 *     stride sh x sw, explicit padding; max ignores padded cells, avg divides by the number of
 *     real cells (summed in window order, then multiplied by 1/cells, as the CPU does);
 *   global avg pool: in [batch][H][W][C] -> out [batch][C], the pixels summed in order, times 1/(H*W).
 * One thread per output element; channels fastest, so neighbouring threads read neighbouring
 * floats. */
#include "cuda.h"

typedef struct {
    int IH, IW, C, OH, OW, kh, kw, sh, sw, pt, pl;
} pool_dims;

template <bool IS_MAX>
__global__ void k_pool(float *__restrict__ y, const float *__restrict__ x, size_t total, pool_dims d)
{
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total; e += (size_t)gridDim.x * blockDim.x) {
        const int c = (int)(e % (size_t)d.C);
        size_t r = e / (size_t)d.C;
        const int ow = (int)(r % (size_t)d.OW);
        r /= (size_t)d.OW;
        const int oh = (int)(r % (size_t)d.OH);
        const size_t b = r / (size_t)d.OH;
        const int ih0 = oh * d.sh - d.pt, iw0 = ow * d.sw - d.pl;
        const int kh0 = ih0 < 0 ? -ih0 : 0, kh1 = ih0 + d.kh > d.IH ? d.IH - ih0 : d.kh;
        const int kw0 = iw0 < 0 ? -iw0 : 0, kw1 = iw0 + d.kw > d.IW ? d.IW - iw0 : d.kw;
        const int cells = (kh1 - kh0) * (kw1 - kw0);
        if (cells <= 0) {
            y[e] = 0.0f;
            continue;
        }
        const float *img = x + b * (size_t)d.IH * d.IW * d.C + c;
        float v = img[((size_t)(ih0 + kh0) * d.IW + (size_t)(iw0 + kw0)) * d.C];
        for (int kh = kh0; kh < kh1; kh++)
            for (int kw = kw0; kw < kw1; kw++) {
                if (kh == kh0 && kw == kw0) continue;
                const float t = img[((size_t)(ih0 + kh) * d.IW + (size_t)(iw0 + kw)) * d.C];
                v = IS_MAX ? fmaxf(v, t) : v + t;
            }
        if (!IS_MAX && cells > 1) v *= 1.0f / (float)cells;
        y[e] = v;
    }
}

static nn_status pool_forward(const cu_fwd_args *a, bool is_max, nn_err *err)
{
    const nn_layer *l = a->l;
    pool_dims d = {l->in.h, l->in.w, l->in.c, l->out.h, l->out.w, l->kh, l->kw, l->sh, l->sw, l->pad_top,
                   l->pad_left};
    size_t total = (size_t)a->batch * nn_shape_size(l->out);
    if (is_max)
        k_pool<true><<<cu_blocks(total, 256), 256, 0, a->env->stream>>>(a->out, a->in[0], total, d);
    else
        k_pool<false><<<cu_blocks(total, 256), 256, 0, a->env->stream>>>(a->out, a->in[0], total, d);
    CU_LAUNCHED();
    return NN_OK;
}

nn_status cu_maxpool_forward(const cu_fwd_args *a, nn_err *err) { return pool_forward(a, true, err); }
nn_status cu_avgpool_forward(const cu_fwd_args *a, nn_err *err) { return pool_forward(a, false, err); }

__global__ void k_global_avgpool(float *__restrict__ y, const float *__restrict__ x, size_t total, int C, size_t HW)
{
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total; e += (size_t)gridDim.x * blockDim.x) {
        const size_t b = e / (size_t)C;
        const int c = (int)(e % (size_t)C);
        const float *p = x + b * HW * (size_t)C + c;
        float s = 0.0f;
        for (size_t i = 0; i < HW; i++) s += p[i * (size_t)C];
        y[e] = s * (1.0f / (float)HW);
    }
}

nn_status cu_global_avgpool_forward(const cu_fwd_args *a, nn_err *err)
{
    const nn_layer *l = a->l;
    size_t total = (size_t)a->batch * (size_t)l->in.c;
    k_global_avgpool<<<cu_blocks(total, 128), 128, 0, a->env->stream>>>(a->out, a->in[0], total, l->in.c,
                                                                        (size_t)l->in.h * (size_t)l->in.w);
    CU_LAUNCHED();
    return NN_OK;
}
