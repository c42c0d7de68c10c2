/* reduce.h — the parts of the per-channel sums (kernels/reduce.cuh) that are plain arithmetic:
 * the grid of the partial-sum kernel (blocks of CHAN_TX channels x CHAN_TY row lanes, R blocks
 * along the M rows of an [M][C] view, `rows` rows each), the second pass per total, and the bias
 * gradient's column sum term (reduce.cu). The block's shared-memory combine stays in
 * reduce.cuh; tests/body_check.c emulates it in the same order (lane by lane, then the CHAN_TY
 * lanes, then the R partials). */
#ifndef STEERD_KERNELS_BODY_REDUCE_H
#define STEERD_KERNELS_BODY_REDUCE_H

#include "body.h"

#define CHAN_TX 32
#define CHAN_TY 8

typedef struct {
    int bx;    /* blocks along the channels */
    int R;     /* blocks along the rows */
    int rows;  /* rows per block */
} chan_grid;

/* About 512 blocks in all, at least 64 rows each. */
static NN_HD chan_grid chan_grid_for(int M, int C)
{
    chan_grid g;
    g.bx = (C + CHAN_TX - 1) / CHAN_TX;
    if (g.bx < 1) g.bx = 1;
    int R = 512 / g.bx, maxR = (M + 63) / 64;
    if (R < 1) R = 1;
    if (maxR < 1) maxR = 1;
    if (R > maxR) R = maxR;
    g.rows = (M + R - 1) / R;
    if (g.rows < 1) g.rows = 1;
    g.R = (M + g.rows - 1) / g.rows;
    if (g.R < 1) g.R = 1;
    return g;
}

/* tot[i] = sum over the R partials part[z][r][c] in r order, i = z*C + c (k_chan_total). */
static NN_HD void chan_total_at(double *tot, const double *part, int R, int C, size_t i)
{
    const size_t z = i / (size_t)C, c = i % (size_t)C;
    double s = 0.0;
    for (int r = 0; r < R; r++) s += part[(z * (size_t)R + (size_t)r) * (size_t)C + c];
    tot[i] = s;
}

/* The column sums' term: x[r][c] of an [M][C] tensor (bias gradients, batch-norm mean). */
static NN_HD double col_term(const float *x, int r, int c, int C) { return x[(size_t)r * C + c]; }

/* d[c] += tot[c] (a bias gradient from its column sum). */
static NN_HD void add_tot_at(float *d, const double *tot, size_t c) { d[c] += (float)tot[c]; }

#endif
