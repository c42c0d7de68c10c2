/* test_bwd_isa.c — the CPU backward kernels' flavours agree: for conv2d (1x1 direct, 2x1 stride
 * (1,2) as in EffNet blocks, 3x3 padded grouped), depthwise (1x3, 3x1, 3x3, 5x5 and an odd
 * kernel; dm 1 and 2; strides; padding; bias), max/avg pooling (windows that tile the input and
 * ones that overlap or pad), batch norm (and its training forward), relu, leaky relu, sigmoid,
 * tanh, elu, clip, dropout, flatten and dense, every instruction-set flavour this CPU has (scalar, AVX2, AVX-512; NEON on
 * AArch64) on 1, 2 and 3 threads, in both modes (accumulate into random d_in / d_param, and
 * overwrite: d_in starts as NaN and must come out fully written) matches the scalar accumulate
 * run to 1e-5 relative (sums over many pixels are ordered differently per thread count); the
 * largest difference seen per flavour is printed at the end. The values themselves are checked
 * against PyTorch autograd by tests/oracle/check_grads.py and by finite differences in
 * test_grad_fd.c; this test covers the flavours that those, running on one machine, only see one
 * of. Every failure prints its configuration. Plus the accuracy of the CPU's sigmoid / tanh /
 * elu polynomials over their whole range in every flavour (test_pointwise_accuracy). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nn/cpu/cpu.h"

#define TOL 1e-5

static nn_pool *g_pools[4]; /* [threads]: NULL for 1 */

static uint64_t g_rng = 0x243F6A8885A308D3ull;
static float frand(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (float)((double)(g_rng >> 11) / (double)(1ull << 53) * 2.0 - 1.0);
}

static float *rnd(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof(float));
    assert_non_null(p);
    for (size_t i = 0; i < n; i++) p[i] = frand();
    return p;
}

static float *dup(const float *s, size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof(float));
    assert_non_null(p);
    memcpy(p, s, n * sizeof(float));
    return p;
}

static const char *isa_name(nn_cpu_isa isa) { return nn_cpu_isa_name(isa); }

/* A backward case: the layer, its input, params (engine layout), forward output and aux. */
typedef struct {
    char cfg[200];
    nn_layer l;
    int batch;
    float *x, *dy, *p[4], *aux, *y; /* y: the forward's output (sigmoid / tanh backward), or NULL */
    size_t nin, nout, np[4];
    int n_p;          /* params with gradients (weight, bias) */
} bcase;

/* Runs the backward with isa/threads/overwrite; d_in starts at din0 (or NaN when overwriting),
 * d_p at dp0; results into din/dp (caller frees). */
static void run_bwd(const bcase *c, nn_cpu_isa isa, int threads, bool overwrite, const float *din0,
                    float *const dp0[4], float **din, float *dp[4])
{
    const size_t ns = cpu_bwd_scratch_floats(&c->l, c->batch, threads) + 16;
    float *scratch = malloc(ns * sizeof(float));
    assert_non_null(scratch);
    *din = dup(din0, c->nin);
    if (overwrite)
        for (size_t i = 0; i < c->nin; i++) (*din)[i] = NAN;
    cpu_bwd_args a = {.l = &c->l, .dy = c->dy, .out = c->y, .aux = c->aux, .batch = c->batch, .scratch = scratch,
                      .pool = g_pools[threads], .overwrite = overwrite, .isa = isa};
    a.in[0] = c->x;
    a.d_in[0] = *din;
    for (int r = 0; r < 4; r++) {
        a.p[r] = c->p[r];
        dp[r] = r < c->n_p ? dup(dp0[r], c->np[r]) : NULL;
        a.d_p[r] = dp[r];
    }
    cpu_backward(&a);
    free(scratch);
}

static double g_maxdiff[NN_CPU_ISA_NEON + 1]; /* per flavour: largest |got - want| / max(1, |want|) */

static bool close_all(const float *got, const float *want, const float *base, size_t n, nn_cpu_isa isa,
                      const char *cfg, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        const double g = base ? (double)got[i] + base[i] : got[i]; /* overwrite: got + start = accumulated */
        const double scale = fmax(1.0, fabs((double)want[i]));
        if (fabs(g - want[i]) / scale > g_maxdiff[isa]) g_maxdiff[isa] = fabs(g - want[i]) / scale;
        if (!(fabs(g - want[i]) <= TOL * scale)) {
            print_error("FAIL [%s]: %s element %zu of %zu: got %.9g want %.9g\n", cfg, what, i, n, g, (double)want[i]);
            return false;
        }
    }
    return true;
}

static int check_case(bcase *c)
{
    static const nn_cpu_isa all[] = {NN_CPU_ISA_SCALAR, NN_CPU_ISA_AVX2, NN_CPU_ISA_AVX512, NN_CPU_ISA_NEON};
    nn_cpu_isa isas[4];
    int n_isa = 0;
    for (int i = 0; i < 4; i++) /* every flavour this CPU runs: x86-64 avx2/avx512, AArch64 neon */
        if (nn_cpu_isa_supported(all[i])) isas[n_isa++] = all[i];
    float *din0 = rnd(c->nin), *dp0[4] = {0};
    for (int r = 0; r < c->n_p; r++) dp0[r] = rnd(c->np[r]);
    float *ref, *ref_p[4];
    run_bwd(c, NN_CPU_ISA_SCALAR, 1, false, din0, dp0, &ref, ref_p);
    int failed = 0;
    for (int ii = 0; ii < n_isa; ii++)
        for (int t = 1; t <= 3; t++)
            for (int ow = 0; ow < 2; ow++) {
                if (ow && !cpu_bwd_overwrites(&c->l)) continue;
                char cfg[300];
                snprintf(cfg, sizeof cfg, "%s isa=%s threads=%d %s", c->cfg, isa_name(isas[ii]), t,
                         ow ? "overwrite" : "accumulate");
                float *din, *dp[4];
                run_bwd(c, isas[ii], t, ow, din0, dp0, &din, dp);
                bool ok = close_all(din, ref, ow ? din0 : NULL, c->nin, isas[ii], cfg, "d_in");
                for (int r = 0; r < c->n_p && ok; r++) ok = close_all(dp[r], ref_p[r], NULL, c->np[r], isas[ii], cfg, r ? "d_bias" : "d_weight");
                failed += !ok;
                free(din);
                for (int r = 0; r < 4; r++) free(dp[r]);
            }
    free(ref);
    free(din0);
    for (int r = 0; r < 4; r++) free(ref_p[r]), free(dp0[r]);
    free(c->x), free(c->dy), free(c->aux), free(c->y);
    for (int r = 0; r < 4; r++) free(c->p[r]);
    return failed;
}

/* Sizes the case's buffers for layer l (in/out shapes set) with random input, dy and params. */
static void setup(bcase *c, int batch, int n_p, size_t np0, size_t np1)
{
    c->batch = batch;
    c->nin = (size_t)batch * nn_shape_size(c->l.in);
    c->nout = (size_t)batch * nn_shape_size(c->l.out);
    c->x = rnd(c->nin);
    c->dy = rnd(c->nout);
    c->n_p = n_p;
    c->np[0] = np0, c->np[1] = np1;
    if (np0) c->p[0] = rnd(np0);
    if (np1) c->p[1] = rnd(np1);
}

static int out_dim(int in, int k, int s, int p0, int p1) { return (in + p0 + p1 - k) / s + 1; }

static int conv_case(int batch, int ih, int iw, int cin, int cout, int G, int kh, int kw, int sh, int sw, int pt, int pb,
                     int pl, int pr, bool bias)
{
    bcase c = {0};
    nn_layer *l = &c.l;
    *l = (nn_layer){.op = NN_OP_CONV2D, .n_inputs = 1, .kh = kh, .kw = kw, .sh = sh, .sw = sw, .pad_top = pt,
                    .pad_bottom = pb, .pad_left = pl, .pad_right = pr, .groups = G, .units = cout, .has_bias = bias};
    l->in = (nn_shape){ih, iw, cin, 0, 0, 0};
    l->out = (nn_shape){out_dim(ih, kh, sh, pt, pb), out_dim(iw, kw, sw, pl, pr), cout, 0, 0, 0};
    snprintf(c.cfg, sizeof c.cfg, "conv2d batch=%d in=%dx%dx%d out_c=%d g=%d k=%dx%d s=%dx%d pad=%d,%d,%d,%d bias=%d",
             batch, ih, iw, cin, cout, G, kh, kw, sh, sw, pt, pb, pl, pr, bias);
    setup(&c, batch, bias ? 2 : 1, (size_t)kh * kw * cin / G * cout, bias ? (size_t)cout : 0);
    return check_case(&c);
}

static int dw_case(int batch, int ih, int iw, int C, int dm, int kh, int kw, int sh, int sw, int pt, int pb, int pl,
                   int pr, bool bias)
{
    bcase c = {0};
    nn_layer *l = &c.l;
    *l = (nn_layer){.op = NN_OP_DEPTHWISE, .n_inputs = 1, .kh = kh, .kw = kw, .sh = sh, .sw = sw, .pad_top = pt,
                    .pad_bottom = pb, .pad_left = pl, .pad_right = pr, .depth_multiplier = dm, .has_bias = bias};
    l->in = (nn_shape){ih, iw, C, 0, 0, 0};
    l->out = (nn_shape){out_dim(ih, kh, sh, pt, pb), out_dim(iw, kw, sw, pl, pr), C * dm, 0, 0, 0};
    snprintf(c.cfg, sizeof c.cfg, "depthwise batch=%d in=%dx%dx%d dm=%d k=%dx%d s=%dx%d pad=%d,%d,%d,%d bias=%d", batch,
             ih, iw, C, dm, kh, kw, sh, sw, pt, pb, pl, pr, bias);
    setup(&c, batch, bias ? 2 : 1, (size_t)kh * kw * C * dm, bias ? (size_t)C * dm : 0);
    return check_case(&c);
}

static int pool_case(nn_op op, bool count_pad, int batch, int ih, int iw, int C, int kh, int kw, int sh, int sw, int pt,
                     int pb, int pl, int pr)
{
    bcase c = {0};
    nn_layer *l = &c.l;
    *l = (nn_layer){.op = op, .n_inputs = 1, .kh = kh, .kw = kw, .sh = sh, .sw = sw, .pad_top = pt, .pad_bottom = pb,
                    .pad_left = pl, .pad_right = pr, .count_pad = count_pad};
    l->in = (nn_shape){ih, iw, C, 0, 0, 0};
    l->out = (nn_shape){out_dim(ih, kh, sh, pt, pb), out_dim(iw, kw, sw, pl, pr), C, 0, 0, 0};
    snprintf(c.cfg, sizeof c.cfg, "%s batch=%d in=%dx%dx%d k=%dx%d s=%dx%d pad=%d,%d,%d,%d",
             op == NN_OP_MAXPOOL ? "maxpool" : count_pad ? "avgpool count_pad" : "avgpool", batch, ih, iw, C, kh, kw, sh,
             sw, pt, pb, pl, pr);
    setup(&c, batch, 0, 0, 0);
    return check_case(&c);
}

/* Element-wise layers over [batch][h][w][C]: relu, leaky, dropout (aux = mask), flatten, batch
 * norm (aux = the training forward's mean and 1/std). */
static int ew_case(nn_op op, int batch, int h, int w, int C)
{
    bcase c = {0};
    nn_layer *l = &c.l;
    *l = (nn_layer){.op = op, .n_inputs = 1, .alpha = 0.3f, .rate = 0.5f, .eps = 1e-5f, .momentum = 0.1f,
                    .lo = -0.4f, .hi = 0.5f};
    l->in = (nn_shape){h, w, C, 0, 0, 0};
    l->out = l->in;
    snprintf(c.cfg, sizeof c.cfg, "%s batch=%d in=%dx%dx%d", nn_op_name(op), batch, h, w, C);
    if (op == NN_OP_BATCHNORM) {
        setup(&c, batch, 2, (size_t)C, (size_t)C);
        float *y = rnd(c.nout), *scratch = malloc((cpu_bn_train_scratch_floats(l, batch, 1) + 16) * sizeof(float));
        assert_non_null(scratch);
        c.aux = rnd(2 * (size_t)C);
        cpu_fwd_args f = {.l = l, .out = y, .batch = batch, .scratch = scratch, .p = {c.p[0], c.p[1]}};
        f.in[0] = c.x;
        cpu_batchnorm_forward_train(&f, NULL, NULL, c.aux, NULL);
        free(y), free(scratch);
    } else {
        setup(&c, batch, 0, 0, 0);
        if (op == NN_OP_DROPOUT) {
            c.aux = rnd(c.nout);
            for (size_t i = 0; i < c.nout; i++) c.aux[i] = c.aux[i] < 0 ? 0.0f : 2.0f;
        }
        c.y = malloc(c.nout * sizeof(float)); /* the scalar forward's output, for sigmoid / tanh */
        assert_non_null(c.y);
        cpu_fwd_args f = {.l = l, .out = c.y, .batch = batch, .isa = NN_CPU_ISA_SCALAR};
        f.in[0] = c.x;
        cpu_forward(&f);
    }
    return check_case(&c);
}

static int dense_case(int batch, int h, int w, int C, int units, bool bias)
{
    bcase c = {0};
    nn_layer *l = &c.l;
    *l = (nn_layer){.op = NN_OP_DENSE, .n_inputs = 1, .units = units, .has_bias = bias};
    l->in = (nn_shape){h, w, C, 0, 0, 0};
    l->out = (nn_shape){1, 1, units, 0, 0, 0};
    snprintf(c.cfg, sizeof c.cfg, "dense batch=%d in=%dx%dx%d units=%d bias=%d", batch, h, w, C, units, bias);
    setup(&c, batch, bias ? 2 : 1, nn_shape_size(l->in) * (size_t)units, bias ? (size_t)units : 0);
    return check_case(&c);
}

static void test_conv2d(void **state)
{
    (void)state;
    int failed = 0;
    failed += conv_case(3, 9, 10, 5, 12, 1, 1, 1, 1, 1, 0, 0, 0, 0, false);  /* 1x1 direct */
    failed += conv_case(2, 16, 16, 16, 24, 1, 1, 1, 1, 1, 0, 0, 0, 0, true); /* 1x1 direct, bias */
    failed += conv_case(4, 8, 9, 6, 10, 1, 2, 1, 1, 2, 0, 1, 0, 0, false);   /* EffNet 2x1 s(1,2) */
    failed += conv_case(2, 7, 8, 8, 12, 2, 3, 3, 1, 1, 1, 1, 1, 1, true);    /* 3x3 same, 2 groups */
    failed += conv_case(3, 9, 7, 3, 17, 1, 3, 2, 2, 2, 0, 1, 1, 0, true);    /* asymmetric pad, stride 2 */
    failed += conv_case(1, 30, 30, 4, 8, 1, 1, 1, 1, 1, 0, 0, 0, 0, false);  /* batch 1 */
    if (failed) fail_msg("%d conv2d backward configurations failed (see above)", failed);
}

static void test_depthwise(void **state)
{
    (void)state;
    int failed = 0;
    failed += dw_case(3, 8, 9, 16, 1, 1, 3, 1, 1, 0, 0, 1, 1, false); /* EffNet dw1 */
    failed += dw_case(3, 8, 9, 17, 1, 3, 1, 1, 1, 1, 1, 0, 0, true);  /* EffNet dw2, channel tail */
    failed += dw_case(2, 9, 7, 40, 1, 3, 3, 1, 1, 1, 1, 1, 1, true);
    failed += dw_case(2, 11, 12, 8, 1, 5, 5, 2, 1, 2, 2, 1, 3, false);
    failed += dw_case(2, 7, 6, 5, 1, 2, 4, 1, 2, 0, 1, 2, 1, true);   /* kernel with no unrolled variant */
    failed += dw_case(3, 6, 7, 3, 2, 3, 3, 1, 1, 1, 1, 1, 1, true);   /* dm 2 */
    failed += dw_case(1, 10, 10, 16, 1, 3, 3, 2, 2, 0, 1, 0, 1, false);
    if (failed) fail_msg("%d depthwise backward configurations failed (see above)", failed);
}

static void test_pool(void **state)
{
    (void)state;
    int failed = 0;
    failed += pool_case(NN_OP_MAXPOOL, false, 3, 8, 9, 16, 2, 1, 2, 1, 0, 0, 0, 0); /* EffNet: tiles */
    failed += pool_case(NN_OP_MAXPOOL, false, 2, 8, 8, 70, 2, 2, 2, 2, 0, 0, 0, 0); /* tiles, > 64 channels */
    failed += pool_case(NN_OP_MAXPOOL, false, 2, 7, 9, 5, 3, 3, 2, 2, 1, 1, 1, 1);  /* overlap + padding */
    failed += pool_case(NN_OP_MAXPOOL, false, 2, 7, 9, 5, 2, 2, 2, 2, 0, 0, 0, 0);  /* leftover row/column */
    failed += pool_case(NN_OP_AVGPOOL, false, 3, 8, 9, 16, 2, 1, 2, 1, 0, 0, 0, 0);
    failed += pool_case(NN_OP_AVGPOOL, false, 2, 7, 9, 5, 3, 3, 1, 1, 1, 1, 1, 1);
    failed += pool_case(NN_OP_AVGPOOL, true, 2, 7, 9, 5, 3, 3, 2, 2, 1, 0, 2, 1);  /* count_pad, asymmetric */
    if (failed) fail_msg("%d pooling backward configurations failed (see above)", failed);
}

/* The batch-norm training forward (batch statistics, normalised output, saved mean and 1/std,
 * running mean and variance) of every flavour and thread count against scalar on 1 thread. */
static int bn_train_case(int batch, int h, int w, int C)
{
    nn_layer l = {.op = NN_OP_BATCHNORM, .n_inputs = 1, .eps = 1e-5f, .momentum = 0.1f};
    l.in = l.out = (nn_shape){h, w, C, 0, 0, 0};
    const size_t n = (size_t)batch * h * w * C;
    float *x = rnd(n), *gamma = rnd((size_t)C), *beta = rnd((size_t)C), *run0 = rnd(2 * (size_t)C);
    for (int c = 0; c < C; c++) run0[C + c] = fabsf(run0[C + c]); /* a variance */
    const size_t ns = cpu_bn_train_scratch_floats(&l, batch, 3) + 16;
    float *scratch = malloc(ns * sizeof(float));
    assert_non_null(scratch);
    float *got[2][3]; /* [reference, flavour][y, saved, running mean + var] */
    const size_t len[3] = {n, 2 * (size_t)C, 2 * (size_t)C};
    static const nn_cpu_isa all[] = {NN_CPU_ISA_SCALAR, NN_CPU_ISA_AVX2, NN_CPU_ISA_AVX512, NN_CPU_ISA_NEON};
    int failed = 0;
    for (int run = -1; run < 4 * 3; run++) { /* -1: the reference (scalar, 1 thread) */
        const nn_cpu_isa isa = run < 0 ? NN_CPU_ISA_SCALAR : all[run / 3];
        const int threads = run < 0 ? 1 : run % 3 + 1, k = run >= 0;
        if (!nn_cpu_isa_supported(isa)) continue;
        for (int i = 0; i < 3; i++) got[k][i] = i == 2 ? dup(run0, len[2]) : rnd(len[i]);
        cpu_fwd_args f = {.l = &l, .out = got[k][0], .batch = batch, .scratch = scratch, .pool = g_pools[threads],
                          .p = {gamma, beta}, .isa = isa};
        f.in[0] = x;
        cpu_batchnorm_forward_train(&f, got[k][2], got[k][2] + C, got[k][1], NULL);
        if (!k) continue;
        char cfg[200];
        snprintf(cfg, sizeof cfg, "batch_norm training forward batch=%d in=%dx%dx%d isa=%s threads=%d", batch, h, w,
                 C, isa_name(isa), threads);
        static const char *const what[3] = {"y", "saved mean / 1/std", "running mean / var"};
        bool ok = true;
        for (int i = 0; i < 3 && ok; i++) ok = close_all(got[1][i], got[0][i], NULL, len[i], isa, cfg, what[i]);
        failed += !ok;
        for (int i = 0; i < 3; i++) free(got[1][i]);
    }
    for (int i = 0; i < 3; i++) free(got[0][i]);
    free(x), free(gamma), free(beta), free(run0), free(scratch);
    return failed;
}

static void test_bn_forward_train(void **state)
{
    (void)state;
    int failed = bn_train_case(3, 9, 10, 17) + bn_train_case(4, 16, 16, 16) + bn_train_case(32, 1, 1, 130);
    if (failed) fail_msg("%d batch-norm training forward configurations failed (see above)", failed);
}

static void test_elementwise(void **state)
{
    (void)state;
    int failed = 0;
    const nn_op ops[] = {NN_OP_RELU, NN_OP_LEAKY_RELU, NN_OP_DROPOUT, NN_OP_FLATTEN, NN_OP_BATCHNORM,
                         NN_OP_SIGMOID, NN_OP_TANH, NN_OP_ELU, NN_OP_CLIP};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        failed += ew_case(ops[i], 3, 9, 10, 17);
        failed += ew_case(ops[i], 4, 16, 16, 16);
        failed += ew_case(ops[i], 32, 1, 1, 130);
    }
    failed += dense_case(5, 3, 4, 6, 20, true);
    failed += dense_case(32, 1, 1, 256, 16, false);
    if (failed) fail_msg("%d element-wise / dense backward configurations failed (see above)", failed);
}

/* sigmoid, tanh, elu (alpha 0.7) over their whole range in every flavour against the double
 * functions (their CPU versions are polynomials, activation.c): within 6e-7 relative (1e-37
 * absolute for the tails below e^-86), a NaN gives NaN, +-inf the limits; the elu derivative
 * likewise (backward with dy = 1, overwrite). */
static void test_pointwise_accuracy(void **state)
{
    (void)state;
    enum { N = 40000 + 12 };
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    float *d = malloc(N * sizeof *d), *g = malloc(N * sizeof *g);
    assert_true(x && y && d && g);
    for (int i = 0; i < 40000; i++) /* -100 .. 100, denser near 0: sign * 100 * u^3 */
        x[i] = (float)((i % 2 ? 1 : -1) * 100.0 * pow((i / 2) / 20000.0, 3.0));
    const float special[12] = {0.0f, -0.0f, 1e-30f, -1e-30f, 0.625f, -0.625f, -0.25f, 88.0f, -87.0f, INFINITY,
                               -INFINITY, NAN};
    memcpy(x + 40000, special, sizeof special);
    for (size_t i = 0; i < N; i++) g[i] = 1.0f;
    static const nn_cpu_isa all[] = {NN_CPU_ISA_SCALAR, NN_CPU_ISA_AVX2, NN_CPU_ISA_AVX512, NN_CPU_ISA_NEON};
    const nn_op ops[] = {NN_OP_SIGMOID, NN_OP_TANH, NN_OP_ELU};
    for (int k = 0; k < 3; k++)
        for (int ii = 0; ii < 4; ii++) {
            if (!nn_cpu_isa_supported(all[ii])) continue;
            nn_layer l = {.op = ops[k], .n_inputs = 1, .alpha = 0.7f};
            l.in = l.out = (nn_shape){1, 1, N, 0, 0, 0};
            cpu_fwd_args a = {.l = &l, .out = y, .in = {x}, .batch = 1, .isa = all[ii]};
            cpu_forward(&a);
            cpu_bwd_args b = {.l = &l, .d_in = {d}, .dy = g, .in = {x}, .out = y, .batch = 1, .overwrite = true,
                              .isa = all[ii]};
            cpu_backward(&b);
            for (size_t i = 0; i < N; i++) {
                const double v = x[i], e = ops[k] == NN_OP_ELU ? (v > 0 ? 1.0 : 0.7 * exp(v)) : 0.0;
                const double w = ops[k] == NN_OP_SIGMOID ? 1.0 / (1.0 + exp(-v))
                                 : ops[k] == NN_OP_TANH  ? tanh(v)
                                                         : (v > 0 ? v : 0.7 * expm1(v));
                const bool ok = isnan(v) ? isnan(y[i]) && (ops[k] != NN_OP_ELU || isnan(d[i]))
                                         : (y[i] == w || fabs(y[i] - w) <= 6e-7 * fabs(w) + 1e-37) &&
                                               (ops[k] != NN_OP_ELU || d[i] == e || fabs(d[i] - e) <= 6e-7 * e + 1e-37);
                if (!ok)
                    fail_msg("%s isa=%s x=%.9g: y %.9g (want %.9g), elu dy/dx %.9g (want %.9g)", nn_op_name(ops[k]),
                             isa_name(all[ii]), v, (double)y[i], w, (double)d[i], e);
            }
        }
    free(x), free(y), free(d), free(g);
}

static int setup_pools(void **state)
{
    (void)state;
    nn_err err;
    for (int t = 2; t <= 3; t++)
        if (nn_pool_create(&g_pools[t], t, &err) != NN_OK) return -1;
    return 0;
}

static int free_pools(void **state)
{
    (void)state;
    for (int t = 2; t <= 3; t++) nn_pool_free(g_pools[t]);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv2d),
        cmocka_unit_test(test_depthwise),
        cmocka_unit_test(test_pool),
        cmocka_unit_test(test_elementwise),
        cmocka_unit_test(test_pointwise_accuracy),
        cmocka_unit_test(test_bn_forward_train),
    };
    const int rc = cmocka_run_group_tests(tests, setup_pools, free_pools);
    for (int i = NN_CPU_ISA_SCALAR; i <= NN_CPU_ISA_NEON; i++)
        if (nn_cpu_isa_supported((nn_cpu_isa)i))
            printf("largest difference from the scalar 1-thread run, isa=%s on 1-3 threads: %.3g (relative; tolerance %.0e)\n",
                   isa_name((nn_cpu_isa)i), g_maxdiff[i], TOL);
    return rc;
}
