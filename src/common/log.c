/* log.c — one-line, leveled log messages to stderr with journald priority prefixes. */
#include "common/log.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void slog_init(slog *lg, const char *ident, int level)
{
    const char *js = getenv("JOURNAL_STREAM");
    lg->ident = ident;
    lg->level = level;
    lg->journal = js && *js;
    lg->out = stderr;
}

const char *slog_level_name(int level)
{
    switch (level) {
    case SLOG_ERR: return "error";
    case SLOG_WARNING: return "warning";
    case SLOG_NOTICE: return "notice";
    case SLOG_INFO: return "info";
    case SLOG_DEBUG: return "debug";
    }
    return level < SLOG_ERR ? "error" : "debug";
}

void slog_msg(const slog *lg, int level, const char *fmt, ...)
{
    if (!lg || level > lg->level)
        return;
    char line[1024];
    int n;
    if (lg->journal)
        n = snprintf(line, sizeof line, "<%d>", level < 0 ? 0 : level > 7 ? 7 : level);
    else
        n = snprintf(line, sizeof line, "%s: %s: ", lg->ident ? lg->ident : "steerd", slog_level_name(level));
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + len, sizeof line - len, fmt, ap);
    va_end(ap);
    if (m > 0)
        len += (size_t)m < sizeof line - len ? (size_t)m : sizeof line - len - 1;
    for (size_t i = 0; i < len; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[len++] = '\n';
    /* One write per line so lines from several threads do not interleave. */
    FILE *out = lg->out ? lg->out : stderr;
    fflush(out);
    ssize_t w = write(fileno(out), line, len);
    (void)w;
}
