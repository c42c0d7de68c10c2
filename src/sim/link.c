/* link.c — TCP frame server and ZeroMQ steer subscriber (see link.h). */
#include "sim/link.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "nn/format/json.h"

uint64_t link_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

nn_status link_listen(frame_link *l, int port, nn_err *err)
{
    l->listen_fd = l->conn_fd = -1;
    l->port = 0;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return nn_fail(err, NN_E_IO, "frames: socket: %s", strerror(errno));
    int one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) || bind(fd, (struct sockaddr *)&a, sizeof a) ||
        listen(fd, 1) || getsockname(fd, (struct sockaddr *)&a, &al)) {
        int e = errno;
        close(fd);
        return nn_fail(err, NN_E_IO, "frames: cannot listen on 127.0.0.1:%d: %s", port, strerror(e));
    }
    l->listen_fd = fd;
    l->port = ntohs(a.sin_port);
    return NN_OK;
}

int link_accept(frame_link *l, int timeout_ms, nn_err *err)
{
    struct pollfd p = {.fd = l->listen_fd, .events = POLLIN};
    int n = poll(&p, 1, timeout_ms);
    if (n < 0 && errno != EINTR) {
        nn_fail(err, NN_E_IO, "frames: poll: %s", strerror(errno));
        return -1;
    }
    if (n <= 0)
        return 0;
    int fd = accept4(l->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
        if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
            return 0;
        nn_fail(err, NN_E_IO, "frames: accept: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one)) {
        nn_fail(err, NN_E_IO, "frames: TCP_NODELAY: %s", strerror(errno));
        close(fd);
        return -1;
    }
    if (l->conn_fd >= 0)
        close(l->conn_fd);
    l->conn_fd = fd;
    return 1;
}

int link_send(frame_link *l, const uint8_t *data, size_t n, int timeout_ms, nn_err *err)
{
    if (l->conn_fd < 0) {
        nn_fail(err, NN_E_IO, "frames: steerd is not connected");
        return -1;
    }
    uint64_t deadline = link_now_ns() + (uint64_t)timeout_ms * 1000000ull;
    size_t off = 0;
    while (off < n) {
        ssize_t w = send(l->conn_fd, data + off, n - off, MSG_NOSIGNAL);
        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EINTR) {
            nn_fail(err, NN_E_IO, "frames: steerd's connection is gone (%s)", strerror(errno));
            return -1;
        }
        uint64_t now = link_now_ns();
        if (now >= deadline) {
            if (off == 0)
                return 0;
            nn_fail(err, NN_E_IO, "frames: steerd stopped reading in the middle of a frame (%zu of %zu bytes sent)", off,
                    n);
            return -1;
        }
        struct pollfd p = {.fd = l->conn_fd, .events = POLLOUT};
        int left = (int)((deadline - now) / 1000000ull) + 1;
        if (poll(&p, 1, left) < 0 && errno != EINTR) {
            nn_fail(err, NN_E_IO, "frames: poll: %s", strerror(errno));
            return -1;
        }
        if (p.revents & (POLLERR | POLLHUP)) {
            nn_fail(err, NN_E_IO, "frames: steerd closed the connection");
            return -1;
        }
    }
    return 1;
}

void link_close(frame_link *l)
{
    if (l->conn_fd >= 0)
        close(l->conn_fd);
    if (l->listen_fd >= 0)
        close(l->listen_fd);
    l->conn_fd = l->listen_fd = -1;
}

/* tcp wildcard bind addresses (`*`, 0.0.0.0): a subscriber on this machine connects to 127.0.0.1. */
static void connect_address(char *out, size_t cap, const char *ep)
{
    const char *rest = NULL;
    if (strncmp(ep, "tcp://*:", 8) == 0)
        rest = ep + 8;
    else if (strncmp(ep, "tcp://0.0.0.0:", 14) == 0)
        rest = ep + 14;
    if (rest)
        snprintf(out, cap, "tcp://127.0.0.1:%s", rest);
    else
        snprintf(out, cap, "%s", ep);
}

nn_status sub_open(steer_sub *s, const char *endpoint, nn_err *err)
{
    memset(s, 0, sizeof *s);
    connect_address(s->endpoint, sizeof s->endpoint, endpoint);
    s->ctx = zmq_ctx_new();
    if (!s->ctx)
        return nn_fail(err, NN_E_IO, "steer: zmq_ctx_new: %s", zmq_strerror(zmq_errno()));
    int linger = 0;
    s->sock = zmq_socket(s->ctx, ZMQ_SUB);
    if (!s->sock || zmq_setsockopt(s->sock, ZMQ_LINGER, &linger, sizeof linger) ||
        zmq_setsockopt(s->sock, ZMQ_SUBSCRIBE, "steer ", 6) || zmq_connect(s->sock, s->endpoint)) {
        nn_status st = nn_fail(err, NN_E_IO, "steer: %s: %s", s->endpoint, zmq_strerror(zmq_errno()));
        sub_close(s);
        return st;
    }
    return NN_OK;
}

nn_status steer_parse(const char *json, size_t len, steer_reply *out, nn_err *err)
{
    json_cur c;
    json_init(&c, json, len);
    bool have_id = false, have_steer = false;
    if (!json_eat(&c, '{'))
        return nn_fail(err, NN_E_PARSE, "steer message: not a JSON object");
    if (json_peek(&c) == '}')
        return nn_fail(err, NN_E_PARSE, "steer message: empty object");
    for (;;) {
        char key[32];
        size_t klen;
        if (!json_string(&c, key, sizeof key, &klen) || !json_eat(&c, ':'))
            return nn_fail(err, NN_E_PARSE, "steer message: %s at byte %zu", c.why, c.pos);
        if (klen < sizeof key && strcmp(key, "frame_id") == 0) {
            if (!json_uint(&c, &out->frame_id))
                return nn_fail(err, NN_E_PARSE, "steer message: frame_id: %s", c.why);
            have_id = true;
        } else if (klen < sizeof key && strcmp(key, "steering") == 0) {
            int ch = json_peek(&c);
            size_t start = c.pos;
            if (!json_skip(&c, 1))
                return nn_fail(err, NN_E_PARSE, "steer message: steering: %s", c.why);
            if (ch == 'n') {
                out->steering = NAN;
            } else {
                char num[64];
                size_t n = c.pos - start;
                char *end = NULL;
                if (n >= sizeof num)
                    return nn_fail(err, NN_E_PARSE, "steer message: steering: not a number");
                memcpy(num, json + start, n);
                num[n] = 0;
                out->steering = strtod(num, &end);
                while (end && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
                    end++;
                if (end == num || (end && *end))
                    return nn_fail(err, NN_E_PARSE, "steer message: steering: not a number (got '%s')", num);
            }
            have_steer = true;
        } else if (!json_skip(&c, JSON_MAX_DEPTH)) {
            return nn_fail(err, NN_E_PARSE, "steer message: %s: %s", key, c.why);
        }
        if (json_peek(&c) == ',') {
            json_eat(&c, ',');
            continue;
        }
        if (!json_eat(&c, '}'))
            return nn_fail(err, NN_E_PARSE, "steer message: %s at byte %zu", c.why, c.pos);
        break;
    }
    if (!have_id || !have_steer)
        return nn_fail(err, NN_E_PARSE, "steer message: no %s field", have_id ? "steering" : "frame_id");
    return NN_OK;
}

int sub_recv(steer_sub *s, int timeout_ms, steer_reply *out, nn_err *err)
{
    zmq_pollitem_t it = {.socket = s->sock, .events = ZMQ_POLLIN};
    int n = zmq_poll(&it, 1, timeout_ms);
    if (n < 0) {
        if (zmq_errno() == EINTR)
            return 0;
        nn_fail(err, NN_E_IO, "steer: zmq_poll: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    if (n == 0)
        return 0;
    int len = zmq_recv(s->sock, s->buf, sizeof s->buf - 1, ZMQ_DONTWAIT);
    if (len < 0) {
        if (zmq_errno() == EAGAIN || zmq_errno() == EINTR)
            return 0;
        nn_fail(err, NN_E_IO, "steer: zmq_recv: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    out->t_recv_ns = link_now_ns();
    if ((size_t)len >= sizeof s->buf) {
        nn_fail(err, NN_E_PARSE, "steer message from %s longer than %zu bytes", s->endpoint, sizeof s->buf - 1);
        return -1;
    }
    s->buf[len] = 0;
    int more = 0;
    size_t ml = sizeof more;
    if (zmq_getsockopt(s->sock, ZMQ_RCVMORE, &more, &ml) == 0 && more) {
        nn_fail(err, NN_E_PARSE, "steer message from %s has more than one frame", s->endpoint);
        return -1;
    }
    const char *body = s->buf + 6; /* after "steer " (the subscription prefix) */
    if (steer_parse(body, (size_t)len - 6, out, err))
        return -1;
    return 1;
}

void sub_close(steer_sub *s)
{
    if (s->sock)
        zmq_close(s->sock);
    if (s->ctx)
        while (zmq_ctx_term(s->ctx) && zmq_errno() == EINTR) {
        }
    s->sock = s->ctx = NULL;
}
