/* reduce.cuh — per-channel sums over the rows of an NHWC tensor viewed as [M][C] (M = batch*H*W),
 * used by every training kernel that reduces over pixels: batch-norm statistics and gradients,
 * bias gradients, depthwise filter gradients. A launcher passes a functor f(r, c, z) -> double
 * (value z of row r, channel c); blocks of 32 channels x 8 row lanes sum a slice of rows each
 * into part[z][R][C] (double), then one pass sums the R partials into tot[z][C]. Deterministic
 * (fixed order), no atomics. The grid and the second pass are body/reduce.h's (tests/body_check.c
 * emulates this order on the CPU). CUDA sources only. */
#ifndef STEERD_KERNELS_REDUCE_CUH
#define STEERD_KERNELS_REDUCE_CUH

#include "body/reduce.h"
#include "cuda_train.h"

template <class F>
__global__ void k_chan_partial(F f, int M, int C, int rows, double *part)
{
    __shared__ double sh[CHAN_TY][CHAN_TX + 1];
    const int c = blockIdx.x * CHAN_TX + threadIdx.x, z = blockIdx.z;
    const int r0 = blockIdx.y * rows, r1 = min(M, r0 + rows);
    double acc = 0.0;
    if (c < C)
        for (int r = r0 + threadIdx.y; r < r1; r += CHAN_TY) acc += f(r, c, z);
    sh[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && c < C) {
        double s = 0.0;
        for (int i = 0; i < CHAN_TY; i++) s += sh[i][threadIdx.x];
        part[((size_t)z * gridDim.y + blockIdx.y) * C + c] = s;
    }
}

/* tot[z][c] = sum over R partials (reduce.cu). */
__global__ void k_chan_total(const double *part, int R, int C, int nz, double *tot);

/* Enqueues tot[z][c] = sum_r f(r, c, z) for z < nz. part: cu_chan_scratch_bytes(M, C, nz) bytes
 * minus the tot part; tot: nz*C doubles. */
template <class F>
static nn_status chan_sums(const cu_env *env, F f, int M, int C, int nz, double *part, double *tot, nn_err *err)
{
    const chan_grid g = chan_grid_for(M, C);
    const dim3 grid((unsigned)g.bx, (unsigned)g.R, (unsigned)nz), block(CHAN_TX, CHAN_TY);
    k_chan_partial<F><<<grid, block, 0, env->stream>>>(f, M, C, g.rows, part);
    CU_LAUNCHED();
    k_chan_total<<<cu_blocks((size_t)nz * C, 256), 256, 0, env->stream>>>(part, g.R, C, nz, tot);
    CU_LAUNCHED();
    return NN_OK;
}

/* Scratch layout of chan_sums: tot [nz][C] doubles first, then the partials. */
static inline double *chan_tot(void *ws) { return (double *)ws; }
static inline double *chan_part(void *ws, int C, int nz)
{
    size_t tot = ((size_t)nz * C + 31) / 32 * 32;
    return (double *)ws + tot;
}

#define GRID_STRIDE(i, n) for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
                               i += (size_t)gridDim.x * blockDim.x)

#endif
