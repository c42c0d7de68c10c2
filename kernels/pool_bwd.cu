/* pool_bwd.cu — pooling backward, NHWC, as the CPU (src/nn/cpu/pool.c):
 *   max:  each output's gradient goes to the first maximal in-bounds cell of its window
 *         (row-major window order: the window's first in-bounds cell, replaced only by a
 *         strictly larger one, as PyTorch on the -inf padded input);
 *   avg:  dy / (the window's divisor: its real cells, or with count_pad its cells inside the
 *         padded input) to every real cell;
 *   global avg: dy[b][c] / (H*W) to every pixel.
 * Gathered per input element (one thread each, no atomics): the windows that contain it are
 * visited in the CPU's (oh, ow) order and summed onto the old value in that order, so the
 * result is the CPU's to the bit. in, d_in [batch][IH][IW][C]; dy [batch][OH][OW][C]. */
#include "body/pool.h"
#include "reduce.cuh"

template <bool IS_MAX>
__global__ static void k_pool_bwd(float *d, const float *x, const float *g, size_t total, pool_dims p)
{
    GRID_STRIDE(e, total) pool_bwd_at(d, x, g, e, &p, IS_MAX);
}

static nn_status pool_backward(const cu_bwd_args *a, bool is_max, nn_err *err)
{
    const nn_layer *l = a->l;
    const pool_dims p = pool_dims_of(l);
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
    GRID_STRIDE(e, total) gap_bwd_at(d, g, e, HW, C, inv);
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
