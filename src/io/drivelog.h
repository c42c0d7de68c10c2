/* drivelog.h — recorded drives as a list of frames with their recorded controls, read from three
 * layouts into one io_drive_log (docs/FORMATS.md §5 has the details):
 *  - Udacity simulator folder (io_udacity_load, drivelog_udacity.c): `driving_log.csv` next to
 *    `IMG/`, with or without its header line `center,left,right,steering,throttle,brake,speed`.
 *    The simulator writes absolute paths of the machine that recorded
 *    (`C:\Users\..\IMG\center_2016_12_01_13_30_48_287.jpg`, `/home/../IMG/...`) or relative ones
 *    (`IMG/center_...jpg`): every image is looked up as `<log folder>/IMG/<basename>` first, then
 *    as written (relative to the log folder). steering is already [-1, 1] (angle / 25 degrees).
 *  - Sully Chen's datasets (io_sully_load, drivelog_sully.c): `data.txt`, one `file angle` or
 *    `file angle,YYYY-MM-DD HH:MM:SS:mmm` per line, angle in degrees of the steering wheel;
 *    images next to data.txt or in its `data/` subfolder. steering = angle / max_angle_deg.
 *  - Donkey Car tub v2 (io_donkey_load, drivelog_donkey.c): `manifest.json` (5 JSON lines:
 *    inputs, types, metadata, manifest metadata, catalog metadata with `paths` and
 *    `deleted_indexes`), `catalog_N.catalog` (one JSON record per line) and `images/`.
 *    steering = `user/angle` (already [-1, 1]); records listed as deleted are skipped.
 * A path may name the log file or its folder. Every row is checked at load; the first bad one
 * fails the load with one line `file:line: field: problem (got 'value')`. The log files (and
 * Donkey catalogs) must be regular files: a directory, FIFO or device is refused by kind without
 * blocking (`x: is a FIFO, expected a regular file`); so is an image the log names that exists
 * but is not a regular file. Shared by
 * `steerctl replay` and the trainer (src/train/ds_drivelog.c). */
#ifndef STEERD_IO_DRIVELOG_H
#define STEERD_IO_DRIVELOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nn/nn.h"

/* Sully Chen's angles are divided by this when the caller gives no max_angle_deg: the Udacity
 * simulator's +-25 degrees, which is also the zoo's steering scale (`output.scale_deg`). */
#define IO_DEFAULT_MAX_ANGLE_DEG 25.0

typedef struct {
    const char *center, *left, *right; /* resolved paths (left/right: "" when absent) */
    const char *file;                  /* the file the row was read from (CSV, data.txt, catalog) */
    float steering;                    /* [-1, 1] */
    float throttle, brake, speed;      /* 0 where the format has no such field */
    int line;                          /* line in `file` (from 1) */
    bool has_time;                     /* t_ms is known (Udacity: file name; Sully: date; Donkey: _timestamp_ms) */
    int64_t t_ms;                      /* ms since 1970 (UTC, as written) */
} io_drive_row;

typedef struct {
    char path[4096];        /* the log file (driving_log.csv, data.txt, manifest.json) */
    char dir[4096];         /* its folder */
    bool header;            /* Udacity: the first line was the header */
    bool all_timed;         /* every row has_time and times never decrease */
    char digest[72];        /* "sha256:<hex>" of the bytes of every file read (log, then catalogs) */
    io_drive_row *rows;
    size_t n;
    /* image check (io_drive_opts.check_images): images looked up, not found, rows left out
     * (skip_missing), Donkey records skipped as deleted; the first missing image's one line */
    size_t listed, missing, skipped, deleted;
    char first_missing[512];
    char *pool;             /* resolved paths, NUL-separated (rows point into it) */
    size_t pool_len, pool_cap, rows_cap;
} io_drive_log;

typedef struct {
    bool check_images;      /* every image the log names must exist (default true) */
    bool skip_missing;      /* with check_images: a row whose centre image is missing is left out
                               and a missing left/right image becomes "" (counted in listed /
                               missing / skipped) instead of failing the load */
    bool no_side_images;    /* left/right are neither resolved nor checked ("") */
    double max_angle_deg;   /* Sully: |angle| <= this, steering = angle / this (0: the default) */
} io_drive_opts;

/* Each reads a log (path: the log file or its folder; opts NULL: defaults). On failure nothing
 * is left allocated. */
nn_status io_udacity_load(io_drive_log *log, const char *path, const io_drive_opts *opts, nn_err *err);
nn_status io_sully_load(io_drive_log *log, const char *path, const io_drive_opts *opts, nn_err *err);
nn_status io_donkey_load(io_drive_log *log, const char *path, const io_drive_opts *opts, nn_err *err);
/* By format name: "udacity", "sullychen" or "donkey". */
nn_status io_drive_load(io_drive_log *log, const char *format, const char *path, const io_drive_opts *opts,
                        nn_err *err);
void io_drive_log_free(io_drive_log *log);

/* Milliseconds since 1970 of a Udacity image name `<camera>_YYYY_MM_DD_HH_MM_SS_mmm.<ext>`
 * (any directory part is ignored); false when the name does not have that form. */
bool io_udacity_time(const char *path, int64_t *t_ms);
/* Milliseconds since 1970 of `YYYY-MM-DD HH:MM:SS:mmm` (Sully Chen's 2018 data; the fraction
 * may also follow a '.', 1 to 6 digits); false when s does not have that form. */
bool io_sully_time(const char *s, int64_t *t_ms);
/* The file name part of a path written on any system (after the last '/' or '\'). */
const char *io_basename_any(const char *path);

#endif
