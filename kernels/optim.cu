/* optim.cu — optimizer steps and gradient clipping on the device, the float operations of
 * src/nn/optim.c one for one (round-to-nearest intrinsics: no FMA contraction, so a step
 * rounds as the CPU's does; the scalars are made on the host exactly as there):
 *   SGD   d = g (+ wd p); buf = d (first step) | buf m + (1-damp) d; d = nesterov ? d + m buf : buf;
 *         p += -lr d
 *   Adam  (AdamW: p *= 1 - lr wd | Adam: g += wd p); m = m b1 + (1-b1) g; v = v b2 + (1-b2) g g;
 *         p += -(lr/(1-b1^t)) m / (sqrt(v)/sqrt(1-b2^t) + eps)
 * over the parameters whose mask byte is set (batch-norm running statistics are not). State:
 * SGD momentum buffer [n], Adam exp_avg [n] then exp_avg_sq [n].
 * Clipping (torch.nn.utils.clip_grad_norm_): total = sqrt(sum g^2) (double sum), then
 * g *= max_norm / (total + 1e-6) when that is below 1; the total stays on the device. The
 * per-element bodies and the step's scalars are body/optim.h's (checked on the CPU by
 * tests/test_kernel_bodies_train.c, which also emulates the norm's block sums). */
#include <math.h>

#include "body/optim.h"
#include "reduce.cuh"

__global__ static void k_sgd(float *p, const float *g, float *buf, const unsigned char *mask, size_t n, sgd_k k)
{
    GRID_STRIDE(i, n) sgd_at(p, g, buf, mask, i, &k);
}

__global__ static void k_adam(float *p, const float *g, float *m, float *v, const unsigned char *mask, size_t n,
                              adam_k k)
{
    GRID_STRIDE(i, n) adam_at(p, g, m, v, mask, i, &k);
}

nn_status cu_opt_step(const cu_env *env, const opt_config *o, int64_t step, double lr, double weight_decay,
                      float *params, const float *grads, float *state, const unsigned char *mask, size_t n,
                      nn_err *err)
{
    if (n == 0) return NN_OK;
    if (o->kind == OPT_SGD) {
        const sgd_k k = sgd_k_of(o, step, lr, weight_decay);
        if (k.has_buf && !state) return nn_fail(err, NN_E_ARG, "sgd with momentum: no optimizer state on the device");
        k_sgd<<<cu_blocks(n, 256), 256, 0, env->stream>>>(params, grads, state, mask, n, k);
    } else {
        if (!state) return nn_fail(err, NN_E_ARG, "adam: no optimizer state on the device");
        const adam_k k = adam_k_of(o, step, lr, weight_decay);
        k_adam<<<cu_blocks(n, 256), 256, 0, env->stream>>>(params, grads, state, state + n, mask, n, k);
    }
    CU_LAUNCHED();
    return NN_OK;
}

size_t cu_norm_scratch_bytes(size_t n)
{
    (void)n;
    return NORM_BLOCKS * sizeof(double) + 256;
}

/* part[block] = sum of g^2 over a grid-stride slice (double). */
__global__ static void k_sumsq(const float *g, size_t n, double *part)
{
    __shared__ double sh[SUM_THREADS];
    double s = 0.0;
    GRID_STRIDE(i, n) s += (double)g[i] * (double)g[i];
    sh[threadIdx.x] = s;
    __syncthreads();
    for (int w = SUM_THREADS / 2; w > 0; w >>= 1) {
        if ((int)threadIdx.x < w) sh[threadIdx.x] += sh[threadIdx.x + w];
        __syncthreads();
    }
    if (threadIdx.x == 0) part[blockIdx.x] = sh[0];
}

__global__ static void k_norm(const double *part, int parts, float *norm)
{
    __shared__ double sh[SUM_THREADS];
    double s = 0.0;
    for (int i = threadIdx.x; i < parts; i += SUM_THREADS) s += part[i];
    sh[threadIdx.x] = s;
    __syncthreads();
    for (int w = SUM_THREADS / 2; w > 0; w >>= 1) {
        if ((int)threadIdx.x < w) sh[threadIdx.x] += sh[threadIdx.x + w];
        __syncthreads();
    }
    if (threadIdx.x == 0) *norm = (float)sqrt(sh[0]);
}

__global__ static void k_clip(float *g, size_t n, const float *norm, float max_norm)
{
    const float coef = clip_coef(*norm, max_norm);
    if (!(coef < 1.0f)) return; /* torch clamps to 1 and multiplies: x * 1 == x */
    GRID_STRIDE(i, n) clip_at(g, i, coef);
}

nn_status cu_clip_grad_norm(const cu_env *env, float *grads, size_t n, float max_norm, float *norm_dev, void *scratch,
                            nn_err *err)
{
    double *part = (double *)scratch;
    const size_t blocks = norm_blocks(n);
    k_sumsq<<<(unsigned)blocks, SUM_THREADS, 0, env->stream>>>(grads, n, part);
    CU_LAUNCHED();
    k_norm<<<1, SUM_THREADS, 0, env->stream>>>(part, (int)blocks, norm_dev);
    CU_LAUNCHED();
    if (isfinite(max_norm) && n) {
        k_clip<<<cu_blocks(n, 256), 256, 0, env->stream>>>(grads, n, norm_dev, max_norm);
        CU_LAUNCHED();
    }
    return NN_OK;
}
