/* test_ds_drivelog.c — the trainer's driving-log datasets (src/train/ds_drivelog.c) over logs the
 * test writes in the three layouts with real PNG/JPEG frames (flat colours, so the expected model
 * input is known after any crop and resize): items = rows, the frame made into the model input
 * (RGB and grayscale), target = steering (Sully degrees / max_angle_deg), side cameras with the
 * steering correction (clipped to [-1, 1]), ds_target without decoding, Donkey deleted records;
 * missing images skipped and counted, an error above 1% unless allow_missing; a corrupt JPEG
 * naming the log file, line and field; a model input with 4 channels refused. */
#include <math.h>
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
#include "io/image.h"
#include "train/dataset.h"

#define FH 16 /* frame height, width */
#define FW 32
#define IN_H 4 /* model input */
#define IN_W 8

/* A flat frame of colour (r, g, b): PNG, or JPEG when the name ends in .jpg. */
static void write_frame(const char *path, int r, int g, int b)
{
    static uint8_t rgb[FH * FW * 3];
    for (int i = 0; i < FH * FW; i++) {
        rgb[3 * i] = (uint8_t)r;
        rgb[3 * i + 1] = (uint8_t)g;
        rgb[3 * i + 2] = (uint8_t)b;
    }
    nn_err err;
    size_t n = strlen(path);
    nn_status s = n > 4 && strcmp(path + n - 4, ".jpg") == 0 ? io_image_save_jpeg(path, rgb, FW, FH, 95, &err)
                                                              : io_image_save_png(path, rgb, FW, FH, &err);
    if (s)
        fail_msg("%s", err.msg);
}

static int setup(void **state)
{
    return tmp_fixture_new(state, "test_ds_drivelog", NULL) ? 0 : -1;
}

/* The model: frames of any size, crop the lower half (given for a 32x64 source, so scaled to
 * the 16x32 frames), resize to IN_H x IN_W. */
static const nn_preprocess pre = {.crop = true, .src_h = 32, .src_w = 64, .top = 16, .bottom = 32, .left = 0,
                                  .right = 64, .scale = 1.0f / 255.0f, .offset = 0.0f};

static ds_open_opts opts(int channels)
{
    return (ds_open_opts){.pre = &pre, .in_h = IN_H, .in_w = IN_W, .in_c = channels,
                          .steering_correction = 0.25f};
}

/* A Udacity folder of n rows: centre i has colour 5*i (grey), left 200 (red), right 100 (blue);
 * steering (i % 11 - 5) / 10. Rows listed in `gone` have no centre image on disk. */
static void write_udacity(tmp_fixture *f, const char *name, int n, const int *gone, int n_gone)
{
    char dir[256], path[512];
    snprintf(dir, sizeof dir, "%s/%s", f->dir, name);
    make_dir(dir);
    snprintf(path, sizeof path, "%s/IMG", dir);
    make_dir(path);
    snprintf(path, sizeof path, "%s/driving_log.csv", dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("center,left,right,steering,throttle,brake,speed\n", fp);
    for (int i = 0; i < n; i++) {
        bool missing = false;
        for (int k = 0; k < n_gone; k++)
            missing |= gone[k] == i;
        char img[512];
        snprintf(img, sizeof img, "%s/IMG/center_%d.png", dir, i);
        if (!missing)
            write_frame(img, 5 * i, 5 * i, 5 * i);
        fprintf(fp, "C:\\sim\\IMG\\center_%d.png, C:\\sim\\IMG\\left.png, C:\\sim\\IMG\\right.png, %g, 0.5, 0, 20\n", i,
                (i % 11 - 5) / 10.0);
    }
    assert_int_equal(fclose(fp), 0);
    snprintf(path, sizeof path, "%s/IMG/left.png", dir);
    write_frame(path, 200, 0, 0);
    snprintf(path, sizeof path, "%s/IMG/right.png", dir);
    write_frame(path, 0, 0, 100);
}

/* Every value of the item's image is within tol of want. */
static void expect_flat(const float *img, int n, float want, float tol, const char *what)
{
    for (int i = 0; i < n; i++)
        if (fabsf(img[i] - want) > tol)
            fail_msg("%s: value %d is %g, want %g", what, i, img[i], want);
}

static void test_udacity_items(void **state)
{
    tmp_fixture *f = *state;
    write_udacity(f, "u", 10, NULL, 0);
    tmp_path(f, "u"); /* f->buf: the log folder */
    ds_open_opts o = opts(3);
    o.side_cameras = true;
    ds_dataset *ds;
    nn_err err;
    assert_int_equal(ds_open(&ds, "udacity", f->buf, &o, &err), NN_OK);
    assert_int_equal(ds_count(ds), 10);
    const ds_info *info = ds_get_info(ds);
    assert_true(info->h == IN_H && info->w == IN_W && info->c == 3 && info->task == DS_REGRESS && info->n_targets == 1);
    assert_string_equal(ds_note(ds), "");
    /* the identity a resume checks: the log's own content digest */
    io_drive_log log;
    assert_int_equal(io_udacity_load(&log, f->buf, NULL, &err), NN_OK);
    assert_int_equal(strncmp(ds_digest(ds), "sha256:", 7), 0);
    assert_string_equal(ds_digest(ds), log.digest);
    io_drive_log_free(&log);
    float img[IN_H * IN_W * 3], t;
    int32_t label = -1;
    ds_xform xf = {.scale = 1.0f / 255.0f, .offset = -0.5f};
    for (size_t i = 0; i < 10; i++) {
        assert_int_equal(ds_item(ds, i, &xf, img, &label, &t, &err), NN_OK);
        expect_flat(img, IN_H * IN_W * 3, 5.0f * (float)i / 255.0f - 0.5f, 1e-5f, "centre");
        assert_float_equal(t, ((float)i - 5) / 10, 1e-6);
        assert_int_equal(label, 0);
        float t2;
        assert_int_equal(ds_target(ds, i, &t2, &err), NN_OK);
        assert_true(t2 == t);
    }
    /* side cameras: the left (red) image with +0.25, the right (blue) one with -0.25, clipped */
    xf.camera = DS_CAMERA_LEFT;
    assert_int_equal(ds_item(ds, 9, &xf, img, NULL, &t, &err), NN_OK);
    assert_float_equal(img[0], 200.0f / 255.0f - 0.5f, 1e-5);
    assert_float_equal(img[1], -0.5f, 1e-5);
    assert_float_equal(t, 0.4f + 0.25f, 1e-6);
    xf.camera = DS_CAMERA_RIGHT;
    assert_int_equal(ds_item(ds, 0, &xf, img, NULL, &t, &err), NN_OK);
    assert_float_equal(img[2], 100.0f / 255.0f - 0.5f, 1e-5);
    assert_float_equal(t, -0.75f, 1e-6);
    assert_int_equal(ds_item(ds, 1, &xf, img, NULL, &t, &err), NN_OK);
    assert_float_equal(t, -0.65f, 1e-6);
    ds_close(ds);
    /* without side cameras a camera request gives the centre image */
    o.side_cameras = false;
    o.steering_correction = 0.4f;
    assert_int_equal(ds_open(&ds, "udacity", f->buf, &o, &err), NN_OK);
    assert_int_equal(ds_item(ds, 9, &xf, img, NULL, &t, &err), NN_OK);
    expect_flat(img, IN_H * IN_W * 3, 45.0f / 255.0f - 0.5f, 1e-5f, "centre instead of right");
    assert_float_equal(t, 0.4f, 1e-6);
    ds_close(ds);
    /* a grayscale model: luma of the frame */
    o = opts(1);
    o.side_cameras = true;
    assert_int_equal(ds_open(&ds, "udacity", f->buf, &o, &err), NN_OK);
    xf.camera = DS_CAMERA_LEFT;
    float grey[IN_H * IN_W];
    assert_int_equal(ds_item(ds, 3, &xf, grey, NULL, &t, &err), NN_OK);
    expect_flat(grey, IN_H * IN_W, 0.299f * 200.0f / 255.0f - 0.5f, 1e-5f, "luma");
    ds_close(ds);
    /* a model input that is not an image of 3 or 1 channels */
    o = opts(4);
    check_msg("4 channels", ds_open(&ds, "udacity", f->buf, &o, &err), NN_E_SHAPE, &err,
              "the model takes 4x8x4 (HxWxC) but driving-log frames are RGB");
    assert_null(ds);
    check_msg("no model", ds_open(&ds, "udacity", f->buf, NULL, &err), NN_E_ARG, &err,
              "needs the model's input and preprocessing");
}

static void test_missing_images(void **state)
{
    tmp_fixture *f = *state;
    /* 2 of 120 centre images gone (left/right not checked without side cameras): 1.7% > 1% */
    const int gone[2] = {3, 70};
    write_udacity(f, "m", 120, gone, 2);
    tmp_path(f, "m");
    ds_open_opts o = opts(3);
    ds_dataset *ds;
    nn_err err;
    check_msg("over 1%", ds_open(&ds, "udacity", f->buf, &o, &err), NN_E_IO, &err,
              "/m: 2 of 120 listed images are missing (1.7%, more than 1%; --allow-missing trains without them); "
              "first: ");
    assert_non_null(strstr(err.msg, "driving_log.csv:5: center: image not found in "));
    assert_null(ds);
    o.allow_missing = true;
    assert_int_equal(ds_open(&ds, "udacity", f->buf, &o, &err), NN_OK);
    assert_int_equal(ds_count(ds), 118);
    assert_non_null(strstr(ds_note(ds), "2 of 120 listed images are missing (1.67%): 2 rows left out, 118 used"));
    /* the rows after a missing one keep their own frames and steering */
    float img[IN_H * IN_W * 3], t;
    ds_xform xf = {.scale = 1.0f, .offset = 0.0f};
    assert_int_equal(ds_item(ds, 3, &xf, img, NULL, &t, &err), NN_OK);
    expect_flat(img, IN_H * IN_W * 3, 20.0f, 1e-3f, "row 4 (item 3)");
    assert_float_equal(t, -0.1f, 1e-6);
    ds_close(ds);
    /* 1 of 120 (0.8%): skipped and counted without allow_missing */
    write_udacity(f, "m1", 120, gone, 1);
    tmp_path(f, "m1");
    o.allow_missing = false;
    assert_int_equal(ds_open(&ds, "udacity", f->buf, &o, &err), NN_OK);
    assert_int_equal(ds_count(ds), 119);
    assert_non_null(strstr(ds_note(ds), "1 of 120 listed images are missing (0.83%): 1 rows left out, 119 used"));
    ds_close(ds);
}

static void test_corrupt_frame(void **state)
{
    tmp_fixture *f = *state;
    write_udacity(f, "c", 4, NULL, 0);
    /* a JPEG header and garbage, under the .png name (the format is sniffed) */
    FILE *fp = fopen(tmp_path(f, "c/IMG/center_2.png"), "wb");
    assert_non_null(fp);
    static const uint8_t junk[] = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00, 0x01, 0x01, 0x00, 0x00,
                                   0x01, 0x00, 0x01, 0x00, 0x00, 0xFF, 0xC0, 0x00, 0x11, 0x08, 0x33, 0x33};
    assert_int_equal(fwrite(junk, 1, sizeof junk, fp), sizeof junk);
    assert_int_equal(fclose(fp), 0);
    tmp_path(f, "c");
    ds_open_opts o = opts(3);
    ds_dataset *ds;
    nn_err err;
    assert_int_equal(ds_open(&ds, "udacity", f->buf, &o, &err), NN_OK);
    float img[IN_H * IN_W * 3], t;
    char want[512];
    snprintf(want, sizeof want, "%s/c/driving_log.csv:4: center: %s/c/IMG/center_2.png: corrupt JPEG: ", f->dir,
             f->dir);
    check_msg("corrupt", ds_item(ds, 2, NULL, img, NULL, &t, &err), NN_E_PARSE, &err, want);
    ds_close(ds);
}

static void test_sully_and_donkey(void **state)
{
    tmp_fixture *f = *state;
    char path[512];
    snprintf(path, sizeof path, "%s/s", f->dir);
    make_dir(path);
    snprintf(path, sizeof path, "%s/s/0.jpg", f->dir);
    write_frame(path, 128, 128, 128);
    snprintf(path, sizeof path, "%s/s/data.txt", f->dir);
    write_text(path, "0.jpg 25.0,2018-07-01 17:09:44:912\n0.jpg -50\n");
    tmp_path(f, "s");
    ds_open_opts o = opts(3);
    o.max_angle_deg = 50; /* the model's output.scale_deg */
    ds_dataset *ds;
    nn_err err;
    assert_int_equal(ds_open(&ds, "sullychen", f->buf, &o, &err), NN_OK);
    assert_int_equal(ds_count(ds), 2);
    float img[IN_H * IN_W * 3], t;
    assert_int_equal(ds_item(ds, 0, NULL, img, NULL, &t, &err), NN_OK);
    expect_flat(img, IN_H * IN_W * 3, 128.0f, 3.0f, "sully JPEG frame"); /* JPEG: within a few levels */
    assert_float_equal(t, 0.5f, 1e-6);
    assert_int_equal(ds_target(ds, 1, &t, &err), NN_OK);
    assert_float_equal(t, -1.0f, 1e-6);
    ds_close(ds);
    o.max_angle_deg = 0; /* the default 25 degrees: -50 is out of range */
    check_msg("sully range", ds_open(&ds, "sullychen", f->buf, &o, &err), NN_E_PARSE, &err,
              "data.txt:2: angle: must be in [-25, 25] degrees (max_angle_deg) (got '-50')");

    snprintf(path, sizeof path, "%s/d", f->dir);
    make_dir(path);
    snprintf(path, sizeof path, "%s/d/images", f->dir);
    make_dir(path);
    snprintf(path, sizeof path, "%s/d/images/0_cam_image_array_.jpg", f->dir);
    write_frame(path, 0, 255, 0);
    snprintf(path, sizeof path, "%s/d/manifest.json", f->dir);
    write_text(path, "[\"cam/image_array\", \"user/angle\", \"user/throttle\"]\n[\"image_array\", \"float\", \"float\"]\n"
                     "{}\n{}\n{\"paths\": [\"catalog_0.catalog\"], \"current_index\": 2, \"deleted_indexes\": [1]}\n");
    snprintf(path, sizeof path, "%s/d/catalog_0.catalog", f->dir);
    write_text(path, "{\"_index\": 0, \"cam/image_array\": \"0_cam_image_array_.jpg\", \"user/angle\": -0.5, "
                     "\"user/throttle\": 0.2}\r\n"
                     "{\"_index\": 1, \"cam/image_array\": \"0_cam_image_array_.jpg\", \"user/angle\": 0.9, "
                     "\"user/throttle\": 0.2}\r\n");
    tmp_path(f, "d");
    o.max_angle_deg = 0;
    assert_int_equal(ds_open(&ds, "donkey", f->buf, &o, &err), NN_OK);
    assert_int_equal(ds_count(ds), 1);
    assert_non_null(strstr(ds_note(ds), "/d: 1 records marked deleted in manifest.json skipped"));
    assert_int_equal(ds_item(ds, 0, NULL, img, NULL, &t, &err), NN_OK);
    assert_float_equal(img[1], 255.0f, 3.0f);
    assert_float_equal(t, -0.5f, 1e-6);
    ds_close(ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_udacity_items, setup, tmp_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_missing_images, setup, tmp_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_frame, setup, tmp_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_sully_and_donkey, setup, tmp_fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
