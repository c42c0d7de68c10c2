/* body_check.c — the helpers of the kernel body tests (body_check.h). */
#include "body_check.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "body/reduce.h"
#include "nn/cpu/cpu.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
float frand(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)((double)(rng >> 11) * 0x1.0p-53 * 2.0 - 1.0);
}

float *rnd(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = frand();
    return p;
}

float *dup(const float *src, size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    assert_non_null(p);
    memcpy(p, src, n * sizeof *p);
    return p;
}

static int failures;

void body_fail(void) { failures++; }

int body_failures(void) { return failures; }

void expect(const char *cs, const char *what, const float *got, const float *want, size_t n, double tol)
{
    double mx = 1.0, err = 0.0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(want[i]) > mx)
            mx = fabs(want[i]);
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - (double)want[i]);
        if (e > err || (tol == 0 && memcmp(&got[i], &want[i], sizeof *got)))
            err = e > err ? e : err, at = i;
    }
    bool bad = tol == 0 ? memcmp(got, want, n * sizeof *got) != 0 : err > tol * mx;
    if (bad) {
        printf("FAIL case %s: %s: element %zu: body %.9g, CPU %.9g (max error %.3g, bound %.3g)\n", cs, what, at,
               got[at], want[at], err, tol * mx);
        failures++;
    }
}

void case_open(lcase *c, const char *name, int h, int w, int ch, const char *layers, const char *layer, int batch)
{
    memset(c, 0, sizeof *c);
    c->name = name;
    c->batch = batch;
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "name: %s\ninput: {height: %d, width: %d, channels: %d}\noutput: {kind: values}\nlayers:\n%s", name, h, w,
             ch, layers);
    nn_err err = {0};
    if (nn_graph_parse_buffer(&c->g, yaml, strlen(yaml), name, &err))
        fail_msg("case %s: %s", name, err.msg);
    for (int i = 0; i < c->g.n_layers; i++)
        if (!strcmp(c->g.layers[i].name, layer))
            c->l = &c->g.layers[i];
    if (!c->l)
        fail_msg("case %s: no layer %s", name, layer);
    const nn_layer *l = c->l;
    for (int k = 0; k < l->n_inputs; k++) {
        const nn_layer *src = &c->g.layers[l->inputs[k]];
        c->in_n[k] = (size_t)batch * nn_shape_size(src->out);
        c->in[k] = rnd(c->in_n[k]);
        c->dx0[k] = rnd(c->in_n[k]);
        c->in_c[k] = src->out.c;
    }
    for (int k = 0; k < l->n_params && k < 4; k++) {
        size_t n = nn_layer_param(&c->g, l, k)->count;
        c->p[k] = rnd(n);
        c->dp0[k] = rnd(n);
        if (l->op == NN_OP_BATCHNORM && k == 3)
            for (size_t i = 0; i < n; i++)
                c->p[k][i] = 1.0f + 0.5f * c->p[k][i];
    }
    c->out_n = (size_t)batch * nn_shape_size(l->out);
    c->dy = rnd(c->out_n);
}

void case_close(lcase *c)
{
    for (int k = 0; k < NN_MAX_INPUTS; k++)
        free(c->in[k]), free(c->dx0[k]);
    for (int k = 0; k < 4; k++)
        free(c->p[k]), free(c->dp0[k]);
    free(c->dy);
    nn_graph_free(&c->g);
}

float *cpu_fwd(const lcase *c, const nn_layer *l)
{
    float *out = calloc(c->out_n, sizeof *out);
    float *scratch = calloc(cpu_scratch_floats(l, c->batch, 1) + 1, sizeof *scratch);
    assert_non_null(out);
    assert_non_null(scratch);
    cpu_fwd_args a = {.l = l, .out = out, .batch = c->batch, .scratch = scratch, .isa = NN_CPU_ISA_SCALAR};
    for (int k = 0; k < l->n_inputs; k++)
        a.in[k] = c->in[k], a.in_c[k] = c->in_c[k];
    for (int k = 0; k < 4; k++)
        a.p[k] = c->p[k];
    cpu_forward(&a);
    free(scratch);
    return out;
}

void cpu_bwd(const lcase *c, const float *out, float **dx, float **dp, const float *aux)
{
    float *scratch = calloc(cpu_bwd_scratch_floats(c->l, c->batch, 1) + 1, sizeof *scratch);
    assert_non_null(scratch);
    cpu_bwd_args a = {.l = c->l, .dy = c->dy, .out = out, .aux = aux, .batch = c->batch, .scratch = scratch,
                      .isa = NN_CPU_ISA_SCALAR};
    for (int k = 0; k < c->l->n_inputs; k++) {
        dx[k] = dup(c->dx0[k], c->in_n[k]);
        a.d_in[k] = dx[k], a.in[k] = c->in[k], a.in_c[k] = c->in_c[k];
    }
    for (int k = 0; k < c->l->n_params && k < 4; k++) {
        dp[k] = dup(c->dp0[k], nn_layer_param(&c->g, c->l, k)->count);
        a.d_p[k] = dp[k], a.p[k] = c->p[k];
    }
    cpu_backward(&a);
    free(scratch);
}

void chan_sums_emul(chan_term f, const void *ctx, int M, int C, int nz, double *tot)
{
    const chan_grid g = chan_grid_for(M, C);
    double *part = calloc((size_t)nz * g.R * C + 1, sizeof *part);
    assert_non_null(part);
    for (int z = 0; z < nz; z++)
        for (int by = 0; by < g.R; by++) {
            const int r0 = by * g.rows, r1 = M < r0 + g.rows ? M : r0 + g.rows;
            for (int c = 0; c < C; c++) { /* thread (c % CHAN_TX, lane) of block (c / CHAN_TX, by, z) */
                double sh[CHAN_TY];
                for (int lane = 0; lane < CHAN_TY; lane++) {
                    double acc = 0.0;
                    for (int r = r0 + lane; r < r1; r += CHAN_TY) acc += f(ctx, r, c, z);
                    sh[lane] = acc;
                }
                double s = 0.0;
                for (int i = 0; i < CHAN_TY; i++) s += sh[i];
                part[((size_t)z * g.R + by) * C + c] = s;
            }
        }
    for (size_t i = 0; i < (size_t)nz * C; i++) chan_total_at(tot, part, g.R, C, i);
    free(part);
}
