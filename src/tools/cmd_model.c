/* cmd_model.c — `steerctl model info|init|run`: the cost report, He initialisation to
 * safetensors, and a forward pass over a .npy batch. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/cost.h"
#include "nn/format/npy.h"
#include "nn/graph.h"
#include "nn/limits.h"
#include "tools/steerctl.h"

static const char info_help[] =
    "usage: steerctl model info MODEL.yaml [--json]\n"
    "\n"
    "Prints every primitive layer (composite blocks expanded): name, type, output shape (HxWxC),\n"
    "parameters, trainable parameters, multiply-adds and activation bytes, then the totals.\n"
    "Counting rules (per sample, batch 1):\n"
    "  params     every stored element: weights + biases; batch norm counts 4 per channel\n"
    "             (gamma, beta, running mean, running variance), as Keras does\n"
    "  trainable  params minus the batch-norm running statistics (2 per channel)\n"
    "  MACs       multiply-adds of conv2d (out_h*out_w*out_c * in_c/groups*kh*kw),\n"
    "             depthwise_conv2d (out_h*out_w*out_c * kh*kw) and dense (in*out) layers only;\n"
    "             bias adds, batch norm, activations and pooling are not counted\n"
    "  act bytes  the layer's float32 output tensor\n"
    "--json prints {name, total_params, trainable_params, macs, activation_bytes, layers:[...]}.\n";

static const char init_help[] =
    "usage: steerctl model init MODEL.yaml --seed N -o W.safetensors\n"
    "\n"
    "Writes He-normal weights (std sqrt(2/fan_in)), zero biases and identity batch norm as\n"
    "safetensors with PyTorch names and layouts and a sha256 checksum. Same seed, same file.\n"
    "The model must pass the engine's self-check first (a finite forward pass on a test image).\n";

static const char run_help[] =
    "usage: steerctl model run MODEL.yaml W.safetensors --input X.npy --output Y.npy [--threads N]\n"
    "                          [--backend cpu|cuda|auto] [--isa NAME]\n"
    "\n"
    "X: [N, H, W, C] (or [H, W, C]) numeric .npy, converted to float32, NHWC as the model's input.\n"
    "Y: [N, outputs] float32, the last layer's output per sample.\n"
    "--backend: cpu (default), cuda (an error without a CUDA device) or auto (CUDA when present).\n"
    "--isa auto|scalar|avx2|avx512|neon: the CPU kernels' instruction set (default: $STEERD_ISA, else the\n"
    "best this CPU runs); one this CPU lacks is refused (exit 64; 78 for a bad $STEERD_ISA).\n"
    "Exits 1 without writing Y when the model fails its self-check (a finite forward pass on a test\n"
    "image), when X holds a non-finite value, or when any output is non-finite (the message names\n"
    "the sample and the output index).\n";

static int fail(nn_status s, const nn_err *err)
{
    (void)s;
    fprintf(stderr, "steerctl: %s\n", err->msg);
    return 1;
}

static void print_info_text(const nn_graph *g)
{
    printf("model %s (%s)\n", g->name, g->path);
    printf("%-28s %-18s %-14s %10s %10s %12s %12s\n", "layer", "type", "output", "params", "trainable", "MACs",
           "act bytes");
    for (int i = 0; i < g->n_layers; i++) {
        const nn_layer *l = &g->layers[i];
        nn_cost c = nn_layer_cost(g, l);
        char shape[48];
        snprintf(shape, sizeof shape, "%dx%dx%d", l->out.h, l->out.w, l->out.c);
        printf("%-28s %-18s %-14s %10" PRIu64 " %10" PRIu64 " %12" PRIu64 " %12" PRIu64 "\n", l->name,
               nn_op_name(l->op), shape, c.params, c.trainable, c.macs, c.act_bytes);
    }
    nn_cost t = nn_graph_cost(g);
    printf("%-28s %-18s %-14s %10" PRIu64 " %10" PRIu64 " %12" PRIu64 " %12" PRIu64 "\n", "total", "", "", t.params,
           t.trainable, t.macs, t.act_bytes);
    printf("weights: %.1f KiB as float32\n", (double)t.params * 4.0 / 1024.0);
}

static int print_info_json(const nn_graph *g)
{
    char buf[4096];
    jbuf j;
    jb_init_file(&j, buf, sizeof buf, stdout);
    nn_cost t = nn_graph_cost(g);
    jb_raw(&j, "{\"name\": ");
    jb_str(&j, g->name);
    jb_printf(&j, ", \"total_params\": %" PRIu64 ", \"trainable_params\": %" PRIu64 ", \"macs\": %" PRIu64
              ", \"activation_bytes\": %" PRIu64 ", \"input\": [%d, %d, %d], \"layers\": [",
              t.params, t.trainable, t.macs, t.act_bytes, g->in_h, g->in_w, g->in_c);
    for (int i = 0; i < g->n_layers; i++) {
        const nn_layer *l = &g->layers[i];
        nn_cost c = nn_layer_cost(g, l);
        jb_printf(&j, "%s\n  {\"name\": ", i ? "," : "");
        jb_str(&j, l->name);
        jb_printf(&j, ", \"type\": \"%s\", \"output\": [%d, %d, %d], \"params\": %" PRIu64
                  ", \"trainable_params\": %" PRIu64 ", \"macs\": %" PRIu64 ", \"activation_bytes\": %" PRIu64 "}",
                  nn_op_name(l->op), l->out.h, l->out.w, l->out.c, c.params, c.trainable, c.macs, c.act_bytes);
    }
    jb_raw(&j, "]}\n");
    return json_stdout_done(&j);
}

static int model_info(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, 0, 'j'}, {0, 0, 0, 0}};
    bool json = false;
    const char *spec = NULL;
    opts_parser p;
    opts_start(&p, "steerctl", "model info", argc, argv, "", opts);
    for (int c; (c = opts_next(&p)) != OPTS_END;) {
        if (c == 'j')
            json = true;
        else if (!opts_positional(&p, c, &spec, 1))
            return opts_default(&p, c, info_help);
    }
    if (!spec)
        return fputs(info_help, stderr), EXIT_USAGE;
    int rc = opts_input(&p, NULL, spec);
    if (rc)
        return rc;
    nn_err err;
    nn_graph g;
    nn_status s = nn_graph_parse_file(&g, spec, &err);
    if (s)
        return fail(s, &err);
    if (json)
        rc = print_info_json(&g);
    else
        print_info_text(&g);
    nn_graph_free(&g);
    return rc;
}

static int model_init(int argc, char **argv)
{
    static const struct option opts[] = {
        {"seed", required_argument, 0, 's'}, {"output", required_argument, 0, 'o'}, {0, 0, 0, 0}};
    long seed = -1;
    const char *out = NULL, *spec = NULL;
    opts_parser p;
    opts_start(&p, "steerctl", "model init", argc, argv, "o:", opts);
    for (int c; (c = opts_next(&p)) != OPTS_END;) {
        if (c == 's') {
            if (!parse_int_opt("--seed", p.arg, 0, INT64_MAX, &seed))
                return EXIT_USAGE;
        } else if (c == 'o') {
            out = p.arg;
        } else if (!opts_positional(&p, c, &spec, 1)) {
            return opts_default(&p, c, init_help);
        }
    }
    if (!spec || seed < 0 || !out)
        return fputs(init_help, stderr), EXIT_USAGE;
    int rc = opts_input(&p, NULL, spec);
    if (rc)
        return rc;
    nn_err err;
    nn_model *m;
    nn_status s = nn_model_load_spec(&m, spec, &err);
    if (s)
        return fail(s, &err);
    nn_model_init_he(m, (uint64_t)seed);
    nn_infer *ctx;
    nn_infer_opts io = {.max_batch = 1, .threads = 1, .backend = NN_BACKEND_CPU};
    if (!(s = nn_infer_create_opts(&ctx, m, &io, &err))) {
        s = nn_infer_selfcheck(ctx, m, &err);
        nn_infer_free(ctx);
    }
    if (s) {
        nn_model_free(m);
        return fail(s, &err);
    }
    char seed_str[32];
    snprintf(seed_str, sizeof seed_str, "%ld", seed);
    const char *meta[] = {"init", "he_normal", "seed", seed_str, NULL};
    s = nn_model_save(m, out, meta, &err);
    nn_model_free(m);
    if (s)
        return fail(s, &err);
    return 0;
}

/* Runs x [n, H, W, C] through the model in chunks of up to max_batch; y [n, outputs]. */
static nn_status run_batches(const nn_model *m, const float *x, size_t n, int threads, nn_backend backend,
                             nn_cpu_isa isa, float *y, nn_err *err)
{
    int h, w, c;
    nn_model_input_shape(m, &h, &w, &c);
    size_t in_size = (size_t)h * (size_t)w * (size_t)c;
    int max_batch = n < 32 ? (int)n : 32;
    nn_infer *ctx;
    nn_infer_opts o = {.max_batch = max_batch, .threads = threads, .backend = backend, .isa = isa};
    nn_status s = nn_infer_create_opts(&ctx, m, &o, err);
    if (!s)
        s = nn_infer_selfcheck(ctx, m, err);
    if (s) {
        nn_infer_free(ctx);
        return s;
    }
    size_t out_size = (size_t)nn_infer_output_size(ctx);
    for (size_t done = 0; done < n && !s; done += (size_t)max_batch) {
        int b = (int)(n - done < (size_t)max_batch ? n - done : (size_t)max_batch);
        memcpy(nn_infer_input(ctx), x + done * in_size, (size_t)b * in_size * sizeof *x);
        s = nn_infer_run(ctx, b, err);
        if (!s)
            memcpy(y + done * out_size, nn_infer_output(ctx), (size_t)b * out_size * sizeof *y);
    }
    nn_infer_free(ctx);
    return s;
}

/* Every v[0..n) is finite; else names the sample (v holds rows of `row` values) and the index. */
static nn_status check_finite(const char *path, const char *what, const float *v, size_t n, size_t row, nn_err *err)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return nn_fail(err, NN_E_WEIGHTS, "%s: sample %zu: %s %zu is %g (non-finite)", path, i / row, what,
                           i % row, (double)v[i]);
    return NN_OK;
}

static int model_run(int argc, char **argv)
{
    static const struct option opts[] = {{"input", required_argument, 0, 'i'},
                                         {"output", required_argument, 0, 'o'},
                                         {"threads", required_argument, 0, 't'},
                                         {"backend", required_argument, 0, 'b'},
                                         {"isa", required_argument, 0, 'I'},
                                         {0, 0, 0, 0}};
    const char *in_path = NULL, *out_path = NULL, *pos[2] = {NULL, NULL}; /* MODEL.yaml W.safetensors */
    const char *isa_name = NULL;
    long threads = 1;
    nn_backend backend = NN_BACKEND_CPU;
    opts_parser p;
    opts_start(&p, "steerctl", "model run", argc, argv, "", opts);
    for (int c; (c = opts_next(&p)) != OPTS_END;) {
        if (c == 'i')
            in_path = p.arg;
        else if (c == 'o')
            out_path = p.arg;
        else if (c == 't') {
            if (!parse_int_opt("--threads", p.arg, 1, 256, &threads))
                return EXIT_USAGE;
        } else if (c == 'b') {
            if (!parse_backend_opt(p.arg, &backend))
                return EXIT_USAGE;
        } else if (c == 'I')
            isa_name = p.arg;
        else if (!opts_positional(&p, c, pos, 2))
            return opts_default(&p, c, run_help);
    }
    if (!pos[1] || !in_path || !out_path)
        return fputs(run_help, stderr), EXIT_USAGE;
    int rc = 0;
    for (int i = 0; i < 3 && !rc; i++)
        rc = i < 2 ? opts_input(&p, NULL, pos[i]) : opts_input(&p, "--input", in_path);
    nn_cpu_isa isa = NN_CPU_ISA_AUTO;
    if (!rc)
        rc = isa_opt(isa_name, &isa);
    if (rc)
        return rc;
    const char *weights = pos[1];
    nn_err err;
    nn_model *m;
    nn_status s = nn_model_load(&m, pos[0], weights, &err);
    if (s)
        return fail(s, &err);
    npy_array x = {0};
    float *y = NULL;
    int h, w, ch;
    nn_model_input_shape(m, &h, &w, &ch);
    if ((s = npy_read(&x, in_path, &err)))
        goto done;
    int lead = x.ndim == 4 ? 1 : 0;
    size_t n = x.ndim == 4 ? (size_t)x.dims[0] : 1;
    if ((x.ndim != 3 && x.ndim != 4) || x.dims[lead] != h || x.dims[lead + 1] != w || x.dims[lead + 2] != ch ||
        n == 0) {
        char got[96] = "";
        size_t used = 0;
        for (int i = 0; i < x.ndim && used < sizeof got; i++)
            used += (size_t)snprintf(got + used, sizeof got - used, "%s%lld", i ? ", " : "", (long long)x.dims[i]);
        s = nn_fail(&err, NN_E_SHAPE, "%s: shape [%s], expected [N, %d, %d, %d] for model %s", in_path, got, h, w, ch,
                    nn_model_name(m));
        goto done;
    }
    size_t outs = (size_t)nn_model_output_size(m), n_y;
    if ((s = check_finite(in_path, "input value", x.data, n * (size_t)h * (size_t)w * (size_t)ch,
                           (size_t)h * (size_t)w * (size_t)ch, &err)))
        goto done;
    y = nn_mul_sz(n, outs, &n_y) && nn_mul_sz(n_y, sizeof *y, &n_y) ? malloc(n_y) : NULL;
    if (!y) {
        s = nn_fail(&err, NN_E_NOMEM, "out of memory for %zu x %zu outputs", n, outs);
        goto done;
    }
    if ((s = run_batches(m, x.data, n, (int)threads, backend, isa, y, &err)) ||
        (s = check_finite(weights, "output", y, n * outs, outs, &err)))
        goto done;
    int64_t dims[2] = {(int64_t)n, (int64_t)outs};
    s = npy_write_f32(out_path, y, 2, dims, &err);
done:
    npy_free(&x);
    free(y);
    nn_model_free(m);
    return s ? fail(s, &err) : 0;
}

/* `model table M.yaml...`: one line per model; ratios are relative to the first model. */
static int model_table(int argc, char **argv)
{
    static const char help[] = "usage: steerctl model table MODEL.yaml [MODEL.yaml ...]\n"
                               "One line per model: input, parameters, MACs, float32 weights size, and both as a\n"
                               "fraction of the first model's.\n";
    int n = 0, rc = 0;
    opts_parser p;
    opts_start(&p, "steerctl", "model table", argc, argv, "", NULL);
    for (int c; (c = opts_next(&p)) != OPTS_END; n++) {
        if (c != OPTS_ARG)
            return opts_default(&p, c, help);
        if (!rc)
            rc = opts_input(&p, NULL, p.arg);
    }
    if (n == 0)
        return fputs(help, stderr), EXIT_USAGE;
    if (rc)
        return rc;
    opts_start(&p, "steerctl", "model table", argc, argv, "", NULL); /* again: the models, every argument now */
    printf("%-26s %-11s %10s %8s %13s %8s %10s\n", "model", "input", "params", "x first", "MACs", "x first",
           "weights");
    nn_cost first = {0};
    for (int i = 0; opts_next(&p) == OPTS_ARG; i++) {
        nn_err err;
        nn_graph g;
        nn_status s = nn_graph_parse_file(&g, p.arg, &err);
        if (s)
            return fail(s, &err);
        nn_cost c = nn_graph_cost(&g);
        if (i == 0)
            first = c;
        char in[32];
        snprintf(in, sizeof in, "%dx%dx%d", g.in_h, g.in_w, g.in_c);
        printf("%-26s %-11s %10" PRIu64 " %8.3f %13" PRIu64 " %8.3f %8.1f KiB\n", g.name, in, c.params,
               first.params ? (double)c.params / (double)first.params : 0.0, c.macs,
               first.macs ? (double)c.macs / (double)first.macs : 0.0, (double)c.params * 4.0 / 1024.0);
        nn_graph_free(&g);
    }
    return 0;
}

static const char model_help[] =
    "usage: steerctl model info|init|run|table ...\n"
    "  info MODEL.yaml [--json]                  per-layer shapes, parameters, MACs, activation bytes\n"
    "  init MODEL.yaml --seed N -o W.safetensors  He-initialised weights\n"
    "  run MODEL.yaml W.safetensors --input X.npy --output Y.npy\n"
    "                                            forward pass on a NHWC float32 batch\n"
    "  table MODEL.yaml...                       one line per model: params, MACs, size, ratios\n"
    "Run `steerctl model <sub> --help` for details.\n";

int cmd_model(int argc, char **argv)
{
    static const opts_sub subs[] = {
        {"info", model_info}, {"init", model_init}, {"run", model_run}, {"table", model_table}, {NULL, NULL}};
    return opts_dispatch("steerctl", "model", subs, model_help, argc, argv);
}
