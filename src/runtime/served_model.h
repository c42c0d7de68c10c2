/* served_model.h — one loaded model ready to serve (steerd, `steerctl replay`): the engine model, its inference context (arena and
 * threads sized once), the preprocessing plan from its YAML, and what the messages say about it.
 * Loaded fully (at start or by a reload thread) before it is swapped in between frames. */
#ifndef STEERD_RUNTIME_SERVED_MODEL_H
#define STEERD_RUNTIME_SERVED_MODEL_H

#include <stdbool.h>

#include "common/log.h"
#include "runtime/config.h"
#include "runtime/frame.h"
#include "nn/preprocess.h"
#include "nn/nn.h"

typedef struct {
    nn_model *model;
    nn_infer *ctx;
    pp_plan pp;
    const char *backend;       /* "cpu" or "cuda" */
    bool gpu_pre;              /* CUDA backend: frames are preprocessed on the GPU */
    size_t frame_reserved;     /* GPU frame staging bytes reserved so far */
    bool has_angle;            /* the model states its steering scale */
    float scale_deg;
    int n_outputs;
} sd_model;

/* Loads spec + weights, picks the backend (auto: CUDA when a device is present, else the CPU, one
 * log line; cuda without a device: an error), creates the context (threads: CPU worker threads)
 * and runs the engine's self-check. On failure nothing is left allocated and err says why (one line). */
nn_status sd_model_load(sd_model *out, const char *spec, const char *weights, nn_backend backend, int threads,
                        const slog *log, nn_err *err);
/* The same from steerd's configuration (model.spec, model.weights, backend, threads, source.aspect); a cuda backend
 * without a device names the config's `backend` key and position. */
nn_status sd_model_load_config(sd_model *out, const steerd_config *cfg, const slog *log, nn_err *err);
void sd_model_free(sd_model *m);
const char *sd_model_name(const sd_model *m);
const char *sd_model_checksum(const sd_model *m);

/* Whether frame f holds every row the preprocessing reads (*ok). A frame copied with an earlier
 * model's rows (cap_set_rows) may not: the caller skips it. Builds the sampling tables for f's
 * size when they changed (no allocation); fails only when the crop does not fit f. */
nn_status sd_model_covers(sd_model *m, const sd_frame *f, bool *ok, nn_err *err);
/* The rows [*first, *end) the preprocessing reads of a frame *height tall: those of the last
 * frame preprocessed on the CPU; false when none yet (or the GPU preprocesses: it gets the whole
 * frame). */
bool sd_model_rows(sd_model *m, int *height, int *first, int *end);

/* The host buffer the CPU preprocessing writes each frame (the engine's input) and its size;
 * NULL when the GPU preprocesses. */
void *sd_model_input(sd_model *m, size_t *bytes);

/* Preprocess the frame into the engine's input buffer, then run. */
nn_status sd_model_preprocess(sd_model *m, const sd_frame *f, nn_err *err);
nn_status sd_model_run(sd_model *m, nn_err *err);
const float *sd_model_outputs(const sd_model *m);
/* true when every output of the last run is finite (a NaN or an infinity is an inference error). */
bool sd_model_outputs_finite(const sd_model *m);

#endif
