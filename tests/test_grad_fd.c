/* test_grad_fd.c — the training engine's gradients against central finite differences, per
 * layer type, plus the losses' gradients, and "a training step allocates nothing".
 * For each small float32 model: L = sum(y * r) (r fixed random), analytic dL/dx and dL/dparam
 * from nn_train_backward; numeric (L(v + eps) - L(v - eps)) / (2 eps) for up to 10 elements of
 * the input and of every trainable tensor, eps = 1e-3 (L summed in double).
 * Accepted when |fd - an| <= 1e-2 |an| + 1e-2 (float32 rounding of L over 2 eps); an element
 * that misses is retried with eps = 3e-4 (a ReLU / max-pool kink crossed by the step).
 * Dropout masks are replayed by resetting the step counter before every forward; batch norm
 * runs on batch statistics, so the finite differences go through them. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "nn/graph.h"
#include "nn/train.h"

#include "alloc_counter.h"
#include "yaml_model.h"

static uint64_t rng_state = 0x12345678u;
static float urand(void) { return lcg_urand(&rng_state); } /* [-1, 1) */

/* A model from YAML text: He weights (seed 3), trainable 1-D tensors (biases, BN affine) made
 * non-trivial. */
static nn_model *load_yaml(const char *yaml) { return yaml_model_load(yaml, 3, &rng_state, false); }

typedef struct {
    nn_train *t;
    int batch;
    const float *r;
    size_t outs;
} fd_ctx;

static double loss(const fd_ctx *c)
{
    nn_err err;
    nn_train_set_step(c->t, 0);
    if (nn_train_forward(c->t, c->batch, &err)) fail_msg("%s", err.msg);
    const float *y = nn_train_output(c->t);
    double L = 0.0;
    for (size_t i = 0; i < c->outs * (size_t)c->batch; i++) L += (double)y[i] * c->r[i];
    return L;
}

static double numeric(const fd_ctx *c, float *v, float eps)
{
    const float keep = *v;
    *v = keep + eps;
    const double lp = loss(c);
    *v = keep - eps;
    const double lm = loss(c);
    *v = keep;
    return (lp - lm) / (2.0 * (double)eps);
}

/* Checks up to 10 elements of v[n] against the analytic gradient an[n]; returns failures. */
static int check_tensor(const fd_ctx *c, const char *what, float *v, const float *an, size_t n)
{
    int bad = 0;
    const size_t step = n > 10 ? n / 10 : 1;
    for (size_t i = 0; i < n; i += step) {
        double fd = numeric(c, &v[i], 1e-3f);
        if (fabs(fd - an[i]) > 1e-2 * fabs(an[i]) + 1e-2) fd = numeric(c, &v[i], 3e-4f);
        if (fabs(fd - an[i]) > 1e-2 * fabs(an[i]) + 1e-2) {
            print_error("%s[%zu]: analytic %.6g numeric %.6g\n", what, i, (double)an[i], fd);
            bad++;
        }
    }
    return bad;
}

/* distinct: inputs are a permutation of an evenly spaced grid (spacing > 2 eps), so no max-pool
 * window holds a near tie that a finite-difference step could flip. */
static void check_model_x(const char *yaml, int batch, int threads, bool through_softmax, bool distinct)
{
    nn_model *m = load_yaml(yaml);
    nn_err err;
    nn_train *t;
    if (nn_train_create(&t, m, batch, threads, 42, &err)) fail_msg("%s", err.msg);
    nn_train_set_softmax_logits(t, !through_softmax);
    int h, w, ch;
    nn_model_input_shape(m, &h, &w, &ch);
    const size_t nx = (size_t)batch * h * w * ch, outs = (size_t)nn_train_output_size(t);
    float *x = nn_train_input(t);
    for (size_t i = 0; i < nx; i++) x[i] = distinct ? (float)((i * 37 + 11) % nx) * 2.0f / (float)nx - 1.0f : urand();
    if (distinct) assert_true(nx % 37 != 0);
    float *r = malloc(outs * batch * sizeof *r);
    for (size_t i = 0; i < outs * batch; i++) r[i] = urand();
    fd_ctx c = {.t = t, .batch = batch, .r = r, .outs = outs};
    nn_train_zero_grad(t);
    (void)loss(&c);
    if (nn_train_backward(t, batch, r, &err)) fail_msg("%s", err.msg);
    float *dx = malloc(nx * sizeof *dx), *g = malloc((m->g.n_param_floats + 1) * sizeof *g);
    memcpy(dx, nn_train_input_grad(t), nx * sizeof *dx);
    memcpy(g, nn_train_grads(t), m->g.n_param_floats * sizeof *g);
    int bad = check_tensor(&c, "input", x, dx, nx);
    for (int i = 0; i < m->g.n_params; i++) {
        const nn_param *p = &m->g.params[i];
        if (p->trainable) bad += check_tensor(&c, p->name, m->params + p->offset, g + p->offset, p->count);
    }
    free(dx);
    free(g);
    free(r);
    nn_train_free(t);
    nn_model_free(m);
    assert_int_equal(bad, 0);
}

static void check_model(const char *yaml, int batch, int threads, bool through_softmax)
{
    check_model_x(yaml, batch, threads, through_softmax, false);
}

#define HDR(h, w, c) "name: t\ninput: {height: " #h ", width: " #w ", channels: " #c "}\noutput: {kind: values}\nlayers:\n"

static void test_conv2d(void **s)
{
    (void)s;
    check_model(HDR(7, 6, 4) "  - {name: c, type: conv2d, filters: 6, kernel: 3, stride: 2, padding: same, groups: 2}\n",
                2, 1, false);
    check_model(HDR(6, 7, 3) "  - {name: c, type: conv2d, filters: 4, kernel: [2, 1], stride: [1, 2], "
                             "padding: [1, 0, 2, 1], bias: false}\n", 3, 2, false);
    check_model(HDR(5, 5, 4) "  - {name: c, type: conv2d, filters: 8, kernel: 1, groups: 4}\n", 2, 2, false);
}

static void test_depthwise(void **s)
{
    (void)s;
    check_model(HDR(7, 6, 3) "  - {name: d, type: depthwise_conv2d, kernel: 3, stride: 2, padding: same, "
                             "depth_multiplier: 2}\n", 2, 2, false);
    check_model(HDR(6, 5, 4) "  - {name: d, type: depthwise_conv2d, kernel: [1, 3], padding: valid, bias: false}\n",
                2, 1, false);
}

static void test_pooling(void **s)
{
    (void)s;
    check_model_x(HDR(7, 6, 3) "  - {name: p, type: max_pool2d, pool: 3, stride: 2, padding: same}\n", 2, 1, false,
                  true);
    check_model_x(HDR(6, 6, 3) "  - {name: p, type: max_pool2d, pool: [2, 1]}\n", 2, 2, false, true);
    check_model(HDR(7, 6, 3) "  - {name: p, type: avg_pool2d, pool: 3, stride: 2, padding: [1, 0, 2, 1]}\n", 2, 1,
                false);
    check_model(HDR(7, 6, 3) "  - {name: p, type: avg_pool2d, pool: 3, stride: 2, padding: [1, 0, 2, 1], "
                "count_pad: true}\n", 2, 1, false);
    check_model(HDR(5, 4, 3) "  - {name: g, type: global_avg_pool}\n", 3, 2, false);
}

static void test_batchnorm(void **s)
{
    (void)s;
    check_model(HDR(5, 4, 3) "  - {name: c, type: conv2d, filters: 4, kernel: 3, padding: same}\n"
                             "  - {name: bn, type: batch_norm, eps: 0.001}\n", 3, 2, false);
    check_model(HDR(2, 3, 2) "  - {name: d, type: dense, units: 5}\n  - {name: bn, type: batch_norm}\n", 6, 1, false);
}

static void test_activations(void **s)
{
    (void)s;
    check_model(HDR(4, 5, 3) "  - {name: c, type: conv2d, filters: 4, kernel: 3, padding: same}\n"
                             "  - {name: r, type: relu}\n  - {name: l, type: leaky_relu, alpha: 0.2}\n", 2, 1, false);
    check_model(HDR(3, 4, 5) "  - {name: s, type: softmax}\n", 2, 2, true);
}

static void test_dense_dropout(void **s)
{
    (void)s;
    check_model(HDR(3, 4, 2) "  - {name: d, type: dense, units: 7}\n  - {name: do, type: dropout, rate: 0.4}\n"
                             "  - {name: d2, type: dense, units: 3, activation: softmax}\n", 3, 2, true);
    check_model(HDR(3, 3, 2) "  - {name: f, type: flatten}\n  - {name: d, type: dense, units: 4, bias: false}\n",
                2, 1, false);
}

static void test_shuffle_merge(void **s)
{
    (void)s;
    check_model(HDR(4, 5, 3) "  - {name: c0, type: conv2d, filters: 4, kernel: 3, padding: same}\n"
                             "  - {name: cs, type: channel_shuffle, groups: 2}\n"
                             "  - {name: a, type: conv2d, filters: 4, kernel: 1, input: c0}\n"
                             "  - {name: s, type: add, inputs: [cs, a, c0]}\n"
                             "  - {name: cat, type: concat, inputs: [s, c0, s]}\n", 2, 2, false);
}

/* The losses' gradients by finite differences on the loss itself (double, eps 1e-3). */
static void test_losses(void **s)
{
    (void)s;
    enum { B = 3, N = 5 };
    float y[B * N], t[B * N], d[B * N], d2[B * N];
    int labels[B] = {1, 4, 0};
    for (int i = 0; i < B * N; i++) y[i] = 2.0f * urand(), t[i] = 2.0f * urand();
    for (int kind = 0; kind < 3; kind++) {
        double l0 = kind == 0 ? nn_loss_softmax_ce(y, false, labels, B, N, d)
                  : kind == 1 ? nn_loss_mse(y, t, B, N, d) : nn_loss_huber(y, t, B, N, 0.7f, d);
        assert_true(isfinite(l0));
        for (int i = 0; i < B * N; i++) {
            const float keep = y[i];
            double l[2];
            for (int sgn = 0; sgn < 2; sgn++) {
                y[i] = keep + (sgn ? -1e-3f : 1e-3f);
                l[sgn] = kind == 0 ? nn_loss_softmax_ce(y, false, labels, B, N, d2)
                       : kind == 1 ? nn_loss_mse(y, t, B, N, d2) : nn_loss_huber(y, t, B, N, 0.7f, d2);
            }
            y[i] = keep;
            const double fd = (l[0] - l[1]) / (2.0 * (double)((keep + 1e-3f) - keep));
            if (fabs(fd - d[i]) > 2e-3 * fabs(d[i]) + 2e-4) fail_msg("loss %d [%d]: %g vs %g", kind, i, d[i], fd);
        }
    }
    /* softmax CE from probabilities equals CE from logits, same gradient */
    float p[B * N];
    for (int b = 0; b < B; b++) {
        double sum = 0.0;
        for (int c = 0; c < N; c++) sum += exp(y[b * N + c]);
        for (int c = 0; c < N; c++) p[b * N + c] = (float)(exp(y[b * N + c]) / sum);
    }
    const double a = nn_loss_softmax_ce(y, false, labels, B, N, d), b2 = nn_loss_softmax_ce(p, true, labels, B, N, d2);
    assert_true(fabs(a - b2) < 1e-5);
    for (int i = 0; i < B * N; i++) assert_true(fabs(d[i] - d2[i]) < 1e-6);
    int bad_label[B] = {0, 5, 1};
    assert_true(isnan(nn_loss_softmax_ce(y, false, bad_label, B, N, d)));
}

/* Logits mode: backward from nn_loss_softmax_ce's dL/dlogits equals the through-softmax backward
 * of dL/dp = -onehot / (batch p). */
static void test_softmax_logits_mode(void **s)
{
    (void)s;
    nn_model *m = load_yaml(HDR(2, 3, 2) "  - {name: d, type: dense, units: 4, activation: softmax}\n");
    nn_err err;
    nn_train *t;
    enum { B = 3 };
    if (nn_train_create(&t, m, B, 1, 1, &err)) fail_msg("%s", err.msg);
    assert_true(nn_train_softmax_output(t));
    float *x = nn_train_input(t);
    for (int i = 0; i < B * 12; i++) x[i] = urand();
    int labels[B] = {3, 0, 2};
    float d[B * 4], dp[B * 4], g1[64], g2[64];
    const size_t np = nn_train_param_floats(t);
    assert_true(np <= 64);
    nn_train_zero_grad(t);
    assert_int_equal(nn_train_forward(t, B, &err), NN_OK);
    nn_loss_softmax_ce(nn_train_output(t), true, labels, B, 4, d);
    for (int i = 0; i < B * 4; i++) dp[i] = i % 4 == labels[i / 4] ? -1.0f / (B * nn_train_output(t)[i]) : 0.0f;
    assert_int_equal(nn_train_backward(t, B, d, &err), NN_OK);
    memcpy(g1, nn_train_grads(t), np * sizeof(float));
    nn_train_zero_grad(t);
    nn_train_set_softmax_logits(t, false);
    assert_int_equal(nn_train_backward(t, B, dp, &err), NN_OK);
    memcpy(g2, nn_train_grads(t), np * sizeof(float));
    for (size_t i = 0; i < np; i++) assert_true(fabsf(g1[i] - g2[i]) <= 1e-4f * (1.0f + fabsf(g1[i])));
    nn_train_free(t);
    nn_model_free(m);
}

/* Gradients accumulate over backward calls; zero_grad clears them; forward/backward allocate
 * nothing (effnet-style model with batch norm and dropout, 2 threads). */
static void test_accumulate_no_alloc(void **s)
{
    (void)s;
    nn_model *m = load_yaml(HDR(8, 9, 3) "  - {name: b1, type: effnet_block, ch_mid: 6, ch_out: 8, batch_norm: true, "
                                         "dropout: 0.2}\n  - {name: f, type: flatten}\n"
                                         "  - {name: d, type: dense, units: 5, activation: softmax}\n");
    nn_err err;
    nn_train *t;
    enum { B = 4 };
    if (nn_train_create(&t, m, B, 2, 9, &err)) fail_msg("%s", err.msg);
    float *x = nn_train_input(t);
    for (int i = 0; i < B * 8 * 9 * 3; i++) x[i] = urand();
    int labels[B] = {0, 1, 2, 3};
    float d[B * 5];
    const size_t np = nn_train_param_floats(t);
    float *once = malloc(np * sizeof *once);
    size_t before = allocations;
    nn_train_zero_grad(t);
    for (int rep = 0; rep < 2; rep++) {
        nn_train_set_step(t, 5);
        assert_int_equal(nn_train_forward(t, B, &err), NN_OK);
        assert_true(isfinite(nn_loss_softmax_ce(nn_train_output(t), true, labels, B, 5, d)));
        assert_int_equal(nn_train_backward(t, B, d, &err), NN_OK);
        if (rep == 0) {
            assert_int_equal(allocations, before);
            memcpy(once, nn_train_grads(t), np * sizeof *once);
            before = allocations;
        }
    }
    assert_int_equal(allocations, before);
    const float *twice = nn_train_grads(t);
    for (size_t i = 0; i < np; i++) assert_true(fabsf(twice[i] - 2.0f * once[i]) <= 1e-5f * (1.0f + fabsf(once[i])));
    nn_train_zero_grad(t);
    for (size_t i = 0; i < np; i++) assert_true(nn_train_grads(t)[i] == 0.0f);
    free(once);
    nn_train_free(t);
    nn_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv2d),        cmocka_unit_test(test_depthwise),
        cmocka_unit_test(test_pooling),       cmocka_unit_test(test_batchnorm),
        cmocka_unit_test(test_activations),   cmocka_unit_test(test_dense_dropout),
        cmocka_unit_test(test_shuffle_merge), cmocka_unit_test(test_losses),
        cmocka_unit_test(test_softmax_logits_mode), cmocka_unit_test(test_accumulate_no_alloc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
