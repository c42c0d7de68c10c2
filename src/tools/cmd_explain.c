/* cmd_explain.c — `steerctl explain`: prints, for one layer configuration, the output shape,
 * weights and MACs of a standard KxK convolution, a spatially separable and a depthwise separable
 * convolution and an EffNet block, with their ratio to the standard one and every formula with the
 * numbers substituted. The arithmetic lives in explain.c; this file parses and prints. */
#include <stdio.h>
#include <string.h>

#include "tools/explain.h"
#include "tools/steerctl.h"

static void usage(FILE *f)
{
    fputs("usage: steerctl explain [--input HxWxC] [--kernel K] [--filters N] [--padding valid|same]\n"
          "\n"
          "Compares, for one layer configuration, the weights and multiply-accumulates (MACs) of\n"
          "  standard conv        K x K conv, C -> N channels\n"
          "  spatial separable    1 x K conv C -> C, then K x 1 conv C -> N\n"
          "  depthwise separable  K x K depthwise conv (one K x K filter per channel), then 1 x 1 conv C -> N\n"
          "  EffNet block         1x1 conv C -> M = N/2, depthwise 1x3, max-pool 2x1 (stride 2x1),\n"
          "                       depthwise 3x1, 2x1 conv M -> N with stride (1,2): fixed kernels and\n"
          "                       'same' padding (--kernel and --padding do not apply); it halves height\n"
          "                       and width, like a conv followed by a 2x2 max-pool\n"
          "and prints each one's output shape, counts, ratio to the standard conv, and the formulas\n"
          "symbolically and with the numbers substituted. Counts are weights only (no biases, no batch\n"
          "norm); MACs are for one image; all convolutions have stride 1 unless stated.\n"
          "\n"
          "options:\n"
          "  -i, --input HxWxC          input height x width x channels (default 12x12x3)\n"
          "  -k, --kernel K             kernel size K of the KxK convolution (default 5)\n"
          "  -f, --filters N            output channels N (default 256)\n"
          "  -p, --padding valid|same   padding of the KxK convolutions (default valid)\n"
          "  -h, --help                 show this help (--version: the version)\n"
          "\n"
          "Exit status: 0 on success, 64 on a bad option. Background: docs/EXPLAINER.md.\n",
          f);
}

static void shape_str(char *buf, size_t len, int h, int w, int c)
{
    snprintf(buf, len, "%dx%dx%d", h, w, c);
}

static int ullen(unsigned long long v)
{
    char b[32];
    return snprintf(b, sizeof b, "%llu", v);
}

static void print_table(const explain_result res[EXPLAIN_N_METHODS])
{
    int wn = (int)strlen("method"), ws = (int)strlen("output"), wp = (int)strlen("params"),
        wm = (int)strlen("MACs");
    for (int i = 0; i < EXPLAIN_N_METHODS; i++) {
        const explain_result *r = &res[i];
        char s[48];
        shape_str(s, sizeof s, r->out_h, r->out_w, r->out_c);
        if ((int)strlen(r->name) > wn)
            wn = (int)strlen(r->name);
        if ((int)strlen(s) > ws)
            ws = (int)strlen(s);
        if (ullen(r->params) > wp)
            wp = ullen(r->params);
        if (ullen(r->macs) > wm)
            wm = ullen(r->macs);
    }
    printf("%-*s  %-*s  %*s  %8s  %*s  %8s\n", wn, "method", ws, "output", wp, "params", "x std", wm, "MACs",
           "x std");
    for (int i = 0; i < EXPLAIN_N_METHODS; i++) {
        const explain_result *r = &res[i];
        if (!r->applicable) {
            printf("%-*s  n/a: %s\n", wn, r->name, r->not_applicable);
            continue;
        }
        char s[48];
        shape_str(s, sizeof s, r->out_h, r->out_w, r->out_c);
        printf("%-*s  %-*s  %*llu  %8.4f  %*llu  %8.4f\n", wn, r->name, ws, s, wp, (unsigned long long)r->params,
               r->params_ratio, wm, (unsigned long long)r->macs, r->macs_ratio);
    }
}

static void print_details(const explain_result *r)
{
    printf("\n%s: %s\n", r->name, r->definition);
    if (!r->applicable) {
        printf("  n/a: %s\n", r->not_applicable);
        return;
    }
    int ww = 0;
    for (int i = 0; i < r->n_steps; i++)
        if ((int)strlen(r->steps[i].what) > ww)
            ww = (int)strlen(r->steps[i].what);
    for (int i = 0; i < r->n_steps; i++) {
        const explain_step *s = &r->steps[i];
        char in[48], out[48];
        shape_str(in, sizeof in, s->in_h, s->in_w, s->in_c);
        shape_str(out, sizeof out, s->out_h, s->out_w, s->out_c);
        printf("  %-*s  %s -> %s\n", ww, s->what, in, out);
        if (s->params_formula[0])
            printf("      params = %s\n", s->params_formula);
        if (s->macs_formula[0])
            printf("      MACs   = %s\n", s->macs_formula);
        if (!s->params_formula[0] && !s->macs_formula[0])
            printf("      no weights, no MACs (pooling compares, it does not multiply)\n");
    }
    if (r->n_steps > 1) {
        printf("  total params = %s\n", r->params_formula);
        printf("  total MACs   = %s\n", r->macs_formula);
    }
}

/* `steerctl explain [options]`, argv[0] = "explain". Returns 0, or EXIT_USAGE (64) on a bad option. */
int cmd_explain(int argc, char **argv)
{
    explain_config cfg;
    char err[256] = "";
    switch (explain_parse_args(argc, argv, &cfg, err, sizeof err)) {
    case EXPLAIN_ARGS_HELP:
        usage(stdout);
        return 0;
    case EXPLAIN_ARGS_VERSION:
        return opts_version("steerctl");
    case EXPLAIN_ARGS_ERROR:
        fprintf(stderr, "steerctl explain: %s\n", err);
        return EXIT_USAGE;
    case EXPLAIN_ARGS_RUN:
        break;
    }
    explain_result res[EXPLAIN_N_METHODS];
    if (explain_compute(&cfg, res, err, sizeof err)) {
        fprintf(stderr, "steerctl explain: %s\n", err);
        return EXIT_USAGE;
    }
    const explain_result *std = &res[EXPLAIN_STANDARD];
    printf("steerctl explain: %dx%dx%d input, %dx%d kernel, %d filters, %s padding, stride 1\n", cfg.h, cfg.w,
           cfg.c, cfg.k, cfg.k, cfg.n, explain_pad_name(cfg.pad));
    printf("symbols: H=%d W=%d C=%d (input), K=%d, N=%d; Ho=%d Wo=%d (KxK output: %s)\n", cfg.h, cfg.w, cfg.c,
           cfg.k, cfg.n, std->out_h, std->out_w,
           cfg.pad == EXPLAIN_PAD_SAME ? "same: Ho=H, Wo=W" : "valid: Ho=H-K+1, Wo=W-K+1");
    if (res[EXPLAIN_EFFNET].applicable)
        printf("         EffNet: M=N/2=%d, Hp=floor(H/2)=%d, Wp=ceil(W/2)=%d\n", cfg.n / 2, cfg.h / 2,
               (cfg.w + 1) / 2);
    printf("counts: weights only (no biases, no batch norm); MACs = multiply-accumulates per image\n\n");
    print_table(res);
    for (int i = 0; i < EXPLAIN_N_METHODS; i++)
        print_details(&res[i]);
    printf("\nparams ratio to the standard conv (independent of the input size):\n");
    printf("  spatial separable:   K*C*(C+N) / (K*K*C*N) = (C+N)/(K*N) = (%d+%d)/(%d*%d) = %.4f\n", cfg.c, cfg.n,
           cfg.k, cfg.n, res[EXPLAIN_SPATIAL].params_ratio);
    printf("  depthwise separable: C*(K*K+N) / (K*K*C*N) = 1/N + 1/(K*K) = 1/%d + 1/%d = %.4f"
           " (the MACs ratio too, as both share Ho x Wo)\n",
           cfg.n, cfg.k * cfg.k, res[EXPLAIN_DEPTHWISE].params_ratio);
    if (res[EXPLAIN_EFFNET].applicable)
        printf("  EffNet block:        M*(C+6+2*N) / (K*K*C*N) = %d*(%d+6+%d) / (%d*%d*%d*%d) = %.4f\n", cfg.n / 2,
               cfg.c, 2 * cfg.n, cfg.k, cfg.k, cfg.c, cfg.n, res[EXPLAIN_EFFNET].params_ratio);
    if (res[EXPLAIN_EFFNET].applicable) {
        printf("  The EffNet block also halves height and width (a KxK conv + 2x2 max-pool has the conv's MACs).\n");
        if (res[EXPLAIN_EFFNET].params_ratio >= 1.0 || res[EXPLAIN_EFFNET].macs_ratio >= 1.0)
            printf("  Here it costs more than the standard conv: its 1x1 (C->M) and 2x1 (M->N) convolutions\n"
                   "  outweigh a %dx%d conv from only %d channels. It pays off when C is large, as inside a\n"
                   "  network (try --input 32x32x64 --kernel 3 --filters 128 --padding same).\n",
                   cfg.k, cfg.k, cfg.c);
    }
    return 0;
}
