/* resample.c — sampling tables of the input preprocessing (resample.h): crop scaled to the frame,
 * then per output row / column the two source pixels and the weight of the second. */
#include "nn/resample.h"

#include <math.h>

/* Sampling table for one axis: output i of n reads source lo + (i + 0.5) * len / n - 0.5,
 * clamped to the crop's pixels [first, last]. */
static void axis_table(int n, double lo, double len, int first, int last, int *i0, int *i1, float *w)
{
    double step = len / n;
    for (int i = 0; i < n; i++) {
        double s = lo + (i + 0.5) * step - 0.5;
        if (s < first)
            s = first;
        if (s > last)
            s = last;
        int a = (int)floor(s);
        int b = a + 1 <= last ? a + 1 : last;
        i0[i] = a;
        i1[i] = b;
        w[i] = (float)(s - a);
    }
}

nn_status nn_resample_tables(const nn_preprocess *pre, int width, int height, int out_h, int out_w, int *y0,
                             int *y1, float *wy, int *x0, int *x1, float *wx, nn_err *err)
{
    if (width < 1 || height < 1)
        return nn_fail(err, NN_E_ARG, "preprocess: empty frame %dx%d", width, height);
    double top = 0, bottom = height, left = 0, right = width;
    if (pre->crop) {
        /* The crop is given for the model's source size; scale it to this frame. */
        double fy = pre->src_h > 0 ? (double)height / pre->src_h : 1.0;
        double fx = pre->src_w > 0 ? (double)width / pre->src_w : 1.0;
        top = pre->top * fy;
        bottom = pre->bottom * fy;
        left = pre->left * fx;
        right = pre->right * fx;
        if (top < 0 || left < 0 || bottom > height + 1e-9 || right > width + 1e-9 || bottom - top < 1 ||
            right - left < 1)
            return nn_fail(err, NN_E_ARG,
                           "preprocess: crop rows [%d, %d) cols [%d, %d) does not fit a %dx%d frame", pre->top,
                           pre->bottom, pre->left, pre->right, width, height);
    }
    int fy0 = (int)ceil(top - 0.5), ly = (int)ceil(bottom - 0.5) - 1;
    int fx0 = (int)ceil(left - 0.5), lx = (int)ceil(right - 0.5) - 1;
    if (fy0 < 0)
        fy0 = 0;
    if (fx0 < 0)
        fx0 = 0;
    if (ly > height - 1)
        ly = height - 1;
    if (lx > width - 1)
        lx = width - 1;
    if (ly < fy0)
        ly = fy0;
    if (lx < fx0)
        lx = fx0;
    axis_table(out_h, top, bottom - top, fy0, ly, y0, y1, wy);
    axis_table(out_w, left, right - left, fx0, lx, x0, x1, wx);
    return NN_OK;
}
