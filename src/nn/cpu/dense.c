/* dense.c — fully connected layer forward:
 *   in [batch][K] (any input shape, read flat; K = h*w*c in HWC order)   weight [K][units]
 *   bias [units] or NULL   out [batch][units] = in * weight + bias, then the fused activation.
 * One SGEMM call (M = batch); batch 1 takes the GEMM's streaming small-M path, and the GEMM
 * splits the units between threads when the rows are too few to split. */
#include <stdint.h>

#include "cpu.h"

void cpu_dense_forward(const cpu_fwd_args *a)
{
    const nn_layer *l = a->l;
    const int K = (int)nn_shape_size(l->in), N = l->units;
    nn_sgemm_isa(a->isa, a->pool, a->batch, N, K, a->in[0], K, a->p[0], N, a->out, N, l->has_bias ? a->p[1] : NULL, false,
             l->act, l->act_alpha, a->scratch);
}

/* Backward, dy [batch][units]:  d_in [batch][K] += dy * W^T,  dW [K][units] += x^T * dy,
 * db += column sums of dy. W^T is transposed into scratch (cpu_bwd_scratch_floats); x^T is read
 * in place (nn_sgemm_at); the two GEMMs thread inside the GEMM. */
size_t cpu_dense_bwd_scratch_floats(const nn_layer *l, int batch, int threads)
{
    const int K = (int)nn_shape_size(l->in), N = l->units;
    size_t w1 = nn_sgemm_ws_floats(batch, K, N, threads), w2 = nn_sgemm_ws_floats_upto(K, N, batch, threads);
    return (size_t)N * K + (w1 > w2 ? w1 : w2) + 32;
}

void cpu_dense_backward(const cpu_bwd_args *a)
{
    const nn_layer *l = a->l;
    const int K = (int)nn_shape_size(l->in), N = l->units, B = a->batch;
    const nn_cpu_isa isa = cpu_bwd_isa(a);
    float *wt = a->scratch, *ws = wt + (size_t)N * K;
    ws = (float *)(((uintptr_t)ws + 63) & ~(uintptr_t)63);
    cpu_transpose(wt, K, a->p[0], N, K, N);
    nn_sgemm_isa(isa, a->pool, B, K, N, a->dy, N, wt, K, a->d_in[0], K, NULL, !a->overwrite, NN_ACT_NONE, 0.0f, ws);
    if (a->d_p[0]) nn_sgemm_at_isa(isa, a->pool, K, N, B, a->in[0], K, a->dy, N, a->d_p[0], N, true, ws);
    if (l->has_bias && a->d_p[1])
        for (int b = 0; b < B; b++)
            for (int o = 0; o < N; o++) a->d_p[1][o] += a->dy[(size_t)b * N + o];
}
