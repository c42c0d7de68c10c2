/* test_infer_alloc.c — nn_infer_run allocates nothing: every zoo model, batch 1 and 4, 1 and 2
 * threads, with the engine's malloc/calloc/realloc/aligned_alloc/posix_memalign calls counted
 * through the linker's --wrap. Also checks the batch bounds of a run. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "nn/nn.h"

#include "alloc_counter.h"

static const char *models_dir = "models";

static void check_model(const char *path)
{
    nn_err err;
    nn_model *m;
    if (nn_model_load_spec(&m, path, &err))
        fail_msg("%s: %s", path, err.msg);
    nn_model_init_he(m, 7);
    const int batches[] = {1, 4}, threads[] = {1, 2};
    for (int bi = 0; bi < 2; bi++)
        for (int ti = 0; ti < 2; ti++) {
            nn_infer *ctx;
            size_t before_create = allocations;
            if (nn_infer_create(&ctx, m, batches[bi], threads[ti], &err))
                fail_msg("%s: %s", path, err.msg);
            assert_true(allocations > before_create); /* the counter does see the engine's allocations */
            int h, w, c;
            nn_model_input_shape(m, &h, &w, &c);
            float *x = nn_infer_input(ctx);
            for (size_t i = 0; i < (size_t)batches[bi] * (size_t)(h * w * c); i++)
                x[i] = (float)(i % 17) / 17.0f;
            size_t before = allocations;
            for (int r = 0; r < 3; r++)
                if (nn_infer_run(ctx, batches[bi], &err))
                    fail_msg("%s: %s", path, err.msg);
            if (allocations != before)
                fail_msg("%s: batch %d, %d threads: %zu allocations inside nn_infer_run", path, batches[bi],
                         threads[ti], allocations - before);
            nn_infer_free(ctx);
        }
    nn_model_free(m);
}

static void test_zoo_forward_allocates_nothing(void **state)
{
    (void)state;
    DIR *d = opendir(models_dir);
    if (!d)
        fail_msg("cannot open models directory %s", models_dir);
    int checked = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".yaml") != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", models_dir, e->d_name);
        check_model(path);
        checked++;
    }
    closedir(d);
    assert_true(checked >= 10);
}

static void test_batch_bounds(void **state)
{
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/seed-mnist-effnet.yaml", models_dir);
    nn_err err;
    nn_model *m;
    assert_int_equal(nn_model_load_spec(&m, path, &err), NN_OK);
    nn_infer *ctx;
    assert_int_equal(nn_infer_create(&ctx, m, 2, 1, &err), NN_OK);
    assert_int_equal(nn_infer_run(ctx, 3, &err), NN_E_ARG);
    assert_non_null(strstr(err.msg, "batch 3 outside [1, 2]"));
    assert_int_equal(nn_infer_run(ctx, 0, &err), NN_E_ARG);
    nn_infer_free(ctx);
    assert_int_equal(nn_infer_create(&ctx, m, 0, 1, &err), NN_E_ARG);
    assert_int_equal(nn_infer_create(&ctx, m, 1, 0, &err), NN_E_ARG);
    nn_model_free(m);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        models_dir = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zoo_forward_allocates_nothing),
        cmocka_unit_test(test_batch_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
