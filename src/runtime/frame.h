/* frame.h — one captured RGB frame as the steering runtime sees it: pixels, which rows hold them,
 * and its capture sequence number and timestamps. Filled by steerd's capture (through the frame
 * slot), by `steerctl replay` from decoded images, read by the served model's preprocessing. */
#ifndef STEERD_RUNTIME_FRAME_H
#define STEERD_RUNTIME_FRAME_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t *data;          /* packed RGB rows, `stride` bytes apart */
    size_t cap;             /* bytes allocated */
    int width, height, stride;
    int row_first, row_end; /* rows [row_first, row_end) hold pixels; row_end 0: all rows do */
    uint64_t frame_id;      /* capture sequence number (from 0 at start, never reset: see capture.h) */
    uint64_t t_capture_ns;  /* CLOCK_MONOTONIC: base time + running time of the PTS */
    uint64_t t_arrival_ns;  /* CLOCK_MONOTONIC: when steerd received it from the appsink */
} sd_frame;

#endif
