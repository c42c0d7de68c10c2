/* comm_gpu.c — one GPU per rank for a data-parallel run on the CUDA backend (comm.h): the
 * device of each rank (its place on its node modulo the GPUs it sees) and the engine's device
 * sums (train.h nn_train_shard) by NCCL where this build has it (comm_nccl.h), else none, so
 * that the engine stages its sums through the host ones (MPI). */
#include "train/comm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef STEERD_HAVE_NCCL
#include "train/comm_nccl.h"
#endif

/* The first of a list of launcher variables that is set, as an int; else def. */
static int env_int(const char *const *vars, size_t n, int def)
{
    for (size_t i = 0; i < n; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) return atoi(v);
    }
    return def;
}

void tr_comm_local(int *rank, int *size)
{
    static const char *const r[] = {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"};
    static const char *const s[] = {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"};
    *rank = env_int(r, sizeof r / sizeof r[0], 0);
    *size = env_int(s, sizeof s / sizeof s[0], 1);
    if (*rank < 0) *rank = 0;
    if (*size <= *rank) *size = *rank + 1;
}

bool tr_comm_gpu_nccl(void)
{
#ifdef STEERD_HAVE_NCCL
    const char *v = getenv("STEERD_NCCL");
    return !(v && strcmp(v, "0") == 0);
#else
    return false;
#endif
}

nn_status tr_comm_gpu_pick(const tr_comm *c, int *device, nn_err *err)
{
    int lr, ls;
    tr_comm_local(&lr, &ls);
    const int n = nn_cuda_devices();
    *device = n > 0 ? lr % n : 0;
    if (n < 1) return NN_OK; /* the context's creation says "no CUDA device (...)" */
    if (ls > n && tr_comm_gpu_nccl())
        return nn_fail(err, NN_E_DEVICE, "rank %d: %d ranks on this node share %d GPU(s), but NCCL needs one GPU per "
                       "rank: start at most %d ranks per node (mpirun -np / --npernode), or set STEERD_NCCL=0 to sum "
                       "through MPI on the host", c->rank, ls, n, n);
    return nn_cuda_use_device(*device, err);
}

nn_status tr_comm_gpu_sums(const tr_comm *c, int device, nn_train_shard *sh, void **nccl, nn_err *err)
{
    *nccl = NULL;
#ifdef STEERD_HAVE_NCCL
    if (tr_comm_gpu_nccl()) {
        tr_nccl *n;
        nn_status s = tr_nccl_open(&n, c, device, err);
        if (s) return s;
        *nccl = n;
        sh->sum_dev_f64 = tr_nccl_shard_f64, sh->sum_dev_f32 = tr_nccl_shard_f32, sh->dev_ctx = n;
    }
#else
    (void)c, (void)device, (void)sh, (void)err;
#endif
    return NN_OK;
}

void tr_comm_gpu_close(void *nccl)
{
#ifdef STEERD_HAVE_NCCL
    tr_nccl_close(nccl);
#else
    (void)nccl;
#endif
}
