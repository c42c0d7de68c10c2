/* infer.c — model loading for the daemon (backend choice, context, preprocessing plan) and the
 * per-frame preprocess + forward calls, which allocate nothing. */
#include "daemon/infer.h"

#include <string.h>

#include "nn/graph.h"

nn_status sd_model_load(sd_model *out, const steerd_config *cfg, const slog *log, nn_err *err)
{
    memset(out, 0, sizeof *out);
    if (cfg->backend == CFG_BACKEND_CUDA)
        return cfg_error(cfg, CFG_BACKEND, err, NN_E_UNSUPPORTED, "this build has no CUDA backend");
    out->backend = "cpu";
    nn_status s = nn_model_load(&out->model, cfg->model_spec, cfg->model_weights, err);
    if (s)
        return s;
    const nn_graph *g = &out->model->g;
    s = nn_infer_create(&out->ctx, out->model, 1, cfg->threads, err);
    if (!s)
        s = pp_init(&out->pp, &g->pre, g->in_h, g->in_w, g->in_c, err);
    if (s) {
        sd_model_free(out);
        return s;
    }
    out->n_outputs = nn_infer_output_size(out->ctx);
    out->has_angle = g->out_kind == NN_OUT_STEERING && g->steer_scale_deg > 0;
    out->scale_deg = g->steer_scale_deg;
    if (cfg->backend == CFG_BACKEND_AUTO)
        slog_info(log, "backend auto: using the CPU backend (this build has no CUDA backend)");
    return NN_OK;
}

void sd_model_free(sd_model *m)
{
    if (m->pp.x0)
        pp_free(&m->pp);
    if (m->ctx)
        nn_infer_free(m->ctx);
    if (m->model)
        nn_model_free(m->model);
    memset(m, 0, sizeof *m);
}

const char *sd_model_name(const sd_model *m)
{
    return m->model ? nn_model_name(m->model) : "";
}

const char *sd_model_checksum(const sd_model *m)
{
    return m->model ? nn_model_checksum(m->model) : "";
}

nn_status sd_model_preprocess(sd_model *m, const sd_frame *f, nn_err *err)
{
    return pp_run(&m->pp, f->data, f->width, f->height, f->stride, nn_infer_input(m->ctx), err);
}

nn_status sd_model_run(sd_model *m, nn_err *err)
{
    return nn_infer_run(m->ctx, 1, err);
}

const float *sd_model_outputs(const sd_model *m)
{
    return nn_infer_output(m->ctx);
}
