/* import.h — model importers (`steerctl import`): ONNX (onnx_import.c, built with libprotobuf-c)
 * and Keras 2 .h5 (keras_import.c, built with libhdf5) into an imp_model (imodel.h), which imp_write turns into the zoo's YAML + safetensors. */
#ifndef STEERD_IMPORT_IMPORT_H
#define STEERD_IMPORT_IMPORT_H

#include <stddef.h>

#include "import/imodel.h"

/* Largest model file read (bytes). */
#define IMP_MAX_FILE ((size_t)2 << 30)
/* Largest Keras architecture JSON given apart (--config; the seed's models take some 20 KiB). */
#define IMP_MAX_CONFIG ((size_t)64 << 20)

/* Reads an ONNX model from buf[0..len) (`src` names it in messages) into m (imp_init'ed). */
nn_status imp_onnx_parse(imp_model *m, const uint8_t *buf, size_t len, nn_err *err);

/* Reads a Keras 2 .h5 (model.save) from buf[0..len) into m; keras_import.c, built with libhdf5. */
nn_status imp_keras_parse(imp_model *m, const uint8_t *buf, size_t len, nn_err *err);

/* Reads the file m->src (a regular file of at most IMP_MAX_FILE bytes) and hands it to parse. */
typedef nn_status (*imp_parse_fn)(imp_model *m, const uint8_t *buf, size_t len, nn_err *err);
nn_status imp_read(imp_model *m, imp_parse_fn parse, nn_err *err);
/* As imp_read, but parse runs in a forked child under limits on address space and CPU time
 * (isolate.c), for a library that may crash on a damaged file: the parsed model comes back over a
 * pipe, bounds-checked; a child that dies (signal, limit, ASan report) is NN_E_PARSE naming `lib`
 * and the signal or exit status. */
nn_status imp_read_isolated(imp_model *m, imp_parse_fn parse, const char *lib, nn_err *err);

#endif
