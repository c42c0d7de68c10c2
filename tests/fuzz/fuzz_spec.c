/* fuzz_spec.c — libFuzzer target for the model YAML parser (yamldoc + spec + blocks): any input
 * must parse or fail with a one-line message that echoes none of the file's bytes (fuzz_echo.h),
 * never crash, leak or hang. A model that parses is sized the way the programs size it: every
 * layer within the limits of src/nn/limits.h, and, when it is small enough for the fuzzer's
 * memory, an inference context is created (plan, arena) and run, so a size computation that
 * overflows shows up under ASan (issue 12, defect 1). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_echo.h"
#include "nn/cost.h"
#include "nn/graph.h"
#include "nn/limits.h"

#define FUZZ_MAX_ACT_BYTES (64u << 20) /* contexts are only created for models up to this */
#define FUZZ_MAX_PARAMS (4u << 20)

static void size_and_run(nn_graph *g)
{
    for (int i = 0; i < g->n_layers; i++) {
        nn_shape s = g->layers[i].out;
        if (s.h < 1 || s.w < 1 || s.c < 1 || s.h > NN_MAX_DIM || s.w > NN_MAX_DIM ||
            nn_shape_size(s) > (size_t)NN_MAX_TENSOR)
            abort(); /* the parser let a tensor past the limits */
    }
    if (g->n_param_floats > (size_t)NN_MAX_PARAMS)
        abort();
    nn_cost c = nn_graph_cost(g);
    if (c.act_bytes > FUZZ_MAX_ACT_BYTES / 4 || g->n_param_floats > FUZZ_MAX_PARAMS)
        return;
    nn_model m = {.g = *g};
    m.params = calloc(g->n_param_floats ? g->n_param_floats : 1, sizeof(float));
    if (!m.params)
        return;
    nn_model_init_he(&m, 1);
    nn_infer *ctx;
    nn_err err;
    if (nn_infer_create(&ctx, &m, 2, 1, &err) == NN_OK) {
        /* He weights, batch norm identity: the self-check (a full forward pass) must pass unless
         * the model itself overflows float (e.g. a huge dense fan-in): only run it for coverage. */
        (void)nn_infer_selfcheck(ctx, &m, &err);
        memset(nn_infer_input(ctx), 0, 2 * nn_shape_size(g->layers[0].out) * sizeof(float));
        if (nn_infer_run(ctx, 2, &err) != NN_OK)
            abort();
        nn_infer_free(ctx);
    } else if (strchr(err.msg, '\n')) {
        abort();
    }
    free(m.params);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nn_graph g;
    nn_err err = {{0}};
    if (nn_graph_parse_buffer(&g, (const char *)data, size, "fuzz.yaml", &err) == NN_OK) {
        size_and_run(&g);
        nn_graph_free(&g);
        return 0;
    }
    if (!err.msg[0] || strchr(err.msg, '\n'))
        abort();
    fuzz_check_no_echo(data, size, err.msg);
    return 0;
}
