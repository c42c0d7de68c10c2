/* drivelog.h — recorded drives as a list of frames with their recorded controls. Today: the
 * Udacity simulator's folder (`driving_log.csv` next to `IMG/`), with or without its header line
 * `center,left,right,steering,throttle,brake,speed`. The simulator writes absolute paths of the
 * machine that recorded (`C:\Users\..\IMG\center_2016_12_01_13_30_48_287.jpg`,
 * `/home/../IMG/...`) or relative ones (`IMG/center_...jpg`): every image is looked up as
 * `<log folder>/IMG/<basename>` first, then as written (relative to the log folder). Every row
 * is checked at load; the first bad one fails the load with one line
 * `file:line: field: problem (got value)`. Shared by `steerctl replay` and the trainer. */
#ifndef STEERD_IO_DRIVELOG_H
#define STEERD_IO_DRIVELOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nn/nn.h"

typedef struct {
    const char *center, *left, *right; /* resolved paths (left/right: "" when the field is empty) */
    float steering;                    /* [-1, 1]: angle / the simulator's 25 degrees */
    float throttle, brake, speed;
    int line;                          /* line in the CSV (from 1) */
    bool has_time;                     /* t_ms was parsed from the centre image's file name */
    int64_t t_ms;                      /* ms since 1970 (UTC, as written) of center_YYYY_MM_DD_HH_MM_SS_mmm */
} io_drive_row;

typedef struct {
    char path[4096];        /* the CSV */
    char dir[4096];         /* its folder */
    bool header;            /* the first line was the header */
    bool all_timed;         /* every row has_time and times never decrease */
    io_drive_row *rows;
    size_t n;
    char *pool;             /* resolved paths, NUL-separated (rows point into it) */
    size_t pool_len, pool_cap, rows_cap;
} io_drive_log;

typedef struct {
    bool check_images;      /* every non-empty image path must exist (default true) */
} io_drive_opts;

/* Reads a Udacity driving_log.csv (opts NULL: defaults). On failure nothing is left allocated. */
nn_status io_udacity_load(io_drive_log *log, const char *csv_path, const io_drive_opts *opts, nn_err *err);
void io_drive_log_free(io_drive_log *log);

/* Milliseconds since 1970 of a Udacity image name `<camera>_YYYY_MM_DD_HH_MM_SS_mmm.<ext>`
 * (any directory part is ignored); false when the name does not have that form. */
bool io_udacity_time(const char *path, int64_t *t_ms);
/* The file name part of a path written on any system (after the last '/' or '\'). */
const char *io_basename_any(const char *path);

#endif
