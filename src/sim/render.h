/* render.h — a small, fast software renderer of a road from a pinhole camera: the ground is a flat
 * plane, so every image row below the horizon is one depth; the road's centreline (sampled ahead
 * of the camera and moved into camera coordinates once per frame) gives, per row, where the road
 * crosses that depth and its direction, and then each pixel's position across and along the road
 * is two multiply-adds. Edges, markings, dashes and shadows are box-filtered over the pixel's
 * footprint (no crawling at a distance); textures are hashed from road or world coordinates, so
 * they stay put as the car moves; the sky has a periodic hill/tree line anchored to the heading.
 * Deterministic: the same inputs give the same bytes. No allocation per frame (render_init sizes
 * everything). */
#ifndef STEERD_SIM_RENDER_H
#define STEERD_SIM_RENDER_H

#include <stddef.h>
#include <stdint.h>

#include "nn/nn.h"
#include "sim/look.h"
#include "sim/road.h"

#define RENDER_MAX_Z 320.0 /* m: farther ground is drawn as haze */

typedef struct {
    float z, xr, cphi, sphi, sc; /* row depth; road centre x (camera frame), direction; arc length */
    int has_road;
} render_row;

typedef struct {
    int w, h;
    render_row *rows;   /* h */
    float *wz, *wx;     /* centreline window in camera coordinates (forward z, right x), win_cap */
    double *ws;         /* arc lengths of the window */
    size_t win_cap;
    float *sky_rows;    /* per column: hill height in rows */
} render_ctx;

nn_status render_init(render_ctx *rc, int w, int h, nn_err *err);
void render_free(render_ctx *rc);

/* Draws the view of a camera at ground position (x, y) looking along heading (rad) into rgb
 * (h rows of w*3 bytes). *hint: road_project hint for the camera position (updated). */
void render_frame(render_ctx *rc, uint8_t *rgb, const road *r, const sim_look *lk, double x, double y,
                  double heading, size_t *hint);

#endif
