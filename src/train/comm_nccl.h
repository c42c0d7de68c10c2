/* comm_nccl.h — the GPU all-reduce of a data-parallel run: one NCCL communicator over the ranks
 * of a tr_comm (comm.h: MPI; rank 0's ncclUniqueId goes to the others by tr_comm_bcast, so this
 * file names no MPI), one GPU per rank, element-wise sums of device buffers in place with
 * ncclAllReduce on the caller's CUDA stream. NCCL refuses two ranks on one GPU: a node with G
 * GPUs runs at most G ranks. Built in CUDA builds that find NCCL (libnccl, nccl.h) and MPI;
 * tests/test_nccl_parity.c checks it against the MPI sums of the same values. */
#ifndef STEERD_TRAIN_COMM_NCCL_H
#define STEERD_TRAIN_COMM_NCCL_H

#include <stddef.h>

#include "train/comm.h"

typedef struct tr_nccl tr_nccl;

/* Collective over c: every rank calls it with its own device (cudaSetDevice'd here). */
nn_status tr_nccl_open(tr_nccl **out, const tr_comm *c, int device, nn_err *err);
void tr_nccl_close(tr_nccl *n);
/* Sums count floats / doubles at device address v across the ranks, in place, queued on
 * `stream` (a cudaStream_t; NULL: the default stream) and waited for. */
nn_status tr_nccl_sum_f32(tr_nccl *n, float *v, size_t count, void *stream, nn_err *err);
nn_status tr_nccl_sum_f64(tr_nccl *n, double *v, size_t count, void *stream, nn_err *err);
/* The same as the engine's device shard sums (train.h nn_train_shard; dev_ctx = the tr_nccl). */
nn_status tr_nccl_shard_f32(void *nccl, float *v, size_t count, void *stream, nn_err *err);
nn_status tr_nccl_shard_f64(void *nccl, double *v, size_t count, void *stream, nn_err *err);

#endif
