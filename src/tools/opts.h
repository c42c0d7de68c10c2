/* opts.h — steerctl's option values: bounded integers, seconds and --backend, each refused with
 * one line naming the option, the bounds and the value. The parsing itself (getopt_long, --help,
 * --version, subcommand tables, exit statuses) is every program's: common/opts.h. */
#ifndef STEERD_TOOLS_OPTS_H
#define STEERD_TOOLS_OPTS_H

#include <stdbool.h>

#include "common/opts.h"
#include "nn/nn.h"

/* An integer option value in [min, max]; prints `steerctl: OPT: expected an integer in [min, max]
 * (got 'VAL')` and returns false when invalid. */
bool parse_int_opt(const char *opt, const char *val, long min, long max, long *out);
/* Seconds in (0, max]; prints `steerctl: <cmd>: OPT: expected seconds in (0, max] (got 'VAL')`
 * (no `<cmd>: ` when cmd is NULL) and returns false when invalid. */
bool parse_seconds_opt(const char *cmd, const char *opt, const char *val, double max, double *out);
/* --backend cpu|cuda|auto; prints `steerctl: --backend: expected cpu, cuda or auto (got 'VAL')` and
 * returns false when invalid. */
bool parse_backend_opt(const char *val, nn_backend *out);
/* The CPU kernel flavour: --isa VAL, or when val is NULL (no --isa) $STEERD_ISA, else the best
 * this CPU runs (never AUTO). Prints `steerctl: --isa neon: this CPU does not support neon (it
 * supports avx2, scalar)` (or `STEERD_ISA ...`, or `... unknown instruction set ...`) and returns
 * EXIT_USAGE (64) for a bad --isa, EXIT_CONFIG (78) for a bad $STEERD_ISA; else 0. */
int isa_opt(const char *val, nn_cpu_isa *out);

#endif
