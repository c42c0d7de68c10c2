/* replicas.c — the replica group of replicas.h: one pthread barrier for the local replicas
 * (starting a job, ending it, and the two phases of every sum), buffers sized at create, the
 * cross-rank gather through the communicator (comm.h). */
#include "train/replicas.h"

#include <limits.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    tr_replicas *g;
    int j;
} slot_ctx;

struct tr_replicas {
    const tr_comm *comm;
    int v, local, first;
    size_t cap;                 /* bytes per vector */
    pthread_barrier_t bar;
    bool bar_ok;
    pthread_mutex_t mu;         /* the workers start once all exist (ready), or leave (quit) */
    pthread_cond_t cv;
    bool sync_ok, ready;
    pthread_t *threads;         /* [local - 1]: replicas 1 .. local-1 */
    int n_threads;
    slot_ctx *ctx;              /* [local] */
    void **slot;                /* [local] each replica's vector during a sum */
    unsigned char *send, *all, *res; /* [local * cap], [v * cap], [cap]; a sum of n bytes packs them by n */
    tr_replica_job job;         /* the running job (set by tr_replicas_run) */
    void *arg;
    nn_status *st;              /* [local] */
    nn_err *errs;               /* [local] */
    int quit;                   /* under mu before ready; then read after the start barrier */
};

static void *worker(void *p)
{
    slot_ctx *c = p;
    tr_replicas *g = c->g;
    pthread_mutex_lock(&g->mu);
    while (!g->ready && !g->quit)
        pthread_cond_wait(&g->cv, &g->mu);
    const bool leave = g->quit;
    pthread_mutex_unlock(&g->mu);
    if (leave)
        return NULL;
    for (;;) {
        pthread_barrier_wait(&g->bar); /* start */
        if (g->quit)
            return NULL;
        g->st[c->j] = g->job(g->arg, c->j, &g->errs[c->j]);
        pthread_barrier_wait(&g->bar); /* done */
    }
}

nn_status tr_replicas_create(tr_replicas **out, const tr_comm *comm, int v, size_t max_bytes, nn_err *err)
{
    *out = NULL;
    tr_replicas *g = calloc(1, sizeof *g);
    if (!g)
        return nn_fail(err, NN_E_NOMEM, "out of memory");
    g->comm = comm;
    g->v = v;
    g->local = v / comm->size;
    g->first = comm->rank * g->local;
    g->cap = (max_bytes + 15) & ~(size_t)15;
    if ((double)g->cap * g->local > (double)INT_MAX) {
        const int local = g->local;
        const size_t cap = g->cap;
        free(g);
        return nn_fail(err, NN_E_ARG, "replicas: %d per rank carry %zu bytes each per sum, more than one MPI "
                       "gather takes (%d bytes): use more ranks or fewer replicas", local, cap, INT_MAX);
    }
    g->ctx = calloc((size_t)g->local, sizeof *g->ctx);
    g->slot = calloc((size_t)g->local, sizeof *g->slot);
    g->st = calloc((size_t)g->local, sizeof *g->st);
    g->errs = calloc((size_t)g->local, sizeof *g->errs);
    g->threads = calloc((size_t)g->local, sizeof *g->threads);
    g->send = malloc((size_t)g->local * g->cap);
    g->all = malloc((size_t)v * g->cap);
    g->res = malloc(g->cap);
    if (!g->ctx || !g->slot || !g->st || !g->errs || !g->threads || !g->send || !g->all || !g->res) {
        tr_replicas_free(g);
        return nn_fail(err, NN_E_NOMEM, "out of memory");
    }
    g->bar_ok = pthread_barrier_init(&g->bar, NULL, (unsigned)g->local) == 0;
    g->sync_ok = g->bar_ok && pthread_mutex_init(&g->mu, NULL) == 0;
    if (g->sync_ok && pthread_cond_init(&g->cv, NULL) != 0) {
        pthread_mutex_destroy(&g->mu);
        g->sync_ok = false;
    }
    if (!g->sync_ok) {
        tr_replicas_free(g);
        return nn_fail(err, NN_E_NOMEM, "replicas: cannot set up thread synchronisation");
    }
    for (int j = 0; j < g->local; j++)
        g->ctx[j] = (slot_ctx){.g = g, .j = j};
    for (int j = 1; j < g->local; j++) {
        if (pthread_create(&g->threads[j - 1], NULL, worker, &g->ctx[j]) != 0) {
            tr_replicas_free(g);
            return nn_fail(err, NN_E_NOMEM, "replicas: cannot start a thread for replica %d", g->first + j);
        }
        g->n_threads++;
    }
    pthread_mutex_lock(&g->mu);
    g->ready = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    *out = g;
    return NN_OK;
}

void tr_replicas_free(tr_replicas *g)
{
    if (!g)
        return;
    if (g->sync_ok) {
        pthread_mutex_lock(&g->mu);
        const bool started = g->ready;
        g->quit = 1;
        pthread_cond_broadcast(&g->cv); /* a failed create: the workers leave before the barrier */
        pthread_mutex_unlock(&g->mu);
        if (started && g->local > 1)    /* every worker waits at the start barrier */
            pthread_barrier_wait(&g->bar);
        for (int k = 0; k < g->n_threads; k++)
            pthread_join(g->threads[k], NULL);
        pthread_cond_destroy(&g->cv);
        pthread_mutex_destroy(&g->mu);
    }
    if (g->bar_ok)
        pthread_barrier_destroy(&g->bar);
    free(g->ctx);
    free(g->slot);
    free(g->st);
    free(g->errs);
    free(g->threads);
    free(g->send);
    free(g->all);
    free(g->res);
    free(g);
}

int tr_replicas_local(const tr_replicas *g) { return g->local; }
int tr_replicas_first(const tr_replicas *g) { return g->first; }
void *tr_replicas_ctx(tr_replicas *g, int j) { return &g->ctx[j]; }

nn_status tr_replicas_run(tr_replicas *g, tr_replica_job job, void *arg, nn_err *err)
{
    g->job = job;
    g->arg = arg;
    pthread_barrier_wait(&g->bar); /* start */
    g->st[0] = job(arg, 0, &g->errs[0]);
    pthread_barrier_wait(&g->bar); /* done */
    for (int j = 0; j < g->local; j++)
        if (g->st[j]) {
            *err = g->errs[j];
            return g->st[j];
        }
    return NN_OK;
}

/* res = all[0] + all[1] + ... + all[v-1], element by element, left to right, in type T. */
#define FOLD(T, res, all, v, n)                                          \
    do {                                                                 \
        T *r_ = (T *)(res);                                              \
        memcpy(r_, (all), (n) * sizeof(T));                              \
        for (int k_ = 1; k_ < (v); k_++) {                               \
            const T *x_ = (const T *)(all) + (size_t)k_ * (n);           \
            for (size_t i_ = 0; i_ < (n); i_++)                          \
                r_[i_] += x_[i_];                                        \
        }                                                                \
    } while (0)

/* Gathers the local vectors packed in g->send ([local][n]) from every rank into g->all
 * ([v][n], replica order) and folds them into g->res: ((v0 + v1) + v2) + ... element by element. */
static void gather_fold(tr_replicas *g, size_t n, size_t es)
{
    tr_comm_gather(g->comm, g->send, g->all, (size_t)g->local * n * es);
    if (es == sizeof(double))
        FOLD(double, g->res, g->all, g->v, n);
    else
        FOLD(float, g->res, g->all, g->v, n);
}

/* The trainer sizes cap for the largest sum: a larger one is a bug, not an input. */
static void check_cap(const tr_replicas *g, size_t bytes)
{
    if (bytes > g->cap) {
        fprintf(stderr, "steer-train: replicas: a sum of %zu bytes exceeds the %zu sized\n", bytes, g->cap);
        tr_comm_abort(g->comm, 1);
    }
}

/* Local replica j's part of a sum of n elements of es bytes. */
static void sum(slot_ctx *c, void *v, size_t n, size_t es)
{
    tr_replicas *g = c->g;
    check_cap(g, n * es);
    g->slot[c->j] = v;
    pthread_barrier_wait(&g->bar);
    if (c->j == 0) {
        for (int k = 0; k < g->local; k++)
            memcpy(g->send + (size_t)k * n * es, g->slot[k], n * es);
        gather_fold(g, n, es);
    }
    pthread_barrier_wait(&g->bar);
    memcpy(v, g->res, n * es); /* the next sum's leader writes res only after every replica's next barrier */
}

void tr_replicas_sum_f64(void *ctx, double *v, size_t n) { sum(ctx, v, n, sizeof *v); }
void tr_replicas_sum_f32(void *ctx, float *v, size_t n) { sum(ctx, v, n, sizeof *v); }

void tr_replicas_fold_f64(tr_replicas *g, const double *local, size_t n, double *out)
{
    check_cap(g, n * sizeof *local);
    memcpy(g->send, local, (size_t)g->local * n * sizeof *local);
    gather_fold(g, n, sizeof *local);
    memcpy(out, g->res, n * sizeof *out);
}
