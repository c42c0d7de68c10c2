/* cmd_sub.c — `steerctl sub`: a ZeroMQ SUB client that prints steerd's messages, one per line
 * (`<topic> <json>`), until --count messages arrived or --timeout seconds passed. The endpoint is
 * checked first (src/daemon/endpoint.h: syntax, port range, a host that resolves), and a gap in
 * the `steer` messages' seq (messages this subscriber lost: ZeroMQ's PUB drops them silently when
 * the subscriber's queue is full) is reported on stderr, one line per gap and a summary at exit. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "runtime/endpoint.h"
#include "tools/steerctl.h"

#define GAP_LINES_MAX 100 /* gap lines printed; the summary at exit counts them all */

static const char sub_help[] =
    "usage: steerctl sub ENDPOINT [--topic T] [--count N] [--timeout S]\n"
    "\n"
    "Connects a ZeroMQ SUB socket to ENDPOINT (e.g. ipc:///run/steerd/steer.sock, tcp://127.0.0.1:5555)\n"
    "and prints every message whose topic starts with T (default: all) as one line, `<topic> <json>`.\n"
    "Stops after N messages (default: never) or S seconds (default: never). Exit status 0 when N\n"
    "messages arrived (or, without --count, when stopped by --timeout after at least one), 1 otherwise;\n"
    "2 for a malformed endpoint or one whose host does not resolve.\n"
    "Lost messages: a `steer` message's seq that skips numbers is reported on stderr\n"
    "(`steerctl: sub: seq gap: N steer messages lost (seq A..B)`, the first 100 gaps), with a summary\n"
    "at exit; a seq that goes back is a restarted steerd, not a loss.\n";

/* Loss accounting over the `steer` messages' seq. */
typedef struct {
    bool have;
    unsigned long long last, received, lost, gaps;
} seq_track;

/* The seq of a `steer {...}` message (false for other topics or without one). */
static bool steer_seq(const char *msg, size_t len, unsigned long long *seq)
{
    char head[64];
    size_t n = len < sizeof head - 1 ? len : sizeof head - 1;
    memcpy(head, msg, n);
    head[n] = 0;
    if (strncmp(head, "steer {", 7) != 0)
        return false;
    const char *p = strstr(head, "\"seq\":");
    if (!p)
        return false;
    char *end = NULL;
    *seq = strtoull(p + 6, &end, 10);
    return end != p + 6;
}

static void track_seq(seq_track *t, const char *msg, size_t len)
{
    unsigned long long seq;
    if (!steer_seq(msg, len, &seq))
        return;
    t->received++;
    if (t->have && seq > t->last + 1) {
        unsigned long long n = seq - t->last - 1;
        t->lost += n;
        if (t->gaps++ < GAP_LINES_MAX)
            fprintf(stderr, "steerctl: sub: seq gap: %llu steer message%s lost (seq %llu..%llu)\n", n, n == 1 ? "" : "s",
                    t->last + 1, seq - 1);
    } else if (t->have && seq <= t->last) {
        fprintf(stderr, "steerctl: sub: seq went back from %llu to %llu (steerd restarted?)\n", t->last, seq);
    }
    t->have = true;
    t->last = seq;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int cmd_sub(int argc, char **argv)
{
    static const struct option opts[] = {{"topic", required_argument, 0, 'T'}, {"count", required_argument, 0, 'c'},
                                         {"timeout", required_argument, 0, 't'}, {0, 0, 0, 0}};
    const char *endpoint = NULL, *topic = "";
    long count = 0;
    double timeout = 0;
    opts_parser p;
    opts_start(&p, "steerctl", "sub", argc, argv, "", opts);
    for (int c; (c = opts_next(&p)) != OPTS_END;) {
        if (c == 'T') {
            topic = p.arg;
        } else if (c == 'c') {
            if (!parse_int_opt("--count", p.arg, 1, 1000000000L, &count))
                return EXIT_USAGE;
        } else if (c == 't') {
            if (!parse_seconds_opt(NULL, "--timeout", p.arg, 1e6, &timeout))
                return EXIT_USAGE;
        } else if (!opts_positional(&p, c, &endpoint, 1)) {
            return opts_default(&p, c, sub_help);
        }
    }
    if (!endpoint)
        return fputs(sub_help, stderr), EXIT_USAGE;
    char why[400];
    if (!ep_check(endpoint, EP_CONNECT, why, sizeof why)) {
        fprintf(stderr, "steerctl: sub: %s\n", why);
        return EXIT_USAGE;
    }

    int rc = 1;
    void *ctx = zmq_ctx_new(), *sock = NULL;
    if (!ctx) {
        fprintf(stderr, "steerctl: sub: zmq_ctx_new: %s\n", zmq_strerror(zmq_errno()));
        return 1;
    }
    int linger = 0, ipv6 = ep_is_ipv6(endpoint);
    sock = zmq_socket(ctx, ZMQ_SUB);
    if (!sock || zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger) ||
        zmq_setsockopt(sock, ZMQ_SUBSCRIBE, topic, strlen(topic)) ||
        zmq_setsockopt(sock, ZMQ_IPV6, &ipv6, sizeof ipv6) || zmq_connect(sock, endpoint)) {
        fprintf(stderr, "steerctl: sub: %s: %s\n", endpoint, zmq_strerror(zmq_errno()));
        goto done;
    }
    seq_track seq = {0};
    zmq_msg_t msg;
    if (zmq_msg_init(&msg)) {
        fprintf(stderr, "steerctl: sub: zmq_msg_init: %s\n", zmq_strerror(zmq_errno()));
        goto done;
    }
    long got = 0;
    double deadline = timeout > 0 ? now_s() + timeout : 0;
    for (;;) {
        long wait_ms = -1;
        if (deadline > 0) {
            double left = deadline - now_s();
            if (left <= 0)
                break;
            wait_ms = (long)(left * 1000.0) + 1;
        }
        zmq_pollitem_t it = {.socket = sock, .events = ZMQ_POLLIN};
        int n = zmq_poll(&it, 1, wait_ms);
        if (n < 0) {
            if (zmq_errno() == EINTR)
                break;
            fprintf(stderr, "steerctl: sub: zmq_poll: %s\n", zmq_strerror(zmq_errno()));
            break;
        }
        if (n == 0)
            continue;
        int more;
        do {
            if (zmq_msg_recv(&msg, sock, 0) < 0) {
                if (zmq_errno() == EINTR)
                    goto out_loop;
                fprintf(stderr, "steerctl: sub: zmq_msg_recv: %s\n", zmq_strerror(zmq_errno()));
                goto out_loop;
            }
            more = zmq_msg_more(&msg);
            track_seq(&seq, zmq_msg_data(&msg), zmq_msg_size(&msg));
            fwrite(zmq_msg_data(&msg), 1, zmq_msg_size(&msg), stdout);
            fputc(more ? ' ' : '\n', stdout);
        } while (more);
        fflush(stdout);
        if (++got == count)
            break;
    }
out_loop:
    if (zmq_msg_close(&msg))
        fprintf(stderr, "steerctl: sub: zmq_msg_close: %s\n", zmq_strerror(zmq_errno()));
    rc = count ? (got == count ? 0 : 1) : (got > 0 ? 0 : 1);
    if (seq.gaps)
        fprintf(stderr, "steerctl: sub: %llu steer message%s lost in %llu seq gap%s (%llu received)\n", seq.lost,
                seq.lost == 1 ? "" : "s", seq.gaps, seq.gaps == 1 ? "" : "s", seq.received);
    if (rc)
        fprintf(stderr, "steerctl: sub: %ld message%s received from %s\n", got, got == 1 ? "" : "s", endpoint);
done:
    if (sock && zmq_close(sock))
        fprintf(stderr, "steerctl: sub: zmq_close: %s\n", zmq_strerror(zmq_errno()));
    while (zmq_ctx_term(ctx) && zmq_errno() == EINTR) {
    }
    return rc;
}
