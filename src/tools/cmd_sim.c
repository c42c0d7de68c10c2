/* cmd_sim.c — `steerctl sim record|drive`: the driving simulator's command line. Record mode
 * writes Udacity-layout drives (src/sim/record.c); drive mode runs closed-loop episodes against
 * a real steerd (src/sim/drive.c). Every option is checked; a bad one is one line and exit 64. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/params.h"
#include "sim/record.h"
#include "tools/steerctl.h"
#ifdef STEERD_HAVE_SIM_DRIVE
#include "sim/drive.h"
#endif

static const char sim_help[] =
    "usage: steerctl sim record --out DIR [options]\n"
#ifdef STEERD_HAVE_SIM_DRIVE
    "       steerctl sim drive (--config STEERD.yaml | --endpoint EP | --expert) [options]\n"
#endif
    "\n"
    "A driving simulator: procedural roads (clothoids), a 320x160 forward camera and two side\n"
    "cameras, a kinematic bicycle model and a pure-pursuit expert on the lane centre. Road i of a\n"
    "seed is the same road in every mode; the same options give the same bytes.\n"
    "\n"
    "record: drives each road with the expert plus steering perturbations (--noise) and writes\n"
    "  DIR/driving_log.csv + DIR/IMG/{center,left,right}_*.jpg (the Udacity simulator's layout, read by\n"
    "  `steerctl replay` and the trainer); steering = the expert's label ([-1,1] = angle/25 deg, + right).\n"
    "  --out DIR          output folder (created; an existing driving_log.csv is not overwritten)\n"
    "  --quality Q        JPEG quality 1..100 (default 90)\n"
#ifdef STEERD_HAVE_SIM_DRIVE
    "\n"
    "drive: closed loop. Frames go to steerd through its GStreamer source (raw RGB over TCP: steerd's\n"
    "  pipeline `tcpclientsrc port=${STEERD_SIM_PORT} ! rawvideoparse ...`, see config/sim.yaml) and the\n"
    "  car steers by steerd's ZeroMQ `steer` messages. Per road: autonomy (an intervention when the car\n"
    "  is > 1 m off the lane centre, each costing 6 s), mean |cross-track error|, distance, latency\n"
    "  (frame rendered -> steer message received).\n"
    "  --config FILE      start steerd (-c FILE) with STEERD_SIM_PORT (and STEERD_SIM_MODEL/WEIGHTS) set\n"
    "  --model M.yaml --weights W.safetensors   exported as STEERD_SIM_MODEL / STEERD_SIM_WEIGHTS\n"
    "  --steerd PATH      the steerd binary (default: next to steerctl, else $PATH)\n"
    "  --daemon-log FILE  steerd's output (default: a temporary file; its last line is shown on failure)\n"
    "  --endpoint EP      use a steerd that is already running and publishing at EP (it must read\n"
    "                     frames from this machine's --listen port)\n"
    "  --listen PORT      TCP port for the frames (default: any free port with --config, 5600 with --endpoint)\n"
    "  --expert           drive with the expert itself (no steerd): the ceiling\n"
    "  --lockstep         wait for each frame's steer message before the next frame (reproducible on a\n"
    "                     loaded machine); default: real time at --fps, steering with the latest message\n"
    "  --timeout S        a steer message must arrive within S s (default 10): else the road fails\n"
    "  --video FILE       the first road with the predicted (red) and expert (green) steering drawn on it;\n"
    "                     .webm (VP8) or .avi (MJPEG), encoded by GStreamer\n"
    "  --json FILE        the per-road and total metrics as JSON\n"
    "  --trace FILE       one CSV row per frame: road, frame, t_s, s_m (along the road), cte_m (+ right),\n"
    "                     expert, steer (the steering applied), intervention (1: put back on the lane)\n"
#endif
    "\n"
    "options of both:\n";

static int usage_error(const char *mode, const char *fmt, const char *arg)
{
    fprintf(stderr, "steerctl: sim%s%s: ", mode ? " " : "", mode ? mode : "");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return EXIT_USAGE;
}

static void print_help(FILE *f)
{
    fputs(sim_help, f);
    sim_params_help(f);
}

#define SIM_PARAM_VAL 0x100 /* getopt val of simulator parameter i: SIM_PARAM_VAL + i */
#define SIM_MODE_OPTS_MAX 16 /* a mode's own options, the zero row included */

/* opts <- a mode's options, then the simulator's parameters, then the zero row. */
static void sim_options(struct option opts[SIM_MODE_OPTS_MAX + SIM_PARAMS_N], const struct option *mode)
{
    int n = 0;
    while (mode[n].name && n < SIM_MODE_OPTS_MAX - 1) {
        opts[n] = mode[n];
        n++;
    }
    sim_params_options(opts + n, SIM_PARAM_VAL);
    opts[n + SIM_PARAMS_N] = (struct option){0, 0, 0, 0};
}

/* A simulator parameter among opts_next's results (its value, or its value missing): 1 taken,
 * -1 bad (err set), 0 not one. */
static int sim_param(const opts_parser *op, int c, sim_params *p, nn_err *err)
{
    if (c >= SIM_PARAM_VAL && c < SIM_PARAM_VAL + SIM_PARAMS_N)
        return sim_params_parse_nth(p, c - SIM_PARAM_VAL, op->arg, err);
    return c == OPTS_MISSING ? sim_params_parse(p, op->arg, NULL, err) : 0;
}

static int cmd_sim_record(int argc, char **argv)
{
    static const struct option mode[] = {{"out", required_argument, 0, 'o'}, {"quality", required_argument, 0, 'q'},
                                         {0, 0, 0, 0}};
    struct option opts[SIM_MODE_OPTS_MAX + SIM_PARAMS_N];
    sim_options(opts, mode);
    sim_params p;
    sim_params_defaults(&p, 1);
    const char *out = NULL;
    long quality = 90;
    nn_err err = {{0}};
    opts_parser op;
    opts_start(&op, "steerctl", "sim record", argc, argv, "", opts);
    for (int c; (c = opts_next(&op)) != OPTS_END;) {
        int r = sim_param(&op, c, &p, &err);
        if (r < 0)
            return usage_error("record", "%s", err.msg);
        if (r > 0)
            continue;
        if (c == OPTS_HELP)
            return print_help(stdout), 0;
        if (c == 'o') {
            out = op.arg;
        } else if (c == 'q') {
            if (!parse_int_opt("--quality", op.arg, 1, 100, &quality))
                return EXIT_USAGE;
        } else {
            return opts_default(&op, c, sim_help);
        }
    }
    if (!out)
        return usage_error("record", "%s", "--out DIR is required");
    if (sim_params_check(&p, &err))
        return usage_error("record", "%s", err.msg);
    record_stats st;
    if (sim_record(&p, out, (int)quality, stdout, &st, &err)) {
        fprintf(stderr, "steerctl: sim record: %s\n", err.msg);
        return 1;
    }
    printf("frames: %ld (x3 cameras) in %s/driving_log.csv\n", st.frames, out);
    printf("label: mean |steering| %.4f, max %.4f\n", st.mean_abs_label, st.max_abs_label);
    printf("cte_m: mean |cte| %.3f, max %.3f\n", st.mean_abs_cte, st.max_abs_cte);
    printf("render_us: p50 %.0f p99 %.0f (per camera image)\n", hist_percentile(&st.render_ns, 50) / 1e3,
           hist_percentile(&st.render_ns, 99) / 1e3);
    printf("jpeg_us: p50 %.0f p99 %.0f\n", hist_percentile(&st.encode_ns, 50) / 1e3,
           hist_percentile(&st.encode_ns, 99) / 1e3);
    printf("wall_s: %.2f (%.1f frames/s)\n", st.wall_s, st.wall_s > 0 ? (double)st.frames / st.wall_s : 0.0);
    return 0;
}

#ifdef STEERD_HAVE_SIM_DRIVE
static int cmd_sim_drive(int argc, char **argv)
{
    static const struct option mode[] = {
        {"expert", no_argument, 0, 'x'},         {"lockstep", no_argument, 0, 'L'},
        {"config", required_argument, 0, 'c'},   {"endpoint", required_argument, 0, 'e'},
        {"listen", required_argument, 0, 'l'},   {"steerd", required_argument, 0, 's'},
        {"model", required_argument, 0, 'm'},    {"weights", required_argument, 0, 'w'},
        {"video", required_argument, 0, 'v'},    {"json", required_argument, 0, 'j'},
        {"trace", required_argument, 0, 't'},    {"daemon-log", required_argument, 0, 'd'},
        {"timeout", required_argument, 0, 'T'},  {0, 0, 0, 0}};
    struct option opts[SIM_MODE_OPTS_MAX + SIM_PARAMS_N];
    sim_options(opts, mode);
    drive_opts o;
    drive_opts_defaults(&o);
    nn_err err = {{0}};
    opts_parser op;
    opts_start(&op, "steerctl", "sim drive", argc, argv, "", opts);
    for (int c; (c = opts_next(&op)) != OPTS_END;) {
        int r = sim_param(&op, c, &o.prm, &err);
        if (r < 0)
            return usage_error("drive", "%s", err.msg);
        if (r > 0)
            continue;
        long port;
        switch (c) {
        case OPTS_HELP: return print_help(stdout), 0;
        case 'x': o.expert = true; break;
        case 'L': o.lockstep = true; break;
        case 'c': o.config = op.arg; break;
        case 'e': o.endpoint = op.arg; break;
        case 's': o.steerd = op.arg; break;
        case 'm': o.model = op.arg; break;
        case 'w': o.weights = op.arg; break;
        case 'v': o.video = op.arg; break;
        case 'j': o.json = op.arg; break;
        case 't': o.trace = op.arg; break;
        case 'd': o.daemon_log = op.arg; break;
        case 'l':
            if (!parse_int_opt("--listen", op.arg, 1, 65535, &port))
                return EXIT_USAGE;
            o.listen_port = (int)port;
            break;
        case 'T':
            if (!parse_seconds_opt("sim drive", "--timeout", op.arg, 3600, &o.timeout_s))
                return EXIT_USAGE;
            break;
        default: return opts_default(&op, c, sim_help);
        }
    }
    int modes = (o.config != NULL) + (o.endpoint != NULL) + (o.expert ? 1 : 0);
    if (modes != 1)
        return usage_error("drive", "%s", "give exactly one of --config FILE, --endpoint EP or --expert");
    if ((o.model || o.weights) && !o.config)
        return usage_error("drive", "%s", "--model / --weights go with --config (they are passed to the steerd it starts)");
    if (o.listen_port && o.expert)
        return usage_error("drive", "%s", "--listen has no use with --expert (no steerd)");
    if (sim_params_check(&o.prm, &err))
        return usage_error("drive", "%s", err.msg);
    int rc = 0;
    const char *inputs[] = {o.config, o.model, o.weights}, *names[] = {"--config", "--model", "--weights"};
    for (int i = 0; i < 3 && !rc; i++)
        rc = opts_input(&op, names[i], inputs[i]);
    return rc ? rc : sim_drive(&o, stdout);
}
#endif

int cmd_sim(int argc, char **argv)
{
    static const opts_sub modes[] = {
        {"record", cmd_sim_record},
#ifdef STEERD_HAVE_SIM_DRIVE
        {"drive", cmd_sim_drive},
#endif
        {NULL, NULL}};
    if (argc < 2 || opts_is_help(argv[1])) /* the help with the simulator's parameters */
        return print_help(argc < 2 ? stderr : stdout), argc < 2 ? EXIT_USAGE : 0;
    return opts_dispatch("steerctl", "sim", modes, sim_help, argc, argv);
}
