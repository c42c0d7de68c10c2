/* cpu.h — the CPU backend: a fixed thread pool, SGEMM, and one forward kernel per layer type.
 * Kernels take their outputs first, then inputs, then sizes (via cpu_fwd_args), allocate
 * nothing, and use only the scratch space reported by cpu_scratch_floats(). */
#ifndef STEERD_NN_CPU_H
#define STEERD_NN_CPU_H

#include <stdbool.h>
#include <stddef.h>

#include "../graph.h"

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
void nn_sgemm(nn_pool *p, int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C,
              int ldc, const float *bias, bool accumulate, nn_act act, float alpha, float *ws);
/* Instruction-set flavour of the kernels: AUTO picks the best this CPU supports at run time. */
typedef enum { NN_CPU_ISA_AUTO = 0, NN_CPU_ISA_SCALAR, NN_CPU_ISA_AVX2, NN_CPU_ISA_AVX512 } nn_cpu_isa;
nn_cpu_isa nn_cpu_isa_best(void);
/* nn_sgemm with a forced flavour (tests and benchmarks; an unsupported one must not be asked for). */
void nn_sgemm_isa(nn_cpu_isa isa, nn_pool *p, int M, int N, int K, const float *A, int lda, const float *B,
                  int ldb, float *C, int ldc, const float *bias, bool accumulate, nn_act act, float alpha,
                  float *ws);

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

#endif
