/* json_writer.h — the one JSON writer: a bounded builder over a caller-owned buffer (no allocation),
 * used for the runtime's messages, the trainer's metrics and steerctl's --json output. A value that
 * does not fit sets `overflow` and nothing more is written, so a caller checks once at the end. */
#ifndef STEERD_COMMON_JSON_WRITER_H
#define STEERD_COMMON_JSON_WRITER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char *buf;
    size_t cap, len;
    bool overflow;          /* something did not fit: the message must not be sent */
} jbuf;

void jb_init(jbuf *j, char *buf, size_t cap);
void jb_raw(jbuf *j, const char *s);
void jb_printf(jbuf *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON string with escapes (control characters as \u00XX; invalid UTF-8 passes through). */
void jb_str(jbuf *j, const char *s);
/* A number with %.*g; NaN and infinities become null (JSON has neither). */
void jb_num(jbuf *j, double v, int digits);
/* `"key":` */
void jb_key(jbuf *j, const char *key);

#endif
