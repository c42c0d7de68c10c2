/* test_isa.c — the CPU kernels' instruction-set choice (src/nn/cpu/isa.c): names, what this CPU
 * supports, forced flavours and $STEERD_ISA (unknown or missing ones refused with one line naming
 * the value and what the CPU supports), and whole-model equivalence: the bundled models
 * (effnet-steer, seed-steering-effnet and seed-steering-baseline with their weights) give the
 * scalar flavour's outputs within 1e-4 relative in every other flavour this CPU runs (x86-64:
 * avx2, avx512; AArch64: neon), each context reporting the flavour it runs. argv[1]: models/. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "nn/nn.h"

static const char *models_dir = "models";
static const nn_cpu_isa all_isas[] = {NN_CPU_ISA_SCALAR, NN_CPU_ISA_AVX2, NN_CPU_ISA_AVX512, NN_CPU_ISA_NEON};

/* A flavour this CPU lacks: neon on x86-64, avx2 elsewhere. */
static nn_cpu_isa missing_isa(void)
{
    return nn_cpu_isa_supported(NN_CPU_ISA_NEON) ? NN_CPU_ISA_AVX2 : NN_CPU_ISA_NEON;
}

static void test_names(void **state)
{
    (void)state;
    for (int i = NN_CPU_ISA_AUTO; i <= NN_CPU_ISA_NEON; i++) {
        nn_cpu_isa back;
        assert_true(nn_cpu_isa_parse(nn_cpu_isa_name((nn_cpu_isa)i), &back));
        assert_int_equal(back, i);
    }
    assert_string_equal(nn_cpu_isa_name(NN_CPU_ISA_NEON), "neon");
    assert_string_equal(nn_cpu_isa_name(NN_CPU_ISA_AVX512), "avx512");
    nn_cpu_isa x;
    assert_false(nn_cpu_isa_parse("NEON", &x)); /* names are exact */
    assert_false(nn_cpu_isa_parse("", &x));
    assert_false(nn_cpu_isa_parse(NULL, &x));
    assert_true(nn_cpu_isa_supported(NN_CPU_ISA_SCALAR));
    assert_true(nn_cpu_isa_supported(nn_cpu_isa_best()));
    assert_false(nn_cpu_isa_supported(missing_isa()));
    assert_false(nn_cpu_isa_supported(NN_CPU_ISA_AVX2) && nn_cpu_isa_supported(NN_CPU_ISA_NEON));
#if defined(__aarch64__)
    assert_int_equal(nn_cpu_isa_best(), NN_CPU_ISA_NEON);
#endif
    char list[64];
    nn_cpu_isa_list(list, sizeof list);
    assert_non_null(strstr(list, nn_cpu_isa_name(nn_cpu_isa_best())));
    assert_non_null(strstr(list, "scalar"));
    assert_null(strstr(list, nn_cpu_isa_name(missing_isa())));
}

static void test_forced_and_env(void **state)
{
    (void)state;
    nn_err err;
    nn_cpu_isa got = NN_CPU_ISA_AUTO;
    char want[200], list[64];
    const char *miss = nn_cpu_isa_name(missing_isa());
    assert_int_equal(nn_cpu_isa_from_name("foo", "--isa", &got, &err), NN_E_ARG);
    assert_string_equal(err.msg, "--isa foo: unknown instruction set (expected auto, scalar, avx2, avx512 or neon)");
    assert_int_equal(nn_cpu_isa_from_name(miss, "--isa", &got, &err), NN_E_ARG);
    snprintf(want, sizeof want, "--isa %s: this CPU does not support %s (it supports %s)", miss, miss,
             nn_cpu_isa_list(list, sizeof list));
    assert_string_equal(err.msg, want);
    assert_int_equal(nn_cpu_isa_resolve(missing_isa(), &got, &err), NN_E_ARG);
    assert_non_null(strstr(err.msg, "does not support"));
    assert_int_equal(nn_cpu_isa_from_name("scalar", "--isa", &got, &err), NN_OK);
    assert_int_equal(got, NN_CPU_ISA_SCALAR);

    assert_int_equal(unsetenv(NN_CPU_ISA_ENV), 0);
    assert_int_equal(nn_cpu_isa_resolve(NN_CPU_ISA_AUTO, &got, &err), NN_OK);
    assert_int_equal(got, nn_cpu_isa_best());
    assert_int_equal(setenv(NN_CPU_ISA_ENV, "", 1), 0); /* empty: unset */
    assert_int_equal(nn_cpu_isa_resolve(NN_CPU_ISA_AUTO, &got, &err), NN_OK);
    assert_int_equal(got, nn_cpu_isa_best());
    assert_int_equal(setenv(NN_CPU_ISA_ENV, "scalar", 1), 0);
    assert_int_equal(nn_cpu_isa_resolve(NN_CPU_ISA_AUTO, &got, &err), NN_OK);
    assert_int_equal(got, NN_CPU_ISA_SCALAR);
    assert_int_equal(nn_cpu_isa_resolve(nn_cpu_isa_best(), &got, &err), NN_OK); /* forced beats the variable */
    assert_int_equal(got, nn_cpu_isa_best());
    assert_int_equal(setenv(NN_CPU_ISA_ENV, "bogus", 1), 0);
    assert_int_equal(nn_cpu_isa_resolve(NN_CPU_ISA_AUTO, &got, &err), NN_E_ARG);
    assert_string_equal(err.msg, "STEERD_ISA=bogus: unknown instruction set (expected auto, scalar, avx2, avx512 or neon)");
    assert_int_equal(setenv(NN_CPU_ISA_ENV, miss, 1), 0);
    assert_int_equal(nn_cpu_isa_resolve(NN_CPU_ISA_AUTO, &got, &err), NN_E_ARG);
    snprintf(want, sizeof want, "STEERD_ISA=%s: this CPU does not support %s (it supports %s)", miss, miss, list);
    assert_string_equal(err.msg, want);

    /* a context refuses the same way and creates nothing */
    nn_model *m;
    char spec[512];
    snprintf(spec, sizeof spec, "%s/effnet-steer.yaml", models_dir);
    if (nn_model_load_spec(&m, spec, &err)) fail_msg("%s", err.msg);
    nn_infer *ctx = (nn_infer *)&got;
    nn_infer_opts o = {.max_batch = 1, .threads = 1, .backend = NN_BACKEND_CPU};
    assert_int_equal(nn_infer_create_opts(&ctx, m, &o, &err), NN_E_ARG);
    assert_null(ctx);
    assert_string_equal(err.msg, want);
    assert_int_equal(unsetenv(NN_CPU_ISA_ENV), 0);
    o.isa = missing_isa();
    assert_int_equal(nn_infer_create_opts(&ctx, m, &o, &err), NN_E_ARG);
    assert_null(ctx);
    nn_model_free(m);
}

/* Outputs of `name` (with its weights) for a fixed batch of 3 images under `isa`; 2 threads. */
static float *run_model(const char *name, nn_cpu_isa isa, int *n_out)
{
    char spec[512], weights[512];
    snprintf(spec, sizeof spec, "%s/%s.yaml", models_dir, name);
    snprintf(weights, sizeof weights, "%s/%s.safetensors", models_dir, name);
    nn_err err;
    nn_model *m;
    if (nn_model_load(&m, spec, weights, &err)) fail_msg("%s", err.msg);
    nn_infer *ctx;
    nn_infer_opts o = {.max_batch = 3, .threads = 2, .backend = NN_BACKEND_CPU, .isa = isa};
    if (nn_infer_create_opts(&ctx, m, &o, &err)) fail_msg("%s isa=%s: %s", name, nn_cpu_isa_name(isa), err.msg);
    assert_int_equal(nn_infer_isa(ctx), isa);
    int h, w, c;
    nn_model_input_shape(m, &h, &w, &c);
    const size_t n_in = (size_t)3 * h * w * c;
    float *x = nn_infer_input(ctx);
    for (size_t i = 0; i < n_in; i++) x[i] = (float)((i * 7919u) % 256u) / 127.5f - 1.0f;
    if (nn_infer_run(ctx, 3, &err)) fail_msg("%s isa=%s: %s", name, nn_cpu_isa_name(isa), err.msg);
    *n_out = 3 * nn_infer_output_size(ctx);
    float *y = malloc((size_t)*n_out * sizeof *y);
    assert_non_null(y);
    memcpy(y, nn_infer_output(ctx), (size_t)*n_out * sizeof *y);
    nn_infer_free(ctx);
    nn_model_free(m);
    return y;
}

static void test_models_agree(void **state)
{
    (void)state;
    static const char *const names[] = {"effnet-steer", "seed-steering-effnet", "seed-steering-baseline"};
    int checked = 0;
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        int n, n2;
        float *ref = run_model(names[k], NN_CPU_ISA_SCALAR, &n);
        for (size_t i = 0; i < sizeof all_isas / sizeof all_isas[0]; i++) {
            if (all_isas[i] == NN_CPU_ISA_SCALAR || !nn_cpu_isa_supported(all_isas[i])) continue;
            float *y = run_model(names[k], all_isas[i], &n2);
            assert_int_equal(n, n2);
            for (int j = 0; j < n; j++)
                if (!(fabsf(y[j] - ref[j]) <= 1e-4f * fmaxf(1.0f, fabsf(ref[j]))))
                    fail_msg("%s isa=%s: output %d: %.9g, scalar %.9g", names[k], nn_cpu_isa_name(all_isas[i]), j,
                             (double)y[j], (double)ref[j]);
            free(y);
            checked++;
        }
        free(ref);
    }
    printf("models: %d flavour comparisons against scalar (best here: %s)\n", checked,
           nn_cpu_isa_name(nn_cpu_isa_best()));
}

int main(int argc, char **argv)
{
    if (argc > 1) models_dir = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_forced_and_env),
        cmocka_unit_test(test_models_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
