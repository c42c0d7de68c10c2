/* ds_drivelog.h — the driving-log dataset kinds "udacity", "sullychen" and "donkey": a drive
 * read by src/io/drivelog.h (one row = one item), each item's frame decoded (src/io/image.h,
 * JPEG/PNG) and made into the model input by the daemon's own preprocessing
 * (src/nn/preprocess.h: the model YAML's crop, bilinear resize, x = pixel * scale + offset);
 * the regression target is the row's steering in [-1, 1] (a side camera's +- the steering
 * correction, clipped to [-1, 1]).
 * Images the log lists but that are missing: those rows are left out and counted (ds_note);
 * more than 1% of the listed images missing is an error unless opts->allow_missing. A frame
 * that fails to decode is an error naming the log file, line, field and image. Built when
 * src/io is (STEERD_HAVE_IO). */
#ifndef STEERD_TRAIN_DS_DRIVELOG_H
#define STEERD_TRAIN_DS_DRIVELOG_H

#include "train/dataset.h"

/* Share of the listed images that may be missing without allow_missing. */
#define DS_MAX_MISSING 0.01

/* kind: "udacity", "sullychen" or "donkey"; path: the log's folder or file. */
nn_status ds_drivelog_open(ds_dataset **out, const char *kind, const char *path, const ds_open_opts *opts,
                           nn_err *err);

#endif
