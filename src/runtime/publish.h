/* publish.h — the ZeroMQ PUB socket: bound once, single-frame messages `"<topic> <json>"`,
 * SNDHWM from the config, LINGER 0 (bounded linger for the final message), every send ZMQ_DONTWAIT
 * so publishing never blocks the inference loop. A PUB socket drops a message per subscriber whose
 * queue is full without telling the sender: `dropped` counts only what the socket refused as a
 * whole; subscribers see their own loss as `seq` gaps (docs/FORMATS.md). A socket monitor counts
 * subscriber connections. An ipc endpoint's socket file is probed before the bind (a live
 * listener is another process's: refused) and removed at close while it is still ours. */
#ifndef STEERD_RUNTIME_PUBLISH_H
#define STEERD_RUNTIME_PUBLISH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "nn/nn.h"

typedef struct {
    void *ctx, *sock;
    void *mon;                 /* PAIR end of the PUB socket's monitor (NULL when unavailable) */
    char endpoint[512];
    uint64_t sent, dropped;
    uint64_t connects, disconnects; /* subscriber connections accepted / closed (socket monitor) */
    bool replaced_stale;       /* pub_open removed a socket file nobody listened on */
    bool owns_path;            /* ipc: the socket file (path_dev, path_ino) is ours to remove */
    dev_t path_dev;
    ino_t path_ino;
} publisher;

/* Checks the endpoint (ep_check, for a bind), creates the context and socket and binds. An ipc
 * path where another process listens is refused (`... is in use by another process`), a stale
 * socket file is replaced (replaced_stale), anything else at the path is refused. Fails with one
 * line naming the endpoint and the reason. */
nn_status pub_open(publisher *p, const char *endpoint, int sndhwm, nn_err *err);
/* Sends one message; false when the socket refused it (counted in dropped). */
bool pub_send(publisher *p, const char *msg, size_t len);
/* Takes the socket monitor's pending events (never blocks): updates connects / disconnects. */
void pub_poll_events(publisher *p);
/* Closes with LINGER linger_ms (0: pending messages are dropped at once; the orderly shutdown
 * passes a few hundred ms so the final stats can leave), terminates the context and removes the
 * ipc socket file if it is still the one this publisher bound. */
void pub_close(publisher *p, int linger_ms);

#endif
