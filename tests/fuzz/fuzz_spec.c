/* fuzz_spec.c — libFuzzer target for the model YAML parser (yamldoc + spec + blocks): any input
 * must parse or fail with a message, never crash, leak or hang. */
#include <stddef.h>
#include <stdint.h>

#include "nn/graph.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nn_graph g;
    nn_err err;
    if (nn_graph_parse_buffer(&g, (const char *)data, size, "fuzz.yaml", &err) == NN_OK)
        nn_graph_free(&g);
    return 0;
}
