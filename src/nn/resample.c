/* resample.c — sampling tables of the input preprocessing (resample.h): the frame's part that
 * stands for the model's source frame (all of it, or its centred part of the source's aspect
 * ratio), the crop scaled to it, then per output row / column the two source pixels and the
 * weight of the second. */
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
    /* The part of the frame that stands for the model's source frame: all of it (stretched to the
     * source's aspect ratio), or with keep_aspect its centred part of the source's aspect ratio. */
    double oy = 0, ox = 0, use_h = height, use_w = width;
    if (pre->keep_aspect) {
        double ref_h = pre->src_h > 0 ? pre->src_h : out_h, ref_w = pre->src_w > 0 ? pre->src_w : out_w;
        if ((double)width * ref_h > (double)height * ref_w)
            use_w = height * ref_w / ref_h; /* wider than the source: the sides go */
        else
            use_h = width * ref_h / ref_w; /* taller (4:3 for 2:1): the top and the bottom go */
        ox = (width - use_w) / 2;
        oy = (height - use_h) / 2;
    }
    double top = oy, bottom = oy + use_h, left = ox, right = ox + use_w;
    if (pre->crop) {
        /* The crop is given for the model's source size; scale it to this frame (its used part). */
        double fy = pre->src_h > 0 ? use_h / pre->src_h : 1.0;
        double fx = pre->src_w > 0 ? use_w / pre->src_w : 1.0;
        top = oy + pre->top * fy;
        bottom = oy + pre->bottom * fy;
        left = ox + pre->left * fx;
        right = ox + pre->right * fx;
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
