/* dev_layout.h — host-side arithmetic of the CUDA backend, in plain C so that it is unit-tested
 * on the CPU (tests/test_dev_layout.c) and compiled by both the C compiler and nvcc:
 *  - every device tensor (parameters, activations, workspace) starts on NN_DEV_ALIGN bytes
 *    (cuDNN and cuBLAS vector loads): the engine packs parameters with no gaps (spec.c), so the
 *    device copy places each parameter tensor at its own aligned offset (nn_dev_params) and
 *    transfers go through a staging image with the gaps (pack / unpack);
 *  - the choice of a cuDNN algorithm from a ranked candidate list (nn_algo_pick), with the
 *    float32-only, workspace and "pinned algorithms" rules in one place, and the forward path a
 *    convolution takes for a batch size (nn_conv_route). */
#ifndef STEERD_NN_DEV_LAYOUT_H
#define STEERD_NN_DEV_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nn/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NN_DEV_ALIGN ((size_t)256) /* bytes: the start of every device tensor */
#define NN_DEV_ALIGN_FLOATS (NN_DEV_ALIGN / sizeof(float))

static inline size_t nn_dev_align(size_t bytes) { return (bytes + NN_DEV_ALIGN - 1) / NN_DEV_ALIGN * NN_DEV_ALIGN; }
static inline bool nn_dev_aligned(const void *p) { return (uintptr_t)p % NN_DEV_ALIGN == 0; }

/* One parameter tensor: its offset in the engine's packed block and in the device block (floats). */
typedef struct {
    size_t host_off, dev_off, count;
} nn_dev_tensor;

typedef struct {
    nn_dev_tensor *t;   /* sorted by host_off, no duplicates */
    int n;
    size_t host_floats; /* the engine block's size */
    size_t dev_floats;  /* the device block's size, a multiple of NN_DEV_ALIGN_FLOATS */
} nn_dev_params;

/* Lays out n tensors (host offsets and counts in a block of host_floats; the same offset may
 * appear more than once, tensors must not overlap otherwise) at NN_DEV_ALIGN-aligned device
 * offsets in host order. NN_E_ARG when a tensor leaves the block or two overlap. */
nn_status nn_dev_params_build(nn_dev_params *d, const size_t *host_off, const size_t *count, int n,
                              size_t host_floats, nn_err *err);
void nn_dev_params_free(nn_dev_params *d);
/* Device offset of host offset `host_off`, which must lie inside one of the tensors (SIZE_MAX if not). */
size_t nn_dev_params_map(const nn_dev_params *d, size_t host_off);
/* dev [dev_floats] = host [host_floats] at the device offsets, zeros in the gaps. */
void nn_dev_params_pack(const nn_dev_params *d, float *dev, const float *host);
/* host [host_floats] (the tensors' floats only) = dev [dev_floats]. */
void nn_dev_params_unpack(const nn_dev_params *d, float *host, const float *dev);
/* The graph's parameter tensors (nn_graph.params), laid out for the device. */
nn_status nn_dev_params_graph(nn_dev_params *d, const nn_graph *g, nn_err *err);
/* Floats of parameter k (weight, bias | BN gamma beta mean var) of a layer, from its shapes:
 * what spec.c lays out, also for a bias the plan creates when it folds batch norm. 0: none. */
size_t nn_layer_param_floats(const nn_layer *l, int k);

/* One candidate of cuDNN's ranked list (cudnnConvolution*AlgoPerf_t, reduced to what the choice needs). */
typedef struct {
    int algo;
    bool ok;            /* perf.status == CUDNN_STATUS_SUCCESS */
    bool fp32;          /* math keeps float32 (FMA or default math, no tensor-op conversion) */
    size_t ws;          /* workspace bytes it needs */
} nn_algo_cand;

/* The first candidate that succeeded, keeps float32 and needs at most cap bytes; when pinned
 * (n_pinned > 0), only algorithms in pinned[] count (the parity contexts pin the GEMM family so
 * that a Winograd or FFT choice cannot loosen the tolerance). Index into c, or -1 when none. */
int nn_algo_pick(const nn_algo_cand *c, int n, size_t cap, const int *pinned, int n_pinned);

/* cuDNN's three convolution passes, for the name and pinned tables below. */
typedef enum { NN_PASS_FWD = 0, NN_PASS_BWD_DATA, NN_PASS_BWD_FILTER } nn_conv_pass;
/* cuDNN's name of algorithm `algo` of a pass (cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t
 * order, e.g. "IMPLICIT_PRECOMP_GEMM", "WINOGRAD"), "?" when out of range. */
const char *nn_cudnn_algo_name(nn_conv_pass pass, int algo);
/* The algorithms a parity context pins a pass to: the GEMM family and cuDNN's direct
 * summations, whose float32 error is that of a dot product (no Winograd / FFT transforms, whose
 * rounding error grows with the tile). Returns the count, *list the algorithm numbers. */
int nn_cudnn_pinned(nn_conv_pass pass, const int **list);

/* The forward path of a convolution for one batch size. */
typedef enum {
    NN_CONV_SLOT = 0,   /* cuDNN with the algorithm cached for this batch size */
    NN_CONV_HEURISTIC,  /* not measured at set-up: ask cuDNN's heuristics (cudnnGetConvolutionForwardAlgorithm_v7) */
    NN_CONV_DIRECT,     /* the engine's own direct kernel */
} nn_conv_route;

/* direct: the layer has no cuDNN algorithm at all or one failed before; small: batch x MACs at
 * or under the direct-kernel threshold; cached: a slot holds this batch size; heuristic_found:
 * (only asked when not cached) the heuristics gave an algorithm within the workspace. */
nn_conv_route nn_conv_route_pick(bool direct, bool small, bool cached, bool heuristic_found);

#ifdef __cplusplus
}
#endif

#endif
