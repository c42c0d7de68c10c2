/* capture.c — GStreamer pipeline -> appsink -> latest-frame slot; errors retried with back-off.
 * Every gst_* call that can fail is checked; the appsink callback never allocates (the slot's
 * buffers grow only when a larger frame arrives). */
#include "daemon/capture.h"

#include <gst/app/gstappsink.h>
#include <gst/video/video.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "daemon/spin_clock.h"

uint64_t cap_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void one_line(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
    for (char *p = dst; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
}

/* Parses the description and returns the pipeline with a ref on the appsink, or NULL. */
static GstElement *build(const char *desc, GstElement **sink_out, char *why, size_t cap)
{
    GError *ge = NULL;
    GstElement *p = gst_parse_launch_full(desc, NULL, GST_PARSE_FLAG_FATAL_ERRORS, &ge);
    if (ge || !p) {
        one_line(why, cap, ge ? ge->message : "cannot parse the pipeline");
        if (ge)
            g_error_free(ge);
        if (p)
            gst_object_unref(p);
        return NULL;
    }
    GstElement *sink = GST_IS_BIN(p) ? gst_bin_get_by_name(GST_BIN(p), "sink") : NULL;
    if (!sink || !GST_IS_APP_SINK(sink)) {
        snprintf(why, cap, "no `appsink name=sink` element in the pipeline");
        if (sink)
            gst_object_unref(sink);
        gst_object_unref(p);
        return NULL;
    }
    *sink_out = sink;
    return p;
}

nn_status cap_check(const char *desc, nn_err *err)
{
    char why[512];
    GstElement *sink = NULL;
    GstElement *p = build(desc, &sink, why, sizeof why);
    if (!p)
        return nn_fail(err, NN_E_SPEC, "%s", why);
    gst_object_unref(sink);
    gst_object_unref(p);
    return NN_OK;
}

void cap_init(capture *c, const slog *log, frame_slot *slot, const char *desc, bool drop, int retry_ms,
              int retry_max_ms)
{
    memset(c, 0, sizeof *c);
    c->log = log;
    c->slot = slot;
    atomic_init(&c->next_frame_id, 0);
    atomic_init(&c->frames, 0);
    atomic_init(&c->bad_frames, 0);
    atomic_init(&c->rows_hint, 0);
    cap_configure(c, desc, drop, retry_ms, retry_max_ms);
}

void cap_configure(capture *c, const char *desc, bool drop, int retry_ms, int retry_max_ms)
{
    snprintf(c->desc, sizeof c->desc, "%s", desc);
    c->drop = drop;
    c->retry_ms = retry_ms;
    c->retry_max_ms = retry_max_ms;
    c->backoff_ms = retry_ms;
}

uint64_t cap_source_dropped(const capture *c) { return c->feed ? df_queue_dropped(c->feed) : 0; }

uint64_t cap_bad_frames(const capture *c)
{
    return atomic_load(&c->bad_frames) + (c->feed ? atomic_load(&c->feed->bad) : 0);
}

void cap_set_rows(capture *c, int height, int first, int end)
{
    uint64_t v = 0;
    if (height > 0 && height <= 0xffff && first >= 0 && first < end && end <= height)
        v = (uint64_t)height << 32 | (uint64_t)first << 16 | (uint64_t)end;
    /* called after every frame: a store only on a change keeps the line shared with the
     * streaming thread that reads it */
    if (atomic_load_explicit(&c->rows_hint, memory_order_relaxed) != v)
        atomic_store_explicit(&c->rows_hint, v, memory_order_relaxed);
}

/* CLOCK_MONOTONIC capture time of a buffer: base time + running time of its PTS when the
 * pipeline runs on the (monotonic) system clock and the source is live; else now. */
static uint64_t capture_time(const capture *c, GstSample *sample, GstBuffer *buf)
{
    uint64_t now = cap_now_ns();
    if (!c->live || !GST_BUFFER_PTS_IS_VALID(buf))
        return now;
    const GstSegment *seg = gst_sample_get_segment(sample);
    if (!seg)
        return now;
    guint64 rt = gst_segment_to_running_time(seg, GST_FORMAT_TIME, GST_BUFFER_PTS(buf));
    GstClockTime base = gst_element_get_base_time(c->pipeline);
    if (rt == GST_CLOCK_TIME_NONE || base == GST_CLOCK_TIME_NONE)
        return now;
    uint64_t t = (uint64_t)base + (uint64_t)rt;
    /* Not the monotonic clock after all (or a bogus PTS): fall back to the arrival time. */
    if (t > now || now - t > 10ull * 1000000000ull)
        return now;
    return t;
}

/* Counts and logs (rate-limited) a frame read but not usable; its id stays unused. */
static void bad_sample(capture *c, uint64_t frame_id, const char *why, const GstCaps *caps)
{
    uint64_t n = atomic_fetch_add(&c->bad_frames, 1) + 1;
    if (!slog_due(n))
        return;
    gchar *cs = caps ? gst_caps_to_string(caps) : NULL;
    slog_warn(c->log, "source: frame %" PRIu64 ": %s%s%s; skipped (%" PRIu64 " bad frame%s so far)", frame_id, why,
              cs ? ": " : "", cs ? cs : "", n, n == 1 ? "" : "s");
    g_free(cs);
}

static GstFlowReturn on_new_sample(GstAppSink *sink, gpointer user)
{
    capture *c = user;
    uint64_t t_arrival = cap_now_ns();
    GstSample *sample = gst_app_sink_pull_sample(sink);
    if (!sample)
        return GST_FLOW_EOS;
    GstFlowReturn ret = GST_FLOW_OK;
    GstBuffer *buf = gst_sample_get_buffer(sample);
    GstCaps *caps = gst_sample_get_caps(sample);
    /* The drive feed numbered its rows when it read them; anything else is numbered here. */
    uint64_t id = c->feed && buf && GST_BUFFER_OFFSET_IS_VALID(buf) ? GST_BUFFER_OFFSET(buf)
                                                                    : atomic_fetch_add(&c->next_frame_id, 1);
    GstMapInfo map;
    /* Parsing caps into a GstVideoInfo costs tens of microseconds: done again only when the
     * sample's caps object changes (the ref kept in vi_caps makes the pointer test safe). */
    if (caps && caps != c->vi_caps) {
        gst_caps_replace(&c->vi_caps, NULL);
        if (gst_video_info_from_caps(&c->vi, caps) && GST_VIDEO_INFO_FORMAT(&c->vi) == GST_VIDEO_FORMAT_RGB)
            gst_caps_replace(&c->vi_caps, caps);
    }
    if (!buf || !caps || caps != c->vi_caps) {
        bad_sample(c, id, !buf ? "a sample without a buffer" : "caps that are not RGB video", caps);
        gst_sample_unref(sample);
        return GST_FLOW_OK;
    }
    const GstVideoInfo *vi = &c->vi;
    int w = GST_VIDEO_INFO_WIDTH(vi), h = GST_VIDEO_INFO_HEIGHT(vi), stride = GST_VIDEO_INFO_PLANE_STRIDE(vi, 0);
    if (!gst_buffer_map(buf, &map, GST_MAP_READ)) {
        bad_sample(c, id, "cannot map the buffer", NULL);
        gst_sample_unref(sample);
        return GST_FLOW_OK;
    }
    size_t row = (size_t)w * 3, need = (size_t)stride * (size_t)(h - 1) + row;
    bool fits = w > 0 && h > 0 && stride >= (int)row && map.size >= need;
    sd_frame *f = fits ? fs_write_buffer(c->slot, row * (size_t)h) : NULL;
    if (f) {
        /* Only the rows the consumer reads, when it said which for frames this tall. */
        uint64_t hint = atomic_load_explicit(&c->rows_hint, memory_order_relaxed);
        int y0 = 0, y1 = h;
        if (hint && (int)(hint >> 32) == h) {
            y0 = (int)(hint >> 16 & 0xffff);
            y1 = (int)(hint & 0xffff);
        }
        if (stride == (int)row)
            memcpy(f->data + (size_t)y0 * row, map.data + (size_t)y0 * row, (size_t)(y1 - y0) * row);
        else
            for (int y = y0; y < y1; y++)
                memcpy(f->data + (size_t)y * row, map.data + (size_t)y * (size_t)stride, row);
        f->row_first = y0;
        f->row_end = y1;
        f->width = w;
        f->height = h;
        f->stride = (int)row;
        f->frame_id = id;
        f->t_capture_ns = capture_time(c, sample, buf);
        f->t_arrival_ns = t_arrival < f->t_capture_ns ? f->t_capture_ns : t_arrival;
    } else {
        bad_sample(c, id, fits ? "out of memory for the frame" : "a buffer smaller than its caps say", caps);
    }
    gst_buffer_unmap(buf, &map);
    gst_sample_unref(sample);
    if (f) {
        atomic_fetch_add(&c->frames, 1);
        if (!fs_commit(c->slot, !c->drop))
            ret = GST_FLOW_FLUSHING; /* shutting down */
    }
    return ret;
}

static void schedule_retry(capture *c, uint64_t now_ns)
{
    /* A pipeline that ran for a while before failing starts the back-off over. */
    if (c->playing_since_ns && now_ns - c->playing_since_ns > 30ull * 1000000000ull)
        c->backoff_ms = c->retry_ms;
    c->retry_at_ns = now_ns + (uint64_t)c->backoff_ms * 1000000ull;
    slog_warn(c->log, "source: %s; retrying in %.1f s", c->error, c->backoff_ms / 1000.0);
    c->backoff_ms = c->backoff_ms * 2 > c->retry_max_ms ? c->retry_max_ms : c->backoff_ms * 2;
    c->state = CAP_RETRY_WAIT;
}

void cap_set_feed(capture *c, drive_feed *feed) { c->feed = feed; }

void cap_set_clock_spin(capture *c, int spin_us) { c->clock_spin_us = spin_us > 0 ? spin_us : 0; }

/* Whether any element of the bin (recursively) offers the pipeline a clock. */
static bool provides_clock(GstBin *bin)
{
    bool found = false;
    GstIterator *it = gst_bin_iterate_recurse(bin);
    GValue v = G_VALUE_INIT;
    for (bool done = false; !done && !found;) {
        switch (gst_iterator_next(it, &v)) {
        case GST_ITERATOR_OK:
            found = GST_OBJECT_FLAG_IS_SET(g_value_get_object(&v), GST_ELEMENT_FLAG_PROVIDE_CLOCK);
            g_value_reset(&v);
            break;
        case GST_ITERATOR_RESYNC:
            gst_iterator_resync(it);
            break;
        default: /* DONE or ERROR */
            done = true;
            break;
        }
    }
    g_value_unset(&v);
    gst_iterator_free(it);
    return found;
}

/* Puts the pipeline on a spin_clock (c->clock_spin_us > 0 and no element brings its own clock). */
static nn_status use_spin_clock(capture *c, GstElement *p, nn_err *err)
{
    if (!c->clock_spin_us || !GST_IS_PIPELINE(p) || provides_clock(GST_BIN(p)))
        return NN_OK;
    GstClock *clock = spin_clock_new(c->clock_spin_us);
    if (!clock)
        return nn_fail(err, NN_E_NOMEM, "source: cannot create the pipeline clock");
    gst_pipeline_use_clock(GST_PIPELINE(p), clock);
    gst_object_unref(clock);
    return NN_OK;
}

void cap_stop(capture *c)
{
    if (c->pipeline) {
        if (c->feed)
            df_request_stop(c->feed);
        fs_close(c->slot); /* wakes a streaming thread blocked in back-pressure mode */
        if (gst_element_set_state(c->pipeline, GST_STATE_NULL) == GST_STATE_CHANGE_FAILURE)
            slog_warn(c->log, "source: the pipeline did not stop cleanly");
        if (c->feed)
            df_join(c->feed); /* its blocked push was released by the flush */
        fs_open(c->slot);
        gst_object_unref(c->pipeline);
        c->pipeline = NULL;
    }
    if (c->bus) {
        gst_object_unref(c->bus);
        c->bus = NULL;
    }
    gst_caps_replace(&c->vi_caps, NULL); /* the streaming threads are gone */
    c->state = CAP_STOPPED;
}

/* Appends the first three structures of caps to out as `name, format=X; name, ...` (the other
 * fields left out: sizes and rates are not what failed). */
static void caps_brief(const GstCaps *caps, char *out, size_t cap)
{
    size_t len = strlen(out);
    guint n = gst_caps_get_size(caps);
    for (guint i = 0; i < n && i < 3 && len + 1 < cap; i++) {
        const GstStructure *st = gst_caps_get_structure(caps, i);
        const GValue *fmt = gst_structure_get_value(st, "format");
        gchar *v = fmt ? gst_value_serialize(fmt) : NULL;
        if (v) /* `{ (string)GRAY8, (string)RGB }` -> `{ GRAY8, RGB }` */
            for (char *p; (p = strstr(v, "(string)"));)
                memmove(p, p + 8, strlen(p + 8) + 1);
        snprintf(out + len, cap - len, "%s%s%s%s", i ? "; " : "", gst_structure_get_name(st), v ? ", format=" : "",
                 v ? v : "");
        g_free(v);
        len = strlen(out);
    }
    if (n > 3 && len + 1 < cap)
        snprintf(out + len, cap - len, "; ...");
}

void cap_explain_caps(const GstCaps *offered, char *out, size_t cap)
{
    static const char need[] = "steerd needs video/x-raw, format=RGB";
    if (!cap)
        return;
    out[0] = 0;
    if (!offered || gst_caps_is_empty(offered) || gst_caps_is_any(offered)) {
        snprintf(out, cap, "%s (add videoconvert before the appsink)", need);
        return;
    }
    snprintf(out, cap, "the pipeline offers ");
    caps_brief(offered, out, cap);
    const char *name = gst_structure_get_name(gst_caps_get_structure(offered, 0));
    const char *hint = !strcmp(name, "video/x-raw") ? "add videoconvert before the appsink"
                       : !strncmp(name, "video/", 6) || !strncmp(name, "image/", 6)
                           ? "add a decoder before the appsink, e.g. decodebin ! videoconvert"
                           : "the pipeline must produce video";
    size_t len = strlen(out);
    snprintf(out + len, cap - len, "; %s (%s)", need, hint);
}

/* Why a not-negotiated error happened: the caps the element before the appsink offers. */
static void explain_not_negotiated(capture *c, char *out, size_t cap)
{
    GstElement *sink = c->pipeline && GST_IS_BIN(c->pipeline) ? gst_bin_get_by_name(GST_BIN(c->pipeline), "sink")
                                                              : NULL;
    GstPad *pad = sink ? gst_element_get_static_pad(sink, "sink") : NULL;
    GstCaps *offered = pad && gst_pad_is_linked(pad) ? gst_pad_peer_query_caps(pad, NULL) : NULL;
    cap_explain_caps(offered, out, cap);
    if (offered)
        gst_caps_unref(offered);
    if (pad)
        gst_object_unref(pad);
    if (sink)
        gst_object_unref(sink);
}

/* Keeps an error message in c->error (one line, `<element>: <message> (<detail>)`, the detail
 * being the last line of GStreamer's debug text: `No such file "/x.mp4"`) and frees it. */
static void record_error(capture *c, GstMessage *m)
{
    GError *ge = NULL;
    gchar *dbg = NULL;
    gst_message_parse_error(m, &ge, &dbg);
    char msg[512];
    const char *detail = dbg ? strrchr(dbg, '\n') : NULL;
    if (dbg && strstr(dbg, "not-negotiated")) {
        char why[400];
        explain_not_negotiated(c, why, sizeof why);
        snprintf(msg, sizeof msg, "caps not negotiated: %s", why);
    } else if (detail && detail[1]) {
        snprintf(msg, sizeof msg, "%s: %s (%s)", GST_OBJECT_NAME(GST_MESSAGE_SRC(m)), ge ? ge->message : "error",
                 detail + 1);
    } else {
        snprintf(msg, sizeof msg, "%s: %s", GST_OBJECT_NAME(GST_MESSAGE_SRC(m)), ge ? ge->message : "error");
    }
    one_line(c->error, sizeof c->error, msg);
    if (ge)
        g_error_free(ge);
    g_free(dbg);
    gst_message_unref(m);
}

/* After a failed state change: keeps the FIRST error on the bus (the cause; later ones such as
 * "state change failed and some element failed to post a proper error message" are its echoes). */
static void drain_error(capture *c)
{
    GstMessage *m;
    bool first = true;
    while (c->bus && (m = gst_bus_pop_filtered(c->bus, GST_MESSAGE_ERROR))) {
        if (first)
            record_error(c, m);
        else
            gst_message_unref(m);
        first = false;
    }
}

nn_status cap_start(capture *c, uint64_t now_ns, nn_err *err)
{
    cap_stop(c);
    GstElement *sink = NULL;
    char why[512];
    GstElement *p = build(c->desc, &sink, why, sizeof why);
    if (!p)
        return nn_fail(err, NN_E_SPEC, "source.pipeline: %s", why);
    GstCaps *caps = gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "RGB", NULL);
    if (!caps) {
        gst_object_unref(sink);
        gst_object_unref(p);
        return nn_fail(err, NN_E_NOMEM, "source: cannot create caps");
    }
    gst_app_sink_set_caps(GST_APP_SINK(sink), caps);
    gst_caps_unref(caps);
    gst_app_sink_set_max_buffers(GST_APP_SINK(sink), 1);
    gst_app_sink_set_drop(GST_APP_SINK(sink), c->drop);
    gst_app_sink_set_emit_signals(GST_APP_SINK(sink), FALSE);
    /* no clock sync, and no last-sample ref: it would keep a second buffer alive and allocate a
     * GstSample per frame for a property nobody reads */
    g_object_set(sink, "sync", FALSE, "enable-last-sample", FALSE, NULL);
    GstAppSinkCallbacks cb = {.new_sample = on_new_sample};
    gst_app_sink_set_callbacks(GST_APP_SINK(sink), &cb, c, NULL);
    gst_object_unref(sink);
    c->pipeline = p;
    c->bus = gst_element_get_bus(p);
    if (!c->bus) {
        cap_stop(c);
        return nn_fail(err, NN_E_IO, "source: pipeline has no bus");
    }
    nn_status s = use_spin_clock(c, p, err);
    if (!s && c->feed)
        s = df_attach(c->feed, p, &c->next_frame_id, err);
    if (s) {
        cap_stop(c);
        return s;
    }
    c->live = false;
    c->playing_since_ns = now_ns;
    /* PAUSED first: a live source answers NO_PREROLL there (it produces data only when playing). */
    GstStateChangeReturn r = gst_element_set_state(p, GST_STATE_PAUSED);
    bool live = r == GST_STATE_CHANGE_NO_PREROLL;
    if (r != GST_STATE_CHANGE_FAILURE)
        r = gst_element_set_state(p, GST_STATE_PLAYING);
    if (r == GST_STATE_CHANGE_FAILURE) {
        snprintf(c->error, sizeof c->error, "cannot start the pipeline");
        drain_error(c);
        cap_stop(c);
        c->playing_since_ns = 0;
        schedule_retry(c, now_ns);
        return NN_OK;
    }
    if (c->feed) {
        if (c->feed->next >= df_rows(c->feed))
            c->feed->next = 0; /* replayed from the start (source.on_eos: restart) */
        s = df_start(c->feed, err);
        if (s) {
            cap_stop(c);
            return s;
        }
    }
    c->live = live;
    c->state = CAP_PLAYING;
    GstClock *clock = gst_element_get_clock(p);
    slog_info(c->log, "source: playing (%s source, clock %s)", c->live ? "live" : "non-live",
              clock ? GST_OBJECT_NAME(clock) : "not chosen yet");
    if (clock)
        gst_object_unref(clock);
    return NN_OK;
}

cap_event cap_poll(capture *c, uint64_t now_ns)
{
    if (c->state == CAP_RETRY_WAIT) {
        if (now_ns < c->retry_at_ns)
            return CAP_EV_NONE;
        c->restarts++;
        nn_err e;
        if (cap_start(c, now_ns, &e)) {
            one_line(c->error, sizeof c->error, e.msg);
            schedule_retry(c, now_ns);
            return CAP_EV_ERROR;
        }
        return c->state == CAP_PLAYING ? CAP_EV_RESTARTED : CAP_EV_ERROR;
    }
    if (c->state != CAP_PLAYING || !c->bus)
        return CAP_EV_NONE;
    GstMessage *m;
    while ((m = gst_bus_pop_filtered(c->bus, GST_MESSAGE_ERROR | GST_MESSAGE_EOS | GST_MESSAGE_WARNING))) {
        GstMessageType t = GST_MESSAGE_TYPE(m);
        if (t == GST_MESSAGE_WARNING) {
            GError *ge = NULL;
            gchar *dbg = NULL;
            gst_message_parse_warning(m, &ge, &dbg);
            slog_warn(c->log, "source: %s: %s", GST_OBJECT_NAME(GST_MESSAGE_SRC(m)), ge ? ge->message : "warning");
            if (ge)
                g_error_free(ge);
            g_free(dbg);
            gst_message_unref(m);
            continue;
        }
        if (t == GST_MESSAGE_EOS) {
            gst_message_unref(m);
            c->state = CAP_EOS;
            return CAP_EV_EOS;
        }
        record_error(c, m);
        cap_stop(c);
        schedule_retry(c, now_ns);
        return CAP_EV_ERROR;
    }
    return CAP_EV_NONE;
}
