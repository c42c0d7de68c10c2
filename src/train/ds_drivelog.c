/* ds_drivelog.c — driving-log datasets (see ds_drivelog.h): ds_ops over an io_drive_log, with
 * one reusable decode buffer and one preprocessing plan per dataset (the loader's thread is the
 * only caller while a loader runs, so they need no lock; the plan's tables are rebuilt without
 * allocation when the frame size changes). */
#ifdef STEERD_HAVE_IO
#include "train/ds_drivelog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/preprocess.h"
#include "io/drivelog.h"
#include "io/image.h"

typedef struct {
    io_drive_log log;
    pp_plan plan;
    io_image img;
    bool sides;
    float correction;
    char note[1024];
} drive_impl;

static size_t drive_count(const ds_dataset *ds) { return ((const drive_impl *)ds_impl(ds))->log.n; }

static float clip1(float v) { return v < -1.0f ? -1.0f : v > 1.0f ? 1.0f : v; }

/* The image and steering of row r seen from `camera` (a missing side camera gives the centre). */
static const char *camera_view(const drive_impl *d, const io_drive_row *r, int camera, const char **field,
                               float *steering)
{
    *field = "center";
    *steering = r->steering;
    if (d->sides && camera == DS_CAMERA_LEFT && r->left[0]) {
        *field = "left";
        *steering = clip1(r->steering + d->correction);
        return r->left;
    }
    if (d->sides && camera == DS_CAMERA_RIGHT && r->right[0]) {
        *field = "right";
        *steering = clip1(r->steering - d->correction);
        return r->right;
    }
    return r->center;
}

static nn_status drive_get(ds_dataset *ds, size_t i, const ds_xform *xf, float *image, int32_t *label,
                           float *target, nn_err *err)
{
    drive_impl *d = ds_impl(ds);
    if (i >= d->log.n)
        return nn_fail(err, NN_E_ARG, "%s: item %zu out of range (expected < %zu)", ds_path(ds), i, d->log.n);
    const io_drive_row *r = &d->log.rows[i];
    const char *field;
    float steering;
    const char *path = camera_view(d, r, xf->camera, &field, &steering);
    if (label)
        *label = 0;
    if (target)
        target[0] = steering;
    if (!image)
        return NN_OK;
    nn_err e;
    nn_status s = io_image_load(&d->img, path, &e);
    if (!s) {
        d->plan.pre.scale = xf->scale;
        d->plan.pre.offset = xf->offset;
        s = pp_run(&d->plan, d->img.data, d->img.width, d->img.height, d->img.width * 3, image, &e);
    }
    if (s)
        return nn_fail(err, s, "%s:%d: %s: %s", r->file, r->line, field, e.msg);
    return NN_OK;
}

static nn_status drive_target(const ds_dataset *ds, size_t i, float *target, nn_err *err)
{
    (void)err;
    const drive_impl *d = ds_impl(ds);
    target[0] = d->log.rows[i].steering;
    return NN_OK;
}

static const char *drive_note(const ds_dataset *ds) { return ((const drive_impl *)ds_impl(ds))->note; }

static void drive_free(drive_impl *d)
{
    if (!d)
        return;
    io_drive_log_free(&d->log);
    pp_free(&d->plan);
    io_image_free(&d->img);
    free(d);
}

static void drive_close(ds_dataset *ds) { drive_free(ds_impl(ds)); }

static const char *drive_digest(const ds_dataset *ds) { return ((const drive_impl *)ds_impl(ds))->log.digest; }

static const ds_ops drive_ops = {drive_count, drive_get, drive_close, drive_target, drive_note, drive_digest};

/* Missing images: an error above DS_MAX_MISSING of the listed ones unless allowed; else a note. */
static nn_status check_missing(drive_impl *d, const char *path, bool allow, nn_err *err)
{
    const io_drive_log *log = &d->log;
    size_t len = 0;
    d->note[0] = '\0';
    if (log->missing) {
        double share = (double)log->missing / (double)log->listed;
        if (share > DS_MAX_MISSING && !allow)
            return nn_fail(err, NN_E_IO,
                           "%s: %zu of %zu listed images are missing (%.1f%%, more than %g%%; --allow-missing "
                           "trains without them); first: %s",
                           path, log->missing, log->listed, 100.0 * share, 100.0 * DS_MAX_MISSING, log->first_missing);
        len += (size_t)snprintf(d->note, sizeof d->note,
                                "%s: %zu of %zu listed images are missing (%.2f%%): %zu rows left out, %zu used; "
                                "first: %s",
                                path, log->missing, log->listed, 100.0 * share, log->skipped, log->n,
                                log->first_missing);
    }
    if (log->deleted && len < sizeof d->note)
        snprintf(d->note + len, sizeof d->note - len, "%s%s: %zu records marked deleted in manifest.json skipped",
                 len ? "; " : "", path, log->deleted);
    return NN_OK;
}

nn_status ds_drivelog_open(ds_dataset **out, const char *kind, const char *path, const ds_open_opts *opts,
                           nn_err *err)
{
    *out = NULL;
    if (!opts || !opts->pre)
        return nn_fail(err, NN_E_ARG, "%s: a '%s' dataset needs the model's input and preprocessing", path, kind);
    if (opts->in_c != 3 && opts->in_c != 1)
        return nn_fail(err, NN_E_SHAPE,
                       "%s: the model takes %dx%dx%d (HxWxC) but driving-log frames are RGB: the model input "
                       "needs 3 channels (or 1, converted to grayscale)",
                       path, opts->in_h, opts->in_w, opts->in_c);
    drive_impl *d = calloc(1, sizeof *d);
    if (!d)
        return nn_fail(err, NN_E_NOMEM, "%s: out of memory", path);
    nn_status s = pp_init(&d->plan, opts->pre, opts->in_h, opts->in_w, opts->in_c, err);
    if (s) {
        free(d);
        return s;
    }
    io_drive_opts io = {.check_images = true, .skip_missing = true, .no_side_images = !opts->side_cameras,
                        .max_angle_deg = opts->max_angle_deg};
    d->sides = opts->side_cameras;
    d->correction = opts->steering_correction;
    s = io_drive_load(&d->log, kind, path, &io, err);
    if (!s)
        s = check_missing(d, path, opts->allow_missing, err);
    if (!s) {
        ds_info info = {.h = opts->in_h, .w = opts->in_w, .c = opts->in_c, .task = DS_REGRESS, .n_targets = 1};
        s = ds_create(out, &drive_ops, d, &info, path, err);
    }
    if (s)
        drive_free(d);
    return s;
}
#else
/* Built without src/io: the driving-log kinds are refused by dataset.c. */
typedef int ds_drivelog_unused;
#endif
