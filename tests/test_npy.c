/* test_npy.c — .npy reader/writer: files written by numpy (tests/fixtures/npy_numpy.inc, made by
 * tests/oracle/make_npy_fixture.py) read bit-exactly as numpy's astype(float32), refused dtypes,
 * hand-built headers for every error path, and npy_write_f32 round trips. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_util.h"

#include "nn/format/npy.h"

#include "fixtures/npy_numpy.inc"

static char tmpdir[64];

static int setup_dir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_npy.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
    (void)state;
    return remove_tree(tmpdir);
}

static void expect_err(const char *what, const void *buf, size_t len, nn_status want, const char *substr)
{
    npy_array a;
    nn_err err = {{0}};
    nn_status s = npy_parse(&a, buf, len, "x.npy", &err);
    check_msg(what, s, want, &err, substr);
    if (!strstr(err.msg, "x.npy"))
        fail_msg("case %s: message does not name the file: %s", what, err.msg);
    if (a.data)
        fail_msg("case %s: data allocated after an error", what);
    npy_free(&a);
}

/* A file the way numpy lays it out: magic, version, header length, dict padded with spaces to a
 * 64-byte boundary and ending in '\n', then data. Caller frees. */
static uint8_t *mk(int major, const char *dict, const void *data, size_t dlen, size_t *len)
{
    size_t pre = major == 1 ? 10 : 12, n = strlen(dict);
    size_t total = (pre + n + 1 + 63) / 64 * 64, hlen = total - pre;
    uint8_t *b = malloc(total + dlen + 1);
    assert_non_null(b);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (uint8_t)major;
    b[7] = 0;
    for (size_t i = 0; i < pre - 8; i++)
        b[8 + i] = (uint8_t)(hlen >> (8 * i));
    memcpy(b + pre, dict, n);
    memset(b + pre + n, ' ', hlen - n - 1);
    b[total - 1] = '\n';
    if (dlen)
        memcpy(b + total, data, dlen);
    *len = total + dlen;
    return b;
}

static void expect_dict_err(const char *what, const char *dict, size_t dlen, const char *substr)
{
    size_t len;
    uint8_t *zeros = calloc(dlen + 1, 1), *b;
    assert_non_null(zeros);
    b = mk(1, dict, zeros, dlen, &len);
    expect_err(what, b, len, NN_E_PARSE, substr);
    free(b);
    free(zeros);
}

static void check_floats(const char *what, const float *got, const float *want, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (isnan(want[i]) ? !isnan(got[i]) : memcmp(&got[i], &want[i], sizeof(float)) != 0)
            fail_msg("case %s: element %zu is %a, want %a", what, i, (double)got[i], (double)want[i]);
    }
}

/* ---- files written by numpy ---- */

static void test_numpy_files(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof npy_fixtures / sizeof npy_fixtures[0]; i++) {
        const npy_fixture *fx = &npy_fixtures[i];
        npy_array a;
        nn_err err = {{0}};
        nn_status s = npy_parse(&a, (const uint8_t *)fx->bytes, fx->len, "x.npy", &err);
        if (fx->bad) {
            check_msg(fx->what, s, NN_E_PARSE, &err, fx->bad);
            continue;
        }
        if (s != NN_OK)
            fail_msg("case numpy %s: %s", fx->what, err.msg);
        if (a.ndim != fx->ndim || a.count != fx->count)
            fail_msg("case numpy %s: ndim %d count %zu, want %d %zu", fx->what, a.ndim, a.count, fx->ndim, fx->count);
        for (int d = 0; d < a.ndim; d++)
            if (a.dims[d] != fx->dims[d])
                fail_msg("case numpy %s: dim %d is %lld", fx->what, d, (long long)a.dims[d]);
        assert_non_null(a.data);
        check_floats(fx->what, a.data, fx->want, a.count);
        npy_free(&a);
        assert_null(a.data);
    }
}

/* ---- hand-built headers ---- */

static void test_valid_headers(void **state)
{
    (void)state;
    const float v[6] = {1, 2, 3, 4, 5, 6};
    static const struct {
        const char *what, *dict;
        int ndim;
        int64_t d0, d1;
        size_t count;
    } cases[] = {
        {"plain", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 2, 2, 3, 6},
        {"no trailing comma, double quotes", "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (6,)}", 1, 6, 0, 6},
        {"keys in another order, tight", "{'shape':(3,2,),'fortran_order':False,'descr':'<f4'}", 2, 3, 2, 6},
        {"python 2 long ints", "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }", 2, 2, 3, 6},
        {"native order '='", "{'descr': '=f4', 'fortran_order': False, 'shape': (6,), }", 1, 6, 0, 6},
        {"newlines in dict", "{'descr': '<f4',\n 'fortran_order': False,\n 'shape': ( 6 , ) }", 1, 6, 0, 6},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int major = 1; major <= 3; major++) {
            size_t len;
            uint8_t *b = mk(major, cases[i].dict, v, sizeof v, &len);
            npy_array a;
            nn_err err = {{0}};
            if (npy_parse(&a, b, len, "x.npy", &err) != NN_OK)
                fail_msg("case %s (v%d.0): %s", cases[i].what, major, err.msg);
            if (a.ndim != cases[i].ndim || a.count != cases[i].count || a.dims[0] != cases[i].d0 ||
                (a.ndim > 1 && a.dims[1] != cases[i].d1))
                fail_msg("case %s (v%d.0): wrong shape", cases[i].what, major);
            check_floats(cases[i].what, a.data, v, 6);
            npy_free(&a);
            free(b);
        }
    }
    /* scalar "()" holds one element */
    size_t len;
    const double d = -2.25;
    uint8_t *b = mk(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (), }", &d, sizeof d, &len);
    npy_array a;
    nn_err err = {{0}};
    if (npy_parse(&a, b, len, "x.npy", &err) != NN_OK)
        fail_msg("case scalar: %s", err.msg);
    assert_int_equal(a.ndim, 0);
    assert_int_equal(a.count, 1);
    assert_true(a.data[0] == -2.25f);
    npy_free(&a);
    free(b);
}

static void test_header_errors(void **state)
{
    (void)state;
    static const struct {
        const char *what, *dict;
        size_t dlen;
        const char *substr;
    } cases[] = {
        {"not a dict", "['descr', '<f4']", 0, "header: expected a dict '{'"},
        {"unquoted key", "{descr: '<f4'}", 0, "expected a quoted key"},
        {"missing colon", "{'descr' '<f4'}", 0, "expected ':'"},
        {"missing comma", "{'descr': '<f4' 'shape': (1,)}", 0, "expected ',' or '}'"},
        {"unterminated string", "{'descr: '<f4', 'fortran_order': False, 'shape': (1,)}", 0, "expected ':'"},
        {"escape in string", "{'de\\x73cr': '<f4'}", 0, "expected a quoted key"},
        {"unknown key", "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}", 4, "unknown key 'extra'"},
        {"duplicate key", "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", 4, "duplicate key 'descr'"},
        {"missing descr", "{'fortran_order': False, 'shape': (1,)}", 4, "missing 'descr'"},
        {"missing fortran_order", "{'descr': '<f4', 'shape': (1,)}", 4, "missing 'fortran_order'"},
        {"missing shape", "{'descr': '<f4', 'fortran_order': False}", 4, "missing 'shape'"},
        {"empty dict", "{}", 0, "missing 'descr'"},
        {"structured descr", "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}", 4, "unsupported dtype (structured"},
        {"fortran_order value", "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,)}", 4, "'fortran_order' must be True or False"},
        {"fortran_order prefix", "{'descr': '<f4', 'fortran_order': Falsey, 'shape': (1,)}", 4, "must be True or False"},
        {"fortran_order True", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2)}", 16, "x.npy: fortran_order True is not supported"},
        {"shape list", "{'descr': '<f4', 'fortran_order': False, 'shape': [1]}", 4, "'shape' must be a tuple"},
        {"shape (5) not a tuple", "{'descr': '<f4', 'fortran_order': False, 'shape': (5)}", 20, "'shape' (n) is not a tuple, expected (n,)"},
        {"negative dim", "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", 0, "'shape' entries must be non-negative integers"},
        {"float dim", "{'descr': '<f4', 'fortran_order': False, 'shape': (2.5,)}", 0, "expected ',' or ')' in 'shape'"},
        {"dim > INT64_MAX", "{'descr': '<f4', 'fortran_order': False, 'shape': (9223372036854775808,)}", 0, "non-negative integers"},
        {"9 dims", "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1)}", 4, "'shape' has more than 8 dimensions"},
        {"shape overflow", "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296)}", 0, "x.npy: shape is too large"},
        {"garbage after dict", "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} x", 4, "unexpected characters after the dict"},
        {"unterminated dict", "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)", 4, "expected ',' or '}'"},
        {"truncated data", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 20, "x.npy: truncated: expected 24 bytes of data, found 20"},
        {"no data", "{'descr': '<f8', 'fortran_order': False, 'shape': (), }", 0, "truncated: expected 8 bytes of data, found 0"},
        {"trailing data", "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }", 5, "expected 3 bytes of data, found 5 (2 trailing bytes)"},
        {"dtype bool", "{'descr': '|b1', 'fortran_order': False, 'shape': (1,)}", 1, "x.npy: unsupported dtype '|b1'"},
        {"dtype unicode", "{'descr': '<U8', 'fortran_order': False, 'shape': (1,)}", 32, "unsupported dtype '<U8'"},
        {"dtype object", "{'descr': '|O', 'fortran_order': False, 'shape': (1,)}", 8, "unsupported dtype '|O'"},
        {"dtype bytes", "{'descr': '|S4', 'fortran_order': False, 'shape': (1,)}", 4, "unsupported dtype '|S4'"},
        {"dtype complex", "{'descr': '<c8', 'fortran_order': False, 'shape': (1,)}", 8, "unsupported dtype '<c8'"},
        {"dtype big-endian", "{'descr': '>f4', 'fortran_order': False, 'shape': (1,)}", 4, "unsupported dtype '>f4'"},
        {"dtype |f4", "{'descr': '|f4', 'fortran_order': False, 'shape': (1,)}", 4, "unsupported dtype '|f4'"},
        {"dtype f1", "{'descr': '<f1', 'fortran_order': False, 'shape': (1,)}", 1, "unsupported dtype '<f1'"},
        {"dtype f16", "{'descr': '<f16', 'fortran_order': False, 'shape': (1,)}", 16, "unsupported dtype '<f16'"},
        {"dtype i3", "{'descr': '<i3', 'fortran_order': False, 'shape': (1,)}", 3, "unsupported dtype '<i3'"},
        {"dtype empty", "{'descr': '', 'fortran_order': False, 'shape': (1,)}", 4, "unsupported dtype ''"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_dict_err(cases[i].what, cases[i].dict, cases[i].dlen, cases[i].substr);
}

static void test_preamble_errors(void **state)
{
    (void)state;
    uint8_t b[80];
    memset(b, ' ', sizeof b);
    memcpy(b, "\x93NUMPY\x01\x00\x46\x00{}", 12);
    expect_err("empty buffer", NULL, 0, NN_E_PARSE, "not a .npy file");
    expect_err("9 bytes", b, 9, NN_E_PARSE, "not a .npy file");
    expect_err("bad magic", "\x93NUMPZ\x01\x00\x00\x00", 10, NN_E_PARSE, "x.npy: not a .npy file (no \\x93NUMPY magic)");
    expect_err("version 4.0", "\x93NUMPY\x04\x00\x00\x00\x00\x00", 12, NN_E_PARSE, "unsupported .npy format version 4.0");
    expect_err("version 1.1", "\x93NUMPY\x01\x01\x00\x00", 10, NN_E_PARSE, "unsupported .npy format version 1.1");
    expect_err("version 0.0", "\x93NUMPY\x00\x00\x00\x00", 10, NN_E_PARSE, "version 0.0");
    expect_err("v2.0 short", "\x93NUMPY\x02\x00\x00\x00\x00", 11, NN_E_PARSE, "truncated header (11 bytes)");
    expect_err("v1.0 header past end", b, 40, NN_E_PARSE, "truncated header: length 70 but only 30 bytes follow");
    expect_err("v2.0 header over limit", "\x93NUMPY\x02\x00\x00\x00\x20\x00{}", 14, NN_E_PARSE,
               "header length 2097152 exceeds the limit");
    expect_err("v3.0 header length 2^32-1", "\x93NUMPY\x03\x00\xff\xff\xff\xff{}", 14, NN_E_PARSE, "exceeds the limit");
    expect_err("header ends inside a string", "\x93NUMPY\x01\x00\x05\x00{'abc", 15, NN_E_PARSE, "expected a quoted key");
    expect_err("zero-length header", "\x93NUMPY\x01\x00\x00\x00", 10, NN_E_PARSE, "expected a dict");
}

/* ---- writer ---- */

static void test_write_roundtrip(void **state)
{
    (void)state;
    float v[24];
    for (int i = 0; i < 24; i++)
        v[i] = (float)i * 0.37f - 3.0f;
    const uint32_t nanbits = 0x7fc00123u;
    memcpy(&v[5], &nanbits, 4);
    static const struct {
        const char *what;
        int ndim;
        int64_t dims[8];
        size_t count;
        const char *shape;
    } cases[] = {
        {"scalar", 0, {0}, 1, "'shape': (), }"},
        {"1-D", 1, {5}, 5, "'shape': (5,), }"},
        {"NHWC", 4, {1, 2, 3, 4}, 24, "'shape': (1, 2, 3, 4), }"},
        {"empty", 2, {0, 3}, 0, "'shape': (0, 3), }"},
        {"8 dims", 8, {1, 1, 2, 1, 3, 1, 4, 1}, 24, "'shape': (1, 1, 2, 1, 3, 1, 4, 1), }"},
    };
    char path[128], tmp[140];
    snprintf(path, sizeof path, "%s/out.npy", tmpdir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nn_err err = {{0}};
        if (npy_write_f32(path, cases[i].count ? v : NULL, cases[i].ndim, cases[i].dims, &err) != NN_OK)
            fail_msg("case write %s: %s", cases[i].what, err.msg);
        if (access(tmp, F_OK) == 0)
            fail_msg("case write %s: temp file left behind", cases[i].what);
        /* layout: version 1.0, '<f4', header padded to 64 bytes and '\n'-terminated */
        FILE *fp = fopen(path, "rb");
        assert_non_null(fp);
        uint8_t raw[256];
        size_t n = fread(raw, 1, sizeof raw, fp);
        fclose(fp);
        size_t hlen = (size_t)raw[8] | (size_t)raw[9] << 8;
        if (n < 10 || memcmp(raw, "\x93NUMPY\x01\x00", 8) != 0 || (10 + hlen) % 64 != 0 || raw[10 + hlen - 1] != '\n' ||
            memcmp(raw + 10, "{'descr': '<f4', 'fortran_order': False, ", 41) != 0 ||
            memcmp(raw + 51, cases[i].shape, strlen(cases[i].shape)) != 0)
            fail_msg("case write %s: header layout differs from numpy's", cases[i].what);
        npy_array a;
        if (npy_read(&a, path, &err) != NN_OK)
            fail_msg("case write %s: read back: %s", cases[i].what, err.msg);
        if (a.ndim != cases[i].ndim || a.count != cases[i].count)
            fail_msg("case write %s: read back ndim %d count %zu", cases[i].what, a.ndim, a.count);
        for (int d = 0; d < a.ndim; d++)
            assert_int_equal(a.dims[d], cases[i].dims[d]);
        if (a.count && memcmp(a.data, v, a.count * sizeof(float)) != 0)
            fail_msg("case write %s: data not bit-exact", cases[i].what);
        npy_free(&a);
    }
}

static void test_io_errors(void **state)
{
    (void)state;
    char path[128];
    npy_array a;
    nn_err err = {{0}};
    const int64_t d[2] = {2, -1};
    const float v[2] = {1, 2};
    snprintf(path, sizeof path, "%s/missing.npy", tmpdir);
    check_msg("read missing", npy_read(&a, path, &err), NN_E_IO, &err, "missing.npy: cannot open: No such file");
    check_msg("read directory", npy_read(&a, tmpdir, &err), NN_E_IO, &err, "is a directory, expected a file or a stream");
    check_msg("write negative dim", npy_write_f32(path, v, 2, d, &err), NN_E_ARG, &err, "negative dimension -1");
    check_msg("write ndim 9", npy_write_f32(path, v, 9, d, &err), NN_E_ARG, &err, "bad ndim 9");
    const int64_t huge[3] = {1LL << 40, 1LL << 40, 1LL << 40};
    check_msg("write too large", npy_write_f32(path, v, 3, huge, &err), NN_E_ARG, &err, "shape is too large");
    check_msg("write no data", npy_write_f32(path, NULL, 1, d, &err), NN_E_ARG, &err, "no data");
    check_msg("write missing dir", npy_write_f32("/nonexistent-dir/o.npy", v, 1, d, &err), NN_E_IO, &err,
              "/nonexistent-dir/o.npy: cannot create");
    if (access(path, F_OK) == 0)
        fail_msg("case write errors: a file was written");
    /* a truncated file on disk */
    assert_int_equal(npy_write_f32(path, v, 1, d, &err), NN_OK);
    assert_int_equal(truncate(path, 128 + 6), 0); /* 128-byte header for shape (2,) */
    check_msg("read truncated file", npy_read(&a, path, &err), NN_E_PARSE, &err,
              "missing.npy: truncated: expected 8 bytes of data, found 6");
    assert_null(a.data);
    npy_free(NULL);
}

/* A stream (FIFO) larger than the first read buffer: the reader grows its buffer. */
static void test_read_pipe(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/fifo.npy", tmpdir);
    assert_int_equal(mkfifo(path, 0600), 0);
    enum { N = 40000 };
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        static float v[N];
        for (int i = 0; i < N; i++)
            v[i] = (float)i;
        char hdr[128]; /* 10-byte preamble + 118-byte header */
        memset(hdr, ' ', sizeof hdr);
        memcpy(hdr, "\x93NUMPY\x01\x00\x76\x00{'descr': '<f4', 'fortran_order': False, 'shape': (40000,)}", 69);
        hdr[127] = '\n';
        FILE *fp = fopen(path, "wb");
        int ok = fp && fwrite(hdr, 1, 128, fp) == 128 && fwrite(v, sizeof(float), N, fp) == N && fclose(fp) == 0;
        _exit(ok ? 0 : 1);
    }
    npy_array a;
    nn_err err = {{0}};
    nn_status s = npy_read(&a, path, &err);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (s != NN_OK)
        fail_msg("case read from a pipe: %s", err.msg);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(a.count, N);
    for (int i = 0; i < N; i++)
        if (a.data[i] != (float)i)
            fail_msg("case read from a pipe: element %d is %g", i, (double)a.data[i]);
    npy_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numpy_files),
        cmocka_unit_test(test_valid_headers),
        cmocka_unit_test(test_header_errors),
        cmocka_unit_test(test_preamble_errors),
        cmocka_unit_test(test_write_roundtrip),
        cmocka_unit_test(test_io_errors),
        cmocka_unit_test(test_read_pipe),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
