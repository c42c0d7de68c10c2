/* test_daemon_config.c — steerd's config table: defaults, every type, bounds, unknown keys,
 * wrong types, missing required keys, cross-field rules, ${VAR} expansion and relative paths;
 * every error is one line `file:line:col: key: problem`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "daemon/config.h"

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
    assert_int_equal(c.backend, CFG_BACKEND_AUTO);
    assert_int_equal(c.threads, 1);
    assert_string_equal(c.endpoint, "ipc:///run/steerd/steer.sock"); /* never all interfaces */
    assert_int_equal(c.sndhwm, 100);
    assert_int_equal(c.stats_interval_ms, 1000);
    assert_int_equal(c.log_level, 6);
    assert_true(c.drop);
    assert_int_equal(c.on_eos, CFG_EOS_EXIT);
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
    assert_int_equal(c.backend, CFG_BACKEND_CPU);
    assert_int_equal(c.threads, 4);
    assert_string_equal(c.endpoint, "tcp://127.0.0.1:5555");
    assert_int_equal(c.sndhwm, 7);
    assert_int_equal(c.stats_interval_ms, 250);
    assert_int_equal(c.log_level, 7);
    assert_int_equal(load(&c,
                          "source:\n  pipeline: filesrc location=x ! decodebin ! videoconvert ! appsink name=sink\n"
                          "  drop: false\n  on_eos: restart\n  retry_ms: 20\n  retry_max_ms: 40\n"
                          "model: {spec: a, weights: b}\n",
                          &err),
                     NN_OK);
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
    expect_error(BASE "threads: many\n", 6, 10, "threads: expected an integer");
    expect_error(BASE "threads: [1]\n", 6, 10, "threads: expected a scalar");
    expect_error(BASE "backend: tpu\n", 6, 10, "backend");
    if (!nn_cuda_built()) {
        expect_error(BASE "backend: cuda\n", 6, 10, "backend: this build has no CUDA backend");
    } else { /* a valid choice in a CUDA build; the device is checked when the model loads */
        steerd_config c;
        nn_err err;
        assert_int_equal(load(&c, BASE "backend: cuda\n", &err), NN_OK);
        assert_int_equal(c.backend, CFG_BACKEND_CUDA);
    }
    expect_error(BASE "stats: 5\n", 6, 8, "stats: expected a mapping");
    expect_error(BASE "stats: {interval_ms: 10}\n", 6, 22, "stats.interval_ms: must be in [50, 3600000]");
    expect_error(BASE "log: {level: loud}\n", 6, 14, "log.level");
    expect_error(BASE "source2: {}\n", 6, 1, "source2: unknown key");
    expect_error(BASE "publish: {endpoint: 'udp://x'}\n", 6, 21, "publish.endpoint: expected ipc://");
    expect_error(BASE "publish: {endpoint: 'tcp://127.0.0.1'}\n", 6, 21, "needs a port");
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
}

static void test_dump(void **state)
{
    (void)state;
    steerd_config c;
    nn_err err;
    assert_int_equal(load(&c, BASE "threads: 3\n", &err), NN_OK);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    cfg_dump(&c, f);
    fclose(f);
    assert_non_null(strstr(text, "threads: 3\n"));
    assert_non_null(strstr(text, "backend: auto    # default\n"));
    assert_non_null(strstr(text, "log.level: info    # default\n"));
    int lines = 0;
    for (char *p = text; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, CFG_NKEYS);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_paths), cmocka_unit_test(test_all_keys),
        cmocka_unit_test(test_errors),             cmocka_unit_test(test_env_expansion),
        cmocka_unit_test(test_dump),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
