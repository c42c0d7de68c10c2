/* batchnorm.cu — batch normalisation forward with inference (running) statistics (CUDA), NHWC:
 *   in/out [batch][H][W][C] (out may alias in), gamma beta mean var [C]
 *   y = x * s + (beta - mean * s), s = gamma / sqrt(var + eps), then the fused activation
 * (the CPU backend's arithmetic, src/nn/cpu/batchnorm.c, each step rounded alone: body/norm.h).
 * One thread per element. */
#include "body/norm.h"
#include "cuda.h"

__global__ void k_batchnorm(float *y, const float *x, size_t n, int C, const float *__restrict__ gamma,
                            const float *__restrict__ beta, const float *__restrict__ mean,
                            const float *__restrict__ var, float eps, nn_act act, float alpha)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        bn_infer_at(y, x, i, C, gamma, beta, mean, var, eps, act, alpha);
}

nn_status cu_batchnorm_forward(const cu_fwd_args *a, nn_err *err)
{
    const nn_layer *l = a->l;
    size_t n = (size_t)a->batch * nn_shape_size(l->out);
    k_batchnorm<<<cu_blocks(n, 256), 256, 0, a->env->stream>>>(a->out, a->in[0], n, l->in.c, a->p[0], a->p[1],
                                                                a->p[2], a->p[3], l->eps, l->act, l->act_alpha);
    CU_LAUNCHED();
    return NN_OK;
}
