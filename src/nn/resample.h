/* resample.h — the sampling tables of the model's input preprocessing (crop, then bilinear resize
 * with half-pixel centres and edge clamping, as OpenCV's INTER_LINEAR and PyTorch's
 * interpolate(align_corners=False)). One definition shared by the daemon's CPU preprocessing
 * (src/nn/preprocess.c) and the CUDA backend's (kernels/preprocess.cu), so both sample the
 * same source pixels with the same weights. */
#ifndef STEERD_NN_RESAMPLE_H
#define STEERD_NN_RESAMPLE_H

#include "nn/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* For a width x height frame: output row i of out_h blends source rows y0[i] and y1[i] with
 * weight wy[i] on y1 (columns likewise, out_w entries). The crop (given for the model's source
 * size) is scaled to the frame size. Fails, naming the crop and frame, when the crop does not fit. */
nn_status nn_resample_tables(const nn_preprocess *pre, int width, int height, int out_h, int out_w, int *y0,
                             int *y1, float *wy, int *x0, int *x1, float *wx, nn_err *err);

#ifdef __cplusplus
}
#endif

#endif
