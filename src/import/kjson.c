/* kjson.c — the JSON document tree of kjson.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import/kjson.h"
#include "nn/format/json.h"

void kj_free(kj *v)
{
    if (!v)
        return;
    for (int i = 0; i < v->n; i++) {
        kj_free(v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
    free(v);
}

static char *read_str(json_cur *c)
{
    size_t len;
    json_cur probe = *c;
    if (!json_string(&probe, NULL, 0, &len))
        return *c = probe, NULL;
    char *s = malloc(len + 1);
    if (s && !json_string(c, s, len + 1, NULL)) {
        free(s);
        return NULL;
    }
    return s;
}

static bool push(kj *v, kj *item, char *key)
{
    if ((v->n & (v->n - 1)) == 0) { /* grow at powers of two */
        int cap = v->n ? 2 * v->n : 1;
        kj **it = realloc(v->items, (size_t)cap * sizeof *it);
        if (!it)
            return false;
        v->items = it;
        if (v->kind == KJ_OBJ) {
            char **k = realloc(v->keys, (size_t)cap * sizeof *k);
            if (!k)
                return false;
            v->keys = k;
        }
    }
    v->items[v->n] = item;
    if (v->kind == KJ_OBJ)
        v->keys[v->n] = key;
    v->n++;
    return true;
}

static kj *value(json_cur *c, int depth)
{
    int ch = json_peek(c);
    kj *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    if (ch == '{' || ch == '[') {
        bool obj = ch == '{';
        v->kind = obj ? KJ_OBJ : KJ_ARR;
        c->pos++;
        if (depth >= JSON_MAX_DEPTH) {
            snprintf(c->why, sizeof c->why, "nested deeper than %d", JSON_MAX_DEPTH);
            return kj_free(v), NULL;
        }
        if (json_peek(c) == (obj ? '}' : ']')) {
            c->pos++;
            return v;
        }
        for (;;) {
            char *key = NULL;
            if (obj && (!(key = read_str(c)) || !json_eat(c, ':'))) {
                free(key);
                return kj_free(v), NULL;
            }
            kj *item = value(c, depth + 1);
            if (!item || !push(v, item, key)) {
                kj_free(item);
                free(key);
                return kj_free(v), NULL;
            }
            if (json_peek(c) == ',') {
                c->pos++;
                continue;
            }
            if (!json_eat(c, obj ? '}' : ']'))
                return kj_free(v), NULL;
            return v;
        }
    }
    if (ch == '"') {
        v->kind = KJ_STR;
        if (!(v->str = read_str(c)))
            return kj_free(v), NULL;
        return v;
    }
    static const char *const words[] = {"null", "true", "false", "NaN", "Infinity", "-Infinity"};
    for (int i = 0; i < 6; i++) {
        size_t n = strlen(words[i]);
        if (c->len - c->pos >= n && memcmp(c->s + c->pos, words[i], n) == 0) {
            c->pos += n;
            v->kind = i == 0 ? KJ_NULL : i < 3 ? KJ_BOOL : KJ_NUM; /* Keras writes NaN / Infinity */
            v->b = i == 1;
            v->num = i == 3 ? (double)NAN : i == 4 ? (double)INFINITY : -(double)INFINITY;
            return v;
        }
    }
    if (ch == '-' || (ch >= '0' && ch <= '9')) {
        char *end;
        v->kind = KJ_NUM;
        v->num = strtod((const char *)c->s + c->pos, &end);
        if (end > (const char *)c->s + c->pos && (size_t)(end - (const char *)c->s) <= c->len) {
            c->pos = (size_t)(end - (const char *)c->s);
            return v;
        }
    }
    snprintf(c->why, sizeof c->why, "unexpected character at byte %zu", c->pos);
    return kj_free(v), NULL;
}

kj *kj_parse(const char *s, size_t len, char *why, size_t cap)
{
    json_cur c;
    json_init(&c, s, len);
    kj *v = value(&c, 0);
    if (v && json_peek(&c) != -1) {
        snprintf(c.why, sizeof c.why, "trailing bytes at %zu", c.pos);
        kj_free(v);
        v = NULL;
    }
    if (!v)
        snprintf(why, cap, "%s", c.why[0] ? c.why : "malformed JSON");
    return v;
}

const kj *kj_get(const kj *v, const char *key)
{
    for (int i = 0; v && v->kind == KJ_OBJ && i < v->n; i++)
        if (strcmp(v->keys[i], key) == 0)
            return v->items[i];
    return NULL;
}

const kj *kj_at(const kj *v, int i) { return v && v->kind == KJ_ARR && i >= 0 && i < v->n ? v->items[i] : NULL; }

const char *kj_str(const kj *v) { return v && v->kind == KJ_STR ? v->str : NULL; }

double kj_num(const kj *v, double def) { return v && v->kind == KJ_NUM ? v->num : def; }
