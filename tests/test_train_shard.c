/* test_train_shard.c — the engine's data parallelism (train.h nn_train_shard) without MPI: R
 * replicas (R = 2, 3), each a thread with its own model copy and CPU context over its slice of a
 * global batch of 7, whose sum callbacks add the replicas' values in rank order (a barrier, a
 * slot per rank), against one context over the whole batch. After 4 Adam steps (cross-entropy on
 * conv + batch norm + dropout + dense softmax; MSE on conv + batch norm + dense) every replica
 * holds bit for bit the same parameters, and they match the whole-batch run within 1e-5
 * relative (float summation order); the losses match within 1e-6, the dropout masks of each
 * slice equal the whole batch's rows exactly (drawn by global element index). Bad shards and a
 * slice overrunning the global batch are refused. The convolutions have no bias: before a batch
 * norm its gradient is zero but for rounding, which Adam scales to full steps of noise.
 * `test_train_shard cuda` (suite gpu) runs the same on the CUDA backend: R = 2 contexts on one
 * GPU, their sums by the same meeting point, once staged through the host sums and once (CUDA
 * builds, STEERD_TEST_CUDART) through device sums that copy down, meet and copy up; the bound is
 * then 1e-4 relative for the parameters and 1e-5 for the losses (cuDNN's and the device's sums
 * in another order at batch 7 than at 3 and 4); the dropout masks and the replicas' parameters
 * stay exact. Without a CUDA device it prints "skipped: ..." and exits 77. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "nn/graph.h"
#include "nn/train.h"
#ifdef STEERD_TEST_CUDART
#include <cuda_runtime.h>
#endif

#include "yaml_model.h"

#define HEAD(kind) "name: t\ninput: {height: 6, width: 6, channels: 2}\noutput: {kind: " kind "}\nlayers:\n"
#define CE_MODEL                                                                                                    \
    HEAD("classes") "  - {name: c, type: conv2d, filters: 5, kernel: 3, padding: same, bias: false}\n"                          \
                    "  - {name: bn, type: batch_norm}\n  - {name: r, type: relu}\n  - {name: f, type: flatten}\n" \
                    "  - {name: drop, type: dropout, rate: 0.3}\n"                                                  \
                    "  - {name: d, type: dense, units: 3, activation: softmax}\n"
#define MSE_MODEL                                                                                                   \
    HEAD("values") "  - {name: c, type: conv2d, filters: 4, kernel: 3, stride: 2, bias: false}\n"                               \
                   "  - {name: bn, type: batch_norm}\n  - {name: f, type: flatten}\n  - {name: d, type: dense, units: 2}\n"

enum { GB = 7, STEPS = 4, RMAX = 3, SLOT = 4096 };

/* The replicas' meeting point: each sum copies v into its rank's slot, waits for all, adds the
 * slots in rank order into v, and waits again before a slot is reused. */
typedef struct {
    pthread_barrier_t bar;
    int R;
    double d[RMAX][SLOT];
    float f[RMAX][SLOT];
} meet;

typedef struct {
    meet *mt;
    int rank;
} replica_ctx;

/* One sum of n doubles (dbl) or floats at v, each added in its own type. */
static void meet_sum(replica_ctx *c, void *v, bool dbl, size_t n)
{
    meet *mt = c->mt;
    assert_true(n <= SLOT);
    memcpy(dbl ? (void *)mt->d[c->rank] : (void *)mt->f[c->rank], v, n * (dbl ? sizeof(double) : sizeof(float)));
    pthread_barrier_wait(&mt->bar);
    for (size_t i = 0; i < n; i++) {
        double sd = 0;
        float sf = 0;
        for (int r = 0; r < mt->R; r++) {
            sd += mt->d[r][i];
            sf += mt->f[r][i];
        }
        if (dbl) ((double *)v)[i] = sd;
        else ((float *)v)[i] = sf;
    }
    pthread_barrier_wait(&mt->bar);
}

static void sum_f64(void *ctx, double *v, size_t n) { meet_sum(ctx, v, true, n); }
static void sum_f32(void *ctx, float *v, size_t n) { meet_sum(ctx, v, false, n); }

/* The run's backend and bounds: the CPU's, or (main's `cuda`) the CUDA backend's. */
static struct {
    nn_backend backend;
    bool dev_sums;        /* the shards get device sums (CUDA builds) */
    double param_tol, loss_tol;
} cfg = {NN_BACKEND_CPU, false, 1e-5, 1e-6};

#ifdef STEERD_TEST_CUDART
/* Device sums: the backend's stream finished, a copy down, the meeting, a copy up (n <= SLOT). */
static nn_status dev_sum(void *ctx, void *v, bool dbl, size_t n, void *stream, nn_err *err)
{
    static _Thread_local double buf[SLOT]; /* one per replica thread */
    const size_t bytes = n * (dbl ? sizeof(double) : sizeof(float));
    if (n > SLOT) return nn_fail(err, NN_E_ARG, "device sum of %zu values (the test holds %d)", n, SLOT);
    cudaError_t e = cudaStreamSynchronize((cudaStream_t)stream);
    if (e == cudaSuccess) e = cudaMemcpy(buf, v, bytes, cudaMemcpyDeviceToHost);
    if (e != cudaSuccess) return nn_fail(err, NN_E_DEVICE, "device sum: %s", cudaGetErrorString(e));
    meet_sum(ctx, buf, dbl, n);
    if ((e = cudaMemcpy(v, buf, bytes, cudaMemcpyHostToDevice)) != cudaSuccess)
        return nn_fail(err, NN_E_DEVICE, "device sum: %s", cudaGetErrorString(e));
    return NN_OK;
}
static nn_status dev_sum_f64(void *ctx, double *v, size_t n, void *stream, nn_err *err)
{
    return dev_sum(ctx, v, true, n, stream, err);
}
static nn_status dev_sum_f32(void *ctx, float *v, size_t n, void *stream, nn_err *err)
{
    return dev_sum(ctx, v, false, n, stream, err);
}
#endif

/* The same inputs, labels and targets for every run. */
typedef struct {
    float x[STEPS][GB * 72];
    int labels[STEPS][GB];
    float targets[STEPS][GB * 3];
} batches;

/* One run: a context over samples [first, first + n) of each global batch (shard NULL: all). */
typedef struct {
    const char *yaml;
    nn_loss_kind kind;
    const batches *bt;
    int first, n;
    nn_train_shard shard;
    replica_ctx rc;
    bool sharded;
    nn_model *m;
    nn_train *t;
    double loss[STEPS];
    float *mask;     /* the dropout layer's last mask [n, size], or NULL */
    size_t mask_size;
} run;

static nn_model *load(const char *yaml)
{
    uint64_t r = 5;
    return yaml_model_load(yaml, 9, &r, true);
}

static void *run_steps(void *arg)
{
    run *u = arg;
    nn_err err;
    u->m = load(u->yaml);
    if (nn_train_create_on(&u->t, u->m, u->n, 1, 17, cfg.backend, &err)) fail_msg("%s", err.msg);
    if (u->sharded && nn_train_set_shard(u->t, &u->shard, &err)) fail_msg("%s", err.msg);
    const opt_config oc = opt_defaults(OPT_ADAM);
    if (nn_train_opt_setup(u->t, &oc, &err)) fail_msg("%s", err.msg);
    int h, w, c;
    nn_model_input_shape(u->m, &h, &w, &c);
    const size_t img = (size_t)h * w * c;
    const int out = nn_train_output_size(u->t);
    for (int s = 0; s < STEPS; s++) {
        memcpy(nn_train_input(u->t), u->bt->x[s] + (size_t)u->first * img, (size_t)u->n * img * sizeof(float));
        const nn_step_args a = {.loss = u->kind, .labels = u->bt->labels[s] + u->first,
                                .targets = u->bt->targets[s] + (size_t)u->first * out, .lr = 0.01, .max_norm = INFINITY};
        nn_step_result r;
        if (nn_train_step(u->t, u->n, &a, &r, &err)) fail_msg("step %d: %s", s, err.msg);
        u->loss[s] = r.loss;
    }
    for (int i = 0; i < u->m->g.n_layers; i++)
        if (u->m->g.layers[i].op == NN_OP_DROPOUT) {
            u->mask_size = nn_shape_size(u->m->g.layers[i].out);
            u->mask = malloc((size_t)u->n * u->mask_size * sizeof *u->mask);
            assert_non_null(u->mask);
            memcpy(u->mask, nn_train_layer_saved(u->t, i), (size_t)u->n * u->mask_size * sizeof *u->mask);
        }
    return NULL;
}

static void run_free(run *u)
{
    nn_train_free(u->t);
    nn_model_free(u->m);
    free(u->mask);
}

static void fill(batches *bt)
{
    uint64_t s = 0x1234567ull;
    for (int k = 0; k < STEPS; k++) {
        for (size_t i = 0; i < sizeof bt->x[k] / sizeof(float); i++) bt->x[k][i] = lcg_urand(&s);
        for (int i = 0; i < GB; i++) bt->labels[k][i] = (int)((lcg_urand(&s) + 1.0f) * 1.5f) % 3;
        for (size_t i = 0; i < sizeof bt->targets[k] / sizeof(float); i++) bt->targets[k][i] = lcg_urand(&s);
    }
}

static void check(const char *yaml, nn_loss_kind kind, int R)
{
    static batches bt;
    fill(&bt);
    run whole = {.yaml = yaml, .kind = kind, .bt = &bt, .first = 0, .n = GB};
    run_steps(&whole);
    static meet mt;
    mt.R = R;
    assert_int_equal(pthread_barrier_init(&mt.bar, NULL, (unsigned)R), 0);
    run part[RMAX];
    pthread_t th[RMAX];
    for (int r = 0; r < R; r++) {
        const int lo = GB * r / R, hi = GB * (r + 1) / R;
        part[r] = (run){.yaml = yaml, .kind = kind, .bt = &bt, .first = lo, .n = hi - lo, .sharded = true,
                        .rc = {.mt = &mt, .rank = r}};
        part[r].shard = (nn_train_shard){.first = lo, .global_batch = GB, .sum_f64 = sum_f64, .sum_f32 = sum_f32};
    }
    for (int r = 0; r < R; r++) {
        part[r].shard.ctx = &part[r].rc;
#ifdef STEERD_TEST_CUDART
        if (cfg.dev_sums)
            part[r].shard.sum_dev_f64 = dev_sum_f64, part[r].shard.sum_dev_f32 = dev_sum_f32,
            part[r].shard.dev_ctx = &part[r].rc;
#endif
        assert_int_equal(pthread_create(&th[r], NULL, run_steps, &part[r]), 0);
    }
    for (int r = 0; r < R; r++) pthread_join(th[r], NULL);
    pthread_barrier_destroy(&mt.bar);
    const size_t P = whole.m->g.n_param_floats;
    double worst = 0;
    for (int r = 0; r < R; r++) {
        if (memcmp(part[r].m->params, part[0].m->params, P * sizeof(float)) != 0)
            fail_msg("%d replicas: replica %d's parameters differ from replica 0's", R, r);
        for (int s = 0; s < STEPS; s++)
            if (fabs(part[r].loss[s] - whole.loss[s]) > cfg.loss_tol * fabs(whole.loss[s]))
                fail_msg("%d replicas, step %d: loss %.9g, whole batch %.9g", R, s, part[r].loss[s], whole.loss[s]);
        if (whole.mask && memcmp(part[r].mask, whole.mask + (size_t)part[r].first * whole.mask_size,
                                 (size_t)part[r].n * whole.mask_size * sizeof(float)) != 0)
            fail_msg("%d replicas: replica %d's dropout mask differs from rows %d.. of the whole batch's", R, r,
                     part[r].first);
    }
    for (int p = 0; p < whole.m->g.n_params; p++) { /* per tensor: max |a - b| / max |a| */
        const nn_param *q = &whole.m->g.params[p];
        double dmax = 0, amax = 0;
        for (size_t i = 0; i < q->count; i++) {
            const double a = whole.m->params[q->offset + i], b = part[0].m->params[q->offset + i];
            dmax = fmax(dmax, fabs(a - b));
            amax = fmax(amax, fabs(a));
        }
        const double rel = amax > 0 ? dmax / amax : dmax;
        worst = fmax(worst, rel);
        if (!(rel <= cfg.param_tol))
            fail_msg("%d replicas on %s: parameter %d differs by %.3g relative (bound %g)", R,
                     nn_backend_name(cfg.backend), p, rel, cfg.param_tol);
    }
    print_message("%d replicas on %s%s: parameters within %.2g relative of the whole batch's\n", R,
                  nn_backend_name(cfg.backend), cfg.dev_sums ? " (device sums)" : "", worst);
    run_free(&whole);
    for (int r = 0; r < R; r++) run_free(&part[r]);
}

static void test_ce_2(void **state)
{
    (void)state;
    check(CE_MODEL, NN_LOSS_CE, 2);
}

static void test_ce_3(void **state)
{
    (void)state;
    check(CE_MODEL, NN_LOSS_CE, 3);
}

static void test_mse_3(void **state)
{
    (void)state;
    check(MSE_MODEL, NN_LOSS_MSE, 3);
}

static void no_sum_f64(void *ctx, double *v, size_t n) { (void)ctx, (void)v, (void)n; }
static void no_sum_f32(void *ctx, float *v, size_t n) { (void)ctx, (void)v, (void)n; }
static nn_status no_dev_sum_f64(void *ctx, double *v, size_t n, void *stream, nn_err *err)
{
    (void)ctx, (void)v, (void)n, (void)stream, (void)err;
    return NN_OK;
}

static void test_refused(void **state)
{
    (void)state;
    nn_err err;
    nn_model *m = load(MSE_MODEL);
    nn_train *t;
    if (nn_train_create(&t, m, 4, 1, 1, &err)) fail_msg("%s", err.msg);
    nn_train_shard s = {.first = 4, .global_batch = 4, .sum_f64 = no_sum_f64, .sum_f32 = no_sum_f32};
    assert_int_equal(nn_train_set_shard(t, &s, &err), NN_E_ARG);
    s.first = 0, s.sum_f32 = NULL;
    assert_int_equal(nn_train_set_shard(t, &s, &err), NN_E_ARG);
    s.first = 2, s.global_batch = 5, s.sum_f32 = no_sum_f32;
    s.sum_dev_f64 = no_dev_sum_f64; /* one device sum without the other */
    assert_int_equal(nn_train_set_shard(t, &s, &err), NN_E_ARG);
    assert_non_null(strstr(err.msg, "both device sums"));
    s.sum_dev_f64 = NULL;
    assert_int_equal(nn_train_set_shard(t, &s, &err), NN_OK);
    const opt_config oc = opt_defaults(OPT_SGD);
    if (nn_train_opt_setup(t, &oc, &err)) fail_msg("%s", err.msg);
    float targets[4 * 2] = {0};
    const nn_step_args a = {.loss = NN_LOSS_MSE, .targets = targets, .lr = 0.1, .max_norm = INFINITY};
    nn_step_result r;
    assert_int_equal(nn_train_step(t, 4, &a, &r, &err), NN_E_ARG); /* samples 2..5 of 5 */
    assert_non_null(strstr(err.msg, "overruns the global batch 5"));
    nn_train_free(t);
    nn_model_free(m);
}

/* CUDA: 2 contexts on one GPU, sums staged through the host, then (CUDA builds) device sums. */
static void test_cuda_ce_2(void **state)
{
    (void)state;
    check(CE_MODEL, NN_LOSS_CE, 2);
#ifdef STEERD_TEST_CUDART
    cfg.dev_sums = true;
    check(CE_MODEL, NN_LOSS_CE, 2);
    cfg.dev_sums = false;
#endif
}

static void test_cuda_mse_2(void **state)
{
    (void)state;
    check(MSE_MODEL, NN_LOSS_MSE, 2);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "cuda") == 0) {
        char why[256];
        if (!nn_cuda_available(why, sizeof why)) {
            printf("skipped: needs a CUDA device: %s\n", why);
            return 77;
        }
        setenv("STEERD_CUDA_PIN_GEMM", "1", 0); /* cuDNN's GEMM family, as the GPU parity tests */
        cfg.backend = NN_BACKEND_CUDA, cfg.param_tol = 1e-4, cfg.loss_tol = 1e-5;
        const struct CMUnitTest gpu[] = {cmocka_unit_test(test_cuda_ce_2), cmocka_unit_test(test_cuda_mse_2)};
        return cmocka_run_group_tests(gpu, NULL, NULL);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ce_2),
        cmocka_unit_test(test_ce_3),
        cmocka_unit_test(test_mse_3),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
