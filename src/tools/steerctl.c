/* steerctl.c — the steerd tool: model inspection, initialisation and inference, the
 * separable-convolution explainer and the CPU benchmark. Dispatches to cmd_*.c. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tools/steerctl.h"

static const char usage[] =
    "usage: steerctl <command> [options]\n"
    "\n"
    "commands:\n"
    "  model info MODEL.yaml [--json]         per-layer shapes, parameters, MACs, activation bytes\n"
    "  model init MODEL.yaml --seed N -o W.safetensors\n"
    "                                         He-initialised weights (PyTorch names and layouts)\n"
    "  model run MODEL.yaml W.safetensors --input X.npy --output Y.npy [--threads N]\n"
    "                                         forward pass on a NHWC float32 batch\n"
    "  model table MODEL.yaml...              one line per model: params, MACs, size, ratios\n"
    "  explain [--input HxWxC] [--kernel K] [--filters N] [--padding valid|same]\n"
    "                                         standard vs separable convolutions vs an EffNet block\n"
    "  bench MODEL.yaml [--weights W] [--threads N] [--batch B] [--runs R] [--json]\n"
    "                                         per-layer time, latency median/p99, GMAC/s vs SGEMM peak\n"
    "  bench MODEL.yaml --train [--weights W] [--threads N] [--batch B] [--runs R] [--json]\n"
    "                                         training step (forward, loss, backward, Adam): images/s\n"
    "  import MODEL.onnx|MODEL.h5 --out DIR [--name NAME] [--config MODEL.json]\n"
    "                                         ONNX / Keras model -> DIR/NAME.yaml + .safetensors\n"
#ifdef STEERD_HAVE_REPLAY
    "  replay LOG --model M.yaml --weights W.safetensors [--rate recorded|max] [--publish EP]\n"
    "         [--output CSV] [--threads N]\n"
    "                                         recorded drive (Udacity driving_log.csv) -> CSV, MAE, RMSE, latency\n"
#endif
#ifdef STEERD_HAVE_SIM
    "  sim record --out DIR [--seed N] [--roads N] [--seconds S|--frames N] [...]\n"
    "                                         simulated drives in the Udacity layout (expert labels)\n"
#endif
#ifdef STEERD_HAVE_SIM_DRIVE
    "  sim drive --config STEERD.yaml|--endpoint EP|--expert [--roads N] [--seconds S] [--video F]\n"
    "                                         closed loop through a real steerd: autonomy, cte, latency\n"
#endif
#ifdef STEERD_HAVE_ZMQ
    "  sub ENDPOINT [--topic T] [--count N] [--timeout S]\n"
    "                                         print steerd's ZeroMQ messages, one per line\n"
#endif
    "\n"
    "Run `steerctl <command> --help` for details. Every command takes --help and --version; exit\n"
    "status: 0 ok, 1 failure, 64 usage error, 66 an input file missing, 78 a bad configuration.\n";

int json_stdout_done(jbuf *j)
{
    if (jb_flush(j) && fflush(stdout) == 0)
        return 0;
    fprintf(stderr, "steerctl: stdout: %s\n", j->overflow && !ferror(stdout) ? "a JSON value does not fit the writer"
                                                                           : strerror(errno));
    return 1;
}

/* The subcommands, in the order of the usage text. */
static const opts_sub commands[] = {
    {"model", cmd_model},
    {"explain", cmd_explain},
    {"bench", cmd_bench},
    {"import", cmd_import},
#ifdef STEERD_HAVE_REPLAY
    {"replay", cmd_replay},
#endif
#ifdef STEERD_HAVE_SIM
    {"sim", cmd_sim},
#endif
#ifdef STEERD_HAVE_ZMQ
    {"sub", cmd_sub},
#endif
    {NULL, NULL},
};

int main(int argc, char **argv)
{
    return opts_dispatch("steerctl", NULL, commands, usage, argc, argv);
}
