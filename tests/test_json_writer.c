/* test_json_writer.c — the JSON writer (common/json_writer.h) on its own: a writer over a FILE gives
 * the same bytes as one over a buffer large enough for the whole document, whatever the size of its
 * buffer (pieces cut at every boundary, jb_printf retried into the emptied buffer); a piece larger
 * than the buffer and a failing write are reported by jb_flush, never written truncated; strings
 * or null; the bound of a plain buffer (exact fit, one byte over). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/json_writer.h"

/* A document with every kind of piece: raw text, printf, escaped strings, numbers, null. */
static void document(jbuf *j)
{
    jb_raw(j, "{\n  \"layers\": [");
    for (int i = 0; i < 40; i++) {
        jb_printf(j, "%s\n    {\"i\": %d, \"name\": ", i ? "," : "", i);
        jb_str(j, i % 7 ? "b1.conv\"x\"\\y" : "tab\there\x01");
        jb_raw(j, ", \"v\": ");
        jb_num(j, i % 5 ? 1.0 / (i + 1) : NAN, 6);
        jb_raw(j, ", \"w\": ");
        jb_str_or_null(j, i % 3 ? "w.safetensors" : NULL);
        jb_printf(j, ", \"us\": %.3f}", 1234.5678 * i);
    }
    jb_raw(j, "\n  ]\n}\n");
}

static void test_file_equals_buffer(void **state)
{
    (void)state;
    static char whole[16384];
    jbuf ref;
    jb_init(&ref, whole, sizeof whole);
    document(&ref);
    assert_false(ref.overflow);
    assert_true(jb_flush(&ref)); /* no file: nothing to do */
    assert_true(ref.len > 3000); /* many times every buffer below */
    /* every buffer size from "one piece at a time" up: the longest piece (a jb_printf) is < 64 bytes */
    for (size_t cap = 64; cap <= 600; cap += 7) {
        char *out = NULL, buf[600];
        size_t out_len = 0;
        FILE *f = open_memstream(&out, &out_len);
        assert_non_null(f);
        jbuf j;
        jb_init_file(&j, buf, cap, f);
        document(&j);
        if (!jb_flush(&j))
            fail_msg("buffer of %zu bytes: jb_flush failed", cap);
        assert_int_equal(fclose(f), 0);
        if (out_len != ref.len || memcmp(out, whole, out_len) != 0)
            fail_msg("buffer of %zu bytes: %zu bytes written, want the %zu of the whole document", cap, out_len,
                     ref.len);
        free(out);
    }
}

static void test_file_piece_too_long(void **state)
{
    (void)state;
    char *out = NULL, buf[16];
    size_t out_len = 0;
    FILE *f = open_memstream(&out, &out_len);
    assert_non_null(f);
    jbuf j;
    jb_init_file(&j, buf, sizeof buf, f);
    jb_raw(&j, "[1, 2, ");
    jb_printf(&j, "\"%s\"", "a value of more than fifteen bytes");
    assert_true(j.overflow);
    jb_raw(&j, "3]"); /* nothing more is written */
    assert_false(jb_flush(&j));
    assert_int_equal(fclose(f), 0);
    assert_true(out_len <= strlen("[1, 2, ")); /* never the cut value */
    free(out);
    /* a raw piece too long for the buffer: the same */
    f = open_memstream(&out, &out_len);
    assert_non_null(f);
    jb_init_file(&j, buf, sizeof buf, f);
    jb_raw(&j, "0123456789abcdef");
    assert_false(jb_flush(&j));
    assert_int_equal(fclose(f), 0);
    assert_int_equal(out_len, 0);
    free(out);
}

static void test_file_write_error(void **state)
{
    (void)state;
    char path[] = "/tmp/test_json_writer_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fopen(path, "r"); /* writes fail */
    assert_non_null(f);
    char buf[32];
    jbuf j;
    jb_init_file(&j, buf, sizeof buf, f);
    for (int i = 0; i < 20; i++)
        jb_printf(&j, "%d, ", i);
    assert_false(jb_flush(&j));
    fclose(f);
    remove(path);
    /* a short document that never filled the buffer: the failure shows at jb_flush */
    f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    f = fopen(path, "r");
    assert_non_null(f);
    jb_init_file(&j, buf, sizeof buf, f);
    jb_raw(&j, "{}");
    assert_false(j.overflow);
    assert_false(jb_flush(&j));
    fclose(f);
    remove(path);
}

static void test_str_or_null_and_bounds(void **state)
{
    (void)state;
    char buf[64];
    jbuf j;
    jb_init(&j, buf, sizeof buf);
    jb_str_or_null(&j, NULL);
    jb_raw(&j, ",");
    jb_str_or_null(&j, "a\"b");
    jb_raw(&j, ",");
    jb_str(&j, NULL);
    assert_string_equal(buf, "null,\"a\\\"b\",\"\"");
    char small[6];
    jb_init(&j, small, sizeof small);
    jb_printf(&j, "%s", "abcde"); /* 5 bytes + the terminator: fits exactly */
    assert_false(j.overflow);
    assert_string_equal(small, "abcde");
    assert_true(jb_flush(&j));
    jb_init(&j, small, sizeof small);
    jb_printf(&j, "%s", "abcdef");
    assert_true(j.overflow);
    assert_string_equal(small, "");
    assert_false(jb_flush(&j));
    jb_init(&j, small, 0); /* no room at all */
    assert_true(j.overflow);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_equals_buffer),
        cmocka_unit_test(test_file_piece_too_long),
        cmocka_unit_test(test_file_write_error),
        cmocka_unit_test(test_str_or_null_and_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
