/* notify.c — sd_notify datagrams over an AF_UNIX socket (see notify.h). */
#include "daemon/notify.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

void notify_init(notifier *n)
{
    memset(n, 0, sizeof *n);
    n->fd = -1;
    const char *wd = getenv("WATCHDOG_USEC"), *wp = getenv("WATCHDOG_PID");
    if (wd && (!wp || strtol(wp, NULL, 10) == (long)getpid()))
        n->watchdog_usec = strtoull(wd, NULL, 10);
    const char *sock = getenv("NOTIFY_SOCKET");
    if (!sock || !*sock || (sock[0] != '/' && sock[0] != '@'))
        return;
    size_t len = strlen(sock);
    if (len >= sizeof n->path)
        return;
    memcpy(n->path, sock, len);
    if (n->path[0] == '@')
        n->path[0] = 0; /* abstract namespace */
    n->path_len = (unsigned)len;
    n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
}

void notify_close(notifier *n)
{
    if (n->fd >= 0)
        close(n->fd);
    n->fd = -1;
}

bool notify_send(const notifier *n, const char *state)
{
    if (n->fd < 0)
        return false;
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, n->path, n->path_len);
    socklen_t sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n->path_len);
    /* MSG_DONTWAIT: a notify socket nobody reads (its datagram queue full) must never stall the
     * frame loop; the notification is lost instead (best effort, as sd_notify's). */
    ssize_t w = sendto(n->fd, state, strlen(state), MSG_NOSIGNAL | MSG_DONTWAIT, (const struct sockaddr *)&sa, sl);
    return w == (ssize_t)strlen(state);
}

/* STATUS= takes one line: newlines would start new assignments. */
static void status_line(char *dst, size_t cap, const char *prefix, const char *status)
{
    snprintf(dst, cap, "%sSTATUS=%s", prefix, status ? status : "");
    for (char *p = dst; *p; p++)
        if (*p == '\n')
            *p = ' ';
}

bool notify_ready(const notifier *n, const char *status)
{
    char buf[512];
    status_line(buf, sizeof buf, "READY=1\n", status);
    return notify_send(n, buf);
}

bool notify_reloading(const notifier *n)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    char buf[96];
    snprintf(buf, sizeof buf, "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000ull);
    return notify_send(n, buf);
}

bool notify_stopping(const notifier *n)
{
    return notify_send(n, "STOPPING=1");
}

bool notify_status(const notifier *n, const char *status)
{
    char buf[512];
    status_line(buf, sizeof buf, "", status);
    return notify_send(n, buf);
}

bool notify_watchdog(const notifier *n)
{
    return notify_send(n, "WATCHDOG=1");
}
