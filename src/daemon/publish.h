/* publish.h — the ZeroMQ PUB socket: bound once, single-frame messages `"<topic> <json>"`,
 * SNDHWM from the config, LINGER 0 (bounded linger for the final message), every send ZMQ_DONTWAIT so publishing never blocks the
 * inference loop (a full queue drops the message and counts it). */
#ifndef STEERD_DAEMON_PUBLISH_H
#define STEERD_DAEMON_PUBLISH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nn/nn.h"

typedef struct {
    void *ctx, *sock;
    char endpoint[512];
    uint64_t sent, dropped;
} publisher;

/* Creates the context and socket and binds. For ipc:// endpoints a stale socket file is
 * replaced by the bind. Fails with one line naming the endpoint and the zmq error. */
nn_status pub_open(publisher *p, const char *endpoint, int sndhwm, nn_err *err);
/* Sends one message; false when the socket refused it (counted in dropped). */
bool pub_send(publisher *p, const char *msg, size_t len);
/* Closes with LINGER linger_ms (0: pending messages are dropped at once; the orderly shutdown
 * passes a few hundred ms so the final stats can leave) and terminates the context. */
void pub_close(publisher *p, int linger_ms);

#endif
