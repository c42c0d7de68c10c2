/* depthwise.cu — depthwise 2-D convolution forward (CUDA), NHWC, explicit zero padding, depth
 * multiplier, fused bias + activation (the CPU backend's semantics, src/nn/cpu/depthwise.c):
 *   in [batch][IH][IW][C]    weight [kh][kw][C*dm]    bias [C*dm] or NULL
 *   out [batch][OH][OW][C*dm];  output channel o reads input channel o/dm.
 * One thread per output element, channels fastest (coalesced loads of input and weights). The
 * window is a template parameter for the EffNet shapes (1x3, 3x1, 3x3, 1x5, 5x1, 5x5), fully
 * unrolled; any other kh x kw takes the generic loop. Each thread visits only its in-bounds taps. */
#include "body/depthwise.h"
#include "cuda.h"

/* The window is a template parameter so that dw_fwd_at's loops unroll (body/depthwise.h). */
template <int KH, int KW>
__global__ void k_depthwise(float *__restrict__ y, const float *__restrict__ x, const float *__restrict__ w,
                            const float *__restrict__ bias, size_t total, dw_dims d, nn_act act, float alpha)
{
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total; e += (size_t)gridDim.x * blockDim.x)
        dw_fwd_at(y, x, w, bias, e, &d, KH > 0 ? KH : d.kh, KW > 0 ? KW : d.kw, act, alpha);
}

template <int KH, int KW>
static void launch(const cu_fwd_args *a, size_t total, const dw_dims &d)
{
    const nn_layer *l = a->l;
    k_depthwise<KH, KW><<<cu_blocks(total, 256), 256, 0, a->env->stream>>>(
        a->out, a->in[0], a->p[0], l->has_bias ? a->p[1] : nullptr, total, d, l->act, l->act_alpha);
}

nn_status cu_depthwise_forward(const cu_fwd_args *a, nn_err *err)
{
    const nn_layer *l = a->l;
    int dm = l->depth_multiplier > 0 ? l->depth_multiplier : 1;
    dw_dims d = {l->in.h, l->in.w, l->in.c, l->out.h, l->out.w, l->out.c, dm, l->kh, l->kw, l->sh, l->sw,
                 l->pad_top, l->pad_left};
    size_t total = (size_t)a->batch * nn_shape_size(l->out);
    const int kh = l->kh, kw = l->kw;
    if (kh == 1 && kw == 3) launch<1, 3>(a, total, d);
    else if (kh == 3 && kw == 1) launch<3, 1>(a, total, d);
    else if (kh == 3 && kw == 3) launch<3, 3>(a, total, d);
    else if (kh == 1 && kw == 5) launch<1, 5>(a, total, d);
    else if (kh == 5 && kw == 1) launch<5, 1>(a, total, d);
    else if (kh == 5 && kw == 5) launch<5, 5>(a, total, d);
    else launch<0, 0>(a, total, d);
    CU_LAUNCHED();
    return NN_OK;
}
