/* look.h — the appearance of one road, drawn at random per road: sky and hills, asphalt tone and
 * texture, repaired patches, shoulder and verge colours, lane markings (dashed or solid centre
 * line, white or yellow, edge lines or none), tree shadows across the road, light level and
 * colour, haze, and the camera mount (height, horizon row). Colours are 0..255 RGB floats. */
#ifndef STEERD_SIM_LOOK_H
#define STEERD_SIM_LOOK_H

#include <stdint.h>

#include "sim/rng.h"

#define LOOK_HILL_WAVES 8

typedef struct {
    /* camera mount (the same for the three cameras of a road) */
    double cam_height;       /* m above the road */
    double focal;            /* px */
    double horizon;          /* image row of the horizon (principal point row) */
    /* sky and hills */
    float sky_top[3], sky_horizon[3], hill[3];
    double hill_base;                  /* rad above the horizon */
    double hill_amp[LOOK_HILL_WAVES];  /* rad */
    double hill_phase[LOOK_HILL_WAVES];
    int hill_freq[LOOK_HILL_WAVES];    /* cycles per turn (integers: the skyline is periodic) */
    /* surfaces */
    float asphalt[3];
    float asphalt_grain;     /* +- fine grain (fraction of the colour) */
    float patch_amp;         /* +- repaired-patch tone */
    double patch_density;    /* fraction of 4x1.5 m cells that are patches */
    float shoulder[3];
    double shoulder_width;   /* m */
    float verge[2][3];       /* off-road colours, mixed by a large-scale noise */
    float verge_grain;
    /* markings */
    float centre_line[3], edge_line[3];
    int centre_dashed;       /* 1 dashed, 0 solid */
    double dash_len, dash_period, line_width; /* m */
    int edge_lines;          /* 1 when the road has edge lines */
    double edge_inset;       /* m from the asphalt edge to the edge line's outer side */
    /* light */
    float light[3];          /* per-channel gain (brightness and colour of the light) */
    double shadow_density;   /* fraction of 9 m cells with a tree shadow */
    float shadow_gain;       /* light left in a shadow */
    double haze_dist;        /* m: colours fade to the horizon colour as exp(-z / haze_dist) */
    uint32_t tex_seed;       /* texture hashes */
} sim_look;

/* A random look drawn from rng. */
void look_random(sim_look *lk, sim_rng *rng);

#endif
