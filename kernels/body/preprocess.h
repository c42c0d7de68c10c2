/* preprocess.h — the per-pixel body of the GPU preprocessing (preprocess.cu): uint8 RGB rows ->
 * crop + bilinear resize + x = pixel * scale + offset, NHWC float32 (out_c 3: RGB; 1: luma
 * 0.299 R + 0.587 G + 0.114 B), with the sampling tables of src/nn/resample.c. The float
 * operations are src/nn/preprocess.c's in its order (horizontal blend per source row, then the
 * vertical blend, then scale and offset), each rounded on its own, so the two agree to the bit.
 *   rows:   source rows row0.. of width*3 bytes, `pitch` bytes apart (only the rows the tables use)
 *   ti:     y0[out_h] y1[out_h] x0[out_w] x1[out_w]   tf: wy[out_h] wx[out_w]
 *   out:    [out_h][out_w][out_c], e < out_h*out_w the output pixel */
#ifndef STEERD_KERNELS_BODY_PREPROCESS_H
#define STEERD_KERNELS_BODY_PREPROCESS_H

#include "body.h"

static NN_HD float pp_blend_h(const uint8_t *r, int xa, int xb, int ch, float vx, float wx)
{
    return NN_ADD_RN(NN_MUL_RN((float)r[xa * 3 + ch], vx), NN_MUL_RN((float)r[xb * 3 + ch], wx));
}

static NN_HD void pp_px_at(float *out, const uint8_t *rows, size_t pitch, int row0, const int *ti, const float *tf,
                           int out_h, int out_w, int out_c, float scale, float offset, size_t e)
{
    const int *y0 = ti, *y1 = ti + out_h, *x0 = ti + 2 * out_h, *x1 = ti + 2 * out_h + out_w;
    const float *wy = tf, *wx = tf + out_h;
    const int ox = (int)(e % (size_t)out_w), oy = (int)(e / (size_t)out_w);
    const uint8_t *r0 = rows + (size_t)(y0[oy] - row0) * pitch, *r1 = rows + (size_t)(y1[oy] - row0) * pitch;
    const float fx = wx[ox], vx = 1.0f - fx, fy = wy[oy], vy = 1.0f - fy;
    const int xa = x0[ox], xb = x1[ox];
    float v[3];
    for (int ch = 0; ch < 3; ch++) {
        const float h0 = pp_blend_h(r0, xa, xb, ch, vx, fx), h1 = pp_blend_h(r1, xa, xb, ch, vx, fx);
        v[ch] = NN_ADD_RN(NN_MUL_RN(h0, vy), NN_MUL_RN(h1, fy));
    }
    if (out_c == 3) {
        for (int ch = 0; ch < 3; ch++) out[e * 3 + ch] = NN_ADD_RN(NN_MUL_RN(v[ch], scale), offset);
    } else {
        const float luma = NN_ADD_RN(NN_ADD_RN(NN_MUL_RN(0.299f, v[0]), NN_MUL_RN(0.587f, v[1])),
                                     NN_MUL_RN(0.114f, v[2]));
        out[e] = NN_ADD_RN(NN_MUL_RN(luma, scale), offset);
    }
}

#endif
