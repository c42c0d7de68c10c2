/* fmtio.c — private file helpers for the format code: atomic write
 * (write "<path>.tmp", fsync, rename, fsync the directory). */
#include "nn/format/fmtio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nn/graph.h"

void fmt_atomic_abort(fmt_atomic *a)
{
    if (a->fd >= 0)
        close(a->fd);
    a->fd = -1;
    if (a->tmp)
        unlink(a->tmp);
    free(a->tmp);
    a->tmp = NULL;
}

nn_status fmt_atomic_open(fmt_atomic *a, const char *path, nn_err *err)
{
    a->fd = -1;
    a->path = path;
    size_t n = strlen(path);
    a->tmp = malloc(n + 5);
    if (!a->tmp)
        return nn_fail(err, NN_E_NOMEM, "%s: out of memory", path);
    memcpy(a->tmp, path, n);
    memcpy(a->tmp + n, ".tmp", 5);
    a->fd = open(a->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (a->fd < 0) {
        int e = errno;
        free(a->tmp);
        a->tmp = NULL;
        return nn_fail(err, NN_E_IO, "%s: cannot create %s.tmp: %s", path, path, strerror(e));
    }
    return NN_OK;
}

nn_status fmt_atomic_write(fmt_atomic *a, const void *p, size_t n, nn_err *err)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = write(a->fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = w < 0 ? errno : EIO;
            fmt_atomic_abort(a);
            return nn_fail(err, NN_E_IO, "%s: cannot write: %s", a->path, strerror(e));
        }
        b += w;
        n -= (size_t)w;
    }
    return NN_OK;
}

nn_status fmt_atomic_commit(fmt_atomic *a, nn_err *err)
{
    if (fsync(a->fd) != 0) {
        int e = errno;
        fmt_atomic_abort(a);
        return nn_fail(err, NN_E_IO, "%s: cannot fsync: %s", a->path, strerror(e));
    }
    int rc = close(a->fd);
    a->fd = -1;
    if (rc != 0) {
        int e = errno;
        fmt_atomic_abort(a);
        return nn_fail(err, NN_E_IO, "%s: cannot close: %s", a->path, strerror(e));
    }
    if (rename(a->tmp, a->path) != 0) {
        int e = errno;
        fmt_atomic_abort(a);
        return nn_fail(err, NN_E_IO, "%s: cannot rename %s.tmp into place: %s", a->path, a->path,
                       strerror(e));
    }
    free(a->tmp);
    a->tmp = NULL;
    /* Make the rename durable: fsync the containing directory (best effort). */
    const char *slash = strrchr(a->path, '/');
    char *dir = slash ? strndup(a->path, slash == a->path ? 1 : (size_t)(slash - a->path)) : strdup(".");
    if (dir) {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            (void)fsync(dfd);
            close(dfd);
        }
        free(dir);
    }
    return NN_OK;
}
