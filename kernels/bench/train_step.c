/* train_step.c — bench-train-step: training throughput of a model on the CPU or the GPU with the
 * same step on both, the one steer-train runs: zero the gradients, training-mode forward (batch
 * statistics, dropout), loss on the context (softmax cross-entropy for class models, MSE
 * otherwise; random labels / targets), backward, the global gradient norm (steer-train checks it
 * every step), Adam (lr 1e-3) over every trainable tensor: the engine's nn_train_step, whose
 * optimizer runs src/nn/optim.c on the CPU and kernels/optim.cu on the GPU, so a GPU step never
 * leaves the device except for the input upload and the loss, output and norm read back. One fixed random batch, W warm-up
 * steps, R timed steps; prints the median and fastest step and images/s (one JSON line with
 * --json). The PyTorch peer: scripts/bench_torch_train.py.
 * --backend cuda without a usable device: "skipped: <why>" and exit 77.
 * Usage: bench-train-step MODEL.yaml [--backend cpu|cuda] [--batch B] [--runs R] [--warmup W]
 *                                    [--threads N] [--weights W.safetensors] [--json] */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "nn/graph.h"
#include "nn/optim.h"
#include "nn/train.h"


typedef struct {
    const char *spec, *weights;
    nn_backend backend;
    long batch, runs, warmup, threads;
    int json;
} opts;

typedef struct {
    nn_model *m;
    nn_train *t;
    float *targets;
    int *labels;
    bool classes;
} bench;

static nn_status step(bench *b, int batch, nn_err *err)
{
    const nn_step_args a = {.loss = b->classes ? NN_LOSS_CE : NN_LOSS_MSE, .labels = b->labels,
                            .targets = b->targets, .lr = 1e-3, .max_norm = INFINITY};
    nn_step_result r;
    nn_status s = nn_train_step(b->t, batch, &a, &r, err);
    if (!s && !isfinite(r.loss))
        s = nn_fail(err, NN_E_ARG, "%s: loss is %g", nn_model_name(b->m), r.loss);
    return s;
}

static nn_status setup(bench *b, const opts *o, nn_err *err)
{
    nn_status s = o->weights ? nn_model_load(&b->m, o->spec, o->weights, err) : nn_model_load_spec(&b->m, o->spec, err);
    if (s)
        return s;
    if (!o->weights)
        nn_model_init_he(b->m, 1);
    if ((s = nn_train_create_on(&b->t, b->m, (int)o->batch, (int)o->threads, 1, o->backend, err)))
        return s;
    b->classes = b->m->g.out_kind == NN_OUT_CLASSES;
    const size_t B = (size_t)o->batch, out = (size_t)nn_train_output_size(b->t);
    const opt_config adam = opt_defaults(OPT_ADAM);
    if ((s = nn_train_opt_setup(b->t, &adam, err)))
        return s;
    b->targets = malloc(B * out * sizeof(float));
    b->labels = malloc(B * sizeof(int));
    if (!b->targets || !b->labels)
        return nn_fail(err, NN_E_NOMEM, "out of memory");
    int h, w, c;
    nn_model_input_shape(b->m, &h, &w, &c);
    uint64_t r = 42;
    float *x = nn_train_input(b->t);
    for (size_t i = 0; i < B * (size_t)h * w * c; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((r >> 40) & 0xFFFF) / 65536.0f - 0.5f;
    }
    for (size_t i = 0; i < B * out; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        b->targets[i] = (float)((r >> 40) & 0xFFFF) / 65536.0f - 0.5f;
    }
    for (size_t i = 0; i < B; i++)
        b->labels[i] = (int)((uint32_t)(i * 2654435761u) >> 8) % (int)out;
    return NN_OK;
}

static int usage(void)
{
    fprintf(stderr, "usage: bench-train-step MODEL.yaml [--backend cpu|cuda] [--batch B] [--runs R] [--warmup W]\n"
                    "                        [--threads N] [--weights W.safetensors] [--json]\n");
    return 2;
}

int main(int argc, char **argv)
{
    opts o = {.backend = NN_BACKEND_CPU, .batch = 32, .runs = 20, .warmup = 3, .threads = 1};
    const struct option lo[] = {{"backend", required_argument, 0, 'k'}, {"batch", required_argument, 0, 'b'},
                                 {"runs", required_argument, 0, 'r'},    {"warmup", required_argument, 0, 'w'},
                                 {"threads", required_argument, 0, 't'}, {"weights", required_argument, 0, 'W'},
                                 {"json", no_argument, &o.json, 1},      {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        char *end = NULL;
        long *v = ch == 'b' ? &o.batch : ch == 'r' ? &o.runs : ch == 'w' ? &o.warmup : ch == 't' ? &o.threads : NULL;
        if (ch == 'k') {
            if (!nn_backend_parse(optarg, &o.backend)) {
                fprintf(stderr, "bench-train-step: --backend %s: expected cpu, cuda or auto\n", optarg);
                return 2;
            }
        } else if (ch == 'W') {
            o.weights = optarg;
        } else if (v) {
            *v = strtol(optarg, &end, 10);
            if (!end || *end || *v < (ch == 'w' ? 0 : 1) || *v > 65536) {
                fprintf(stderr, "bench-train-step: bad value '%s'\n", optarg);
                return 2;
            }
        } else if (ch != 0) {
            return usage();
        }
    }
    if (optind != argc - 1)
        return usage();
    o.spec = argv[optind];
    char why[256];
    if (o.backend == NN_BACKEND_CUDA && !nn_cuda_available(why, sizeof why)) {
        printf("skipped: %s\n", why); /* 77: a skip, as the other GPU programs (tests/gpu/device-check.sh) */
        return 77;
    }
    nn_err err;
    bench b;
    memset(&b, 0, sizeof b);
    uint64_t *lat = calloc((size_t)o.runs, sizeof *lat);
    nn_status s = lat ? setup(&b, &o, &err) : nn_fail(&err, NN_E_NOMEM, "out of memory");
    for (long i = 0; i < o.warmup && !s; i++)
        s = step(&b, (int)o.batch, &err);
    for (long i = 0; i < o.runs && !s; i++) {
        const uint64_t t0 = now_ns();
        s = step(&b, (int)o.batch, &err);
        lat[i] = now_ns() - t0;
    }
    if (!s) {
        qsort(lat, (size_t)o.runs, sizeof *lat, cmp_u64);
        const double med = (double)lat[o.runs / 2] / 1e3, best = (double)lat[0] / 1e3;
        const char *be = nn_backend_name(nn_train_backend(b.t));
        if (o.json)
            printf("{\"model\": \"%s\", \"backend\": \"%s\", \"batch\": %ld, \"threads\": %ld, \"runs\": %ld, "
                   "\"median_us\": %.1f, \"min_us\": %.1f, \"images_per_s\": %.1f}\n",
                   nn_model_name(b.m), be, o.batch, o.threads, o.runs, med, best, (double)o.batch * 1e6 / med);
        else
            printf("model %s  backend %s  training step (Adam)  batch %ld  runs %ld: median %.1f us, fastest %.1f us "
                   "(%.1f images/s)\n", nn_model_name(b.m), be, o.batch, o.runs, med, best,
                   (double)o.batch * 1e6 / med);
    }
    nn_train_free(b.t);
    nn_model_free(b.m);
    free(b.targets);
    free(b.labels);
    free(lat);
    if (s) {
        fprintf(stderr, "bench-train-step: %s\n", err.msg);
        return 1;
    }
    return 0;
}
