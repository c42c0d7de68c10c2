/* render.c — per-row ground-plane renderer (see render.h). Camera frame: z forward, x right. */
#include "sim/render.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WIN_BEHIND 5.0          /* m of road behind the camera kept in the window */
#define SHADOW_CELL 9.0         /* m of road per possible tree shadow */

nn_status render_init(render_ctx *rc, int w, int h, nn_err *err)
{
    memset(rc, 0, sizeof *rc);
    if (w < 8 || h < 8 || w > 4096 || h > 4096)
        return nn_fail(err, NN_E_ARG, "render: frame size %dx%d out of range [8, 4096]", w, h);
    rc->w = w;
    rc->h = h;
    rc->win_cap = (size_t)((RENDER_MAX_Z * 1.5 + WIN_BEHIND) / ROAD_DS) + 4;
    rc->rows = calloc((size_t)h, sizeof *rc->rows);
    rc->wz = calloc(rc->win_cap, sizeof *rc->wz);
    rc->wx = calloc(rc->win_cap, sizeof *rc->wx);
    rc->ws = calloc(rc->win_cap, sizeof *rc->ws);
    rc->sky_rows = calloc((size_t)w, sizeof *rc->sky_rows);
    if (!rc->rows || !rc->wz || !rc->wx || !rc->ws || !rc->sky_rows) {
        render_free(rc);
        return nn_fail(err, NN_E_NOMEM, "render: out of memory");
    }
    return NN_OK;
}

void render_free(render_ctx *rc)
{
    free(rc->rows);
    free(rc->wz);
    free(rc->wx);
    free(rc->ws);
    free(rc->sky_rows);
    memset(rc, 0, sizeof *rc);
}

static inline float clampf(float v, float lo, float hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* floor() for values well inside the int32 range, without a libm call. */
static inline int32_t ifloor(double v)
{
    int32_t i = (int32_t)v;
    return i - (v < (double)i);
}

/* Fraction of the footprint [c - half, c + half] inside [a, b]. */
static inline float cover(float a, float b, float c, float half)
{
    float lo = a > c - half ? a : c - half, hi = b < c + half ? b : c + half;
    return clampf((hi - lo) / (2 * half), 0, 1);
}

/* Fraction of [s - half, s + half] on paint of a dash pattern (len m of paint every period m). */
static float dash_cover(double s, float half, float period, float len)
{
    if (2 * half >= period)
        return len / period;
    double lo = s - half, base = floor(lo / period) * period;
    float c = 0;
    for (int k = 0; k < 2; k++) {
        double a = base + k * period, b = a + len;
        double o = (b < s + half ? b : s + half) - (a > lo ? a : lo);
        if (o > 0)
            c += (float)o;
    }
    return clampf(c / (2 * half), 0, 1);
}

/* Smooth value noise in [0, 1) over a unit grid. */
static float vnoise(uint32_t seed, double x, double y)
{
    int32_t ix = ifloor(x), iy = ifloor(y);
    float tx = (float)(x - ix), ty = (float)(y - iy);
    tx = tx * tx * (3 - 2 * tx);
    ty = ty * ty * (3 - 2 * ty);
    float a = sim_hash2(seed, ix, iy), b = sim_hash2(seed, ix + 1, iy), c = sim_hash2(seed, ix, iy + 1),
          d = sim_hash2(seed, ix + 1, iy + 1);
    return (a + (b - a) * tx) + ((c + (d - c) * tx) - (a + (b - a) * tx)) * ty;
}

static inline void mix3(float *c, const float *o, float t)
{
    c[0] += (o[0] - c[0]) * t;
    c[1] += (o[1] - c[1]) * t;
    c[2] += (o[2] - c[2]) * t;
}

/* The tree shadows of three consecutive 9 m cells (k0 - 1 .. k0 + 1): the blobs are decoded once
 * per cell change, not per pixel. */
typedef struct {
    int32_t k0;
    int n;
    float cs[3], cl[3], r[3]; /* centre (absolute arc length, lateral), radius */
    double base;              /* arc length the cs are relative to */
} shadow_cells;

static void shadow_load(shadow_cells *sc, const sim_look *lk, int32_t k0, float reach)
{
    sc->k0 = k0;
    sc->n = 0;
    sc->base = (double)k0 * SHADOW_CELL;
    for (int32_t k = k0 - 1; k <= k0 + 1; k++) {
        uint32_t h = sim_hash32(lk->tex_seed ^ 0x5bd1e995u, k, 7);
        if ((float)(h & 0xff) / 256.0f >= (float)lk->shadow_density)
            continue;
        sc->cs[sc->n] = (float)(k - k0) * (float)SHADOW_CELL +
                        (float)SHADOW_CELL * (0.2f + 0.6f * (float)((h >> 8) & 0xff) / 255.0f);
        sc->cl[sc->n] = reach * (2.0f * (float)((h >> 16) & 0xff) / 255.0f - 1.0f);
        sc->r[sc->n] = 1.5f + 3.0f * (float)(h >> 24) / 255.0f;
        sc->n++;
    }
}

/* Light left by tree shadows at road position (s, lat): blobs centred in 9 m cells. */
static float shadow_light(shadow_cells *sc, const sim_look *lk, double s, float lat, float half, float reach)
{
    int32_t k0 = ifloor(s / SHADOW_CELL);
    if (k0 != sc->k0)
        shadow_load(sc, lk, k0, reach);
    float shade = 0, soft = half > 0.3f ? half : 0.3f, rel = (float)(s - sc->base);
    for (int k = 0; k < sc->n; k++) {
        float ds = rel - sc->cs[k], dl = lat - sc->cl[k], d = sqrtf(ds * ds + dl * dl * 0.6f);
        float cov = clampf((sc->r[k] - d) / soft + 0.5f, 0, 1);
        if (cov > shade)
            shade = cov;
    }
    return 1.0f - shade * (1.0f - lk->shadow_gain);
}

/* Moves the centreline window into camera coordinates; returns the number of samples. */
static size_t load_window(render_ctx *rc, const road *r, double cx, double cy, double heading, double s_cam)
{
    double s0 = s_cam - WIN_BEHIND;
    if (s0 < 0)
        s0 = 0;
    size_t i0 = (size_t)(s0 / ROAD_DS), m = 0;
    double fx = cos(heading), fy = sin(heading); /* forward; right = (fy, -fx) */
    for (size_t i = i0; i < r->n && m < rc->win_cap; i++, m++) {
        double dx = r->p[i].x - cx, dy = r->p[i].y - cy;
        rc->wz[m] = (float)(dx * fx + dy * fy);
        rc->wx[m] = (float)(dx * fy - dy * fx);
        rc->ws[m] = (double)i * ROAD_DS;
    }
    return m;
}

static void to_bytes(uint8_t *px, const float *c)
{
    for (int k = 0; k < 3; k++)
        px[k] = (uint8_t)clampf(c[k] + 0.5f, 0, 255);
}

static void draw_sky(render_ctx *rc, uint8_t *rgb, const sim_look *lk, double heading, int ground_row)
{
    const int w = rc->w;
    const double f = lk->focal, cxp = w / 2.0, cyp = lk->horizon;
    for (int u = 0; u < w; u++) {
        double az = heading + atan((cxp - (u + 0.5)) / f); /* left of the heading is larger */
        double hh = lk->hill_base;
        for (int k = 0; k < LOOK_HILL_WAVES; k++)
            hh += lk->hill_amp[k] * sin(lk->hill_freq[k] * az + lk->hill_phase[k]);
        rc->sky_rows[u] = (float)(f * tan(hh > 0 ? hh : 0));
    }
    float hill[3];
    for (int k = 0; k < 3; k++)
        hill[k] = lk->hill[k] * lk->light[k];
    mix3(hill, lk->sky_horizon, 0.35f);
    for (int v = 0; v < ground_row; v++) {
        float up = (float)(cyp - (v + 0.5)); /* rows above the horizon */
        float t = clampf(up / (float)(f * 0.35), 0, 1);
        float sky[3] = {lk->sky_horizon[0], lk->sky_horizon[1], lk->sky_horizon[2]};
        mix3(sky, lk->sky_top, powf(t, 0.7f));
        uint8_t *row = rgb + (size_t)v * (size_t)w * 3;
        for (int u = 0; u < w; u++) {
            float c[3] = {sky[0], sky[1], sky[2]};
            float cov = clampf(rc->sky_rows[u] - up + 0.5f, 0, 1);
            if (cov > 0)
                mix3(c, hill, cov);
            to_bytes(row + (size_t)u * 3, c);
        }
    }
}

void render_frame(render_ctx *rc, uint8_t *rgb, const road *r, const sim_look *lk, double x, double y,
                  double heading, size_t *hint)
{
    const int w = rc->w, h = rc->h;
    const double f = lk->focal, cxp = w / 2.0, cyp = lk->horizon, H = lk->cam_height;
    road_proj pr = road_project(r, x, y, *hint);
    *hint = pr.i;
    size_t m = load_window(rc, r, x, y, heading, pr.s);

    int ground_row = (int)floor(cyp - 0.5) + 1; /* first row whose centre is below the horizon */
    if (ground_row < 0)
        ground_row = 0;
    if (ground_row > h)
        ground_row = h;
    draw_sky(rc, rgb, lk, heading, ground_row);

    /* Rows from the bottom (nearest) up: depth grows, so the crossing search only moves forward. */
    size_t j = 0;
    for (int v = h - 1; v >= ground_row; v--) {
        render_row *rw = &rc->rows[v];
        double z = H * f / ((v + 0.5) - cyp);
        if (z > RENDER_MAX_Z)
            z = RENDER_MAX_Z;
        rw->z = (float)z;
        rw->has_road = 0;
        size_t k = j;
        for (; k + 1 < m; k++)
            if (rc->wz[k] <= (float)z && rc->wz[k + 1] > (float)z)
                break;
        if (k + 1 < m) {
            j = k;
            float dz = rc->wz[k + 1] - rc->wz[k], dx = rc->wx[k + 1] - rc->wx[k];
            float t = ((float)z - rc->wz[k]) / dz, len = sqrtf(dz * dz + dx * dx);
            rw->xr = rc->wx[k] + t * dx;
            rw->cphi = dz / len;
            rw->sphi = dx / len;
            rw->sc = (float)(rc->ws[k] + (double)t * ROAD_DS);
            rw->has_road = 1;
        }
    }

    const float hw = (float)r->lane_width;            /* half the road: one lane each side */
    const float sw = (float)lk->shoulder_width;
    const float lw = (float)lk->line_width;
    const float edge_out = hw - (float)lk->edge_inset, edge_in = edge_out - lw;
    const float reach = hw + 4.0f;
    const double fx = cos(heading), fy = sin(heading);
    shadow_cells shadows = {.k0 = INT32_MIN};
    for (int v = ground_row; v < h; v++) {
        const render_row *rw = &rc->rows[v];
        const float z = rw->z;
        const float px_m = z / (float)f;                 /* metres per pixel across */
        const float row_m = (float)(z * z / (H * f));    /* metres per row along */
        const float haze = expf(-z / (float)lk->haze_dist);
        const float grain_fade = clampf(20.0f / z, 0, 1);
        uint8_t *out = rgb + (size_t)v * (size_t)w * 3;
        for (int u = 0; u < w; u++) {
            float X = (float)((u + 0.5 - cxp) * px_m);
            float c[3];
            float a_cov = 0, s_cov = 0, lat = 0, half = 0;
            double s = 0;
            if (rw->has_road) {
                float d = X - rw->xr;
                lat = d * rw->cphi;
                s = rw->sc + (double)(d * rw->sphi);
                half = 0.5f * px_m * rw->cphi + 1e-4f;
                float al = fabsf(lat);
                a_cov = cover(-hw, hw, lat, half);
                s_cov = al < hw + sw + half ? cover(-hw - sw, hw + sw, lat, half) : 0;
            }
            if (a_cov < 1) {
                /* verge: two tones by a 12 m noise, grain by a 0.33 m hash (world coordinates) */
                double wx = x + z * fx + X * fy, wy = y + z * fy - X * fx;
                float m2 = vnoise(lk->tex_seed, wx / 12.0, wy / 12.0);
                float gr = (sim_hash2(lk->tex_seed ^ 0x1234567u, ifloor(wx * 3), ifloor(wy * 3)) - 0.5f) *
                           2 * lk->verge_grain * grain_fade;
                for (int k = 0; k < 3; k++)
                    c[k] = (lk->verge[0][k] + (lk->verge[1][k] - lk->verge[0][k]) * m2) * (1 + gr);
                if (s_cov > 0) {
                    float sg = 1 + (sim_hash2(lk->tex_seed ^ 0x2545f49u, ifloor(s * 4), ifloor(lat * 4)) - 0.5f) *
                                       0.2f * grain_fade;
                    float sh[3] = {lk->shoulder[0] * sg, lk->shoulder[1] * sg, lk->shoulder[2] * sg};
                    mix3(c, sh, s_cov);
                }
            } else {
                c[0] = c[1] = c[2] = 0;
            }
            if (a_cov > 0) {
                float gr = (sim_hash2(lk->tex_seed ^ 0x68e31da4u, ifloor(s * 5), ifloor(lat * 5)) - 0.5f) *
                           2 * lk->asphalt_grain * grain_fade;
                uint32_t ph = sim_hash32(lk->tex_seed ^ 0x3c6ef372u, ifloor(s / 4.0), ifloor(lat / 1.5));
                float patch = (float)(ph & 0xffff) / 65536.0f < (float)lk->patch_density
                                  ? lk->patch_amp * (2.0f * (float)(ph >> 16) / 65536.0f - 1.0f)
                                  : 0;
                float as[3];
                for (int k = 0; k < 3; k++)
                    as[k] = lk->asphalt[k] * (1 + gr + patch);
                if (lk->edge_lines) {
                    float e = cover(edge_in, edge_out, lat, half) + cover(-edge_out, -edge_in, lat, half);
                    if (e > 0)
                        mix3(as, lk->edge_line, clampf(e, 0, 1));
                }
                float cl = cover(-lw / 2, lw / 2, lat, half);
                if (cl > 0) {
                    if (lk->centre_dashed)
                        cl *= dash_cover(s, 0.5f * row_m + 1e-3f, (float)lk->dash_period, (float)lk->dash_len);
                    mix3(as, lk->centre_line, cl);
                }
                if (a_cov >= 1) {
                    c[0] = as[0], c[1] = as[1], c[2] = as[2];
                } else {
                    mix3(c, as, a_cov);
                }
            }
            float light = 1;
            if (rw->has_road && lk->shadow_density > 0 && fabsf(lat) < reach + 6)
                light = shadow_light(&shadows, lk, s, lat, half, reach);
            for (int k = 0; k < 3; k++)
                c[k] = c[k] * lk->light[k] * light * haze + lk->sky_horizon[k] * (1 - haze);
            to_bytes(out + (size_t)u * 3, c);
        }
    }
}
