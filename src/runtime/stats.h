/* stats.h — per-stage latency histograms (queue, preprocess, infer, publish, total), frame and
 * drop counters, and the periodic `stats` message. Two histogram sets: the current window (reset
 * after every stats message) and the whole run (reported in the final message). Owned by the
 * inference loop only: no locking, no allocation. */
#ifndef STEERD_RUNTIME_STATS_H
#define STEERD_RUNTIME_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/histogram.h"

typedef enum { ST_QUEUE = 0, ST_PREPROCESS, ST_INFER, ST_PUBLISH, ST_TOTAL, ST_N } sd_stage;

typedef struct {
    uint64_t t_start_ns, t_window_ns;   /* run start, current window start */
    uint64_t frames;                    /* steer messages published */
    uint64_t window_frames;
    uint64_t in_at_window;              /* frames_in at the window start */
    uint64_t publish_dropped;           /* messages the PUB socket refused (HWM) */
    uint64_t infer_errors;
    uint64_t skipped;                   /* taken but copied for the previous model's crop (reload) */
    histogram win[ST_N], all[ST_N];
} sd_stats;

/* Everything the stats message reports that the loop knows better than the stats module. */
typedef struct {
    uint64_t now_ns;
    uint64_t frames_in, dropped;        /* from the frame slot (captured / dropped unread) */
    uint64_t bad_frames;                /* read by the source but unusable (capture + drive feed) */
    const char *backend, *model_name, *model_checksum;
    const char *status, *message;
    uint64_t reloads, reload_failures, source_restarts;
    uint64_t subscriber_connects, subscriber_disconnects; /* publisher's socket monitor */
    bool final;                         /* last message: latency over the whole run */
} stats_ctx;

void stats_init(sd_stats *s, uint64_t now_ns);
/* One frame's stage latencies in ns (lat[ST_N]). */
void stats_record(sd_stats *s, const uint64_t *lat);
const char *stats_stage_name(int stage);
/* Formats `stats {...}`; returns the length (0 if it does not fit). */
size_t stats_format(const sd_stats *s, const stats_ctx *c, char *buf, size_t cap);
/* Starts a new window at now_ns. */
void stats_next_window(sd_stats *s, uint64_t now_ns, uint64_t frames_in);

#endif
