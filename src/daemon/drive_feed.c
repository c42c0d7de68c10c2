/* drive_feed.c — decodes a recorded Udacity drive's centre images (by content) and pushes them as
 * RGB frames into `appsrc name=src`, paced by the recorded time stamps or as fast as the pipeline
 * takes them; unusable rows are counted, logged and leave a frame_id gap (see drive_feed.h). */
#include "daemon/drive_feed.h"

#include <gst/app/gstappsrc.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Rows without time stamps in their image names play at 10 Hz (as `steerctl replay`). */
#define DF_UNTIMED_PERIOD_NS 100000000ull

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

nn_status df_open(drive_feed *df, const slog *log, const char *log_path, df_rate rate, nn_err *err)
{
    memset(df, 0, sizeof *df);
    df->log = log;
    df->rate = rate;
    atomic_init(&df->stop, false);
    atomic_init(&df->pushed, 0);
    atomic_init(&df->bad, 0);
    io_drive_opts opts = {.check_images = true};
    nn_status s = io_udacity_load(&df->drive, log_path, &opts, err);
    if (s)
        return s;
    if (df->drive.n == 0)
        s = nn_fail(err, NN_E_PARSE, "%s: the drive log has no rows", df->drive.path);
    if (s)
        io_drive_log_free(&df->drive);
    return s;
}

void df_close(drive_feed *df)
{
    df_request_stop(df);
    df_join(df);
    io_image_free(&df->img);
    io_drive_log_free(&df->drive);
}

size_t df_rows(const drive_feed *df) { return df->drive.n; }

/* appsrc's own count of buffers its leaky queue dropped (0 for a blocking queue). */
static uint64_t appsrc_dropped(GstElement *appsrc)
{
    guint64 n = 0;
    if (appsrc && g_object_class_find_property(G_OBJECT_GET_CLASS(appsrc), "dropped"))
        g_object_get(appsrc, "dropped", &n, NULL);
    return n;
}

uint64_t df_queue_dropped(const drive_feed *df) { return df->queue_dropped + appsrc_dropped(df->appsrc); }

nn_status df_attach(drive_feed *df, GstElement *pipeline, _Atomic uint64_t *frame_ids, nn_err *err)
{
    GstElement *src = GST_IS_BIN(pipeline) ? gst_bin_get_by_name(GST_BIN(pipeline), "src") : NULL;
    if (!src || !GST_IS_APP_SRC(src)) {
        if (src)
            gst_object_unref(src);
        return nn_fail(err, NN_E_SPEC,
                       "source.pipeline: source.drive_log needs an `appsrc name=src` element to push frames into");
    }
    bool recorded = df->rate == DF_RATE_RECORDED;
    /* recorded: a camera (live, stamped on push, old frames dropped when the daemon lags);
     * max: a file (back-pressure: a push waits until the daemon took the previous frames).
     * Caps: set by the feed thread from the first decoded frame (and again on a size change). */
    g_object_set(src, "format", GST_FORMAT_TIME, "is-live", recorded, "do-timestamp", TRUE, "block", !recorded,
                 "max-buffers", (guint64)2, "leaky-type", recorded ? GST_APP_LEAKY_TYPE_DOWNSTREAM : GST_APP_LEAKY_TYPE_NONE,
                 NULL);
    if (df->appsrc) {
        df->queue_dropped += appsrc_dropped(df->appsrc);
        gst_object_unref(df->appsrc);
    }
    df->appsrc = src;
    df->frame_ids = frame_ids;
    df->pool_w = df->pool_h = 0; /* a new pipeline: caps again with the next frame */
    return NN_OK;
}

/* Makes df->pool hand out w x h RGB buffers and tells the pipeline the new caps (a new pool per
 * size: buffers still downstream keep the old one alive until they come back). */
static bool use_size(drive_feed *df, int w, int h)
{
    if (df->pool && df->pool_w == w && df->pool_h == h)
        return true;
    GstCaps *caps = gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "RGB", "width", G_TYPE_INT, w,
                                        "height", G_TYPE_INT, h, "framerate", GST_TYPE_FRACTION, 0, 1, NULL);
    GstBufferPool *pool = caps ? gst_buffer_pool_new() : NULL;
    bool ok = pool != NULL;
    if (ok) {
        GstStructure *conf = gst_buffer_pool_get_config(pool);
        gst_buffer_pool_config_set_params(conf, caps, (guint)((size_t)w * (size_t)h * 3), 0, 0);
        ok = gst_buffer_pool_set_config(pool, conf) && gst_buffer_pool_set_active(pool, TRUE);
    }
    if (ok) {
        gst_app_src_set_caps(GST_APP_SRC(df->appsrc), caps);
        if (df->pool) {
            gst_buffer_pool_set_active(df->pool, FALSE);
            gst_object_unref(df->pool);
        }
        df->pool = pool;
        df->pool_w = w;
        df->pool_h = h;
    } else if (pool) {
        gst_object_unref(pool);
    }
    if (caps)
        gst_caps_unref(caps);
    return ok;
}

/* A buffer holding the decoded image, stamped with its frame id, or NULL (err says why). */
static GstBuffer *frame_buffer(drive_feed *df, uint64_t frame_id, nn_err *err)
{
    const io_image *im = &df->img;
    GstBuffer *buf = NULL;
    if (!use_size(df, im->width, im->height) || gst_buffer_pool_acquire_buffer(df->pool, &buf, NULL) != GST_FLOW_OK) {
        nn_fail(err, NN_E_NOMEM, "no buffer for a %dx%d frame", im->width, im->height);
        return NULL;
    }
    gst_buffer_fill(buf, 0, im->data, (size_t)im->width * (size_t)im->height * 3);
    GST_BUFFER_OFFSET(buf) = frame_id;
    return buf;
}

/* Sleeps until `due` (CLOCK_MONOTONIC ns) in slices, so a stop request is seen within 20 ms. */
static bool sleep_until(drive_feed *df, uint64_t due)
{
    for (;;) {
        if (atomic_load(&df->stop))
            return false;
        uint64_t now = mono_ns();
        if (now >= due)
            return true;
        uint64_t step = due - now < 20000000ull ? due - now : 20000000ull;
        struct timespec ts = {.tv_sec = (time_t)(step / 1000000000ull), .tv_nsec = (long)(step % 1000000000ull)};
        nanosleep(&ts, NULL);
    }
}

static void *feed_main(void *arg)
{
    drive_feed *df = arg;
    GstAppSrc *src = GST_APP_SRC(df->appsrc);
    const io_drive_row *rows = df->drive.rows;
    size_t first = df->next;
    uint64_t t_start = mono_ns();
    for (; df->next < df->drive.n; df->next++) {
        const io_drive_row *r = &rows[df->next];
        uint64_t offset_ns = df->drive.all_timed ? (uint64_t)(r->t_ms - rows[first].t_ms) * 1000000ull
                                                 : (uint64_t)(df->next - first) * DF_UNTIMED_PERIOD_NS;
        if (df->rate == DF_RATE_RECORDED && !sleep_until(df, t_start + offset_ns))
            return NULL;
        if (atomic_load(&df->stop))
            return NULL;
        /* the row is read: it has its frame id, used or not */
        uint64_t id = atomic_fetch_add(df->frame_ids, 1);
        nn_err e;
        GstBuffer *buf = io_image_load(&df->img, r->center, &e) ? NULL : frame_buffer(df, id, &e);
        if (!buf) {
            uint64_t n = atomic_fetch_add(&df->bad, 1) + 1;
            if (slog_due(n))
                slog_warn(df->log, "source: %s:%d: center: %s; frame %" PRIu64 " skipped (%" PRIu64
                          " bad frame%s so far)", df->drive.path, r->line, e.msg, id, n, n == 1 ? "" : "s");
            continue;
        }
        if (gst_app_src_push_buffer(src, buf) != GST_FLOW_OK) /* flushing: the pipeline is stopping */
            return NULL;
        atomic_fetch_add(&df->pushed, 1);
    }
    if (!atomic_load(&df->stop))
        gst_app_src_end_of_stream(src);
    return NULL;
}

nn_status df_start(drive_feed *df, nn_err *err)
{
    if (!df->appsrc)
        return nn_fail(err, NN_E_ARG, "source: drive feed not attached to a pipeline");
    atomic_store(&df->stop, false);
    int e = pthread_create(&df->thread, NULL, feed_main, df);
    if (e)
        return nn_fail(err, NN_E_NOMEM, "source: cannot start the drive feed thread: %s", strerror(e));
    df->running = true;
    return NN_OK;
}

void df_request_stop(drive_feed *df) { atomic_store(&df->stop, true); }

void df_join(drive_feed *df)
{
    if (df->running) {
        pthread_join(df->thread, NULL);
        df->running = false;
    }
    if (df->appsrc) {
        df->queue_dropped += appsrc_dropped(df->appsrc);
        gst_object_unref(df->appsrc);
        df->appsrc = NULL;
    }
    if (df->pool) {
        gst_buffer_pool_set_active(df->pool, FALSE);
        gst_object_unref(df->pool);
        df->pool = NULL;
    }
}
