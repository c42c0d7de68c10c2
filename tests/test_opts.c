/* test_opts.c — steerctl's option-parsing glue (src/tools/opts.h): arguments come back in
 * command-line order (positionals anywhere, `--` ends the options, `=value` and `-k5` forms), the
 * offending argument of an unknown option / missing value / value given to a flag is recovered as
 * written (long ones whole, short ones as `-x`, also inside a group), an ambiguous abbreviation is
 * unknown, a new parser forgets a parse abandoned half-way through a group, the one-line messages,
 * positional slots, the bounds of the number parsers, and --isa / $STEERD_ISA (exit 64 / 78). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tools/opts.h"
#include "tools/steerctl.h"

static const struct option longs[] = {{"out", required_argument, 0, 'o'},   {"kernel", required_argument, 0, 'k'},
                                      {"json", no_argument, 0, 'j'},         {"verbose", no_argument, 0, 'V'},
                                      {"version", no_argument, 0, 'W'},      {"help", no_argument, 0, 'h'},
                                      {0, 0, 0, 0}};

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
    opts_begin(&p, argc, argv, "k:jh", longs);
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
                                             : c == OPTS_MISSING ? "MISSING" : c == OPTS_NO_VALUE ? "NOVALUE" : "?");
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
    const char *novalue[] = {"--json=1", "--help=", NULL};
    expect(novalue, "NOVALUE:--json=1 NOVALUE:--help= END ");
}

static void test_reset_after_abandoned_group(void **state)
{
    (void)state;
    char *argv1[] = {(char *)"cmd", (char *)"-jjj", NULL};
    opts_parser p;
    opts_begin(&p, 2, argv1, "k:jh", longs);
    assert_int_equal(opts_next(&p), 'j'); /* abandoned inside the group */
    char *argv2[] = {(char *)"cmd", (char *)"m.yaml", (char *)"--out", (char *)"o", NULL};
    opts_begin(&p, 4, argv2, "k:jh", longs);
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
    opts_begin(&p, 7, argv, "k:jh", longs);
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
    assert_int_equal(isa_opt("sse9", &isa), EXIT_ISA_ARG);
    assert_int_equal(isa_opt(miss, &isa), 64);
    assert_int_equal(setenv(NN_CPU_ISA_ENV, miss, 1), 0);
    assert_int_equal(isa_opt(NULL, &isa), 78);
    assert_int_equal(isa_opt("scalar", &isa), 0);
    assert_int_equal(setenv(NN_CPU_ISA_ENV, "scalar", 1), 0);
    assert_int_equal(isa_opt(NULL, &isa), 0);
    assert_int_equal(isa, NN_CPU_ISA_SCALAR);
    assert_int_equal(unsetenv(NN_CPU_ISA_ENV), 0);
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
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_isa),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
