/* nn.h — public API of the steerd engine: load a model (architecture YAML + safetensors
 * weights), build an inference context sized once, run forward passes without allocating.
 * Tensors are NHWC float32. Errors are values: every call returns nn_status and fills an
 * nn_err with one line naming the file, field and value. */
#ifndef STEERD_NN_H
#define STEERD_NN_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    NN_OK = 0,
    NN_E_IO,          /* file cannot be opened / read / written */
    NN_E_PARSE,       /* malformed YAML, JSON header or .npy */
    NN_E_SPEC,        /* unknown layer type or key, bad value */
    NN_E_SHAPE,       /* a shape cannot propagate through a layer */
    NN_E_WEIGHTS,     /* missing / extra / misshaped / wrong-dtype tensor, truncated file */
    NN_E_CHECKSUM,    /* weights checksum mismatch */
    NN_E_NOMEM,
    NN_E_ARG,         /* bad argument from the caller */
    NN_E_UNSUPPORTED, /* valid request this build cannot do (e.g. backend not compiled) */
    NN_E_DEVICE,      /* the GPU: no usable device, or a CUDA / cuDNN / cuBLAS call failed */
} nn_status;

#define NN_ERR_LEN 512
typedef struct {
    char msg[NN_ERR_LEN];
} nn_err;

const char *nn_status_str(nn_status s);
/* Formats a one-line message into err (may be NULL) and returns s. */
nn_status nn_fail(nn_err *err, nn_status s, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- model: architecture + parameters (canonical, engine layout) ---- */
typedef struct nn_model nn_model;

/* Parses the architecture only; parameters are zero. */
nn_status nn_model_load_spec(nn_model **out, const char *spec_path, nn_err *err);
/* Parses the architecture and loads weights (safetensors, PyTorch names/layouts). */
nn_status nn_model_load(nn_model **out, const char *spec_path, const char *weights_path, nn_err *err);
/* He-normal initialisation of conv/dense weights, zero biases, BN identity. Deterministic in seed. */
void nn_model_init_he(nn_model *m, uint64_t seed);
/* Writes all parameters as safetensors (PyTorch names/layouts) with checksum metadata.
 * extra_meta: NULL or NULL-terminated key/value pairs added to __metadata__. */
nn_status nn_model_save(const nn_model *m, const char *path, const char *const *extra_meta, nn_err *err);
void nn_model_free(nn_model *m);

const char *nn_model_name(const nn_model *m);
/* "sha256:<hex>" of the loaded weights' data section, or "" when none were loaded. */
const char *nn_model_checksum(const nn_model *m);
void nn_model_input_shape(const nn_model *m, int *h, int *w, int *c);
int nn_model_output_size(const nn_model *m);

/* ---- inference context: folded/fused layer plan, arena and threads, sized once ---- */
typedef struct nn_infer nn_infer;

nn_status nn_infer_create(nn_infer **out, const nn_model *m, int max_batch, int threads, nn_err *err);
void nn_infer_free(nn_infer *ctx);
/* Input buffer [max_batch, H, W, C]; fill the first `batch` images, then call nn_infer_run. */
float *nn_infer_input(nn_infer *ctx);
/* Runs the forward pass on `batch` images (1..max_batch). Allocates nothing. */
nn_status nn_infer_run(nn_infer *ctx, int batch, nn_err *err);
/* Output buffer [batch, output_size], valid until the next run. */
const float *nn_infer_output(const nn_infer *ctx);
int nn_infer_output_size(const nn_infer *ctx);

/* Per-step profile of the last run: step names and nanoseconds (plan steps after folding). */
int nn_infer_steps(const nn_infer *ctx);
const char *nn_infer_step_name(const nn_infer *ctx, int i);
uint64_t nn_infer_step_ns(const nn_infer *ctx, int i);

#endif
