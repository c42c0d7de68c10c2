/* err.h — errors as values, shared by every library: a status code and a one-line message that
 * names the file, field and value (nn_fail formats it). The bottom of the layer picture: it
 * depends on nothing of the project's. The `nn_` prefix is historical (the engine came first). */
#ifndef STEERD_COMMON_ERR_H
#define STEERD_COMMON_ERR_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    NN_OK = 0,
    NN_E_IO,          /* file cannot be opened / read / written */
    NN_E_PARSE,       /* malformed YAML, JSON header or .npy */
    NN_E_SPEC,        /* unknown layer type or key, bad value */
    NN_E_SHAPE,       /* a shape cannot propagate through a layer */
    NN_E_WEIGHTS,     /* missing / extra / misshaped / wrong-dtype tensor, truncated file */
    NN_E_CHECKSUM,    /* weights checksum mismatch */
    NN_E_NOMEM,
    NN_E_ARG,         /* bad argument from the caller */
    NN_E_UNSUPPORTED, /* valid request this build cannot do (e.g. backend not compiled) */
    NN_E_DEVICE,      /* the GPU: no usable device, or a CUDA / cuDNN / cuBLAS call failed */
} nn_status;

#define NN_ERR_LEN 512
typedef struct {
    char msg[NN_ERR_LEN];
} nn_err;

const char *nn_status_str(nn_status s);
/* Formats a one-line message into err (may be NULL) and returns s. */
nn_status nn_fail(nn_err *err, nn_status s, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#ifdef __cplusplus
}
#endif

#endif
