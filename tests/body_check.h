/* body_check.h — what the CPU tests of the CUDA kernels' bodies (tests/test_kernel_bodies.c,
 * tests/test_kernel_bodies_train.c) share: random data, the comparison that counts failures, one
 * layer of a parsed case with its inputs, parameters and gradient seeds, the CPU backend's
 * forward / backward of it (scalar code), and the host emulation of the per-channel sums
 * (kernels/reduce.cuh: the same grid and order of summation as the device). */
#ifndef STEERD_TESTS_BODY_CHECK_H
#define STEERD_TESTS_BODY_CHECK_H

#include <stddef.h>

#include "nn/graph.h"

enum { B = 3 }; /* the batch of the layer cases */

float frand(void); /* [-1, 1) */
float *rnd(size_t n);
float *dup(const float *src, size_t n);

/* max |got - want| <= tol * max(1, max |want|), else one FAIL line naming the case; tol 0: bit for bit. */
void expect(const char *cs, const char *what, const float *got, const float *want, size_t n, double tol);
/* Counts a failure found elsewhere (prints its own line first). */
void body_fail(void);
int body_failures(void);

/* One layer of a parsed case at batch `batch`, its inputs, parameters and gradient seeds. */
typedef struct {
    const char *name;
    nn_graph g;
    const nn_layer *l;
    int batch;
    size_t in_n[NN_MAX_INPUTS], out_n;
    float *in[NN_MAX_INPUTS], *p[4], *dy, *dx0[NN_MAX_INPUTS], *dp0[4];
    int in_c[NN_MAX_INPUTS];
} lcase;

/* A model of input h x w x c and the YAML `layers` lines; its layer `target` is the one checked. */
void case_open(lcase *c, const char *name, int h, int w, int ch, const char *layers, const char *target, int batch);
void case_close(lcase *c);
/* The CPU's forward of layer l (c->l or a variant) into a new buffer. */
float *cpu_fwd(const lcase *c, const nn_layer *l);
/* The CPU's backward: d_in (from dx0) and d_p (from dp0) into new buffers; out: the forward's. */
void cpu_bwd(const lcase *c, const float *out, float **dx, float **dp, const float *aux);

/* tot[z][c] = sum over rows r < M of f(ctx, r, c, z), z < nz, in chan_sums' order: the grid of
 * chan_grid_for, each of CHAN_TY lanes of a block summing its rows r0+lane, r0+lane+CHAN_TY, ...,
 * the lanes added in order into the block's partial, the R partials added by chan_total_at. */
typedef double (*chan_term)(const void *ctx, int r, int c, int z);
void chan_sums_emul(chan_term f, const void *ctx, int M, int C, int nz, double *tot);

#endif
