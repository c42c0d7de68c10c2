/* record.h — record mode: drives `roads` roads with the expert plus perturbations and writes them
 * in the Udacity simulator's layout, the files `steerctl replay` and the trainer read:
 *   OUT/driving_log.csv   header `center,left,right,steering,throttle,brake,speed`, one row per frame
 *   OUT/IMG/{center,left,right}_YYYY_MM_DD_HH_MM_SS_mmm.jpg   160x320 JPEG
 * steering = the expert's label at that frame ([-1, 1] = angle / 25 degrees, positive right; the
 * car itself was driven with label + perturbation), throttle = speed / 30 mph, brake 0, speed in
 * mph. Times start at 2024-01-01 00:00:00.000 UTC and advance by 1/fps (rounded to ms), with one
 * second between roads. Same parameters -> same bytes. The CSV is written to a temporary name
 * and renamed at the end; an existing driving_log.csv in OUT is never overwritten. */
#ifndef STEERD_SIM_RECORD_H
#define STEERD_SIM_RECORD_H

#include <stdint.h>
#include <stdio.h>

#include "common/histogram.h"
#include "nn/nn.h"
#include "sim/params.h"

#define RECORD_T0_MS 1704067200000LL /* 2024-01-01 00:00:00 UTC */

typedef struct {
    long frames;           /* rows written */
    double mean_abs_cte;   /* m, over all frames */
    double max_abs_cte;
    double mean_abs_label; /* mean |steering label| */
    double max_abs_label;
    histogram render_ns;   /* per camera image */
    histogram encode_ns;   /* per JPEG */
    double wall_s;
} record_stats;

/* progress: one line per road (NULL: quiet). */
nn_status sim_record(const sim_params *p, const char *out_dir, int quality, FILE *progress, record_stats *st,
                     nn_err *err);

#endif
