/* test_nccl_parity.c — the NCCL all-reduce of data-parallel training (src/train/comm_nccl.c)
 * against MPI's sums of the same values: 2 ranks, one GPU each, 2^20 + 3 floats and 1000
 * doubles per rank, summed on the GPUs with ncclAllReduce and on the hosts with MPI_Allreduce;
 * two addends sum the same in any order, so the results must be equal bit for bit. Started
 * alone (meson test) it counts the GPUs: fewer than 2 skip (exit 77: NCCL refuses two ranks on
 * one GPU); otherwise it starts itself under `mpirun -np 2`. */
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "train/comm.h"
#include "train/comm_nccl.h"

enum { NF = (1 << 20) + 3, ND = 1000 };

static float value(int rank, size_t i)
{
    uint64_t z = (uint64_t)i * 0x9e3779b97f4a7c15ull + (uint64_t)rank * 0xbf58476d1ce4e5b9ull + 1;
    z = (z ^ (z >> 31)) * 0x94d049bb133111ebull;
    return (float)((double)(z >> 11) * 0x1.0p-53 * 2.0 - 1.0) * (float)(1 + i % 7);
}

/* One rank: fills, sums both ways, compares; returns 0 when equal. */
static int rank_main(const tr_comm *c, int devices)
{
    nn_err err = {{0}};
    tr_nccl *n;
    if (tr_nccl_open(&n, c, c->rank % devices, &err)) {
        fprintf(stderr, "FAIL: %s\n", err.msg);
        return 1;
    }
    float *hf = malloc(NF * sizeof *hf), *gf = malloc(NF * sizeof *gf), *df = NULL;
    double hd[ND], gd[ND], *dd = NULL;
    int bad = !hf || !gf;
    for (size_t i = 0; !bad && i < NF; i++)
        hf[i] = value(c->rank, i);
    for (size_t i = 0; i < ND; i++)
        hd[i] = (double)value(c->rank + 10, i) * 1e-3;
    bad = bad || cudaMalloc((void **)&df, NF * sizeof *df) != cudaSuccess ||
          cudaMalloc((void **)&dd, ND * sizeof *dd) != cudaSuccess ||
          cudaMemcpy(df, hf, NF * sizeof *df, cudaMemcpyHostToDevice) != cudaSuccess ||
          cudaMemcpy(dd, hd, ND * sizeof *dd, cudaMemcpyHostToDevice) != cudaSuccess;
    bad = bad || tr_nccl_sum_f32(n, df, NF, NULL, &err) || tr_nccl_sum_f64(n, dd, ND, NULL, &err);
    bad = bad || cudaMemcpy(gf, df, NF * sizeof *gf, cudaMemcpyDeviceToHost) != cudaSuccess ||
          cudaMemcpy(gd, dd, ND * sizeof *gd, cudaMemcpyDeviceToHost) != cudaSuccess;
    if (bad)
        fprintf(stderr, "FAIL: rank %d: %s\n", c->rank, err.msg[0] ? err.msg : "CUDA allocation or copy failed");
    tr_comm_sum_f32(c, hf, NF);
    tr_comm_sum_f64(c, hd, ND);
    size_t diff = 0;
    for (size_t i = 0; !bad && i < NF; i++)
        diff += memcmp(&hf[i], &gf[i], sizeof hf[i]) != 0;
    for (size_t i = 0; !bad && i < ND; i++)
        diff += memcmp(&hd[i], &gd[i], sizeof hd[i]) != 0;
    if (!bad && diff)
        fprintf(stderr, "FAIL: rank %d: %zu of %d sums differ between NCCL and MPI\n", c->rank, diff, NF + ND);
    else if (!bad && c->rank == 0)
        printf("nccl parity: %d float and %d double sums over %d ranks equal MPI's bit for bit\n", NF, ND, c->size);
    cudaFree(df);
    cudaFree(dd);
    free(hf);
    free(gf);
    tr_nccl_close(n);
    return bad || diff;
}

int main(int argc, char **argv)
{
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess)
        devices = 0;
    if (tr_comm_launched_size() < 2) {
        if (devices < 2) {
            printf("SKIP: the NCCL parity test needs 2 GPUs (found %d; NCCL refuses two ranks on one GPU)\n", devices);
            return 77;
        }
        char *args[] = {"mpirun", "--allow-run-as-root", "--oversubscribe", "-np", "2", argv[0], NULL};
        execvp(args[0], args);
        perror("FAIL: mpirun");
        return 1;
    }
    tr_comm c;
    nn_err err = {{0}};
    if (tr_comm_open(&c, &argc, &argv, &err)) {
        fprintf(stderr, "FAIL: %s\n", err.msg);
        return 1;
    }
    int rc = devices < 1 ? 1 : rank_main(&c, devices);
    rc = tr_comm_max_int(&c, rc);
    tr_comm_close(&c);
    return rc;
}
