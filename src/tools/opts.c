/* opts.c — steerctl's option values (opts.h): bounded integers, seconds, --backend. */
#include "tools/opts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

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
    return val ? EXIT_USAGE : EXIT_CONFIG;
}
