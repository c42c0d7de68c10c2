/* onnx_internal.h — shared by the ONNX importer's files: constant tensors (initializers, Constant
 * nodes and what constant folding derives from them: onnx_const.c) and the per-value state of the
 * graph walk (onnx_import.c). Not an API. */
#ifndef STEERD_IMPORT_ONNX_INTERNAL_H
#define STEERD_IMPORT_ONNX_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "import/imodel.h"
#include "onnx.pb-c.h"

#define OX_MAX_DIMS 8
/* The batch dimension inside folded shape tensors (Shape of a dynamic-batch value). Arithmetic on
 * it gives it back, so a Reshape target can still say "the batch" wherever it came from. */
#define OX_BATCH (INT64_MIN / 4)

/* A constant: float32 (weights) or int64 (shapes, indices; every integer type is widened). */
typedef struct {
    int ndim;
    int64_t dims[OX_MAX_DIMS];
    size_t n;
    bool is_float;
    float *f;
    int64_t *i;
} ox_const;

typedef enum {
    OV_UNSET = 0, /* not produced yet */
    OV_INPUT,     /* the graph input, layout not decided yet (NCHW unless a Transpose says NHWC) */
    OV_SPATIAL,   /* an engine tensor h x w x c */
    OV_FLAT,      /* an engine tensor of c features */
    OV_CONST,     /* a constant (k, or the initializer init decoded on first use) */
    OV_SHUF5,     /* Reshape [N, g, c/g, h, w] of a spatial tensor (channel shuffle, step 1) */
    OV_SHUF5T,    /* ... then Transpose [0, 2, 1, 3, 4] (step 2; a Reshape back ends it) */
    OV_VEC3,      /* a 1x1xC tensor seen as [N, C, 1] / [N, 1, C] (vpos: C's axis): a step between
                   * Squeeze / Unsqueeze of [N, C] <-> 4-D one axis at a time (onnx_tf.c) */
} ox_kind;

typedef struct {
    const char *name;
    ox_kind kind;
    const Onnx__TensorProto *init;
    ox_const *k;
    char layer[NN_NAME_LEN];   /* the engine layer holding it; "input" for the model input */
    int c, h, w;               /* spatial: h x w x c; flat: c features */
    int sh, sw, sc;            /* flat of a spatial tensor: its shape (for HWC <-> CHW orders) */
    bool nhwc;                 /* spatial seen by the graph as N,H,W,C (behind a [0,2,3,1] Transpose) */
    bool hwc;                  /* flat whose features are in H,W,C order (flattened while NHWC) */
    bool padded;               /* a Pad the next Conv / pooling takes: pad[] top, bottom, left, right */
    int pad[4];
    float padv;
    int groups;                /* OV_SHUF5* */
    int vpos;                  /* OV_VEC3 */
    int bias_layer;            /* conv / dense layer without bias whose direct output this is; -1 */
    int in_d[3];               /* OV_INPUT: dims 1..3 as declared */
    int in_rank;
} ox_val;

void ox_const_free(ox_const *k);
/* Decodes an initializer / Constant tensor; `what` names it in messages. */
nn_status ox_const_decode(ox_const **out, const Onnx__TensorProto *t, const char *src, const char *what, nn_err *err);
/* A new constant of the given shape (zeroed). */
ox_const *ox_const_new(bool is_float, int ndim, const int64_t *dims);
/* Element i as a double (int64 exactly as far as double allows). */
double ox_at(const ox_const *k, size_t i);

/* True when `op` is one the folder evaluates when all its inputs are constant. */
bool ox_foldable(const char *op);
/* Evaluates node n on constant inputs in[0..n_in) (NULL for an absent optional input). On an
 * error, the message names the node (`who`: "model.onnx: node 'x' (Op)"). */
nn_status ox_fold(ox_const **out, const Onnx__NodeProto *n, ox_const *const *in, int n_in, const char *who,
                  nn_err *err);

/* Node attributes (NULL / default when absent). */
const Onnx__AttributeProto *ox_attr(const Onnx__NodeProto *n, const char *name);
int64_t ox_attr_i(const Onnx__NodeProto *n, const char *name, int64_t def);
float ox_attr_f(const Onnx__NodeProto *n, const char *name, float def);

typedef struct {
    const char *src;
    imp_model *m;
    nn_err *err;
    ox_val *v;
    size_t n_v, cap_v;
    int64_t opset;
    int64_t batch;                 /* the input's static batch size, 0 when dynamic */
    size_t fold_left;              /* values constant folding may still produce (bounds its time) */
    const char **reads;            /* every node input and graph output name, sorted (ox_readers) */
    size_t n_reads;
    const Onnx__NodeProto *node;
    char who[320];                 /* "model.onnx: node '/conv1/Conv' (Conv)" */
} ox_ctx;

/* onnx_import.c: the walk's helpers (inputs are the current node's). */
nn_status ox_fail(ox_ctx *c, nn_status s, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
ox_val *ox_find(ox_ctx *c, const char *name);
ox_val *ox_add_val(ox_ctx *c, const char *name);
ox_const *ox_konst(ox_ctx *c, ox_val *v, nn_status *s);
ox_val *ox_in(ox_ctx *c, size_t i);
/* How many times the graph reads value `name` (node inputs and graph outputs). */
size_t ox_readers(const ox_ctx *c, const char *name);
nn_status ox_emit(ox_ctx *c, const ox_val *weight, const char *type, ox_val *const *ins, int n, imp_layer **out);
ox_val *ox_result(ox_ctx *c, const ox_val *like, ox_kind kind, const imp_layer *l);
nn_status ox_resolve_input(ox_ctx *c, ox_val *v, bool nhwc);
nn_status ox_tensor_in_pad(ox_ctx *c, size_t i, bool flat_ok, bool nhwc_ok, bool pad_ok, ox_val **out);
nn_status ox_tensor_in(ox_ctx *c, size_t i, bool flat_ok, bool nhwc_ok, ox_val **out);
nn_status ox_weight_in(ox_ctx *c, size_t i, const char *what, int ndim, const int64_t *dims, ox_const **out,
                       ox_val **val);
nn_status ox_add_tensor(ox_ctx *c, const imp_layer *l, const char *suffix, const ox_const *k, int ndim,
                        const int *dims, const int *perm_cols);

/* onnx_ops.c: one function per operator (or family), reading c->node. */
nn_status ox_alias(ox_ctx *c, ox_val *x, ox_kind kind);
nn_status ox_op_conv(ox_ctx *c);
nn_status ox_op_pool(ox_ctx *c, bool max);
nn_status ox_op_batchnorm(ox_ctx *c);
nn_status ox_op_act(ox_ctx *c, const char *op);
nn_status ox_op_softmax(ox_ctx *c);
nn_status ox_op_global_pool(ox_ctx *c, bool reduce);
nn_status ox_op_flatten(ox_ctx *c);
nn_status ox_op_shape(ox_ctx *c);
nn_status ox_op_reshape(ox_ctx *c);
nn_status ox_op_transpose(ox_ctx *c);
nn_status ox_op_merge(ox_ctx *c, bool add);
nn_status ox_op_dense(ox_ctx *c, bool gemm);
nn_status ox_op_pad(ox_ctx *c);
/* ONNX dims of an engine tensor value as the graph sees them (dim 0: OX_BATCH); the rank. */
int ox_dims(const ox_val *x, int64_t *d);
/* onnx_tf.c: Squeeze / Unsqueeze of computed tensors (the 1x1 dims around global pooling). */
nn_status ox_op_squeeze(ox_ctx *c, bool un);
/* Identity, and Dropout in inference (dropped). */
nn_status ox_op_identity(ox_ctx *c, bool dropout);

#endif
