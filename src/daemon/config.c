/* config.c — the steerd configuration table and its reader. Every key is one row (dotted name,
 * type, bounds, default, field offset); the YAML tree is walked once: unknown keys, wrong types,
 * out-of-range values and missing required keys fail with `file:line:col: key: problem`.
 * Strings expand ${VAR} from the environment; relative paths resolve against the file's
 * directory. Cross-field rules run after parsing (validate); applying is main's job. */
#include "daemon/config.h"

#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/yamldoc.h"

typedef enum { CT_STR = 0, CT_PATH, CT_INT, CT_BOOL, CT_ENUM } cfg_type;

typedef struct {
    const char *key;
    cfg_type type;
    bool required;
    long min, max;                  /* CT_INT bounds */
    long idef;                      /* CT_INT / CT_BOOL / CT_ENUM default (enum: index) */
    const char *sdef;               /* CT_STR / CT_PATH default */
    const char *const *choices;     /* CT_ENUM names (NULL-terminated) */
    const int *values;              /* CT_ENUM stored values (NULL: the index) */
    size_t offset, size;            /* field in steerd_config (size: capacity of strings) */
} cfg_row;

static const char *const backend_names[] = {"auto", "cuda", "cpu", NULL};
static const char *const eos_names[] = {"exit", "restart", NULL};
static const char *const level_names[] = {"error", "warning", "notice", "info", "debug", NULL};
static const int level_values[] = {3, 4, 5, 6, 7};

#define F(field) offsetof(steerd_config, field), sizeof(((steerd_config *)0)->field)

/* Order = cfg_key_id. */
static const cfg_row table[CFG_NKEYS] = {
    {"source.pipeline", CT_STR, true, 0, 0, 0, NULL, NULL, NULL, F(pipeline)},
    {"source.drop", CT_BOOL, false, 0, 0, 1, NULL, NULL, NULL, F(drop)},
    {"source.on_eos", CT_ENUM, false, 0, 0, CFG_EOS_EXIT, NULL, eos_names, NULL, F(on_eos)},
    {"source.retry_ms", CT_INT, false, 10, 600000, 500, NULL, NULL, NULL, F(retry_ms)},
    {"source.retry_max_ms", CT_INT, false, 10, 3600000, 10000, NULL, NULL, NULL, F(retry_max_ms)},
    {"source.spin_us", CT_INT, false, 0, 20000, 1500, NULL, NULL, NULL, F(spin_us)},
    {"model.spec", CT_PATH, true, 0, 0, 0, NULL, NULL, NULL, F(model_spec)},
    {"model.weights", CT_PATH, true, 0, 0, 0, NULL, NULL, NULL, F(model_weights)},
    {"backend", CT_ENUM, false, 0, 0, CFG_BACKEND_AUTO, NULL, backend_names, NULL, F(backend)},
    {"threads", CT_INT, false, 1, 256, 1, NULL, NULL, NULL, F(threads)},
    {"publish.endpoint", CT_STR, false, 0, 0, 0, "ipc:///run/steerd/steer.sock", NULL, NULL, F(endpoint)},
    {"publish.sndhwm", CT_INT, false, 1, 1000000, 100, NULL, NULL, NULL, F(sndhwm)},
    {"stats.interval_ms", CT_INT, false, 50, 3600000, 1000, NULL, NULL, NULL, F(stats_interval_ms)},
    {"log.level", CT_ENUM, false, 0, 0, 3, NULL, level_names, level_values, F(log_level)},
};

const char *cfg_key_name(cfg_key_id key)
{
    return key < CFG_NKEYS ? table[key].key : "?";
}

const char *cfg_backend_name(int backend)
{
    return backend >= 0 && backend <= CFG_BACKEND_CPU ? backend_names[backend] : "?";
}

static void *field(steerd_config *cfg, const cfg_row *r)
{
    return (char *)cfg + r->offset;
}

static const void *cfield(const steerd_config *cfg, const cfg_row *r)
{
    return (const char *)cfg + r->offset;
}

static void set_default(steerd_config *cfg, const cfg_row *r)
{
    void *p = field(cfg, r);
    switch (r->type) {
    case CT_STR:
    case CT_PATH: snprintf(p, r->size, "%s", r->sdef ? r->sdef : ""); break;
    case CT_INT: *(int *)p = (int)r->idef; break;
    case CT_BOOL: *(bool *)p = r->idef != 0; break;
    case CT_ENUM: *(int *)p = r->values ? r->values[r->idef] : (int)r->idef; break;
    }
}

void cfg_defaults(steerd_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (int i = 0; i < CFG_NKEYS; i++)
        set_default(cfg, &table[i]);
}

nn_status cfg_error(const steerd_config *cfg, cfg_key_id key, nn_err *err, nn_status s, const char *fmt, ...)
{
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int line = key < CFG_NKEYS && cfg->pos[key].line ? cfg->pos[key].line : 1;
    int col = key < CFG_NKEYS && cfg->pos[key].col ? cfg->pos[key].col : 1;
    return nn_fail(err, s, "%s:%d:%d: %s: %s", cfg->path, line, col, cfg_key_name(key), msg);
}

/* ${NAME} -> getenv(NAME) ($$ -> $); an unset variable is an error. */
static nn_status expand_env(const yd_doc *d, const yd_node *n, const char *key, const char *in, char *out,
                            size_t cap, nn_err *err)
{
    size_t o = 0;
    for (const char *p = in; *p;) {
        const char *piece = p;
        size_t len = 1;
        char name[128];
        if (p[0] == '$' && p[1] == '$') {
            p += 2;
        } else if (p[0] == '$' && p[1] == '{') {
            const char *end = strchr(p + 2, '}');
            size_t nl = end ? (size_t)(end - (p + 2)) : 0;
            if (!end || nl == 0 || nl >= sizeof name)
                return yd_error(err, d, n, NN_E_SPEC, key, "malformed ${NAME} reference");
            memcpy(name, p + 2, nl);
            name[nl] = 0;
            piece = getenv(name);
            if (!piece)
                return yd_error(err, d, n, NN_E_SPEC, key, "environment variable %s is not set", name);
            len = strlen(piece);
            p = end + 1;
        } else {
            p++;
        }
        if (o + len >= cap)
            return yd_error(err, d, n, NN_E_SPEC, key, "longer than %zu characters", cap - 1);
        memcpy(out + o, piece, len);
        o += len;
    }
    out[o] = 0;
    return NN_OK;
}

/* Reads one value into cfg per its row. */
static nn_status read_value(const yd_doc *d, const yd_node *n, const cfg_row *r, steerd_config *cfg, nn_err *err)
{
    void *p = field(cfg, r);
    nn_status s;
    switch (r->type) {
    case CT_STR:
    case CT_PATH: {
        char raw[4096];
        s = yd_str(d, n, r->key, true, NULL, raw, sizeof raw, err);
        if (s)
            return s;
        char *dst = p;
        s = expand_env(d, n, r->key, raw, dst, r->size, err);
        if (s)
            return s;
        if (!dst[0])
            return yd_error(err, d, n, NN_E_SPEC, r->key, "must not be empty");
        if (r->type == CT_PATH && dst[0] != '/') {
            /* relative to the directory of the config file */
            const char *slash = strrchr(cfg->path, '/');
            if (slash) {
                char joined[1024];
                int m = snprintf(joined, sizeof joined, "%.*s/%s", (int)(slash - cfg->path), cfg->path, dst);
                if (m < 0 || (size_t)m >= r->size)
                    return yd_error(err, d, n, NN_E_SPEC, r->key, "path longer than %zu characters", r->size - 1);
                memcpy(dst, joined, (size_t)m + 1);
            }
        }
        return NN_OK;
    }
    case CT_INT: {
        long v;
        s = yd_int(d, n, r->key, true, 0, r->min, r->max, &v, err);
        if (!s)
            *(int *)p = (int)v;
        return s;
    }
    case CT_BOOL:
        return yd_bool(d, n, r->key, true, false, (bool *)p, err);
    case CT_ENUM: {
        int idx;
        s = yd_enum(d, n, r->key, true, 0, r->choices, &idx, err);
        if (!s)
            *(int *)p = r->values ? r->values[idx] : idx;
        return s;
    }
    }
    return NN_E_ARG;
}

static int find_row(const char *key)
{
    for (int i = 0; i < CFG_NKEYS; i++)
        if (strcmp(table[i].key, key) == 0)
            return i;
    return -1;
}

/* True when some key lives under `prefix.` (prefix is a section). */
static bool is_section(const char *prefix)
{
    size_t n = strlen(prefix);
    for (int i = 0; i < CFG_NKEYS; i++)
        if (strncmp(table[i].key, prefix, n) == 0 && table[i].key[n] == '.')
            return true;
    return false;
}

static nn_status walk(const yd_doc *d, const yd_node *map, const char *prefix, steerd_config *cfg, bool *seen,
                      nn_err *err)
{
    for (int i = 0; i < map->n; i++) {
        char key[256];
        int m = snprintf(key, sizeof key, "%s%s%s", prefix, *prefix ? "." : "", map->keys[i]);
        if (m < 0 || (size_t)m >= sizeof key)
            return nn_fail(err, NN_E_SPEC, "%s:%d:%d: key too long", d->path, map->key_line[i], map->key_col[i]);
        const yd_node *v = map->items[i];
        int row = find_row(key);
        if (row >= 0) {
            cfg->pos[row].line = v->line;
            cfg->pos[row].col = v->col;
            nn_status s = read_value(d, v, &table[row], cfg, err);
            if (s)
                return s;
            seen[row] = true;
        } else if (is_section(key)) {
            nn_status s = yd_expect(d, v, YD_MAP, key, err);
            if (s)
                return s;
            s = walk(d, v, key, cfg, seen, err);
            if (s)
                return s;
        } else {
            return nn_fail(err, NN_E_SPEC, "%s:%d:%d: %s: unknown key", d->path, map->key_line[i], map->key_col[i],
                           key);
        }
    }
    return NN_OK;
}

static bool has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

/* Cross-field and semantic rules, after every value has parsed. */
static nn_status validate(const steerd_config *cfg, nn_err *err)
{
    if (!strstr(cfg->pipeline, "appsink") || !strstr(cfg->pipeline, "name=sink"))
        return cfg_error(cfg, CFG_SOURCE_PIPELINE, err, NN_E_SPEC,
                         "must end in `appsink name=sink` (the frames are read from that element)");
    if (cfg->retry_max_ms < cfg->retry_ms)
        return cfg_error(cfg, CFG_SOURCE_RETRY_MAX_MS, err, NN_E_SPEC, "must be >= source.retry_ms (%d) (got %d)",
                         cfg->retry_ms, cfg->retry_max_ms);
    if (cfg->backend == CFG_BACKEND_CUDA)
        return cfg_error(cfg, CFG_BACKEND, err, NN_E_UNSUPPORTED,
                         "this build has no CUDA backend (use cpu or auto) (got 'cuda')");
    const char *ep = cfg->endpoint;
    if (!has_prefix(ep, "ipc://") && !has_prefix(ep, "tcp://") && !has_prefix(ep, "inproc://"))
        return cfg_error(cfg, CFG_PUBLISH_ENDPOINT, err, NN_E_SPEC,
                         "expected ipc://PATH, tcp://HOST:PORT or inproc://NAME (got '%s')", ep);
    if (has_prefix(ep, "tcp://") && !strrchr(ep + 6, ':'))
        return cfg_error(cfg, CFG_PUBLISH_ENDPOINT, err, NN_E_SPEC, "tcp endpoint needs a port (got '%s')", ep);
    if (strlen(ep) <= (size_t)(strchr(ep, ':') - ep) + 3)
        return cfg_error(cfg, CFG_PUBLISH_ENDPOINT, err, NN_E_SPEC, "missing address after the scheme (got '%s')",
                         ep);
    return NN_OK;
}

nn_status cfg_load_buffer(steerd_config *cfg, const char *buf, size_t len, const char *name, nn_err *err)
{
    cfg_defaults(cfg);
    snprintf(cfg->path, sizeof cfg->path, "%s", name);
    yd_doc d;
    nn_status s = yd_load_buffer(&d, buf, len, name, err);
    if (s)
        return s;
    bool seen[CFG_NKEYS] = {false};
    if (d.root->kind != YD_MAP)
        s = yd_error(err, &d, d.root, NN_E_SPEC, "config", "expected a mapping at the top level");
    else
        s = walk(&d, d.root, "", cfg, seen, err);
    for (int i = 0; !s && i < CFG_NKEYS; i++) {
        if (!table[i].required || seen[i])
            continue;
        /* Point at the section that should hold it, else the top of the file. */
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
    if (s)
        return s;
    return validate(cfg, err);
}

nn_status cfg_load(steerd_config *cfg, const char *path, nn_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        cfg_defaults(cfg);
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
        s = cfg_load_buffer(cfg, buf, len, path, err);
    free(buf);
    return s;
}

void cfg_dump(const steerd_config *cfg, FILE *f)
{
    for (int i = 0; i < CFG_NKEYS; i++) {
        const cfg_row *r = &table[i];
        const void *p = cfield(cfg, r);
        fprintf(f, "%s: ", r->key);
        switch (r->type) {
        case CT_STR:
        case CT_PATH: fprintf(f, "\"%s\"", (const char *)p); break;
        case CT_INT: fprintf(f, "%d", *(const int *)p); break;
        case CT_BOOL: fputs(*(const bool *)p ? "true" : "false", f); break;
        case CT_ENUM: {
            int v = *(const int *)p, idx = v;
            if (r->values)
                for (int k = 0; r->choices[k]; k++)
                    if (r->values[k] == v)
                        idx = k;
            fputs(r->choices[idx], f);
            break;
        }
        }
        fputs(cfg->pos[i].line ? "\n" : "    # default\n", f);
    }
}
