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

/* The replicas of this rank (replicas.h): V / N one-thread contexts over copies of the model, or
 * (replicas off) one context of `threads` threads, sharded over the ranks when there are several. */
static nn_status init_replicas(trainer *tr, nn_err *err)
{
    const train_config *cfg = tr->cfg;
    const tr_comm *comm = tr->comm;
    const int v = cfg->replicas;
    if (v > 0 && v % comm->size)
        return tc_error(cfg, TC_REPLICAS, err, NN_E_ARG, "%d is not a multiple of the %d ranks (mpirun -np %d): "
                        "every rank runs replicas / N of them", v, comm->size, comm->size);
    if (v > cfg->batch_size)
        return tc_error(cfg, TC_REPLICAS, err, NN_E_ARG, "%d is more than batch_size %d: every replica needs a "
                        "share of each batch", v, cfg->batch_size);
    if (v > 0 && cfg->backend != NN_BACKEND_CPU) /* replicas are one-thread CPU contexts */
        return tc_error(cfg, TC_REPLICAS, err, NN_E_UNSUPPORTED, "needs backend cpu (got '%s'); on GPUs run one rank "
                        "per GPU instead (mpirun -np <GPUs>, replicas 0)", tc_enum_name(TC_BACKEND, cfg->backend));
    tr->n_rep = v > 0 ? v / comm->size : 1;
    tr->rep = calloc((size_t)tr->n_rep, sizeof *tr->rep);
    tr->rep_metric = calloc((size_t)tr->n_rep, sizeof *tr->rep_metric);
    tr->eval_sums = calloc(3 * (size_t)tr->n_rep, sizeof *tr->eval_sums);
    if (!tr->rep || !tr->rep_metric || !tr->eval_sums)
        return nn_fail(err, NN_E_NOMEM, "out of memory");
    nn_status s = NN_OK;
    /* several ranks on GPUs: one device per rank, chosen before the context is made on it */
    const bool gpu_ranks = v == 0 && comm->size > 1 && cfg->backend != NN_BACKEND_CPU && nn_cuda_devices() > 0;
    int device = 0;
    if (gpu_ranks && (s = tr_comm_gpu_pick(comm, &device, err)))
        return s;
    if (v > 0) { /* the largest sum: the gradients (floats) or batch-norm statistics (2 doubles per
                  * channel; every channel has at least 4 parameter floats) */
        const size_t floats = tr->m->g.n_param_floats;
        s = tr_replicas_create(&tr->group, comm, v, (floats > 8 ? floats : 8) * sizeof(double), err);
    }
    for (int j = 0; !s && j < tr->n_rep; j++) {
        tr_replica *r = &tr->rep[j];
        const int g = v > 0 ? tr_replicas_first(tr->group) + j : 0;
        const int lo = v > 0 ? (int)((int64_t)cfg->batch_size * g / v) : tr->slice_lo;
        r->n = v > 0 ? (int)((int64_t)cfg->batch_size * (g + 1) / v) - lo : tr->slice_n;
        r->off = lo - tr->slice_lo;
        r->m = j == 0 ? tr->m : NULL;
        if (j > 0 && !(s = nn_model_load_spec(&r->m, cfg->model, err)))
            memcpy(r->m->params, tr->m->params, tr->m->g.n_param_floats * sizeof *tr->m->params);
        if (!s)
            s = nn_train_create_on(&r->t, r->m, r->n, v > 0 ? 1 : cfg->threads, (uint64_t)cfg->seed, cfg->backend,
                                   err);
        if (s == NN_E_DEVICE || s == NN_E_UNSUPPORTED) { /* name the config key: backend: cuda without a GPU */
            char why[NN_ERR_LEN];
            snprintf(why, sizeof why, "%s", err->msg);
            return tc_error(cfg, TC_BACKEND, err, s, "%s", why);
        }
        nn_train_shard sh = {.first = lo, .global_batch = cfg->batch_size, .sum_f64 = tr_replicas_sum_f64,
                             .sum_f32 = tr_replicas_sum_f32, .ctx = v > 0 ? tr_replicas_ctx(tr->group, j) : NULL};
        if (!s && v == 0 && comm->size > 1) /* the ranks' sums by MPI_Allreduce */
            sh.sum_f64 = tr_comm_shard_f64, sh.sum_f32 = tr_comm_shard_f32, sh.ctx = (void *)comm;
        if (!s && gpu_ranks && nn_train_backend(r->t) == NN_BACKEND_CUDA) /* device sums: NCCL, if built */
            s = tr_comm_gpu_sums(comm, device, &sh, &tr->nccl, err);
        if (!s && (v > 0 || comm->size > 1))
            s = nn_train_set_shard(r->t, &sh, err);
    }
    tr->t = tr->rep[0].t;
    return s;
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
    if ((s = init_replicas(tr, err)))
        return s;
    tr->softmax_out = nn_train_softmax_output(tr->t);
    if (!tr->classify && tr->softmax_out)
        return nn_fail(err, NN_E_ARG, "%s: model ends in a softmax, which regression cannot train",
                       nn_model_name(m));
    const opt_config oc = opt_from_config(cfg);
    for (int j = 0; j < tr->n_rep; j++) /* the engine's optimizer, on the context's backend */
        if ((s = nn_train_opt_setup(tr->rep[j].t, &oc, err)))
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
    for (int j = 0; tr->rep && j < tr->n_rep; j++) {
        nn_train_free(tr->rep[j].t);
        if (j > 0)
            nn_model_free(tr->rep[j].m);
    }
    free(tr->rep);
    free(tr->rep_metric);
    free(tr->eval_sums);
    tr_replicas_free(tr->group);
    tr_comm_gpu_close(tr->nccl);
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

/* Adds the correct predictions or sum of absolute errors of items [first, first + n) of a batch
 * (outputs y [n, out]) to *metric_sum. */
static void batch_metric(const trainer *tr, const float *y, const ds_batch *b, int first, int n, double *metric_sum)
{
    int k = tr->out_size;
    if (tr->classify) {
        for (int r = 0; r < n; r++)
            *metric_sum += argmax(y + (size_t)r * (size_t)k, k) == b->labels[first + r];
        return;
    }
    const float *t = b->targets + (size_t)first * (size_t)k;
    for (size_t i = 0; i < (size_t)n * (size_t)k; i++)
        *metric_sum += fabs((double)y[i] - (double)t[i]) / k;
}

/* Loss of a batch (mean) and its gradient into tr->dloss; adds correct predictions or the sum
 * of absolute errors to *metric_sum. */
static double batch_loss(trainer *tr, const float *y, bool y_is_prob, const ds_batch *b, double *metric_sum)
{
    const train_config *cfg = tr->cfg;
    int n = b->n, k = tr->out_size;
    batch_metric(tr, y, b, 0, b->n, metric_sum);
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

/* Local replica j's training step on its samples of tr->cur (its input filled). */
static nn_status step_job(void *arg, int j, nn_err *err)
{
    trainer *tr = arg;
    tr_replica *r = &tr->rep[j];
    nn_step_args a = tr->sa;
    a.labels = tr->cur->labels ? tr->cur->labels + r->off : NULL;
    a.targets = tr->cur->targets ? tr->cur->targets + (size_t)r->off * (size_t)tr->out_size : NULL;
    nn_status s = nn_train_step(r->t, r->n, &a, &r->res, err);
    if (!s)
        batch_metric(tr, r->res.output, tr->cur, r->off, r->n, &tr->rep_metric[j]);
    return s;
}

/* This rank's metric sum so far (its replicas in order). */
static double local_metric(const trainer *tr)
{
    double m = 0;
    for (int j = 0; j < tr->n_rep; j++)
        m += tr->rep_metric[j];
    return m;
}

/* Replica 0's state (parameters with batch-norm running statistics, optimizer state and steps:
 * what main shares, checkpoints and resumes) to the other local replicas. */
static void copy_replica_state(trainer *tr)
{
    for (int j = 1; j < tr->n_rep; j++) {
        tr_replica *r = &tr->rep[j];
        memcpy(r->m->params, tr->m->params, tr->m->g.n_param_floats * sizeof *tr->m->params);
        memcpy(nn_train_opt_host(r->t), tr->opt_mem, tr->n_state * sizeof *tr->opt_mem);
        nn_train_set_opt_steps(r->t, nn_train_opt_steps(tr->t));
        nn_train_set_step(r->t, nn_train_get_step(tr->t));
    }
}

/* Each local replica's input: its samples of batch b, shifted when augmentation.shift is on. */
static void fill_inputs(trainer *tr, const ds_batch *b, int epoch, size_t img)
{
    const train_config *cfg = tr->cfg;
    const ds_info *info = ds_get_info(tr->ds);
    for (int j = 0; j < tr->n_rep; j++) {
        const tr_replica *rp = &tr->rep[j];
        const float *src = b->images + (size_t)rp->off * img;
        if (cfg->aug_shift <= 0) {
            memcpy(nn_train_input(rp->t), src, (size_t)rp->n * img * sizeof(float));
            continue;
        }
        for (int r = 0; r < rp->n; r++) { /* idx digits: each item moved by its own seeded draw (shift.h) */
            int dy, dx;
            shift_draw((uint64_t)cfg->seed, epoch, b->items[rp->off + r], cfg->aug_shift, &dy, &dx);
            shift_image(nn_train_input(rp->t) + (size_t)r * img, src + (size_t)r * img, info->h, info->w, info->c, dy,
                        dx, tr->xf.offset);
        }
    }
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
    copy_replica_state(tr);
    for (int j = 0; j < tr->n_rep; j++) {
        tr->rep_metric[j] = 0;
        if (!s)
            s = nn_train_sync(tr->rep[j].t, true, err);
    }
    if (s) {
        ds_loader_free(l);
        return s;
    }
    const nn_loss_kind loss_kind = tr->classify                      ? NN_LOSS_CE
                                   : cfg->loss_kind == TC_LOSS_HUBER ? NN_LOSS_HUBER
                                                                     : NN_LOSS_MSE;
    tr->sa = (nn_step_args){.loss = loss_kind, .delta = (float)cfg->huber_delta,
                            .max_norm = cfg->grad_clip > 0 ? (float)cfg->grad_clip : INFINITY};
    double loss_sum = 0, lr = 0;
    size_t seen = 0, i = 0;
    uint64_t t0 = tr_now_ns(), last_draw = 0;
    for (;; i++) {
        const ds_batch *b;
        s = ds_loader_next(l, &b, err);
        if (s || !b)
            break;
        fill_inputs(tr, b, epoch, img);
        lr = lr_at(&tr->sched, nn_train_opt_steps(tr->t));
        tr->cur = b, tr->sa.lr = lr;
        if ((s = tr->group ? tr_replicas_run(tr->group, step_job, tr, err) : step_job(tr, 0, err)))
            break;
        const nn_step_result res = tr->rep[0].res; /* the global batch's loss and norm: every replica's */
        const double loss = res.loss;
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
            progress(tr, epoch, i, loss_sum / (double)(i + 1) / cfg->batch_size, local_metric(tr) / (double)seen,
                     (i + 1) * (size_t)cfg->batch_size, (now - t0) * 1e-9);
        }
    }
    ds_loader_free(l);
    if (tr->tty)
        fputs("\r\033[K", stderr);
    for (int j = 0; j < tr->n_rep && !s; j++) /* parameters (and batch-norm running statistics) and the
                                                 optimizer state back to the host */
        s = nn_train_sync(tr->rep[j].t, false, err);
    if (s)
        return s;
    double sums[2] = {local_metric(tr), (double)seen}; /* every rank's slices */
    tr_comm_sum_f64(tr->comm, sums, 2);
    if (tr->group) /* all V replicas' metrics in replica order: the same for any N */
        tr_replicas_fold_f64(tr->group, tr->rep_metric, 1, &sums[0]);
    double secs = (double)(tr_now_ns() - t0) * 1e-9;
    row->epoch = epoch + 1;
    row->train_loss = loss_sum / sums[1];
    row->train_metric = sums[0] / sums[1];
    row->lr = lr;
    row->images_per_s = secs > 0 ? sums[1] / secs : 0;
    return NN_OK;
}

/* Loss, metric and item sums of idx[0..n) through ctx into sums[3] (one loader, its batches). */
static nn_status eval_block(trainer *tr, nn_infer *ctx, ds_dataset *ds, const size_t *idx, size_t n, double *sums,
                            nn_err *err)
{
    const train_config *cfg = tr->cfg;
    const ds_info *info = ds_get_info(ds);
    size_t img = (size_t)info->h * (size_t)info->w * (size_t)info->c;
    sums[0] = sums[1] = sums[2] = 0;
    if (!n)
        return NN_OK;
    ds_loader_opts lo = {.batch_size = cfg->batch_size, .queue_depth = cfg->queue_depth, .shuffle = false,
                         .drop_last = false, .xf = tr->xf, .seed = 0};
    ds_loader *l;
    nn_status s = ds_loader_create(&l, ds, idx, n, &lo, err);
    if (s)
        return s;
    for (;;) {
        const ds_batch *b;
        s = ds_loader_next(l, &b, err);
        if (s || !b)
            break;
        memcpy(nn_infer_input(ctx), b->images, (size_t)b->n * img * sizeof(float));
        s = nn_infer_run(ctx, b->n, err);
        if (s)
            break;
        sums[0] += batch_loss(tr, nn_infer_output(ctx), tr->softmax_out, b, &sums[1]) * b->n;
        sums[2] += (double)b->n;
    }
    ds_loader_free(l);
    return s;
}

nn_status tr_evaluate(trainer *tr, ds_dataset *ds, const size_t *idx, size_t n, double *loss, double *metric,
                      nn_err *err)
{
    const train_config *cfg = tr->cfg;
    nn_infer *ctx;
    /* evaluation runs where training does (the GPU's inference engine for backend cuda) */
    const nn_infer_opts io = {.max_batch = cfg->batch_size, .threads = cfg->threads,
                              .backend = nn_train_backend(tr->t)};
    nn_status s = nn_infer_create_opts(&ctx, tr->m, &io, err);
    if (s)
        return s;
    /* the items in blocks: one per rank, or (replicas) one per replica, this rank's n_rep of them,
     * whose sums are then folded in replica order (the same for any rank count) */
    const size_t blocks = tr->group ? (size_t)tr->cfg->replicas : (size_t)tr->comm->size;
    const size_t first = tr->group ? (size_t)tr_replicas_first(tr->group) : (size_t)tr->comm->rank;
    for (int j = 0; j < tr->n_rep && !s; j++) {
        const size_t lo_i = n * (first + (size_t)j) / blocks, hi_i = n * (first + (size_t)j + 1) / blocks;
        s = eval_block(tr, ctx, ds, idx + lo_i, hi_i - lo_i, tr->eval_sums + 3 * (size_t)j, err);
    }
    nn_infer_free(ctx);
    if (s)
        return s;
    double sums[3] = {tr->eval_sums[0], tr->eval_sums[1], tr->eval_sums[2]};
    if (tr->group)
        tr_replicas_fold_f64(tr->group, tr->eval_sums, 3, sums);
    else
        tr_comm_sum_f64(tr->comm, sums, 3); /* every rank's block */
    *loss = sums[2] > 0 ? sums[0] / sums[2] : NAN;
    *metric = sums[2] > 0 ? sums[1] / sums[2] : NAN;
    return NN_OK;
}
