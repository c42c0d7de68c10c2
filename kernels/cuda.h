/* cuda.h — the CUDA backend's internal contract (CUDA sources only; the C side of the engine
 * sees only the extern "C" entry points declared in src/nn). Mirrors the CPU backend
 * (src/nn/cpu/cpu.h): one forward and one backward launcher per layer type, same argument order
 * (outputs first, then inputs, then sizes), device pointers, NHWC float32, engine parameter
 * layouts (graph.h). Launchers only enqueue work on env->stream (never synchronise, never
 * allocate: everything is sized and allocated once, so a forward can be captured in a CUDA
 * Graph) and return nn_status (cuda_check.h). Backward launchers ACCUMULATE into d_in / d_p. */
#ifndef STEERD_KERNELS_CUDA_H
#define STEERD_KERNELS_CUDA_H

#include "cuda_check.h"
#include "nn/graph.h"

/* One engine instance's device state: its stream, library handles bound to that stream, and the
 * shared workspace (cuDNN algorithms' scratch), sized once for the largest need. */
typedef struct {
    cudaStream_t stream;
    cudnnHandle_t dnn;
    cublasHandle_t blas;
    void *ws;
    size_t ws_bytes;
} cu_env;

/* Per-layer state prepared once (cuDNN descriptors, chosen algorithms, workspace need); opaque
 * to the dispatcher, owned by the layer's .cu file. NULL for layers that need none. */
typedef struct cu_plan cu_plan;

typedef struct {
    const cu_env *env;
    const nn_layer *l;                 /* host copy of the layer (fused act / folded bias) */
    float *out;                        /* [batch, l->out] */
    const float *in[NN_MAX_INPUTS];
    const float *p[4];                 /* weight, bias | BN gamma beta mean var */
    int batch;
    int in_c[NN_MAX_INPUTS];           /* concat: channels of each input */
    cu_plan *plan;
} cu_fwd_args;

typedef struct {
    const cu_env *env;
    const nn_layer *l;
    float *d_in[NN_MAX_INPUTS];        /* accumulated; may alias each other */
    float *d_p[4];                     /* accumulated; NULL = not wanted */
    const float *dy;
    const float *in[NN_MAX_INPUTS];
    const float *out;
    const float *p[4];
    const float *aux;                  /* batch-norm mean + 1/std [2][C], dropout mask */
    int batch;
    int in_c[NN_MAX_INPUTS];
    cu_plan *plan;
} cu_bwd_args;

extern "C" bool nn_cuda_probe(char *why, size_t why_len); /* device.cu */

#endif
