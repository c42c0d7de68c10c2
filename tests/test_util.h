/* test_util.h — helpers shared by the cmocka tests: the one-line error check, writing a small
 * file, making a folder, temp-dir removal and the temporary-folder fixture of the tests that
 * write files (tmp_fixture). Include after <cmocka.h>. */
#ifndef STEERD_TESTS_TEST_UTIL_H
#define STEERD_TESTS_TEST_UTIL_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nn/nn.h"

/* Fails the test unless the call returned want_s with a one-line message containing substr. */
static inline void check_msg(const char *what, nn_status got_s, nn_status want_s, const nn_err *err,
                             const char *substr)
{
    if (got_s != want_s)
        fail_msg("case %s: status %d, want %d (msg: %s)", what, got_s, want_s, err->msg);
    if (!strstr(err->msg, substr))
        fail_msg("case %s: message \"%s\" lacks \"%s\"", what, err->msg, substr);
    if (strchr(err->msg, '\n'))
        fail_msg("case %s: message is not one line: %s", what, err->msg);
}

/* Writes text (may be "") to path, replacing the file; fails the test on any error. */
static inline void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    assert_true(fputs(text, fp) >= 0);
    assert_int_equal(fclose(fp), 0);
}

/* Makes the folder path (mode 0755); fails the test on any error. */
static inline void make_dir(const char *path)
{
    if (mkdir(path, 0755))
        fail_msg("cannot make folder %s: %s", path, strerror(errno));
}

/* Removes a test's temporary directory tree; 0 on success (a cmocka teardown status). */
static inline int remove_tree(const char *dir)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* The cmocka state of a test that works in a temporary folder: dir, made by tmp_fixture_new and
 * removed with everything in it by tmp_fixture_teardown; file, the path of the file the tests
 * load ("" when the fixture names none); buf, the last path tmp_path made. */
typedef struct {
    char dir[64];
    char file[128];
    char buf[512];
} tmp_fixture;

/* For a cmocka setup: allocates the fixture into *state, makes the folder /tmp/<name>_XXXXXX and,
 * when file is not NULL, sets f->file to <dir>/<file>. NULL on failure (the setup returns -1). */
static inline tmp_fixture *tmp_fixture_new(void **state, const char *name, const char *file)
{
    tmp_fixture *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    snprintf(f->dir, sizeof f->dir, "/tmp/%s_XXXXXX", name);
    if (!mkdtemp(f->dir)) {
        free(f);
        return NULL;
    }
    if (file)
        snprintf(f->file, sizeof f->file, "%s/%s", f->dir, file);
    *state = f;
    return f;
}

/* The cmocka teardown of a tmp_fixture: removes the folder tree and frees the fixture. */
static inline int tmp_fixture_teardown(void **state)
{
    tmp_fixture *f = *state;
    int rc = remove_tree(f->dir);
    free(f);
    return rc;
}

/* Formats "<f->dir>/<fmt...>" into f->buf and returns f->buf (valid until the next call); fails
 * the test when the path does not fit. */
__attribute__((format(printf, 2, 3))) static inline const char *tmp_path(tmp_fixture *f, const char *fmt, ...)
{
    int n = snprintf(f->buf, sizeof f->buf, "%s/", f->dir);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(f->buf + n, sizeof f->buf - (size_t)n, fmt, ap);
    va_end(ap);
    if (m < 0 || (size_t)m >= sizeof f->buf - (size_t)n)
        fail_msg("path in %s too long for the fixture's buffer", f->dir);
    return f->buf;
}

#endif
