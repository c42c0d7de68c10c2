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
 * g *= max_norm / (total + 1e-6) when that is below 1; the total stays on the device. */
#include <math.h>

#include "reduce.cuh"

typedef struct {
    float fwd, m, damp, neg_lr;
    bool first, nesterov, has_wd, has_buf;
} sgd_k;

__global__ static void k_sgd(float *p, const float *g, float *buf, const unsigned char *mask, size_t n, sgd_k k)
{
    GRID_STRIDE(i, n)
    {
        if (!mask[i]) continue;
        float d = g[i];
        if (k.has_wd) d = __fadd_rn(d, __fmul_rn(k.fwd, p[i]));
        if (k.has_buf) {
            const float b = k.first ? d : __fadd_rn(__fmul_rn(buf[i], k.m), __fmul_rn(k.damp, d));
            buf[i] = b;
            d = k.nesterov ? __fadd_rn(d, __fmul_rn(k.m, b)) : b;
        }
        p[i] = __fadd_rn(p[i], __fmul_rn(k.neg_lr, d));
    }
}

typedef struct {
    float fb1, fb2, c1, c2, neg_step, bc2_sqrt, eps, fwd, decay;
    bool decoupled, has_wd;
} adam_k;

__global__ static void k_adam(float *p, const float *g, float *m, float *v, const unsigned char *mask, size_t n,
                              adam_k k)
{
    GRID_STRIDE(i, n)
    {
        if (!mask[i]) continue;
        float gi = g[i], pi = p[i];
        if (k.decoupled) {
            if (k.has_wd) pi = __fmul_rn(pi, k.decay);
        } else if (k.has_wd) {
            gi = __fadd_rn(gi, __fmul_rn(k.fwd, pi));
        }
        const float mi = __fadd_rn(__fmul_rn(m[i], k.fb1), __fmul_rn(k.c1, gi));
        const float vi = __fadd_rn(__fmul_rn(v[i], k.fb2), __fmul_rn(__fmul_rn(k.c2, gi), gi));
        m[i] = mi;
        v[i] = vi;
        const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vi), k.bc2_sqrt), k.eps);
        p[i] = __fadd_rn(pi, __fmul_rn(k.neg_step, __fdiv_rn(mi, denom)));
    }
}

nn_status cu_opt_step(const cu_env *env, const opt_config *o, int64_t step, double lr, double weight_decay,
                      float *params, const float *grads, float *state, const unsigned char *mask, size_t n,
                      nn_err *err)
{
    if (n == 0) return NN_OK;
    if (o->kind == OPT_SGD) {
        const sgd_k k = {(float)weight_decay, (float)o->momentum, (float)(1.0 - o->dampening), (float)-lr, step <= 1,
                         o->nesterov, weight_decay != 0.0, o->momentum > 0.0};
        if (k.has_buf && !state) return nn_fail(err, NN_E_ARG, "sgd with momentum: no optimizer state on the device");
        k_sgd<<<cu_blocks(n, 256), 256, 0, env->stream>>>(params, grads, state, mask, n, k);
    } else {
        if (!state) return nn_fail(err, NN_E_ARG, "adam: no optimizer state on the device");
        const double b1 = o->beta1, b2 = o->beta2, t = (double)step;
        const double bc1 = 1.0 - pow(b1, t), bc2 = 1.0 - pow(b2, t);
        const adam_k k = {(float)b1, (float)b2, (float)(1.0 - b1), (float)(1.0 - b2), (float)-(lr / bc1),
                          (float)sqrt(bc2), (float)o->eps, (float)weight_decay, (float)(1.0 - lr * weight_decay),
                          o->kind == OPT_ADAMW, weight_decay != 0.0};
        k_adam<<<cu_blocks(n, 256), 256, 0, env->stream>>>(params, grads, state, state + n, mask, n, k);
    }
    CU_LAUNCHED();
    return NN_OK;
}

enum { NORM_BLOCKS = 1024 };

size_t cu_norm_scratch_bytes(size_t n)
{
    (void)n;
    return NORM_BLOCKS * sizeof(double) + 256;
}

/* part[block] = sum of g^2 over a grid-stride slice (double). */
__global__ static void k_sumsq(const float *g, size_t n, double *part)
{
    __shared__ double sh[256];
    double s = 0.0;
    GRID_STRIDE(i, n) s += (double)g[i] * (double)g[i];
    sh[threadIdx.x] = s;
    __syncthreads();
    for (int w = 128; w > 0; w >>= 1) {
        if ((int)threadIdx.x < w) sh[threadIdx.x] += sh[threadIdx.x + w];
        __syncthreads();
    }
    if (threadIdx.x == 0) part[blockIdx.x] = sh[0];
}

__global__ static void k_norm(const double *part, int parts, float *norm)
{
    __shared__ double sh[256];
    double s = 0.0;
    for (int i = threadIdx.x; i < parts; i += 256) s += part[i];
    sh[threadIdx.x] = s;
    __syncthreads();
    for (int w = 128; w > 0; w >>= 1) {
        if ((int)threadIdx.x < w) sh[threadIdx.x] += sh[threadIdx.x + w];
        __syncthreads();
    }
    if (threadIdx.x == 0) *norm = (float)sqrt(sh[0]);
}

__global__ static void k_clip(float *g, size_t n, const float *norm, float max_norm)
{
    const float coef = __fdiv_rn(max_norm, __fadd_rn(*norm, 1e-6f));
    if (!(coef < 1.0f)) return; /* torch clamps to 1 and multiplies: x * 1 == x */
    GRID_STRIDE(i, n) g[i] = __fmul_rn(g[i], coef);
}

nn_status cu_clip_grad_norm(const cu_env *env, float *grads, size_t n, float max_norm, float *norm_dev, void *scratch,
                            nn_err *err)
{
    double *part = (double *)scratch;
    size_t blocks = (n + 255) / 256;
    if (blocks < 1) blocks = 1;
    if (blocks > NORM_BLOCKS) blocks = NORM_BLOCKS;
    k_sumsq<<<(unsigned)blocks, 256, 0, env->stream>>>(grads, n, part);
    CU_LAUNCHED();
    k_norm<<<1, 256, 0, env->stream>>>(part, (int)blocks, norm_dev);
    CU_LAUNCHED();
    if (isfinite(max_norm) && n) {
        k_clip<<<cu_blocks(n, 256), 256, 0, env->stream>>>(grads, n, norm_dev, max_norm);
        CU_LAUNCHED();
    }
    return NN_OK;
}
