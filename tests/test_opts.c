/* test_opts.c — the programs' option-parsing glue (src/common/opts.h) and steerctl's option
 * values (src/tools/opts.h): arguments come back in command-line order (positionals anywhere, `--`
 * ends the options, `=value` and `-k5` forms), the offending argument of an unknown option /
 * missing value / value given to a flag is recovered as written (long ones whole, short ones as
 * `-x`, also inside a group), an ambiguous abbreviation is unknown, -h/--help and --version are in
 * every parser, a new parser forgets a parse abandoned half-way through a group, the one-line
 * messages name the program and command, positional slots, subcommand tables, the exit statuses
 * (64 usage, 66 missing input), the bounds of the number parsers, and --isa / $STEERD_ISA (exit
 * 64 / 78). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/version.h"
#include "tools/opts.h"
#include "tools/steerctl.h"

static const struct option longs[] = {{"out", required_argument, 0, 'o'}, {"kernel", required_argument, 0, 'k'},
                                      {"json", no_argument, 0, 'j'},       {"verbose", no_argument, 0, 'V'},
                                      {"versus", no_argument, 0, 'W'},     {0, 0, 0, 0}};

/* Runs a parser over cmd + args (NULL-terminated) and writes "code:arg " per result into out. */
static void trace(const char **args, char *out, size_t cap)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)"cmd";
    while (*args && argc < 31)
        argv[argc++] = (char *)*args++;
    argv[argc] = NULL;
    opts_parser p;
    opts_start(&p, "steerctl", "cmd", argc, argv, "k:j", longs);
    size_t used = 0;
    out[0] = 0;
    for (int i = 0; i < 40; i++) {
        int c = opts_next(&p);
        char code[16];
        if (c >= 0)
            snprintf(code, sizeof code, "%c", c);
        else
            snprintf(code, sizeof code, "%s",
                     c == OPTS_END ? "END" : c == OPTS_ARG ? "ARG" : c == OPTS_UNKNOWN ? "UNKNOWN"
                                             : c == OPTS_MISSING ? "MISSING" : c == OPTS_NO_VALUE ? "NOVALUE"
                                             : c == OPTS_VERSION ? "VERSION" : "?");
        used += (size_t)snprintf(out + used, cap - used, "%s%s%s ", code, p.arg ? ":" : "", p.arg ? p.arg : "");
        if (c == OPTS_END)
            break;
    }
}

static void expect(const char **args, const char *want)
{
    char got[1024];
    trace(args, got, sizeof got);
    if (strcmp(got, want) != 0)
        fail_msg("args starting '%s': got \"%s\", want \"%s\"", args[0] ? args[0] : "", got, want);
}

static void test_order_and_forms(void **state)
{
    (void)state;
    const char *a[] = {"a", "--out", "x", "-k5", "b", "--kernel=3", "-", "-jk", "7", "--", "--json", "-k", NULL};
    expect(a, "ARG:a o:x k:5 ARG:b k:3 ARG:- j k:7 ARG:--json ARG:-k END ");
    const char *abbrev[] = {"--ou", "y", "--verb", "--js", NULL}; /* unambiguous abbreviations */
    expect(abbrev, "o:y V j END ");
    const char *dash_value[] = {"--out", "-", "--out", "--json", NULL}; /* a value may start with '-' */
    expect(dash_value, "o:- o:--json END ");
    const char *none[] = {NULL};
    expect(none, "END ");
}

static void test_offenders(void **state)
{
    (void)state;
    const char *unknown[] = {"--bogus=1", "-x", "-jxk", "4", "--ver", "--kernel5", NULL};
    expect(unknown, "UNKNOWN:--bogus=1 UNKNOWN:-x j UNKNOWN:-x k:4 UNKNOWN:--ver UNKNOWN:--kernel5 END ");
    const char *missing_long[] = {"a", "--out", NULL};
    expect(missing_long, "ARG:a MISSING:--out END ");
    const char *missing_short[] = {"-jk", NULL};
    expect(missing_short, "j MISSING:-k END ");
    const char *novalue[] = {"--json=1", "--help=", "--version=2", NULL};
    expect(novalue, "NOVALUE:--json=1 NOVALUE:--help= NOVALUE:--version=2 END ");
    const char *ambiguous[] = {"--vers", "--ve", "--versu", NULL}; /* version, verbose, versus */
    expect(ambiguous, "UNKNOWN:--vers UNKNOWN:--ve W END ");
}

static void test_reset_after_abandoned_group(void **state)
{
    (void)state;
    char *argv1[] = {(char *)"cmd", (char *)"-jjj", NULL};
    opts_parser p;
    opts_start(&p, "steerctl", "cmd", 2, argv1, "k:j", longs);
    assert_int_equal(opts_next(&p), 'j'); /* abandoned inside the group */
    char *argv2[] = {(char *)"cmd", (char *)"m.yaml", (char *)"--out", (char *)"o", NULL};
    opts_start(&p, "steerctl", "cmd", 4, argv2, "k:j", longs);
    assert_int_equal(opts_next(&p), OPTS_ARG);
    assert_string_equal(p.arg, "m.yaml");
    assert_int_equal(opts_next(&p), 'o');
    assert_string_equal(p.arg, "o");
    assert_int_equal(opts_next(&p), OPTS_END);
    assert_int_equal(opts_next(&p), OPTS_END); /* and stays there */
}

static void test_messages_and_slots(void **state)
{
    (void)state;
    char *argv[] = {(char *)"cmd", (char *)"--bogus", (char *)"--json=yes", (char *)"a", (char *)"b", (char *)"c",
                    (char *)"--out", NULL};
    opts_parser p;
    opts_start(&p, "steerctl", "sim", 7, argv, "k:j", longs);
    char line[256];
    assert_int_equal(opts_next(&p), OPTS_UNKNOWN);
    opts_describe(&p, OPTS_UNKNOWN, "sim", line, sizeof line);
    assert_string_equal(line, "unknown option '--bogus' (see steerctl sim --help)");
    assert_int_equal(opts_next(&p), OPTS_NO_VALUE);
    opts_describe(&p, OPTS_NO_VALUE, "sim", line, sizeof line);
    assert_string_equal(line, "--json: takes no value (got '--json=yes')");
    const char *pos[2] = {NULL, NULL};
    assert_true(opts_positional(&p, opts_next(&p), pos, 2));
    assert_true(opts_positional(&p, opts_next(&p), pos, 2));
    assert_string_equal(pos[0], "a");
    assert_string_equal(pos[1], "b");
    int c = opts_next(&p);
    assert_false(opts_positional(&p, c, pos, 2)); /* a third one: not expected */
    opts_describe(&p, c, "model run", line, sizeof line);
    assert_string_equal(line, "unexpected argument 'c' (see steerctl model run --help)");
    c = opts_next(&p);
    assert_false(opts_positional(&p, c, pos, 2)); /* not a positional at all */
    opts_describe(&p, c, "sim", line, sizeof line);
    assert_string_equal(line, "--out: missing value");
}

/* --isa / $STEERD_ISA: 0 and the flavour, 64 for a bad --isa (unknown, or one this CPU lacks),
 * 78 for a bad $STEERD_ISA when --isa is absent; --isa beats the variable. */
static void test_isa(void **state)
{
    (void)state;
    const char *miss = nn_cpu_isa_supported(NN_CPU_ISA_NEON) ? "avx2" : "neon";
    nn_cpu_isa isa = NN_CPU_ISA_AUTO;
    assert_int_equal(unsetenv(NN_CPU_ISA_ENV), 0);
    assert_int_equal(isa_opt(NULL, &isa), 0);
    assert_int_equal(isa, nn_cpu_isa_best());
    assert_int_equal(isa_opt("scalar", &isa), 0);
    assert_int_equal(isa, NN_CPU_ISA_SCALAR);
    assert_int_equal(isa_opt("auto", &isa), 0);
    assert_int_equal(isa, nn_cpu_isa_best());
    assert_int_equal(isa_opt("sse9", &isa), EXIT_USAGE);
    assert_int_equal(isa_opt(miss, &isa), 64);
    assert_int_equal(setenv(NN_CPU_ISA_ENV, miss, 1), 0);
    assert_int_equal(isa_opt(NULL, &isa), 78);
    assert_int_equal(isa_opt("scalar", &isa), 0);
    assert_int_equal(setenv(NN_CPU_ISA_ENV, "scalar", 1), 0);
    assert_int_equal(isa_opt(NULL, &isa), 0);
    assert_int_equal(isa, NN_CPU_ISA_SCALAR);
    assert_int_equal(unsetenv(NN_CPU_ISA_ENV), 0);
}

/* What a call printed: stdout and stderr go to temporary files while fn runs. */
typedef struct {
    char out[2048], err[2048];
} printed;

static int capture(int (*fn)(void *), void *arg, printed *pr)
{
    FILE *t[2] = {tmpfile(), tmpfile()};
    assert_non_null(t[0]);
    assert_non_null(t[1]);
    fflush(stdout);
    fflush(stderr);
    int saved[2] = {dup(1), dup(2)};
    dup2(fileno(t[0]), 1);
    dup2(fileno(t[1]), 2);
    int rc = fn(arg);
    fflush(stdout);
    fflush(stderr);
    dup2(saved[0], 1);
    dup2(saved[1], 2);
    char *bufs[2] = {pr->out, pr->err};
    for (int i = 0; i < 2; i++) {
        close(saved[i]);
        rewind(t[i]);
        size_t n = fread(bufs[i], 1, sizeof pr->out - 1, t[i]);
        bufs[i][n] = 0;
        fclose(t[i]);
    }
    return rc;
}

/* One parse of argv (NULL-terminated, argv[0] the command) through the usual switch: 'j' taken,
 * everything else to opts_default. */
static int parse_default(void *arg)
{
    char **argv = arg;
    int argc = 0;
    while (argv[argc])
        argc++;
    opts_parser p;
    opts_start(&p, "steerctl", "model info", argc, argv, "k:j", longs);
    for (int c; (c = opts_next(&p)) != OPTS_END;)
        if (c != 'j')
            return opts_default(&p, c, "usage: steerctl model info MODEL.yaml\n");
    return 100;
}

static int run_default(printed *pr, const char *a, const char *b)
{
    char *argv[] = {(char *)"info", (char *)a, (char *)b, NULL};
    return capture(parse_default, argv, pr);
}

static void test_help_version_and_statuses(void **state)
{
    (void)state;
    printed pr;
    const char *help[] = {"--help", "-h", "--he", "-jh", NULL}; /* --he: the one option it abbreviates */
    for (int i = 0; help[i]; i++) {
        assert_int_equal(run_default(&pr, help[i], NULL), 0);
        assert_string_equal(pr.out, "usage: steerctl model info MODEL.yaml\n");
        assert_string_equal(pr.err, "");
    }
    assert_int_equal(run_default(&pr, "-j", "--version"), 0);
    assert_string_equal(pr.out, "steerctl " STEERD_VERSION "\n");
    assert_string_equal(pr.err, "");
    assert_int_equal(run_default(&pr, "--bogus=1", NULL), EX_USAGE);
    assert_int_equal(EX_USAGE, 64);
    assert_string_equal(pr.out, "");
    assert_string_equal(pr.err, "steerctl: model info: unknown option '--bogus=1' (see steerctl model info --help)\n");
    assert_int_equal(run_default(&pr, "--out", NULL), 64);
    assert_string_equal(pr.err, "steerctl: model info: --out: missing value\n");
    assert_int_equal(run_default(&pr, "--version=x", NULL), 64);
    assert_string_equal(pr.err, "steerctl: model info: --version: takes no value (got '--version=x')\n");
    assert_int_equal(run_default(&pr, "stray", NULL), 64); /* no positional slot in parse_default */
    assert_string_equal(pr.err, "steerctl: model info: unexpected argument 'stray' (see steerctl model info --help)\n");
    assert_int_equal(run_default(&pr, "-j", NULL), 100);
}

/* `--x=v` and `--x v` give the same value; so do `-kV` and `-k V`. */
static void test_value_forms_equal(void **state)
{
    (void)state;
    const char *forms[][3] = {{"--kernel=3", NULL}, {"--kernel", "3", NULL}, {"-k3", NULL}, {"-k", "3", NULL},
                              {"--ker=3", NULL},    {"--ker", "3", NULL}};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++)
        expect(forms[i], "k:3 END ");
}

static int sub_a(int argc, char **argv)
{
    return argc == 2 && strcmp(argv[0], "a") == 0 && strcmp(argv[1], "x") == 0 ? 7 : 8;
}

static int dispatch(void *arg)
{
    static const opts_sub subs[] = {{"a", sub_a}, {NULL, NULL}};
    char **argv = arg;
    int argc = 0;
    while (argv[argc])
        argc++;
    return opts_dispatch("steerctl", "grp", subs, "usage: steerctl grp a\n", argc, argv);
}

static void test_dispatch(void **state)
{
    (void)state;
    printed pr;
    char *run[] = {(char *)"grp", (char *)"a", (char *)"x", NULL};
    assert_int_equal(capture(dispatch, run, &pr), 7);
    char *none[] = {(char *)"grp", NULL};
    assert_int_equal(capture(dispatch, none, &pr), 64);
    assert_string_equal(pr.out, "");
    assert_string_equal(pr.err, "usage: steerctl grp a\n");
    const char *helps[] = {"--help", "-h", "help"};
    for (int i = 0; i < 3; i++) {
        char *h[] = {(char *)"grp", (char *)helps[i], NULL};
        assert_int_equal(capture(dispatch, h, &pr), 0);
        assert_string_equal(pr.out, "usage: steerctl grp a\n");
    }
    char *ver[] = {(char *)"grp", (char *)"--version", NULL};
    assert_int_equal(capture(dispatch, ver, &pr), 0);
    assert_string_equal(pr.out, "steerctl " STEERD_VERSION "\n");
    char *bad[] = {(char *)"grp", (char *)"b", NULL};
    assert_int_equal(capture(dispatch, bad, &pr), 64);
    assert_string_equal(pr.err, "steerctl: grp: unknown command 'b' (see steerctl grp --help)\n");
    char *opt[] = {(char *)"grp", (char *)"--a", NULL};
    assert_int_equal(capture(dispatch, opt, &pr), 64);
    assert_string_equal(pr.err, "steerctl: grp: unknown option '--a' (see steerctl grp --help)\n");
}

static int input(void *arg)
{
    char *argv[] = {(char *)"steer-train", NULL};
    opts_parser p;
    opts_start(&p, "steer-train", NULL, 1, argv, "", NULL);
    return opts_input(&p, NULL, arg);
}

static void test_missing_input(void **state)
{
    (void)state;
    printed pr;
    assert_int_equal(capture(input, (void *)"/nonexistent/c.yaml", &pr), 66);
    assert_int_equal(EX_NOINPUT, 66);
    assert_string_equal(pr.err, "steer-train: /nonexistent/c.yaml: No such file or directory\n");
    assert_int_equal(capture(input, (void *)"/", &pr), 0); /* readable (what it is, the reader says) */
    assert_int_equal(capture(input, NULL, &pr), 0);
}

/* A table of OPTS_MAX_LONGS options: every one is found, and help and version still are. */
static void test_long_table_capacity(void **state)
{
    (void)state;
    static char names[OPTS_MAX_LONGS][8];
    struct option many[OPTS_MAX_LONGS + 1];
    for (int i = 0; i < OPTS_MAX_LONGS; i++) {
        snprintf(names[i], sizeof names[i], "o%d", i);
        many[i] = (struct option){names[i], no_argument, NULL, 1000 + i};
    }
    many[OPTS_MAX_LONGS] = (struct option){0, 0, 0, 0};
    char last[16];
    snprintf(last, sizeof last, "--o%d", OPTS_MAX_LONGS - 1);
    char *argv[] = {(char *)"cmd", (char *)"--o0", last, (char *)"--help", (char *)"--version", NULL};
    opts_parser p;
    opts_start(&p, "steerctl", "cmd", 5, argv, "", many);
    assert_int_equal(opts_next(&p), 1000);
    assert_int_equal(opts_next(&p), 1000 + OPTS_MAX_LONGS - 1);
    assert_int_equal(opts_next(&p), OPTS_HELP);
    assert_int_equal(opts_next(&p), OPTS_VERSION);
    assert_int_equal(opts_next(&p), OPTS_END);
}

static void test_numbers(void **state)
{
    (void)state;
    long v = 0;
    assert_true(parse_int_opt("--n", "42", 1, 100, &v));
    assert_int_equal(v, 42);
    const char *bad_int[] = {"0", "101", "4x", "", "1e2", "99999999999999999999", NULL};
    for (int i = 0; bad_int[i]; i++)
        if (parse_int_opt("--n", bad_int[i], 1, 100, &v))
            fail_msg("parse_int_opt accepted '%s'", bad_int[i]);
    assert_false(parse_int_opt("--n", NULL, 1, 100, &v));
    double d = 0;
    assert_true(parse_seconds_opt("sim drive", "--timeout", "2.5", 3600, &d));
    assert_true(d == 2.5);
    const char *bad_s[] = {"0", "-1", "3600.5", "nan", "1s", "", NULL};
    for (int i = 0; bad_s[i]; i++)
        if (parse_seconds_opt(NULL, "--timeout", bad_s[i], 3600, &d))
            fail_msg("parse_seconds_opt accepted '%s'", bad_s[i]);
    nn_backend b = NN_BACKEND_CUDA;
    assert_true(parse_backend_opt("cpu", &b));
    assert_int_equal(b, NN_BACKEND_CPU);
    assert_false(parse_backend_opt("gpu", &b));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_forms),
        cmocka_unit_test(test_offenders),
        cmocka_unit_test(test_reset_after_abandoned_group),
        cmocka_unit_test(test_messages_and_slots),
        cmocka_unit_test(test_help_version_and_statuses),
        cmocka_unit_test(test_value_forms_equal),
        cmocka_unit_test(test_dispatch),
        cmocka_unit_test(test_missing_input),
        cmocka_unit_test(test_long_table_capacity),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_isa),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
