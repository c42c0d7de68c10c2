/* episode.c — one road, one car, the expert and the noise (see episode.h). */
#include "sim/episode.h"

#include <math.h>
#include <string.h>

#define ROAD_MARGIN (RENDER_MAX_Z * 1.5 + 60.0) /* m of road beyond the end of the drive */

static void update_pose(sim_episode *e)
{
    double cx, cy;
    veh_point(&e->car, e->vp.wheelbase / 2, 0, &cx, &cy);
    road_proj pr = road_project(&e->road, cx, cy, e->hint_car);
    e->hint_car = pr.i;
    e->cte = pr.lat - e->ep.lane_lat;
    e->s = pr.s;
}

static void place_on_lane(sim_episode *e, double s_centre)
{
    /* Rear axle half a wheelbase behind the lane-centre point at s_centre, along the road. */
    road_pt p = road_at(&e->road, s_centre);
    double x, y;
    road_offset_point(&e->road, s_centre, e->ep.lane_lat, &x, &y);
    e->car.heading = p.heading;
    e->car.x = x - cos(p.heading) * e->vp.wheelbase / 2;
    e->car.y = y - sin(p.heading) * e->vp.wheelbase / 2;
    e->car.delta = atan(e->vp.wheelbase * p.kappa);
}

nn_status episode_start(sim_episode *e, const sim_params *p, int index, nn_err *err)
{
    nn_status st = sim_params_check(p, err);
    if (st)
        return st;
    road keep = e->road;
    memset(e, 0, sizeof *e);
    e->road = keep;
    e->prm = *p;
    e->index = index;
    e->dt = 1.0 / p->fps;
    sim_rng rr = sim_rng_make(p->seed, (uint64_t)index * 4 + 0), rl = sim_rng_make(p->seed, (uint64_t)index * 4 + 1);
    double lane_w = p->lane_width * sim_rng_range(&rr, 0.92, 1.08);
    double length = EPISODE_START_S + p->speed * (double)sim_params_frames(p) * e->dt + ROAD_MARGIN;
    st = road_generate(&e->road, length, p->curvature, lane_w, &rr, err);
    if (st)
        return st;
    look_random(&e->look, &rl);
    noise_init(&e->noise, p->noise, p->seed, (uint64_t)index * 4 + 2);
    e->vp.wheelbase = p->wheelbase;
    e->vp.max_delta = SIM_MAX_STEER_DEG * M_PI / 180.0;
    e->vp.steer_tau = p->steer_tau;
    e->ep.lookahead_s = p->lookahead;
    e->ep.min_lookahead = 4.0;
    e->ep.lane_lat = lane_w / 2;
    e->car.v = p->speed;
    place_on_lane(e, EPISODE_START_S);
    e->hint_car = e->hint_expert = (size_t)(EPISODE_START_S / ROAD_DS);
    for (int k = 0; k < 3; k++)
        e->hint_cam[k] = e->hint_car;
    update_pose(e);
    return NN_OK;
}

void episode_free(sim_episode *e)
{
    road_free(&e->road);
}

double episode_expert(sim_episode *e)
{
    return expert_steer(&e->road, &e->car, &e->vp, &e->ep, &e->hint_expert);
}

double episode_noise(sim_episode *e)
{
    return noise_step(&e->noise, e->dt, e->cte);
}

/* Physics (and the expert's control in record mode) run at EPISODE_CONTROL_HZ or faster, so a
 * low frame rate does not make the car unstable. */
static int substeps(const sim_episode *e)
{
    int n = (int)ceil(e->dt * EPISODE_CONTROL_HZ - 1e-9);
    return n < 1 ? 1 : n;
}

void episode_step(sim_episode *e, double u)
{
    int n = substeps(e);
    for (int k = 0; k < n; k++)
        veh_step(&e->car, &e->vp, veh_delta_of_steer(&e->vp, u), e->dt / n);
    e->frame++;
    update_pose(e);
}

void episode_step_expert(sim_episode *e)
{
    int n = substeps(e);
    for (int k = 0; k < n; k++) {
        double u = episode_expert(e) + noise_step(&e->noise, e->dt / n, e->cte);
        veh_step(&e->car, &e->vp, veh_delta_of_steer(&e->vp, u), e->dt / n);
        update_pose(e);
    }
    e->frame++;
}

void episode_reset_to_lane(sim_episode *e)
{
    place_on_lane(e, e->s);
    e->noise.offset = 0;
    e->noise.left_s = 0;
    update_pose(e);
}

void episode_render(sim_episode *e, render_ctx *rc, sim_cam cam, uint8_t *rgb)
{
    double x, y;
    veh_point(&e->car, EPISODE_CAM_AHEAD, (double)cam * e->prm.side_offset, &x, &y);
    render_frame(rc, rgb, &e->road, &e->look, x, y, e->car.heading, &e->hint_cam[cam + 1]);
}

int episode_road_left(const sim_episode *e)
{
    return e->s + RENDER_MAX_Z < e->road.length;
}
