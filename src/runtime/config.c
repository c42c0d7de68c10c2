/* config.c — the steerd configuration table and its reader. Every key is one row (dotted name,
 * type, bounds, default, field offset); the YAML tree is walked once: unknown keys, wrong types,
 * out-of-range values and missing required keys fail with `file:line:col: key: problem`.
 * Strings expand ${VAR} from the environment; relative paths resolve against the file's
 * directory, except a path that starts with ${VAR}: relative to the working directory, as the
 * shell that set VAR meant it (common/cfgtable.c). steerd --endpoint replaces publish.endpoint. The reading itself is common/cfgtable.c; this file holds the table, the
 * cross-field rules run after parsing (validate: the endpoint's syntax too), what the machine says
 * about the endpoint (cfg_check_endpoint: its folder, its address; part of cfg_load, so
 * --check-config and a reload both run it) and the dump; applying is main's job. */
#include "runtime/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

#include "common/cfgtable.h"
#include "common/yamldoc.h"
#include "runtime/endpoint.h"

static const char *const backend_names[] = {"auto", "cuda", "cpu", NULL};
static const int backend_values[] = {NN_BACKEND_AUTO, NN_BACKEND_CUDA, NN_BACKEND_CPU};
static const char *const eos_names[] = {"exit", "restart", NULL};
static const char *const rate_names[] = {"recorded", "max", NULL};
static const char *const aspect_names[] = {"stretch", "crop", NULL};
static const char *const level_names[] = {"error", "warning", "notice", "info", "debug", NULL};
static const int level_values[] = {3, 4, 5, 6, 7};

#define F(field) .offset = offsetof(steerd_config, field), .size = sizeof(((steerd_config *)0)->field)
/* fl: what a reload does with a changed value (cfgtable.h): 0 live, AT_START or RESTART (the source) */
#define AT_START CFGT_RELOAD_AT_START
#define RESTART CFGT_RELOAD_RESTART
#define STR(k, req, d, field, fl) \
    {.key = k, .type = CFGT_STR, .required = req, .flags = CFGT_ENV | (fl), .sdef = d, F(field)}
#define PATH(k, field, fl) {.key = k, .type = CFGT_PATH, .required = true, .flags = CFGT_ENV | (fl), F(field)}
#define INT(k, lo, hi, d, field, fl) {.key = k, .type = CFGT_INT, .imin = lo, .imax = hi, .def = d, .flags = fl, F(field)}
#define BOOL(k, d, field, fl) {.key = k, .type = CFGT_BOOL, .def = d, .flags = fl, F(field)}
#define ENUM(k, names, vals, d, field, fl) \
    {.key = k, .type = CFGT_ENUM, .choices = names, .values = vals, .def = d, .flags = fl, F(field)}

/* Order = cfg_key_id. The model keys are live: every reload loads the model again. */
static const cfgt_row table[CFG_NKEYS] = {
    STR("source.pipeline", true, NULL, pipeline, RESTART),
    BOOL("source.drop", 1, drop, RESTART),
    ENUM("source.on_eos", eos_names, NULL, CFG_EOS_EXIT, on_eos, 0),
    INT("source.retry_ms", 10, 600000, 500, retry_ms, RESTART),
    INT("source.retry_max_ms", 10, 3600000, 10000, retry_max_ms, RESTART),
    INT("source.spin_us", 0, 20000, 1500, spin_us, 0),
    INT("source.clock_spin_us", 0, 20000, 500, clock_spin_us, RESTART),
    {.key = "source.drive_log", .type = CFGT_PATH, .flags = CFGT_ENV | CFGT_OPTIONAL | AT_START, F(drive_log)},
    ENUM("source.rate", rate_names, NULL, CFG_RATE_RECORDED, rate, AT_START),
    ENUM("source.aspect", aspect_names, NULL, CFG_ASPECT_STRETCH, aspect, 0), /* the model is loaded again */
    PATH("model.spec", model_spec, 0),
    PATH("model.weights", model_weights, 0),
    ENUM("backend", backend_names, backend_values, 0, backend, 0),
    INT("threads", 1, 256, 1, threads, 0),
    INT("realtime_priority", 0, 99, 0, realtime_priority, AT_START),
    INT("reload_timeout_ms", 100, 3600000, 30000, reload_timeout_ms, 0),
    STR("publish.endpoint", false, "ipc:///run/steerd/steer.sock", endpoint, AT_START),
    INT("publish.sndhwm", 1, 1000000, 100, sndhwm, AT_START),
    INT("stats.interval_ms", 50, 3600000, 1000, stats_interval_ms, 0),
    ENUM("log.level", level_names, level_values, 3, log_level, 0),
};

bool cfg_reload_merge(steerd_config *next, const steerd_config *cur, char *kept, size_t kept_len)
{
    bool restart = false;
    size_t used = 0;
    if (kept_len)
        kept[0] = 0;
    for (int i = 0; i < CFG_NKEYS; i++) {
        const cfgt_row *r = &table[i];
        if (!cfgt_field_differs(r, next, cur))
            continue;
        if (r->flags & CFGT_RELOAD_RESTART)
            restart = true;
        if (r->flags & CFGT_RELOAD_AT_START) {
            cfgt_copy_field(r, next, cur);
            if (used < kept_len) {
                int n = snprintf(kept + used, kept_len - used, "%s%s", used ? ", " : "", r->key);
                used += n > 0 ? (size_t)n : 0;
            }
        }
    }
    return restart;
}

const char *cfg_key_name(cfg_key_id key)
{
    return key < CFG_NKEYS ? table[key].key : "?";
}

void cfg_defaults(steerd_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfgt_defaults(cfg, table, CFG_NKEYS);
}

nn_status cfg_error(const steerd_config *cfg, cfg_key_id key, nn_err *err, nn_status s, const char *fmt, ...)
{
    cfg_pos at = key < CFG_NKEYS ? cfg->pos[key] : (cfg_pos){0, 0};
    va_list ap;
    va_start(ap, fmt);
    s = cfgt_vfail(err, s, cfg->path, at.line, at.col, cfg_key_name(key), fmt, ap);
    va_end(ap);
    return s;
}

/* Cross-field and semantic rules, after every value has parsed. */
static nn_status validate(const steerd_config *cfg, nn_err *err)
{
    if (!strstr(cfg->pipeline, "appsink") || !strstr(cfg->pipeline, "name=sink"))
        return cfg_error(cfg, CFG_SOURCE_PIPELINE, err, NN_E_SPEC,
                         "must end in `appsink name=sink` (the frames are read from that element)");
    if (cfg->drive_log[0] && (!strstr(cfg->pipeline, "appsrc") || !strstr(cfg->pipeline, "name=src")))
        return cfg_error(cfg, CFG_SOURCE_PIPELINE, err, NN_E_SPEC,
                         "source.drive_log is set: the pipeline must start with `appsrc name=src` (e.g. "
                         "appsrc name=src ! decodebin ! videoconvert ! appsink name=sink)");
    if (cfg->retry_max_ms < cfg->retry_ms)
        return cfg_error(cfg, CFG_SOURCE_RETRY_MAX_MS, err, NN_E_SPEC, "must be >= source.retry_ms (%d) (got %d)",
                         cfg->retry_ms, cfg->retry_max_ms);
    if (cfg->backend == NN_BACKEND_CUDA && !nn_cuda_built())
        return cfg_error(cfg, CFG_BACKEND, err, NN_E_UNSUPPORTED,
                         "this build has no CUDA backend (use cpu or auto) (got 'cuda')");
    char why[400];
    if (!ep_parse(cfg->endpoint, EP_BIND, why, sizeof why))
        return cfg_error(cfg, CFG_PUBLISH_ENDPOINT, err, NN_E_SPEC, "%s", why);
    return NN_OK;
}

/* Records where key `row`'s value is in the file. */
static void mark(void *obj, int row, int line, int col)
{
    ((steerd_config *)obj)->pos[row] = (cfg_pos){line, col};
}

/* cfg_load's parser for cfgt_load_file. */
static nn_status parse_text(void *cfg, const char *buf, size_t len, const char *name, nn_err *err)
{
    return cfg_load_buffer(cfg, buf, len, name, err);
}

nn_status cfg_load_buffer(steerd_config *cfg, const char *buf, size_t len, const char *name, nn_err *err)
{
    cfg_defaults(cfg);
    snprintf(cfg->path, sizeof cfg->path, "%s", name);
    yd_doc d;
    nn_status s = yd_load_buffer(&d, buf, len, name, err);
    if (s)
        return s;
    /* relative paths resolve against the directory of the config file */
    char base_dir[sizeof cfg->path];
    const char *slash = strrchr(cfg->path, '/');
    if (slash)
        snprintf(base_dir, sizeof base_dir, "%.*s", (int)(slash - cfg->path), cfg->path);
    bool seen[CFG_NKEYS] = {false};
    const cfgt_walk w = {table, CFG_NKEYS, cfg, slash ? base_dir : NULL, false, seen, mark};
    if (d.root->kind != YD_MAP)
        s = yd_error(err, &d, d.root, NN_E_SPEC, "config", "expected a mapping at the top level");
    else
        s = cfgt_walk_map(&d, d.root, "", &w, err);
    if (!s)
        s = cfgt_check_required(&d, table, CFG_NKEYS, seen, err);
    yd_free(&d);
    if (s)
        return s;
    return validate(cfg, err);
}

/* The fix for an ipc endpoint whose folder does not exist (the default's /run/steerd exists only
 * under systemd, which makes it for the unit's RuntimeDirectory=steerd); "" for other problems. */
static const char *endpoint_hint(const char *ep)
{
    char path[EP_IPC_MAX + 1];
    struct stat st;
    if (!ep_ipc_path(ep, path, sizeof path))
        return "";
    char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return "";
    *slash = 0;
    if (stat(path, &st) == 0 || errno != ENOENT)
        return "";
    return "; it is made by systemd (RuntimeDirectory= in steerd.service): for a hand run use steerd --endpoint "
           "ipc:///tmp/steer.sock, or create the folder";
}

nn_status cfg_check_endpoint(const steerd_config *cfg, nn_err *err)
{
    char why[400];
    if (ep_check(cfg->endpoint, EP_BIND, why, sizeof why))
        return NN_OK;
    if (cfg->pos[CFG_PUBLISH_ENDPOINT].line < 0)
        return nn_fail(err, NN_E_SPEC, "--endpoint: %s", why);
    return cfg_error(cfg, CFG_PUBLISH_ENDPOINT, err, NN_E_SPEC, "%s%s", why, endpoint_hint(cfg->endpoint));
}

nn_status cfg_load(steerd_config *cfg, const char *path, nn_err *err)
{
    return cfg_load_as(cfg, path, NULL, err);
}

nn_status cfg_load_as(steerd_config *cfg, const char *path, const char *endpoint, nn_err *err)
{
    nn_status s = cfgt_load_file(path, cfg, sizeof *cfg, table, CFG_NKEYS, parse_text, err);
    if (s)
        return s;
    if (endpoint) {
        char why[400];
        if (!ep_parse(endpoint, EP_BIND, why, sizeof why))
            return nn_fail(err, NN_E_SPEC, "--endpoint: %s", why);
        if (snprintf(cfg->endpoint, sizeof cfg->endpoint, "%s", endpoint) >= (int)sizeof cfg->endpoint)
            return nn_fail(err, NN_E_SPEC, "--endpoint: longer than %zu characters", sizeof cfg->endpoint - 1);
        cfg->pos[CFG_PUBLISH_ENDPOINT] = (cfg_pos){-1, 0}; /* from the command line */
    }
    return cfg_check_endpoint(cfg, err);
}

void cfg_dump(const steerd_config *cfg, FILE *f)
{
    for (int i = 0; i < CFG_NKEYS; i++) {
        const cfgt_row *r = &table[i];
        const void *p = cfgt_cfield(cfg, r);
        fprintf(f, "%s: ", r->key);
        switch (r->type) {
        case CFGT_STR:
        case CFGT_PATH: fprintf(f, "\"%s\"", (const char *)p); break;
        case CFGT_INT: fprintf(f, "%d", *(const int *)p); break;
        case CFGT_BOOL: fputs(*(const bool *)p ? "true" : "false", f); break;
        case CFGT_LONG:
        case CFGT_FLOAT:
        case CFGT_FLOAT2: break; /* not in this table */
        case CFGT_ENUM: fputs(cfgt_enum_name(r, *(const int *)p), f); break;
        }
        fputs(cfg->pos[i].line > 0 ? "\n" : cfg->pos[i].line < 0 ? "    # --endpoint\n" : "    # default\n", f);
    }
}
