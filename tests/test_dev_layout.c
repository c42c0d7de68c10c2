/* test_dev_layout.c — the CUDA backend's host-side arithmetic on the CPU (src/nn/dev_layout.h):
 * aligned device offsets of every zoo model's parameter tensors (training layout and the folded
 * inference plan's), pack/unpack round trips, activation offsets of the plan on 256 bytes, the
 * cuDNN algorithm choice (fallthrough, float32 only, workspace cap, pinned list) and the
 * convolution forward route. Argument: the models directory. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nn/dev_layout.h"
#include "nn/nn.h"
#include "nn/plan.h"

static const char *models_dir = "models";

static void test_align(void **state)
{
    (void)state;
    assert_int_equal(nn_dev_align(0), 0);
    assert_int_equal(nn_dev_align(1), 256);
    assert_int_equal(nn_dev_align(256), 256);
    assert_int_equal(nn_dev_align(257), 512);
    assert_true(nn_dev_aligned((void *)(uintptr_t)4096));
    assert_false(nn_dev_aligned((void *)(uintptr_t)4100));
    assert_int_equal(NN_PLAN_ALIGN_FLOATS * sizeof(float) % NN_DEV_ALIGN, 0);
}

static void test_build_map_pack(void **state)
{
    (void)state;
    /* A 25-float conv weight at 0 (the case the review found: the next tensor 100 bytes in),
     * its 3-float bias, a tensor named twice, an empty one, a gap, and a 70-float tensor. */
    const size_t off[] = {28, 0, 25, 25, 40, 31};
    const size_t cnt[] = {3, 25, 3, 3, 70, 0};
    nn_dev_params d;
    nn_err err = {0};
    assert_int_equal(nn_dev_params_build(&d, off, cnt, 6, 110, &err), NN_OK);
    assert_int_equal(d.n, 4);
    const size_t want_dev[] = {0, 64, 128, 192};
    for (int i = 0; i < d.n; i++) {
        assert_int_equal(d.t[i].dev_off, want_dev[i]);
        assert_int_equal(d.t[i].dev_off * sizeof(float) % NN_DEV_ALIGN, 0);
    }
    assert_int_equal(d.dev_floats, 192 + 128);
    assert_int_equal(nn_dev_params_map(&d, 0), 0);
    assert_int_equal(nn_dev_params_map(&d, 24), 24);
    assert_int_equal(nn_dev_params_map(&d, 26), 65);
    assert_int_equal(nn_dev_params_map(&d, 109), 192 + 69);
    assert_int_equal(nn_dev_params_map(&d, 35), SIZE_MAX); /* the gap */
    assert_int_equal(nn_dev_params_map(&d, 110), SIZE_MAX);
    float host[110], back[110], dev[320];
    for (int i = 0; i < 110; i++)
        host[i] = (float)i + 0.5f, back[i] = -1.0f;
    nn_dev_params_pack(&d, dev, host);
    assert_true(dev[25] == 0.0f && dev[63] == 0.0f && dev[131] == 0.0f); /* gaps zeroed */
    assert_true(dev[64] == 25.5f && dev[192] == 40.5f);
    nn_dev_params_unpack(&d, back, dev);
    for (int i = 0; i < 110; i++)
        assert_true(back[i] == ((i >= 31 && i < 40) ? -1.0f : host[i]));
    nn_dev_params_free(&d);

    const size_t o2[] = {0, 10}, c2[] = {12, 5};
    assert_int_equal(nn_dev_params_build(&d, o2, c2, 2, 20, &err), NN_E_ARG);
    assert_non_null(strstr(err.msg, "overlap"));
    const size_t o3[] = {18}, c3[] = {5};
    assert_int_equal(nn_dev_params_build(&d, o3, c3, 1, 20, &err), NN_E_ARG);
    assert_non_null(strstr(err.msg, "leaves the block of 20"));
}

/* Every zoo model: the graph's tensors and the inference plan's (folded, created biases) all land
 * on aligned device offsets, each fits nn_layer_param_floats, the plan's buffers are aligned. */
static void check_model(const char *path)
{
    nn_model *m = NULL;
    nn_err err = {0};
    if (nn_model_load_spec(&m, path, &err))
        fail_msg("%s: %s", path, err.msg);
    const nn_graph *g = &m->g;
    for (int i = 1; i < g->n_layers; i++) {
        const nn_layer *l = &g->layers[i];
        for (int k = 0; k < l->n_params; k++)
            if (nn_layer_param_floats(l, k) != nn_layer_param(g, l, k)->count)
                fail_msg("%s: layer %s param %d: %zu floats by shape, %zu laid out", path, l->name, k,
                         nn_layer_param_floats(l, k), nn_layer_param(g, l, k)->count);
    }
    nn_dev_params d;
    if (nn_dev_params_graph(&d, g, &err))
        fail_msg("%s: %s", path, err.msg);
    assert_int_equal(d.n, g->n_params);
    for (int p = 0; p < g->n_params; p++) {
        size_t o = nn_dev_params_map(&d, g->params[p].offset);
        if (o == SIZE_MAX || o * sizeof(float) % NN_DEV_ALIGN)
            fail_msg("%s: %s at device offset %zu", path, g->params[p].name, o);
    }
    float *dev = malloc(d.dev_floats * sizeof *dev), *back = calloc(g->n_param_floats + 1, sizeof *back);
    assert_non_null(dev);
    assert_non_null(back);
    nn_model_init_he(m, 7);
    nn_dev_params_pack(&d, dev, m->params);
    nn_dev_params_unpack(&d, back, dev);
    assert_memory_equal(back, m->params, g->n_param_floats * sizeof *back);
    free(dev);
    free(back);
    nn_dev_params_free(&d);

    nn_plan pl;
    if (nn_plan_build(&pl, m, 3, &err))
        fail_msg("%s: %s", path, err.msg);
    size_t *off = calloc(4 * (size_t)pl.n_steps + 1, sizeof *off), *cnt = calloc(4 * (size_t)pl.n_steps + 1, sizeof *cnt);
    assert_non_null(off);
    assert_non_null(cnt);
    int n = 0;
    for (int i = 0; i < pl.n_steps; i++) {
        const nn_plan_step *st = &pl.steps[i];
        if (st->out_off % NN_DEV_ALIGN_FLOATS)
            fail_msg("%s: step %s output at float %zu", path, st->l.name, st->out_off);
        for (int k = 0; k < 4; k++)
            if (st->has_p[k])
                off[n] = st->p_off[k], cnt[n++] = nn_layer_param_floats(&st->l, k);
    }
    if (nn_dev_params_build(&d, off, cnt, n, pl.n_params, &err))
        fail_msg("%s: plan: %s", path, err.msg);
    for (int i = 0; i < n; i++)
        if (nn_dev_params_map(&d, off[i]) * sizeof(float) % NN_DEV_ALIGN)
            fail_msg("%s: plan tensor at %zu not aligned on the device", path, off[i]);
    nn_dev_params_free(&d);
    free(off);
    free(cnt);
    nn_plan_free(&pl);
    nn_model_free(m);
}

static void test_zoo(void **state)
{
    (void)state;
    DIR *dir = opendir(models_dir);
    if (!dir)
        fail_msg("cannot open models directory %s", models_dir);
    int seen = 0;
    struct dirent *e;
    char path[1024];
    while ((e = readdir(dir))) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".yaml"))
            continue;
        snprintf(path, sizeof path, "%s/%s", models_dir, e->d_name);
        check_model(path);
        seen++;
    }
    closedir(dir);
    assert_true(seen >= 10);
}

static void test_algo_pick(void **state)
{
    (void)state;
    const nn_algo_cand c[] = {
        {.algo = 6, .ok = true, .fp32 = true, .ws = 1000},  /* Winograd-like, fastest */
        {.algo = 1, .ok = false, .fp32 = true, .ws = 0},    /* failed */
        {.algo = 2, .ok = true, .fp32 = false, .ws = 0},    /* tensor-op math */
        {.algo = 3, .ok = true, .fp32 = true, .ws = 5000},  /* too much workspace */
        {.algo = 0, .ok = true, .fp32 = true, .ws = 0},     /* implicit GEMM */
    };
    assert_int_equal(nn_algo_pick(c, 5, 4096, NULL, 0), 0);
    assert_int_equal(nn_algo_pick(c, 5, 100, NULL, 0), 4);
    const int gemm[] = {0, 1, 2};
    assert_int_equal(nn_algo_pick(c, 5, 1 << 20, gemm, 3), 4);
    const int none[] = {9};
    assert_int_equal(nn_algo_pick(c, 5, 1 << 20, none, 1), -1);
    assert_int_equal(nn_algo_pick(c, 0, 1 << 20, NULL, 0), -1);
}

static void test_conv_route(void **state)
{
    (void)state;
    assert_int_equal(nn_conv_route_pick(true, false, true, true), NN_CONV_DIRECT);
    assert_int_equal(nn_conv_route_pick(false, true, true, true), NN_CONV_DIRECT);
    assert_int_equal(nn_conv_route_pick(false, false, true, false), NN_CONV_SLOT);
    assert_int_equal(nn_conv_route_pick(false, false, false, true), NN_CONV_HEURISTIC);
    assert_int_equal(nn_conv_route_pick(false, false, false, false), NN_CONV_DIRECT);
}

static void test_cudnn_tables(void **state)
{
    (void)state;
    assert_string_equal(nn_cudnn_algo_name(NN_PASS_FWD, 1), "IMPLICIT_PRECOMP_GEMM");
    assert_string_equal(nn_cudnn_algo_name(NN_PASS_FWD, 6), "WINOGRAD");
    assert_string_equal(nn_cudnn_algo_name(NN_PASS_BWD_DATA, 4), "WINOGRAD");
    assert_string_equal(nn_cudnn_algo_name(NN_PASS_BWD_FILTER, 6), "FFT_TILING");
    assert_string_equal(nn_cudnn_algo_name(NN_PASS_BWD_FILTER, 7), "?");
    assert_string_equal(nn_cudnn_algo_name(NN_PASS_FWD, -1), "?");
    /* No transform-based algorithm (FFT, Winograd) is ever pinned. */
    for (int pass = NN_PASS_FWD; pass <= NN_PASS_BWD_FILTER; pass++) {
        const int *list = NULL;
        int n = nn_cudnn_pinned((nn_conv_pass)pass, &list);
        assert_true(n >= 2);
        for (int i = 0; i < n; i++) {
            const char *name = nn_cudnn_algo_name((nn_conv_pass)pass, list[i]);
            assert_null(strstr(name, "FFT"));
            assert_null(strstr(name, "WINOGRAD"));
            assert_string_not_equal(name, "?");
        }
    }
}

int main(int argc, char **argv)
{
    if (argc > 1)
        models_dir = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_align),      cmocka_unit_test(test_build_map_pack), cmocka_unit_test(test_zoo),
        cmocka_unit_test(test_algo_pick),  cmocka_unit_test(test_conv_route), cmocka_unit_test(test_cudnn_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
