/* publish.c — libzmq PUB socket: bind, non-blocking single-frame sends, linger-free close. */
#include "daemon/publish.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

nn_status pub_open(publisher *p, const char *endpoint, int sndhwm, nn_err *err)
{
    memset(p, 0, sizeof *p);
    snprintf(p->endpoint, sizeof p->endpoint, "%s", endpoint);
    p->ctx = zmq_ctx_new();
    if (!p->ctx)
        return nn_fail(err, NN_E_IO, "publish: zmq_ctx_new: %s", zmq_strerror(zmq_errno()));
    p->sock = zmq_socket(p->ctx, ZMQ_PUB);
    if (!p->sock) {
        nn_fail(err, NN_E_IO, "publish: zmq_socket: %s", zmq_strerror(zmq_errno()));
        pub_close(p, 0);
        return NN_E_IO;
    }
    int linger = 0;
    if (zmq_setsockopt(p->sock, ZMQ_SNDHWM, &sndhwm, sizeof sndhwm) ||
        zmq_setsockopt(p->sock, ZMQ_LINGER, &linger, sizeof linger)) {
        nn_fail(err, NN_E_IO, "publish: zmq_setsockopt: %s", zmq_strerror(zmq_errno()));
        pub_close(p, 0);
        return NN_E_IO;
    }
    if (zmq_bind(p->sock, endpoint)) {
        nn_fail(err, NN_E_IO, "publish: cannot bind %s: %s", endpoint, zmq_strerror(zmq_errno()));
        pub_close(p, 0);
        return NN_E_IO;
    }
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

void pub_close(publisher *p, int linger_ms)
{
    if (p->sock && linger_ms > 0 && zmq_setsockopt(p->sock, ZMQ_LINGER, &linger_ms, sizeof linger_ms))
        linger_ms = 0; /* keep LINGER 0: the pending messages are dropped */
    /* zmq_close fails only on an invalid handle (ENOTSOCK): nothing to recover either way. */
    if (p->sock && zmq_close(p->sock) != 0)
        p->dropped += 0;
    p->sock = NULL;
    if (p->ctx) {
        int rc;
        do
            rc = zmq_ctx_term(p->ctx); /* returns at once: every socket has LINGER 0 */
        while (rc < 0 && zmq_errno() == EINTR);
        p->ctx = NULL;
    }
}
