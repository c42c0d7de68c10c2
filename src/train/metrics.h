/* metrics.h — the per-epoch history of a training run and the files made from it in the run
 * directory: log.csv (one row per epoch), metrics.json (the run's summary + history) and the
 * learning-curve chart (chart_svg.c). Every file is written whole, atomically (temp + rename),
 * from the history, so a resumed run rewrites them complete. */
#ifndef STEERD_TRAIN_METRICS_H
#define STEERD_TRAIN_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "nn/nn.h"

/* One epoch. metric = accuracy (0..1, classification) or MAE (regression); NAN = not measured
 * (no validation split). */
typedef struct {
    double epoch;          /* 1-based */
    double train_loss, train_metric;
    double val_loss, val_metric;
    double lr;             /* at the epoch's last step */
    double images_per_s;   /* training throughput */
    double seconds;        /* wall time of the epoch (training + validation) */
} tm_row;

#define TM_ROW_DOUBLES 8   /* tm_row is stored as this many doubles in checkpoints */

typedef struct {
    const char *model_name, *model_path, *dataset, *task, *config_hash, *weights_file;
    int epochs;            /* planned */
    bool classify;
    size_t params;         /* trainable parameter count */
    size_t n_train, n_val;
    /* test set (evaluated once at the end); has_test false: none */
    bool has_test;
    size_t n_test;
    double test_loss, test_metric;
    const char *stopped;   /* NULL, or why the run stopped early */
} tm_summary;

/* Writes dir/log.csv. */
nn_status tm_write_csv(const char *dir, const tm_row *rows, int n, bool classify, nn_err *err);
/* Writes dir/metrics.json. */
nn_status tm_write_json(const char *dir, const tm_summary *s, const tm_row *rows, int n, nn_err *err);
/* Writes dir/curve.svg: loss (train, validation) and accuracy or MAE per epoch. */
nn_status tm_write_svg(const char *dir, const char *title, const tm_row *rows, int n, bool classify, nn_err *err);

/* Opens dir/name.tmp for writing; tm_commit flushes, fsyncs, closes and renames it to
 * dir/name (on failure it is removed). */
FILE *tm_begin(const char *dir, const char *name, char *tmp_path, size_t cap, nn_err *err);
nn_status tm_commit(FILE *f, const char *tmp_path, const char *dir, const char *name, nn_err *err);

#endif
