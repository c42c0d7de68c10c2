/* yamldoc.h — a small YAML document tree (via libyaml) with source positions, and typed,
 * bounds-checked accessors that report `file:line:col: field: problem (got value)`.
 * Used by the model spec parser and by every config reader (parse -> validate -> apply). */
#ifndef STEERD_YAMLDOC_H
#define STEERD_YAMLDOC_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

typedef enum { YD_SCALAR = 0, YD_SEQ, YD_MAP } yd_kind;

typedef struct yd_node {
    yd_kind kind;
    int line, col;              /* 1-based position of the node */
    char *str;                  /* scalar text */
    bool quoted;                /* scalar was quoted (never a number/bool) */
    struct yd_node **items;     /* sequence items / mapping values */
    char **keys;                /* mapping keys */
    int *key_line, *key_col;
    int n;
} yd_node;

typedef struct {
    char path[512];
    yd_node *root;
} yd_doc;

nn_status yd_load_file(yd_doc *d, const char *path, nn_err *err);
nn_status yd_load_buffer(yd_doc *d, const char *buf, size_t len, const char *name, nn_err *err);
void yd_free(yd_doc *d);

/* Mapping lookup (NULL when absent or when map is not a mapping). */
const yd_node *yd_get(const yd_node *map, const char *key);
/* Fails on the first key of `map` not in `allowed` (NULL-terminated). `what` names the context. */
nn_status yd_check_keys(const yd_doc *d, const yd_node *map, const char *const *allowed, const char *what,
                        nn_err *err);
nn_status yd_expect(const yd_doc *d, const yd_node *n, yd_kind kind, const char *field, nn_err *err);

/* Typed reads: `field` names the key in messages. Absent node (n == NULL) -> *out = def, NN_OK,
 * unless required. */
nn_status yd_int(const yd_doc *d, const yd_node *n, const char *field, bool required, long def, long min,
                 long max, long *out, nn_err *err);
nn_status yd_float(const yd_doc *d, const yd_node *n, const char *field, bool required, double def,
                   double min, double max, double *out, nn_err *err);
nn_status yd_bool(const yd_doc *d, const yd_node *n, const char *field, bool required, bool def, bool *out,
                  nn_err *err);
/* String into a fixed buffer (too long is an error). */
nn_status yd_str(const yd_doc *d, const yd_node *n, const char *field, bool required, const char *def,
                 char *out, size_t cap, nn_err *err);
/* One of `choices` (NULL-terminated); *out = index. */
nn_status yd_enum(const yd_doc *d, const yd_node *n, const char *field, bool required, int def,
                  const char *const *choices, int *out, nn_err *err);
/* `k` or `[a, b]` -> out[0], out[1] (a scalar sets both). */
nn_status yd_int_pair(const yd_doc *d, const yd_node *n, const char *field, bool required, int def, long min,
                      long max, int out[2], nn_err *err);

/* Formats `file:line:col: field: <msg>` for node n. */
nn_status yd_error(nn_err *err, const yd_doc *d, const yd_node *n, nn_status s, const char *field,
                   const char *fmt, ...) __attribute__((format(printf, 6, 7)));

#endif
