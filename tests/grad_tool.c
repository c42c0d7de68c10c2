/* grad_tool.c — test-only driver of the training engine for tests/oracle/check_grads.py:
 *   grad_tool MODEL.yaml WEIGHTS.safetensors X.npy DY.npy OUTDIR [--threads N] [--through-softmax]
 * loads the model, runs one training-mode forward of X [N,H,W,C] and a backward of DY [N, outputs]
 * (dL/d(output); --through-softmax also for a final softmax, else that is dL/dlogits) and writes
 *   OUTDIR/y.npy      [N, outputs]  the training-mode output
 *   OUTDIR/dx.npy     [N, H, W, C]  dL/dX
 *   OUTDIR/grads.safetensors        dL/dparam of every trainable tensor (PyTorch names/layouts)
 *   OUTDIR/state.safetensors        every parameter after the forward (BN running statistics)
 *   OUTDIR/mask_<layer>.npy [N, size] the mask of each dropout layer (engine NHWC order)
 * Exit 0 on success, 1 with one stderr line otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/format/npy.h"
#include "nn/format/safetensors.h"
#include "nn/graph.h"
#include "nn/layout.h"
#include "nn/train.h"

static int die(const char *msg)
{
    fprintf(stderr, "grad_tool: %s\n", msg);
    return 1;
}

/* Writes the model's tensors (trainable only when `trainable`) from src (engine layout). */
static nn_status write_params(const nn_model *m, const float *src, bool trainable, const char *path, nn_err *err)
{
    const nn_graph *g = &m->g;
    st_out_tensor *t = calloc((size_t)g->n_params + 1, sizeof *t);
    float *buf = malloc((g->n_param_floats + 1) * sizeof *buf);
    if (!t || !buf) {
        free(t);
        free(buf);
        return nn_fail(err, NN_E_NOMEM, "out of memory");
    }
    int n = 0;
    for (int i = 0; i < g->n_layers; i++) {
        const nn_layer *l = &g->layers[i];
        for (int r = 0; r < l->n_params; r++) {
            const nn_param *p = nn_layer_param(g, l, r);
            if (trainable && !p->trainable) continue;
            nn_layout_to_torch(l, r, p, src + p->offset, buf + p->offset);
            t[n++] = (st_out_tensor){.name = p->name, .ndim = p->ndim, .dims = p->dims, .data = buf + p->offset};
        }
    }
    nn_status s = st_write(path, t, n, NULL, NULL, err);
    free(t);
    free(buf);
    return s;
}

int main(int argc, char **argv)
{
    if (argc < 6) return die("usage: grad_tool MODEL WEIGHTS X.npy DY.npy OUTDIR [--threads N] [--through-softmax]");
    int threads = 1;
    bool through = false;
    for (int i = 6; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--through-softmax")) through = true;
        else return die("unknown option");
    }
    nn_err err;
    nn_model *m = NULL;
    nn_train *t = NULL;
    npy_array x = {0}, dy = {0};
    int rc = 1;
    if (nn_model_load(&m, argv[1], argv[2], &err) || npy_read(&x, argv[3], &err) || npy_read(&dy, argv[4], &err)) {
        fprintf(stderr, "grad_tool: %s\n", err.msg);
        goto out;
    }
    int h, w, c;
    nn_model_input_shape(m, &h, &w, &c);
    const int batch = x.ndim == 4 ? (int)x.dims[0] : 0;
    const size_t outs = (size_t)nn_model_output_size(m);
    if (batch < 1 || x.dims[1] != h || x.dims[2] != w || x.dims[3] != c || dy.count != outs * (size_t)batch) {
        die("X or DY shape does not match the model");
        goto out;
    }
    if (nn_train_create(&t, m, batch, threads, 1, &err)) {
        fprintf(stderr, "grad_tool: %s\n", err.msg);
        goto out;
    }
    nn_train_set_softmax_logits(t, !through);
    memcpy(nn_train_input(t), x.data, x.count * sizeof(float));
    nn_train_zero_grad(t);
    if (nn_train_forward(t, batch, &err) || nn_train_backward(t, batch, dy.data, &err)) {
        fprintf(stderr, "grad_tool: %s\n", err.msg);
        goto out;
    }
    char path[4096];
    const int64_t ydims[2] = {batch, (int64_t)outs};
    snprintf(path, sizeof path, "%s/y.npy", argv[5]);
    if (npy_write_f32(path, nn_train_output(t), 2, ydims, &err)) goto fail;
    snprintf(path, sizeof path, "%s/dx.npy", argv[5]);
    if (npy_write_f32(path, nn_train_input_grad(t), 4, x.dims, &err)) goto fail;
    snprintf(path, sizeof path, "%s/grads.safetensors", argv[5]);
    if (write_params(m, nn_train_grads(t), true, path, &err)) goto fail;
    snprintf(path, sizeof path, "%s/state.safetensors", argv[5]);
    if (write_params(m, m->params, false, path, &err)) goto fail;
    const nn_graph *g = &m->g;
    for (int i = 1; i < g->n_layers; i++) {
        if (g->layers[i].op != NN_OP_DROPOUT) continue;
        const int64_t mdims[2] = {batch, (int64_t)nn_shape_size(g->layers[i].out)};
        snprintf(path, sizeof path, "%s/mask_%s.npy", argv[5], g->layers[i].name);
        if (npy_write_f32(path, nn_train_layer_saved(t, i), 2, mdims, &err)) goto fail;
    }
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "grad_tool: %s\n", err.msg);
out:
    nn_train_free(t);
    nn_model_free(m);
    npy_free(&x);
    npy_free(&dy);
    return rc;
}
