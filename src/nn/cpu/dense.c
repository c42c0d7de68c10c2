/* dense.c — fully connected layer forward:
 *   in [batch][K] (any input shape, read flat; K = h*w*c in HWC order)   weight [K][units]
 *   bias [units] or NULL   out [batch][units] = in * weight + bias, then the fused activation.
 * One SGEMM call (M = batch); batch 1 takes the GEMM's streaming small-M path, and the GEMM
 * splits the units between threads when the rows are too few to split. */
#include "cpu.h"

void cpu_dense_forward(const cpu_fwd_args *a)
{
    const nn_layer *l = a->l;
    const int K = (int)nn_shape_size(l->in), N = l->units;
    nn_sgemm_isa(a->isa, a->pool, a->batch, N, K, a->in[0], K, a->p[0], N, a->out, N, l->has_bias ? a->p[1] : NULL, false,
             l->act, l->act_alpha, a->scratch);
}
