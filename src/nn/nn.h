/* nn.h — public API of the steerd engine: load a model (architecture YAML + safetensors
 * weights), build an inference context sized once, run forward passes without allocating.
 * Tensors are NHWC float32. Errors are values: every call returns nn_status and fills an
 * nn_err with one line naming the file, field and value. */
#ifndef STEERD_NN_H
#define STEERD_NN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#ifdef __cplusplus
extern "C" {
#endif

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
/* The weights file loaded, or "" when none was (zero or He-initialised parameters). */
const char *nn_model_weights(const nn_model *m);
void nn_model_input_shape(const nn_model *m, int *h, int *w, int *c);
int nn_model_output_size(const nn_model *m);

/* ---- inference context: folded/fused layer plan, arena and threads, sized once ---- */
typedef struct nn_infer nn_infer;

/* The CPU backend (same as nn_infer_create_opts with backend NN_BACKEND_CPU). */
nn_status nn_infer_create(nn_infer **out, const nn_model *m, int max_batch, int threads, nn_err *err);

/* Where an inference context runs. AUTO: CUDA when this build has the CUDA backend and a device
 * is present, else the CPU. CUDA without a device (or in a build without it) fails with
 * NN_E_DEVICE / NN_E_UNSUPPORTED and a one-line reason. */
typedef enum { NN_BACKEND_AUTO = 0, NN_BACKEND_CPU, NN_BACKEND_CUDA } nn_backend;

#define NN_CUDA_CONV_DIRECT_MACS (1L << 22)

/* The CPU backend's kernel flavour (instruction set). AUTO: $STEERD_ISA when it is set and not
 * empty (a name below; checked like a forced one), else the best this CPU runs: avx512, then
 * avx2 (x86-64), neon (AArch64, always present), else scalar (portable C). A forced flavour this
 * CPU lacks is refused (NN_E_ARG) with one line naming it and what the CPU supports. */
typedef enum { NN_CPU_ISA_AUTO = 0, NN_CPU_ISA_SCALAR, NN_CPU_ISA_AVX2, NN_CPU_ISA_AVX512, NN_CPU_ISA_NEON } nn_cpu_isa;
#define NN_CPU_ISA_ENV "STEERD_ISA"
/* "auto", "scalar", "avx2", "avx512", "neon". */
const char *nn_cpu_isa_name(nn_cpu_isa isa);
/* Parses one of the names above; false for anything else. */
bool nn_cpu_isa_parse(const char *s, nn_cpu_isa *out);
/* The best flavour this CPU runs (never AUTO). */
nn_cpu_isa nn_cpu_isa_best(void);
/* True when this CPU (and build) runs the flavour; AUTO and SCALAR always. */
bool nn_cpu_isa_supported(nn_cpu_isa isa);
/* The flavours this CPU runs, best first, comma separated ("avx512, avx2, scalar"). */
const char *nn_cpu_isa_list(char *buf, size_t n);
/* What a context created with `req` runs (never AUTO): see nn_cpu_isa above. */
nn_status nn_cpu_isa_resolve(nn_cpu_isa req, nn_cpu_isa *out, nn_err *err);
/* Parses and checks a name given as `what` (an option such as "--isa", or NN_CPU_ISA_ENV):
 * unknown or unsupported names fail (NN_E_ARG) with one line naming `what`, the value and, for an
 * unsupported one, what this CPU supports. "auto" gives AUTO. */
nn_status nn_cpu_isa_from_name(const char *name, const char *what, nn_cpu_isa *out, nn_err *err);

typedef struct {
    int max_batch;        /* 1..65536 */
    int threads;          /* CPU backend worker threads, 1..256 (0 = 1) */
    nn_backend backend;
    nn_cpu_isa isa;       /* CPU backend kernel flavour (0 = AUTO: $STEERD_ISA, else the best) */
    bool cuda_eager;      /* CUDA: launch the steps one by one instead of replaying the forward pass
                             captured once per batch size in a CUDA Graph (tests, benchmarks) */
    bool profile;         /* CUDA: time every step with events (implies eager); the CPU always times */
    long cuda_conv_direct_macs; /* CUDA: a conv2d whose batch x multiply-adds is at most this runs as one
                             fused kernel instead of cuDNN + epilogue (launch-bound small convs);
                             0 = the default (NN_CUDA_CONV_DIRECT_MACS), < 0 = always cuDNN */
} nn_infer_opts;

nn_status nn_infer_create_opts(nn_infer **out, const nn_model *m, const nn_infer_opts *o, nn_err *err);
void nn_infer_free(nn_infer *ctx);
/* The backend the context runs on (never AUTO). */
nn_backend nn_infer_backend(const nn_infer *ctx);
/* The CPU kernel flavour the context runs (resolved at create; never AUTO). */
nn_cpu_isa nn_infer_isa(const nn_infer *ctx);
/* "auto", "cpu", "cuda". */
const char *nn_backend_name(nn_backend b);
/* Parses "auto" / "cpu" / "cuda"; false for anything else. */
bool nn_backend_parse(const char *s, nn_backend *out);
/* True when this build has the CUDA backend and a CUDA device is usable; otherwise false and why
 * (may be NULL) says so: "this build has no CUDA backend" or "no CUDA device (...)". */
bool nn_cuda_available(char *why, size_t n);
/* True when this build has the CUDA backend compiled in (whether or not a device is present). */
bool nn_cuda_built(void);
/* The CUDA devices this process sees (0 without the CUDA backend or a device). */
int nn_cuda_devices(void);
/* Makes CUDA device `index` (0 .. nn_cuda_devices()-1) the calling thread's device: the CUDA
 * contexts it creates afterwards run there (one GPU per rank of a data-parallel steer-train).
 * NN_E_DEVICE when there is no such device, NN_E_UNSUPPORTED without the CUDA backend. */
nn_status nn_cuda_use_device(int index, nn_err *err);
/* Input buffer [max_batch, H, W, C] (host memory; pinned on the CUDA backend); fill the first
 * `batch` images, then call nn_infer_run. */
float *nn_infer_input(nn_infer *ctx);
/* Runs the forward pass on `batch` images (1..max_batch). Allocates nothing. */
nn_status nn_infer_run(nn_infer *ctx, int batch, nn_err *err);
/* The self-check a model must pass before it is used (the daemon's load and reload, steerctl):
 * one forward pass of a fixed test image (pixels 0..255 through the model's preprocess scale and
 * offset) must give finite outputs. NN_E_WEIGHTS names the output and, on the CPU backend, the
 * first layer that produced a non-finite value. Overwrites image 0 of the input and the output;
 * allocates nothing. ctx must have been created for m. */
nn_status nn_infer_selfcheck(nn_infer *ctx, const nn_model *m, nn_err *err);
/* Output buffer [batch, output_size], valid until the next run. */
const float *nn_infer_output(const nn_infer *ctx);
int nn_infer_output_size(const nn_infer *ctx);

/* GPU preprocessing (CUDA backend): a uint8 RGB frame (height rows of width*3 bytes, `stride`
 * bytes apart) is copied to the device, cropped, bilinearly resized and normalised there into
 * image `slot` of the input, exactly as the daemon's CPU preprocessing (src/nn/preprocess.c)
 * with the model's `preprocess` section; the next nn_infer_run uses it instead of the host input
 * buffer for that run. width*height*3 <= max_frame_bytes given to nn_infer_frame_reserve, which
 * must be called once first (allocates). NN_E_UNSUPPORTED on the CPU backend. */
nn_status nn_infer_frame_reserve(nn_infer *ctx, size_t max_frame_bytes, nn_err *err);
nn_status nn_infer_frame(nn_infer *ctx, const uint8_t *rgb, int width, int height, int stride, nn_err *err);

/* Per-step profile of the last run: step names and nanoseconds (plan steps after folding).
 * CUDA backend: measured with events only when the context was created with profile set (else 0). */
int nn_infer_steps(const nn_infer *ctx);
const char *nn_infer_step_name(const nn_infer *ctx, int i);
uint64_t nn_infer_step_ns(const nn_infer *ctx, int i);

#ifdef __cplusplus
}
#endif

#endif
