/* preprocess.cu — the camera frame on the GPU: uint8 RGB rows -> crop + bilinear resize +
 * x = pixel * scale + offset, NHWC float32 (out_c 3: RGB; 1: luma 0.299 R + 0.587 G + 0.114 B),
 * with the sampling tables of src/nn/resample.c (the ones the daemon's CPU preprocessing uses).
 * The arithmetic is the CPU's operation for operation (horizontal blend per source row, then the
 * vertical blend, then scale and offset), each rounded as the CPU rounds it (no FMA contraction),
 * so the two agree to the bit. The per-pixel body is body/preprocess.h's
 * (tests/test_kernel_bodies_train.c compares it with the CPU's).
 *   rows:   source rows row0.. of width*3 bytes, `pitch` bytes apart (only the rows the tables use)
 *   tabs_i: y0[out_h] y1[out_h] x0[out_w] x1[out_w]   tabs_f: wy[out_h] wx[out_w]
 *   out:    [out_h][out_w][out_c] */
#include <stdint.h>

#include "body/preprocess.h"
#include "cuda.h"
#include "cuda_preprocess.h"

__global__ void k_preprocess(float *__restrict__ out, const uint8_t *__restrict__ rows, size_t pitch, int row0,
                             const int *__restrict__ ti, const float *__restrict__ tf, int out_h, int out_w,
                             int out_c, float scale, float offset)
{
    const size_t total = (size_t)out_h * out_w;
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < total; e += (size_t)gridDim.x * blockDim.x)
        pp_px_at(out, rows, pitch, row0, ti, tf, out_h, out_w, out_c, scale, offset, e);
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
