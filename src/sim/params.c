/* params.c — the simulator's option table: bounds, defaults and parsing of sim_params. */
#include "sim/params.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef enum { OPT_U64, OPT_LONG, OPT_DOUBLE } opt_type;

typedef struct {
    const char *name;
    opt_type type;
    double min, max;
    int min_open;      /* the value must be > min */
    size_t offset;
    const char *unit;
    const char *help;
} opt_row;

#define F(field) offsetof(sim_params, field)
static const opt_row rows[] = {
    {"--seed", OPT_U64, 0, 9007199254740992.0, 0, F(seed), "", "seed of the roads, their looks and the noise"},
    {"--roads", OPT_LONG, 1, 10000, 0, F(roads), "", "roads (episodes), each a new random road"},
    {"--seconds", OPT_DOUBLE, 0, 36000, 1, F(seconds), "s", "drive time per road"},
    {"--frames", OPT_LONG, 1, 10000000, 0, F(frames), "", "frames per road (instead of --seconds)"},
    {"--fps", OPT_DOUBLE, 1, 60, 0, F(fps), "Hz", "frames per second (physics and expert: >= 30 steps/s)"},
    {"--speed", OPT_DOUBLE, 0, 40, 1, F(speed), "m/s", "constant speed"},
    {"--lane-width", OPT_DOUBLE, 2, 6, 0, F(lane_width), "m", "lane width (two lanes; +-8 % per road)"},
    {"--curvature", OPT_DOUBLE, 0, 0.1, 0, F(curvature), "1/m", "largest |curvature| of the roads"},
    {"--noise", OPT_DOUBLE, 0, 3, 0, F(noise), "", "steering perturbation strength (0 = none)"},
    {"--side-offset", OPT_DOUBLE, 0, 3, 0, F(side_offset), "m", "left/right camera offset from the centre"},
    {"--lookahead", OPT_DOUBLE, 0.2, 5, 0, F(lookahead), "s", "expert look-ahead time"},
    {"--wheelbase", OPT_DOUBLE, 1, 5, 0, F(wheelbase), "m", "wheelbase of the bicycle model"},
    {"--steer-lag", OPT_DOUBLE, 0, 1, 0, F(steer_tau), "s", "steering actuator time constant"},
};
#undef F
#define NROWS ((int)(sizeof rows / sizeof rows[0]))
_Static_assert(NROWS == SIM_PARAMS_N, "SIM_PARAMS_N is the number of rows");

void sim_params_defaults(sim_params *p, int record_mode)
{
    memset(p, 0, sizeof *p);
    p->seed = 1;
    p->roads = 1;
    p->seconds = record_mode ? 60 : 30;
    p->frames = 0;
    p->fps = record_mode ? 10 : 30;
    p->speed = 10;
    p->lane_width = 3.6;
    p->curvature = 1.0 / 35.0;
    p->noise = record_mode ? 1.0 : 0.0;
    p->side_offset = 1.0;
    p->lookahead = 0.8;
    p->wheelbase = 2.7;
    p->steer_tau = 0.1;
}

static void bounds_text(const opt_row *r, char *out, size_t cap)
{
    snprintf(out, cap, "%c%.16g, %.16g]%s%s", r->min_open ? '(' : '[', r->min, r->max, r->unit[0] ? " " : "",
             r->unit);
}

int sim_params_parse(sim_params *p, const char *name, const char *value, nn_err *err)
{
    for (int i = 0; i < NROWS; i++)
        if (strcmp(rows[i].name, name) == 0)
            return sim_params_parse_nth(p, i, value, err);
    return 0;
}

void sim_params_options(struct option *opts, int first_val)
{
    for (int i = 0; i < NROWS; i++)
        opts[i] = (struct option){rows[i].name + 2, required_argument, NULL, first_val + i}; /* without "--" */
}

int sim_params_parse_nth(sim_params *p, int i, const char *value, nn_err *err)
{
    const opt_row *r = &rows[i];
    const char *name = r->name;
    char b[96];
    bounds_text(r, b, sizeof b);
    const char *kind = r->type == OPT_DOUBLE ? "a number" : "an integer";
    if (!value) {
        nn_fail(err, NN_E_ARG, "%s: missing value (expected %s in %s)", name, kind, b);
        return -1;
    }
    char *end = NULL;
    errno = 0;
    double v = strtod(value, &end);
    int ok = end != value && *end == 0 && errno == 0 && isfinite(v) && v <= r->max &&
             (r->min_open ? v > r->min : v >= r->min);
    if (ok && r->type != OPT_DOUBLE)
        ok = v == floor(v) && strspn(value, "0123456789") == strlen(value);
    if (!ok) {
        nn_fail(err, NN_E_ARG, "%s: expected %s in %s (got '%s')", name, kind, b, value);
        return -1;
    }
    void *field = (char *)p + r->offset;
    if (r->type == OPT_U64)
        *(uint64_t *)field = (uint64_t)v;
    else if (r->type == OPT_LONG)
        *(long *)field = (long)v;
    else
        *(double *)field = v;
    return 1;
}

long sim_params_frames(const sim_params *p)
{
    return p->frames > 0 ? p->frames : (long)ceil(p->seconds * p->fps - 1e-9);
}

nn_status sim_params_check(const sim_params *p, nn_err *err)
{
    /* Every field in its row's bounds (callers other than the parser fill the struct directly). */
    for (int i = 0; i < NROWS; i++) {
        const opt_row *r = &rows[i];
        const void *f = (const char *)p + r->offset;
        double v = r->type == OPT_U64    ? (double)*(const uint64_t *)f
                   : r->type == OPT_LONG ? (double)*(const long *)f
                                         : *(const double *)f;
        if (r->type == OPT_LONG && r->offset == offsetof(sim_params, frames) && v == 0)
            continue; /* frames 0 = use seconds */
        if (!(v <= r->max) || !(r->min_open ? v > r->min : v >= r->min)) {
            char b[96];
            bounds_text(r, b, sizeof b);
            return nn_fail(err, NN_E_ARG, "%s: expected a value in %s (got %.10g)", r->name, b, v);
        }
    }
    long n = sim_params_frames(p);
    if (n < 1)
        return nn_fail(err, NN_E_ARG, "--seconds: %.10g s at %.10g fps is less than one frame", p->seconds, p->fps);
    double length = p->speed * (double)n / p->fps;
    if (length > 200000)
        return nn_fail(err, NN_E_ARG, "a road of %.0f m (--speed %.10g m/s for %ld frames at %.10g fps) is longer than "
                       "the 200 km limit", length, p->speed, n, p->fps);
    return NN_OK;
}

void sim_params_help(FILE *f)
{
    sim_params rec, drv;
    sim_params_defaults(&rec, 1);
    sim_params_defaults(&drv, 0);
    for (int i = 0; i < NROWS; i++) {
        const opt_row *r = &rows[i];
        char b[96], d[64];
        bounds_text(r, b, sizeof b);
        const void *fr = (const char *)&rec + r->offset, *fd = (const char *)&drv + r->offset;
        double vr = r->type == OPT_U64 ? (double)*(const uint64_t *)fr
                    : r->type == OPT_LONG ? (double)*(const long *)fr : *(const double *)fr;
        double vd = r->type == OPT_U64 ? (double)*(const uint64_t *)fd
                    : r->type == OPT_LONG ? (double)*(const long *)fd : *(const double *)fd;
        if (r->offset == offsetof(sim_params, frames))
            snprintf(d, sizeof d, "default: from --seconds");
        else if (vr == vd)
            snprintf(d, sizeof d, "default %.4g", vr);
        else
            snprintf(d, sizeof d, "default %.4g (record) / %.4g (drive)", vr, vd);
        fprintf(f, "  %-14s %s, %s; %s\n", r->name, r->help, b, d);
    }
}
