/* cuda_preprocess.h — the GPU preprocessing launcher (preprocess.cu), used by the executor
 * (backend_cuda.cu). CUDA sources only. */
#ifndef STEERD_KERNELS_CUDA_PREPROCESS_H
#define STEERD_KERNELS_CUDA_PREPROCESS_H

#include <stdint.h>

#include "cuda.h"

/* out [out_h][out_w][out_c] from the source rows starting at frame row row0 (pitch bytes apart)
 * and the device sampling tables (layout in preprocess.cu). Enqueued on env->stream. */
nn_status cu_preprocess(const cu_env *env, float *out, const uint8_t *rows, size_t pitch, int row0, const int *tabs_i,
                        const float *tabs_f, int out_h, int out_w, int out_c, float scale, float offset, nn_err *err);

#endif
