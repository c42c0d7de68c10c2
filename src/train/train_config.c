/* train_config.c — the steer-train configuration table and its reader (the pattern of
 * src/daemon/config.c: one row per key with type, bounds, default and field offset). The YAML
 * tree is walked once; `--set key=value` reads its value through the same row; validate()
 * applies the cross-field rules and the defaults that depend on other keys. */
#include "train/train_config.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/sha256.h"
#include "common/yamldoc.h"

typedef enum { CT_PATH = 0, CT_INT, CT_LONG, CT_FLOAT, CT_FLOAT2, CT_BOOL, CT_ENUM } tc_type;

typedef struct {
    const char *key;
    tc_type type;
    bool required;
    bool optional_path;         /* CT_PATH that may stay empty */
    double min, max;            /* CT_INT / CT_LONG / CT_FLOAT bounds (inclusive) */
    bool min_open;              /* CT_FLOAT: value must be > min */
    double def;                 /* numeric / bool / enum-index default */
    const char *const *choices; /* CT_ENUM names (NULL-terminated) */
    size_t offset, size;        /* field in train_config (size: capacity of strings) */
} tc_row;

static const char *const ds_names[] = {"idx", "udacity", "sullychen", "donkey", NULL};
static const char *const task_names[] = {"classification", "regression", NULL};
static const char *const opt_names[] = {"sgd", "adam", "adamw", NULL};
static const char *const sched_names[] = {"constant", "step", "cosine", NULL};
static const char *const loss_names[] = {"cross_entropy", "mse", "huber", NULL};

#define F(field) offsetof(train_config, field), sizeof(((train_config *)0)->field)
#define PATH(k, req, opt, field) {k, CT_PATH, req, opt, 0, 0, false, 0, NULL, F(field)}
#define INT(k, lo, hi, d, field) {k, CT_INT, false, false, lo, hi, false, d, NULL, F(field)}
#define FLT(k, lo, open, hi, d, field) {k, CT_FLOAT, false, false, lo, hi, open, d, NULL, F(field)}
#define BOOL(k, d, field) {k, CT_BOOL, false, false, 0, 0, false, d, NULL, F(field)}
#define ENUM(k, req, names, d, field) {k, CT_ENUM, req, false, 0, 0, false, d, names, F(field)}

/* Order = tc_key_id. */
static const tc_row table[TC_NKEYS] = {
    PATH("model", true, false, model),
    ENUM("dataset.kind", true, ds_names, 0, dataset_kind),
    PATH("dataset.train", true, false, train),
    PATH("dataset.train_labels", false, true, train_labels),
    PATH("dataset.test", false, true, test),
    PATH("dataset.test_labels", false, true, test_labels),
    INT("dataset.classes", 0, 256, 0, classes),
    INT("dataset.queue_depth", 2, 64, 4, queue_depth),
    ENUM("task", false, task_names, TC_TASK_CLASSIFY, task),
    INT("batch_size", 1, 65536, 64, batch_size),
    INT("epochs", 1, 100000, 10, epochs),
    ENUM("optimizer.kind", false, opt_names, TC_OPT_ADAM, opt_kind),
    FLT("optimizer.lr", 0, true, 1e300, 1e-3, lr),
    FLT("optimizer.momentum", 0, false, 0.999999, 0, momentum),
    FLT("optimizer.dampening", 0, false, 1, 0, dampening),
    BOOL("optimizer.nesterov", 0, nesterov),
    {"optimizer.betas", CT_FLOAT2, false, false, 0, 0.999999, false, 0, NULL, F(betas)},
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
    BOOL("augmentation.side_cameras", 0, aug_side_cameras),
    FLT("augmentation.steering_correction", 0, false, 1, 0.25, aug_steering_correction),
    FLT("augmentation.zero_threshold", 0, false, 1, 0.01, aug_zero_threshold),
    FLT("augmentation.zero_keep", 0, false, 1, 1.0, aug_zero_keep),
    FLT("val_split", 0, false, 0.9, 0.1, val_split),
    {"seed", CT_LONG, false, false, 0, 9007199254740991.0, false, 1, NULL, F(seed)},
    INT("threads", 1, 256, 1, threads),
    PATH("output", true, false, output),
};

const char *tc_key_name(tc_key_id key)
{
    return key < TC_NKEYS ? table[key].key : "?";
}

const char *tc_enum_name(tc_key_id key, int value)
{
    if (key >= TC_NKEYS || table[key].type != CT_ENUM || value < 0)
        return "?";
    for (int i = 0; table[key].choices[i]; i++)
        if (i == value)
            return table[key].choices[i];
    return "?";
}

static void *field(train_config *c, const tc_row *r) { return (char *)c + r->offset; }
static const void *cfield(const train_config *c, const tc_row *r) { return (const char *)c + r->offset; }

void tc_defaults(train_config *c)
{
    memset(c, 0, sizeof *c);
    for (int i = 0; i < TC_NKEYS; i++) {
        const tc_row *r = &table[i];
        void *p = field(c, r);
        switch (r->type) {
        case CT_PATH: *(char *)p = 0; break;
        case CT_INT:
        case CT_ENUM: *(int *)p = (int)r->def; break;
        case CT_LONG: *(long *)p = (long)r->def; break;
        case CT_FLOAT: *(double *)p = r->def; break;
        case CT_FLOAT2: break;
        case CT_BOOL: *(bool *)p = r->def != 0; break;
        }
    }
    c->betas[0] = 0.9;
    c->betas[1] = 0.999;
}

nn_status tc_error(const train_config *c, tc_key_id key, nn_err *err, nn_status s, const char *fmt, ...)
{
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (key < TC_NKEYS && c->pos[key].from_set)
        return nn_fail(err, s, "--set %s: %s", tc_key_name(key), msg);
    int line = key < TC_NKEYS && c->pos[key].line ? c->pos[key].line : 1;
    int col = key < TC_NKEYS && c->pos[key].col ? c->pos[key].col : 1;
    return nn_fail(err, s, "%s:%d:%d: %s: %s", c->path, line, col, tc_key_name(key), msg);
}

/* Joins a relative path to base_dir ("" = keep as is). */
static nn_status resolve(const yd_doc *d, const yd_node *n, const tc_row *r, const char *base_dir, char *dst,
                         nn_err *err)
{
    if (dst[0] == '/' || !base_dir[0])
        return NN_OK;
    char joined[2 * TC_PATH_LEN];
    int m = snprintf(joined, sizeof joined, "%s/%s", base_dir, dst);
    if (m < 0 || (size_t)m >= r->size)
        return yd_error(err, d, n, NN_E_SPEC, r->key, "path longer than %zu characters", r->size - 1);
    memcpy(dst, joined, (size_t)m + 1);
    return NN_OK;
}

/* Reads one value into c per its row; relative paths join base_dir. */
static nn_status read_value(const yd_doc *d, const yd_node *n, const tc_row *r, train_config *c,
                            const char *base_dir, nn_err *err)
{
    void *p = field(c, r);
    nn_status s;
    switch (r->type) {
    case CT_PATH: {
        char *dst = p;
        s = yd_str(d, n, r->key, true, NULL, dst, r->size, err);
        if (s)
            return s;
        if (!dst[0])
            return r->optional_path ? NN_OK : yd_error(err, d, n, NN_E_SPEC, r->key, "must not be empty");
        return resolve(d, n, r, base_dir, dst, err);
    }
    case CT_INT:
    case CT_LONG: {
        long v;
        s = yd_int(d, n, r->key, true, 0, (long)r->min, (long)r->max, &v, err);
        if (s)
            return s;
        if (r->type == CT_INT)
            *(int *)p = (int)v;
        else
            *(long *)p = v;
        return NN_OK;
    }
    case CT_FLOAT: {
        double v;
        s = yd_float(d, n, r->key, true, 0, -HUGE_VAL, HUGE_VAL, &v, err);
        if (s)
            return s;
        bool low = r->min_open ? v <= r->min : v < r->min;
        if (low || v > r->max) {
            if (r->max >= 1e30)
                return yd_error(err, d, n, NN_E_SPEC, r->key, "must be %s %g (got %g)", r->min_open ? ">" : ">=",
                                r->min, v);
            return yd_error(err, d, n, NN_E_SPEC, r->key, "must be in %c%g, %g] (got %g)", r->min_open ? '(' : '[',
                            r->min, r->max, v);
        }
        *(double *)p = v;
        return NN_OK;
    }
    case CT_FLOAT2: {
        double *out = p;
        if (n->kind != YD_SEQ || n->n != 2)
            return yd_error(err, d, n, NN_E_SPEC, r->key, "expected a list of two numbers [a, b]");
        for (int i = 0; i < 2; i++) {
            s = yd_float(d, n->items[i], r->key, true, 0, r->min, r->max, &out[i], err);
            if (s)
                return s;
        }
        return NN_OK;
    }
    case CT_BOOL:
        return yd_bool(d, n, r->key, true, false, (bool *)p, err);
    case CT_ENUM:
        return yd_enum(d, n, r->key, true, 0, r->choices, (int *)p, err);
    }
    return NN_E_ARG;
}

static int find_row(const char *key)
{
    for (int i = 0; i < TC_NKEYS; i++)
        if (strcmp(table[i].key, key) == 0)
            return i;
    return -1;
}

/* True when some key lives under `prefix.` (prefix is a section). */
static bool is_section(const char *prefix)
{
    size_t n = strlen(prefix);
    for (int i = 0; i < TC_NKEYS; i++)
        if (strncmp(table[i].key, prefix, n) == 0 && table[i].key[n] == '.')
            return true;
    return false;
}

static nn_status walk(const yd_doc *d, const yd_node *map, const char *prefix, train_config *c, bool *seen,
                      const char *base_dir, nn_err *err)
{
    for (int i = 0; i < map->n; i++) {
        char key[256];
        int m = snprintf(key, sizeof key, "%s%s%s", prefix, *prefix ? "." : "", map->keys[i]);
        if (m < 0 || (size_t)m >= sizeof key)
            return nn_fail(err, NN_E_SPEC, "%s:%d:%d: key too long", d->path, map->key_line[i], map->key_col[i]);
        const yd_node *v = map->items[i];
        int row = find_row(key);
        if (row >= 0) {
            if (seen[row])
                return nn_fail(err, NN_E_SPEC, "%s:%d:%d: %s: given twice", d->path, map->key_line[i],
                               map->key_col[i], key);
            c->pos[row] = (tc_pos){v->line, v->col, false};
            nn_status s = read_value(d, v, &table[row], c, base_dir, err);
            if (s)
                return s;
            seen[row] = true;
        } else if (is_section(key)) {
            nn_status s = yd_expect(d, v, YD_MAP, key, err);
            if (!s)
                s = walk(d, v, key, c, seen, base_dir, err);
            if (s)
                return s;
        } else {
            return nn_fail(err, NN_E_SPEC, "%s:%d:%d: %s: unknown key", d->path, map->key_line[i], map->key_col[i],
                           key);
        }
    }
    return NN_OK;
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
    if (!d.root || d.root->kind != YD_MAP)
        s = nn_fail(err, NN_E_SPEC, "%s:1:1: config: expected a mapping of keys at the top level", name);
    else
        s = walk(&d, d.root, "", c, seen, base_dir, err);
    for (int i = 0; !s && i < TC_NKEYS; i++) {
        if (!table[i].required || seen[i])
            continue;
        char sect[64];
        const char *dot = strchr(table[i].key, '.');
        const yd_node *at = d.root;
        if (dot && (size_t)(dot - table[i].key) < sizeof sect) {
            snprintf(sect, sizeof sect, "%.*s", (int)(dot - table[i].key), table[i].key);
            const yd_node *sn = yd_get(d.root, sect);
            if (sn)
                at = sn;
        }
        s = yd_error(err, &d, at, NN_E_SPEC, table[i].key, "required key is missing");
    }
    yd_free(&d);
    return s;
}

nn_status tc_parse_file(train_config *c, const char *path, nn_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        tc_defaults(c);
        return nn_fail(err, NN_E_IO, "%s: cannot open the configuration file", path);
    }
    enum { MAX = 1 << 20 };
    char *buf = malloc(MAX + 1);
    if (!buf) {
        fclose(f);
        return nn_fail(err, NN_E_NOMEM, "%s: out of memory", path);
    }
    size_t len = fread(buf, 1, MAX + 1, f);
    int bad = ferror(f);
    fclose(f);
    nn_status s;
    if (bad)
        s = nn_fail(err, NN_E_IO, "%s: read error", path);
    else if (len > MAX)
        s = nn_fail(err, NN_E_PARSE, "%s: larger than %d bytes", path, MAX);
    else
        s = tc_parse_buffer(c, buf, len, path, err);
    free(buf);
    return s;
}

nn_status tc_set(train_config *c, const char *assignment, nn_err *err)
{
    const char *eq = strchr(assignment, '=');
    char key[128];
    if (!eq || eq == assignment || (size_t)(eq - assignment) >= sizeof key)
        return nn_fail(err, NN_E_SPEC, "--set %s: expected key=value (e.g. optimizer.lr=0.01)", assignment);
    snprintf(key, sizeof key, "%.*s", (int)(eq - assignment), assignment);
    int row = find_row(key);
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
            s = read_value(&d, d.root, &table[row], &tmp, "", &e2);
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
    const tc_row *r = &table[k];
    if (r->type == CT_PATH)
        return strcmp(cfield(c, r), cfield(&d, r)) != 0;
    return memcmp(cfield(c, r), cfield(&d, r), r->size) != 0;
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
    } else {
        for (int k = TC_AUG_FLIP; k <= TC_AUG_ZERO_KEEP; k++)
            if (changed(c, (tc_key_id)k))
                return tc_error(c, (tc_key_id)k, err, NN_E_SPEC,
                                "steering augmentation applies to driving-log datasets only (dataset.kind is idx)");
    }
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
    if (c->sched_kind == TC_LR_COSINE && c->warmup_epochs >= c->epochs)
        return tc_error(c, TC_SCHED_WARMUP_EPOCHS, err, NN_E_SPEC, "must be below epochs (%d) (got %d)", c->epochs,
                        c->warmup_epochs);
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
        const tc_row *r = &table[i];
        const void *p = cfield(c, r);
        if (i == TC_OUTPUT && !with_output)
            continue;
        fprintf(f, "%s: ", r->key);
        switch (r->type) {
        case CT_PATH: {
            char abs[2 * TC_PATH_LEN];
            absolute(p, abs, sizeof abs);
            put_quoted(f, abs);
            break;
        }
        case CT_INT: fprintf(f, "%d", *(const int *)p); break;
        case CT_LONG: fprintf(f, "%ld", *(const long *)p); break;
        case CT_FLOAT: fprintf(f, "%.17g", *(const double *)p); break;
        case CT_FLOAT2: fprintf(f, "[%.17g, %.17g]", ((const double *)p)[0], ((const double *)p)[1]); break;
        case CT_BOOL: fputs(*(const bool *)p ? "true" : "false", f); break;
        case CT_ENUM: fputs(r->choices[*(const int *)p], f); break;
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
