/* augment.c — steering augmentation (see augment.h): per-item draws from a splitmix64 stream
 * seeded by (seed, item), the in-place flip, brightness and shadow of a decoded model input, and the
 * per-epoch down-sampling of straight items. */
#include "train/augment.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bool aug_per_item(const aug_config *a)
{
    return a && (a->flip || a->brightness > 0 || a->shadow > 0 || a->side_cameras);
}

/* Uniform in [0, 1) from the top 53 bits. */
static double unit(ds_rng *r) { return (double)(ds_rng_next(r) >> 11) * (1.0 / 9007199254740992.0); }

aug_draw aug_pick(const aug_config *a, uint64_t seed, size_t item)
{
    aug_draw d;
    memset(&d, 0, sizeof d); /* padding too: draws compare equal byte for byte */
    d.camera = DS_CAMERA_CENTER;
    d.gain = d.shadow_gain = 1.0f;
    if (!aug_per_item(a))
        return d;
    ds_rng r = {seed ^ (0x2545F4914F6CDD1Dull * ((uint64_t)item + 1))};
    ds_rng_next(&r); /* decorrelate neighbouring items */
    /* Draw every choice whether or not it is on, so turning one on does not change the others. */
    uint64_t cam = ds_rng_below(&r, 3);
    bool flip = ds_rng_below(&r, 2) == 1;
    double u = unit(&r);
    if (a->side_cameras)
        d.camera = (int)cam; /* DS_CAMERA_CENTER, _LEFT, _RIGHT = 0, 1, 2 */
    if (a->flip)
        d.flip = flip;
    if (a->brightness > 0)
        d.gain = (float)(1.0 - a->brightness + 2.0 * a->brightness * u);
    /* drawn after the others (they stay what they were before the shadow existed) */
    double s_on = unit(&r), s_top = unit(&r), s_bottom = unit(&r), s_gain = unit(&r);
    bool s_left = ds_rng_below(&r, 2) == 1;
    if (a->shadow > 0 && s_on < a->shadow) {
        d.shadow = true;
        d.shadow_top = (float)s_top;
        d.shadow_bottom = (float)s_bottom;
        d.shadow_left = s_left;
        d.shadow_gain = (float)(0.35 + 0.4 * s_gain);
    }
    return d;
}

void aug_apply(const aug_draw *d, const ds_xform *xf, float *image, int h, int w, int c, float *target,
               int n_targets)
{
    if (d->flip) {
        /* image [h, w, c]: swap pixel x with w-1-x in every row */
        for (int y = 0; y < h; y++) {
            float *row = image + (size_t)y * (size_t)w * (size_t)c;
            for (int x = 0; x < w / 2; x++) {
                float *p = row + (size_t)x * (size_t)c, *q = row + (size_t)(w - 1 - x) * (size_t)c;
                for (int k = 0; k < c; k++) {
                    float t = p[k];
                    p[k] = q[k];
                    q[k] = t;
                }
            }
        }
        for (int k = 0; target && k < n_targets; k++)
            target[k] = -target[k];
    }
    if (d->shadow && xf->scale != 0.0f) {
        /* x = p * scale + offset -> (p * gain) * scale + offset on one side of the line */
        const float o = xf->offset, g = d->shadow_gain;
        for (int y = 0; y < h; y++) {
            float f = h > 1 ? (float)y / (float)(h - 1) : 0.0f;
            float edge = (d->shadow_top + (d->shadow_bottom - d->shadow_top) * f) * (float)w;
            float *row = image + (size_t)y * (size_t)w * (size_t)c;
            for (int x = 0; x < w; x++) {
                if (((float)x + 0.5f < edge) != d->shadow_left)
                    continue;
                for (int k = 0; k < c; k++)
                    row[(size_t)x * (size_t)c + (size_t)k] = (row[(size_t)x * (size_t)c + (size_t)k] - o) * g + o;
            }
        }
    }
    if (d->gain != 1.0f && xf->scale != 0.0f) {
        /* x = p * scale + offset -> (clip(p * gain, 0, 255)) * scale + offset */
        const float s = xf->scale, o = xf->offset, g = d->gain;
        const float lo = s > 0 ? o : 255.0f * s + o, hi = s > 0 ? 255.0f * s + o : o;
        size_t n = (size_t)h * (size_t)w * (size_t)c;
        for (size_t i = 0; i < n; i++) {
            float v = (image[i] - o) * g + o;
            image[i] = v < lo ? lo : v > hi ? hi : v;
        }
    }
}

nn_status aug_sampler_init(aug_sampler *s, ds_dataset *ds, const aug_config *a, const size_t *idx, size_t n,
                           nn_err *err)
{
    memset(s, 0, sizeof *s);
    size_t cap = n ? n : 1;
    s->moving = malloc(cap * sizeof *s->moving);
    s->straight = malloc(cap * sizeof *s->straight);
    s->scratch = malloc(cap * sizeof *s->scratch);
    if (!s->moving || !s->straight || !s->scratch) {
        aug_sampler_free(s);
        return nn_fail(err, NN_E_NOMEM, "%s: out of memory", ds_path(ds));
    }
    for (size_t i = 0; i < n; i++) {
        float t;
        nn_status st = ds_target(ds, idx[i], &t, err);
        if (st) {
            aug_sampler_free(s);
            return st;
        }
        if (fabsf(t) < a->zero_threshold)
            s->straight[s->n_straight++] = idx[i];
        else
            s->moving[s->n_moving++] = idx[i];
    }
    s->n_keep = (size_t)llround((double)s->n_straight * (double)a->zero_keep);
    if (s->n_keep > s->n_straight)
        s->n_keep = s->n_straight;
    return NN_OK;
}

size_t aug_sampler_count(const aug_sampler *s) { return s->n_moving + s->n_keep; }

void aug_sampler_epoch(aug_sampler *s, uint64_t seed, int epoch, size_t *out)
{
    memcpy(out, s->moving, s->n_moving * sizeof *out);
    if (s->n_keep == s->n_straight) {
        memcpy(out + s->n_moving, s->straight, s->n_straight * sizeof *out);
        return;
    }
    /* a seeded permutation of the straight items; its first n_keep are this epoch's */
    ds_epoch_order(s->straight, s->n_straight, seed ^ 0x5a5a0f0f3c3cc3c3ull, epoch, s->scratch);
    memcpy(out + s->n_moving, s->scratch, s->n_keep * sizeof *out);
}

void aug_sampler_free(aug_sampler *s)
{
    free(s->moving);
    free(s->straight);
    free(s->scratch);
    memset(s, 0, sizeof *s);
}
