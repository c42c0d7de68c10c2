/* opts.h — the command-line conventions of steerd, steer-train and every steerctl subcommand:
 * getopt_long with its own messages off and arguments returned in command-line order (so a
 * positional argument may stand anywhere, `--` ends the options, `--opt=value` and `--opt value`
 * are the same), `-h`/`--help` and `--version` added to every parser, the offending argument
 * described in one line, subcommand tables, and exit statuses from sysexits.h: 0 ok, 1 runtime
 * failure, EX_USAGE (64) a bad command line, EX_NOINPUT (66) an input file named on the command
 * line that does not exist or cannot be read, EX_CONFIG (78) a bad configuration. One parser per
 * (sub)command call; opts_start resets getopt's state, so a dispatcher may run several parsers
 * over the same argv. */
#ifndef STEERD_COMMON_OPTS_H
#define STEERD_COMMON_OPTS_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sysexits.h>

#define EXIT_USAGE EX_USAGE     /* 64 */
#define EXIT_NOINPUT EX_NOINPUT /* 66 */
#define EXIT_CONFIG EX_CONFIG   /* 78 */

/* What opts_next returns besides an option's `val` (negative: every val >= 0 is the caller's,
 * except 'h', which is -h/--help in every parser). */
enum {
    OPTS_END = -1,      /* no more arguments */
    OPTS_ARG = -2,      /* a positional argument: p->arg */
    OPTS_UNKNOWN = -3,  /* an option no table names (or an ambiguous abbreviation): p->arg as written */
    OPTS_MISSING = -4,  /* an option that takes a value came last: p->arg is its name (`--out`, `-k`) */
    OPTS_NO_VALUE = -5, /* `--flag=value` for an option without a value: p->arg as written */
    OPTS_VERSION = -6,  /* --version */
    OPTS_HELP = 'h',    /* -h or --help */
};

#define OPTS_MAX_LONGS 48 /* the caller's long options, at most (help and version are added) */

typedef struct {
    int argc;
    char **argv;
    const char *prog;  /* "steerctl": the first word of every message */
    const char *cmd;   /* "model info", or NULL for the program itself */
    struct option longs[OPTS_MAX_LONGS + 3]; /* the caller's, help, version, the zero row */
    char shorts[64];   /* "-:h" + the caller's short options */
    const char *arg;   /* after opts_next: the option's value, the positional or the offending argument */
    char short_name[3]; /* "-x" for an offending short option */
    int rest;          /* after `--`: index of the next positional; 0 before */
} opts_parser;

/* argv[0] is the (sub)command's name (it is skipped); shorts as getopt's ("o:" or ""); longs ends
 * with a zero row and holds at most OPTS_MAX_LONGS rows (rows past that are ignored).
 * prog and cmd name the command in messages and must outlive the parser. */
void opts_start(opts_parser *p, const char *prog, const char *cmd, int argc, char **argv, const char *shorts,
                const struct option *longs);
/* The next argument: an option's val (its value in p->arg when it takes one) or an OPTS_* code. */
int opts_next(opts_parser *p);
/* For OPTS_ARG: stores p->arg in the first NULL of pos[0..n) and returns true; false for any other
 * code or when every slot is taken (an argument not expected: hand that to opts_default). */
bool opts_positional(const opts_parser *p, int code, const char **pos, int n);
/* One line (no newline) saying what is wrong with the argument of an OPTS_UNKNOWN, OPTS_MISSING,
 * OPTS_NO_VALUE or (an argument not expected) OPTS_ARG result; `see` names the help to read
 * (`sim` -> "(see steerctl sim --help)"; NULL: the program's own). */
void opts_describe(const opts_parser *p, int code, const char *see, char *out, size_t cap);
/* Prints `<prog>: <cmd>: <opts_describe>` on stderr (cmd and see NULL: the parser's cmd); returns
 * EXIT_USAGE. */
int opts_fail(const opts_parser *p, int code, const char *cmd, const char *see);
/* The last branch of every option switch: OPTS_HELP prints help on stdout and returns 0,
 * OPTS_VERSION prints `<prog> <version>` and returns 0, anything else is opts_fail's (64). */
int opts_default(const opts_parser *p, int code, const char *help);
/* `<prog> <version>` on stdout (the project's version, from meson); returns 0. */
int opts_version(const char *prog);
/* A usage error in the parser's words: `<prog>: <cmd>: <what>` on stderr; returns EXIT_USAGE. */
int opts_usage(const opts_parser *p, const char *what);

/* 0 when the input file path can be read; else `<prog>: <cmd>: [OPT: ]PATH: <why>` on stderr and
 * EXIT_NOINPUT (a path that does not exist, or that this user may not read). opt names the option
 * that gave the path (NULL for a positional); NULL paths pass. */
int opts_input(const opts_parser *p, const char *opt, const char *path);

/* -h, --help or help: the words that ask a dispatcher for its help. */
bool opts_is_help(const char *arg);

/* A table of subcommands, ended by a zero row: argv[0] of run is the subcommand's name. */
typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
} opts_sub;
/* Runs the subcommand argv[1] names (prog "steerctl", group "model"; NULL at the top): none ->
 * help on stderr, EXIT_USAGE; -h/--help/help -> help on stdout, 0; --version -> 0; another
 * option or an unknown name -> one line naming it, EXIT_USAGE. */
int opts_dispatch(const char *prog, const char *group, const opts_sub *subs, const char *help, int argc,
                  char **argv);

#endif
