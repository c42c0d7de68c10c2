/* test_optim.c — src/nn/optim.c against PyTorch 1.13 (tests/fixtures/optim_torch.inc, made
 * by tests/oracle/make_optim_fixture.py): SGD / Nesterov / Adam / AdamW steps with a changing
 * learning rate, clip_grad_norm_, StepLR and warm-up + cosine; plus range updates, state sizes
 * and the validation messages. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "nn/optim.h"

typedef struct {
    const char *name;
    int kind;
    double momentum, dampening;
    int nesterov;
    double beta1, beta2, eps, weight_decay;
    float expect[5][7];
} optim_case;

#include "fixtures/optim_torch.inc"

/* float32 rounding differences (FMA, operation order) only. */
static void expect_close(const char *what, int step, int i, float got, float want)
{
    float tol = 2e-6f + 2e-6f * fabsf(want);
    if (!(fabsf(got - want) <= tol))
        fail_msg("%s: step %d, element %d: got %.9g, PyTorch %.9g", what, step, i, got, want);
}

static opt_config case_config(const optim_case *c)
{
    opt_config cfg = opt_defaults((opt_kind)c->kind);
    cfg.momentum = c->momentum;
    cfg.dampening = c->dampening;
    cfg.nesterov = c->nesterov != 0;
    cfg.beta1 = c->beta1;
    cfg.beta2 = c->beta2;
    cfg.eps = c->eps;
    cfg.weight_decay = c->weight_decay;
    return cfg;
}

static void test_against_torch(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof optim_cases / sizeof optim_cases[0]; k++) {
        const optim_case *c = &optim_cases[k];
        opt_config cfg = case_config(c);
        float p[OPTIM_N], st[2 * OPTIM_N];
        memcpy(p, optim_p0, sizeof p);
        memset(st, 0x7f, sizeof st); /* opt_init must zero it */
        opt_state o;
        nn_err err;
        if (opt_init(&o, &cfg, st, OPTIM_N, &err))
            fail_msg("%s: %s", c->name, err.msg);
        for (int s = 0; s < OPTIM_STEPS; s++) {
            opt_step(&o, p, optim_grads[s], optim_lrs[s]);
            for (int i = 0; i < OPTIM_N; i++)
                expect_close(c->name, s + 1, i, p[i], c->expect[s][i]);
        }
        assert_int_equal(o.step, OPTIM_STEPS);
    }
}

/* Updating in two ranges equals one whole update. */
static void test_ranges(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof optim_cases / sizeof optim_cases[0]; k++) {
        opt_config cfg = case_config(&optim_cases[k]);
        float p1[OPTIM_N], p2[OPTIM_N], s1[2 * OPTIM_N], s2[2 * OPTIM_N];
        memcpy(p1, optim_p0, sizeof p1);
        memcpy(p2, optim_p0, sizeof p2);
        opt_state a, b;
        assert_int_equal(opt_init(&a, &cfg, s1, OPTIM_N, NULL), NN_OK);
        assert_int_equal(opt_init(&b, &cfg, s2, OPTIM_N, NULL), NN_OK);
        for (int s = 0; s < OPTIM_STEPS; s++) {
            opt_step(&a, p1, optim_grads[s], optim_lrs[s]);
            opt_begin_step(&b);
            opt_update(&b, p2, optim_grads[s], 0, 3, optim_lrs[s], cfg.weight_decay);
            opt_update(&b, p2, optim_grads[s], 3, OPTIM_N - 3, optim_lrs[s], cfg.weight_decay);
        }
        assert_memory_equal(p1, p2, sizeof p1);
        /* an out-of-range update is ignored */
        opt_update(&b, p2, optim_grads[0], OPTIM_N, 1, 1.0, 0.0);
        opt_update(&b, p2, optim_grads[0], 2, (size_t)-1, 1.0, 0.0);
        assert_memory_equal(p1, p2, sizeof p1);
    }
}

static void test_clip(void **state)
{
    (void)state;
    float g[OPTIM_N];
    memcpy(g, optim_clip_in, sizeof g);
    float total = opt_clip_grad_norm(g, OPTIM_N, optim_clip_max_norm);
    expect_close("clip total", 0, 0, total, optim_clip_total);
    for (int i = 0; i < OPTIM_N; i++)
        expect_close("clip", 0, i, g[i], optim_clip_out[i]);
    memcpy(g, optim_clip_in, sizeof g);
    total = opt_clip_grad_norm(g, OPTIM_N, optim_noclip_max_norm);
    expect_close("noclip total", 0, 0, total, optim_noclip_total);
    assert_memory_equal(g, optim_noclip_out, sizeof g);
    g[2] = NAN;
    assert_true(isnan(opt_clip_grad_norm(g, OPTIM_N, 1.0f)));
}

static void test_schedules(void **state)
{
    (void)state;
    lr_schedule st = {.kind = LR_STEP, .lr = 0.1, .step_size = 3, .gamma = 0.5};
    lr_schedule cs = {.kind = LR_COSINE, .lr = 0.1, .warmup = 3, .warmup_start = 0.1, .total = 10, .min_lr = 1e-4};
    lr_schedule cst = {.kind = LR_CONSTANT, .lr = 0.25};
    nn_err err;
    assert_int_equal(lr_validate(&st, &err), NN_OK);
    assert_int_equal(lr_validate(&cs, &err), NN_OK);
    assert_int_equal(lr_validate(&cst, &err), NN_OK);
    for (int t = 0; t < OPTIM_SCHED_STEPS; t++) {
        if (fabs(lr_at(&st, t) - optim_step_lrs[t]) > 1e-12)
            fail_msg("StepLR t=%d: got %.17g, PyTorch %.17g", t, lr_at(&st, t), optim_step_lrs[t]);
        if (fabs(lr_at(&cs, t) - optim_cosine_lrs[t]) > 1e-9)
            fail_msg("warm-up + cosine t=%d: got %.17g, PyTorch %.17g", t, lr_at(&cs, t), optim_cosine_lrs[t]);
        assert_true(lr_at(&cst, t) == 0.25);
    }
    /* past the end the cosine stays at min_lr */
    assert_true(fabs(lr_at(&cs, 50) - 1e-4) < 1e-15);
    lr_schedule nowarm = {.kind = LR_COSINE, .lr = 1.0, .total = 4};
    assert_int_equal(lr_validate(&nowarm, &err), NN_OK);
    assert_true(lr_at(&nowarm, 0) == 1.0);
    assert_true(fabs(lr_at(&nowarm, 2) - 0.5) < 1e-15);
}

static void expect_bad_sched(lr_schedule s, const char *needle)
{
    nn_err err;
    assert_int_equal(lr_validate(&s, &err), NN_E_ARG);
    if (!strstr(err.msg, needle))
        fail_msg("expected '%s' in: %s", needle, err.msg);
}

static void expect_bad_opt(opt_config c, const char *needle)
{
    nn_err err;
    float st[4];
    opt_state o;
    assert_int_equal(opt_init(&o, &c, st, 2, &err), NN_E_ARG);
    if (!strstr(err.msg, needle))
        fail_msg("expected '%s' in: %s", needle, err.msg);
}

static void test_validation(void **state)
{
    (void)state;
    opt_config c = opt_defaults(OPT_SGD);
    assert_int_equal(opt_state_floats(&c, 10), 0);
    c.momentum = 0.9;
    assert_int_equal(opt_state_floats(&c, 10), 10);
    c = opt_defaults(OPT_ADAMW);
    assert_true(c.weight_decay == 0.01 && c.beta1 == 0.9 && c.beta2 == 0.999 && c.eps == 1e-8);
    assert_int_equal(opt_state_floats(&c, 10), 20);

    c = opt_defaults(OPT_SGD);
    c.momentum = 1.5;
    expect_bad_opt(c, "optimizer sgd: momentum out of range (expected 0 <= momentum < 1, got 1.5)");
    c.momentum = 0.0;
    c.nesterov = true;
    expect_bad_opt(c, "momentum out of range (expected > 0 with nesterov, got 0)");
    c.momentum = 0.9;
    c.dampening = 0.1;
    expect_bad_opt(c, "dampening out of range (expected 0 with nesterov, got 0.1)");
    c = opt_defaults(OPT_SGD);
    c.weight_decay = -1;
    expect_bad_opt(c, "weight_decay out of range (expected >= 0, got -1)");
    c = opt_defaults(OPT_ADAM);
    c.beta1 = 1.0;
    expect_bad_opt(c, "optimizer adam: beta1 out of range");
    c = opt_defaults(OPT_ADAM);
    c.beta2 = -0.1;
    expect_bad_opt(c, "beta2 out of range");
    c = opt_defaults(OPT_ADAMW);
    c.eps = 0;
    expect_bad_opt(c, "optimizer adamw: eps out of range (expected > 0, got 0)");
    c.kind = (opt_kind)7;
    expect_bad_opt(c, "unknown kind");
    c = opt_defaults(OPT_ADAM);
    opt_state o;
    nn_err err;
    assert_int_equal(opt_init(&o, &c, NULL, 3, &err), NN_E_ARG);
    assert_non_null(strstr(err.msg, "no state buffer for 6 floats"));
    c = opt_defaults(OPT_SGD);
    assert_int_equal(opt_init(&o, &c, NULL, 3, &err), NN_OK); /* plain SGD has no state */

    expect_bad_sched((lr_schedule){.kind = LR_CONSTANT, .lr = 0}, "schedule: lr out of range (expected > 0, got 0)");
    expect_bad_sched((lr_schedule){.kind = LR_STEP, .lr = 1, .gamma = 0.5}, "step_size out of range");
    expect_bad_sched((lr_schedule){.kind = LR_STEP, .lr = 1, .step_size = 2, .gamma = 2}, "gamma out of range");
    expect_bad_sched((lr_schedule){.kind = LR_COSINE, .lr = 1, .warmup = -1, .total = 3}, "warmup out of range");
    expect_bad_sched((lr_schedule){.kind = LR_COSINE, .lr = 1, .warmup = 2, .total = 3}, "warmup_start out of range");
    expect_bad_sched((lr_schedule){.kind = LR_COSINE, .lr = 1, .warmup = 3, .warmup_start = 1, .total = 3},
                     "total out of range (expected > warmup = 3, got 3)");
    expect_bad_sched((lr_schedule){.kind = LR_COSINE, .lr = 1, .total = 3, .min_lr = 2}, "min_lr out of range");
    expect_bad_sched((lr_schedule){.kind = (lr_kind)9, .lr = 1}, "unknown kind");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_torch),
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_clip),
        cmocka_unit_test(test_schedules),
        cmocka_unit_test(test_validation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
