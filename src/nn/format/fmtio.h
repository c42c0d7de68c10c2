/* fmtio.h — private file helpers shared by the format writers: atomic writes (path.tmp, fsync, rename; the temp file is removed on any failure). */
#ifndef STEERD_FORMAT_FMTIO_H
#define STEERD_FORMAT_FMTIO_H

#include <stddef.h>
#include <stdint.h>

#include "nn/nn.h"

typedef struct {
    int fd;              /* -1 when closed */
    char *tmp;           /* "<path>.tmp", malloc'ed; NULL when nothing to remove */
    const char *path;
} fmt_atomic;

/* Each call below cleans up (closes and removes the temp file) by itself when it fails. */
nn_status fmt_atomic_open(fmt_atomic *a, const char *path, nn_err *err);
nn_status fmt_atomic_write(fmt_atomic *a, const void *p, size_t n, nn_err *err);
/* fsync, close, rename over path, fsync the directory (best effort). */
nn_status fmt_atomic_commit(fmt_atomic *a, nn_err *err);
/* Closes and removes the temp file; safe to call twice and after a commit. */
void fmt_atomic_abort(fmt_atomic *a);

#endif
