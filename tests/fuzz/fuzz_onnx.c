/* fuzz_onnx.c — libFuzzer harness for the ONNX importer (imp_onnx_parse: the protobuf decode, the
 * constant folder and the graph walk): any input either fails with one line echoing no file
 * bytes, or gives an imported model whose layers and tensors are consistent (input shape set,
 * every tensor's data fully readable). Build/run: tests/fuzz/run.sh onnx SECONDS. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    imp_model m;
    imp_init(&m, "fuzz.onnx", "ONNX");
    nn_err err = {{0}};
    nn_status s = imp_onnx_parse(&m, data, size, &err);
    fuzz_import_check(s, &m, &err, data, size);
    return 0;
}
