/* test_daemon_histogram.c — the log-linear latency histogram: bucket boundaries are contiguous
 * and monotonic, percentiles stay within one bucket (6.25 %) of the exact nearest-rank value on
 * random data, min/max/p100 are exact, merge equals recording both, reset empties. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/histogram.h"

static void test_buckets(void **state)
{
    (void)state;
    for (int b = 0; b < HIST_BUCKETS - 1; b++) {
        assert_true(hist_bucket_lo(b) <= hist_bucket_hi(b));
        assert_int_equal(hist_bucket_hi(b) + 1, hist_bucket_lo(b + 1));
        assert_int_equal(hist_bucket(hist_bucket_lo(b)), b);
        assert_int_equal(hist_bucket(hist_bucket_hi(b)), b);
        /* relative width <= 1/16 */
        assert_true((double)(hist_bucket_hi(b) - hist_bucket_lo(b)) <= hist_bucket_lo(b) / 16.0 + 1e-9);
    }
    for (uint64_t v = 0; v < 32; v++)
        assert_int_equal(hist_bucket(v), (int)v); /* small values exact */
    assert_int_equal(hist_bucket(UINT64_MAX), HIST_BUCKETS - 1);
}

static int cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_percentiles_on_random_data(void **state)
{
    (void)state;
    enum { N = 20000 };
    uint64_t *v = malloc(N * sizeof *v);
    assert_non_null(v);
    histogram h;
    hist_reset(&h);
    uint64_t seed = 42;
    for (int i = 0; i < N; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        /* log-uniform 1 us .. 100 ms in ns */
        double e = (double)(seed >> 11) / 9007199254740992.0;
        v[i] = (uint64_t)(1000.0 * __builtin_pow(1e5, e));
        hist_record(&h, v[i]);
    }
    qsort(v, N, sizeof *v, cmp);
    const double ps[] = {1, 50, 90, 99, 99.9};
    for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
        size_t rank = (size_t)__builtin_ceil(ps[k] / 100.0 * N);
        uint64_t exact = v[rank - 1], got = hist_percentile(&h, ps[k]);
        double rel = ((double)got - (double)exact) / (double)exact;
        if (rel < 0 || rel > 1.0 / 16)
            fail_msg("p%g: got %llu, exact %llu", ps[k], (unsigned long long)got, (unsigned long long)exact);
    }
    assert_int_equal(hist_percentile(&h, 100), v[N - 1]);
    assert_int_equal(hist_percentile(&h, 0), v[0]);
    assert_int_equal(h.min, v[0]);
    assert_int_equal(h.max, v[N - 1]);
    assert_int_equal(h.count, N);
    free(v);
}

static void test_merge_reset_small(void **state)
{
    (void)state;
    histogram a, b, both;
    hist_reset(&a);
    hist_reset(&b);
    hist_reset(&both);
    assert_int_equal(hist_percentile(&a, 50), 0);
    for (uint64_t i = 1; i <= 100; i++) {
        hist_record(i % 2 ? &a : &b, i * 1000);
        hist_record(&both, i * 1000);
    }
    hist_merge(&a, &b);
    assert_memory_equal(&a, &both, sizeof a);
    hist_reset(&a);
    assert_int_equal(a.count, 0);
    hist_record(&a, 7);
    hist_record(&a, 9);
    hist_record(&a, 11);
    assert_int_equal(hist_percentile(&a, 50), 9); /* exact below 32 */
    assert_float_equal(hist_mean(&a), 9.0, 1e-12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buckets),
        cmocka_unit_test(test_percentiles_on_random_data),
        cmocka_unit_test(test_merge_reset_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
