/* plan.h — the backend-neutral inference plan: batch norm folded into the neighbouring
 * conv/dense, activations fused into their producer, dropout/flatten turned into aliases, and
 * every activation buffer placed in one arena by lifetime (offsets in floats, sized for
 * max_batch). The CPU executor (cpu/backend_cpu.c) and the CUDA executor (kernels/backend_cuda.cu) walk
 * the same steps over the same arena layout; only where the arena lives differs. */
#ifndef STEERD_NN_PLAN_H
#define STEERD_NN_PLAN_H

#include <stddef.h>

#include "nn/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NN_PLAN_ALIGN_FLOATS 64 /* 256 bytes: every buffer starts where cuDNN/cuBLAS want it (dev_layout.h) */

/* One computing layer after folding / fusion. */
typedef struct {
    nn_layer l;                       /* copy with fused act / folded bias */
    size_t out_off;                   /* arena offset of the output [max_batch, l.out], floats */
    size_t in_off[NN_MAX_INPUTS];     /* arena offsets of the inputs */
    int in_c[NN_MAX_INPUTS];          /* channels of each input */
    size_t p_off[4];                  /* offsets into nn_plan.params (weight, bias | BN γ β μ σ²) */
    bool has_p[4];                    /* whether p_off[k] is meaningful */
} nn_plan_step;

typedef struct {
    int max_batch;
    nn_plan_step *steps;
    int n_steps;
    float *params;                    /* folded copy of the model's parameters (+ created biases) */
    size_t n_params;                  /* floats in params */
    size_t act_floats;                /* activation arena size for max_batch, multiple of the alignment */
    size_t input_off, output_off;     /* arena offsets of the input [max_batch, in] and output */
    int in_size, out_size;            /* per-sample floats */
} nn_plan;

/* Builds the plan of model m for batches up to max_batch (1..65536). */
nn_status nn_plan_build(nn_plan *p, const nn_model *m, int max_batch, nn_err *err);
void nn_plan_free(nn_plan *p);
/* Host pointer of step st's parameter k (NULL when the layer has none). */
static inline const float *nn_plan_param(const nn_plan *p, const nn_plan_step *st, int k)
{
    return st->has_p[k] ? p->params + st->p_off[k] : NULL;
}

#ifdef __cplusplus
}
#endif

#endif
