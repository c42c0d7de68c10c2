/* reduce.cu — the second pass of the per-channel sums (reduce.cuh), their scratch size, and the
 * bias-gradient column sums shared by conv2d and dense backward. */
#include "reduce.cuh"

__global__ void k_chan_total(const double *part, int R, int C, int nz, double *tot)
{
    GRID_STRIDE(i, (size_t)nz * C) chan_total_at(tot, part, R, C, i);
}

size_t cu_chan_scratch_bytes(int M, int C, int nz)
{
    /* chan_grid_for(m, C).R <= min(512 / bx, ceil(m / 64)) for every m <= M: one size serves
     * every batch up to the one asked for */
    const int bx = (C + CHAN_TX - 1) / CHAN_TX > 0 ? (C + CHAN_TX - 1) / CHAN_TX : 1;
    int R = 512 / bx, maxR = (M + 63) / 64;
    if (R < 1) R = 1;
    if (maxR < 1) maxR = 1;
    if (R > maxR) R = maxR;
    const size_t tot = ((size_t)nz * C + 31) / 32 * 32;
    return (tot + (size_t)R * nz * C) * sizeof(double) + 256;
}

namespace {
struct col_f {
    const float *x;
    int C;
    __device__ double operator()(int r, int c, int) const { return col_term(x, r, c, C); }
};
}

__global__ static void k_add_tot(float *d, const double *tot, int C)
{
    GRID_STRIDE(c, (size_t)C) add_tot_at(d, tot, c);
}

nn_status cu_col_sums_add(const cu_env *env, float *d, const float *x, int M, int C, nn_err *err)
{
    if (M < 1 || C < 1) return NN_OK;
    double *tot = chan_tot(env->ws), *part = chan_part(env->ws, C, 1);
    nn_status s = chan_sums(env, col_f{x, C}, M, C, 1, part, tot, err);
    if (s) return s;
    k_add_tot<<<cu_blocks((size_t)C, 256), 256, 0, env->stream>>>(d, tot, C);
    CU_LAUNCHED();
    return NN_OK;
}
