/* dense.cu — fully connected forward (CUDA) through cuBLAS, then the shared bias + activation
 * epilogue:  x [batch][F] (HWC order)   W [F][O] row-major   out [batch][O] = x W + b.
 * cuBLAS is column-major: a row-major [F][O] matrix is its column-major O x F transpose, so
 * out^T (O x batch) = W^T (O x F, ld O) * x^T (F x batch, ld F): one SGEMM with no transposes. */
#include "cuda.h"

nn_status cu_dense_forward(const cu_fwd_args *a, nn_err *err)
{
    const nn_layer *l = a->l;
    const int F = (int)nn_shape_size(l->in), O = l->units;
    const float one = 1.0f, zero = 0.0f;
    CUBLAS_TRY(cublasSgemm(a->env->blas, CUBLAS_OP_N, CUBLAS_OP_N, O, a->batch, F, &one, a->p[0], O, a->in[0], F,
                           &zero, a->out, O));
    return cu_bias_act(a->env, a->out, (size_t)a->batch * (size_t)O, O, l->has_bias ? a->p[1] : NULL, l->act,
                       l->act_alpha, err);
}
