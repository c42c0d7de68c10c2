/* cmd_replay.c — `steerctl replay`: runs a recorded drive (a Udacity simulator folder) through
 * exactly the daemon's model loading, preprocessing and forward pass (src/runtime/served_model.c,
 * src/nn/preprocess.c), at the recorded rate or as fast as possible; writes a CSV of recorded vs
 * predicted steering, prints MAE, RMSE and latency percentiles (the daemon's histogram), and can
 * publish the daemon's `steer` messages (and a final `stats`) on a ZeroMQ endpoint. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/histogram.h"
#include "common/log.h"
#include "runtime/served_model.h"
#include "runtime/msg.h"
#include "runtime/stats.h"
#include "io/drivelog.h"
#include "io/image.h"
#include "tools/steerctl.h"
#ifdef STEERD_HAVE_ZMQ
#include "runtime/publish.h"
#endif

#define REPLAY_DEFAULT_HZ 10  /* --rate recorded when the file names carry no timestamps */
#define REPLAY_JOIN_MS 300    /* after binding --publish: time for subscribers to connect */

static const char replay_help[] =
    "usage: steerctl replay LOG --model M.yaml --weights W.safetensors [--rate recorded|max]\n"
    "                       [--publish ENDPOINT] [--output CSV] [--threads N]\n"
    "\n"
    "Replays a recorded drive: LOG is a Udacity simulator driving_log.csv (header optional; image\n"
    "paths from another machine are found by file name in the log's IMG/ folder). Each centre image\n"
    "is decoded (JPEG/PNG) and run through the daemon's preprocessing and forward pass on the CPU\n"
    "backend with N threads (default 1).\n"
    "  --rate max        as fast as possible (default)\n"
    "  --rate recorded   paced by the times in the file names (center_YYYY_MM_DD_HH_MM_SS_mmm.jpg),\n"
    "                    or 10 Hz when some name has no time\n"
    "  --output CSV      one line per frame: frame,image,recorded,predicted,abs_error,latency_us\n"
    "                    (steering in [-1,1]; latency = preprocess + forward, decode excluded); `-` = stdout\n"
#ifdef STEERD_HAVE_ZMQ
    "  --publish EP      bind a ZeroMQ PUB at EP and send steerd's `steer` message per frame and a\n"
    "                    final `stats` (docs/FORMATS.md); waits 0.3 s after binding for subscribers\n"
#endif
    "Prints frames, mae, rmse (and mae_deg, rmse_deg when the model states its scale), latency_us\n"
    "p50/p90/p99/max, decode_us and fps, one `key: value` line each (to stderr when the CSV goes to stdout).\n";

typedef struct {
    const char *log, *spec, *weights, *publish, *output;
    bool rate_max;
    long threads;
} replay_opts;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t t_ns)
{
    struct timespec ts = {.tv_sec = (time_t)(t_ns / 1000000000ull), .tv_nsec = (long)(t_ns % 1000000000ull)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

static int parse_args(int argc, char **argv, replay_opts *o)
{
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},  {"weights", required_argument, 0, 'w'},
        {"output", required_argument, 0, 'o'}, {"publish", required_argument, 0, 'P'},
        {"rate", required_argument, 0, 'r'},   {"threads", required_argument, 0, 't'},
        {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->rate_max = true;
    o->threads = 1;
    opts_parser p;
    opts_start(&p, "steerctl", "replay", argc, argv, "", opts);
    for (int c; (c = opts_next(&p)) != OPTS_END;) {
        switch (c) {
        case OPTS_HELP:
        case OPTS_VERSION: opts_default(&p, c, replay_help); return -1;
        case 'm': o->spec = p.arg; break;
        case 'w': o->weights = p.arg; break;
        case 'o': o->output = p.arg; break;
        case 'P':
#ifdef STEERD_HAVE_ZMQ
            o->publish = p.arg;
            break;
#else
            fputs("steerctl: replay: --publish needs a build with libzmq\n", stderr);
            return EXIT_USAGE;
#endif
        case 'r':
            if (strcmp(p.arg, "max") && strcmp(p.arg, "recorded")) {
                fprintf(stderr, "steerctl: --rate: expected recorded or max (got '%s')\n", p.arg);
                return EXIT_USAGE;
            }
            o->rate_max = strcmp(p.arg, "max") == 0;
            break;
        case 't':
            if (!parse_int_opt("--threads", p.arg, 1, 256, &o->threads))
                return EXIT_USAGE;
            break;
        default:
            if (!opts_positional(&p, c, &o->log, 1))
                return opts_default(&p, c, replay_help);
        }
    }
    if (!o->log || !o->spec || !o->weights) {
        fputs(replay_help, stderr);
        return EXIT_USAGE;
    }
    int rc = 0;
    const char *inputs[] = {o->log, o->spec, o->weights}, *names[] = {NULL, "--model", "--weights"};
    for (int i = 0; i < 3 && !rc; i++)
        rc = opts_input(&p, names[i], inputs[i]);
    return rc;
}

typedef struct {
    replay_opts o;
    io_drive_log log;
    io_image img;
    sd_model model;
    slog lg;
    FILE *csv;
    histogram lat, decode;
    sd_stats stats;
    double sum_abs, sum_sq;
    uint64_t seq;
#ifdef STEERD_HAVE_ZMQ
    publisher pub;
    bool pub_open;
#endif
    char buf[MSG_MAX];
} replay;

static void publish(replay *r, size_t len)
{
#ifdef STEERD_HAVE_ZMQ
    if (r->pub_open && len && !pub_send(&r->pub, r->buf, len))
        r->stats.publish_dropped++;
#else
    (void)r;
    (void)len;
#endif
}

/* One frame: decode, preprocess, forward, CSV line, publish. */
static int replay_frame(replay *r, size_t i)
{
    const io_drive_row *row = &r->log.rows[i];
    nn_err err;
    uint64_t t_dec = now_ns();
    if (io_image_load(&r->img, row->center, &err)) {
        fprintf(stderr, "steerctl: replay: %s:%d: center: %s\n", r->log.path, row->line, err.msg);
        return 1;
    }
    sd_frame f = {.data = r->img.data, .cap = r->img.cap, .width = r->img.width, .height = r->img.height,
                  .stride = r->img.width * 3, .frame_id = i, .t_capture_ns = now_ns()};
    f.t_arrival_ns = f.t_capture_ns;
    hist_record(&r->decode, f.t_capture_ns - t_dec);
    uint64_t t0 = now_ns();
    nn_status s = sd_model_preprocess(&r->model, &f, &err);
    uint64_t t1 = now_ns();
    if (!s)
        s = sd_model_run(&r->model, &err);
    uint64_t t2 = now_ns();
    if (s) {
        fprintf(stderr, "steerctl: replay: %s: %s\n", row->center, err.msg);
        return 1;
    }
    const float *y = sd_model_outputs(&r->model);
    double pred = y[0], rec = row->steering, e = fabs(pred - rec);
    r->sum_abs += e;
    r->sum_sq += e * e;
    hist_record(&r->lat, t2 - t0);
    if (r->csv && fprintf(r->csv, "%zu,%s,%.9g,%.9g,%.9g,%.1f\n", i, row->center, rec, pred, e,
                          (double)(t2 - t0) / 1e3) < 0) {
        fprintf(stderr, "steerctl: replay: %s: write error: %s\n", r->o.output, strerror(errno));
        return 1;
    }
    steer_msg m = {
        .seq = r->seq++,
        .frame_id = i,
        .t_capture_ns = f.t_capture_ns,
        .outputs = y,
        .n_outputs = r->model.n_outputs,
        .has_angle = r->model.has_angle,
        .angle_deg = r->model.has_angle ? pred * r->model.scale_deg : 0.0,
        .queue_ns = t0 - f.t_capture_ns,
        .preprocess_ns = t1 - t0,
        .infer_ns = t2 - t1,
        .model_name = sd_model_name(&r->model),
        .model_checksum = sd_model_checksum(&r->model),
        .backend = r->model.backend,
    };
    m.t_publish_ns = now_ns();
    m.total_ns = m.t_publish_ns - f.t_capture_ns;
    publish(r, msg_steer(r->buf, sizeof r->buf, &m));
    uint64_t t3 = now_ns();
    uint64_t lat[ST_N] = {m.queue_ns, m.preprocess_ns, m.infer_ns, t3 - t2, m.total_ns};
    stats_record(&r->stats, lat);
    return 0;
}

static void print_summary(replay *r, FILE *out, double wall_s)
{
    size_t n = r->log.n;
    double mae = r->sum_abs / (double)n, rmse = sqrt(r->sum_sq / (double)n);
    fprintf(out, "log: %s (%zu frames, %s)\n", r->log.path, n, r->log.header ? "header" : "no header");
    fprintf(out, "model: %s %s, %s backend, %ld thread%s\n", sd_model_name(&r->model), sd_model_checksum(&r->model),
            r->model.backend, r->o.threads, r->o.threads == 1 ? "" : "s");
    fprintf(out, "frames: %zu\n", n);
    fprintf(out, "mae: %.9g\n", mae);
    fprintf(out, "rmse: %.9g\n", rmse);
    if (r->model.has_angle) {
        fprintf(out, "mae_deg: %.6g\n", mae * r->model.scale_deg);
        fprintf(out, "rmse_deg: %.6g\n", rmse * r->model.scale_deg);
    }
    const histogram *h = &r->lat;
    fprintf(out, "latency_us: p50 %.1f p90 %.1f p99 %.1f max %.1f\n", (double)hist_percentile(h, 50) / 1e3,
            (double)hist_percentile(h, 90) / 1e3, (double)hist_percentile(h, 99) / 1e3, (double)h->max / 1e3);
    fprintf(out, "decode_us: p50 %.1f p99 %.1f max %.1f\n", (double)hist_percentile(&r->decode, 50) / 1e3,
            (double)hist_percentile(&r->decode, 99) / 1e3, (double)r->decode.max / 1e3);
    fprintf(out, "wall_s: %.3f\nfps: %.1f\n", wall_s, wall_s > 0 ? (double)n / wall_s : 0.0);
}

static int replay_run(replay *r)
{
    nn_err err;
    if (io_udacity_load(&r->log, r->o.log, NULL, &err)) {
        fprintf(stderr, "steerctl: replay: %s\n", err.msg);
        return 1;
    }
    slog_init(&r->lg, "steerctl", SLOG_WARNING);
    if (sd_model_load(&r->model, r->o.spec, r->o.weights, NN_BACKEND_CPU, (int)r->o.threads, &r->lg, &err)) {
        fprintf(stderr, "steerctl: replay: model: %s\n", err.msg);
        return 1;
    }
    if (r->o.output) {
        r->csv = strcmp(r->o.output, "-") == 0 ? stdout : fopen(r->o.output, "w");
        if (!r->csv) {
            fprintf(stderr, "steerctl: replay: %s: cannot create: %s\n", r->o.output, strerror(errno));
            return 1;
        }
        fputs("frame,image,recorded,predicted,abs_error,latency_us\n", r->csv);
    }
#ifdef STEERD_HAVE_ZMQ
    if (r->o.publish) {
        if (pub_open(&r->pub, r->o.publish, 1000, &err)) {
            fprintf(stderr, "steerctl: replay: %s\n", err.msg);
            return 1;
        }
        r->pub_open = true;
        sleep_until(now_ns() + REPLAY_JOIN_MS * 1000000ull);
    }
#endif
    hist_reset(&r->lat);
    hist_reset(&r->decode);
    uint64_t start = now_ns();
    stats_init(&r->stats, start);
    int64_t t_first = r->log.rows[0].t_ms;
    for (size_t i = 0; i < r->log.n; i++) {
        if (!r->o.rate_max) {
            uint64_t off_ns = r->log.all_timed ? (uint64_t)(r->log.rows[i].t_ms - t_first) * 1000000ull
                                               : (uint64_t)i * (1000000000ull / REPLAY_DEFAULT_HZ);
            sleep_until(start + off_ns);
        }
        if (replay_frame(r, i))
            return 1;
    }
    double wall_s = (double)(now_ns() - start) / 1e9;
    if (r->csv && r->csv != stdout) {
        FILE *f = r->csv;
        r->csv = NULL;
        if (fclose(f) != 0) {
            fprintf(stderr, "steerctl: replay: %s: write error: %s\n", r->o.output, strerror(errno));
            return 1;
        }
    } else if (r->csv && fflush(stdout) != 0) {
        fprintf(stderr, "steerctl: replay: stdout: write error: %s\n", strerror(errno));
        return 1;
    }
    print_summary(r, r->csv == stdout ? stderr : stdout, wall_s);
#ifdef STEERD_HAVE_ZMQ
    if (r->pub_open) {
        stats_ctx c = {.now_ns = now_ns(), .frames_in = r->log.n, .backend = r->model.backend,
                       .model_name = sd_model_name(&r->model), .model_checksum = sd_model_checksum(&r->model),
                       .status = "eos", .message = "replay finished", .final = true};
        publish(r, stats_format(&r->stats, &c, r->buf, sizeof r->buf));
    }
#endif
    return 0;
}

int cmd_replay(int argc, char **argv)
{
    replay *r = calloc(1, sizeof *r);
    if (!r) {
        fputs("steerctl: replay: out of memory\n", stderr);
        return 1;
    }
    int rc = parse_args(argc, argv, &r->o);
    if (rc == 0)
        rc = replay_run(r);
    else if (rc < 0)
        rc = 0;
#ifdef STEERD_HAVE_ZMQ
    if (r->pub_open)
        pub_close(&r->pub, 250);
#endif
    if (r->csv && r->csv != stdout)
        fclose(r->csv);
    sd_model_free(&r->model);
    io_image_free(&r->img);
    io_drive_log_free(&r->log);
    free(r);
    return rc;
}
