/* fuzz_h5.c — libFuzzer harness for the Keras .h5 importer (imp_keras_parse: libhdf5 on an
 * in-memory image, the model_config JSON, the layer walk): any input either fails with one line
 * echoing no file bytes, or gives an imported model whose layers and tensors are consistent
 * (input shape set, every tensor's data fully readable). Build/run: tests/fuzz/run.sh h5 SECONDS. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    imp_model m;
    imp_init(&m, "fuzz.h5", "Keras .h5");
    nn_err err = {{0}};
    nn_status s = imp_keras_parse(&m, data, size, &err);
    fuzz_import_check(s, &m, &err, data, size);
    return 0;
}
