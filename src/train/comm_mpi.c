/* comm_mpi.c — the MPI communicator (comm.h): MPI_COMM_WORLD, MPI_Allgather of bytes, MPI_Allreduce with MPI_SUM in
 * place (Open MPI picks its algorithm from the rank count and the message size only, so a run
 * is reproducible for a given N), MPI_Bcast from rank 0, and MPI_ERRORS_ARE_FATAL: a rank that
 * dies or fails inside a collective ends the whole job with MPI's own message. Messages larger
 * than MPI's int count are sent in pieces. */
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "train/comm.h"

#define PIECE ((size_t)1 << 28) /* elements per call: below INT_MAX */

static void mpi_sum(void *buf, size_t n, MPI_Datatype t, size_t elem)
{
    for (size_t off = 0; off < n; off += PIECE) {
        const size_t k = n - off < PIECE ? n - off : PIECE;
        MPI_Allreduce(MPI_IN_PLACE, (char *)buf + off * elem, (int)k, t, MPI_SUM, MPI_COMM_WORLD);
    }
}

static void mpi_sum_f64(void *impl, double *v, size_t n)
{
    (void)impl;
    mpi_sum(v, n, MPI_DOUBLE, sizeof *v);
}

static void mpi_sum_f32(void *impl, float *v, size_t n)
{
    (void)impl;
    mpi_sum(v, n, MPI_FLOAT, sizeof *v);
}

static void mpi_bcast(void *impl, void *buf, size_t bytes)
{
    (void)impl;
    for (size_t off = 0; off < bytes; off += PIECE) {
        const size_t k = bytes - off < PIECE ? bytes - off : PIECE;
        MPI_Bcast((char *)buf + off, (int)k, MPI_BYTE, 0, MPI_COMM_WORLD);
    }
}

static int mpi_max_int(void *impl, int v)
{
    (void)impl;
    int out = v;
    MPI_Allreduce(&v, &out, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return out;
}

/* bytes <= INT_MAX: the replica group checks it when it sizes its buffers (replicas.c) */
static void mpi_gather(void *impl, const void *send, void *recv, size_t bytes)
{
    (void)impl;
    MPI_Allgather(send, (int)bytes, MPI_BYTE, recv, (int)bytes, MPI_BYTE, MPI_COMM_WORLD);
}

static void mpi_abort(void *impl, int code)
{
    (void)impl;
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);
    exit(code); /* not reached */
}

static void mpi_close(void *impl)
{
    (void)impl;
    MPI_Finalize();
}

static const tr_comm_ops mpi_ops = {.name = "mpi", .sum_f64 = mpi_sum_f64, .sum_f32 = mpi_sum_f32,
                                    .bcast = mpi_bcast, .max_int = mpi_max_int, .gather = mpi_gather,
                                    .abort = mpi_abort, .close = mpi_close};

nn_status tr_comm_open_mpi(tr_comm *c, int *argc, char ***argv, nn_err *err)
{
    if (MPI_Init(argc, argv) != MPI_SUCCESS)
        return nn_fail(err, NN_E_IO, "MPI_Init failed");
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
    MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &c->size);
    c->ops = &mpi_ops;
    c->impl = NULL;
    return NN_OK;
}
