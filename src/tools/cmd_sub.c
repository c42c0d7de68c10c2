/* cmd_sub.c — `steerctl sub`: a ZeroMQ SUB client that prints steerd's messages, one per line
 * (`<topic> <json>`), until --count messages arrived or --timeout seconds passed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "tools/steerctl.h"

static const char sub_help[] =
    "usage: steerctl sub ENDPOINT [--topic T] [--count N] [--timeout S]\n"
    "\n"
    "Connects a ZeroMQ SUB socket to ENDPOINT (e.g. ipc:///run/steerd/steer.sock, tcp://127.0.0.1:5555)\n"
    "and prints every message whose topic starts with T (default: all) as one line, `<topic> <json>`.\n"
    "Stops after N messages (default: never) or S seconds (default: never). Exit status 0 when N\n"
    "messages arrived (or, without --count, when stopped by --timeout after at least one), 1 otherwise.\n";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int cmd_sub(int argc, char **argv)
{
    const char *endpoint = NULL, *topic = "";
    long count = 0;
    double timeout = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return fputs(sub_help, stdout), 0;
        if (strcmp(a, "--topic") == 0 && i + 1 < argc) {
            topic = argv[++i];
        } else if (strcmp(a, "--count") == 0 && i + 1 < argc) {
            if (!parse_int_opt("--count", argv[++i], 1, 1000000000L, &count))
                return EXIT_USAGE;
        } else if (strcmp(a, "--timeout") == 0 && i + 1 < argc) {
            char *end = NULL;
            const char *v = argv[++i];
            timeout = strtod(v, &end);
            if (end == v || *end || !(timeout > 0) || timeout > 1e6) {
                fprintf(stderr, "steerctl: --timeout: expected seconds > 0 (got '%s')\n", v);
                return EXIT_USAGE;
            }
        } else if (a[0] != '-' && !endpoint) {
            endpoint = a;
        } else {
            return fputs(sub_help, stderr), EXIT_USAGE;
        }
    }
    if (!endpoint)
        return fputs(sub_help, stderr), EXIT_USAGE;

    int rc = 1;
    void *ctx = zmq_ctx_new(), *sock = NULL;
    if (!ctx) {
        fprintf(stderr, "steerctl: sub: zmq_ctx_new: %s\n", zmq_strerror(zmq_errno()));
        return 1;
    }
    int linger = 0;
    sock = zmq_socket(ctx, ZMQ_SUB);
    if (!sock || zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger) ||
        zmq_setsockopt(sock, ZMQ_SUBSCRIBE, topic, strlen(topic)) || zmq_connect(sock, endpoint)) {
        fprintf(stderr, "steerctl: sub: %s: %s\n", endpoint, zmq_strerror(zmq_errno()));
        goto done;
    }
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
    if (rc)
        fprintf(stderr, "steerctl: sub: %ld message%s received from %s\n", got, got == 1 ? "" : "s", endpoint);
done:
    if (sock && zmq_close(sock))
        fprintf(stderr, "steerctl: sub: zmq_close: %s\n", zmq_strerror(zmq_errno()));
    while (zmq_ctx_term(ctx) && zmq_errno() == EINTR) {
    }
    return rc;
}
