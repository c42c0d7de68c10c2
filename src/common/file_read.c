/* file_read.c — non-blocking open of regular files only, and bounded whole-file reads. */
#include "common/file_read.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *cm_file_kind(unsigned mode)
{
    switch (mode & S_IFMT) {
    case S_IFDIR: return "a directory";
    case S_IFIFO: return "a FIFO";
    case S_IFSOCK: return "a socket";
    case S_IFCHR: return "a character device";
    case S_IFBLK: return "a block device";
    case S_IFLNK: return "a symbolic link";
    default: return "not a regular file";
    }
}

nn_status cm_open_regular(const char *path, int *fd, size_t *size, nn_err *err)
{
    *fd = -1;
    *size = 0;
    int f = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (f < 0)
        return nn_fail(err, NN_E_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(f, &st) != 0) {
        int e = errno;
        close(f);
        return nn_fail(err, NN_E_IO, "%s: cannot read: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(f);
        return nn_fail(err, NN_E_IO, "%s: is %s, expected a regular file", path, cm_file_kind(st.st_mode));
    }
    int fl = fcntl(f, F_GETFL);
    if (fl < 0 || fcntl(f, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        int e = errno;
        close(f);
        return nn_fail(err, NN_E_IO, "%s: cannot read: %s", path, strerror(e));
    }
    *fd = f;
    *size = (size_t)st.st_size;
    return NN_OK;
}

/* Reads fd to its end into a malloc'ed, NUL-terminated buffer of at most max_bytes (closes fd).
 * expect: the size fstat gave for a regular file (the first allocation), 0 for a stream. */
static nn_status read_all(const char *path, int fd, size_t expect, size_t max_bytes, char **buf, size_t *len,
                          nn_err *err)
{
    size_t cap = expect ? expect + 1 : 65536, n = 0;
    if (cap > max_bytes + 1)
        cap = max_bytes + 1;
    char *p = malloc(cap + 1);
    nn_status s = NN_OK;
    if (!p)
        s = nn_fail(err, NN_E_NOMEM, "%s: out of memory reading %zu bytes", path, cap);
    while (!s) {
        if (n == cap) {
            if (cap > max_bytes) {
                s = nn_fail(err, NN_E_IO, "%s: more than the limit of %zu bytes", path, max_bytes);
                break;
            }
            size_t grown = cap > max_bytes / 2 ? max_bytes + 1 : cap * 2;
            char *q = realloc(p, grown + 1);
            if (!q) {
                s = nn_fail(err, NN_E_NOMEM, "%s: out of memory reading %zu bytes", path, grown);
                break;
            }
            p = q;
            cap = grown;
        }
        ssize_t r = read(fd, p + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            s = nn_fail(err, NN_E_IO, "%s: cannot read: %s", path, strerror(errno));
        else if (r == 0)
            break;
        else
            n += (size_t)r;
    }
    close(fd);
    if (s) {
        free(p);
        return s;
    }
    p[n] = '\0';
    *buf = p;
    *len = n;
    return NN_OK;
}

nn_status cm_read_regular(const char *path, size_t max_bytes, char **buf, size_t *len, nn_err *err)
{
    *buf = NULL;
    *len = 0;
    int fd;
    size_t size;
    nn_status s = cm_open_regular(path, &fd, &size, err);
    if (s)
        return s;
    if (size > max_bytes) {
        close(fd);
        return nn_fail(err, NN_E_IO, "%s: file is %zu bytes, larger than the limit of %zu", path, size, max_bytes);
    }
    return read_all(path, fd, size, max_bytes, buf, len, err);
}

nn_status cm_read_input(const char *path, size_t max_bytes, char **buf, size_t *len, nn_err *err)
{
    *buf = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return nn_fail(err, NN_E_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return nn_fail(err, NN_E_IO, "%s: cannot read: %s", path, strerror(e));
    }
    bool regular = S_ISREG(st.st_mode);
    /* A character device is a stream only when it is a terminal: /dev/zero or /dev/urandom would
     * be read up to the limit for nothing. */
    if (!regular && !S_ISFIFO(st.st_mode) && !(S_ISCHR(st.st_mode) && isatty(fd))) {
        close(fd);
        return nn_fail(err, NN_E_IO, "%s: is %s, expected a file or a stream", path, cm_file_kind(st.st_mode));
    }
    if (regular && (size_t)st.st_size > max_bytes) {
        close(fd);
        return nn_fail(err, NN_E_IO, "%s: file is %zu bytes, larger than the limit of %zu", path,
                       (size_t)st.st_size, max_bytes);
    }
    return read_all(path, fd, regular ? (size_t)st.st_size : 0, max_bytes, buf, len, err);
}

/* One level of cm_mkdirs: p made, or already a folder. */
static nn_status mkdir_one(const char *p, nn_err *err)
{
    struct stat st;
    if (mkdir(p, 0777) == 0)
        return NN_OK;
    int e = errno;
    if (stat(p, &st) == 0)
        return S_ISDIR(st.st_mode) ? NN_OK : nn_fail(err, NN_E_IO, "%s: exists and is not a directory", p);
    return nn_fail(err, NN_E_IO, "%s: cannot create directory: %s", p, strerror(e));
}

nn_status cm_mkdirs(const char *dir, nn_err *err)
{
    char p[4096];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p)
        return nn_fail(err, NN_E_IO, "%s: path too long", dir);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/' || s[-1] == '/')
            continue;
        *s = 0;
        nn_status st = mkdir_one(p, err);
        *s = '/';
        if (st)
            return st;
    }
    return mkdir_one(p, err);
}
