/* augment.h — steering augmentation for the driving-log datasets (config keys augmentation.*):
 *  - per item, applied by the loader after decoding (aug_pick + aug_apply):
 *      side cameras: centre, left or right image with probability 1/3 each; the dataset adds
 *        +steering_correction for the left camera and subtracts it for the right one;
 *      flip: with probability 1/2 the model input is mirrored left-right and the steering negated;
 *      brightness: pixels (0..255, before scale/offset) times a gain uniform in [1-b, 1+b],
 *        clipped to 0..255;
 *      shadow: with probability `shadow`, the pixels on one side of a random line from the top
 *        edge to the bottom edge are darkened by a factor uniform in [0.35, 0.75] (a shadow
 *        across the road: the cue a lane-keeping model must learn to ignore);
 *  - per epoch (aug_sampler): items whose |steering| < zero_threshold ("straight") are
 *    down-sampled: all others are kept and round(n_straight * zero_keep) straight ones, a
 *    different seeded choice every epoch, so every epoch has the same number of items.
 * Every choice is a function of (seed, epoch, item) only: the same config, seed and thread count
 * give the same batches whatever the thread timing. Nothing here allocates per batch. */
#ifndef STEERD_TRAIN_AUGMENT_H
#define STEERD_TRAIN_AUGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "train/dataset.h"

typedef struct aug_config {
    bool flip;
    float brightness;      /* b in [0, 1]; 0 = off */
    float shadow;          /* probability of a shadow per item, [0, 1]; 0 = off */
    bool side_cameras;
    float zero_threshold;  /* |steering| below this is "straight" */
    float zero_keep;       /* fraction of straight items kept per epoch, [0, 1] */
} aug_config;

/* What one item gets. */
typedef struct {
    int camera;   /* DS_CAMERA_* */
    bool flip;
    float gain;   /* brightness factor (1 = unchanged) */
    bool shadow;
    float shadow_top, shadow_bottom; /* the line's x at the top and bottom row, fractions of the width */
    bool shadow_left;                /* the darkened side */
    float shadow_gain;
} aug_draw;

/* True when aug_pick can change an item (flip, brightness, shadow or side cameras on). */
bool aug_per_item(const aug_config *a);
/* The draw for item `item` under `seed` (the loader's seed of the epoch). */
aug_draw aug_pick(const aug_config *a, uint64_t seed, size_t item);
/* Applies flip, brightness and shadow to one decoded item: image [h, w, c] in model units
 * (x = pixel * xf->scale + xf->offset), target [n_targets] (flip negates them; NULL: none). */
void aug_apply(const aug_draw *d, const ds_xform *xf, float *image, int h, int w, int c, float *target,
               int n_targets);

/* Per-epoch down-sampling of straight items among items idx[0..n) of a regression dataset
 * (steering = target 0, read through ds_target without decoding images). */
typedef struct {
    size_t *moving, *straight, *scratch;
    size_t n_moving, n_straight, n_keep;
} aug_sampler;

nn_status aug_sampler_init(aug_sampler *s, ds_dataset *ds, const aug_config *a, const size_t *idx, size_t n,
                           nn_err *err);
/* Items per epoch: n_moving + n_keep. */
size_t aug_sampler_count(const aug_sampler *s);
/* Epoch `epoch`'s items into out[0..aug_sampler_count) (the moving ones, then the kept straight
 * ones; the loader shuffles them). */
void aug_sampler_epoch(aug_sampler *s, uint64_t seed, int epoch, size_t *out);
void aug_sampler_free(aug_sampler *s);

#endif
