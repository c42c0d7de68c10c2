/* expert.h — the driving expert and the noise that makes the car drift. The expert is pure
 * pursuit on the lane centre: it aims the rear axle at the lane-centre point a look-ahead
 * distance ahead and returns the steering (Udacity units, [-1, 1], positive right) that puts
 * the car on the arc through it — the label of every recorded frame, also when the car has
 * drifted, so the labels teach recovery. The perturbation process adds steering offsets of
 * random sign, size and duration at random times (a Poisson process), so the car drifts away
 * from the centre and the expert brings it back. */
#ifndef STEERD_SIM_EXPERT_H
#define STEERD_SIM_EXPERT_H

#include <stddef.h>

#include "sim/rng.h"
#include "sim/road.h"
#include "sim/vehicle.h"

typedef struct {
    double lookahead_s;   /* look-ahead time, s (distance = max(min, v * time)) */
    double min_lookahead; /* m */
    double lane_lat;      /* lateral offset of the followed lane's centre (right lane: +w/2) */
} expert_params;

/* Steering in [-1, 1] for the car in state s; *hint is a road_project hint, updated. */
double expert_steer(const road *r, const veh_state *s, const veh_params *vp, const expert_params *ep, size_t *hint);

typedef struct {
    double strength;   /* 0 = never perturb; 1 = the defaults below */
    double rate_hz;    /* perturbations per second (at strength 1) */
    double offset;     /* steering offset of the current perturbation (0 when none) */
    double left_s;     /* its remaining duration */
    sim_rng rng;
} sim_noise;

void noise_init(sim_noise *n, double strength, uint64_t seed, uint64_t stream);
/* Steering offset for the next dt seconds; `cte` (m, from the lane centre) ends a
 * perturbation early once the car is far enough off (it must stay recoverable). */
double noise_step(sim_noise *n, double dt, double cte);

#endif
