/* activation.cu — element-wise activations, the shared bias + activation epilogue, and softmax
 * over channels, forward (CUDA):
 *   bias_act:       x[i] = act(x[i] + bias[i % c])                 (conv2d / dense epilogue)
 *   relu, leaky:    out[i] = act(in[i]), out may alias in           [batch * size]
 *   sigmoid, tanh, elu, clip: out[i] = f(in[i]) (body/eltwise.h pw_at), out may alias in
 *   softmax:        per pixel over C: y = exp(x - max) / sum exp(x - max)   [batch*H*W][C]
 * One thread per element (grid-stride); softmax: one warp per pixel. */
#include "body/eltwise.h"
#include "cuda.h"

__global__ void k_bias_act(float *__restrict__ x, size_t n, int c, const float *__restrict__ bias, nn_act act,
                           float alpha)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        bias_act_at(x, i, c, bias, act, alpha);
}

nn_status cu_bias_act(const cu_env *env, float *x, size_t n, int c, const float *bias, nn_act act, float alpha,
                      nn_err *err)
{
    if ((!bias && act == NN_ACT_NONE) || n == 0)
        return NN_OK;
    k_bias_act<<<cu_blocks(n, 256), 256, 0, env->stream>>>(x, n, c, bias, act, alpha);
    CU_LAUNCHED();
    return NN_OK;
}

__global__ void k_act(float *y, const float *x, size_t n, nn_act act, float alpha)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        y[i] = body_act(x[i], act, alpha);
}

static nn_status act_forward(const cu_fwd_args *a, nn_act act, float alpha, nn_err *err)
{
    size_t n = (size_t)a->batch * nn_shape_size(a->l->out);
    k_act<<<cu_blocks(n, 256), 256, 0, a->env->stream>>>(a->out, a->in[0], n, act, alpha);
    CU_LAUNCHED();
    return NN_OK;
}

nn_status cu_relu_forward(const cu_fwd_args *a, nn_err *err) { return act_forward(a, NN_ACT_RELU, 0.0f, err); }
nn_status cu_leaky_relu_forward(const cu_fwd_args *a, nn_err *err)
{
    return act_forward(a, NN_ACT_LEAKY, a->l->alpha, err);
}

__global__ void k_pw(float *y, const float *x, size_t n, body_pw f)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        pw_at(y, x, i, f);
}

nn_status cu_pointwise_forward(const cu_fwd_args *a, nn_err *err)
{
    size_t n = (size_t)a->batch * nn_shape_size(a->l->out);
    k_pw<<<cu_blocks(n, 256), 256, 0, a->env->stream>>>(a->out, a->in[0], n, body_pw_of(a->l));
    CU_LAUNCHED();
    return NN_OK;
}

/* One warp per pixel: max, then sum of exp, then the scaled write. y may alias x (each lane
 * reads its channels before the warp's final pass writes them). */
__global__ void k_softmax(float *y, const float *x, size_t pixels, int C)
{
    const unsigned lane = threadIdx.x & 31u;
    const size_t warps = (size_t)gridDim.x * (blockDim.x / 32u);
    for (size_t px = (blockIdx.x * (size_t)blockDim.x + threadIdx.x) / 32u; px < pixels; px += warps) {
        const float *xp = x + px * (size_t)C;
        float *yp = y + px * (size_t)C;
        float mx = -INFINITY;
        for (int c = (int)lane; c < C; c += 32) mx = fmaxf(mx, xp[c]);
        for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
        float sum = 0.0f;
        for (int c = (int)lane; c < C; c += 32) sum += expf(xp[c] - mx);
        for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
        const float inv = 1.0f / sum;
        __syncwarp();
        for (int c = (int)lane; c < C; c += 32) yp[c] = expf(xp[c] - mx) * inv;
    }
}

nn_status cu_softmax_forward(const cu_fwd_args *a, nn_err *err)
{
    const nn_layer *l = a->l;
    size_t pixels = (size_t)a->batch * (size_t)l->out.h * (size_t)l->out.w;
    k_softmax<<<cu_blocks(pixels * 32u, 256), 256, 0, a->env->stream>>>(a->out, a->in[0], pixels, l->out.c);
    CU_LAUNCHED();
    return NN_OK;
}
