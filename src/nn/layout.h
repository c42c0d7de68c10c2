/* layout.h — conversion of one parameter tensor between PyTorch's layout (as stored in
 * safetensors) and the engine's layout (graph.h). */
#ifndef STEERD_LAYOUT_H
#define STEERD_LAYOUT_H

#include "nn/graph.h"

/* role: index of the parameter within its layer (0 = weight). src and dst hold p->count floats. */
void nn_layout_from_torch(const nn_layer *l, int role, const nn_param *p, const float *src, float *dst);
void nn_layout_to_torch(const nn_layer *l, int role, const nn_param *p, const float *src, float *dst);

#endif
