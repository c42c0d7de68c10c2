/* imodel.h — a model being imported (ONNX, Keras .h5): primitive layers in the zoo YAML's terms
 * (docs/FORMATS.md §1), their parameters with PyTorch names and layouts (§2), and the writer that
 * turns it into DIR/NAME.yaml + DIR/NAME.safetensors only once the engine has loaded both and the
 * model passed its self-check (temp files, renamed at the end: nothing is left on failure). */
#ifndef STEERD_IMPORT_IMODEL_H
#define STEERD_IMPORT_IMODEL_H

#include <stdbool.h>
#include <stddef.h>

#include "nn/graph.h"

typedef struct {
    char name[NN_NAME_LEN];
    char type[32];                          /* YAML type, e.g. "conv2d" */
    char keys[192];                         /* further YAML keys, ", filters: 8, kernel: [3, 3]" */
    char inputs[NN_MAX_INPUTS][NN_NAME_LEN]; /* layer names ("input": the model's input) */
    int n_inputs;
    int bias;                               /* -1: no bias key; 0 / 1: `bias: false|true` */
} imp_layer;

typedef struct {
    char name[NN_NAME_LEN + 24];            /* "<layer>.<weight|bias|...>" */
    int ndim;
    int dims[4];                            /* PyTorch shape */
    float *data;                            /* owned */
} imp_tensor;

typedef struct {
    const char *src;                        /* the file imported (messages, the YAML's header) */
    const char *format;                     /* "ONNX", "Keras .h5" */
    const char *config;                     /* Keras: the architecture JSON given apart from the weights
                                               (--config, NUL-terminated), NULL: the file's model_config */
    const char *config_src;                 /* the file config came from (messages) */
    int in_h, in_w, in_c;
    bool crop;                              /* preprocess crop (a Keras Cropping2D on the input) */
    int src_h, src_w, top, bottom, left, right;
    imp_layer *l;
    int n_l, cap_l;
    imp_tensor *t;
    int n_t, cap_t;
} imp_model;

void imp_init(imp_model *m, const char *src, const char *format);
void imp_free(imp_model *m);

/* Appends a layer named after `base` (characters outside [A-Za-z0-9_] become '_'; "_2", "_3"...
 * added when taken) reading `inputs` (n of them; n = 0: the previous layer). The pointer stays
 * valid until the next imp_add. */
nn_status imp_add(imp_model *m, const char *base, const char *type, const char *const *inputs, int n,
                  imp_layer **out, nn_err *err);
/* Appends printf-formatted text to l->keys (", kernel: [3, 3]"); false when it does not fit. */
bool imp_keys(imp_layer *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Adds tensor "<layer>.<suffix>" taking ownership of data (freed on failure too). */
nn_status imp_tensor_add(imp_model *m, const char *layer, const char *suffix, int ndim, const int *dims, float *data,
                         nn_err *err);
/* The index of the layer named `name`, -1 when none. */
int imp_find(const imp_model *m, const char *name);

/* Writes DIR/NAME.yaml and DIR/NAME.safetensors after loading them through the engine and running
 * its self-check; on any failure neither file exists afterwards (nor any temp file). */
nn_status imp_write(const imp_model *m, const char *dir, const char *name, char *yaml_path, size_t cap, nn_err *err);

/* A token from an imported file for a message (common/quote.h's rule, widened for exporters' node
 * names): 'text' when made of [A-Za-z0-9_.+-/:] and at most 96 bytes, else <N bytes, not shown>. */
#define IMP_QUOTE_LEN 100
const char *imp_quote(char buf[IMP_QUOTE_LEN], const char *s);

/* n as a Keras/ONNX dimension product with overflow checks: false when it exceeds NN_MAX_PARAMS. */
bool imp_count(const long long *dims, int ndim, size_t *n);

#endif
