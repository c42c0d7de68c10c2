/* onnx_import.c — ONNX (opsets 7..18) to the engine's primitives: the graph is walked in its
 * (topological) node order, each value tracked as an engine tensor (spatial or flat, in NCHW or
 * behind an NHWC transpose), a constant, or a step of a recognised pattern (Pad -> Conv/MaxPool,
 * MatMul -> Add, Reshape -> Transpose -> Reshape channel shuffle). This file: the value table, the
 * helpers the operators share, the graph input and the walk; the operators are in onnx_ops.c,
 * constants and folding in onnx_const.c. Anything the engine cannot represent is one error naming
 * the node, its operator and the attribute (docs/FORMATS.md §9). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import/import.h"
#include "import/onnx_internal.h"
#include "nn/limits.h"


nn_status ox_fail(ox_ctx *c, nn_status s, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return nn_fail(c->err, s, "%s: %s", c->who, msg);
}

ox_val *ox_find(ox_ctx *c, const char *name)
{
    for (size_t i = c->n_v; name && name[0] && i-- > 0;)
        if (strcmp(c->v[i].name, name) == 0)
            return &c->v[i];
    return NULL;
}

ox_val *ox_add_val(ox_ctx *c, const char *name)
{
    if (c->n_v == c->cap_v)
        return NULL; /* sized up front */
    ox_val *v = &c->v[c->n_v++];
    memset(v, 0, sizeof *v);
    v->name = name;
    v->bias_layer = -1;
    return v;
}

/* The constant of value v (decoding an initializer on first use); NULL when v is not constant. */
ox_const *ox_konst(ox_ctx *c, ox_val *v, nn_status *s)
{
    *s = NN_OK;
    if (!v || v->kind != OV_CONST)
        return NULL;
    if (!v->k)
        *s = ox_const_decode(&v->k, v->init, c->src, v->name, c->err);
    return v->k;
}

static int cmp_name(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* The sorted list of names the graph reads, for ox_readers (a bias folded into the layer that
 * makes a value must not reach that value's other readers). */
static nn_status index_reads(ox_ctx *c, const Onnx__GraphProto *g)
{
    size_t n = g->n_output;
    for (size_t i = 0; i < g->n_node; i++)
        n += g->node[i]->n_input;
    if (!(c->reads = malloc((n ? n : 1) * sizeof *c->reads)))
        return nn_fail(c->err, NN_E_NOMEM, "%s: out of memory", c->src);
    for (size_t i = 0; i < g->n_node; i++)
        for (size_t j = 0; j < g->node[i]->n_input; j++)
            if (g->node[i]->input[j] && g->node[i]->input[j][0])
                c->reads[c->n_reads++] = g->node[i]->input[j];
    for (size_t i = 0; i < g->n_output; i++)
        if (g->output[i]->name && g->output[i]->name[0])
            c->reads[c->n_reads++] = g->output[i]->name;
    qsort(c->reads, c->n_reads, sizeof *c->reads, cmp_name);
    return NN_OK;
}

size_t ox_readers(const ox_ctx *c, const char *name)
{
    size_t lo = 0, hi = c->n_reads; /* the first entry >= name */
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        if (strcmp(c->reads[mid], name) < 0) lo = mid + 1;
        else hi = mid;
    }
    size_t n = 0;
    while (lo + n < c->n_reads && strcmp(c->reads[lo + n], name) == 0)
        n++;
    return n;
}

/* Input i of the current node (NULL when absent or empty). */
ox_val *ox_in(ox_ctx *c, size_t i) { return i < c->node->n_input ? ox_find(c, c->node->input[i]) : NULL; }

/* ---- names and layers ---- */

static void node_base(const Onnx__NodeProto *n, const ox_val *weight, char *buf, size_t cap)
{
    const char *wn = weight ? weight->name : NULL;
    size_t wl = wn ? strlen(wn) : 0;
    if (wl > 7 && strcmp(wn + wl - 7, ".weight") == 0 && !strstr(wn, "::")) {
        snprintf(buf, cap, "%.*s", (int)(wl - 7), wn);
        return;
    }
    const char *nm = n->name && n->name[0] ? n->name : n->op_type;
    while (*nm == '/')
        nm++;
    snprintf(buf, cap, "%s", nm);
    char *slash = strrchr(buf, '/');
    if (slash && slash != buf && strncmp(slash + 1, n->op_type, strlen(n->op_type)) == 0)
        *slash = '\0';
}

/* Appends layer `type` reading the values ins[0..n) and makes the node's first output its result. */
nn_status ox_emit(ox_ctx *c, const ox_val *weight, const char *type, ox_val *const *ins, int n, imp_layer **out)
{
    const char *names[NN_MAX_INPUTS];
    for (int i = 0; i < n && i < NN_MAX_INPUTS; i++)
        names[i] = ins[i]->layer;
    char base[NN_NAME_LEN];
    node_base(c->node, weight, base, sizeof base);
    return imp_add(c->m, base, type, names, n < 1 ? 1 : n, out, c->err);
}

ox_val *ox_result(ox_ctx *c, const ox_val *like, ox_kind kind, const imp_layer *l)
{
    ox_val *o = ox_add_val(c, c->node->output[0]);
    if (!o)
        return NULL;
    const char *name = o->name;
    if (like)
        *o = *like;
    o->name = name;
    o->kind = kind;
    o->padded = false;
    o->bias_layer = -1;
    if (l)
        snprintf(o->layer, sizeof o->layer, "%s", l->name);
    return o;
}

/* ---- the graph input ---- */

/* Decides the input's layout: NHWC when its first reader is a Transpose [0, 3, 1, 2], else NCHW
 * (a rank-2 input [N, F] is 1 x 1 x F). */
nn_status ox_resolve_input(ox_ctx *c, ox_val *v, bool nhwc)
{
    int *d = v->in_d;
    if (v->in_rank == 2) {
        c->m->in_h = c->m->in_w = 1;
        c->m->in_c = d[0];
    } else {
        c->m->in_h = nhwc ? d[0] : d[1];
        c->m->in_w = nhwc ? d[1] : d[2];
        c->m->in_c = nhwc ? d[2] : d[0];
    }
    v->kind = OV_SPATIAL;
    v->h = c->m->in_h;
    v->w = c->m->in_w;
    v->c = c->m->in_c;
    snprintf(v->layer, sizeof v->layer, "input");
    return NN_OK;
}

/* Input i as an engine tensor: spatial (NCHW unless nhwc_ok) or, with flat_ok, flat; with pad_ok it
 * may carry a pending Pad. */
nn_status ox_tensor_in_pad(ox_ctx *c, size_t i, bool flat_ok, bool nhwc_ok, bool pad_ok, ox_val **out)
{
    ox_val *v = ox_in(c, i);
    char q[IMP_QUOTE_LEN];
    if (!v || v->kind == OV_UNSET)
        return ox_fail(c, NN_E_PARSE, "input %zu %s is missing (no initializer, graph input or earlier node "
                       "produces it)", i, imp_quote(q, i < c->node->n_input ? c->node->input[i] : NULL));
    if (v->kind == OV_INPUT)
        ox_resolve_input(c, v, false);
    if (v->padded && !pad_ok)
        return ox_fail(c, NN_E_UNSUPPORTED, "reads the output of a Pad, which only a Conv, MaxPool or AveragePool "
                    "can take as its padding");
    if (v->kind == OV_CONST)
        return ox_fail(c, NN_E_UNSUPPORTED, "input %zu is a constant tensor where the engine needs a computed one", i);
    if (v->kind == OV_SHUF5 || v->kind == OV_SHUF5T)
        return ox_fail(c, NN_E_UNSUPPORTED, "reads a 5-D tensor (only the Reshape/Transpose/Reshape channel shuffle "
                    "pattern is supported)");
    if (v->kind == OV_VEC3)
        return ox_fail(c, NN_E_UNSUPPORTED, "reads a 3-D tensor (only Squeeze / Unsqueeze may take the [N, C] <-> "
                       "[N, C, 1, 1] steps through 3-D)");
    if (v->kind == OV_FLAT && !flat_ok)
        return ox_fail(c, NN_E_UNSUPPORTED, "needs a 4-D [N, C, H, W] input (got a flat [N, %d] tensor)", v->c);
    if (v->kind == OV_SPATIAL && v->nhwc && !nhwc_ok)
        return ox_fail(c, NN_E_UNSUPPORTED, "reads an NHWC tensor (behind a Transpose [0, 2, 3, 1]); the engine's "
                    "convolutions and pooling read NCHW");
    *out = v;
    return NN_OK;
}

nn_status ox_tensor_in(ox_ctx *c, size_t i, bool flat_ok, bool nhwc_ok, ox_val **out)
{
    return ox_tensor_in_pad(c, i, flat_ok, nhwc_ok, false, out);
}

/* A float constant input (a weight): exact shape required. */
nn_status ox_weight_in(ox_ctx *c, size_t i, const char *what, int ndim, const int64_t *dims, ox_const **out,
                           ox_val **val)
{
    nn_status s;
    ox_val *v = ox_in(c, i);
    ox_const *k = ox_konst(c, v, &s);
    char q[IMP_QUOTE_LEN];
    if (s)
        return s;
    if (!v && i < c->node->n_input && c->node->input[i][0])
        return ox_fail(c, NN_E_PARSE, "%s %s (input %zu) is missing: no initializer, Constant or node produces it",
                    what, imp_quote(q, c->node->input[i]), i);
    if (!k || !k->is_float)
        return ox_fail(c, NN_E_UNSUPPORTED, "%s (input %zu) must be a float initializer or Constant", what, i);
    bool ok = k->ndim == ndim;
    for (int d = 0; ok && d < ndim; d++)
        ok = dims[d] < 0 || k->dims[d] == dims[d];
    if (!ok) {
        char got[96] = "", want[96] = "";
        for (int d = 0, u = 0; d < k->ndim && d < 6; d++)
            u += snprintf(got + u, sizeof got - (size_t)u, "%s%lld", d ? "x" : "", (long long)k->dims[d]);
        for (int d = 0, u = 0; d < ndim; d++)
            u += dims[d] < 0 ? snprintf(want + u, sizeof want - (size_t)u, "%s?", d ? "x" : "")
                             : snprintf(want + u, sizeof want - (size_t)u, "%s%lld", d ? "x" : "", (long long)dims[d]);
        return ox_fail(c, NN_E_SHAPE, "%s %s has shape %s, expected %s", what, imp_quote(q, v->name),
                    got[0] ? got : "scalar", want);
    }
    *out = k;
    if (val)
        *val = v;
    return NN_OK;
}

nn_status ox_add_tensor(ox_ctx *c, const imp_layer *l, const char *suffix, const ox_const *k, int ndim,
                            const int *dims, const int *perm_cols)
{
    float *d = malloc((k->n ? k->n : 1) * sizeof *d);
    if (!d)
        return nn_fail(c->err, NN_E_NOMEM, "%s: out of memory", c->src);
    size_t cols = (size_t)dims[ndim - 1]; /* perm_cols reorders the last dimension (1-D: the vector) */
    for (size_t e = 0; e < k->n; e++)
        d[e] = perm_cols ? k->f[(e / cols) * cols + (size_t)perm_cols[e % cols]] : k->f[e];
    return imp_tensor_add(c->m, l->name, suffix, ndim, dims, d, c->err);
}

/* ---- the walk ---- */

static nn_status dispatch(ox_ctx *c)
{
    const char *op = c->node->op_type;
    if (strcmp(op, "Conv") == 0)
        return ox_op_conv(c);
    if (strcmp(op, "MaxPool") == 0 || strcmp(op, "AveragePool") == 0)
        return ox_op_pool(c, op[0] == 'M');
    if (strcmp(op, "BatchNormalization") == 0)
        return ox_op_batchnorm(c);
    if (strcmp(op, "Relu") == 0 || strcmp(op, "LeakyRelu") == 0 || strcmp(op, "Clip") == 0 ||
        strcmp(op, "Sigmoid") == 0 || strcmp(op, "Tanh") == 0 || strcmp(op, "Elu") == 0)
        return ox_op_act(c, op);
    if (strcmp(op, "Softmax") == 0)
        return ox_op_softmax(c);
    if (strcmp(op, "GlobalAveragePool") == 0 || strcmp(op, "ReduceMean") == 0)
        return ox_op_global_pool(c, op[0] == 'R');
    if (strcmp(op, "Flatten") == 0)
        return ox_op_flatten(c);
    if (strcmp(op, "Shape") == 0)
        return ox_op_shape(c);
    if (strcmp(op, "Reshape") == 0)
        return ox_op_reshape(c);
    if (strcmp(op, "Transpose") == 0)
        return ox_op_transpose(c);
    if (strcmp(op, "Add") == 0 || strcmp(op, "Sum") == 0 || strcmp(op, "Concat") == 0)
        return ox_op_merge(c, op[0] != 'C');
    if (strcmp(op, "Gemm") == 0 || strcmp(op, "MatMul") == 0)
        return ox_op_dense(c, op[0] == 'G');
    if (strcmp(op, "Pad") == 0)
        return ox_op_pad(c);
    if (strcmp(op, "Squeeze") == 0 || strcmp(op, "Unsqueeze") == 0)
        return ox_op_squeeze(c, op[0] == 'U');
    if (strcmp(op, "Identity") == 0 || strcmp(op, "Dropout") == 0)
        return ox_op_identity(c, op[0] == 'D');
    static const char *const known[] = {"HardSigmoid", "HardSwish", "Selu", "PRelu", "Mish", "Gelu", "Softplus", NULL};
    for (int i = 0; known[i]; i++)
        if (strcmp(op, known[i]) == 0)
            return ox_fail(c, NN_E_UNSUPPORTED, "the engine has no %s activation (it has relu, leaky_relu, sigmoid, "
                        "tanh, elu, clip and softmax)", op);
    return ox_fail(c, NN_E_UNSUPPORTED, "operator not supported by the importer (docs/FORMATS.md lists those that are)");
}

static nn_status fold_node(ox_ctx *c, bool *done)
{
    const Onnx__NodeProto *n = c->node;
    ox_const *ins[8] = {NULL};
    nn_status s;
    *done = false;
    if (n->n_input > 8 || (strcmp(n->op_type, "Constant") != 0 && (!ox_foldable(n->op_type) || !n->n_input)))
        return NN_OK;
    for (size_t i = 0; i < n->n_input; i++) {
        ox_val *v = ox_in(c, i);
        if (n->input[i][0] && !(ins[i] = ox_konst(c, v, &s)))
            return s;
    }
    if (n->n_output < 1)
        return ox_fail(c, NN_E_PARSE, "no output");
    ox_const *o;
    if ((s = ox_fold(&o, n, ins, (int)n->n_input, c->who, c->err)))
        return s;
    if (o->n > c->fold_left) {
        ox_const_free(o);
        return ox_fail(c, NN_E_UNSUPPORTED, "constant folding produced more values than the importer's limit "
                       "(4 M plus 4 per byte of the file)");
    }
    c->fold_left -= o->n;
    ox_val *r = ox_add_val(c, n->output[0]);
    if (!r) {
        ox_const_free(o);
        return nn_fail(c->err, NN_E_NOMEM, "%s: out of memory", c->src);
    }
    r->kind = OV_CONST;
    r->k = o;
    *done = true;
    return NN_OK;
}

static nn_status graph_input(ox_ctx *c, const Onnx__GraphProto *g)
{
    const Onnx__ValueInfoProto *vi = NULL;
    char q[IMP_QUOTE_LEN];
    for (size_t i = 0; i < g->n_input; i++) {
        bool init = false;
        for (size_t j = 0; j < g->n_initializer && !init; j++)
            init = g->initializer[j]->name && g->input[i]->name && strcmp(g->initializer[j]->name, g->input[i]->name) == 0;
        if (init)
            continue;
        if (vi)
            return nn_fail(c->err, NN_E_UNSUPPORTED, "%s: graph input %s: the engine takes one input", c->src,
                           imp_quote(q, g->input[i]->name));
        vi = g->input[i];
    }
    if (!vi || !vi->name)
        return nn_fail(c->err, NN_E_PARSE, "%s: the graph has no input", c->src);
    const Onnx__TypeProto *tp = vi->type;
    const Onnx__TensorShapeProto *sh = tp && tp->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE && tp->tensor_type
                                           ? tp->tensor_type->shape : NULL;
    if (!sh || (sh->n_dim != 4 && sh->n_dim != 2) || tp->tensor_type->elem_type != 1)
        return nn_fail(c->err, NN_E_UNSUPPORTED, "%s: graph input %s: expected a float32 tensor of rank 4 "
                       "[N, C, H, W] / [N, H, W, C] or rank 2 [N, F]", c->src, imp_quote(q, vi->name));
    ox_val *v = ox_add_val(c, vi->name);
    v->kind = OV_INPUT;
    v->in_rank = (int)sh->n_dim;
    const Onnx__TensorShapeProto__Dimension *d0 = sh->dim[0];
    /* the batch: a number, or dynamic (a name such as "N" / tf2onnx's "unk__0", no value, or < 1) */
    c->batch = d0->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && d0->dim_value > 0
                   ? d0->dim_value : 0;
    for (size_t i = 1; i < sh->n_dim; i++) {
        const Onnx__TensorShapeProto__Dimension *d = sh->dim[i];
        if (d->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE || d->dim_value < 1 ||
            d->dim_value > 8192)
            return nn_fail(c->err, NN_E_UNSUPPORTED, "%s: graph input %s: dimension %zu must be a fixed size in "
                           "[1, 8192] (only the batch may be dynamic)", c->src, imp_quote(q, vi->name), i);
        v->in_d[i - 1] = (int)d->dim_value;
    }
    snprintf(v->layer, sizeof v->layer, "input");
    return NN_OK;
}

static nn_status walk(ox_ctx *c, const Onnx__ModelProto *mp)
{
    const Onnx__GraphProto *g = mp->graph;
    char q[IMP_QUOTE_LEN], q2[IMP_QUOTE_LEN];
    if (!g)
        return nn_fail(c->err, NN_E_PARSE, "%s: no graph", c->src);
    c->opset = 0;
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const char *d = mp->opset_import[i]->domain;
        if (!d || !d[0] || strcmp(d, "ai.onnx") == 0)
            c->opset = mp->opset_import[i]->version;
    }
    if (c->opset < 7 || c->opset > 18)
        return nn_fail(c->err, NN_E_UNSUPPORTED, "%s: opset %lld: supported are opsets 7 to 18", c->src,
                       (long long)c->opset);
    if (g->n_node > 100000 || g->n_initializer > 100000 || g->n_input > 100000)
        return nn_fail(c->err, NN_E_UNSUPPORTED, "%s: %zu nodes, %zu initializers: more than the importer's limit of "
                       "100000 each", c->src, g->n_node, g->n_initializer);
    c->cap_v = g->n_input + g->n_initializer + 1;
    for (size_t i = 0; i < g->n_node; i++)
        c->cap_v += g->node[i]->n_output < 16 ? g->node[i]->n_output : 16;
    if (!(c->v = calloc(c->cap_v, sizeof *c->v)))
        return nn_fail(c->err, NN_E_NOMEM, "%s: out of memory", c->src);
    nn_status s = index_reads(c, g);
    if (!s) s = graph_input(c, g);
    for (size_t i = 0; !s && i < g->n_initializer; i++) {
        ox_val *v = ox_add_val(c, g->initializer[i]->name ? g->initializer[i]->name : "");
        v->kind = OV_CONST;
        v->init = g->initializer[i];
    }
    for (size_t i = 0; !s && i < g->n_node; i++) {
        const Onnx__NodeProto *n = c->node = g->node[i];
        snprintf(c->who, sizeof c->who, "%s: node %s (%s)", c->src, imp_quote(q, n->name && n->name[0] ? n->name : "?"),
                 imp_quote(q2, n->op_type ? n->op_type : "?"));
        if (!n->op_type || n->n_output < 1) {
            s = ox_fail(c, NN_E_PARSE, "no operator type or no output");
            break;
        }
        if (n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx") != 0) {
            s = ox_fail(c, NN_E_UNSUPPORTED, "domain %s: only the default ONNX domain is supported", imp_quote(q, n->domain));
            break;
        }
        bool done;
        if (!(s = fold_node(c, &done)) && !done)
            s = dispatch(c);
    }
    if (s)
        return s;
    if (g->n_output != 1 || !g->output[0]->name)
        return nn_fail(c->err, NN_E_UNSUPPORTED, "%s: the graph has %zu outputs (the engine's model has one)", c->src,
                       g->n_output);
    ox_val *o = ox_find(c, g->output[0]->name);
    const char *last = c->m->n_l ? c->m->l[c->m->n_l - 1].name : "";
    if (!o || (o->kind != OV_SPATIAL && o->kind != OV_FLAT) || o->padded || strcmp(o->layer, last) != 0)
        return nn_fail(c->err, NN_E_UNSUPPORTED, "%s: graph output %s is not the result of the last layer the "
                       "importer made (outputs that are inputs, constants or side branches are not supported)",
                       c->src, imp_quote(q, g->output[0]->name));
    return NN_OK;
}

nn_status imp_onnx_parse(imp_model *m, const uint8_t *buf, size_t len, nn_err *err)
{
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, buf);
    if (!mp)
        return nn_fail(err, NN_E_PARSE, "%s: not a valid ONNX file (the protobuf message does not decode: "
                       "truncated or not ONNX)", m->src);
    ox_ctx c = {.src = m->src, .m = m, .err = err, .fold_left = ((size_t)1 << 22) + 4 * len};
    nn_status s = walk(&c, mp);
    for (size_t i = 0; i < c.n_v; i++)
        ox_const_free(c.v[i].k);
    free(c.v);
    free(c.reads);
    onnx__model_proto__free_unpacked(mp, NULL);
    return s;
}
