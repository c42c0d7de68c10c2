/* opts.c — steerctl's option-parsing glue (opts.h): getopt_long in return-in-order mode with
 * its messages off, the offending argument recovered for a one-line message, bounded numbers. */
#include "tools/opts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/steerctl.h"

void opts_begin(opts_parser *p, int argc, char **argv, const char *shorts, const struct option *longs)
{
    memset(p, 0, sizeof *p);
    p->argc = argc;
    p->argv = argv;
    p->longs = longs;
    /* '-': positionals come back in order (code 1), never permuted; ':': a missing value is ':'
     * and getopt prints nothing. */
    snprintf(p->shorts, sizeof p->shorts, "-:%s", shorts);
    optind = 0; /* 0, not 1: glibc and musl then also forget a half-read `-abc` group */
}

/* The option getopt stopped at: long ones as written, short ones as `-x`. */
static const char *offender(opts_parser *p, int at)
{
    const char *a = at < p->argc ? p->argv[at] : NULL;
    if (a && strncmp(a, "--", 2) == 0)
        return a;
    p->short_name[0] = '-';
    p->short_name[1] = (char)optopt;
    p->short_name[2] = 0;
    return p->short_name;
}

int opts_next(opts_parser *p)
{
    p->arg = NULL;
    if (p->rest) {
        if (p->rest >= p->argc)
            return OPTS_END;
        p->arg = p->argv[p->rest++];
        return OPTS_ARG;
    }
    /* Return-in-order mode never permutes: the argument getopt reads next is argv[optind] (a
     * group of short options keeps optind on itself until its last letter). */
    int at = optind ? optind : 1;
    int c = getopt_long(p->argc, p->argv, p->shorts, p->longs, NULL);
    switch (c) {
    case -1:
        if (optind < p->argc) { /* after `--`: the rest are positionals */
            p->rest = optind;
            return opts_next(p);
        }
        p->rest = p->argc;
        return OPTS_END;
    case 1:
        p->arg = optarg;
        return OPTS_ARG;
    case ':':
        p->arg = offender(p, at);
        return OPTS_MISSING;
    case '?':
        p->arg = offender(p, at);
        /* glibc: optopt is the option's val when a known long option was given a value it does
         * not take, 0 for an unknown or ambiguous long option */
        return optopt && strncmp(p->arg, "--", 2) == 0 ? OPTS_NO_VALUE : OPTS_UNKNOWN;
    default:
        p->arg = optarg;
        return c;
    }
}

bool opts_positional(const opts_parser *p, int code, const char **pos, int n)
{
    for (int i = 0; code == OPTS_ARG && i < n; i++)
        if (!pos[i]) {
            pos[i] = p->arg;
            return true;
        }
    return false;
}

void opts_describe(const opts_parser *p, int code, const char *see, char *out, size_t cap)
{
    const char *a = p->arg ? p->arg : "";
    switch (code) {
    case OPTS_MISSING:
        snprintf(out, cap, "%s: missing value", a);
        break;
    case OPTS_NO_VALUE:
        snprintf(out, cap, "%.*s: takes no value (got '%s')", (int)strcspn(a, "="), a, a);
        break;
    case OPTS_ARG:
        snprintf(out, cap, "unexpected argument '%s' (see steerctl %s --help)", a, see);
        break;
    default:
        snprintf(out, cap, "unknown option '%s' (see steerctl %s --help)", a, see);
        break;
    }
}

int opts_fail(const opts_parser *p, int code, const char *cmd, const char *see)
{
    char line[512];
    opts_describe(p, code, see, line, sizeof line);
    fprintf(stderr, "steerctl: %s: %s\n", cmd, line);
    return EXIT_USAGE;
}

bool parse_int_opt(const char *opt, const char *val, long min, long max, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = val ? strtol(val, &end, 10) : 0;
    if (!val || end == val || *end || errno || v < min || v > max) {
        fprintf(stderr, "steerctl: %s: expected an integer in [%ld, %ld] (got '%s')\n", opt, min, max,
                val ? val : "");
        return false;
    }
    *out = v;
    return true;
}

bool parse_seconds_opt(const char *cmd, const char *opt, const char *val, double max, double *out)
{
    char *end = NULL;
    double d = val ? strtod(val, &end) : 0;
    if (!val || end == val || *end || !(d > 0) || d > max) {
        fprintf(stderr, "steerctl: %s%s%s: expected seconds in (0, %.10g] (got '%s')\n", cmd ? cmd : "",
                cmd ? ": " : "", opt, max, val ? val : "");
        return false;
    }
    *out = d;
    return true;
}

bool parse_backend_opt(const char *val, nn_backend *out)
{
    if (nn_backend_parse(val, out))
        return true;
    fprintf(stderr, "steerctl: --backend: expected cpu, cuda or auto (got '%s')\n", val);
    return false;
}

int isa_opt(const char *val, nn_cpu_isa *out)
{
    nn_err err;
    nn_cpu_isa req = NN_CPU_ISA_AUTO;
    nn_status s = val ? nn_cpu_isa_from_name(val, "--isa", &req, &err) : NN_OK;
    if (!s)
        s = nn_cpu_isa_resolve(req, out, &err); /* AUTO: $STEERD_ISA, else the best */
    if (!s)
        return 0;
    fprintf(stderr, "steerctl: %s\n", err.msg);
    return val ? EXIT_ISA_ARG : EXIT_ISA_ENV;
}
