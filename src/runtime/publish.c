/* publish.c — libzmq PUB socket: endpoint checks and the ipc owner probe, bind, non-blocking
 * single-frame sends, a socket monitor for subscriber connections, linger-free close. */
#include "runtime/publish.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "runtime/endpoint.h"

#define MONITOR_EP "inproc://steerd-pub-monitor"

static nn_status open_failed(publisher *p, nn_err *err, const char *what)
{
    nn_status s = nn_fail(err, NN_E_IO, "publish: %s: %s: %s", p->endpoint, what, zmq_strerror(zmq_errno()));
    pub_close(p, 0);
    return s;
}

/* Before an ipc bind (which unlinks whatever is at the path): a live listener is another
 * process's endpoint, a stale socket file is ours to replace, anything else is left alone. */
static nn_status claim_ipc_path(publisher *p, const char *path, nn_err *err)
{
    int e;
    switch (ep_probe(path, &e)) {
    case EP_SOCK_ABSENT: return NN_OK;
    case EP_SOCK_STALE:
        if (unlink(path) != 0 && errno != ENOENT)
            return nn_fail(err, NN_E_IO, "publish: %s: cannot remove the stale socket file %s: %s", p->endpoint,
                           path, strerror(errno));
        p->replaced_stale = true;
        return NN_OK;
    case EP_SOCK_LIVE:
        return nn_fail(err, NN_E_IO, "publish: %s: is in use by another process (a second steerd?) listening on %s; "
                                     "not taking it over", p->endpoint, path);
    case EP_SOCK_OTHER: break;
    }
    if (e)
        return nn_fail(err, NN_E_IO, "publish: %s: cannot probe %s: %s", p->endpoint, path, strerror(e));
    return nn_fail(err, NN_E_IO, "publish: %s: %s exists and is not a socket; not replacing it", p->endpoint, path);
}

/* The monitor reports every accepted and closed subscriber connection on a PAIR socket. */
static void open_monitor(publisher *p)
{
    int linger = 0, hwm = 100000;
    if (zmq_socket_monitor(p->sock, MONITOR_EP, ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) != 0)
        return;
    p->mon = zmq_socket(p->ctx, ZMQ_PAIR);
    if (p->mon && (zmq_setsockopt(p->mon, ZMQ_LINGER, &linger, sizeof linger) ||
                   zmq_setsockopt(p->mon, ZMQ_RCVHWM, &hwm, sizeof hwm) || zmq_connect(p->mon, MONITOR_EP))) {
        zmq_close(p->mon);
        p->mon = NULL;
    }
    if (!p->mon)
        zmq_socket_monitor(p->sock, NULL, 0);
}

nn_status pub_open(publisher *p, const char *endpoint, int sndhwm, nn_err *err)
{
    memset(p, 0, sizeof *p);
    snprintf(p->endpoint, sizeof p->endpoint, "%s", endpoint);
    char why[400], path[EP_IPC_MAX + 1];
    if (!ep_check(endpoint, EP_BIND, why, sizeof why))
        return nn_fail(err, NN_E_SPEC, "publish: %s", why);
    bool ipc_file = ep_ipc_path(endpoint, path, sizeof path);
    nn_status s = ipc_file ? claim_ipc_path(p, path, err) : NN_OK;
    if (s)
        return s;
    p->ctx = zmq_ctx_new();
    if (!p->ctx)
        return nn_fail(err, NN_E_IO, "publish: zmq_ctx_new: %s", zmq_strerror(zmq_errno()));
    p->sock = zmq_socket(p->ctx, ZMQ_PUB);
    if (!p->sock)
        return open_failed(p, err, "zmq_socket");
    int linger = 0, ipv6 = ep_is_ipv6(endpoint);
    if (zmq_setsockopt(p->sock, ZMQ_SNDHWM, &sndhwm, sizeof sndhwm) ||
        zmq_setsockopt(p->sock, ZMQ_LINGER, &linger, sizeof linger) ||
        zmq_setsockopt(p->sock, ZMQ_IPV6, &ipv6, sizeof ipv6))
        return open_failed(p, err, "zmq_setsockopt");
    if (zmq_bind(p->sock, endpoint)) {
        bool busy = zmq_errno() == EADDRINUSE;
        return open_failed(p, err, busy ? "cannot bind (in use by another process: a second steerd?)" : "cannot bind");
    }
    struct stat st;
    if (ipc_file && stat(path, &st) == 0) {
        p->owns_path = true;
        p->path_dev = st.st_dev;
        p->path_ino = st.st_ino;
    }
    open_monitor(p);
    return NN_OK;
}

bool pub_send(publisher *p, const char *msg, size_t len)
{
    if (!p->sock)
        return false;
    int rc;
    do
        rc = zmq_send(p->sock, msg, len, ZMQ_DONTWAIT);
    while (rc < 0 && zmq_errno() == EINTR);
    if (rc < 0) {
        p->dropped++;
        return false;
    }
    p->sent++;
    return true;
}

void pub_poll_events(publisher *p)
{
    if (!p->mon)
        return;
    unsigned char ev[6], rest[1];
    /* An event is two frames: 16-bit event id + 32-bit value, then the endpoint (not needed). */
    while (zmq_recv(p->mon, ev, sizeof ev, ZMQ_DONTWAIT) >= 0) {
        int more = 0;
        size_t ml = sizeof more;
        while (zmq_getsockopt(p->mon, ZMQ_RCVMORE, &more, &ml) == 0 && more &&
               zmq_recv(p->mon, rest, sizeof rest, ZMQ_DONTWAIT) >= 0) {
        }
        uint16_t id;
        memcpy(&id, ev, sizeof id);
        if (id == ZMQ_EVENT_ACCEPTED)
            p->connects++;
        else if (id == ZMQ_EVENT_DISCONNECTED)
            p->disconnects++;
    }
}

/* Removes the ipc socket file if it is still the one bound here (not one a later process made). */
static void remove_own_path(publisher *p)
{
    char path[EP_IPC_MAX + 1];
    struct stat st;
    if (p->owns_path && ep_ipc_path(p->endpoint, path, sizeof path) && lstat(path, &st) == 0 &&
        st.st_dev == p->path_dev && st.st_ino == p->path_ino)
        unlink(path);
    p->owns_path = false;
}

void pub_close(publisher *p, int linger_ms)
{
    if (p->mon) {
        zmq_socket_monitor(p->sock, NULL, 0);
        zmq_close(p->mon);
        p->mon = NULL;
    }
    if (p->sock && linger_ms > 0 && zmq_setsockopt(p->sock, ZMQ_LINGER, &linger_ms, sizeof linger_ms))
        linger_ms = 0; /* keep LINGER 0: the pending messages are dropped */
    /* zmq_close fails only on an invalid handle (ENOTSOCK): nothing to recover either way. */
    if (p->sock && zmq_close(p->sock) != 0)
        p->dropped += 0;
    p->sock = NULL;
    if (p->ctx) {
        int rc;
        do
            rc = zmq_ctx_term(p->ctx); /* returns once the final messages left (bounded by LINGER) */
        while (rc < 0 && zmq_errno() == EINTR);
        p->ctx = NULL;
    }
    remove_own_path(p); /* after the term: the socket is closed, no late accept can race */
}
