/* cost.c — counts parameters, multiply-adds and activation bytes of each layer (per sample). */
#include "nn/cost.h"

nn_cost nn_layer_cost(const nn_graph *g, const nn_layer *l)
{
    nn_cost c = {0};
    for (int i = 0; i < l->n_params; i++) {
        const nn_param *p = nn_layer_param(g, l, i);
        c.params += p->count;
        if (p->trainable)
            c.trainable += p->count;
    }
    uint64_t out = nn_shape_size(l->out);
    switch (l->op) {
    case NN_OP_CONV2D:
        c.macs = out * (uint64_t)(l->in.c / l->groups) * (uint64_t)(l->kh * l->kw);
        break;
    case NN_OP_DEPTHWISE:
        c.macs = out * (uint64_t)(l->kh * l->kw);
        break;
    case NN_OP_DENSE:
        c.macs = out * nn_shape_size(l->in);
        break;
    default:
        break;
    }
    c.act_bytes = out * sizeof(float);
    return c;
}

nn_cost nn_graph_cost(const nn_graph *g)
{
    nn_cost t = {0};
    for (int i = 1; i < g->n_layers; i++) {
        nn_cost c = nn_layer_cost(g, &g->layers[i]);
        t.params += c.params;
        t.trainable += c.trainable;
        t.macs += c.macs;
        t.act_bytes += c.act_bytes;
    }
    return t;
}
