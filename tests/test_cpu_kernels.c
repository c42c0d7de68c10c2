/* test_cpu_kernels.c — CPU backend kernels (src/nn/cpu) against naive reference loops that
 * accumulate in double: thread pool, SGEMM (every instruction-set flavour this CPU has: scalar, AVX2,
 * AVX-512 on x86-64, NEON on AArch64; odd sizes,
 * padded strides, accumulate, bias, activations, 1 and 2 threads), conv2d, depthwise, pooling,
 * batch norm, activations, dense, channel shuffle, add / concat / copy, and in-place aliasing.
 * Tolerance: |got - want| <= 1e-5 * max(1, |want|, S / sqrt(n)) where S is the sum of the |terms| of
 * the n-term dot product behind the element (float32 rounding grows with S, not with |want|: a
 * 1024-term sum of O(1) terms that cancels to O(1) is only good to ~1e-5 absolute in float32).
 * Every failure prints its configuration. */
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
#define GUARD 64 /* canary floats after every output and scratch buffer */
#define CANARY 12345.0f

static nn_pool *g_pool2; /* 2 threads */
static nn_pool *g_pool3; /* 3 threads: uneven splits */

/* ---------------- helpers ---------------- */

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static float frand(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (float)((double)(g_rng >> 11) / (double)(1ull << 53) * 2.0 - 1.0);
}

/* n floats of U(-1, 1) followed by GUARD canaries. */
static float *canary_buf(size_t n)
{
    float *p = malloc((n + GUARD) * sizeof(float));
    assert_non_null(p);
    for (size_t i = 0; i < n + GUARD; i++) p[i] = CANARY;
    return p;
}

static float *rnd_buf(size_t n)
{
    float *p = canary_buf(n);
    for (size_t i = 0; i < n; i++) p[i] = frand();
    return p;
}

/* n zeroed doubles (reference results). */
static double *dbuf(size_t n)
{
    double *p = calloc(n ? n : 1, sizeof(double));
    assert_non_null(p);
    return p;
}

static double act_ref(double v, nn_act act, float alpha)
{
    if (act == NN_ACT_RELU) return v > 0 ? v : 0;
    if (act == NN_ACT_LEAKY) return v < 0 ? v * alpha : v;
    return v;
}

static const char *act_name(nn_act a) { return a == NN_ACT_RELU ? "relu" : a == NN_ACT_LEAKY ? "leaky" : "none"; }

/* Compares n results (mag: per-element conditioning S/sqrt(n), or NULL); on the first mismatch
 * prints cfg, the index and both values. */
static bool close_to(const float *got, const double *want, const double *mag, size_t n, const char *cfg)
{
    for (size_t i = 0; i < n; i++) {
        double tol = TOL * fmax(fmax(1.0, fabs(want[i])), mag ? mag[i] : 0.0);
        if (!(fabs((double)got[i] - want[i]) <= tol)) {
            print_error("FAIL [%s]: element %zu of %zu: got %.9g want %.9g (|diff| %.3g > tol %.3g)\n", cfg, i, n,
                        (double)got[i], want[i], fabs((double)got[i] - want[i]), tol);
            return false;
        }
    }
    return true;
}

static bool guard_ok(const float *p, size_t n, const char *cfg, const char *what)
{
    for (size_t i = 0; i < GUARD; i++)
        if (p[n + i] != CANARY) {
            print_error("FAIL [%s]: %s overrun: canary %zu after %zu floats was written\n", cfg, what, i, n);
            return false;
        }
    return true;
}

static nn_pool *pool_for(int threads) { return threads == 1 ? NULL : threads == 2 ? g_pool2 : g_pool3; }

/* Every kernel flavour this CPU can run (the portable one first): scalar, then avx2 and avx512
 * on x86-64, neon on AArch64. */
static int isa_list(nn_cpu_isa isas[4])
{
    static const nn_cpu_isa all[] = {NN_CPU_ISA_SCALAR, NN_CPU_ISA_AVX2, NN_CPU_ISA_AVX512, NN_CPU_ISA_NEON};
    int n = 0;
    for (int i = 0; i < 4; i++)
        if (nn_cpu_isa_supported(all[i])) isas[n++] = all[i];
    return n;
}

static const char *isa_name(nn_cpu_isa isa) { return nn_cpu_isa_name(isa); }

/* Runs cpu_forward for layer l (params p) on every thread count; compares with ref. */
static void run_layer(const nn_layer *l, const float *const *in, int n_in, const float *const p[4], int batch,
                      const double *ref, const double *mag, const char *cfg)
{
    const size_t on = (size_t)batch * nn_shape_size(l->out);
    nn_cpu_isa isas[4];
    const int n_isa = isa_list(isas);
    for (int run = 0; run < 3 * n_isa; run++) {
        const int threads = 1 + run % 3;
        const nn_cpu_isa isa = isas[run / 3];
        char c2[512];
        snprintf(c2, sizeof c2, "%s threads=%d isa=%s", cfg, threads, isa_name(isa));
        size_t sn = cpu_scratch_floats(l, batch, threads);
        float *scratch = canary_buf(sn);
        float *out = canary_buf(on);
        cpu_fwd_args a = {.l = l, .out = out, .batch = batch, .scratch = scratch, .pool = pool_for(threads), .isa = isa};
        for (int k = 0; k < n_in; k++) a.in[k] = in[k];
        for (int k = 0; k < 4; k++) a.p[k] = p[k];
        cpu_forward(&a);
        bool ok = close_to(out, ref, mag, on, c2) && guard_ok(out, on, c2, "output") && guard_ok(scratch, sn, c2, "scratch");
        free(out);
        free(scratch);
        if (!ok) fail_msg("%s", c2);
    }
}

/* ---------------- thread pool ---------------- */

typedef struct {
    int *hits;
    int max_thread;
    int threads;
    int bad;
} pool_probe;

static void probe_fn(void *ctx, int begin, int end, int thread)
{
    pool_probe *p = ctx;
    if (thread < 0 || thread >= p->threads || begin > end) __atomic_add_fetch(&p->bad, 1, __ATOMIC_RELAXED);
    for (int i = begin; i < end; i++) __atomic_add_fetch(&p->hits[i], 1, __ATOMIC_RELAXED);
}

static void test_pool_run(void **state)
{
    (void)state;
    nn_err err;
    nn_pool *bad = NULL;
    assert_int_equal(nn_pool_create(&bad, 0, &err), NN_E_ARG);
    assert_null(bad);
    int ns[] = {0, 1, 2, 3, 5, 17, 64, 1000};
    for (int threads = 1; threads <= 4; threads++) {
        nn_pool *p = NULL;
        assert_int_equal(nn_pool_create(&p, threads, &err), NN_OK);
        assert_int_equal(nn_pool_threads(p), threads);
        int hits[1000];
        for (int rep = 0; rep < 3000; rep++) {
            int n = ns[rep % 8];
            memset(hits, 0, sizeof hits);
            pool_probe pr = {.hits = hits, .threads = threads};
            nn_pool_run(p, n, probe_fn, &pr);
            for (int i = 0; i < n; i++)
                if (hits[i] != 1) fail_msg("pool threads=%d rep=%d n=%d: item %d ran %d times", threads, rep, n, i, hits[i]);
            if (pr.bad) fail_msg("pool threads=%d rep=%d n=%d: bad thread index or range", threads, rep, n);
        }
        nn_pool_free(p);
    }
    int hits[7] = {0};
    pool_probe pr = {.hits = hits, .threads = 1};
    nn_pool_run(NULL, 7, probe_fn, &pr);
    for (int i = 0; i < 7; i++) assert_int_equal(hits[i], 1);
    assert_int_equal(nn_pool_threads(NULL), 1);
    nn_pool_free(NULL);
}

/* ---------------- SGEMM ---------------- */

/* at: A stored transposed ([K][lda], lda >= M: nn_sgemm_at_isa, no bias or activation). */
static bool gemm_case_x(nn_cpu_isa isa, int threads, bool at, int M, int N, int K, int pad, bool acc, bool use_bias,
                        nn_act act)
{
    const int lda = at ? M + pad : K + pad, ldb = N + pad * 2, ldc = N + pad * 3;
    const float alpha = 0.1f;
    float *A = rnd_buf((size_t)(at ? K : M) * lda + 1), *B = rnd_buf((size_t)K * ldb), *C = rnd_buf((size_t)M * ldc);
    float *bias = use_bias ? rnd_buf((size_t)N) : NULL;
    double *want = dbuf((size_t)M * ldc), *mag = dbuf((size_t)M * ldc);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < ldc; j++) {
            double v = C[(size_t)i * ldc + j];
            if (j < N) {
                double s = acc ? v : 0.0, abs_sum = 0;
                for (int k = 0; k < K; k++) {
                    double t = (double)A[at ? (size_t)k * lda + i : (size_t)i * lda + k] * B[(size_t)k * ldb + j];
                    s += t, abs_sum += fabs(t);
                }
                if (bias) s += bias[j];
                v = act_ref(s, act, alpha);
                mag[(size_t)i * ldc + j] = K ? abs_sum / sqrt((double)K) : 0;
            }
            want[(size_t)i * ldc + j] = v; /* columns past N must be untouched */
        }
    size_t wn = nn_sgemm_ws_floats(M, N, K, threads);
    float *ws = canary_buf(wn);
    if (at) nn_sgemm_at_isa(isa, pool_for(threads), M, N, K, A, lda, B, ldb, C, ldc, acc, ws);
    else nn_sgemm_isa(isa, pool_for(threads), M, N, K, A, lda, B, ldb, C, ldc, bias, acc, act, alpha, ws);
    char cfg[256];
    snprintf(cfg, sizeof cfg,
             "sgemm%s isa=%s threads=%d M=%d N=%d K=%d lda=%d ldb=%d ldc=%d accumulate=%d bias=%d act=%s",
             at ? "_at" : "", isa_name(isa), threads, M, N, K, lda, ldb, ldc, acc, use_bias, act_name(act));
    bool ok = close_to(C, want, mag, (size_t)M * ldc, cfg) && guard_ok(C, (size_t)M * ldc, cfg, "C") &&
              guard_ok(ws, wn, cfg, "workspace");
    if (!ok) print_error("%s\n", cfg);
    free(A), free(B), free(C), free(bias), free(want), free(mag), free(ws);
    return ok;
}

static bool gemm_case(nn_cpu_isa isa, int threads, int M, int N, int K, int pad, bool acc, bool use_bias, nn_act act)
{
    return gemm_case_x(isa, threads, false, M, N, K, pad, acc, use_bias, act);
}

static void test_sgemm(void **state)
{
    (void)state;
    nn_cpu_isa isas[4];
    const int n_isa = isa_list(isas);
    static const int sz[][3] = {
        {1, 1, 1},     {1, 10, 300},  {1, 300, 7},   {2, 17, 33},   {3, 5, 0},     {5, 31, 2},    {6, 16, 16},
        {7, 8, 9},     {13, 47, 64},  {14, 32, 1},   {15, 33, 31},  {16, 64, 128}, {27, 100, 5},  {28, 17, 300},
        {29, 48, 77},  {31, 255, 3},  {64, 64, 64},  {100, 1, 100}, {127, 129, 65}, {300, 31, 17}, {255, 96, 257},
        {45, 70, 640}, {20, 1100, 40}, {350, 40, 33}, {13, 200, 512}, {40, 130, 1024},
    };
    int failed = 0;
    for (int ii = 0; ii < n_isa; ii++)
        for (size_t s = 0; s < sizeof sz / sizeof sz[0]; s++)
            for (int v = 0; v < 4; v++) {
                const int M = sz[s][0], N = sz[s][1], K = sz[s][2];
                const int pad = v == 0 ? 0 : v * 3 + 1;
                const bool acc = v & 1, bias = v >= 2;
                const nn_act act = (nn_act)((s + v) % 3);
                for (int t = 1; t <= 3; t++)
                    if (!gemm_case(isas[ii], t, M, N, K, pad, acc, bias, act)) failed++;
                /* A transposed (the weight-gradient GEMMs): no bias or activation */
                if (!gemm_case_x(isas[ii], 1 + v % 2, true, M, N, K, pad, acc, false, NN_ACT_NONE)) failed++;
            }
    /* the padded-copy path for row strides that are multiples of 2 KiB */
    for (int ii = 0; ii < n_isa; ii++)
        for (int t = 1; t <= 2; t++)
            if (!gemm_case(isas[ii], t, 70, 100, 512, 0, false, true, NN_ACT_RELU)) failed++;
    if (failed) fail_msg("%d sgemm configurations failed (see above)", failed);
}

/* ---------------- conv2d ---------------- */

typedef struct {
    int batch, ih, iw, cin, cout, kh, kw, sh, sw, pt, pb, pl, pr, groups;
    bool bias;
    nn_act act;
} conv_cfg;

static void conv_case(const conv_cfg *c)
{
    nn_layer l = {0};
    l.op = NN_OP_CONV2D;
    l.n_inputs = 1;
    l.kh = c->kh, l.kw = c->kw, l.sh = c->sh, l.sw = c->sw;
    l.pad_top = c->pt, l.pad_bottom = c->pb, l.pad_left = c->pl, l.pad_right = c->pr;
    l.groups = c->groups, l.units = c->cout, l.has_bias = c->bias, l.act = c->act, l.act_alpha = 0.2f;
    const int oh = (c->ih + c->pt + c->pb - c->kh) / c->sh + 1, ow = (c->iw + c->pl + c->pr - c->kw) / c->sw + 1;
    l.in = (nn_shape){c->ih, c->iw, c->cin, 0, 0, 0};
    l.out = (nn_shape){oh, ow, c->cout, 0, 0, 0};
    const int G = c->groups, cg = c->cin / G, og = c->cout / G;
    float *x = rnd_buf((size_t)c->batch * nn_shape_size(l.in));
    float *w = rnd_buf((size_t)G * c->kh * c->kw * cg * og);
    float *b = c->bias ? rnd_buf((size_t)c->cout) : NULL;
    const size_t on = (size_t)c->batch * nn_shape_size(l.out);
    double *ref = dbuf(on), *mag = dbuf(on);
    for (int n = 0; n < c->batch; n++)
        for (int y = 0; y < oh; y++)
            for (int xo = 0; xo < ow; xo++)
                for (int co = 0; co < c->cout; co++) {
                    const int g = co / og, j = co % og;
                    double s = b ? b[co] : 0.0, abs_sum = 0;
                    for (int kh = 0; kh < c->kh; kh++)
                        for (int kw = 0; kw < c->kw; kw++) {
                            int iy = y * c->sh - c->pt + kh, ix = xo * c->sw - c->pl + kw;
                            if (iy < 0 || iy >= c->ih || ix < 0 || ix >= c->iw) continue;
                            for (int ci = 0; ci < cg; ci++) {
                                double t = (double)x[(((size_t)n * c->ih + iy) * c->iw + ix) * c->cin + (size_t)g * cg + ci] *
                                           w[((((size_t)g * c->kh + kh) * c->kw + kw) * cg + ci) * og + j];
                                s += t, abs_sum += fabs(t);
                            }
                        }
                    const size_t o = (((size_t)n * oh + y) * ow + xo) * c->cout + co;
                    ref[o] = act_ref(s, c->act, 0.2f);
                    mag[o] = abs_sum / sqrt((double)(c->kh * c->kw * cg));
                }
    char cfg[320];
    snprintf(cfg, sizeof cfg,
             "conv2d batch=%d in=%dx%dx%d cout=%d k=%dx%d s=%dx%d pad(t,b,l,r)=%d,%d,%d,%d groups=%d bias=%d act=%s",
             c->batch, c->ih, c->iw, c->cin, c->cout, c->kh, c->kw, c->sh, c->sw, c->pt, c->pb, c->pl, c->pr, G,
             c->bias, act_name(c->act));
    const float *in[1] = {x};
    const float *p[4] = {w, b, NULL, NULL};
    run_layer(&l, in, 1, p, c->batch, ref, mag, cfg);
    free(x), free(w), free(b), free(ref), free(mag);
}

static void test_conv2d(void **state)
{
    (void)state;
    static const int ks[][2] = {{1, 1}, {3, 3}, {5, 5}, {1, 3}, {3, 1}, {2, 1}};
    static const int ss[][2] = {{1, 1}, {2, 2}, {1, 2}, {2, 1}};
    static const int gs[] = {1, 2, 4};
    int i = 0;
    for (size_t k = 0; k < 6; k++)
        for (size_t s = 0; s < 4; s++)
            for (size_t g = 0; g < 3; g++, i++) {
                conv_cfg c = {.batch = 1 + i % 2, .ih = 7 + i % 4, .iw = 6 + i % 5, .cin = 4 * gs[g] * (1 + i % 2),
                              .cout = 4 * gs[g] * (1 + (i / 3) % 3), .kh = ks[k][0], .kw = ks[k][1], .sh = ss[s][0],
                              .sw = ss[s][1], .groups = gs[g], .bias = i % 3 != 1, .act = (nn_act)(i % 3)};
                switch (i % 4) { /* none, symmetric 'same', asymmetric, big-bottom/right */
                case 1: c.pt = c.pb = (c.kh - 1) / 2, c.pl = c.pr = (c.kw - 1) / 2; break;
                case 2: c.pt = c.kh > 1, c.pb = c.kh - 1 - c.pt, c.pl = c.kw - 1, c.pr = 0; break;
                case 3: c.pt = 0, c.pb = c.kh - 1, c.pl = 0, c.pr = c.kw - 1; break;
                default: break;
                }
                conv_case(&c);
            }
    /* larger: several im2col chunks, thread splits over pixels and over channels, odd channels */
    conv_cfg big[] = {
        {2, 33, 35, 16, 48, 3, 3, 1, 1, 1, 1, 1, 1, 1, true, NN_ACT_RELU},
        {3, 20, 24, 64, 32, 3, 3, 2, 2, 0, 1, 0, 1, 1, false, NN_ACT_LEAKY},
        {1, 4, 4, 64, 200, 3, 3, 1, 1, 1, 1, 1, 1, 1, true, NN_ACT_NONE},
        {1, 2, 2, 96, 300, 1, 1, 1, 1, 0, 0, 0, 0, 1, true, NN_ACT_RELU},
        {4, 17, 13, 24, 40, 1, 1, 1, 1, 0, 0, 0, 0, 2, true, NN_ACT_LEAKY},
        {2, 16, 16, 3, 17, 5, 5, 2, 2, 2, 2, 2, 2, 1, true, NN_ACT_RELU},
        {2, 15, 16, 10, 30, 2, 1, 1, 2, 0, 1, 0, 0, 1, false, NN_ACT_NONE},
        {1, 9, 9, 1, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, true, NN_ACT_NONE},
        {2, 30, 30, 128, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, true, NN_ACT_RELU},
        {1, 12, 12, 48, 48, 3, 3, 1, 1, 1, 1, 1, 1, 3, true, NN_ACT_RELU},
        {2, 8, 8, 512, 40, 1, 1, 2, 2, 0, 0, 0, 0, 1, true, NN_ACT_NONE},
    };
    for (size_t j = 0; j < sizeof big / sizeof big[0]; j++) conv_case(&big[j]);
}

/* ---------------- depthwise ---------------- */

typedef struct {
    int batch, ih, iw, c, dm, kh, kw, sh, sw, pt, pb, pl, pr;
    bool bias;
    nn_act act;
} dw_cfg;

static void dw_case(const dw_cfg *c)
{
    nn_layer l = {.op = NN_OP_DEPTHWISE, .n_inputs = 1};
    l.kh = c->kh, l.kw = c->kw, l.sh = c->sh, l.sw = c->sw;
    l.pad_top = c->pt, l.pad_bottom = c->pb, l.pad_left = c->pl, l.pad_right = c->pr;
    l.depth_multiplier = c->dm, l.has_bias = c->bias, l.act = c->act, l.act_alpha = 0.05f;
    const int oh = (c->ih + c->pt + c->pb - c->kh) / c->sh + 1, ow = (c->iw + c->pl + c->pr - c->kw) / c->sw + 1;
    const int co = c->c * c->dm;
    l.in = (nn_shape){c->ih, c->iw, c->c, 0, 0, 0};
    l.out = (nn_shape){oh, ow, co, 0, 0, 0};
    float *x = rnd_buf((size_t)c->batch * nn_shape_size(l.in));
    float *w = rnd_buf((size_t)c->kh * c->kw * co);
    float *b = c->bias ? rnd_buf((size_t)co) : NULL;
    const size_t on = (size_t)c->batch * nn_shape_size(l.out);
    double *ref = dbuf(on);
    for (int n = 0; n < c->batch; n++)
        for (int y = 0; y < oh; y++)
            for (int xo = 0; xo < ow; xo++)
                for (int o = 0; o < co; o++) {
                    double s = b ? b[o] : 0.0;
                    for (int kh = 0; kh < c->kh; kh++)
                        for (int kw = 0; kw < c->kw; kw++) {
                            int iy = y * c->sh - c->pt + kh, ix = xo * c->sw - c->pl + kw;
                            if (iy < 0 || iy >= c->ih || ix < 0 || ix >= c->iw) continue;
                            s += (double)x[(((size_t)n * c->ih + iy) * c->iw + ix) * c->c + o / c->dm] *
                                 w[((size_t)kh * c->kw + kw) * co + o];
                        }
                    ref[(((size_t)n * oh + y) * ow + xo) * co + o] = act_ref(s, c->act, 0.05f);
                }
    char cfg[320];
    snprintf(cfg, sizeof cfg, "depthwise batch=%d in=%dx%dx%d dm=%d k=%dx%d s=%dx%d pad(t,b,l,r)=%d,%d,%d,%d bias=%d act=%s",
             c->batch, c->ih, c->iw, c->c, c->dm, c->kh, c->kw, c->sh, c->sw, c->pt, c->pb, c->pl, c->pr, c->bias,
             act_name(c->act));
    const float *in[1] = {x};
    const float *p[4] = {w, b, NULL, NULL};
    run_layer(&l, in, 1, p, c->batch, ref, NULL, cfg);
    free(x), free(w), free(b), free(ref);
}

static void test_depthwise(void **state)
{
    (void)state;
    static const int ks[][2] = {{1, 3}, {3, 1}, {3, 3}, {5, 5}, {1, 1}, {2, 2}};
    static const int ss[][2] = {{1, 1}, {2, 2}, {1, 2}, {2, 1}};
    static const int chans[] = {1, 3, 8, 16, 17, 40};
    int i = 0;
    for (size_t k = 0; k < 6; k++)
        for (size_t s = 0; s < 4; s++)
            for (int dm = 1; dm <= 3; dm++, i++) {
                dw_cfg c = {.batch = 1 + i % 2, .ih = 6 + i % 5, .iw = 7 + i % 3, .c = chans[i % 6], .dm = dm,
                            .kh = ks[k][0], .kw = ks[k][1], .sh = ss[s][0], .sw = ss[s][1], .bias = i % 4 != 0,
                            .act = (nn_act)(i % 3)};
                if (i % 3 == 1) c.pt = c.pb = (c.kh - 1) / 2, c.pl = c.pr = (c.kw - 1) / 2;
                if (i % 3 == 2) c.pt = 0, c.pb = c.kh - 1, c.pl = c.kw - 1, c.pr = 0;
                dw_case(&c);
            }
    dw_cfg big[] = {
        {2, 32, 32, 64, 1, 3, 3, 1, 1, 1, 1, 1, 1, true, NN_ACT_RELU},
        {3, 28, 28, 32, 1, 1, 3, 1, 1, 0, 0, 1, 1, false, NN_ACT_LEAKY},
        {3, 14, 28, 32, 1, 3, 1, 1, 1, 1, 1, 0, 0, true, NN_ACT_NONE},
        {1, 20, 20, 24, 2, 3, 3, 2, 2, 0, 1, 0, 1, true, NN_ACT_RELU},
        {1, 9, 9, 5, 20, 3, 3, 1, 1, 1, 1, 1, 1, true, NN_ACT_NONE},
    };
    for (size_t j = 0; j < sizeof big / sizeof big[0]; j++) dw_case(&big[j]);
}

/* ---------------- pooling ---------------- */

static void pool_case(nn_op op, bool count_pad, int batch, int ih, int iw, int c, int kh, int kw, int sh, int sw, int pt,
                      int pb, int pl, int pr)
{
    nn_layer l = {.op = op, .n_inputs = 1, .count_pad = count_pad};
    l.kh = kh, l.kw = kw, l.sh = sh, l.sw = sw, l.pad_top = pt, l.pad_bottom = pb, l.pad_left = pl, l.pad_right = pr;
    const int oh = (ih + pt + pb - kh) / sh + 1, ow = (iw + pl + pr - kw) / sw + 1;
    l.in = (nn_shape){ih, iw, c, 0, 0, 0};
    l.out = (nn_shape){oh, ow, c, 0, 0, 0};
    float *x = rnd_buf((size_t)batch * nn_shape_size(l.in));
    const size_t on = (size_t)batch * nn_shape_size(l.out);
    double *ref = dbuf(on);
    for (int n = 0; n < batch; n++)
        for (int y = 0; y < oh; y++)
            for (int xo = 0; xo < ow; xo++)
                for (int ch = 0; ch < c; ch++) {
                    double s = 0, m = -INFINITY;
                    int cnt = 0;
                    for (int a = 0; a < kh; a++)
                        for (int b = 0; b < kw; b++) {
                            int iy = y * sh - pt + a, ix = xo * sw - pl + b;
                            if (iy < 0 || iy >= ih || ix < 0 || ix >= iw) {
                                cnt += count_pad; /* a padded cell counts in the divisor */
                                continue;
                            }
                            double v = x[(((size_t)n * ih + iy) * iw + ix) * c + ch];
                            s += v, cnt++, m = v > m ? v : m;
                        }
                    ref[(((size_t)n * oh + y) * ow + xo) * c + ch] = op == NN_OP_MAXPOOL ? m : s / cnt;
                }
    char cfg[256];
    snprintf(cfg, sizeof cfg, "%s batch=%d in=%dx%dx%d k=%dx%d s=%dx%d pad(t,b,l,r)=%d,%d,%d,%d",
             op == NN_OP_MAXPOOL ? "max_pool" : count_pad ? "avg_pool count_pad" : "avg_pool", batch, ih, iw, c, kh, kw, sh, sw, pt, pb, pl, pr);
    const float *in[1] = {x};
    const float *p[4] = {0};
    run_layer(&l, in, 1, p, batch, ref, NULL, cfg);
    free(x), free(ref);
}

static void test_pool(void **state)
{
    (void)state;
    for (int op = 0; op < 3; op++) { /* max, avg, avg with count_pad */
        const nn_op o = op ? NN_OP_AVGPOOL : NN_OP_MAXPOOL;
        const bool cp = op == 2;
        pool_case(o, cp, 2, 8, 8, 16, 2, 2, 2, 2, 0, 0, 0, 0);
        pool_case(o, cp, 1, 9, 7, 5, 2, 2, 2, 2, 0, 1, 0, 1);
        pool_case(o, cp, 3, 10, 6, 33, 2, 1, 2, 1, 0, 0, 0, 0);
        pool_case(o, cp, 2, 11, 11, 8, 3, 3, 2, 2, 1, 1, 1, 1);
        pool_case(o, cp, 1, 12, 12, 3, 3, 3, 2, 2, 0, 1, 0, 1);
        pool_case(o, cp, 2, 7, 9, 17, 3, 3, 1, 1, 1, 1, 1, 1);
        pool_case(o, cp, 1, 5, 5, 4, 5, 5, 3, 3, 2, 2, 2, 2);
        pool_case(o, cp, 4, 32, 32, 64, 2, 2, 2, 2, 0, 0, 0, 0);
        pool_case(o, cp, 2, 6, 8, 2, 1, 2, 1, 2, 0, 0, 1, 0);
    }
    /* global average pool */
    const int shapes[][4] = {{1, 1, 1, 3}, {2, 7, 5, 17}, {3, 8, 8, 64}, {32, 4, 4, 128}};
    for (int s = 0; s < 4; s++) {
        const int batch = shapes[s][0], h = shapes[s][1], w = shapes[s][2], c = shapes[s][3];
        nn_layer l = {.op = NN_OP_GLOBAL_AVGPOOL, .n_inputs = 1};
        l.in = (nn_shape){h, w, c, 0, 0, 0};
        l.out = (nn_shape){1, 1, c, 0, 0, 0};
        float *x = rnd_buf((size_t)batch * h * w * c);
        double *ref = dbuf((size_t)batch * c);
        for (int n = 0; n < batch; n++)
            for (int i = 0; i < h * w; i++)
                for (int ch = 0; ch < c; ch++) ref[(size_t)n * c + ch] += x[((size_t)n * h * w + i) * c + ch] / (double)(h * w);
        char cfg[128];
        snprintf(cfg, sizeof cfg, "global_avg_pool batch=%d in=%dx%dx%d", batch, h, w, c);
        const float *in[1] = {x};
        const float *p[4] = {0};
        run_layer(&l, in, 1, p, batch, ref, NULL, cfg);
        free(x), free(ref);
    }
}

/* ---------------- batch norm, activations, softmax ---------------- */

/* Runs an in-place-capable layer both out of place and with out == in[0]. */
static void run_both_ways(const nn_layer *l, const float *x, const float *const p[4], int batch, const double *ref,
                          const char *cfg)
{
    const float *in[1] = {x};
    run_layer(l, in, 1, p, batch, ref, NULL, cfg);
    const size_t n = (size_t)batch * nn_shape_size(l->in);
    nn_cpu_isa isas[4];
    const int n_isa = isa_list(isas);
    for (int run = 0; run < 3 * n_isa; run++) {
        const int threads = 1 + run % 3;
        float *buf = canary_buf(n);
        memcpy(buf, x, n * sizeof(float));
        cpu_fwd_args a = {.l = l, .out = buf, .in = {buf}, .batch = batch, .pool = pool_for(threads), .isa = isas[run / 3]};
        for (int k = 0; k < 4; k++) a.p[k] = p[k];
        assert_true(cpu_forward_in_place(l));
        assert_int_equal(cpu_scratch_floats(l, batch, threads), 0);
        cpu_forward(&a);
        char c2[320];
        snprintf(c2, sizeof c2, "%s in-place threads=%d isa=%s", cfg, threads, isa_name(isas[run / 3]));
        bool ok = close_to(buf, ref, NULL, n, c2) && guard_ok(buf, n, c2, "output");
        free(buf);
        if (!ok) fail_msg("%s", c2);
    }
}

static void test_batchnorm(void **state)
{
    (void)state;
    const int shapes[][4] = {{2, 5, 7, 3}, {1, 4, 4, 33}, {32, 16, 16, 16}, {3, 1, 1, 1000}, {1, 1, 1, 7}};
    for (int s = 0; s < 5; s++)
        for (int ai = 0; ai < 3; ai++) {
            const int batch = shapes[s][0], h = shapes[s][1], w = shapes[s][2], c = shapes[s][3];
            nn_layer l = {.op = NN_OP_BATCHNORM, .n_inputs = 1};
            l.eps = 1e-3f;
            l.act = (nn_act)ai, l.act_alpha = 0.3f;
            l.in = l.out = (nn_shape){h, w, c, 0, 0, 0};
            const size_t n = (size_t)batch * h * w * c;
            float *x = rnd_buf(n), *gamma = rnd_buf(c), *beta = rnd_buf(c), *mean = rnd_buf(c), *var = rnd_buf(c);
            for (int i = 0; i < c; i++) var[i] = fabsf(var[i]) + 0.1f;
            double *ref = dbuf(n);
            for (size_t i = 0; i < n; i++) {
                int ch = (int)(i % c);
                double v = ((double)x[i] - mean[ch]) / sqrt((double)var[ch] + (double)l.eps) * gamma[ch] + beta[ch];
                ref[i] = act_ref(v, l.act, 0.3f);
            }
            char cfg[160];
            snprintf(cfg, sizeof cfg, "batchnorm batch=%d in=%dx%dx%d act=%s", batch, h, w, c, act_name(l.act));
            const float *p[4] = {gamma, beta, mean, var};
            run_both_ways(&l, x, p, batch, ref, cfg);
            free(x), free(gamma), free(beta), free(mean), free(var), free(ref);
        }
}

static void test_activations(void **state)
{
    (void)state;
    const int shapes[][4] = {{1, 3, 3, 5}, {4, 32, 32, 32}, {2, 1, 1, 10}};
    for (int s = 0; s < 3; s++)
        for (int op = 0; op < 2; op++) {
            const int batch = shapes[s][0], h = shapes[s][1], w = shapes[s][2], c = shapes[s][3];
            nn_layer l = {.op = op ? NN_OP_LEAKY_RELU : NN_OP_RELU, .n_inputs = 1};
            l.alpha = 0.01f;
            l.in = l.out = (nn_shape){h, w, c, 0, 0, 0};
            const size_t n = (size_t)batch * h * w * c;
            float *x = rnd_buf(n);
            double *ref = dbuf(n);
            for (size_t i = 0; i < n; i++) ref[i] = act_ref(x[i], op ? NN_ACT_LEAKY : NN_ACT_RELU, 0.01f);
            char cfg[128];
            snprintf(cfg, sizeof cfg, "%s batch=%d in=%dx%dx%d", op ? "leaky_relu" : "relu", batch, h, w, c);
            const float *p[4] = {0};
            run_both_ways(&l, x, p, batch, ref, cfg);
            free(x), free(ref);
        }
    /* sigmoid, tanh, elu (alpha 0.7), clip [-0.3, 0.4] against double references; x scaled to
     * [-8, 8] to reach the saturated tails */
    const nn_op pw[] = {NN_OP_SIGMOID, NN_OP_TANH, NN_OP_ELU, NN_OP_CLIP};
    for (int s = 0; s < 3; s++)
        for (size_t k = 0; k < sizeof pw / sizeof pw[0]; k++) {
            const int batch = shapes[s][0], h = shapes[s][1], w = shapes[s][2], c = shapes[s][3];
            nn_layer l = {.op = pw[k], .n_inputs = 1, .alpha = 0.7f, .lo = -0.3f, .hi = 0.4f};
            l.in = l.out = (nn_shape){h, w, c, 0, 0, 0};
            const size_t n = (size_t)batch * h * w * c;
            float *x = rnd_buf(n);
            double *ref = dbuf(n);
            for (size_t i = 0; i < n; i++) {
                const double v = x[i] *= pw[k] == NN_OP_CLIP ? 1.0f : 8.0f;
                ref[i] = pw[k] == NN_OP_SIGMOID ? 1.0 / (1.0 + exp(-v)) : pw[k] == NN_OP_TANH ? tanh(v)
                         : pw[k] == NN_OP_ELU   ? (v > 0 ? v : 0.7 * expm1(v))
                                                : fmin(fmax(v, (double)l.lo), (double)l.hi);
            }
            char cfg[128];
            snprintf(cfg, sizeof cfg, "%s batch=%d in=%dx%dx%d", nn_op_name(pw[k]), batch, h, w, c);
            const float *p[4] = {0};
            run_both_ways(&l, x, p, batch, ref, cfg);
            free(x), free(ref);
        }
    /* softmax over channels, with large logits to check the max subtraction */
    for (int s = 0; s < 3; s++) {
        const int batch = shapes[s][0], h = shapes[s][1], w = shapes[s][2], c = shapes[s][3];
        nn_layer l = {.op = NN_OP_SOFTMAX, .n_inputs = 1};
        l.in = l.out = (nn_shape){h, w, c, 0, 0, 0};
        const size_t n = (size_t)batch * h * w * c;
        float *x = rnd_buf(n);
        for (size_t i = 0; i < n; i++) x[i] *= s == 2 ? 100.0f : 5.0f;
        double *ref = dbuf(n);
        for (size_t px = 0; px < n / c; px++) {
            double m = -INFINITY, sum = 0;
            for (int k = 0; k < c; k++) m = fmax(m, x[px * c + k]);
            for (int k = 0; k < c; k++) sum += exp(x[px * c + k] - m);
            for (int k = 0; k < c; k++) ref[px * c + k] = exp(x[px * c + k] - m) / sum;
        }
        char cfg[128];
        snprintf(cfg, sizeof cfg, "softmax batch=%d in=%dx%dx%d", batch, h, w, c);
        const float *in[1] = {x};
        const float *p[4] = {0};
        assert_false(cpu_forward_in_place(&l));
        run_layer(&l, in, 1, p, batch, ref, NULL, cfg);
        free(x), free(ref);
    }
}

/* ---------------- dense ---------------- */

static void test_dense(void **state)
{
    (void)state;
    const int cfgs[][4] = {{1, 3, 4, 10}, {1, 1, 1, 1}, {1, 1, 4096, 128}, {3, 7, 5, 33}, {32, 1, 1024, 10},
                           {32, 2, 2, 700}, {5, 1, 300, 1}, {64, 1, 64, 64}};
    for (int s = 0; s < 8; s++)
        for (int v = 0; v < 3; v++) {
            const int batch = cfgs[s][0], hw = cfgs[s][1], c = cfgs[s][2], units = cfgs[s][3];
            nn_layer l = {.op = NN_OP_DENSE, .n_inputs = 1};
            l.units = units, l.has_bias = v != 1, l.act = (nn_act)v, l.act_alpha = 0.1f;
            l.in = (nn_shape){hw, hw, c, 0, 0, 0};
            l.out = (nn_shape){1, 1, units, 0, 0, 0};
            const int K = hw * hw * c;
            float *x = rnd_buf((size_t)batch * K), *w = rnd_buf((size_t)K * units);
            float *b = l.has_bias ? rnd_buf(units) : NULL;
            double *ref = dbuf((size_t)batch * units), *mag = dbuf((size_t)batch * units);
            for (int n = 0; n < batch; n++)
                for (int j = 0; j < units; j++) {
                    double sum = b ? b[j] : 0, abs_sum = 0;
                    for (int k = 0; k < K; k++) {
                        double t = (double)x[(size_t)n * K + k] * w[(size_t)k * units + j];
                        sum += t, abs_sum += fabs(t);
                    }
                    ref[(size_t)n * units + j] = act_ref(sum, l.act, 0.1f);
                    mag[(size_t)n * units + j] = abs_sum / sqrt((double)K);
                }
            char cfg[160];
            snprintf(cfg, sizeof cfg, "dense batch=%d in=%dx%dx%d units=%d bias=%d act=%s", batch, hw, hw, c, units,
                     l.has_bias, act_name(l.act));
            const float *in[1] = {x};
            const float *p[4] = {w, b, NULL, NULL};
            run_layer(&l, in, 1, p, batch, ref, mag, cfg);
            free(x), free(w), free(b), free(ref), free(mag);
        }
}

/* ---------------- shuffle, add, concat, copy ---------------- */

static void test_shuffle(void **state)
{
    (void)state;
    const int cfgs[][5] = {{1, 2, 3, 6, 2}, {2, 4, 4, 12, 3}, {3, 5, 1, 16, 4}, {1, 1, 1, 8, 8}, {2, 16, 16, 240, 3}};
    for (int s = 0; s < 5; s++) {
        const int batch = cfgs[s][0], h = cfgs[s][1], w = cfgs[s][2], c = cfgs[s][3], g = cfgs[s][4], n = c / g;
        nn_layer l = {.op = NN_OP_CHANNEL_SHUFFLE, .n_inputs = 1};
        l.groups = g;
        l.in = l.out = (nn_shape){h, w, c, 0, 0, 0};
        const size_t total = (size_t)batch * h * w * c;
        float *x = rnd_buf(total);
        double *ref = dbuf(total);
        /* PyTorch: y = x.view(N, g, n, H, W).transpose(1, 2).reshape(N, C, H, W) */
        for (size_t px = 0; px < total / c; px++)
            for (int i = 0; i < g; i++)
                for (int j = 0; j < n; j++) ref[px * c + (size_t)j * g + i] = x[px * c + (size_t)i * n + j];
        char cfg[128];
        snprintf(cfg, sizeof cfg, "channel_shuffle batch=%d in=%dx%dx%d groups=%d", batch, h, w, c, g);
        const float *in[1] = {x};
        const float *p[4] = {0};
        run_layer(&l, in, 1, p, batch, ref, NULL, cfg);
        free(x), free(ref);
    }
}

static void test_add_concat_copy(void **state)
{
    (void)state;
    const float *p[4] = {0};
    for (int n_in = 2; n_in <= 4; n_in++) {
        const int batch = 3, h = 40, w = 40, c = 7 + n_in * 9;
        const size_t n = (size_t)batch * h * w * c;
        nn_layer l = {.op = NN_OP_ADD, .n_inputs = n_in};
        l.in = l.out = (nn_shape){h, w, c, 0, 0, 0};
        float *x[4];
        for (int k = 0; k < n_in; k++) x[k] = rnd_buf(n);
        double *ref = dbuf(n);
        for (size_t i = 0; i < n; i++) {
            ref[i] = 0;
            for (int k = 0; k < n_in; k++) ref[i] += x[k][i];
        }
        char cfg[128];
        snprintf(cfg, sizeof cfg, "add inputs=%d batch=%d in=%dx%dx%d", n_in, batch, h, w, c);
        run_layer(&l, (const float *const *)x, n_in, p, batch, ref, NULL, cfg);
        /* output aliasing the last input (a planner may reuse a dead input's buffer) */
        float *alias = canary_buf(n);
        memcpy(alias, x[n_in - 1], n * sizeof(float));
        cpu_fwd_args a = {.l = &l, .out = alias, .batch = batch, .pool = g_pool2};
        for (int k = 0; k < n_in; k++) a.in[k] = k == n_in - 1 ? alias : x[k];
        cpu_forward(&a);
        snprintf(cfg, sizeof cfg, "add inputs=%d out aliases the last input", n_in);
        bool ok = close_to(alias, ref, NULL, n, cfg);
        free(alias);
        for (int k = 0; k < n_in; k++) free(x[k]);
        free(ref);
        if (!ok) fail_msg("%s", cfg);
    }
    for (int n_in = 2; n_in <= 3; n_in++)
        for (int given = 0; given < 2; given++) {
            const int batch = 2, h = 40, w = 60;
            const int cs[3] = {5, 16, n_in == 3 && !given ? 16 : 3};
            int ctot = 0;
            for (int k = 0; k < n_in; k++) ctot += cs[k];
            nn_layer l = {.op = NN_OP_CONCAT, .n_inputs = n_in};
            l.in = (nn_shape){h, w, cs[0], 0, 0, 0};
            l.out = (nn_shape){h, w, ctot, 0, 0, 0};
            float *x[3];
            for (int k = 0; k < n_in; k++) x[k] = rnd_buf((size_t)batch * h * w * cs[k]);
            const size_t n = (size_t)batch * h * w * ctot;
            double *ref = dbuf(n);
            for (size_t px = 0; px < (size_t)batch * h * w; px++) {
                int off = 0;
                for (int k = 0; k < n_in; k++) {
                    for (int ch = 0; ch < cs[k]; ch++) ref[px * ctot + off + ch] = x[k][px * cs[k] + ch];
                    off += cs[k];
                }
            }
            char cfg[128];
            snprintf(cfg, sizeof cfg, "concat inputs=%d channels given=%d", n_in, given);
            for (int threads = 1; threads <= 2; threads++) {
                float *out = canary_buf(n);
                cpu_fwd_args a = {.l = &l, .out = out, .batch = batch, .pool = pool_for(threads)};
                for (int k = 0; k < n_in; k++) a.in[k] = x[k], a.in_c[k] = given ? cs[k] : 0;
                cpu_forward(&a);
                bool ok = close_to(out, ref, NULL, n, cfg) && guard_ok(out, n, cfg, "output");
                free(out);
                if (!ok) fail_msg("%s threads=%d", cfg, threads);
            }
            for (int k = 0; k < n_in; k++) free(x[k]);
            free(ref);
        }
    /* flatten / dropout: copy out of place, nothing in place */
    for (int op = 0; op < 2; op++) {
        nn_layer l = {.op = op ? NN_OP_DROPOUT : NN_OP_FLATTEN, .n_inputs = 1};
        l.in = (nn_shape){4, 5, 6, 0, 0, 0};
        l.out = op ? l.in : (nn_shape){1, 1, 120, 4, 5, 6};
        const size_t n = 2 * 120;
        float *x = rnd_buf(n);
        double *ref = dbuf(n);
        for (size_t i = 0; i < n; i++) ref[i] = x[i];
        const float *pp[4] = {0};
        run_both_ways(&l, x, pp, 2, ref, op ? "dropout" : "flatten");
        free(x), free(ref);
    }
}

static void test_dispatch_tables(void **state)
{
    (void)state;
    nn_layer l = {0};
    const nn_op in_place[] = {NN_OP_RELU, NN_OP_LEAKY_RELU, NN_OP_DROPOUT, NN_OP_FLATTEN, NN_OP_BATCHNORM,
                              NN_OP_SIGMOID, NN_OP_TANH, NN_OP_ELU, NN_OP_CLIP};
    const nn_op not_in_place[] = {NN_OP_CONV2D, NN_OP_DEPTHWISE, NN_OP_MAXPOOL, NN_OP_AVGPOOL, NN_OP_GLOBAL_AVGPOOL,
                                  NN_OP_SOFTMAX, NN_OP_DENSE, NN_OP_CHANNEL_SHUFFLE, NN_OP_ADD, NN_OP_CONCAT};
    for (size_t i = 0; i < sizeof in_place / sizeof in_place[0]; i++) {
        l.op = in_place[i];
        if (!cpu_forward_in_place(&l)) fail_msg("op %d should run in place", (int)l.op);
    }
    for (size_t i = 0; i < sizeof not_in_place / sizeof not_in_place[0]; i++) {
        l.op = not_in_place[i];
        if (cpu_forward_in_place(&l)) fail_msg("op %d must not run in place", (int)l.op);
    }
    float x[6] = {-2, -1, 0, 1, 2, -0.5f};
    cpu_apply_act(x, 6, NN_ACT_LEAKY, 0.5f);
    assert_true(x[0] == -1.0f && x[1] == -0.5f && x[3] == 1.0f && x[5] == -0.25f);
    cpu_apply_act(x, 6, NN_ACT_RELU, 0);
    assert_true(x[0] == 0.0f && x[4] == 2.0f);
    cpu_apply_act(x, 6, NN_ACT_NONE, 0);
    assert_true(x[4] == 2.0f);
}

static int setup(void **state)
{
    (void)state;
    nn_err err;
    if (nn_pool_create(&g_pool2, 2, &err) != NN_OK) return -1;
    if (nn_pool_create(&g_pool3, 3, &err) != NN_OK) return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    nn_pool_free(g_pool2);
    nn_pool_free(g_pool3);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_run),    cmocka_unit_test(test_sgemm),       cmocka_unit_test(test_conv2d),
        cmocka_unit_test(test_depthwise),   cmocka_unit_test(test_pool),        cmocka_unit_test(test_batchnorm),
        cmocka_unit_test(test_activations), cmocka_unit_test(test_dense),       cmocka_unit_test(test_shuffle),
        cmocka_unit_test(test_add_concat_copy), cmocka_unit_test(test_dispatch_tables),
    };
    return cmocka_run_group_tests_name("cpu_kernels", tests, setup, teardown);
}
