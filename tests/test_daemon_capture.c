/* test_daemon_capture.c — steerd's capture and drive feed with real GStreamer pipelines (issue 12):
 * a failed start keeps the FIRST bus error with GStreamer's detail (a missing filesrc file says
 * so, not "failed to post a proper error message"); not-negotiated caps name what was offered and
 * what is needed; frame ids go on across restarts and cap_configure (a reload); the drive feed's
 * image loader tells JPEG from PNG by content and refuses a FIFO or a directory without blocking;
 * the per-frame log rate limit. */
#include <gst/gst.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon/capture.h"
#include "daemon/drive_feed.h"
#include "io/image.h"

static void test_explain_caps(void **state)
{
    (void)state;
    char out[400];
    struct {
        const char *offered, *want;
    } cases[] = {
        {"video/x-raw, format=GRAY8, width=320, height=160",
         "the pipeline offers video/x-raw, format=GRAY8; steerd needs video/x-raw, format=RGB (add videoconvert "
         "before the appsink)"},
        {"video/x-raw, format={ GRAY8, NV12 }",
         "the pipeline offers video/x-raw, format={ GRAY8, NV12 }; steerd needs video/x-raw, format=RGB (add "
         "videoconvert before the appsink)"},
        {"audio/x-raw, format=S16LE, rate=44100",
         "the pipeline offers audio/x-raw, format=S16LE; steerd needs video/x-raw, format=RGB (the pipeline must "
         "produce video)"},
        {"image/jpeg, width=320",
         "the pipeline offers image/jpeg; steerd needs video/x-raw, format=RGB (add a decoder before the appsink, "
         "e.g. decodebin ! videoconvert)"},
        {"video/x-h264; video/x-raw, format=I420; video/x-raw, format=NV12; video/x-raw, format=YUY2",
         "the pipeline offers video/x-h264; video/x-raw, format=I420; video/x-raw, format=NV12; ...; steerd needs "
         "video/x-raw, format=RGB (add a decoder before the appsink, e.g. decodebin ! videoconvert)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        GstCaps *caps = gst_caps_from_string(cases[i].offered);
        assert_non_null(caps);
        cap_explain_caps(caps, out, sizeof out);
        if (strcmp(out, cases[i].want) != 0)
            fail_msg("offered %s:\n got  %s\n want %s", cases[i].offered, out, cases[i].want);
        gst_caps_unref(caps);
    }
    cap_explain_caps(NULL, out, sizeof out);
    assert_string_equal(out, "steerd needs video/x-raw, format=RGB (add videoconvert before the appsink)");
    cap_explain_caps(NULL, out, 10); /* truncated, still terminated */
    assert_int_equal(strlen(out), 9);
}

typedef struct {
    slog log;
    frame_slot slot;
    capture cap;
} rig;

static int setup(void **state)
{
    rig *r = calloc(1, sizeof *r);
    if (!r || fs_init(&r->slot))
        return -1;
    slog_init(&r->log, "test", SLOG_ERR);
    *state = r;
    return 0;
}

static int teardown(void **state)
{
    rig *r = *state;
    cap_stop(&r->cap);
    fs_destroy(&r->slot);
    free(r);
    return 0;
}

/* Polls until the capture reports ev (or 10 s pass). */
static void wait_event(capture *c, cap_event ev)
{
    for (int i = 0; i < 1000; i++) {
        if (cap_poll(c, cap_now_ns()) == ev)
            return;
        g_usleep(10000);
    }
    fail_msg("no capture event %d (state %d, error '%s')", ev, c->state, c->error);
}

static void test_first_error_with_detail(void **state)
{
    rig *r = *state;
    cap_init(&r->cap, &r->log, &r->slot, "filesrc location=/nonexistent/steerd-x.mp4 ! decodebin ! appsink name=sink",
             false, 100, 1000);
    nn_err e;
    assert_int_equal(cap_start(&r->cap, cap_now_ns(), &e), NN_OK);
    assert_int_equal(r->cap.state, CAP_RETRY_WAIT);
    if (!strstr(r->cap.error, "Resource not found.") || !strstr(r->cap.error, "No such file \"/nonexistent/steerd-x.mp4\"") ||
        strstr(r->cap.error, "proper error message"))
        fail_msg("error kept: %s", r->cap.error);
}

static void test_not_negotiated(void **state)
{
    rig *r = *state;
    cap_init(&r->cap, &r->log, &r->slot, "videotestsrc ! video/x-raw,format=GRAY8 ! appsink name=sink", false, 100,
             1000);
    nn_err e;
    assert_int_equal(cap_start(&r->cap, cap_now_ns(), &e), NN_OK);
    if (r->cap.state == CAP_PLAYING) /* negotiation fails once data flows */
        wait_event(&r->cap, CAP_EV_ERROR);
    const char *want = "caps not negotiated: the pipeline offers video/x-raw, format=GRAY8; steerd needs "
                       "video/x-raw, format=RGB (add videoconvert before the appsink)";
    if (strcmp(r->cap.error, want) != 0)
        fail_msg("error kept: %s", r->cap.error);
}

/* Takes n frames (back-pressure mode); returns the first id and checks they are consecutive. */
static uint64_t take_ids(rig *r, int n)
{
    uint64_t first = 0;
    for (int i = 0; i < n; i++) {
        const sd_frame *f = NULL;
        for (int t = 0; t < 500 && !f; t++)
            f = fs_take(&r->slot, 20);
        assert_non_null(f);
        if (i == 0)
            first = f->frame_id;
        else
            assert_int_equal(f->frame_id, first + (uint64_t)i);
    }
    return first;
}

static void test_frame_ids_survive_restarts(void **state)
{
    rig *r = *state;
    const char *a = "videotestsrc num-buffers=3 ! video/x-raw,format=RGB,width=16,height=8 ! appsink name=sink";
    const char *b = "videotestsrc num-buffers=2 pattern=snow ! video/x-raw,format=RGB,width=8,height=8 ! "
                    "appsink name=sink";
    nn_err e;
    cap_init(&r->cap, &r->log, &r->slot, a, false, 100, 1000);
    assert_int_equal(cap_start(&r->cap, cap_now_ns(), &e), NN_OK);
    assert_int_equal(take_ids(r, 3), 0);
    wait_event(&r->cap, CAP_EV_EOS);
    /* a restart after the end of stream (source.on_eos: restart) */
    assert_int_equal(cap_start(&r->cap, cap_now_ns(), &e), NN_OK);
    assert_int_equal(take_ids(r, 3), 3);
    wait_event(&r->cap, CAP_EV_EOS);
    /* a reload that changes the pipeline */
    cap_stop(&r->cap);
    cap_configure(&r->cap, b, false, 100, 1000);
    assert_int_equal(cap_start(&r->cap, cap_now_ns(), &e), NN_OK);
    assert_int_equal(take_ids(r, 2), 6);
    assert_int_equal(cap_bad_frames(&r->cap), 0);
    assert_int_equal(atomic_load(&r->cap.frames), 8);
}

static void test_feed_images_by_content(void **state)
{
    (void)state;
    char dir[] = "/tmp/steerd-capture-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char png_as_jpg[300], jpg_as_png[300], fifo[300], sub[300], text[300];
    snprintf(png_as_jpg, sizeof png_as_jpg, "%s/a.jpg", dir);
    snprintf(jpg_as_png, sizeof jpg_as_png, "%s/b.png", dir);
    snprintf(fifo, sizeof fifo, "%s/fifo.png", dir);
    snprintf(sub, sizeof sub, "%s/dir.jpg", dir);
    snprintf(text, sizeof text, "%s/text.jpg", dir);
    uint8_t rgb[4 * 2 * 3];
    for (size_t i = 0; i < sizeof rgb; i++)
        rgb[i] = (uint8_t)(i * 10);
    nn_err e;
    assert_int_equal(io_image_save_png(png_as_jpg, rgb, 4, 2, &e), NN_OK);
    assert_int_equal(io_image_save_jpeg(jpg_as_png, rgb, 4, 2, 90, &e), NN_OK);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(mkdir(sub, 0700), 0);
    FILE *f = fopen(text, "w");
    assert_non_null(f);
    fputs("hello, not an image\n", f);
    fclose(f);

    io_image img = {0};
    assert_int_equal(io_image_load(&img, png_as_jpg, &e), NN_OK);
    assert_memory_equal(img.data, rgb, sizeof rgb); /* PNG: lossless */
    assert_int_equal(io_image_load(&img, jpg_as_png, &e), NN_OK);
    assert_int_equal(img.width, 4);
    assert_int_equal(img.height, 2);
    assert_int_not_equal(io_image_load(&img, fifo, &e), NN_OK); /* must not block */
    assert_non_null(strstr(e.msg, "fifo.png: is a FIFO, expected a regular file"));
    assert_int_not_equal(io_image_load(&img, sub, &e), NN_OK);
    assert_non_null(strstr(e.msg, "dir.jpg: is a directory, expected a regular file"));
    assert_int_not_equal(io_image_load(&img, text, &e), NN_OK);
    assert_non_null(strstr(e.msg, "text.jpg: not a JPEG or PNG image"));
    assert_null(strstr(e.msg, "hello"));
    io_image_free(&img);

    unlink(png_as_jpg);
    unlink(jpg_as_png);
    unlink(fifo);
    unlink(text);
    rmdir(sub);
    rmdir(dir);
}

static void test_log_rate_limit(void **state)
{
    (void)state;
    int logged = 0;
    for (uint64_t n = 1; n <= 5000; n++)
        logged += slog_due(n);
    assert_int_equal(logged, 10 + 5); /* 1..10, then 1000, 2000, ..., 5000 */
    assert_true(slog_due(1) && slog_due(10) && !slog_due(11) && !slog_due(999) && slog_due(1000));
}

int main(void)
{
    gst_init(NULL, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_explain_caps),
        cmocka_unit_test_setup_teardown(test_first_error_with_detail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_negotiated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_frame_ids_survive_restarts, setup, teardown),
        cmocka_unit_test(test_feed_images_by_content),
        cmocka_unit_test(test_log_rate_limit),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    gst_deinit();
    return rc;
}
