/* cfgtable.h — table-driven YAML configuration reading shared by steerd (src/daemon/config.c)
 * and steer-train (src/train/train_config.c). Each key is one row (dotted name, type, bounds,
 * default, field offset in the caller's struct); the YAML tree is walked once, recording value
 * positions and failing on unknown keys, wrong types and out-of-range values with
 * `file:line:col: key: problem`. Behaviours that differ between the two configs are row flags
 * (CFGT_ENV, CFGT_OPTIONAL, CFGT_MIN_OPEN) or walk settings (base_dir, no_repeat, mark). */
#ifndef STEERD_CFGTABLE_H
#define STEERD_CFGTABLE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/yamldoc.h"
#include "common/err.h"

typedef enum {
    CFGT_STR = 0, /* char[size] */
    CFGT_PATH,    /* char[size]; relative values join the walk's base_dir, except a value that starts
                     with ${VAR} (CFGT_ENV): relative to the working directory, as the shell that set
                     VAR meant it */
    CFGT_INT,     /* int, bounds imin..imax */
    CFGT_LONG,    /* long, bounds imin..imax */
    CFGT_FLOAT,   /* double, bounds fmin..fmax (see CFGT_MIN_OPEN) */
    CFGT_FLOAT2,  /* double[2], each in fmin..fmax; defaults def, def2 */
    CFGT_BOOL,    /* bool */
    CFGT_ENUM,    /* int: index into choices, or values[index] when values is set */
} cfgt_type;

enum {
    CFGT_ENV = 1 << 0,      /* CFGT_STR / CFGT_PATH: expand ${NAME} from the environment ($$ -> $) */
    CFGT_OPTIONAL = 1 << 1, /* CFGT_STR / CFGT_PATH: an empty value is allowed */
    CFGT_MIN_OPEN = 1 << 2, /* CFGT_FLOAT: the value must be > fmin */
    /* What a reload does with a changed value (a program that reloads reads these; a key with
     * neither flag is applied live, between frames): */
    CFGT_RELOAD_AT_START = 1 << 3, /* takes effect at the next start: the running value is kept */
    CFGT_RELOAD_RESTART = 1 << 4,  /* applied by restarting the part that uses it (steerd: the source) */
};

typedef struct {
    const char *key;            /* dotted name, e.g. "source.retry_ms" */
    cfgt_type type;
    bool required;
    unsigned flags;             /* CFGT_ENV | CFGT_OPTIONAL | CFGT_MIN_OPEN */
    long imin, imax;            /* CFGT_INT / CFGT_LONG bounds (inclusive) */
    double fmin, fmax;          /* CFGT_FLOAT / CFGT_FLOAT2 bounds */
    double def;                 /* numeric / bool / enum-index default */
    double def2;                /* CFGT_FLOAT2: the second number's default */
    const char *sdef;           /* CFGT_STR / CFGT_PATH default (NULL = "") */
    const char *const *choices; /* CFGT_ENUM names (NULL-terminated) */
    const int *values;          /* CFGT_ENUM stored values (NULL: the index) */
    size_t offset, size;        /* field in the config struct (size: capacity of strings) */
} cfgt_row;

/* How one walk reads a document into obj. */
typedef struct {
    const cfgt_row *rows;
    int n;
    void *obj;            /* the struct the rows' offsets point into */
    const char *base_dir; /* relative CFGT_PATH values join it; NULL keeps them as they are */
    bool no_repeat;       /* a key given twice is an error */
    bool *seen;           /* n flags: the keys read */
    void (*mark)(void *obj, int row, int line, int col); /* records where a key's value is */
} cfgt_walk;

/* Address of a row's field in obj. */
void *cfgt_field(void *obj, const cfgt_row *r);
const void *cfgt_cfield(const void *obj, const cfgt_row *r);

/* Sets every row's default (the caller zeroes obj first). */
void cfgt_defaults(void *obj, const cfgt_row *rows, int n);

/* Reads node n into obj per row r; relative paths join base_dir (NULL: kept). */
nn_status cfgt_read_value(const yd_doc *d, const yd_node *n, const cfgt_row *r, void *obj, const char *base_dir,
                          nn_err *err);

/* Index of the row named key, or -1. */
/* Whether row r's field differs between the structs a and b (strings by content). */
bool cfgt_field_differs(const cfgt_row *r, const void *a, const void *b);
/* Copies row r's field from src into dst. */
void cfgt_copy_field(const cfgt_row *r, void *dst, const void *src);
/* The name of an ENUM row's stored value (through values[] when set), or "?" when none has it. */
const char *cfgt_enum_name(const cfgt_row *r, int value);
/* The row of `key`, or -1. */
int cfgt_find_row(const cfgt_row *rows, int n, const char *key);

/* True when some key lives under `prefix.` (prefix is a section). */
bool cfgt_is_section(const cfgt_row *rows, int n, const char *prefix);

/* Walks mapping `map` (keys under `prefix`, "" at the top), reading every row it names. */
nn_status cfgt_walk_map(const yd_doc *d, const yd_node *map, const char *prefix, const cfgt_walk *w, nn_err *err);

/* Fails on the first required row not seen, pointing at its section (else the top of the file). */
nn_status cfgt_check_required(const yd_doc *d, const cfgt_row *rows, int n, const bool *seen, nn_err *err);

/* Formats `path:line:col: key: <fmt ...>` (a 0 line or col reads 1), or `--set key: <fmt ...>`
 * when path is NULL (a value given on the command line). */
nn_status cfgt_vfail(nn_err *err, nn_status s, const char *path, int line, int col, const char *key,
                     const char *fmt, va_list ap);

/* Parses a config's text into obj (the signature of cfg_load_buffer / tc_parse_buffer). */
typedef nn_status (*cfgt_parse_fn)(void *obj, const char *buf, size_t len, const char *name, nn_err *err);

/* Reads file path (a regular file of at most 1 MiB, cm_read_regular) and hands it to
 * parse(obj, buf, len, path, err). When the file cannot be read, obj (size bytes) gets the rows'
 * defaults and this fails with the reason, e.g. `path: cannot open: No such file or directory` or
 * `path: is a directory, expected a regular file`. */
nn_status cfgt_load_file(const char *path, void *obj, size_t size, const cfgt_row *rows, int n, cfgt_parse_fn parse,
                         nn_err *err);

#endif
