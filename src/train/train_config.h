/* train_config.h — steer-train's configuration: one table of keys (dotted name, type, bounds,
 * default, field offset) drives parsing, `--set key=value` overrides, defaults, the effective
 * config dump written into the run directory and the config hash. Parse -> validate: unknown
 * keys, wrong types and out-of-range values fail with `file:line:col: key: problem`; a bad
 * override fails with `--set key=value: problem`. Paths in a file are relative to the file's
 * directory; paths in --set are relative to the current directory. Keys may be written nested
 * (`optimizer: {lr: 0.01}`) or dotted (`optimizer.lr: 0.01`, the form of the dump). */
#ifndef STEERD_TRAIN_CONFIG_H
#define STEERD_TRAIN_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "nn/nn.h"

#define TC_EX_CONFIG 78 /* sysexits.h EX_CONFIG */
#define TC_PATH_LEN 1024

typedef enum { TC_TASK_CLASSIFY = 0, TC_TASK_REGRESS } tc_task;
typedef enum { TC_DS_IDX = 0, TC_DS_UDACITY, TC_DS_SULLYCHEN, TC_DS_DONKEY } tc_dataset_kind;
typedef enum { TC_OPT_SGD = 0, TC_OPT_ADAM, TC_OPT_ADAMW } tc_opt_kind;        /* = opt_kind */
typedef enum { TC_LR_CONSTANT = 0, TC_LR_STEP, TC_LR_COSINE } tc_lr_kind;      /* = lr_kind */
typedef enum { TC_LOSS_CE = 0, TC_LOSS_MSE, TC_LOSS_HUBER } tc_loss_kind;

/* Indices of the table's keys (same order as the table in train_config.c). */
typedef enum {
    TC_MODEL = 0,
    TC_DATASET_KIND,
    TC_DATASET_TRAIN,
    TC_DATASET_TRAIN_LABELS,
    TC_DATASET_TEST,
    TC_DATASET_TEST_LABELS,
    TC_DATASET_CLASSES,
    TC_DATASET_QUEUE_DEPTH,
    TC_DATASET_ALLOW_MISSING,
    TC_TASK,
    TC_BATCH_SIZE,
    TC_EPOCHS,
    TC_OPT_KIND,
    TC_OPT_LR,
    TC_OPT_MOMENTUM,
    TC_OPT_DAMPENING,
    TC_OPT_NESTEROV,
    TC_OPT_BETAS,
    TC_OPT_EPS,
    TC_OPT_WEIGHT_DECAY,
    TC_SCHED_KIND,
    TC_SCHED_WARMUP_EPOCHS,
    TC_SCHED_WARMUP_START,
    TC_SCHED_STEP_EPOCHS,
    TC_SCHED_GAMMA,
    TC_SCHED_MIN_LR,
    TC_LOSS_KIND,
    TC_LOSS_DELTA,
    TC_GRAD_CLIP,
    TC_AUG_FLIP,
    TC_AUG_BRIGHTNESS,
    TC_AUG_SHADOW,
    TC_AUG_SIDE_CAMERAS,
    TC_AUG_STEERING_CORRECTION,
    TC_AUG_ZERO_THRESHOLD,
    TC_AUG_ZERO_KEEP,
    TC_VAL_SPLIT,
    TC_SEED,
    TC_THREADS,
    TC_OUTPUT,
    TC_LOG_STEPS,
    TC_BACKEND,
    TC_AUG_SHIFT,
    TC_REPLICAS,
    TC_NKEYS
} tc_key_id;

typedef struct {
    int line, col; /* where the key's value is; 0 when the default applies */
    bool from_set; /* given by --set */
} tc_pos;

typedef struct {
    char path[TC_PATH_LEN];            /* the file this was read from */
    char model[TC_PATH_LEN];           /* model: architecture YAML */
    int dataset_kind;                  /* dataset.kind: tc_dataset_kind */
    char train[TC_PATH_LEN];           /* dataset.train: idx images file / drive-log folder */
    char train_labels[TC_PATH_LEN];    /* dataset.train_labels: idx labels ("" = derived) */
    char test[TC_PATH_LEN];            /* dataset.test: held-out set evaluated at the end ("" = none) */
    char test_labels[TC_PATH_LEN];     /* dataset.test_labels */
    int classes;                       /* dataset.classes: 0 = from the labels */
    int queue_depth;                   /* dataset.queue_depth: decoded batches buffered */
    bool allow_missing;                /* dataset.allow_missing: driving logs may miss > 1% of images */
    int task;                          /* task: tc_task */
    int batch_size;
    int epochs;
    int opt_kind;                      /* optimizer.kind: tc_opt_kind */
    double lr;                         /* optimizer.lr */
    double momentum, dampening;        /* optimizer.momentum / .dampening (sgd) */
    bool nesterov;                     /* optimizer.nesterov (sgd) */
    double betas[2];                   /* optimizer.betas (adam, adamw) */
    double eps;                        /* optimizer.eps */
    double weight_decay;               /* optimizer.weight_decay (default: the kind's) */
    int sched_kind;                    /* schedule.kind: tc_lr_kind */
    int warmup_epochs;                 /* schedule.warmup_epochs (cosine) */
    double warmup_start;               /* schedule.warmup_start (cosine) */
    int step_epochs;                   /* schedule.step_epochs (step) */
    double gamma;                      /* schedule.gamma (step) */
    double min_lr;                     /* schedule.min_lr (cosine) */
    int loss_kind;                     /* loss.kind (default: from the task) */
    double huber_delta;                /* loss.delta */
    double grad_clip;                  /* grad_clip: max global L2 norm, 0 = off */
    bool aug_flip;                     /* augmentation.* (driving logs; see src/train/augment.h) */
    double aug_brightness;
    double aug_shadow;
    bool aug_side_cameras;
    double aug_steering_correction;
    double aug_zero_threshold;
    double aug_zero_keep;
    double val_split;
    long seed;
    int threads;
    char output[TC_PATH_LEN];          /* output: the run directory */
    bool log_steps;                    /* log_steps: also write steps.csv (loss and lr of every step) */
    nn_backend backend;                /* backend (nn.h; cpu, cuda, auto) */
    int aug_shift;                     /* augmentation.shift: idx only, random shift up to this many pixels */
    int replicas;                      /* replicas: V one-thread slices of every batch (0 = off; replicas.h) */
    int warmup_clipped;                /* set by tc_validate: the schedule.warmup_epochs it shortened (0 = none) */
    tc_pos pos[TC_NKEYS];
} train_config;

/* All defaults (required keys empty). */
void tc_defaults(train_config *c);
/* Parse a YAML file (types, bounds, unknown keys, required keys) into *c (after tc_defaults).
 * Overrides come after with tc_set, then tc_validate. */
nn_status tc_parse_file(train_config *c, const char *path, nn_err *err);
nn_status tc_parse_buffer(train_config *c, const char *buf, size_t len, const char *name, nn_err *err);
/* One `key=value` override (value in YAML scalar syntax). */
nn_status tc_set(train_config *c, const char *assignment, nn_err *err);
/* Cross-field rules and the defaults that depend on other keys (loss from the task, weight
 * decay from the optimizer). */
nn_status tc_validate(train_config *c, nn_err *err);
/* parse + each override + validate. */
nn_status tc_load(train_config *c, const char *path, const char *const *sets, int n_sets, nn_err *err);

const char *tc_key_name(tc_key_id key);
const char *tc_enum_name(tc_key_id key, int value);
/* `key: value` lines of the effective configuration (absolute paths), parseable again. */
void tc_dump(const train_config *c, FILE *f, bool with_output);
/* "sha256:<hex>" of the dump without `output` and `log_steps` (a run's identity: what --resume
 * must match). */
void tc_hash(const train_config *c, char out[72]);
/* `file:line:col: key: message` at the key's value (or `--set key: message`). */
nn_status tc_error(const train_config *c, tc_key_id key, nn_err *err, nn_status s, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif
