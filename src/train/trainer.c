/* trainer.c — the training epoch and the evaluation pass of steer-train (see trainer.h), and
 * the progress line: redrawn in place at most 4 times a second when stderr is a terminal;
 * otherwise main prints one line per epoch. */
#include "train/trainer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/graph.h"
#include "train/shift.h"

uint64_t tr_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

nn_status tr_check_dataset(const train_config *cfg, const nn_model *m, ds_dataset *ds, nn_err *err)
{
    int h, w, c;
    nn_model_input_shape(m, &h, &w, &c);
    const ds_info *in = ds_get_info(ds);
    int out = nn_model_output_size(m);
    if (in->h != h || in->w != w || in->c != c)
        return nn_fail(err, NN_E_SHAPE, "%s: images are %dx%dx%d but model %s takes %dx%dx%d (HxWxC)", ds_path(ds),
                       in->h, in->w, in->c, nn_model_name(m), h, w, c);
    if (cfg->task == TC_TASK_CLASSIFY) {
        if (in->task != DS_CLASSIFY)
            return nn_fail(err, NN_E_ARG, "%s: dataset holds regression targets but task is classification",
                           ds_path(ds));
        if (in->n_classes > out)
            return nn_fail(err, NN_E_SHAPE, "%s: labels go up to %d but model %s has %d outputs", ds_path(ds),
                           in->n_classes - 1, nn_model_name(m), out);
    } else {
        if (in->task != DS_REGRESS)
            return nn_fail(err, NN_E_ARG, "%s: dataset holds class labels but task is regression", ds_path(ds));
        if (in->n_targets != out)
            return nn_fail(err, NN_E_SHAPE, "%s: %d targets per item but model %s has %d outputs", ds_path(ds),
                           in->n_targets, nn_model_name(m), out);
    }
    return NN_OK;
}

/* The optimizer section of the config as the engine's optimizer configuration. */
static opt_config opt_from_config(const train_config *cfg)
{
    opt_config oc = opt_defaults((opt_kind)cfg->opt_kind);
    oc.momentum = cfg->momentum;
    oc.dampening = cfg->dampening;
    oc.nesterov = cfg->nesterov;
    oc.beta1 = cfg->betas[0];
    oc.beta2 = cfg->betas[1];
    oc.eps = cfg->eps;
    oc.weight_decay = cfg->weight_decay;
    return oc;
}

nn_status tr_init(trainer *tr, const train_config *cfg, nn_model *m, ds_dataset *ds, const tr_comm *comm,
                  nn_err *err)
{
    memset(tr, 0, sizeof *tr);
    tr->comm = comm;
    tr->cfg = cfg;
    tr->m = m;
    tr->ds = ds;
    tr->classify = cfg->task == TC_TASK_CLASSIFY;
    tr->out_size = nn_model_output_size(m);
    tr->xf = (ds_xform){.scale = m->g.pre.scale, .offset = m->g.pre.offset};
    size_t n = ds_count(ds);
    tr->train_idx = malloc(n * sizeof *tr->train_idx);
    tr->val_idx = malloc(n * sizeof *tr->val_idx);
    tr->dloss = malloc((size_t)cfg->batch_size * (size_t)tr->out_size * sizeof *tr->dloss);
    if (!tr->train_idx || !tr->val_idx || !tr->dloss)
        return nn_fail(err, NN_E_NOMEM, "out of memory");
    nn_status s = ds_split(n, cfg->val_split, (uint64_t)cfg->seed, tr->train_idx, &tr->n_train, tr->val_idx,
                           &tr->n_val, err);
    if (s)
        return s;
    tr->n_epoch = tr->n_train;
    if (cfg->dataset_kind != TC_DS_IDX) {
        tr->aug = (aug_config){.flip = cfg->aug_flip, .brightness = (float)cfg->aug_brightness,
                               .shadow = (float)cfg->aug_shadow,
                               .side_cameras = cfg->aug_side_cameras,
                               .zero_threshold = (float)cfg->aug_zero_threshold, .zero_keep = (float)cfg->aug_zero_keep};
        tr->use_aug = aug_per_item(&tr->aug);
        if (cfg->aug_zero_keep < 1.0) {
            s = aug_sampler_init(&tr->sampler, ds, &tr->aug, tr->train_idx, tr->n_train, err);
            if (s)
                return s;
            tr->sample = true;
            tr->n_epoch = aug_sampler_count(&tr->sampler);
            tr->epoch_idx = malloc((tr->n_train ? tr->n_train : 1) * sizeof *tr->epoch_idx);
            if (!tr->epoch_idx)
                return nn_fail(err, NN_E_NOMEM, "out of memory");
        }
    }
    if (tr->n_epoch < (size_t)cfg->batch_size)
        return nn_fail(err, NN_E_ARG, "%s: %zu training items per epoch after the validation split%s, fewer than "
                       "batch_size %d", ds_path(ds), tr->n_epoch,
                       tr->sample ? " and the down-sampling of straight frames" : "", cfg->batch_size);
    tr->batches_per_epoch = tr->n_epoch / (size_t)cfg->batch_size; /* drop_last */
    if (cfg->batch_size < comm->size)
        return tc_error(cfg, TC_BATCH_SIZE, err, NN_E_ARG, "%d is smaller than the %d ranks (mpirun -np): every rank "
                        "needs a share of each batch", cfg->batch_size, comm->size);
    tr->slice_lo = (int)((int64_t)cfg->batch_size * comm->rank / comm->size);
    tr->slice_n = (int)((int64_t)cfg->batch_size * (comm->rank + 1) / comm->size) - tr->slice_lo;
    tr->order = malloc(tr->n_train * sizeof *tr->order);
    tr->rank_items = malloc(tr->batches_per_epoch * (size_t)tr->slice_n * sizeof *tr->rank_items);
    if (!tr->order || !tr->rank_items)
        return nn_fail(err, NN_E_NOMEM, "out of memory");
    s = nn_train_create_on(&tr->t, m, tr->slice_n, cfg->threads, (uint64_t)cfg->seed, cfg->backend, err);
    if (s == NN_E_DEVICE || s == NN_E_UNSUPPORTED) { /* name the config key: backend: cuda without a GPU */
        char why[NN_ERR_LEN];
        snprintf(why, sizeof why, "%s", err->msg);
        return tc_error(cfg, TC_BACKEND, err, s, "%s", why);
    }
    if (s)
        return s;
    if (comm->size > 1) {
        tr->shard = (nn_train_shard){.first = tr->slice_lo, .global_batch = cfg->batch_size,
                                     .sum_f64 = tr_comm_shard_f64, .sum_f32 = tr_comm_shard_f32, .ctx = (void *)comm};
        if ((s = nn_train_set_shard(tr->t, &tr->shard, err)))
            return s;
    }
    tr->softmax_out = nn_train_softmax_output(tr->t);
    if (!tr->classify && tr->softmax_out)
        return nn_fail(err, NN_E_ARG, "%s: model ends in a softmax, which regression cannot train",
                       nn_model_name(m));
    const opt_config oc = opt_from_config(cfg);
    if ((s = nn_train_opt_setup(tr->t, &oc, err))) /* the engine's optimizer, on the context's backend */
        return s;
    tr->n_params = nn_train_param_floats(tr->t);
    tr->n_state = nn_train_opt_state_floats(tr->t);
    tr->opt_mem = nn_train_opt_host(tr->t);
    int64_t bpe = (int64_t)tr->batches_per_epoch;
    tr->sched = (lr_schedule){.kind = (lr_kind)cfg->sched_kind, .lr = cfg->lr,
                              .step_size = (int)(cfg->step_epochs * bpe), .gamma = cfg->gamma,
                              .warmup = (int)(cfg->warmup_epochs * bpe), .warmup_start = cfg->warmup_start,
                              .total = (int)(cfg->epochs * bpe), .min_lr = cfg->min_lr};
    if ((int64_t)cfg->epochs * bpe > 2000000000)
        return nn_fail(err, NN_E_ARG, "too many steps (%lld epochs x %lld batches)", (long long)cfg->epochs,
                       (long long)bpe);
    s = lr_validate(&tr->sched, err);
    if (s)
        return s;
    tr->tty = false;
    tr->t_run0 = tr_now_ns();
    return NN_OK;
}

void tr_free(trainer *tr)
{
    nn_train_free(tr->t);
    free(tr->train_idx);
    free(tr->val_idx);
    free(tr->dloss);
    aug_sampler_free(&tr->sampler);
    free(tr->epoch_idx);
    free(tr->order);
    free(tr->rank_items);
    memset(tr, 0, sizeof *tr);
}

/* Index of the largest of n values. */
static int argmax(const float *v, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best])
            best = i;
    return best;
}

/* Adds a batch's correct predictions or sum of absolute errors to *metric_sum. */
static void batch_metric(const trainer *tr, const float *y, const ds_batch *b, double *metric_sum)
{
    int n = b->n, k = tr->out_size;
    if (tr->classify) {
        for (int r = 0; r < n; r++)
            *metric_sum += argmax(y + (size_t)r * (size_t)k, k) == b->labels[r];
        return;
    }
    for (size_t i = 0; i < (size_t)n * (size_t)k; i++)
        *metric_sum += fabs((double)y[i] - (double)b->targets[i]) / k;
}

/* Loss of a batch (mean) and its gradient into tr->dloss; adds correct predictions or the sum
 * of absolute errors to *metric_sum. */
static double batch_loss(trainer *tr, const float *y, bool y_is_prob, const ds_batch *b, double *metric_sum)
{
    const train_config *cfg = tr->cfg;
    int n = b->n, k = tr->out_size;
    batch_metric(tr, y, b, metric_sum);
    if (tr->classify)
        return nn_loss_softmax_ce(y, y_is_prob, b->labels, n, k, tr->dloss);
    if (cfg->loss_kind == TC_LOSS_HUBER)
        return nn_loss_huber(y, b->targets, n, k, (float)cfg->huber_delta, tr->dloss);
    return nn_loss_mse(y, b->targets, n, k, tr->dloss);
}

static void fmt_time(double s, char *out, size_t cap)
{
    long t = isfinite(s) && s > 0 ? (long)(s + 0.5) : 0;
    if (t >= 3600)
        snprintf(out, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(out, cap, "%ld:%02ld", t / 60, t % 60);
}

static void progress(trainer *tr, int epoch, size_t i, double loss, double metric, size_t seen, double secs)
{
    const train_config *cfg = tr->cfg;
    size_t done = tr->batches_run;
    double per_batch = done ? (double)(tr_now_ns() - tr->t_run0) * 1e-9 / (double)done : 0;
    size_t left = (size_t)(cfg->epochs - epoch - 1) * tr->batches_per_epoch + (tr->batches_per_epoch - i - 1);
    char eta[32];
    fmt_time(per_batch * (double)left, eta, sizeof eta);
    if (tr->classify)
        fprintf(stderr, "\r\033[Kepoch %d/%d  batch %zu/%zu  loss %.4f  acc %.2f%%  %.0f img/s  ETA %s", epoch + 1,
                cfg->epochs, i + 1, tr->batches_per_epoch, loss, 100.0 * metric, secs > 0 ? seen / secs : 0, eta);
    else
        fprintf(stderr, "\r\033[Kepoch %d/%d  batch %zu/%zu  loss %.5f  mae %.4f  %.0f img/s  ETA %s", epoch + 1,
                cfg->epochs, i + 1, tr->batches_per_epoch, loss, metric, secs > 0 ? seen / secs : 0, eta);
    fflush(stderr);
}

nn_status tr_train_epoch(trainer *tr, int epoch, tm_row *row, nn_err *err)
{
    const train_config *cfg = tr->cfg;
    const ds_info *info = ds_get_info(tr->ds);
    size_t img = (size_t)info->h * (size_t)info->w * (size_t)info->c;
    /* the loader's own order (shuffle off) is this rank's slice of every batch of the epoch's
     * permutation, which every rank computes alike (the seed, so the augmentation draws, too) */
    ds_loader_opts lo = {.batch_size = tr->slice_n, .queue_depth = cfg->queue_depth, .shuffle = false,
                         .drop_last = true, .xf = tr->xf,
                         .seed = (uint64_t)cfg->seed * 0x9E3779B97F4A7C15ull + (uint64_t)epoch + 1};
    lo.aug = tr->use_aug ? &tr->aug : NULL;
    const size_t *items = tr->train_idx;
    if (tr->sample) {
        aug_sampler_epoch(&tr->sampler, (uint64_t)cfg->seed, epoch, tr->epoch_idx);
        items = tr->epoch_idx;
    }
    ds_epoch_order(items, tr->n_epoch, lo.seed, 0, tr->order);
    for (size_t k = 0; k < tr->batches_per_epoch; k++)
        memcpy(tr->rank_items + k * (size_t)tr->slice_n, tr->order + k * (size_t)cfg->batch_size + tr->slice_lo,
               (size_t)tr->slice_n * sizeof *tr->order);
    ds_loader *l;
    nn_status s = ds_loader_create(&l, tr->ds, tr->rank_items, tr->batches_per_epoch * (size_t)tr->slice_n, &lo, err);
    if (s)
        return s;
    /* the host copies are authoritative between epochs (checkpoints, --resume) */
    if ((s = nn_train_sync(tr->t, true, err))) {
        ds_loader_free(l);
        return s;
    }
    const nn_loss_kind loss_kind = tr->classify                      ? NN_LOSS_CE
                                   : cfg->loss_kind == TC_LOSS_HUBER ? NN_LOSS_HUBER
                                                                     : NN_LOSS_MSE;
    nn_step_args sa = {.loss = loss_kind, .delta = (float)cfg->huber_delta,
                       .max_norm = cfg->grad_clip > 0 ? (float)cfg->grad_clip : INFINITY};
    double loss_sum = 0, metric_sum = 0, lr = 0;
    size_t seen = 0, i = 0;
    uint64_t t0 = tr_now_ns(), last_draw = 0;
    for (;; i++) {
        const ds_batch *b;
        s = ds_loader_next(l, &b, err);
        if (s || !b)
            break;
        if (cfg->aug_shift > 0) { /* idx digits: each item moved by its own seeded draw (shift.h) */
            for (int r = 0; r < b->n; r++) {
                int dy, dx;
                shift_draw((uint64_t)cfg->seed, epoch, b->items[r], cfg->aug_shift, &dy, &dx);
                shift_image(nn_train_input(tr->t) + (size_t)r * img, b->images + (size_t)r * img, info->h, info->w,
                            info->c, dy, dx, tr->xf.offset);
            }
        } else {
            memcpy(nn_train_input(tr->t), b->images, (size_t)b->n * img * sizeof(float));
        }
        lr = lr_at(&tr->sched, nn_train_opt_steps(tr->t));
        sa.labels = b->labels, sa.targets = b->targets, sa.lr = lr;
        nn_step_result res;
        if ((s = nn_train_step(tr->t, b->n, &sa, &res, err)))
            break;
        const double loss = res.loss;
        batch_metric(tr, res.output, b, &metric_sum);
        if (!isfinite(loss)) {
            snprintf(tr->diverged, sizeof tr->diverged, "epoch %d, batch %zu: loss is %s (learning rate %g)",
                     epoch + 1, i + 1, isnan(loss) ? "NaN" : "Inf", lr);
            s = NN_E_ARG;
            break;
        }
        const float norm = res.grad_norm; /* measured every step: a non-finite gradient stopped the update */
        if (!isfinite(norm)) {
            snprintf(tr->diverged, sizeof tr->diverged,
                     "epoch %d, batch %zu: gradient norm is %s (learning rate %g)", epoch + 1, i + 1,
                     isnan(norm) ? "NaN" : "Inf", lr);
            s = NN_E_ARG;
            break;
        }
        if (tr->steps)
            fprintf(tr->steps, "%d,%zu,%lld,%.9g,%.9g\n", epoch + 1, i + 1, (long long)nn_train_opt_steps(tr->t), loss,
                    lr);
        loss_sum += loss * cfg->batch_size; /* the global batch's mean (every rank has it) */
        seen += (size_t)b->n;
        tr->batches_run++;
        uint64_t now = tr_now_ns();
        if (tr->tty && now - last_draw > 250000000ull) {
            last_draw = now;
            progress(tr, epoch, i, loss_sum / (double)(i + 1) / cfg->batch_size, metric_sum / (double)seen,
                     (i + 1) * (size_t)cfg->batch_size, (now - t0) * 1e-9);
        }
    }
    ds_loader_free(l);
    if (tr->tty)
        fputs("\r\033[K", stderr);
    if (!s) /* parameters (and batch-norm running statistics) and the optimizer state back to the host */
        s = nn_train_sync(tr->t, false, err);
    if (s)
        return s;
    double sums[2] = {metric_sum, (double)seen}; /* every rank's slices */
    tr_comm_sum_f64(tr->comm, sums, 2);
    double secs = (double)(tr_now_ns() - t0) * 1e-9;
    row->epoch = epoch + 1;
    row->train_loss = loss_sum / sums[1];
    row->train_metric = sums[0] / sums[1];
    row->lr = lr;
    row->images_per_s = secs > 0 ? sums[1] / secs : 0;
    return NN_OK;
}

nn_status tr_evaluate(trainer *tr, ds_dataset *ds, const size_t *idx, size_t n, double *loss, double *metric,
                      nn_err *err)
{
    const train_config *cfg = tr->cfg;
    const ds_info *info = ds_get_info(ds);
    size_t img = (size_t)info->h * (size_t)info->w * (size_t)info->c;
    nn_infer *ctx;
    /* evaluation runs where training does (the GPU's inference engine for backend cuda) */
    const nn_infer_opts io = {.max_batch = cfg->batch_size, .threads = cfg->threads,
                              .backend = nn_train_backend(tr->t)};
    nn_status s = nn_infer_create_opts(&ctx, tr->m, &io, err);
    if (s)
        return s;
    const size_t lo_i = n * (size_t)tr->comm->rank / (size_t)tr->comm->size;
    const size_t hi_i = n * (size_t)(tr->comm->rank + 1) / (size_t)tr->comm->size;
    ds_loader_opts lo = {.batch_size = cfg->batch_size, .queue_depth = cfg->queue_depth, .shuffle = false,
                         .drop_last = false, .xf = tr->xf, .seed = 0};
    ds_loader *l = NULL;
    if (hi_i > lo_i && (s = ds_loader_create(&l, ds, idx + lo_i, hi_i - lo_i, &lo, err))) {
        nn_infer_free(ctx);
        return s;
    }
    double loss_sum = 0, metric_sum = 0;
    size_t seen = 0;
    for (; l;) {
        const ds_batch *b;
        s = ds_loader_next(l, &b, err);
        if (s || !b)
            break;
        memcpy(nn_infer_input(ctx), b->images, (size_t)b->n * img * sizeof(float));
        s = nn_infer_run(ctx, b->n, err);
        if (s)
            break;
        loss_sum += batch_loss(tr, nn_infer_output(ctx), tr->softmax_out, b, &metric_sum) * b->n;
        seen += (size_t)b->n;
    }
    ds_loader_free(l);
    nn_infer_free(ctx);
    if (s)
        return s;
    double sums[3] = {loss_sum, metric_sum, (double)seen}; /* every rank's block */
    tr_comm_sum_f64(tr->comm, sums, 3);
    *loss = sums[2] > 0 ? sums[0] / sums[2] : NAN;
    *metric = sums[2] > 0 ? sums[1] / sums[2] : NAN;
    return NN_OK;
}
