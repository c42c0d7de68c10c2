/* pool.cu — pooling forward (CUDA), NHWC (the CPU backend's semantics, src/nn/cpu/pool.c):
 *   max/avg pool: in [batch][IH][IW][C] -> out [batch][OH][OW][C], window kh x kw (2x1 too),
 *     stride sh x sw, explicit padding; max ignores padded cells, avg divides by the number of
 *     real cells, or with count_pad by the window's cells inside the padded input (summed in
 *     window order, then multiplied by 1/divisor, as the CPU does);
 *   global avg pool: in [batch][H][W][C] -> out [batch][C], the pixels summed in order, times 1/(H*W).
 * One thread per output element; channels fastest, so neighbouring threads read neighbouring
 * floats. */
#include "body/pool.h"
#include "cuda.h"

template <bool IS_MAX>
__global__ void k_pool(float *__restrict__ y, const float *__restrict__ x, size_t total, pool_dims d)
{
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total; e += (size_t)gridDim.x * blockDim.x)
        pool_fwd_at(y, x, e, &d, IS_MAX);
}

static nn_status pool_forward(const cu_fwd_args *a, bool is_max, nn_err *err)
{
    const nn_layer *l = a->l;
    const pool_dims d = pool_dims_of(l);
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
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total; e += (size_t)gridDim.x * blockDim.x)
        gap_fwd_at(y, x, e, C, HW);
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
