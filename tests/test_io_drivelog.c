/* test_io_drivelog.c — the Udacity driving_log.csv reader (src/io/drivelog.c) on folders made in
 * a temporary directory: with and without the header, relative paths, absolute Windows and Linux
 * paths from the recording machine (found by file name in IMG/), quoted fields and CRLF; every
 * kind of bad row gives one line `file:line: field: problem (got value)`; missing images; file
 * name timestamps and the all_timed flag; the log or an image as a directory, FIFO or device;
 * denormal numbers; the content digest. */
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

static const char *const names[3] = {"center_2016_12_01_13_30_48_287.jpg", "center_2016_12_01_13_30_48_387.jpg",
                                     "center_2016_12_01_13_30_49_004.jpg"};

/* IMG/ with the three centre and left images (empty files), elsewhere.png; f->file is
 * driving_log.csv (not written yet). */
static int setup(void **state)
{
    tmp_fixture *f = tmp_fixture_new(state, "test_io_drivelog", "driving_log.csv");
    if (!f)
        return -1;
    make_dir(tmp_path(f, "IMG"));
    for (int i = 0; i < 3; i++) {
        write_text(tmp_path(f, "IMG/%s", names[i]), "");
        write_text(tmp_path(f, "IMG/left%s", names[i] + 6), "");
    }
    write_text(tmp_path(f, "elsewhere.png"), "");
    return 0;
}

static void test_header_relative(void **state)
{
    tmp_fixture *f = *state;
    write_text(f->file, "center,left,right,steering,throttle,brake,speed\n"
                 "IMG/center_2016_12_01_13_30_48_287.jpg, IMG/left_2016_12_01_13_30_48_287.jpg, , 0, 0, 0, 22.14829\n"
                 "IMG/center_2016_12_01_13_30_48_387.jpg, , ,-0.25,0.9,0.1,30\n");
    io_drive_log log;
    nn_err err;
    assert_int_equal(io_udacity_load(&log, f->file, NULL, &err), NN_OK);
    assert_true(log.header);
    assert_int_equal(log.n, 2);
    assert_string_equal(log.rows[0].center, tmp_path(f, "IMG/%s", names[0]));
    assert_string_equal(log.rows[0].left, tmp_path(f, "IMG/left_2016_12_01_13_30_48_287.jpg"));
    assert_string_equal(log.rows[0].right, "");
    assert_int_equal(log.rows[0].line, 2);
    assert_int_equal(log.rows[1].line, 3);
    assert_true(log.rows[1].steering == -0.25f);
    assert_true(log.rows[1].throttle == 0.9f);
    assert_true(log.rows[1].brake == 0.1f);
    assert_true(log.rows[0].speed == 22.14829f);
    assert_true(log.all_timed);
    assert_int_equal(log.rows[1].t_ms - log.rows[0].t_ms, 100);
    io_drive_log_free(&log);
}

static void test_foreign_absolute_no_header(void **state)
{
    tmp_fixture *f = *state;
    char text[2048];
    snprintf(text, sizeof text,
             "C:\\Users\\me\\Desktop\\data\\IMG\\%s,C:\\Users\\me\\Desktop\\data\\IMG\\left%s,,0.1,1,0,30.19\r\n"
             "\r\n"
             "/home/someone/sim/IMG/%s, , ,\"-0.05\",0.5,0,30\r\n"
             "\"/mnt/x/IMG/%s\",,,1,0,0,0\r\n"
             "%s/elsewhere.png,,,0,0,0,0\n",
             names[0], names[0] + 6, names[1], names[2], f->dir);
    write_text(f->file, text);
    io_drive_log log;
    nn_err err;
    assert_int_equal(io_udacity_load(&log, f->file, NULL, &err), NN_OK);
    assert_false(log.header);
    assert_int_equal(log.n, 4);
    assert_string_equal(log.rows[0].center, tmp_path(f, "IMG/%s", names[0]));
    assert_string_equal(log.rows[0].left, tmp_path(f, "IMG/left_2016_12_01_13_30_48_287.jpg"));
    assert_string_equal(log.rows[1].center, tmp_path(f, "IMG/%s", names[1]));
    assert_int_equal(log.rows[1].line, 3);
    assert_true(log.rows[1].steering == -0.05f);
    assert_string_equal(log.rows[2].center, tmp_path(f, "IMG/%s", names[2]));
    assert_true(log.rows[2].steering == 1.0f);
    assert_string_equal(log.rows[3].center, tmp_path(f, "elsewhere.png")); /* exists as written */
    assert_false(log.rows[3].has_time);
    assert_false(log.all_timed);
    assert_int_equal(log.rows[2].t_ms - log.rows[0].t_ms, 717);
    io_drive_log_free(&log);
}

/* Loads `text` and expects a failure whose message is exactly `<csv>:<want>`. */
static void expect_bad(tmp_fixture *f, const char *text, const char *want)
{
    write_text(f->file, text);
    io_drive_log log;
    nn_err err;
    nn_status s = io_udacity_load(&log, f->file, NULL, &err);
    char full[1024];
    snprintf(full, sizeof full, "%s:%s", f->file, want);
    if (s == NN_OK || strcmp(err.msg, full) != 0)
        fail_msg("for %s: got status %d '%s', want '%s'", text, s, s ? err.msg : "", full);
    assert_null(log.rows);
}

static void test_bad_rows(void **state)
{
    tmp_fixture *f = *state;
    const char *ok = "IMG/center_2016_12_01_13_30_48_287.jpg,,,0,0,0,0\n";
    char text[1024];
    snprintf(text, sizeof text, "%sIMG/a.jpg,,,0,0,0\n", ok);
    expect_bad(f, text, "2: row: expected 7 fields center,left,right,steering,throttle,brake,speed (got '6')");
    snprintf(text, sizeof text, "%sIMG/a.jpg,,,0,0,0,0,0\n", ok);
    expect_bad(f, text, "2: row: expected 7 fields center,left,right,steering,throttle,brake,speed "
                        "(got 'more than 7')");
    snprintf(text, sizeof text, "%s%sIMG/center_2016_12_01_13_30_48_287.jpg,,,abc,0,0,0\n", ok, ok);
    expect_bad(f, text, "3: steering: expected a number (got 'abc')");
    expect_bad(f, "IMG/center_2016_12_01_13_30_48_287.jpg,,,1.5,0,0,0\n",
               "1: steering: must be in [-1, 1] (got '1.5')");
    expect_bad(f, "IMG/center_2016_12_01_13_30_48_287.jpg,,,nan,0,0,0\n", "1: steering: expected a number (got 'nan')");
    expect_bad(f, "IMG/center_2016_12_01_13_30_48_287.jpg,,,0,0,0,\n", "1: speed: expected a number (got '')");
    expect_bad(f, "IMG/center_2016_12_01_13_30_48_287.jpg,,,0,0,2,0\n", "1: brake: must be in [0, 1] (got '2')");
    expect_bad(f, ",,,0,0,0,0\n", "1: center: empty image path (got '')");
    expect_bad(f, "center,left,right,angle,throttle,brake,speed\n",
               "1: header: column 4 must be 'steering' (got 'angle')");
    expect_bad(f, "\"IMG/a.jpg,,,0,0,0,0\n", "1: row: unterminated quoted field (got '\"IMG/a.jpg,,,0,0,0,0')");
    expect_bad(f, "center,left,right,steering,throttle,brake,speed\n\n",
               " no rows (expected center,left,right,steering,throttle,brake,speed)");
}

static void test_missing_images(void **state)
{
    tmp_fixture *f = *state;
    char want[1024];
    snprintf(want, sizeof want,
             "2: center: image not found in %s/IMG/ nor as written (got 'C:\\data\\IMG\\center_missing.jpg')", f->dir);
    expect_bad(f,
               "IMG/center_2016_12_01_13_30_48_287.jpg,,,0,0,0,0\n"
               "C:\\data\\IMG\\center_missing.jpg,,,0,0,0,0\n",
               want);
    snprintf(want, sizeof want, "1: right: image not found in %s/IMG/ nor as written (got '/x/IMG/right_gone.jpg')",
             f->dir);
    expect_bad(f, "IMG/center_2016_12_01_13_30_48_287.jpg,,/x/IMG/right_gone.jpg,0,0,0,0\n", want);
    /* Without the image check the path is still resolved into IMG/. */
    write_text(f->file, "C:\\data\\IMG\\center_missing.jpg,,,0,0,0,0\n");
    io_drive_log log;
    nn_err err;
    io_drive_opts opts = {.check_images = false};
    assert_int_equal(io_udacity_load(&log, f->file, &opts, &err), NN_OK);
    assert_string_equal(log.rows[0].center, tmp_path(f, "IMG/center_missing.jpg"));
    io_drive_log_free(&log);
    /* The CSV itself missing. */
    snprintf(f->file, sizeof f->file, "%s/none.csv", f->dir);
    assert_int_equal(io_udacity_load(&log, f->file, NULL, &err), NN_E_IO);
    assert_non_null(strstr(err.msg, "none.csv: cannot open: "));
}

/* The log and an image it names as a directory, a FIFO and a device: refused by kind, no hang. */
static void test_not_regular(void **state)
{
    tmp_fixture *f = *state;
    char img[512];
    snprintf(img, sizeof img, "%s", tmp_path(f, "IMG/%s", names[0]));
    expect_log_and_image_not_regular("udacity", f->dir, f->file, "IMG/center_2016_12_01_13_30_48_287.jpg,,,0,0,0,0\n",
                                     img, "center", "IMG/center_2016_12_01_13_30_48_287.jpg");
}

/* A denormal steering value (1e-320) is a number like any other. */
static void test_denormal(void **state)
{
    tmp_fixture *f = *state;
    write_text(f->file, "IMG/center_2016_12_01_13_30_48_287.jpg,,,1e-320,0,0,4.9e-324\n");
    io_drive_log log;
    nn_err err;
    assert_int_equal(io_udacity_load(&log, f->file, NULL, &err), NN_OK);
    assert_true(log.rows[0].steering == (float)1e-320);
    io_drive_log_free(&log);
}

/* log.digest: the SHA-256 of the bytes read, equal for equal files, different after one byte. */
static void test_digest(void **state)
{
    tmp_fixture *f = *state;
    io_drive_log log;
    nn_err err;
    char first[72];
    write_text(f->file, "IMG/center_2016_12_01_13_30_48_287.jpg,,,0.25,0,0,0\n");
    assert_int_equal(io_udacity_load(&log, f->file, NULL, &err), NN_OK);
    memcpy(first, log.digest, sizeof first);
    assert_int_equal(strncmp(first, "sha256:", 7), 0);
    assert_int_equal(strlen(first), 71);
    io_drive_log_free(&log);
    assert_int_equal(io_udacity_load(&log, f->dir, NULL, &err), NN_OK);
    assert_string_equal(log.digest, first);
    io_drive_log_free(&log);
    write_text(f->file, "IMG/center_2016_12_01_13_30_48_287.jpg,,,0.26,0,0,0\n");
    assert_int_equal(io_udacity_load(&log, f->file, NULL, &err), NN_OK);
    assert_string_not_equal(log.digest, first);
    io_drive_log_free(&log);
}

static void test_times(void **state)
{
    (void)state;
    int64_t t;
    assert_true(io_udacity_time("center_1970_01_01_00_00_01_002.jpg", &t));
    assert_int_equal(t, 1002);
    assert_true(io_udacity_time("C:\\x\\IMG\\left_2016_12_01_13_30_48_287.jpg", &t));
    assert_int_equal(t, 1480599048287LL);
    assert_true(io_udacity_time("/a/b/center_2000_03_01_00_00_00_000.png", &t));
    assert_int_equal(t, 951868800000LL);
    assert_false(io_udacity_time("center_0001.jpg", &t));
    assert_false(io_udacity_time("center_2016_13_01_13_30_48_287.jpg", &t));
    assert_false(io_udacity_time("center_2016_12_01_13_30_48_28.jpg", &t));
    assert_false(io_udacity_time("nounderscore.jpg", &t));
    assert_string_equal(io_basename_any("C:\\a\\b.jpg"), "b.jpg");
    assert_string_equal(io_basename_any("/a/b/c.jpg"), "c.jpg");
    assert_string_equal(io_basename_any("c.jpg"), "c.jpg");
}

static void test_time_order(void **state)
{
    tmp_fixture *f = *state;
    char text[1024];
    snprintf(text, sizeof text, "IMG/%s,,,0,0,0,0\nIMG/%s,,,0,0,0,0\n", names[1], names[0]);
    write_text(f->file, text);
    io_drive_log log;
    nn_err err;
    assert_int_equal(io_udacity_load(&log, f->file, NULL, &err), NN_OK);
    assert_true(log.rows[0].has_time && log.rows[1].has_time);
    assert_false(log.all_timed); /* times go backwards: not usable for pacing */
    io_drive_log_free(&log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_header_relative, setup, tmp_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_foreign_absolute_no_header, setup, tmp_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_bad_rows, setup, tmp_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_missing_images, setup, tmp_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_not_regular, setup, tmp_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_denormal, setup, tmp_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_digest, setup, tmp_fixture_teardown),
        cmocka_unit_test(test_times),
        cmocka_unit_test_setup_teardown(test_time_order, setup, tmp_fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
