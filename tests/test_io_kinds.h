/* test_io_kinds.h — one check shared by the drive-log reader tests (test_io_drivelog.c,
 * test_io_sully.c, test_io_donkey.c): a file the reader opens (the log, a catalog, an image the
 * log names) replaced in turn by a directory, a FIFO (no writer: the load must not block) and a
 * character device (a symlink to /dev/null) is refused with one line naming the path and its
 * kind, and nothing stays allocated. Include after test_util.h. */
#ifndef STEERD_TEST_IO_KINDS_H
#define STEERD_TEST_IO_KINDS_H

#include <sys/stat.h>
#include <unistd.h>

#include "io/drivelog.h"

/* Loads `format` from load_path with each kind at `victim` (a regular file, restored from
 * `content` afterwards); want_fmt: the expected message with one %s for the kind ("a FIFO"). */
static inline void expect_not_regular(const char *format, const char *load_path, const char *victim,
                                      const char *content, const char *want_fmt)
{
    static const char *const kinds[3] = {"a directory", "a FIFO", "a character device"};
    for (int k = 0; k < 3; k++) {
        assert_int_equal(unlink(victim), 0);
        if (k == 0)
            assert_int_equal(mkdir(victim, 0700), 0);
        else if (k == 1)
            assert_int_equal(mkfifo(victim, 0600), 0);
        else
            assert_int_equal(symlink("/dev/null", victim), 0);
        io_drive_log log;
        nn_err err;
        nn_status s = io_drive_load(&log, format, load_path, NULL, &err);
        char want[2048];
        snprintf(want, sizeof want, want_fmt, kinds[k]);
        if (s == NN_OK || strcmp(err.msg, want) != 0)
            fail_msg("%s with %s as %s: got status %d '%s', want '%s'", format, victim, kinds[k], s,
                     s ? err.msg : "", want);
        assert_null(log.rows);
        assert_null(log.pool);
        assert_int_equal(k == 0 ? rmdir(victim) : unlink(victim), 0);
        write_text(victim, content);
    }
}

/* The one-file formats (Udacity, Sully): the log `log` (written with `text`, loaded through its
 * folder `dir`), then the image at `image` that line 1 names as `value` in column `field`. */
static inline void expect_log_and_image_not_regular(const char *format, const char *dir, const char *log,
                                                    const char *text, const char *image, const char *field,
                                                    const char *value)
{
    char want[2048];
    write_text(log, text);
    snprintf(want, sizeof want, "%s: is %%s, expected a regular file", log);
    expect_not_regular(format, dir, log, text, want);
    snprintf(want, sizeof want, "%s:1: %s: image is %%s, expected a regular file (got '%s')", log, field, value);
    expect_not_regular(format, log, image, "", want);
}

#endif
