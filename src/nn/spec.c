/* spec.c — reads a model architecture YAML (docs/FORMATS.md) into an nn_graph: every key
 * checked, composite blocks expanded (blocks.c), shapes propagated layer by layer, and the
 * parameters laid out with their PyTorch names and shapes. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/quote.h"
#include "nn/limits.h"
#include "nn/spec_internal.h"

const char *nn_op_name(nn_op op)
{
    static const char *const names[NN_OP_COUNT] = {
        [NN_OP_INPUT] = "input",           [NN_OP_CONV2D] = "conv2d",
        [NN_OP_DEPTHWISE] = "depthwise_conv2d", [NN_OP_MAXPOOL] = "max_pool2d",
        [NN_OP_AVGPOOL] = "avg_pool2d",    [NN_OP_GLOBAL_AVGPOOL] = "global_avg_pool",
        [NN_OP_BATCHNORM] = "batch_norm",  [NN_OP_RELU] = "relu",
        [NN_OP_LEAKY_RELU] = "leaky_relu", [NN_OP_SOFTMAX] = "softmax",
        [NN_OP_DENSE] = "dense",           [NN_OP_FLATTEN] = "flatten",
        [NN_OP_DROPOUT] = "dropout",       [NN_OP_CHANNEL_SHUFFLE] = "channel_shuffle",
        [NN_OP_ADD] = "add",               [NN_OP_CONCAT] = "concat",
        [NN_OP_SIGMOID] = "sigmoid",       [NN_OP_TANH] = "tanh",
        [NN_OP_ELU] = "elu",               [NN_OP_CLIP] = "clip",
    };
    return (op >= 0 && op < NN_OP_COUNT) ? names[op] : "?";
}

void nn_graph_free(nn_graph *g)
{
    if (!g)
        return;
    free(g->layers);
    free(g->params);
    g->layers = NULL;
    g->params = NULL;
    g->n_layers = g->n_params = 0;
}

/* ---- shape propagation ---- */

static void shape_str(nn_shape s, char *buf, size_t cap) { snprintf(buf, cap, "%dx%dx%d", s.h, s.w, s.c); }

static nn_status shape_fail(spec_builder *b, const yd_node *where, const nn_layer *l, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static nn_status shape_fail(spec_builder *b, const yd_node *where, const nn_layer *l, const char *fmt, ...)
{
    char msg[300], in[48];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    shape_str(l->in, in, sizeof in);
    return nn_fail(b->err, NN_E_SHAPE, "%s:%d:%d: layer '%s' (%s): input %s: %s", b->doc->path, where ? where->line : 1,
                   where ? where->col : 1, l->name, nn_op_name(l->op), in, msg);
}

/* A tensor of h x w x c elements (any of them possibly huge: computed without overflow) must
 * stay within NN_MAX_DIM per side and NN_MAX_TENSOR elements; `what` names it ("layer 'x' (op):
 * output"). */
static nn_status check_tensor(spec_builder *b, const yd_node *where, const char *what, long h, long w, long c)
{
    long f[3] = {h, w, c};
    size_t n = nn_prod_sz(f, 3);
    if (h <= NN_MAX_DIM && w <= NN_MAX_DIM && n <= (size_t)NN_MAX_TENSOR)
        return NN_OK;
    char lim[96];
    if (h > NN_MAX_DIM || w > NN_MAX_DIM)
        snprintf(lim, sizeof lim, "%d per side", NN_MAX_DIM);
    else
        snprintf(lim, sizeof lim, "%ld elements per tensor", NN_MAX_TENSOR);
    return nn_fail(b->err, NN_E_SHAPE, "%s:%d:%d: %s %ldx%ldx%ld = %.3g elements exceeds the limit of %s",
                   b->doc->path, where ? where->line : 1, where ? where->col : 1, what, h, w, c,
                   (double)h * (double)w * (double)c, lim);
}

static nn_status check_layer_out(spec_builder *b, const yd_node *where, const nn_layer *l, long c)
{
    char what[NN_NAME_LEN + 40];
    snprintf(what, sizeof what, "layer '%s' (%s): output", l->name, nn_op_name(l->op));
    return check_tensor(b, where, what, l->out.h, l->out.w, c);
}

/* Resolves padding for one spatial axis and returns the output size (<= 0 when it cannot fit). */
static int axis_out(int in, int k, int s, spec_pad_mode mode, int *before, int *after)
{
    if (mode == PAD_SAME) {
        int out = (in + s - 1) / s;
        int total = (out - 1) * s + k - in;
        if (total < 0)
            total = 0;
        *before = total / 2;
        *after = total - *before;
        return out;
    }
    if (mode == PAD_VALID)
        *before = *after = 0;
    int span = in + *before + *after - k;
    return span < 0 ? 0 : span / s + 1;
}

static nn_status spatial_out(spec_builder *b, const yd_node *where, nn_layer *l, spec_pad_mode mode)
{
    if (mode == PAD_EXPLICIT && (l->pad_top >= l->kh || l->pad_bottom >= l->kh || l->pad_left >= l->kw ||
                                 l->pad_right >= l->kw) && (l->op == NN_OP_MAXPOOL || l->op == NN_OP_AVGPOOL))
        return shape_fail(b, where, l, "padding [%d, %d, %d, %d] must be smaller than the %dx%d window", l->pad_top,
                          l->pad_bottom, l->pad_left, l->pad_right, l->kh, l->kw);
    int oh = axis_out(l->in.h, l->kh, l->sh, mode, &l->pad_top, &l->pad_bottom);
    int ow = axis_out(l->in.w, l->kw, l->sw, mode, &l->pad_left, &l->pad_right);
    if (oh <= 0 || ow <= 0)
        return shape_fail(b, where, l, "too small for a %dx%d window with stride %dx%d and padding [%d, %d, %d, %d]",
                          l->kh, l->kw, l->sh, l->sw, l->pad_top, l->pad_bottom, l->pad_left, l->pad_right);
    l->out.h = oh;
    l->out.w = ow;
    return NN_OK;
}

/* ---- parameters ---- */

static nn_status add_param(spec_builder *b, nn_layer *l, const char *suffix, int ndim, const int *dims,
                           bool trainable)
{
    nn_graph *g = b->g;
    if (g->n_params == b->params_cap) {
        int cap = b->params_cap ? 2 * b->params_cap : 32;
        nn_param *p = realloc(g->params, (size_t)cap * sizeof *p);
        if (!p)
            return nn_fail(b->err, NN_E_NOMEM, "%s: out of memory", b->doc->path);
        g->params = p;
        b->params_cap = cap;
    }
    long f[4];
    for (int i = 0; i < ndim; i++)
        f[i] = dims[i];
    size_t count = nn_prod_sz(f, ndim), total = g->n_param_floats;
    if (!nn_add_sz(&total, count) || total > (size_t)NN_MAX_PARAMS) {
        char shape[64];
        size_t used = 0;
        for (int i = 0; i < ndim && used < sizeof shape; i++)
            used += (size_t)snprintf(shape + used, sizeof shape - used, "%s%d", i ? "x" : "", dims[i]);
        double prod = 1;
        for (int i = 0; i < ndim; i++)
            prod *= dims[i];
        return nn_fail(b->err, NN_E_SHAPE,
                       "%s:%d:%d: layer '%s' (%s): parameter '%s.%s' %s brings the model to %.3g parameters, which "
                       "exceeds the limit of %ld", b->doc->path, l->line ? l->line : 1, l->col ? l->col : 1, l->name,
                       nn_op_name(l->op), l->name, suffix, shape, (double)g->n_param_floats + prod, NN_MAX_PARAMS);
    }
    nn_param *p = &g->params[g->n_params++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s.%s", l->name, suffix);
    p->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        p->dims[i] = dims[i];
    p->count = count;
    p->offset = g->n_param_floats;
    p->trainable = trainable;
    g->n_param_floats = total;
    l->n_params++;
    return NN_OK;
}

static nn_status layout_params(spec_builder *b, nn_layer *l)
{
    l->param_first = b->g->n_params;
    l->n_params = 0;
    nn_status s = NN_OK;
    int cin = l->in.c, cout = l->out.c;
    switch (l->op) {
    case NN_OP_CONV2D: {
        int d[4] = {cout, cin / l->groups, l->kh, l->kw};
        s = add_param(b, l, "weight", 4, d, true);
        break;
    }
    case NN_OP_DEPTHWISE: {
        int d[4] = {cout, 1, l->kh, l->kw};
        s = add_param(b, l, "weight", 4, d, true);
        break;
    }
    case NN_OP_DENSE: {
        int d[2] = {cout, (int)nn_shape_size(l->in)};
        s = add_param(b, l, "weight", 2, d, true);
        break;
    }
    case NN_OP_BATCHNORM: {
        int d[1] = {cin}; /* per channel; a flat input has c = features */
        if (!(s = add_param(b, l, "weight", 1, d, true)) && !(s = add_param(b, l, "bias", 1, d, true)) &&
            !(s = add_param(b, l, "running_mean", 1, d, false)))
            s = add_param(b, l, "running_var", 1, d, false);
        return s;
    }
    default:
        return NN_OK;
    }
    if (!s && l->has_bias)
        s = add_param(b, l, "bias", 1, &cout, true);
    return s;
}

/* ---- layers ---- */

static int find_layer(const nn_graph *g, const char *name)
{
    for (int i = g->n_layers - 1; i >= 0; i--)
        if (strcmp(g->layers[i].name, name) == 0)
            return i;
    return -1;
}

/* A name refers to what that layer of the YAML produces: its last primitive, which is the layer
 * itself or one of its expansions "<name>.<part>" (activation, block parts). */
static int find_ref(const nn_graph *g, const char *name)
{
    size_t n = strlen(name);
    for (int i = g->n_layers - 1; i >= 0; i--) {
        const char *l = g->layers[i].name;
        if (strncmp(l, name, n) == 0 && (l[n] == '\0' || l[n] == '.'))
            return i;
    }
    return -1;
}

static nn_status propagate(spec_builder *b, nn_layer *l, spec_pad_mode mode, const yd_node *where)
{
    const nn_graph *g = b->g;
    l->out = l->in;
    switch (l->op) {
    case NN_OP_CONV2D:
        if (l->in.c % l->groups || l->units % l->groups)
            return shape_fail(b, where, l, "groups %d must divide input channels %d and filters %d", l->groups,
                              l->in.c, l->units);
        l->out.c = l->units;
        l->out.src_h = l->out.src_w = l->out.src_c = 0;
        return spatial_out(b, where, l, mode);
    case NN_OP_DEPTHWISE: {
        long c = (long)l->in.c * l->depth_multiplier;
        l->out.src_h = l->out.src_w = l->out.src_c = 0;
        nn_status s = spatial_out(b, where, l, mode);
        if (!s && !(s = check_layer_out(b, where, l, c)))
            l->out.c = (int)c;
        return s;
    }
    case NN_OP_MAXPOOL:
    case NN_OP_AVGPOOL:
        return spatial_out(b, where, l, mode);
    case NN_OP_GLOBAL_AVGPOOL:
        l->out.h = l->out.w = 1;
        return NN_OK;
    case NN_OP_DENSE:
    case NN_OP_FLATTEN: {
        nn_shape flat = {1, 1, (int)nn_shape_size(l->in), 0, 0, 0};
        if (l->in.h * l->in.w > 1) {
            flat.src_h = l->in.h;
            flat.src_w = l->in.w;
            flat.src_c = l->in.c;
        } else {
            flat.src_h = l->in.src_h;
            flat.src_w = l->in.src_w;
            flat.src_c = l->in.src_c;
        }
        if (l->op == NN_OP_DENSE) {
            l->in = flat; /* dense sees its input as flat features in PyTorch order */
            l->out = (nn_shape){1, 1, l->units, 0, 0, 0};
        } else {
            l->out = flat;
        }
        return NN_OK;
    }
    case NN_OP_CHANNEL_SHUFFLE:
        if (l->in.c % l->groups)
            return shape_fail(b, where, l, "groups %d must divide the %d channels", l->groups, l->in.c);
        return NN_OK;
    case NN_OP_ADD:
    case NN_OP_CONCAT: {
        long c = l->in.c;
        for (int i = 1; i < l->n_inputs; i++) {
            nn_shape o = g->layers[l->inputs[i]].out;
            bool same_hw = o.h == l->in.h && o.w == l->in.w;
            if (l->op == NN_OP_ADD ? (!same_hw || o.c != l->in.c) : !same_hw) {
                char a[48], c[48];
                shape_str(o, c, sizeof c);
                shape_str(l->in, a, sizeof a);
                return shape_fail(b, where, l, "input '%s' has shape %s, which does not %s %s",
                                  g->layers[l->inputs[i]].name, c, l->op == NN_OP_ADD ? "match" : "concatenate with",
                                  a);
            }
            if (o.src_c || l->in.src_c)
                return shape_fail(b, where, l, "cannot %s flattened spatial tensors; add a dense layer first",
                                  nn_op_name(l->op));
            if (l->op == NN_OP_CONCAT)
                c += o.c;
        }
        nn_status s = check_layer_out(b, where, l, c);
        if (!s)
            l->out.c = (int)c;
        return s;
    }
    default:
        return NN_OK;
    }
}

nn_status spec_add(spec_builder *b, spec_prim *p, const yd_node *where)
{
    nn_graph *g = b->g;
    nn_layer *l = &p->l;
    if (find_layer(g, l->name) >= 0)
        return yd_error(b->err, b->doc, where, NN_E_SPEC, "name", "layer name '%s' is used twice", l->name);
    l->line = where ? where->line : 0;
    l->col = where ? where->col : 0;
    l->n_inputs = p->n_input_names ? p->n_input_names : 1;
    for (int i = 0; i < l->n_inputs; i++) {
        const char *ref = i < p->n_input_names ? p->input_names[i] : NULL;
        int idx = ref ? find_ref(g, ref) : g->n_layers - 1;
        char qb[CM_QUOTE_LEN];
        if (idx < 0)
            return yd_error(b->err, b->doc, where, NN_E_SPEC, "input", "no earlier layer named %s", cm_quote(qb, ref));
        l->inputs[i] = idx;
    }
    l->in = g->layers[l->inputs[0]].out;
    nn_status s = propagate(b, l, p->pad_mode, where);
    if (s)
        return s;
    if ((s = check_layer_out(b, where, l, l->out.c)))
        return s;
    size_t act = b->act_floats;
    if (!nn_add_sz(&act, nn_shape_size(l->out)) || act > NN_MAX_ARENA_BYTES / sizeof(float))
        return shape_fail(b, where, l, "the activations of one sample reach %.3g bytes, which exceeds the limit of "
                          "%llu", 4.0 * (double)b->act_floats + 4.0 * (double)nn_shape_size(l->out),
                          NN_MAX_ARENA_BYTES);
    b->act_floats = act;
    if (g->n_layers == b->layers_cap) {
        int cap = 2 * b->layers_cap;
        nn_layer *nl = realloc(g->layers, (size_t)cap * sizeof *nl);
        if (!nl)
            return nn_fail(b->err, NN_E_NOMEM, "%s: out of memory", b->doc->path);
        g->layers = nl;
        b->layers_cap = cap;
    }
    if ((s = layout_params(b, l)))
        return s;
    g->layers[g->n_layers++] = *l;
    return NN_OK;
}

nn_status spec_add_act(spec_builder *b, const char *name, spec_act act, float alpha, const yd_node *where)
{
    if (act == SPEC_ACT_NONE)
        return NN_OK;
    spec_prim p = {0};
    snprintf(p.l.name, sizeof p.l.name, "%s.act", name);
    p.l.op = act == SPEC_ACT_RELU ? NN_OP_RELU : act == SPEC_ACT_LEAKY ? NN_OP_LEAKY_RELU : NN_OP_SOFTMAX;
    p.l.alpha = alpha;
    return spec_add(b, &p, where);
}

static const char *const act_names[] = {"none", "relu", "leaky_relu", "softmax", NULL};

nn_status spec_read_act(spec_builder *b, const yd_node *n, spec_act def, spec_act *act, float *alpha)
{
    int a = (int)def;
    double al = 0.01;
    nn_status s = yd_enum(b->doc, yd_get(n, "activation"), "activation", false, (int)def, act_names, &a, b->err);
    if (!s)
        s = yd_float(b->doc, yd_get(n, "alpha"), "alpha", false, 0.01, 0.0, 1e3, &al, b->err);
    *act = (spec_act)a;
    *alpha = (float)al;
    return s;
}

/* kernel / stride / padding keys of convolutions and pooling. */
static nn_status read_window(spec_builder *b, const yd_node *n, const char *kernel_key, spec_prim *p)
{
    int k[2], st[2];
    nn_status s = yd_int_pair(b->doc, yd_get(n, kernel_key), kernel_key, true, 1, 1, 4096, k, b->err);
    if (s)
        return s;
    bool pool = p->l.op == NN_OP_MAXPOOL || p->l.op == NN_OP_AVGPOOL;
    if ((s = yd_int_pair(b->doc, yd_get(n, "stride"), "stride", false, 1, 1, 4096, st, b->err)))
        return s;
    if (pool && !yd_get(n, "stride")) {
        st[0] = k[0];
        st[1] = k[1];
    }
    p->l.kh = k[0];
    p->l.kw = k[1];
    p->l.sh = st[0];
    p->l.sw = st[1];
    const yd_node *pad = yd_get(n, "padding");
    p->pad_mode = PAD_VALID;
    if (pad && pad->kind == YD_SEQ) {
        if (pad->n != 4)
            return yd_error(b->err, b->doc, pad, NN_E_SPEC, "padding",
                            "expected valid, same or [top, bottom, left, right] (got %d values)", pad->n);
        long v[4];
        for (int i = 0; i < 4; i++)
            if ((s = yd_int(b->doc, pad->items[i], "padding", true, 0, 0, 4096, &v[i], b->err)))
                return s;
        p->l.pad_top = (int)v[0];
        p->l.pad_bottom = (int)v[1];
        p->l.pad_left = (int)v[2];
        p->l.pad_right = (int)v[3];
        p->pad_mode = PAD_EXPLICIT;
        return NN_OK;
    }
    static const char *const modes[] = {"valid", "same", NULL};
    int m;
    if ((s = yd_enum(b->doc, pad, "padding", false, PAD_VALID, modes, &m, b->err)))
        return s;
    p->pad_mode = (spec_pad_mode)m;
    return NN_OK;
}

static nn_status read_inputs(spec_builder *b, const yd_node *n, spec_prim *p, bool multi)
{
    const yd_node *in = yd_get(n, multi ? "inputs" : "input");
    if (!in) {
        if (multi)
            return yd_error(b->err, b->doc, n, NN_E_SPEC, "inputs", "required list of at least 2 layer names");
        return NN_OK;
    }
    if (!multi) {
        nn_status s = yd_expect(b->doc, in, YD_SCALAR, "input", b->err);
        if (s)
            return s;
        p->input_names[0] = in->str;
        p->n_input_names = 1;
        return NN_OK;
    }
    if (in->kind != YD_SEQ || in->n < 2 || in->n > NN_MAX_INPUTS)
        return yd_error(b->err, b->doc, in, NN_E_SPEC, "inputs", "expected a list of 2 to %d layer names",
                        NN_MAX_INPUTS);
    for (int i = 0; i < in->n; i++) {
        nn_status s = yd_expect(b->doc, in->items[i], YD_SCALAR, "inputs", b->err);
        if (s)
            return s;
        p->input_names[i] = in->items[i]->str;
    }
    p->n_input_names = in->n;
    return NN_OK;
}

/* clip: min and max, each optional (absent: unbounded on that side) but not both absent, min <= max. */
static nn_status read_clip(spec_builder *b, const yd_node *n, nn_layer *l)
{
    const yd_node *lo = yd_get(n, "min"), *hi = yd_get(n, "max");
    double v[2];
    nn_status s;
    if ((s = yd_float(b->doc, lo, "min", false, 0.0, -1e30, 1e30, &v[0], b->err)) ||
        (s = yd_float(b->doc, hi, "max", false, 0.0, -1e30, 1e30, &v[1], b->err)))
        return s;
    if (!lo && !hi)
        return yd_error(b->err, b->doc, n, NN_E_SPEC, "min", "a clip needs min, max or both (it would do nothing)");
    if (lo && hi && v[0] > v[1])
        return yd_error(b->err, b->doc, hi, NN_E_SPEC, "max", "%g is below min %g", v[1], v[0]);
    l->lo = lo ? (float)v[0] : -INFINITY;
    l->hi = hi ? (float)v[1] : INFINITY;
    return NN_OK;
}

typedef struct {
    const char *type;
    nn_op op;
    const char *const keys[12];
} prim_type;

#define COMMON_KEYS "name", "type", "input"
static const prim_type prim_types[] = {
    {"conv2d", NN_OP_CONV2D,
     {COMMON_KEYS, "filters", "kernel", "stride", "padding", "groups", "bias", "activation", "alpha", NULL}},
    {"depthwise_conv2d", NN_OP_DEPTHWISE,
     {COMMON_KEYS, "kernel", "stride", "padding", "depth_multiplier", "bias", "activation", "alpha", NULL}},
    {"max_pool2d", NN_OP_MAXPOOL, {COMMON_KEYS, "pool", "stride", "padding", NULL}},
    {"avg_pool2d", NN_OP_AVGPOOL, {COMMON_KEYS, "pool", "stride", "padding", "count_pad", NULL}},
    {"global_avg_pool", NN_OP_GLOBAL_AVGPOOL, {COMMON_KEYS, NULL}},
    {"batch_norm", NN_OP_BATCHNORM, {COMMON_KEYS, "eps", "momentum", NULL}},
    {"relu", NN_OP_RELU, {COMMON_KEYS, NULL}},
    {"leaky_relu", NN_OP_LEAKY_RELU, {COMMON_KEYS, "alpha", NULL}},
    {"softmax", NN_OP_SOFTMAX, {COMMON_KEYS, NULL}},
    {"sigmoid", NN_OP_SIGMOID, {COMMON_KEYS, NULL}},
    {"tanh", NN_OP_TANH, {COMMON_KEYS, NULL}},
    {"elu", NN_OP_ELU, {COMMON_KEYS, "alpha", NULL}},
    {"clip", NN_OP_CLIP, {COMMON_KEYS, "min", "max", NULL}},
    {"dense", NN_OP_DENSE, {COMMON_KEYS, "units", "bias", "activation", "alpha", NULL}},
    {"flatten", NN_OP_FLATTEN, {COMMON_KEYS, NULL}},
    {"dropout", NN_OP_DROPOUT, {COMMON_KEYS, "rate", NULL}},
    {"channel_shuffle", NN_OP_CHANNEL_SHUFFLE, {COMMON_KEYS, "groups", NULL}},
    {"add", NN_OP_ADD, {"name", "type", "inputs", NULL}},
    {"concat", NN_OP_CONCAT, {"name", "type", "inputs", NULL}},
};

static nn_status parse_primitive(spec_builder *b, const yd_node *n, const prim_type *t, const char *name)
{
    const yd_doc *d = b->doc;
    nn_err *err = b->err;
    nn_status s = yd_check_keys(d, n, t->keys, name, err);
    if (s)
        return s;
    spec_prim p = {0};
    snprintf(p.l.name, sizeof p.l.name, "%s", name);
    p.l.op = t->op;
    p.l.groups = 1;
    p.l.depth_multiplier = 1;
    if ((s = read_inputs(b, n, &p, t->op == NN_OP_ADD || t->op == NN_OP_CONCAT)))
        return s;
    long v;
    double f;
    bool bias;
    spec_act act = SPEC_ACT_NONE;
    float alpha = 0.01f;
    switch (t->op) {
    case NN_OP_CONV2D:
        if ((s = yd_int(d, yd_get(n, "filters"), "filters", true, 0, 1, 1 << 16, &v, err)))
            return s;
        p.l.units = (int)v;
        if ((s = yd_int(d, yd_get(n, "groups"), "groups", false, 1, 1, 1 << 16, &v, err)))
            return s;
        p.l.groups = (int)v;
        /* fall through */
    case NN_OP_DEPTHWISE:
        if ((s = read_window(b, n, "kernel", &p)))
            return s;
        if (t->op == NN_OP_DEPTHWISE) {
            if ((s = yd_int(d, yd_get(n, "depth_multiplier"), "depth_multiplier", false, 1, 1, 256, &v, err)))
                return s;
            p.l.depth_multiplier = (int)v;
        }
        if ((s = yd_bool(d, yd_get(n, "bias"), "bias", false, true, &bias, err)) ||
            (s = spec_read_act(b, n, SPEC_ACT_NONE, &act, &alpha)))
            return s;
        p.l.has_bias = bias;
        break;
    case NN_OP_MAXPOOL:
    case NN_OP_AVGPOOL:
        if ((s = read_window(b, n, "pool", &p)))
            return s;
        if (t->op == NN_OP_AVGPOOL &&
            (s = yd_bool(d, yd_get(n, "count_pad"), "count_pad", false, false, &p.l.count_pad, err)))
            return s;
        break;
    case NN_OP_BATCHNORM:
        if ((s = yd_float(d, yd_get(n, "eps"), "eps", false, 1e-5, 1e-12, 1.0, &f, err)))
            return s;
        p.l.eps = (float)f;
        if ((s = yd_float(d, yd_get(n, "momentum"), "momentum", false, 0.1, 0.0, 1.0, &f, err)))
            return s;
        p.l.momentum = (float)f;
        break;
    case NN_OP_LEAKY_RELU:
    case NN_OP_ELU:
        if ((s = yd_float(d, yd_get(n, "alpha"), "alpha", false, t->op == NN_OP_ELU ? 1.0 : 0.01, 0.0, 1e3, &f,
                          err)))
            return s;
        p.l.alpha = (float)f;
        break;
    case NN_OP_CLIP:
        if ((s = read_clip(b, n, &p.l)))
            return s;
        break;
    case NN_OP_DENSE:
        if ((s = yd_int(d, yd_get(n, "units"), "units", true, 0, 1, 1 << 20, &v, err)) ||
            (s = yd_bool(d, yd_get(n, "bias"), "bias", false, true, &bias, err)) ||
            (s = spec_read_act(b, n, SPEC_ACT_NONE, &act, &alpha)))
            return s;
        p.l.units = (int)v;
        p.l.has_bias = bias;
        break;
    case NN_OP_DROPOUT:
        if ((s = yd_float(d, yd_get(n, "rate"), "rate", true, 0, 0.0, 0.999999, &f, err)))
            return s;
        p.l.rate = (float)f;
        break;
    case NN_OP_CHANNEL_SHUFFLE:
        if ((s = yd_int(d, yd_get(n, "groups"), "groups", true, 0, 1, 1 << 16, &v, err)))
            return s;
        p.l.groups = (int)v;
        break;
    default:
        break;
    }
    if (act == SPEC_ACT_SOFTMAX && t->op != NN_OP_DENSE)
        return yd_error(err, d, yd_get(n, "activation"), NN_E_SPEC, "activation", "softmax is only allowed on dense");
    if ((s = spec_add(b, &p, n)))
        return s;
    return spec_add_act(b, name, act, alpha, n);
}

static nn_status parse_layer(spec_builder *b, const yd_node *n)
{
    const yd_doc *d = b->doc;
    nn_status s = yd_expect(d, n, YD_MAP, "layers[]", b->err);
    if (s)
        return s;
    char name[NN_NAME_LEN - 32], type[40];
    if ((s = yd_str(d, yd_get(n, "name"), "name", true, NULL, name, sizeof name, b->err)) ||
        (s = yd_str(d, yd_get(n, "type"), "type", true, NULL, type, sizeof type, b->err)))
        return yd_get(n, "name") ? s : yd_error(b->err, d, n, NN_E_SPEC, "name", "every layer needs a name");
    char qb[CM_QUOTE_LEN];
    for (const char *c = name; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '_')
            return yd_error(b->err, d, yd_get(n, "name"), NN_E_SPEC, "name", "use letters, digits and '_' only (got %s)",
                            cm_quote(qb, name));
    if (find_ref(b->g, name) >= 0)
        return yd_error(b->err, d, yd_get(n, "name"), NN_E_SPEC, "name", "layer name '%s' is used twice", name);
    if (!name[0] || strcmp(name, "input") == 0)
        return yd_error(b->err, d, yd_get(n, "name"), NN_E_SPEC, "name", "invalid layer name '%s'", name);
    for (size_t i = 0; i < sizeof prim_types / sizeof prim_types[0]; i++)
        if (strcmp(type, prim_types[i].type) == 0)
            return parse_primitive(b, n, &prim_types[i], name);
    bool handled = false;
    if ((s = spec_add_block(b, n, name, type, &handled)) || handled)
        return s;
    return yd_error(b->err, d, yd_get(n, "type"), NN_E_SPEC, "type", "unknown layer type %s", cm_quote(qb, type));
}

/* ---- top level ---- */

static nn_status parse_input(spec_builder *b, const yd_node *root)
{
    const yd_doc *d = b->doc;
    const yd_node *in = yd_get(root, "input");
    static const char *const keys[] = {"height", "width", "channels", NULL};
    long h, w, c;
    nn_status s;
    if ((s = yd_expect(d, in, YD_MAP, "input", b->err)) || (s = yd_check_keys(d, in, keys, "input", b->err)) ||
        (s = yd_int(d, yd_get(in, "height"), "input.height", true, 0, 1, 8192, &h, b->err)) ||
        (s = yd_int(d, yd_get(in, "width"), "input.width", true, 0, 1, 8192, &w, b->err)) ||
        (s = yd_int(d, yd_get(in, "channels"), "input.channels", true, 0, 1, 4096, &c, b->err)) ||
        (s = check_tensor(b, in, "input: shape", h, w, c)))
        return s;
    nn_graph *g = b->g;
    g->in_h = (int)h;
    g->in_w = (int)w;
    g->in_c = (int)c;
    nn_layer *l = &g->layers[0];
    memset(l, 0, sizeof *l);
    snprintf(l->name, sizeof l->name, "input");
    l->op = NN_OP_INPUT;
    l->out = (nn_shape){(int)h, (int)w, (int)c, 0, 0, 0};
    l->in = l->out;
    l->line = in->line;
    l->col = in->col;
    g->n_layers = 1;
    return NN_OK;
}

static nn_status parse_preprocess(spec_builder *b, const yd_node *root)
{
    const yd_doc *d = b->doc;
    nn_preprocess *pre = &b->g->pre;
    const yd_node *pp = yd_get(root, "preprocess");
    double scale, offset;
    nn_status s;
    static const char *const keys[] = {"source", "crop", "scale", "offset", NULL};
    if (pp && ((s = yd_expect(d, pp, YD_MAP, "preprocess", b->err)) ||
               (s = yd_check_keys(d, pp, keys, "preprocess", b->err))))
        return s;
    if ((s = yd_float(d, yd_get(pp, "scale"), "preprocess.scale", false, 1.0 / 255.0, -1e6, 1e6, &scale, b->err)) ||
        (s = yd_float(d, yd_get(pp, "offset"), "preprocess.offset", false, 0.0, -1e6, 1e6, &offset, b->err)))
        return s;
    pre->scale = (float)scale;
    pre->offset = (float)offset;
    const yd_node *src = yd_get(pp, "source");
    if (src) {
        static const char *const sk[] = {"height", "width", NULL};
        long h, w;
        if ((s = yd_expect(d, src, YD_MAP, "preprocess.source", b->err)) ||
            (s = yd_check_keys(d, src, sk, "preprocess.source", b->err)) ||
            (s = yd_int(d, yd_get(src, "height"), "preprocess.source.height", true, 0, 1, 16384, &h, b->err)) ||
            (s = yd_int(d, yd_get(src, "width"), "preprocess.source.width", true, 0, 1, 16384, &w, b->err)))
            return s;
        pre->src_h = (int)h;
        pre->src_w = (int)w;
    }
    const yd_node *crop = yd_get(pp, "crop");
    if (crop) {
        static const char *const ck[] = {"top", "bottom", "left", "right", NULL};
        long t, bo, le, r;
        if ((s = yd_expect(d, crop, YD_MAP, "preprocess.crop", b->err)) ||
            (s = yd_check_keys(d, crop, ck, "preprocess.crop", b->err)) ||
            (s = yd_int(d, yd_get(crop, "top"), "preprocess.crop.top", true, 0, 0, 16383, &t, b->err)) ||
            (s = yd_int(d, yd_get(crop, "bottom"), "preprocess.crop.bottom", true, 0, 1, 16384, &bo, b->err)) ||
            (s = yd_int(d, yd_get(crop, "left"), "preprocess.crop.left", true, 0, 0, 16383, &le, b->err)) ||
            (s = yd_int(d, yd_get(crop, "right"), "preprocess.crop.right", true, 0, 1, 16384, &r, b->err)))
            return s;
        if (bo <= t || r <= le)
            return yd_error(b->err, d, crop, NN_E_SPEC, "preprocess.crop",
                            "empty crop: rows [%ld, %ld), cols [%ld, %ld)", t, bo, le, r);
        if (pre->src_h && (bo > pre->src_h || r > pre->src_w))
            return yd_error(b->err, d, crop, NN_E_SPEC, "preprocess.crop",
                            "rows [%ld, %ld), cols [%ld, %ld) exceed the %dx%d source", t, bo, le, r, pre->src_h,
                            pre->src_w);
        pre->crop = true;
        pre->top = (int)t;
        pre->bottom = (int)bo;
        pre->left = (int)le;
        pre->right = (int)r;
    }
    return NN_OK;
}

static nn_status parse_output(spec_builder *b, const yd_node *root)
{
    const yd_doc *d = b->doc;
    nn_graph *g = b->g;
    const yd_node *out = yd_get(root, "output");
    static const char *const keys[] = {"kind", "labels", "scale_deg", NULL};
    static const char *const kinds[] = {"classes", "steering", "values", NULL};
    int kind;
    double scale;
    nn_status s;
    if ((s = yd_expect(d, out, YD_MAP, "output", b->err)) || (s = yd_check_keys(d, out, keys, "output", b->err)) ||
        (s = yd_enum(d, yd_get(out, "kind"), "output.kind", true, 0, kinds, &kind, b->err)))
        return s;
    g->out_kind = (nn_output_kind)kind;
    int n_out = (int)nn_shape_size(g->layers[g->n_layers - 1].out);
    const yd_node *labels = yd_get(out, "labels");
    if (labels) {
        if (kind != NN_OUT_CLASSES)
            return yd_error(b->err, d, labels, NN_E_SPEC, "output.labels", "only for kind: classes");
        if ((s = yd_expect(d, labels, YD_SEQ, "output.labels", b->err)))
            return s;
        if (labels->n != n_out || n_out > NN_MAX_LABELS)
            return yd_error(b->err, d, labels, NN_E_SPEC, "output.labels",
                            "%d labels for %d outputs (at most %d labels)", labels->n, n_out, NN_MAX_LABELS);
        for (int i = 0; i < labels->n; i++)
            if ((s = yd_str(d, labels->items[i], "output.labels", true, NULL, g->labels[i], sizeof g->labels[i],
                            b->err)))
                return s;
        g->n_labels = labels->n;
    }
    const yd_node *sd = yd_get(out, "scale_deg");
    if (kind == NN_OUT_STEERING) {
        if ((s = yd_float(d, sd, "output.scale_deg", true, 0, 1e-6, 360.0, &scale, b->err)))
            return s;
        if (n_out != 1)
            return yd_error(b->err, d, out, NN_E_SPEC, "output.kind", "steering needs 1 output (the model has %d)",
                            n_out);
        g->steer_scale_deg = (float)scale;
    } else if (sd) {
        return yd_error(b->err, d, sd, NN_E_SPEC, "output.scale_deg", "only for kind: steering");
    }
    return NN_OK;
}

static nn_status parse_doc(spec_builder *b)
{
    const yd_doc *d = b->doc;
    const yd_node *root = d->root;
    static const char *const keys[] = {"name", "description", "input", "preprocess", "output", "layers", NULL};
    nn_status s;
    if ((s = yd_expect(d, root, YD_MAP, "model", b->err)) || (s = yd_check_keys(d, root, keys, "model", b->err)) ||
        (s = yd_str(d, yd_get(root, "name"), "name", true, NULL, b->g->name, sizeof b->g->name, b->err)))
        return s;
    const yd_node *dn = yd_get(root, "description");
    if (dn && (s = yd_expect(d, dn, YD_SCALAR, "description", b->err)))
        return s;
    if ((s = parse_input(b, root)) || (s = parse_preprocess(b, root)))
        return s;
    const yd_node *layers = yd_get(root, "layers");
    if ((s = yd_expect(d, layers, YD_SEQ, "layers", b->err)))
        return s;
    if (layers->n == 0)
        return yd_error(b->err, d, layers, NN_E_SPEC, "layers", "at least one layer is required");
    for (int i = 0; i < layers->n; i++)
        if ((s = parse_layer(b, layers->items[i])))
            return s;
    return parse_output(b, root);
}

static nn_status parse_with(nn_graph *g, const yd_doc *doc, nn_err *err)
{
    memset(g, 0, sizeof *g);
    snprintf(g->path, sizeof g->path, "%s", doc->path);
    spec_builder b = {.doc = doc, .g = g, .err = err, .layers_cap = 32};
    g->layers = calloc((size_t)b.layers_cap, sizeof *g->layers);
    if (!g->layers)
        return nn_fail(err, NN_E_NOMEM, "%s: out of memory", doc->path);
    nn_status s = parse_doc(&b);
    if (s)
        nn_graph_free(g);
    return s;
}

nn_status nn_graph_parse_buffer(nn_graph *g, const char *yaml, size_t len, const char *name, nn_err *err)
{
    yd_doc doc;
    memset(g, 0, sizeof *g);
    nn_status s = yd_load_buffer(&doc, yaml, len, name, err);
    if (s)
        return s;
    s = parse_with(g, &doc, err);
    yd_free(&doc);
    return s;
}

nn_status nn_graph_parse_file(nn_graph *g, const char *path, nn_err *err)
{
    yd_doc doc;
    memset(g, 0, sizeof *g);
    nn_status s = yd_load_file(&doc, path, err);
    if (s)
        return s;
    s = parse_with(g, &doc, err);
    yd_free(&doc);
    return s;
}
