/* threadpool.c — the fixed CPU thread pool: threads-1 pthread workers plus the calling thread.
 * nn_pool_run() publishes a job by bumping a generation counter; workers spin briefly on it and
 * then sleep on a condition variable, so back-to-back layer launches cost well under a
 * microsecond while an idle pool costs no CPU. Runs never allocate. One caller at a time. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu.h"

enum { POOL_MAX_THREADS = 256 };
/* How long a thread busy-waits before blocking: long enough to bridge the serial gaps between
 * the layers of one forward pass, short enough not to burn a core when idle. */
#define POOL_SPIN_NS 200000LL

typedef struct {
    struct nn_pool *pool;
    int id;
} pool_worker;

struct nn_pool {
    int threads;          /* workers + caller */
    int started;          /* workers actually running */
    pthread_t *tids;      /* [threads-1] */
    pool_worker *args;    /* [threads-1] */
    pthread_mutex_t mu;
    pthread_cond_t wake;  /* workers: a new generation was published */
    pthread_cond_t done;  /* caller: the last worker finished */
    atomic_uint gen;      /* job generation; bumped once per run (and once to stop) */
    atomic_int remaining; /* workers that have not finished the current generation */
    atomic_int sleepers;  /* workers blocked on `wake` */
    atomic_int waiting;   /* 1 while the caller is blocked on `done` */
    atomic_bool stop;
    /* the current job; written before `gen` is released, read after it is acquired */
    nn_range_fn fn;
    void *ctx;
    int n;
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Chunk t of [0, n) split into `parts` contiguous pieces. */
static void chunk(int n, int parts, int t, int *b, int *e)
{
    *b = (int)((long long)n * t / parts);
    *e = (int)((long long)n * (t + 1) / parts);
}

static void run_share(nn_pool *p, int id)
{
    int b, e;
    chunk(p->n, p->threads, id, &b, &e);
    if (b < e) p->fn(p->ctx, b, e, id);
}

static void *worker_main(void *arg)
{
    pool_worker *w = arg;
    nn_pool *p = w->pool;
    unsigned seen = 0;
    for (;;) {
        unsigned g = atomic_load_explicit(&p->gen, memory_order_acquire);
        if (g == seen) {
            long long t0 = now_ns();
            for (int i = 0; (g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen; i++) {
                cpu_relax();
                if ((i & 63) == 63 && now_ns() - t0 > POOL_SPIN_NS) break;
            }
        }
        if (g == seen) {
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->sleepers, 1);
            while ((g = atomic_load(&p->gen)) == seen) pthread_cond_wait(&p->wake, &p->mu);
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->mu);
        }
        seen = g;
        if (atomic_load_explicit(&p->stop, memory_order_acquire)) break;
        run_share(p, w->id);
        if (atomic_fetch_sub(&p->remaining, 1) == 1 && atomic_load(&p->waiting)) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

static void publish(nn_pool *p)
{
    atomic_fetch_add(&p->gen, 1); /* seq_cst: pairs with the sleepers check below */
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mu);
    }
}

void nn_pool_free(nn_pool *p)
{
    if (!p) return;
    if (p->started > 0) {
        atomic_store(&p->stop, true);
        publish(p);
        for (int i = 0; i < p->started; i++) pthread_join(p->tids[i], NULL);
    }
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
    free(p->args);
    free(p->tids);
    free(p);
}

nn_status nn_pool_create(nn_pool **out, int threads, nn_err *err)
{
    *out = NULL;
    if (threads < 1 || threads > POOL_MAX_THREADS)
        return nn_fail(err, NN_E_ARG, "thread pool: threads must be 1..%d (got %d)", POOL_MAX_THREADS, threads);
    nn_pool *p = calloc(1, sizeof *p);
    if (!p) return nn_fail(err, NN_E_NOMEM, "thread pool: out of memory");
    p->threads = threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    atomic_init(&p->gen, 0);
    atomic_init(&p->remaining, 0);
    atomic_init(&p->sleepers, 0);
    atomic_init(&p->waiting, 0);
    atomic_init(&p->stop, false);
    if (threads > 1) {
        p->tids = calloc((size_t)threads - 1, sizeof *p->tids);
        p->args = calloc((size_t)threads - 1, sizeof *p->args);
        if (!p->tids || !p->args) {
            nn_pool_free(p);
            return nn_fail(err, NN_E_NOMEM, "thread pool: out of memory");
        }
    }
    for (int i = 0; i < threads - 1; i++) {
        p->args[i] = (pool_worker){.pool = p, .id = i + 1};
        int rc = pthread_create(&p->tids[i], NULL, worker_main, &p->args[i]);
        if (rc != 0) {
            nn_pool_free(p);
            return nn_fail(err, NN_E_NOMEM, "thread pool: cannot start thread %d of %d: %s", i + 1, threads,
                           strerror(rc));
        }
        p->started++;
    }
    *out = p;
    return NN_OK;
}

int nn_pool_threads(const nn_pool *p) { return p ? p->threads : 1; }

void nn_pool_run(nn_pool *p, int n, nn_range_fn fn, void *ctx)
{
    if (n <= 0) return;
    if (!p || p->threads == 1 || n == 1) {
        fn(ctx, 0, n, 0);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    atomic_store_explicit(&p->remaining, p->threads - 1, memory_order_relaxed);
    publish(p);
    run_share(p, 0);
    if (atomic_load_explicit(&p->remaining, memory_order_acquire) == 0) return;
    long long t0 = now_ns();
    for (int i = 0; atomic_load_explicit(&p->remaining, memory_order_acquire) != 0; i++) {
        cpu_relax();
        if ((i & 63) == 63 && now_ns() - t0 > POOL_SPIN_NS) break;
    }
    if (atomic_load(&p->remaining) == 0) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->waiting, 1);
    while (atomic_load(&p->remaining) != 0) pthread_cond_wait(&p->done, &p->mu);
    atomic_store(&p->waiting, 0);
    pthread_mutex_unlock(&p->mu);
}
