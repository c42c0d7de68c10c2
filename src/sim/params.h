/* params.h — the simulator's numeric parameters (shared by `steerctl sim record` and `sim drive`):
 * one table of options (name, type, bounds, unit, field offset) drives the command-line parsing,
 * the defaults, the help text and the checks, so an impossible value (negative speed, a lane of
 * zero width) is refused with one line naming the option, the bounds and the value. */
#ifndef STEERD_SIM_PARAMS_H
#define STEERD_SIM_PARAMS_H

#include <stdint.h>
#include <stdio.h>

#include "nn/nn.h"

#define SIM_FRAME_W 320 /* the Udacity simulator's camera frame: 320x160 RGB */
#define SIM_FRAME_H 160
#define SIM_MAX_STEER_DEG 25.0 /* steering in [-1, 1] = angle / 25 degrees (Udacity) */

typedef struct {
    uint64_t seed;        /* --seed: roads, looks and noise all derive from it */
    long roads;           /* --roads: roads (episodes) to drive, each a new random road */
    double seconds;       /* --seconds: length of each road's drive (used when frames == 0) */
    long frames;          /* --frames: frames per road (0: seconds * fps) */
    double fps;           /* --fps: frames per second (physics and the expert step at >= 30 Hz) */
    double speed;         /* --speed: m/s, constant */
    double lane_width;    /* --lane-width: m; each road varies it by up to +-8 % */
    double curvature;     /* --curvature: largest |curvature| of the roads, 1/m */
    double noise;         /* --noise: strength of the steering perturbations (0 = none) */
    double side_offset;   /* --side-offset: m, lateral offset of the left/right cameras */
    double lookahead;     /* --lookahead: s, the expert's look-ahead time (distance = speed * s) */
    double wheelbase;     /* --wheelbase: m */
    double steer_tau;     /* --steer-lag: s, first-order lag of the steering actuator */
} sim_params;

/* Defaults for a mode: record drives with noise 1 (recovery data), drive with noise 0. */
void sim_params_defaults(sim_params *p, int record_mode);

/* Parses one option `name value` into p. Returns 1 when consumed, 0 when name is not a
 * simulator parameter, -1 (err set: `--speed: expected a number in (0, 40] m/s (got '-3')`)
 * when the value is bad (NULL: `--speed: missing value (expected ...)`). */
int sim_params_parse(sim_params *p, const char *name, const char *value, nn_err *err);

/* For a getopt_long table: opts[0..SIM_PARAMS_N) <- the parameters (every one takes a value),
 * option i with val first_val + i; sim_params_parse_nth parses option i's value as above. */
#define SIM_PARAMS_N 13
struct option;
void sim_params_options(struct option *opts, int first_val);
int sim_params_parse_nth(sim_params *p, int i, const char *value, nn_err *err);
/* Cross-field checks (the road fits in memory, frames per road >= 1). */
nn_status sim_params_check(const sim_params *p, nn_err *err);
/* Frames of one road. */
long sim_params_frames(const sim_params *p);
/* Help lines for the options (`  --speed M/S   ...`). */
void sim_params_help(FILE *f);

#endif
