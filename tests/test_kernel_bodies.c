/* test_kernel_bodies.c — the CUDA kernels' per-element bodies (kernels/body/ headers) on the CPU: each
 * body runs over every index of the grid its kernel launches, and the result is compared with
 * the CPU backend (src/nn/cpu) on the layer cases of the GPU parity tests (tests/test_cuda_infer.c,
 * tests/test_cuda_train.c), forward and backward, at batch 3. Catches index-math errors in CI
 * without a device. Gathers and the kernels that claim the CPU's rounding compare exactly; sums
 * in another order within 1e-5 of the largest reference value. Reductions the kernels do with
 * shared memory or warp shuffles are emulated here in their block / warp order where cheap
 * (softmax's warp butterfly; the per-channel sums of the depthwise filter gradient and the conv
 * bias gradient, body_check.c). The training-only kernels (batch norm, losses, optimizers) and
 * the GPU preprocessing: tests/test_kernel_bodies_train.c. Every case names itself on failure. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "body/conv.h"
#include "body/depthwise.h"
#include "body/eltwise.h"
#include "body/pool.h"
#include "body/reduce.h"
#include "body_check.h"
#include "nn/cpu/cpu.h"
#include "nn/graph.h"

/* ------------------------------------------------------------------ conv2d */
typedef struct {
    const float *x;
    int C;
} col_ctx;

static double col_sum_term(const void *ctx, int r, int c, int z)
{
    (void)z;
    const col_ctx *cc = ctx;
    return col_term(cc->x, r, c, cc->C);
}

static conv_dims conv_of(const nn_layer *l)
{
    const int G = l->groups > 0 ? l->groups : 1;
    return (conv_dims){l->in.h, l->in.w, l->in.c, l->out.h, l->out.w, l->out.c, l->kh, l->kw, l->sh, l->sw,
                       l->pad_top, l->pad_left, l->in.c / G, l->out.c / G};
}

static void check_conv(const lcase *c)
{
    const nn_layer *l = c->l;
    const conv_dims d = conv_of(l);
    const int taps = d.kh * d.kw;
    const size_t wn = (size_t)d.K * taps * d.ig;
    float *krsc = calloc(wn, sizeof *krsc);
    for (size_t e = 0; e < wn; e++)
        conv_to_krsc_at(krsc, c->p[0], e, taps, d.ig, d.og);
    /* forward with each epilogue (fused bias + act) */
    const nn_act acts[] = {NN_ACT_NONE, NN_ACT_RELU, NN_ACT_LEAKY};
    for (int ai = 0; ai < 3; ai++) {
        nn_layer la = *l;
        la.act = acts[ai], la.act_alpha = 0.2f;
        float *want = cpu_fwd(c, &la), *got = calloc(c->out_n, sizeof *got);
        for (size_t e = 0; e < c->out_n; e++)
            conv_fwd_at(got, c->in[0], krsc, l->has_bias ? c->p[1] : NULL, e, &d, la.act, 0.2f);
        expect(c->name, ai == 0 ? "conv forward" : "conv forward + act", got, want, c->out_n, 1e-5);
        free(want), free(got);
    }
    /* the padded copy (what cuDNN sees for asymmetric padding): a valid convolution over it */
    const int XH = d.IH + l->pad_top + l->pad_bottom, XW = d.IW + l->pad_left + l->pad_right;
    const size_t xn = (size_t)B * XH * XW * d.C;
    float *xp = calloc(xn, sizeof *xp);
    for (size_t e = 0; e < xn; e++)
        conv_pad_at(xp, c->in[0], e, d.IH, d.IW, d.C, XH, XW, d.pt, d.pl);
    conv_dims dp = d;
    dp.IH = XH, dp.IW = XW, dp.pt = dp.pl = 0;
    {
        float *want = cpu_fwd(c, l), *got = calloc(c->out_n, sizeof *got);
        for (size_t e = 0; e < c->out_n; e++)
            conv_fwd_at(got, xp, krsc, l->has_bias ? c->p[1] : NULL, e, &dp, NN_ACT_NONE, 0.0f);
        expect(c->name, "conv forward on the padded copy", got, want, c->out_n, 1e-5);
        free(want), free(got);
    }
    /* crop_add is pad's adjoint: <pad(x), r> == <x, crop(r)> */
    float *r = rnd(xn), *cr = calloc(c->in_n[0], sizeof *cr);
    for (size_t e = 0; e < c->in_n[0]; e++)
        conv_crop_add_at(cr, r, e, d.IH, d.IW, XH, XW, d.C, d.pt, d.pl);
    double lhs = 0, rhs = 0;
    for (size_t e = 0; e < xn; e++)
        lhs += (double)xp[e] * r[e];
    for (size_t e = 0; e < c->in_n[0]; e++)
        rhs += (double)c->in[0][e] * cr[e];
    if (fabs(lhs - rhs) > 1e-9 * (1 + fabs(lhs))) {
        printf("FAIL case %s: conv crop_add is not the padded copy's adjoint (%.12g vs %.12g)\n", c->name, lhs, rhs);
        body_fail();
    }
    free(r), free(cr), free(xp);
    /* backward: data gathered, filter per KRSC element then added back in the engine layout */
    float *dx[NN_MAX_INPUTS] = {0}, *dpw[4] = {0};
    float *out = cpu_fwd(c, l);
    cpu_bwd(c, out, dx, dpw, NULL);
    float *gx = dup(c->dx0[0], c->in_n[0]), *dk = calloc(wn, sizeof *dk), *gw = dup(c->dp0[0], wn);
    for (size_t e = 0; e < c->in_n[0]; e++)
        conv_bwd_data_at(gx, c->dy, krsc, e, &d);
    for (size_t e = 0; e < wn; e++)
        conv_bwd_filter_at(dk, c->in[0], c->dy, e, B, &d);
    for (size_t e = 0; e < wn; e++)
        conv_from_krsc_add_at(gw, dk, e, taps, d.ig, d.og);
    expect(c->name, "conv backward-data", gx, dx[0], c->in_n[0], 1e-5);
    expect(c->name, "conv backward-filter", gw, dpw[0], wn, 1e-5);
    if (l->has_bias) { /* cu_col_sums_add: dy's column sums over the B*OH*OW rows */
        double *tot = calloc((size_t)d.K, sizeof *tot);
        float *gb = dup(c->dp0[1], (size_t)d.K);
        const col_ctx cc = {c->dy, d.K};
        chan_sums_emul(col_sum_term, &cc, B * d.OH * d.OW, d.K, 1, tot);
        for (size_t k = 0; k < (size_t)d.K; k++)
            add_tot_at(gb, tot, k);
        expect(c->name, "conv bias gradient (column sums)", gb, dpw[1], (size_t)d.K, 1e-5);
        free(tot), free(gb);
    }
    free(gx), free(dk), free(gw), free(out), free(krsc);
    for (int k = 0; k < 4; k++)
        free(dx[k]), free(dpw[k]);
}

/* ------------------------------------------------------------------ depthwise */
typedef struct {
    const float *x, *g;
    const dw_dims *d;
} dw_ctx;

static double dw_sum_term(const void *ctx, int r, int o, int z)
{
    const dw_ctx *dc = ctx;
    return dw_grad_term(dc->x, dc->g, r, o, z, dc->d);
}

static void check_depthwise(const lcase *c)
{
    const nn_layer *l = c->l;
    const int dm = l->depth_multiplier > 0 ? l->depth_multiplier : 1;
    const dw_dims d = {l->in.h, l->in.w, l->in.c, l->out.h, l->out.w, l->out.c, dm, l->kh, l->kw, l->sh, l->sw,
                       l->pad_top, l->pad_left};
    const nn_act acts[] = {NN_ACT_NONE, NN_ACT_LEAKY};
    for (int ai = 0; ai < 2; ai++) {
        nn_layer la = *l;
        la.act = acts[ai], la.act_alpha = 0.1f;
        float *want = cpu_fwd(c, &la), *got = calloc(c->out_n, sizeof *got);
        for (size_t e = 0; e < c->out_n; e++)
            dw_fwd_at(got, c->in[0], c->p[0], l->has_bias ? c->p[1] : NULL, e, &d, d.kh, d.kw, la.act, 0.1f);
        expect(c->name, "depthwise forward", got, want, c->out_n, 1e-5);
        free(want), free(got);
    }
    float *dx[NN_MAX_INPUTS] = {0}, *dp[4] = {0};
    float *out = cpu_fwd(c, l);
    cpu_bwd(c, out, dx, dp, NULL);
    float *gx = dup(c->dx0[0], c->in_n[0]);
    for (size_t e = 0; e < c->in_n[0]; e++)
        dw_bwd_input_at(gx, c->p[0], c->dy, e, &d);
    expect(c->name, "depthwise backward-input", gx, dx[0], c->in_n[0], 1e-6);
    /* filter + bias gradients: chan_sums' per-channel totals (double), in its block order */
    const int taps = d.kh * d.kw, M = B * d.OH * d.OW;
    double *tot = calloc((size_t)(taps + 1) * d.CO, sizeof *tot);
    const dw_ctx dc = {c->in[0], c->dy, &d};
    chan_sums_emul(dw_sum_term, &dc, M, d.CO, taps + 1, tot);
    float *gw = dup(c->dp0[0], (size_t)taps * d.CO), *gb = l->has_bias ? dup(c->dp0[1], (size_t)d.CO) : NULL;
    for (size_t i = 0; i < (size_t)(taps + 1) * d.CO; i++)
        dw_add_grads_at(gw, gb, tot, i, taps, d.CO);
    expect(c->name, "depthwise filter gradient", gw, dp[0], (size_t)taps * d.CO, 1e-5);
    if (gb)
        expect(c->name, "depthwise bias gradient", gb, dp[1], (size_t)d.CO, 1e-5);
    free(gx), free(tot), free(gw), free(gb), free(out);
    for (int k = 0; k < 4; k++)
        free(dx[k]), free(dp[k]);
}

/* ------------------------------------------------------------------ pooling */
static void check_pool(const lcase *c)
{
    const nn_layer *l = c->l;
    float *dx[NN_MAX_INPUTS] = {0}, *dp[4] = {0};
    float *want = cpu_fwd(c, l), *got = calloc(c->out_n, sizeof *got), *gx = dup(c->dx0[0], c->in_n[0]);
    if (l->op == NN_OP_GLOBAL_AVGPOOL) {
        const size_t HW = (size_t)l->in.h * l->in.w;
        for (size_t e = 0; e < c->out_n; e++)
            gap_fwd_at(got, c->in[0], e, l->in.c, HW);
        cpu_bwd(c, want, dx, dp, NULL);
        for (size_t e = 0; e < c->in_n[0]; e++)
            gap_bwd_at(gx, c->dy, e, HW, l->in.c, 1.0f / (float)HW);
        expect(c->name, "global average pool forward", got, want, c->out_n, 1e-6);
    } else {
        const pool_dims d = pool_dims_of(l);
        const int is_max = l->op == NN_OP_MAXPOOL;
        for (size_t e = 0; e < c->out_n; e++)
            pool_fwd_at(got, c->in[0], e, &d, is_max);
        cpu_bwd(c, want, dx, dp, NULL);
        for (size_t e = 0; e < c->in_n[0]; e++)
            pool_bwd_at(gx, c->in[0], c->dy, e, &d, is_max);
        expect(c->name, "pool forward", got, want, c->out_n, is_max ? 0 : 1e-6);
    }
    expect(c->name, "pool backward", gx, dx[0], c->in_n[0], 0);
    free(want), free(got), free(gx);
    for (int k = 0; k < 4; k++)
        free(dx[k]), free(dp[k]);
}

/* ------------------------------------------------------------------ element-wise and gathers */
/* k_softmax's warp algorithm on the host: 32 lanes stride the channels, then xor butterflies. */
static void softmax_warp(float *y, const float *x, size_t pixels, int C)
{
    for (size_t px = 0; px < pixels; px++) {
        const float *xp = x + px * (size_t)C;
        float mx[32], sum[32];
        for (int lane = 0; lane < 32; lane++) {
            mx[lane] = -INFINITY;
            for (int ch = lane; ch < C; ch += 32)
                mx[lane] = fmaxf(mx[lane], xp[ch]);
        }
        for (int o = 16; o > 0; o >>= 1) {
            float t[32];
            for (int lane = 0; lane < 32; lane++)
                t[lane] = fmaxf(mx[lane], mx[lane ^ o]);
            memcpy(mx, t, sizeof t);
        }
        for (int lane = 0; lane < 32; lane++) {
            sum[lane] = 0.0f;
            for (int ch = lane; ch < C; ch += 32)
                sum[lane] += expf(xp[ch] - mx[lane]);
        }
        for (int o = 16; o > 0; o >>= 1) {
            float t[32];
            for (int lane = 0; lane < 32; lane++)
                t[lane] = sum[lane] + sum[lane ^ o];
            memcpy(sum, t, sizeof t);
        }
        for (int lane = 0; lane < 32; lane++)
            for (int ch = lane; ch < C; ch += 32)
                y[px * (size_t)C + ch] = expf(xp[ch] - mx[lane]) * (1.0f / sum[lane]);
    }
}

static void check_eltwise(const lcase *c)
{
    const nn_layer *l = c->l;
    float *dx[NN_MAX_INPUTS] = {0}, *dp[4] = {0};
    float *want = cpu_fwd(c, l), *got = calloc(c->out_n, sizeof *got);
    float *gx[NN_MAX_INPUTS] = {0};
    for (int k = 0; k < l->n_inputs; k++)
        gx[k] = dup(c->dx0[k], c->in_n[k]);
    body_inputs in = {.n = l->n_inputs};
    for (int k = 0, off = 0; k < l->n_inputs; off += c->in_c[k], k++)
        in.x[k] = c->in[k], in.c0[k] = off, in.c0[k + 1] = off + c->in_c[k];
    const int C = l->out.c;
    const size_t pixels = c->out_n / (size_t)C;
    switch (l->op) {
    case NN_OP_RELU:
    case NN_OP_LEAKY_RELU: {
        const nn_act act = l->op == NN_OP_RELU ? NN_ACT_RELU : NN_ACT_LEAKY;
        memcpy(got, c->in[0], c->out_n * sizeof *got);
        for (size_t i = 0; i < c->out_n; i++) /* the epilogue kernel, no bias: the activation alone */
            bias_act_at(got, i, C, NULL, act, l->alpha);
        cpu_bwd(c, want, dx, dp, NULL);
        for (size_t i = 0; i < c->out_n; i++)
            act_bwd_at(gx[0], c->in[0], c->dy, i, act, l->alpha);
        expect(c->name, "activation forward", got, want, c->out_n, 0);
        expect(c->name, "activation backward", gx[0], dx[0], c->in_n[0], 0);
        /* with a bias: x + bias[i % C] then the activation */
        float *b = rnd((size_t)C), *w2 = calloc(c->out_n, sizeof *w2);
        for (size_t i = 0; i < c->out_n; i++)
            w2[i] = c->in[0][i] + b[i % (size_t)C];
        cpu_apply_act(w2, c->out_n, act, l->alpha);
        memcpy(got, c->in[0], c->out_n * sizeof *got);
        for (size_t i = 0; i < c->out_n; i++)
            bias_act_at(got, i, C, b, act, l->alpha);
        expect(c->name, "bias + activation epilogue", got, w2, c->out_n, 0);
        free(b), free(w2);
        break;
    }
    case NN_OP_SIGMOID:
    case NN_OP_TANH:
    case NN_OP_ELU:
    case NN_OP_CLIP: {
        /* the bodies call libm (expf, tanhf, expm1f; the device's own), the CPU its vectorisable
         * polynomials: within 1e-6; clip, and the sigmoid / tanh backward from the same y, exactly */
        const body_pw f = body_pw_of(l);
        const double tol = l->op == NN_OP_CLIP ? 0 : 1e-6, btol = l->op == NN_OP_ELU ? 1e-6 : 0;
        for (size_t i = 0; i < c->out_n; i++)
            pw_at(got, c->in[0], i, f);
        expect(c->name, "pointwise forward", got, want, c->out_n, tol);
        memcpy(got, c->in[0], c->out_n * sizeof *got);
        for (size_t i = 0; i < c->out_n; i++) /* in place, as the forward may run */
            pw_at(got, got, i, f);
        expect(c->name, "pointwise forward in place", got, want, c->out_n, tol);
        cpu_bwd(c, want, dx, dp, NULL);
        for (size_t i = 0; i < c->out_n; i++)
            pw_bwd_at(gx[0], c->in[0], want, c->dy, i, f);
        expect(c->name, "pointwise backward", gx[0], dx[0], c->in_n[0], btol);
        break;
    }
    case NN_OP_SOFTMAX:
        softmax_warp(got, c->in[0], pixels, C);
        expect(c->name, "softmax forward (warp emulation)", got, want, c->out_n, 1e-6);
        cpu_bwd(c, want, dx, dp, NULL);
        for (size_t px = 0; px < pixels; px++)
            softmax_bwd_px(gx[0], want, c->dy, px, C);
        expect(c->name, "softmax backward", gx[0], dx[0], c->in_n[0], 1e-6);
        break;
    case NN_OP_CHANNEL_SHUFFLE:
        for (size_t e = 0; e < c->out_n; e++)
            shuffle_at(got, c->in[0], e, C, l->groups);
        cpu_bwd(c, want, dx, dp, NULL);
        for (size_t e = 0; e < c->in_n[0]; e++)
            shuffle_bwd_at(gx[0], c->dy, e, C, l->groups);
        expect(c->name, "shuffle forward", got, want, c->out_n, 0);
        expect(c->name, "shuffle backward", gx[0], dx[0], c->in_n[0], 0);
        break;
    case NN_OP_ADD:
        for (size_t i = 0; i < c->out_n; i++)
            add_at(got, &in, i);
        expect(c->name, "add forward", got, want, c->out_n, 1e-6);
        break;
    case NN_OP_CONCAT:
        for (size_t e = 0; e < c->out_n; e++)
            concat_at(got, &in, e);
        cpu_bwd(c, want, dx, dp, NULL);
        for (int k = 0; k < l->n_inputs; k++)
            for (size_t e = 0; e < pixels * (size_t)c->in_c[k]; e++)
                concat_bwd_at(gx[k], c->dy, e, C, in.c0[k], c->in_c[k]);
        expect(c->name, "concat forward", got, want, c->out_n, 0);
        for (int k = 0; k < l->n_inputs; k++)
            expect(c->name, "concat backward", gx[k], dx[k], c->in_n[k], 0);
        break;
    case NN_OP_DROPOUT: {
        const uint64_t seed = 12345;
        float *mask = calloc(c->out_n, sizeof *mask), *mask_cpu = calloc(c->out_n, sizeof *mask_cpu);
        cpu_fwd_args a = {.l = l, .out = want, .batch = B, .isa = NN_CPU_ISA_SCALAR};
        a.in[0] = c->in[0];
        cpu_dropout_forward_train(&a, seed, 0, mask_cpu);
        const float keep = l->rate < 1.0f ? 1.0f / (1.0f - l->rate) : 0.0f;
        const uint64_t key = body_mix64(seed + 0x9e3779b97f4a7c15ull);
        for (size_t i = 0; i < c->out_n; i++)
            dropout_fwd_at(got, mask, c->in[0], i, 0, key, l->rate, keep);
        expect(c->name, "dropout mask", mask, mask_cpu, c->out_n, 0);
        expect(c->name, "dropout forward", got, want, c->out_n, 0);
        /* a data-parallel slice from sample `first` (its elements from 0, base = first * size)
         * draws the whole batch's rows, as the CPU's slice does */
        const size_t size = c->out_n / (size_t)B;
        for (int first = 1; first < B; first++) {
            const size_t base = (size_t)first * size, n = c->out_n - base;
            float *smask = calloc(n, sizeof *smask), *sy = calloc(n, sizeof *sy), *cmask = calloc(n, sizeof *cmask);
            float *cy = calloc(n, sizeof *cy);
            for (size_t i = 0; i < n; i++)
                dropout_fwd_at(sy, smask, c->in[0] + base, i, base, key, l->rate, keep);
            cpu_fwd_args sa = {.l = l, .out = cy, .batch = B - first, .isa = NN_CPU_ISA_SCALAR};
            sa.in[0] = c->in[0] + base;
            cpu_dropout_forward_train(&sa, seed, base, cmask);
            expect(c->name, "sharded dropout mask (the whole batch's rows)", smask, mask_cpu + base, n, 0);
            expect(c->name, "sharded dropout mask (the CPU slice's)", smask, cmask, n, 0);
            expect(c->name, "sharded dropout forward", sy, want + base, n, 0);
            free(smask), free(sy), free(cmask), free(cy);
        }
        cpu_bwd(c, want, dx, dp, mask_cpu);
        for (size_t i = 0; i < c->out_n; i++)
            dropout_bwd_at(gx[0], c->dy, mask, i);
        expect(c->name, "dropout backward", gx[0], dx[0], c->in_n[0], 0);
        free(mask), free(mask_cpu);
        break;
    }
    default:
        fail_msg("case %s: no body check for %s", c->name, nn_op_name(l->op));
    }
    free(want), free(got);
    for (int k = 0; k < NN_MAX_INPUTS; k++)
        free(gx[k]), free(dx[k]);
    for (int k = 0; k < 4; k++)
        free(dp[k]);
}

/* ------------------------------------------------------------------ the cases */
typedef struct {
    const char *name;
    int h, w, c;
    const char *layers;
    const char *target; /* the layer whose kernels are checked */
} body_case;

/* The GPU parity tests' layer cases (test_cuda_infer.c layer_cases, test_cuda_train.c check_layers). */
static const body_case cases[] = {
    {"conv3x3_relu", 9, 11, 5, "  - {name: c, type: conv2d, filters: 8, kernel: 3}\n", "c"},
    {"conv_same_s2", 10, 9, 4, "  - {name: c, type: conv2d, filters: 6, kernel: 3, stride: 2, padding: same}\n", "c"},
    {"conv_even_same", 7, 8, 3, "  - {name: c, type: conv2d, filters: 5, kernel: 4, padding: same}\n", "c"},
    {"conv1x1_nobias", 6, 7, 12, "  - {name: c, type: conv2d, filters: 16, kernel: 1, bias: false}\n", "c"},
    {"conv_groups_2x1", 8, 9, 8,
     "  - {name: c, type: conv2d, filters: 12, kernel: [2, 1], stride: [1, 2], padding: [1, 0, 0, 1], groups: 2}\n",
     "c"},
    {"conv_groups4_1x1", 5, 5, 4, "  - {name: c, type: conv2d, filters: 8, kernel: 1, groups: 4}\n", "c"},
    {"conv_pad_2012", 7, 6, 3, "  - {name: c, type: conv2d, filters: 4, kernel: 3, padding: [2, 0, 1, 2]}\n", "c"},
    {"conv_s2_2x2", 6, 6, 3, "  - {name: c, type: conv2d, filters: 4, kernel: 2, padding: same}\n", "c"},
    {"dw_1x3", 6, 10, 7, "  - {name: d, type: depthwise_conv2d, kernel: [1, 3], padding: same}\n", "d"},
    {"dw_3x1", 10, 6, 7, "  - {name: d, type: depthwise_conv2d, kernel: [3, 1], padding: same, bias: false}\n", "d"},
    {"dw_3x3_s2_dm2", 11, 9, 5,
     "  - {name: d, type: depthwise_conv2d, kernel: 3, stride: 2, padding: same, depth_multiplier: 2}\n", "d"},
    {"dw_5x5", 9, 9, 4, "  - {name: d, type: depthwise_conv2d, kernel: 5}\n", "d"},
    {"dw_5x5_s21", 9, 8, 5, "  - {name: d, type: depthwise_conv2d, kernel: 5, stride: [2, 1], padding: same}\n", "d"},
    {"dw_2x3_generic", 7, 8, 6, "  - {name: d, type: depthwise_conv2d, kernel: [2, 3], padding: [1, 0, 1, 1]}\n",
     "d"},
    {"maxpool_2x1", 9, 7, 6, "  - {name: p, type: max_pool2d, pool: [2, 1], stride: [2, 1]}\n", "p"},
    {"maxpool_2x1_s1", 6, 6, 3, "  - {name: p, type: max_pool2d, pool: [2, 1]}\n", "p"},
    {"maxpool_3_s2_same", 9, 10, 5, "  - {name: p, type: max_pool2d, pool: 3, stride: 2, padding: same}\n", "p"},
    {"maxpool_3_s1_same", 6, 6, 2, "  - {name: p, type: max_pool2d, pool: 3, stride: 1, padding: same}\n", "p"},
    {"avgpool_3_s2_same", 9, 10, 5, "  - {name: p, type: avg_pool2d, pool: 3, stride: 2, padding: same}\n", "p"},
    {"avgpool_3_s2_asym", 7, 6, 3, "  - {name: p, type: avg_pool2d, pool: 3, stride: 2, padding: [1, 0, 2, 1]}\n",
     "p"},
    {"avgpool_2", 8, 6, 3, "  - {name: p, type: avg_pool2d, pool: 2}\n", "p"},
    {"avgpool_3_s2_count_pad", 7, 7, 5,
     "  - {name: p, type: avg_pool2d, pool: 3, stride: 2, padding: [1, 1, 1, 1], count_pad: true}\n", "p"},
    {"avgpool_3_s2_asym_count_pad", 7, 6, 3,
     "  - {name: p, type: avg_pool2d, pool: 3, stride: 2, padding: [1, 0, 2, 1], count_pad: true}\n", "p"},
    {"avgpool_2_s1_same_count_pad", 5, 6, 4,
     "  - {name: p, type: avg_pool2d, pool: 2, stride: 1, padding: same, count_pad: true}\n", "p"},
    {"global_avgpool", 7, 5, 9, "  - {name: g, type: global_avg_pool}\n", "g"},
    {"relu", 4, 5, 6, "  - {name: r, type: relu}\n", "r"},
    {"leaky_relu", 4, 5, 6, "  - {name: r, type: leaky_relu, alpha: 0.1}\n", "r"},
    {"sigmoid", 4, 5, 6, "  - {name: r, type: sigmoid}\n", "r"},
    {"tanh", 4, 5, 6, "  - {name: r, type: tanh}\n", "r"},
    {"elu", 4, 5, 6, "  - {name: r, type: elu, alpha: 0.7}\n", "r"},
    {"clip", 4, 5, 6, "  - {name: r, type: clip, min: -0.25, max: 0.5}\n", "r"},
    {"clip_max_only", 3, 4, 5, "  - {name: r, type: clip, max: 0.1}\n", "r"},
    {"softmax_spatial", 3, 4, 11, "  - {name: s, type: softmax}\n", "s"},
    {"softmax_wide", 1, 1, 70, "  - {name: s, type: softmax}\n", "s"},
    {"channel_shuffle", 4, 5, 12, "  - {name: s, type: channel_shuffle, groups: 3}\n", "s"},
    {"add3", 4, 5, 3,
     "  - {name: c0, type: conv2d, filters: 4, kernel: 3, padding: same}\n"
     "  - {name: a, type: conv2d, filters: 4, kernel: 1, input: c0}\n"
     "  - {name: cs, type: channel_shuffle, groups: 2, input: c0}\n"
     "  - {name: s, type: add, inputs: [cs, a, c0]}\n",
     "s"},
    {"concat", 5, 6, 4,
     "  - {name: a, type: conv2d, filters: 3, kernel: 1}\n"
     "  - {name: b, type: depthwise_conv2d, kernel: 3, padding: same, input: input}\n"
     "  - {name: p, type: max_pool2d, pool: 3, stride: 1, padding: same, input: input}\n"
     "  - {name: k, type: concat, inputs: [a, b, p]}\n",
     "k"},
    {"dropout", 3, 4, 5, "  - {name: d, type: dropout, rate: 0.5}\n", "d"},
};

static void test_bodies(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const body_case *bc = &cases[i];
        lcase c;
        case_open(&c, bc->name, bc->h, bc->w, bc->c, bc->layers, bc->target, B);
        const int before = body_failures();
        switch (c.l->op) {
        case NN_OP_CONV2D: check_conv(&c); break;
        case NN_OP_DEPTHWISE: check_depthwise(&c); break;
        case NN_OP_MAXPOOL:
        case NN_OP_AVGPOOL:
        case NN_OP_GLOBAL_AVGPOOL: check_pool(&c); break;
        default: check_eltwise(&c); break;
        }
        printf("  body case %-22s %s\n", bc->name, body_failures() == before ? "ok" : "FAILED");
        case_close(&c);
    }
    if (body_failures())
        fail_msg("%d body checks failed (see FAIL lines above)", body_failures());
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* the FAIL lines survive a sanitizer abort */
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_bodies)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
