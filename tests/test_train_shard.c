/* test_train_shard.c — the engine's data parallelism (train.h nn_train_shard) without MPI: R
 * replicas (R = 2, 3), each a thread with its own model copy and CPU context over its slice of a
 * global batch of 7, whose sum callbacks add the replicas' values in rank order (a barrier, a
 * slot per rank), against one context over the whole batch. After 4 Adam steps (cross-entropy on
 * conv + batch norm + dropout + dense softmax; MSE on conv + batch norm + dense) every replica
 * holds bit for bit the same parameters, and they match the whole-batch run within 1e-5
 * relative (float summation order); the losses match within 1e-6, the dropout masks of each
 * slice equal the whole batch's rows exactly (drawn by global element index). Bad shards and a
 * slice overrunning the global batch are refused. The convolutions have no bias: before a batch
 * norm its gradient is zero but for rounding, which Adam scales to full steps of noise. */
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
    if (nn_train_create(&u->t, u->m, u->n, 1, 17, &err)) fail_msg("%s", err.msg);
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
            if (fabs(part[r].loss[s] - whole.loss[s]) > 1e-6 * fabs(whole.loss[s]))
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
        if (!(rel <= 1e-5)) fail_msg("%d replicas: parameter %d differs by %.3g relative", R, p, rel);
    }
    print_message("%d replicas: parameters within %.2g relative of the whole batch's\n", R, worst);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ce_2),
        cmocka_unit_test(test_ce_3),
        cmocka_unit_test(test_mse_3),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
