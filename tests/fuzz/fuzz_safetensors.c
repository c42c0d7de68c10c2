/* fuzz_safetensors.c — libFuzzer harness for the safetensors reader (st_parse) and the weights
 * checks of a model load. Any input must either parse into tensors whose byte ranges lie inside
 * the data section (every byte is read, so ASan catches a bad range) or fail with a one-line
 * message that echoes none of the file's bytes (fuzz_echo.h, issue 12 class 11). Then the same
 * bytes are loaded as the weights of a small fixed model (conv, batch norm, dense): a load that
 * succeeds must have left only finite parameters and non-negative batch-norm variances, and a
 * model that passes the self-check must give finite outputs on the self-check image (class 7).
 * Seeds: corpus/safetensors/ (includes He weights of the fixed model). Build/run: run.sh. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_echo.h"
#include "nn/format/safetensors.h"
#include "nn/graph.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char spec_text[] = "name: fuzz\n"
                                "input: {height: 4, width: 4, channels: 3}\n"
                                "output: {kind: steering, scale_deg: 25}\n"
                                "layers:\n"
                                "  - {name: c, type: conv2d, filters: 3, kernel: 1}\n"
                                "  - {name: bn, type: batch_norm}\n"
                                "  - {name: r, type: relu}\n"
                                "  - {name: f, type: flatten}\n"
                                "  - {name: d, type: dense, units: 1}\n";

static char spec_path[64], weights_path[64];

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f))
        abort(); /* the harness cannot work without its temporary files */
}

static void check_model_load(const uint8_t *data, size_t size)
{
    if (!spec_path[0]) {
        snprintf(spec_path, sizeof spec_path, "/tmp/fuzz-st-%d.yaml", (int)getpid());
        snprintf(weights_path, sizeof weights_path, "/tmp/fuzz-st-%d.safetensors", (int)getpid());
        write_file(spec_path, spec_text, sizeof spec_text - 1);
    }
    write_file(weights_path, data, size);
    nn_model *m;
    nn_err err = {{0}};
    if (nn_model_load(&m, spec_path, weights_path, &err) != NN_OK) {
        if (!err.msg[0] || strchr(err.msg, '\n'))
            abort();
        fuzz_check_no_echo(data, size, err.msg);
        return;
    }
    const nn_graph *g = &m->g;
    for (size_t k = 0; k < g->n_param_floats; k++)
        if (!isfinite(m->params[k]))
            abort(); /* a non-finite parameter was accepted */
    for (int i = 0; i < g->n_layers; i++)
        if (g->layers[i].op == NN_OP_BATCHNORM) {
            const nn_param *var = nn_layer_param(g, &g->layers[i], NN_PARAM_RUNNING_VAR);
            for (size_t k = 0; k < var->count; k++)
                if (m->params[var->offset + k] < 0.0f)
                    abort(); /* a negative variance was accepted */
        }
    nn_infer *ctx;
    if (nn_infer_create(&ctx, m, 1, 1, &err) != NN_OK)
        abort();
    if (nn_infer_selfcheck(ctx, m, &err) == NN_OK) {
        const float *y = nn_infer_output(ctx);
        for (int k = 0; k < nn_infer_output_size(ctx); k++)
            if (!isfinite(y[k]))
                abort(); /* the self-check passed a non-finite output */
    } else if (!strstr(err.msg, "self-check: output") || strchr(err.msg, '\n')) {
        abort();
    }
    nn_infer_free(ctx);
    nn_model_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    st_file f;
    nn_err err = {{0}};
    if (st_parse(&f, data, size, "fuzz.safetensors", &err) != NN_OK) {
        if (err.msg[0] == '\0' || strchr(err.msg, '\n') || f.tensors || f.meta)
            abort();
        fuzz_check_no_echo(data, size, err.msg);
        return 0;
    }
    volatile uint8_t acc = 0;
    for (int i = 0; i < f.n_tensors; i++) {
        const st_tensor *t = &f.tensors[i];
        if (t->begin > t->end || t->end > f.data_len || st_find(&f, t->name) != t || st_dtype_size(t->dtype) == 0)
            abort();
        for (size_t b = t->begin; b < t->end; b++)
            acc ^= f.data[b];
    }
    for (int i = 0; i < f.n_meta; i++)
        if (st_meta(&f, f.meta[i].key) != f.meta[i].value)
            abort();
    (void)acc;
    st_close(&f);
    check_model_load(data, size);
    return 0;
}
