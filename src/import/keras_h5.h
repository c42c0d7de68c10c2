/* keras_h5.h — the HDF5 side of the Keras importer (keras_h5.c, libhdf5): a Keras 2 `.h5` file
 * opened from memory, its string attributes, and the weights of a layer found through the
 * layer group's `weight_names` attribute (docs/FORMATS.md §9 documents the layout). */
#ifndef STEERD_IMPORT_KERAS_H5_H
#define STEERD_IMPORT_KERAS_H5_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

typedef struct {
    int64_t file;         /* hid_t, < 0 when closed */
    int64_t fapl;
    const char *src;
    char weights_root[16]; /* "model_weights" (model.save) or "" (save_weights) */
} kh5;

nn_status kh5_open(kh5 *h, const uint8_t *buf, size_t len, const char *src, nn_err *err);
void kh5_close(kh5 *h);
/* A string attribute of the root group (malloc'ed, NUL-terminated); NN_E_PARSE naming it when absent. */
nn_status kh5_root_attr(kh5 *h, const char *name, char **out, nn_err *err);
/* True when the root group has an attribute `name`. */
int kh5_root_has(kh5 *h, const char *name);
/* The names in the weights root's `layer_names` attribute whose group holds at least one weight
 * (*n of them, malloc'ed; kh5_free_names); *n = 0 when there is no such attribute (or memory). */
void kh5_weighted_layers(kh5 *h, char ***names, int *n);
void kh5_free_names(char **names, int n);
/* The weight of `layer` whose name ends with "/<suffix>" (e.g. "kernel:0"), as float32 (malloc'ed),
 * its rank (<= 4) and dims. NN_E_WEIGHTS naming layer and weight when it is absent or too big. */
nn_status kh5_weight(kh5 *h, const char *layer, const char *suffix, float **data, int *ndim, int dims[4],
                     nn_err *err);
/* True when `layer` has a weight named ".../<suffix>". */
int kh5_has_weight(kh5 *h, const char *layer, const char *suffix);

#endif
