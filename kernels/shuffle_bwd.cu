/* shuffle_bwd.cu — channel shuffle backward, NHWC [batch][H][W][C], C = g*n: the inverse of the
 * forward's out[.., j*g + i] = in[.., i*n + j], i.e. d_in[.., i*n + j] += dy[.., j*g + i]
 * (src/nn/cpu/shuffle.c). One thread per element of d_in. */
#include "body/eltwise.h"
#include "reduce.cuh"

__global__ static void k_shuffle_bwd(float *d, const float *g, size_t total, int C, int groups)
{
    GRID_STRIDE(e, total) shuffle_bwd_at(d, g, e, C, groups);
}

nn_status cu_channel_shuffle_backward(const cu_bwd_args *a, nn_err *err)
{
    const nn_layer *l = a->l;
    const int C = l->in.c, groups = l->groups > 0 ? l->groups : 1;
    const size_t total = (size_t)a->batch * nn_shape_size(l->in);
    k_shuffle_bwd<<<cu_blocks(total, 256), 256, 0, a->env->stream>>>(a->d_in[0], a->dy, total, C, groups);
    CU_LAUNCHED();
    return NN_OK;
}
