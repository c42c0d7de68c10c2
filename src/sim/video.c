/* video.c — GStreamer encoder of the closed-loop video (see video.h). */
#include "sim/video.h"

#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLOSE_TIMEOUT_S 60

struct video_enc {
    GstElement *pipe, *src;
    GstBus *bus;
    GstBufferPool *pool;
    int w, h;
    size_t frame_bytes;
    GstClockTime frame_ns;
    uint64_t n;
    char path[1024];
};

static nn_status bus_error(video_enc *v, GstMessage *m, nn_err *err)
{
    GError *ge = NULL;
    gchar *dbg = NULL;
    gst_message_parse_error(m, &ge, &dbg);
    nn_status s = nn_fail(err, NN_E_IO, "%s: video encoder: %s: %s", v->path, GST_OBJECT_NAME(GST_MESSAGE_SRC(m)),
                          ge ? ge->message : "error");
    if (ge)
        g_error_free(ge);
    g_free(dbg);
    gst_message_unref(m);
    return s;
}

static void destroy(video_enc *v)
{
    if (v->pipe)
        gst_element_set_state(v->pipe, GST_STATE_NULL);
    if (v->pool) {
        gst_buffer_pool_set_active(v->pool, FALSE);
        gst_object_unref(v->pool);
    }
    if (v->src)
        gst_object_unref(v->src);
    if (v->bus)
        gst_object_unref(v->bus);
    if (v->pipe)
        gst_object_unref(v->pipe);
    free(v);
}

nn_status video_open(video_enc **out, const char *path, int w, int h, double fps, nn_err *err)
{
    *out = NULL;
    const char *dot = strrchr(path, '.');
    const char *enc;
    if (dot && strcmp(dot, ".webm") == 0)
        enc = "vp8enc deadline=1 cpu-used=8 threads=1 target-bitrate=1500000 keyframe-max-dist=60 ! webmmux";
    else if (dot && strcmp(dot, ".avi") == 0)
        enc = "jpegenc quality=85 ! avimux";
    else
        return nn_fail(err, NN_E_ARG, "--video: %s: expected a .webm or .avi file name", path);
    GError *ge = NULL;
    if (!gst_init_check(NULL, NULL, &ge)) {
        nn_status s = nn_fail(err, NN_E_UNSUPPORTED, "--video: GStreamer: %s", ge ? ge->message : "cannot initialise");
        if (ge)
            g_error_free(ge);
        return s;
    }
    video_enc *v = calloc(1, sizeof *v);
    if (!v)
        return nn_fail(err, NN_E_NOMEM, "--video: out of memory");
    snprintf(v->path, sizeof v->path, "%s", path);
    v->w = w;
    v->h = h;
    v->frame_bytes = (size_t)w * (size_t)h * 3;
    char desc[512];
    snprintf(desc, sizeof desc, "appsrc name=src ! videoconvert ! %s ! filesink name=sink", enc);
    v->pipe = gst_parse_launch_full(desc, NULL, GST_PARSE_FLAG_FATAL_ERRORS, &ge);
    if (!v->pipe || ge) {
        nn_status s = nn_fail(err, NN_E_UNSUPPORTED, "--video: %s: %s (gstreamer1.0-plugins-good / -base)", path,
                              ge ? ge->message : "cannot build the encoder");
        if (ge)
            g_error_free(ge);
        destroy(v);
        return s;
    }
    GstElement *sink = gst_bin_get_by_name(GST_BIN(v->pipe), "sink");
    v->src = gst_bin_get_by_name(GST_BIN(v->pipe), "src");
    if (!sink || !v->src) {
        if (sink)
            gst_object_unref(sink);
        destroy(v);
        return nn_fail(err, NN_E_UNSUPPORTED, "--video: the encoder pipeline has no src/sink");
    }
    g_object_set(sink, "location", path, NULL);
    gst_object_unref(sink);
    int fn = 0, fd = 0;
    gst_util_double_to_fraction(fps, &fn, &fd);
    GstCaps *caps = gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "RGB", "width", G_TYPE_INT, w, "height",
                                        G_TYPE_INT, h, "framerate", GST_TYPE_FRACTION, fn, fd, NULL);
    v->frame_ns = gst_util_uint64_scale_int(GST_SECOND, fd, fn);
    g_object_set(v->src, "caps", caps, "format", GST_FORMAT_TIME, "block", TRUE, "max-bytes",
                 (guint64)(v->frame_bytes * 8), NULL);
    v->pool = gst_buffer_pool_new();
    GstStructure *cfg = gst_buffer_pool_get_config(v->pool);
    gst_buffer_pool_config_set_params(cfg, caps, (guint)v->frame_bytes, 4, 0);
    gboolean pool_ok = gst_buffer_pool_set_config(v->pool, cfg) && gst_buffer_pool_set_active(v->pool, TRUE);
    gst_caps_unref(caps);
    v->bus = gst_element_get_bus(v->pipe);
    if (!pool_ok || !v->bus || gst_element_set_state(v->pipe, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
        GstMessage *m = v->bus ? gst_bus_pop_filtered(v->bus, GST_MESSAGE_ERROR) : NULL;
        nn_status s = m ? bus_error(v, m, err) : nn_fail(err, NN_E_IO, "--video: %s: cannot start the encoder", path);
        destroy(v);
        return s;
    }
    *out = v;
    return NN_OK;
}

nn_status video_push(video_enc *v, const uint8_t *rgb, nn_err *err)
{
    GstMessage *m = gst_bus_pop_filtered(v->bus, GST_MESSAGE_ERROR);
    if (m)
        return bus_error(v, m, err);
    GstBuffer *buf = NULL;
    if (gst_buffer_pool_acquire_buffer(v->pool, &buf, NULL) != GST_FLOW_OK || !buf)
        return nn_fail(err, NN_E_IO, "%s: video encoder: no buffer", v->path);
    GstMapInfo map;
    if (!gst_buffer_map(buf, &map, GST_MAP_WRITE)) {
        gst_buffer_unref(buf);
        return nn_fail(err, NN_E_IO, "%s: video encoder: cannot map a buffer", v->path);
    }
    memcpy(map.data, rgb, v->frame_bytes);
    gst_buffer_unmap(buf, &map);
    GST_BUFFER_PTS(buf) = v->n * v->frame_ns;
    GST_BUFFER_DURATION(buf) = v->frame_ns;
    v->n++;
    if (gst_app_src_push_buffer(GST_APP_SRC(v->src), buf) != GST_FLOW_OK) { /* takes the buffer */
        m = gst_bus_pop_filtered(v->bus, GST_MESSAGE_ERROR);
        return m ? bus_error(v, m, err) : nn_fail(err, NN_E_IO, "%s: video encoder refused a frame", v->path);
    }
    return NN_OK;
}

nn_status video_close(video_enc *v, nn_err *err)
{
    if (!v)
        return NN_OK;
    nn_status s = NN_OK;
    if (gst_app_src_end_of_stream(GST_APP_SRC(v->src)) != GST_FLOW_OK) {
        s = nn_fail(err, NN_E_IO, "%s: video encoder: cannot end the stream", v->path);
    } else {
        GstMessage *m = gst_bus_timed_pop_filtered(v->bus, (GstClockTime)CLOSE_TIMEOUT_S * GST_SECOND,
                                                   GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
        if (!m)
            s = nn_fail(err, NN_E_IO, "%s: video encoder did not finish in %d s", v->path, CLOSE_TIMEOUT_S);
        else if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_ERROR)
            s = bus_error(v, m, err);
        else
            gst_message_unref(m);
    }
    destroy(v);
    return s;
}
