/* expert.c — pure pursuit on the lane centre and the steering perturbation process. */
#include "sim/expert.h"

#include <math.h>

#define NOISE_RATE_HZ 0.35   /* perturbations per second at strength 1 */
#define NOISE_MIN 0.04       /* |offset| in steering units at strength 1 */
#define NOISE_MAX 0.16
#define NOISE_MIN_S 0.3      /* duration */
#define NOISE_MAX_S 1.0
#define NOISE_MAX_CTE 0.9    /* m: a perturbation ends once the car is this far off */

double expert_steer(const road *r, const veh_state *s, const veh_params *vp, const expert_params *ep, size_t *hint)
{
    road_proj pr = road_project(r, s->x, s->y, *hint);
    *hint = pr.i;
    double ld = s->v * ep->lookahead_s;
    if (ld < ep->min_lookahead)
        ld = ep->min_lookahead;
    /* The lane-centre point whose straight-line distance from the rear axle is ld: start at the
     * arc-length guess and correct twice (the car may be off the lane or at an angle). */
    double st = pr.s + ld, tx = 0, ty = 0;
    for (int k = 0; k < 3; k++) {
        road_offset_point(r, st, ep->lane_lat, &tx, &ty);
        double d = hypot(tx - s->x, ty - s->y);
        if (d < 1e-6)
            break;
        st += ld - d;
    }
    road_offset_point(r, st, ep->lane_lat, &tx, &ty);
    double dx = tx - s->x, dy = ty - s->y;
    double c = cos(s->heading), sn = sin(s->heading);
    double fwd = dx * c + dy * sn, left = -dx * sn + dy * c;
    double d2 = fwd * fwd + left * left;
    if (d2 < 1e-9)
        return 0;
    /* Arc through the target: curvature 2 * left / d^2; wheel angle atan(L * curvature). */
    double delta = atan(vp->wheelbase * 2.0 * left / d2);
    return veh_steer_of_delta(vp, delta);
}

void noise_init(sim_noise *n, double strength, uint64_t seed, uint64_t stream)
{
    n->strength = strength;
    n->rate_hz = NOISE_RATE_HZ * (strength < 1 ? 1 : strength);
    n->offset = 0;
    n->left_s = 0;
    n->rng = sim_rng_make(seed, stream);
}

double noise_step(sim_noise *n, double dt, double cte)
{
    if (n->strength <= 0)
        return 0;
    if (n->left_s > 0) {
        n->left_s -= dt;
        /* Stop pushing once the car is far off in the direction of the push (u > 0 = right). */
        if (n->left_s <= 0 || (n->offset > 0 ? cte : -cte) > NOISE_MAX_CTE) {
            n->offset = 0;
            n->left_s = 0;
        }
        return n->offset;
    }
    /* Draw every step so the sequence depends only on the seed and the step count. */
    double u = sim_rng_unit(&n->rng), mag = sim_rng_range(&n->rng, NOISE_MIN, NOISE_MAX),
           dur = sim_rng_range(&n->rng, NOISE_MIN_S, NOISE_MAX_S), sign = sim_rng_unit(&n->rng) < 0.5 ? -1 : 1;
    if (u < 1.0 - exp(-n->rate_hz * dt)) {
        /* Below 1 the strength scales the size of the pushes; above 1 their rate (noise_init). */
        n->offset = sign * mag * (n->strength < 1 ? n->strength : 1);
        n->left_s = dur;
    }
    return n->offset;
}
