/* vehicle.h — kinematic bicycle model (reference point: the rear axle) with a first-order
 * steering actuator. Angles: delta > 0 turns left (counter-clockwise); the Udacity steering value
 * u in [-1, 1] is positive to the right, so delta = -u * 25 degrees (veh_delta_of_steer). */
#ifndef STEERD_SIM_VEHICLE_H
#define STEERD_SIM_VEHICLE_H

typedef struct {
    double wheelbase;   /* m */
    double max_delta;   /* rad, |front wheel angle| limit (25 degrees) */
    double steer_tau;   /* s, actuator time constant (0 = instant) */
} veh_params;

typedef struct {
    double x, y;        /* rear axle, m */
    double heading;     /* rad */
    double v;           /* m/s */
    double delta;       /* current front wheel angle, rad */
    double odometer;    /* m driven */
} veh_state;

/* Advances the car by dt seconds towards the commanded wheel angle (clamped to max_delta). */
void veh_step(veh_state *s, const veh_params *p, double delta_cmd, double dt);
/* Udacity steering u (positive right, +-1 = max_delta) <-> wheel angle delta (positive left). */
double veh_delta_of_steer(const veh_params *p, double u);
double veh_steer_of_delta(const veh_params *p, double delta);
/* A point `ahead` m in front of the rear axle and `right` m to its right. */
void veh_point(const veh_state *s, double ahead, double right, double *x, double *y);

#endif
