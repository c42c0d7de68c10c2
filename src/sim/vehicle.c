/* vehicle.c — kinematic bicycle model (see vehicle.h). */
#include "sim/vehicle.h"

#include <math.h>

static double clampd(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

void veh_step(veh_state *s, const veh_params *p, double delta_cmd, double dt)
{
    delta_cmd = clampd(delta_cmd, -p->max_delta, p->max_delta);
    /* Exact solution of tau * d' = cmd - d over dt. */
    s->delta = p->steer_tau > 0 ? delta_cmd + (s->delta - delta_cmd) * exp(-dt / p->steer_tau) : delta_cmd;
    double w = s->v * tan(s->delta) / p->wheelbase; /* yaw rate */
    double dh = w * dt, ds = s->v * dt;
    if (fabs(dh) < 1e-9) {
        s->x += ds * cos(s->heading + dh / 2);
        s->y += ds * sin(s->heading + dh / 2);
    } else {
        /* constant-curvature arc: chord of length 2R sin(dh/2) at the mid heading */
        double chord = 2.0 * (ds / dh) * sin(dh / 2);
        s->x += chord * cos(s->heading + dh / 2);
        s->y += chord * sin(s->heading + dh / 2);
    }
    s->heading += dh;
    s->odometer += ds;
}

double veh_delta_of_steer(const veh_params *p, double u)
{
    return -clampd(u, -1, 1) * p->max_delta;
}

double veh_steer_of_delta(const veh_params *p, double delta)
{
    return clampd(-delta / p->max_delta, -1, 1);
}

void veh_point(const veh_state *s, double ahead, double right, double *x, double *y)
{
    double c = cos(s->heading), sn = sin(s->heading);
    *x = s->x + ahead * c + right * sn;
    *y = s->y + ahead * sn - right * c;
}
