/* cuda_exec.h — the CUDA executor of an inference plan (kernels/backend_cuda.cu), as the CUDA
 * backend's table (kernels/backend_table.c, backend.h) sees it. Only in builds with the CUDA
 * backend (NN_HAVE_CUDA). One executor = one stream, one device arena (folded parameters
 * uploaded once, then the activations at the plan's offsets, then the workspace), pinned host
 * input/output buffers, and per batch size a CUDA Graph of the whole forward pass captured on
 * its first run. */
#ifndef STEERD_NN_CUDA_EXEC_H
#define STEERD_NN_CUDA_EXEC_H

#include <stdbool.h>
#include <stdint.h>

#include "nn/plan.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nn_cuda_exec nn_cuda_exec;

/* Is there a usable CUDA device? why: "N CUDA device(s)" or "no CUDA device (reason)" (device.cu). */
bool nn_cuda_probe(char *why, size_t why_len);
/* device.cu: the CUDA devices this process sees (0 when none); makes `index` the calling
 * thread's current device (nn.h nn_cuda_use_device). */
int nn_cuda_device_count(void);
nn_status nn_cuda_set_device(int index, nn_err *err);

/* Does not keep p: copies what it needs. in_h/in_w/in_c and pre: the model input and its
 * preprocessing (for nn_cuda_exec_frame). eager: no graphs. profile: per-step events (eager).
 * conv_direct_macs: nn_infer_opts.cuda_conv_direct_macs. */
nn_status nn_cuda_exec_create(nn_cuda_exec **out, const nn_plan *p, const nn_preprocess *pre, int in_h, int in_w,
                              int in_c, bool eager, bool profile, long conv_direct_macs, nn_err *err);
void nn_cuda_exec_free(nn_cuda_exec *x);
float *nn_cuda_exec_input(nn_cuda_exec *x);             /* pinned host [max_batch, in] */
const float *nn_cuda_exec_output(const nn_cuda_exec *x); /* pinned host [max_batch, out] */
/* Uploads the first `batch` inputs (unless a frame is pending), runs the forward (graph replay
 * or eager), downloads the outputs and waits for them. step_ns[n_steps] filled when profiling. */
nn_status nn_cuda_exec_run(nn_cuda_exec *x, int batch, uint64_t *step_ns, nn_err *err);
nn_status nn_cuda_exec_frame_reserve(nn_cuda_exec *x, size_t max_frame_bytes, nn_err *err);
/* Stages the frame (pinned), uploads it and preprocesses it on the device into input image 0. */
nn_status nn_cuda_exec_frame(nn_cuda_exec *x, const uint8_t *rgb, int width, int height, int stride, nn_err *err);

#ifdef __cplusplus
}
#endif

#endif
