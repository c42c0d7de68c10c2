/* file.c — io_fopen_regular: a regular input file as a FILE* (see file.h). */
#include "io/file.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "common/file_read.h"

nn_status io_fopen_regular(const char *path, FILE **fp, nn_err *err)
{
    int fd;
    size_t size;
    *fp = NULL;
    nn_status s = cm_open_regular(path, &fd, &size, err);
    if (s)
        return s;
    *fp = fdopen(fd, "rb");
    if (!*fp) {
        s = nn_fail(err, NN_E_IO, "%s: cannot open: %s", path, strerror(errno));
        close(fd);
    }
    return s;
}
