/* drivelog_read.h — private to src/io: what the three drive-log readers (drivelog_udacity.c,
 * drivelog_sully.c, drivelog_donkey.c) share, implemented in drivelog.c: opening a log given as a
 * file or a folder, growing the row array and the path pool, one-line errors
 * `file:line: field: problem (got 'value')`, number fields, image lookup against a list of
 * candidate paths with the missing-image policy of io_drive_opts, and the final pass that turns
 * pool offsets into row pointers. */
#ifndef STEERD_IO_DRIVELOG_READ_H
#define STEERD_IO_DRIVELOG_READ_H

#include <stdio.h>
#include <sys/types.h>

#include "common/sha256.h"
#include "io/drivelog.h"

enum { IO_PATH_CENTER = 0, IO_PATH_LEFT, IO_PATH_RIGHT, IO_PATH_FILE, IO_ROW_PATHS };

typedef struct {
    io_drive_log *log;
    io_drive_opts opts;
    size_t *offs;        /* IO_ROW_PATHS pool offsets per row (SIZE_MAX: ""); pointers set at the end */
    nn_err *err;
    char file[4096];     /* the file being read, for messages */
    size_t file_off;     /* its pool offset */
    int line;            /* its current line (from 1) */
    sha256_ctx sha;      /* every byte read, for log->digest */
} io_reader;

/* Starts reading: path is the log file or a folder holding `default_name` (or, for the
 * alternatives in also[0..n_also), `<folder>/<also[i]>` when default_name is absent). Fills
 * log->path/dir, opens the file (*fp). On failure nothing is allocated. */
nn_status io_rd_open(io_reader *rd, io_drive_log *log, const char *path, const char *default_name,
                     const char *const *also, int n_also, const io_drive_opts *opts, nn_err *err, FILE **fp);
/* Reads the next line of fp into *line (getline's buffer, *cap): *text is where its text starts
 * (after a UTF-8 BOM on line 1), *eof is set at the end of the file. Counts rd->line and adds the
 * bytes to the digest. A NUL byte in the line (`file:line: field: NUL byte in the line`) and a read
 * error fail. */
nn_status io_rd_getline(io_reader *rd, FILE *fp, const char *field, char **line, size_t *cap, char **text,
                        bool *eof);
/* Adds bytes read in one piece (the Donkey manifest) to the digest. */
void io_rd_hash(io_reader *rd, const void *buf, size_t len);
/* Switches messages and row->file to another file (e.g. a Donkey catalog). */
nn_status io_rd_set_file(io_reader *rd, const char *path);
/* `<file>:<line>: <field>: <problem> (got '<got>')`. */
nn_status io_rd_fail(io_reader *rd, const char *field, const char *problem, const char *got);
/* A finite number in [lo, hi] (the whole of s). */
nn_status io_rd_number(io_reader *rd, const char *field, const char *s, double lo, double hi, float *out);
/* The next row (zeroed, line and file set), not counted until io_rd_commit; NULL: out of memory
 * (the error is set). */
io_drive_row *io_rd_row(io_reader *rd);
void io_rd_commit(io_reader *rd);
/* Looks up image `value` (field `field` of the current row, which slot IO_PATH_* it fills) as
 * each of cand[0..n) in turn; the first that is a file is kept. When none is: without
 * check_images cand[0] is kept; with skip_missing it is counted (*missing = true, slot ""),
 * otherwise the load fails with `problem`. Empty values: an error when required, else "". */
nn_status io_rd_image(io_reader *rd, const char *field, const char *value, const char *const *cand, int n,
                      const char *problem, bool required, int slot, bool *missing);
/* Ends a load: on success sets the row pointers and all_timed and checks that rows were read
 * (`what` names the expected content for the "no rows" message); on failure frees the log. */
nn_status io_rd_finish(io_reader *rd, nn_status s, const char *what);

bool io_rd_is_file(const char *path);
/* Splits off surrounding blanks (spaces, tabs, CR, LF) in place. */
char *io_rd_trim(char *s);
/* Days since 1970-01-01 of a proleptic Gregorian date. */
int64_t io_rd_days_from_civil(int64_t y, int m, int d);

#endif
