/* dataset.h — the trainer's one dataset interface and its batch loader.
 * A dataset is opened from a kind and a path (ds_open) and answers count and item i: a float
 * HWC image (x = pixel * scale + offset, pixel 0..255) plus a class label (classification) or
 * target values (regression). Kinds: "idx" (MNIST / Fashion-MNIST layout, raw or gzip, see
 * idx.h) and the driving logs "udacity", "sullychen", "donkey" (ds_drivelog.h: the readers of
 * src/io, frames decoded and cropped/resized to the model input, target = steering; built
 * when src/io is, i.e. with libjpeg and libpng). Each kind is one ds_ops (count, get, close).
 * The loader decodes batches in one background thread into a bounded ring of preallocated
 * buffers (queue_depth of them): per epoch a permutation seeded by (seed, epoch), so the order
 * does not depend on thread timing, and nothing is allocated per batch. With steering
 * augmentation (augment.h) each item's draw is seeded by (seed, epoch, item). */
#ifndef STEERD_TRAIN_DATASET_H
#define STEERD_TRAIN_DATASET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nn/graph.h"
#include "nn/nn.h"

typedef enum { DS_CLASSIFY = 0, DS_REGRESS } ds_task;

typedef struct {
    int h, w, c;        /* item image shape (HWC) */
    ds_task task;
    int n_classes;      /* classification: labels are 0..n_classes-1 */
    int n_targets;      /* regression: floats per item (0 for classification) */
} ds_info;

/* Driving logs: which camera's image an item is read from (side cameras: augment.h). */
enum { DS_CAMERA_CENTER = 0, DS_CAMERA_LEFT, DS_CAMERA_RIGHT };

/* Pixel transform applied while decoding: x = pixel * scale + offset (the model's preprocess),
 * and for driving logs the camera (DS_CAMERA_*; a row without that camera gives the centre). */
typedef struct {
    float scale, offset;
    int camera;
} ds_xform;

typedef struct {
    const char *labels_path; /* idx: the labels file (NULL: the images file name with
                                "images-idx3" replaced by "labels-idx1") */
    int n_classes;           /* idx: 0 = max label + 1; otherwise every label must be below it */
    /* driving logs (udacity, sullychen, donkey): the model input the frames are made into */
    const nn_preprocess *pre; /* the model's crop + resize (required for these kinds) */
    int in_h, in_w, in_c;     /* model input; in_c 3 (RGB) or 1 (grayscale) */
    double max_angle_deg;     /* sullychen: steering = angle / this (0: IO_DEFAULT_MAX_ANGLE_DEG) */
    bool allow_missing;       /* train even when more than 1% of the listed images are missing */
    bool side_cameras;        /* udacity: also read left/right images (augmentation.side_cameras) */
    float steering_correction; /* added for the left camera, subtracted for the right one */
} ds_open_opts;

typedef struct ds_dataset ds_dataset;

/* A dataset kind's operations. get fills image (and label or target) of item i < count;
 * close frees the kind's own state (ds_impl). Optional (NULL when the kind has none): target
 * gives item i's regression targets without decoding its image; note gives a one-line remark
 * about the load (e.g. rows skipped), or ""; digest gives the dataset's identity, a
 * "sha256:<hex>" of the files its item list was read from (IDX: both files' decoded content;
 * driving logs: the bytes of the log and its catalogs, not the images), or "" when unknown. */
typedef struct {
    size_t (*count)(const ds_dataset *ds);
    nn_status (*get)(ds_dataset *ds, size_t i, const ds_xform *xf, float *image, int32_t *label, float *target,
                     nn_err *err);
    void (*close)(ds_dataset *ds);
    nn_status (*target)(const ds_dataset *ds, size_t i, float *target, nn_err *err);
    const char *(*note)(const ds_dataset *ds);
    const char *(*digest)(const ds_dataset *ds);
} ds_ops;

/* Wraps a kind's state as a dataset (info checked: shape >= 1, n_classes >= 1 for
 * classification, n_targets 1..64 for regression; count >= 1). On failure ops->close is not
 * called: impl stays the caller's. */
nn_status ds_create(ds_dataset **out, const ds_ops *ops, void *impl, const ds_info *info, const char *path,
                    nn_err *err);
void *ds_impl(const ds_dataset *ds);

/* kind: "idx" (path = the images file) or a driving log "udacity", "sullychen", "donkey" (path =
 * the log's folder or file; opts->pre and the input size required). opts may be NULL for idx. */
nn_status ds_open(ds_dataset **out, const char *kind, const char *path, const ds_open_opts *opts, nn_err *err);
void ds_close(ds_dataset *ds);
size_t ds_count(const ds_dataset *ds);
const ds_info *ds_get_info(const ds_dataset *ds);
const char *ds_path(const ds_dataset *ds);
/* Item i: image [h*w*c], *label (classification) or target[n_targets] (regression); the unused
 * one may be NULL. Calls on one dataset must not overlap (the loader's thread is the only caller
 * while a loader runs). */
nn_status ds_item(ds_dataset *ds, size_t i, const ds_xform *xf, float *image, int32_t *label, float *target,
                  nn_err *err);
/* Item i's regression targets without its image (kinds with ops->target; NN_E_UNSUPPORTED
 * otherwise). */
nn_status ds_target(const ds_dataset *ds, size_t i, float *target, nn_err *err);
/* The kind's identity hash (ds_ops.digest; "" when the kind has none). */
const char *ds_digest(const ds_dataset *ds);
/* The kind's remark about the load ("" when none). */
const char *ds_note(const ds_dataset *ds);

/* Deterministic splitmix64 stream (per-call state, no globals). */
typedef struct {
    uint64_t s;
} ds_rng;
uint64_t ds_rng_next(ds_rng *r);
/* Uniform in [0, bound) (bound >= 1), unbiased. */
uint64_t ds_rng_below(ds_rng *r, uint64_t bound);

/* Train / validation split of items 0..n-1: a permutation seeded by seed; round(n * val_fraction)
 * items go to validation. Both lists come back in ascending order (capacity n each). */
nn_status ds_split(size_t n, double val_fraction, uint64_t seed, size_t *train, size_t *n_train, size_t *val,
                   size_t *n_val, nn_err *err);
/* The order of an epoch: indices[0..n) permuted by a generator seeded from (seed, epoch). */
void ds_epoch_order(const size_t *indices, size_t n, uint64_t seed, int epoch, size_t *out);

typedef struct {
    int batch_size;      /* >= 1 */
    int queue_depth;     /* batch buffers, >= 2: the one the caller holds + up to depth-1 decoded ahead */
    bool shuffle;        /* false: index order every epoch (validation) */
    bool drop_last;      /* drop a last partial batch */
    uint64_t seed;
    ds_xform xf;
    const struct aug_config *aug; /* steering augmentation per item (augment.h), NULL: none */
} ds_loader_opts;

typedef struct {
    int n;               /* rows in this batch (batch_size except a last partial one) */
    int epoch;           /* from 0 */
    size_t index;        /* batch number within the epoch */
    float *images;       /* [batch_size, h, w, c], first n rows valid */
    int32_t *labels;     /* [batch_size] (classification) */
    float *targets;      /* [batch_size, n_targets] (regression; NULL otherwise) */
    const size_t *items; /* [n] the dataset item of each row */
} ds_batch;

typedef struct {
    uint64_t produced;   /* batches decoded */
    uint64_t consumed;   /* batches handed to the caller */
    int max_queued;      /* most decoded batches waiting at once (<= queue_depth) */
    uint64_t wait_ns;    /* time the caller spent waiting for batches */
} ds_loader_stats;

typedef struct ds_loader ds_loader;

/* Starts the decode thread over items indices[0..n) of ds (copied). ds must outlive the loader. */
nn_status ds_loader_create(ds_loader **out, ds_dataset *ds, const size_t *indices, size_t n,
                           const ds_loader_opts *opts, nn_err *err);
size_t ds_loader_batches(const ds_loader *l);
/* The next batch of the current epoch, valid until the next call; *b == NULL (NN_OK) marks the
 * end of an epoch, and the call after it starts the next one. A decode error is returned once
 * it is reached (and by every later call). */
nn_status ds_loader_next(ds_loader *l, const ds_batch **b, nn_err *err);
ds_loader_stats ds_loader_get_stats(ds_loader *l);
void ds_loader_free(ds_loader *l);

#endif
