/* preprocess.c — crop + bilinear resize (half-pixel centres, edge clamped, as OpenCV's
 * INTER_LINEAR and PyTorch's interpolate(align_corners=False)) + scale/offset into the
 * engine's input buffer. The sampling tables come from src/nn/resample.c (shared with the CUDA
 * backend's GPU preprocessing, kernels/preprocess.cu). */
#include "daemon/preprocess.h"

#include "nn/resample.h"

#include <stdlib.h>
#include <string.h>

nn_status pp_init(pp_plan *p, const nn_preprocess *pre, int out_h, int out_w, int out_c, nn_err *err)
{
    memset(p, 0, sizeof *p);
    if (out_h < 1 || out_w < 1 || (out_c != 3 && out_c != 1))
        return nn_fail(err, NN_E_ARG, "preprocess: model input %dx%dx%d is not an RGB (3) or grayscale (1) image",
                       out_h, out_w, out_c);
    p->pre = *pre;
    p->out_h = out_h;
    p->out_w = out_w;
    p->out_c = out_c;
    p->x0 = malloc((size_t)out_w * sizeof *p->x0);
    p->x1 = malloc((size_t)out_w * sizeof *p->x1);
    p->wx = malloc((size_t)out_w * sizeof *p->wx);
    p->y0 = malloc((size_t)out_h * sizeof *p->y0);
    p->y1 = malloc((size_t)out_h * sizeof *p->y1);
    p->wy = malloc((size_t)out_h * sizeof *p->wy);
    p->rows[0] = malloc((size_t)out_w * 3 * sizeof *p->rows[0]);
    p->rows[1] = malloc((size_t)out_w * 3 * sizeof *p->rows[1]);
    if (!p->x0 || !p->x1 || !p->wx || !p->y0 || !p->y1 || !p->wy || !p->rows[0] || !p->rows[1]) {
        pp_free(p);
        return nn_fail(err, NN_E_NOMEM, "preprocess: out of memory");
    }
    return NN_OK;
}

void pp_free(pp_plan *p)
{
    free(p->x0);
    free(p->x1);
    free(p->wx);
    free(p->y0);
    free(p->y1);
    free(p->wy);
    free(p->rows[0]);
    free(p->rows[1]);
    memset(p, 0, sizeof *p);
}

nn_status pp_plan_for(pp_plan *p, int width, int height, nn_err *err)
{
    nn_status s = nn_resample_tables(&p->pre, width, height, p->out_h, p->out_w, p->y0, p->y1, p->wy, p->x0, p->x1,
                                     p->wx, err);
    if (s)
        return s;
    p->src_w = width;
    p->src_h = height;
    return NN_OK;
}

/* Source row y resized horizontally into one of the two cached rows (kept while still needed). */
static const float *resized_row(pp_plan *p, const uint8_t *rgb, int stride, int y)
{
    for (int i = 0; i < 2; i++)
        if (p->row_y[i] == y)
            return p->rows[i];
    /* Rows are needed in increasing order: replace the one with the smaller source row. */
    int slot = p->row_y[0] < p->row_y[1] ? 0 : 1;
    float *h = p->rows[slot];
    const uint8_t *r = rgb + (size_t)y * (size_t)stride;
    for (int ox = 0; ox < p->out_w; ox++) {
        const uint8_t *a = r + p->x0[ox] * 3, *b = r + p->x1[ox] * 3;
        const float wx = p->wx[ox], vx = 1.0f - wx;
        h[3 * ox] = a[0] * vx + b[0] * wx;
        h[3 * ox + 1] = a[1] * vx + b[1] * wx;
        h[3 * ox + 2] = a[2] * vx + b[2] * wx;
    }
    p->row_y[slot] = y;
    return h;
}

nn_status pp_run(pp_plan *p, const uint8_t *rgb, int width, int height, int stride, float *out, nn_err *err)
{
    if (!rgb || stride < width * 3)
        return nn_fail(err, NN_E_ARG, "preprocess: bad frame (stride %d for width %d)", stride, width);
    if (width != p->src_w || height != p->src_h) {
        nn_status s = pp_plan_for(p, width, height, err);
        if (s)
            return s;
    }
    /* Separable bilinear: each needed source row is resized horizontally once (cached: with
     * upscaling, consecutive output rows share source rows), then pairs of rows are blended
     * vertically and scaled in one contiguous, vectorisable pass. */
    const float scale = p->pre.scale, offset = p->pre.offset;
    const int ow = p->out_w, n = ow * 3;
    p->row_y[0] = p->row_y[1] = -1;
    for (int oy = 0; oy < p->out_h; oy++) {
        const float *h0 = resized_row(p, rgb, stride, p->y0[oy]);
        const float *h1 = resized_row(p, rgb, stride, p->y1[oy]);
        const float wy = p->wy[oy], vy = 1.0f - wy;
        float *o = out + (size_t)oy * (size_t)ow * (size_t)p->out_c;
        if (p->out_c == 3) {
            for (int i = 0; i < n; i++)
                o[i] = (h0[i] * vy + h1[i] * wy) * scale + offset;
        } else {
            for (int ox = 0; ox < ow; ox++) {
                const float *a = h0 + 3 * ox, *b = h1 + 3 * ox;
                float r = a[0] * vy + b[0] * wy, g = a[1] * vy + b[1] * wy, bl = a[2] * vy + b[2] * wy;
                o[ox] = (0.299f * r + 0.587f * g + 0.114f * bl) * scale + offset;
            }
        }
    }
    return NN_OK;
}
