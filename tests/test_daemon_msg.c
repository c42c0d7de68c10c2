/* test_daemon_msg.c — the ZeroMQ message formats: exact `steer` text (topic, field order,
 * units), angle only when the model states a scale, `outputs` for multi-output models, NaN as
 * null, string escaping, overflow reported instead of truncated JSON, `status` and `stats`
 * (counters, bad_frames and skipped included, fps over the window, per-stage percentiles, final
 * message over the whole run). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "runtime/msg.h"
#include "runtime/stats.h"

static steer_msg base(const float *y, int n)
{
    steer_msg m = {
        .seq = 7, .frame_id = 9, .t_capture_ns = 1000000, .t_publish_ns = 1002500, .outputs = y, .n_outputs = n,
        .source_ns = 50, .queue_ns = 100, .preprocess_ns = 200, .infer_ns = 1500, .total_ns = 2500,
        .model_name = "effnet-steer", .model_checksum = "sha256:ab", .backend = "cpu",
    };
    return m;
}

static void test_steer_exact(void **state)
{
    (void)state;
    char buf[MSG_MAX];
    float y[1] = {0.5f};
    steer_msg m = base(y, 1);
    m.has_angle = true;
    m.angle_deg = 12.5;
    size_t n = msg_steer(buf, sizeof buf, &m);
    const char *want = "steer {\"v\":1,\"seq\":7,\"frame_id\":9,\"t_capture_ns\":1000000,\"t_publish_ns\":1002500,"
                       "\"steering\":0.5,\"angle_deg\":12.5,\"latency_us\":{\"source\":0.1,\"queue\":0.1,\"preprocess\":0.2,"
                       "\"infer\":1.5,\"total\":2.5},\"model\":{\"name\":\"effnet-steer\",\"weights\":\"sha256:ab\"},"
                       "\"backend\":\"cpu\"}";
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));
}

static void test_steer_variants(void **state)
{
    (void)state;
    char buf[MSG_MAX];
    float y[3] = {NAN, 2.0f, -0.25f};
    steer_msg m = base(y, 3);
    m.model_name = "we\"ird\\name\n\x01";
    assert_true(msg_steer(buf, sizeof buf, &m) > 0);
    assert_non_null(strstr(buf, "\"steering\":null,"));
    assert_null(strstr(buf, "angle_deg"));
    assert_non_null(strstr(buf, "\"outputs\":[null,2,-0.25]"));
    assert_non_null(strstr(buf, "\"name\":\"we\\\"ird\\\\name\\n\\u0001\""));
    /* Does not fit: 0, never a truncated message. */
    assert_int_equal(msg_steer(buf, 40, &m), 0);
}

static void test_status(void **state)
{
    (void)state;
    char buf[256];
    size_t n = msg_status(buf, sizeof buf, 5, "source-retry", "v4l2src0: \"gone\"");
    assert_string_equal(buf, "status {\"v\":1,\"t_ns\":5,\"status\":\"source-retry\","
                             "\"message\":\"v4l2src0: \\\"gone\\\"\"}");
    assert_int_equal(n, strlen(buf));
}

static void test_stats(void **state)
{
    (void)state;
    sd_stats s;
    stats_init(&s, 1000000000ull);
    for (uint64_t i = 1; i <= 100; i++) {
        uint64_t lat[ST_N] = {i * 1000, 2000, 10000, 500, 20000};
        stats_record(&s, lat);
    }
    s.skipped = 1;
    stats_ctx c = {.now_ns = 3000000000ull, .frames_in = 120, .dropped = 20, .bad_frames = 7, .backend = "cpu",
                   .model_name = "m", .model_checksum = "sha256:x", .status = "running", .message = "ok",
                   .reloads = 2, .reload_failures = 1, .source_restarts = 3, .subscriber_connects = 7,
                   .subscriber_disconnects = 5};
    char buf[MSG_MAX];
    assert_true(stats_format(&s, &c, buf, sizeof buf) > 0);
    assert_true(strncmp(buf, "stats {\"v\":1,", 13) == 0);
    assert_non_null(strstr(buf, "\"uptime_s\":2.000,\"window_s\":2.000,\"fps_in\":60.00,\"fps_out\":50.00,"
                                "\"frames_in\":120,\"frames\":100,\"dropped\":20,\"bad_frames\":7,\"skipped\":1,"
                                "\"publish_dropped\":0,\"infer_errors\":0,"));
    /* percentiles: within one histogram bucket (+6.25 %) above the exact value; max exact */
    const char *q = strstr(buf, "\"queue\":{\"n\":100,");
    assert_non_null(q);
    double p50, p90, p99, mx;
    assert_int_equal(sscanf(q, "\"queue\":{\"n\":100,\"p50\":%lf,\"p90\":%lf,\"p99\":%lf,\"max\":%lf}", &p50, &p90,
                            &p99, &mx),
                     4);
    assert_true(p50 >= 50.0 && p50 <= 50.0 * 1.0625);
    assert_true(p90 >= 90.0 && p90 <= 90.0 * 1.0625);
    assert_true(p99 >= 99.0 && p99 <= 100.0);
    assert_float_equal(mx, 100.0, 1e-9);
    assert_non_null(strstr(buf, "\"infer\":{\"n\":100,\"p50\":10.0,\"p90\":10.0,\"p99\":10.0,\"max\":10.0}"));
    assert_non_null(strstr(buf, "\"reloads\":2,\"reload_failures\":1,\"source_restarts\":3,\"status\":\"running\","
                                "\"message\":\"ok\",\"final\":false}"));
    assert_non_null(strstr(buf, "\"subscribers\":2,\"subscriber_connects\":7,\"subscriber_disconnects\":5,"));
    /* next window: empty histograms, rates over the new window; final: whole run */
    stats_next_window(&s, 3000000000ull, 120);
    uint64_t lat[ST_N] = {1000, 1000, 1000, 1000, 1000};
    stats_record(&s, lat);
    c.now_ns = 4000000000ull;
    c.frames_in = 150;
    assert_true(stats_format(&s, &c, buf, sizeof buf) > 0);
    assert_non_null(strstr(buf, "\"window_s\":1.000,\"fps_in\":30.00,\"fps_out\":1.00,\"frames_in\":150,\"frames\":101,"));
    assert_non_null(strstr(buf, "\"queue\":{\"n\":1,"));
    c.final = true;
    assert_true(stats_format(&s, &c, buf, sizeof buf) > 0);
    assert_non_null(strstr(buf, "\"window_s\":3.000,"));
    assert_non_null(strstr(buf, "\"queue\":{\"n\":101,"));
    assert_non_null(strstr(buf, "\"final\":true}"));
    assert_int_equal(stats_format(&s, &c, buf, 100), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steer_exact),
        cmocka_unit_test(test_steer_variants),
        cmocka_unit_test(test_status),
        cmocka_unit_test(test_stats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
