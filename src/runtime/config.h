/* config.h — steerd's configuration: one table of keys (type, bounds, default, field offset)
 * drives parsing, validation, defaults and the --check-config dump. cfg_load() parses and
 * validates into a fresh struct without touching the running one, so a reload can reject a
 * file and keep serving; main applies an accepted config between frames. */
#ifndef STEERD_RUNTIME_CONFIG_H
#define STEERD_RUNTIME_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

#include "nn/nn.h"

#define EX_CONFIG_STATUS 78 /* sysexits.h EX_CONFIG */

typedef enum { CFG_EOS_EXIT = 0, CFG_EOS_RESTART } cfg_on_eos;
typedef enum { CFG_RATE_RECORDED = 0, CFG_RATE_MAX } cfg_rate; /* = df_rate */
typedef enum { CFG_ASPECT_STRETCH = 0, CFG_ASPECT_CROP } cfg_aspect;

/* Indices of the table's keys (same order as the table in config.c). */
typedef enum {
    CFG_SOURCE_PIPELINE = 0,
    CFG_SOURCE_DROP,
    CFG_SOURCE_ON_EOS,
    CFG_SOURCE_RETRY_MS,
    CFG_SOURCE_RETRY_MAX_MS,
    CFG_SOURCE_SPIN_US,
    CFG_SOURCE_CLOCK_SPIN_US,
    CFG_SOURCE_DRIVE_LOG,
    CFG_SOURCE_RATE,
    CFG_SOURCE_ASPECT,
    CFG_MODEL_SPEC,
    CFG_MODEL_WEIGHTS,
    CFG_BACKEND,
    CFG_THREADS,
    CFG_REALTIME_PRIORITY,
    CFG_RELOAD_TIMEOUT_MS,
    CFG_PUBLISH_ENDPOINT,
    CFG_PUBLISH_SNDHWM,
    CFG_STATS_INTERVAL_MS,
    CFG_LOG_LEVEL,
    CFG_NKEYS
} cfg_key_id;

typedef struct {
    int line, col; /* where the key's value is in the file; 0 when the default applies, -1 for --endpoint */
} cfg_pos;

typedef struct {
    char path[512];           /* the file this was read from */
    char pipeline[4096];      /* source.pipeline: gst-launch syntax ending in `appsink name=sink` */
    bool drop;                /* source.drop: latest frame only (live) or back-pressure (replay) */
    int on_eos;               /* source.on_eos: cfg_on_eos */
    int retry_ms;             /* source.retry_ms: first back-off after a pipeline error */
    int retry_max_ms;         /* source.retry_max_ms: back-off cap */
    int spin_us;              /* source.spin_us: busy-wait window around an expected frame (0 = off) */
    int clock_spin_us;        /* source.clock_spin_us: busy-wait before a pipeline clock deadline (0 = off) */
    char drive_log[512];      /* source.drive_log: Udacity driving_log.csv fed into `appsrc name=src` ("" = none) */
    int rate;                 /* source.rate: cfg_rate, pace of the drive log */
    int aspect;               /* source.aspect: cfg_aspect, a frame of another aspect ratio than the model's */
    char model_spec[512];     /* model.spec: architecture YAML (relative to the config file) */
    char model_weights[512];  /* model.weights: safetensors (relative to the config file) */
    nn_backend backend;       /* backend (nn.h) */
    int threads;              /* threads: CPU backend worker threads */
    int realtime_priority;    /* realtime_priority: SCHED_FIFO priority of every steerd thread (0 = off) */
    int reload_timeout_ms;    /* reload_timeout_ms: a SIGHUP reload still loading after this fails (old model kept) */
    char endpoint[512];       /* publish.endpoint: ZeroMQ bind address (checked: endpoint.h) */
    int sndhwm;               /* publish.sndhwm: PUB send high-water mark (messages) */
    int stats_interval_ms;    /* stats.interval_ms */
    int log_level;            /* log.level as a syslog priority (3 error .. 7 debug) */
    cfg_pos pos[CFG_NKEYS];
} steerd_config;

/* Parse (YAML, types, bounds, unknown keys) -> validate (cross-field rules, endpoint syntax) ->
 * cfg_check_endpoint into *cfg. On failure err holds one line `file:line:col: key: problem` and
 * *cfg is unspecified. */
nn_status cfg_load(steerd_config *cfg, const char *path, nn_err *err);
/* cfg_load with publish.endpoint replaced by `endpoint` (steerd --endpoint; NULL: the file's),
 * checked as the file's would be; a bad one fails as `--endpoint: problem`. */
nn_status cfg_load_as(steerd_config *cfg, const char *path, const char *endpoint, nn_err *err);
/* What this machine says about publish.endpoint (ep_check for a bind: the ipc folder exists and is
 * writable, a file at the path is a socket, a tcp host is *, a local address or an interface). A
 * missing ipc folder's line ends with the fix (systemd's RuntimeDirectory=, or --endpoint). */
nn_status cfg_check_endpoint(const steerd_config *cfg, nn_err *err);
/* Parse and validate from a buffer, without cfg_check_endpoint; `name` is used in messages and to
 * resolve relative paths. */
nn_status cfg_load_buffer(steerd_config *cfg, const char *buf, size_t len, const char *name, nn_err *err);
/* A reload's configuration against the running one, by the table's reload flags: every key that
 * takes effect only at the next start (publish.endpoint, publish.sndhwm, realtime_priority,
 * source.drive_log, source.rate) keeps its running value in *next and is named in `kept`
 * (comma-separated, "" when none; truncated to kept_len). Returns whether a key applied by
 * restarting the source changed (source.pipeline, drop, retry_ms, retry_max_ms, clock_spin_us).
 * Every other key is applied live. */
bool cfg_reload_merge(steerd_config *next, const steerd_config *cur, char *kept, size_t kept_len);
/* All defaults (required keys empty). */
void cfg_defaults(steerd_config *cfg);
/* Formats `file:line:col: key: message` for a key of a loaded config (position of its value). */
nn_status cfg_error(const steerd_config *cfg, cfg_key_id key, nn_err *err, nn_status s, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
const char *cfg_key_name(cfg_key_id key);
/* Writes `key: value` lines (the effective configuration) to f. */
void cfg_dump(const steerd_config *cfg, FILE *f);

#endif
