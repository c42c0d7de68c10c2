/* steerctl.c — the steerd tool: model inspection, initialisation and inference, the
 * separable-convolution explainer and the CPU benchmark. Dispatches to cmd_*.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
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
    "  import MODEL.onnx|MODEL.h5 --out DIR [--name NAME]\n"
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
    "Run `steerctl <command> --help` for details.\n";

int json_stdout_done(jbuf *j)
{
    if (jb_flush(j) && fflush(stdout) == 0)
        return 0;
    fprintf(stderr, "steerctl: stdout: %s\n", j->overflow && !ferror(stdout) ? "a JSON value does not fit the writer"
                                                                           : strerror(errno));
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(cmd, "model") == 0)
        return cmd_model(argc - 1, argv + 1);
    if (strcmp(cmd, "explain") == 0)
        return cmd_explain(argc - 1, argv + 1);
    if (strcmp(cmd, "bench") == 0)
        return cmd_bench(argc - 1, argv + 1);
    if (strcmp(cmd, "import") == 0)
        return cmd_import(argc - 1, argv + 1);
#ifdef STEERD_HAVE_REPLAY
    if (strcmp(cmd, "replay") == 0)
        return cmd_replay(argc - 1, argv + 1);
#endif
#ifdef STEERD_HAVE_SIM
    if (strcmp(cmd, "sim") == 0)
        return cmd_sim(argc - 1, argv + 1);
#endif
#ifdef STEERD_HAVE_ZMQ
    if (strcmp(cmd, "sub") == 0)
        return cmd_sub(argc - 1, argv + 1);
#endif
    fprintf(stderr, "steerctl: unknown command '%s' (try steerctl --help)\n", cmd);
    return EXIT_USAGE;
}
