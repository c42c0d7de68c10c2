/* file.h — the io library's one way to open an input file as a FILE* (images, drive logs,
 * Donkey catalogs): cm_open_regular (common/file_read.h: never blocks; a directory, FIFO or device
 * is refused by kind, `x: is a FIFO, expected a regular file`; errno reasons), then fdopen. */
#ifndef STEERD_IO_FILE_H
#define STEERD_IO_FILE_H

#include <stdio.h>

#include "nn/nn.h"

nn_status io_fopen_regular(const char *path, FILE **fp, nn_err *err);

#endif
