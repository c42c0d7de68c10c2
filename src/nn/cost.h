/* cost.h — the cost report: parameters, trainable parameters, multiply-adds and activation
 * bytes per layer (per sample), with the counting rules of `steerctl model info`. */
#ifndef STEERD_COST_H
#define STEERD_COST_H

#include <stdint.h>

#include "nn/graph.h"

typedef struct {
    uint64_t params;      /* every stored element (batch norm: 4 per channel) */
    uint64_t trainable;   /* batch norm: gamma and beta only */
    uint64_t macs;        /* conv2d, depthwise_conv2d and dense multiply-adds */
    uint64_t act_bytes;   /* float32 output tensor of the layer */
} nn_cost;

nn_cost nn_layer_cost(const nn_graph *g, const nn_layer *l);
nn_cost nn_graph_cost(const nn_graph *g);

#endif
