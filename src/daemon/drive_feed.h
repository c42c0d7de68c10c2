/* drive_feed.h — a recorded Udacity drive (driving_log.csv + IMG/) as a camera: a thread pushes
 * each row's centre image file (JPEG/PNG bytes) into the pipeline's `appsrc name=src`, which
 * decodes it like any other source (e.g. `appsrc name=src ! decodebin ! videoconvert ! appsink
 * name=sink`), so the frames go through the same capture path as a live camera.
 * Rates: `recorded` paces pushes by the time stamps in the image names (a live source: buffers
 * are time-stamped on push, late frames are dropped by the latest-frame slot like a camera's);
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
#include "nn/nn.h"

typedef enum { DF_RATE_RECORDED = 0, DF_RATE_MAX } df_rate;

typedef struct {
    const slog *log;
    io_drive_log drive;
    df_rate rate;

    GstElement *appsrc;          /* ref held while the thread runs */
    pthread_t thread;
    bool running;
    atomic_bool stop;
    size_t next;                 /* next row to push */
    atomic_uint_fast64_t pushed, unreadable;
} drive_feed;

/* Loads and checks the log (every centre image must exist). On failure err holds the reader's
 * one line `file:line: field: problem (got value)` and nothing stays allocated. */
nn_status df_open(drive_feed *df, const slog *log, const char *log_path, df_rate rate, nn_err *err);
void df_close(drive_feed *df);

/* Configures `appsrc name=src` of pipeline (format time, caps from the image type, live and
 * time-stamped for the recorded rate, blocking for max) before it is set to PAUSED. */
nn_status df_attach(drive_feed *df, GstElement *pipeline, nn_err *err);
/* Starts pushing from row df->next (after the pipeline was asked to play). */
nn_status df_start(drive_feed *df, nn_err *err);
/* Stops the thread: call before the pipeline goes to NULL (a blocked push is released by the
 * flush that follows); joins after that in df_join. */
void df_request_stop(drive_feed *df);
void df_join(drive_feed *df);

size_t df_rows(const drive_feed *df);

#endif
