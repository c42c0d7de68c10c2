/* dataset.c — dataset kinds behind one small vtable (ds_ops), the seeded split / epoch order,
 * and the loader: one decode thread filling a ring of preallocated batch buffers (states
 * FREE -> FILLING -> READY -> HELD -> FREE, guarded by one mutex and two condition variables),
 * so the caller's training step overlaps decoding and no batch allocates. */
#include "train/dataset.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/sha256.h"
#include "train/augment.h"
#include "train/ds_drivelog.h"
#include "train/idx.h"

/* ---- the vtable and the kinds ---- */

struct ds_dataset {
    const ds_ops *ops;
    ds_info info;
    char path[4096];
    void *impl;
};

typedef nn_status (*ds_open_fn)(ds_dataset *ds, const char *path, const ds_open_opts *o, nn_err *err);

/* ---- idx ---- */

typedef struct {
    idx_array images, labels;
    char digest[72]; /* the identity: both files' decoded content */
} idx_impl;

static size_t idx_count(const ds_dataset *ds) { return ((const idx_impl *)ds->impl)->images.count; }

static nn_status idx_get(ds_dataset *ds, size_t i, const ds_xform *xf, float *image, int32_t *label,
                         float *target, nn_err *err)
{
    (void)target;
    const idx_impl *d = ds->impl;
    if (i >= d->images.count)
        return nn_fail(err, NN_E_ARG, "%s: item %zu out of range (expected < %zu)", ds->path, i, d->images.count);
    size_t px = (size_t)d->images.rows * (size_t)d->images.cols;
    const uint8_t *src = d->images.data + i * px;
    if (image)
        for (size_t k = 0; k < px; k++)
            image[k] = (float)src[k] * xf->scale + xf->offset;
    if (label)
        *label = d->labels.data[i];
    return NN_OK;
}

static void idx_close(ds_dataset *ds)
{
    idx_impl *d = ds->impl;
    if (d) {
        idx_free(&d->images);
        idx_free(&d->labels);
        free(d);
    }
}

static const char *idx_digest(const ds_dataset *ds) { return ((const idx_impl *)ds->impl)->digest; }

static const ds_ops idx_ops = {idx_count, idx_get, idx_close, NULL, NULL, idx_digest};

/* The labels file of an MNIST-style images file: "...images-idx3..." -> "...labels-idx1...". */
static nn_status idx_labels_name(const char *images, char *out, size_t cap, nn_err *err)
{
    const char *base = strrchr(images, '/');
    base = base ? base + 1 : images;
    const char *hit = strstr(base, "images-idx3");
    if (!hit)
        return nn_fail(err, NN_E_ARG,
                       "%s: cannot derive the labels file name (expected 'images-idx3' in the file name, got '%s')",
                       images, base);
    int n = snprintf(out, cap, "%.*slabels-idx1%s", (int)(hit - images), images, hit + strlen("images-idx3"));
    if (n < 0 || (size_t)n >= cap)
        return nn_fail(err, NN_E_ARG, "%s: path too long", images);
    return NN_OK;
}

static nn_status idx_open(ds_dataset *ds, const char *path, const ds_open_opts *o, nn_err *err)
{
    char lpath[4096];
    const char *labels = o ? o->labels_path : NULL;
    if (!labels) {
        nn_status s = idx_labels_name(path, lpath, sizeof lpath, err);
        if (s)
            return s;
        labels = lpath;
    }
    int n_classes = o ? o->n_classes : 0;
    if (n_classes < 0 || n_classes > 256)
        return nn_fail(err, NN_E_ARG, "%s: n_classes out of range (expected 0..256, got %d)", path, n_classes);
    idx_impl *d = calloc(1, sizeof *d);
    if (!d)
        return nn_fail(err, NN_E_NOMEM, "%s: out of memory", path);
    nn_status s = idx_load_pair(&d->images, &d->labels, path, labels, err);
    if (s) {
        free(d);
        return s;
    }
    int max = 0;
    for (size_t i = 0; i < d->labels.count; i++) {
        int v = d->labels.data[i];
        if (n_classes && v >= n_classes) {
            s = nn_fail(err, NN_E_PARSE, "%s: record %zu: label out of range (expected 0..%d, got %d)", labels, i,
                        n_classes - 1, v);
            idx_free(&d->images);
            idx_free(&d->labels);
            free(d);
            return s;
        }
        if (v > max)
            max = v;
    }
    char both[2 * sizeof d->images.digest + 8];
    snprintf(both, sizeof both, "idx\n%s\n%s\n", d->images.digest, d->labels.digest);
    sha256_tag(both, strlen(both), d->digest);
    ds->ops = &idx_ops;
    ds->impl = d;
    ds->info = (ds_info){.h = d->images.rows, .w = d->images.cols, .c = 1, .task = DS_CLASSIFY,
                         .n_classes = n_classes ? n_classes : max + 1, .n_targets = 0};
    return NN_OK;
}

/* Kind table: idx fills a dataset in place (open); the driving logs make theirs with ds_create
 * (ds_drivelog.c, built with src/io). */
typedef nn_status (*ds_create_fn)(ds_dataset **out, const char *kind, const char *path, const ds_open_opts *o,
                                  nn_err *err);
#ifdef STEERD_HAVE_IO
#define DRIVELOG_OPEN ds_drivelog_open
#else
#define DRIVELOG_OPEN NULL
#endif
static const struct {
    const char *name;
    ds_open_fn open;
    ds_create_fn create;
} ds_kinds[] = {
    {"idx", idx_open, NULL},
    {"udacity", NULL, DRIVELOG_OPEN},
    {"sullychen", NULL, DRIVELOG_OPEN},
    {"donkey", NULL, DRIVELOG_OPEN},
};

nn_status ds_open(ds_dataset **out, const char *kind, const char *path, const ds_open_opts *opts, nn_err *err)
{
    *out = NULL;
    if (!kind || !path)
        return nn_fail(err, NN_E_ARG, "dataset: no kind or path");
    size_t k = 0, nk = sizeof ds_kinds / sizeof ds_kinds[0];
    while (k < nk && strcmp(ds_kinds[k].name, kind) != 0)
        k++;
    if (k == nk)
        return nn_fail(err, NN_E_ARG, "%s: unknown dataset kind (expected idx, udacity, sullychen or donkey, got '%s')",
                       path, kind);
    if (ds_kinds[k].create)
        return ds_kinds[k].create(out, kind, path, opts, err);
    if (!ds_kinds[k].open)
        return nn_fail(err, NN_E_UNSUPPORTED,
                       "%s: dataset kind '%s' needs src/io (libjpeg and libpng), which this build lacks", path, kind);
    if (strlen(path) >= sizeof((ds_dataset *)0)->path)
        return nn_fail(err, NN_E_ARG, "%s: path too long", path);
    ds_dataset *ds = calloc(1, sizeof *ds);
    if (!ds)
        return nn_fail(err, NN_E_NOMEM, "%s: out of memory", path);
    strcpy(ds->path, path);
    nn_status s = ds_kinds[k].open(ds, path, opts, err);
    if (s) {
        free(ds);
        return s;
    }
    if (ds->ops->count(ds) == 0) {
        ds_close(ds);
        return nn_fail(err, NN_E_PARSE, "%s: empty dataset (expected at least 1 item, got 0)", path);
    }
    *out = ds;
    return NN_OK;
}

nn_status ds_create(ds_dataset **out, const ds_ops *ops, void *impl, const ds_info *info, const char *path,
                    nn_err *err)
{
    *out = NULL;
    if (!ops || !ops->count || !ops->get || !ops->close || !info || !path)
        return nn_fail(err, NN_E_ARG, "dataset: incomplete operations or info");
    if (info->h < 1 || info->w < 1 || info->c < 1)
        return nn_fail(err, NN_E_ARG, "%s: image shape out of range (expected >= 1 each, got %dx%dx%d)", path,
                       info->h, info->w, info->c);
    if (info->task == DS_CLASSIFY ? info->n_classes < 1
                                  : info->task != DS_REGRESS || info->n_targets < 1 || info->n_targets > 64)
        return nn_fail(err, NN_E_ARG, "%s: task out of range (expected classes >= 1 or 1..64 targets, got task %d, "
                       "%d classes, %d targets)", path, (int)info->task, info->n_classes, info->n_targets);
    if (strlen(path) >= sizeof((ds_dataset *)0)->path)
        return nn_fail(err, NN_E_ARG, "%s: path too long", path);
    ds_dataset *ds = calloc(1, sizeof *ds);
    if (!ds)
        return nn_fail(err, NN_E_NOMEM, "%s: out of memory", path);
    strcpy(ds->path, path);
    ds->ops = ops;
    ds->impl = impl;
    ds->info = *info;
    if (ops->count(ds) == 0) {
        free(ds);
        return nn_fail(err, NN_E_PARSE, "%s: empty dataset (expected at least 1 item, got 0)", path);
    }
    *out = ds;
    return NN_OK;
}

void *ds_impl(const ds_dataset *ds) { return ds->impl; }

void ds_close(ds_dataset *ds)
{
    if (!ds)
        return;
    if (ds->ops)
        ds->ops->close(ds);
    free(ds);
}

size_t ds_count(const ds_dataset *ds) { return ds->ops->count(ds); }
const ds_info *ds_get_info(const ds_dataset *ds) { return &ds->info; }
const char *ds_path(const ds_dataset *ds) { return ds->path; }

nn_status ds_item(ds_dataset *ds, size_t i, const ds_xform *xf, float *image, int32_t *label, float *target,
                  nn_err *err)
{
    static const ds_xform identity = {1.0f, 0.0f, DS_CAMERA_CENTER};
    return ds->ops->get(ds, i, xf ? xf : &identity, image, label, target, err);
}

nn_status ds_target(const ds_dataset *ds, size_t i, float *target, nn_err *err)
{
    if (!ds->ops->target)
        return nn_fail(err, NN_E_UNSUPPORTED, "%s: this dataset kind cannot give targets without decoding", ds->path);
    if (i >= ds->ops->count(ds))
        return nn_fail(err, NN_E_ARG, "%s: item %zu out of range (expected < %zu)", ds->path, i, ds->ops->count(ds));
    return ds->ops->target(ds, i, target, err);
}

const char *ds_digest(const ds_dataset *ds)
{
    const char *d = ds->ops->digest ? ds->ops->digest(ds) : NULL;
    return d ? d : "";
}

const char *ds_note(const ds_dataset *ds)
{
    const char *n = ds->ops->note ? ds->ops->note(ds) : NULL;
    return n ? n : "";
}

/* ---- seeded order ---- */

uint64_t ds_rng_next(ds_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t ds_rng_below(ds_rng *r, uint64_t bound)
{
    if (bound <= 1)
        return 0;
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound; /* reject the biased tail */
    uint64_t x;
    do
        x = ds_rng_next(r);
    while (x >= limit);
    return x % bound;
}

static void shuffle(size_t *a, size_t n, ds_rng *r)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)ds_rng_below(r, i);
        size_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

void ds_epoch_order(const size_t *indices, size_t n, uint64_t seed, int epoch, size_t *out)
{
    if (out != indices)
        memcpy(out, indices, n * sizeof *out);
    ds_rng r = {seed};
    r.s = ds_rng_next(&r) ^ (0xd1b54a32d192ed03ull * (uint64_t)(epoch + 1));
    shuffle(out, n, &r);
}

nn_status ds_split(size_t n, double val_fraction, uint64_t seed, size_t *train, size_t *n_train, size_t *val,
                   size_t *n_val, nn_err *err)
{
    if (!(val_fraction >= 0.0 && val_fraction < 1.0))
        return nn_fail(err, NN_E_ARG, "dataset: validation split out of range (expected 0 <= split < 1, got %g)",
                       val_fraction);
    size_t nv = (size_t)llround((double)n * val_fraction);
    if (nv >= n && n > 0)
        return nn_fail(err, NN_E_ARG, "dataset: validation split %g leaves no training items (expected < %zu, got %zu)",
                       val_fraction, n, nv);
    size_t *perm = malloc((n ? n : 1) * sizeof *perm);
    unsigned char *is_val = calloc(n ? n : 1, 1);
    if (!perm || !is_val) {
        free(perm);
        free(is_val);
        return nn_fail(err, NN_E_NOMEM, "dataset: out of memory splitting %zu items", n);
    }
    for (size_t i = 0; i < n; i++)
        perm[i] = i;
    ds_rng r = {seed ^ 0x5eed5eed5eed5eedull};
    shuffle(perm, n, &r);
    for (size_t i = 0; i < nv; i++)
        is_val[perm[i]] = 1;
    size_t t = 0, v = 0;
    for (size_t i = 0; i < n; i++) {
        if (is_val[i])
            val[v++] = i;
        else
            train[t++] = i;
    }
    *n_train = t;
    *n_val = v;
    free(perm);
    free(is_val);
    return NN_OK;
}

/* ---- loader ---- */

typedef enum { SLOT_FREE = 0, SLOT_FILLING, SLOT_READY, SLOT_HELD } slot_state;

typedef struct {
    slot_state state;
    ds_batch b;
    nn_status status; /* decode result */
    nn_err err;
} slot;

struct ds_loader {
    ds_dataset *ds;
    ds_loader_opts o;
    size_t n, per_epoch;
    size_t *indices;      /* the caller's items */
    size_t *order;        /* producer only: the current epoch's order */
    slot *slots;
    int n_slots;
    float *images;        /* one allocation for every slot's buffers */
    int32_t *labels;
    float *targets;
    size_t *items;

    pthread_t thread;
    bool sync_ready;      /* mutex and condition variables initialised */
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv_free, cv_ready;
    bool stop;
    uint64_t cons_seq;    /* batches taken (all epochs) */
    size_t cons_in_epoch; /* batches taken in the current epoch; per_epoch = end reached */
    int held;             /* slot the caller holds, -1 none */
    nn_status failed;
    nn_err failed_err;
    ds_loader_stats stats;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int count_ready(const ds_loader *l)
{
    int n = 0;
    for (int i = 0; i < l->n_slots; i++)
        n += l->slots[i].state == SLOT_READY;
    return n;
}

/* Decodes batch `seq` (epoch seq / per_epoch) into s. */
static nn_status fill(ds_loader *l, slot *s, uint64_t seq, nn_err *err)
{
    const ds_info *info = &l->ds->info;
    size_t img = (size_t)info->h * (size_t)info->w * (size_t)info->c;
    size_t bi = (size_t)(seq % l->per_epoch);
    int epoch = (int)(seq / l->per_epoch);
    if (bi == 0) {
        if (l->o.shuffle)
            ds_epoch_order(l->indices, l->n, l->o.seed, epoch, l->order);
        else
            memcpy(l->order, l->indices, l->n * sizeof *l->order);
    }
    size_t first = bi * (size_t)l->o.batch_size;
    size_t n = l->n - first < (size_t)l->o.batch_size ? l->n - first : (size_t)l->o.batch_size;
    s->b.n = (int)n;
    s->b.epoch = epoch;
    s->b.index = bi;
    size_t *items = (size_t *)s->b.items;
    /* augmentation draws: seeded by (loader seed, epoch, item), independent of thread timing */
    uint64_t aug_seed = l->o.seed ^ (0x94d049bb133111ebull * (uint64_t)(epoch + 1));
    for (size_t r = 0; r < n; r++) {
        items[r] = l->order[first + r];
        ds_xform xf = l->o.xf;
        aug_draw d = aug_pick(l->o.aug, aug_seed, items[r]);
        xf.camera = d.camera;
        float *image = s->b.images + r * img;
        float *target = s->b.targets ? s->b.targets + r * (size_t)info->n_targets : NULL;
        nn_status st = ds_item(l->ds, items[r], &xf, image, s->b.labels + r, target, err);
        if (st)
            return st;
        if (aug_per_item(l->o.aug))
            aug_apply(&d, &xf, image, info->h, info->w, info->c, target, info->n_targets);
    }
    return NN_OK;
}

static void *producer(void *arg)
{
    ds_loader *l = arg;
    for (uint64_t seq = 0;; seq++) {
        slot *s = &l->slots[seq % (uint64_t)l->n_slots];
        pthread_mutex_lock(&l->mu);
        while (!l->stop && s->state != SLOT_FREE)
            pthread_cond_wait(&l->cv_free, &l->mu);
        if (l->stop) {
            pthread_mutex_unlock(&l->mu);
            return NULL;
        }
        s->state = SLOT_FILLING;
        pthread_mutex_unlock(&l->mu);

        s->status = fill(l, s, seq, &s->err);

        pthread_mutex_lock(&l->mu);
        s->state = SLOT_READY;
        l->stats.produced++;
        int q = count_ready(l);
        if (q > l->stats.max_queued)
            l->stats.max_queued = q;
        pthread_cond_signal(&l->cv_ready);
        pthread_mutex_unlock(&l->mu);
        if (s->status)
            return NULL; /* the consumer reports it; nothing after an error */
    }
}

nn_status ds_loader_create(ds_loader **out, ds_dataset *ds, const size_t *indices, size_t n,
                           const ds_loader_opts *opts, nn_err *err)
{
    *out = NULL;
    const ds_info *info = &ds->info;
    if (opts->batch_size < 1)
        return nn_fail(err, NN_E_ARG, "%s: batch_size out of range (expected >= 1, got %d)", ds->path,
                       opts->batch_size);
    if (opts->queue_depth < 2 || opts->queue_depth > 64)
        return nn_fail(err, NN_E_ARG, "%s: queue_depth out of range (expected 2..64, got %d)", ds->path,
                       opts->queue_depth);
    if (n == 0)
        return nn_fail(err, NN_E_ARG, "%s: empty dataset (expected at least 1 item, got 0)", ds->path);
    size_t total = ds_count(ds);
    for (size_t i = 0; i < n; i++)
        if (indices[i] >= total)
            return nn_fail(err, NN_E_ARG, "%s: item index %zu out of range (expected < %zu, got %zu)", ds->path, i,
                           total, indices[i]);
    size_t per_epoch = opts->drop_last ? n / (size_t)opts->batch_size
                                       : (n + (size_t)opts->batch_size - 1) / (size_t)opts->batch_size;
    if (per_epoch == 0)
        return nn_fail(err, NN_E_ARG, "%s: %zu items make no full batch of %d (drop_last)", ds->path, n,
                       opts->batch_size);
    ds_loader *l = calloc(1, sizeof *l);
    if (!l)
        return nn_fail(err, NN_E_NOMEM, "%s: out of memory", ds->path);
    l->ds = ds;
    l->o = *opts;
    l->n = n;
    l->per_epoch = per_epoch;
    l->held = -1;
    l->n_slots = opts->queue_depth;
    size_t bs = (size_t)opts->batch_size, img = (size_t)info->h * (size_t)info->w * (size_t)info->c;
    size_t ns = (size_t)l->n_slots, nt = (size_t)info->n_targets;
    l->indices = malloc(n * sizeof *l->indices);
    l->order = malloc(n * sizeof *l->order);
    l->slots = calloc(ns, sizeof *l->slots);
    l->images = malloc(ns * bs * img * sizeof *l->images);
    l->labels = calloc(ns * bs, sizeof *l->labels);
    l->items = calloc(ns * bs, sizeof *l->items);
    l->targets = nt ? calloc(ns * bs * nt, sizeof *l->targets) : NULL;
    if (!l->indices || !l->order || !l->slots || !l->images || !l->labels || !l->items || (nt && !l->targets)) {
        ds_loader_free(l);
        return nn_fail(err, NN_E_NOMEM, "%s: out of memory for %zu batch buffers of %zu images", ds->path, ns, bs);
    }
    memcpy(l->indices, indices, n * sizeof *indices);
    for (size_t i = 0; i < ns; i++) {
        ds_batch *b = &l->slots[i].b;
        b->images = l->images + i * bs * img;
        b->labels = l->labels + i * bs;
        b->items = l->items + i * bs;
        b->targets = nt ? l->targets + i * bs * nt : NULL;
    }
    if (pthread_mutex_init(&l->mu, NULL))
        goto no_sync;
    if (pthread_cond_init(&l->cv_free, NULL)) {
        pthread_mutex_destroy(&l->mu);
        goto no_sync;
    }
    if (pthread_cond_init(&l->cv_ready, NULL)) {
        pthread_cond_destroy(&l->cv_free);
        pthread_mutex_destroy(&l->mu);
        goto no_sync;
    }
    l->sync_ready = true;
    if (pthread_create(&l->thread, NULL, producer, l) != 0) {
        ds_loader_free(l);
        return nn_fail(err, NN_E_NOMEM, "%s: cannot start the decode thread", ds->path);
    }
    l->started = true;
    *out = l;
    return NN_OK;
no_sync:
    ds_loader_free(l);
    return nn_fail(err, NN_E_NOMEM, "%s: cannot create the loader's locks", ds->path);
}

size_t ds_loader_batches(const ds_loader *l) { return l->per_epoch; }

nn_status ds_loader_next(ds_loader *l, const ds_batch **b, nn_err *err)
{
    *b = NULL;
    pthread_mutex_lock(&l->mu);
    if (l->held >= 0) {
        l->slots[l->held].state = SLOT_FREE;
        l->held = -1;
        pthread_cond_signal(&l->cv_free);
    }
    if (l->failed) {
        nn_status s = l->failed;
        if (err)
            *err = l->failed_err;
        pthread_mutex_unlock(&l->mu);
        return s;
    }
    if (l->cons_in_epoch == l->per_epoch) {
        l->cons_in_epoch = 0; /* end of epoch: report it once */
        pthread_mutex_unlock(&l->mu);
        return NN_OK;
    }
    int i = (int)(l->cons_seq % (uint64_t)l->n_slots);
    slot *s = &l->slots[i];
    uint64_t t0 = now_ns();
    while (s->state != SLOT_READY)
        pthread_cond_wait(&l->cv_ready, &l->mu);
    l->stats.wait_ns += now_ns() - t0;
    nn_status st = s->status;
    if (st) {
        l->failed = st;
        l->failed_err = s->err;
        if (err)
            *err = s->err;
        s->state = SLOT_FREE;
    } else {
        s->state = SLOT_HELD;
        l->held = i;
        l->cons_seq++;
        l->cons_in_epoch++;
        l->stats.consumed++;
        *b = &s->b;
    }
    pthread_mutex_unlock(&l->mu);
    return st;
}

ds_loader_stats ds_loader_get_stats(ds_loader *l)
{
    pthread_mutex_lock(&l->mu);
    ds_loader_stats s = l->stats;
    pthread_mutex_unlock(&l->mu);
    return s;
}

void ds_loader_free(ds_loader *l)
{
    if (!l)
        return;
    if (l->started) {
        pthread_mutex_lock(&l->mu);
        l->stop = true;
        pthread_cond_broadcast(&l->cv_free);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->thread, NULL);
    }
    if (l->sync_ready) {
        pthread_cond_destroy(&l->cv_ready);
        pthread_cond_destroy(&l->cv_free);
        pthread_mutex_destroy(&l->mu);
    }
    free(l->slots);
    free(l->images);
    free(l->labels);
    free(l->items);
    free(l->targets);
    free(l->indices);
    free(l->order);
    free(l);
}
