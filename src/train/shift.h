/* shift.h — random translation of digit images (idx datasets, `augmentation.shift`): each
 * training item is moved by (dy, dx), both uniform in [-max, max] pixels, drawn from a
 * splitmix64 stream seeded by (seed, epoch, item) — so the draw depends neither on the batch
 * position nor on threads — and the uncovered border is filled with the value of a black
 * pixel (the model's preprocess offset). Validation and test images are never shifted. */
#ifndef STEERD_TRAIN_SHIFT_H
#define STEERD_TRAIN_SHIFT_H

#include <stddef.h>
#include <stdint.h>

/* The shift of item `item` in epoch `epoch` (0-based), max >= 1. */
void shift_draw(uint64_t seed, int epoch, size_t item, int max, int *dy, int *dx);
/* dst[y][x][k] = src[y - dy][x - dx][k] where that is inside the h x w image, else fill.
 * dst and src are [h, w, c] and must not overlap. */
void shift_image(float *dst, const float *src, int h, int w, int c, int dy, int dx, float fill);

#endif
