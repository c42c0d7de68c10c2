/* drive_feed.c — pushes a recorded Udacity drive's centre images into `appsrc name=src`, paced
 * by the recorded time stamps or as fast as the pipeline takes them (see drive_feed.h). */
#include "daemon/drive_feed.h"

#include <errno.h>
#include <fcntl.h>
#include <gst/app/gstappsrc.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
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
    atomic_init(&df->unreadable, 0);
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
    io_drive_log_free(&df->drive);
}

size_t df_rows(const drive_feed *df) { return df->drive.n; }

/* Caps of the encoded frames from the first image's extension (NULL: let typefind decide). */
static GstCaps *image_caps(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (dot && (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg")))
        return gst_caps_new_empty_simple("image/jpeg");
    if (dot && !strcasecmp(dot, ".png"))
        return gst_caps_new_empty_simple("image/png");
    return NULL;
}

nn_status df_attach(drive_feed *df, GstElement *pipeline, nn_err *err)
{
    GstElement *src = GST_IS_BIN(pipeline) ? gst_bin_get_by_name(GST_BIN(pipeline), "src") : NULL;
    if (!src || !GST_IS_APP_SRC(src)) {
        if (src)
            gst_object_unref(src);
        return nn_fail(err, NN_E_SPEC,
                       "source.pipeline: source.drive_log needs an `appsrc name=src` element to push frames into");
    }
    GstCaps *caps = image_caps(df->drive.rows[0].center);
    if (caps) {
        gst_app_src_set_caps(GST_APP_SRC(src), caps);
        gst_caps_unref(caps);
    }
    bool recorded = df->rate == DF_RATE_RECORDED;
    /* recorded: a camera (live, stamped on push, old frames dropped when the daemon lags);
     * max: a file (back-pressure: a push waits until the daemon took the previous frames). */
    g_object_set(src, "format", GST_FORMAT_TIME, "is-live", recorded, "do-timestamp", TRUE, "block", !recorded,
                 "max-buffers", (guint64)2, "leaky-type", recorded ? GST_APP_LEAKY_TYPE_DOWNSTREAM : GST_APP_LEAKY_TYPE_NONE,
                 NULL);
    if (df->appsrc)
        gst_object_unref(df->appsrc);
    df->appsrc = src;
    return NN_OK;
}

/* Reads a whole file into a new buffer, or NULL. */
static GstBuffer *read_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    GstBuffer *buf = NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 && st.st_size < (1 << 30))
        buf = gst_buffer_new_allocate(NULL, (gsize)st.st_size, NULL);
    GstMapInfo map;
    if (buf && gst_buffer_map(buf, &map, GST_MAP_WRITE)) {
        size_t got = 0;
        while (got < map.size) {
            ssize_t r = read(fd, map.data + got, map.size - got);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        gst_buffer_unmap(buf, &map);
        if (got != (size_t)st.st_size) {
            gst_buffer_unref(buf);
            buf = NULL;
        }
    } else if (buf) {
        gst_buffer_unref(buf);
        buf = NULL;
    }
    close(fd);
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
        GstBuffer *buf = read_file(r->center);
        if (!buf) {
            if (atomic_fetch_add(&df->unreadable, 1) == 0)
                slog_warn(df->log, "source: %s:%d: center: cannot read the image (%s); skipping it", df->drive.path,
                          r->line, r->center);
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
        gst_object_unref(df->appsrc);
        df->appsrc = NULL;
    }
}
