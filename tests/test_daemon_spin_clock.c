/* test_daemon_spin_clock.c — the pipeline clock that busy-waits the end of each wait: a wait
 * never returns before its deadline (sleep + spin, spin only, no spin), late deadlines report
 * EARLY with the lateness, periodic ids keep their period, and unscheduling interrupts both the
 * sleeping and the spinning phase (the shutdown path of a pipeline). */
#include <gst/gst.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <cmocka.h>

#include "daemon/spin_clock.h"

#define MS GST_MSECOND

static void test_is_the_monotonic_clock(void **state)
{
    (void)state;
    GstClock *c = spin_clock_new(500);
    assert_non_null(c);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    GstClockTime mono = GST_TIMESPEC_TO_TIME(ts), t = gst_clock_get_time(c);
    assert_true(t >= mono && t - mono < 100 * MS); /* capture stamps are compared with CLOCK_MONOTONIC */
    gst_object_unref(c);
}

/* Waits `n` single-shot deadlines `ahead` in the future; each must return OK, not before it. */
static void wait_deadlines(int spin_us, GstClockTime ahead, int n)
{
    GstClock *c = spin_clock_new(spin_us);
    assert_non_null(c);
    for (int i = 0; i < n; i++) {
        GstClockTime target = gst_clock_get_time(c) + ahead;
        GstClockID id = gst_clock_new_single_shot_id(c, target);
        GstClockTimeDiff jitter = 0;
        assert_int_equal(gst_clock_id_wait(id, &jitter), GST_CLOCK_OK);
        GstClockTime after = gst_clock_get_time(c);
        assert_true(after >= target);
        assert_true(jitter < 0); /* it had to wait */
        assert_true(jitter >= -(GstClockTimeDiff)ahead);
        assert_int_equal(GST_CLOCK_ENTRY_TIME((GstClockEntry *)id), target); /* given back */
        gst_clock_id_unref(id);
    }
    gst_object_unref(c);
}

static void test_sleep_then_spin_never_early(void **state)
{
    (void)state;
    wait_deadlines(1000, 5 * MS, 20); /* sleeps 4 ms, spins the last 1 */
}

static void test_spin_only_never_early(void **state)
{
    (void)state;
    wait_deadlines(20000, 3 * MS, 20); /* the whole wait inside the spin window */
}

static void test_no_spin_never_early(void **state)
{
    (void)state;
    wait_deadlines(0, 3 * MS, 10); /* the system clock's wait alone */
}

static void test_late_deadline_is_early_with_lateness(void **state)
{
    (void)state;
    GstClock *c = spin_clock_new(500);
    GstClockTime now = gst_clock_get_time(c);
    GstClockID id = gst_clock_new_single_shot_id(c, now - 2 * MS);
    GstClockTimeDiff jitter = 0;
    assert_int_equal(gst_clock_id_wait(id, &jitter), GST_CLOCK_EARLY);
    assert_true(jitter >= (GstClockTimeDiff)(2 * MS));
    gst_clock_id_unref(id);
    gst_object_unref(c);
}

static void test_periodic_keeps_its_period(void **state)
{
    (void)state;
    GstClock *c = spin_clock_new(1000);
    GstClockTime start = gst_clock_get_time(c) + 2 * MS, interval = 3 * MS;
    GstClockID id = gst_clock_new_periodic_id(c, start, interval);
    for (int k = 0; k < 6; k++) {
        GstClockReturn r = gst_clock_id_wait(id, NULL);
        assert_true(r == GST_CLOCK_OK || r == GST_CLOCK_EARLY); /* EARLY: this thread was preempted */
        assert_true(gst_clock_get_time(c) >= start + (GstClockTime)k * interval);
    }
    gst_clock_id_unref(id);
    gst_object_unref(c);
}

typedef struct {
    GstClockID id;
    GstClockTime delay;
} unscheduler;

static void *unschedule_later(void *arg)
{
    const unscheduler *u = arg;
    g_usleep(u->delay / GST_USECOND);
    gst_clock_id_unschedule(u->id);
    return NULL;
}

/* A wait `ahead` in the future, unscheduled from another thread after `delay`: returns UNSCHEDULED
 * long before its deadline. */
static void unschedule_while_waiting(int spin_us, GstClockTime ahead, GstClockTime delay)
{
    GstClock *c = spin_clock_new(spin_us);
    GstClockTime target = gst_clock_get_time(c) + ahead;
    unscheduler u = {.id = gst_clock_new_single_shot_id(c, target), .delay = delay};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, unschedule_later, &u), 0);
    assert_int_equal(gst_clock_id_wait(u.id, NULL), GST_CLOCK_UNSCHEDULED);
    assert_true(gst_clock_get_time(c) < target);
    assert_int_equal(pthread_join(th, NULL), 0);
    gst_clock_id_unref(u.id);
    gst_object_unref(c);
}

static void test_unschedule_interrupts_the_sleep(void **state)
{
    (void)state;
    unschedule_while_waiting(500, 30 * GST_SECOND, 20 * MS);
}

static void test_unschedule_interrupts_the_spin(void **state)
{
    (void)state;
    /* spinning from the start; a 2 s window so that a loaded machine cannot make it end first */
    unschedule_while_waiting(2000000, 1900 * MS, 3 * MS);
}

static void test_unscheduled_before_the_wait(void **state)
{
    (void)state;
    GstClock *c = spin_clock_new(2000000);
    GstClockTime now = gst_clock_get_time(c);
    GstClockTime targets[] = {now + 1000 * MS, now + 30 * GST_SECOND}; /* spin phase, sleep phase */
    for (size_t i = 0; i < 2; i++) {
        GstClockID id = gst_clock_new_single_shot_id(c, targets[i]);
        gst_clock_id_unschedule(id);
        assert_int_equal(gst_clock_id_wait(id, NULL), GST_CLOCK_UNSCHEDULED);
        gst_clock_id_unref(id);
    }
    assert_true(gst_clock_get_time(c) < targets[0]);
    gst_object_unref(c);
}

int main(void)
{
    gst_init(NULL, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_is_the_monotonic_clock),
        cmocka_unit_test(test_sleep_then_spin_never_early),
        cmocka_unit_test(test_spin_only_never_early),
        cmocka_unit_test(test_no_spin_never_early),
        cmocka_unit_test(test_late_deadline_is_early_with_lateness),
        cmocka_unit_test(test_periodic_keeps_its_period),
        cmocka_unit_test(test_unschedule_interrupts_the_sleep),
        cmocka_unit_test(test_unschedule_interrupts_the_spin),
        cmocka_unit_test(test_unscheduled_before_the_wait),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    gst_deinit();
    return rc;
}
