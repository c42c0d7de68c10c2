/* served_model.c — loading the model the steering runtime serves (backend choice, inference context,
 * preprocessing plan) and the per-frame preprocess + forward calls, which allocate nothing (on the CUDA backend the frame
 * staging buffer is sized on the first frame of each larger size). */
#include "runtime/served_model.h"

#include <math.h>
#include <string.h>

#include "nn/graph.h"

/* sd_model_load with keep_aspect (steerd's source.aspect: crop) set in the model's preprocessing
 * before the inference context (the GPU's preprocessing) and the CPU plan copy it. */
static nn_status model_load(sd_model *out, const char *spec, const char *weights, nn_backend backend, int threads,
                            bool keep_aspect, const slog *log, nn_err *err)
{
    memset(out, 0, sizeof *out);
    char why[200];
    bool cuda = backend != NN_BACKEND_CPU && nn_cuda_available(why, sizeof why);
    if (backend == NN_BACKEND_CUDA && !cuda)
        return nn_fail(err, nn_cuda_built() ? NN_E_DEVICE : NN_E_UNSUPPORTED, "backend: cuda: %s (use cpu or auto)",
                       why);
    nn_status s = nn_model_load(&out->model, spec, weights, err);
    if (s)
        return s;
    out->model->g.pre.keep_aspect = keep_aspect;
    const nn_graph *g = &out->model->g;
    nn_infer_opts o = {.max_batch = 1, .threads = threads, .backend = cuda ? NN_BACKEND_CUDA : NN_BACKEND_CPU};
    s = nn_infer_create_opts(&out->ctx, out->model, &o, err);
    if (!s) /* weights that give a non-finite output are refused here: at start, --check-config, reload */
        s = nn_infer_selfcheck(out->ctx, out->model, err);
    if (!s)
        s = pp_init(&out->pp, &g->pre, g->in_h, g->in_w, g->in_c, err);
    if (s) {
        sd_model_free(out);
        return s;
    }
    out->backend = nn_backend_name(nn_infer_backend(out->ctx));
    out->gpu_pre = nn_infer_backend(out->ctx) == NN_BACKEND_CUDA;
    out->n_outputs = nn_infer_output_size(out->ctx);
    out->has_angle = g->out_kind == NN_OUT_STEERING && g->steer_scale_deg > 0;
    out->scale_deg = g->steer_scale_deg;
    if (backend == NN_BACKEND_AUTO) {
        if (cuda)
            slog_info(log, "backend auto: using the CUDA backend (%s)", why);
        else
            slog_info(log, "backend auto: using the CPU backend (%s)", why);
    }
    return NN_OK;
}

nn_status sd_model_load(sd_model *out, const char *spec, const char *weights, nn_backend backend, int threads,
                        const slog *log, nn_err *err)
{
    return model_load(out, spec, weights, backend, threads, false, log, err);
}

nn_status sd_model_load_config(sd_model *out, const steerd_config *cfg, const slog *log, nn_err *err)
{
    char why[200];
    if (cfg->backend == NN_BACKEND_CUDA && !nn_cuda_available(why, sizeof why)) {
        memset(out, 0, sizeof *out);
        return cfg_error(cfg, CFG_BACKEND, err, nn_cuda_built() ? NN_E_DEVICE : NN_E_UNSUPPORTED,
                         "cuda: %s (use cpu or auto)", why);
    }
    return model_load(out, cfg->model_spec, cfg->model_weights, cfg->backend, cfg->threads,
                      cfg->aspect == CFG_ASPECT_CROP, log, err);
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

nn_status sd_model_covers(sd_model *m, const sd_frame *f, bool *ok, nn_err *err)
{
    *ok = true;
    if (f->row_end == 0 || (f->row_first <= 0 && f->row_end >= f->height))
        return NN_OK; /* a whole frame */
    int first, end;
    nn_status s = pp_rows(&m->pp, f->width, f->height, &first, &end, err);
    if (!s)
        *ok = first >= f->row_first && end <= f->row_end;
    return s;
}

bool sd_model_rows(sd_model *m, int *height, int *first, int *end)
{
    pp_plan *p = &m->pp;
    if (m->gpu_pre || p->src_h < 1 || pp_rows(p, p->src_w, p->src_h, first, end, NULL))
        return false;
    *height = p->src_h;
    return true;
}

void *sd_model_input(sd_model *m, size_t *bytes)
{
    *bytes = 0;
    if (m->gpu_pre || !m->ctx)
        return NULL;
    *bytes = (size_t)m->pp.out_h * (size_t)m->pp.out_w * (size_t)m->pp.out_c * sizeof(float);
    return nn_infer_input(m->ctx);
}

nn_status sd_model_preprocess(sd_model *m, const sd_frame *f, nn_err *err)
{
    if (m->gpu_pre) { /* the frame goes to the GPU and is preprocessed there (same tables, same result) */
        size_t bytes = (size_t)f->width * (size_t)f->height * 3;
        if (bytes > m->frame_reserved) { /* first frame, or a larger one: sized once per frame size */
            nn_status s = nn_infer_frame_reserve(m->ctx, bytes, err);
            if (s)
                return s;
            m->frame_reserved = bytes;
        }
        return nn_infer_frame(m->ctx, f->data, f->width, f->height, f->stride, err);
    }
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

bool sd_model_outputs_finite(const sd_model *m)
{
    const float *y = nn_infer_output(m->ctx);
    for (int i = 0; i < m->n_outputs; i++)
        if (!isfinite(y[i]))
            return false;
    return true;
}
