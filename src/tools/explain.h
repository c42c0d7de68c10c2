/* explain.h — the arithmetic behind `steerctl explain`: weights and multiply-accumulates of a
 * standard KxK convolution against three cheaper structures that produce N channels from the
 * same HxWxC input (spatially separable, depthwise separable, EffNet block). Pure computation:
 * nothing here prints; cmd_explain.c formats the results. Counts are weights only (no biases,
 * no batch norm) and MACs for one image. */
#ifndef STEERD_TOOLS_EXPLAIN_H
#define STEERD_TOOLS_EXPLAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits on the configuration (inclusive). */
#define EXPLAIN_MAX_SIDE 16384    /* input height / width */
#define EXPLAIN_MAX_CHANNELS 65536 /* input channels C and filters N */
#define EXPLAIN_MAX_KERNEL 255

typedef enum { EXPLAIN_PAD_VALID = 0, EXPLAIN_PAD_SAME } explain_pad;

typedef struct {
    int h, w, c;      /* input height, width, channels */
    int k;            /* kernel size K: the standard convolution is K x K, stride 1 */
    int n;            /* output channels (filters) N */
    explain_pad pad;  /* padding of the standard, spatial and depthwise convolutions */
} explain_config;

typedef enum {
    EXPLAIN_STANDARD = 0, /* K x K conv C -> N */
    EXPLAIN_SPATIAL,      /* 1 x K conv C -> C, then K x 1 conv C -> N */
    EXPLAIN_DEPTHWISE,    /* K x K depthwise conv on C, then 1 x 1 conv C -> N */
    EXPLAIN_EFFNET,       /* 1x1 conv C -> M=N/2, dw 1x3, max-pool 2x1, dw 3x1, 2x1 conv M -> N stride (1,2) */
    EXPLAIN_N_METHODS
} explain_method;

#define EXPLAIN_MAX_STEPS 5
#define EXPLAIN_TEXT 192

/* One layer of a method. Formulas read "<symbols> = <numbers> = <value>". */
typedef struct {
    char what[48];                     /* e.g. "1x5 conv 3->3", "max-pool 2x1 stride 2x1" */
    int in_h, in_w, in_c;
    int out_h, out_w, out_c;
    uint64_t params, macs;
    char params_formula[EXPLAIN_TEXT]; /* empty for a layer without weights */
    char macs_formula[EXPLAIN_TEXT];   /* empty for a layer without MACs */
} explain_step;

typedef struct {
    explain_method method;
    const char *name;        /* "standard conv", ... (static) */
    char definition[EXPLAIN_TEXT];
    bool applicable;         /* false: not_applicable says why; counts are 0 */
    char not_applicable[EXPLAIN_TEXT];
    int out_h, out_w, out_c;
    uint64_t params, macs;
    double params_ratio, macs_ratio; /* to the standard convolution */
    int n_steps;
    explain_step steps[EXPLAIN_MAX_STEPS];
    char params_formula[2 * EXPLAIN_TEXT]; /* the whole method */
    char macs_formula[2 * EXPLAIN_TEXT];
} explain_result;

/* The default configuration: 12x12x3 input, 5x5 kernel, 256 filters, valid padding. */
void explain_config_default(explain_config *cfg);

/* Checks cfg against the limits (and K <= H, W for valid padding). 0, or -1 with a one-line
 * message in err. */
int explain_config_check(const explain_config *cfg, char *err, size_t err_len);

/* Fills res[0..EXPLAIN_N_METHODS-1] (indexed by explain_method). 0, or -1 with a one-line
 * message in err when the configuration is invalid or a count does not fit 64 bits. */
int explain_compute(const explain_config *cfg, explain_result res[EXPLAIN_N_METHODS], char *err,
                    size_t err_len);

typedef enum { EXPLAIN_ARGS_RUN = 0, EXPLAIN_ARGS_HELP, EXPLAIN_ARGS_VERSION, EXPLAIN_ARGS_ERROR } explain_args;

/* Parses `explain [--input HxWxC] [--kernel K] [--filters N] [--padding valid|same] [--help] [--version]`
 * (argv[0] is the subcommand name; getopt_long through common/opts.h: `--opt value`, `--opt=value`,
 * short -i -k -f -p -h, `-k5`).
 * Starts from the default configuration. On EXPLAIN_ARGS_ERROR err holds one line. */
explain_args explain_parse_args(int argc, char **argv, explain_config *cfg, char *err, size_t err_len);

const char *explain_pad_name(explain_pad pad);

#endif
