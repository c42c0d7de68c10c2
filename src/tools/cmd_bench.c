/* cmd_bench.c — `steerctl bench`: forward-pass latency (median, p99), per-step time, achieved
 * GMAC/s, and the GMAC/s of a large SGEMM measured in the same run as the practical peak. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/cost.h"
#include "nn/cpu/cpu.h"
#include "nn/graph.h"
#include "tools/steerctl.h"

static const char bench_help[] =
    "usage: steerctl bench MODEL.yaml [--weights W.safetensors] [--threads N] [--batch B] [--runs R] [--json]\n"
    "                     [--backend cpu|cuda|auto] [--eager] [--profile] [--isa NAME]\n"
    "\n"
    "Times R forward passes (after R/10 + 3 warm-up passes) of a batch of B random images on N threads\n"
    "(defaults: He-initialised weights, 1 thread, batch 1, 200 runs). Prints per-step mean time\n"
    "(steps are layers after batch-norm folding and activation fusion), latency median and p99,\n"
    "achieved GMAC/s (model MACs x batch / median), and the GMAC/s of a 1024^3 SGEMM on the same\n"
    "threads measured in the same run (the practical peak; CPU backend only).\n"
    "--backend cuda: each pass is host input -> GPU -> host output (pinned buffers), replaying the\n"
    "forward pass captured once in a CUDA Graph; --eager launches the steps one by one instead;\n"
    "--profile times every step with CUDA events (eager; per-step times are only printed then).\n"
    "--conv-direct-macs N: a conv2d of at most N multiply-adds (x batch) runs as one fused kernel\n"
    "instead of cuDNN + epilogue (default 4194304; -1: always cuDNN).\n"
    "--isa auto|scalar|avx2|avx512|neon: the CPU kernels' instruction set (default: $STEERD_ISA, else the\n"
    "best this CPU runs; one it lacks is refused: exit 64, or 78 for $STEERD_ISA); --json reports it (\"isa\").\n"
    "With --train: training throughput instead (steerctl bench MODEL.yaml --train --help).\n";

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int bench_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void bench_fill_random(float *x, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((seed >> 40) & 0xFFFF) / 65536.0f - 0.5f;
    }
}

/* Best-of-5 GMAC/s of a 1024^3 SGEMM on `threads` threads; 0 on allocation failure. */
static double sgemm_peak_gmacs(int threads)
{
    const int n = 1024;
    nn_err err;
    nn_pool *pool;
    if (nn_pool_create(&pool, threads, &err))
        return 0;
    size_t sz = (size_t)n * (size_t)n;
    float *a = malloc(sz * sizeof *a), *b = malloc(sz * sizeof *b), *c = malloc(sz * sizeof *c);
    float *ws = malloc((nn_sgemm_ws_floats(n, n, n, threads) + 1) * sizeof *ws);
    double best = 0;
    if (a && b && c && ws) {
        bench_fill_random(a, sz, 1);
        bench_fill_random(b, sz, 2);
        for (int rep = 0; rep < 5; rep++) {
            uint64_t t0 = now_ns();
            nn_sgemm(pool, n, n, n, a, n, b, n, c, n, NULL, false, NN_ACT_NONE, 0, ws);
            double g = (double)n * n * n / (double)(now_ns() - t0);
            if (g > best)
                best = g;
        }
    }
    free(a);
    free(b);
    free(c);
    free(ws);
    nn_pool_free(pool);
    return best;
}

typedef struct {
    const char *spec, *weights, *isa_name;
    long threads, batch, runs;
    bool json, eager, profile;
    nn_backend backend;
    nn_cpu_isa isa;
    long conv_direct_macs;
} bench_opts;

/* bench's options, and --train (which hands the command to cmd_bench_train.c). */
static const struct option bench_options[] = {
    {"weights", required_argument, 0, 'w'}, {"threads", required_argument, 0, 't'},
    {"batch", required_argument, 0, 'b'},   {"runs", required_argument, 0, 'r'},
    {"json", no_argument, 0, 'j'},          {"backend", required_argument, 0, 'B'},
    {"eager", no_argument, 0, 'e'},
    {"profile", no_argument, 0, 'p'},       {"conv-direct-macs", required_argument, 0, 'D'},
    {"train", no_argument, 0, 'T'},         {"isa", required_argument, 0, 'I'},
    {0, 0, 0, 0}};

static int parse(int argc, char **argv, bench_opts *o)
{
    *o = (bench_opts){.threads = 1, .batch = 1, .runs = 200, .backend = NN_BACKEND_CPU};
    opts_parser p;
    opts_start(&p, "steerctl", "bench", argc, argv, "", bench_options);
    for (int c; (c = opts_next(&p)) != OPTS_END;) {
        bool ok = true;
        switch (c) {
        case 'w': o->weights = p.arg; break;
        case 't': ok = parse_int_opt("--threads", p.arg, 1, 256, &o->threads); break;
        case 'b': ok = parse_int_opt("--batch", p.arg, 1, 4096, &o->batch); break;
        case 'r': ok = parse_int_opt("--runs", p.arg, 1, 1000000, &o->runs); break;
        case 'j': o->json = true; break;
        case 'e': o->eager = true; break;
        case 'D': ok = parse_int_opt("--conv-direct-macs", p.arg, -1, 1L << 40, &o->conv_direct_macs); break;
        case 'p': o->profile = true; break;
        case 'B': ok = parse_backend_opt(p.arg, &o->backend); break;
        case 'I': o->isa_name = p.arg; break;
        case OPTS_HELP:
        case OPTS_VERSION: opts_default(&p, c, bench_help); return -1;
        default:
            if (!opts_positional(&p, c, &o->spec, 1))
                return opts_default(&p, c, bench_help);
        }
        if (!ok)
            return EXIT_USAGE;
    }
    if (!o->spec)
        return fputs(bench_help, stderr), EXIT_USAGE;
    int rc = opts_input(&p, NULL, o->spec);
    if (!rc)
        rc = opts_input(&p, "--weights", o->weights);
    return rc ? rc : isa_opt(o->isa_name, &o->isa);
}

/* `--train` anywhere among the options (not as an option's value): the training benchmark. */
static bool wants_train(int argc, char **argv)
{
    opts_parser p;
    opts_start(&p, "steerctl", "bench", argc, argv, "", bench_options);
    for (int c; (c = opts_next(&p)) != OPTS_END;)
        if (c == 'T')
            return true;
    return false;
}

static int report(const bench_opts *o, const nn_model *m, const nn_infer *ctx, uint64_t *lat,
                   const uint64_t *step_total)
{
    qsort(lat, (size_t)o->runs, sizeof *lat, bench_cmp_u64);
    double med = (double)lat[o->runs / 2] / 1e3, p99 = (double)lat[(o->runs * 99) / 100] / 1e3;
    nn_cost cost = nn_graph_cost(&m->g);
    double gmacs = (double)cost.macs * (double)o->batch / (med * 1e3);
    bool cuda = nn_infer_backend(ctx) == NN_BACKEND_CUDA;
    double peak = cuda ? 0.0 : sgemm_peak_gmacs((int)o->threads);
    const char *mode = !cuda ? "cpu" : o->profile ? "profile" : o->eager ? "eager" : "graph";
    int n = (!cuda || o->profile) ? nn_infer_steps(ctx) : 0; /* CUDA graph replays have no per-step times */
    if (o->json) {
        char buf[4096];
        jbuf j;
        jb_init_file(&j, buf, sizeof buf, stdout);
        jb_raw(&j, "{\"model\": ");
        jb_str(&j, nn_model_name(m));
        jb_printf(&j, ", \"backend\": \"%s\", \"isa\": \"%s\", \"mode\": \"%s\", \"batch\": %ld, \"threads\": %ld, \"runs\": %ld, "
                  "\"median_us\": %.2f, \"p99_us\": %.2f, \"images_per_s\": %.1f, \"macs\": %" PRIu64
                  ", \"gmacs\": %.3f, \"peak_gmacs\": %.3f, \"conv_direct_macs\": %ld, \"layers\": [",
                  nn_backend_name(nn_infer_backend(ctx)), nn_cpu_isa_name(nn_infer_isa(ctx)), mode, o->batch, o->threads, o->runs, med, p99,
                  (double)o->batch * 1e6 / med, cost.macs, gmacs, peak, o->conv_direct_macs);
        for (int i = 0; i < n; i++) {
            jb_raw(&j, i ? ", {\"name\": " : "{\"name\": ");
            jb_str(&j, nn_infer_step_name(ctx, i));
            jb_printf(&j, ", \"us\": %.3f}", (double)step_total[i] / (double)o->runs / 1e3);
        }
        jb_raw(&j, "]}\n");
        return json_stdout_done(&j);
    }
    printf("model %s  backend %s (%s)  isa %s  batch %ld  threads %ld  runs %ld\n", nn_model_name(m),
           nn_backend_name(nn_infer_backend(ctx)), mode, nn_cpu_isa_name(nn_infer_isa(ctx)), o->batch, o->threads,
           o->runs);
    if (n > 0)
        printf("%-32s %10s\n", "step", "mean us");
    for (int i = 0; i < n; i++)
        printf("%-32s %10.2f\n", nn_infer_step_name(ctx, i), (double)step_total[i] / (double)o->runs / 1e3);
    printf("latency: median %.1f us, p99 %.1f us (%.1f images/s)\n", med, p99, (double)o->batch * 1e6 / med);
    if (cuda)
        printf("compute: %.3f GMAC/s achieved\n", gmacs);
    else
        printf("compute: %.3f GMAC/s achieved, %.3f GMAC/s SGEMM 1024^3 peak (%.0f%%)\n", gmacs, peak,
               peak > 0 ? 100.0 * gmacs / peak : 0.0);
    return 0;
}

int cmd_bench(int argc, char **argv)
{
    if (wants_train(argc, argv))
        return cmd_bench_train(argc, argv); /* cmd_bench_train.c */
    bench_opts o;
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : rc;
    nn_err err;
    nn_model *m;
    nn_status s = o.weights ? nn_model_load(&m, o.spec, o.weights, &err) : nn_model_load_spec(&m, o.spec, &err);
    if (s)
        return fprintf(stderr, "steerctl: %s\n", err.msg), 1;
    if (!o.weights)
        nn_model_init_he(m, 1);
    nn_infer *ctx;
    nn_infer_opts io = {.max_batch = (int)o.batch, .threads = (int)o.threads, .backend = o.backend, .isa = o.isa,
                        .cuda_eager = o.eager, .profile = o.profile, .cuda_conv_direct_macs = o.conv_direct_macs};
    if ((s = nn_infer_create_opts(&ctx, m, &io, &err))) {
        nn_model_free(m);
        return fprintf(stderr, "steerctl: %s\n", err.msg), 1;
    }
    int h, w, c;
    nn_model_input_shape(m, &h, &w, &c);
    bench_fill_random(nn_infer_input(ctx), (size_t)o.batch * (size_t)h * (size_t)w * (size_t)c, 42);
    int n = nn_infer_steps(ctx);
    uint64_t *lat = calloc((size_t)o.runs, sizeof *lat), *steps = calloc((size_t)n + 1, sizeof *steps);
    if (!lat || !steps) {
        s = nn_fail(&err, NN_E_NOMEM, "out of memory");
    } else {
        for (long r = 0; r < o.runs / 10 + 3 && !s; r++)
            s = nn_infer_run(ctx, (int)o.batch, &err);
        for (long r = 0; r < o.runs && !s; r++) {
            uint64_t t0 = now_ns();
            s = nn_infer_run(ctx, (int)o.batch, &err);
            lat[r] = now_ns() - t0;
            for (int i = 0; i < n; i++)
                steps[i] += nn_infer_step_ns(ctx, i);
        }
        if (!s)
            rc = report(&o, m, ctx, lat, steps);
    }
    free(lat);
    free(steps);
    nn_infer_free(ctx);
    nn_model_free(m);
    if (s)
        return fprintf(stderr, "steerctl: %s\n", err.msg), 1;
    return rc;
}
