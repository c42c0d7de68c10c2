/* capture.h — the GStreamer source: a pipeline from the config (gst-launch syntax) ending in
 * `appsink name=sink`, forced to RGB caps, max-buffers=1, drop=true (or back-pressure for
 * replay), sync=false. The appsink callback (GStreamer's streaming thread) copies each frame
 * into the latest-frame slot with a frame id and a CLOCK_MONOTONIC capture time (base time +
 * running time of the buffer PTS for live sources, arrival time otherwise). Only the rows the
 * consumer said it reads (cap_set_rows: the model's crop) are copied, and the caps are parsed
 * into a GstVideoInfo once per caps object, not per frame. Bus messages are polled by the main
 * loop: an error stops the pipeline and schedules a rebuild with exponential back-off; EOS is
 * reported to the caller. The error kept is the first one the pipeline posted, with GStreamer's
 * detail (`filesrc0: Resource not found. (No such file "/data/x.mp4")`); caps that cannot be
 * negotiated are explained (what the pipeline offers, what steerd needs, what to add).
 * Frame ids are given when a frame is read (by the drive feed for its rows, else on arrival in
 * the appsink) from one counter that lives as long as the capture: cap_configure and every
 * restart keep it, so ids never go back; a frame read but unusable (a sample that is not RGB
 * video, an unmappable buffer, no memory) is counted in bad_frames, logged (rate-limited) and
 * leaves its id unused: a gap in frame_id. */
#ifndef STEERD_DAEMON_CAPTURE_H
#define STEERD_DAEMON_CAPTURE_H

#include <gst/gst.h>
#include <gst/video/video.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/log.h"
#include "daemon/drive_feed.h"
#include "daemon/frame_slot.h"
#include "nn/nn.h"

typedef enum { CAP_STOPPED = 0, CAP_PLAYING, CAP_RETRY_WAIT, CAP_EOS } cap_state;
typedef enum { CAP_EV_NONE = 0, CAP_EV_ERROR, CAP_EV_RESTARTED, CAP_EV_EOS } cap_event;

typedef struct {
    const slog *log;
    frame_slot *slot;
    char desc[4096];          /* pipeline description */
    bool drop;                /* appsink drop=true, drop-oldest slot; else back-pressure */
    int retry_ms, retry_max_ms;
    drive_feed *feed;         /* a recorded drive pushed into `appsrc name=src`, or NULL */
    int clock_spin_us;        /* > 0: the pipeline runs on a spin_clock (see spin_clock.h) */

    GstElement *pipeline;
    GstBus *bus;
    cap_state state;
    bool live;
    int backoff_ms;           /* next back-off */
    uint64_t retry_at_ns;
    uint64_t restarts;
    uint64_t playing_since_ns;
    char error[512];          /* the error that stopped the pipeline, one line */

    /* the next frame id: the drive feed's thread and the streaming thread take ids from it */
    _Atomic uint64_t next_frame_id;
    atomic_uint_fast64_t frames, bad_frames;

    /* rows the consumer reads of a frame `height` tall: height << 32 | first << 16 | end
     * (0: every row); written by the main thread, read by the streaming thread */
    _Atomic uint64_t rows_hint;

    /* streaming thread */
    GstCaps *vi_caps;         /* the caps `vi` was parsed from (ref held), NULL: none yet */
    GstVideoInfo vi;
} capture;

/* Checks a pipeline description without playing it: parses, finds `appsink name=sink`. */
nn_status cap_check(const char *desc, nn_err *err);

/* Once per daemon: zero counters (frame ids from 0) and the settings below. */
void cap_init(capture *c, const slog *log, frame_slot *slot, const char *desc, bool drop, int retry_ms,
              int retry_max_ms);
/* New settings for a stopped capture (a reload): frame ids, counters and restarts go on. */
void cap_configure(capture *c, const char *desc, bool drop, int retry_ms, int retry_max_ms);
/* Frames read but unusable since cap_init: bad samples here plus the drive feed's bad rows. */
uint64_t cap_bad_frames(const capture *c);
/* Frames the source dropped unread before the frame slot (the drive feed's leaky queue). */
uint64_t cap_source_dropped(const capture *c);
/* What a not-negotiated error means, one line: `the pipeline offers video/x-raw, format=GRAY8;
 * steerd needs video/x-raw, format=RGB (add videoconvert before the appsink)`. offered: the caps
 * the element before the appsink can produce (NULL or empty: unknown). */
void cap_explain_caps(const GstCaps *offered, char *out, size_t cap);
/* Feeds a recorded drive into the pipeline's `appsrc name=src` from the next cap_start on
 * (NULL: none). The feed stays the caller's. */
void cap_set_feed(capture *c, drive_feed *feed);
/* From the next cap_start on, run the pipeline on a spin_clock that busy-waits the last spin_us
 * of every clock wait (0: GStreamer's choice of clock). Left alone when an element of the pipeline
 * provides a clock of its own (an audio source, say): the pipeline would prefer it. */
void cap_set_clock_spin(capture *c, int spin_us);
/* Builds and plays the pipeline. A parse failure is an error (config); a failure to play is
 * logged and scheduled for retry (returns NN_OK with state CAP_RETRY_WAIT). */
nn_status cap_start(capture *c, uint64_t now_ns, nn_err *err);
/* Handles pending bus messages and due retries; never blocks. */
cap_event cap_poll(capture *c, uint64_t now_ns);
/* From now on copy only rows [first, end) of frames `height` tall (the rows the preprocessing
 * reads); height 0: copy every row. Other frame heights are always copied whole. Cheap when
 * nothing changed (call it after every frame). */
void cap_set_rows(capture *c, int height, int first, int end);
/* Stops and frees the pipeline (joins the streaming threads). */
void cap_stop(capture *c);

uint64_t cap_now_ns(void);

#endif
