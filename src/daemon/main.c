/* main.c — steerd: the real-time steering daemon. Reads the config, loads the model, plays the
 * GStreamer source and runs the frame loop: take the latest frame -> preprocess -> forward ->
 * publish `steer`; every stats interval publish `stats`; feed the systemd watchdog between
 * frames. Signals only set flags: SIGTERM/SIGINT stop (exit 0), SIGHUP reloads config and model
 * on a helper thread and swaps them in between frames (a failed reload keeps the old ones; one
 * that takes longer than reload_timeout_ms fails and its thread is abandoned, never joined, so
 * SIGTERM stops steerd within a second in every state; SIGHUPs during a reload are coalesced into
 * one more reload). Exit status: 0 stop or end of stream, 78 configuration error, 1 other
 * start-up failure (an endpoint in use by another process included), 64 usage, 66 no config file. */
#include <gst/gst.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/opts.h"
#include "daemon/capture.h"
#include "runtime/config.h"
#include "daemon/drive_feed.h"
#include "daemon/frame_slot.h"
#include "runtime/served_model.h"
#include "runtime/msg.h"
#include "daemon/notify.h"
#include "runtime/publish.h"
#include "daemon/reload.h"
#include "runtime/stats.h"

#define POLL_MS 20 /* the loop wakes at least this often to look at signals and timers */
#define EVENTS_MS 100 /* the publisher's monitor (subscriber connections) is read this often */

static volatile sig_atomic_t stop_requested, reload_requested;

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        reload_requested = 1;
    else
        stop_requested = 1;
}

typedef struct {
    slog log;
    char cfg_path[512];
    const char *endpoint;     /* --endpoint: replaces publish.endpoint (NULL: the file's) */
    steerd_config cfg;
    notifier nt;
    frame_slot slot;
    capture cap;
    drive_feed feed;          /* source.drive_log, when set */
    bool feed_ok;
    publisher pub;
    sd_model model;
    sd_stats stats;
    uint64_t seq;

    /* reload (a loader thread fills a job; the loop takes it between frames or abandons it) */
    reload_job *job;          /* the reload in progress, NULL when none */
    reload_job *stuck;        /* a loader abandoned after reload_timeout_ms, until it returns */
    uint64_t reload_start_ns, stuck_since_ns;
    bool reload_pending;      /* a SIGHUP arrived during the reload: one more follows */
    unsigned test_delay_ms;   /* STEERD_TEST_RELOAD_DELAY_MS: stalls every loader (tests only) */
    steerd_config new_cfg;
    sd_model new_model;
    uint64_t reloads, reload_failures;
    bool nonfinite;           /* the last frame's output was not finite (status infer-error) */
    uint64_t next_events_ns;

    char status[32];
    char message[512];
    uint64_t next_stats_ns, next_watchdog_ns;
    char buf[MSG_MAX];
} steerd;

static void publish_raw(steerd *d, size_t len)
{
    if (len && !pub_send(&d->pub, d->buf, len))
        d->stats.publish_dropped++;
}

/* The status while a model serves: running; source-retry while the source is retried; infer-error
 * while the model's output is not finite. */
static const char *serving_state(const steerd *d)
{
    return d->cap.state == CAP_RETRY_WAIT ? "source-retry" : d->nonfinite ? "infer-error" : "running";
}

/* Status change: log it, tell subscribers (`status`) and systemd (STATUS=). */
static void set_status(steerd *d, const char *status, int level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void set_status(steerd *d, const char *status, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->message, sizeof d->message, fmt, ap);
    va_end(ap);
    snprintf(d->status, sizeof d->status, "%s", status);
    slog_msg(&d->log, level, "%s", d->message);
    publish_raw(d, msg_status(d->buf, sizeof d->buf, cap_now_ns(), d->status, d->message));
    notify_status(&d->nt, d->message);
}

static void publish_stats(steerd *d, uint64_t now, bool final)
{
    fs_counters fc = fs_get_counters(&d->slot);
    stats_ctx c = {
        .now_ns = now,
        .frames_in = fc.commits,
        .dropped = fc.drops + cap_source_dropped(&d->cap),
        .bad_frames = cap_bad_frames(&d->cap),
        .backend = d->model.backend,
        .model_name = sd_model_name(&d->model),
        .model_checksum = sd_model_checksum(&d->model),
        .status = d->status,
        .message = d->message,
        .reloads = d->reloads,
        .reload_failures = d->reload_failures,
        .source_restarts = d->cap.restarts,
        .subscriber_connects = d->pub.connects,
        .subscriber_disconnects = d->pub.disconnects,
        .final = final,
    };
    size_t len = stats_format(&d->stats, &c, d->buf, sizeof d->buf);
    if (len)
        slog_debug(&d->log, "%s", d->buf);
    publish_raw(d, len);
    stats_next_window(&d->stats, now, fc.commits);
}

/* Tells the capture which rows the model reads (after the first frame of a size, or a reload). */
static void update_rows(steerd *d)
{
    int h = 0, first = 0, end = 0;
    if (!sd_model_rows(&d->model, &h, &first, &end))
        h = first = end = 0;
    cap_set_rows(&d->cap, h, first, end);
}

/* The status while the source waits to be rebuilt after an error (at start-up or later): one
 * message, with the error GStreamer gave and when the next try is. */
static void set_source_retry(steerd *d, uint64_t now)
{
    uint64_t wait = d->cap.retry_at_ns > now ? d->cap.retry_at_ns - now : 0;
    set_status(d, "source-retry", SLOG_WARNING, "source error: %s; retrying in %.1f s", d->cap.error,
               (double)wait / 1e9);
}

/* (Re)starts the source from the running configuration, at start-up and after a reload that
 * changed a source key; frame ids go on from where they were (cap_configure keeps them). */
static nn_status start_capture(steerd *d, uint64_t now, nn_err *err)
{
    cap_configure(&d->cap, d->cfg.pipeline, d->cfg.drop, d->cfg.retry_ms, d->cfg.retry_max_ms);
    cap_set_clock_spin(&d->cap, d->cfg.clock_spin_us);
    update_rows(d);
    return cap_start(&d->cap, now, err);
}

/* The model input is what the preprocessing writes first: warmed while the loop spins. */
static void set_warm(steerd *d)
{
    size_t bytes;
    void *p = sd_model_input(&d->model, &bytes);
    fs_set_warm(&d->slot, p, bytes);
}

/* A non-finite model output is an inference error (counted in infer_errors, logged like one); it is
 * still published (steering: null) and the status says why until the outputs are finite again. */
static void note_finite(steerd *d, const sd_frame *f, bool finite)
{
    if (finite) {
        if (d->nonfinite) {
            d->nonfinite = false;
            set_status(d, serving_state(d), SLOG_NOTICE, "frame %llu: the model's output is finite again",
                       (unsigned long long)f->frame_id);
        }
        return;
    }
    if (d->stats.infer_errors++ % 1000 == 0 || !d->nonfinite) {
        d->nonfinite = true;
        set_status(d, "infer-error", SLOG_ERR, "frame %llu: the model's output is not finite (NaN or infinity); "
                   "published as steering: null (%llu inference errors so far)", (unsigned long long)f->frame_id,
                   (unsigned long long)d->stats.infer_errors);
    }
}

/* One frame: preprocess, forward, publish; bookkeeping after the message left. Nothing here
 * allocates or takes a lock. */
static void process_frame(steerd *d, const sd_frame *f)
{
    uint64_t lat[ST_N];
    uint64_t t0 = cap_now_ns();
    nn_err err;
    bool whole = true;
    nn_status s = sd_model_covers(&d->model, f, &whole, &err);
    if (!s && !whole) { /* copied with the rows of the model before a reload: skip it (counted) */
        d->stats.skipped++;
        slog_debug(&d->log, "frame %llu: skipped (its rows were copied for the previous model's crop)",
                   (unsigned long long)f->frame_id);
        update_rows(d);
        return;
    }
    if (!s)
        s = sd_model_preprocess(&d->model, f, &err);
    uint64_t t1 = cap_now_ns();
    if (!s)
        s = sd_model_run(&d->model, &err);
    uint64_t t2 = cap_now_ns();
    if (s) {
        if (d->stats.infer_errors++ == 0 || d->stats.infer_errors % 1000 == 0)
            slog_err(&d->log, "frame %llu: %s (%llu errors so far)", (unsigned long long)f->frame_id, err.msg,
                     (unsigned long long)d->stats.infer_errors);
        return;
    }
    const float *y = sd_model_outputs(&d->model);
    note_finite(d, f, sd_model_outputs_finite(&d->model));
    steer_msg m = {
        .seq = d->seq,
        .frame_id = f->frame_id,
        .t_capture_ns = f->t_capture_ns,
        .outputs = y,
        .n_outputs = d->model.n_outputs,
        .has_angle = d->model.has_angle,
        .angle_deg = d->model.has_angle ? (double)y[0] * d->model.scale_deg : 0.0,
        .source_ns = f->t_arrival_ns > f->t_capture_ns ? f->t_arrival_ns - f->t_capture_ns : 0,
        .queue_ns = t0 > f->t_arrival_ns ? t0 - f->t_arrival_ns : 0,
        .preprocess_ns = t1 - t0,
        .infer_ns = t2 - t1,
        .model_name = sd_model_name(&d->model),
        .model_checksum = sd_model_checksum(&d->model),
        .backend = d->model.backend,
    };
    m.t_publish_ns = cap_now_ns();
    m.total_ns = m.t_publish_ns > f->t_capture_ns ? m.t_publish_ns - f->t_capture_ns : 0;
    size_t len = msg_steer(d->buf, sizeof d->buf, &m);
    publish_raw(d, len);
    d->seq++;
    uint64_t t3 = cap_now_ns();
    lat[ST_QUEUE] = m.queue_ns;
    lat[ST_PREPROCESS] = m.preprocess_ns;
    lat[ST_INFER] = m.infer_ns;
    lat[ST_PUBLISH] = t3 - t2;
    lat[ST_TOTAL] = m.total_ns;
    stats_record(&d->stats, lat);
    update_rows(d);
}

/* ---- reload ---- */

/* A reload that did not happen: counted, said on every channel, the old model keeps serving. */
static void reload_failed(steerd *d, const char *why)
{
    d->reload_failures++;
    set_status(d, serving_state(d), SLOG_ERR, "reload failed: %s; still serving %s (%s)", why,
               sd_model_name(&d->model), sd_model_checksum(&d->model));
    notify_ready(&d->nt, d->message);
}

static void start_reload(steerd *d, uint64_t now)
{
    if (d->job) { /* coalesced: one more reload after this one, however many SIGHUPs arrive */
        if (!d->reload_pending)
            slog_notice(&d->log, "SIGHUP during a reload (%.1f s in): coalesced; %s is read again when this "
                                 "reload ends", (double)(now - d->reload_start_ns) / 1e9, d->cfg_path);
        d->reload_pending = true;
        return;
    }
    if (d->stuck) { /* at most one abandoned loader at a time */
        char why[160];
        snprintf(why, sizeof why, "the loader abandoned %.1f s ago has not returned yet (a hung file system?)",
                 (double)(now - d->stuck_since_ns) / 1e9);
        reload_failed(d, why);
        return;
    }
    notify_reloading(&d->nt);
    slog_notice(&d->log, "SIGHUP: reloading %s", d->cfg_path);
    nn_err e;
    if (reload_start(&d->job, d->cfg_path, d->endpoint, d->cfg.pipeline, &d->log, d->test_delay_ms, &e)) {
        reload_failed(d, e.msg);
        return;
    }
    d->reload_start_ns = now;
}

/* reload_timeout_ms passed: the loader is abandoned (it frees its own result when it returns). */
static void reload_timed_out(steerd *d, uint64_t now)
{
    d->stuck = d->job;
    d->job = NULL;
    d->stuck_since_ns = now;
    char why[700];
    snprintf(why, sizeof why, "still loading %s after %d ms (reload_timeout_ms); the loader is abandoned",
             d->cfg_path, d->cfg.reload_timeout_ms);
    reload_failed(d, why);
}

/* An abandoned loader returned: its result is dropped, reloads may start again. */
static void reap_stuck(steerd *d, uint64_t now)
{
    slog_notice(&d->log, "the reload abandoned %.1f s ago returned; its result is discarded",
                (double)(now - d->stuck_since_ns) / 1e9);
    reload_release(d->stuck);
    d->stuck = NULL;
}

static void finish_reload(steerd *d, uint64_t now)
{
    nn_err e;
    nn_status s = reload_take(d->job, &d->new_cfg, &d->new_model, &e);
    d->job = NULL;
    const char *st = serving_state(d);
    if (s) {
        reload_failed(d, e.msg);
        return;
    }
    /* Apply between frames: swap the model, then whatever else changed. */
    sd_model old = d->model;
    d->model = d->new_model;
    memset(&d->new_model, 0, sizeof d->new_model);
    sd_model_free(&old);
    update_rows(d); /* every row until the new model preprocessed a frame */
    set_warm(d);
    steerd_config *n = &d->new_cfg, *o = &d->cfg;
    char kept[256];
    bool restart_source = cfg_reload_merge(n, o, kept, sizeof kept);
    if (kept[0])
        slog_warn(&d->log, "%s changed: taking effect at the next restart (the running values are kept)", kept);
    if (n->stats_interval_ms != o->stats_interval_ms)
        d->next_stats_ns = now + (uint64_t)n->stats_interval_ms * 1000000ull;
    *o = *n;
    d->log.level = o->log_level;
    fs_set_spin(&d->slot, o->spin_us);
    d->reloads++;
    if (restart_source) {
        cap_stop(&d->cap);
        nn_err e;
        if (start_capture(d, now, &e))
            slog_err(&d->log, "%s", e.msg); /* checked by the loader: not expected */
        st = serving_state(d);
    }
    set_status(d, st, SLOG_NOTICE, "reloaded: serving %s (%s) on the %s backend%s", sd_model_name(&d->model),
               sd_model_checksum(&d->model), d->model.backend, restart_source ? "; source restarted" : "");
    notify_ready(&d->nt, d->message);
}

/* ---- the loop ---- */

static int run(steerd *d)
{
    uint64_t now = cap_now_ns();
    stats_init(&d->stats, now);
    d->next_stats_ns = now + (uint64_t)d->cfg.stats_interval_ms * 1000000ull;
    uint64_t wd_period = d->nt.watchdog_usec * 1000ull / 2;
    d->next_watchdog_ns = now;
    bool eos = false;
    while (!stop_requested && !eos) {
        now = cap_now_ns();
        if (reload_requested) {
            reload_requested = 0;
            start_reload(d, now);
        }
        if (d->job && (reload_done(d->job) ||
                       now - d->reload_start_ns > (uint64_t)d->cfg.reload_timeout_ms * 1000000ull)) {
            if (reload_done(d->job))
                finish_reload(d, now);
            else
                reload_timed_out(d, now);
            if (d->reload_pending) {
                d->reload_pending = false;
                start_reload(d, now);
            }
        }
        if (d->stuck && reload_done(d->stuck))
            reap_stuck(d, now);
        if (now >= d->next_events_ns) {
            pub_poll_events(&d->pub);
            d->next_events_ns = now + EVENTS_MS * 1000000ull;
        }
        switch (cap_poll(&d->cap, now)) {
        case CAP_EV_ERROR:
            set_source_retry(d, now);
            break;
        case CAP_EV_RESTARTED:
            set_status(d, "running", SLOG_NOTICE, "source restarted (restart %llu)",
                       (unsigned long long)d->cap.restarts);
            break;
        case CAP_EV_EOS:
            if (d->cfg.on_eos == CFG_EOS_RESTART) {
                nn_err e;
                d->cap.restarts++;
                slog_info(&d->log, "source: end of stream; restarting it (source.on_eos: restart)");
                if (cap_start(&d->cap, now, &e))
                    slog_err(&d->log, "%s", e.msg);
            } else {
                eos = true;
            }
            break;
        case CAP_EV_NONE: break;
        }
        if (wd_period && now >= d->next_watchdog_ns) {
            notify_watchdog(&d->nt);
            d->next_watchdog_ns = now + wd_period;
        }
        if (now >= d->next_stats_ns) {
            publish_stats(d, now, false);
            d->next_stats_ns += (uint64_t)d->cfg.stats_interval_ms * 1000000ull;
            if (d->next_stats_ns <= now)
                d->next_stats_ns = now + (uint64_t)d->cfg.stats_interval_ms * 1000000ull;
        }
        if (eos)
            break;
        const sd_frame *f = fs_take(&d->slot, POLL_MS);
        if (f)
            process_frame(d, f);
    }
    if (eos) {
        /* Drain: the last frame the source committed before its EOS. */
        const sd_frame *f;
        while ((f = fs_take(&d->slot, 0)))
            process_frame(d, f);
        snprintf(d->status, sizeof d->status, "eos");
        uint64_t bad = cap_bad_frames(&d->cap);
        if (bad)
            snprintf(d->message, sizeof d->message, "end of stream after %llu frames (%llu bad frame%s skipped)",
                     (unsigned long long)d->stats.frames, (unsigned long long)bad, bad == 1 ? "" : "s");
        else
            snprintf(d->message, sizeof d->message, "end of stream after %llu frames",
                     (unsigned long long)d->stats.frames);
        slog_notice(&d->log, "%s", d->message);
    } else {
        snprintf(d->status, sizeof d->status, "stopping");
        snprintf(d->message, sizeof d->message, "stopping on signal after %llu frames",
                 (unsigned long long)d->stats.frames);
        slog_notice(&d->log, "%s", d->message);
    }
    return 0;
}

static const char usage[] =
    "usage: steerd -c FILE [--endpoint URL]   run the daemon with this configuration\n"
    "       steerd --check-config FILE [--endpoint URL]\n"
    "                               parse and validate FILE, load its model and pipeline, print the\n"
    "                               effective configuration; exit 0 or 78 (EX_CONFIG)\n"
    "       steerd --version | --help\n"
    "  -c, --config FILE      the configuration (config/steerd.yaml documents every key)\n"
    "  --endpoint URL         publish here instead of publish.endpoint (a hand run of the default\n"
    "                         config, whose ipc:///run/steerd/ folder exists only under systemd:\n"
    "                         --endpoint ipc:///tmp/steer.sock); kept across SIGHUP reloads\n"
    "Exit status: 0 stopped or end of stream, 1 runtime failure, 64 usage error, 66 FILE missing or\n"
    "unreadable, 78 configuration error (one line: file:line:col: key: problem).\n"
    "Signals: SIGTERM/SIGINT stop (exit 0, within 1 s in every state); SIGHUP reloads the configuration\n"
    "and the model (SIGHUPs during a reload are coalesced; a reload past reload_timeout_ms fails).\n";

/* realtime_priority > 0: SCHED_FIFO for the calling thread before any other thread exists, so
 * every thread steerd and GStreamer create inherit it (frame loop, capture, CPU workers). Under
 * load this takes the scheduler's wake-up delay out of the frame path (BENCHMARKS.md). Without
 * the privilege (CAP_SYS_NICE, or systemd's CPUSchedulingPolicy=fifo) steerd warns and goes on. */
static void set_realtime(const steerd *d)
{
    int prio = d->cfg.realtime_priority;
    if (prio <= 0)
        return;
    struct sched_param sp = {.sched_priority = prio};
    if (sched_setscheduler(0, SCHED_FIFO, &sp) != 0)
        slog_warn(&d->log, "realtime_priority: cannot switch to SCHED_FIFO %d (%s); running with the default "
                           "scheduling (needs CAP_SYS_NICE or systemd's CPUSchedulingPolicy=fifo)",
                  prio, strerror(errno));
    else
        slog_info(&d->log, "realtime_priority: every thread runs SCHED_FIFO %d", prio);
}

static int install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) || sigaction(SIGINT, &sa, NULL) || sigaction(SIGHUP, &sa, NULL))
        return -1;
    sa.sa_handler = SIG_IGN;
    return sigaction(SIGPIPE, &sa, NULL);
}

/* The command line into *path, *check and *endpoint: -1 to run, else the exit status. */
static int parse_args(int argc, char **argv, const char **path, bool *check, const char **endpoint)
{
    static const struct option opts[] = {{"config", required_argument, 0, 'c'},
                                         {"check-config", required_argument, 0, 'C'},
                                         {"endpoint", required_argument, 0, 'e'},
                                         {0, 0, 0, 0}};
    opts_parser p;
    opts_start(&p, "steerd", NULL, argc, argv, "c:", opts);
    for (int c; (c = opts_next(&p)) != OPTS_END;) {
        if (c == 'c' || c == 'C') {
            if (*path)
                return opts_usage(&p, "give one of -c FILE or --check-config FILE, once (see steerd --help)");
            *path = p.arg;
            *check = c == 'C';
        } else if (c == 'e') {
            *endpoint = p.arg;
        } else {
            return opts_default(&p, c, usage);
        }
    }
    if (!*path)
        return fputs(usage, stderr), EXIT_USAGE;
    int rc = opts_input(&p, NULL, *path);
    return rc ? rc : -1;
}

int main(int argc, char **argv)
{
    const char *path = NULL, *endpoint = NULL;
    bool check = false;
    int arg_rc = parse_args(argc, argv, &path, &check, &endpoint);
    if (arg_rc >= 0)
        return arg_rc;

    steerd *d = calloc(1, sizeof *d);
    if (!d) {
        fputs("steerd: out of memory\n", stderr);
        return 1;
    }
    slog_init(&d->log, "steerd", SLOG_INFO);
    notify_init(&d->nt);
    snprintf(d->cfg_path, sizeof d->cfg_path, "%s", path);
    d->endpoint = endpoint;
    nn_err err;
    int rc = 0;
    bool slot_ok = false, pub_ok = false, gst_ok = false, loader_alive = false;
    const char *delay = getenv("STEERD_TEST_RELOAD_DELAY_MS"); /* test hook: a loader that stalls */
    d->test_delay_ms = delay ? (unsigned)strtoul(delay, NULL, 10) : 0;
    if (cfg_load_as(&d->cfg, path, endpoint, &err)) {
        slog_err(&d->log, "%s", err.msg);
        rc = EX_CONFIG_STATUS;
        goto out;
    }
    d->log.level = d->cfg.log_level;
    if (!check)
        set_realtime(d);
    GError *ge = NULL;
    if (!gst_init_check(NULL, NULL, &ge)) {
        slog_err(&d->log, "cannot initialise GStreamer: %s", ge ? ge->message : "unknown error");
        if (ge)
            g_error_free(ge);
        rc = 1;
        goto out;
    }
    gst_ok = true;
    if (cap_check(d->cfg.pipeline, &err)) {
        nn_err e2;
        cfg_error(&d->cfg, CFG_SOURCE_PIPELINE, &e2, NN_E_SPEC, "%s", err.msg);
        slog_err(&d->log, "%s", e2.msg);
        rc = EX_CONFIG_STATUS;
        goto out;
    }
    if (d->cfg.drive_log[0]) {
        if (df_open(&d->feed, &d->log, d->cfg.drive_log, (df_rate)d->cfg.rate, &err)) {
            nn_err e2;
            cfg_error(&d->cfg, CFG_SOURCE_DRIVE_LOG, &e2, NN_E_SPEC, "%s", err.msg);
            slog_err(&d->log, "%s", e2.msg);
            rc = EX_CONFIG_STATUS;
            goto out;
        }
        d->feed_ok = true;
        slog_info(&d->log, "source: drive log %s, %zu frames, %s rate", d->cfg.drive_log, df_rows(&d->feed),
                  d->cfg.rate == CFG_RATE_MAX ? "max" : "recorded");
    }
    if (sd_model_load_config(&d->model, &d->cfg, &d->log, &err)) {
        slog_err(&d->log, "model: %s", err.msg);
        rc = EX_CONFIG_STATUS;
        goto out;
    }
    const bool on_cpu = strcmp(d->model.backend, "cpu") == 0; /* the CPU kernels' flavour: STEERD_ISA or the best */
    slog_info(&d->log, "model %s (%s): input %dx%dx%d, %d output%s, %d thread%s, %s backend%s%s",
              sd_model_name(&d->model), sd_model_checksum(&d->model), d->model.pp.out_h, d->model.pp.out_w,
              d->model.pp.out_c, d->model.n_outputs, d->model.n_outputs == 1 ? "" : "s", d->cfg.threads,
              d->cfg.threads == 1 ? "" : "s", d->model.backend, on_cpu ? ", isa " : "",
              on_cpu ? nn_cpu_isa_name(nn_infer_isa(d->model.ctx)) : "");
    if (check) {
        printf("%s: configuration OK\n", path);
        cfg_dump(&d->cfg, stdout);
        goto out;
    }
    if (install_signals()) {
        slog_err(&d->log, "cannot install signal handlers");
        rc = 1;
        goto out;
    }
    int e = fs_init(&d->slot);
    if (!e) {
        fs_set_spin(&d->slot, d->cfg.spin_us);
        set_warm(d);
    }
    if (e) {
        slog_err(&d->log, "frame slot: %s", strerror(e));
        rc = 1;
        goto out;
    }
    slot_ok = true;
    if (pub_open(&d->pub, d->cfg.endpoint, d->cfg.sndhwm, &err)) {
        slog_err(&d->log, "%s", err.msg);
        rc = 1;
        goto out;
    }
    pub_ok = true;
    if (d->pub.replaced_stale)
        slog_notice(&d->log, "%s: replaced a stale socket file (nobody was listening on it)", d->cfg.endpoint);
    slog_info(&d->log, "publishing on %s (sndhwm %d)", d->cfg.endpoint, d->cfg.sndhwm);
    cap_init(&d->cap, &d->log, &d->slot, d->cfg.pipeline, d->cfg.drop, d->cfg.retry_ms, d->cfg.retry_max_ms);
    cap_set_feed(&d->cap, d->feed_ok ? &d->feed : NULL);
    if (start_capture(d, cap_now_ns(), &err)) {
        nn_err e2;
        cfg_error(&d->cfg, CFG_SOURCE_PIPELINE, &e2, NN_E_SPEC, "%s", err.msg);
        slog_err(&d->log, "%s", e2.msg);
        rc = EX_CONFIG_STATUS;
        goto out;
    }
    if (d->cap.state == CAP_PLAYING)
        set_status(d, "running", SLOG_NOTICE, "serving %s (%s) on the %s backend", sd_model_name(&d->model),
                   sd_model_checksum(&d->model), d->model.backend);
    else
        set_source_retry(d, cap_now_ns());
    notify_ready(&d->nt, d->message);

    rc = run(d);

    notify_stopping(&d->nt);
    cap_stop(&d->cap);
    /* A loader still running is abandoned, never joined (it may be stuck in the kernel); while one
     * may still call GStreamer, GStreamer is not deinitialised. */
    loader_alive = (d->job && !reload_done(d->job)) || (d->stuck && !reload_done(d->stuck));
    if (d->job)
        reload_release(d->job);
    if (d->stuck)
        reload_release(d->stuck);
    d->job = d->stuck = NULL;
    if (loader_alive)
        slog_notice(&d->log, "a reload was still loading: abandoned");
    pub_poll_events(&d->pub);
    publish_stats(d, cap_now_ns(), true);
out:
    if (pub_ok)
        pub_close(&d->pub, rc == 0 ? 250 : 0); /* let the final stats leave, bounded */
    if (slot_ok)
        fs_destroy(&d->slot);
    sd_model_free(&d->model);
    if (d->feed_ok)
        df_close(&d->feed);
    notify_close(&d->nt);
    if (gst_ok && !loader_alive)
        gst_deinit();
    free(d);
    return rc;
}
