/* test_io_donkey.c — the Donkey Car tub v2 reader (src/io/drivelog_donkey.c) on tubs written in a
 * temporary directory the way donkeycar's datastore_v2 writes them (5-line manifest.json,
 * CRLF-terminated catalog records over two catalogs, images/): records in order across
 * catalogs, deleted_indexes skipped, the camera input found by its type, timestamps; and every
 * kind of bad manifest or record giving one line `file:line: field: problem (got value)`:
 * NaN/Infinity/strings/out-of-range angles, missing keys, broken JSON, missing images. */
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

static const char inputs[] = "[\"cam/image_array\", \"user/angle\", \"user/throttle\", \"user/mode\"]\n"
                             "[\"image_array\", \"float\", \"float\", \"str\"]\n"
                             "{}\n"
                             "{\"created_at\": 1613808000.5, \"sessions\": {\"all_full_ids\": [\"21-02-20_0\"]}}\n";

/* images/ with the frames of records 0 to 4 (empty files); f->file is manifest.json (written by
 * each test). */
static int setup(void **state)
{
    tmp_fixture *f = tmp_fixture_new(state, "test_io_donkey", "manifest.json");
    if (!f)
        return -1;
    make_dir(tmp_path(f, "images"));
    for (int i = 0; i < 5; i++)
        write_text(tmp_path(f, "images/%d_cam_image_array_.jpg", i), "");
    return 0;
}

/* manifest.json with `catalog_meta` as line 5; catalogs 0 and 1 with the given records. */
static void write_tub(tmp_fixture *f, const char *catalog_meta, const char *cat0, const char *cat1)
{
    char text[4096];
    snprintf(text, sizeof text, "%s%s\n", inputs, catalog_meta);
    write_text(f->file, text);
    write_text(tmp_path(f, "catalog_0.catalog"), cat0);
    if (cat1)
        write_text(tmp_path(f, "catalog_1.catalog"), cat1);
}

#define REC(i, angle) \
    "{\"_index\": " #i ", \"_session_id\": \"21-02-20_0\", \"_timestamp_ms\": 161380800000" #i ", " \
    "\"cam/image_array\": \"" #i "_cam_image_array_.jpg\", \"user/angle\": " angle ", \"user/mode\": \"user\", " \
    "\"user/throttle\": 0.3}\r\n"
#define META2 "{\"paths\": [\"catalog_0.catalog\", \"catalog_1.catalog\"], \"current_index\": 5, \"max_len\": 3, " \
              "\"deleted_indexes\": [3, 1]}"

static void test_good_tub(void **state)
{
    tmp_fixture *f = *state;
    write_tub(f, META2, REC(0, "0.0") REC(1, "0.5") REC(2, "-0.25"), REC(3, "1") "\r\n" REC(4, "-1.0"));
    io_drive_log log;
    nn_err err;
    assert_int_equal(io_donkey_load(&log, f->dir, NULL, &err), NN_OK); /* the folder */
    assert_string_equal(log.path, f->file);
    assert_int_equal(log.n, 3); /* 1 and 3 deleted */
    assert_int_equal(log.deleted, 2);
    assert_string_equal(log.rows[1].center, tmp_path(f, "images/2_cam_image_array_.jpg"));
    assert_true(log.rows[0].steering == 0.0f);
    assert_true(log.rows[1].steering == -0.25f);
    assert_true(log.rows[2].steering == -1.0f);
    assert_true(log.rows[2].throttle == 0.3f);
    assert_int_equal(log.rows[1].line, 3);
    assert_string_equal(log.rows[2].file, tmp_path(f, "catalog_1.catalog"));
    assert_int_equal(log.rows[2].line, 3); /* after the blank line */
    assert_true(log.rows[0].has_time);
    assert_int_equal(log.rows[2].t_ms, 1613808000004LL);
    assert_true(log.all_timed);
    assert_string_equal(log.rows[0].left, "");
    io_drive_log_free(&log);
    /* the manifest itself as the path, through the by-name entry */
    assert_int_equal(io_drive_load(&log, "donkey", f->file, NULL, &err), NN_OK);
    assert_int_equal(log.n, 3);
    io_drive_log_free(&log);
}

static void test_image_key_by_type(void **state)
{
    tmp_fixture *f = *state;
    /* no cam/image_array: the input typed image_array is the camera; no user/throttle */
    char text[1024];
    snprintf(text, sizeof text,
             "[\"user/angle\", \"front\"]\n[\"float\", \"image_array\"]\n{}\n{}\n{\"paths\": [\"c.catalog\"]}");
    write_text(f->file, text);
    write_text(tmp_path(f, "c.catalog"), "{\"front\": \"4_cam_image_array_.jpg\", \"user/angle\": 0.125}\n");
    io_drive_log log;
    nn_err err;
    assert_int_equal(io_donkey_load(&log, f->file, NULL, &err), NN_OK);
    assert_int_equal(log.n, 1);
    assert_true(log.rows[0].steering == 0.125f);
    assert_false(log.rows[0].has_time);
    io_drive_log_free(&log);
}

/* Expects the load to fail with a message ending in `want` after `<file>:`. */
static void expect_bad(tmp_fixture *f, const char *file, const char *want)
{
    io_drive_log log;
    nn_err err;
    nn_status s = io_donkey_load(&log, f->dir, NULL, &err);
    char full[1024];
    snprintf(full, sizeof full, "%s/%s:%s", f->dir, file, want);
    if (s == NN_OK || strcmp(err.msg, full) != 0)
        fail_msg("got status %d '%s', want '%s'", s, s ? err.msg : "", full);
    assert_null(log.rows);
    assert_null(log.pool);
}

static void test_bad_records(void **state)
{
    tmp_fixture *f = *state;
    const char *meta = "{\"paths\": [\"catalog_0.catalog\"]}";
    write_tub(f, meta, REC(0, "0") REC(1, "NaN"), NULL);
    expect_bad(f, "catalog_0.catalog", "2: user/angle: expected a number (got 'NaN')");
    write_tub(f, meta, REC(0, "Infinity"), NULL);
    expect_bad(f, "catalog_0.catalog", "1: user/angle: expected a number (got 'Infinity')");
    write_tub(f, meta, REC(0, "-Infinity"), NULL);
    expect_bad(f, "catalog_0.catalog", "1: user/angle: expected a number (got '-Infinity')");
    write_tub(f, meta, REC(0, "\"0.5\""), NULL);
    expect_bad(f, "catalog_0.catalog", "1: user/angle: expected a number (got '\"0.5\"')");
    write_tub(f, meta, REC(0, "1e999"), NULL);
    expect_bad(f, "catalog_0.catalog", "1: user/angle: expected a number (got '1e999')");
    write_tub(f, meta, REC(0, "1.5"), NULL);
    expect_bad(f, "catalog_0.catalog", "1: user/angle: must be in [-1, 1] (got '1.5')");
    write_tub(f, meta, REC(0, "null"), NULL);
    expect_bad(f, "catalog_0.catalog", "1: user/angle: expected a number (got 'null')");
    write_tub(f, meta, "{\"_index\": 0, \"cam/image_array\": \"0_cam_image_array_.jpg\"}\n", NULL);
    expect_bad(f, "catalog_0.catalog", "1: user/angle: missing from the record (got '')");
    write_tub(f, meta, "{\"_index\": 0, \"user/angle\": 0}\n", NULL);
    expect_bad(f, "catalog_0.catalog", "1: cam/image_array: missing from the record (got '')");
    write_tub(f, meta, "{\"_index\": 0.5, \"user/angle\": 0}\n", NULL);
    expect_bad(f, "catalog_0.catalog", "1: _index: expected a whole number (got '0.5')");
    write_tub(f, meta, "{\"_index\": 0, \"user/angle\": 0\n", NULL);
    expect_bad(f, "catalog_0.catalog", "1: record: bad JSON at byte 30: expected '}', got end of line (got '')");
    write_tub(f, meta, "[1, 2]\n", NULL);
    expect_bad(f, "catalog_0.catalog", "1: record: bad JSON at byte 1: expected '{', got '[' (got '[1')");
    write_tub(f, meta, REC(0, "0") "x\n", NULL);
    expect_bad(f, "catalog_0.catalog", "2: record: bad JSON at byte 1: expected '{', got 'x' (got 'x')");
    write_tub(f, meta, "{\"user/angle\": 0, \"cam/image_array\": \"9_cam_image_array_.jpg\"} {}\n", NULL);
    expect_bad(f, "catalog_0.catalog", "1: record: unexpected text after the JSON value (got '{')");
    write_tub(f, meta, "{\"user/angle\": 0, \"cam/image_array\": \"9_cam_image_array_.jpg\"}\n", NULL);
    char want[512];
    snprintf(want, sizeof want,
             "1: cam/image_array: image not found in %s/images/ nor as written (got '9_cam_image_array_.jpg')", f->dir);
    expect_bad(f, "catalog_0.catalog", want);
}

static void test_bad_manifest(void **state)
{
    tmp_fixture *f = *state;
    const char *rec = REC(0, "0");
    write_tub(f, "{\"current_index\": 1}", rec, NULL);
    expect_bad(f, "manifest.json", "5: paths: missing: the catalog metadata names no catalog files (got '')");
    write_tub(f, "{\"paths\": [\"catalog_0.catalog\"], \"deleted_indexes\": [-1]}", rec, NULL);
    expect_bad(f, "manifest.json",
               "5: deleted_indexes: bad JSON at byte 54: expected a non-negative integer, got -1 (got '-1')");
    write_tub(f, "{\"paths\": \"catalog_0.catalog\"}", rec, NULL);
    expect_bad(f, "manifest.json", "5: paths: bad JSON at byte 11: expected '[', got '\"' (got '\"catalog_0.catalog\"')");
    write_text(f->file, "[\"cam/image_array\"]\n[\"image_array\"]\n{}\n");
    expect_bad(f, "manifest.json", "4: manifest metadata: missing: a tub v2 manifest has 5 lines (got '')");
    write_text(f->file, "[\"cam/image_array\", \"user/angle\"]\n[\"image_array\"]\n{}\n{}\n{\"paths\": []}\n");
    expect_bad(f, "manifest.json", "2: types: expected one type per input (got '1 types for 2 inputs')");
    write_text(f->file, "[\"cam/image_array\", \"angle\"]\n[\"image_array\", \"float\"]\n{}\n{}\n{\"paths\": []}\n");
    expect_bad(f, "manifest.json", "1: inputs: no 'user/angle' input (the steering to learn) (got 'cam/image_array')");
    write_text(f->file, "[\"cam\", \"user/angle\"]\n[\"str\", \"float\"]\n{}\n{}\n{\"paths\": []}\n");
    expect_bad(f, "manifest.json", "1: inputs: no input of type image_array (the camera) (got 'cam')");
    write_text(f->file, "[\"cam/image_array\", \"user/angle\"]\n[\"image_array\", \"float\"]\n{\n}\n{}\n");
    expect_bad(f, "manifest.json", "3: metadata: bad JSON at byte 2: expected a string, got end of line (got '')");
    write_tub(f, "{\"paths\": [\"catalog_9.catalog\"]}", rec, NULL);
    io_drive_log log;
    nn_err err;
    check_msg("catalog missing", io_donkey_load(&log, f->dir, NULL, &err), NN_E_IO, &err,
              "catalog_9.catalog: cannot open: No such file or directory");
    assert_non_null(strstr(err.msg, "manifest.json:5: paths: catalog /"));
    write_tub(f, "{\"paths\": [\"catalog_0.catalog\"], \"deleted_indexes\": [0]}", rec, NULL);
    check_msg("all deleted", io_donkey_load(&log, f->dir, NULL, &err), NN_E_PARSE, &err,
              "manifest.json: no rows (expected records in the catalogs that manifest.json lists)");
    make_dir(tmp_path(f, "empty"));
    check_msg("no manifest", io_donkey_load(&log, f->buf, NULL, &err), NN_E_IO, &err, "empty/manifest.json: cannot open");
}

/* manifest.json, a catalog and an image as a directory, a FIFO and a device: refused by kind, no
 * hang; a denormal angle (1e-320) is accepted. */
static void test_not_regular_and_denormal(void **state)
{
    tmp_fixture *f = *state;
    const char *cat = REC(0, "1e-320");
    write_tub(f, "{\"paths\": [\"catalog_0.catalog\"], \"current_index\": 1, \"max_len\": 3, "
                 "\"deleted_indexes\": []}", cat, NULL);
    io_drive_log log;
    nn_err err;
    assert_int_equal(io_donkey_load(&log, f->dir, NULL, &err), NN_OK);
    assert_int_equal(log.n, 1);
    assert_true(log.rows[0].steering == (float)1e-320);
    io_drive_log_free(&log);
    char manifest[512], victim[512], want[2048];
    snprintf(manifest, sizeof manifest, "%s", f->file);
    FILE *fp = fopen(manifest, "r");
    assert_non_null(fp);
    char text[4096];
    size_t n = fread(text, 1, sizeof text - 1, fp);
    text[n] = '\0';
    fclose(fp);
    snprintf(want, sizeof want, "%s: is %%s, expected a regular file", manifest);
    expect_not_regular("donkey", f->dir, manifest, text, want);
    snprintf(victim, sizeof victim, "%s", tmp_path(f, "catalog_0.catalog"));
    snprintf(want, sizeof want, "%s:5: paths: catalog %s: is %%s, expected a regular file", manifest, victim);
    expect_not_regular("donkey", f->dir, victim, cat, want);
    snprintf(victim, sizeof victim, "%s", tmp_path(f, "images/0_cam_image_array_.jpg"));
    snprintf(want, sizeof want, "%s:1: cam/image_array: image is %%s, expected a regular file "
             "(got '0_cam_image_array_.jpg')", tmp_path(f, "catalog_0.catalog"));
    expect_not_regular("donkey", f->dir, victim, "", want);
}

static void test_skip_missing(void **state)
{
    tmp_fixture *f = *state;
    write_tub(f, "{\"paths\": [\"catalog_0.catalog\"]}",
              REC(0, "0") "{\"_index\": 1, \"cam/image_array\": \"gone.jpg\", \"user/angle\": 0.5}\n" REC(2, "0.1"),
              NULL);
    io_drive_log log;
    nn_err err;
    io_drive_opts o = {.check_images = true, .skip_missing = true};
    assert_int_equal(io_donkey_load(&log, f->dir, &o, &err), NN_OK);
    assert_int_equal(log.n, 2);
    assert_int_equal(log.listed, 3);
    assert_int_equal(log.missing, 1);
    assert_int_equal(log.skipped, 1);
    assert_non_null(strstr(log.first_missing, "catalog_0.catalog:2: cam/image_array: image not found"));
    io_drive_log_free(&log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_good_tub, setup, tmp_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_image_key_by_type, setup, tmp_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_bad_records, setup, tmp_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_bad_manifest, setup, tmp_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_not_regular_and_denormal, setup, tmp_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_skip_missing, setup, tmp_fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
