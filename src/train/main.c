/* main.c — steer-train: trains a model of the zoo on a dataset as a config file describes.
 *   steer-train CONFIG.yaml [--set key=value ...] [--resume RUN_DIR [--force]] [--allow-missing]
 *   steer-train --resume RUN_DIR [--force]  (the run's own config.yaml)
 * Order: config (parse -> overrides -> validate; exit 78 on a bad one, or on a bad $STEERD_ISA,
 * the CPU kernels' instruction set) -> model + dataset
 * checks -> run directory (a non-empty one is refused unless resuming) -> epochs, each ending
 * in an atomic checkpoint, log.csv, metrics.json and curve.svg -> test set -> final weights
 * `<model>.safetensors`. Exit status: 0 done, 1 failure (data, I/O, divergence), 64 usage,
 * 66 CONFIG or RUN_DIR missing or unreadable, 78 configuration.
 * Under `mpirun -np N` (comm.h) the N ranks train one model data-parallel (trainer.h): every
 * rank reads the config, the model and its share of the data; rank 0 alone owns the run
 * directory (checkpoint, --resume, logs, reports, weights) and sends the starting state to the
 * others. Failures while the ranks are in step (setup, between epochs) are agreed on, so all
 * stop together with one message; one inside an epoch (a rank's data) stops the job through
 * MPI_Abort, before anything of that epoch is written. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/file_read.h"
#include "common/opts.h"
#include "common/sha256.h"
#include "nn/graph.h"
#include "train/checkpoint.h"
#include "train/comm.h"
#include "train/trainer.h"

#define EXIT_FAIL 1
#define MAX_SETS 64
#define STR_(x) #x
#define STR(x) STR_(x)
#define MODEL_MAX_BYTES (16u << 20) /* the model YAML reader's limit (common/yamldoc.c) */

static const char usage[] =
    "usage: steer-train CONFIG.yaml [--set key=value ...] [--resume RUN_DIR [--force]] [--allow-missing]\n"
    "       steer-train --resume RUN_DIR [--force] [--set threads=N]\n"
    "Trains the model a config names (see config/train-*.yaml, every key commented) and writes the\n"
    "run directory (`output`): <model>.safetensors, checkpoint.bin (after every epoch), log.csv,\n"
    "metrics.json, curve.svg, config.yaml (and steps.csv, loss and lr of every step, with\n"
    "log_steps: true). --set overrides one key (dotted name, YAML value; paths\n"
    "relative to the current directory). --resume continues a stopped run from its last checkpoint\n"
    "(the configuration must be the run's, except output; the model file's content and the dataset's\n"
    "index files must be those the checkpoint was written with, or --force continues anyway, with a\n"
    "warning). --allow-missing trains on a driving log even when more than 1% of the images it lists\n"
    "are missing (= --set dataset.allow_missing=true). --version prints the version.\n"
    "Exit status: 0 done, 1 failure (data, I/O, divergence), 64 usage error, 66 CONFIG or RUN_DIR\n"
    "missing or unreadable, 78 configuration error.\n"
    "Under `mpirun -np N` the N ranks train one model data-parallel (batch_size stays the global\n"
    "batch; rank 0 writes the run directory; README.md, Training on several machines).\n";

typedef struct {
    const char *config;
    const char *resume;
    const char *sets[MAX_SETS];
    int n_sets;
    bool force; /* --force: resume despite a changed model file or dataset */
} cli;

/* Adds one --set assignment; false (one line said) past MAX_SETS. */
static bool add_set(cli *c, const opts_parser *p, const char *assignment)
{
    if (c->n_sets == MAX_SETS)
        return opts_usage(p, "more than " STR(MAX_SETS) " --set options"), false;
    c->sets[c->n_sets++] = assignment;
    return true;
}

/* -1 to train, else the exit status (0 after --help / --version). */
static int parse_cli(cli *c, int argc, char **argv)
{
    static const struct option opts[] = {{"set", required_argument, 0, 's'},
                                         {"resume", required_argument, 0, 'r'},
                                         {"force", no_argument, 0, 'f'},
                                         {"allow-missing", no_argument, 0, 'a'},
                                         {0, 0, 0, 0}};
    memset(c, 0, sizeof *c);
    opts_parser p;
    opts_start(&p, "steer-train", NULL, argc, argv, "", opts);
    for (int k; (k = opts_next(&p)) != OPTS_END;) {
        if (k == 'a') {
            if (!add_set(c, &p, "dataset.allow_missing=true"))
                return EXIT_USAGE;
        } else if (k == 'f') {
            c->force = true;
        } else if (k == 'r') {
            c->resume = p.arg;
        } else if (k == 's') {
            if (!add_set(c, &p, p.arg))
                return EXIT_USAGE;
        } else if (!opts_positional(&p, k, &c->config, 1)) {
            return opts_default(&p, k, usage);
        }
    }
    if (!c->config && !c->resume)
        return fputs(usage, stderr), EXIT_USAGE;
    if (c->force && !c->resume)
        return opts_usage(&p, "--force only applies to --resume (see steer-train --help)");
    int rc = opts_input(&p, NULL, c->config);
    if (!rc)
        rc = opts_input(&p, "--resume", c->resume);
    return rc ? rc : -1;
}

/* Everything a run holds, freed in one place. */
typedef struct {
    train_config cfg;
    char dir[TC_PATH_LEN];
    char hash[72];
    char model_hash[72]; /* the model file's bytes */
    char data_hash[72];  /* the train (and test) datasets' identities */
    char data_name[2 * TC_PATH_LEN + 16];
    char weights_name[160];
    nn_model *m;
    ds_dataset *ds, *test;
    trainer tr;
    bool tr_ready;
    tm_row *rows;
    int n_rows;
    tm_summary sum;
    FILE *steps; /* log_steps: <dir>/steps.csv */
    tr_comm comm; /* the ranks (one process: size 1); rank 0 writes */
} run;

static void run_free(run *r)
{
    if (r->tr_ready)
        tr_free(&r->tr);
    if (r->steps)
        fclose(r->steps);
    ds_close(r->test);
    ds_close(r->ds);
    nn_model_free(r->m);
    free(r->rows);
}

/* One line on stderr, naming the rank when it is not rank 0 of several. */
static void say(const run *r, const char *msg)
{
    if (r->comm.rank > 0)
        fprintf(stderr, "steer-train: rank %d of %d: %s\n", r->comm.rank, r->comm.size, msg);
    else
        fprintf(stderr, "steer-train: %s\n", msg);
}

/* The ranks agree on a failure while in step: each passes its exit status (0: fine) and all
 * get the largest. Rank 0 names its own failure; another rank names one rank 0 did not share
 * (its own share of the data, say), so a failure every rank meets is told once. */
static int agree(const run *r, int rc, const char *msg)
{
    const int any = tr_comm_max_int(&r->comm, rc);
    if (!any)
        return 0;
    int rc0 = rc;
    tr_comm_bcast(&r->comm, &rc0, sizeof rc0);
    if (rc && (r->comm.rank == 0 || !rc0))
        say(r, msg);
    return any;
}

/* A failure inside an epoch: the other ranks wait in a collective, so the job stops here. */
static int fail_in_epoch(const run *r, const char *msg)
{
    say(r, msg);
    if (r->comm.size > 1) {
        fprintf(stderr, "steer-train: rank %d of %d cannot continue: stopping every rank (nothing of this epoch was "
                "written)\n", r->comm.rank, r->comm.size);
        tr_comm_abort(&r->comm, EXIT_FAIL);
    }
    return EXIT_FAIL;
}

/* Rank 0's starting state (fresh or resumed) to every rank. */
static void share_state(run *r)
{
    trainer *tr = &r->tr;
    int64_t v[3] = {nn_train_opt_steps(tr->t), (int64_t)nn_train_get_step(tr->t), r->n_rows};
    tr_comm_bcast(&r->comm, v, sizeof v);
    nn_train_set_opt_steps(tr->t, v[0]);
    nn_train_set_step(tr->t, (uint64_t)v[1]);
    r->n_rows = (int)v[2];
    tr_comm_bcast(&r->comm, r->m->params, tr->n_params * sizeof *r->m->params);
    tr_comm_bcast(&r->comm, tr->opt_mem, tr->n_state * sizeof *tr->opt_mem);
    tr_comm_bcast(&r->comm, r->rows, (size_t)r->n_rows * sizeof *r->rows);
}

/* Driving logs are made into model m's input (its preprocess); Sully Chen's degrees are
 * divided by m's output scale_deg. A note about skipped rows goes to stderr (when `note`: rank 0). */
static nn_status open_dataset(const train_config *cfg, const nn_model *m, const char *path, const char *labels,
                              bool note, ds_dataset **out, nn_err *err)
{
    ds_open_opts o = {.labels_path = labels[0] ? labels : NULL, .n_classes = cfg->classes, .pre = &m->g.pre,
                      .max_angle_deg = m->g.steer_scale_deg > 0 ? m->g.steer_scale_deg : 0,
                      .allow_missing = cfg->allow_missing, .side_cameras = cfg->aug_side_cameras,
                      .steering_correction = (float)cfg->aug_steering_correction};
    nn_model_input_shape(m, &o.in_h, &o.in_w, &o.in_c);
    nn_status s = ds_open(out, tc_enum_name(TC_DATASET_KIND, cfg->dataset_kind), path, &o, err);
    if (!s && note && ds_note(*out)[0])
        fprintf(stderr, "steer-train: %s\n", ds_note(*out));
    return s;
}

static nn_status write_reports(run *r, nn_err *err)
{
    bool cl = r->cfg.task == TC_TASK_CLASSIFY;
    char title[TC_PATH_LEN + 200];
    snprintf(title, sizeof title, "%s on %s", nn_model_name(r->m), r->cfg.train);
    nn_status s = tm_write_csv(r->dir, r->rows, r->n_rows, cl, err);
    if (!s)
        s = tm_write_json(r->dir, &r->sum, r->rows, r->n_rows, err);
    if (!s)
        s = tm_write_svg(r->dir, title, r->rows, r->n_rows, cl, err);
    return s;
}

static nn_status save_checkpoint(run *r, nn_err *err)
{
    trainer *tr = &r->tr;
    ck_state ck = {.epochs_done = r->n_rows, .opt_step = nn_train_opt_steps(tr->t),
                   .train_step = nn_train_get_step(tr->t), .n_params = tr->n_params, .n_state = tr->n_state,
                   .params = r->m->params, .state = tr->opt_mem, .n_rows = r->n_rows, .rows = r->rows};
    memcpy(ck.config_hash, r->hash, sizeof ck.config_hash);
    memcpy(ck.model_hash, r->model_hash, sizeof ck.model_hash);
    memcpy(ck.data_hash, r->data_hash, sizeof ck.data_hash);
    return ck_save(r->dir, &ck, err);
}

/* What the checkpoint is checked against besides the config: the model file's bytes (a changed
 * architecture may keep the parameter count) and the datasets' identities (ds_digest). */
static nn_status identity_hashes(run *r, nn_err *err)
{
    char *buf;
    size_t len;
    nn_status s = cm_read_regular(r->cfg.model, MODEL_MAX_BYTES, &buf, &len, err);
    if (s)
        return s;
    sha256_tag(buf, len, r->model_hash);
    free(buf);
    char ids[2 * 72 + 8];
    snprintf(ids, sizeof ids, "%s\n%s\n", ds_digest(r->ds), r->test ? ds_digest(r->test) : "");
    sha256_tag(ids, strlen(ids), r->data_hash);
    snprintf(r->data_name, sizeof r->data_name, "%s%s%s", r->cfg.train, r->test ? " / test " : "",
             r->test ? r->cfg.test : "");
    return NN_OK;
}

static nn_status resume_from(run *r, bool force, nn_err *err)
{
    trainer *tr = &r->tr;
    ck_state ck = {.n_params = tr->n_params, .n_state = tr->n_state, .params = r->m->params,
                   .state = tr->opt_mem, .rows = r->rows};
    ck_expect x = {.model_hash = r->model_hash, .data_hash = r->data_hash, .model_path = r->cfg.model,
                   .data_path = r->data_name, .force = force};
    nn_status s = ck_load(r->dir, &ck, r->cfg.epochs, &x, err);
    if (s)
        return s;
    if (x.note[0])
        fprintf(stderr, "steer-train: warning: %s\n", x.note);
    if (strcmp(ck.config_hash, r->hash) != 0)
        return nn_fail(err, NN_E_ARG,
                       "%s: the configuration differs from the run's (%s, now %s); resume with the run's "
                       "config: steer-train --resume %s", r->dir, ck.config_hash, r->hash, r->dir);
    nn_train_set_opt_steps(tr->t, ck.opt_step);
    nn_train_set_step(tr->t, ck.train_step);
    r->n_rows = ck.n_rows;
    return NN_OK;
}

/* log_steps: <dir>/steps.csv, appended to (a resumed run continues it; the steps of an
 * interrupted epoch may then appear twice, the step column tells them apart). */
static nn_status open_steps_log(run *r, nn_err *err)
{
    char path[TC_PATH_LEN + 16];
    snprintf(path, sizeof path, "%s/steps.csv", r->dir);
    r->steps = fopen(path, "a");
    if (!r->steps)
        return nn_fail(err, NN_E_IO, "%s: cannot open for writing", path);
    if (ftell(r->steps) == 0)
        fputs("epoch,batch,step,loss,lr\n", r->steps);
    r->tr.steps = r->steps;
    return NN_OK;
}

static void epoch_line(const run *r, const tm_row *row)
{
    bool cl = r->cfg.task == TC_TASK_CLASSIFY;
    double scale = cl ? 100.0 : 1.0;
    const char *m = cl ? "acc" : "mae", *pct = cl ? "%" : "";
    fprintf(stderr, "epoch %d/%d: train loss %.4f %s %.4g%s", (int)row->epoch, r->cfg.epochs, row->train_loss, m,
            row->train_metric * scale, pct);
    if (r->tr.n_val)
        fprintf(stderr, " | val loss %.4f %s %.4g%s", row->val_loss, m, row->val_metric * scale, pct);
    double left = (r->cfg.epochs - row->epoch) * row->seconds;
    fprintf(stderr, " | lr %.3g | %.0f img/s | %.1f s | ETA %.0f s\n", row->lr, row->images_per_s, row->seconds,
            left);
}

static nn_status write_config_copy(run *r, nn_err *err)
{
    char tmp[4096];
    FILE *f = tm_begin(r->dir, "config.yaml", tmp, sizeof tmp, err);
    if (!f)
        return NN_E_IO;
    fprintf(f, "# steer-train: the effective configuration of this run (%s)\n", r->hash);
    tc_dump(&r->cfg, f, true);
    return tm_commit(f, tmp, r->dir, "config.yaml", err);
}

static nn_status save_weights(run *r, nn_err *err)
{
    bool cl = r->cfg.task == TC_TASK_CLASSIFY;
    const tm_row *last = r->n_rows ? &r->rows[r->n_rows - 1] : NULL;
    char epochs[32], tl[32], vl[32], vm[32], tel[32], tem[32];
    snprintf(epochs, sizeof epochs, "%d", r->n_rows);
    snprintf(tl, sizeof tl, "%.6g", last ? last->train_loss : 0.0);
    snprintf(vl, sizeof vl, "%.6g", last ? last->val_loss : 0.0);
    snprintf(vm, sizeof vm, "%.6g", last ? last->val_metric : 0.0);
    snprintf(tel, sizeof tel, "%.6g", r->sum.test_loss);
    snprintf(tem, sizeof tem, "%.6g", r->sum.test_metric);
    const char *meta[32];
    int k = 0;
    meta[k++] = "dataset", meta[k++] = r->cfg.train;
    meta[k++] = "task", meta[k++] = tc_enum_name(TC_TASK, r->cfg.task);
    meta[k++] = "epochs", meta[k++] = epochs;
    meta[k++] = "config_hash", meta[k++] = r->hash;
    meta[k++] = "train_loss", meta[k++] = tl;
    if (r->tr.n_val) {
        meta[k++] = "val_loss", meta[k++] = vl;
        meta[k++] = cl ? "val_accuracy" : "val_mae", meta[k++] = vm;
    }
    if (r->sum.has_test) {
        meta[k++] = "test_loss", meta[k++] = tel;
        meta[k++] = cl ? "test_accuracy" : "test_mae", meta[k++] = tem;
    }
    meta[k++] = "trainer", meta[k++] = "steer-train";
    meta[k] = NULL;
    char path[TC_PATH_LEN + 200], tmp[TC_PATH_LEN + 200];
    snprintf(path, sizeof path, "%s/%s", r->dir, r->weights_name);
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", r->dir, r->weights_name);
    nn_status s = nn_model_save(r->m, tmp, meta, err);
    if (!s && rename(tmp, path) != 0)
        s = nn_fail(err, NN_E_IO, "%s: cannot rename to %s", tmp, path);
    if (s)
        remove(tmp);
    return s;
}

/* Model, datasets and trainer: every rank. */
static nn_status set_up(run *r, nn_err *err)
{
    train_config *cfg = &r->cfg;
    nn_status s = nn_model_load_spec(&r->m, cfg->model, err);
    if (!s) {
        nn_model_init_he(r->m, (uint64_t)cfg->seed);
        s = open_dataset(cfg, r->m, cfg->train, cfg->train_labels, r->comm.rank == 0, &r->ds, err);
    }
    if (!s)
        s = tr_check_dataset(cfg, r->m, r->ds, err);
    if (!s && cfg->test[0]) {
        s = open_dataset(cfg, r->m, cfg->test, cfg->test_labels, r->comm.rank == 0, &r->test, err);
        if (!s)
            s = tr_check_dataset(cfg, r->m, r->test, err);
    }
    if (!s) {
        s = tr_init(&r->tr, cfg, r->m, r->ds, &r->comm, err);
        r->tr_ready = true;
        r->tr.tty = r->comm.rank == 0 && isatty(STDERR_FILENO);
    }
    r->rows = calloc((size_t)cfg->epochs, sizeof *r->rows);
    if (!s && !r->rows)
        s = nn_fail(err, NN_E_NOMEM, "out of memory");
    return s;
}

/* The run directory: rank 0. */
static nn_status open_run_dir(run *r, const cli *c, nn_err *err)
{
    bool has_ck = false;
    nn_status s = ck_prepare_dir(r->dir, c->resume != NULL, &has_ck, err);
    if (!s)
        s = identity_hashes(r, err);
    if (!s && has_ck)
        s = resume_from(r, c->force, err);
    else if (!s)
        s = write_config_copy(r, err);
    if (!s && r->cfg.log_steps)
        s = open_steps_log(r, err);
    if (!s && c->resume && !has_ck)
        fprintf(stderr, "steer-train: %s has no checkpoint yet (stopped during epoch 1): starting over\n", r->dir);
    return s;
}

static void start_line(run *r, const cli *c)
{
    const train_config *cfg = &r->cfg;
    fprintf(stderr, "steer-train: %s, %zu trainable parameters, %zu train / %zu validation items, %zu batches of "
            "%d per epoch, %d threads -> %s%s\n", nn_model_name(r->m), r->sum.params, r->tr.n_train, r->tr.n_val,
            r->tr.batches_per_epoch, cfg->batch_size, cfg->replicas ? r->tr.n_rep : cfg->threads, r->dir,
            c->resume ? (r->n_rows < cfg->epochs ? " (resumed)" : " (already complete)") : "");
    if (cfg->warmup_clipped)
        fprintf(stderr, "steer-train: warning: schedule.warmup_epochs %d is not below epochs %d: warming up for %d "
                "epoch(s) instead\n", cfg->warmup_clipped, cfg->epochs, cfg->warmup_epochs);
    if (cfg->replicas)
        fprintf(stderr, "steer-train: %d replicas of one thread each (`threads` is for evaluation only), %d per rank: "
                "the same weights for any rank count that divides %d\n", cfg->replicas, r->tr.n_rep, cfg->replicas);
    if (r->comm.size > 1)
        fprintf(stderr, "steer-train: %d ranks (%s), %d to %d samples of each batch per rank\n", r->comm.size,
                r->comm.ops->name, cfg->batch_size / r->comm.size, (cfg->batch_size + r->comm.size - 1) / r->comm.size);
    if (nn_train_backend(r->tr.t) == NN_BACKEND_CUDA)
        fprintf(stderr, "steer-train: training on the GPU (backend %s)\n", tc_enum_name(TC_BACKEND, cfg->backend));
    if (r->tr.sample)
        fprintf(stderr, "steer-train: straight frames (|steering| < %g) down-sampled: %zu of the %zu training items "
                "per epoch\n", cfg->aug_zero_threshold, r->tr.n_epoch, r->tr.n_train);
    if (c->resume && r->n_rows)
        fprintf(stderr, "steer-train: resuming after epoch %d of %d\n", r->n_rows, cfg->epochs);
}

/* After a finished epoch: checkpoint, reports and the steps log (rank 0). */
static nn_status end_epoch_files(run *r, nn_err *err)
{
    nn_status s = save_checkpoint(r, err);
    if (!s)
        s = write_reports(r, err);
    if (!s && r->steps && fflush(r->steps) != 0)
        s = nn_fail(err, NN_E_IO, "%s/steps.csv: write failed", r->dir);
    return s;
}

static int diverged(run *r)
{
    if (r->comm.rank > 0)
        return EXIT_FAIL; /* every rank saw it (the loss and the norm are the global batch's) */
    if (r->n_rows)
        fprintf(stderr, "steer-train: training diverged at %s; stopped. The last good checkpoint (epoch %d) "
                "stays in %s/%s\n", r->tr.diverged, r->n_rows, r->dir, CK_FILE);
    else
        fprintf(stderr, "steer-train: training diverged at %s; stopped before the first checkpoint (try a lower "
                "optimizer.lr)\n", r->tr.diverged);
    r->sum.stopped = r->tr.diverged;
    nn_err e2;
    if (write_reports(r, &e2))
        fprintf(stderr, "steer-train: %s\n", e2.msg);
    return EXIT_FAIL;
}

static int train(run *r, const cli *c)
{
    nn_err err = {{0}};
    train_config *cfg = &r->cfg;
    const bool writer = r->comm.rank == 0;
    char cfg_path[TC_PATH_LEN + 16];
    if (c->config)
        snprintf(cfg_path, sizeof cfg_path, "%s", c->config);
    else
        snprintf(cfg_path, sizeof cfg_path, "%s/config.yaml", c->resume);
    nn_cpu_isa isa; /* $STEERD_ISA: the CPU kernels' instruction set (the training context reads it too) */
    int rc = tc_load(cfg, cfg_path, c->sets, c->n_sets, &err) || nn_cpu_isa_resolve(NN_CPU_ISA_AUTO, &isa, &err)
                 ? TC_EX_CONFIG
                 : 0;
    if (!rc) {
        snprintf(r->dir, sizeof r->dir, "%s", c->resume ? c->resume : cfg->output);
        tc_hash(cfg, r->hash);
        rc = set_up(r, &err) ? EXIT_FAIL : 0;
    }
    if ((rc = agree(r, rc, err.msg)))
        return rc;
    if ((rc = agree(r, writer && open_run_dir(r, c, &err) ? EXIT_FAIL : 0, err.msg)))
        return rc;
    if (r->comm.size > 1)
        share_state(r);
    snprintf(r->weights_name, sizeof r->weights_name, "%s.safetensors", nn_model_name(r->m));
    r->sum = (tm_summary){.model_name = nn_model_name(r->m), .model_path = cfg->model, .dataset = cfg->train,
                          .task = tc_enum_name(TC_TASK, cfg->task), .config_hash = r->hash,
                          .epochs = cfg->epochs, .classify = cfg->task == TC_TASK_CLASSIFY,
                          .n_train = r->tr.n_train, .n_val = r->tr.n_val};
    for (int p = 0; p < r->m->g.n_params; p++)
        if (r->m->g.params[p].trainable)
            r->sum.params += r->m->g.params[p].count;
    if (writer)
        start_line(r, c);
    nn_status s;
    for (int e = r->n_rows; e < cfg->epochs; e++) {
        tm_row row = {.val_loss = NAN, .val_metric = NAN};
        uint64_t t0 = tr_now_ns();
        s = tr_train_epoch(&r->tr, e, &row, &err);
        if (s && r->tr.diverged[0])
            return diverged(r);
        if (!s && r->tr.n_val)
            s = tr_evaluate(&r->tr, r->ds, r->tr.val_idx, r->tr.n_val, &row.val_loss, &row.val_metric, &err);
        if (s)
            return fail_in_epoch(r, err.msg);
        row.seconds = (double)(tr_now_ns() - t0) * 1e-9;
        r->rows[r->n_rows++] = row;
        if ((rc = agree(r, writer && end_epoch_files(r, &err) ? EXIT_FAIL : 0, err.msg)))
            return rc;
        if (writer)
            epoch_line(r, &row);
    }
    if (r->test) {
        size_t n = ds_count(r->test);
        size_t *idx = malloc(n * sizeof *idx);
        if (!idx)
            return fail_in_epoch(r, "out of memory");
        for (size_t i = 0; i < n; i++)
            idx[i] = i;
        s = tr_evaluate(&r->tr, r->test, idx, n, &r->sum.test_loss, &r->sum.test_metric, &err);
        free(idx);
        if (s)
            return fail_in_epoch(r, err.msg);
        r->sum.has_test = true;
        r->sum.n_test = n;
    }
    r->sum.weights_file = r->weights_name;
    s = writer ? save_weights(r, &err) : NN_OK;
    if (!s && writer)
        s = write_reports(r, &err);
    if ((rc = agree(r, s ? EXIT_FAIL : 0, err.msg)))
        return rc;
    if (!writer)
        return 0;
    bool cl = cfg->task == TC_TASK_CLASSIFY;
    fprintf(stderr, "steer-train: done: %s/%s", r->dir, r->weights_name);
    if (r->sum.has_test)
        fprintf(stderr, " (test %s %.4g%s on %zu items)", cl ? "accuracy" : "MAE",
                r->sum.test_metric * (cl ? 100.0 : 1.0), cl ? "%" : "", r->sum.n_test);
    if (r->comm.size > 1)
        fprintf(stderr, " (%d ranks)", r->comm.size);
    fputc('\n', stderr);
    return 0;
}

int main(int argc, char **argv)
{
    run *r = calloc(1, sizeof *r);
    if (!r) {
        fputs("steer-train: out of memory\n", stderr);
        return EXIT_FAIL;
    }
    nn_err err = {{0}};
    if (tr_comm_open(&r->comm, &argc, &argv, &err)) {
        fprintf(stderr, "steer-train: %s\n", err.msg);
        free(r);
        return EXIT_FAIL;
    }
    cli c;
    int rc = parse_cli(&c, argc, argv); /* the same on every rank */
    if (rc < 0)
        rc = train(r, &c);
    run_free(r);
    tr_comm_close(&r->comm);
    free(r);
    return rc;
}
