/* video.h — the closed-loop video, encoded by GStreamer: appsrc (RGB frames from a buffer pool,
 * no allocation per frame once the pool is warm) ! videoconvert ! vp8enc ! webmmux (FILE.webm) or
 * jpegenc ! avimux (FILE.avi) ! filesink. Errors from the pipeline are checked at every frame. */
#ifndef STEERD_SIM_VIDEO_H
#define STEERD_SIM_VIDEO_H

#include <stdint.h>

#include "nn/nn.h"

typedef struct video_enc video_enc;

/* The container is chosen by the file name's extension (.webm or .avi). */
nn_status video_open(video_enc **out, const char *path, int w, int h, double fps, nn_err *err);
/* Copies one frame (h rows of w*3 bytes). */
nn_status video_push(video_enc *v, const uint8_t *rgb, nn_err *err);
/* Ends the stream and waits for the file to be finished (NULL-safe). On error the file may be
 * incomplete. */
nn_status video_close(video_enc *v, nn_err *err);

#endif
