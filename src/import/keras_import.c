/* keras_import.c — Keras 2 `.h5` models (model.save) to the engine's primitives: the model_config
 * JSON (Sequential or a functional graph) walked layer by layer, each output tracked as an
 * engine tensor (Keras tensors are NHWC; a Flatten keeps channels_last order, so the next Dense or
 * BatchNormalization has its features reordered to PyTorch's CHW order in the weights file), and
 * the weights read through keras_h5.c and converted to PyTorch layouts (HWIO -> OIHW, depthwise
 * [kh, kw, C, dm] -> [C*dm, 1, kh, kw], Dense [in, out] -> [out, in]). docs/FORMATS.md §9. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import/import.h"
#include "import/keras_h5.h"
#include "import/kjson.h"

typedef struct {
    char name[NN_NAME_LEN];    /* the Keras layer */
    char layer[NN_NAME_LEN];   /* the engine layer holding its output ("input") */
    int h, w, c;
    bool flat, hwc;            /* flat: c features; hwc: flattened from sh x sw x sc in HWC order */
    int sh, sw, sc;
    bool padded;               /* a ZeroPadding2D the next convolution takes: top, bottom, left, right */
    int pad[4];
} kv;

typedef struct {
    imp_model *m;
    kh5 *h5;
    nn_err *err;
    kv *v;
    int n_v, cap_v;
    const char *lname, *lclass;  /* the layer being converted */
    const kj *cfg;
    char where[300];             /* the architecture's source: "<file>: model_config" or the --config file */
} kx;

static nn_status kfail(kx *c, nn_status s, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static nn_status kfail(kx *c, nn_status s, const char *fmt, ...)
{
    char msg[360], q[IMP_QUOTE_LEN], q2[IMP_QUOTE_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return nn_fail(c->err, s, "%s: layer %s (%s): %s", c->m->src, imp_quote(q, c->lname), imp_quote(q2, c->lclass),
                   msg);
}

static kv *kfind(kx *c, const char *name)
{
    for (int i = c->n_v - 1; i >= 0; i--)
        if (strcmp(c->v[i].name, name) == 0)
            return &c->v[i];
    return NULL;
}

static kv *kout(kx *c, const kv *like_p, const imp_layer *l)
{
    kv like = *like_p; /* like_p may point into c->v, which may move */
    if (c->n_v == c->cap_v) {
        int cap = c->cap_v ? 2 * c->cap_v : 32;
        kv *v = realloc(c->v, (size_t)cap * sizeof *v);
        if (!v)
            return NULL;
        c->v = v;
        c->cap_v = cap;
    }
    kv *o = &c->v[c->n_v++];
    *o = like;
    snprintf(o->name, sizeof o->name, "%s", c->lname);
    if (l)
        snprintf(o->layer, sizeof o->layer, "%s", l->name);
    o->padded = false;
    return o;
}

static bool pair(const kj *v, int *a, int *b)
{
    if (v && v->kind == KJ_NUM)
        return *a = *b = (int)v->num, v->num >= 1 && v->num <= 4096;
    const kj *x = kj_at(v, 0), *y = kj_at(v, 1);
    if (!v || v->n != 2 || !x || !y || x->kind != KJ_NUM || y->kind != KJ_NUM)
        return false;
    *a = (int)x->num;
    *b = (int)y->num;
    return *a >= 1 && *b >= 1 && *a <= 4096 && *b <= 4096;
}

static bool flag(const kj *cfg, const char *key, bool def)
{
    const kj *v = kj_get(cfg, key);
    return v && v->kind == KJ_BOOL ? v->b : def;
}

static nn_status add_layer(kx *c, const char *type, kv *const *ins, int n, imp_layer **l)
{
    const char *names[NN_MAX_INPUTS];
    for (int i = 0; i < n && i < NN_MAX_INPUTS; i++)
        names[i] = ins[i]->layer;
    return imp_add(c->m, c->lname, type, names, n, l, c->err);
}

/* The `activation` key of Conv2D / Dense / Activation: none, relu, softmax, and the pointwise
 * sigmoid, tanh, elu (Keras' alpha 1), relu6 (clip [0, 6]); anything else refused. */
static nn_status activation(kx *c, kv *x, const char *key)
{
    static const char *const names[][3] = {{"relu", "relu", ""},         {"softmax", "softmax", ""},
                                           {"sigmoid", "sigmoid", ""},   {"tanh", "tanh", ""},
                                           {"elu", "elu", ", alpha: 1"}, {"relu6", "clip", ", min: 0, max: 6"}};
    const char *a = kj_str(kj_get(c->cfg, key));
    if (!a || strcmp(a, "linear") == 0)
        return NN_OK;
    size_t i = 0;
    while (i < sizeof names / sizeof names[0] && strcmp(a, names[i][0]) != 0)
        i++;
    if (i == sizeof names / sizeof names[0]) {
        char q[IMP_QUOTE_LEN];
        return kfail(c, NN_E_UNSUPPORTED, "%s %s: the engine has relu, softmax, sigmoid, tanh, elu, relu6 (and the "
                     "LeakyReLU layer) only", key, imp_quote(q, a));
    }
    if (strcmp(a, "softmax") == 0 && !x->flat && x->h * x->w > 1)
        return kfail(c, NN_E_UNSUPPORTED, "softmax over a %dx%dx%d tensor (the engine's is over channels of a flat "
                     "or 1x1 tensor only)", x->h, x->w, x->c);
    imp_layer *l;
    nn_status s = add_layer(c, names[i][1], &x, 1, &l);
    if (!s && !imp_keys(l, "%s", names[i][2]))
        s = nn_fail(c->err, NN_E_NOMEM, "%s: out of memory", c->m->src);
    if (!s)
        snprintf(x->layer, sizeof x->layer, "%s", l->name);
    return s;
}

/* Weight `suffix` of the current layer with the expected rank; dims[] receive its shape. */
static nn_status weight(kx *c, const char *suffix, int rank, float **f, int dims[4])
{
    int r;
    nn_status s = kh5_weight(c->h5, c->lname, suffix, f, &r, dims, c->err);
    if (!s && r != rank) {
        free(*f);
        return kfail(c, NN_E_WEIGHTS, "weight '%s' has rank %d, expected %d", suffix, r, rank);
    }
    return s;
}

/* A weight's shape d[0..r) against the one the config and the layer's input give (want[i] = 0:
 * not given): a config and weights from different models fail here naming both shapes. */
static nn_status fits(kx *c, const char *wname, const int *d, const int *want, int r)
{
    char a[64] = "", b[64] = "";
    bool bad = false;
    for (int i = 0; i < r; i++) {
        bad |= want[i] > 0 && d[i] != want[i];
        snprintf(a + strlen(a), sizeof a - strlen(a), "%s%d", i ? "x" : "", d[i]);
        snprintf(b + strlen(b), sizeof b - strlen(b), want[i] > 0 ? "%s%d" : "%s?", i ? "x" : "", want[i]);
    }
    return bad ? kfail(c, NN_E_WEIGHTS, "weight '%s' is %s, the config and the layer's input give %s", wname, a, b)
               : NN_OK;
}

/* conv / pooling window keys appended to l; output size into o. */
static nn_status window(kx *c, const kv *x, int kh, int kw, imp_layer *l, bool pool, kv *o)
{
    int sh = 1, sw = 1, dh = 1, dw = 1;
    const kj *st = kj_get(c->cfg, "strides");
    if (st && st->kind != KJ_NULL && !pair(st, &sh, &sw))
        return kfail(c, NN_E_UNSUPPORTED, "strides: expected two integers in [1, 4096]");
    if (pool && (!st || st->kind == KJ_NULL))
        sh = kh, sw = kw;
    if (kj_get(c->cfg, "dilation_rate") && (!pair(kj_get(c->cfg, "dilation_rate"), &dh, &dw) || dh != 1 || dw != 1))
        return kfail(c, NN_E_UNSUPPORTED, "dilation_rate: the engine has no dilated windows");
    const char *df = kj_str(kj_get(c->cfg, "data_format"));
    if (df && strcmp(df, "channels_last") != 0)
        return kfail(c, NN_E_UNSUPPORTED, "data_format %s: only channels_last is supported", df);
    const char *pad = kj_str(kj_get(c->cfg, "padding"));
    bool same = pad && strcmp(pad, "same") == 0;
    if (!pad || (!same && strcmp(pad, "valid") != 0))
        return kfail(c, NN_E_UNSUPPORTED, "padding: expected valid or same");
    imp_keys(l, ", %s: [%d, %d], stride: [%d, %d]", pool ? "pool" : "kernel", kh, kw, sh, sw);
    int p[4] = {0, 0, 0, 0};
    if (x->padded && same)
        return kfail(c, NN_E_UNSUPPORTED, "padding same after a ZeroPadding2D");
    if (x->padded)
        memcpy(p, x->pad, sizeof p);
    if (same) {
        imp_keys(l, ", padding: same");
        o->h = (x->h + sh - 1) / sh;
        o->w = (x->w + sw - 1) / sw;
        return NN_OK;
    }
    if (p[0] || p[1] || p[2] || p[3])
        imp_keys(l, ", padding: [%d, %d, %d, %d]", p[0], p[1], p[2], p[3]);
    int hh = x->h + p[0] + p[1] - kh, ww = x->w + p[2] + p[3] - kw;
    if (hh < 0 || ww < 0)
        return kfail(c, NN_E_SHAPE, "input %dx%d is smaller than the %dx%d window", x->h, x->w, kh, kw);
    o->h = hh / sh + 1;
    o->w = ww / sw + 1;
    return NN_OK;
}

static nn_status bias(kx *c, imp_layer *l, int n)
{
    if (!flag(c->cfg, "use_bias", true)) {
        l->bias = 0;
        return NN_OK;
    }
    float *b;
    int d[4];
    nn_status s = weight(c, "bias:0", 1, &b, d);
    if (s)
        return s;
    if (d[0] != n) {
        free(b);
        return kfail(c, NN_E_WEIGHTS, "weight 'bias:0' has %d values, expected %d", d[0], n);
    }
    l->bias = 1;
    return imp_tensor_add(c->m, l->name, "bias", 1, &n, b, c->err);
}

static nn_status conv(kx *c, kv *x, const char *cls)
{
    bool dw = strcmp(cls, "DepthwiseConv2D") == 0, sep = strcmp(cls, "SeparableConv2D") == 0;
    float *k;
    int d[4];
    nn_status s = weight(c, dw || sep ? "depthwise_kernel:0" : "kernel:0", 4, &k, d);
    if (s)
        return s;
    int kh = d[0], kw = d[1], g = 1, dm = d[3];
    if (!dw && !sep) {
        const kj *gv = kj_get(c->cfg, "groups");
        g = gv ? (int)kj_num(gv, 1) : 1;
    }
    /* an absent depth_multiplier is not checked: tfjs-layers' SeparableConv2D config omits it */
    int want[4] = {0, 0, g >= 1 && x->c % g == 0 ? x->c / g : 0,
                   (int)kj_num(kj_get(c->cfg, dw || sep ? "depth_multiplier" : "filters"), 0)};
    pair(kj_get(c->cfg, "kernel_size"), &want[0], &want[1]);
    if ((s = fits(c, dw || sep ? "depthwise_kernel:0" : "kernel:0", d, want, 4))) {
        free(k);
        return s;
    }
    if (d[2] * g != x->c || (dw || sep ? 0 : d[3] % g)) {
        free(k);
        return kfail(c, NN_E_WEIGHTS, "kernel %dx%dx%dx%d does not fit %d input channels", d[0], d[1], d[2], d[3], x->c);
    }
    imp_layer *l;
    kv o = *x;
    char base[NN_NAME_LEN];
    snprintf(base, sizeof base, "%s%s", c->lname, sep ? "_dw" : "");
    const char *names[1] = {x->layer};
    if ((s = imp_add(c->m, base, dw || sep ? "depthwise_conv2d" : "conv2d", names, 1, &l, c->err)) ||
        (s = window(c, x, kh, kw, l, false, &o))) {
        free(k);
        return s;
    }
    float *t = malloc((size_t)kh * kw * d[2] * d[3] * sizeof *t);
    if (!t) {
        free(k);
        return nn_fail(c->err, NN_E_NOMEM, "%s: out of memory", c->m->src);
    }
    int cout = dw || sep ? x->c * dm : d[3], cin = d[2];
    for (int y = 0; y < kh; y++)
        for (int xx = 0; xx < kw; xx++)
            for (int i = 0; i < cin; i++)
                for (int oo = 0; oo < d[3]; oo++) {
                    float v = k[((size_t)(y * kw + xx) * cin + i) * d[3] + oo];
                    if (dw || sep) /* [kh, kw, C, dm] -> [C*dm, 1, kh, kw] */
                        t[((size_t)(i * dm + oo) * kh + y) * kw + xx] = v;
                    else           /* HWIO -> OIHW */
                        t[(((size_t)oo * cin + i) * kh + y) * kw + xx] = v;
                }
    free(k);
    if (dw || sep)
        imp_keys(l, ", depth_multiplier: %d", dm);
    else
        imp_keys(l, ", filters: %d%s", cout, "");
    if (g > 1)
        imp_keys(l, ", groups: %d", g);
    int od[4] = {cout, dw || sep ? 1 : cin, kh, kw};
    char lname[NN_NAME_LEN];
    snprintf(lname, sizeof lname, "%s", l->name);
    if ((s = imp_tensor_add(c->m, lname, "weight", 4, od, t, c->err)))
        return s;
    o.c = cout;
    if (sep) { /* then the pointwise 1x1 convolution with the bias */
        l->bias = 0;
        int pw[4] = {1, 1, cout, (int)kj_num(kj_get(c->cfg, "filters"), 0)}; /* cout > 0: all but filters checked */
        if ((s = weight(c, "pointwise_kernel:0", 4, &k, d)))
            return s;
        if ((s = fits(c, "pointwise_kernel:0", d, pw, 4))) {
            free(k);
            return s;
        }
        names[0] = lname;
        if ((s = imp_add(c->m, c->lname, "conv2d", names, 1, &l, c->err))) {
            free(k);
            return s;
        }
        imp_keys(l, ", filters: %d, kernel: 1", d[3]);
        float *pt = malloc((size_t)d[2] * d[3] * sizeof *pt);
        if (!pt) {
            free(k);
            return nn_fail(c->err, NN_E_NOMEM, "%s: out of memory", c->m->src);
        }
        for (int i = 0; i < d[2]; i++)
            for (int oo = 0; oo < d[3]; oo++)
                pt[(size_t)oo * d[2] + i] = k[(size_t)i * d[3] + oo];
        free(k);
        int pd[4] = {d[3], d[2], 1, 1};
        if ((s = imp_tensor_add(c->m, l->name, "weight", 4, pd, pt, c->err)))
            return s;
        o.c = d[3];
    }
    if ((s = bias(c, l, o.c)))
        return s;
    snprintf(o.layer, sizeof o.layer, "%s", l->name);
    if ((s = activation(c, &o, "activation")))
        return s;
    return kout(c, &o, NULL) ? NN_OK : nn_fail(c->err, NN_E_NOMEM, "%s: out of memory", c->m->src);
}

/* perm[i] = the HWC index of CHW feature i (x flattened in channels_last order), NULL otherwise. */
static int *hwc_perm(const kv *x, nn_status *s, kx *c)
{
    *s = NN_OK;
    if (!x->hwc)
        return NULL;
    int *p = malloc((size_t)x->c * sizeof *p);
    if (!p) {
        *s = nn_fail(c->err, NN_E_NOMEM, "%s: out of memory", c->m->src);
        return NULL;
    }
    for (int i = 0; i < x->c; i++)
        p[i] = (i % (x->sh * x->sw)) * x->sc + i / (x->sh * x->sw);
    return p;
}

static nn_status dense(kx *c, kv *x)
{
    if (!x->flat && x->h * x->w > 1)
        return kfail(c, NN_E_UNSUPPORTED, "a Dense on a %dx%dx%d tensor (Keras applies it per pixel; the engine's "
                     "dense reads all features: add a Flatten)", x->h, x->w, x->c);
    float *k;
    int d[4];
    nn_status s = weight(c, "kernel:0", 2, &k, d);
    if (s)
        return s;
    int want[2] = {x->c, (int)kj_num(kj_get(c->cfg, "units"), 0)}; /* x->c > 0: the input features checked */
    if ((s = fits(c, "kernel:0", d, want, 2))) {
        free(k);
        return s;
    }
    int *perm = hwc_perm(x, &s, c), n = d[1];
    float *t = s ? NULL : malloc((size_t)d[0] * n * sizeof *t);
    for (int o = 0; t && o < n; o++)
        for (int i = 0; i < d[0]; i++)
            t[(size_t)o * d[0] + i] = k[(size_t)(perm ? perm[i] : i) * n + o];
    free(k);
    free(perm);
    if (!t)
        return s ? s : nn_fail(c->err, NN_E_NOMEM, "%s: out of memory", c->m->src);
    imp_layer *l;
    if ((s = add_layer(c, "dense", &x, 1, &l))) {
        free(t);
        return s;
    }
    imp_keys(l, ", units: %d", n);
    int od[2] = {n, d[0]};
    if ((s = imp_tensor_add(c->m, l->name, "weight", 2, od, t, c->err)) || (s = bias(c, l, n)))
        return s;
    kv o = {.flat = true, .h = 1, .w = 1, .c = n};
    snprintf(o.layer, sizeof o.layer, "%s", l->name);
    if ((s = activation(c, &o, "activation")))
        return s;
    return kout(c, &o, NULL) ? NN_OK : nn_fail(c->err, NN_E_NOMEM, "%s: out of memory", c->m->src);
}

static nn_status batchnorm(kx *c, kv *x)
{
    const kj *ax = kj_get(c->cfg, "axis");
    int a = ax && ax->kind == KJ_ARR && ax->n == 1 ? (int)kj_num(kj_at(ax, 0), -1) : (int)kj_num(ax, -1);
    if (!(a == -1 || a == (x->flat ? 1 : 3)))
        return kfail(c, NN_E_UNSUPPORTED, "axis %d: only the channel (last) axis is supported", a);
    static const char *const w[4] = {"gamma:0", "beta:0", "moving_mean:0", "moving_variance:0"};
    static const char *const suf[4] = {"weight", "bias", "running_mean", "running_var"};
    bool has[4] = {flag(c->cfg, "scale", true), flag(c->cfg, "center", true), true, true};
    double eps = kj_num(kj_get(c->cfg, "epsilon"), 1e-3), mom = kj_num(kj_get(c->cfg, "momentum"), 0.99);
    if (!(eps > 0 && eps < 1) || !(mom >= 0 && mom < 1))
        return kfail(c, NN_E_UNSUPPORTED, "epsilon %g or momentum %g out of range", eps, mom);
    imp_layer *l;
    nn_status s = add_layer(c, "batch_norm", &x, 1, &l);
    if (s)
        return s;
    imp_keys(l, ", eps: %.9g, momentum: %.9g", eps, 1 - mom);
    int *perm = hwc_perm(x, &s, c);
    for (int i = 0; i < 4 && !s; i++) {
        float *v = NULL, *t = malloc((size_t)x->c * sizeof *t);
        int d[4] = {x->c};
        if (has[i] && !(s = weight(c, w[i], 1, &v, d)) && d[0] != x->c)
            s = kfail(c, NN_E_WEIGHTS, "weight '%s' has %d values, expected %d", w[i], d[0], x->c);
        for (int j = 0; t && !s && j < x->c; j++)
            t[j] = v ? v[perm ? perm[j] : j] : i == 0 ? 1.0f : 0.0f;
        free(v);
        if (!t && !s)
            s = nn_fail(c->err, NN_E_NOMEM, "%s: out of memory", c->m->src);
        if (!s)
            s = imp_tensor_add(c->m, l->name, suf[i], 1, &x->c, t, c->err);
        else
            free(t);
    }
    free(perm);
    return s ? s : kout(c, x, l) ? NN_OK : nn_fail(c->err, NN_E_NOMEM, "%s: out of memory", c->m->src);
}

/* ((top, bottom), (left, right)) from an int, [sym_h, sym_w] or [[t, b], [l, r]]. */
static bool four(const kj *v, int p[4])
{
    if (v && v->kind == KJ_NUM)
        return p[0] = p[1] = p[2] = p[3] = (int)v->num, v->num >= 0 && v->num <= 4096;
    const kj *a = kj_at(v, 0), *b = kj_at(v, 1);
    if (!v || v->n != 2 || !a || !b)
        return false;
    if (a->kind == KJ_NUM && b->kind == KJ_NUM)
        p[0] = p[1] = (int)a->num, p[2] = p[3] = (int)b->num;
    else if (a->kind == KJ_ARR && b->kind == KJ_ARR && a->n == 2 && b->n == 2)
        for (int i = 0; i < 4; i++)
            p[i] = (int)kj_num(kj_at(i < 2 ? a : b, i % 2), -1);
    else
        return false;
    for (int i = 0; i < 4; i++)
        if (p[i] < 0 || p[i] > 4096)
            return false;
    return true;
}

static nn_status simple(kx *c, kv *x, const char *type, const char *keys)
{
    imp_layer *l;
    nn_status s = add_layer(c, type, &x, 1, &l);
    if (s)
        return s;
    imp_keys(l, "%s", keys);
    kv o = *x;
    snprintf(o.layer, sizeof o.layer, "%s", l->name);
    if (strcmp(type, "global_avg_pool") == 0)
        o.flat = true, o.h = o.w = 1, o.hwc = false;
    if (strcmp(type, "flatten") == 0) {
        o.hwc = o.h * o.w > 1;
        o.sh = o.h, o.sw = o.w, o.sc = o.c;
        o.c = o.h * o.w * o.c;
        o.flat = true, o.h = o.w = 1;
    }
    return kout(c, &o, NULL) ? NN_OK : nn_fail(c->err, NN_E_NOMEM, "%s: out of memory", c->m->src);
}

static nn_status layer(kx *c, const char *cls, kv **ins, int n)
{
    kv *x = ins[0];
    char keys[64];
    bool convlike = strcmp(cls, "Conv2D") == 0 || strcmp(cls, "DepthwiseConv2D") == 0 ||
                    strcmp(cls, "SeparableConv2D") == 0;
    if (x->padded && !convlike && strcmp(cls, "AveragePooling2D") != 0)
        return kfail(c, NN_E_UNSUPPORTED, "reads a ZeroPadding2D, which only a convolution or an average pooling can "
                     "take as its padding");
    if (convlike)
        return conv(c, x, cls);
    if (strcmp(cls, "Dense") == 0)
        return dense(c, x);
    if (strcmp(cls, "BatchNormalization") == 0)
        return batchnorm(c, x);
    if (strcmp(cls, "MaxPooling2D") == 0 || strcmp(cls, "AveragePooling2D") == 0) {
        int kh, kw;
        if (!pair(kj_get(c->cfg, "pool_size"), &kh, &kw))
            return kfail(c, NN_E_UNSUPPORTED, "pool_size: expected two integers in [1, 4096]");
        imp_layer *l;
        kv o = *x;
        nn_status s = add_layer(c, cls[0] == 'M' ? "max_pool2d" : "avg_pool2d", &x, 1, &l);
        if (s || (s = window(c, x, kh, kw, l, true, &o)))
            return s;
        if (x->padded) /* the ZeroPadding2D's zeros are cells the average counts */
            imp_keys(l, ", count_pad: true");
        snprintf(o.layer, sizeof o.layer, "%s", l->name);
        return kout(c, &o, NULL) ? NN_OK : nn_fail(c->err, NN_E_NOMEM, "%s: out of memory", c->m->src);
    }
    if (strcmp(cls, "GlobalAveragePooling2D") == 0)
        return simple(c, x, "global_avg_pool", "");
    if (strcmp(cls, "Flatten") == 0)
        return x->flat ? (kout(c, x, NULL) ? NN_OK : nn_fail(c->err, NN_E_NOMEM, "out of memory"))
                       : simple(c, x, "flatten", "");
    if (strcmp(cls, "Dropout") == 0 || strcmp(cls, "SpatialDropout2D") == 0)
        return kout(c, x, NULL) ? NN_OK : nn_fail(c->err, NN_E_NOMEM, "%s: out of memory", c->m->src);
    if (strcmp(cls, "Activation") == 0) {
        kv o = *x;
        nn_status s = activation(c, &o, "activation");
        return s ? s : kout(c, &o, NULL) ? NN_OK : nn_fail(c->err, NN_E_NOMEM, "%s: out of memory", c->m->src);
    }
    if (strcmp(cls, "Softmax") == 0)
        return simple(c, x, "softmax", "");
    if (strcmp(cls, "LeakyReLU") == 0 || strcmp(cls, "ReLU") == 0) {
        double alpha = cls[0] == 'L' ? kj_num(kj_get(c->cfg, "alpha"), 0.3) : kj_num(kj_get(c->cfg, "negative_slope"), 0);
        const kj *mx = kj_get(c->cfg, "max_value");
        if (cls[0] == 'R' && kj_num(kj_get(c->cfg, "threshold"), 0) != 0)
            return kfail(c, NN_E_UNSUPPORTED, "threshold %g: the engine has no shifted ReLU",
                         kj_num(kj_get(c->cfg, "threshold"), 0));
        if (cls[0] == 'R' && mx && mx->kind != KJ_NULL) { /* ReLU(max_value=m): clip [0, m] */
            const double m = kj_num(mx, -1);
            if (alpha != 0 || !(m >= 0 && m <= 1e30))
                return kfail(c, NN_E_UNSUPPORTED, "max_value %g with negative_slope %g: the engine clips only with "
                             "negative_slope 0 and 0 <= max_value <= 1e30", m, alpha);
            snprintf(keys, sizeof keys, ", min: 0, max: %.9g", m);
            return simple(c, x, "clip", keys);
        }
        if (!(alpha >= 0 && alpha <= 1000))
            return kfail(c, NN_E_UNSUPPORTED, "alpha %g: the engine's leaky_relu takes 0 <= alpha <= 1000", alpha);
        snprintf(keys, sizeof keys, ", alpha: %.9g", alpha);
        return alpha == 0 ? simple(c, x, "relu", "") : simple(c, x, "leaky_relu", keys);
    }
    if (strcmp(cls, "ELU") == 0) {
        const double alpha = kj_num(kj_get(c->cfg, "alpha"), 1.0);
        if (!(alpha >= 0 && alpha <= 1000))
            return kfail(c, NN_E_UNSUPPORTED, "alpha %g: the engine's elu takes 0 <= alpha <= 1000", alpha);
        snprintf(keys, sizeof keys, ", alpha: %.9g", alpha);
        return simple(c, x, "elu", keys);
    }
    if (strcmp(cls, "ZeroPadding2D") == 0) {
        kv o = *x;
        if (!four(kj_get(c->cfg, "padding"), o.pad) || x->flat)
            return kfail(c, NN_E_UNSUPPORTED, "padding: expected ((top, bottom), (left, right)) of a 4-D tensor");
        o.padded = true;
        kv *r = kout(c, &o, NULL);
        if (r)
            r->padded = true;
        return r ? NN_OK : nn_fail(c->err, NN_E_NOMEM, "%s: out of memory", c->m->src);
    }
    if (strcmp(cls, "Cropping2D") == 0) {
        int p[4];
        if (!four(kj_get(c->cfg, "cropping"), p) || strcmp(x->layer, "input") != 0 || c->m->crop ||
            p[0] + p[1] >= x->h || p[2] + p[3] >= x->w)
            return kfail(c, NN_E_UNSUPPORTED, "cropping: only a crop of the model's input (it becomes the YAML's "
                         "preprocess crop), smaller than the input, is supported");
        imp_model *m = c->m;
        m->crop = true;
        m->src_h = m->in_h, m->src_w = m->in_w;
        m->top = p[0], m->bottom = m->in_h - p[1], m->left = p[2], m->right = m->in_w - p[3];
        m->in_h -= p[0] + p[1];
        m->in_w -= p[2] + p[3];
        kv o = *x;
        o.h = m->in_h, o.w = m->in_w;
        for (int i = 0; i < c->n_v; i++) /* the input itself is now the cropped image */
            if (strcmp(c->v[i].layer, "input") == 0)
                c->v[i].h = o.h, c->v[i].w = o.w;
        return kout(c, &o, NULL) ? NN_OK : nn_fail(c->err, NN_E_NOMEM, "%s: out of memory", c->m->src);
    }
    if (strcmp(cls, "Add") == 0 || strcmp(cls, "Concatenate") == 0) {
        bool add = cls[0] == 'A';
        int cs = 0;
        for (int i = 0; i < n; i++) {
            if (ins[i]->padded || ins[i]->flat != x->flat || ins[i]->h != x->h || ins[i]->w != x->w ||
                (add && ins[i]->c != x->c))
                return kfail(c, NN_E_SHAPE, "input %d's shape differs from input 0's", i);
            cs += ins[i]->c;
        }
        int ax = (int)kj_num(kj_get(c->cfg, "axis"), -1);
        if (!add && ax != -1 && ax != (x->flat ? 1 : 3))
            return kfail(c, NN_E_UNSUPPORTED, "axis %d: the engine concatenates channels only", ax);
        imp_layer *l;
        nn_status s = n < 2 ? kfail(c, NN_E_UNSUPPORTED, "needs 2 or more inputs") : add_layer(c, add ? "add" : "concat",
                                                                                            ins, n, &l);
        if (s)
            return s;
        kv o = *x;
        o.c = add ? x->c : cs;
        snprintf(o.layer, sizeof o.layer, "%s", l->name);
        return kout(c, &o, NULL) ? NN_OK : nn_fail(c->err, NN_E_NOMEM, "%s: out of memory", c->m->src);
    }
    if (strcmp(cls, "Lambda") == 0)
        return kfail(c, NN_E_UNSUPPORTED, "a Lambda layer is Python code the importer cannot read: remove it and "
                     "declare what it did in the YAML (a normalisation such as x / 255 - 0.5 is `preprocess: {scale: "
                     "0.00392156862745098, offset: -0.5}`), or rebuild the model without it, then save again");
    return kfail(c, NN_E_UNSUPPORTED, "layer class not supported by the importer (docs/FORMATS.md §9 lists those "
                 "that are)");
}

/* ---- the model ---- */

static nn_status input_layer(kx *c, const kj *shape, const char *name)
{
    int d[3] = {1, 1, 0}, r = shape && shape->kind == KJ_ARR ? shape->n : 0;
    if (c->m->in_c)
        return kfail(c, NN_E_UNSUPPORTED, "a second input (the engine's model has one)");
    bool ok = r == 4 || r == 2;
    for (int i = 1; ok && i < r; i++) {
        double v = kj_num(kj_at(shape, i), -1);
        ok = v >= 1 && v <= 8192;
        d[r == 2 ? 2 : i - 1] = (int)v;
    }
    if (!ok)
        return kfail(c, NN_E_UNSUPPORTED, "batch_input_shape: expected [null, height, width, channels] or "
                     "[null, features] with fixed sizes up to 8192");
    c->m->in_h = d[0], c->m->in_w = d[1], c->m->in_c = d[2];
    kv o = {.h = d[0], .w = d[1], .c = d[2], .flat = r == 2};
    snprintf(o.layer, sizeof o.layer, "input");
    const char *keep = c->lname;
    c->lname = name;
    kv *v = kout(c, &o, NULL);
    c->lname = keep;
    return v ? NN_OK : nn_fail(c->err, NN_E_NOMEM, "%s: out of memory", c->m->src);
}

static nn_status walk(kx *c, const kj *root)
{
    const char *cls = kj_str(kj_get(root, "class_name"));
    const kj *cfg = kj_get(root, "config"), *layers = cfg && cfg->kind == KJ_ARR ? cfg : kj_get(cfg, "layers");
    bool seq = cls && strcmp(cls, "Sequential") == 0;
    char q[IMP_QUOTE_LEN];
    if (!cls || (!seq && strcmp(cls, "Functional") != 0 && strcmp(cls, "Model") != 0) || !layers ||
        layers->kind != KJ_ARR)
        return nn_fail(c->err, NN_E_UNSUPPORTED, "%s: class %s with a layer list expected (Sequential, Functional or "
                       "Model)", c->where, imp_quote(q, cls ? cls : "?"));
    for (int i = 0; i < layers->n; i++) {
        const kj *L = layers->items[i];
        c->lclass = kj_str(kj_get(L, "class_name"));
        c->cfg = kj_get(L, "config");
        c->lname = kj_str(kj_get(c->cfg, "name"));
        if (!c->lclass || !c->lname)
            return nn_fail(c->err, NN_E_PARSE, "%s: layer %d has no class_name or name", c->where, i);
        nn_status s;
        if (strcmp(c->lclass, "InputLayer") == 0) {
            if ((s = input_layer(c, kj_get(c->cfg, "batch_input_shape"), c->lname)))
                return s;
            continue;
        }
        if (seq && c->n_v == 0 && (s = input_layer(c, kj_get(c->cfg, "batch_input_shape"), "__input__")))
            return s;
        kv *ins[NN_MAX_INPUTS];
        int n = 0;
        if (seq) {
            ins[n++] = &c->v[c->n_v - 1];
        } else {
            const kj *node = kj_at(kj_get(L, "inbound_nodes"), 0);
            for (int j = 0; node && j < node->n; j++) {
                const char *src = kj_str(kj_at(kj_at(node, j), 0));
                if (!src || n == NN_MAX_INPUTS || !(ins[n++] = kfind(c, src)))
                    return kfail(c, NN_E_PARSE, "inbound_nodes: input %d is not an earlier layer", j);
            }
            if (!n)
                return kfail(c, NN_E_PARSE, "inbound_nodes: no input");
        }
        if ((s = layer(c, c->lclass, ins, n)))
            return s;
    }
    const char *out = NULL;
    if (!seq) {
        const kj *ol = kj_get(cfg, "output_layers");
        if (!ol || ol->n != 1 || !(out = kj_str(kj_at(kj_at(ol, 0), 0))))
            return nn_fail(c->err, NN_E_UNSUPPORTED, "%s: one output layer expected", c->where);
    }
    kv *o = out ? kfind(c, out) : c->n_v ? &c->v[c->n_v - 1] : NULL;
    if (!o || !c->m->n_l || o->padded || strcmp(o->layer, c->m->l[c->m->n_l - 1].name) != 0)
        return nn_fail(c->err, NN_E_UNSUPPORTED, "%s: the model's output is not the last layer made (no layers, or "
                       "a side branch)", c->m->src);
    return NN_OK;
}

/* ---- the architecture: the file's model_config, or a JSON file given apart (save_weights) ---- */

/* The {"class_name", "config"} object inside what model.to_json() or a tfjs model.json holds:
 * the object itself, {"modelTopology": it} (tfjs-layers' model.save) or {"modelTopology":
 * {"model_config": it}} (the tfjs converter's model.json; also a model_config key at the top). */
static const kj *model_object(const kj *j)
{
    for (int i = 0; i < 3 && j && !kj_get(j, "class_name"); i++)
        j = kj_get(j, "modelTopology") ? kj_get(j, "modelTopology") : kj_get(j, "model_config");
    return j && j->kind == KJ_OBJ ? j : NULL;
}

/* Every layer holding weights in the file is one of the config's: else the config describes
 * another model (Keras' own load_weights would refuse it or load the wrong layers). */
static nn_status all_weights_used(kx *c)
{
    char **names, q[IMP_QUOTE_LEN];
    int n;
    nn_status s = NN_OK;
    kh5_weighted_layers(c->h5, &names, &n);
    for (int i = 0; i < n && !s; i++)
        if (!kfind(c, names[i]))
            s = nn_fail(c->err, NN_E_WEIGHTS, "%s: layer %s has weights in the file but is not in %s (a config of "
                        "another model?)", c->m->src, imp_quote(q, names[i]), c->where);
    kh5_free_names(names, n);
    return s;
}

nn_status imp_keras_parse(imp_model *m, const uint8_t *buf, size_t len, nn_err *err)
{
    kh5 h;
    nn_status s = kh5_open(&h, buf, len, m->src, err);
    if (s)
        return s;
    char *cfg = NULL, why[160];
    kx c = {.m = m, .h5 = &h, .err = err};
    snprintf(c.where, sizeof c.where, "%s%s", m->config ? m->config_src : m->src, m->config ? "" : ": model_config");
    if (!m->config && !kh5_root_has(&h, "model_config") && kh5_root_has(&h, "layer_names"))
        s = nn_fail(err, NN_E_ARG, "%s has no model_config: a save_weights file; give its architecture with --config "
                    "MODEL.json", m->src);
    else if (!m->config)
        s = kh5_root_attr(&h, "model_config", &cfg, err);
    const char *text = m->config ? m->config : cfg;
    kj *root = s ? NULL : kj_parse(text, strlen(text), why, sizeof why);
    const kj *top = model_object(root);
    if (!s && !root)
        s = nn_fail(err, NN_E_PARSE, "%s is not valid JSON: %s", c.where, why);
    else if (!s && !top)
        s = nn_fail(err, NN_E_PARSE, "%s: no Keras model config: expected {\"class_name\": \"Sequential\" (or "
                    "\"Functional\", \"Model\"), \"config\": ...} as model.to_json() writes it, or a tfjs model.json",
                    c.where);
    if (!s && !(s = walk(&c, top)))
        s = all_weights_used(&c);
    free(c.v);
    kj_free(root);
    free(cfg);
    kh5_close(&h);
    return s;
}
