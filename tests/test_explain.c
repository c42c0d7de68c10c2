/* test_explain.c — cmocka tests of src/tools/explain.c (`steerctl explain` arithmetic): the default
 * configuration against hand-computed counts, 'same' padding shapes, odd sizes in the EffNet block,
 * 64-bit overflow, and option parsing (good and bad). Each failure names the configuration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tools/explain.h"

/* Fails with the configuration, the quantity, and both values. */
static void check_u64(const char *cfg, const char *what, uint64_t got, uint64_t want)
{
    if (got != want)
        fail_msg("%s: %s = %llu, want %llu", cfg, what, (unsigned long long)got, (unsigned long long)want);
}

static void check_shape(const char *cfg, const char *what, int h, int w, int c, int eh, int ew, int ec)
{
    if (h != eh || w != ew || c != ec)
        fail_msg("%s: %s shape %dx%dx%d, want %dx%dx%d", cfg, what, h, w, c, eh, ew, ec);
}

static void check_str(const char *cfg, const char *what, const char *got, const char *want)
{
    if (strcmp(got, want) != 0)
        fail_msg("%s: %s = \"%s\", want \"%s\"", cfg, what, got, want);
}

static void compute_ok(const char *name, const explain_config *cfg, explain_result *res)
{
    char err[256] = "";
    if (explain_compute(cfg, res, err, sizeof err) != 0)
        fail_msg("%s: explain_compute failed: %s", name, err);
}

/* 12x12x3, K=5, N=256, valid: the classic example (output 8x8x256).
 *   standard:  params 5*5*3*256 = 19200;           MACs 8*8*256*75 = 1228800
 *   spatial:   params 5*3*3 + 5*3*256 = 45 + 3840;  MACs 12*8*3*15 + 8*8*256*15 = 4320 + 245760
 *   depthwise: params 75 + 768 = 843;               MACs 8*8*3*25 + 8*8*256*3 = 4800 + 49152
 *   EffNet (M=128): params 384 + 384 + 384 + 65536 = 66688;
 *              MACs 12*12*128*3 + 12*12*128*3 + 6*12*128*3 + 6*6*256*256 = 2497536, output 6x6x256 */
static void test_default(void **state)
{
    (void)state;
    const char *name = "default 12x12x3 K=5 N=256 valid";
    explain_config cfg;
    explain_config_default(&cfg);
    assert_int_equal(cfg.h, 12);
    assert_int_equal(cfg.w, 12);
    assert_int_equal(cfg.c, 3);
    assert_int_equal(cfg.k, 5);
    assert_int_equal(cfg.n, 256);
    assert_int_equal(cfg.pad, EXPLAIN_PAD_VALID);
    explain_result r[EXPLAIN_N_METHODS];
    compute_ok(name, &cfg, r);

    const explain_result *s = &r[EXPLAIN_STANDARD];
    check_shape(name, "standard", s->out_h, s->out_w, s->out_c, 8, 8, 256);
    check_u64(name, "standard params", s->params, 19200);
    check_u64(name, "standard MACs", s->macs, 1228800);
    assert_int_equal(s->n_steps, 1);
    check_str(name, "standard params formula", s->params_formula, "K*K*C*N = 5*5*3*256 = 19200");
    check_str(name, "standard MACs formula", s->macs_formula, "Ho*Wo*N*K*K*C = 8*8*256*5*5*3 = 1228800");
    assert_true(s->params_ratio == 1.0 && s->macs_ratio == 1.0);

    const explain_result *p = &r[EXPLAIN_SPATIAL];
    assert_int_equal(p->n_steps, 2);
    check_shape(name, "spatial step 1", p->steps[0].out_h, p->steps[0].out_w, p->steps[0].out_c, 12, 8, 3);
    check_shape(name, "spatial", p->out_h, p->out_w, p->out_c, 8, 8, 256);
    check_u64(name, "spatial step 1 params", p->steps[0].params, 45);
    check_u64(name, "spatial step 1 MACs", p->steps[0].macs, 4320);
    check_u64(name, "spatial step 2 params", p->steps[1].params, 3840);
    check_u64(name, "spatial step 2 MACs", p->steps[1].macs, 245760);
    check_u64(name, "spatial params", p->params, 3885);
    check_u64(name, "spatial MACs", p->macs, 250080);
    check_str(name, "spatial params formula", p->params_formula, "K*C*C + K*C*N = 45 + 3840 = 3885");
    assert_float_equal(p->params_ratio, 3885.0 / 19200.0, 1e-12);
    assert_float_equal(p->macs_ratio, 250080.0 / 1228800.0, 1e-12);

    const explain_result *d = &r[EXPLAIN_DEPTHWISE];
    check_shape(name, "depthwise step 1", d->steps[0].out_h, d->steps[0].out_w, d->steps[0].out_c, 8, 8, 3);
    check_shape(name, "depthwise", d->out_h, d->out_w, d->out_c, 8, 8, 256);
    check_u64(name, "depthwise params", d->params, 843);
    check_u64(name, "depthwise MACs", d->macs, 53952);
    check_str(name, "depthwise MACs formula", d->macs_formula,
              "Ho*Wo*C*K*K + Ho*Wo*N*C = 4800 + 49152 = 53952");
    /* params and MACs ratios are both 1/N + 1/K^2 */
    assert_float_equal(d->params_ratio, 1.0 / 256 + 1.0 / 25, 1e-12);
    assert_float_equal(d->macs_ratio, 1.0 / 256 + 1.0 / 25, 1e-12);

    const explain_result *e = &r[EXPLAIN_EFFNET];
    assert_true(e->applicable);
    assert_int_equal(e->n_steps, 5);
    check_shape(name, "effnet conv1", e->steps[0].out_h, e->steps[0].out_w, e->steps[0].out_c, 12, 12, 128);
    check_shape(name, "effnet pool", e->steps[2].out_h, e->steps[2].out_w, e->steps[2].out_c, 6, 12, 128);
    check_shape(name, "effnet", e->out_h, e->out_w, e->out_c, 6, 6, 256);
    check_u64(name, "effnet pool params", e->steps[2].params, 0);
    check_u64(name, "effnet conv2 params", e->steps[4].params, 65536);
    check_u64(name, "effnet conv2 MACs", e->steps[4].macs, 2359296);
    check_u64(name, "effnet params", e->params, 66688);
    check_u64(name, "effnet MACs", e->macs, 2497536);
    check_str(name, "effnet conv2 MACs formula", e->steps[4].macs_formula,
              "Hp*Wp*N*2*M = 6*6*256*2*128 = 2359296");
}

/* 'same' padding keeps H x W in the KxK methods; counts scale with the 12x12 output. */
static void test_same_padding(void **state)
{
    (void)state;
    const char *name = "12x12x3 K=5 N=256 same";
    explain_config cfg;
    explain_config_default(&cfg);
    cfg.pad = EXPLAIN_PAD_SAME;
    explain_result r[EXPLAIN_N_METHODS];
    compute_ok(name, &cfg, r);
    for (int i = EXPLAIN_STANDARD; i <= EXPLAIN_DEPTHWISE; i++)
        check_shape(name, r[i].name, r[i].out_h, r[i].out_w, r[i].out_c, 12, 12, 256);
    check_shape(name, "spatial step 1", r[EXPLAIN_SPATIAL].steps[0].out_h, r[EXPLAIN_SPATIAL].steps[0].out_w,
                r[EXPLAIN_SPATIAL].steps[0].out_c, 12, 12, 3);
    check_u64(name, "standard params", r[EXPLAIN_STANDARD].params, 19200);
    check_u64(name, "standard MACs", r[EXPLAIN_STANDARD].macs, 12ull * 12 * 256 * 75);
    check_u64(name, "spatial MACs", r[EXPLAIN_SPATIAL].macs, 12ull * 12 * 3 * 15 + 12ull * 12 * 256 * 15);
    check_u64(name, "depthwise MACs", r[EXPLAIN_DEPTHWISE].macs, 12ull * 12 * 3 * 25 + 12ull * 12 * 256 * 3);
    /* the EffNet block ignores the padding option */
    check_u64(name, "effnet MACs", r[EXPLAIN_EFFNET].macs, 2497536);
    check_shape(name, "effnet", r[EXPLAIN_EFFNET].out_h, r[EXPLAIN_EFFNET].out_w, r[EXPLAIN_EFFNET].out_c, 6,
                6, 256);
}

/* Odd sizes: the 2x1 pool floors the height, the stride-2 'same' 2x1 conv rounds the width up;
 * an odd N gives M = floor(N/2). 7x9x16, K=3, N=33, valid. */
static void test_odd_sizes(void **state)
{
    (void)state;
    const char *name = "7x9x16 K=3 N=33 valid";
    explain_config cfg = {.h = 7, .w = 9, .c = 16, .k = 3, .n = 33, .pad = EXPLAIN_PAD_VALID};
    explain_result r[EXPLAIN_N_METHODS];
    compute_ok(name, &cfg, r);
    check_shape(name, "standard", r[0].out_h, r[0].out_w, r[0].out_c, 5, 7, 33);
    check_u64(name, "standard MACs", r[0].macs, 5ull * 7 * 33 * 9 * 16);
    check_shape(name, "spatial step 1", r[1].steps[0].out_h, r[1].steps[0].out_w, r[1].steps[0].out_c, 7, 7, 16);
    const explain_result *e = &r[EXPLAIN_EFFNET];
    check_shape(name, "effnet", e->out_h, e->out_w, e->out_c, 3, 5, 33);
    /* M = 16: 16*16 + 3*16 + 3*16 + 2*16*33 */
    check_u64(name, "effnet params", e->params, 256 + 48 + 48 + 1056);
    check_u64(name, "effnet MACs", e->macs, 7ull * 9 * 16 * 16 + 7ull * 9 * 16 * 3 + 3ull * 9 * 16 * 3 + 3ull * 5 * 33 * 2 * 16);
}

/* The EffNet block needs height >= 2 and N >= 2; the others still work. */
static void test_effnet_not_applicable(void **state)
{
    (void)state;
    explain_config cfg = {.h = 1, .w = 8, .c = 4, .k = 1, .n = 8, .pad = EXPLAIN_PAD_VALID};
    explain_result r[EXPLAIN_N_METHODS];
    compute_ok("1x8x4 K=1 N=8", &cfg, r);
    assert_false(r[EXPLAIN_EFFNET].applicable);
    assert_true(r[EXPLAIN_EFFNET].not_applicable[0] != '\0');
    check_u64("1x8x4 K=1 N=8", "standard params", r[EXPLAIN_STANDARD].params, 32);
}

static void test_overflow_and_limits(void **state)
{
    (void)state;
    char err[256];
    explain_result r[EXPLAIN_N_METHODS];
    explain_config big = {.h = EXPLAIN_MAX_SIDE, .w = EXPLAIN_MAX_SIDE, .c = EXPLAIN_MAX_CHANNELS,
                          .k = EXPLAIN_MAX_KERNEL, .n = EXPLAIN_MAX_CHANNELS, .pad = EXPLAIN_PAD_SAME};
    assert_int_equal(explain_compute(&big, r, err, sizeof err), -1);
    assert_non_null(strstr(err, "64 bits"));
    explain_config wide = {.h = 4, .w = 4, .c = 1, .k = 5, .n = 1, .pad = EXPLAIN_PAD_VALID};
    assert_int_equal(explain_compute(&wide, r, err, sizeof err), -1);
    wide.pad = EXPLAIN_PAD_SAME; /* a kernel larger than the input is fine with 'same' */
    assert_int_equal(explain_compute(&wide, r, err, sizeof err), 0);
    check_shape("4x4x1 K=5 same", "standard", r[0].out_h, r[0].out_w, r[0].out_c, 4, 4, 1);
}

/* Parses a NULL-terminated argument list. */
static explain_args parse(explain_config *cfg, char *err, size_t len, const char **args)
{
    char *argv[16];
    int argc = 0;
    argv[argc++] = (char *)"explain";
    while (*args && argc < 15)
        argv[argc++] = (char *)*args++;
    argv[argc] = NULL;
    return explain_parse_args(argc, argv, cfg, err, len);
}

static void test_parse_good(void **state)
{
    (void)state;
    explain_config cfg;
    char err[256] = "";
    const char *none[] = {NULL};
    assert_int_equal(parse(&cfg, err, sizeof err, none), EXPLAIN_ARGS_RUN);
    assert_int_equal(cfg.h * 10000 + cfg.w * 100 + cfg.c, 121203);
    const char *a[] = {"--input", "32x64x16", "--kernel=3", "-f", "128", "--padding", "same", NULL};
    assert_int_equal(parse(&cfg, err, sizeof err, a), EXPLAIN_ARGS_RUN);
    assert_int_equal(cfg.h, 32);
    assert_int_equal(cfg.w, 64);
    assert_int_equal(cfg.c, 16);
    assert_int_equal(cfg.k, 3);
    assert_int_equal(cfg.n, 128);
    assert_int_equal(cfg.pad, EXPLAIN_PAD_SAME);
    const char *b[] = {"-i", "9X9X1", "-k7", "--filters=2", "-p", "valid", NULL};
    assert_int_equal(parse(&cfg, err, sizeof err, b), EXPLAIN_ARGS_RUN);
    assert_int_equal(cfg.h + cfg.w + cfg.c + cfg.k + cfg.n, 9 + 9 + 1 + 7 + 2);
    const char *h[] = {"--kernel", "3", "--help", NULL};
    assert_int_equal(parse(&cfg, err, sizeof err, h), EXPLAIN_ARGS_HELP);
    const char *h2[] = {"-h", NULL};
    assert_int_equal(parse(&cfg, err, sizeof err, h2), EXPLAIN_ARGS_HELP);
}

static void test_parse_bad(void **state)
{
    (void)state;
    static const char *bad[][4] = {
        {"--kernel", "0", NULL},      {"--kernel", "abc", NULL},     {"--kernel", "-3", NULL},
        {"--kernel", "5x5", NULL},    {"--kernel", NULL},            {"-k", NULL},
        {"--input", "12x12", NULL},   {"--input", "12x12x3x1", NULL}, {"--input", "0x12x3", NULL},
        {"--input", "12xx3", NULL},   {"--input=", NULL},            {"--input", "99999x2x2", NULL},
        {"--filters", "0", NULL},     {"--filters", "65537", NULL},  {"--padding", "full", NULL},
        {"--padding", "", NULL},      {"--bogus", NULL},             {"-x", NULL},
        {"stray", NULL},              {"--kernel", "13", NULL},      {"--help=yes", NULL},
        {"--kernel5", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        explain_config cfg;
        char err[256] = "";
        explain_args st = parse(&cfg, err, sizeof err, bad[i]);
        if (st != EXPLAIN_ARGS_ERROR)
            fail_msg("args '%s %s': status %d, want error", bad[i][0], bad[i][1] ? bad[i][1] : "", (int)st);
        if (err[0] == '\0' || strchr(err, '\n'))
            fail_msg("args '%s %s': want one non-empty error line, got \"%s\"", bad[i][0],
                     bad[i][1] ? bad[i][1] : "", err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default),
        cmocka_unit_test(test_same_padding),
        cmocka_unit_test(test_odd_sizes),
        cmocka_unit_test(test_effnet_not_applicable),
        cmocka_unit_test(test_overflow_and_limits),
        cmocka_unit_test(test_parse_good),
        cmocka_unit_test(test_parse_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
