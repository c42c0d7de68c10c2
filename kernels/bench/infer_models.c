/* infer_models.c — bench-infer-models, the device check's inference benchmark: several models in ONE process (one
 * CUDA context, cuDNN and cuBLAS loaded once), instead of one steerctl process per model run.
 * Per model: batch 1 with the CUDA Graph and eager, batch 256 with the graph (and optionally
 * batch 1 with every conv2d through cuDNN); one JSON line per measurement in steerctl bench
 * --json's fields (model, backend, mode, batch, runs, median_us, p99_us, images_per_s,
 * conv_direct_macs), which tests/gpu/summarize.py reads. Weights: DIR/<model>.safetensors when
 * --weights-dir has it (the PyTorch peer reads the same file), else He-initialised with seed 1.
 * A model that fails prints {"model": ..., "error": ...} and the next one runs; --seconds caps
 * each model's runs (the device check's deadline). Exit status: 1 when any model failed.
 * --runs N caps the timed runs of every measurement (compute-sanitizer runs). --probe: print the
 * device (nn_cuda_available: GPU, compute capability, driver, runtime, cuDNN and cuBLAS versions)
 * and the CUDA libraries this process mapped, then exit (0, or 77 without a device).
 * (Training throughput: bench-train-step, train_step.c.)
 * Usage: bench-infer-models [--probe] [--weights-dir DIR] [--cudnn] [--seconds S] [--runs N] MODEL.yaml... */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "nn/nn.h"

/* One measurement: runs/10 + 3 warm-up runs, then up to `runs` timed ones within `seconds`. */
static nn_status measure(const nn_model *m, const char *mode, int batch, int runs, long direct, double seconds,
                         uint64_t *lat, nn_err *err)
{
    nn_infer *ctx;
    nn_infer_opts io = {.max_batch = batch, .backend = NN_BACKEND_CUDA, .cuda_eager = !strcmp(mode, "eager"),
                        .cuda_conv_direct_macs = direct};
    nn_status s = nn_infer_create_opts(&ctx, m, &io, err);
    if (s)
        return s;
    int h, w, c;
    nn_model_input_shape(m, &h, &w, &c);
    float *in = nn_infer_input(ctx);
    size_t n = (size_t)batch * (size_t)h * (size_t)w * (size_t)c;
    uint64_t z = 42;
    for (size_t i = 0; i < n; i++) {
        z = z * 6364136223846793005ull + 1442695040888963407ull;
        in[i] = (float)((z >> 40) & 0xffff) / 65535.0f;
    }
    for (int r = 0; r < runs / 10 + 3 && !s; r++)
        s = nn_infer_run(ctx, batch, err);
    const uint64_t t_end = now_ns() + (uint64_t)(seconds * 1e9);
    int done = 0;
    for (; done < runs && !s; done++) {
        uint64_t t0 = now_ns();
        s = nn_infer_run(ctx, batch, err);
        lat[done] = now_ns() - t0;
        if (lat[done] + t0 > t_end && done >= 10) {
            done++;
            break;
        }
    }
    nn_infer_free(ctx);
    if (s)
        return s;
    qsort(lat, (size_t)done, sizeof *lat, cmp_u64);
    const double med = (double)lat[done / 2] / 1e3, p99 = (double)lat[(done * 99) / 100] / 1e3;
    printf("{\"model\": \"%s\", \"backend\": \"cuda\", \"mode\": \"%s\", \"batch\": %d, \"runs\": %d, "
           "\"median_us\": %.2f, \"p99_us\": %.2f, \"images_per_s\": %.1f, \"conv_direct_macs\": %ld}\n",
           nn_model_name(m), mode, batch, done, med, p99, (double)batch * 1e6 / med, direct);
    fflush(stdout);
    return NN_OK;
}

/* The device and the CUDA libraries this process actually mapped (after a context was made). */
static int probe_device(void)
{
    char why[256];
    if (!nn_cuda_available(why, sizeof why)) {
        printf("skipped: %s\n", why);
        return 77;
    }
    printf("device: %s\n", why);
    FILE *f = fopen("/proc/self/maps", "r");
    char line[1024], last[1024] = "";
    while (f && fgets(line, sizeof line, f)) {
        const char *path = strchr(line, '/');
        if (!path || !(strstr(path, "libcud") || strstr(path, "libcublas")) || !strcmp(path, last))
            continue;
        snprintf(last, sizeof last, "%s", path);
        printf("loaded: %s", path);
    }
    if (f)
        fclose(f);
    return 0;
}

int main(int argc, char **argv)
{
    const char *wdir = NULL;
    bool cudnn = false, probe = false;
    int max_runs = 3000;
    double seconds = 5.0;
    int first = 1;
    for (; first < argc && argv[first][0] == '-'; first++) {
        if (!strcmp(argv[first], "--weights-dir") && first + 1 < argc)
            wdir = argv[++first];
        else if (!strcmp(argv[first], "--cudnn"))
            cudnn = true;
        else if (!strcmp(argv[first], "--seconds") && first + 1 < argc)
            seconds = atof(argv[++first]);
        else if (!strcmp(argv[first], "--runs") && first + 1 < argc)
            max_runs = atoi(argv[++first]);
        else if (!strcmp(argv[first], "--probe"))
            probe = true;
        else
            return fprintf(stderr, "usage: bench-infer-models [--probe] [--weights-dir DIR] [--cudnn] [--seconds S] "
                                   "[--runs N] MODEL.yaml...\n"), 2;
    }
    if (probe)
        return probe_device();
    if (max_runs < 1 || max_runs > 3000)
        return fprintf(stderr, "bench-infer-models: --runs %d outside [1, 3000]\n", max_runs), 2;
    if (first == argc || !(seconds > 0))
        return fprintf(stderr, "bench-infer-models: no models (or --seconds not positive)\n"), 2;
    char why[256];
    if (!nn_cuda_available(why, sizeof why)) {
        printf("skipped: %s\n", why);
        return 77;
    }
    printf("device: %s\n", why);
    uint64_t *lat = malloc(3000 * sizeof *lat);
    if (!lat)
        return fprintf(stderr, "bench-infer-models: out of memory\n"), 1;
    int failed = 0;
    for (int i = first; i < argc; i++) {
        nn_err err = {0};
        nn_model *m = NULL;
        char wpath[1024] = "";
        const char *base = strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 : argv[i];
        if (wdir)
            snprintf(wpath, sizeof wpath, "%s/%.*s.safetensors", wdir, (int)(strlen(base) > 5 ? strlen(base) - 5 : 0),
                     base);
        nn_status s = wpath[0] && access(wpath, R_OK) == 0 ? nn_model_load(&m, argv[i], wpath, &err)
                                                          : nn_model_load_spec(&m, argv[i], &err);
        if (!s && !(wpath[0] && access(wpath, R_OK) == 0))
            nn_model_init_he(m, 1);
        const double per = seconds / (cudnn ? 4 : 3);
        if (!s)
            s = measure(m, "graph", 1, max_runs, 0, per, lat, &err);
        if (!s)
            s = measure(m, "eager", 1, max_runs < 1000 ? max_runs : 1000, 0, per, lat, &err);
        if (!s)
            s = measure(m, "graph", 256, max_runs < 30 ? max_runs : 30, 0, per, lat, &err);
        if (!s && cudnn)
            s = measure(m, "graph", 1, max_runs, -1, per, lat, &err);
        if (s) {
            for (char *q = err.msg; *q; q++) /* one JSON string: no quotes or backslashes inside */
                if (*q == '"' || *q == '\\' || (unsigned char)*q < 0x20) *q = '\'';
            printf("{\"model\": \"%.*s\", \"backend\": \"cuda\", \"error\": \"%s\"}\n",
                   (int)(strlen(base) > 5 ? strlen(base) - 5 : 0), base, err.msg);
            failed++;
        }
        nn_model_free(m);
    }
    free(lat);
    return failed ? 1 : 0;
}
