/* onnx_ops.c — the ONNX operators the importer maps to engine layers (docs/FORMATS.md §9): each
 * reads the current node's inputs through the walk's helpers (onnx_import.c), appends its layer
 * and parameters, or refuses with one line naming the node, operator and attribute. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import/onnx_internal.h"

static const int64_t *ints_attr(const Onnx__NodeProto *n, const char *name, size_t want, const int64_t *def)
{
    const Onnx__AttributeProto *a = ox_attr(n, name);
    return a && a->n_ints == want ? a->ints : a && a->n_ints ? NULL : def;
}

/* ceil_mode 1 on one axis (input n, padding *before / *after, window k, stride s): the output size
 * rounded up, without a last window that would start in the trailing padding (PyTorch's rule),
 * made by padding the end further (cells that max and avg ignore). Returns the padding added. */
static long long ceil_pad(long long n, long long before, long long *after, long long k, long long s)
{
    const long long span = n + before + *after - k;
    long long out = (span + s - 1) / s + 1;
    if ((out - 1) * s >= n + before)
        out--;
    const long long extra = (out - 1) * s + k - (n + before + *after);
    if (extra <= 0)
        return 0;
    *after += extra;
    return extra;
}

/* kernel / strides / pads / auto_pad / dilations of Conv and pooling (and ceil_mode: *ceiled says
 * whether it padded the end further), plus a pending Pad; keys appended to l. */
static nn_status window(ox_ctx *c, const ox_val *x, int kh, int kw, imp_layer *l, bool pool, int *oh, int *ow,
                        bool *ceiled)
{
    static const int64_t ones[2] = {1, 1}, zeros[4] = {0, 0, 0, 0};
    const Onnx__NodeProto *n = c->node;
    const int64_t *st = ints_attr(n, "strides", 2, ones), *pd = ints_attr(n, "pads", 4, zeros);
    const int64_t *dl = ints_attr(n, "dilations", 2, ones);
    if (!st || !pd || !dl)
        return ox_fail(c, NN_E_UNSUPPORTED, "attribute strides, pads or dilations: expected 2, 4 and 2 values");
    if (dl[0] != 1 || dl[1] != 1)
        return ox_fail(c, NN_E_UNSUPPORTED, "attribute dilations [%lld, %lld]: the engine has no dilated windows",
                    (long long)dl[0], (long long)dl[1]);
    if (st[0] < 1 || st[1] < 1 || st[0] > 4096 || st[1] > 4096)
        return ox_fail(c, NN_E_SPEC, "attribute strides [%lld, %lld]: out of range", (long long)st[0], (long long)st[1]);
    const Onnx__AttributeProto *ap = ox_attr(n, "auto_pad");
    char mode[16] = "NOTSET";
    if (ap && ap->has_s)
        snprintf(mode, sizeof mode, "%.*s", (int)(ap->s.len < 15 ? ap->s.len : 15), (const char *)ap->s.data);
    const bool ceil = pool && ox_attr_i(n, "ceil_mode", 0);
    if (ceil && strcmp(mode, "NOTSET") != 0)
        return ox_fail(c, NN_E_UNSUPPORTED, "attribute ceil_mode 1 with auto_pad %s", mode);
    imp_keys(l, ", %s: [%d, %d], stride: [%lld, %lld]", pool ? "pool" : "kernel", kh, kw, (long long)st[0],
             (long long)st[1]);
    if (strcmp(mode, "SAME_UPPER") == 0 || strcmp(mode, "VALID") == 0) {
        if (x->padded)
            return ox_fail(c, NN_E_UNSUPPORTED, "attribute auto_pad %s after a Pad", mode);
        imp_keys(l, ", padding: %s", mode[0] == 'S' ? "same" : "valid");
        *oh = mode[0] == 'S' ? (x->h + (int)st[0] - 1) / (int)st[0] : (x->h - kh) / (int)st[0] + 1;
        *ow = mode[0] == 'S' ? (x->w + (int)st[1] - 1) / (int)st[1] : (x->w - kw) / (int)st[1] + 1;
        return *oh > 0 && *ow > 0 ? NN_OK : ox_fail(c, NN_E_SHAPE, "input %dx%d is smaller than the %dx%d window",
                                                  x->h, x->w, kh, kw);
    }
    if (strcmp(mode, "NOTSET") != 0)
        return ox_fail(c, NN_E_UNSUPPORTED, "attribute auto_pad %s: only NOTSET, VALID and SAME_UPPER (TensorFlow "
                    "'same') are supported", mode);
    long long p[4] = {pd[0], pd[2], pd[1], pd[3]}; /* ONNX: top, left, bottom, right */
    for (int i = 0; i < 4; i++) {
        p[i] += p[i] < 0 || p[i] > 4096 || !x->padded ? 0 : x->pad[i]; /* no overflow: refused below */
        if (p[i] < 0 || p[i] > 4096)
            return ox_fail(c, NN_E_UNSUPPORTED, "attribute pads: %lld is out of range [0, 4096]", p[i]);
    }
    if (ceil && x->h + p[0] + p[1] >= kh && x->w + p[2] + p[3] >= kw)
        *ceiled = ceil_pad(x->h, p[0], &p[1], kh, st[0]) + ceil_pad(x->w, p[2], &p[3], kw, st[1]) > 0;
    if (pool && (p[0] >= kh || p[1] >= kh || p[2] >= kw || p[3] >= kw))
        return ox_fail(c, NN_E_UNSUPPORTED, "padding [%lld, %lld, %lld, %lld] (top, bottom, left, right%s) is not "
                    "smaller than the %dx%d window", p[0], p[1], p[2], p[3], ceil ? ", with ceil_mode's" : "", kh, kw);
    if (p[0] || p[1] || p[2] || p[3])
        imp_keys(l, ", padding: [%lld, %lld, %lld, %lld]", p[0], p[1], p[2], p[3]);
    long long sh = x->h + p[0] + p[1] - kh, sw = x->w + p[2] + p[3] - kw;
    if (sh < 0 || sw < 0)
        return ox_fail(c, NN_E_SHAPE, "input %dx%d (padded [%lld, %lld, %lld, %lld]) is smaller than the %dx%d window",
                    x->h, x->w, p[0], p[1], p[2], p[3], kh, kw);
    *oh = (int)(sh / st[0] + 1);
    *ow = (int)(sw / st[1] + 1);
    return NN_OK;
}

nn_status ox_op_conv(ox_ctx *c)
{
    ox_val *x, *wv;
    ox_const *w, *b = NULL;
    nn_status s = ox_tensor_in_pad(c, 0, false, false, true, &x);
    if (s)
        return s;
    if (x->padded && x->padv != 0)
        return ox_fail(c, NN_E_UNSUPPORTED, "reads a Pad with value %g (a convolution pads with zeros)", x->padv);
    int64_t g = ox_attr_i(c->node, "group", 1);
    if (g < 1 || x->c % g)
        return ox_fail(c, NN_E_SHAPE, "attribute group %lld does not divide the %d input channels", (long long)g, x->c);
    int64_t wd[4] = {-1, x->c / g, -1, -1};
    if ((s = ox_weight_in(c, 1, "weight", 4, wd, &w, &wv)))
        return s;
    int64_t o = w->dims[0], bd[1] = {o};
    if (o < 1 || o % g || w->dims[2] < 1 || w->dims[3] < 1 || o > 65536)
        return ox_fail(c, NN_E_SHAPE, "weight %s: %lld filters for group %lld", wv->name, (long long)o, (long long)g);
    if (ox_in(c, 2) && (s = ox_weight_in(c, 2, "bias", 1, bd, &b, NULL)))
        return s;
    const int64_t *ks = ints_attr(c->node, "kernel_shape", 2, w->dims + 2);
    if (!ks || ks[0] != w->dims[2] || ks[1] != w->dims[3])
        return ox_fail(c, NN_E_SHAPE, "attribute kernel_shape does not match the weight's %lldx%lld",
                    (long long)w->dims[2], (long long)w->dims[3]);
    bool dw = g > 1 && g == x->c;
    imp_layer *l;
    if ((s = ox_emit(c, wv, dw ? "depthwise_conv2d" : "conv2d", &x, 1, &l)))
        return s;
    if (dw)
        imp_keys(l, ", depth_multiplier: %lld", (long long)(o / g));
    else
        imp_keys(l, ", filters: %lld", (long long)o);
    if (!dw && g > 1)
        imp_keys(l, ", groups: %lld", (long long)g);
    int oh, ow;
    if ((s = window(c, x, (int)w->dims[2], (int)w->dims[3], l, false, &oh, &ow, NULL)))
        return s;
    l->bias = b != NULL;
    int dims[4] = {(int)o, (int)w->dims[1], (int)w->dims[2], (int)w->dims[3]}, bdims[1] = {(int)o};
    char name[NN_NAME_LEN];
    snprintf(name, sizeof name, "%s", l->name);
    if ((s = ox_add_tensor(c, l, "weight", w, 4, dims, NULL)) || (b && (s = ox_add_tensor(c, l, "bias", b, 1, bdims, NULL))))
        return s;
    int li = imp_find(c->m, name);
    ox_val *r = ox_result(c, x, OV_SPATIAL, &c->m->l[li]);
    if (!r)
        return nn_fail(c->err, NN_E_NOMEM, "%s: out of memory", c->src);
    r->c = (int)o;
    r->h = oh;
    r->w = ow;
    r->bias_layer = b ? -1 : li;
    return NN_OK;
}

nn_status ox_op_pool(ox_ctx *c, bool max)
{
    ox_val *x;
    nn_status s = ox_tensor_in_pad(c, 0, false, false, true, &x);
    if (s)
        return s;
    const int64_t *ks = ints_attr(c->node, "kernel_shape", 2, NULL);
    if (!ks || ks[0] < 1 || ks[1] < 1 || ks[0] > 4096 || ks[1] > 4096)
        return ox_fail(c, NN_E_UNSUPPORTED, "attribute kernel_shape: expected two sizes in [1, 4096]");
    if (c->node->n_output > 1 && c->node->output[1][0])
        return ox_fail(c, NN_E_UNSUPPORTED, "output Indices is not supported");
    if (x->padded && (max ? !(isinf(x->padv) && x->padv < 0) : x->padv != 0))
        return ox_fail(c, NN_E_UNSUPPORTED, "reads a Pad with value %g (the engine's %s pads with %s)", x->padv,
                    max ? "max pooling" : "average pooling", max ? "-inf" : "zeros");
    const Onnx__AttributeProto *pa = ox_attr(c->node, "pads");
    bool pads = false;
    for (size_t i = 0; pa && i < pa->n_ints; i++)
        pads |= pa->ints[i] != 0;
    /* average: a Pad's zeros are real cells, the node's pads count with count_include_pad 1; the
     * engine's count_pad counts all of its padding or none */
    const bool include = ox_attr_i(c->node, "count_include_pad", 0) != 0;
    if (!max && x->padded && pads && !include)
        return ox_fail(c, NN_E_UNSUPPORTED, "attribute pads after a Pad with count_include_pad 0: the engine's average "
                    "pooling counts all of its padding or none");
    const bool counted = !max && (x->padded || (include && pads));
    imp_layer *l;
    int oh, ow;
    bool ceiled = false;
    if ((s = ox_emit(c, NULL, max ? "max_pool2d" : "avg_pool2d", &x, 1, &l)) ||
        (s = window(c, x, (int)ks[0], (int)ks[1], l, true, &oh, &ow, &ceiled)))
        return s;
    if (counted && ceiled)
        return ox_fail(c, NN_E_UNSUPPORTED, "attribute ceil_mode 1 with counted padding (count_include_pad 1 or a "
                    "Pad): the last window overhangs the padding, which the engine's count_pad would count");
    if (counted)
        imp_keys(l, ", count_pad: true");
    ox_val *r = ox_result(c, x, OV_SPATIAL, l);
    if (!r)
        return nn_fail(c->err, NN_E_NOMEM, "%s: out of memory", c->src);
    r->h = oh;
    r->w = ow;
    return NN_OK;
}

/* Per-feature vector k [n] of a flat HWC-ordered input, reordered to PyTorch's CHW order. */
static void hwc_to_chw(const ox_val *x, int *perm, int n)
{
    for (int i = 0; i < n; i++) {
        int ch = i / (x->sh * x->sw), yx = i % (x->sh * x->sw);
        perm[i] = yx * x->sc + ch; /* the HWC index of CHW feature i */
    }
}

nn_status ox_op_batchnorm(ox_ctx *c)
{
    ox_val *x;
    nn_status s = ox_tensor_in(c, 0, true, false, &x); /* ONNX normalises axis 1: not C of an NHWC tensor */
    if (s)
        return s;
    if (ox_attr_i(c->node, "training_mode", 0) || (c->node->n_output > 1 && c->node->output[1][0]))
        return ox_fail(c, NN_E_UNSUPPORTED, "attribute training_mode: only inference batch norm is supported");
    ox_const *k[4];
    static const char *const what[4] = {"scale", "B", "mean", "var"};
    int64_t d[1] = {x->c};
    for (int i = 0; i < 4; i++)
        if ((s = ox_weight_in(c, (size_t)i + 1, what[i], 1, d, &k[i], NULL)))
            return s;
    float eps = ox_attr_f(c->node, "epsilon", 1e-5f), mom = ox_attr_f(c->node, "momentum", 0.9f);
    if (!(eps > 0 && eps < 1) || !(mom >= 0 && mom < 1))
        return ox_fail(c, NN_E_SPEC, "attribute epsilon %g or momentum %g out of range", eps, mom);
    imp_layer *l;
    if ((s = ox_emit(c, NULL, "batch_norm", &x, 1, &l)))
        return s;
    imp_keys(l, ", eps: %.9g, momentum: %.9g", eps, 1.0 - mom);
    static const char *const suf[4] = {"weight", "bias", "running_mean", "running_var"};
    int dims[1] = {x->c}, *perm = NULL;
    if (x->kind == OV_FLAT && x->hwc && !(perm = malloc((size_t)x->c * sizeof *perm)))
        return nn_fail(c->err, NN_E_NOMEM, "%s: out of memory", c->src);
    if (perm)
        hwc_to_chw(x, perm, x->c);
    for (int i = 0; i < 4 && !s; i++)
        s = ox_add_tensor(c, l, suf[i], k[i], 1, dims, perm);
    free(perm);
    if (!s && !ox_result(c, x, x->kind, l))
        s = nn_fail(c->err, NN_E_NOMEM, "%s: out of memory", c->src);
    return s;
}

/* Clip's bounds: attributes min / max before opset 11, optional constant scalar inputs 1 and 2
 * from 11; absent (or beyond +-1e30, the engine's range) = unbounded. */
static nn_status clip_bounds(ox_ctx *c, float *lo, float *hi)
{
    nn_status s = NN_OK;
    *lo = ox_attr_f(c->node, "min", -INFINITY);
    *hi = ox_attr_f(c->node, "max", INFINITY);
    for (size_t i = 1; i < 3; i++) {
        ox_const *k = ox_konst(c, ox_in(c, i), &s);
        if (s)
            return s;
        if (k && k->n == 1)
            *(i == 1 ? lo : hi) = (float)ox_at(k, 0);
        else if (ox_in(c, i))
            return ox_fail(c, NN_E_UNSUPPORTED, "input %s must be a constant scalar", i == 1 ? "min" : "max");
    }
    if (isnan(*lo) || isnan(*hi) || *lo > *hi)
        return ox_fail(c, NN_E_UNSUPPORTED, "Clip(min %g, max %g): min must be <= max", *lo, *hi);
    *lo = *lo < -1e30f ? -INFINITY : *lo;
    *hi = *hi > 1e30f ? INFINITY : *hi;
    return NN_OK;
}

/* Relu, LeakyRelu (alpha), Sigmoid, Tanh, Elu (alpha), Clip: relu when its bounds are [0, inf),
 * dropped when it has none, else the engine's clip with the finite bounds. */
nn_status ox_op_act(ox_ctx *c, const char *op)
{
    ox_val *x;
    nn_status s = ox_tensor_in(c, 0, true, true, &x);
    if (s)
        return s;
    const bool elu = strcmp(op, "Elu") == 0;
    const char *layer = op[0] == 'R' ? "relu" : op[0] == 'L' ? "leaky_relu" : op[0] == 'S' ? "sigmoid"
                        : op[0] == 'T' ? "tanh" : elu ? "elu" : "clip";
    float alpha = ox_attr_f(c->node, "alpha", elu ? 1.0f : 0.01f), lo = 0, hi = 0;
    if (strcmp(op, "Clip") == 0) {
        if ((s = clip_bounds(c, &lo, &hi)))
            return s;
        if (isinf(lo) && isinf(hi))
            return ox_alias(c, x, x->kind); /* Clip(-inf, inf): the identity */
        if (lo == 0 && isinf(hi))
            layer = "relu";
    }
    if ((elu || op[0] == 'L') && !(alpha >= 0 && alpha <= 1000))
        return ox_fail(c, NN_E_UNSUPPORTED, "attribute alpha %g: the engine's %s takes 0 <= alpha <= 1000", alpha,
                    layer);
    imp_layer *l;
    if ((s = ox_emit(c, NULL, layer, &x, 1, &l)))
        return s;
    if (elu || op[0] == 'L')
        imp_keys(l, ", alpha: %.9g", alpha);
    if (strcmp(layer, "clip") == 0 && !isinf(lo))
        imp_keys(l, ", min: %.9g", lo);
    if (strcmp(layer, "clip") == 0 && !isinf(hi))
        imp_keys(l, ", max: %.9g", hi);
    return ox_result(c, x, x->kind, l) ? NN_OK : nn_fail(c->err, NN_E_NOMEM, "%s: out of memory", c->src);
}

nn_status ox_op_softmax(ox_ctx *c)
{
    ox_val *x;
    nn_status s = ox_tensor_in(c, 0, true, true, &x);
    if (s)
        return s;
    int rank = x->kind == OV_FLAT ? 2 : 4;
    int64_t axis = ox_attr_i(c->node, "axis", c->opset >= 13 ? -1 : 1);
    axis = axis < 0 ? axis + rank : axis;
    bool ok = rank == 2 ? axis == 1 : x->nhwc ? axis == 3 : axis == 1 && (c->opset >= 13 || x->h * x->w == 1);
    if (!ok)
        return ox_fail(c, NN_E_UNSUPPORTED, "attribute axis %lld: the engine's softmax is over the channels only",
                    (long long)axis);
    imp_layer *l;
    if ((s = ox_emit(c, NULL, "softmax", &x, 1, &l)))
        return s;
    return ox_result(c, x, x->kind, l) ? NN_OK : nn_fail(c->err, NN_E_NOMEM, "%s: out of memory", c->src);
}

nn_status ox_op_global_pool(ox_ctx *c, bool reduce)
{
    ox_val *x;
    nn_status s = ox_tensor_in(c, 0, false, reduce, &x);
    if (s)
        return s;
    bool keep = true;
    if (reduce) {
        int64_t ax[8];
        const Onnx__AttributeProto *a = ox_attr(c->node, "axes");
        int n = a ? (int)a->n_ints : 0;
        ox_const *k = ox_konst(c, ox_in(c, 1), &s); /* opset 18 passes the axes as an input */
        if (s)
            return s;
        if (k && !k->is_float && k->n <= 8)
            n = (int)k->n;
        for (int i = 0; i < n && n <= 8; i++)
            ax[i] = k ? k->i[i] : a->ints[i];
        int want0 = x->nhwc ? 1 : 2, want1 = x->nhwc ? 2 : 3;
        bool ok = n == 2;
        for (int i = 0; ok && i < 2; i++) {
            int64_t v = ax[i] < 0 ? ax[i] + 4 : ax[i];
            ok = v == (i ? want1 : want0) || v == (i ? want0 : want1);
        }
        if (!ok || ax[0] == ax[1])
            return ox_fail(c, NN_E_UNSUPPORTED, "attribute axes: only a mean over height and width (global average "
                        "pooling) is supported");
        keep = ox_attr_i(c->node, "keepdims", 1) != 0;
    }
    imp_layer *l;
    if ((s = ox_emit(c, NULL, "global_avg_pool", &x, 1, &l)))
        return s;
    ox_val *r = ox_result(c, x, keep ? OV_SPATIAL : OV_FLAT, l);
    if (!r)
        return nn_fail(c->err, NN_E_NOMEM, "%s: out of memory", c->src);
    r->h = r->w = 1;
    r->sh = r->sw = r->sc = 0;
    r->hwc = false;
    return NN_OK;
}

/* The flatten of spatial x (NCHW order, or HWC when x is NHWC). */
static nn_status flatten(ox_ctx *c, ox_val *x)
{
    imp_layer *l;
    nn_status s = ox_emit(c, NULL, "flatten", &x, 1, &l);
    if (s)
        return s;
    ox_val *r = ox_result(c, x, OV_FLAT, l);
    if (!r)
        return nn_fail(c->err, NN_E_NOMEM, "%s: out of memory", c->src);
    r->sh = x->h;
    r->sw = x->w;
    r->sc = x->c;
    r->hwc = x->nhwc && x->h * x->w > 1;
    r->nhwc = false;
    r->c = x->h * x->w * x->c;
    r->h = r->w = 1;
    return NN_OK;
}

nn_status ox_alias(ox_ctx *c, ox_val *x, ox_kind kind)
{
    ox_val *r = ox_result(c, x, kind, NULL);
    if (!r)
        return nn_fail(c->err, NN_E_NOMEM, "%s: out of memory", c->src);
    r->padded = x->padded;
    r->bias_layer = ox_readers(c, x->name) == 1 ? x->bias_layer : -1; /* others read x without a bias */
    return NN_OK;
}

nn_status ox_op_flatten(ox_ctx *c)
{
    ox_val *x;
    nn_status s = ox_tensor_in(c, 0, true, true, &x);
    if (s)
        return s;
    if (ox_attr_i(c->node, "axis", 1) != 1)
        return ox_fail(c, NN_E_UNSUPPORTED, "attribute axis %lld: only axis 1 (keep the batch) is supported",
                    (long long)ox_attr_i(c->node, "axis", 1));
    return x->kind == OV_FLAT ? ox_alias(c, x, OV_FLAT) : flatten(c, x);
}

/* ONNX dims of an engine tensor value as the graph sees them (dim 0: the batch). */
int ox_dims(const ox_val *x, int64_t *d)
{
    d[0] = OX_BATCH;
    if (x->kind == OV_FLAT) {
        d[1] = x->c;
        return 2;
    }
    if (x->kind == OV_SHUF5 || x->kind == OV_SHUF5T) {
        bool t = x->kind == OV_SHUF5T;
        d[1] = t ? x->c / x->groups : x->groups;
        d[2] = t ? x->groups : x->c / x->groups;
        d[3] = x->h;
        d[4] = x->w;
        return 5;
    }
    if (x->kind == OV_VEC3) {
        d[1] = x->vpos == 1 ? x->c : 1;
        d[2] = x->vpos == 1 ? 1 : x->c;
        return 3;
    }
    if (x->kind == OV_INPUT) {
        for (int i = 0; i < x->in_rank - 1; i++)
            d[i + 1] = x->in_d[i];
        return x->in_rank;
    }
    d[1] = x->nhwc ? x->h : x->c;
    d[2] = x->nhwc ? x->w : x->h;
    d[3] = x->nhwc ? x->c : x->w;
    return 4;
}

nn_status ox_op_shape(ox_ctx *c)
{
    ox_val *x = ox_in(c, 0);
    if (!x || x->kind == OV_UNSET || x->kind == OV_CONST)
        return ox_fail(c, NN_E_PARSE, "input is missing");
    if (ox_attr(c->node, "start") || ox_attr(c->node, "end"))
        return ox_fail(c, NN_E_UNSUPPORTED, "attributes start / end are not supported");
    int64_t d[OX_MAX_DIMS];
    int64_t n = ox_dims(x, d);
    ox_const *k = ox_const_new(false, 1, &n);
    ox_val *r = k ? ox_add_val(c, c->node->output[0]) : NULL;
    if (!r) {
        ox_const_free(k);
        return nn_fail(c->err, NN_E_NOMEM, "%s: out of memory", c->src);
    }
    memcpy(k->i, d, (size_t)n * sizeof *d);
    r->kind = OV_CONST;
    r->k = k;
    return NN_OK;
}

nn_status ox_op_reshape(ox_ctx *c)
{
    ox_val *x = ox_in(c, 0);
    nn_status s;
    if (x && x->kind == OV_INPUT)
        ox_resolve_input(c, x, false);
    if (x && (x->kind == OV_SHUF5 || x->kind == OV_SHUF5T)) {
        if (x->padded)
            return ox_fail(c, NN_E_UNSUPPORTED, "reads a Pad");
    } else if ((s = ox_tensor_in(c, 0, true, true, &x))) {
        return s;
    }
    ox_const *k = ox_konst(c, ox_in(c, 1), &s);
    if (s)
        return s;
    if (!k || k->is_float || k->ndim != 1 || k->n < 1 || k->n > 5)
        return ox_fail(c, NN_E_UNSUPPORTED, "input shape must be a constant (or a foldable Shape chain) of 1 to 5 "
                    "integers");
    int64_t d[OX_MAX_DIMS] = {0}, t[5] = {0};
    int nd = ox_dims(x, d), nt = (int)k->n, infer = -1;
    long long per = 1, known = 1;
    for (int i = 1; i < nd; i++)
        per *= d[i];
    for (int i = 0; i < nt; i++) {
        t[i] = k->i[i] == 0 && !ox_attr_i(c->node, "allowzero", 0) && i < nd ? d[i] : k->i[i];
        if (i == 0 && (t[i] == OX_BATCH || (c->batch && t[i] == c->batch)))
            continue;
        if (t[i] == -1 && infer < 0)
            infer = i;
        else if (t[i] < 1)
            return ox_fail(c, NN_E_UNSUPPORTED, "input shape: dimension %d is %lld (only the batch may be dynamic)", i,
                        (long long)t[i]);
        else if (t[i] > per || __builtin_mul_overflow(known, t[i], &known))
            return ox_fail(c, NN_E_SHAPE, "input shape: dimension %d is %lld, more than the input's %lld elements "
                           "per sample", i, (long long)t[i], per);
    }
    if (infer > 0)
        t[infer] = known && per % known == 0 ? per / known : -2;
    else if (infer == 0)
        t[0] = OX_BATCH, known = known == per ? known : -1;
    long long got = 1;
    for (int i = 1; i < nt; i++) /* each of t[1..] is in [1, per] or -2: got overflows to a mismatch */
        if (__builtin_mul_overflow(got, t[i], &got))
            got = -1;
    if (t[0] != OX_BATCH && !(c->batch && t[0] == c->batch))
        return ox_fail(c, NN_E_UNSUPPORTED, "input shape: the first dimension must stay the batch");
    if (got != per || known < 0)
        return ox_fail(c, NN_E_SHAPE, "input shape: %lld elements per sample for an input of %lld", got, per);
    if (x->kind == OV_SHUF5T && nt == 4 && t[1] == x->c && t[2] == x->h && t[3] == x->w) {
        imp_layer *l;
        if ((s = ox_emit(c, NULL, "channel_shuffle", &x, 1, &l)))
            return s;
        imp_keys(l, ", groups: %d", x->groups);
        return ox_result(c, x, OV_SPATIAL, l) ? NN_OK : nn_fail(c->err, NN_E_NOMEM, "%s: out of memory", c->src);
    }
    if (x->kind == OV_SPATIAL && !x->nhwc && nt == 5 && t[3] == x->h && t[4] == x->w && t[1] > 1) {
        ox_val *r = ox_result(c, x, OV_SHUF5, NULL);
        if (!r)
            return nn_fail(c->err, NN_E_NOMEM, "%s: out of memory", c->src);
        r->groups = (int)t[1];
        return NN_OK;
    }
    if (x->kind != OV_SHUF5 && x->kind != OV_SHUF5T) {
        if (nt == 2)
            return x->kind == OV_FLAT ? ox_alias(c, x, OV_FLAT) : flatten(c, x);
        if (nt == nd && memcmp(t + 1, d + 1, (size_t)(nd - 1) * sizeof *t) == 0)
            return ox_alias(c, x, x->kind);
    }
    return ox_fail(c, NN_E_UNSUPPORTED, "input shape: a %d-D reshape the engine has no layer for (supported: "
                "flatten to [N, -1], the channel shuffle pattern, and no-op reshapes)", nt);
}

static bool perm_is(const Onnx__AttributeProto *a, const int64_t *p, size_t n)
{
    if (!a || a->n_ints != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (a->ints[i] != p[i])
            return false;
    return true;
}

nn_status ox_op_transpose(ox_ctx *c)
{
    static const int64_t to_nhwc[4] = {0, 2, 3, 1}, to_nchw[4] = {0, 3, 1, 2}, shuf[5] = {0, 2, 1, 3, 4},
                         flat[2] = {1, 0};
    const Onnx__AttributeProto *a = ox_attr(c->node, "perm");
    ox_val *x = ox_in(c, 0);
    nn_status s;
    if (x && x->kind == OV_INPUT && x->in_rank == 4 && perm_is(a, to_nchw, 4)) {
        ox_resolve_input(c, x, true);
        return ox_alias(c, x, OV_SPATIAL);
    }
    if (x && x->kind == OV_SHUF5 && perm_is(a, shuf, 5)) {
        ox_val *r = ox_result(c, x, OV_SHUF5T, NULL);
        return r ? NN_OK : nn_fail(c->err, NN_E_NOMEM, "%s: out of memory", c->src);
    }
    if ((s = ox_tensor_in(c, 0, true, true, &x)))
        return s;
    if (x->kind == OV_SPATIAL && perm_is(a, x->nhwc ? to_nchw : to_nhwc, 4)) {
        if ((s = ox_alias(c, x, OV_SPATIAL)))
            return s;
        c->v[c->n_v - 1].nhwc = !x->nhwc;
        return NN_OK;
    }
    if (x->kind == OV_FLAT && perm_is(a, flat, 2))
        return ox_fail(c, NN_E_UNSUPPORTED, "attribute perm [1, 0] swaps the batch with the features");
    char p[64] = "";
    for (size_t i = 0, u = 0; a && i < a->n_ints && i < 8; i++)
        u += (size_t)snprintf(p + u, sizeof p - u, "%s%lld", i ? ", " : "", (long long)a->ints[i]);
    return ox_fail(c, NN_E_UNSUPPORTED, "attribute perm [%s] on a %s tensor: only NCHW<->NHWC pairs and the channel "
                "shuffle pattern are supported", p, x->kind == OV_FLAT ? "flat" : x->nhwc ? "NHWC" : "NCHW");
}

nn_status ox_op_merge(ox_ctx *c, bool add)
{
    ox_val *xs[NN_MAX_INPUTS];
    size_t n = c->node->n_input;
    nn_status s;
    if (add && n == 2) { /* a constant added to a bias-less Conv / MatMul: its bias */
        ox_val *a = ox_in(c, 0), *b = ox_in(c, 1);
        ox_const *k = ox_konst(c, b, &s);
        if (s || (!k && !(k = ox_konst(c, a, &s)) && s))
            return s;
        ox_val *x = k == (b ? b->k : NULL) ? a : b;
        /* only where this Add is x's one reader: the bias goes into the layer, which others read too */
        if (k && x && x->bias_layer >= 0 && ox_readers(c, x->name) == 1 && k->is_float && k->n == (size_t)x->c &&
            (x->kind == OV_FLAT || (k->ndim == 3 && k->dims[1] == 1 && k->dims[2] == 1) ||
             (k->ndim == 4 && k->dims[0] == 1 && k->dims[2] == 1 && k->dims[3] == 1))) {
            imp_layer *l = &c->m->l[x->bias_layer];
            int dims[1] = {x->c};
            l->bias = 1;
            if ((s = ox_add_tensor(c, l, "bias", k, 1, dims, NULL)))
                return s;
            return ox_alias(c, x, x->kind);
        }
        if (k)
            return ox_fail(c, NN_E_UNSUPPORTED, "adds a constant tensor (only a bias right after a Conv or MatMul "
                        "without one, whose output nothing else reads, is supported)");
    }
    if (n < 2 || n > NN_MAX_INPUTS)
        return ox_fail(c, NN_E_UNSUPPORTED, "%zu inputs (the engine's %s takes 2 to %d)", n, add ? "add" : "concat",
                    NN_MAX_INPUTS);
    for (size_t i = 0; i < n; i++) {
        if ((s = ox_tensor_in(c, i, true, true, &xs[i])))
            return s;
        if (xs[i]->kind != xs[0]->kind || xs[i]->nhwc != xs[0]->nhwc || xs[i]->h != xs[0]->h ||
            xs[i]->w != xs[0]->w || (add && xs[i]->c != xs[0]->c))
            return ox_fail(c, NN_E_SHAPE, "input %zu's shape or layout differs from input 0's (no broadcasting)", i);
        /* a flat of an NHWC tensor is in H, W, C order where the engine's is C, H, W: only an Add of
         * two such flats of the same shape keeps one order for the dense / batch norm after it */
        if (xs[i]->hwc != xs[0]->hwc || (xs[i]->hwc && (!add || xs[i]->sh != xs[0]->sh || xs[i]->sw != xs[0]->sw)))
            return ox_fail(c, NN_E_UNSUPPORTED, "input %zu: %s a flattened NHWC tensor (features in H, W, C order) "
                           "with others is not supported", i, add ? "adding" : "concatenating");
    }
    int cs = 0;
    for (size_t i = 0; i < n; i++)
        cs += xs[i]->c;
    if (!add) {
        int64_t axis = ox_attr_i(c->node, "axis", 1), rank = xs[0]->kind == OV_FLAT ? 2 : 4;
        axis = axis < 0 ? axis + rank : axis;
        if (axis != (xs[0]->nhwc ? 3 : 1))
            return ox_fail(c, NN_E_UNSUPPORTED, "attribute axis %lld: the engine concatenates channels only",
                        (long long)axis);
    }
    imp_layer *l;
    if ((s = ox_emit(c, NULL, add ? "add" : "concat", xs, (int)n, &l)))
        return s;
    ox_val *r = ox_result(c, xs[0], xs[0]->kind, l);
    if (!r)
        return nn_fail(c->err, NN_E_NOMEM, "%s: out of memory", c->src);
    r->c = add ? xs[0]->c : cs;
    return NN_OK;
}

/* Gemm (A [N, K] x B (transB: [M, K], else [K, M]) * alpha + C * beta) and MatMul (B [K, M]). */
nn_status ox_op_dense(ox_ctx *c, bool gemm)
{
    ox_val *x, *wv;
    ox_const *w, *b = NULL;
    nn_status s = ox_tensor_in(c, 0, true, false, &x);
    if (s)
        return s;
    if (x->kind == OV_SPATIAL && x->h * x->w != 1)
        return ox_fail(c, NN_E_UNSUPPORTED, "needs a 2-D [N, K] input (got a %dx%dx%d tensor; Flatten it first)", x->h,
                    x->w, x->c);
    bool tb = gemm && ox_attr_i(c->node, "transB", 0);
    float alpha = gemm ? ox_attr_f(c->node, "alpha", 1) : 1, beta = gemm ? ox_attr_f(c->node, "beta", 1) : 1;
    if (gemm && ox_attr_i(c->node, "transA", 0))
        return ox_fail(c, NN_E_UNSUPPORTED, "attribute transA 1 is not supported");
    int64_t wd[2] = {tb ? -1 : x->c, tb ? x->c : -1};
    if ((s = ox_weight_in(c, 1, "B", 2, wd, &w, &wv)))
        return s;
    int64_t m = tb ? w->dims[0] : w->dims[1], bd[1] = {m}, bd2[2] = {1, m};
    if (gemm && ox_in(c, 2)) {
        ox_const *bk = ox_konst(c, ox_in(c, 2), &s);
        if (s)
            return s;
        if ((s = ox_weight_in(c, 2, "C", bk && bk->ndim == 2 ? 2 : 1, bk && bk->ndim == 2 ? bd2 : bd, &b, NULL)))
            return s;
    }
    imp_layer *l;
    if ((s = ox_emit(c, wv, "dense", &x, 1, &l)))
        return s;
    imp_keys(l, ", units: %lld", (long long)m);
    l->bias = b != NULL;
    char name[NN_NAME_LEN];
    snprintf(name, sizeof name, "%s", l->name);
    ox_const *pt = ox_const_new(true, 2, (int64_t[2]){m, x->c});
    if (!pt)
        return nn_fail(c->err, NN_E_NOMEM, "%s: out of memory", c->src);
    for (int64_t o = 0; o < m; o++)
        for (int64_t k = 0; k < x->c; k++)
            pt->f[o * x->c + k] = alpha * (tb ? w->f[o * x->c + k] : w->f[k * m + o]);
    if (b)
        for (size_t i = 0; i < b->n; i++)
            b->f[i] *= beta;
    int dims[2] = {(int)m, x->c}, *perm = NULL;
    if (x->kind == OV_FLAT && x->hwc && (perm = malloc((size_t)x->c * sizeof *perm)))
        hwc_to_chw(x, perm, x->c);
    s = x->kind == OV_FLAT && x->hwc && !perm ? nn_fail(c->err, NN_E_NOMEM, "%s: out of memory", c->src)
                                               : ox_add_tensor(c, l, "weight", pt, 2, dims, perm);
    free(perm);
    ox_const_free(pt);
    if (b && !s)
        s = ox_add_tensor(c, l, "bias", b, 1, dims, NULL);
    if (b && beta != 1)
        for (size_t i = 0; i < b->n; i++)
            b->f[i] /= beta;
    if (s)
        return s;
    int li = imp_find(c->m, name);
    ox_val *r = ox_result(c, x, OV_FLAT, &c->m->l[li]);
    if (!r)
        return nn_fail(c->err, NN_E_NOMEM, "%s: out of memory", c->src);
    r->c = (int)m;
    r->h = r->w = 1;
    r->hwc = false;
    r->sh = r->sw = r->sc = 0;
    r->bias_layer = b ? -1 : li;
    return NN_OK;
}

nn_status ox_op_pad(ox_ctx *c)
{
    ox_val *x = ox_in(c, 0);
    nn_status s;
    if (x && x->kind == OV_INPUT)
        ox_resolve_input(c, x, false);
    if ((s = ox_tensor_in_pad(c, 0, false, true, true, &x)))
        return s;
    const Onnx__AttributeProto *ma = ox_attr(c->node, "mode");
    if (ma && ma->has_s && !(ma->s.len == 8 && memcmp(ma->s.data, "constant", 8) == 0))
        return ox_fail(c, NN_E_UNSUPPORTED, "attribute mode: only constant padding is supported");
    int64_t p[8];
    ox_const *k = ox_konst(c, ox_in(c, 1), &s), *kv;
    if (s)
        return s;
    const Onnx__AttributeProto *pa = ox_attr(c->node, "pads");
    if (k && !k->is_float && k->n == 8)
        memcpy(p, k->i, sizeof p);
    else if (!k && pa && pa->n_ints == 8)
        memcpy(p, pa->ints, sizeof p);
    else
        return ox_fail(c, NN_E_UNSUPPORTED, "input pads must be 8 constant integers (a 4-D pad)");
    float v = ox_attr_f(c->node, "value", 0);
    if ((kv = ox_konst(c, ox_in(c, 2), &s)) && kv->n == 1)
        v = (float)ox_at(kv, 0);
    if (s)
        return s;
    int hy = x->nhwc ? 1 : 2, wx = x->nhwc ? 2 : 3, ch = x->nhwc ? 3 : 1;
    if (p[0] || p[4] || p[ch] || p[ch + 4] || p[hy] < 0 || p[wx] < 0 || p[hy + 4] < 0 || p[wx + 4] < 0 ||
        p[hy] > 4096 || p[wx] > 4096 || p[hy] + p[hy + 4] > 4096 || p[wx] + p[wx + 4] > 4096 || x->nhwc)
        return ox_fail(c, NN_E_UNSUPPORTED, "input pads: only non-negative padding of height and width of an NCHW "
                    "tensor is supported");
    if (x->padded && x->padv != v)
        return ox_fail(c, NN_E_UNSUPPORTED, "a second Pad with another value");
    int add[4] = {(int)p[hy], (int)p[hy + 4], (int)p[wx], (int)p[wx + 4]};
    if (!add[0] && !add[1] && !add[2] && !add[3])
        return ox_alias(c, x, OV_SPATIAL); /* a zero pad (PyTorch's pooling exports one) */
    ox_val *r = ox_result(c, x, OV_SPATIAL, NULL);
    if (!r)
        return nn_fail(c->err, NN_E_NOMEM, "%s: out of memory", c->src);
    for (int i = 0; i < 4; i++)
        r->pad[i] = (x->padded ? x->pad[i] : 0) + add[i];
    r->padded = true;
    r->padv = v;
    return NN_OK;
}
