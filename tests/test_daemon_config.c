/* test_daemon_config.c — steerd's config table: defaults, every type, bounds, unknown keys,
 * wrong types, missing required keys, cross-field rules, ${VAR} expansion and relative paths;
 * every endpoint form (syntax in the parse, the machine's view in cfg_check_endpoint, the ipc
 * socket-file probe); every error is one line `file:line:col: key: problem`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "runtime/config.h"
#include "runtime/endpoint.h"

#define BASE                                                                                              \
    "source:\n  pipeline: videotestsrc ! videoconvert ! appsink name=sink\n"                              \
    "model:\n  spec: m.yaml\n  weights: /abs/w.safetensors\n"

static nn_status load(steerd_config *c, const char *text, nn_err *err)
{
    memset(err, 0, sizeof *err);
    return cfg_load_buffer(c, text, strlen(text), "dir/steerd.yaml", err);
}

/* Expects failure with message starting `dir/steerd.yaml:line:col: ` and containing `needle`. */
static void expect_error(const char *text, int line, int col, const char *needle)
{
    steerd_config c;
    nn_err err;
    nn_status s = load(&c, text, &err);
    if (s == NN_OK)
        fail_msg("accepted a bad config:\n%s", text);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "dir/steerd.yaml:%d:%d: ", line, col);
    if (strncmp(err.msg, prefix, strlen(prefix)) != 0 || !strstr(err.msg, needle))
        fail_msg("config:\n%s\nexpected '%s...%s', got '%s'", text, prefix, needle, err.msg);
    assert_null(strchr(err.msg, '\n'));
}

static void test_defaults_and_paths(void **state)
{
    (void)state;
    steerd_config c;
    nn_err err;
    assert_int_equal(load(&c, BASE, &err), NN_OK);
    assert_string_equal(c.pipeline, "videotestsrc ! videoconvert ! appsink name=sink");
    assert_string_equal(c.model_spec, "dir/m.yaml");           /* relative to the config file */
    assert_string_equal(c.model_weights, "/abs/w.safetensors"); /* absolute stays */
    assert_int_equal(c.backend, NN_BACKEND_AUTO);
    assert_int_equal(c.threads, 1);
    assert_string_equal(c.endpoint, "ipc:///run/steerd/steer.sock"); /* never all interfaces */
    assert_int_equal(c.sndhwm, 100);
    assert_int_equal(c.reload_timeout_ms, 30000);
    assert_int_equal(c.stats_interval_ms, 1000);
    assert_int_equal(c.log_level, 6);
    assert_true(c.drop);
    assert_int_equal(c.on_eos, CFG_EOS_EXIT);
    assert_int_equal(c.aspect, CFG_ASPECT_STRETCH);
    assert_int_equal(c.pos[CFG_SOURCE_PIPELINE].line, 2);
    assert_int_equal(c.pos[CFG_THREADS].line, 0);
}

static void test_all_keys(void **state)
{
    (void)state;
    steerd_config c;
    nn_err err;
    const char *text = BASE "backend: cpu\nthreads: 4\n"
                            "publish: {endpoint: 'tcp://127.0.0.1:5555', sndhwm: 7}\n"
                            "stats: {interval_ms: 250}\nlog: {level: debug}\n";
    assert_int_equal(load(&c, text, &err), NN_OK);
    assert_int_equal(c.backend, NN_BACKEND_CPU);
    assert_int_equal(c.threads, 4);
    assert_string_equal(c.endpoint, "tcp://127.0.0.1:5555");
    assert_int_equal(c.sndhwm, 7);
    assert_int_equal(c.stats_interval_ms, 250);
    assert_int_equal(c.log_level, 7);
    assert_int_equal(load(&c,
                          "source:\n  pipeline: filesrc location=x ! decodebin ! videoconvert ! appsink name=sink\n"
                          "  drop: false\n  on_eos: restart\n  retry_ms: 20\n  retry_max_ms: 40\n  aspect: crop\n"
                          "model: {spec: a, weights: b}\n",
                          &err),
                     NN_OK);
    assert_int_equal(c.aspect, CFG_ASPECT_CROP);
    assert_false(c.drop);
    assert_int_equal(c.on_eos, CFG_EOS_RESTART);
    assert_int_equal(c.retry_ms, 20);
    assert_int_equal(c.retry_max_ms, 40);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error(BASE "bogus: 1\n", 6, 1, "bogus: unknown key");
    expect_error(BASE "publish:\n  endpont: ipc:///x\n", 7, 3, "publish.endpont: unknown key");
    expect_error(BASE "threads: 0\n", 6, 10, "threads: must be in [1, 256] (got 0)");
    expect_error(BASE "reload_timeout_ms: 50\n", 6, 20, "reload_timeout_ms: must be in [100, 3600000] (got 50)");
    expect_error(BASE "threads: many\n", 6, 10, "threads: expected an integer");
    expect_error(BASE "threads: [1]\n", 6, 10, "threads: expected a scalar");
    expect_error(BASE "backend: tpu\n", 6, 10, "backend");
    if (!nn_cuda_built()) {
        expect_error(BASE "backend: cuda\n", 6, 10, "backend: this build has no CUDA backend");
    } else { /* a valid choice in a CUDA build; the device is checked when the model loads */
        steerd_config c;
        nn_err err;
        assert_int_equal(load(&c, BASE "backend: cuda\n", &err), NN_OK);
        assert_int_equal(c.backend, NN_BACKEND_CUDA);
    }
    expect_error(BASE "stats: 5\n", 6, 8, "stats: expected a mapping");
    expect_error(BASE "stats: {interval_ms: 10}\n", 6, 22, "stats.interval_ms: must be in [50, 3600000]");
    expect_error(BASE "log: {level: loud}\n", 6, 14, "log.level");
    expect_error("source:\n  pipeline: a ! appsink name=sink\n  aspect: fill\nmodel: {spec: a, weights: b}\n", 3, 11,
                 "source.aspect");
    expect_error(BASE "source2: {}\n", 6, 1, "source2: unknown key");
    expect_error(BASE "source2: x\n", 6, 1, "unknown key");
    expect_error("source:\n  pipeline: videotestsrc ! fakesink\nmodel: {spec: a, weights: b}\n", 2, 13,
                 "source.pipeline: must end in `appsink name=sink`");
    expect_error("source:\n  pipeline: a ! appsink name=sink\n  retry_ms: 500\n  retry_max_ms: 100\n"
                 "model: {spec: a, weights: b}\n",
                 4, 17, "source.retry_max_ms: must be >= source.retry_ms");
    expect_error("source:\n  pipeline: a ! appsink name=sink\nmodel: {spec: a}\n", 3, 8,
                 "model.weights: required key is missing");
    expect_error("model: {spec: a, weights: b}\n", 1, 1, "source.pipeline: required key is missing");
    expect_error("- 1\n- 2\n", 1, 1, "expected a mapping at the top level");
    expect_error(BASE "threads: 1\nthreads: 2\n", 7, 1, "duplicate key");
    expect_error(BASE "model: {spec: x}\n", 6, 1, "duplicate key");
    expect_error(BASE "source: {drop: maybe}\n", 6, 1, "duplicate key");
    expect_error("source:\n  pipeline: a ! appsink name=sink\n  drop: maybe\nmodel: {spec: a, weights: b}\n", 3, 9,
                 "source.drop");
    expect_error("source:\n  pipeline: ''\nmodel: {spec: a, weights: b}\n", 2, 13, "must not be empty");
    expect_error("source: {pipeline: [\n", 2, 1, "malformed YAML");
}

/* `publish: {endpoint: EP}` on line 6; the value starts at column 21 (quoted). */
static void expect_endpoint_error(const char *ep, const char *needle)
{
    char text[1024];
    snprintf(text, sizeof text, BASE "publish: {endpoint: '%s'}\n", ep);
    expect_error(text, 6, 21, needle);
}

static void expect_endpoint_ok(const char *ep)
{
    char text[1024];
    steerd_config c;
    nn_err err;
    snprintf(text, sizeof text, BASE "publish: {endpoint: '%s'}\n", ep);
    if (load(&c, text, &err) != NN_OK)
        fail_msg("endpoint '%s' refused: %s", ep, err.msg);
    assert_string_equal(c.endpoint, ep);
}

/* Syntax: every transport, tcp HOST:PORT form and port value, ipc path form (parse only). */
static void test_endpoint_syntax(void **state)
{
    (void)state;
    const char *ok[] = {"tcp://127.0.0.1:5555", "tcp://*:1",         "tcp://*:65535",  "tcp://lo:5555",
                        "tcp://[::1]:5555",     "tcp://host.example:80", "ipc:///run/steerd/steer.sock",
                        "ipc://@steerd-abstract", NULL};
    for (int i = 0; ok[i]; i++)
        expect_endpoint_ok(ok[i]);
    expect_endpoint_error("udp://x", "publish.endpoint: transport 'udp' is not supported: expected ipc://PATH or "
                                     "tcp://HOST:PORT (got 'udp://x')");
    expect_endpoint_error("pgm://eth0,239.0.0.1:5555", "transport 'pgm' is not supported");
    expect_endpoint_error("/run/steerd/steer.sock", "expected ipc://PATH or tcp://HOST:PORT (got '/run/");
    expect_endpoint_error("", "publish.endpoint: must not be empty");
    expect_endpoint_error("inproc://steer", "inproc:// reaches only the same process");
    expect_endpoint_error("tcp://127.0.0.1", "tcp endpoint needs a port");
    expect_endpoint_error("tcp://127.0.0.1:0", "port 0 means a random port");
    expect_endpoint_error("tcp://127.0.0.1:*", "port * means a random port");
    expect_endpoint_error("tcp://127.0.0.1:65536", "port 65536 is out of range 1..65535");
    expect_endpoint_error("tcp://127.0.0.1:99999", "port 99999 is out of range 1..65535 (got 'tcp://127.0.0.1:99999')");
    expect_endpoint_error("tcp://127.0.0.1:999999999999", "port 999999999999 is out of range");
    expect_endpoint_error("tcp://127.0.0.1:99999999999999999999", "port is not a number 1..65535");
    expect_endpoint_error("tcp://127.0.0.1:http", "port 'http' is not a number 1..65535");
    expect_endpoint_error("tcp://127.0.0.1:-1", "port '-1' is not a number");
    expect_endpoint_error("tcp://127.0.0.1:", "port '' is not a number");
    expect_endpoint_error("tcp://:5555", "missing host before the port");
    expect_endpoint_error("tcp://::1:5555", "an IPv6 host is written [ADDRESS]:PORT");
    expect_endpoint_error("tcp://[::1]5555", "an IPv6 host is written [ADDRESS]:PORT");
    expect_endpoint_error("tcp://a@b:5555", "host 'a@b' has a character 0x40");
    /* bytes no endpoint has: described, the value never shown (a line of another file, say) */
    expect_endpoint_error("tcp://a b:5555", "publish.endpoint: byte 8 (0x20) cannot be part of an endpoint: expected "
                                            "ipc://PATH or tcp://HOST:PORT (got 14 bytes, not shown)");
    expect_endpoint_error("tcp://src;127.0.0.1:5555", "byte 10 (0x3b) cannot be part of an endpoint");
    expect_endpoint_error("root:$6$Qw3rTy$kJ8f0/Zx1:19000:0:99999:7:::", "byte 6 (0x24) cannot be part of an endpoint: expected ipc://PATH or tcp://HOST:PORT (got 43 bytes, not shown)");
    expect_endpoint_error("ipc:///tmp/\xc3\xa9.sock", "byte 12 (0xc3) cannot be part of an endpoint");
    expect_endpoint_error("ipc://", "missing path after ipc://");
    expect_endpoint_error("ipc://*", "ipc://* means a random path");
    expect_endpoint_error("ipc://steer.sock", "ipc path must be absolute");
    expect_endpoint_error("ipc://./steer.sock", "ipc path must be absolute");
    char ep[200] = "ipc:///";
    memset(ep + 7, 'a', EP_IPC_MAX); /* a path of 108 bytes: one over sun_path's limit */
    ep[6 + EP_IPC_MAX + 1] = 0;
    expect_endpoint_error(ep, "ipc path is 108 bytes, longer than 107 (the limit of a Unix socket address)");
    ep[6 + EP_IPC_MAX] = 0;
    expect_endpoint_ok(ep); /* 107 bytes: the limit itself parses */
}

/* What the machine says (cfg_check_endpoint: part of cfg_load, so --check-config and reload). */
static nn_status check_machine(const char *ep, nn_err *err)
{
    steerd_config c;
    char text[1024];
    snprintf(text, sizeof text, BASE "publish: {endpoint: '%s'}\n", ep);
    nn_status s = load(&c, text, err);
    return s ? s : cfg_check_endpoint(&c, err);
}

static void expect_machine_error(const char *ep, const char *needle)
{
    nn_err err;
    if (check_machine(ep, &err) == NN_OK)
        fail_msg("endpoint '%s' accepted", ep);
    if (strncmp(err.msg, "dir/steerd.yaml:6:21: publish.endpoint: ", 40) != 0 || !strstr(err.msg, needle))
        fail_msg("endpoint '%s': expected '...%s', got '%s'", ep, needle, err.msg);
}

static void expect_machine_ok(const char *ep)
{
    nn_err err;
    if (check_machine(ep, &err) != NN_OK)
        fail_msg("endpoint '%s' refused: %s", ep, err.msg);
}

static void test_endpoint_machine(void **state)
{
    (void)state;
    char dir[] = "/tmp/steerd-cfg-XXXXXX", ep[256], path[256];
    assert_non_null(mkdtemp(dir));
    snprintf(ep, sizeof ep, "ipc://%s/steer.sock", dir);
    expect_machine_ok(ep);
    expect_machine_ok("ipc://@steerd-test-abstract");
    expect_machine_error("ipc:///nonexistent-steerd/x.sock", "folder /nonexistent-steerd: does not exist (got "
                                                            "'ipc:///nonexistent-steerd/x.sock'); it is made by "
                                                            "systemd (RuntimeDirectory= in steerd.service): for a "
                                                            "hand run use steerd --endpoint ipc:///tmp/steer.sock, "
                                                            "or create the folder");
    snprintf(path, sizeof path, "%s/file", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("keep me\n", f);
    fclose(f);
    snprintf(ep, sizeof ep, "ipc://%s/file/x.sock", dir);
    expect_machine_error(ep, "/file is a regular file, not a folder");
    nn_err e2;
    assert_int_not_equal(check_machine(ep, &e2), NN_OK);
    assert_null(strstr(e2.msg, "--endpoint")); /* the fix is for a missing folder only */
    snprintf(ep, sizeof ep, "ipc://%s/file", dir);
    expect_machine_error(ep, "/file is a regular file, not a socket: it is never replaced");
    expect_machine_ok("tcp://127.0.0.1:5555");
    expect_machine_ok("tcp://*:5555");
    expect_machine_ok("tcp://lo:5555");
    expect_machine_error("tcp://192.0.2.1:5555", "192.0.2.1 is not an address of this machine");
    expect_machine_error("tcp://nosuch-host.invalid:5555", "host 'nosuch-host.invalid' is not an IP address or a "
                                                           "network interface of this machine");
    expect_machine_error("tcp://[zz::1]:5555", "'zz::1' is not an IPv6 address");

    /* connect (steerctl sub): names resolve, a relative ipc path is the caller's own */
    char why[400];
    assert_true(ep_check("tcp://127.0.0.1:5555", EP_CONNECT, why, sizeof why));
    assert_true(ep_check("tcp://localhost:5555", EP_CONNECT, why, sizeof why));
    assert_true(ep_check("ipc://relative.sock", EP_CONNECT, why, sizeof why));
    assert_false(ep_check("tcp://nosuch-host.invalid:5555", EP_CONNECT, why, sizeof why));
    assert_non_null(strstr(why, "cannot resolve host 'nosuch-host.invalid': "));
    assert_false(ep_check("tcp://*:5555", EP_CONNECT, why, sizeof why));
    assert_non_null(strstr(why, "host * is for a bind"));
    assert_false(ep_check("tcp://127.0.0.1:70000", EP_CONNECT, why, sizeof why));
    assert_non_null(strstr(why, "port 70000 is out of range"));
    unlink(path);
    rmdir(dir);
}

/* The ipc socket-file probe: absent, a live listener, a stale file, not a socket. */
static void test_endpoint_probe(void **state)
{
    (void)state;
    char dir[] = "/tmp/steerd-probe-XXXXXX", path[64], ep[80];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/s.sock", dir);
    snprintf(ep, sizeof ep, "ipc://%s", path);
    int e;
    assert_int_equal(ep_probe(path, &e), EP_SOCK_ABSENT);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(ep_probe(path, &e), EP_SOCK_LIVE);
    ep_remove_stale(ep); /* a live socket is never removed */
    assert_int_equal(access(path, F_OK), 0);
    close(fd); /* the file stays: a stale socket */
    assert_int_equal(ep_probe(path, &e), EP_SOCK_STALE);
    ep_remove_stale(ep);
    assert_int_equal(ep_probe(path, &e), EP_SOCK_ABSENT);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(ep_probe(path, &e), EP_SOCK_OTHER);
    assert_int_equal(e, 0);
    ep_remove_stale(ep); /* not a socket: left alone */
    assert_int_equal(access(path, F_OK), 0);
    char p2[256];
    assert_true(ep_ipc_path(ep, p2, sizeof p2));
    assert_string_equal(p2, path);
    assert_false(ep_ipc_path("ipc://@abstract", p2, sizeof p2));
    assert_false(ep_ipc_path("tcp://127.0.0.1:1", p2, sizeof p2));
    unlink(path);
    rmdir(dir);
}

static void test_env_expansion(void **state)
{
    (void)state;
    steerd_config c;
    nn_err err;
    setenv("STEERD_TEST_DIR_X", "/data/w", 1);
    unsetenv("STEERD_TEST_UNSET_X");
    assert_int_equal(load(&c,
                          "source:\n  pipeline: a ! appsink name=sink\n"
                          "model: {spec: /m.yaml, weights: '${STEERD_TEST_DIR_X}/w.st'}\n",
                          &err),
                     NN_OK);
    assert_string_equal(c.model_weights, "/data/w/w.st");
    assert_int_equal(load(&c, "source:\n  pipeline: a $$ b ! appsink name=sink\nmodel: {spec: a, weights: b}\n", &err),
                     NN_OK);
    assert_string_equal(c.pipeline, "a $ b ! appsink name=sink");
    expect_error("source:\n  pipeline: a ! appsink name=sink\nmodel: {spec: a, weights: '${STEERD_TEST_UNSET_X}/w'}\n",
                 3, 27, "environment variable STEERD_TEST_UNSET_X is not set");
    expect_error("source:\n  pipeline: a ! appsink name=sink\nmodel: {spec: '${oops', weights: b}\n", 3, 15,
                 "malformed ${NAME}");
    /* A path that starts with ${VAR} is the shell's: a relative value stays relative to the working
     * directory; one written in the file joins the file's folder, also with a variable inside. */
    setenv("STEERD_TEST_DIR_X", "build/tests", 1);
    assert_int_equal(load(&c,
                          "source:\n  pipeline: a ! appsink name=sink\n"
                          "model: {spec: 'm/${STEERD_TEST_DIR_X}.yaml', weights: '${STEERD_TEST_DIR_X}/w.st'}\n",
                          &err),
                     NN_OK);
    assert_string_equal(c.model_weights, "build/tests/w.st");
    assert_string_equal(c.model_spec, "dir/m/build/tests.yaml");
    unsetenv("STEERD_TEST_DIR_X");
}

/* cfg_dump's text (free it). */
static char *dump(const steerd_config *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    cfg_dump(c, f);
    fclose(f);
    return text;
}

/* steerd --endpoint: replaces publish.endpoint (checked the same way, its errors named as
 * --endpoint), dumped as such; without it the file's value is checked, with the fix for a missing
 * ipc folder. */
static void test_endpoint_override(void **state)
{
    (void)state;
    char dir[] = "/tmp/steerd-cfg-XXXXXX", path[64], ep[128];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/c.yaml", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(BASE "publish: {endpoint: 'ipc:///nonexistent-steerd/steer.sock'}\n", f);
    fclose(f);
    steerd_config c;
    nn_err err;
    assert_int_equal(cfg_load(&c, path, &err), NN_E_SPEC);
    assert_non_null(strstr(err.msg, ":6:21: publish.endpoint: folder /nonexistent-steerd: does not exist"));
    assert_non_null(strstr(err.msg, "for a hand run use steerd --endpoint ipc:///tmp/steer.sock"));
    snprintf(ep, sizeof ep, "ipc://%s/s.sock", dir);
    assert_int_equal(cfg_load_as(&c, path, ep, &err), NN_OK);
    assert_string_equal(c.endpoint, ep);
    char *text = dump(&c);
    char want[200];
    snprintf(want, sizeof want, "publish.endpoint: \"%s\"    # --endpoint\n", ep);
    assert_non_null(strstr(text, want));
    free(text);
    assert_int_equal(cfg_load_as(&c, path, "tcp://127.0.0.1:99999", &err), NN_E_SPEC);
    assert_non_null(strstr(err.msg, "--endpoint: "));
    assert_non_null(strstr(err.msg, "99999"));
    assert_int_equal(cfg_load_as(&c, path, "ipc:///nonexistent-steerd/o.sock", &err), NN_E_SPEC);
    assert_true(strncmp(err.msg, "--endpoint: folder /nonexistent-steerd: does not exist", 54) == 0);
    unlink(path);
    rmdir(dir);
}

static void test_dump(void **state)
{
    (void)state;
    steerd_config c;
    nn_err err;
    assert_int_equal(load(&c, BASE "threads: 3\n", &err), NN_OK);
    char *text = dump(&c);
    assert_non_null(strstr(text, "threads: 3\n"));
    assert_non_null(strstr(text, "backend: auto    # default\n"));
    assert_non_null(strstr(text, "log.level: info    # default\n"));
    int lines = 0;
    for (char *p = text; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, CFG_NKEYS);
    free(text);
}

/* A reload's new config against the running one: keys that take effect at the next start keep
 * the running value and are named; source keys ask for a source restart; the rest is applied. */
static void test_reload_merge(void **state)
{
    (void)state;
    steerd_config cur, next;
    nn_err err;
    char kept[256];
    assert_int_equal(load(&cur, BASE, &err), NN_OK);

    /* nothing changed */
    assert_int_equal(load(&next, BASE, &err), NN_OK);
    assert_false(cfg_reload_merge(&next, &cur, kept, sizeof kept));
    assert_string_equal(kept, "");

    /* live keys only: applied, no restart */
    assert_int_equal(load(&next, BASE "threads: 3\nlog:\n  level: debug\nstats:\n  interval_ms: 250\n", &err),
                     NN_OK);
    assert_false(cfg_reload_merge(&next, &cur, kept, sizeof kept));
    assert_string_equal(kept, "");
    assert_int_equal(next.threads, 3);
    assert_int_equal(next.log_level, 7);
    assert_int_equal(next.stats_interval_ms, 250);

    /* next-start keys: the running values are kept and named, in table order */
    assert_int_equal(load(&next, BASE "publish:\n  endpoint: tcp://127.0.0.1:5599\n  sndhwm: 7\n"
                                      "realtime_priority: 10\nthreads: 2\n", &err),
                     NN_OK);
    assert_false(cfg_reload_merge(&next, &cur, kept, sizeof kept));
    assert_string_equal(kept, "realtime_priority, publish.endpoint, publish.sndhwm");
    assert_string_equal(next.endpoint, cur.endpoint);
    assert_int_equal(next.sndhwm, cur.sndhwm);
    assert_int_equal(next.realtime_priority, 0);
    assert_int_equal(next.threads, 2);

    /* each source key restarts the source */
    const char *source_changes[] = {
        "source:\n  pipeline: videotestsrc is-live=true ! videoconvert ! appsink name=sink\n",
        "source:\n  pipeline: videotestsrc ! videoconvert ! appsink name=sink\n  drop: false\n",
        "source:\n  pipeline: videotestsrc ! videoconvert ! appsink name=sink\n  retry_ms: 20\n",
        "source:\n  pipeline: videotestsrc ! videoconvert ! appsink name=sink\n  retry_max_ms: 20000\n",
        "source:\n  pipeline: videotestsrc ! videoconvert ! appsink name=sink\n  clock_spin_us: 0\n",
    };
    for (size_t i = 0; i < sizeof source_changes / sizeof *source_changes; i++) {
        char text[512];
        snprintf(text, sizeof text, "%smodel:\n  spec: m.yaml\n  weights: /abs/w.safetensors\n", source_changes[i]);
        assert_int_equal(load(&next, text, &err), NN_OK);
        if (!cfg_reload_merge(&next, &cur, kept, sizeof kept))
            fail_msg("no source restart for:\n%s", text);
        assert_string_equal(kept, "");
    }
    /* spin_us is applied live (the frame slot's wait), not by a restart */
    assert_int_equal(load(&next, "source:\n  pipeline: videotestsrc ! videoconvert ! appsink name=sink\n  spin_us: 0\n"
                                 "model:\n  spec: m.yaml\n  weights: /abs/w.safetensors\n", &err),
                     NN_OK);
    assert_false(cfg_reload_merge(&next, &cur, kept, sizeof kept));
    assert_int_equal(next.spin_us, 0);

    /* a short `kept` buffer is truncated, never overrun */
    assert_int_equal(load(&next, BASE "publish:\n  sndhwm: 7\nrealtime_priority: 10\n", &err), NN_OK);
    char small[8];
    assert_false(cfg_reload_merge(&next, &cur, small, sizeof small));
    assert_int_equal(strlen(small), sizeof small - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_paths), cmocka_unit_test(test_all_keys),
        cmocka_unit_test(test_errors),             cmocka_unit_test(test_env_expansion),
        cmocka_unit_test(test_endpoint_override),
        cmocka_unit_test(test_dump),               cmocka_unit_test(test_endpoint_syntax),
        cmocka_unit_test(test_endpoint_machine),   cmocka_unit_test(test_endpoint_probe),
        cmocka_unit_test(test_reload_merge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
