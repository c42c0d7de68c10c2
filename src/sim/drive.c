/* drive.c — closed-loop episodes against a real steerd, or the expert (see drive.h). */
#include "sim/drive.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/histogram.h"
#include "runtime/config.h"
#include "runtime/endpoint.h"
#include "runtime/msg.h"
#include "sim/daemon_proc.h"
#include "sim/episode.h"
#include "sim/link.h"
#include "sim/overlay.h"
#include "sim/render.h"
#include "sim/video.h"

#define RING 1024               /* frames remembered for matching steer messages */
#define WARMUP_INTERVAL_MS 100  /* warm-up frames until the first steer message */
#define STOP_GRACE_MS 5000

/* Set by SIGINT/SIGTERM; the loops check it between frames. */
static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

typedef struct {
    uint64_t t_render_ns;
    int episode;            /* -1: warm-up */
    double expert;
} frame_note;

typedef struct {
    int road;
    bool ok;
    char why[NN_ERR_LEN];
    long frames;
    double seconds, distance_m;
    int interventions;
    double autonomy_pct;
    double sum_abs_cte, max_abs_cte;
    double sum_abs_err;     /* |predicted - expert| over the answered frames */
    long replies;
    histogram latency_ns;
    histogram render_ns;
} ep_metrics;

typedef struct {
    const drive_opts *o;
    FILE *out;
    sim_episode ep;
    render_ctx rc;
    uint8_t *frame, *vframe;
    frame_link link;
    steer_sub sub;
    daemon_proc dp;
    bool have_link, have_sub, spawned;
    video_enc *video;
    FILE *trace;            /* --trace: one CSV row per frame (NULL: off) */
    frame_note ring[RING];
    uint64_t sent;          /* frames sent on the connection */
    uint64_t base;          /* steerd frame_id of our frame 0 */
    double cmd;             /* steering in use */
    uint64_t last_reply_ns;
    uint64_t last_used;     /* highest frame index whose answer was used, +1 */
    ep_metrics *m;          /* o->prm.roads */
    char endpoint[512];
} drive_ctx;

static uint64_t ms_to_ns(double ms)
{
    return (uint64_t)(ms * 1e6);
}

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000ull), .tv_nsec = (long)(ns % 1000000000ull)};
    nanosleep(&ts, NULL);
}

void drive_opts_defaults(drive_opts *o)
{
    memset(o, 0, sizeof *o);
    sim_params_defaults(&o->prm, 0);
    o->timeout_s = 10;
}

/* Adds steerd's exit and last log line to a failure message. */
static void daemon_failure(drive_ctx *c, char *why, size_t cap, const char *what)
{
    char ex[128], last[400];
    dp_exit_text(&c->dp, ex, sizeof ex);
    dp_last_log_line(&c->dp, last, sizeof last);
    if (snprintf(why, cap, "%s: steerd %s%s%s", what, ex, last[0] ? "; its last log line: " : "", last) >= (int)cap)
        why[cap - 1] = 0; /* truncated: still one line */
}

/* One steer message: matched to the frame it answers; stale or unknown ones are ignored. */
static void use_reply(drive_ctx *c, const steer_reply *r, int episode, ep_metrics *m)
{
    c->last_reply_ns = r->t_recv_ns;
    if (r->frame_id < c->base)
        return;
    uint64_t idx = r->frame_id - c->base;
    if (idx >= c->sent || idx + RING <= c->sent || idx + 1 <= c->last_used)
        return;
    const frame_note *fn = &c->ring[idx % RING];
    if (fn->episode != episode || episode < 0)
        return;
    c->last_used = idx + 1;
    if (isfinite(r->steering))
        c->cmd = r->steering < -1 ? -1 : r->steering > 1 ? 1 : r->steering;
    if (m) {
        hist_record(&m->latency_ns, r->t_recv_ns > fn->t_render_ns ? r->t_recv_ns - fn->t_render_ns : 0);
        m->sum_abs_err += fabs(c->cmd - fn->expert);
        m->replies++;
    }
}

/* Takes every waiting message (waiting up to wait_ms for the first). -1 on a bad message. */
static int drain(drive_ctx *c, int wait_ms, int episode, ep_metrics *m, nn_err *err)
{
    steer_reply r;
    int got = 0, k;
    while ((k = sub_recv(&c->sub, got ? 0 : wait_ms, &r, err)) > 0) {
        use_reply(c, &r, episode, m);
        got++;
    }
    return k < 0 ? -1 : got;
}

static nn_status send_frame(drive_ctx *c, int episode, double expert, uint64_t t_render, nn_err *err)
{
    if (c->spawned && !dp_alive(&c->dp)) {
        daemon_failure(c, err->msg, sizeof err->msg, "frames");
        return NN_E_IO;
    }
    int timeout_ms = (int)(c->o->timeout_s * 1000);
    int r = link_send(&c->link, c->frame, (size_t)SIM_FRAME_W * SIM_FRAME_H * 3, timeout_ms, err);
    if (r == 0)
        return nn_fail(err, NN_E_IO, "steerd read no frame for %.1f s", c->o->timeout_s);
    if (r < 0) {
        if (c->spawned && !dp_alive(&c->dp)) {
            char what[NN_ERR_LEN];
            snprintf(what, sizeof what, "%s", err->msg);
            daemon_failure(c, err->msg, sizeof err->msg, what);
        }
        return NN_E_IO;
    }
    frame_note *fn = &c->ring[c->sent % RING];
    fn->t_render_ns = t_render;
    fn->episode = episode;
    fn->expert = expert;
    c->sent++;
    return NN_OK;
}

/* Prefixes err's message with the road time ("at 3.40 s: ..."); returns s. */
static nn_status at_time(nn_err *err, nn_status s, double t)
{
    char msg[NN_ERR_LEN];
    snprintf(msg, sizeof msg, "%s", err->msg);
    return nn_fail(err, s, "at %.2f s: %s", t, msg);
}

static nn_status check_answering(drive_ctx *c, uint64_t now, nn_err *err)
{
    if (c->spawned && !dp_alive(&c->dp)) {
        daemon_failure(c, err->msg, sizeof err->msg, "steer messages");
        return NN_E_IO;
    }
    if (now > c->last_reply_ns + ms_to_ns(c->o->timeout_s * 1000))
        return nn_fail(err, NN_E_IO, "no steer message from %s for %.1f s", c->endpoint, c->o->timeout_s);
    return NN_OK;
}

/* Warm-up: the first road's first view, every 100 ms, until steerd answers (the ZeroMQ
 * subscription is in place, the model is loaded). Sets base for an external steerd. */
static nn_status warm_up(drive_ctx *c, nn_err *err)
{
    nn_status s = episode_start(&c->ep, &c->o->prm, 0, err);
    if (s)
        return s;
    uint64_t t0 = link_now_ns(), deadline = t0 + ms_to_ns(c->o->timeout_s * 1000);
    while (!stop_requested) {
        uint64_t tr = link_now_ns();
        episode_render(&c->ep, &c->rc, CAM_CENTER, c->frame);
        if ((s = send_frame(c, -1, 0, tr, err)))
            return s;
        steer_reply r;
        int k = sub_recv(&c->sub, WARMUP_INTERVAL_MS, &r, err);
        if (k < 0)
            return NN_E_IO;
        if (k > 0) {
            /* A steerd we started counts frames from 0 on this connection; another one is
             * assumed to answer the frame just sent. */
            if (!c->spawned)
                c->base = r.frame_id >= c->sent - 1 ? r.frame_id - (c->sent - 1) : 0;
            c->last_reply_ns = r.t_recv_ns;
            return NN_OK;
        }
        if (c->spawned && !dp_alive(&c->dp)) {
            daemon_failure(c, err->msg, sizeof err->msg, "before the first steer message");
            return NN_E_IO;
        }
        if (link_now_ns() > deadline)
            return nn_fail(err, NN_E_IO,
                           "no steer message from %s within %.1f s of the first frame (is steerd publishing there, "
                           "and reading frames from 127.0.0.1:%d?)",
                           c->endpoint, c->o->timeout_s, c->link.port);
    }
    return nn_fail(err, NN_E_IO, "interrupted");
}

static nn_status run_episode(drive_ctx *c, int i, ep_metrics *m, nn_err *err)
{
    const drive_opts *o = c->o;
    nn_status s = episode_start(&c->ep, &o->prm, i, err);
    if (s)
        return s;
    long n = sim_params_frames(&o->prm);
    const double dt = 1.0 / o->prm.fps;
    const uint64_t dt_ns = (uint64_t)llround(dt * 1e9);
    int flash = 0;
    c->cmd = 0;
    uint64_t t0 = link_now_ns();
    c->last_reply_ns = t0;
    for (long f = 0; f < n; f++) {
        if (stop_requested)
            return nn_fail(err, NN_E_IO, "interrupted at %.1f s", (double)f * dt);
        if (!o->expert && !o->lockstep) {
            /* real time: take answers until this frame is due */
            uint64_t due = t0 + (uint64_t)f * dt_ns;
            for (uint64_t now = link_now_ns(); now < due; now = link_now_ns()) {
                int wait = (int)((due - now) / 1000000ull);
                if (wait <= 0) {
                    sleep_ns(due - now);
                    break;
                }
                if (drain(c, wait, i, m, err) < 0)
                    return at_time(err, NN_E_IO, (double)f * dt);
            }
        }
        double expert = episode_expert(&c->ep);
        uint64_t tr = link_now_ns();
        episode_render(&c->ep, &c->rc, CAM_CENTER, c->frame);
        hist_record(&m->render_ns, link_now_ns() - tr);
        if (o->expert) {
            c->cmd = expert;
        } else {
            if ((s = send_frame(c, i, expert, tr, err)))
                return at_time(err, s, (double)f * dt);
            if (o->lockstep) {
                uint64_t deadline = link_now_ns() + ms_to_ns(o->timeout_s * 1000);
                while (c->last_used < c->sent && link_now_ns() < deadline && !stop_requested) {
                    if (drain(c, 20, i, m, err) < 0)
                        return at_time(err, NN_E_IO, (double)f * dt);
                    if (c->spawned && !dp_alive(&c->dp))
                        break;
                }
            } else if (drain(c, 0, i, m, err) < 0) {
                return at_time(err, NN_E_IO, (double)f * dt);
            }
            if ((s = check_answering(c, link_now_ns(), err)))
                return at_time(err, s, (double)f * dt);
        }
        if (c->video && i == 0) {
            overlay_draw(c->vframe, c->frame, SIM_FRAME_W, SIM_FRAME_H, o->expert ? NAN : c->cmd, expert,
                         c->ep.cte, flash > 0);
            if ((s = video_push(c->video, c->vframe, err)))
                return s;
        }
        if (flash > 0)
            flash--;
        episode_step(&c->ep, c->cmd + episode_noise(&c->ep));
        m->frames++;
        double ac = fabs(c->ep.cte);
        m->sum_abs_cte += ac;
        if (ac > m->max_abs_cte)
            m->max_abs_cte = ac;
        bool intervened = ac > DRIVE_INTERVENTION_M;
        if (c->trace)
            fprintf(c->trace, "%d,%ld,%.4f,%.3f,%.4f,%.5f,%.5f,%d\n", i + 1, f, (double)(f + 1) * dt, c->ep.s,
                    c->ep.cte, expert, c->cmd, intervened ? 1 : 0);
        if (intervened) {
            m->interventions++;
            episode_reset_to_lane(&c->ep);
            flash = (int)(o->prm.fps / 2);
        }
        if (!episode_road_left(&c->ep))
            break;
    }
    return NN_OK;
}

static void finish_metrics(ep_metrics *m, const drive_ctx *c)
{
    m->seconds = (double)m->frames / c->o->prm.fps;
    m->distance_m = c->ep.car.odometer;
    double a = m->seconds > 0 ? 1.0 - m->interventions * DRIVE_INTERVENTION_S / m->seconds : 0;
    m->autonomy_pct = 100.0 * (a > 0 ? a : 0);
}

static void print_episode(FILE *out, const drive_opts *o, const ep_metrics *m)
{
    fprintf(out, "road %d/%ld: %s  %.1f s  %.0f m  interventions %d  autonomy %.1f%%  |cte| mean %.3f max %.3f m",
            m->road + 1, o->prm.roads, m->ok ? "ok" : "FAILED", m->seconds, m->distance_m, m->interventions,
            m->autonomy_pct, m->frames ? m->sum_abs_cte / (double)m->frames : 0.0, m->max_abs_cte);
    if (!o->expert)
        fprintf(out, "  |pred-expert| %.4f  latency ms p50 %.2f p99 %.2f  answered %ld/%ld",
                m->replies ? m->sum_abs_err / (double)m->replies : 0.0, hist_percentile(&m->latency_ns, 50) / 1e6,
                hist_percentile(&m->latency_ns, 99) / 1e6, m->replies, m->frames);
    fprintf(out, "  render us p50 %.0f\n", hist_percentile(&m->render_ns, 50) / 1e3);
    fflush(out);
}

typedef struct {
    long roads_ok, frames, replies;
    int interventions;
    double seconds, distance, sum_cte, max_cte, sum_err, autonomy;
    histogram latency, render;
} totals;

static void sum_up(const drive_ctx *c, long ran, totals *t)
{
    memset(t, 0, sizeof *t);
    hist_reset(&t->latency);
    hist_reset(&t->render);
    for (long i = 0; i < ran; i++) {
        const ep_metrics *m = &c->m[i];
        t->roads_ok += m->ok;
        t->frames += m->frames;
        t->replies += m->replies;
        t->interventions += m->interventions;
        t->seconds += m->seconds;
        t->distance += m->distance_m;
        t->sum_cte += m->sum_abs_cte;
        t->sum_err += m->sum_abs_err;
        if (m->max_abs_cte > t->max_cte)
            t->max_cte = m->max_abs_cte;
        hist_merge(&t->latency, &m->latency_ns);
        hist_merge(&t->render, &m->render_ns);
    }
    double a = t->seconds > 0 ? 1.0 - t->interventions * DRIVE_INTERVENTION_S / t->seconds : 0;
    t->autonomy = 100.0 * (a > 0 ? a : 0);
}

static void json_hist_ms(jbuf *j, const char *key, const histogram *h)
{
    jb_key(j, key);
    jb_printf(j, "{\"n\":%llu,\"p50\":", (unsigned long long)h->count);
    jb_num(j, hist_percentile(h, 50) / 1e6, 6);
    jb_raw(j, ",\"p90\":");
    jb_num(j, hist_percentile(h, 90) / 1e6, 6);
    jb_raw(j, ",\"p99\":");
    jb_num(j, hist_percentile(h, 99) / 1e6, 6);
    jb_raw(j, ",\"max\":");
    jb_num(j, h->count ? (double)h->max / 1e6 : 0, 6);
    jb_raw(j, "}");
}

static void json_metrics(jbuf *j, int interventions, double seconds, double distance, double autonomy, long frames,
                         double sum_cte, double max_cte, long replies, double sum_err, const histogram *lat,
                         const histogram *render)
{
    jb_printf(j, "\"seconds\":");
    jb_num(j, seconds, 6);
    jb_raw(j, ",\"distance_m\":");
    jb_num(j, distance, 6);
    jb_printf(j, ",\"frames\":%ld,\"interventions\":%d,\"autonomy_pct\":", frames, interventions);
    jb_num(j, autonomy, 6);
    jb_raw(j, ",\"mean_abs_cte_m\":");
    jb_num(j, frames ? sum_cte / (double)frames : 0, 6);
    jb_raw(j, ",\"max_abs_cte_m\":");
    jb_num(j, max_cte, 6);
    jb_printf(j, ",\"answered\":%ld,\"mean_abs_steer_err\":", replies);
    jb_num(j, replies ? sum_err / (double)replies : 0, 6);
    jb_raw(j, ",");
    json_hist_ms(j, "latency_ms", lat);
    jb_raw(j, ",");
    json_hist_ms(j, "render_ms", render);
}

static nn_status write_json(const drive_ctx *c, FILE *f, long ran, const totals *t, const char *mode, nn_err *err)
{
    size_t cap = 4096 + (size_t)c->o->prm.roads * 2048;
    char *buf = malloc(cap);
    if (!buf)
        return nn_fail(err, NN_E_NOMEM, "--json: out of memory");
    jbuf j;
    jb_init(&j, buf, cap);
    jb_printf(&j, "{\"v\":1,\"mode\":");
    jb_str(&j, mode);
    jb_raw(&j, ",\"endpoint\":");
    jb_str(&j, c->endpoint);
    jb_printf(&j, ",\"seed\":%llu,\"fps\":", (unsigned long long)c->o->prm.seed);
    jb_num(&j, c->o->prm.fps, 6);
    jb_raw(&j, ",\"speed_mps\":");
    jb_num(&j, c->o->prm.speed, 6);
    jb_printf(&j, ",\"lockstep\":%s,\"roads\":[", c->o->lockstep ? "true" : "false");
    for (long i = 0; i < ran; i++) {
        const ep_metrics *m = &c->m[i];
        jb_printf(&j, "%s{\"road\":%d,\"ok\":%s,\"error\":", i ? "," : "", m->road, m->ok ? "true" : "false");
        jb_str(&j, m->why);
        jb_raw(&j, ",");
        json_metrics(&j, m->interventions, m->seconds, m->distance_m, m->autonomy_pct, m->frames, m->sum_abs_cte,
                     m->max_abs_cte, m->replies, m->sum_abs_err, &m->latency_ns, &m->render_ns);
        jb_raw(&j, "}");
    }
    jb_printf(&j, "],\"total\":{\"roads\":%ld,\"roads_ok\":%ld,", c->o->prm.roads, t->roads_ok);
    json_metrics(&j, t->interventions, t->seconds, t->distance, t->autonomy, t->frames, t->sum_cte, t->max_cte,
                 t->replies, t->sum_err, &t->latency, &t->render);
    jb_raw(&j, "}}\n");
    nn_status s = NN_OK;
    if (j.overflow) {
        s = nn_fail(err, NN_E_IO, "--json: %s: metrics do not fit in %zu bytes", c->o->json, cap);
    } else if (fwrite(buf, 1, j.len, f) != j.len || fflush(f)) {
        s = nn_fail(err, NN_E_IO, "--json: %s: %s", c->o->json, strerror(errno));
    }
    free(buf);
    return s;
}

/* Exports what config/sim.yaml reads: STEERD_SIM_PORT, STEERD_SIM_MODEL, STEERD_SIM_WEIGHTS. */
static nn_status export_env(const drive_opts *o, int port, nn_err *err)
{
    char v[PATH_MAX];
    snprintf(v, sizeof v, "%d", port);
    if (setenv("STEERD_SIM_PORT", v, 1))
        return nn_fail(err, NN_E_IO, "setenv: %s", strerror(errno));
    const char *names[2] = {"STEERD_SIM_MODEL", "STEERD_SIM_WEIGHTS"}, *vals[2] = {o->model, o->weights};
    const char *opts[2] = {"--model", "--weights"};
    for (int k = 0; k < 2; k++) {
        if (!vals[k])
            continue;
        if (!realpath(vals[k], v))
            return nn_fail(err, NN_E_IO, "%s: %s: %s", opts[k], vals[k], strerror(errno));
        if (setenv(names[k], v, 1))
            return nn_fail(err, NN_E_IO, "setenv: %s", strerror(errno));
    }
    return NN_OK;
}

/* Starts steerd with the config (or checks the endpoint), connects the SUB socket, waits for
 * steerd's frame connection. */
static nn_status connect_daemon(drive_ctx *c, nn_err *err)
{
    const drive_opts *o = c->o;
    int port = o->listen_port ? o->listen_port : o->config ? 0 : DRIVE_DEFAULT_PORT;
    nn_status s = link_listen(&c->link, port, err);
    if (s)
        return s;
    c->have_link = true;
    if (o->config) {
        if ((s = export_env(o, c->link.port, err)))
            return s;
        steerd_config *cfg = malloc(sizeof *cfg);
        if (!cfg)
            return nn_fail(err, NN_E_NOMEM, "out of memory");
        s = cfg_load(cfg, o->config, err);
        char portstr[32];
        snprintf(portstr, sizeof portstr, "port=%d", c->link.port);
        if (!s && !strstr(cfg->pipeline, portstr))
            s = cfg_error(cfg, CFG_SOURCE_PIPELINE, err, NN_E_SPEC,
                          "does not read the simulator's frames (expected `tcpclientsrc host=127.0.0.1 "
                          "port=${STEERD_SIM_PORT} ! rawvideoparse ...`, see config/sim.yaml)");
        if (!s)
            snprintf(c->endpoint, sizeof c->endpoint, "%s", cfg->endpoint);
        free(cfg);
        if (s)
            return s;
        if ((s = dp_start(&c->dp, o->steerd, o->config, o->daemon_log, err)))
            return s;
        c->spawned = true;
    } else {
        char why[400];
        if (!ep_check(o->endpoint, EP_CONNECT, why, sizeof why))
            return nn_fail(err, NN_E_ARG, "--endpoint: %s", why);
        snprintf(c->endpoint, sizeof c->endpoint, "%s", o->endpoint);
    }
    if ((s = sub_open(&c->sub, c->endpoint, err)))
        return s;
    c->have_sub = true;
    uint64_t deadline = link_now_ns() + ms_to_ns(o->timeout_s * 1000);
    while (!stop_requested) {
        int k = link_accept(&c->link, 100, err);
        if (k < 0)
            return NN_E_IO;
        if (k > 0)
            return NN_OK;
        if (c->spawned && !dp_alive(&c->dp)) {
            daemon_failure(c, err->msg, sizeof err->msg, "before connecting to the frames");
            return NN_E_IO;
        }
        if (link_now_ns() > deadline)
            return nn_fail(err, NN_E_IO,
                           "no connection from steerd on 127.0.0.1:%d within %.1f s (its source.pipeline must be "
                           "`tcpclientsrc host=127.0.0.1 port=%d ! rawvideoparse ...`)",
                           c->link.port, o->timeout_s, c->link.port);
    }
    return nn_fail(err, NN_E_IO, "interrupted");
}

static void teardown(drive_ctx *c, int *rc)
{
    nn_err err = {{0}};
    if (c->video && video_close(c->video, &err)) {
        fprintf(stderr, "steerctl: sim drive: %s\n", err.msg);
        *rc = 1;
    }
    c->video = NULL;
    if (c->have_sub)
        sub_close(&c->sub);
    if (c->have_link)
        link_close(&c->link);
    if (c->spawned) {
        bool was_dead = !dp_alive(&c->dp);
        int st = dp_stop(&c->dp, STOP_GRACE_MS);
        if (!was_dead && st != 0) {
            char ex[128];
            dp_exit_text(&c->dp, ex, sizeof ex);
            fprintf(stderr, "steerctl: sim drive: steerd %s when stopped (log: %s)\n", ex, c->dp.log_path);
            c->dp.log_is_temp = false; /* keep it for a look */
            *rc = 1;
        }
        dp_cleanup(&c->dp);
        ep_remove_stale(c->endpoint); /* the socket file of a steerd that had to be killed */
    }
    episode_free(&c->ep);
    render_free(&c->rc);
    free(c->frame);
    free(c->vframe);
    free(c->m);
}

int sim_drive(const drive_opts *o, FILE *out)
{
    drive_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        fputs("steerctl: sim drive: out of memory\n", stderr);
        return 1;
    }
    c->o = o;
    c->out = out;
    c->link.listen_fd = c->link.conn_fd = -1;
    int rc = 1;
    nn_err err = {{0}};
    stop_requested = 0;
    struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    nn_status s = render_init(&c->rc, SIM_FRAME_W, SIM_FRAME_H, &err);
    c->frame = malloc((size_t)SIM_FRAME_W * SIM_FRAME_H * 3);
    c->vframe = malloc((size_t)SIM_FRAME_W * (SIM_FRAME_H + OVERLAY_PANEL_H) * 3);
    c->m = calloc((size_t)o->prm.roads, sizeof *c->m);
    if (!s && (!c->frame || !c->vframe || !c->m))
        s = nn_fail(&err, NN_E_NOMEM, "out of memory");
    snprintf(c->endpoint, sizeof c->endpoint, "%s", o->expert ? "expert" : "");
    FILE *json = NULL; /* opened first: a path that cannot be written fails before the drive */
    if (!s && o->json && !(json = fopen(o->json, "w")))
        s = nn_fail(&err, NN_E_IO, "--json: %s: %s", o->json, strerror(errno));
    if (!s && o->trace) {
        if (!(c->trace = fopen(o->trace, "w")))
            s = nn_fail(&err, NN_E_IO, "--trace: %s: %s", o->trace, strerror(errno));
        else
            fputs("road,frame,t_s,s_m,cte_m,expert,steer,intervention\n", c->trace);
    }
    /* steerd first: it sets environment variables, which must happen before GStreamer's threads run */
    if (!s && !o->expert)
        s = connect_daemon(c, &err);
    if (!s && o->video)
        s = video_open(&c->video, o->video, SIM_FRAME_W, SIM_FRAME_H + OVERLAY_PANEL_H, o->prm.fps, &err);
    if (!s && !o->expert)
        s = warm_up(c, &err);
    if (s) {
        fprintf(stderr, "steerctl: sim drive: %s\n", err.msg);
        if (json) {
            fclose(json);
            unlink(o->json);
        }
        if (c->trace) {
            fclose(c->trace);
            unlink(o->trace);
        }
        teardown(c, &rc);
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        free(c);
        return 1;
    }
    if (!o->expert)
        fprintf(out, "steerd: frames on 127.0.0.1:%d, steer messages from %s%s\n", c->link.port, c->endpoint,
                o->lockstep ? " (lockstep)" : "");
    fflush(out);
    long ran = 0;
    bool all_ok = true;
    for (long i = 0; i < o->prm.roads; i++) {
        ep_metrics *m = &c->m[i];
        m->road = (int)i;
        hist_reset(&m->latency_ns);
        hist_reset(&m->render_ns);
        nn_err e = {{0}};
        s = run_episode(c, (int)i, m, &e);
        ran++;
        finish_metrics(m, c);
        m->ok = s == NN_OK;
        if (!m->ok)
            snprintf(m->why, sizeof m->why, "%s", e.msg);
        print_episode(out, o, m);
        if (!m->ok) {
            fprintf(stderr, "steerctl: sim drive: road %ld failed: %s\n", i + 1, e.msg);
            all_ok = false;
            break; /* the daemon is gone or wedged: the next road cannot run either */
        }
    }
    totals t;
    sum_up(c, ran, &t);
    fprintf(out,
            "summary: roads %ld/%ld ok  %.1f s  %.0f m  interventions %d  autonomy %.1f%%  |cte| mean %.3f max %.3f m",
            t.roads_ok, o->prm.roads, t.seconds, t.distance, t.interventions, t.autonomy,
            t.frames ? t.sum_cte / (double)t.frames : 0.0, t.max_cte);
    if (!o->expert)
        fprintf(out, "  latency ms p50 %.2f p99 %.2f", hist_percentile(&t.latency, 50) / 1e6,
                hist_percentile(&t.latency, 99) / 1e6);
    fputc('\n', out);
    rc = all_ok && t.roads_ok == o->prm.roads ? 0 : 1;
    if (json) {
        if (write_json(c, json, ran, &t, o->expert ? "expert" : "steerd", &err)) {
            fprintf(stderr, "steerctl: sim drive: %s\n", err.msg);
            rc = 1;
        }
        if (fclose(json) && rc == 0) {
            fprintf(stderr, "steerctl: sim drive: --json: %s: %s\n", o->json, strerror(errno));
            rc = 1;
        }
    }
    if (c->trace && (ferror(c->trace) | fclose(c->trace))) { /* both: the file is closed either way */
        fprintf(stderr, "steerctl: sim drive: --trace: %s: write failed\n", o->trace);
        rc = 1;
    }
    teardown(c, &rc);
    if (o->video && rc == 0)
        fprintf(out, "video: %s\n", o->video);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    free(c);
    return rc;
}
