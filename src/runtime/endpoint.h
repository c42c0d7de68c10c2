/* endpoint.h — ZeroMQ endpoint checks shared by steerd's config (--check-config and reload), its
 * publisher, `steerctl sub`, `steerctl replay --publish` and `steerctl sim drive`: syntax,
 * transport, port range, ipc path length and folder, whether a bind address belongs to this
 * machine, whether a connect host resolves; and the probe that tells a live ipc listener (another
 * process's endpoint: refused) from a stale socket file (replaced). No ZeroMQ calls here. */
#ifndef STEERD_RUNTIME_ENDPOINT_H
#define STEERD_RUNTIME_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>

#define EP_IPC_MAX 107 /* bytes of an ipc path: sockaddr_un.sun_path (108) less its NUL */

typedef enum { EP_BIND, EP_CONNECT } ep_use;

/* Syntax only, no system call: `ipc://PATH` (1..107 bytes; absolute or `@abstract` for a bind),
 * `tcp://HOST:PORT` (PORT 1..65535; HOST an IPv4 address, `[IPv6]`, a name, or `*` for a bind).
 * inproc:// (reachable from the same process only), a random port (`*`, 0) or path (a `*` path)
 * and other transports are refused. false with the reason in why (one line, names the value). */
bool ep_parse(const char *ep, ep_use use, char *why, size_t cap);

/* ep_parse, then what this machine says: the ipc folder exists (writable, for a bind) and a file at
 * the path is a socket; a tcp bind host is `*`, an address of this machine or an interface name
 * (ZeroMQ resolves no names for a bind); a tcp connect host resolves (getaddrinfo, bounded by the
 * resolver's own timeouts, resolv.conf `options timeout:attempts`). */
bool ep_check(const char *ep, ep_use use, char *why, size_t cap);

/* The filesystem path of an ipc:// endpoint; false for other transports and `@abstract` names. */
bool ep_ipc_path(const char *ep, char *path, size_t cap);

/* true when a tcp endpoint's host is a bracketed IPv6 address (the socket needs ZMQ_IPV6). */
bool ep_is_ipv6(const char *ep);

typedef enum {
    EP_SOCK_ABSENT = 0, /* nothing at the path */
    EP_SOCK_STALE,      /* a socket file nobody listens on (left by a killed process) */
    EP_SOCK_LIVE,       /* a process accepts connections there */
    EP_SOCK_OTHER,      /* not a socket, or the probe failed (*e: errno, 0 for "not a socket") */
} ep_sock_state;

/* What is at an ipc path: a connect() probe (non-blocking, closed at once) on a socket file. */
ep_sock_state ep_probe(const char *path, int *e);

/* `steerctl sim drive`'s clean-up: removes the ipc endpoint's socket file when nobody listens on it
 * (a steerd killed before it could remove its own). Nothing else is ever removed. */
void ep_remove_stale(const char *ep);

#endif
