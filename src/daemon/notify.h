/* notify.h — the sd_notify(3) datagram protocol without libsystemd: READY=1, RELOADING=1 with
 * MONOTONIC_USEC, STOPPING=1, STATUS=..., WATCHDOG=1 to $NOTIFY_SOCKET (path or @abstract),
 * and the watchdog interval from $WATCHDOG_USEC / $WATCHDOG_PID. Without NOTIFY_SOCKET every
 * call is a no-op, so the daemon runs the same outside systemd. Sends never block: with the
 * receiver's queue full (a manager that stopped reading) a notification is dropped, not waited on. */
#ifndef STEERD_DAEMON_NOTIFY_H
#define STEERD_DAEMON_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    int fd;                    /* -1: not under systemd */
    char path[108];
    unsigned path_len;
    uint64_t watchdog_usec;    /* 0: no watchdog */
} notifier;

/* Reads the environment; never fails (a bad NOTIFY_SOCKET disables notification). */
void notify_init(notifier *n);
void notify_close(notifier *n);
/* Sends one datagram of newline-separated assignments; false if it could not be sent. */
bool notify_send(const notifier *n, const char *state);
bool notify_ready(const notifier *n, const char *status);
bool notify_reloading(const notifier *n);  /* RELOADING=1 + MONOTONIC_USEC=now */
bool notify_stopping(const notifier *n);
bool notify_status(const notifier *n, const char *status);
bool notify_watchdog(const notifier *n);

#endif
