/* test_nccl_parity.c — the NCCL all-reduce of data-parallel training (src/train/comm_nccl.c)
 * against MPI's sums of the same values: 2 ranks, one GPU each, 2^20 + 3 floats and 1000
 * doubles per rank, summed on the GPUs with ncclAllReduce and on the hosts with MPI_Allreduce;
 * two addends sum the same in any order, so the results must be equal bit for bit. Then
 * data-parallel training on the CUDA backend (train.h nn_train_shard with NCCL's device sums):
 * seed-mnist-effnet (batch norm, dropout) for 4 steps (cross-entropy, clip 1, SGD momentum) of a
 * global batch of 32, 16 samples per rank, against one context over the whole batch on rank 0's
 * GPU: every parameter tensor (batch-norm running statistics included) within 1e-4 relative
 * (max |a - b| / max |a|, the value measured is printed), the losses within 1e-5, both ranks'
 * parameters equal bit for bit. Started alone (meson test; argument: the models folder) it
 * counts the GPUs: fewer than 2 print "skipped: needs 2 GPUs" and exit 77 (NCCL refuses two
 * ranks on one GPU); otherwise it starts itself under `mpirun -np 2`. */
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn/graph.h"
#include "nn/train.h"
#include "train/comm.h"
#include "train/comm_nccl.h"

enum { NF = (1 << 20) + 3, ND = 1000 };
enum { GB = 32, STEPS = 4 }; /* the training case: global batch, steps */
#define PARAM_BOUND 1e-4
#define LOSS_BOUND 1e-5

static float value(int rank, size_t i)
{
    uint64_t z = (uint64_t)i * 0x9e3779b97f4a7c15ull + (uint64_t)rank * 0xbf58476d1ce4e5b9ull + 1;
    z = (z ^ (z >> 31)) * 0x94d049bb133111ebull;
    return (float)((double)(z >> 11) * 0x1.0p-53 * 2.0 - 1.0) * (float)(1 + i % 7);
}

/* The training case's model (the same He weights on every rank) and one training context on
 * this process's device over `batch` samples; NULL after printing why. */
static nn_train *train_open(const char *models, nn_model **m, int batch)
{
    char spec[1024];
    nn_err err = {{0}};
    nn_train *t = NULL;
    snprintf(spec, sizeof spec, "%s/seed-mnist-effnet.yaml", models);
    *m = NULL;
    if (nn_model_load_spec(m, spec, &err)) {
        fprintf(stderr, "FAIL: %s\n", err.msg);
        return NULL;
    }
    nn_model_init_he(*m, 11);
    opt_config oc = opt_defaults(OPT_SGD);
    oc.momentum = 0.9;
    if (nn_train_create_on(&t, *m, batch, 1, 7, NN_BACKEND_CUDA, &err) || nn_train_opt_setup(t, &oc, &err)) {
        fprintf(stderr, "FAIL: %s\n", err.msg);
        nn_train_free(t);
        return NULL;
    }
    return t;
}

/* STEPS steps on samples [first, first + n) of the global batches (the same on every rank);
 * losses[STEPS]; then the parameters downloaded into the model. Non-zero on failure. */
static int train_steps(nn_train *t, int first, int n, double *losses)
{
    nn_err err = {{0}};
    const size_t img = 28 * 28;
    int labels[GB];
    for (int s = 0; s < STEPS; s++) {
        float *x = nn_train_input(t);
        for (size_t i = 0; i < (size_t)n * img; i++)
            x[i] = 0.5f + 0.5f * value(100 + s, (size_t)first * img + i);
        for (int b = 0; b < n; b++)
            labels[b] = (int)((value(200 + s, (size_t)(first + b)) + 7.0f) * 9.0f) % 10;
        const nn_step_args a = {.loss = NN_LOSS_CE, .labels = labels, .lr = 0.05, .max_norm = 1.0f};
        nn_step_result r;
        if (nn_train_step(t, n, &a, &r, &err)) {
            fprintf(stderr, "FAIL: step %d: %s\n", s, err.msg);
            return 1;
        }
        losses[s] = r.loss;
    }
    if (nn_train_sync_params(t, false, &err)) {
        fprintf(stderr, "FAIL: %s\n", err.msg);
        return 1;
    }
    return 0;
}

/* The training case on this rank (its slice, NCCL's device sums); rank 0 also trains the whole
 * batch alone and compares. Returns 0 when within the bounds. */
static int train_parity(const tr_comm *c, tr_nccl *n, const char *models)
{
    nn_model *m, *mw = NULL;
    nn_train *t = train_open(models, &m, GB / c->size), *tw = NULL;
    double loss[STEPS], lw[STEPS];
    int bad = !t;
    const int first = GB / c->size * c->rank;
    nn_train_shard sh = {.first = first, .global_batch = GB, .sum_f64 = tr_comm_shard_f64,
                         .sum_f32 = tr_comm_shard_f32, .ctx = (void *)c, .sum_dev_f64 = tr_nccl_shard_f64,
                         .sum_dev_f32 = tr_nccl_shard_f32, .dev_ctx = n};
    nn_err err = {{0}};
    if (!bad && nn_train_set_shard(t, &sh, &err))
        fprintf(stderr, "FAIL: %s\n", err.msg), bad = 1;
    if (tr_comm_max_int(c, bad)) /* every rank steps, or none */
        bad = 1;
    else
        bad = train_steps(t, first, GB / c->size, loss);
    const size_t P = t ? m->g.n_param_floats : 0;
    if (!bad && c->rank == 0)
        bad = !(tw = train_open(models, &mw, GB)) || train_steps(tw, 0, GB, lw);
    /* both ranks hold the same parameters: rank 0's, broadcast, compared bit for bit */
    float *p0 = P ? malloc(P * sizeof *p0) : NULL;
    if (tr_comm_max_int(c, bad || !p0)) {
        bad = 1;
    } else {
        memcpy(p0, m->params, P * sizeof *p0);
        tr_comm_bcast(c, p0, P * sizeof *p0);
        if (memcmp(p0, m->params, P * sizeof *p0) != 0)
            fprintf(stderr, "FAIL: rank %d's parameters differ from rank 0's\n", c->rank), bad = 1;
    }
    double worst = 0.0;
    for (int s = 0; !bad && c->rank == 0 && s < STEPS; s++)
        if (!(fabs(loss[s] - lw[s]) <= LOSS_BOUND * fabs(lw[s])))
            fprintf(stderr, "FAIL: step %d: loss %.9g over %d ranks, %.9g alone\n", s, loss[s], c->size, lw[s]), bad = 1;
    for (int i = 0; !bad && c->rank == 0 && i < m->g.n_params; i++) {
        const nn_param *q = &m->g.params[i];
        double dmax = 0.0, amax = 0.0;
        for (size_t k = 0; k < q->count; k++) {
            dmax = fmax(dmax, fabs((double)m->params[q->offset + k] - mw->params[q->offset + k]));
            amax = fmax(amax, fabs((double)mw->params[q->offset + k]));
        }
        const double rel = amax > 0 ? dmax / amax : dmax;
        worst = fmax(worst, rel);
        if (!(rel <= PARAM_BOUND))
            fprintf(stderr, "FAIL: %s differs by %.3g relative over %d ranks (bound %g)\n", q->name, rel, c->size,
                    PARAM_BOUND), bad = 1;
    }
    if (!bad && c->rank == 0)
        printf("nccl training parity: seed-mnist-effnet, %d steps of batch %d over %d GPUs vs one: parameters "
               "within %.3g relative (bound %g)\n", STEPS, GB, c->size, worst, PARAM_BOUND);
    free(p0);
    nn_train_free(t);
    nn_train_free(tw);
    nn_model_free(m);
    nn_model_free(mw);
    return bad;
}

/* One rank: fills, sums both ways, compares; then the training case. Returns 0 when all pass. */
static int rank_main(const tr_comm *c, int devices, const char *models)
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
    int rc = bad || diff;
    if (tr_comm_max_int(c, rc) == 0)
        rc = train_parity(c, n, models);
    tr_nccl_close(n);
    return rc;
}

int main(int argc, char **argv)
{
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess)
        devices = 0;
    if (argc < 2) {
        fprintf(stderr, "usage: test_nccl_parity MODELS_DIR\n");
        return 2;
    }
    const char *models = argv[1];
    if (tr_comm_launched_size() < 2) {
        if (devices < 2) {
            printf("skipped: needs 2 GPUs (found %d; NCCL refuses two ranks on one GPU)\n", devices);
            return 77;
        }
        setenv("STEERD_CUDA_PIN_GEMM", "1", 0); /* cuDNN's GEMM family, as the GPU parity tests */
        char *args[] = {"mpirun", "--allow-run-as-root", "--oversubscribe", "-np", "2", argv[0], (char *)models, NULL};
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
    int rc = devices < 1 ? 1 : rank_main(&c, devices, models);
    rc = tr_comm_max_int(&c, rc);
    tr_comm_close(&c);
    return rc;
}
