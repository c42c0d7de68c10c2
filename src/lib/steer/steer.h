/* steer.h — libsteer, the steerd engine as a shared library: open a model (architecture YAML +
 * safetensors weights), ask its input and output shapes, run a batch of preprocessed images or a
 * camera frame into a buffer of the caller's, close it. Installed as <steer/steer.h>; link with
 * `pkg-config --cflags --libs steer`. Only the names starting with steer_ / STEER_ are exported.
 *
 * Tensors are NHWC float32. Sizes are fixed at steer_open: a run allocates nothing. Errors are
 * values: every call that can fail returns a steer_status and writes one line naming the file,
 * field and value into `err` (err_len bytes, NUL-terminated; err may be NULL). A handle is not
 * thread-safe: use one per thread. */
#ifndef STEER_STEER_H
#define STEER_STEER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped when a declaration below changes incompatibly (and the SONAME with it). */
#define STEER_API_VERSION 1

typedef enum {
    STEER_OK = 0,
    STEER_E_IO,          /* a file cannot be opened or read */
    STEER_E_PARSE,       /* malformed YAML or safetensors header */
    STEER_E_SPEC,        /* unknown layer type or key, bad value in the model YAML */
    STEER_E_SHAPE,       /* a shape cannot propagate through a layer */
    STEER_E_WEIGHTS,     /* missing / extra / misshaped tensor, truncated file, non-finite output */
    STEER_E_CHECKSUM,    /* the weights' checksum does not match */
    STEER_E_NOMEM,
    STEER_E_ARG,         /* a bad argument (NULL, batch out of range, buffer too small) */
    STEER_E_UNSUPPORTED, /* valid, but not in this build (e.g. CUDA not compiled) */
    STEER_E_DEVICE,      /* the GPU: none usable, or a CUDA call failed */
} steer_status;

typedef enum { STEER_BACKEND_CPU = 0, STEER_BACKEND_AUTO, STEER_BACKEND_CUDA } steer_backend;

typedef struct {
    int max_batch;         /* images per steer_run, 1..65536 (0 = 1) */
    int threads;           /* CPU worker threads, 1..256 (0 = 1) */
    steer_backend backend; /* CPU (the default), AUTO (CUDA when built in and a GPU is present) or CUDA */
} steer_options;

typedef struct steer_model steer_model;

/* The library's version, "MAJOR.MINOR.PATCH" (steerd's). */
const char *steer_version(void);
/* "ok", "io", "parse", ... for a status. */
const char *steer_status_str(steer_status s);

/* Loads the model and its weights, builds the inference context and runs the self-check (a
 * finite forward pass on a test image). opts may be NULL (CPU, 1 thread, batch 1). */
steer_status steer_open(steer_model **out, const char *spec_yaml, const char *weights_safetensors,
                        const steer_options *opts, char *err, size_t err_len);
/* Frees everything; NULL is ignored. */
void steer_close(steer_model *m);

const char *steer_name(const steer_model *m);     /* the model YAML's name */
const char *steer_checksum(const steer_model *m); /* "sha256:<hex>" of the weights */
/* Input image: height x width x channels (NHWC; channels 3 = RGB or 1 = luma). */
void steer_input_shape(const steer_model *m, int *height, int *width, int *channels);
/* Floats per image in steer_run's output. */
int steer_output_size(const steer_model *m);
int steer_max_batch(const steer_model *m);
/* Degrees per unit of output 0 for a steering model that states its scale, else 0. */
float steer_degrees_per_unit(const steer_model *m);

/* Forward pass on `batch` (1..max_batch) preprocessed images, input [batch, H, W, C] float32;
 * writes [batch, steer_output_size] floats to output (output_len floats available). */
steer_status steer_run(steer_model *m, const float *input, int batch, float *output, size_t output_len, char *err,
                       size_t err_len);
/* One camera frame (uint8 RGB, height rows of width*3 bytes, `stride` bytes apart, any size)
 * through the model's preprocessing (crop, bilinear resize, scale and offset, as steerd) and a
 * forward pass; writes steer_output_size floats to output. */
steer_status steer_run_rgb(steer_model *m, const uint8_t *rgb, int width, int height, int stride, float *output,
                           size_t output_len, char *err, size_t err_len);

#ifdef __cplusplus
}
#endif

#endif
