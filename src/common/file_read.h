/* file_read.h — the one safe way to open and read an input file (and to make an output folder): never blocks in open() (a FIFO, a
 * terminal or a device given as a path), refuses anything that is not a regular file by naming
 * its kind, reports the errno reason, and bounds the size before anything is allocated. */
#ifndef STEERD_COMMON_FILE_READ_H
#define STEERD_COMMON_FILE_READ_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* What a path is when it is not a regular file: "a directory", "a FIFO", "a socket",
 * "a character device", "a block device", "a symbolic link" or "not a regular file". */
const char *cm_file_kind(unsigned mode);

/* Opens path read-only (O_NONBLOCK | O_CLOEXEC, so open() itself cannot hang on a FIFO) and checks
 * it is a regular file. On success *fd is the open descriptor (blocking again) and *size its
 * length; on failure nothing is left open and err says e.g. `m.yaml: cannot open: No such file or
 * directory` or `m.yaml: is a FIFO, expected a regular file`. */
nn_status cm_open_regular(const char *path, int *fd, size_t *size, nn_err *err);

/* Reads all of a regular file of at most max_bytes into a malloc'ed, NUL-terminated buffer (*buf,
 * *len without the NUL; free it). Larger files are refused before anything is allocated:
 * `m.yaml: file is 2000000 bytes, larger than the limit of 1048576`. */
nn_status cm_read_regular(const char *path, size_t max_bytes, char **buf, size_t *len, nn_err *err);

/* Like cm_read_regular, but a command-line input may also be a stream: a FIFO, a pipe or a terminal
 * (`--input /dev/stdin`, `<(make_input)`) is read until end of file (at most max_bytes), blocking
 * as `cat` would; directories, sockets, block devices and character devices other than terminals
 * (/dev/zero) are refused by kind. Never for a daemon's files. */
nn_status cm_read_input(const char *path, size_t max_bytes, char **buf, size_t *len, nn_err *err);

/* Creates the folder dir and any missing parents (mode 0777 less the umask), as `mkdir -p`; an
 * existing folder is fine. Fails naming the part that could not be made (`data/sim: cannot create
 * directory: Permission denied`) or that exists as something else (`data: exists and is not a
 * directory`). */
nn_status cm_mkdirs(const char *dir, nn_err *err);

#endif
