/* preprocess.cu — the camera frame on the GPU: uint8 RGB rows -> crop + bilinear resize +
 * x = pixel * scale + offset, NHWC float32 (out_c 3: RGB; 1: luma 0.299 R + 0.587 G + 0.114 B),
 * with the sampling tables of src/nn/resample.c (the ones the daemon's CPU preprocessing uses).
 * The arithmetic is the CPU's operation for operation (horizontal blend per source row, then the
 * vertical blend, then scale and offset), each rounded as the CPU rounds it (no FMA contraction),
 * so the two agree to the bit.
 *   rows:   source rows row0.. of width*3 bytes, `pitch` bytes apart (only the rows the tables use)
 *   tabs_i: y0[out_h] y1[out_h] x0[out_w] x1[out_w]   tabs_f: wy[out_h] wx[out_w]
 *   out:    [out_h][out_w][out_c] */
#include <stdint.h>

#include "cuda.h"
#include "cuda_preprocess.h"

__device__ __forceinline__ float blend_h(const uint8_t *r, int xa, int xb, int ch, float vx, float wx)
{
    return __fadd_rn(__fmul_rn((float)r[xa * 3 + ch], vx), __fmul_rn((float)r[xb * 3 + ch], wx));
}

__global__ void k_preprocess(float *__restrict__ out, const uint8_t *__restrict__ rows, size_t pitch, int row0,
                             const int *__restrict__ ti, const float *__restrict__ tf, int out_h, int out_w,
                             int out_c, float scale, float offset)
{
    const int *y0 = ti, *y1 = ti + out_h, *x0 = ti + 2 * out_h, *x1 = ti + 2 * out_h + out_w;
    const float *wy = tf, *wx = tf + out_h;
    const size_t total = (size_t)out_h * out_w;
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total; e += (size_t)gridDim.x * blockDim.x) {
        const int ox = (int)(e % (size_t)out_w), oy = (int)(e / (size_t)out_w);
        const uint8_t *r0 = rows + (size_t)(y0[oy] - row0) * pitch, *r1 = rows + (size_t)(y1[oy] - row0) * pitch;
        const float fx = wx[ox], vx = 1.0f - fx, fy = wy[oy], vy = 1.0f - fy;
        const int xa = x0[ox], xb = x1[ox];
        float v[3];
        for (int ch = 0; ch < 3; ch++) {
            const float h0 = blend_h(r0, xa, xb, ch, vx, fx), h1 = blend_h(r1, xa, xb, ch, vx, fx);
            v[ch] = __fadd_rn(__fmul_rn(h0, vy), __fmul_rn(h1, fy));
        }
        if (out_c == 3) {
            for (int ch = 0; ch < 3; ch++) out[e * 3 + ch] = __fadd_rn(__fmul_rn(v[ch], scale), offset);
        } else {
            const float luma = __fadd_rn(__fadd_rn(__fmul_rn(0.299f, v[0]), __fmul_rn(0.587f, v[1])),
                                         __fmul_rn(0.114f, v[2]));
            out[e] = __fadd_rn(__fmul_rn(luma, scale), offset);
        }
    }
}

nn_status cu_preprocess(const cu_env *env, float *out, const uint8_t *rows, size_t pitch, int row0, const int *tabs_i,
                        const float *tabs_f, int out_h, int out_w, int out_c, float scale, float offset, nn_err *err)
{
    if (out_c != 3 && out_c != 1)
        return nn_fail(err, NN_E_ARG, "preprocess: model input has %d channels (expected 3 or 1)", out_c);
    size_t total = (size_t)out_h * out_w;
    k_preprocess<<<cu_blocks(total, 256), 256, 0, env->stream>>>(out, rows, pitch, row0, tabs_i, tabs_f, out_h, out_w,
                                                                 out_c, scale, offset);
    CU_LAUNCHED();
    return NN_OK;
}
