/* opts.c — the command-line conventions of the three programs (opts.h): getopt_long in
 * return-in-order mode with its messages off, -h/--help and --version in every parser, the
 * offending argument recovered for a one-line message, subcommand tables, sysexits statuses. */
#include "common/opts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* STEERD_VERSION: common/version.h, made by src/common/meson.build in the build folder; a build
 * without meson (tests/fuzz/run.sh compiles every src/common source) has none. */
#if defined(__has_include)
#if __has_include("common/version.h")
#include "common/version.h"
#endif
#endif
#ifndef STEERD_VERSION
#define STEERD_VERSION "unknown"
#endif

#define VERSION_VAL 0x7ff1 /* getopt's val of the added --version (never a caller's) */

void opts_start(opts_parser *p, const char *prog, const char *cmd, int argc, char **argv, const char *shorts,
                const struct option *longs)
{
    memset(p, 0, sizeof *p);
    p->argc = argc;
    p->argv = argv;
    p->prog = prog;
    p->cmd = cmd;
    int n = 0;
    for (; longs && longs[n].name && n < OPTS_MAX_LONGS; n++)
        p->longs[n] = longs[n];
    p->longs[n++] = (struct option){"help", no_argument, NULL, OPTS_HELP};
    p->longs[n++] = (struct option){"version", no_argument, NULL, VERSION_VAL};
    /* '-': positionals come back in order (code 1), never permuted; ':': a missing value is ':'
     * and getopt prints nothing. */
    snprintf(p->shorts, sizeof p->shorts, "-:h%s", shorts);
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
    case VERSION_VAL:
        return OPTS_VERSION;
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
    char help[160];
    snprintf(help, sizeof help, "(see %s%s%s --help)", p->prog, see ? " " : "", see ? see : "");
    switch (code) {
    case OPTS_MISSING:
        snprintf(out, cap, "%s: missing value", a);
        break;
    case OPTS_NO_VALUE:
        snprintf(out, cap, "%.*s: takes no value (got '%s')", (int)strcspn(a, "="), a, a);
        break;
    case OPTS_ARG:
        snprintf(out, cap, "unexpected argument '%s' %s", a, help);
        break;
    default:
        snprintf(out, cap, "unknown option '%s' %s", a, help);
        break;
    }
}

/* `<prog>: ` or `<prog>: <cmd>: ` */
static void prefix(const char *prog, const char *cmd)
{
    fprintf(stderr, "%s: %s%s", prog, cmd ? cmd : "", cmd ? ": " : "");
}

int opts_fail(const opts_parser *p, int code, const char *cmd, const char *see)
{
    char line[512];
    opts_describe(p, code, see ? see : p->cmd, line, sizeof line);
    prefix(p->prog, cmd ? cmd : p->cmd);
    fprintf(stderr, "%s\n", line);
    return EXIT_USAGE;
}

int opts_version(const char *prog)
{
    printf("%s %s\n", prog, STEERD_VERSION);
    return 0;
}

int opts_default(const opts_parser *p, int code, const char *help)
{
    if (code == OPTS_HELP)
        return fputs(help, stdout), 0;
    if (code == OPTS_VERSION)
        return opts_version(p->prog);
    return opts_fail(p, code, NULL, NULL);
}

int opts_usage(const opts_parser *p, const char *what)
{
    prefix(p->prog, p->cmd);
    fprintf(stderr, "%s\n", what);
    return EXIT_USAGE;
}

int opts_input(const opts_parser *p, const char *opt, const char *path)
{
    if (!path || access(path, R_OK) == 0)
        return 0;
    int e = errno;
    prefix(p->prog, p->cmd);
    fprintf(stderr, "%s%s%s: %s\n", opt ? opt : "", opt ? ": " : "", path, strerror(e));
    return EXIT_NOINPUT;
}

bool opts_is_help(const char *a)
{
    return !strcmp(a, "-h") || !strcmp(a, "--help") || !strcmp(a, "help");
}

int opts_dispatch(const char *prog, const char *group, const opts_sub *subs, const char *help, int argc,
                  char **argv)
{
    if (argc < 2)
        return fputs(help, stderr), EXIT_USAGE;
    const char *a = argv[1];
    if (opts_is_help(a))
        return fputs(help, stdout), 0;
    if (!strcmp(a, "--version"))
        return opts_version(prog);
    for (const opts_sub *s = subs; s->name && a[0] != '-'; s++)
        if (!strcmp(a, s->name))
            return s->run(argc - 1, argv + 1);
    prefix(prog, group);
    fprintf(stderr, "unknown %s '%s' (see %s%s%s --help)\n", a[0] == '-' ? "option" : "command", a, prog,
            group ? " " : "", group ? group : "");
    return EXIT_USAGE;
}
