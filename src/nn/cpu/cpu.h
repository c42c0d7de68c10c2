/* cpu.h — the CPU backend: a fixed thread pool, SGEMM, and one forward kernel per layer type.
 * Kernels take their outputs first, then inputs, then sizes (via cpu_fwd_args), allocate
 * nothing, and use only the scratch space reported by cpu_scratch_floats(). */
#ifndef STEERD_NN_CPU_H
#define STEERD_NN_CPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../graph.h"
#include "../train.h"

/* ---- thread pool (threadpool.c): created once, reused by every forward pass ---- */
typedef struct nn_pool nn_pool;
/* fn processes items [begin, end) on worker `thread` (0..threads-1). */
typedef void (*nn_range_fn)(void *ctx, int begin, int end, int thread);

nn_status nn_pool_create(nn_pool **out, int threads, nn_err *err);
void nn_pool_free(nn_pool *p);
int nn_pool_threads(const nn_pool *p);
/* Splits [0, n) into min(n, threads) contiguous chunks, runs them on the workers and the caller
 * (whoever is free claims the next chunk, so one thread may run several) and waits for all.
 * `thread` is unique among concurrently running calls (per-thread scratch). p may be NULL (runs
 * inline on the caller). Never allocates. One caller at a time; fn must not call nn_pool_run. */
void nn_pool_run(nn_pool *p, int n, nn_range_fn fn, void *ctx);

/* ---- SGEMM (gemm.c) ----
 * C[M x N] (ldc) = A[M x K] (lda) * B[K x N] (ldb)  (+ C if accumulate) (+ bias[N]) then act.
 * Row-major. Threads split M (or N when M is small). ws: nn_sgemm_ws_floats() floats. */
size_t nn_sgemm_ws_floats(int M, int N, int K, int threads);
/* Workspace enough for every K in [1, Kmax] (the K-dimension of a chunked GEMM varies). */
size_t nn_sgemm_ws_floats_upto(int M, int N, int Kmax, int threads);
void nn_sgemm(nn_pool *p, int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C,
              int ldc, const float *bias, bool accumulate, nn_act act, float alpha, float *ws);
/* C[M x N] = A^T B (+ C if accumulate) with A stored transposed, [K x M] (lda >= M): the weight
 * gradients (x^T dy) without transposing x. Same workspace as nn_sgemm(M, N, K). */
void nn_sgemm_at(nn_pool *p, int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C,
                 int ldc, bool accumulate, float *ws);
/* Instruction-set flavour of the kernels (nn_cpu_isa, nn.h; isa.c): AUTO picks the best this CPU
 * supports at run time. */
/* nn_sgemm with a forced flavour (tests and benchmarks; an unsupported one must not be asked for). */
void nn_sgemm_isa(nn_cpu_isa isa, nn_pool *p, int M, int N, int K, const float *A, int lda, const float *B,
                  int ldb, float *C, int ldc, const float *bias, bool accumulate, nn_act act, float alpha,
                  float *ws);

void nn_sgemm_at_isa(nn_cpu_isa isa, nn_pool *p, int M, int N, int K, const float *A, int lda, const float *B,
                     int ldb, float *C, int ldc, bool accumulate, float *ws);

/* ---- layer kernels ---- */
typedef struct {
    const nn_layer *l;
    float *out;                        /* [batch, l->out] */
    const float *in[NN_MAX_INPUTS];    /* [batch, shape of each input] */
    const float *p[4];                 /* layer params in engine layout (weight, bias | BN γ β μ σ²) */
    int batch;
    float *scratch;                    /* cpu_scratch_floats(l, B, T) floats, B >= batch, T >= pool threads */
    nn_pool *pool;
    int in_c[NN_MAX_INPUTS];           /* concat: channels of each input; 0 = derive (exact for 2 inputs,
                                          else the remaining channels split evenly) */
    nn_cpu_isa isa;                    /* kernel flavour; 0 = NN_CPU_ISA_AUTO (tests force the others) */
} cpu_fwd_args;

/* Scratch needed by one layer's forward at this batch and thread count (floats). */
size_t cpu_scratch_floats(const nn_layer *l, int batch, int threads);
/* True when the layer's output may alias its first input (element-wise in place). */
bool cpu_forward_in_place(const nn_layer *l);
/* Dispatches on l->op. Applies l->act as an epilogue for conv2d, depthwise, dense, batchnorm. */
void cpu_forward(const cpu_fwd_args *a);

void cpu_conv2d_forward(const cpu_fwd_args *a);      /* conv2d.c */
void cpu_depthwise_forward(const cpu_fwd_args *a);   /* depthwise.c */
void cpu_maxpool_forward(const cpu_fwd_args *a);     /* pool.c */
void cpu_avgpool_forward(const cpu_fwd_args *a);     /* pool.c (padding excluded from the count) */
void cpu_global_avgpool_forward(const cpu_fwd_args *a); /* pool.c */
void cpu_batchnorm_forward(const cpu_fwd_args *a);   /* batchnorm.c (inference statistics) */
void cpu_relu_forward(const cpu_fwd_args *a);        /* activation.c */
void cpu_leaky_relu_forward(const cpu_fwd_args *a);  /* activation.c */
void cpu_pointwise_forward(const cpu_fwd_args *a);   /* activation.c: sigmoid, tanh, elu, clip */
void cpu_softmax_forward(const cpu_fwd_args *a);     /* activation.c (over channels) */
void cpu_dense_forward(const cpu_fwd_args *a);       /* dense.c */
void cpu_channel_shuffle_forward(const cpu_fwd_args *a); /* shuffle.c */
void cpu_add_forward(const cpu_fwd_args *a);         /* merge.c */
void cpu_concat_forward(const cpu_fwd_args *a);      /* merge.c (channel axis) */
void cpu_copy_forward(const cpu_fwd_args *a);        /* merge.c: flatten / dropout when not in place */

/* Applies an activation epilogue in place to n floats. */
void cpu_apply_act(float *x, size_t n, nn_act act, float alpha);
/* The flavour a layer call runs: a->isa, or the best this CPU has when that is AUTO. */
nn_cpu_isa cpu_isa(const cpu_fwd_args *a);
/* conv2d's share of cpu_scratch_floats (conv2d.c). */
size_t cpu_conv2d_scratch_floats(const nn_layer *l, int batch, int threads);
/* nn_pool_run when `work` (roughly, element operations) is worth the launch, else inline. */
void cpu_run(nn_pool *p, double work, int n, nn_range_fn fn, void *ctx);

/* ---- training: training-mode forwards and backward kernels (one next to each forward) ----
 * Backward kernels take their outputs first: d_in[k] (gradient w.r.t. input k, shape of input k)
 * and d_p[r] (gradient w.r.t. parameter r, engine layout); both are ACCUMULATED (+=), zeroing is
 * the caller's step. d_in[k] may alias d_in[j] (a layer reading one value twice); d_p[r] may be
 * NULL (not wanted). Then the inputs: dy [batch, l->out], the forward's saved inputs and output,
 * the params, `aux` (what the training forward saved: batch-norm mean and 1/std [2][C], dropout
 * mask [batch, size]), the batch, scratch (cpu_bwd_scratch_floats) and the pool. */
typedef struct {
    const nn_layer *l;
    float *d_in[NN_MAX_INPUTS];        /* [batch, shape of each input], accumulated */
    float *d_p[4];                     /* engine layout, accumulated; NULL = not wanted */
    const float *dy;                   /* [batch, l->out] */
    const float *in[NN_MAX_INPUTS];    /* the forward's inputs */
    const float *out;                  /* the forward's output [batch, l->out] */
    const float *p[4];                 /* params, engine layout */
    const float *aux;                  /* saved by the training forward (see above) */
    int batch;
    float *scratch;                    /* cpu_bwd_scratch_floats(l, B, T) floats */
    nn_pool *pool;
    int in_c[NN_MAX_INPUTS];           /* concat: channels of each input (required, > 0) */
    const nn_train_shard *shard;       /* batch norm: statistics summed over a data-parallel batch (train.h); NULL: this batch */
    bool overwrite;                    /* d_in[0] holds no gradient yet: the kernel treats it as zero and
                                          writes it (=) instead of adding; only for single-input layers
                                          with cpu_bwd_overwrites(l) (saves the caller's zeroing pass and
                                          the kernel's read of it) */
    nn_cpu_isa isa;                    /* kernel flavour; 0 = NN_CPU_ISA_AUTO (tests force the others) */
} cpu_bwd_args;

/* Scratch needed by one layer's backward at this batch and thread count (floats). */
size_t cpu_bwd_scratch_floats(const nn_layer *l, int batch, int threads);
/* Floats the training forward saves for the backward (aux) per layer at this batch. */
size_t cpu_train_aux_floats(const nn_layer *l, int batch);
/* Dispatches on l->op. Layers are primitive (l->act must be NN_ACT_NONE: no fusion in training). */
void cpu_backward(const cpu_bwd_args *a);
/* The flavour a backward call runs: a->isa, or the best this CPU has when that is AUTO. */
nn_cpu_isa cpu_bwd_isa(const cpu_bwd_args *a);
/* True when the layer's backward honours cpu_bwd_args.overwrite (single-input layers only). */
bool cpu_bwd_overwrites(const nn_layer *l);

/* batchnorm.c: batch statistics over batch*H*W per channel (biased variance) normalise the
 * batch (a->scratch: cpu_bn_train_scratch_floats); saved = mean [C] then 1/sqrt(var + eps) [C];
 * running_mean/var (may be NULL) move by
 * l->momentum towards the batch mean and the unbiased batch variance (PyTorch convention). */
/* shard (NULL: this batch alone): the statistics of the whole data-parallel batch (train.h). */
void cpu_batchnorm_forward_train(const cpu_fwd_args *a, float *running_mean, float *running_var, float *saved,
                                 const nn_train_shard *shard);
/* merge.c: dropout in training mode: mask[i] = 0 with probability l->rate, else 1/(1-rate),
 * drawn by a counter-based hash of (seed, base + element index): reproducible at any thread
 * count; base = the first element's index in a data-parallel batch (0 alone). */
void cpu_dropout_forward_train(const cpu_fwd_args *a, uint64_t seed, uint64_t base, float *mask);
/* loss.c: train.h's losses with the mean taken over denom >= batch samples (a data-parallel
 * slice: the global batch); NAN for denom < batch. */
double cpu_loss_softmax_ce(const float *y, bool y_is_prob, const int *labels, int batch, int classes, int denom,
                           float *d);
double cpu_loss_mse(const float *y, const float *target, int batch, int n, int denom, float *d);
double cpu_loss_huber(const float *y, const float *target, int batch, int n, float delta, int denom, float *d);

void cpu_conv2d_backward(const cpu_bwd_args *a);      /* conv2d.c */
void cpu_depthwise_backward(const cpu_bwd_args *a);   /* depthwise.c */
void cpu_maxpool_backward(const cpu_bwd_args *a);     /* pool.c (ties: first maximum in window order) */
void cpu_avgpool_backward(const cpu_bwd_args *a);     /* pool.c */
void cpu_global_avgpool_backward(const cpu_bwd_args *a); /* pool.c */
void cpu_batchnorm_backward(const cpu_bwd_args *a);   /* batchnorm.c (through the batch statistics) */
void cpu_relu_backward(const cpu_bwd_args *a);        /* activation.c */
void cpu_leaky_relu_backward(const cpu_bwd_args *a);  /* activation.c */
void cpu_pointwise_backward(const cpu_bwd_args *a);   /* activation.c: sigmoid, tanh, elu, clip */
void cpu_softmax_backward(const cpu_bwd_args *a);     /* activation.c */
void cpu_dense_backward(const cpu_bwd_args *a);       /* dense.c */
void cpu_channel_shuffle_backward(const cpu_bwd_args *a); /* shuffle.c */
void cpu_add_backward(const cpu_bwd_args *a);         /* merge.c */
void cpu_concat_backward(const cpu_bwd_args *a);      /* merge.c */
void cpu_copy_backward(const cpu_bwd_args *a);        /* merge.c: flatten */
void cpu_dropout_backward(const cpu_bwd_args *a);     /* merge.c: d_in += dy * mask */
/* dense.c / conv2d.c: dst[c][r] = src[r][c] for a rows x cols block (ld = row strides). */
void cpu_transpose(float *dst, int ldd, const float *src, int lds, int rows, int cols);
size_t cpu_conv2d_bwd_scratch_floats(const nn_layer *l, int batch, int threads);
size_t cpu_dense_bwd_scratch_floats(const nn_layer *l, int batch, int threads);
size_t cpu_depthwise_bwd_scratch_floats(const nn_layer *l, int batch, int threads);
/* batchnorm.c: scratch of both the training forward and the backward (the training forward is
 * given cpu_bwd_scratch_floats' space, not cpu_scratch_floats'). */
size_t cpu_bn_train_scratch_floats(const nn_layer *l, int batch, int threads);

#endif
