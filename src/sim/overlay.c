/* overlay.c — steering needles and the metrics panel of the closed-loop video (see overlay.h). */
#include "sim/overlay.h"

#include <math.h>
#include <string.h>

static const uint8_t GREEN[3] = {40, 220, 60}, RED[3] = {235, 40, 40}, BLUE[3] = {60, 140, 255},
                     GREY[3] = {150, 150, 150}, DARK[3] = {28, 28, 30}, ZONE[3] = {90, 25, 25};

static void put(uint8_t *img, int w, int h, int x, int y, const uint8_t *c)
{
    if (x < 0 || y < 0 || x >= w || y >= h)
        return;
    memcpy(img + ((size_t)y * (size_t)w + (size_t)x) * 3, c, 3);
}

static void rect(uint8_t *img, int w, int h, int x0, int y0, int x1, int y1, const uint8_t *c)
{
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++)
            put(img, w, h, x, y, c);
}

/* A 3-pixel-wide line from (x0, y0) with length len at angle a from straight up (+ = right). */
static void needle(uint8_t *img, int w, int h, double x0, double y0, double len, double a, const uint8_t *c)
{
    double dx = sin(a), dy = -cos(a);
    for (int t = 0; t <= (int)len; t++)
        for (int k = -1; k <= 1; k++)
            put(img, w, h, (int)lround(x0 + dx * t + k), (int)lround(y0 + dy * t), c);
}

static int scale_x(double v, double range, int w)
{
    double half = (w - 20) / 2.0;
    if (v > range)
        v = range;
    if (v < -range)
        v = -range;
    return (int)lround(w / 2.0 + v / range * half);
}

void overlay_draw(uint8_t *dst, const uint8_t *frame, int w, int h, double predicted, double expert, double cte_m,
                  int intervention)
{
    const int H = h + OVERLAY_PANEL_H;
    memcpy(dst, frame, (size_t)w * (size_t)h * 3);
    /* needles: full scale (steering 1) = 60 degrees on the picture */
    double base_x = w / 2.0, base_y = h - 2, len = h * 0.35;
    needle(dst, w, H, base_x, base_y, len, expert * M_PI / 3, GREEN);
    if (isfinite(predicted))
        needle(dst, w, H, base_x, base_y, len, predicted * M_PI / 3, RED);

    rect(dst, w, H, 0, h, w - 1, H - 1, DARK);
    /* steering bar: [-0.5, 0.5] */
    int y_s = h + 11;
    rect(dst, w, H, 10, y_s, w - 11, y_s, GREY);
    rect(dst, w, H, w / 2, y_s - 4, w / 2, y_s + 4, GREY);
    int xe = scale_x(expert, 0.5, w);
    rect(dst, w, H, xe - 2, y_s - 7, xe + 2, y_s - 1, GREEN);
    if (isfinite(predicted)) {
        int xp = scale_x(predicted, 0.5, w);
        rect(dst, w, H, xp - 2, y_s + 1, xp + 2, y_s + 7, RED);
    }
    /* cross-track error bar: +-1.5 m, beyond +-1 m shaded */
    int y_c = h + 29;
    int z_l = scale_x(-1.0, 1.5, w), z_r = scale_x(1.0, 1.5, w);
    rect(dst, w, H, 10, y_c - 4, z_l, y_c + 4, ZONE);
    rect(dst, w, H, z_r, y_c - 4, w - 11, y_c + 4, ZONE);
    rect(dst, w, H, 10, y_c, w - 11, y_c, GREY);
    rect(dst, w, H, w / 2, y_c - 4, w / 2, y_c + 4, GREY);
    int xc = scale_x(cte_m, 1.5, w);
    rect(dst, w, H, xc - 2, y_c - 5, xc + 2, y_c + 5, BLUE);
    if (intervention) {
        rect(dst, w, H, 0, 0, w - 1, 2, RED);
        rect(dst, w, H, 0, H - 3, w - 1, H - 1, RED);
        rect(dst, w, H, 0, 0, 2, H - 1, RED);
        rect(dst, w, H, w - 3, 0, w - 1, H - 1, RED);
    }
}
