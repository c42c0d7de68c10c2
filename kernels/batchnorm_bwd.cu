/* batchnorm_bwd.cu — batch normalisation in training mode, NHWC [batch][H][W][C] (a flattened
 * input has H = W = 1), the semantics of the CPU's (src/nn/cpu/batchnorm.c):
 *   forward over the n = batch*H*W pixels of each channel (sums in double, two passes: the mean,
 *   then the squared deviations; the CPU's one-pass sum of squares agrees to float rounding):
 *     mean = sum x / n,  var = sum (x - mean)^2 / n,  istd = 1/sqrt(var + eps),
 *     y = x * (gamma*istd) + (beta - mean*gamma*istd);  saved = mean [C], istd [C];
 *     running_mean = (1-m) rm + m mean,  running_var = (1-m) rv + m var*n/(n-1)   (PyTorch)
 *   backward (xh = (x - mean) * istd, sums in double):
 *     dbeta += sum dy,  dgamma += sum dy*xh,
 *     dx += s*dy - s*(sum dy / n) - xh * s*(sum dy*xh / n),  s = gamma*istd.
 * In a data-parallel slice (cu_shard) n is the whole batch's pixel count and each per-channel
 * sum (forward: sum x, then sum (x - mean)^2 around the whole batch's mean; backward: sum dy,
 * sum dy*xh) is added across the replicas before it is used; the backward's parameter
 * gradients take the slice's own sums (summed later with every gradient), as the CPU's.
 * Float steps rounded one by one (no FMA contraction), as the CPU's scalar code; the per-element
 * and per-channel bodies are body/norm.h's.
 * Scratch (env->ws): cu_chan_scratch_bytes(n, C, 2). */
#include "body/norm.h"
#include "reduce.cuh"

namespace { /* chan_sums' functors over the sum terms of body/norm.h and body/reduce.h */
struct sum_x {
    const float *x;
    int C;
    __device__ double operator()(int r, int c, int) const { return col_term(x, r, c, C); }
};
struct sum_dev2 { /* (x - mean)^2 with mean = tot[c] / n in double */
    const float *x;
    const double *tot;
    double n;
    int C;
    __device__ double operator()(int r, int c, int) const { return bn_dev2_term(x, tot, n, r, c, C); }
};
struct sum_bwd { /* z = 0: dy, z = 1: dy * xh */
    const float *x, *g, *mean, *istd;
    int C;
    __device__ double operator()(int r, int c, int z) const { return bn_bwd_term(x, g, mean, istd, r, c, z, C); }
};
}

/* tot1 = sum x, tot2 = sum (x - mean)^2: saved mean / istd and the running statistics. */
__global__ static void k_bn_stats(const double *tot1, const double *tot2, int C, double n, float eps, float m,
                                  float *saved, float *rm, float *rv)
{
    GRID_STRIDE(c, (size_t)C) bn_stats_at(saved, rm, rv, tot1, tot2, c, C, n, eps, m);
}

__global__ static void k_bn_norm(float *y, const float *x, const float *saved, const float *gamma, const float *beta,
                                 size_t total, int C)
{
    GRID_STRIDE(i, total) bn_norm_at(y, x, saved, gamma, beta, i, C);
}

nn_status cu_batchnorm_forward_train(const cu_fwd_args *a, float *running_mean, float *running_var, float *saved,
                                     const cu_shard *sh, nn_err *err)
{
    const nn_layer *l = a->l;
    const int C = l->in.c;
    const int M = a->batch * l->in.h * l->in.w;
    const double n = cu_shard_bn_count(sh, l, a->batch);
    const cu_env *env = a->env;
    double *tot = chan_tot(env->ws), *part = chan_part(env->ws, C, 2), *tot2 = tot + C;
    /* pass 1 into tot[0..C), pass 2 into tot[C..2C) (the partials' space is reused), each summed
     * over the replicas of a data-parallel batch */
    nn_status s = chan_sums(env, sum_x{a->in[0], C}, M, C, 1, part, tot, err);
    if (!s) s = cu_shard_sum_f64(env, sh, tot, (size_t)C, err);
    if (!s) s = chan_sums(env, sum_dev2{a->in[0], tot, n, C}, M, C, 1, part, tot2, err);
    if (!s) s = cu_shard_sum_f64(env, sh, tot2, (size_t)C, err);
    if (s) return s;
    k_bn_stats<<<cu_blocks((size_t)C, 256), 256, 0, env->stream>>>(tot, tot2, C, n, l->eps, l->momentum, saved,
                                                              running_mean, running_var);
    CU_LAUNCHED();
    const size_t total = (size_t)M * C;
    k_bn_norm<<<cu_blocks(total, 256), 256, 0, env->stream>>>(a->out, a->in[0], saved, a->p[0], a->p[1], total, C);
    CU_LAUNCHED();
    return NN_OK;
}

/* tot [2][C] = sum dy, sum dy*xh: parameter gradients and k = s, s*sdy/n, s*sdx/n. */
__global__ static void k_bn_bwd_coef(const double *tot, int C, double n, const float *gamma, const float *istd,
                                     float *dgamma, float *dbeta, float *k)
{
    GRID_STRIDE(c, (size_t)C) bn_bwd_coef_at(k, dgamma, dbeta, tot, c, C, n, gamma, istd);
}

__global__ static void k_bn_bwd_dx(float *dx, const float *x, const float *g, const float *mean, const float *istd,
                                   const float *k, size_t total, int C)
{
    GRID_STRIDE(i, total) bn_bwd_dx_at(dx, x, g, mean, istd, k, i, C);
}

__global__ static void k_bn_grad_share(const double *tot, int C, float *dgamma, float *dbeta)
{
    GRID_STRIDE(c, (size_t)C) bn_grad_share_at(dgamma, dbeta, tot, c, C);
}

nn_status cu_batchnorm_backward(const cu_bwd_args *a, nn_err *err)
{
    const nn_layer *l = a->l;
    const int C = l->in.c;
    const int M = a->batch * l->in.h * l->in.w;
    const cu_env *env = a->env;
    const cu_shard *sh = a->shard && a->shard->s ? a->shard : NULL;
    const double n = cu_shard_bn_count(sh, l, a->batch);
    const float *mean = a->aux, *istd = a->aux + C;
    double *tot = chan_tot(env->ws), *part = chan_part(env->ws, C, 2);
    nn_status s = chan_sums(env, sum_bwd{a->in[0], a->dy, mean, istd, C}, M, C, 2, part, tot, err);
    if (s) return s;
    float *dgamma = a->d_p[0], *dbeta = a->d_p[1];
    if (sh) { /* this slice's share of the parameter gradients, then the whole batch's sums */
        k_bn_grad_share<<<cu_blocks((size_t)C, 256), 256, 0, env->stream>>>(tot, C, dgamma, dbeta);
        CU_LAUNCHED();
        if ((s = cu_shard_sum_f64(env, sh, tot, 2 * (size_t)C, err))) return s;
        dgamma = dbeta = NULL;
    }
    float *k = (float *)part; /* the partials are consumed: 3C floats fit in their 2*R*C doubles */
    k_bn_bwd_coef<<<cu_blocks((size_t)C, 256), 256, 0, env->stream>>>(tot, C, n, a->p[0], istd, dgamma, dbeta, k);
    CU_LAUNCHED();
    const size_t total = (size_t)M * C;
    k_bn_bwd_dx<<<cu_blocks(total, 256), 256, 0, env->stream>>>(a->d_in[0], a->in[0], a->dy, mean, istd, k, total, C);
    CU_LAUNCHED();
    return NN_OK;
}
