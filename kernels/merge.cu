/* merge.cu — layers that combine or pass tensors through, forward (CUDA):
 *   add:    out [batch][H][W][C] = sum of the n_inputs inputs (out may alias any: each element is
 *           read from every input before it is written, by the same thread)
 *   concat: out [batch][H][W][sum Ci] = inputs side by side along channels, in input order
 *   copy:   flatten / dropout (identity at inference) when not in place: a device-to-device copy. */
#include "body/eltwise.h"
#include "cuda.h"

typedef body_inputs cu_inputs; /* concat: c0[k] = first output channel of input k; c0[n] = C */

__global__ void k_add(float *y, cu_inputs in, size_t total)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x)
        add_at(y, &in, i);
}

nn_status cu_add_forward(const cu_fwd_args *a, nn_err *err)
{
    const nn_layer *l = a->l;
    size_t total = (size_t)a->batch * nn_shape_size(l->out);
    if (l->n_inputs < 2)
        return cu_copy_forward(a, err);
    cu_inputs in = {};
    in.n = l->n_inputs;
    for (int k = 0; k < l->n_inputs; k++) in.x[k] = a->in[k];
    k_add<<<cu_blocks(total, 256), 256, 0, a->env->stream>>>(a->out, in, total);
    CU_LAUNCHED();
    return NN_OK;
}

__global__ void k_concat(float *__restrict__ y, cu_inputs in, size_t total)
{
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total; e += (size_t)gridDim.x * blockDim.x)
        concat_at(y, &in, e);
}

nn_status cu_concat_forward(const cu_fwd_args *a, nn_err *err)
{
    const nn_layer *l = a->l;
    cu_inputs in = {};
    in.n = l->n_inputs;
    int off = 0;
    for (int k = 0; k < l->n_inputs; k++) {
        in.x[k] = a->in[k];
        in.c0[k] = off;
        if (a->in_c[k] <= 0)
            return nn_fail(err, NN_E_ARG, "%s: concat input %d has no channel count", l->name, k);
        off += a->in_c[k];
    }
    in.c0[l->n_inputs] = off;
    if (off != l->out.c)
        return nn_fail(err, NN_E_SHAPE, "%s: concat inputs have %d channels in all, the output %d", l->name, off,
                       l->out.c);
    size_t total = (size_t)a->batch * nn_shape_size(l->out);
    k_concat<<<cu_blocks(total, 256), 256, 0, a->env->stream>>>(a->out, in, total);
    CU_LAUNCHED();
    return NN_OK;
}

nn_status cu_copy_forward(const cu_fwd_args *a, nn_err *err)
{
    if (a->out == a->in[0])
        return NN_OK;
    size_t bytes = (size_t)a->batch * nn_shape_size(a->l->out) * sizeof(float);
    CU_TRY(cudaMemcpyAsync(a->out, a->in[0], bytes, cudaMemcpyDeviceToDevice, a->env->stream));
    return NN_OK;
}
