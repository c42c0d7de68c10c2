/* shift.c — random translation of digit images for training (see shift.h). */
#include "train/shift.h"

#include <string.h>

#include "train/dataset.h"

void shift_draw(uint64_t seed, int epoch, size_t item, int max, int *dy, int *dx)
{
    ds_rng r = {seed ^ (0xA24BAED4963EE407ull * (uint64_t)(epoch + 1)) ^ (0x9FB21C651E98DF25ull * (uint64_t)(item + 1))};
    uint64_t span = 2 * (uint64_t)max + 1;
    *dy = (int)ds_rng_below(&r, span) - max;
    *dx = (int)ds_rng_below(&r, span) - max;
}

void shift_image(float *dst, const float *src, int h, int w, int c, int dy, int dx, float fill)
{
    size_t row = (size_t)w * (size_t)c;
    /* source columns x - dx for x in [x0, x1) are inside the image */
    int x0 = dx > 0 ? dx : 0, x1 = dx < 0 ? w + dx : w;
    if (x1 < x0)
        x1 = x0;
    for (int y = 0; y < h; y++) {
        float *d = dst + (size_t)y * row;
        int sy = y - dy;
        if (sy < 0 || sy >= h || x0 == x1) {
            for (size_t k = 0; k < row; k++)
                d[k] = fill;
            continue;
        }
        for (size_t k = 0; k < (size_t)x0 * (size_t)c; k++)
            d[k] = fill;
        memcpy(d + (size_t)x0 * (size_t)c, src + (size_t)sy * row + (size_t)(x0 - dx) * (size_t)c,
               (size_t)(x1 - x0) * (size_t)c * sizeof *d);
        for (size_t k = (size_t)x1 * (size_t)c; k < row; k++)
            d[k] = fill;
    }
}
