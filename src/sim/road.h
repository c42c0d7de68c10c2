/* road.h — procedural roads: a centreline built from clothoid pieces (curvature varies linearly
 * with arc length inside a piece and is continuous between pieces, so heading and curvature have
 * no jumps), sampled every ROAD_DS metres. Two lanes of width lane_width: lateral offsets are
 * measured from the centreline, positive to the right; the car drives in the right lane, whose
 * centre is at +lane_width/2. World frame: x east, y north, heading counter-clockwise from x. */
#ifndef STEERD_SIM_ROAD_H
#define STEERD_SIM_ROAD_H

#include <stddef.h>

#include "nn/nn.h"
#include "sim/rng.h"

#define ROAD_DS 0.5        /* m between samples */
#define ROAD_LEAD_IN 40.0  /* m of straight road before the car's start point */

typedef struct {
    double x, y;       /* m */
    double heading;    /* rad */
    double kappa;      /* 1/m, positive = turning left */
} road_pt;

typedef struct {
    road_pt *p;        /* n samples, p[i] at arc length i * ROAD_DS */
    size_t n, cap;
    double length;     /* (n - 1) * ROAD_DS */
    double lane_width; /* m */
} road;

/* A projection of a point onto the centreline. */
typedef struct {
    double s;          /* arc length of the closest centreline point */
    double lat;        /* signed distance, positive right of the centreline */
    double heading;    /* centreline heading at s */
    size_t i;          /* sample index at or before s (hint for the next query) */
} road_proj;

/* Builds a road of at least `length` m (plus the lead-in) with curvature up to max_kappa: pieces
 * of 15..70 m whose end curvatures are drawn from rng (a third of them straight). The sample
 * buffer grows only when a longer road is asked for. */
nn_status road_generate(road *r, double length, double max_kappa, double lane_width, sim_rng *rng, nn_err *err);
void road_free(road *r);

/* The centreline point at arc length s (clamped to the road), linearly interpolated. */
road_pt road_at(const road *r, double s);
/* Closest centreline point to (x, y), searched locally from hint (a previous result's i, or 0). */
road_proj road_project(const road *r, double x, double y, size_t hint);
/* A point at lateral offset lat (positive right) from the centreline at arc length s. */
void road_offset_point(const road *r, double s, double lat, double *x, double *y);

#endif
