/* test_sim_link.c — the simulator's connections to steerd (src/sim/link.c): steer messages are
 * parsed field by field (frame_id, steering or null; other fields and unknown ones skipped) and
 * a malformed one is one line naming what is wrong; the frame server hands a whole frame to a
 * real TCP client, reports "nobody connected" and a vanished peer without hanging; a SUB socket
 * on an endpoint nobody publishes at returns "nothing" after its timeout; a real PUB's message
 * arrives parsed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>
#include <cmocka.h>

#include "test_util.h"

#include "sim/link.h"

static void test_steer_parse(void **state)
{
    (void)state;
    nn_err err = {{0}};
    steer_reply r;
    const char *ok = "{\"v\":1,\"seq\":66,\"frame_id\":66,\"t_capture_ns\":1403014444152,\"steering\":-0.0213,"
                     "\"angle_deg\":-0.5325,\"latency_us\":{\"source\":64.0,\"total\":1171.3},"
                     "\"model\":{\"name\":\"effnet-steer\",\"weights\":\"sha256:4a61\"},\"backend\":\"cpu\",\"new\":[1,2]}";
    assert_int_equal(steer_parse(ok, strlen(ok), &r, &err), NN_OK);
    assert_true(r.frame_id == 66);
    assert_true(fabs(r.steering + 0.0213) < 1e-12);
    const char *null_steer = "{\"frame_id\":7,\"steering\":null}";
    assert_int_equal(steer_parse(null_steer, strlen(null_steer), &r, &err), NN_OK);
    assert_true(r.frame_id == 7 && isnan(r.steering));
    static const struct {
        const char *msg, *want;
    } bad[] = {
        {"", "not a JSON object"},
        {"[1]", "not a JSON object"},
        {"{}", "empty object"},
        {"{\"steering\":0.5}", "no frame_id field"},
        {"{\"frame_id\":3}", "no steering field"},
        {"{\"frame_id\":-3,\"steering\":0}", "frame_id"},
        {"{\"frame_id\":3,\"steering\":\"left\"}", "steering: not a number"},
        {"{\"frame_id\":3,\"steering\":0.1", "steer message"},
        {"{\"frame_id\":3 \"steering\":0.1}", "steer message"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        check_msg(bad[i].msg, steer_parse(bad[i].msg, strlen(bad[i].msg), &r, &err), NN_E_PARSE, &err, bad[i].want);
}

static void test_frame_server(void **state)
{
    (void)state;
    nn_err err = {{0}};
    frame_link l;
    assert_int_equal(link_listen(&l, 0, &err), NN_OK);
    assert_true(l.port > 0);
    uint8_t frame[4096];
    for (size_t i = 0; i < sizeof frame; i++)
        frame[i] = (uint8_t)(i * 7);
    /* nobody connected: sending fails at once, accepting times out */
    assert_int_equal(link_send(&l, frame, sizeof frame, 10, &err), -1);
    assert_int_equal(link_accept(&l, 20, &err), 0);
    /* a real client gets the frame byte for byte */
    int c = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)l.port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(c, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(link_accept(&l, 2000, &err), 1);
    assert_int_equal(link_send(&l, frame, sizeof frame, 1000, &err), 1);
    uint8_t got[sizeof frame];
    size_t off = 0;
    while (off < sizeof got) {
        ssize_t n = recv(c, got + off, sizeof got - off, 0);
        assert_true(n > 0);
        off += (size_t)n;
    }
    assert_memory_equal(got, frame, sizeof frame);
    /* the client goes away: a send fails (no SIGPIPE) within its timeout */
    close(c);
    int r = 1;
    for (int k = 0; k < 100 && r == 1; k++)
        r = link_send(&l, frame, sizeof frame, 100, &err);
    assert_int_equal(r, -1);
    assert_non_null(strstr(err.msg, "frames: steerd"));
    link_close(&l);
}

static void test_subscriber(void **state)
{
    (void)state;
    nn_err err = {{0}};
    char ep[128];
    snprintf(ep, sizeof ep, "ipc:///tmp/test-sim-link-%d.sock", (int)getpid());
    steer_sub s;
    steer_reply r;
    assert_int_equal(sub_open(&s, ep, &err), NN_OK);
    /* nobody publishes: nothing after the timeout */
    assert_int_equal(sub_recv(&s, 50, &r, &err), 0);
    /* a PUB binds and sends a stats message (filtered out) and a steer message */
    void *ctx = zmq_ctx_new(), *pub = zmq_socket(ctx, ZMQ_PUB);
    assert_non_null(pub);
    assert_int_equal(zmq_bind(pub, ep), 0);
    int got = 0;
    for (int k = 0; k < 200 && got <= 0; k++) {
        const char *stats = "stats {\"v\":1}", *steer = "steer {\"frame_id\":12,\"steering\":0.25}";
        zmq_send(pub, stats, strlen(stats), 0);
        zmq_send(pub, steer, strlen(steer), 0);
        got = sub_recv(&s, 20, &r, &err);
    }
    assert_int_equal(got, 1);
    assert_true(r.frame_id == 12 && r.steering == 0.25 && r.t_recv_ns > 0);
    /* a broken steer message is an error naming it */
    const char *broken = "steer {\"frame_id\":12}";
    do {
        zmq_send(pub, broken, strlen(broken), 0);
        got = sub_recv(&s, 50, &r, &err);
    } while (got == 1);
    assert_int_equal(got, -1);
    assert_non_null(strstr(err.msg, "no steering field"));
    sub_close(&s);
    int linger = 0;
    zmq_setsockopt(pub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(pub);
    zmq_ctx_term(ctx);
    /* a malformed endpoint is refused when opening */
    check_msg("bad endpoint", sub_open(&s, "nonsense://x", &err), NN_E_IO, &err, "steer: nonsense://x");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steer_parse),
        cmocka_unit_test(test_frame_server),
        cmocka_unit_test(test_subscriber),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
