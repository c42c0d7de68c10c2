/* train_config.c — the steer-train configuration table and its reader (the pattern of
 * src/daemon/config.c: one row per key with type, bounds, default and field offset, read by
 * common/cfgtable.c). The YAML tree is walked once; `--set key=value` reads its value through
 * the same row; validate() applies the cross-field rules and the defaults that depend on other
 * keys. */
#include "train/train_config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cfgtable.h"
#include "common/sha256.h"
#include "common/yamldoc.h"

static const char *const ds_names[] = {"idx", "udacity", "sullychen", "donkey", NULL};
static const char *const task_names[] = {"classification", "regression", NULL};
static const char *const opt_names[] = {"sgd", "adam", "adamw", NULL};
static const char *const sched_names[] = {"constant", "step", "cosine", NULL};
static const char *const loss_names[] = {"cross_entropy", "mse", "huber", NULL};
static const char *const backend_names[] = {"cpu", "cuda", "auto", NULL};
static const int backend_values[] = {NN_BACKEND_CPU, NN_BACKEND_CUDA, NN_BACKEND_AUTO};

#define F(field) .offset = offsetof(train_config, field), .size = sizeof(((train_config *)0)->field)
#define PATH(k, req, opt, field) \
    {.key = k, .type = CFGT_PATH, .required = req, .flags = (opt) ? CFGT_OPTIONAL : 0u, F(field)}
#define INT(k, lo, hi, d, field) {.key = k, .type = CFGT_INT, .imin = lo, .imax = hi, .def = d, F(field)}
#define FLT(k, lo, open, hi, d, field) \
    {.key = k, .type = CFGT_FLOAT, .flags = (open) ? CFGT_MIN_OPEN : 0u, .fmin = lo, .fmax = hi, .def = d, F(field)}
#define BOOL(k, d, field) {.key = k, .type = CFGT_BOOL, .def = d, F(field)}
#define ENUM(k, req, names, d, field) \
    {.key = k, .type = CFGT_ENUM, .required = req, .def = d, .choices = names, F(field)}
#define ENUM_VALUES(k, names, vals, d, field) \
    {.key = k, .type = CFGT_ENUM, .def = d, .choices = names, .values = vals, F(field)}

/* Order = tc_key_id. */
static const cfgt_row table[TC_NKEYS] = {
    PATH("model", true, false, model),
    ENUM("dataset.kind", true, ds_names, 0, dataset_kind),
    PATH("dataset.train", true, false, train),
    PATH("dataset.train_labels", false, true, train_labels),
    PATH("dataset.test", false, true, test),
    PATH("dataset.test_labels", false, true, test_labels),
    INT("dataset.classes", 0, 256, 0, classes),
    INT("dataset.queue_depth", 2, 64, 4, queue_depth),
    BOOL("dataset.allow_missing", 0, allow_missing),
    ENUM("task", false, task_names, TC_TASK_CLASSIFY, task),
    INT("batch_size", 1, 65536, 64, batch_size),
    INT("epochs", 1, 100000, 10, epochs),
    ENUM("optimizer.kind", false, opt_names, TC_OPT_ADAM, opt_kind),
    FLT("optimizer.lr", 0, true, 1e300, 1e-3, lr),
    FLT("optimizer.momentum", 0, false, 0.999999, 0, momentum),
    FLT("optimizer.dampening", 0, false, 1, 0, dampening),
    BOOL("optimizer.nesterov", 0, nesterov),
    {.key = "optimizer.betas", .type = CFGT_FLOAT2, .fmin = 0, .fmax = 0.999999, .def = 0.9, .def2 = 0.999, F(betas)},
    FLT("optimizer.eps", 0, true, 1, 1e-8, eps),
    FLT("optimizer.weight_decay", 0, false, 1, 0, weight_decay),
    ENUM("schedule.kind", false, sched_names, TC_LR_CONSTANT, sched_kind),
    INT("schedule.warmup_epochs", 0, 100000, 0, warmup_epochs),
    FLT("schedule.warmup_start", 0, true, 1, 0.1, warmup_start),
    INT("schedule.step_epochs", 1, 100000, 10, step_epochs),
    FLT("schedule.gamma", 0, true, 1, 0.1, gamma),
    FLT("schedule.min_lr", 0, false, 1e300, 0, min_lr),
    ENUM("loss.kind", false, loss_names, TC_LOSS_CE, loss_kind),
    FLT("loss.delta", 0, true, 1e30, 1.0, huber_delta),
    FLT("grad_clip", 0, false, 1e30, 0, grad_clip),
    BOOL("augmentation.flip", 0, aug_flip),
    FLT("augmentation.brightness", 0, false, 1, 0, aug_brightness),
    FLT("augmentation.shadow", 0, false, 1, 0, aug_shadow),
    BOOL("augmentation.side_cameras", 0, aug_side_cameras),
    FLT("augmentation.steering_correction", 0, false, 1, 0.25, aug_steering_correction),
    FLT("augmentation.zero_threshold", 0, false, 1, 0.01, aug_zero_threshold),
    FLT("augmentation.zero_keep", 0, false, 1, 1.0, aug_zero_keep),
    FLT("val_split", 0, false, 0.9, 0.1, val_split),
    {.key = "seed", .type = CFGT_LONG, .imin = 0, .imax = 9007199254740991L, .def = 1, F(seed)},
    INT("threads", 1, 256, 1, threads),
    PATH("output", true, false, output),
    BOOL("log_steps", 0, log_steps),
    ENUM_VALUES("backend", backend_names, backend_values, 0, backend),
    INT("augmentation.shift", 0, 8, 0, aug_shift),
    INT("replicas", 0, 4096, 0, replicas),
};

const char *tc_key_name(tc_key_id key)
{
    return key < TC_NKEYS ? table[key].key : "?";
}

const char *tc_enum_name(tc_key_id key, int value)
{
    return key < TC_NKEYS ? cfgt_enum_name(&table[key], value) : "?";
}

void tc_defaults(train_config *c)
{
    memset(c, 0, sizeof *c);
    cfgt_defaults(c, table, TC_NKEYS);
}

nn_status tc_error(const train_config *c, tc_key_id key, nn_err *err, nn_status s, const char *fmt, ...)
{
    tc_pos at = key < TC_NKEYS ? c->pos[key] : (tc_pos){0, 0, false};
    va_list ap;
    va_start(ap, fmt);
    s = cfgt_vfail(err, s, at.from_set ? NULL : c->path, at.line, at.col, tc_key_name(key), fmt, ap);
    va_end(ap);
    return s;
}

/* Records where key `row`'s value is in the file. */
static void mark(void *obj, int row, int line, int col)
{
    train_config *c = obj;
    c->pos[row] = (tc_pos){line, col, false};
}

/* tc_parse_file's parser for cfgt_load_file. */
static nn_status parse_text(void *c, const char *buf, size_t len, const char *name, nn_err *err)
{
    return tc_parse_buffer(c, buf, len, name, err);
}

nn_status tc_parse_buffer(train_config *c, const char *buf, size_t len, const char *name, nn_err *err)
{
    tc_defaults(c);
    snprintf(c->path, sizeof c->path, "%s", name);
    char base_dir[TC_PATH_LEN] = "";
    const char *slash = strrchr(name, '/');
    if (slash)
        snprintf(base_dir, sizeof base_dir, "%.*s", (int)(slash - name), name);
    yd_doc d;
    nn_status s = yd_load_buffer(&d, buf, len, name, err);
    if (s)
        return s;
    bool seen[TC_NKEYS] = {false};
    const cfgt_walk w = {table, TC_NKEYS, c, base_dir[0] ? base_dir : NULL, true, seen, mark};
    if (!d.root || d.root->kind != YD_MAP)
        s = nn_fail(err, NN_E_SPEC, "%s:1:1: config: expected a mapping of keys at the top level", name);
    else
        s = cfgt_walk_map(&d, d.root, "", &w, err);
    if (!s)
        s = cfgt_check_required(&d, table, TC_NKEYS, seen, err);
    yd_free(&d);
    return s;
}

nn_status tc_parse_file(train_config *c, const char *path, nn_err *err)
{
    return cfgt_load_file(path, c, sizeof *c, table, TC_NKEYS, parse_text, err);
}

nn_status tc_set(train_config *c, const char *assignment, nn_err *err)
{
    const char *eq = strchr(assignment, '=');
    char key[128];
    if (!eq || eq == assignment || (size_t)(eq - assignment) >= sizeof key)
        return nn_fail(err, NN_E_SPEC, "--set %s: expected key=value (e.g. optimizer.lr=0.01)", assignment);
    snprintf(key, sizeof key, "%.*s", (int)(eq - assignment), assignment);
    int row = cfgt_find_row(table, TC_NKEYS, key);
    if (row < 0)
        return nn_fail(err, NN_E_SPEC, "--set %s: unknown key", key);
    const char *value = eq + 1;
    yd_doc d;
    char msg[NN_ERR_LEN];
    nn_err e2;
    nn_status s = yd_load_buffer(&d, value, strlen(value), "--set", &e2);
    train_config tmp = *c;
    if (!s) {
        if (!d.root)
            s = nn_fail(&e2, NN_E_SPEC, "--set:1:1: %s: empty value", key);
        else
            s = cfgt_read_value(&d, d.root, &table[row], &tmp, NULL, &e2);
        yd_free(&d);
    }
    if (s) {
        /* "--set:L:C: key: problem" -> "--set key=value: problem" */
        const char *p = strstr(e2.msg, ": ");
        const char *k = p ? strstr(p + 2, ": ") : NULL;
        snprintf(msg, sizeof msg, "%s", k && strncmp(p + 2, key, strlen(key)) == 0 ? k + 2 : p ? p + 2 : e2.msg);
        return nn_fail(err, s, "--set %s=%s: %s", key, value, msg);
    }
    *c = tmp;
    c->pos[row] = (tc_pos){0, 0, true};
    return NN_OK;
}

static bool given(const train_config *c, tc_key_id k) { return c->pos[k].line || c->pos[k].from_set; }

/* True when key k holds something else than its default (a dumped config repeats defaults). */
static bool changed(const train_config *c, tc_key_id k)
{
    train_config d;
    tc_defaults(&d);
    const cfgt_row *r = &table[k];
    if (r->type == CFGT_PATH)
        return strcmp(cfgt_cfield(c, r), cfgt_cfield(&d, r)) != 0;
    return memcmp(cfgt_cfield(c, r), cfgt_cfield(&d, r), r->size) != 0;
}

nn_status tc_validate(train_config *c, nn_err *err)
{
    bool classify = c->task == TC_TASK_CLASSIFY;
    if (!given(c, TC_LOSS_KIND))
        c->loss_kind = classify ? TC_LOSS_CE : TC_LOSS_MSE;
    if (!given(c, TC_OPT_WEIGHT_DECAY))
        c->weight_decay = c->opt_kind == TC_OPT_ADAMW ? 0.01 : 0.0;
    if (classify && c->loss_kind != TC_LOSS_CE)
        return tc_error(c, TC_LOSS_KIND, err, NN_E_SPEC,
                        "task classification needs cross_entropy (got '%s')", loss_names[c->loss_kind]);
    if (!classify && c->loss_kind == TC_LOSS_CE)
        return tc_error(c, TC_LOSS_KIND, err, NN_E_SPEC, "task regression needs mse or huber (got 'cross_entropy')");
    if (c->dataset_kind == TC_DS_IDX && !classify)
        return tc_error(c, TC_TASK, err, NN_E_SPEC,
                        "dataset.kind idx holds class labels: task must be classification (got 'regression')");
    if (c->dataset_kind != TC_DS_IDX && classify)
        return tc_error(c, TC_TASK, err, NN_E_SPEC,
                        "driving logs hold steering angles: task must be regression (got 'classification')");
    if (c->dataset_kind != TC_DS_IDX) {
        const tc_key_id idx_only[] = {TC_DATASET_TRAIN_LABELS, TC_DATASET_TEST_LABELS, TC_DATASET_CLASSES};
        for (size_t i = 0; i < sizeof idx_only / sizeof idx_only[0]; i++)
            if (changed(c, idx_only[i]))
                return tc_error(c, idx_only[i], err, NN_E_SPEC, "only for dataset.kind idx (got kind '%s')",
                                ds_names[c->dataset_kind]);
        if (c->aug_side_cameras && c->dataset_kind != TC_DS_UDACITY)
            return tc_error(c, TC_AUG_SIDE_CAMERAS, err, NN_E_SPEC,
                            "needs dataset.kind udacity (a %s log has one camera)", ds_names[c->dataset_kind]);
    } else {
        if (changed(c, TC_DATASET_ALLOW_MISSING))
            return tc_error(c, TC_DATASET_ALLOW_MISSING, err, NN_E_SPEC,
                            "applies to driving-log datasets only (dataset.kind is idx)");
        for (int k = TC_AUG_FLIP; k <= TC_AUG_ZERO_KEEP; k++)
            if (changed(c, (tc_key_id)k))
                return tc_error(c, (tc_key_id)k, err, NN_E_SPEC,
                                "steering augmentation applies to driving-log datasets only (dataset.kind is idx)");
    }
    if (c->dataset_kind != TC_DS_IDX && c->aug_shift)
        return tc_error(c, TC_AUG_SHIFT, err, NN_E_SPEC, "applies to idx datasets only (dataset.kind is '%s')",
                        ds_names[c->dataset_kind]);
    if (c->test_labels[0] && !c->test[0])
        return tc_error(c, TC_DATASET_TEST_LABELS, err, NN_E_SPEC, "needs dataset.test");
    if (c->nesterov && (c->opt_kind != TC_OPT_SGD || c->momentum <= 0 || c->dampening != 0))
        return tc_error(c, TC_OPT_NESTEROV, err, NN_E_SPEC,
                        "needs optimizer.kind sgd, momentum > 0 and dampening 0 (got kind '%s', momentum %g, "
                        "dampening %g)", opt_names[c->opt_kind], c->momentum, c->dampening);
    const tc_key_id sgd_only[] = {TC_OPT_MOMENTUM, TC_OPT_DAMPENING};
    for (size_t i = 0; i < 2; i++)
        if (c->opt_kind != TC_OPT_SGD && changed(c, sgd_only[i]))
            return tc_error(c, sgd_only[i], err, NN_E_SPEC, "only for optimizer.kind sgd (got '%s')",
                            opt_names[c->opt_kind]);
    const tc_key_id adam_only[] = {TC_OPT_BETAS, TC_OPT_EPS};
    for (size_t i = 0; i < 2; i++)
        if (c->opt_kind == TC_OPT_SGD && changed(c, adam_only[i]))
            return tc_error(c, adam_only[i], err, NN_E_SPEC, "only for optimizer.kind adam or adamw (got 'sgd')");
    if (c->sched_kind == TC_LR_COSINE && c->warmup_epochs >= c->epochs) { /* a short run (--set epochs=1) */
        c->warmup_clipped = c->warmup_epochs;
        c->warmup_epochs = c->epochs - 1; /* the cosine decay keeps its last epoch */
    }
    if (c->sched_kind != TC_LR_COSINE && c->warmup_epochs > 0)
        return tc_error(c, TC_SCHED_WARMUP_EPOCHS, err, NN_E_SPEC, "warm-up needs schedule.kind cosine (got '%s')",
                        sched_names[c->sched_kind]);
    if (c->sched_kind == TC_LR_COSINE && c->min_lr > c->lr)
        return tc_error(c, TC_SCHED_MIN_LR, err, NN_E_SPEC, "must be <= optimizer.lr (%g) (got %g)", c->lr,
                        c->min_lr);
    if (c->loss_kind != TC_LOSS_HUBER && changed(c, TC_LOSS_DELTA))
        return tc_error(c, TC_LOSS_DELTA, err, NN_E_SPEC, "only for loss.kind huber (got '%s')",
                        loss_names[c->loss_kind]);
    return NN_OK;
}

nn_status tc_load(train_config *c, const char *path, const char *const *sets, int n_sets, nn_err *err)
{
    nn_status s = tc_parse_file(c, path, err);
    for (int i = 0; !s && i < n_sets; i++)
        s = tc_set(c, sets[i], err);
    return s ? s : tc_validate(c, err);
}

/* Absolute form of a path (relative ones joined to the current directory). */
static void absolute(const char *p, char *out, size_t cap)
{
    char cwd[TC_PATH_LEN];
    if (p[0] == '/' || !p[0] || !getcwd(cwd, sizeof cwd))
        snprintf(out, cap, "%s", p);
    else
        snprintf(out, cap, "%s/%s", cwd, p);
}

/* YAML double-quoted scalar. */
static void put_quoted(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

void tc_dump(const train_config *c, FILE *f, bool with_output)
{
    for (int i = 0; i < TC_NKEYS; i++) {
        const cfgt_row *r = &table[i];
        const void *p = cfgt_cfield(c, r);
        if ((i == TC_OUTPUT || i == TC_LOG_STEPS) && !with_output) /* not part of the hash */
            continue;
        if (i == TC_REPLICAS && c->replicas == 0) /* off: the hashes of runs from before the key */
            continue;
        fprintf(f, "%s: ", r->key);
        switch (r->type) {
        case CFGT_STR: /* not in this table */
        case CFGT_PATH: {
            char abs[2 * TC_PATH_LEN];
            absolute(p, abs, sizeof abs);
            put_quoted(f, abs);
            break;
        }
        case CFGT_INT: fprintf(f, "%d", *(const int *)p); break;
        case CFGT_LONG: fprintf(f, "%ld", *(const long *)p); break;
        case CFGT_FLOAT: fprintf(f, "%.17g", *(const double *)p); break;
        case CFGT_FLOAT2: fprintf(f, "[%.17g, %.17g]", ((const double *)p)[0], ((const double *)p)[1]); break;
        case CFGT_BOOL: fputs(*(const bool *)p ? "true" : "false", f); break;
        case CFGT_ENUM: fputs(cfgt_enum_name(r, *(const int *)p), f); break;
        }
        fputc('\n', f);
    }
}

void tc_hash(const train_config *c, char out[72])
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        snprintf(out, 72, "sha256:unavailable");
        return;
    }
    tc_dump(c, f, false);
    fclose(f);
    sha256_tag(buf, len, out);
    free(buf);
}
