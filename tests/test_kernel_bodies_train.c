/* test_kernel_bodies_train.c — the CUDA training kernels' and the GPU preprocessing's bodies
 * (kernels/body/ norm.h, reduce.h, loss.h, optim.h, preprocess.h) on the CPU, against the CPU
 * backend: batch norm (inference forward with each activation; training forward with its
 * statistics and running averages; backward) on the GPU parity tests' cases plus one whose
 * per-channel sums span several blocks; the dense bias gradient (column sums); the losses and
 * their gradients; the gradient norm and clipping; SGD / Adam / AdamW steps with a mask; the
 * frame preprocessing; batch norm and the losses in a data-parallel step of two slices (the
 * slices' sums added, against the whole batch). The device's reductions run in their order: chan_sums' blocks
 * (body_check.c) and the one-block tree sums of loss.cu and optim.cu (block_sum below).
 * Element-wise results that claim the CPU's rounding compare bit for bit (batch-norm inference,
 * loss gradients, optimizer steps, preprocessing); sums in another order within 1e-5 of the
 * largest value (1e-12 relative for the double loss). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "body/loss.h"
#include "body/norm.h"
#include "body/optim.h"
#include "body/preprocess.h"
#include "body/reduce.h"
#include "body_check.h"
#include "nn/cpu/cpu.h"
#include "nn/preprocess.h"
#include "nn/resample.h"
#include "nn/train.h"

/* ------------------------------------------------------------------ the device's sums */
typedef struct {
    const float *x, *g, *mean, *istd;
    const double *tot;
    double n;
    int C;
} sum_ctx;

static double term_col(const void *ctx, int r, int c, int z)
{
    (void)z;
    const sum_ctx *s = ctx;
    return col_term(s->x, r, c, s->C);
}

static double term_dev2(const void *ctx, int r, int c, int z)
{
    (void)z;
    const sum_ctx *s = ctx;
    return bn_dev2_term(s->x, s->tot, s->n, r, c, s->C);
}

static double term_bwd(const void *ctx, int r, int c, int z)
{
    const sum_ctx *s = ctx;
    return bn_bwd_term(s->x, s->g, s->mean, s->istd, r, c, z, s->C);
}

/* One block of SUM_THREADS: thread t sums x[t], x[t + SUM_THREADS], ...; then the shared-memory
 * tree (w = SUM_THREADS/2 .. 1: sh[t] += sh[t + w]). first/stride pick a grid-stride slice. */
static double block_sum(const double *x, size_t first, size_t stride, size_t n, int squares)
{
    double sh[SUM_THREADS];
    for (size_t t = 0; t < SUM_THREADS; t++) {
        double s = 0.0;
        for (size_t i = first + t; i < n; i += stride)
            s += squares ? x[i] * x[i] : x[i];
        sh[t] = s;
    }
    for (int w = SUM_THREADS / 2; w > 0; w >>= 1)
        for (int t = 0; t < w; t++)
            sh[t] += sh[t + w];
    return sh[0];
}

static void expect_near(const char *cs, const char *what, double got, double want, double tol)
{
    if (isnan(got) && isnan(want))
        return;
    if (!(fabs(got - want) <= tol * fmax(1.0, fabs(want)))) {
        printf("FAIL case %s: %s: body %.17g, CPU %.17g\n", cs, what, got, want);
        body_fail();
    }
}

/* ------------------------------------------------------------------ batch norm */
/* The CPU's batch-norm training forward of case c (scalar code): output [out_n], saved mean and
 * 1/std [2][C], running mean and variance [C] moved from the case's; new buffers. */
typedef struct {
    float *y, *saved, *rm, *rv;
} bn_ref;

static bn_ref bn_cpu_forward(const lcase *c)
{
    const nn_layer *l = c->l;
    const size_t C = (size_t)l->in.c;
    bn_ref r = {calloc(c->out_n, sizeof(float)), calloc(2 * C, sizeof(float)), dup(c->p[2], C), dup(c->p[3], C)};
    float *scratch = calloc(cpu_bn_train_scratch_floats(l, c->batch, 1), sizeof *scratch);
    cpu_fwd_args a = {.l = l, .out = r.y, .batch = c->batch, .scratch = scratch, .isa = NN_CPU_ISA_SCALAR};
    a.in[0] = c->in[0];
    for (int k = 0; k < 4; k++)
        a.p[k] = c->p[k];
    cpu_batchnorm_forward_train(&a, r.rm, r.rv, r.saved, NULL);
    free(scratch);
    return r;
}

static void bn_ref_free(bn_ref *r) { free(r->y), free(r->saved), free(r->rm), free(r->rv); }

static void check_bn(const char *name, int h, int w, int ch, const char *layers, int batch)
{
    lcase c;
    case_open(&c, name, h, w, ch, layers, "bn", batch);
    const nn_layer *l = c.l;
    const int C = l->in.c, M = batch * l->in.h * l->in.w;
    const size_t n = c.out_n;
    /* inference: running statistics, each epilogue, bit for bit */
    const nn_act acts[] = {NN_ACT_NONE, NN_ACT_RELU, NN_ACT_LEAKY};
    for (int ai = 0; ai < 3; ai++) {
        nn_layer la = *l;
        la.act = acts[ai], la.act_alpha = 0.1f;
        float *want = cpu_fwd(&c, &la), *got = calloc(n, sizeof *got);
        for (size_t i = 0; i < n; i++)
            bn_infer_at(got, c.in[0], i, C, c.p[0], c.p[1], c.p[2], c.p[3], l->eps, la.act, 0.1f);
        expect(name, "batch norm inference forward", got, want, n, 0);
        free(want), free(got);
    }
    /* training forward: the CPU's, then the bodies over chan_sums' emulation */
    bn_ref ref = bn_cpu_forward(&c);
    float *y = ref.y, *saved = ref.saved, *rm = ref.rm, *rv = ref.rv;
    double *tot = calloc(2 * (size_t)C, sizeof *tot);
    sum_ctx s = {.x = c.in[0], .g = c.dy, .tot = tot, .n = (double)M, .C = C};
    chan_sums_emul(term_col, &s, M, C, 1, tot);
    chan_sums_emul(term_dev2, &s, M, C, 1, tot + C);
    float *gy = calloc(n, sizeof *gy), *gsaved = calloc(2 * (size_t)C, sizeof *gsaved);
    float *grm = dup(c.p[2], (size_t)C), *grv = dup(c.p[3], (size_t)C);
    for (size_t k = 0; k < (size_t)C; k++)
        bn_stats_at(gsaved, grm, grv, tot, tot + C, k, C, (double)M, l->eps, l->momentum);
    for (size_t i = 0; i < n; i++)
        bn_norm_at(gy, c.in[0], gsaved, c.p[0], c.p[1], i, C);
    expect(name, "batch norm batch mean", gsaved, saved, (size_t)C, 1e-6);
    expect(name, "batch norm batch 1/std", gsaved + C, saved + C, (size_t)C, 1e-5);
    expect(name, "batch norm running mean", grm, rm, (size_t)C, 1e-6);
    expect(name, "batch norm running variance", grv, rv, (size_t)C, 1e-5);
    expect(name, "batch norm training forward", gy, y, n, 1e-5);
    /* backward through the batch statistics (the CPU's saved ones for both) */
    float *dx[NN_MAX_INPUTS] = {0}, *dp[4] = {0};
    cpu_bwd(&c, y, dx, dp, saved);
    s.mean = saved, s.istd = saved + C;
    chan_sums_emul(term_bwd, &s, M, C, 2, tot);
    float *k3 = calloc(3 * (size_t)C, sizeof *k3), *dg = dup(c.dp0[0], (size_t)C), *db = dup(c.dp0[1], (size_t)C);
    float *gx = dup(c.dx0[0], n);
    for (size_t k = 0; k < (size_t)C; k++)
        bn_bwd_coef_at(k3, dg, db, tot, k, C, (double)M, c.p[0], saved + C);
    for (size_t i = 0; i < n; i++)
        bn_bwd_dx_at(gx, c.in[0], c.dy, saved, saved + C, k3, i, C);
    expect(name, "batch norm gamma gradient", dg, dp[0], (size_t)C, 1e-5);
    expect(name, "batch norm beta gradient", db, dp[1], (size_t)C, 1e-5);
    expect(name, "batch norm input gradient", gx, dx[0], n, 1e-5);
    bn_ref_free(&ref);
    free(tot), free(gy), free(gsaved), free(grm), free(grv);
    free(k3), free(dg), free(db), free(gx);
    for (int k = 0; k < 4; k++)
        free(dx[k]), free(dp[k]);
    case_close(&c);
}

/* Batch norm in a data-parallel step of two slices, samples [0, f) and [f, batch), as
 * batchnorm_bwd.cu runs it with a cu_shard: each slice's per-channel sums over its own rows
 * (chan_sums), added across the slices in rank order before use (forward: sum x, then sum
 * (x - mean)^2 around the whole batch's mean; backward: sum dy, sum dy*xh), n = bn_pixels of the
 * whole batch, the parameter gradients from each slice's own sums (bn_grad_share_at, then summed
 * with the gradients). Against the CPU over the whole batch at once: the same statistics, running
 * averages, outputs and gradients (sums in another order: 1e-5). */
static void check_bn_sharded(const char *name, int h, int w, int ch, const char *layers, int batch, int f)
{
    lcase c;
    case_open(&c, name, h, w, ch, layers, "bn", batch);
    const nn_layer *l = c.l;
    const int C = l->in.c, HW = l->in.h * l->in.w;
    const size_t n = c.out_n;
    const int first[2] = {0, f}, rows[2] = {f, batch - f};
    /* the CPU, whole batch */
    bn_ref ref = bn_cpu_forward(&c);
    float *y = ref.y, *saved = ref.saved, *rm = ref.rm, *rv = ref.rv;
    float *dx[NN_MAX_INPUTS] = {0}, *dp[4] = {0};
    cpu_bwd(&c, y, dx, dp, saved);
    /* the slices: forward */
    double *tot = calloc(2 * (size_t)C, sizeof *tot), *part = calloc(2 * (size_t)C, sizeof *part);
    const double nn = bn_pixels(rows[1], batch, l->in.h, l->in.w);
    sum_ctx s[2];
    for (int k = 0; k < 2; k++) /* pass 1: sum x */
        s[k] = (sum_ctx){.x = c.in[0] + (size_t)first[k] * HW * C, .g = c.dy + (size_t)first[k] * HW * C, .tot = tot,
                         .n = nn, .C = C};
    for (int pass = 0; pass < 2; pass++)
        for (int k = 0; k < 2; k++) { /* rank order: slice 0's sums, then slice 1's added */
            chan_sums_emul(pass ? term_dev2 : term_col, &s[k], rows[k] * HW, C, 1, part);
            for (int i = 0; i < C; i++)
                tot[pass * C + i] = (k ? tot[pass * C + i] : 0.0) + part[i];
        }
    float *gy = calloc(n, sizeof *gy), *gsaved = calloc(2 * (size_t)C, sizeof *gsaved);
    float *grm = dup(c.p[2], (size_t)C), *grv = dup(c.p[3], (size_t)C);
    for (size_t i = 0; i < (size_t)C; i++)
        bn_stats_at(gsaved, grm, grv, tot, tot + C, i, C, nn, l->eps, l->momentum);
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < (size_t)rows[k] * HW * C; i++)
            bn_norm_at(gy + (size_t)first[k] * HW * C, s[k].x, gsaved, c.p[0], c.p[1], i, C);
    expect(name, "sharded batch norm mean", gsaved, saved, (size_t)C, 1e-6);
    expect(name, "sharded batch norm 1/std", gsaved + C, saved + C, (size_t)C, 1e-5);
    expect(name, "sharded batch norm running mean", grm, rm, (size_t)C, 1e-6);
    expect(name, "sharded batch norm running variance", grv, rv, (size_t)C, 1e-5);
    expect(name, "sharded batch norm training forward", gy, y, n, 1e-5);
    /* backward: each slice's sums give its gradient share; the whole batch's give dx */
    float *dg = dup(c.dp0[0], (size_t)C), *db = dup(c.dp0[1], (size_t)C), *gx = dup(c.dx0[0], n);
    float *k3 = calloc(3 * (size_t)C, sizeof *k3);
    for (int k = 0; k < 2; k++) {
        s[k].mean = gsaved, s[k].istd = gsaved + C;
        chan_sums_emul(term_bwd, &s[k], rows[k] * HW, C, 2, part);
        for (size_t i = 0; i < (size_t)C; i++)
            bn_grad_share_at(dg, db, part, i, C);
        for (int i = 0; i < 2 * C; i++)
            tot[i] = (k ? tot[i] : 0.0) + part[i];
    }
    for (size_t i = 0; i < (size_t)C; i++)
        bn_bwd_coef_at(k3, NULL, NULL, tot, i, C, nn, c.p[0], gsaved + C);
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < (size_t)rows[k] * HW * C; i++)
            bn_bwd_dx_at(gx + (size_t)first[k] * HW * C, s[k].x, s[k].g, gsaved, gsaved + C, k3, i, C);
    expect(name, "sharded batch norm gamma gradient", dg, dp[0], (size_t)C, 1e-5);
    expect(name, "sharded batch norm beta gradient", db, dp[1], (size_t)C, 1e-5);
    expect(name, "sharded batch norm input gradient", gx, dx[0], n, 1e-5);
    bn_ref_free(&ref);
    free(tot), free(part), free(gy), free(gsaved);
    free(grm), free(grv), free(dg), free(db), free(gx), free(k3);
    for (int k = 0; k < 4; k++)
        free(dx[k]), free(dp[k]);
    case_close(&c);
}

/* The dense layer's bias gradient: the column sums of dy (cu_col_sums_add). */
static void check_dense_bias(const char *name, int batch)
{
    lcase c;
    case_open(&c, name, 2, 3, 2, "  - {name: d, type: dense, units: 5}\n", "d", batch);
    float *dx[NN_MAX_INPUTS] = {0}, *dp[4] = {0};
    float *out = cpu_fwd(&c, c.l);
    cpu_bwd(&c, out, dx, dp, NULL);
    const int N = c.l->out.c;
    double *tot = calloc((size_t)N, sizeof *tot);
    const sum_ctx s = {.x = c.dy, .C = N};
    chan_sums_emul(term_col, &s, batch, N, 1, tot);
    float *gb = dup(c.dp0[1], (size_t)N);
    for (size_t k = 0; k < (size_t)N; k++)
        add_tot_at(gb, tot, k);
    expect(name, "dense bias gradient (column sums)", gb, dp[1], (size_t)N, 1e-5);
    free(out), free(tot), free(gb);
    for (int k = 0; k < 4; k++)
        free(dx[k]), free(dp[k]);
    case_close(&c);
}

static void test_batchnorm(void **state)
{
    (void)state;
    const char *bn = "  - {name: bn, type: batch_norm, eps: 0.001, momentum: 0.2}\n";
    check_bn("bn_after_conv", 5, 4, 4, bn, 3);
    check_bn("bn_after_dense", 1, 1, 5, "  - {name: bn, type: batch_norm}\n", 6);
    check_bn("bn_n1", 1, 1, 3, "  - {name: bn, type: batch_norm}\n", 1); /* n = 1: biased = unbiased */
    check_bn("bn_relu_infer_case", 5, 6, 7, "  - {name: bn, type: batch_norm}\n", 3);
    check_bn("bn_several_blocks", 9, 11, 40, bn, 3); /* 297 rows, 2 channel blocks: R = 5 partials */
    check_bn_sharded("bn_sharded_after_conv", 5, 4, 4, bn, 3, 1);
    check_bn_sharded("bn_sharded_after_dense", 1, 1, 5, "  - {name: bn, type: batch_norm}\n", 6, 4);
    check_bn_sharded("bn_sharded_several_blocks", 9, 11, 40, bn, 4, 2); /* 198 rows per slice, R = 4 */
    check_dense_bias("dense_bias_b3", 3);
    check_dense_bias("dense_bias_b130", 130); /* 2 row blocks */
    if (body_failures())
        fail_msg("%d body checks failed (see FAIL lines above)", body_failures());
}

/* ------------------------------------------------------------------ losses */
static void check_loss(const char *name, int kind, int batch, int n, float delta, int bad_label)
{
    const size_t N = (size_t)batch * n;
    float *y = rnd(N), *t = rnd(N), *d = calloc(N, sizeof *d), *gd = calloc(N, sizeof *gd);
    int *lab = calloc((size_t)batch, sizeof *lab);
    double *term = calloc(N, sizeof *term), want, got;
    for (int b = 0; b < batch; b++)
        lab[b] = (int)((frand() + 1.0f) * 0.5f * (float)n) % n;
    if (bad_label)
        lab[batch / 2] = n;
    if (kind == 1) /* probabilities: positive */
        for (size_t i = 0; i < N; i++)
            y[i] = 0.5f * (y[i] + 1.0f) + 1e-3f;
    for (size_t i = 0; i < N; i++)
        y[i] *= 3.0f; /* Huber: both sides of delta */
    if (kind <= 1) {
        want = nn_loss_softmax_ce(y, kind == 1, lab, batch, n, d);
        for (size_t b = 0; b < (size_t)batch; b++)
            ce_at(gd, term, y, kind == 1, lab, n, 1.0 / batch, b);
        got = block_sum(term, 0, SUM_THREADS, (size_t)batch, 0) * (1.0 / batch);
    } else if (kind == 2) {
        want = nn_loss_mse(y, t, batch, n, d);
        for (size_t i = 0; i < N; i++)
            mse_at(gd, term, y, t, N, i);
        got = block_sum(term, 0, SUM_THREADS, N, 0) * (1.0 / (double)N);
    } else {
        want = nn_loss_huber(y, t, batch, n, delta, d);
        for (size_t i = 0; i < N; i++)
            huber_at(gd, term, y, t, N, delta, i);
        got = block_sum(term, 0, SUM_THREADS, N, 0) * (1.0 / (double)N);
    }
    if (bad_label && !isnan(got)) {
        printf("FAIL case %s: a label out of range gives loss %g, not NaN\n", name, got);
        body_fail();
    }
    expect_near(name, "loss", got, want, 1e-12);
    if (!bad_label)
        expect(name, "loss gradient", gd, d, N, 0);
    free(y), free(t), free(d), free(gd), free(lab), free(term);
}

/* The losses of a data-parallel step of two slices [0, f) and [f, batch) (loss.cu with a shard):
 * each slice divides by the whole batch (loss_divisor), so its gradient rows equal the whole
 * batch's bit for bit (and the CPU slice's, cpu_loss_* with denom), and the slices' loss shares
 * add up to the whole batch's mean (1e-12). */
static void check_loss_sharded(const char *name, int kind, int batch, int n, float delta, int f)
{
    const size_t N = (size_t)batch * n;
    float *y = rnd(N), *t = rnd(N), *d = calloc(N, sizeof *d), *gd = calloc(N, sizeof *gd);
    float *cd = calloc(N, sizeof *cd);
    int *lab = calloc((size_t)batch, sizeof *lab);
    double *term = calloc(N, sizeof *term), want, got = 0.0;
    for (int b = 0; b < batch; b++)
        lab[b] = (int)((frand() + 1.0f) * 0.5f * (float)n) % n;
    for (size_t i = 0; i < N; i++)
        y[i] *= 3.0f;
    want = kind == 0 ? nn_loss_softmax_ce(y, false, lab, batch, n, d)
           : kind == 2 ? nn_loss_mse(y, t, batch, n, d)
                       : nn_loss_huber(y, t, batch, n, delta, d);
    const int first[2] = {0, f}, rows[2] = {f, batch - f};
    if (loss_divisor(batch, 0) != batch || loss_divisor(f, batch) != batch) {
        printf("FAIL case %s: loss_divisor(%d, 0) = %d, (%d, %d) = %d\n", name, batch, loss_divisor(batch, 0), f, batch,
               loss_divisor(f, batch));
        body_fail();
    }
    for (int k = 0; k < 2; k++) {
        const int denom = loss_divisor(rows[k], batch);
        const size_t o = (size_t)first[k] * n, Nk = (size_t)rows[k] * n, M = (size_t)denom * n;
        double share;
        if (kind == 0) {
            for (size_t b = 0; b < (size_t)rows[k]; b++)
                ce_at(gd + o, term, y + o, false, lab + first[k], n, 1.0 / denom, b);
            share = block_sum(term, 0, SUM_THREADS, (size_t)rows[k], 0) * (1.0 / denom);
            cpu_loss_softmax_ce(y + o, false, lab + first[k], rows[k], n, denom, cd + o);
        } else {
            for (size_t i = 0; i < Nk; i++)
                if (kind == 2)
                    mse_at(gd + o, term, y + o, t + o, M, i);
                else
                    huber_at(gd + o, term, y + o, t + o, M, delta, i);
            share = block_sum(term, 0, SUM_THREADS, Nk, 0) * (1.0 / (double)M);
            if (kind == 2)
                cpu_loss_mse(y + o, t + o, rows[k], n, denom, cd + o);
            else
                cpu_loss_huber(y + o, t + o, rows[k], n, delta, denom, cd + o);
        }
        got += share; /* the host sum of the loss over the ranks, in rank order */
    }
    expect_near(name, "sharded loss (the slices' shares added)", got, want, 1e-12);
    expect(name, "sharded loss gradient (the whole batch's rows)", gd, d, N, 0);
    expect(name, "sharded loss gradient (the CPU slices')", gd, cd, N, 0);
    free(y), free(t), free(d), free(gd), free(cd), free(lab), free(term);
}

static void test_losses(void **state)
{
    (void)state;
    check_loss("ce_probabilities", 1, 3, 5, 0, 0);
    check_loss("ce_logits", 0, 3, 5, 0, 0);
    check_loss("ce_logits_b300", 0, 300, 7, 0, 0); /* more samples than threads */
    check_loss("ce_bad_label", 0, 5, 4, 0, 1);
    check_loss("mse", 2, 3, 3, 0, 0);
    check_loss("mse_b300", 2, 300, 3, 0, 0);
    check_loss("huber", 3, 300, 3, 0.5f, 0);
    check_loss_sharded("ce_logits_sharded", 0, 7, 5, 0, 3);
    check_loss_sharded("mse_sharded_b300", 2, 300, 3, 0, 150);
    check_loss_sharded("huber_sharded", 3, 9, 2, 0.5f, 4);
    if (body_failures())
        fail_msg("%d body checks failed (see FAIL lines above)", body_failures());
}

/* ------------------------------------------------------------------ gradient norm, optimizers */
static void check_clip(const char *name, size_t n, float max_norm)
{
    float *g = rnd(n), *gg = dup(g, n);
    double *sq = calloc(n, sizeof *sq);
    for (size_t i = 0; i < n; i++)
        sq[i] = gg[i];
    const float want = opt_clip_grad_norm(g, n, max_norm);
    /* k_sumsq: block b sums its grid-stride slice; k_norm: one block over the partials */
    const size_t blocks = norm_blocks(n);
    double *part = calloc(blocks, sizeof *part);
    for (size_t b = 0; b < blocks; b++)
        part[b] = block_sum(sq, b * SUM_THREADS, blocks * SUM_THREADS, n, 1);
    const float norm = (float)sqrt(block_sum(part, 0, SUM_THREADS, blocks, 0));
    const float coef = clip_coef(norm, max_norm);
    if (coef < 1.0f)
        for (size_t i = 0; i < n; i++)
            clip_at(gg, i, coef);
    expect(name, "gradient norm", &norm, &want, 1, 1e-6);
    expect(name, "clipped gradients", gg, g, n, 1e-6);
    free(g), free(gg), free(sq), free(part);
}

static void check_opt(const char *name, const opt_config *cfg, double lr)
{
    enum { N = 1000, STEPS = 3 };
    float *p = rnd(N), *gp = dup(p, N), *g = calloc(N, sizeof *g);
    const size_t ns = opt_state_floats(cfg, N);
    float *st = calloc(ns + 1, sizeof *st), *gst = calloc(ns + 1, sizeof *gst);
    unsigned char mask[N];
    for (int i = 0; i < N; i++)
        mask[i] = i % 7 != 3; /* batch-norm running statistics are masked off */
    opt_state o;
    nn_err err = {0};
    if (opt_init(&o, cfg, st, N, &err))
        fail_msg("case %s: %s", name, err.msg);
    for (int step = 1; step <= STEPS; step++) {
        for (int i = 0; i < N; i++)
            g[i] = frand();
        opt_begin_step(&o);
        for (int i = 0; i < N; i++)
            if (mask[i])
                opt_update(&o, p, g, (size_t)i, 1, lr, cfg->weight_decay);
        if (cfg->kind == OPT_SGD) {
            const sgd_k k = sgd_k_of(cfg, step, lr, cfg->weight_decay);
            for (size_t i = 0; i < N; i++)
                sgd_at(gp, g, gst, mask, i, &k);
        } else {
            const adam_k k = adam_k_of(cfg, step, lr, cfg->weight_decay);
            for (size_t i = 0; i < N; i++)
                adam_at(gp, g, gst, gst + N, mask, i, &k);
        }
    }
    expect(name, "parameters after 3 steps", gp, p, N, 0);
    expect(name, "optimizer state after 3 steps", gst, st, ns, 0);
    free(p), free(gp), free(g), free(st), free(gst);
}

static void test_optim(void **state)
{
    (void)state;
    check_clip("clip_small", 1000, 0.05f);
    check_clip("clip_grid_stride", 300001, 1.0f); /* > NORM_BLOCKS * SUM_THREADS: slices wrap */
    check_clip("clip_none", 5000, 1e9f);
    opt_config sgd = opt_defaults(OPT_SGD);
    check_opt("sgd", &sgd, 0.1);
    sgd.momentum = 0.9, sgd.dampening = 0.1, sgd.weight_decay = 0.01;
    check_opt("sgd_momentum_wd", &sgd, 0.05);
    sgd.dampening = 0, sgd.nesterov = true;
    check_opt("sgd_nesterov", &sgd, 0.05);
    opt_config adam = opt_defaults(OPT_ADAM);
    adam.weight_decay = 0.02;
    check_opt("adam_wd", &adam, 1e-2);
    check_opt("adamw", &(opt_config){.kind = OPT_ADAMW, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8,
                                     .weight_decay = 0.01}, 1e-2);
    if (body_failures())
        fail_msg("%d body checks failed (see FAIL lines above)", body_failures());
}

/* ------------------------------------------------------------------ preprocessing */
static void check_pp(const char *name, const nn_preprocess *pre, int oh, int ow, int oc, int width, int height,
                     int stride)
{
    uint8_t *frame = malloc((size_t)stride * height);
    for (size_t i = 0; i < (size_t)stride * height; i++)
        frame[i] = (uint8_t)((frand() + 1.0f) * 127.9f);
    pp_plan p;
    nn_err err = {0};
    const size_t n = (size_t)oh * ow * oc;
    float *want = calloc(n, sizeof *want), *got = calloc(n, sizeof *got);
    if (pp_init(&p, pre, oh, ow, oc, &err) || pp_run(&p, frame, width, height, stride, want, &err))
        fail_msg("case %s: %s", name, err.msg);
    /* the device's tables: y0 y1 x0 x1, then wy wx; only the rows they use are uploaded */
    int *ti = calloc(2 * ((size_t)oh + ow), sizeof *ti);
    float *tf = calloc((size_t)oh + ow, sizeof *tf);
    if (nn_resample_tables(pre, width, height, oh, ow, ti, ti + oh, tf, ti + 2 * oh, ti + 2 * oh + ow, tf + oh, &err))
        fail_msg("case %s: %s", name, err.msg);
    int row0 = height;
    for (int i = 0; i < 2 * oh; i++)
        row0 = ti[i] < row0 ? ti[i] : row0;
    for (size_t e = 0; e < (size_t)oh * ow; e++)
        pp_px_at(got, frame + (size_t)row0 * stride, (size_t)stride, row0, ti, tf, oh, ow, oc, pre->scale,
                 pre->offset, e);
    expect(name, "preprocessed frame", got, want, n, 0);
    pp_free(&p);
    free(frame), free(want), free(got), free(ti), free(tf);
}

static void test_preprocess(void **state)
{
    (void)state;
    const nn_preprocess crop = {.crop = true, .src_h = 160, .src_w = 320, .top = 60, .bottom = 140, .left = 10,
                                .right = 310, .scale = 1.0f / 127.5f, .offset = -1.0f};
    check_pp("rgb_crop_down", &crop, 66, 200, 3, 320, 160, 320 * 3);
    check_pp("rgb_crop_scaled_frame_padded_rows", &crop, 66, 200, 3, 640, 320, 640 * 3 + 13);
    const nn_preprocess plain = {.scale = 1.0f / 255.0f, .offset = 0.0f};
    check_pp("luma_down", &plain, 32, 32, 1, 100, 75, 300);
    check_pp("rgb_up", &plain, 64, 96, 3, 40, 30, 121);
    check_pp("luma_up", &plain, 50, 70, 1, 23, 17, 69);
    if (body_failures())
        fail_msg("%d body checks failed (see FAIL lines above)", body_failures());
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* the FAIL lines survive a sanitizer abort */
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_batchnorm), cmocka_unit_test(test_losses),
                                       cmocka_unit_test(test_optim), cmocka_unit_test(test_preprocess)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
