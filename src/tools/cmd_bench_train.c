/* cmd_bench_train.c — `steerctl bench --train`: training throughput of a model. Times R full
 * training steps (zero the gradients, training-mode forward, loss, backward, Adam update of every
 * trainable tensor, as steer-train runs them) on one fixed random batch, and reports the median
 * step time, images/s and each layer's mean forward and backward time. The peer benchmark is
 * scripts/bench_torch_train.py (scripts/bench-train.sh runs both). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/graph.h"
#include "nn/train.h"
#include "nn/optim.h"
#include "tools/steerctl.h"

static const char bench_train_help[] =
    "usage: steerctl bench MODEL.yaml --train [--weights W.safetensors] [--threads N] [--batch B] [--runs R]\n"
    "                      [--json]\n"
    "\n"
    "Times R training steps (after 3 warm-up steps) on one batch of B random images on N threads:\n"
    "zero gradients, training-mode forward (batch-norm batch statistics, dropout), loss (softmax\n"
    "cross-entropy for class models, MSE otherwise, random labels/targets), backward, Adam (lr 1e-3)\n"
    "over every trainable tensor. Defaults: He-initialised weights, 1 thread, batch 32, 20 runs.\n"
    "Prints the median and fastest step, the mean process CPU time per step (all threads), images/s,\n"
    "and each layer's mean forward/backward wall time.\n";

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

typedef struct {
    const char *spec, *weights;
    long threads, batch, runs;
    bool json;
} train_opts;

static int parse(int argc, char **argv, train_opts *o)
{
    static const struct option opts[] = {
        {"weights", required_argument, 0, 'w'}, {"threads", required_argument, 0, 't'},
        {"batch", required_argument, 0, 'b'},   {"runs", required_argument, 0, 'r'},
        {"json", no_argument, 0, 'j'},          {"train", no_argument, 0, 'T'},
        {0, 0, 0, 0}};
    *o = (train_opts){.threads = 1, .batch = 32, .runs = 20};
    opts_parser p;
    opts_start(&p, "steerctl", "bench --train", argc, argv, "", opts);
    for (int c; (c = opts_next(&p)) != OPTS_END;) {
        bool ok = true;
        switch (c) {
        case 'w': o->weights = p.arg; break;
        case 't': ok = parse_int_opt("--threads", p.arg, 1, 256, &o->threads); break;
        case 'b': ok = parse_int_opt("--batch", p.arg, 1, 4096, &o->batch); break;
        case 'r': ok = parse_int_opt("--runs", p.arg, 1, 1000000, &o->runs); break;
        case 'j': o->json = true; break;
        case 'T': break;
        case OPTS_HELP:
        case OPTS_VERSION: opts_default(&p, c, bench_train_help); return -1;
        default:
            if (!opts_positional(&p, c, &o->spec, 1))
                return opts_default(&p, c, bench_train_help);
        }
        if (!ok)
            return EXIT_USAGE;
    }
    if (!o->spec)
        return fputs(bench_train_help, stderr), EXIT_USAGE;
    int rc = opts_input(&p, NULL, o->spec);
    return rc ? rc : opts_input(&p, "--weights", o->weights);
}

/* Everything one benchmark owns; freed by bench_free. */
typedef struct {
    nn_model *m;
    nn_train *t;
    float *targets;
    int *labels;
    uint64_t *lat, *fwd, *bwd;
    uint64_t cpu_ns;  /* process CPU time of the timed steps (all threads) */
    bool classes;
    int out_size;
} bench;

static void bench_free(bench *b)
{
    nn_train_free(b->t);
    nn_model_free(b->m);
    free(b->targets);
    free(b->labels);
    free(b->lat);
    free(b->fwd);
    free(b->bwd);
}

static nn_status bench_setup(bench *b, const train_opts *o, nn_err *err)
{
    nn_status s = o->weights ? nn_model_load(&b->m, o->spec, o->weights, err) : nn_model_load_spec(&b->m, o->spec, err);
    if (s)
        return s;
    if (!o->weights)
        nn_model_init_he(b->m, 1);
    if ((s = nn_train_create(&b->t, b->m, (int)o->batch, (int)o->threads, 1, err)))
        return s;
    const int B = (int)o->batch, n = nn_train_layers(b->t);
    b->out_size = nn_train_output_size(b->t);
    b->classes = b->m->g.out_kind == NN_OUT_CLASSES;
    const opt_config adam = opt_defaults(OPT_ADAM);
    if ((s = nn_train_opt_setup(b->t, &adam, err)))
        return s;
    b->targets = malloc((size_t)B * (size_t)b->out_size * sizeof *b->targets);
    b->labels = malloc((size_t)B * sizeof *b->labels);
    b->lat = calloc((size_t)o->runs, sizeof *b->lat);
    b->fwd = calloc((size_t)n, sizeof *b->fwd);
    b->bwd = calloc((size_t)n, sizeof *b->bwd);
    if (!b->targets || !b->labels || !b->lat || !b->fwd || !b->bwd)
        return nn_fail(err, NN_E_NOMEM, "out of memory");
    int h, w, c;
    nn_model_input_shape(b->m, &h, &w, &c);
    bench_fill_random(nn_train_input(b->t), (size_t)B * (size_t)h * (size_t)w * (size_t)c, 42);
    bench_fill_random(b->targets, (size_t)B * (size_t)b->out_size, 7);
    for (int i = 0; i < B; i++)
        b->labels[i] = (int)((uint32_t)(i * 2654435761u) >> 8) % b->out_size;
    return NN_OK;
}

/* One training step: nn_train_step's parts without its gradient-norm pass, which steer-train
 * runs every step (one read of the gradients). The bench keeps the step it has always timed, so
 * its numbers stay comparable with docs/BENCHMARKS.md; bench-train-step (kernels/bench) times
 * nn_train_step itself. */
static nn_status bench_step(bench *b, int batch, nn_err *err)
{
    nn_train_zero_grad(b->t);
    double loss = 0;
    nn_status s = nn_train_forward(b->t, batch, err);
    if (!s)
        s = nn_train_loss(b->t, b->classes ? NN_LOSS_CE : NN_LOSS_MSE, b->labels, b->targets, batch, 0, &loss, err);
    if (!s && loss != loss)
        s = nn_fail(err, NN_E_ARG, "%s: loss is NaN", nn_model_name(b->m));
    if (!s)
        s = nn_train_backward(b->t, batch, NULL, err);
    return s ? s : nn_train_opt_step(b->t, nn_train_opt_steps(b->t) + 1, 1e-3, 0.0, err);
}

static int report(const train_opts *o, const bench *b)
{
    const long R = o->runs;
    qsort(b->lat, (size_t)R, sizeof *b->lat, bench_cmp_u64);
    const double med = (double)b->lat[R / 2] / 1e3, best = (double)b->lat[0] / 1e3;
    const double cpu = (double)b->cpu_ns / (double)R / 1e3;
    const int n = nn_train_layers(b->t);
    const nn_graph *g = &b->m->g;
    double layers_us = 0;
    for (int i = 1; i < n; i++)
        layers_us += (double)(b->fwd[i] + b->bwd[i]) / (double)R / 1e3;
    if (o->json) {
        char buf[4096];
        jbuf j;
        jb_init_file(&j, buf, sizeof buf, stdout);
        jb_raw(&j, "{\"model\": ");
        jb_str(&j, nn_model_name(b->m));
        jb_printf(&j, ", \"batch\": %ld, \"threads\": %ld, \"runs\": %ld, \"median_us\": %.1f, \"min_us\": %.1f, "
                  "\"cpu_us\": %.1f, \"images_per_s\": %.1f, \"layers_us\": %.1f, \"layers\": [",
                  o->batch, o->threads, R, med, best, cpu, (double)o->batch * 1e6 / med, layers_us);
        for (int i = 1; i < n; i++) {
            jb_raw(&j, i > 1 ? ", {\"name\": " : "{\"name\": ");
            jb_str(&j, g->layers[i].name);
            jb_printf(&j, ", \"op\": \"%s\", \"fwd_us\": %.2f, \"bwd_us\": %.2f}", nn_op_name(g->layers[i].op),
                      (double)b->fwd[i] / (double)R / 1e3, (double)b->bwd[i] / (double)R / 1e3);
        }
        jb_raw(&j, "]}\n");
        return json_stdout_done(&j);
    }
    printf("model %s  training step (Adam)  batch %ld  threads %ld  runs %ld\n", nn_model_name(b->m), o->batch,
           o->threads, R);
    printf("%-24s %-16s %12s %12s\n", "layer", "op", "fwd mean us", "bwd mean us");
    for (int i = 1; i < n; i++)
        printf("%-24s %-16s %12.1f %12.1f\n", g->layers[i].name, nn_op_name(g->layers[i].op),
               (double)b->fwd[i] / (double)R / 1e3, (double)b->bwd[i] / (double)R / 1e3);
    printf("layers total %.1f us; step median %.1f us, fastest %.1f us, CPU %.1f us (%.1f images/s)\n", layers_us,
           med, best, cpu, (double)o->batch * 1e6 / med);
    return 0;
}

int cmd_bench_train(int argc, char **argv)
{
    train_opts o;
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : rc;
    nn_err err;
    bench b;
    memset(&b, 0, sizeof b);
    nn_status s = bench_setup(&b, &o, &err);
    for (int r = 0; r < 3 && !s; r++)
        s = bench_step(&b, (int)o.batch, &err);
    if (!s)
        nn_train_set_profile(b.t, b.fwd, b.bwd);
    const uint64_t c0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
    for (long r = 0; r < o.runs && !s; r++) {
        uint64_t t0 = clock_ns(CLOCK_MONOTONIC);
        s = bench_step(&b, (int)o.batch, &err);
        b.lat[r] = clock_ns(CLOCK_MONOTONIC) - t0;
    }
    b.cpu_ns = clock_ns(CLOCK_PROCESS_CPUTIME_ID) - c0;
    if (!s)
        rc = report(&o, &b);
    bench_free(&b);
    if (s)
        return fprintf(stderr, "steerctl: %s\n", err.msg), 1;
    return rc;
}
