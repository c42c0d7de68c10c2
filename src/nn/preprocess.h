/* preprocess.h — camera frame (uint8 RGB, any size) -> model input (NHWC float32), as the
 * model YAML's `preprocess` section says: crop, bilinear resize to the input size, then
 * x = pixel * scale + offset. When the frame size differs from the model's `source` size the
 * crop rectangle is scaled with it. The sampling tables are allocated once per model (sized by
 * the model input) and recomputed without allocation when the frame size changes. */
#ifndef STEERD_NN_PREPROCESS_H
#define STEERD_NN_PREPROCESS_H

#include <stdint.h>

#include "nn/graph.h"

typedef struct {
    nn_preprocess pre;
    int out_h, out_w, out_c;   /* model input; out_c 3 (RGB) or 1 (luma) */
    int src_w, src_h;          /* frame size the tables are for (0: none yet) */
    int *x0, *x1;              /* [out_w] source columns */
    float *wx;                 /* [out_w] weight of x1 */
    int *y0, *y1;              /* [out_h] source rows */
    float *wy;                 /* [out_h] weight of y1 */
    int n_vec;                 /* leading output columns the vector path may read 4 bytes at */
    float *rows[2];            /* [out_w*3 + 1] two source rows resized horizontally (a row cache) */
    int row_y[2];              /* source row held by rows[i] (-1: none) */
    /* vertical blend + scale/offset of one RGB row (the widest the CPU runs, chosen at pp_init) */
    void (*vblend)(float *restrict o, const float *restrict h0, const float *restrict h1, float vy, float wy,
                   float scale, float offset, int n);
} pp_plan;

nn_status pp_init(pp_plan *p, const nn_preprocess *pre, int out_h, int out_w, int out_c, nn_err *err);
void pp_free(pp_plan *p);

/* Builds the tables for a width x height frame (called by pp_run when the size changes).
 * Fails when the crop does not fit the frame. */
nn_status pp_plan_for(pp_plan *p, int width, int height, nn_err *err);

/* The source rows [*first, *end) pp_run reads of a width x height frame (builds the tables for
 * that size when they changed; fails as pp_plan_for). The capture copies only these rows. */
nn_status pp_rows(pp_plan *p, int width, int height, int *first, int *end, nn_err *err);

/* rgb: height rows of width*3 bytes, `stride` bytes apart. out: out_h*out_w*out_c floats. */
nn_status pp_run(pp_plan *p, const uint8_t *rgb, int width, int height, int stride, float *out, nn_err *err);

#endif
