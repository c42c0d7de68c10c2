/* steer.c — libsteer's public API (steer/steer.h) over the engine (src/nn): a handle holds the
 * model, its inference context and its preprocessing plan, all sized at steer_open; the runs copy
 * in, run and copy out without allocating. The engine's status codes are the API's (checked below). */
#include "steer/steer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/graph.h"
#include "nn/nn.h"
#include "nn/preprocess.h"

_Static_assert((int)STEER_E_IO == (int)NN_E_IO && (int)STEER_E_ARG == (int)NN_E_ARG &&
                   (int)STEER_E_DEVICE == (int)NN_E_DEVICE,
               "steer_status mirrors nn_status");

struct steer_model {
    nn_model *model;
    nn_infer *ctx;
    pp_plan pp;
    int max_batch;
    size_t image_floats; /* H*W*C */
    int n_out;
};

const char *steer_version(void)
{
    return STEER_VERSION;
}

const char *steer_status_str(steer_status s)
{
    return nn_status_str((nn_status)s);
}

/* The engine's one-line message into the caller's buffer. */
static steer_status give(nn_status s, const nn_err *e, char *err, size_t err_len)
{
    if (err && err_len)
        snprintf(err, err_len, "%s", s ? e->msg : "");
    return (steer_status)s;
}

steer_status steer_open(steer_model **out, const char *spec_yaml, const char *weights_safetensors,
                        const steer_options *opts, char *err, size_t err_len)
{
    nn_err e = {{0}};
    if (!out || !spec_yaml || !weights_safetensors)
        return give(nn_fail(&e, NN_E_ARG, "steer_open: NULL argument"), &e, err, err_len);
    *out = NULL;
    steer_options o = opts ? *opts : (steer_options){0};
    nn_backend b = o.backend == STEER_BACKEND_CUDA ? NN_BACKEND_CUDA
                   : o.backend == STEER_BACKEND_AUTO ? NN_BACKEND_AUTO
                                                     : NN_BACKEND_CPU;
    steer_model *m = calloc(1, sizeof *m);
    if (!m)
        return give(nn_fail(&e, NN_E_NOMEM, "steer_open: out of memory"), &e, err, err_len);
    m->max_batch = o.max_batch > 0 ? o.max_batch : 1;
    nn_infer_opts io = {.max_batch = m->max_batch, .threads = o.threads > 0 ? o.threads : 1, .backend = b};
    nn_status s = nn_model_load(&m->model, spec_yaml, weights_safetensors, &e);
    if (!s)
        s = nn_infer_create_opts(&m->ctx, m->model, &io, &e);
    if (!s)
        s = nn_infer_selfcheck(m->ctx, m->model, &e);
    if (!s) {
        const nn_graph *g = &m->model->g;
        s = pp_init(&m->pp, &g->pre, g->in_h, g->in_w, g->in_c, &e);
    }
    if (s) {
        steer_close(m);
        return give(s, &e, err, err_len);
    }
    int h, w, c;
    nn_model_input_shape(m->model, &h, &w, &c);
    m->image_floats = (size_t)h * (size_t)w * (size_t)c;
    m->n_out = nn_infer_output_size(m->ctx);
    *out = m;
    return give(NN_OK, &e, err, err_len);
}

void steer_close(steer_model *m)
{
    if (!m)
        return;
    if (m->pp.x0)
        pp_free(&m->pp);
    if (m->ctx)
        nn_infer_free(m->ctx);
    if (m->model)
        nn_model_free(m->model);
    free(m);
}

const char *steer_name(const steer_model *m)
{
    return nn_model_name(m->model);
}

const char *steer_checksum(const steer_model *m)
{
    return nn_model_checksum(m->model);
}

void steer_input_shape(const steer_model *m, int *height, int *width, int *channels)
{
    nn_model_input_shape(m->model, height, width, channels);
}

int steer_output_size(const steer_model *m)
{
    return m->n_out;
}

int steer_max_batch(const steer_model *m)
{
    return m->max_batch;
}

float steer_degrees_per_unit(const steer_model *m)
{
    const nn_graph *g = &m->model->g;
    return g->out_kind == NN_OUT_STEERING && g->steer_scale_deg > 0 ? g->steer_scale_deg : 0.0f;
}

/* The forward pass on the input buffer's first `batch` images, outputs copied to the caller. */
static steer_status run_and_copy(steer_model *m, int batch, float *output, char *err, size_t err_len)
{
    nn_err e = {{0}};
    nn_status s = nn_infer_run(m->ctx, batch, &e);
    if (!s)
        memcpy(output, nn_infer_output(m->ctx), (size_t)batch * (size_t)m->n_out * sizeof *output);
    return give(s, &e, err, err_len);
}

/* The checks every run makes before touching a buffer. */
static steer_status check_run(const steer_model *m, const void *input, int batch, const float *output,
                              size_t output_len, char *err, size_t err_len)
{
    nn_err e = {{0}};
    if (!m || !input || !output)
        return give(nn_fail(&e, NN_E_ARG, "steer_run: NULL argument"), &e, err, err_len);
    if (batch < 1 || batch > m->max_batch)
        return give(nn_fail(&e, NN_E_ARG, "steer_run: batch %d outside 1..%d (max_batch)", batch, m->max_batch), &e,
                    err, err_len);
    size_t need = (size_t)batch * (size_t)m->n_out;
    if (output_len < need)
        return give(nn_fail(&e, NN_E_ARG, "steer_run: output holds %zu floats, %zu needed", output_len, need), &e,
                    err, err_len);
    return STEER_OK;
}

steer_status steer_run(steer_model *m, const float *input, int batch, float *output, size_t output_len, char *err,
                       size_t err_len)
{
    steer_status s = check_run(m, input, batch, output, output_len, err, err_len);
    if (s)
        return s;
    memcpy(nn_infer_input(m->ctx), input, (size_t)batch * m->image_floats * sizeof *input);
    return run_and_copy(m, batch, output, err, err_len);
}

steer_status steer_run_rgb(steer_model *m, const uint8_t *rgb, int width, int height, int stride, float *output,
                           size_t output_len, char *err, size_t err_len)
{
    steer_status s = check_run(m, rgb, 1, output, output_len, err, err_len);
    if (s)
        return s;
    nn_err e = {{0}};
    nn_status ps = pp_run(&m->pp, rgb, width, height, stride, nn_infer_input(m->ctx), &e);
    if (ps)
        return give(ps, &e, err, err_len);
    return run_and_copy(m, 1, output, err, err_len);
}
