/* test_io_sully.c — Sully Chen's data.txt reader (src/io/drivelog_sully.c) on folders made in a
 * temporary directory: both line forms (`file angle`, `file angle,date time`), images next to
 * data.txt or in data/, the log found from the folder (data.txt or data/data.txt), the angle
 * scale (max_angle_deg), and every kind of bad line giving one line
 * `file:line: field: problem (got value)`: NaN/Inf/non-numeric/out-of-range angles, bad times,
 * extra fields, missing images (failing, or skipped and counted with skip_missing). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "test_util.h"

#include "io/drivelog.h"
#include "test_io_kinds.h"

/* Images 0.jpg 1.jpg 2.jpg and data/7.jpg (empty files); f->file is data.txt (not written yet). */
static int setup(void **state)
{
    tmp_fixture *f = tmp_fixture_new(state, "test_io_sully", "data.txt");
    if (!f)
        return -1;
    make_dir(tmp_path(f, "data"));
    for (int i = 0; i < 3; i++)
        write_text(tmp_path(f, "%d.jpg", i), "");
    write_text(tmp_path(f, "data/7.jpg"), "");
    return 0;
}

static void test_dataset1_form(void **state)
{
    tmp_fixture *f = *state;
    write_text(f->file, "0.jpg 0.000000\n1.jpg\t-12.5\r\n\n  2.jpg   25  \n7.jpg 2.5\n");
    io_drive_log log;
    nn_err err;
    /* the folder is enough: data.txt is found in it */
    assert_int_equal(io_sully_load(&log, f->dir, NULL, &err), NN_OK);
    assert_string_equal(log.path, f->file);
    assert_int_equal(log.n, 4);
    assert_string_equal(log.rows[0].center, tmp_path(f, "0.jpg"));
    assert_string_equal(log.rows[3].center, tmp_path(f, "data/7.jpg")); /* the data/ subfolder */
    assert_string_equal(log.rows[0].left, "");
    assert_string_equal(log.rows[0].file, f->file);
    assert_true(log.rows[0].steering == 0.0f);
    assert_true(log.rows[1].steering == -0.5f); /* -12.5 / the default 25 degrees */
    assert_true(log.rows[2].steering == 1.0f);
    assert_int_equal(log.rows[1].line, 2);
    assert_int_equal(log.rows[2].line, 4);
    assert_false(log.rows[0].has_time);
    assert_false(log.all_timed);
    assert_int_equal(log.listed, 4);
    assert_int_equal(log.missing, 0);
    io_drive_log_free(&log);
    /* a wider scale: the trainer passes the model's output.scale_deg */
    io_drive_opts o = {.check_images = true, .max_angle_deg = 500};
    assert_int_equal(io_drive_load(&log, "sullychen", f->file, &o, &err), NN_OK);
    assert_true(log.rows[1].steering == (float)(-12.5 / 500));
    io_drive_log_free(&log);
}

static void test_2018_form(void **state)
{
    tmp_fixture *f = *state;
    /* the 2018 archive: data.txt inside data/ next to its images */
    char path[256];
    snprintf(path, sizeof path, "%s/data/data.txt", f->dir);
    write_text(path, "7.jpg 1.5,2018-07-01 17:09:44:912\n7.jpg -3.25 , 2018-07-01 17:09:45.0\n");
    io_drive_log log;
    nn_err err;
    assert_int_equal(io_sully_load(&log, f->dir, NULL, &err), NN_OK); /* no data.txt at the top */
    assert_string_equal(log.path, path);
    assert_int_equal(log.n, 2);
    assert_string_equal(log.rows[0].center, tmp_path(f, "data/7.jpg"));
    assert_true(log.rows[0].has_time && log.rows[1].has_time);
    int64_t t;
    assert_true(io_sully_time("2018-07-01 17:09:44:912", &t));
    assert_int_equal(log.rows[0].t_ms, t);
    assert_int_equal(log.rows[1].t_ms - log.rows[0].t_ms, 88);
    assert_true(log.all_timed);
    assert_true(log.rows[1].steering == -0.13f);
    io_drive_log_free(&log);
}

static void test_times(void **state)
{
    (void)state;
    int64_t t;
    assert_true(io_sully_time("1970-01-01 00:00:01:002", &t));
    assert_int_equal(t, 1002);
    assert_true(io_sully_time("1970-01-01 00:00:01.5", &t));
    assert_int_equal(t, 1500);
    assert_true(io_sully_time("2018-07-01 17:09:44:912", &t));
    assert_int_equal(t, 1530464984912LL);
    assert_false(io_sully_time("2018-07-01 17:09:44", &t));
    assert_false(io_sully_time("2018-13-01 17:09:44:912", &t));
    assert_false(io_sully_time("2018-07-01T17:09:44:912", &t));
    assert_false(io_sully_time("2018-07-01 17:09:44:912x", &t));
    assert_false(io_sully_time("", &t));
}

/* Loads `text` as data.txt and expects a failure whose message is exactly `<data.txt>:<want>`. */
static void expect_bad(tmp_fixture *f, const char *text, const char *want)
{
    write_text(f->file, text);
    io_drive_log log;
    nn_err err;
    nn_status s = io_sully_load(&log, f->file, NULL, &err);
    char full[1024];
    snprintf(full, sizeof full, "%s:%s", f->file, want);
    if (s == NN_OK || strcmp(err.msg, full) != 0)
        fail_msg("for %s: got status %d '%s', want '%s'", text, s, s ? err.msg : "", full);
    assert_null(log.rows);
    assert_null(log.pool);
}

static void test_bad_lines(void **state)
{
    tmp_fixture *f = *state;
    expect_bad(f, "0.jpg 0\n1.jpg nan\n", "2: angle: expected a number of degrees (got 'nan')");
    expect_bad(f, "0.jpg NaN,2018-07-01 17:09:44:912\n", "1: angle: expected a number of degrees (got 'NaN')");
    expect_bad(f, "0.jpg inf\n", "1: angle: expected a number of degrees (got 'inf')");
    expect_bad(f, "0.jpg -Infinity\n", "1: angle: expected a number of degrees (got '-Infinity')");
    expect_bad(f, "0.jpg 1e999\n", "1: angle: expected a number of degrees (got '1e999')");
    expect_bad(f, "0.jpg left\n", "1: angle: expected a number of degrees (got 'left')");
    expect_bad(f, "0.jpg 3deg\n", "1: angle: expected a number of degrees (got '3deg')");
    expect_bad(f, "0.jpg ,2018-07-01 17:09:44:912\n", "1: angle: expected a number of degrees (got '')");
    expect_bad(f, "0.jpg 25.5\n", "1: angle: must be in [-25, 25] degrees (max_angle_deg) (got '25.5')");
    expect_bad(f, "0.jpg\n", "1: row: expected 'file angle' or 'file angle,date time' (got '0.jpg')");
    expect_bad(f, "0.jpg 1 2\n",
               "1: row: expected 'file angle' or 'file angle,date time' (one blank-free file name) (got '2')");
    expect_bad(f, "0.jpg 1,yesterday\n", "1: time: expected YYYY-MM-DD HH:MM:SS:mmm (got 'yesterday')");
    expect_bad(f, "0.jpg 1,\n", "1: time: expected YYYY-MM-DD HH:MM:SS:mmm (got '')");
    char want[512];
    snprintf(want, sizeof want, "2: file: image not found in %s/ nor its data/ (got 'gone.jpg')", f->dir);
    expect_bad(f, "0.jpg 0\ngone.jpg 0\n", want);
    write_text(f->file, "\n\n");
    io_drive_log log;
    nn_err err;
    assert_int_equal(io_sully_load(&log, f->file, NULL, &err), NN_E_PARSE);
    assert_non_null(strstr(err.msg, "data.txt: no rows (expected lines 'file angle' or 'file angle,date time')"));
    char nul[] = "0.jpg 0\n1.jpg 0\0\n";
    FILE *fp = fopen(f->file, "w");
    assert_non_null(fp);
    assert_int_equal(fwrite(nul, 1, sizeof nul - 1, fp), sizeof nul - 1);
    assert_int_equal(fclose(fp), 0);
    check_msg("NUL", io_sully_load(&log, f->file, NULL, &err), NN_E_PARSE, &err, "data.txt:2: row: NUL byte");
    io_drive_opts o = {.check_images = true, .max_angle_deg = -1};
    check_msg("negative scale", io_sully_load(&log, f->file, &o, &err), NN_E_ARG, &err, "max_angle_deg");
    check_msg("no log", io_sully_load(&log, "/nonexistent/x", NULL, &err), NN_E_IO, &err,
              "/nonexistent/x: cannot open: ");
}

/* data.txt and an image as a directory, a FIFO and a device: refused by kind, no hang; a
 * denormal angle (1e-320) is accepted. */
static void test_not_regular_and_denormal(void **state)
{
    tmp_fixture *f = *state;
    const char *text = "0.jpg 1e-320\n";
    write_text(f->file, text);
    io_drive_log log;
    nn_err err;
    assert_int_equal(io_sully_load(&log, f->file, NULL, &err), NN_OK);
    assert_true(log.rows[0].steering == (float)(1e-320 / 25.0));
    io_drive_log_free(&log);
    char img[512];
    snprintf(img, sizeof img, "%s", tmp_path(f, "0.jpg"));
    expect_log_and_image_not_regular("sullychen", f->dir, f->file, text, img, "file", "0.jpg");
}

static void test_skip_missing(void **state)
{
    tmp_fixture *f = *state;
    write_text(f->file, "0.jpg 0\ngone.jpg 1\n1.jpg 2\nalso_gone.jpg 3\n");
    io_drive_log log;
    nn_err err;
    io_drive_opts o = {.check_images = true, .skip_missing = true};
    assert_int_equal(io_sully_load(&log, f->file, &o, &err), NN_OK);
    assert_int_equal(log.n, 2);
    assert_int_equal(log.listed, 4);
    assert_int_equal(log.missing, 2);
    assert_int_equal(log.skipped, 2);
    assert_string_equal(log.rows[1].center, tmp_path(f, "1.jpg"));
    assert_int_equal(log.rows[1].line, 3);
    char want[512];
    snprintf(want, sizeof want, "%s:2: file: image not found in %s/ nor its data/ (got 'gone.jpg')", f->file, f->dir);
    assert_string_equal(log.first_missing, want);
    io_drive_log_free(&log);
    /* every image missing: nothing to train on */
    write_text(f->file, "gone.jpg 1\n");
    check_msg("all missing", io_sully_load(&log, f->file, &o, &err), NN_E_PARSE, &err,
              "no rows left: all 1 rows name a missing image (first: ");
    /* without the check the first candidate is kept */
    o = (io_drive_opts){.check_images = false};
    assert_int_equal(io_sully_load(&log, f->file, &o, &err), NN_OK);
    assert_string_equal(log.rows[0].center, tmp_path(f, "gone.jpg"));
    assert_int_equal(log.listed, 0);
    io_drive_log_free(&log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dataset1_form, setup, tmp_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_2018_form, setup, tmp_fixture_teardown),
        cmocka_unit_test(test_times),
        cmocka_unit_test_setup_teardown(test_bad_lines, setup, tmp_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_not_regular_and_denormal, setup, tmp_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_skip_missing, setup, tmp_fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
