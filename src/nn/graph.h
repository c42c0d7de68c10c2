/* graph.h — the engine's internal model representation: a list of primitive layers (composite
 * blocks already expanded), their shapes, and named parameters stored in the engine's own
 * layouts inside one float array. Shared by spec parsing, weights I/O, cost, and backends. */
#ifndef STEERD_NN_GRAPH_H
#define STEERD_NN_GRAPH_H

#include <stdbool.h>
#include <stddef.h>

#include "nn.h"

#define NN_NAME_LEN 96
#define NN_MAX_INPUTS 8
#define NN_MAX_LABELS 64

typedef enum {
    NN_OP_INPUT = 0,
    NN_OP_CONV2D,
    NN_OP_DEPTHWISE,
    NN_OP_MAXPOOL,
    NN_OP_AVGPOOL,
    NN_OP_GLOBAL_AVGPOOL,
    NN_OP_BATCHNORM,
    NN_OP_RELU,
    NN_OP_LEAKY_RELU,
    NN_OP_SOFTMAX,
    NN_OP_DENSE,
    NN_OP_FLATTEN,
    NN_OP_DROPOUT,
    NN_OP_CHANNEL_SHUFFLE,
    NN_OP_ADD,
    NN_OP_CONCAT,
    NN_OP_SIGMOID,
    NN_OP_TANH,
    NN_OP_ELU,
    NN_OP_CLIP,
    NN_OP_COUNT
} nn_op;

/* Epilogue applied in place after a layer's main computation (inference fusion). */
typedef enum { NN_ACT_NONE = 0, NN_ACT_RELU, NN_ACT_LEAKY } nn_act;

/* Per-sample shape, NHWC without N. A flattened tensor has h = w = 1 and remembers the spatial
 * shape it came from (src_*), because PyTorch flattens NCHW: per-feature parameters after a
 * flatten (dense weights, batch-norm vectors) are permuted from CHW to HWC order at load. */
typedef struct {
    int h, w, c;
    int src_h, src_w, src_c; /* 0 unless this is a flatten of a spatial tensor */
} nn_shape;

static inline size_t nn_shape_size(nn_shape s) { return (size_t)s.h * (size_t)s.w * (size_t)s.c; }

/* A named parameter tensor. PyTorch name and shape (e.g. "b1.conv1.weight", OIHW) are what the
 * safetensors file holds; `offset` locates the engine-layout copy inside nn_model.params. */
typedef struct {
    char name[NN_NAME_LEN + 24];
    int ndim;
    int dims[4];     /* PyTorch shape */
    size_t offset;   /* into params, in floats */
    size_t count;
    bool trainable;  /* false for BN running_mean / running_var */
} nn_param;

typedef enum { NN_PARAM_WEIGHT = 0, NN_PARAM_BIAS, NN_PARAM_RUNNING_MEAN, NN_PARAM_RUNNING_VAR } nn_param_role;

/* One primitive layer. Engine parameter layouts (all row-major):
 *   conv2d    weight [groups][kh][kw][cin/groups][cout/groups]   (im2col K x N per group)
 *   depthwise weight [kh][kw][cin*depth_multiplier]              (output channel o reads input o/dm)
 *   dense     weight [in][out]   (in in HWC order)
 *   bias      [out]
 *   batchnorm weight(gamma), bias(beta), running_mean, running_var: [c] each */
typedef struct {
    char name[NN_NAME_LEN];
    nn_op op;
    int line, col;               /* where the layer (or its block) is in the YAML */
    int inputs[NN_MAX_INPUTS];   /* indices of producing layers; layer 0 is the input */
    int n_inputs;
    nn_shape in, out;            /* in = shape of inputs[0] */

    /* conv2d / depthwise / pooling */
    int kh, kw, sh, sw;
    int pad_top, pad_bottom, pad_left, pad_right;
    bool count_pad;              /* avg_pool: padded cells count in the divisor (PyTorch count_include_pad) */
    int groups;                  /* conv2d groups, channel_shuffle groups */
    int depth_multiplier;
    int units;                   /* conv2d filters, dense units */
    bool has_bias;

    float alpha;                 /* leaky_relu slope, elu scale */
    float lo, hi;                /* clip bounds: y = min(max(x, lo), hi) */
    float eps, momentum;         /* batch_norm (momentum as in PyTorch) */
    float rate;                  /* dropout */

    nn_act act;                  /* fused epilogue (inference plans only) */
    float act_alpha;

    int param_first, n_params;   /* range in nn_graph.params; weight first, then bias / BN */
} nn_layer;

typedef enum { NN_OUT_CLASSES = 0, NN_OUT_STEERING, NN_OUT_VALUES } nn_output_kind;

typedef struct {
    bool crop;                   /* crop rows [top,bottom) cols [left,right) of the source frame */
    int src_h, src_w;            /* expected source frame size (0 = any) */
    int top, bottom, left, right;
    float scale, offset;         /* x = pixel * scale + offset (pixel in 0..255) */
    bool keep_aspect;            /* a frame of another aspect ratio than the source size (the input
                                    size without one) is first cropped to it, centred, instead of
                                    stretched (steerd's source.aspect: crop; not in the model YAML) */
} nn_preprocess;

typedef struct {
    char name[NN_NAME_LEN];
    char path[512];
    int in_h, in_w, in_c;
    nn_preprocess pre;
    nn_output_kind out_kind;
    float steer_scale_deg;       /* angle_deg = output * steer_scale_deg */
    int n_labels;
    char labels[NN_MAX_LABELS][32];

    nn_layer *layers;            /* layers[0] is NN_OP_INPUT */
    int n_layers;
    nn_param *params;
    int n_params;
    size_t n_param_floats;
} nn_graph;

/* spec.c: parse a model YAML into a graph (layers expanded, shapes propagated, params laid out). */
nn_status nn_graph_parse_file(nn_graph *g, const char *path, nn_err *err);
nn_status nn_graph_parse_buffer(nn_graph *g, const char *yaml, size_t len, const char *name_for_errors,
                                nn_err *err);
void nn_graph_free(nn_graph *g);

const char *nn_op_name(nn_op op);

/* limits.c (limits.h): every layer's output x max_batch within NN_MAX_TENSOR (and max_batch in
 * [1, 65536]); a context's arena of `floats` within NN_MAX_ARENA_BYTES (`what`: "inference", ...).
 * SIZE_MAX floats means the computation overflowed (also refused). */
nn_status nn_graph_check_batch(const nn_graph *g, int max_batch, nn_err *err);
nn_status nn_check_arena(const nn_graph *g, const char *what, size_t floats, int max_batch, nn_err *err);

/* Parameter accessors. */
static inline const nn_param *nn_layer_param(const nn_graph *g, const nn_layer *l, int i)
{
    return &g->params[l->param_first + i];
}

struct nn_model {
    nn_graph g;
    float *params;               /* n_param_floats, engine layout */
    char checksum[80];
    char weights[512];           /* the weights file loaded, "" when none (zero / He-initialised) */
};

#endif
