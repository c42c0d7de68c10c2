/* test_train_step.c — the engine's training step and its backend table on the CPU:
 *   step        nn_train_step (zero_grad, forward, loss, backward, clip, optimizer) gives bit for
 *               bit the parameters, optimizer state, losses and norms of the same step written out
 *               with the parts and optim.c on the host (what steer-train ran before the engine
 *               owned the step), for cross-entropy + Adam with weight decay and active clipping
 *               and for MSE / Huber + SGD with Nesterov momentum; it allocates nothing;
 *   divergence  a non-finite loss stops before the backward, a non-finite gradient norm before
 *               the update: parameters, state and step count unchanged;
 *   optimizer   setup once, validation messages, steps before setup refused, the host state
 *               copy-in / copy-out and nn_train_sync on the CPU;
 *   registry    the CPU table is complete, AUTO resolves, unknown backends are refused. */
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

#include "nn/backend.h"
#include "nn/graph.h"
#include "nn/optim.h"
#include "nn/train.h"

#include "alloc_counter.h"
#include "yaml_model.h"

#define HDR(h, w, c, kind) \
    "name: t\ninput: {height: " #h ", width: " #w ", channels: " #c "}\noutput: {kind: " kind "}\nlayers:\n"
/* batch norm, dropout, a merge and a softmax head: every kind of state the step touches */
#define CLASS_MODEL                                                                                                   \
    HDR(6, 6, 3, "classes") "  - {name: b1, type: effnet_block, ch_mid: 6, ch_out: 8, batch_norm: true, "         \
                            "dropout: 0.2}\n  - {name: f, type: flatten}\n"                                         \
                            "  - {name: d, type: dense, units: 4, activation: softmax}\n"
#define VALUE_MODEL                                                                                                   \
    HDR(5, 5, 2, "values") "  - {name: c, type: conv2d, filters: 4, kernel: 3}\n  - {name: bn, type: batch_norm}\n" \
                           "  - {name: r, type: relu}\n  - {name: f, type: flatten}\n"                              \
                           "  - {name: d, type: dense, units: 2}\n"

enum { B = 4, STEPS = 3 };
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static float urand(void) { return lcg_urand(&rng_state); }

/* Two identical models (same YAML, same draws) and a CPU training context on each. */
typedef struct {
    nn_model *m[2];
    nn_train *t[2];
    size_t nx, P;
} pair;

static void pair_open(pair *p, const char *yaml)
{
    nn_err err;
    for (int k = 0; k < 2; k++) {
        uint64_t r = 77;
        p->m[k] = yaml_model_load(yaml, 5, &r, true);
        if (nn_train_create(&p->t[k], p->m[k], B, 2, 11, &err)) fail_msg("%s", err.msg);
    }
    int h, w, c;
    nn_model_input_shape(p->m[0], &h, &w, &c);
    p->nx = (size_t)B * h * w * c;
    p->P = p->m[0]->g.n_param_floats;
}

static void pair_close(pair *p)
{
    for (int k = 0; k < 2; k++) {
        nn_train_free(p->t[k]);
        nn_model_free(p->m[k]);
    }
}

/* Runs STEPS steps on both: t[0] through nn_train_step, t[1] through the parts and optim.c on
 * host state; everything must agree bit for bit. */
static void check_steps(const char *yaml, nn_loss_kind kind, const opt_config *oc, float max_norm)
{
    pair p;
    pair_open(&p, yaml);
    nn_err err;
    const int out = nn_train_output_size(p.t[0]);
    if (nn_train_opt_setup(p.t[0], oc, &err)) fail_msg("%s", err.msg);
    float *state = calloc(opt_state_floats(oc, p.P) + 1, sizeof *state);
    float *dloss = malloc((size_t)B * out * sizeof *dloss), *targets = malloc((size_t)B * out * sizeof *targets);
    assert_true(state && dloss && targets);
    opt_state ref;
    if (opt_init(&ref, oc, state, p.P, &err)) fail_msg("%s", err.msg);
    assert_int_equal(nn_train_opt_state_floats(p.t[0]), opt_state_floats(oc, p.P));
    int labels[B];
    bool clipped = false;
    for (int step = 0; step < STEPS; step++) {
        for (int i = 0; i < B; i++) labels[i] = (int)((urand() + 1.0f) * 2.0f) % out;
        for (int i = 0; i < B * out; i++) targets[i] = urand();
        const float *x0 = NULL;
        for (int k = 0; k < 2; k++) {
            float *x = nn_train_input(p.t[k]);
            if (!x0)
                for (size_t i = 0; i < p.nx; i++) x[i] = urand();
            else
                memcpy(x, x0, p.nx * sizeof *x);
            x0 = x;
        }
        const double lr = 0.05 / (step + 1);
        const nn_step_args a = {.loss = kind, .labels = labels, .targets = targets, .delta = 0.3f, .lr = lr,
                                .max_norm = max_norm};
        nn_step_result r;
        const size_t before = allocations;
        if (nn_train_step(p.t[0], B, &a, &r, &err)) fail_msg("step %d: %s", step, err.msg);
        assert_int_equal(allocations, before);
        /* the same step by hand */
        nn_train *t = p.t[1];
        nn_train_zero_grad(t);
        if (nn_train_forward(t, B, &err)) fail_msg("%s", err.msg);
        const float *y = nn_train_output(t);
        const bool prob = nn_train_softmax_output(t);
        const double loss = kind == NN_LOSS_CE    ? nn_loss_softmax_ce(y, prob, labels, B, out, dloss)
                            : kind == NN_LOSS_MSE ? nn_loss_mse(y, targets, B, out, dloss)
                                                  : nn_loss_huber(y, targets, B, out, 0.3f, dloss);
        if (nn_train_backward(t, B, dloss, &err)) fail_msg("%s", err.msg);
        float *g = nn_train_grads(t);
        const float norm = opt_clip_grad_norm(g, p.P, max_norm);
        opt_begin_step(&ref);
        for (int i = 0; i < p.m[1]->g.n_params; i++) {
            const nn_param *q = &p.m[1]->g.params[i];
            if (q->trainable) opt_update(&ref, p.m[1]->params, g, q->offset, q->count, lr, oc->weight_decay);
        }
        clipped |= norm > max_norm;
        if (r.loss != loss || r.grad_norm != norm)
            fail_msg("step %d: loss %.9g / norm %.9g, by hand %.9g / %.9g", step, r.loss, (double)r.grad_norm, loss,
                     (double)norm);
        assert_ptr_equal(r.output, nn_train_output(p.t[0]));
        assert_int_equal(nn_train_opt_steps(p.t[0]), step + 1);
        if (memcmp(p.m[0]->params, p.m[1]->params, p.P * sizeof(float)) != 0)
            fail_msg("step %d: parameters differ from the hand-written step", step);
        if (memcmp(nn_train_opt_host(p.t[0]), state, opt_state_floats(oc, p.P) * sizeof(float)) != 0)
            fail_msg("step %d: optimizer state differs", step);
    }
    assert_true(clipped || isinf(max_norm)); /* the clip bound was reached at least once */
    assert_int_equal(nn_train_get_step(p.t[0]), STEPS); /* one dropout step per forward */
    free(state);
    free(dloss);
    free(targets);
    pair_close(&p);
}

static void test_step_matches_parts(void **s)
{
    (void)s;
    opt_config adam = opt_defaults(OPT_ADAMW);
    adam.weight_decay = 0.02;
    check_steps(CLASS_MODEL, NN_LOSS_CE, &adam, 0.5f);
    opt_config sgd = opt_defaults(OPT_SGD);
    sgd.momentum = 0.9, sgd.nesterov = true, sgd.weight_decay = 1e-3;
    check_steps(VALUE_MODEL, NN_LOSS_MSE, &sgd, INFINITY);
    opt_config plain = opt_defaults(OPT_ADAM);
    check_steps(VALUE_MODEL, NN_LOSS_HUBER, &plain, 0.1f);
}

/* A dense layer with inputs of 1e20: the MSE (double) is finite, its weight gradient x * dy
 * overflows float: the norm is Inf. A NaN input: the loss is NaN. */
static void test_divergence(void **s)
{
    (void)s;
    uint64_t r = 5;
    nn_model *m = yaml_model_load(HDR(1, 1, 2, "values") "  - {name: d, type: dense, units: 1}\n", 3, &r, false);
    nn_err err;
    nn_train *t;
    if (nn_train_create(&t, m, 2, 1, 1, &err)) fail_msg("%s", err.msg);
    const opt_config sgd = opt_defaults(OPT_SGD);
    if (nn_train_opt_setup(t, &sgd, &err)) fail_msg("%s", err.msg);
    const size_t P = m->g.n_param_floats;
    float *keep = malloc(P * sizeof *keep);
    assert_non_null(keep);
    memcpy(keep, m->params, P * sizeof *keep);
    const float targets[2] = {0, 0};
    const nn_step_args a = {.loss = NN_LOSS_MSE, .targets = targets, .lr = 0.1, .max_norm = INFINITY};
    nn_step_result res;
    float *x = nn_train_input(t);
    x[0] = x[1] = x[2] = x[3] = 1e20f;
    assert_int_equal(nn_train_step(t, 2, &a, &res, &err), NN_OK);
    assert_true(isfinite(res.loss));
    assert_true(isinf(res.grad_norm));
    assert_memory_equal(m->params, keep, P * sizeof *keep);
    assert_int_equal(nn_train_opt_steps(t), 0);
    x[0] = NAN;
    assert_int_equal(nn_train_step(t, 2, &a, &res, &err), NN_OK);
    assert_true(isnan(res.loss));
    assert_true(res.grad_norm == 0.0f);
    assert_memory_equal(m->params, keep, P * sizeof *keep);
    assert_int_equal(nn_train_opt_steps(t), 0);
    x[0] = x[1] = x[2] = x[3] = 0.5f; /* and a finite step then updates */
    assert_int_equal(nn_train_step(t, 2, &a, &res, &err), NN_OK);
    assert_true(isfinite(res.grad_norm) && res.grad_norm > 0);
    assert_int_equal(nn_train_opt_steps(t), 1);
    assert_true(memcmp(m->params, keep, P * sizeof *keep) != 0);
    free(keep);
    nn_train_free(t);
    nn_model_free(m);
}

static void expect_fail(nn_status got, nn_status want, const nn_err *err, const char *text)
{
    assert_int_equal(got, want);
    if (!strstr(err->msg, text)) fail_msg("message \"%s\" lacks \"%s\"", err->msg, text);
}

static void test_optimizer_api(void **s)
{
    (void)s;
    uint64_t r = 9;
    nn_model *m = yaml_model_load(VALUE_MODEL, 3, &r, false);
    nn_err err;
    nn_train *t;
    if (nn_train_create(&t, m, 2, 1, 1, &err)) fail_msg("%s", err.msg);
    const float targets[4] = {0};
    const nn_step_args a = {.loss = NN_LOSS_MSE, .targets = targets, .lr = 0.1, .max_norm = INFINITY};
    nn_step_result res;
    expect_fail(nn_train_step(t, 2, &a, &res, &err), NN_E_ARG, &err, "before nn_train_opt_setup");
    expect_fail(nn_train_opt_step(t, 1, 0.1, 0, &err), NN_E_ARG, &err, "before nn_train_opt_setup");
    assert_int_equal(nn_train_opt_state_floats(t), 0);
    opt_config bad = opt_defaults(OPT_SGD);
    bad.momentum = 1.5;
    expect_fail(nn_train_opt_setup(t, &bad, &err), NN_E_ARG, &err, "momentum out of range");
    const opt_config adam = opt_defaults(OPT_ADAM);
    assert_int_equal(nn_train_opt_setup(t, &adam, &err), NN_OK);
    expect_fail(nn_train_opt_setup(t, &adam, &err), NN_E_ARG, &err, "already set up");
    const size_t n = nn_train_opt_state_floats(t);
    assert_int_equal(n, 2 * m->g.n_param_floats);
    /* the CPU's host copy is the state: copy in, copy out, sync leaves it */
    float *in = malloc(n * sizeof *in), *back = calloc(n, sizeof *back);
    assert_true(in && back);
    for (size_t i = 0; i < n; i++) in[i] = (float)i * 0.25f;
    assert_int_equal(nn_train_opt_state(t, in, true, &err), NN_OK);
    assert_memory_equal(nn_train_opt_host(t), in, n * sizeof *in);
    assert_int_equal(nn_train_sync(t, true, &err), NN_OK);
    assert_int_equal(nn_train_sync(t, false, &err), NN_OK);
    assert_int_equal(nn_train_opt_state(t, back, false, &err), NN_OK);
    assert_memory_equal(back, in, n * sizeof *in);
    nn_train_set_opt_steps(t, 41);
    assert_int_equal(nn_train_step(t, 2, &a, &res, &err), NN_OK);
    assert_int_equal(nn_train_opt_steps(t), 42);
    free(in);
    free(back);
    nn_train_free(t);
    nn_model_free(m);
}

static void test_registry(void **s)
{
    (void)s;
    const nn_backend_ops *cpu = nn_backend_table(NN_BACKEND_CPU);
    assert_non_null(cpu);
    assert_int_equal(cpu->id, NN_BACKEND_CPU);
    assert_true(cpu->available(NULL, 0));
    const nn_infer_ops *i = cpu->infer;
    assert_true(i->create && i->free && i->input && i->output && i->run && i->step);
    const nn_train_ops *t = cpu->train;
    assert_true(t->create && t->free && t->input && t->output && t->grads && t->layer && t->zero_grad &&
                t->forward && t->loss && t->backward && t->clip && t->opt_setup && t->opt_step);
    assert_null(nn_backend_table(NN_BACKEND_AUTO));
    assert_null(nn_backend_table((nn_backend)7));
    assert_int_equal(nn_backend_table(NN_BACKEND_CUDA) != NULL, nn_cuda_built());
    nn_err err;
    const nn_backend_ops *b;
    assert_int_equal(nn_backend_pick(NN_BACKEND_AUTO, &b, &err), NN_OK);
    assert_int_equal(b->id, nn_cuda_available(NULL, 0) ? NN_BACKEND_CUDA : NN_BACKEND_CPU);
    assert_int_equal(nn_backend_pick(NN_BACKEND_CPU, &b, &err), NN_OK);
    assert_ptr_equal(b, cpu);
    expect_fail(nn_backend_pick((nn_backend)7, &b, &err), NN_E_ARG, &err, "unknown backend 7");
    assert_null(b);
    assert_string_equal(nn_backend_title(NN_BACKEND_CUDA), "CUDA");
    char why[128];
    assert_int_equal(nn_backend_usable(NN_BACKEND_CUDA, why, sizeof why), nn_cuda_available(NULL, 0));
    if (!nn_cuda_built()) assert_string_equal(why, "this build has no CUDA backend");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_step_matches_parts),
        cmocka_unit_test(test_divergence),
        cmocka_unit_test(test_optimizer_api),
        cmocka_unit_test(test_registry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
