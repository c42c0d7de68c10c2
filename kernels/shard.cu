/* shard.cu — the sums of a data-parallel step on the device (cuda_train.h cu_shard, train.h
 * nn_train_shard): in place with the shard's device sums (NCCL) on env->stream, or staged
 * through pinned host memory and the host sums (MPI): copy down, wait, sum, copy up. The copy up
 * is queued ahead of every later launch on the stream, and the next staging waits for it before
 * it reuses the pinned buffer (the stream's order). */
#include "body/norm.h"
#include "cuda_train.h"

template <class T>
static nn_status stage(const cu_env *env, T *h, size_t cap, T *dev, size_t n, void (*sum)(void *, T *, size_t),
                       void *ctx, nn_err *err)
{
    if (n > cap) return nn_fail(err, NN_E_DEVICE, "internal: shard sum of %zu values, staging holds %zu", n, cap);
    CU_TRY(cudaMemcpyAsync(h, dev, n * sizeof(T), cudaMemcpyDeviceToHost, env->stream));
    CU_TRY(cudaStreamSynchronize(env->stream));
    sum(ctx, h, n);
    CU_TRY(cudaMemcpyAsync(dev, h, n * sizeof(T), cudaMemcpyHostToDevice, env->stream));
    return NN_OK;
}

nn_status cu_shard_sum_f64(const cu_env *env, const cu_shard *sh, double *dev, size_t n, nn_err *err)
{
    if (!sh || !sh->s || !n) return NN_OK;
    const nn_train_shard *s = sh->s;
    if (s->sum_dev_f64) return s->sum_dev_f64(s->dev_ctx, dev, n, env->stream, err);
    return stage(env, sh->h_f64, sh->f64_cap, dev, n, s->sum_f64, s->ctx, err);
}

nn_status cu_shard_sum_f32(const cu_env *env, const cu_shard *sh, float *dev, size_t n, nn_err *err)
{
    if (!sh || !sh->s || !n) return NN_OK;
    const nn_train_shard *s = sh->s;
    if (s->sum_dev_f32) return s->sum_dev_f32(s->dev_ctx, dev, n, env->stream, err);
    return stage(env, sh->h_f32, sh->f32_cap, dev, n, s->sum_f32, s->ctx, err);
}

double cu_shard_bn_count(const cu_shard *sh, const nn_layer *l, int batch)
{
    return bn_pixels(batch, sh && sh->s ? sh->s->global_batch : 0, l->in.h, l->in.w);
}
