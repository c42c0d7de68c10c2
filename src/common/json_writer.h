/* json_writer.h — the one JSON writer: a bounded builder over a caller-owned buffer (no allocation),
 * used for the runtime's messages, the simulator's and the trainer's metrics and steerctl's --json
 * output. A value that does not fit sets `overflow` and nothing more is written, so a caller checks
 * once at the end. A writer given a FILE (jb_init_file) empties its buffer into the file whenever
 * it fills, so a document of any length (a model's layers, a run's epochs) needs only the buffer.
 * Separators are the caller's (in jb_printf formats), so every document keeps its exact layout. */
#ifndef STEERD_COMMON_JSON_WRITER_H
#define STEERD_COMMON_JSON_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct {
    char *buf;
    size_t cap, len;
    bool overflow;          /* something did not fit (or could not be written): the document is incomplete */
    FILE *sink;             /* jb_init_file: where a full buffer goes; NULL: bounded by cap */
} jbuf;

void jb_init(jbuf *j, char *buf, size_t cap);
/* A writer that empties buf into f whenever a piece does not fit (a piece longer than cap - 1 is
 * an overflow). jb_flush writes what is left. */
void jb_init_file(jbuf *j, char *buf, size_t cap, FILE *f);
/* Writes what is buffered to the file (nothing for a writer without one). False when the document
 * is incomplete: something overflowed, or a write failed (errno says why). */
bool jb_flush(jbuf *j);
void jb_raw(jbuf *j, const char *s);
void jb_printf(jbuf *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON string with escapes (\" \\ \n \r \t, other control characters as \u00XX; invalid UTF-8
 * passes through); NULL is the empty string. */
void jb_str(jbuf *j, const char *s);
/* jb_str, or null when s is NULL. */
void jb_str_or_null(jbuf *j, const char *s);
/* A number with %.*g; NaN and infinities become null (JSON has neither). */
void jb_num(jbuf *j, double v, int digits);
/* `"key":` */
void jb_key(jbuf *j, const char *key);

#endif
