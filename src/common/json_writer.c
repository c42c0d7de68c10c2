/* json_writer.c — the bounded JSON writer (json_writer.h). */
#include "common/json_writer.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void jb_init(jbuf *j, char *buf, size_t cap)
{
    j->buf = buf;
    j->cap = cap;
    j->len = 0;
    j->overflow = cap == 0;
    j->sink = NULL;
    if (cap)
        buf[0] = 0;
}

void jb_init_file(jbuf *j, char *buf, size_t cap, FILE *f)
{
    jb_init(j, buf, cap);
    j->sink = f;
}

/* Empties the buffer into the sink. */
static void drain(jbuf *j)
{
    if (j->len && fwrite(j->buf, 1, j->len, j->sink) != j->len)
        j->overflow = true;
    j->len = 0;
    j->buf[0] = 0;
}

bool jb_flush(jbuf *j)
{
    if (!j->overflow && j->sink)
        drain(j);
    return !j->overflow;
}

static void put(jbuf *j, const char *s, size_t n)
{
    if (!j->overflow && j->sink && j->len + n + 1 > j->cap)
        drain(j);
    if (j->overflow || j->len + n + 1 > j->cap) {
        j->overflow = true;
        return;
    }
    memcpy(j->buf + j->len, s, n);
    j->len += n;
    j->buf[j->len] = 0;
}

void jb_raw(jbuf *j, const char *s)
{
    put(j, s, strlen(s));
}

void jb_printf(jbuf *j, const char *fmt, ...)
{
    for (int retry = 0; !j->overflow; retry++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(j->buf + j->len, j->cap - j->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < j->cap - j->len) {
            j->len += (size_t)n;
            return;
        }
        j->buf[j->len] = 0;
        if (n < 0 || retry || !j->sink || !j->len)
            j->overflow = true;
        else
            drain(j); /* then once more into the empty buffer */
    }
}

void jb_str(jbuf *j, const char *s)
{
    put(j, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        char esc[8];
        switch (*p) {
        case '"': put(j, "\\\"", 2); break;
        case '\\': put(j, "\\\\", 2); break;
        case '\n': put(j, "\\n", 2); break;
        case '\r': put(j, "\\r", 2); break;
        case '\t': put(j, "\\t", 2); break;
        default:
            if (*p < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", *p);
                put(j, esc, 6);
            } else {
                put(j, (const char *)p, 1);
            }
        }
    }
    put(j, "\"", 1);
}

void jb_str_or_null(jbuf *j, const char *s)
{
    if (s)
        jb_str(j, s);
    else
        jb_raw(j, "null");
}

void jb_num(jbuf *j, double v, int digits)
{
    if (!isfinite(v))
        jb_raw(j, "null");
    else
        jb_printf(j, "%.*g", digits, v);
}

void jb_key(jbuf *j, const char *key)
{
    jb_str(j, key);
    put(j, ":", 1);
}
