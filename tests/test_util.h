/* test_util.h — helpers shared by the cmocka tests: the one-line error check, writing a small
 * file and temp-dir removal. Include after <cmocka.h>. */
#ifndef STEERD_TESTS_TEST_UTIL_H
#define STEERD_TESTS_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Removes a test's temporary directory tree; 0 on success (a cmocka teardown status). */
static inline int remove_tree(const char *dir)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

#endif
