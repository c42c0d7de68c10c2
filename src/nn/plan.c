/* plan.c — builds the backend-neutral inference plan (plan.h): batch norm folded into the
 * neighbouring conv/dense, activations fused into their producer, dropout/flatten turned into
 * aliases, activation buffers packed into one arena by lifetime (first fit). */
#include "nn/plan.h"

#include "nn/limits.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN_FLOATS NN_PLAN_ALIGN_FLOATS

typedef struct {
    const nn_graph *g;
    int *owner;                 /* layer -> computing layer whose buffer holds its value */
    int *cons;                  /* number of readers of each layer's value */
    bool *dead;                 /* layer computes nothing at inference */
    nn_act *act;
    float *act_alpha;
    bool *has_bias;
    float **p[4];               /* per layer param pointers into the plan copy */
    float *extra;               /* space for biases created by folding */
    size_t extra_used;
} planner;

static bool is_linear_producer(nn_op op) { return op == NN_OP_CONV2D || op == NN_OP_DEPTHWISE || op == NN_OP_DENSE; }

/* Follows single-reader aliases back from layer x to the computing layer that produced it;
 * -1 when someone else also reads a value on the way (or a flatten is crossed and not allowed). */
static int sole_producer(const planner *pl, int x, bool allow_flatten)
{
    while (x > 0 && pl->dead[x]) {
        if (pl->cons[x] != 1 || (!allow_flatten && pl->g->layers[x].op == NN_OP_FLATTEN))
            return -1;
        x = pl->g->layers[x].inputs[0];
    }
    return (x > 0 && pl->cons[x] == 1) ? x : -1;
}

static float *bias_for(planner *pl, int x, int n)
{
    if (!pl->has_bias[x]) {
        float *b = pl->extra + pl->extra_used;
        pl->extra_used += (size_t)n;
        memset(b, 0, (size_t)n * sizeof *b);
        pl->p[1][x] = b;
        pl->has_bias[x] = true;
    }
    return pl->p[1][x];
}

/* y = x * scale + shift per channel, from BN statistics. */
static void bn_affine(const planner *pl, int bn, int c, float *scale, float *shift)
{
    const nn_layer *l = &pl->g->layers[bn];
    const float *gamma = pl->p[0][bn], *beta = pl->p[1][bn], *mean = pl->p[2][bn], *var = pl->p[3][bn];
    for (int k = 0; k < c; k++) {
        scale[k] = gamma[k] / sqrtf(var[k] + l->eps);
        shift[k] = beta[k] - mean[k] * scale[k];
    }
}

static void fold_into_producer(planner *pl, int bn, int x, float *scale, float *shift)
{
    const nn_layer *l = &pl->g->layers[x];
    int c = l->out.c;
    bn_affine(pl, bn, c, scale, shift);
    float *w = pl->p[0][x];
    size_t count = pl->g->params[l->param_first].count;
    if (l->op == NN_OP_CONV2D) {
        size_t og = (size_t)(l->units / l->groups), per_group = count / (size_t)l->groups;
        for (size_t e = 0; e < count; e++)
            w[e] *= scale[(e / per_group) * og + e % og];
    } else {
        for (size_t e = 0; e < count; e++)
            w[e] *= scale[e % (size_t)c];
    }
    bool had_bias = pl->has_bias[x];
    float *b = bias_for(pl, x, c);
    for (int k = 0; k < c; k++)
        b[k] = (had_bias ? b[k] * scale[k] : 0.0f) + shift[k];
}

/* Dense d reads the BN output through dropout/flatten only: W'[f][o] = W[f][o]·s[f],
 * b'[o] = b[o] + Σ_f t[f]·W[f][o], with f's BN channel = f mod C (HWC order). */
static void fold_into_dense(planner *pl, int bn, int d, float *scale, float *shift)
{
    const nn_layer *l = &pl->g->layers[d];
    int cb = pl->g->layers[bn].in.c;
    bn_affine(pl, bn, cb, scale, shift);
    size_t F = nn_shape_size(l->in), O = (size_t)l->units;
    float *w = pl->p[0][d];
    float *b = bias_for(pl, d, (int)O);
    for (size_t f = 0; f < F; f++) {
        float s = scale[f % (size_t)cb], t = shift[f % (size_t)cb];
        for (size_t o = 0; o < O; o++) {
            b[o] += t * w[f * O + o];
            w[f * O + o] *= s;
        }
    }
}

/* The dense layer that is the only reader of bn's value through dropout/flatten, or -1. */
static int sole_dense_reader(const planner *pl, int bn)
{
    const nn_graph *g = pl->g;
    int x = bn;
    while (pl->cons[x] == 1) {
        int reader = -1;
        for (int i = x + 1; i < g->n_layers && reader < 0; i++)
            for (int k = 0; k < g->layers[i].n_inputs; k++)
                if (g->layers[i].inputs[k] == x)
                    reader = i;
        if (reader < 0 || g->layers[reader].n_inputs != 1)
            return -1;
        nn_op op = g->layers[reader].op;
        if (op == NN_OP_DENSE)
            return reader;
        if (op != NN_OP_DROPOUT && op != NN_OP_FLATTEN)
            return -1;
        x = reader;
    }
    return -1;
}

static void plan_layers(planner *pl, float *scale, float *shift)
{
    const nn_graph *g = pl->g;
    for (int i = 1; i < g->n_layers; i++) {
        const nn_layer *l = &g->layers[i];
        int in0 = l->inputs[0], x;
        pl->owner[i] = i;
        switch (l->op) {
        case NN_OP_DROPOUT:
        case NN_OP_FLATTEN:
            pl->dead[i] = true;
            pl->owner[i] = pl->owner[in0];
            break;
        case NN_OP_BATCHNORM:
            x = sole_producer(pl, in0, false);
            if (x > 0 && is_linear_producer(g->layers[x].op) && pl->act[x] == NN_ACT_NONE) {
                fold_into_producer(pl, i, x, scale, shift);
                pl->dead[i] = true;
                pl->owner[i] = pl->owner[in0];
            } else if ((x = sole_dense_reader(pl, i)) > 0) {
                fold_into_dense(pl, i, x, scale, shift);
                pl->dead[i] = true;
                pl->owner[i] = pl->owner[in0];
            }
            break;
        case NN_OP_RELU:
        case NN_OP_LEAKY_RELU:
            x = sole_producer(pl, in0, true);
            if (x > 0 && pl->act[x] == NN_ACT_NONE &&
                (is_linear_producer(g->layers[x].op) || g->layers[x].op == NN_OP_BATCHNORM)) {
                pl->act[x] = l->op == NN_OP_RELU ? NN_ACT_RELU : NN_ACT_LEAKY;
                pl->act_alpha[x] = l->alpha;
                pl->dead[i] = true;
                pl->owner[i] = pl->owner[in0];
            }
            break;
        default:
            break;
        }
    }
}

/* First-fit placement of each computing layer's buffer over [birth, last_use]. */
static size_t place_buffers(const nn_graph *g, const planner *pl, int max_batch, const int *last_use,
                            size_t *offset)
{
    size_t peak = 0;
    int n = g->n_layers;
    for (int i = 0; i < n; i++) {
        if (pl->dead[i])
            continue;
        size_t size = (nn_shape_size(g->layers[i].out) * (size_t)max_batch + ALIGN_FLOATS - 1) / ALIGN_FLOATS *
                      ALIGN_FLOATS;
        size_t off = 0;
        bool moved = true;
        while (moved) { /* bump past every live buffer that overlaps [off, off+size) */
            moved = false;
            for (int j = 0; j < i; j++) {
                if (pl->dead[j] || last_use[j] < i)
                    continue;
                size_t js = (nn_shape_size(g->layers[j].out) * (size_t)max_batch + ALIGN_FLOATS - 1) / ALIGN_FLOATS *
                            ALIGN_FLOATS;
                if (off < offset[j] + js && offset[j] < off + size) {
                    off = offset[j] + js;
                    moved = true;
                }
            }
        }
        offset[i] = off;
        if (off + size > peak)
            peak = off + size;
    }
    return peak;
}

static void planner_free(planner *pl)
{
    free(pl->owner);
    free(pl->cons);
    free(pl->dead);
    free(pl->act);
    free(pl->act_alpha);
    free(pl->has_bias);
    for (int k = 0; k < 4; k++)
        free(pl->p[k]);
}

nn_status nn_plan_build(nn_plan *p, const nn_model *m, int max_batch, nn_err *err)
{
    memset(p, 0, sizeof *p);
    const nn_graph *g = &m->g;
    nn_status s = nn_graph_check_batch(g, max_batch, err); /* every size below then fits */
    if (s)
        return s;
    p->max_batch = max_batch;
    int n = g->n_layers;
    size_t extra = 0; /* a created bias (BN folded into a bias-free layer): one per linear layer at most */
    for (int i = 0; i < n; i++)
        if (is_linear_producer(g->layers[i].op))
            extra += (size_t)g->layers[i].out.c;
    size_t width = 1;
    for (int i = 0; i < n; i++)
        if ((size_t)g->layers[i].out.c > width)
            width = (size_t)g->layers[i].out.c;
    planner pl = {.g = g};
    pl.owner = calloc((size_t)n, sizeof *pl.owner);
    pl.cons = calloc((size_t)n, sizeof *pl.cons);
    pl.dead = calloc((size_t)n, sizeof *pl.dead);
    pl.act = calloc((size_t)n, sizeof *pl.act);
    pl.act_alpha = calloc((size_t)n, sizeof *pl.act_alpha);
    pl.has_bias = calloc((size_t)n, sizeof *pl.has_bias);
    for (int k = 0; k < 4; k++)
        pl.p[k] = calloc((size_t)n, sizeof *pl.p[k]);
    p->n_params = g->n_param_floats + extra + 1;
    p->params = malloc(p->n_params * sizeof *p->params);
    float *affine = malloc(2 * width * sizeof *affine);
    int *last_use = calloc((size_t)n, sizeof *last_use);
    size_t *offset = calloc((size_t)n, sizeof *offset);
    p->steps = calloc((size_t)n, sizeof *p->steps);
    if (!pl.owner || !pl.cons || !pl.dead || !pl.act || !pl.act_alpha || !pl.has_bias || !pl.p[0] || !pl.p[1] ||
        !pl.p[2] || !pl.p[3] || !p->params || !affine || !last_use || !offset || !p->steps) {
        s = nn_fail(err, NN_E_NOMEM, "%s: out of memory while planning", g->name);
        goto out;
    }
    memcpy(p->params, m->params, g->n_param_floats * sizeof *p->params);
    memset(p->params + g->n_param_floats, 0, (extra + 1) * sizeof *p->params);
    pl.extra = p->params + g->n_param_floats;
    for (int i = 0; i < n; i++) {
        const nn_layer *l = &g->layers[i];
        for (int k = 0; k < l->n_inputs; k++)
            pl.cons[l->inputs[k]]++;
        for (int k = 0; k < l->n_params && k < 4; k++)
            pl.p[k][i] = p->params + nn_layer_param(g, l, k)->offset;
        pl.has_bias[i] = l->has_bias;
    }
    pl.cons[n - 1]++; /* the model output is read by the caller */
    plan_layers(&pl, affine, affine + width);

    /* Lifetimes: the input and the output stay live for the whole run. */
    for (int i = 1; i < n; i++)
        if (!pl.dead[i])
            for (int k = 0; k < g->layers[i].n_inputs; k++)
                last_use[pl.owner[g->layers[i].inputs[k]]] = i;
    last_use[0] = n;
    last_use[pl.owner[n - 1]] = n;
    size_t act_floats = place_buffers(g, &pl, max_batch, last_use, offset);
    if ((s = nn_check_arena(g, "activation", act_floats, max_batch, err)))
        goto out;

    for (int i = 1; i < n; i++) {
        if (pl.dead[i])
            continue;
        nn_plan_step *st = &p->steps[p->n_steps++];
        st->l = g->layers[i];
        st->l.act = pl.act[i];
        st->l.act_alpha = pl.act_alpha[i];
        st->l.has_bias = pl.has_bias[i];
        st->out_off = offset[i];
        for (int k = 0; k < st->l.n_inputs; k++) {
            st->in_off[k] = offset[pl.owner[st->l.inputs[k]]];
            st->in_c[k] = g->layers[st->l.inputs[k]].out.c;
        }
        for (int k = 0; k < 4; k++) {
            st->has_p[k] = pl.p[k][i] != NULL;
            st->p_off[k] = pl.p[k][i] ? (size_t)(pl.p[k][i] - p->params) : 0;
        }
    }
    p->input_off = offset[0];
    p->output_off = offset[pl.owner[n - 1]];
    p->in_size = (int)nn_shape_size(g->layers[0].out);
    p->out_size = (int)nn_shape_size(g->layers[n - 1].out);
    p->act_floats = (act_floats + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS;
out:
    planner_free(&pl);
    free(affine);
    free(last_use);
    free(offset);
    if (s)
        nn_plan_free(p);
    return s;
}

void nn_plan_free(nn_plan *p)
{
    free(p->steps);
    free(p->params);
    memset(p, 0, sizeof *p);
}
