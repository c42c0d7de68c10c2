/* onnx_const.c — ONNX constants: initializers and Constant nodes decoded (raw little-endian data
 * or the typed fields; float32, float16 converted exactly, double, every integer type), and the
 * constant folding of what exporters leave behind (Shape -> Gather -> Unsqueeze -> Concat ->
 * Reshape chains, PyTorch's pad-computation subgraphs): the folder evaluates a small set of
 * shape operators on constant inputs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "import/onnx_internal.h"
#include "nn/format/safetensors.h"
#include "nn/limits.h"

void ox_const_free(ox_const *k)
{
    if (!k)
        return;
    free(k->f);
    free(k->i);
    free(k);
}

ox_const *ox_const_new(bool is_float, int ndim, const int64_t *dims)
{
    long long d[OX_MAX_DIMS];
    for (int i = 0; i < ndim; i++)
        d[i] = dims[i];
    size_t n;
    if (ndim < 0 || ndim > OX_MAX_DIMS || !imp_count(d, ndim, &n))
        return NULL;
    ox_const *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    k->ndim = ndim;
    if (ndim)
        memcpy(k->dims, dims, (size_t)ndim * sizeof *dims);
    k->n = n;
    k->is_float = is_float;
    if (is_float)
        k->f = calloc(n ? n : 1, sizeof *k->f);
    else
        k->i = calloc(n ? n : 1, sizeof *k->i);
    if (!k->f && !k->i) {
        free(k);
        return NULL;
    }
    return k;
}

double ox_at(const ox_const *k, size_t i) { return k->is_float ? (double)k->f[i] : (double)k->i[i]; }

static int64_t rd_le(const uint8_t *p, int size)
{
    uint64_t v = 0;
    for (int b = size - 1; b >= 0; b--)
        v = v << 8 | p[b];
    return (int64_t)v;
}

/* Bytes per element in raw_data; 0 for a type the importer does not read. */
static int type_size(int32_t t)
{
    switch (t) {
    case 1: case 6: case 12: return 4;   /* float, int32, uint32 */
    case 2: case 3: case 9: return 1;    /* uint8, int8, bool */
    case 4: case 5: case 10: return 2;   /* uint16, int16, float16 */
    case 7: case 11: case 13: return 8;  /* int64, double, uint64 */
    default: return 0;
    }
}

static int64_t sign_ext(int64_t v, int32_t t)
{
    if (t == 3)
        return (int8_t)v;
    if (t == 5)
        return (int16_t)v;
    if (t == 6)
        return (int32_t)v;
    return v;
}

nn_status ox_const_decode(ox_const **out, const Onnx__TensorProto *t, const char *src, const char *what, nn_err *err)
{
    char q[IMP_QUOTE_LEN];
    int32_t dt = t->has_data_type ? t->data_type : 0;
    int size = type_size(dt);
    if (!size)
        return nn_fail(err, NN_E_UNSUPPORTED, "%s: tensor %s: data type %d is not supported (float32, float16, "
                       "double and integers are)", src, imp_quote(q, what), (int)dt);
    if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        return nn_fail(err, NN_E_UNSUPPORTED, "%s: tensor %s: external data is not supported (save the model with "
                       "its weights inside the .onnx file)", src, imp_quote(q, what));
    if (t->n_dims > OX_MAX_DIMS)
        return nn_fail(err, NN_E_UNSUPPORTED, "%s: tensor %s: %zu dimensions (at most %d)", src, imp_quote(q, what),
                       t->n_dims, OX_MAX_DIMS);
    bool is_float = dt == 1 || dt == 10 || dt == 11;
    long long dl[OX_MAX_DIMS];
    size_t n, have;
    for (size_t i = 0; i < t->n_dims; i++)
        dl[i] = t->dims[i];
    if (!imp_count(dl, (int)t->n_dims, &n))
        return nn_fail(err, NN_E_WEIGHTS, "%s: tensor %s: bad or too large shape", src, imp_quote(q, what));
    if (t->has_raw_data && t->raw_data.len)
        have = t->raw_data.len / (size_t)size + (t->raw_data.len % (size_t)size ? 1 : 0) * (SIZE_MAX / 2);
    else if (dt == 1)
        have = t->n_float_data;
    else if (dt == 11)
        have = t->n_double_data;
    else if (dt == 7)
        have = t->n_int64_data;
    else if (dt == 12 || dt == 13)
        have = t->n_uint64_data;
    else
        have = t->n_int32_data;
    if (have != n) /* checked before anything of that size is allocated */
        return nn_fail(err, NN_E_WEIGHTS, "%s: tensor %s: %zu values for its shape of %zu elements", src,
                       imp_quote(q, what), have > SIZE_MAX / 4 ? (size_t)0 : have, n);
    ox_const *k = ox_const_new(is_float, (int)t->n_dims, t->dims);
    if (!k)
        return nn_fail(err, NN_E_NOMEM, "%s: tensor %s: out of memory", src, imp_quote(q, what));
    const uint8_t *raw = t->has_raw_data && t->raw_data.len ? t->raw_data.data : NULL;
    for (size_t i = 0; i < n; i++) {
        if (dt == 10) {
            uint8_t h[2];
            if (raw)
                memcpy(h, raw + 2 * i, 2);
            else
                h[0] = (uint8_t)t->int32_data[i], h[1] = (uint8_t)(t->int32_data[i] >> 8);
            st_f16_to_f32(h, &k->f[i], 1);
        } else if (dt == 1) {
            if (raw)
                memcpy(&k->f[i], raw + 4 * i, 4);
            else
                k->f[i] = t->float_data[i];
        } else if (dt == 11) {
            double d = t->n_double_data ? t->double_data[i] : 0;
            if (raw)
                memcpy(&d, raw + 8 * i, 8);
            k->f[i] = (float)d;
        } else if (raw) {
            k->i[i] = sign_ext(rd_le(raw + (size_t)size * i, size), dt);
        } else {
            k->i[i] = dt == 7 ? t->int64_data[i] : (dt == 12 || dt == 13) ? (int64_t)t->uint64_data[i]
                                                                         : (int64_t)t->int32_data[i];
        }
    }
    *out = k;
    return NN_OK;
}

/* ---- attributes ---- */

const Onnx__AttributeProto *ox_attr(const Onnx__NodeProto *n, const char *name)
{
    for (size_t i = 0; i < n->n_attribute; i++)
        if (n->attribute[i]->name && strcmp(n->attribute[i]->name, name) == 0)
            return n->attribute[i];
    return NULL;
}

int64_t ox_attr_i(const Onnx__NodeProto *n, const char *name, int64_t def)
{
    const Onnx__AttributeProto *a = ox_attr(n, name);
    return a && a->has_i ? a->i : def;
}

float ox_attr_f(const Onnx__NodeProto *n, const char *name, float def)
{
    const Onnx__AttributeProto *a = ox_attr(n, name);
    return a && a->has_f ? a->f : def;
}

/* ---- folding ---- */

bool ox_foldable(const char *op)
{
    static const char *const ops[] = {"Identity", "Cast", "Shape", "Gather", "Unsqueeze", "Squeeze", "Concat",
                                      "Reshape", "Transpose", "Slice", "ConstantOfShape", "Add", "Sub", "Mul", "Div",
                                      NULL};
    for (int i = 0; ops[i]; i++)
        if (strcmp(op, ops[i]) == 0)
            return true;
    return false;
}

/* A folded constant: at most OX_MAX_FOLD elements (shape arithmetic is small; a ConstantOfShape
 * asking for more is refused rather than allocated). */
#define OX_MAX_FOLD ((size_t)1 << 24)
#define OX_MAX_FILL ((size_t)1 << 20)
static ox_const *fold_new(bool is_float, int ndim, const int64_t *dims)
{
    long long d[OX_MAX_DIMS];
    size_t n;
    for (int i = 0; i < ndim && i < OX_MAX_DIMS; i++)
        d[i] = dims[i];
    return ndim <= OX_MAX_DIMS && imp_count(d, ndim, &n) && n <= OX_MAX_FOLD ? ox_const_new(is_float, ndim, dims)
                                                                              : NULL;
}

static ox_const *like(const ox_const *k, int ndim, const int64_t *dims) { return fold_new(k->is_float, ndim, dims); }

static void copy_el(ox_const *dst, size_t di, const ox_const *src, size_t si)
{
    if (dst->is_float)
        dst->f[di] = src->is_float ? src->f[si] : (float)src->i[si];
    else
        dst->i[di] = src->is_float ? (int64_t)src->f[si] : src->i[si];
}

static size_t prod(const int64_t *d, int from, int to)
{
    size_t p = 1;
    for (int i = from; i < to; i++)
        p *= (size_t)d[i];
    return p;
}

/* Axis a of an ndim-dimensional tensor (negative from the end); -1 when out of range. */
static int norm_axis(int64_t a, int ndim) { return a < -ndim || a >= ndim ? -1 : (int)(a < 0 ? a + ndim : a); }

/* The int64 list of an attribute or of constant input idx. */
static int ints_of(const Onnx__NodeProto *n, const char *attr, ox_const *const *in, int n_in, int idx, int64_t *v,
                   int cap)
{
    const Onnx__AttributeProto *a = ox_attr(n, attr);
    if (a && a->n_ints && (int)a->n_ints <= cap) {
        memcpy(v, a->ints, a->n_ints * sizeof *v);
        return (int)a->n_ints;
    }
    if (idx < n_in && in[idx] && !in[idx]->is_float && (int)in[idx]->n <= cap) {
        memcpy(v, in[idx]->i, in[idx]->n * sizeof *v);
        return (int)in[idx]->n;
    }
    return -1;
}

static ox_const *fold_gather(ox_const *d, const ox_const *idx, int a)
{
    int64_t od[OX_MAX_DIMS];
    int on = 0;
    if (d->ndim - 1 + idx->ndim > OX_MAX_DIMS)
        return NULL;
    for (int i = 0; i < a; i++)
        od[on++] = d->dims[i];
    for (int i = 0; i < idx->ndim; i++)
        od[on++] = idx->dims[i];
    for (int i = a + 1; i < d->ndim; i++)
        od[on++] = d->dims[i];
    ox_const *o = like(d, on, od);
    size_t outer = prod(d->dims, 0, a), inner = prod(d->dims, a + 1, d->ndim), o_i = 0;
    for (size_t p = 0; o && p < outer; p++)
        for (size_t j = 0; j < idx->n; j++) {
            int64_t x = idx->is_float ? (int64_t)idx->f[j] : idx->i[j];
            if (x < 0)
                x += d->dims[a];
            if (x < 0 || x >= d->dims[a]) {
                ox_const_free(o);
                return NULL;
            }
            for (size_t q = 0; q < inner; q++)
                copy_el(o, o_i++, d, (p * (size_t)d->dims[a] + (size_t)x) * inner + q);
        }
    return o;
}

/* Out-of-range index in a multi-index walk: strides of src for the perm / slice mapping. */
static ox_const *fold_walk(const ox_const *d, int ndim, const int64_t *odims, const int64_t *start,
                           const int64_t *step, const int *perm)
{
    ox_const *o = like(d, ndim, odims);
    if (!o)
        return NULL;
    int64_t stride[OX_MAX_DIMS], idx[OX_MAX_DIMS] = {0};
    for (int i = ndim - 1, s = 1; i >= 0; i--) {
        stride[i] = s;
        s *= (int)d->dims[i];
    }
    for (size_t e = 0; e < o->n; e++) {
        size_t si = 0;
        for (int i = 0; i < ndim; i++) {
            int ax = perm ? perm[i] : i;
            si += (size_t)((start ? start[ax] : 0) + idx[i] * (step ? step[ax] : 1)) * (size_t)stride[ax];
        }
        copy_el(o, e, d, si);
        for (int i = ndim - 1; i >= 0 && ++idx[i] == odims[i]; i--)
            idx[i] = 0;
    }
    return o;
}

static ox_const *fold_slice(const ox_const *d, const int64_t *st, const int64_t *en, const int64_t *ax,
                            const int64_t *sp, int n)
{
    int64_t start[OX_MAX_DIMS], step[OX_MAX_DIMS], od[OX_MAX_DIMS];
    for (int i = 0; i < d->ndim; i++)
        start[i] = 0, step[i] = 1, od[i] = d->dims[i];
    for (int j = 0; j < n; j++) {
        int a = norm_axis(ax ? ax[j] : j, d->ndim);
        int64_t dim = a < 0 ? 0 : d->dims[a], s = sp ? sp[j] : 1, b = st[j], e = en[j];
        if (a < 0 || s == 0)
            return NULL;
        if (s > dim + 1 || s < -dim - 1) /* a step past the dimension takes one element at most */
            s = s > 0 ? dim + 1 : -dim - 1;
        b = b < 0 ? b + dim : b;
        e = e < 0 ? e + dim : e;
        if (s > 0) {
            b = b < 0 ? 0 : b > dim ? dim : b;
            e = e < 0 ? 0 : e > dim ? dim : e;
            od[a] = e > b ? (e - b + s - 1) / s : 0;
        } else {
            b = b < 0 ? -1 : b > dim - 1 ? dim - 1 : b;
            e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
            od[a] = b > e ? (b - e - s - 1) / -s : 0;
        }
        start[a] = b;
        step[a] = s;
    }
    return fold_walk(d, d->ndim, od, start, step, NULL);
}

static int64_t arith(char op, int64_t a, int64_t b, bool *ok)
{
    if (a == OX_BATCH || b == OX_BATCH)
        return OX_BATCH;
    int64_t r = 0;
    if (op == '/' && (b == 0 || (a == INT64_MIN && b == -1)))
        return *ok = false, 0;
    if (op == '/')
        return a / b;
    if (op == '+' ? __builtin_add_overflow(a, b, &r) : op == '-' ? __builtin_sub_overflow(a, b, &r)
                                                     : __builtin_mul_overflow(a, b, &r))
        *ok = false; /* shape arithmetic out of int64's range */
    return r;
}

static ox_const *fold_binary(char op, const ox_const *a, const ox_const *b)
{
    const ox_const *big = a->n >= b->n ? a : b;
    if ((a->n != b->n && a->n != 1 && b->n != 1) || a->is_float != b->is_float)
        return NULL;
    ox_const *o = like(big, big->ndim, big->dims);
    bool ok = true;
    for (size_t e = 0; o && e < o->n; e++) {
        size_t ia = a->n == 1 ? 0 : e, ib = b->n == 1 ? 0 : e;
        if (o->is_float) {
            float x = a->f[ia], y = b->f[ib];
            o->f[e] = op == '+' ? x + y : op == '-' ? x - y : op == '*' ? x * y : x / y;
        } else {
            o->i[e] = arith(op, a->i[ia], b->i[ib], &ok);
        }
    }
    if (!ok) {
        ox_const_free(o);
        return NULL;
    }
    return o;
}

static ox_const *fold_constant(const Onnx__NodeProto *n, const char *who, nn_err *err, nn_status *s)
{
    const Onnx__AttributeProto *a;
    ox_const *k = NULL;
    int64_t one = 1;
    if ((a = ox_attr(n, "value")) && a->t)
        *s = ox_const_decode(&k, a->t, who, "value", err);
    else if ((a = ox_attr(n, "value_float")) && a->has_f && (k = ox_const_new(true, 0, NULL)))
        k->f[0] = a->f;
    else if ((a = ox_attr(n, "value_int")) && a->has_i && (k = ox_const_new(false, 0, NULL)))
        k->i[0] = a->i;
    else if ((a = ox_attr(n, "value_ints")) && (one = (int64_t)a->n_ints, k = ox_const_new(false, 1, &one)))
        for (size_t e = 0; e < a->n_ints; e++)
            k->i[e] = a->ints[e];
    else if ((a = ox_attr(n, "value_floats")) && (one = (int64_t)a->n_floats, k = ox_const_new(true, 1, &one)))
        for (size_t e = 0; e < a->n_floats; e++)
            k->f[e] = a->floats[e];
    return k;
}

nn_status ox_fold(ox_const **out, const Onnx__NodeProto *n, ox_const *const *in, int n_in, const char *who,
                  nn_err *err)
{
    const char *op = n->op_type;
    ox_const *o = NULL, *d = n_in > 0 ? in[0] : NULL;
    nn_status s = NN_OK;
    int64_t v[OX_MAX_DIMS], w[OX_MAX_DIMS], x[OX_MAX_DIMS], y[OX_MAX_DIMS];
    if (strcmp(op, "Constant") == 0) {
        o = fold_constant(n, who, err, &s);
    } else if (!d) {
        o = NULL;
    } else if (strcmp(op, "Identity") == 0) {
        o = fold_walk(d, d->ndim, d->dims, NULL, NULL, NULL);
    } else if (strcmp(op, "Cast") == 0) {
        int64_t to = ox_attr_i(n, "to", 1);
        if ((o = fold_new(to == 1 || to == 10 || to == 11, d->ndim, d->dims)))
            for (size_t e = 0; e < o->n; e++)
                copy_el(o, e, d, e);
    } else if (strcmp(op, "Shape") == 0) {
        int64_t nd = d->ndim;
        if ((o = ox_const_new(false, 1, &nd)))
            memcpy(o->i, d->dims, (size_t)nd * sizeof *o->i);
    } else if (strcmp(op, "Gather") == 0) {
        int a = norm_axis(ox_attr_i(n, "axis", 0), d->ndim);
        o = a >= 0 && n_in > 1 && in[1] ? fold_gather(d, in[1], a) : NULL;
    } else if (strcmp(op, "Unsqueeze") == 0 || strcmp(op, "Squeeze") == 0) {
        bool un = op[0] == 'U', mark[OX_MAX_DIMS] = {false};
        int na = ints_of(n, "axes", in, n_in, 1, v, OX_MAX_DIMS), on = un ? d->ndim + (na > 0 ? na : 0) : d->ndim;
        bool ok = on <= OX_MAX_DIMS && (na > 0 || !un);
        for (int i = 0; ok && i < na; i++) {
            int a = norm_axis(v[i], on);
            ok = a >= 0 && !mark[a] && (un || d->dims[a] == 1);
            if (ok)
                mark[a] = true;
        }
        int k2 = 0;
        for (int i = 0, j = 0; ok && i < on; i++)
            if (un)
                w[k2++] = mark[i] ? 1 : d->dims[j++];
            else if (!(na > 0 ? mark[i] : d->dims[i] == 1))
                w[k2++] = d->dims[i];
        if (ok && (o = like(d, k2, w)))
            for (size_t e = 0; e < o->n; e++)
                copy_el(o, e, d, e);
    } else if (strcmp(op, "Concat") == 0) {
        int a = norm_axis(ox_attr_i(n, "axis", 0), d->ndim);
        memcpy(w, d->dims, sizeof w);
        for (int i = 1; a >= 0 && i < n_in; i++)
            if (!in[i] || in[i]->ndim != d->ndim || in[i]->is_float != d->is_float)
                a = -1;
            else
                w[a] += i ? in[i]->dims[a] : 0;
        if (a >= 0 && (o = like(d, d->ndim, w))) {
            size_t outer = prod(d->dims, 0, a), e = 0;
            for (size_t p = 0; p < outer; p++)
                for (int i = 0; i < n_in; i++) {
                    size_t chunk = prod(in[i]->dims, a, in[i]->ndim);
                    for (size_t q = 0; q < chunk; q++)
                        copy_el(o, e++, in[i], p * chunk + q);
                }
        }
    } else if (strcmp(op, "Reshape") == 0) {
        int nd = n_in > 1 && in[1] ? (int)in[1]->n : -1, infer = -1;
        size_t known = 1;
        for (int i = 0; i < nd && nd <= OX_MAX_DIMS; i++) {
            w[i] = in[1]->i ? in[1]->i[i] : -2;
            if (w[i] == 0 && !ox_attr_i(n, "allowzero", 0))
                w[i] = i < d->ndim ? d->dims[i] : -2;
            if (w[i] == -1)
                infer = infer < 0 ? i : -2;
            else if (w[i] < 0)
                infer = -2;
            else
                known *= (size_t)w[i];
        }
        if (infer >= 0 && known)
            w[infer] = (int64_t)(d->n / known);
        if (nd >= 0 && nd <= OX_MAX_DIMS && infer != -2 && (o = like(d, nd, w)) && o->n != d->n) {
            ox_const_free(o);
            o = NULL;
        }
        for (size_t e = 0; o && e < o->n; e++)
            copy_el(o, e, d, e);
    } else if (strcmp(op, "Transpose") == 0) {
        const Onnx__AttributeProto *a = ox_attr(n, "perm");
        int perm[OX_MAX_DIMS];
        bool ok = !a || (int)a->n_ints == d->ndim, seen[OX_MAX_DIMS] = {false};
        for (int i = 0; ok && i < d->ndim; i++) {
            perm[i] = a ? (int)a->ints[i] : d->ndim - 1 - i;
            ok = perm[i] >= 0 && perm[i] < d->ndim && !seen[perm[i]];
            if (ok)
                seen[perm[i]] = true, w[i] = d->dims[perm[i]];
        }
        o = ok ? fold_walk(d, d->ndim, w, NULL, NULL, perm) : NULL;
    } else if (strcmp(op, "Slice") == 0) {
        int ns = ints_of(n, "starts", in, n_in, 1, v, OX_MAX_DIMS), ne = ints_of(n, "ends", in, n_in, 2, w, OX_MAX_DIMS);
        int na = ints_of(n, "axes", in, n_in, 3, x, OX_MAX_DIMS), np = n_in > 4 ? ints_of(n, "steps", in, n_in, 4, y, OX_MAX_DIMS) : -1;
        if (ns >= 0 && ns == ne && (na < 0 || na == ns) && (np < 0 || np == ns))
            o = fold_slice(d, v, w, na < 0 ? NULL : x, np < 0 ? NULL : y, ns);
    } else if (strcmp(op, "ConstantOfShape") == 0) {
        const Onnx__AttributeProto *a = ox_attr(n, "value");
        ox_const *val = NULL;
        if (a && a->t && (s = ox_const_decode(&val, a->t, who, "value", err)))
            return s;
        long long dl[OX_MAX_DIMS];
        size_t cnt = 0;
        for (size_t i = 0; !d->is_float && i < d->n && i < OX_MAX_DIMS; i++)
            dl[i] = d->i[i];
        /* the one operator that makes many values from few: at most OX_MAX_FILL */
        if (!d->is_float && d->ndim == 1 && d->n <= OX_MAX_DIMS && imp_count(dl, (int)d->n, &cnt) &&
            cnt <= OX_MAX_FILL && (o = fold_new(val ? val->is_float : true, (int)d->n, d->i)))
            for (size_t e = 0; val && val->n && e < o->n; e++)
                copy_el(o, e, val, 0);
        ox_const_free(val);
    } else if (n_in > 1 && in[1]) {
        char c = op[0] == 'A' ? '+' : op[0] == 'S' ? '-' : op[0] == 'M' ? '*' : '/';
        o = fold_binary(c, d, in[1]);
    }
    if (s)
        return s;
    if (!o)
        return nn_fail(err, NN_E_UNSUPPORTED, "%s: cannot evaluate this operator on its constant inputs (shapes, "
                       "axes or indices out of range, or a case the importer does not fold)", who);
    *out = o;
    return NN_OK;
}
