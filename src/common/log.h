/* log.h — leveled logging to stderr for the daemon and tools. Each line carries a journald
 * priority prefix (`<3>` ... `<7>`, sd-daemon(3)) when stderr goes to the journal (systemd sets
 * JOURNAL_STREAM), or `ident: level: ` otherwise. No global state: callers own a slog. */
#ifndef STEERD_LOG_H
#define STEERD_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* syslog priorities, as journald reads them from the `<N>` prefix */
typedef enum {
    SLOG_ERR = 3,
    SLOG_WARNING = 4,
    SLOG_NOTICE = 5,
    SLOG_INFO = 6,
    SLOG_DEBUG = 7,
} slog_level;

typedef struct {
    const char *ident;  /* program name for the plain prefix */
    int level;          /* messages with priority > level are dropped */
    bool journal;       /* `<N>` prefixes instead of `ident: level: ` */
    FILE *out;          /* stderr unless a test redirects it */
} slog;

/* Initialises for stderr; journal prefixes when JOURNAL_STREAM is set in the environment. */
void slog_init(slog *lg, const char *ident, int level);
const char *slog_level_name(int level);
/* Formats one line (newlines in the message are replaced by spaces) and writes it atomically. */
void slog_msg(const slog *lg, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Rate limit for a line that can repeat per frame: log the nth occurrence (from 1) when this is
 * true — the first 10, then every 1000th (the line should say how many so far). */
static inline bool slog_due(uint64_t n)
{
    return n <= 10 || n % 1000 == 0;
}

#define slog_err(lg, ...) slog_msg((lg), SLOG_ERR, __VA_ARGS__)
#define slog_warn(lg, ...) slog_msg((lg), SLOG_WARNING, __VA_ARGS__)
#define slog_notice(lg, ...) slog_msg((lg), SLOG_NOTICE, __VA_ARGS__)
#define slog_info(lg, ...) slog_msg((lg), SLOG_INFO, __VA_ARGS__)
#define slog_debug(lg, ...) slog_msg((lg), SLOG_DEBUG, __VA_ARGS__)

#endif
