/* cuda.h — the CUDA backend's internal contract (CUDA sources only; the C side of the engine
 * sees only the extern "C" entry points declared in src/nn/cuda_exec.h). Mirrors the CPU backend
 * (src/nn/cpu/cpu.h): one forward and one backward launcher per layer type, same argument order
 * (outputs first, then inputs, then sizes), device pointers, NHWC float32, engine parameter
 * layouts (graph.h). Launchers only enqueue work on env->stream (never synchronise, never
 * allocate device memory: everything is sized and allocated once, so a forward can be captured
 * in a CUDA Graph) and return nn_status (cuda_check.h). Backward launchers ACCUMULATE into d_in / d_p.
 *
 * Forward launchers (this file's stable API, used by inference and by the training forward):
 *   cu_env_create / cu_env_reserve / cu_env_free   stream + cuDNN/cuBLAS handles + workspace
 *   cu_plan_create / cu_plan_ws_bytes / cu_plan_free  per-layer prepared state (conv2d: cuDNN
 *                                                    descriptors and algorithms; others: NULL)
 *   cu_forward                                      dispatch on l->op (forward.cu)
 *   cu_bias_act                                     the shared bias + activation epilogue
 * Numerics: float32 FMA arithmetic only (cuDNN convolutions are set to CUDNN_FMA_MATH and cuBLAS
 * to its default math, which for float32 never rounds to TF32): results match the CPU backend to
 * float32 rounding. */
#ifndef STEERD_KERNELS_CUDA_H
#define STEERD_KERNELS_CUDA_H

#include "cuda_check.h"
#include "nn/dev_layout.h"
#include "nn/graph.h"

/* One engine instance's device state: its stream, library handles bound to that stream, and the
 * shared workspace (cuDNN algorithms' scratch, padded inputs), sized once for the largest need. */
typedef struct {
    cudaStream_t stream;
    cudnnHandle_t dnn;
    cublasHandle_t blas;
    void *ws;
    size_t ws_bytes;
    bool ws_owned;                     /* ws allocated by cu_env_reserve (else it points into an arena) */
    long conv_direct_macs;             /* conv2d: batch x MACs at most this -> one fused direct kernel
                                          instead of cuDNN + epilogue; < 0: always cuDNN (cu_env_create
                                          sets NN_CUDA_CONV_DIRECT_MACS) */
    void *blas_ws;                     /* cuBLAS's own workspace (cublasSetWorkspace: graph capture safe) */
    size_t blas_ws_bytes;
    bool verbose;                      /* STEERD_CUDA_VERBOSE set: each conv layer logs its algorithms (cu_note) */
    bool pin_gemm;                     /* STEERD_CUDA_PIN_GEMM set: cuDNN algorithms restricted to the GEMM
                                          family (nn_cudnn_pinned; the parity tests and the device check) */
    bool conv_own;                     /* STEERD_CUDA_CONV_OWN set: training convolutions on the engine's own
                                          kernels instead of cuDNN (tests the fallback on a device) */
} cu_env;

/* One line on stderr, "nn cuda: warning: ..." (a fallback taken; each caller says it once). */
void cu_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* One line on stderr, "nn cuda: ...", only when env->verbose (the algorithm chosen per layer). */
void cu_note(const cu_env *env, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Per-layer state prepared once (cuDNN descriptors, chosen algorithms, workspace need); opaque
 * to the dispatcher, owned by the layer's .cu file. NULL for layers that need none. */
typedef struct cu_plan cu_plan;

typedef struct {
    const cu_env *env;
    const nn_layer *l;                 /* host copy of the layer (fused act / folded bias) */
    float *out;                        /* [batch, l->out] */
    const float *in[NN_MAX_INPUTS];
    const float *p[4];                 /* weight, bias | BN gamma beta mean var (device, engine layout,
                                          except conv2d: see cu_conv2d_pack_weights) */
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
    const struct cu_shard *shard;      /* training: batch norm sums over a data-parallel batch
                                          (cuda_train.h); NULL: this batch */
} cu_bwd_args;

extern "C" bool nn_cuda_probe(char *why, size_t why_len); /* device.cu */
extern "C" int nn_cuda_device_count(void);                     /* device.cu */
extern "C" nn_status nn_cuda_set_device(int index, nn_err *err); /* device.cu */

/* ---- backend_cuda.cu: the per-engine environment ---- */
/* Creates a non-blocking stream and cuDNN / cuBLAS handles bound to it (cuBLAS: default float32
 * math, its own workspace set so that calls can be captured in a graph). No shared workspace yet. */
nn_status cu_env_create(cu_env *env, nn_err *err);
/* Makes env->ws at least `bytes` (set-up time only: reallocates). */
nn_status cu_env_reserve(cu_env *env, size_t bytes, nn_err *err);
void cu_env_free(cu_env *env);

/* ---- forward (forward.cu dispatches; one .cu per layer type) ---- */
/* Prepares layer l for batches up to max_batch (conv2d: cuDNN descriptors, the algorithm chosen
 * once for max_batch and for batch 1, cached; other layers: *out = NULL). Call cu_env_reserve
 * with the largest cu_plan_ws_bytes before the first forward. */
nn_status cu_plan_create(cu_plan **out, const cu_env *env, const nn_layer *l, int max_batch, nn_err *err);
/* Workspace bytes this layer's forward needs at any batch <= max_batch (0 for a NULL plan). */
size_t cu_plan_ws_bytes(const cu_plan *p);
void cu_plan_free(cu_plan *p);
/* Enqueues the layer's forward (inference semantics: batch norm with running statistics, dropout
 * and flatten as copies) on env->stream, then the fused l->act epilogue where the CPU applies one
 * (conv2d, depthwise, dense, batchnorm). out may alias in[0] for element-wise layers (relu,
 * leaky_relu, sigmoid, tanh, elu, clip, batchnorm, dropout, flatten). Conv2d needs its plan; batches above the plan's
 * max_batch are refused. */
nn_status cu_forward(const cu_fwd_args *a, nn_err *err);

/* conv2d weights on the device are in cuDNN's KRSC order [cout][kh][kw][cin/groups] (per group
 * block), not the engine's [groups][kh][kw][cin/g][cout/g]: dst = repacked src (host arrays,
 * count = cout*kh*kw*cin/groups). Used once when parameters are uploaded. */
void cu_conv2d_pack_weights(float *dst, const float *src, const nn_layer *l);
/* The inverse (device KRSC order back to the engine layout), e.g. for weights or gradients
 * downloaded from the device. Element-wise updates (SGD/Adam) do not care about the order. */
void cu_conv2d_unpack_weights(float *dst, const float *src, const nn_layer *l);

/* x[i] = act(x[i] + bias[i % c]) for i < n (bias may be NULL). */
nn_status cu_bias_act(const cu_env *env, float *x, size_t n, int c, const float *bias, nn_act act, float alpha,
                      nn_err *err);
/* Per-layer forward launchers (cu_forward dispatches to them; same contract). */
nn_status cu_conv2d_forward(const cu_fwd_args *a, nn_err *err);         /* conv2d.cu (cuDNN) */
nn_status cu_depthwise_forward(const cu_fwd_args *a, nn_err *err);      /* depthwise.cu */
nn_status cu_maxpool_forward(const cu_fwd_args *a, nn_err *err);        /* pool.cu */
nn_status cu_avgpool_forward(const cu_fwd_args *a, nn_err *err);        /* pool.cu (padding excluded) */
nn_status cu_global_avgpool_forward(const cu_fwd_args *a, nn_err *err); /* pool.cu */
nn_status cu_batchnorm_forward(const cu_fwd_args *a, nn_err *err);      /* batchnorm.cu (running stats) */
nn_status cu_relu_forward(const cu_fwd_args *a, nn_err *err);           /* activation.cu */
nn_status cu_leaky_relu_forward(const cu_fwd_args *a, nn_err *err);     /* activation.cu */
nn_status cu_softmax_forward(const cu_fwd_args *a, nn_err *err);        /* activation.cu (over channels) */
nn_status cu_pointwise_forward(const cu_fwd_args *a, nn_err *err);      /* activation.cu: sigmoid tanh elu clip */
nn_status cu_dense_forward(const cu_fwd_args *a, nn_err *err);          /* dense.cu (cuBLAS) */
nn_status cu_channel_shuffle_forward(const cu_fwd_args *a, nn_err *err); /* shuffle.cu */
nn_status cu_add_forward(const cu_fwd_args *a, nn_err *err);            /* merge.cu */
nn_status cu_concat_forward(const cu_fwd_args *a, nn_err *err);         /* merge.cu (channel axis) */
nn_status cu_copy_forward(const cu_fwd_args *a, nn_err *err);           /* merge.cu: flatten / dropout */
/* conv2d.cu's plan (cu_plan_create dispatches here for NN_OP_CONV2D). */
nn_status cu_conv2d_plan_create(cu_plan **out, const cu_env *env, const nn_layer *l, int max_batch, nn_err *err);
size_t cu_conv2d_plan_ws_bytes(const cu_plan *p);
void cu_conv2d_plan_free(cu_plan *p);

/* Threads per block and blocks for n independent items (grid-stride loops cover the rest). */
static inline unsigned cu_blocks(size_t n, unsigned threads)
{
    size_t b = (n + threads - 1) / threads;
    if (b < 1) b = 1;
    return b > 65535u * 16u ? 65535u * 16u : (unsigned)b;
}

#endif
