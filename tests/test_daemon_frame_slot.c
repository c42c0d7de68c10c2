/* test_daemon_frame_slot.c — the latest-frame slot: drop-oldest with counted drops, consumer
 * sees the newest frame, back-pressure mode loses nothing, close wakes both sides, buffers grow
 * only with the frame size (allocator calls counted via --wrap). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "daemon/frame_slot.h"

static int alloc_calls;
void *__real_malloc(size_t n);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n)
{
    alloc_calls++;
    return __real_malloc(n);
}
void *__wrap_realloc(void *p, size_t n)
{
    alloc_calls++;
    return __real_realloc(p, n);
}

static void put(frame_slot *s, uint64_t id, size_t bytes, bool block)
{
    sd_frame *f = fs_write_buffer(s, bytes);
    assert_non_null(f);
    memset(f->data, (int)(id & 0xff), bytes);
    f->width = (int)bytes / 3;
    f->height = 1;
    f->stride = (int)bytes;
    f->frame_id = id;
    f->t_capture_ns = id * 10;
    assert_true(fs_commit(s, block));
}

static void test_drop_oldest(void **state)
{
    (void)state;
    frame_slot s;
    assert_int_equal(fs_init(&s), 0);
    assert_null(fs_take(&s, 0)); /* empty: times out */
    put(&s, 1, 30, false);
    put(&s, 2, 30, false);
    put(&s, 3, 30, false);
    const sd_frame *f = fs_take(&s, 100);
    assert_non_null(f);
    assert_int_equal(f->frame_id, 3); /* the newest */
    assert_int_equal(f->data[0], 3);
    assert_int_equal(f->t_capture_ns, 30);
    assert_null(fs_take(&s, 0));
    fs_counters c = fs_get_counters(&s);
    assert_int_equal(c.commits, 3);
    assert_int_equal(c.drops, 2);
    assert_int_equal(c.takes, 1);
    /* The consumer's frame stays intact while the producer keeps writing. */
    put(&s, 4, 30, false);
    put(&s, 5, 30, false);
    assert_int_equal(f->frame_id, 3);
    assert_int_equal(f->data[29], 3);
    f = fs_take(&s, 100);
    assert_int_equal(f->frame_id, 5);
    assert_int_equal(fs_get_counters(&s).drops, 3);
    fs_destroy(&s);
}

static void test_no_allocation_per_frame(void **state)
{
    (void)state;
    frame_slot s;
    assert_int_equal(fs_init(&s), 0);
    for (int i = 0; i < 10; i++) /* every buffer sees the size once */
        put(&s, (uint64_t)i, 300, false), fs_take(&s, 0);
    int before = alloc_calls;
    for (int i = 0; i < 1000; i++) {
        put(&s, (uint64_t)i, i % 2 ? 300 : 150, false);
        if (i % 3 == 0)
            assert_non_null(fs_take(&s, 0));
    }
    assert_int_equal(alloc_calls - before, 0);
    put(&s, 99, 600, false); /* a larger frame (caps change) grows one buffer */
    assert_int_equal(alloc_calls - before, 1);
    fs_destroy(&s);
}

typedef struct {
    frame_slot *s;
    int n;
} producer_arg;

static void *producer(void *p)
{
    producer_arg *a = p;
    for (int i = 0; i < a->n; i++) {
        sd_frame *f = fs_write_buffer(a->s, 64);
        if (!f)
            return NULL;
        f->frame_id = (uint64_t)i;
        memset(f->data, i & 0xff, 64);
        if (!fs_commit(a->s, true))
            return NULL;
    }
    return NULL;
}

static void test_back_pressure_loses_nothing(void **state)
{
    (void)state;
    frame_slot s;
    assert_int_equal(fs_init(&s), 0);
    producer_arg a = {&s, 500};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, producer, &a), 0);
    for (int i = 0; i < a.n; i++) {
        const sd_frame *f = fs_take(&s, 10000);
        assert_non_null(f);
        assert_int_equal(f->frame_id, (uint64_t)i);
        assert_int_equal(f->data[63], i & 0xff);
    }
    pthread_join(t, NULL);
    assert_int_equal(fs_get_counters(&s).drops, 0);
    fs_destroy(&s);
}

/* A steady 5 ms producer with spinning enabled (and a warm buffer prefetched while spinning):
 * the consumer learns the period and still gets every frame, in order, each picked up soon
 * after its commit. */
static void *paced_producer(void *p)
{
    producer_arg *a = p;
    for (int i = 0; i < a->n; i++) {
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
        sd_frame *f = fs_write_buffer(a->s, 16);
        if (!f)
            return NULL;
        f->frame_id = (uint64_t)i;
        if (!fs_commit(a->s, true))
            return NULL;
    }
    return NULL;
}

static void test_spin_learns_period_and_loses_nothing(void **state)
{
    (void)state;
    frame_slot s;
    assert_int_equal(fs_init(&s), 0);
    fs_set_spin(&s, 1000);
    /* A warm buffer (prefetched while spinning; odd size: no access past its end) changes nothing. */
    static char warm[100000 + 3];
    fs_set_warm(&s, warm, sizeof warm);
    producer_arg a = {&s, 60};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, paced_producer, &a), 0);
    for (int i = 0; i < a.n; i++) {
        const sd_frame *f = fs_take(&s, 10000);
        assert_non_null(f);
        assert_int_equal(f->frame_id, (uint64_t)i);
    }
    pthread_join(t, NULL);
    /* The learned interval is about the producer's 5 ms (generous bounds: a loaded machine). */
    if (s.period_ns < 4000000ull || s.period_ns > 50000000ull)
        fail_msg("learned period %llu ns for a 5 ms producer", (unsigned long long)s.period_ns);
    assert_int_equal(fs_get_counters(&s).drops, 0);
    fs_destroy(&s);
}

static void *blocked_producer(void *p)
{
    frame_slot *s = p;
    sd_frame *f = fs_write_buffer(s, 8);
    if (f && fs_commit(s, true)) {
        f = fs_write_buffer(s, 8);
        if (f && !fs_commit(s, true)) /* blocks until close, then refused */
            return (void *)1;
    }
    return NULL;
}

static void test_close_wakes_both_sides(void **state)
{
    (void)state;
    frame_slot s;
    assert_int_equal(fs_init(&s), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, blocked_producer, &s), 0);
    while (fs_get_counters(&s).commits < 1)
        ;
    fs_close(&s);
    void *rv = NULL;
    pthread_join(t, &rv);
    assert_ptr_equal(rv, (void *)1);
    /* closed: a pending frame is still drained, then take returns at once */
    assert_non_null(fs_take(&s, 10000));
    assert_null(fs_take(&s, 10000));
    fs_open(&s);
    put(&s, 7, 8, false);
    assert_int_equal(fs_take(&s, 100)->frame_id, 7);
    fs_destroy(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drop_oldest),
        cmocka_unit_test(test_no_allocation_per_frame),
        cmocka_unit_test(test_back_pressure_loses_nothing),
        cmocka_unit_test(test_close_wakes_both_sides),
        cmocka_unit_test(test_spin_learns_period_and_loses_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
