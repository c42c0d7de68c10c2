/* depthwise_bwd.cu — depthwise convolution backward (1xk, kx1, kxk, any stride, padding and
 * depth multiplier), NHWC, as the CPU (src/nn/cpu/depthwise.c):
 *   in [batch][IH][IW][C]   weight [kh][kw][C*dm]   dy [batch][OH][OW][C*dm], o = c*dm + m
 *   d_in[.., c]   += sum over the taps that read it, sum_m w[kh][kw][o] dy[.., o]
 *   dW[kh][kw][o] += sum over output pixels of x[.., o/dm] dy[.., o]   (in-bounds taps only)
 *   db[o]         += sum over output pixels of dy[.., o]
 * d_in is gathered per input element (one thread each, the CPU's (oh, ow) order, no atomics);
 * dW and db are per-channel sums over the batch*OH*OW output pixels (reduce.cuh, one value per
 * tap plus one for the bias). Scratch: cu_chan_scratch_bytes(batch*OH*OW, C*dm, taps + 1). */
#include "body/depthwise.h"
#include "reduce.cuh"

__global__ static void k_dw_bwd_input(float *d, const float *w, const float *g, size_t total, dw_dims p)
{
    GRID_STRIDE(e, total) dw_bwd_input_at(d, w, g, e, &p);
}

namespace {
struct dw_sums { /* chan_sums' functor over dw_grad_term (body/depthwise.h) */
    const float *x, *g;
    dw_dims p;
    __device__ double operator()(int r, int o, int z) const { return dw_grad_term(x, g, r, o, z, &p); }
};
}

__global__ static void k_dw_add_grads(float *dw, float *db, const double *tot, int taps, int CO)
{
    GRID_STRIDE(i, (size_t)(taps + 1) * CO) dw_add_grads_at(dw, db, tot, i, taps, CO);
}

nn_status cu_depthwise_backward(const cu_bwd_args *a, nn_err *err)
{
    const nn_layer *l = a->l;
    const dw_dims p = {l->in.h, l->in.w, l->in.c, l->out.h, l->out.w, l->out.c,
                       l->depth_multiplier > 0 ? l->depth_multiplier : 1, l->kh, l->kw, l->sh, l->sw, l->pad_top,
                       l->pad_left};
    const cu_env *env = a->env;
    const size_t total = (size_t)a->batch * nn_shape_size(l->in);
    k_dw_bwd_input<<<cu_blocks(total, 256), 256, 0, env->stream>>>(a->d_in[0], a->p[0], a->dy, total, p);
    CU_LAUNCHED();
    float *dw = a->d_p[0], *db = l->has_bias ? a->d_p[1] : NULL;
    if (!dw && !db) return NN_OK;
    const int taps = l->kh * l->kw, nz = taps + 1, M = a->batch * l->out.h * l->out.w;
    double *tot = chan_tot(env->ws), *part = chan_part(env->ws, p.CO, nz);
    nn_status s = chan_sums(env, dw_sums{a->in[0], a->dy, p}, M, p.CO, nz, part, tot, err);
    if (s) return s;
    k_dw_add_grads<<<cu_blocks((size_t)nz * p.CO, 256), 256, 0, env->stream>>>(dw, db, tot, taps, p.CO);
    CU_LAUNCHED();
    return NN_OK;
}
