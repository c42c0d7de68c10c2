/* cfgtable.c — the generic reader behind the steerd and steer-train configuration tables:
 * defaults per row, typed reads of one value into a struct field (${VAR} expansion and
 * config-relative paths where the row asks for them), the recursive walk over the YAML tree
 * that records positions and rejects unknown keys, the required-key check and file loading. */
#include "common/cfgtable.h"

#include "common/quote.h"

#include "common/file_read.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *cfgt_field(void *obj, const cfgt_row *r)
{
    return (char *)obj + r->offset;
}

const void *cfgt_cfield(const void *obj, const cfgt_row *r)
{
    return (const char *)obj + r->offset;
}

void cfgt_defaults(void *obj, const cfgt_row *rows, int n)
{
    for (int i = 0; i < n; i++) {
        const cfgt_row *r = &rows[i];
        void *p = cfgt_field(obj, r);
        switch (r->type) {
        case CFGT_STR:
        case CFGT_PATH: snprintf(p, r->size, "%s", r->sdef ? r->sdef : ""); break;
        case CFGT_INT: *(int *)p = (int)r->def; break;
        case CFGT_LONG: *(long *)p = (long)r->def; break;
        case CFGT_FLOAT: *(double *)p = r->def; break;
        case CFGT_FLOAT2:
            ((double *)p)[0] = r->def;
            ((double *)p)[1] = r->def2;
            break;
        case CFGT_BOOL: *(bool *)p = r->def != 0; break;
        case CFGT_ENUM: *(int *)p = r->values ? r->values[(int)r->def] : (int)r->def; break;
        }
    }
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
            char qb[CM_QUOTE_LEN];
            if (!piece)
                return yd_error(err, d, n, NN_E_SPEC, key, "environment variable %s is not set",
                                cm_quote_safe(name, nl) ? name : cm_quote(qb, name));
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

/* Joins a relative path in dst to base_dir (NULL: kept as it is). */
static nn_status resolve(const yd_doc *d, const yd_node *n, const cfgt_row *r, const char *base_dir, char *dst,
                         nn_err *err)
{
    if (!base_dir || dst[0] == '/')
        return NN_OK;
    size_t bl = strlen(base_dir), dl = strlen(dst);
    if (bl + 1 + dl >= r->size)
        return yd_error(err, d, n, NN_E_SPEC, r->key, "path longer than %zu characters", r->size - 1);
    memmove(dst + bl + 1, dst, dl + 1);
    memcpy(dst, base_dir, bl);
    dst[bl] = '/';
    return NN_OK;
}

static nn_status read_string(const yd_doc *d, const yd_node *n, const cfgt_row *r, char *dst, const char *base_dir,
                             nn_err *err)
{
    nn_status s;
    bool from_env = false; /* the value starts with ${VAR}: a relative path is the shell's, not the file's */
    if (r->flags & CFGT_ENV) {
        char raw[4096];
        s = yd_str(d, n, r->key, true, NULL, raw, sizeof raw, err);
        from_env = !s && strncmp(raw, "${", 2) == 0;
        if (!s)
            s = expand_env(d, n, r->key, raw, dst, r->size, err);
    } else {
        s = yd_str(d, n, r->key, true, NULL, dst, r->size, err);
    }
    if (s)
        return s;
    if (!dst[0])
        return r->flags & CFGT_OPTIONAL ? NN_OK : yd_error(err, d, n, NN_E_SPEC, r->key, "must not be empty");
    return r->type == CFGT_PATH ? resolve(d, n, r, from_env ? NULL : base_dir, dst, err) : NN_OK;
}

static nn_status read_float(const yd_doc *d, const yd_node *n, const cfgt_row *r, double *out, nn_err *err)
{
    double v;
    nn_status s = yd_float(d, n, r->key, true, 0, -HUGE_VAL, HUGE_VAL, &v, err);
    if (s)
        return s;
    bool open = (r->flags & CFGT_MIN_OPEN) != 0;
    bool low = open ? v <= r->fmin : v < r->fmin;
    if (low || v > r->fmax) {
        if (r->fmax >= 1e30)
            return yd_error(err, d, n, NN_E_SPEC, r->key, "must be %s %g (got %g)", open ? ">" : ">=", r->fmin, v);
        return yd_error(err, d, n, NN_E_SPEC, r->key, "must be in %c%g, %g] (got %g)", open ? '(' : '[', r->fmin,
                        r->fmax, v);
    }
    *out = v;
    return NN_OK;
}

nn_status cfgt_read_value(const yd_doc *d, const yd_node *n, const cfgt_row *r, void *obj, const char *base_dir,
                          nn_err *err)
{
    void *p = cfgt_field(obj, r);
    nn_status s;
    switch (r->type) {
    case CFGT_STR:
    case CFGT_PATH: return read_string(d, n, r, p, base_dir, err);
    case CFGT_INT:
    case CFGT_LONG: {
        long v;
        s = yd_int(d, n, r->key, true, 0, r->imin, r->imax, &v, err);
        if (s)
            return s;
        if (r->type == CFGT_INT)
            *(int *)p = (int)v;
        else
            *(long *)p = v;
        return NN_OK;
    }
    case CFGT_FLOAT: return read_float(d, n, r, p, err);
    case CFGT_FLOAT2: {
        double *out = p;
        if (n->kind != YD_SEQ || n->n != 2)
            return yd_error(err, d, n, NN_E_SPEC, r->key, "expected a list of two numbers [a, b]");
        for (int i = 0; i < 2; i++) {
            s = yd_float(d, n->items[i], r->key, true, 0, r->fmin, r->fmax, &out[i], err);
            if (s)
                return s;
        }
        return NN_OK;
    }
    case CFGT_BOOL: return yd_bool(d, n, r->key, true, false, (bool *)p, err);
    case CFGT_ENUM: {
        int idx;
        s = yd_enum(d, n, r->key, true, 0, r->choices, &idx, err);
        if (!s)
            *(int *)p = r->values ? r->values[idx] : idx;
        return s;
    }
    }
    return NN_E_ARG;
}

bool cfgt_field_differs(const cfgt_row *r, const void *a, const void *b)
{
    const void *fa = cfgt_cfield(a, r), *fb = cfgt_cfield(b, r);
    if (r->type == CFGT_STR || r->type == CFGT_PATH)
        return strcmp(fa, fb) != 0;
    return memcmp(fa, fb, r->size) != 0;
}

void cfgt_copy_field(const cfgt_row *r, void *dst, const void *src)
{
    memcpy(cfgt_field(dst, r), cfgt_cfield(src, r), r->size);
}

const char *cfgt_enum_name(const cfgt_row *r, int value)
{
    if (r->type != CFGT_ENUM)
        return "?";
    for (int k = 0; r->choices[k]; k++)
        if ((r->values ? r->values[k] : k) == value)
            return r->choices[k];
    return "?";
}

int cfgt_find_row(const cfgt_row *rows, int n, const char *key)
{
    for (int i = 0; i < n; i++)
        if (strcmp(rows[i].key, key) == 0)
            return i;
    return -1;
}

bool cfgt_is_section(const cfgt_row *rows, int n, const char *prefix)
{
    size_t len = strlen(prefix);
    for (int i = 0; i < n; i++)
        if (strncmp(rows[i].key, prefix, len) == 0 && rows[i].key[len] == '.')
            return true;
    return false;
}

nn_status cfgt_walk_map(const yd_doc *d, const yd_node *map, const char *prefix, const cfgt_walk *w, nn_err *err)
{
    for (int i = 0; i < map->n; i++) {
        char key[256];
        int m = snprintf(key, sizeof key, "%s%s%s", prefix, *prefix ? "." : "", map->keys[i]);
        if (m < 0 || (size_t)m >= sizeof key)
            return nn_fail(err, NN_E_SPEC, "%s:%d:%d: key too long", d->path, map->key_line[i], map->key_col[i]);
        const yd_node *v = map->items[i];
        int row = cfgt_find_row(w->rows, w->n, key);
        if (row >= 0) {
            if (w->no_repeat && w->seen[row])
                return nn_fail(err, NN_E_SPEC, "%s:%d:%d: %s: given twice", d->path, map->key_line[i],
                               map->key_col[i], key);
            if (w->mark)
                w->mark(w->obj, row, v->line, v->col);
            nn_status s = cfgt_read_value(d, v, &w->rows[row], w->obj, w->base_dir, err);
            if (s)
                return s;
            w->seen[row] = true;
        } else if (cfgt_is_section(w->rows, w->n, key)) {
            nn_status s = yd_expect(d, v, YD_MAP, key, err);
            if (!s)
                s = cfgt_walk_map(d, v, key, w, err);
            if (s)
                return s;
        } else {
            char qb[CM_QUOTE_LEN];
            if (cm_quote_safe(map->keys[i], strlen(map->keys[i])))
                return nn_fail(err, NN_E_SPEC, "%s:%d:%d: %s: unknown key", d->path, map->key_line[i],
                               map->key_col[i], key);
            return nn_fail(err, NN_E_SPEC, "%s:%d:%d: %s%sunknown key %s", d->path, map->key_line[i], map->key_col[i],
                           prefix, *prefix ? ": " : "", cm_quote(qb, map->keys[i])); /* never the file's bytes */
        }
    }
    return NN_OK;
}

nn_status cfgt_check_required(const yd_doc *d, const cfgt_row *rows, int n, const bool *seen, nn_err *err)
{
    for (int i = 0; i < n; i++) {
        if (!rows[i].required || seen[i])
            continue;
        /* Point at the section that should hold it, else the top of the file. */
        char sect[64];
        const char *dot = strchr(rows[i].key, '.');
        const yd_node *at = d->root;
        if (dot && (size_t)(dot - rows[i].key) < sizeof sect) {
            snprintf(sect, sizeof sect, "%.*s", (int)(dot - rows[i].key), rows[i].key);
            const yd_node *sn = yd_get(d->root, sect);
            if (sn)
                at = sn;
        }
        return yd_error(err, d, at, NN_E_SPEC, rows[i].key, "required key is missing");
    }
    return NN_OK;
}

nn_status cfgt_vfail(nn_err *err, nn_status s, const char *path, int line, int col, const char *key,
                     const char *fmt, va_list ap)
{
    char msg[384];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (!path)
        return nn_fail(err, s, "--set %s: %s", key, msg);
    return nn_fail(err, s, "%s:%d:%d: %s: %s", path, line ? line : 1, col ? col : 1, key, msg);
}

nn_status cfgt_load_file(const char *path, void *obj, size_t size, const cfgt_row *rows, int n, cfgt_parse_fn parse,
                         nn_err *err)
{
    char *buf;
    size_t len;
    nn_status s = cm_read_regular(path, 1u << 20, &buf, &len, err);
    if (s) {
        memset(obj, 0, size);
        cfgt_defaults(obj, rows, n);
        return s;
    }
    s = parse(obj, buf, len, path, err);
    free(buf);
    return s;
}
