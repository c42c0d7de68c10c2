/* test_common_input.c — the shared input helpers every parser goes through: cm_open_regular /
 * cm_read_regular refuse every non-regular file kind (directory, FIFO — without blocking —, socket,
 * character device, a symlink to a FIFO) with the kind and the errno reason, and bound the size
 * before allocating; cm_mkdirs makes missing parents, takes an existing folder and names the part in
 * the way; cm_parse_finite takes denormals and refuses overflow, nan, inf and junk. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/file_read.h"
#include "common/parse_num.h"
#include "test_util.h"

typedef struct {
    char dir[64];
    char path[128];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/steerd-input-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static const char *in_dir(fixture *f, const char *name)
{
    snprintf(f->path, sizeof f->path, "%s/%s", f->dir, name);
    return f->path;
}

/* Reads path and expects failure with exactly `<path>: <tail>`. */
static void expect_refused(const char *path, const char *tail)
{
    char *buf = (char *)1;
    size_t len = 7;
    nn_err err = {{0}};
    nn_status s = cm_read_regular(path, 1 << 20, &buf, &len, &err);
    char want[256];
    snprintf(want, sizeof want, "%s: %s", path, tail);
    if (s == NN_OK || strcmp(err.msg, want) != 0)
        fail_msg("%s: status %d, message '%s', want '%s'", path, s, err.msg, want);
    assert_null(buf);
    assert_int_equal(len, 0);
}

static void test_reads_regular_file(void **state)
{
    fixture *f = *state;
    const char *p = in_dir(f, "a.yaml");
    write_text(p, "key: 1\n");
    char *buf;
    size_t len;
    nn_err err = {{0}};
    assert_int_equal(cm_read_regular(p, 100, &buf, &len, &err), NN_OK);
    assert_int_equal(len, 7);
    assert_string_equal(buf, "key: 1\n"); /* NUL-terminated */
    free(buf);
    /* empty file: an empty, terminated buffer */
    write_text(p, "");
    assert_int_equal(cm_read_regular(p, 100, &buf, &len, &err), NN_OK);
    assert_int_equal(len, 0);
    assert_string_equal(buf, "");
    free(buf);
}

static void test_missing_and_unreadable_give_errno(void **state)
{
    fixture *f = *state;
    expect_refused(in_dir(f, "nope.yaml"), "cannot open: No such file or directory");
    if (geteuid() != 0) { /* root reads anything */
        const char *p = in_dir(f, "secret.yaml");
        write_text(p, "x: 1\n");
        chmod(p, 0);
        expect_refused(p, "cannot open: Permission denied");
    }
}

static void test_mkdirs(void **state)
{
    fixture *f = *state;
    nn_err err = {{0}};
    struct stat st;
    const char *deep = in_dir(f, "data/sim//train/");
    assert_int_equal(cm_mkdirs(deep, &err), NN_OK);
    assert_int_equal(stat(in_dir(f, "data/sim/train"), &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(cm_mkdirs(in_dir(f, "data/sim"), &err), NN_OK); /* already there */
    write_text(in_dir(f, "file"), "x\n");
    char want[256];
    snprintf(want, sizeof want, "%s/file: exists and is not a directory", f->dir);
    assert_int_equal(cm_mkdirs(in_dir(f, "file/sub/deeper"), &err), NN_E_IO);
    assert_string_equal(err.msg, want);
    assert_int_equal(cm_mkdirs(in_dir(f, "file"), &err), NN_E_IO);
    assert_string_equal(err.msg, want);
    if (geteuid() != 0) { /* root writes anywhere */
        chmod(in_dir(f, "data"), 0555);
        assert_int_equal(cm_mkdirs(in_dir(f, "data/new/x"), &err), NN_E_IO);
        assert_non_null(strstr(err.msg, "/data/new: cannot create directory: Permission denied"));
        chmod(in_dir(f, "data"), 0755);
    }
}

static void test_every_non_regular_kind_is_refused(void **state)
{
    fixture *f = *state;
    expect_refused(f->dir, "is a directory, expected a regular file");
    expect_refused("/dev/null", "is a character device, expected a regular file");

    /* A FIFO with no writer: open() must not block (the test would hang here). */
    const char *fifo = in_dir(f, "fifo");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    expect_refused(fifo, "is a FIFO, expected a regular file");

    /* A symbolic link is followed: a link to the FIFO is the FIFO. */
    char link[128];
    snprintf(link, sizeof link, "%s/link", f->dir);
    assert_int_equal(symlink(fifo, link), 0);
    expect_refused(link, "is a FIFO, expected a regular file");

    /* A bound unix socket cannot be opened at all: the errno reason is given. */
    const char *sock = in_dir(f, "s.sock");
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    assert_true(strlen(sock) < sizeof a.sun_path);
    memcpy(a.sun_path, sock, strlen(sock) + 1);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    expect_refused(sock, "cannot open: No such device or address");
    close(fd);
}

static void test_size_limit_before_allocation(void **state)
{
    fixture *f = *state;
    const char *p = in_dir(f, "big.yaml");
    write_text(p, "0123456789");
    char *buf = NULL;
    size_t len = 0;
    nn_err err = {{0}};
    assert_int_equal(cm_read_regular(p, 9, &buf, &len, &err), NN_E_IO);
    char want[256];
    snprintf(want, sizeof want, "%s: file is 10 bytes, larger than the limit of 9", p);
    assert_string_equal(err.msg, want);
    assert_null(buf);
    assert_int_equal(cm_read_regular(p, 10, &buf, &len, &err), NN_OK);
    assert_int_equal(len, 10);
    free(buf);
}

static void test_open_regular_returns_blocking_fd(void **state)
{
    fixture *f = *state;
    const char *p = in_dir(f, "w.bin");
    write_text(p, "abc");
    int fd = -1;
    size_t size = 0;
    nn_err err = {{0}};
    assert_int_equal(cm_open_regular(p, &fd, &size, &err), NN_OK);
    assert_true(fd >= 0);
    assert_int_equal(size, 3);
    char b[4];
    assert_int_equal(read(fd, b, sizeof b), 3);
    close(fd);
    assert_int_equal(cm_open_regular(f->dir, &fd, &size, &err), NN_E_IO);
    assert_int_equal(fd, -1);
}

/* cm_read_input: a command-line input may be a stream (read to its end, bounded), never a folder. */
static void test_read_input_streams(void **state)
{
    fixture *f = *state;
    const char *fifo = in_dir(f, "in.fifo");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        FILE *fp = fopen(fifo, "w");
        int ok = fp && fputs("streamed", fp) >= 0 && fclose(fp) == 0;
        _exit(ok ? 0 : 1);
    }
    char *buf;
    size_t len;
    nn_err err = {{0}};
    nn_status s = cm_read_input(fifo, 100, &buf, &len, &err);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (s)
        fail_msg("FIFO input: %s", err.msg);
    assert_int_equal(len, 8);
    assert_string_equal(buf, "streamed");
    free(buf);

    /* A stream longer than the limit stops there instead of eating memory. */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        FILE *fp = fopen(fifo, "w");
        int ok = fp != NULL;
        for (int i = 0; ok && i < 100; i++)
            ok = fputs("0123456789012345678901234567890123456789", fp) >= 0;
        if (fp)
            fclose(fp); /* EPIPE once the reader stopped: expected */
        _exit(ok ? 0 : 1);
    }
    s = cm_read_input(fifo, 1000, &buf, &len, &err);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(s, NN_E_IO);
    char want[256];
    snprintf(want, sizeof want, "%s: more than the limit of 1000 bytes", fifo);
    assert_string_equal(err.msg, want);
    assert_null(buf);

    /* A character device that is not a terminal is no stream: /dev/zero is refused at once. */
    assert_int_equal(cm_read_input("/dev/zero", 1000, &buf, &len, &err), NN_E_IO);
    assert_string_equal(err.msg, "/dev/zero: is a character device, expected a file or a stream");

    snprintf(want, sizeof want, "%s: is a directory, expected a file or a stream", f->dir);
    assert_int_equal(cm_read_input(f->dir, 1000, &buf, &len, &err), NN_E_IO);
    assert_string_equal(err.msg, want);

    const char *p = in_dir(f, "x.npy");
    write_text(p, "12345");
    assert_int_equal(cm_read_input(p, 4, &buf, &len, &err), NN_E_IO);
    snprintf(want, sizeof want, "%s: file is 5 bytes, larger than the limit of 4", p);
    assert_string_equal(err.msg, want);
}

static void test_parse_finite(void **state)
{
    (void)state;
    double v = -1;
    assert_true(cm_parse_finite("1e-320", &v)); /* a denormal is a number */
    assert_true(v > 0 && v < 1e-300);
    assert_true(cm_parse_finite("-4.5e-324", &v));
    assert_true(cm_parse_finite("1e-400", &v)); /* underflows to 0: still a number */
    assert_true(v == 0.0);
    assert_true(cm_parse_finite("0.25", &v));
    assert_true(v == 0.25);
    assert_true(cm_parse_finite("-1.7976931348623157e308", &v));
    v = 3;
    const char *bad[] = {"", "1e400", "-1e309", "nan", "NAN", "inf", "-Infinity", "1x", "0.5 ", "--1", "e5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (cm_parse_finite(bad[i], &v))
            fail_msg("'%s' accepted as %g", bad[i], v);
    assert_true(v == 3); /* untouched on failure */
    assert_false(cm_parse_finite(NULL, &v));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reads_regular_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_and_unreadable_give_errno, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mkdirs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_non_regular_kind_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_size_limit_before_allocation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_regular_returns_blocking_fd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_input_streams, setup, teardown),
        cmocka_unit_test(test_parse_finite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
