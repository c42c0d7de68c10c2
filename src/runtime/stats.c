/* stats.c — latency histograms per stage and the `stats` message (fps in/out over the window,
 * counters since start, p50/p90/p99/max per stage in microseconds). */
#include "runtime/stats.h"

#include <inttypes.h>
#include <string.h>

#include "runtime/msg.h"

static const char *const stage_names[ST_N] = {"queue", "preprocess", "infer", "publish", "total"};

const char *stats_stage_name(int stage)
{
    return stage >= 0 && stage < ST_N ? stage_names[stage] : "?";
}

void stats_init(sd_stats *s, uint64_t now_ns)
{
    memset(s, 0, sizeof *s);
    s->t_start_ns = now_ns;
    s->t_window_ns = now_ns;
}

void stats_record(sd_stats *s, const uint64_t *lat)
{
    for (int i = 0; i < ST_N; i++) {
        hist_record(&s->win[i], lat[i]);
        hist_record(&s->all[i], lat[i]);
    }
    s->frames++;
    s->window_frames++;
}

void stats_next_window(sd_stats *s, uint64_t now_ns, uint64_t frames_in)
{
    for (int i = 0; i < ST_N; i++)
        hist_reset(&s->win[i]);
    s->t_window_ns = now_ns;
    s->window_frames = 0;
    s->in_at_window = frames_in;
}

static double us(uint64_t ns)
{
    return (double)ns / 1000.0;
}

size_t stats_format(const sd_stats *s, const stats_ctx *c, char *buf, size_t cap)
{
    jbuf j;
    jb_init(&j, buf, cap);
    uint64_t t0 = c->final ? s->t_start_ns : s->t_window_ns;
    double win_s = c->now_ns > t0 ? (double)(c->now_ns - t0) / 1e9 : 0.0;
    uint64_t in = c->final ? c->frames_in : c->frames_in - s->in_at_window;
    uint64_t out = c->final ? s->frames : s->window_frames;
    double fps_in = win_s > 0 ? (double)in / win_s : 0.0, fps_out = win_s > 0 ? (double)out / win_s : 0.0;
    double uptime = c->now_ns > s->t_start_ns ? (double)(c->now_ns - s->t_start_ns) / 1e9 : 0.0;
    jb_printf(&j, "stats {\"v\":%d,\"t_ns\":%" PRIu64 ",\"uptime_s\":%.3f,\"window_s\":%.3f,", MSG_SCHEMA_VERSION,
              c->now_ns, uptime, win_s);
    jb_printf(&j, "\"fps_in\":%.2f,\"fps_out\":%.2f,\"frames_in\":%" PRIu64 ",\"frames\":%" PRIu64
                  ",\"dropped\":%" PRIu64 ",\"bad_frames\":%" PRIu64 ",\"skipped\":%" PRIu64
                  ",\"publish_dropped\":%" PRIu64 ",\"infer_errors\":%" PRIu64 ",",
              fps_in, fps_out, c->frames_in, s->frames, c->dropped, c->bad_frames, s->skipped, s->publish_dropped,
              s->infer_errors);
    uint64_t gone = c->subscriber_disconnects < c->subscriber_connects ? c->subscriber_disconnects
                                                                        : c->subscriber_connects;
    jb_printf(&j, "\"subscribers\":%" PRIu64 ",\"subscriber_connects\":%" PRIu64 ",\"subscriber_disconnects\":%" PRIu64
                  ",",
              c->subscriber_connects - gone, c->subscriber_connects, c->subscriber_disconnects);
    jb_raw(&j, "\"latency_us\":{");
    const histogram *h = c->final ? s->all : s->win;
    for (int i = 0; i < ST_N; i++) {
        jb_printf(&j, "%s\"%s\":{\"n\":%" PRIu64 ",\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"max\":%.1f}",
                  i ? "," : "", stage_names[i], h[i].count, us(hist_percentile(&h[i], 50)),
                  us(hist_percentile(&h[i], 90)), us(hist_percentile(&h[i], 99)), us(h[i].max));
    }
    jb_raw(&j, "},\"backend\":");
    jb_str(&j, c->backend);
    jb_raw(&j, ",\"model\":{\"name\":");
    jb_str(&j, c->model_name);
    jb_raw(&j, ",\"weights\":");
    jb_str(&j, c->model_checksum);
    jb_printf(&j, "},\"reloads\":%" PRIu64 ",\"reload_failures\":%" PRIu64 ",\"source_restarts\":%" PRIu64
                  ",\"status\":",
              c->reloads, c->reload_failures, c->source_restarts);
    jb_str(&j, c->status);
    jb_raw(&j, ",\"message\":");
    jb_str(&j, c->message);
    jb_printf(&j, ",\"final\":%s}", c->final ? "true" : "false");
    return j.overflow ? 0 : j.len;
}
