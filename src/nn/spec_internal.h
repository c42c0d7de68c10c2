/* spec_internal.h — the builder shared by spec.c (document, layers, shapes, parameters) and
 * blocks.c (composite blocks expanded into primitives). Not part of the engine API. */
#ifndef STEERD_SPEC_INTERNAL_H
#define STEERD_SPEC_INTERNAL_H

#include "common/yamldoc.h"
#include "nn/graph.h"

typedef enum { PAD_VALID = 0, PAD_SAME, PAD_EXPLICIT } spec_pad_mode;
typedef enum { SPEC_ACT_NONE = 0, SPEC_ACT_RELU, SPEC_ACT_LEAKY, SPEC_ACT_SOFTMAX } spec_act;

/* One primitive to append: the layer's own fields plus what is resolved against its input. */
typedef struct {
    nn_layer l;                 /* name, op, kernel, stride, units, groups, dm, bias, alpha, eps, ... */
    spec_pad_mode pad_mode;     /* PAD_EXPLICIT uses l.pad_* */
    const char *input_names[NN_MAX_INPUTS]; /* NULL: the previous layer */
    int n_input_names;
} spec_prim;

typedef struct {
    const yd_doc *doc;
    nn_graph *g;
    nn_err *err;
    int layers_cap;
    int params_cap;
    size_t act_floats;          /* outputs of the layers so far, one sample (NN_MAX_ARENA_BYTES) */
} spec_builder;

/* Appends a primitive (shape propagated, parameters laid out); `where` positions errors. */
nn_status spec_add(spec_builder *b, spec_prim *p, const yd_node *where);
/* Appends the activation layer `<name>.act` when act != SPEC_ACT_NONE. */
nn_status spec_add_act(spec_builder *b, const char *name, spec_act act, float alpha, const yd_node *where);
/* Parses the keys shared by layers that take an activation. */
nn_status spec_read_act(spec_builder *b, const yd_node *n, spec_act def, spec_act *act, float *alpha);

/* blocks.c: composite blocks. `type` is the YAML type string. Returns NN_E_SPEC for an unknown type
 * only when `handled` is NULL; otherwise sets *handled = false and returns NN_OK. */
nn_status spec_add_block(spec_builder *b, const yd_node *n, const char *name, const char *type, bool *handled);

#endif
