/* drive_feed.h — a recorded Udacity drive (driving_log.csv + IMG/) as a camera: a thread reads
 * each row's centre image, recognises it by content (JPEG or PNG magic bytes, any mix in one log,
 * whatever the file names say), decodes it with src/io's decoder (the one `steerctl replay` and
 * the trainer use: the same pixels everywhere) and pushes the packed RGB frame into the
 * pipeline's `appsrc name=src` with caps `video/x-raw, format=RGB, width, height` (new caps only
 * when the size changes), so `appsrc name=src ! appsink name=sink` is enough and the documented
 * `appsrc name=src ! decodebin ! videoconvert ! appsink name=sink` passes the frames through.
 * Frame ids: every row read takes the next id from the capture's counter (df_attach) and the
 * pushed buffer carries it in GST_BUFFER_OFFSET; a row whose image cannot be opened (missing, a
 * FIFO, a directory: never blocks) or decoded (garbage, truncated, not JPEG/PNG) is counted in
 * `bad`, logged with its file:line and image (first 10, then every 1000th) and leaves a gap in
 * frame_id. Buffers come from a GstBufferPool (a new pool only when the frame size changes), so
 * the feed allocates nothing per frame once the first frame of a size went through.
 * Rates: `recorded` paces pushes by the time stamps in the image names (a live source: buffers
 * are time-stamped on push, late frames are dropped like a camera's, by appsrc's leaky queue or
 * the latest-frame slot, and counted);
 * logs without time stamps play at 10 Hz (as `steerctl replay`);
 * `max` pushes as fast as the daemon consumes (back-pressure, nothing dropped). After the last
 * row the source ends the stream (the daemon drains and exits, or restarts per source.on_eos).
 * A restarted pipeline (after a source error) resumes at the row after the last one pushed. */
#ifndef STEERD_DAEMON_DRIVE_FEED_H
#define STEERD_DAEMON_DRIVE_FEED_H

#include <gst/gst.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/log.h"
#include "io/drivelog.h"
#include "io/image.h"
#include "nn/nn.h"

typedef enum { DF_RATE_RECORDED = 0, DF_RATE_MAX } df_rate;

typedef struct {
    const slog *log;
    io_drive_log drive;
    df_rate rate;

    GstElement *appsrc;          /* ref held while the thread runs */
    _Atomic uint64_t *frame_ids; /* the capture's next frame id (df_attach) */
    pthread_t thread;
    bool running;
    atomic_bool stop;
    size_t next;                 /* next row to push */
    atomic_uint_fast64_t pushed, bad;
    uint64_t queue_dropped;      /* dropped by appsrc's leaky queue in the pipelines before this one */

    /* feed thread */
    io_image img;                /* decode buffer (grows only) */
    GstBufferPool *pool;         /* RGB buffers of pool_w x pool_h, NULL: none yet */
    int pool_w, pool_h;
} drive_feed;

/* Loads and checks the log (every centre image must exist). On failure err holds the reader's
 * one line `file:line: field: problem (got value)` and nothing stays allocated. */
nn_status df_open(drive_feed *df, const slog *log, const char *log_path, df_rate rate, nn_err *err);
void df_close(drive_feed *df);

/* Configures `appsrc name=src` of pipeline (format time, live and time-stamped for the recorded
 * rate, blocking for max) before it is set to PAUSED; frame ids are taken from *frame_ids. */
nn_status df_attach(drive_feed *df, GstElement *pipeline, _Atomic uint64_t *frame_ids, nn_err *err);
/* Starts pushing from row df->next (after the pipeline was asked to play). */
nn_status df_start(drive_feed *df, nn_err *err);
/* Stops the thread: call before the pipeline goes to NULL (a blocked push is released by the
 * flush that follows); joins after that in df_join. */
void df_request_stop(drive_feed *df);
void df_join(drive_feed *df);

size_t df_rows(const drive_feed *df);
/* Frames appsrc's queue dropped (recorded rate: the daemon lagged, as a camera drops frames) since
 * df_open, over every pipeline. Call from the thread that calls df_attach / df_join. */
uint64_t df_queue_dropped(const drive_feed *df);

#endif
