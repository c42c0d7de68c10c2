/* merge_bwd.cu — training of the pass-through and merging layers, as the CPU (src/nn/cpu/merge.c):
 *   add:     d_in[k] += dy for every input k (inputs may be one tensor: one thread handles all k
 *            of its element, in order, so aliased gradients never race)
 *   concat:  d_in[k] += its channel slice of dy (one launch per input, so aliases never race)
 *   flatten: d_in += dy
 *   dropout: training forward y = x * mask, mask = 0 with probability rate else 1/(1-rate), the
 *            uniform draw the CPU's counter hash of (seed, element index; a data-parallel
 *            slice's elements by their index in the whole batch): GPU and CPU masks are
 *            identical; backward d_in += dy * mask. */
#include "body/eltwise.h"
#include "reduce.cuh"

__global__ static void k_add_bwd(float *d0, float *d1, float *d2, float *d3, float *d4, float *d5, float *d6,
                                 float *d7, int k_end, const float *g, size_t n)
{
    float *const d[NN_MAX_INPUTS] = {d0, d1, d2, d3, d4, d5, d6, d7};
    GRID_STRIDE(i, n)
    {
        const float v = g[i];
        for (int k = 0; k < k_end; k++) d[k][i] += v;
    }
}

static_assert(NN_MAX_INPUTS == 8, "k_add_bwd takes eight gradient pointers");

static nn_status add_like(const cu_bwd_args *a, int k_end, nn_err *err)
{
    const size_t n = (size_t)a->batch * nn_shape_size(a->l->out);
    float *const *d = a->d_in;
    k_add_bwd<<<cu_blocks(n, 256), 256, 0, a->env->stream>>>(d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], k_end, a->dy,
                                                         n);
    CU_LAUNCHED();
    return NN_OK;
}

nn_status cu_add_backward(const cu_bwd_args *a, nn_err *err) { return add_like(a, a->l->n_inputs, err); }
nn_status cu_copy_backward(const cu_bwd_args *a, nn_err *err) { return add_like(a, 1, err); }

/* d [pixels][ck] += g [pixels][C] channels [off, off+ck). */
__global__ static void k_concat_bwd(float *d, const float *g, size_t pixels, int C, int off, int ck)
{
    GRID_STRIDE(e, pixels * (size_t)ck) concat_bwd_at(d, g, e, C, off, ck);
}

nn_status cu_concat_backward(const cu_bwd_args *a, nn_err *err)
{
    const nn_layer *l = a->l;
    const size_t pixels = (size_t)a->batch * l->out.h * l->out.w;
    int off = 0;
    for (int k = 0; k < l->n_inputs; k++) {
        const int ck = a->in_c[k];
        if (ck <= 0 || off + ck > l->out.c)
            return nn_fail(err, NN_E_ARG, "layer '%s': concat input %d has %d channels (output %d)", l->name, k, ck,
                           l->out.c);
        k_concat_bwd<<<cu_blocks(pixels * (size_t)ck, 256), 256, 0, a->env->stream>>>(a->d_in[k], a->dy, pixels, l->out.c,
                                                                                  off, ck);
        CU_LAUNCHED();
        off += ck;
    }
    return NN_OK;
}

__global__ static void k_dropout_fwd(float *y, float *mask, const float *x, size_t n, uint64_t base, uint64_t key,
                                     float rate, float keep)
{
    GRID_STRIDE(i, n) dropout_fwd_at(y, mask, x, i, base, key, rate, keep);
}

nn_status cu_dropout_forward_train(const cu_fwd_args *a, uint64_t seed, uint64_t base, float *mask, nn_err *err)
{
    const nn_layer *l = a->l;
    const size_t n = (size_t)a->batch * nn_shape_size(l->out);
    const float rate = l->rate, keep = rate < 1.0f ? 1.0f / (1.0f - rate) : 0.0f;
    /* the host computes the key exactly as the CPU: mix64(seed + golden) */
    const uint64_t key = body_mix64(seed + 0x9e3779b97f4a7c15ull);
    k_dropout_fwd<<<cu_blocks(n, 256), 256, 0, a->env->stream>>>(a->out, mask, a->in[0], n, base, key, rate,
                                                                       keep);
    CU_LAUNCHED();
    return NN_OK;
}

__global__ static void k_dropout_bwd(float *d, const float *g, const float *mask, size_t n)
{
    GRID_STRIDE(i, n) dropout_bwd_at(d, g, mask, i);
}

nn_status cu_dropout_backward(const cu_bwd_args *a, nn_err *err)
{
    const size_t n = (size_t)a->batch * nn_shape_size(a->l->out);
    k_dropout_bwd<<<cu_blocks(n, 256), 256, 0, a->env->stream>>>(a->d_in[0], a->dy, a->aux, n);
    CU_LAUNCHED();
    return NN_OK;
}
