/* threadpool.c — the fixed CPU thread pool: threads-1 pthread workers plus the calling thread.
 *
 * nn_pool_run(n) cuts [0, n) into min(n, threads) contiguous chunks and publishes them with one
 * 64-bit atomic word, state = generation << 32 | next unclaimed chunk. Every participant (the
 * caller included) claims chunks by compare-and-swap until none are left, so a worker that is
 * slow to wake (or descheduled on a busy machine) never holds the caller up: the caller simply
 * runs the remaining chunks itself and only waits for chunks already started. Idle workers spin
 * briefly on the word, then sleep on a condition variable. Runs never allocate; one caller at a
 * time. fn's `thread` argument is the participant (0 = caller), unique among concurrent calls,
 * so kernels can index per-thread scratch with it. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
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
    int threads;            /* workers + caller */
    int started;            /* workers actually running */
    pthread_t *tids;        /* [threads-1] */
    pool_worker *args;      /* [threads-1] */
    pthread_mutex_t mu;
    pthread_cond_t wake;    /* workers: a new generation was published */
    pthread_cond_t done_cv; /* caller: the last chunk finished */
    _Atomic uint64_t state; /* generation << 32 | next chunk to claim */
    atomic_int done;        /* chunks finished in the current generation */
    atomic_int sleepers;    /* workers blocked on `wake` */
    atomic_int waiting;     /* 1 while the caller is blocked on `done_cv` */
    atomic_bool stop;
    /* the current job: written before its generation is published, stable until all chunks are done */
    nn_range_fn fn;
    void *ctx;
    int n, chunks;
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

static inline uint32_t gen_of(uint64_t s) { return (uint32_t)(s >> 32); }

/* Claims and runs chunks of generation g until none are left. */
static void run_chunks(nn_pool *p, uint32_t g, int thread)
{
    uint64_t s = atomic_load_explicit(&p->state, memory_order_acquire);
    for (;;) {
        if (gen_of(s) != g) return;
        const int c = (int)(uint32_t)s;
        /* p->chunks may only be read once a claim succeeds; bound by threads meanwhile */
        if (c >= p->threads) return;
        if (!atomic_compare_exchange_weak_explicit(&p->state, &s, s + 1, memory_order_acq_rel, memory_order_acquire))
            continue;
        /* the claim pins generation g: its job fields cannot change until this chunk is done */
        if (c < p->chunks) {
            const int b = (int)((long long)p->n * c / p->chunks), e = (int)((long long)p->n * (c + 1) / p->chunks);
            if (b < e) p->fn(p->ctx, b, e, thread);
        }
        if (atomic_fetch_add(&p->done, 1) + 1 == p->threads && atomic_load(&p->waiting)) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done_cv);
            pthread_mutex_unlock(&p->mu);
        }
        s = atomic_load_explicit(&p->state, memory_order_acquire);
    }
}

static void *worker_main(void *arg)
{
    pool_worker *w = arg;
    nn_pool *p = w->pool;
    uint32_t seen = 0;
    for (;;) {
        uint32_t g = gen_of(atomic_load_explicit(&p->state, memory_order_acquire));
        if (g == seen) {
            long long t0 = now_ns();
            for (int i = 0; (g = gen_of(atomic_load_explicit(&p->state, memory_order_acquire))) == seen; i++) {
                cpu_relax();
                if ((i & 63) == 63 && now_ns() - t0 > POOL_SPIN_NS) break;
            }
        }
        if (g == seen) {
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->sleepers, 1);
            while ((g = gen_of(atomic_load(&p->state))) == seen) pthread_cond_wait(&p->wake, &p->mu);
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->mu);
        }
        seen = g;
        if (atomic_load_explicit(&p->stop, memory_order_acquire)) break;
        run_chunks(p, g, w->id);
    }
    return NULL;
}

/* Publishes generation g+1 with its first chunk unclaimed and wakes sleeping workers. */
static uint32_t publish(nn_pool *p)
{
    uint32_t g = gen_of(atomic_load_explicit(&p->state, memory_order_relaxed)) + 1;
    atomic_store(&p->state, (uint64_t)g << 32); /* seq_cst: pairs with the sleepers check below */
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mu);
    }
    return g;
}

void nn_pool_free(nn_pool *p)
{
    if (!p) return;
    if (p->started > 0) {
        atomic_store(&p->stop, true);
        publish(p);
        for (int i = 0; i < p->started; i++) pthread_join(p->tids[i], NULL);
    }
    pthread_cond_destroy(&p->done_cv);
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
    pthread_cond_init(&p->done_cv, NULL);
    atomic_init(&p->state, 0);
    atomic_init(&p->done, 0);
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
    /* Every generation has `threads` claimable slots; slots past `chunks` are empty, so the
     * completion count is always `threads` and a claim never needs the job fields. */
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->chunks = n < p->threads ? n : p->threads;
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    const uint32_t g = publish(p);
    run_chunks(p, g, 0);
    if (atomic_load_explicit(&p->done, memory_order_acquire) == p->threads) return;
    long long t0 = now_ns();
    for (int i = 0; atomic_load_explicit(&p->done, memory_order_acquire) != p->threads; i++) {
        cpu_relax();
        if ((i & 63) == 63 && now_ns() - t0 > POOL_SPIN_NS) break;
    }
    if (atomic_load(&p->done) == p->threads) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->waiting, 1);
    while (atomic_load(&p->done) != p->threads) pthread_cond_wait(&p->done_cv, &p->mu);
    atomic_store(&p->waiting, 0);
    pthread_mutex_unlock(&p->mu);
}
