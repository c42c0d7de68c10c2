/* kjson.h — a small JSON document tree for the Keras model config (an HDF5 attribute): objects,
 * arrays, strings, numbers (double), booleans and null; strict syntax through the engine's JSON
 * scanner (src/nn/format/json.h), nesting at most JSON_MAX_DEPTH. */
#ifndef STEERD_IMPORT_KJSON_H
#define STEERD_IMPORT_KJSON_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { KJ_NULL = 0, KJ_BOOL, KJ_NUM, KJ_STR, KJ_ARR, KJ_OBJ } kj_kind;

typedef struct kj {
    kj_kind kind;
    bool b;
    double num;
    char *str;          /* KJ_STR */
    struct kj **items;  /* KJ_ARR, KJ_OBJ values */
    char **keys;        /* KJ_OBJ */
    int n;
} kj;

/* Parses s[0..len) (s NUL-terminated at len); NULL with `why` set on error. */
kj *kj_parse(const char *s, size_t len, char *why, size_t cap);
void kj_free(kj *v);
/* Member `key` of an object, NULL when absent or v is no object. */
const kj *kj_get(const kj *v, const char *key);
/* Item i of an array, NULL when out of range. */
const kj *kj_at(const kj *v, int i);
/* The string (NULL unless KJ_STR), the number (def unless KJ_NUM). */
const char *kj_str(const kj *v);
double kj_num(const kj *v, double def);

#endif
