/* yamldoc.c — builds a yd_node tree from libyaml events and reads typed values from it with
 * one-line, positioned error messages. Aliases are rejected; depth and size are bounded. */
#include "common/yamldoc.h"

#include "common/file_read.h"
#include "common/parse_num.h"
#include "common/quote.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define YD_MAX_DEPTH 64
#define YD_MAX_FILE (16u << 20)

typedef struct {
    yaml_parser_t parser;
    const char *name;
    nn_err *err;
    int depth;
} yd_builder;

static void node_free(yd_node *n)
{
    if (!n)
        return;
    for (int i = 0; i < n->n; i++) {
        node_free(n->items[i]);
        if (n->keys)
            free(n->keys[i]);
    }
    free(n->items);
    free(n->keys);
    free(n->key_line);
    free(n->key_col);
    free(n->str);
    free(n);
}

void yd_free(yd_doc *d)
{
    if (!d)
        return;
    node_free(d->root);
    d->root = NULL;
}

static nn_status parser_error(yd_builder *b)
{
    const yaml_parser_t *p = &b->parser;
    const yaml_mark_t *m = p->problem ? &p->problem_mark : &p->context_mark;
    return nn_fail(b->err, NN_E_PARSE, "%s:%zu:%zu: malformed YAML: %s%s%s", b->name, m->line + 1, m->column + 1,
                   p->problem ? p->problem : "syntax error", p->context ? " " : "", p->context ? p->context : "");
}

static nn_status next_event(yd_builder *b, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&b->parser, ev))
        return parser_error(b);
    return NN_OK;
}

static yd_node *node_new(yd_kind kind, const yaml_mark_t *m)
{
    yd_node *n = calloc(1, sizeof *n);
    if (n) {
        n->kind = kind;
        n->line = (int)m->line + 1;
        n->col = (int)m->column + 1;
    }
    return n;
}

static nn_status node_append(yd_builder *b, yd_node *parent, yd_node *child, char *key, int kl, int kc)
{
    int cap = parent->n + 1;
    yd_node **items = realloc(parent->items, (size_t)cap * sizeof *items);
    if (!items)
        return nn_fail(b->err, NN_E_NOMEM, "%s: out of memory", b->name);
    parent->items = items;
    if (parent->kind == YD_MAP) {
        char **keys = realloc(parent->keys, (size_t)cap * sizeof *keys);
        if (keys)
            parent->keys = keys;
        int *kls = realloc(parent->key_line, (size_t)cap * sizeof *kls);
        if (kls)
            parent->key_line = kls;
        int *kcs = realloc(parent->key_col, (size_t)cap * sizeof *kcs);
        if (kcs)
            parent->key_col = kcs;
        if (!keys || !kls || !kcs)
            return nn_fail(b->err, NN_E_NOMEM, "%s: out of memory", b->name);
        parent->keys[parent->n] = key;
        parent->key_line[parent->n] = kl;
        parent->key_col[parent->n] = kc;
    }
    parent->items[parent->n++] = child;
    return NN_OK;
}

static nn_status build_node(yd_builder *b, yaml_event_t *ev, yd_node **out);

/* Builds the children of a sequence or mapping until its end event. */
static nn_status build_children(yd_builder *b, yd_node *n)
{
    for (;;) {
        yaml_event_t ev;
        nn_status s = next_event(b, &ev);
        if (s)
            return s;
        if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&ev);
            return NN_OK;
        }
        char *key = NULL;
        int kl = 0, kc = 0;
        if (n->kind == YD_MAP) {
            if (ev.type != YAML_SCALAR_EVENT) {
                s = nn_fail(b->err, NN_E_PARSE, "%s:%zu:%zu: mapping keys must be plain scalars", b->name,
                            ev.start_mark.line + 1, ev.start_mark.column + 1);
                yaml_event_delete(&ev);
                return s;
            }
            kl = (int)ev.start_mark.line + 1;
            kc = (int)ev.start_mark.column + 1;
            const char *k = (const char *)ev.data.scalar.value;
            for (int i = 0; i < n->n; i++)
                if (strcmp(n->keys[i], k) == 0) {
                    char qb[CM_QUOTE_LEN];
                    s = nn_fail(b->err, NN_E_PARSE, "%s:%d:%d: duplicate key %s (first at line %d)", b->name, kl,
                                kc, cm_quote(qb, k), n->key_line[i]);
                    yaml_event_delete(&ev);
                    return s;
                }
            key = strdup(k);
            yaml_event_delete(&ev);
            if (!key)
                return nn_fail(b->err, NN_E_NOMEM, "%s: out of memory", b->name);
            s = next_event(b, &ev);
            if (s) {
                free(key);
                return s;
            }
        }
        yd_node *child = NULL;
        s = build_node(b, &ev, &child);
        if (s) {
            free(key);
            return s;
        }
        s = node_append(b, n, child, key, kl, kc);
        if (s) {
            free(key);
            node_free(child);
            return s;
        }
    }
}

/* Consumes `ev` (a node start event) and builds the node. */
static nn_status build_node(yd_builder *b, yaml_event_t *ev, yd_node **out)
{
    nn_status s = NN_OK;
    yd_node *n = NULL;
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        n = node_new(YD_SCALAR, &ev->start_mark);
        if (n) {
            n->str = strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
            n->quoted = ev->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                        ev->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
            if (!n->str) {
                node_free(n);
                n = NULL;
            }
        }
        yaml_event_delete(ev);
        if (!n)
            return nn_fail(b->err, NN_E_NOMEM, "%s: out of memory", b->name);
        *out = n;
        return NN_OK;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        n = node_new(ev->type == YAML_SEQUENCE_START_EVENT ? YD_SEQ : YD_MAP, &ev->start_mark);
        yaml_event_delete(ev);
        if (!n)
            return nn_fail(b->err, NN_E_NOMEM, "%s: out of memory", b->name);
        if (++b->depth > YD_MAX_DEPTH) {
            s = nn_fail(b->err, NN_E_PARSE, "%s:%d:%d: nesting deeper than %d levels", b->name, n->line, n->col,
                        YD_MAX_DEPTH);
        } else {
            s = build_children(b, n);
        }
        b->depth--;
        if (s) {
            node_free(n);
            return s;
        }
        *out = n;
        return NN_OK;
    case YAML_ALIAS_EVENT:
        s = nn_fail(b->err, NN_E_PARSE, "%s:%zu:%zu: YAML aliases are not supported", b->name,
                    ev->start_mark.line + 1, ev->start_mark.column + 1);
        break;
    default:
        s = nn_fail(b->err, NN_E_PARSE, "%s:%zu:%zu: unexpected YAML event", b->name, ev->start_mark.line + 1,
                    ev->start_mark.column + 1);
        break;
    }
    yaml_event_delete(ev);
    return s;
}

nn_status yd_load_buffer(yd_doc *d, const char *buf, size_t len, const char *name, nn_err *err)
{
    memset(d, 0, sizeof *d);
    snprintf(d->path, sizeof d->path, "%s", name);
    yd_builder b = {.name = d->path, .err = err};
    if (!yaml_parser_initialize(&b.parser))
        return nn_fail(err, NN_E_NOMEM, "%s: cannot initialise the YAML parser", name);
    yaml_parser_set_input_string(&b.parser, (const unsigned char *)buf, len);

    nn_status s = NN_OK;
    yaml_event_t ev;
    int phase = 0; /* 0: before document, 1: root built, 2: done */
    while (phase < 2 && !(s = next_event(&b, &ev))) {
        yaml_event_type_t t = ev.type;
        if (t == YAML_STREAM_START_EVENT || t == YAML_DOCUMENT_START_EVENT || t == YAML_DOCUMENT_END_EVENT) {
            yaml_event_delete(&ev);
        } else if (t == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            phase = 2;
        } else if (phase == 0) {
            s = build_node(&b, &ev, &d->root);
            if (s)
                break;
            phase = 1;
        } else {
            s = nn_fail(err, NN_E_PARSE, "%s:%zu:%zu: only one YAML document is allowed", name, ev.start_mark.line + 1,
                        ev.start_mark.column + 1);
            yaml_event_delete(&ev);
            break;
        }
    }
    yaml_parser_delete(&b.parser);
    if (!s && !d->root)
        s = nn_fail(err, NN_E_PARSE, "%s:1:1: empty document", name);
    if (s)
        yd_free(d);
    return s;
}

nn_status yd_load_file(yd_doc *d, const char *path, nn_err *err)
{
    memset(d, 0, sizeof *d);
    char *buf;
    size_t len;
    nn_status s = cm_read_regular(path, YD_MAX_FILE, &buf, &len, err);
    if (s)
        return s;
    s = yd_load_buffer(d, buf, len, path, err);
    free(buf);
    return s;
}

const yd_node *yd_get(const yd_node *map, const char *key)
{
    if (!map || map->kind != YD_MAP)
        return NULL;
    for (int i = 0; i < map->n; i++)
        if (strcmp(map->keys[i], key) == 0)
            return map->items[i];
    return NULL;
}

nn_status yd_error(nn_err *err, const yd_doc *d, const yd_node *n, nn_status s, const char *field, const char *fmt,
                   ...)
{
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return nn_fail(err, s, "%s:%d:%d: %s: %s", d->path, n ? n->line : 1, n ? n->col : 1, field, msg);
}

static const char *kind_name(yd_kind k)
{
    return k == YD_SCALAR ? "a scalar" : k == YD_SEQ ? "a list" : "a mapping";
}

nn_status yd_expect(const yd_doc *d, const yd_node *n, yd_kind kind, const char *field, nn_err *err)
{
    if (!n)
        return yd_error(err, d, NULL, NN_E_SPEC, field, "missing (expected %s)", kind_name(kind));
    if (n->kind != kind)
        return yd_error(err, d, n, NN_E_SPEC, field, "expected %s, got %s", kind_name(kind), kind_name(n->kind));
    return NN_OK;
}

nn_status yd_check_keys(const yd_doc *d, const yd_node *map, const char *const *allowed, const char *what,
                        nn_err *err)
{
    if (!map || map->kind != YD_MAP)
        return NN_OK;
    for (int i = 0; i < map->n; i++) {
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, map->keys[i]) == 0;
        char qb[CM_QUOTE_LEN];
        if (!ok)
            return nn_fail(err, NN_E_SPEC, "%s:%d:%d: %s: unknown key %s", d->path, map->key_line[i],
                           map->key_col[i], what, cm_quote(qb, map->keys[i]));
    }
    return NN_OK;
}

static nn_status need_scalar(const yd_doc *d, const yd_node *n, const char *field, nn_err *err)
{
    if (n->kind != YD_SCALAR)
        return yd_error(err, d, n, NN_E_SPEC, field, "expected a scalar, got %s", kind_name(n->kind));
    return NN_OK;
}

static nn_status missing(const yd_doc *d, const char *field, nn_err *err)
{
    return nn_fail(err, NN_E_SPEC, "%s: %s: required key is missing", d->path, field);
}

nn_status yd_int(const yd_doc *d, const yd_node *n, const char *field, bool required, long def, long min, long max,
                 long *out, nn_err *err)
{
    if (!n) {
        if (required)
            return missing(d, field, err);
        *out = def;
        return NN_OK;
    }
    nn_status s = need_scalar(d, n, field, err);
    if (s)
        return s;
    char *end = NULL;
    errno = 0;
    long v = strtol(n->str, &end, 10);
    char qb[CM_QUOTE_LEN];
    if (n->quoted || end == n->str || *end || errno)
        return yd_error(err, d, n, NN_E_SPEC, field, "expected an integer (got %s)", cm_quote(qb, n->str));
    if (v < min || v > max)
        return yd_error(err, d, n, NN_E_SPEC, field, "must be in [%ld, %ld] (got %ld)", min, max, v);
    *out = v;
    return NN_OK;
}

nn_status yd_float(const yd_doc *d, const yd_node *n, const char *field, bool required, double def, double min,
                   double max, double *out, nn_err *err)
{
    if (!n) {
        if (required)
            return missing(d, field, err);
        *out = def;
        return NN_OK;
    }
    nn_status s = need_scalar(d, n, field, err);
    if (s)
        return s;
    double v;
    char qb[CM_QUOTE_LEN];
    if (n->quoted || !cm_parse_finite(n->str, &v))
        return yd_error(err, d, n, NN_E_SPEC, field, "expected a finite number (got %s)", cm_quote(qb, n->str));
    if (v < min || v > max)
        return yd_error(err, d, n, NN_E_SPEC, field, "must be in [%g, %g] (got %g)", min, max, v);
    *out = v;
    return NN_OK;
}

nn_status yd_bool(const yd_doc *d, const yd_node *n, const char *field, bool required, bool def, bool *out,
                  nn_err *err)
{
    if (!n) {
        if (required)
            return missing(d, field, err);
        *out = def;
        return NN_OK;
    }
    nn_status s = need_scalar(d, n, field, err);
    if (s)
        return s;
    char qb[CM_QUOTE_LEN];
    if (!n->quoted && strcmp(n->str, "true") == 0)
        *out = true;
    else if (!n->quoted && strcmp(n->str, "false") == 0)
        *out = false;
    else
        return yd_error(err, d, n, NN_E_SPEC, field, "expected true or false (got %s)", cm_quote(qb, n->str));
    return NN_OK;
}

nn_status yd_str(const yd_doc *d, const yd_node *n, const char *field, bool required, const char *def, char *out,
                 size_t cap, nn_err *err)
{
    if (!n) {
        if (required)
            return missing(d, field, err);
        snprintf(out, cap, "%s", def ? def : "");
        return NN_OK;
    }
    nn_status s = need_scalar(d, n, field, err);
    if (s)
        return s;
    if (strlen(n->str) >= cap)
        return yd_error(err, d, n, NN_E_SPEC, field, "longer than %zu characters", cap - 1);
    memcpy(out, n->str, strlen(n->str) + 1);
    return NN_OK;
}

nn_status yd_enum(const yd_doc *d, const yd_node *n, const char *field, bool required, int def,
                  const char *const *choices, int *out, nn_err *err)
{
    if (!n) {
        if (required)
            return missing(d, field, err);
        *out = def;
        return NN_OK;
    }
    nn_status s = need_scalar(d, n, field, err);
    if (s)
        return s;
    char list[256] = "";
    size_t used = 0;
    for (int i = 0; choices[i]; i++) {
        if (strcmp(n->str, choices[i]) == 0) {
            *out = i;
            return NN_OK;
        }
        int w = snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", choices[i]);
        if (w > 0 && (size_t)w < sizeof list - used)
            used += (size_t)w;
    }
    char qb[CM_QUOTE_LEN];
    return yd_error(err, d, n, NN_E_SPEC, field, "expected one of %s (got %s)", list, cm_quote(qb, n->str));
}

nn_status yd_int_pair(const yd_doc *d, const yd_node *n, const char *field, bool required, int def, long min,
                      long max, int out[2], nn_err *err)
{
    long a = def, b = def;
    nn_status s;
    if (n && n->kind == YD_SEQ) {
        if (n->n != 2)
            return yd_error(err, d, n, NN_E_SPEC, field, "expected a value or a list of 2 values (got %d values)",
                            n->n);
        if ((s = yd_int(d, n->items[0], field, true, def, min, max, &a, err)) ||
            (s = yd_int(d, n->items[1], field, true, def, min, max, &b, err)))
            return s;
    } else {
        if ((s = yd_int(d, n, field, required, def, min, max, &a, err)))
            return s;
        b = a;
    }
    out[0] = (int)a;
    out[1] = (int)b;
    return NN_OK;
}
