/* frame_slot.c — triple-buffered latest-frame slot (see frame_slot.h). */
#include "daemon/frame_slot.h"

#include "common/cpu_relax.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int fs_init(frame_slot *s)
{
    memset(s, 0, sizeof *s);
    pthread_condattr_t ca;
    int rc = pthread_condattr_init(&ca);
    if (rc)
        return rc;
    rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (!rc)
        rc = pthread_mutex_init(&s->mu, NULL);
    if (!rc) {
        rc = pthread_cond_init(&s->cv_new, &ca);
        if (!rc) {
            rc = pthread_cond_init(&s->cv_space, &ca);
            if (rc)
                pthread_cond_destroy(&s->cv_new);
        }
        if (rc)
            pthread_mutex_destroy(&s->mu);
    }
    pthread_condattr_destroy(&ca);
    if (rc)
        return rc;
    s->writing = &s->bufs[0];
    s->middle = &s->bufs[1];
    s->reading = &s->bufs[2];
    return 0;
}

void fs_destroy(frame_slot *s)
{
    for (int i = 0; i < 3; i++)
        free(s->bufs[i].data);
    pthread_cond_destroy(&s->cv_space);
    pthread_cond_destroy(&s->cv_new);
    pthread_mutex_destroy(&s->mu);
    memset(s, 0, sizeof *s);
}

sd_frame *fs_write_buffer(frame_slot *s, size_t bytes)
{
    sd_frame *f = s->writing; /* owned by the producer: no lock needed */
    if (f->cap < bytes) {
        uint8_t *p = realloc(f->data, bytes);
        if (!p)
            return NULL;
        f->data = p;
        f->cap = bytes;
    }
    return f;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

bool fs_commit(frame_slot *s, bool block)
{
    pthread_mutex_lock(&s->mu);
    while (block && s->has_new && !s->closed)
        pthread_cond_wait(&s->cv_space, &s->mu);
    if (s->closed) {
        pthread_mutex_unlock(&s->mu);
        return false;
    }
    if (s->has_new)
        s->drops++;
    sd_frame *t = s->middle;
    s->middle = s->writing;
    s->writing = t;
    s->has_new = true;
    s->commits++;
    uint64_t now = now_ns();
    if (s->last_commit_ns && now > s->last_commit_ns) {
        uint64_t dt = now - s->last_commit_ns; /* smoothed 7/8 old + 1/8 new; a gap over 1 s resets */
        s->period_ns = dt > 1000000000ull ? 0 : s->period_ns ? (7 * s->period_ns + dt) / 8 : dt;
    }
    s->last_commit_ns = now;
    atomic_fetch_add_explicit(&s->commit_seq, 1, memory_order_release);
    pthread_cond_signal(&s->cv_new);
    pthread_mutex_unlock(&s->mu);
    return true;
}

void fs_set_spin(frame_slot *s, int spin_us)
{
    pthread_mutex_lock(&s->mu);
    s->spin_ns = spin_us > 0 ? (uint64_t)spin_us * 1000ull : 0;
    pthread_mutex_unlock(&s->mu);
}

void fs_set_warm(frame_slot *s, void *p, size_t bytes)
{
    s->warm = p;
    s->warm_bytes = p ? bytes : 0;
}

/* Prefetches the consumer's warm buffer for writing, a line at a time, stopping early when the
 * frame comes (commit_seq moved). */
static void prefetch_warm(const frame_slot *s, uint64_t seen)
{
    const char *p = s->warm;
    for (size_t off = 0; off < s->warm_bytes; off += 64) {
        __builtin_prefetch(p + off, 1, 3);
        if ((off & 4095) == 0 && atomic_load_explicit(&s->commit_seq, memory_order_acquire) != seen)
            return;
    }
}

static void timespec_at(struct timespec *ts, uint64_t t_ns)
{
    ts->tv_sec = (time_t)(t_ns / 1000000000ull);
    ts->tv_nsec = (long)(t_ns % 1000000000ull);
}

/* Called with the mutex held and no frame waiting: when the next commit is predictable and due
 * before `deadline`, sleeps until spin_ns before it, then spins (mutex released) until it comes
 * or spin_ns after it. Returns with the mutex held. */
static void wait_predicted(frame_slot *s, uint64_t deadline)
{
    uint64_t now = now_ns();
    if (!s->spin_ns || !s->period_ns || !s->last_commit_ns)
        return;
    uint64_t due = s->last_commit_ns + s->period_ns;
    if (due + s->spin_ns < now || due > deadline)
        return;
    if (due > now + s->spin_ns) {
        struct timespec ts;
        timespec_at(&ts, due - s->spin_ns);
        while (!s->has_new && !s->closed && pthread_cond_timedwait(&s->cv_new, &s->mu, &ts) != ETIMEDOUT) {
        }
        if (s->has_new || s->closed)
            return;
    }
    uint64_t seen = atomic_load_explicit(&s->commit_seq, memory_order_acquire), until = due + s->spin_ns;
    pthread_mutex_unlock(&s->mu);
    prefetch_warm(s, seen);
    while (atomic_load_explicit(&s->commit_seq, memory_order_acquire) == seen && now_ns() < until)
        cpu_relax();
    pthread_mutex_lock(&s->mu);
}

static void deadline_after(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

const sd_frame *fs_take(frame_slot *s, int timeout_ms)
{
    struct timespec dl;
    deadline_after(&dl, timeout_ms > 0 ? timeout_ms : 0);
    pthread_mutex_lock(&s->mu);
    if (!s->has_new && !s->closed && timeout_ms > 0)
        wait_predicted(s, (uint64_t)dl.tv_sec * 1000000000ull + (uint64_t)dl.tv_nsec);
    while (!s->has_new && !s->closed) {
        if (pthread_cond_timedwait(&s->cv_new, &s->mu, &dl) == ETIMEDOUT)
            break;
    }
    const sd_frame *f = NULL;
    if (s->has_new) {
        sd_frame *t = s->reading;
        s->reading = s->middle;
        s->middle = t;
        s->has_new = false;
        s->takes++;
        f = s->reading;
        pthread_cond_signal(&s->cv_space);
    }
    pthread_mutex_unlock(&s->mu);
    return f;
}

void fs_close(frame_slot *s)
{
    pthread_mutex_lock(&s->mu);
    s->closed = true;
    pthread_cond_broadcast(&s->cv_new);
    pthread_cond_broadcast(&s->cv_space);
    pthread_mutex_unlock(&s->mu);
}

void fs_open(frame_slot *s)
{
    pthread_mutex_lock(&s->mu);
    s->closed = false;
    pthread_mutex_unlock(&s->mu);
}

fs_counters fs_get_counters(frame_slot *s)
{
    pthread_mutex_lock(&s->mu);
    fs_counters c = {s->commits, s->drops, s->takes, s->has_new};
    pthread_mutex_unlock(&s->mu);
    return c;
}
