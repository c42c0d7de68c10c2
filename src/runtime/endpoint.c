/* endpoint.c — ZeroMQ endpoint checks and the ipc socket-file probe (see endpoint.h). */
#include "runtime/endpoint.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/file_read.h"
#include "common/quote.h"

#define EP_FORMS "expected ipc://PATH or tcp://HOST:PORT"

static bool fail(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool fail(char *why, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
    return false;
}

/* "a regular file", "a FIFO", "a directory", ... */
static const char *kind(mode_t mode)
{
    return S_ISREG(mode) ? "a regular file" : cm_file_kind(mode);
}

static bool has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

/* A tcp endpoint's parts: host (without IPv6 brackets) and port text. */
typedef struct {
    char host[256], port[16];
    bool v6;
} tcp_parts;

static bool split_tcp(const char *ep, tcp_parts *t, char *why, size_t cap)
{
    const char *rest = ep + 6, *colon;
    memset(t, 0, sizeof *t);
    if (rest[0] == '[') {
        const char *close = strchr(rest, ']');
        if (!close || close[1] != ':')
            return fail(why, cap, "an IPv6 host is written [ADDRESS]:PORT (got '%s')", ep);
        snprintf(t->host, sizeof t->host, "%.*s", (int)(close - rest - 1), rest + 1);
        colon = close + 1;
        t->v6 = true;
    } else {
        colon = strrchr(rest, ':');
        if (!colon)
            return fail(why, cap, "tcp endpoint needs a port: tcp://HOST:PORT (got '%s')", ep);
        if ((size_t)(colon - rest) >= sizeof t->host)
            return fail(why, cap, "host is longer than %zu bytes (got '%s')", sizeof t->host - 1, ep);
        snprintf(t->host, sizeof t->host, "%.*s", (int)(colon - rest), rest);
        if (strchr(t->host, ':'))
            return fail(why, cap, "an IPv6 host is written [ADDRESS]:PORT (got '%s')", ep);
    }
    if (strlen(colon + 1) >= sizeof t->port)
        return fail(why, cap, "port is not a number 1..65535 (got '%s')", ep);
    snprintf(t->port, sizeof t->port, "%s", colon + 1);
    return true;
}

static bool check_tcp(const char *ep, ep_use use, tcp_parts *t, char *why, size_t cap)
{
    if (!split_tcp(ep, t, why, cap))
        return false;
    if (!t->host[0])
        return fail(why, cap, "missing host before the port (got '%s')", ep);
    if (strcmp(t->host, "*") == 0 && use == EP_CONNECT)
        return fail(why, cap, "host * is for a bind: connect to an address or a name (got '%s')", ep);
    for (const char *h = t->host; *h && strcmp(t->host, "*") != 0; h++)
        if (!((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') || (*h >= '0' && *h <= '9') || *h == '.' ||
              *h == '-' || *h == '_' || (t->v6 && (*h == ':' || *h == '%'))))
            return fail(why, cap, "host '%s' has a character 0x%02x that no address, name or interface has (got '%s')",
                        t->host, (unsigned char)*h, ep);
    const char *p = t->port;
    if (strcmp(p, "*") == 0 || strcmp(p, "!") == 0 || (p[0] == '0' && !p[1]))
        return fail(why, cap, "port %s means a random port, which no subscriber could find: give a port 1..65535 "
                              "(got '%s')", p, ep);
    if (!p[0] || strspn(p, "0123456789") != strlen(p))
        return fail(why, cap, "port '%s' is not a number 1..65535 (got '%s')", p, ep);
    long port = strtol(p, NULL, 10);
    if (port < 1 || port > 65535)
        return fail(why, cap, "port %ld is out of range 1..65535 (got '%s')", port, ep);
    return true;
}

static bool check_ipc(const char *ep, ep_use use, char *why, size_t cap)
{
    const char *path = ep + 6;
    size_t n = strlen(path);
    if (!n)
        return fail(why, cap, "missing path after ipc:// (got '%s')", ep);
    if (strcmp(path, "*") == 0)
        return fail(why, cap, "ipc://* means a random path, which no subscriber could find: give a path (got '%s')",
                    ep);
    if (n > EP_IPC_MAX)
        return fail(why, cap, "ipc path is %zu bytes, longer than %d (the limit of a Unix socket address) (got '%s')",
                    n, EP_IPC_MAX, ep);
    if (use == EP_BIND && path[0] != '/' && path[0] != '@')
        return fail(why, cap, "ipc path must be absolute (a relative one would depend on the working directory, / "
                              "under systemd) (got '%s')", ep);
    return true;
}

/* The bytes an endpoint may hold: what addresses, host and interface names, ports and socket paths
 * are written with. Checked first, so every message below may show the endpoint: a value with any
 * other byte (a shell metacharacter, a quote, a space, a control or 8-bit byte: a line of some
 * other file, say) is described, never echoed (issue 12, defect 11). */
static bool endpoint_char(unsigned char b)
{
    return cm_quote_char(b) || (b && strchr("/:[]%*@,=", b));
}

bool ep_parse(const char *ep, ep_use use, char *why, size_t cap)
{
    tcp_parts t;
    for (const char *c = ep; *c; c++)
        if (!endpoint_char((unsigned char)*c))
            return fail(why, cap, "byte %zu (0x%02x) cannot be part of an endpoint: " EP_FORMS " (got %zu bytes, not shown)",
                        (size_t)(c - ep) + 1, (unsigned char)*c, strlen(ep));
    if (has_prefix(ep, "ipc://"))
        return check_ipc(ep, use, why, cap);
    if (has_prefix(ep, "tcp://"))
        return check_tcp(ep, use, &t, why, cap);
    if (has_prefix(ep, "inproc://"))
        return fail(why, cap, "inproc:// reaches only the same process, so no subscriber could connect: "
                              EP_FORMS " (got '%s')", ep);
    const char *sep = strstr(ep, "://");
    if (sep && sep > ep)
        return fail(why, cap, "transport '%.*s' is not supported: " EP_FORMS " (got '%s')", (int)(sep - ep), ep, ep);
    return fail(why, cap, EP_FORMS " (got '%s')", ep);
}

bool ep_ipc_path(const char *ep, char *path, size_t cap)
{
    if (!has_prefix(ep, "ipc://") || !ep[6] || ep[6] == '@' || strlen(ep + 6) >= cap)
        return false;
    snprintf(path, cap, "%s", ep + 6);
    return true;
}

bool ep_is_ipv6(const char *ep)
{
    return has_prefix(ep, "tcp://[");
}

/* The folder of an ipc path exists (and is writable for a bind); a file there is a socket. */
static bool check_ipc_fs(const char *ep, ep_use use, char *why, size_t cap)
{
    char path[EP_IPC_MAX + 1], dir[EP_IPC_MAX + 1];
    if (!ep_ipc_path(ep, path, sizeof path))
        return true; /* abstract */
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    struct stat st;
    if (stat(dir, &st) != 0)
        return fail(why, cap, "folder %s: %s (got '%s')", dir,
                    errno == ENOENT ? "does not exist" : strerror(errno), ep);
    if (!S_ISDIR(st.st_mode))
        return fail(why, cap, "%s is %s, not a folder (got '%s')", dir, kind(st.st_mode), ep);
    if (use == EP_BIND && access(dir, W_OK | X_OK) != 0)
        return fail(why, cap, "folder %s is not writable by this user (%s) (got '%s')", dir, strerror(errno), ep);
    if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
        return fail(why, cap, "%s is %s, not a socket: it is never replaced (got '%s')", path, kind(st.st_mode),
                    ep);
    return true;
}

/* A bind host: `*`, an address of this machine (a test bind to port 0 says so) or an interface. */
static bool check_bind_host(const char *ep, const tcp_parts *t, char *why, size_t cap)
{
    if (strcmp(t->host, "*") == 0)
        return true;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len = 0;
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (!t->v6 && inet_pton(AF_INET, t->host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        len = sizeof *a4;
    } else if (t->v6 && inet_pton(AF_INET6, t->host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        len = sizeof *a6;
    } else if (t->v6) {
        return fail(why, cap, "'%s' is not an IPv6 address (got '%s')", t->host, ep);
    } else if (if_nametoindex(t->host) != 0) {
        return true;
    } else {
        return fail(why, cap, "host '%s' is not an IP address or a network interface of this machine (a bind "
                              "takes *, an address or an interface name: names are not resolved) (got '%s')",
                    t->host, ep);
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fail(why, cap, "cannot test address %s: socket: %s (got '%s')", t->host, strerror(errno), ep);
    int rc = bind(fd, (struct sockaddr *)&ss, len), e = errno;
    close(fd);
    if (rc != 0 && e == EADDRNOTAVAIL)
        return fail(why, cap, "%s is not an address of this machine (got '%s')", t->host, ep);
    if (rc != 0)
        return fail(why, cap, "cannot bind to address %s: %s (got '%s')", t->host, strerror(e), ep);
    return true;
}

static bool check_connect_host(const char *ep, const tcp_parts *t, char *why, size_t cap)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = t->v6 ? AF_INET6 : AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(t->host, NULL, &hints, &res);
    if (res)
        freeaddrinfo(res);
    if (rc != 0)
        return fail(why, cap, "cannot resolve host '%s': %s (got '%s')", t->host,
                    rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc), ep);
    return true;
}

bool ep_check(const char *ep, ep_use use, char *why, size_t cap)
{
    if (!ep_parse(ep, use, why, cap))
        return false;
    if (has_prefix(ep, "ipc://"))
        return check_ipc_fs(ep, use, why, cap);
    tcp_parts t;
    if (!split_tcp(ep, &t, why, cap))
        return false;
    return use == EP_BIND ? check_bind_host(ep, &t, why, cap) : check_connect_host(ep, &t, why, cap);
}

ep_sock_state ep_probe(const char *path, int *e)
{
    *e = 0;
    struct stat st;
    if (lstat(path, &st) != 0) {
        *e = errno;
        return errno == ENOENT ? EP_SOCK_ABSENT : EP_SOCK_OTHER;
    }
    if (!S_ISSOCK(st.st_mode))
        return EP_SOCK_OTHER;
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa.sun_path) {
        *e = ENAMETOOLONG;
        return EP_SOCK_OTHER;
    }
    memcpy(sa.sun_path, path, strlen(path));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *e = errno;
        return EP_SOCK_OTHER;
    }
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa), ce = errno;
    close(fd);
    if (rc == 0 || ce == EINPROGRESS || ce == EAGAIN) /* EAGAIN: a listener with a full backlog */
        return EP_SOCK_LIVE;
    if (ce == ECONNREFUSED)
        return EP_SOCK_STALE;
    if (ce == ENOENT)
        return EP_SOCK_ABSENT;
    *e = ce;
    return EP_SOCK_OTHER;
}

void ep_remove_stale(const char *ep)
{
    char path[EP_IPC_MAX + 1];
    int e;
    if (ep_ipc_path(ep, path, sizeof path) && ep_probe(path, &e) == EP_SOCK_STALE)
        unlink(path);
}
