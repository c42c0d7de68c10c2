/* loss.cu — training losses on the device, the semantics of src/nn/cpu/loss.c (sums in double):
 *   softmax cross-entropy  y, d [batch][classes], labels [batch] (int, device):
 *       probabilities (y_is_prob): loss_b = -log(max(p[label], 1e-30)), d = (p - onehot) / denom
 *       logits: loss_b = logsumexp(y) - y[label],   d = (softmax(y) - onehot) / denom
 *   MSE    loss = sum (y - t)^2 / M,  d = 2 (y - t) / M             (M = denom * n)
 *   Huber  loss = sum (|e| <= delta ? e^2/2 : delta (|e| - delta/2)) / M,  d = clamp(e, +-delta) / M
 * denom = batch (the mean), or a data-parallel slice's global batch (its share of the mean).
 * One thread per sample (cross-entropy) or element (the bodies of body/loss.h) writes the
 * gradient and its loss term into scratch [count] doubles; one block sums them into *loss_dev
 * (NaN when a label is out of range). */
#include <math.h>

#include "body/loss.h"
#include "reduce.cuh"

size_t cu_loss_scratch_bytes(int batch, int n) { return (size_t)batch * (size_t)(n < 1 ? 1 : n) * sizeof(double) + 256; }

__global__ static void k_ce(const float *y, bool y_is_prob, const int *labels, int batch, int classes, int denom,
                            float *d, double *term)
{
    const double inv_b = 1.0 / denom;
    GRID_STRIDE(b, (size_t)batch) ce_at(d, term, y, y_is_prob, labels, classes, inv_b, b);
}

__global__ static void k_mse(const float *y, const float *t, size_t N, size_t M, float *d, double *term)
{
    GRID_STRIDE(i, N) mse_at(d, term, y, t, M, i);
}

__global__ static void k_huber(const float *y, const float *t, size_t N, size_t M, float delta, float *d,
                               double *term)
{
    GRID_STRIDE(i, N) huber_at(d, term, y, t, M, delta, i);
}

/* *out = scale * sum(term[0..n)) (one block of SUM_THREADS; a NaN term makes it NaN; the test
 * tests/test_kernel_bodies_train.c emulates this order). */
__global__ static void k_sum_scaled(const double *term, size_t n, double scale, double *out)
{
    __shared__ double sh[SUM_THREADS];
    double s = 0.0;
    for (size_t i = threadIdx.x; i < n; i += SUM_THREADS) s += term[i];
    sh[threadIdx.x] = s;
    __syncthreads();
    for (int w = SUM_THREADS / 2; w > 0; w >>= 1) {
        if ((int)threadIdx.x < w) sh[threadIdx.x] += sh[threadIdx.x + w];
        __syncthreads();
    }
    if (threadIdx.x == 0) *out = sh[0] * scale;
}

nn_status cu_loss_softmax_ce(const cu_env *env, const float *y, bool y_is_prob, const int *labels, int batch,
                             int classes, int denom, float *d, double *loss_dev, void *scratch, nn_err *err)
{
    if (batch < 1 || classes < 1 || denom < batch)
        return nn_fail(err, NN_E_ARG, "cross-entropy: batch %d of %d, classes %d", batch, denom, classes);
    double *term = (double *)scratch;
    k_ce<<<cu_blocks((size_t)batch, 256), 256, 0, env->stream>>>(y, y_is_prob, labels, batch, classes, denom, d,
                                                                 term);
    CU_LAUNCHED();
    k_sum_scaled<<<1, SUM_THREADS, 0, env->stream>>>(term, (size_t)batch, 1.0 / denom, loss_dev);
    CU_LAUNCHED();
    return NN_OK;
}

nn_status cu_loss_mse(const cu_env *env, const float *y, const float *target, int batch, int n, int denom, float *d,
                      double *loss_dev, void *scratch, nn_err *err)
{
    const size_t N = (size_t)batch * (size_t)n, M = (size_t)denom * (size_t)n;
    if (N == 0 || denom < batch) return nn_fail(err, NN_E_ARG, "mse: batch %d of %d x %d outputs", batch, denom, n);
    double *term = (double *)scratch;
    k_mse<<<cu_blocks(N, 256), 256, 0, env->stream>>>(y, target, N, M, d, term);
    CU_LAUNCHED();
    k_sum_scaled<<<1, SUM_THREADS, 0, env->stream>>>(term, N, 1.0 / (double)M, loss_dev);
    CU_LAUNCHED();
    return NN_OK;
}

nn_status cu_loss_huber(const cu_env *env, const float *y, const float *target, int batch, int n, int denom,
                        float delta, float *d, double *loss_dev, void *scratch, nn_err *err)
{
    const size_t N = (size_t)batch * (size_t)n, M = (size_t)denom * (size_t)n;
    if (N == 0 || denom < batch || !(delta > 0.0f))
        return nn_fail(err, NN_E_ARG, "huber: batch %d of %d x %d outputs, delta %g", batch, denom, n, (double)delta);
    double *term = (double *)scratch;
    k_huber<<<cu_blocks(N, 256), 256, 0, env->stream>>>(y, target, N, M, delta, d, term);
    CU_LAUNCHED();
    k_sum_scaled<<<1, SUM_THREADS, 0, env->stream>>>(term, N, 1.0 / (double)M, loss_dev);
    CU_LAUNCHED();
    return NN_OK;
}
