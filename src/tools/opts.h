/* opts.h — the option-parsing glue of every steerctl subcommand: getopt_long with its own
 * messages off and arguments returned in command-line order (so a positional argument may stand
 * anywhere, and `--` ends the options), the offending argument described in one line, and
 * number parsing with bounds. One parser per subcommand call; opts_begin resets getopt's state,
 * so a dispatcher may run several parsers over the same argv. */
#ifndef STEERD_TOOLS_OPTS_H
#define STEERD_TOOLS_OPTS_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

#include "nn/nn.h"

/* What opts_next returns besides an option's `val` (negative: every val >= 0 is the caller's). */
enum {
    OPTS_END = -1,      /* no more arguments */
    OPTS_ARG = -2,      /* a positional argument: p->arg */
    OPTS_UNKNOWN = -3,  /* an option no table names (or an ambiguous abbreviation): p->arg as written */
    OPTS_MISSING = -4,  /* an option that takes a value came last: p->arg is its name (`--out`, `-k`) */
    OPTS_NO_VALUE = -5, /* `--flag=value` for an option without a value: p->arg as written */
};

typedef struct {
    int argc;
    char **argv;
    const struct option *longs;
    char shorts[64];   /* "-:" + the caller's short options */
    const char *arg;   /* after opts_next: the option's value, the positional or the offending argument */
    char short_name[3]; /* "-x" for an offending short option */
    int rest;          /* after `--`: index of the next positional; 0 before */
} opts_parser;

/* argv[0] is the subcommand's name (it is skipped); shorts as getopt's ("o:" or ""); longs ends
 * with a zero row. */
void opts_begin(opts_parser *p, int argc, char **argv, const char *shorts, const struct option *longs);
/* The next argument: an option's val (its value in p->arg when it takes one) or an OPTS_* code. */
int opts_next(opts_parser *p);
/* For OPTS_ARG: stores p->arg in the first NULL of pos[0..n) and returns true; false for any other
 * code or when every slot is taken (an argument not expected: hand that to opts_fail). */
bool opts_positional(const opts_parser *p, int code, const char **pos, int n);
/* One line (no newline) saying what is wrong with the argument of an OPTS_UNKNOWN, OPTS_MISSING,
 * OPTS_NO_VALUE or (an argument not expected) OPTS_ARG result; `see` names the help to read
 * (`sim` -> "(see steerctl sim --help)"). */
void opts_describe(const opts_parser *p, int code, const char *see, char *out, size_t cap);
/* Prints `steerctl: <cmd>: <opts_describe>` on stderr; returns EXIT_USAGE. */
int opts_fail(const opts_parser *p, int code, const char *cmd, const char *see);

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
 * EXIT_ISA_ARG (64) for a bad --isa, EXIT_ISA_ENV (78) for a bad $STEERD_ISA; else 0. */
int isa_opt(const char *val, nn_cpu_isa *out);

#endif
