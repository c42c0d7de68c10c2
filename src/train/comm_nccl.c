/* comm_nccl.c — NCCL all-reduce over the ranks of a tr_comm (see comm_nccl.h). */
#include "train/comm_nccl.h"

#include <cuda_runtime.h>
#include <nccl.h>
#include <stdlib.h>

struct tr_nccl {
    ncclComm_t comm;
    int device;
};

nn_status tr_nccl_open(tr_nccl **out, const tr_comm *c, int device, nn_err *err)
{
    *out = NULL;
    cudaError_t ce = cudaSetDevice(device);
    if (ce != cudaSuccess)
        return nn_fail(err, NN_E_DEVICE, "rank %d: CUDA device %d: %s", c->rank, device, cudaGetErrorString(ce));
    ncclUniqueId id;
    ncclResult_t r = ncclSuccess;
    if (c->rank == 0)
        r = ncclGetUniqueId(&id);
    /* every rank joins the broadcast and learns whether rank 0 got an id */
    if (tr_comm_max_int(c, c->rank == 0 && r != ncclSuccess))
        return nn_fail(err, NN_E_DEVICE, "ncclGetUniqueId on rank 0 failed");
    tr_comm_bcast(c, &id, sizeof id);
    tr_nccl *n = calloc(1, sizeof *n);
    if (!n)
        return nn_fail(err, NN_E_NOMEM, "out of memory");
    n->device = device;
    if ((r = ncclCommInitRank(&n->comm, c->size, id, c->rank)) != ncclSuccess) {
        free(n);
        return nn_fail(err, NN_E_DEVICE, "rank %d: ncclCommInitRank over %d ranks (device %d): %s", c->rank, c->size,
                       device, ncclGetErrorString(r));
    }
    *out = n;
    return NN_OK;
}

void tr_nccl_close(tr_nccl *n)
{
    if (!n)
        return;
    ncclCommDestroy(n->comm);
    free(n);
}

static nn_status sum(tr_nccl *n, void *v, size_t count, ncclDataType_t t, void *stream, nn_err *err)
{
    ncclResult_t r = ncclAllReduce(v, v, count, t, ncclSum, n->comm, (cudaStream_t)stream);
    if (r != ncclSuccess)
        return nn_fail(err, NN_E_DEVICE, "ncclAllReduce of %zu values: %s", count, ncclGetErrorString(r));
    cudaError_t ce = cudaStreamSynchronize((cudaStream_t)stream);
    if (ce != cudaSuccess)
        return nn_fail(err, NN_E_DEVICE, "ncclAllReduce of %zu values: %s", count, cudaGetErrorString(ce));
    return NN_OK;
}

nn_status tr_nccl_sum_f32(tr_nccl *n, float *v, size_t count, void *stream, nn_err *err)
{
    return sum(n, v, count, ncclFloat32, stream, err);
}

nn_status tr_nccl_sum_f64(tr_nccl *n, double *v, size_t count, void *stream, nn_err *err)
{
    return sum(n, v, count, ncclFloat64, stream, err);
}

nn_status tr_nccl_shard_f32(void *nccl, float *v, size_t count, void *stream, nn_err *err)
{
    return tr_nccl_sum_f32(nccl, v, count, stream, err);
}

nn_status tr_nccl_shard_f64(void *nccl, double *v, size_t count, void *stream, nn_err *err)
{
    return tr_nccl_sum_f64(nccl, v, count, stream, err);
}
