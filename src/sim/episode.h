/* episode.h — one road driven by one car: the road and its look, the bicycle model, the expert
 * and the perturbations, stepped once per frame (dt = 1/fps). Shared by record mode (the expert
 * plus noise drives, the expert labels) and closed-loop mode (steerd drives, the expert labels
 * for comparison). Road i of seed S is the same road in both modes. */
#ifndef STEERD_SIM_EPISODE_H
#define STEERD_SIM_EPISODE_H

#include <stdint.h>

#include "nn/nn.h"
#include "sim/expert.h"
#include "sim/look.h"
#include "sim/params.h"
#include "sim/render.h"
#include "sim/road.h"
#include "sim/vehicle.h"

#define EPISODE_START_S 20.0  /* m: the car starts this far along the road (inside the lead-in) */
#define EPISODE_CAM_AHEAD 1.6 /* m: camera ahead of the rear axle */
#define EPISODE_CONTROL_HZ 30 /* physics steps per second at least (a frame is split into substeps) */

typedef enum { CAM_LEFT = -1, CAM_CENTER = 0, CAM_RIGHT = 1 } sim_cam;

typedef struct {
    sim_params prm;
    int index;            /* road number (from 0) */
    road road;
    sim_look look;
    veh_params vp;
    veh_state car;
    expert_params ep;
    sim_noise noise;
    size_t hint_car, hint_expert, hint_cam[3];
    double dt;            /* 1 / fps */
    long frame;           /* steps taken */
    double cte;           /* m, centre of the car from the lane centre (positive right) */
    double s;             /* m, arc length of the car's centre on the road */
} sim_episode;

/* Road `index` of the parameters' seed; the car at the lane centre at EPISODE_START_S. The
 * road buffer of a previous episode in e is reused when big enough (e zeroed before first use). */
nn_status episode_start(sim_episode *e, const sim_params *p, int index, nn_err *err);
void episode_free(sim_episode *e);

/* The expert's steering for the current state ([-1, 1], positive right). */
double episode_expert(sim_episode *e);
/* Next perturbation offset (0 when --noise is 0). */
double episode_noise(sim_episode *e);
/* One frame time with steering u (clamped to [-1, 1]) held; updates cte and s. */
void episode_step(sim_episode *e, double u);
/* One frame time driven by the expert plus the perturbations, both updated at every physics
 * substep (record mode). */
void episode_step_expert(sim_episode *e);
/* Puts the car back on the lane centre, aligned with the road (an intervention). */
void episode_reset_to_lane(sim_episode *e);
/* Renders camera cam into rgb (rc's size). */
void episode_render(sim_episode *e, render_ctx *rc, sim_cam cam, uint8_t *rgb);
/* True when the car is near the end of the road (no more road to show ahead). */
int episode_road_left(const sim_episode *e);

#endif
