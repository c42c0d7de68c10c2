/* comm.h — steer-train's communicator: the ranks of a data-parallel run (`mpirun -np N
 * steer-train ...`) and the few collective operations the trainer needs, behind one small table:
 *   one process  comm.c      N = 1, every operation a no-op (a plain `steer-train CONFIG`)
 *   MPI          comm_mpi.c  built with -Dmpi (Open MPI, pkg-config ompi-c): MPI_Allreduce /
 *                            MPI_Allgather / MPI_Bcast on host buffers, MPI's fatal error handler
 * and, for device buffers, the NCCL all-reduce of comm_nccl.h (CUDA builds with NCCL). The
 * trainer calls these and never names MPI; the engine sees only the sums (train.h
 * nn_train_shard). Every rank makes the same calls in the same order with the same sizes.
 * A failure inside an operation stops the whole job (MPI's error handler), so they return
 * nothing; tr_comm_abort stops it from any rank (a rank that cannot continue while the others
 * wait in a collective). */
#ifndef STEERD_TRAIN_COMM_H
#define STEERD_TRAIN_COMM_H

#include <stdbool.h>
#include <stddef.h>

#include "nn/nn.h"
#include "nn/train.h"

typedef struct {
    const char *name;                                   /* "single", "mpi" */
    void (*sum_f64)(void *impl, double *v, size_t n);   /* element-wise sum over the ranks, in place */
    void (*sum_f32)(void *impl, float *v, size_t n);
    void (*bcast)(void *impl, void *buf, size_t bytes); /* rank 0's bytes to every rank */
    int (*max_int)(void *impl, int v);                  /* the largest v of all ranks (agreement) */
    /* every rank's `bytes` bytes of send, into recv [size * bytes] in rank order (MPI_Allgather) */
    void (*gather)(void *impl, const void *send, void *recv, size_t bytes);
    void (*abort)(void *impl, int code);                /* stops every rank; does not return */
    void (*close)(void *impl);                          /* a clean end (MPI_Finalize) */
} tr_comm_ops;

typedef struct {
    int rank, size;
    const tr_comm_ops *ops;
    void *impl;
} tr_comm;

/* Started by a launcher (mpirun / srun with PMI): the world size it announces (OMPI_COMM_WORLD_SIZE,
 * PMI_SIZE), else 1. */
int tr_comm_launched_size(void);
/* The communicator of this process: MPI when launched by one with more than one rank (or any
 * launcher, in a build with MPI), else one process. A build without MPI started with more than
 * one rank fails: "this steer-train was built without MPI (-Dmpi=enabled) ...". */
nn_status tr_comm_open(tr_comm *c, int *argc, char ***argv, nn_err *err);
void tr_comm_close(tr_comm *c);

static inline void tr_comm_sum_f64(const tr_comm *c, double *v, size_t n) { c->ops->sum_f64(c->impl, v, n); }
static inline void tr_comm_sum_f32(const tr_comm *c, float *v, size_t n) { c->ops->sum_f32(c->impl, v, n); }
static inline void tr_comm_bcast(const tr_comm *c, void *buf, size_t bytes) { c->ops->bcast(c->impl, buf, bytes); }
static inline int tr_comm_max_int(const tr_comm *c, int v) { return c->ops->max_int(c->impl, v); }
static inline void tr_comm_gather(const tr_comm *c, const void *send, void *recv, size_t bytes)
{
    c->ops->gather(c->impl, send, recv, bytes);
}
static inline void tr_comm_abort(const tr_comm *c, int code) { c->ops->abort(c->impl, code); }

/* The sums as the engine's shard callbacks (ctx = the tr_comm). */
void tr_comm_shard_f64(void *comm, double *v, size_t n);
void tr_comm_shard_f32(void *comm, float *v, size_t n);

/* ---- one GPU per rank (comm_gpu.c): backend cuda with several ranks ----
 * This rank's place on its node: OMPI_COMM_WORLD_LOCAL_RANK / _LOCAL_SIZE (Open MPI), else
 * MPI_LOCALRANKID / MPI_LOCALNRANKS (MPICH), else SLURM_LOCALID / SLURM_NTASKS_PER_NODE; 0 of 1
 * when none is set. */
void tr_comm_local(int *rank, int *size);
/* Whether the GPU sums go through NCCL: a build with it, unless STEERD_NCCL=0. */
bool tr_comm_gpu_nccl(void);
/* Before the rank's CUDA context: makes device local rank % GPUs current (nn_cuda_use_device);
 * with NCCL more ranks on a node than GPUs fail with one line (NCCL refuses two ranks on one
 * GPU; without it they share, staged through MPI). No GPU: NN_OK (the context says why). */
nn_status tr_comm_gpu_pick(const tr_comm *c, int *device, nn_err *err);
/* After it: with NCCL, opens the communicator over c (collective) into *nccl and sets sh's device
 * sums to it; without, leaves them NULL (the engine stages through sh's host sums). */
nn_status tr_comm_gpu_sums(const tr_comm *c, int device, nn_train_shard *sh, void **nccl, nn_err *err);
void tr_comm_gpu_close(void *nccl);

#ifdef STEERD_HAVE_MPI
/* comm_mpi.c */
nn_status tr_comm_open_mpi(tr_comm *c, int *argc, char ***argv, nn_err *err);
#endif

#endif
