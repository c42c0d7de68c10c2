/* link.h — the simulator's two connections to steerd: the frames go out through a TCP server on
 * the loopback interface (steerd's pipeline reads them with `tcpclientsrc ! rawvideoparse`, its
 * real capture path: raw RGB, 320x160, one frame after the other), and the answers come back as
 * steerd's ZeroMQ `steer` messages (docs/FORMATS.md section 4) on a SUB socket. Nothing here
 * allocates per frame. */
#ifndef STEERD_SIM_LINK_H
#define STEERD_SIM_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nn/nn.h"

typedef struct {
    int listen_fd, conn_fd;
    int port;
} frame_link;

/* Listens on 127.0.0.1:port (0: a free port, stored in l->port). */
nn_status link_listen(frame_link *l, int port, nn_err *err);
/* Waits up to timeout_ms for steerd to connect: 1 connected, 0 not yet, -1 error (err set). */
int link_accept(frame_link *l, int timeout_ms, nn_err *err);
/* Writes one frame completely within timeout_ms: 1 sent, 0 timed out before the first byte
 * (nothing sent, the stream is still aligned), -1 the connection is gone or a frame was cut
 * (err set). */
int link_send(frame_link *l, const uint8_t *data, size_t n, int timeout_ms, nn_err *err);
void link_close(frame_link *l);

typedef struct {
    void *ctx, *sock;
    char endpoint[512];   /* the one connected to (a wildcard tcp bind address becomes 127.0.0.1) */
    char buf[8192];       /* the last message (NUL-terminated) */
} steer_sub;

typedef struct {
    uint64_t frame_id;
    double steering;      /* the model's first output; NaN when null */
    uint64_t t_recv_ns;   /* CLOCK_MONOTONIC when it was taken off the socket */
} steer_reply;

nn_status sub_open(steer_sub *s, const char *endpoint, nn_err *err);
/* Waits up to timeout_ms (0: just polls) for a `steer` message: 1 got one, 0 none, -1 error.
 * A message that is not a valid steer message is an error naming the field. */
int sub_recv(steer_sub *s, int timeout_ms, steer_reply *out, nn_err *err);
void sub_close(steer_sub *s);

/* Parses the JSON body of a steer message (exposed for tests). */
nn_status steer_parse(const char *json, size_t len, steer_reply *out, nn_err *err);

uint64_t link_now_ns(void);

#endif
