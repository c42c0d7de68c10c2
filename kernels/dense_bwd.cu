/* dense_bwd.cu — fully connected layer backward through cuBLAS (column-major, so the engine's
 * row-major matrices are used transposed, no copies), as the CPU (src/nn/cpu/dense.c):
 *   x [batch][K] (K = h*w*c, HWC order)   W [K][N]   dy [batch][N]
 *   d_in [batch][K] += dy * W^T      cublasSgemm(T, N): (W as N x K)^T * (dy as N x batch)
 *   dW [K][N]       += x^T * dy      cublasSgemm(N, T): (dy as N x batch) * (x as K x batch)^T
 *   db [N]          += column sums of dy (reduce.cu)
 * Default cuBLAS math (no TF32): float32 FMA, within rounding of the CPU. */
#include "reduce.cuh"

nn_status cu_dense_backward(const cu_bwd_args *a, nn_err *err)
{
    const nn_layer *l = a->l;
    const int K = (int)nn_shape_size(l->in), N = l->units, B = a->batch;
    const cu_env *env = a->env;
    const float one = 1.0f;
    CUBLAS_TRY(cublasSgemm(env->blas, CUBLAS_OP_T, CUBLAS_OP_N, K, B, N, &one, a->p[0], N, a->dy, N, &one, a->d_in[0],
                           K));
    if (a->d_p[0])
        CUBLAS_TRY(cublasSgemm(env->blas, CUBLAS_OP_N, CUBLAS_OP_T, N, K, B, &one, a->dy, N, a->in[0], K, &one,
                               a->d_p[0], N));
    if (l->has_bias && a->d_p[1])
        return cu_col_sums_add(env, a->d_p[1], a->dy, B, N, err);
    return NN_OK;
}
