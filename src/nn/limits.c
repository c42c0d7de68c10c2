/* limits.c — the checks of limits.h that need a graph: every tensor of a model times the batch
 * size, and the total size of a context's arena, each before that memory is allocated. */
#include "nn/limits.h"

#include "nn/graph.h"

nn_status nn_graph_check_batch(const nn_graph *g, int max_batch, nn_err *err)
{
    if (max_batch < 1 || max_batch > 65536)
        return nn_fail(err, NN_E_ARG, "batch size must be in [1, 65536] (got %d)", max_batch);
    for (int i = 0; i < g->n_layers; i++) {
        const nn_layer *l = &g->layers[i];
        size_t n;
        if (nn_mul_sz(nn_shape_size(l->out), (size_t)max_batch, &n) && n <= (size_t)NN_MAX_TENSOR)
            continue;
        return nn_fail(err, NN_E_SHAPE,
                       "%s:%d:%d: layer '%s' (%s): output %dx%dx%d x batch %d = %.3g elements exceeds the limit of "
                       "%ld elements per tensor (use a smaller batch)", g->path, l->line ? l->line : 1,
                       l->col ? l->col : 1, l->name, nn_op_name(l->op), l->out.h, l->out.w, l->out.c, max_batch,
                       (double)nn_shape_size(l->out) * max_batch, NN_MAX_TENSOR);
    }
    return NN_OK;
}

nn_status nn_check_arena(const nn_graph *g, const char *what, size_t floats, int max_batch, nn_err *err)
{
    if (floats <= NN_MAX_ARENA_BYTES / sizeof(float))
        return NN_OK;
    return nn_fail(err, NN_E_SHAPE, "%s: the %s arena for batch %d needs %.3g bytes, which exceeds the limit of %llu",
                   g->path, what, max_batch, (double)floats * sizeof(float), NN_MAX_ARENA_BYTES);
}
