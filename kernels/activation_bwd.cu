/* activation_bwd.cu — backward of the element-wise activations and softmax, as the CPU
 * (src/nn/cpu/activation.c):
 *   relu:    d_in += x > 0 ? dy : 0                       (x == 0 passes 0, as PyTorch)
 *   leaky:   d_in += x > 0 ? dy : alpha * dy              (from the saved input)
 *   sigmoid, tanh, elu, clip: d_in += dy * f' (body/eltwise.h pw_bwd_at; x and y saved)
 *   softmax: per pixel (y saved), d_in += y * (dy - sum_c dy*y)   (sum in double)
 * dy, x, y, d_in: [batch][H][W][C]. One thread per element (per pixel for softmax). */
#include "body/eltwise.h"
#include "reduce.cuh"

__global__ static void k_act_bwd(float *d, const float *x, const float *g, size_t n, nn_act act, float alpha)
{
    GRID_STRIDE(i, n) act_bwd_at(d, x, g, i, act, alpha);
}

__global__ static void k_softmax_bwd(float *d, const float *y, const float *g, size_t pixels, int C)
{
    GRID_STRIDE(px, pixels) softmax_bwd_px(d, y, g, px, C);
}

static size_t elems(const cu_bwd_args *a) { return (size_t)a->batch * nn_shape_size(a->l->out); }

nn_status cu_relu_backward(const cu_bwd_args *a, nn_err *err)
{
    const size_t n = elems(a);
    k_act_bwd<<<cu_blocks(n, 256), 256, 0, a->env->stream>>>(a->d_in[0], a->in[0], a->dy, n, NN_ACT_RELU, 0.0f);
    CU_LAUNCHED();
    return NN_OK;
}

nn_status cu_leaky_relu_backward(const cu_bwd_args *a, nn_err *err)
{
    const size_t n = elems(a);
    k_act_bwd<<<cu_blocks(n, 256), 256, 0, a->env->stream>>>(a->d_in[0], a->in[0], a->dy, n, NN_ACT_LEAKY,
                                                           a->l->alpha);
    CU_LAUNCHED();
    return NN_OK;
}

__global__ static void k_pw_bwd(float *d, const float *x, const float *y, const float *g, size_t n, body_pw f)
{
    GRID_STRIDE(i, n) pw_bwd_at(d, x, y, g, i, f);
}

nn_status cu_pointwise_backward(const cu_bwd_args *a, nn_err *err)
{
    const size_t n = elems(a);
    k_pw_bwd<<<cu_blocks(n, 256), 256, 0, a->env->stream>>>(a->d_in[0], a->in[0], a->out, a->dy, n,
                                                          body_pw_of(a->l));
    CU_LAUNCHED();
    return NN_OK;
}

nn_status cu_softmax_backward(const cu_bwd_args *a, nn_err *err)
{
    const nn_layer *l = a->l;
    const size_t pixels = (size_t)a->batch * l->out.h * l->out.w;
    k_softmax_bwd<<<cu_blocks(pixels, 256), 256, 0, a->env->stream>>>(a->d_in[0], a->out, a->dy, pixels, l->out.c);
    CU_LAUNCHED();
    return NN_OK;
}
