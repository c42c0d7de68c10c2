/* comm.c — the one-process communicator (every collective a no-op) and the choice between it
 * and MPI (comm.h). */
#include "train/comm.h"

#include <stdlib.h>
#include <string.h>

static void one_sum_f64(void *impl, double *v, size_t n) { (void)impl, (void)v, (void)n; }
static void one_sum_f32(void *impl, float *v, size_t n) { (void)impl, (void)v, (void)n; }
static void one_bcast(void *impl, void *buf, size_t bytes) { (void)impl, (void)buf, (void)bytes; }
static int one_max_int(void *impl, int v)
{
    (void)impl;
    return v;
}
static void one_gather(void *impl, const void *send, void *recv, size_t bytes)
{
    (void)impl;
    if (send != recv)
        memmove(recv, send, bytes);
}
static void one_abort(void *impl, int code)
{
    (void)impl;
    exit(code); /* only main's failure path calls it, after printing the reason */
}
static void one_close(void *impl) { (void)impl; }

static const tr_comm_ops one_ops = {.name = "single", .sum_f64 = one_sum_f64, .sum_f32 = one_sum_f32,
                                    .bcast = one_bcast, .max_int = one_max_int, .gather = one_gather,
                                    .abort = one_abort, .close = one_close};

int tr_comm_launched_size(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v)
            return atoi(v) > 1 ? atoi(v) : 1;
    }
    return 1;
}

static bool launched(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
}

nn_status tr_comm_open(tr_comm *c, int *argc, char ***argv, nn_err *err)
{
    *c = (tr_comm){.rank = 0, .size = 1, .ops = &one_ops, .impl = NULL};
#ifdef STEERD_HAVE_MPI
    if (launched()) /* a plain start needs no MPI run time (no singleton MPI_Init) */
        return tr_comm_open_mpi(c, argc, argv, err);
#else
    (void)argc, (void)argv, (void)launched;
    const int n = tr_comm_launched_size();
    if (n > 1)
        return nn_fail(err, NN_E_UNSUPPORTED,
                       "started as one of %d ranks (mpirun), but this steer-train was built without MPI: rebuild "
                       "with libopenmpi-dev installed (meson setup -Dmpi=enabled) to train data-parallel", n);
#endif
    return NN_OK;
}

void tr_comm_close(tr_comm *c)
{
    if (c->ops)
        c->ops->close(c->impl);
    memset(c, 0, sizeof *c);
}

void tr_comm_shard_f64(void *comm, double *v, size_t n) { tr_comm_sum_f64(comm, v, n); }
void tr_comm_shard_f32(void *comm, float *v, size_t n) { tr_comm_sum_f32(comm, v, n); }
