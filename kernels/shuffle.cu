/* shuffle.cu — ShuffleNet channel shuffle forward (CUDA), NHWC:
 *   in/out [batch][H][W][C], groups g, C = g * n:  out[.., j*g + i] = in[.., i*n + j]
 * (PyTorch: x.view(N, g, n, H, W).transpose(1, 2)). One thread per output element. */
#include "body/eltwise.h"
#include "cuda.h"

__global__ void k_shuffle(float *__restrict__ y, const float *__restrict__ x, size_t total, int C, int g)
{
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total; e += (size_t)gridDim.x * blockDim.x)
        shuffle_at(y, x, e, C, g);
}

nn_status cu_channel_shuffle_forward(const cu_fwd_args *a, nn_err *err)
{
    const nn_layer *l = a->l;
    size_t total = (size_t)a->batch * nn_shape_size(l->in);
    int g = l->groups > 0 ? l->groups : 1;
    k_shuffle<<<cu_blocks(total, 256), 256, 0, a->env->stream>>>(a->out, a->in[0], total, l->in.c, g);
    CU_LAUNCHED();
    return NN_OK;
}
