/* test_model.c — parameters between PyTorch and engine layouts, safetensors save/load round
 * trips, the weights checks at load (missing, extra, misshaped tensors, non-finite values, negative
 * batch-norm variance) and the self-check forward pass. */
#include <setjmp.h>
#include <stdarg.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "nn/format/safetensors.h"
#include "nn/graph.h"
#include "nn/layout.h"

static const char spec_text[] =
    "name: layouts\n"
    "input: {height: 5, width: 4, channels: 4}\n"
    "output: {kind: values}\n"
    "layers:\n"
    "  - {name: c, type: conv2d, filters: 6, kernel: [3, 2], groups: 2, padding: same}\n"
    "  - {name: dw, type: depthwise_conv2d, kernel: [1, 3], depth_multiplier: 2, padding: same}\n"
    "  - {name: f, type: flatten}\n"
    "  - {name: bn, type: batch_norm}\n"
    "  - {name: d, type: dense, units: 3}\n";

static char spec_path[64], weights_path[64];

static int setup(void **state)
{
    (void)state;
    snprintf(spec_path, sizeof spec_path, "/tmp/steerd-test-model-%d.yaml", (int)getpid());
    snprintf(weights_path, sizeof weights_path, "/tmp/steerd-test-model-%d.safetensors", (int)getpid());
    FILE *f = fopen(spec_path, "w");
    if (!f)
        return -1;
    fputs(spec_text, f);
    fclose(f);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(spec_path);
    unlink(weights_path);
    return 0;
}

static const nn_layer *layer(const nn_graph *g, const char *name)
{
    for (int i = 0; i < g->n_layers; i++)
        if (strcmp(g->layers[i].name, name) == 0)
            return &g->layers[i];
    return NULL;
}

static void test_layout_round_trip_and_positions(void **state)
{
    (void)state;
    nn_model *m;
    nn_err err;
    assert_int_equal(nn_model_load_spec(&m, spec_path, &err), NN_OK);
    const nn_graph *g = &m->g;
    for (int li = 0; li < g->n_layers; li++) {
        const nn_layer *l = &g->layers[li];
        for (int r = 0; r < l->n_params; r++) {
            const nn_param *p = nn_layer_param(g, l, r);
            float *torch = malloc(p->count * sizeof *torch), *eng = malloc(p->count * sizeof *eng),
                  *back = malloc(p->count * sizeof *back);
            for (size_t i = 0; i < p->count; i++)
                torch[i] = (float)i;
            nn_layout_from_torch(l, r, p, torch, eng);
            nn_layout_to_torch(l, r, p, eng, back);
            for (size_t i = 0; i < p->count; i++)
                if (back[i] != torch[i])
                    fail_msg("%s: element %zu does not survive the round trip", p->name, i);
            if (strcmp(p->name, "c.weight") == 0) {
                /* torch [o=4][i=1][y=2][x=1] (groups 2: o 4 is group 1, j 1); engine [g][y][x][i][j] */
                size_t t = ((4 * 2 + 1) * 3 + 2) * 2 + 1, e = (((1 * 3 + 2) * 2 + 1) * 2 + 1) * 3 + 1;
                assert_float_equal(eng[e], torch[t], 0);
            }
            if (strcmp(p->name, "d.weight") == 0) {
                /* dense input 5x4x12 flattened: engine feature (y=1,x=2,c=3) = torch feature c*20+y*4+x */
                size_t f_hwc = (1 * 4 + 2) * 12 + 3, f_chw = 3 * 20 + 1 * 4 + 2, o = 2;
                assert_float_equal(eng[f_hwc * 3 + o], torch[o * 240 + f_chw], 0);
            }
            free(torch);
            free(eng);
            free(back);
        }
    }
    const nn_layer *bn = layer(g, "bn");
    assert_int_equal(bn->in.src_c, 12);
    nn_model_free(m);
}

static void test_save_load_round_trip(void **state)
{
    (void)state;
    nn_model *m, *m2;
    nn_err err;
    assert_int_equal(nn_model_load_spec(&m, spec_path, &err), NN_OK);
    nn_model_init_he(m, 3);
    for (size_t i = 0; i < m->g.n_param_floats; i++)
        m->params[i] += 0.001f * (float)i; /* make BN stats and biases distinctive */
    const char *meta[] = {"epochs", "5", NULL};
    assert_int_equal(nn_model_save(m, weights_path, meta, &err), NN_OK);
    if (nn_model_load(&m2, spec_path, weights_path, &err))
        fail_msg("%s", err.msg);
    assert_memory_equal(m->params, m2->params, m->g.n_param_floats * sizeof(float));
    assert_int_equal(strncmp(nn_model_checksum(m2), "sha256:", 7), 0);
    assert_int_equal(strlen(nn_model_checksum(m2)), 7 + 64);
    st_file f;
    assert_int_equal(st_open(&f, weights_path, &err), NN_OK);
    assert_string_equal(st_meta(&f, "model"), "layouts");
    assert_string_equal(st_meta(&f, "epochs"), "5");
    assert_non_null(st_find(&f, "bn.running_var"));
    st_close(&f);
    /* He init is deterministic in the seed. */
    nn_model_init_he(m, 3);
    nn_model_init_he(m2, 3);
    assert_memory_equal(m->params, m2->params, m->g.n_param_floats * sizeof(float));
    nn_model_init_he(m2, 4);
    assert_memory_not_equal(m->params, m2->params, m->g.n_param_floats * sizeof(float));
    nn_model_free(m);
    nn_model_free(m2);
}

/* Writes the model's tensors with one change: drop `skip`, add `extra`, or reshape `reshape`. */
static void write_variant(const char *skip, const char *extra, const char *reshape)
{
    nn_model *m;
    nn_err err;
    assert_int_equal(nn_model_load_spec(&m, spec_path, &err), NN_OK);
    const nn_graph *g = &m->g;
    st_out_tensor t[32];
    int n = 0, bad_dims[4] = {0}, one = 1;
    for (int i = 0; i < g->n_params; i++) {
        const nn_param *p = &g->params[i];
        if (skip && strcmp(p->name, skip) == 0)
            continue;
        t[n] = (st_out_tensor){p->name, p->ndim, p->dims, m->params + p->offset};
        if (reshape && strcmp(p->name, reshape) == 0) {
            memcpy(bad_dims, p->dims, sizeof bad_dims);
            bad_dims[0] = 1;
            bad_dims[1] = (int)p->count;
            t[n].dims = bad_dims;
            t[n].ndim = 2;
        }
        n++;
    }
    if (extra)
        t[n++] = (st_out_tensor){extra, 1, &one, m->params};
    assert_int_equal(st_write(weights_path, t, n, NULL, NULL, &err), NN_OK);
    nn_model_free(m);
}

static void expect_load_error(nn_status want, const char *message)
{
    nn_model *m = NULL;
    nn_err err = {{0}};
    nn_status s = nn_model_load(&m, spec_path, weights_path, &err);
    if (s != want || !strstr(err.msg, message))
        fail_msg("status %d (want %d), message '%s' (want '%s')", s, want, err.msg, message);
    assert_null(m);
}

static void test_weights_checks(void **state)
{
    (void)state;
    write_variant("dw.weight", NULL, NULL);
    expect_load_error(NN_E_WEIGHTS, "missing tensor \"dw.weight\" (F32 [12, 1, 1, 3])");
    write_variant(NULL, "head.weight", NULL);
    expect_load_error(NN_E_WEIGHTS, "unexpected tensor 'head.weight'");
    write_variant(NULL, "bn.num_batches_tracked", NULL);
    nn_model *m;
    nn_err err;
    assert_int_equal(nn_model_load(&m, spec_path, weights_path, &err), NN_OK);
    nn_model_free(m);
    write_variant(NULL, NULL, "d.weight");
    expect_load_error(NN_E_WEIGHTS, "tensor \"d.weight\": shape [1, 720], expected [3, 240]");
    expect_load_error(NN_E_WEIGHTS, weights_path);
}

/* He-initialised weights written with every element of tensor `name` from index `at` on (all of
 * it when at < 0) set to v (file order, PyTorch layout). */
static void write_values(const char *name, long at, float v)
{
    nn_model *m;
    nn_err err;
    assert_int_equal(nn_model_load_spec(&m, spec_path, &err), NN_OK);
    nn_model_init_he(m, 7);
    const nn_graph *g = &m->g;
    st_out_tensor t[32];
    for (int i = 0; i < g->n_params; i++) {
        const nn_param *p = &g->params[i];
        t[i] = (st_out_tensor){p->name, p->ndim, p->dims, m->params + p->offset};
        if (strcmp(p->name, name) == 0)
            for (size_t k = at < 0 ? 0 : (size_t)at; k < (at < 0 ? p->count : (size_t)at + 1); k++)
                m->params[p->offset + k] = v;
    }
    assert_int_equal(st_write(weights_path, t, g->n_params, NULL, NULL, &err), NN_OK);
    nn_model_free(m);
}

/* Issue 12 defects 7 and 13: values that make the model unusable are refused at load, naming
 * the tensor, the index and the value. */
static void test_weights_values(void **state)
{
    (void)state;
    static const struct {
        const char *tensor;
        long at;
        float v;
        const char *message;
    } cases[] = {
        {"c.weight", 5, NAN, "tensor 'c.weight': value nan at index 5 (must be finite)"},
        {"dw.weight", 0, INFINITY, "tensor 'dw.weight': value inf at index 0 (must be finite)"},
        {"d.bias", 2, -INFINITY, "tensor 'd.bias': value -inf at index 2 (must be finite)"},
        {"bn.running_var", 3, -1.0f, "tensor 'bn.running_var': value -1 at index 3 (must be >= 0)"},
        {"bn.running_mean", 0, NAN, "tensor 'bn.running_mean': value nan at index 0 (must be finite)"},
        {"bn.weight", 239, INFINITY, "tensor 'bn.weight': value inf at index 239 (must be finite)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_values(cases[i].tensor, cases[i].at, cases[i].v);
        expect_load_error(NN_E_WEIGHTS, cases[i].message);
    }
    /* A negative running mean, a zero variance: valid. */
    write_values("bn.running_mean", -1, -2.0f);
    nn_model *m;
    nn_err err;
    assert_int_equal(nn_model_load(&m, spec_path, weights_path, &err), NN_OK);
    nn_model_free(m);
    write_values("bn.running_var", 1, 0.0f);
    assert_int_equal(nn_model_load(&m, spec_path, weights_path, &err), NN_OK);
    nn_model_free(m);
}

/* The self-check: finite weights whose forward pass is not finite (3e38) are refused, naming the
 * output and the layer where non-finite values start; a sound model passes it and is left usable. */
static void test_selfcheck(void **state)
{
    (void)state;
    static const struct {
        const char *tensor;
        float v;
        const char *layer;
    } cases[] = {
        {"d.weight", 3e38f, "layer 'd' (dense)"},
        {"c.weight", 3e38f, "layer '"},
        {"bn.running_mean", 3e38f, "layer 'd' (dense)"},
    };
    for (size_t i = 0; i <= sizeof cases / sizeof cases[0]; i++) {
        bool sound = i == sizeof cases / sizeof cases[0];
        write_values(sound ? "d.bias" : cases[i].tensor, -1, sound ? 0.5f : cases[i].v);
        nn_model *m;
        nn_err err = {{0}};
        if (nn_model_load(&m, spec_path, weights_path, &err))
            fail_msg("case %zu: %s", i, err.msg);
        nn_infer *ctx;
        assert_int_equal(nn_infer_create(&ctx, m, 2, 1, &err), NN_OK);
        nn_status s = nn_infer_selfcheck(ctx, m, &err);
        if (sound) {
            assert_int_equal(s, NN_OK);
            assert_int_equal(nn_infer_run(ctx, 2, &err), NN_OK);
        } else if (s != NN_E_WEIGHTS || !strstr(err.msg, weights_path) ||
                   !strstr(err.msg, ": self-check: output ") || !strstr(err.msg, cases[i].layer)) {
            fail_msg("case %s = %g: status %d, message '%s'", cases[i].tensor, (double)cases[i].v, s, err.msg);
        }
        nn_infer_free(ctx);
        nn_model_free(m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_round_trip_and_positions),
        cmocka_unit_test(test_save_load_round_trip),
        cmocka_unit_test(test_weights_checks),
        cmocka_unit_test(test_weights_values),
        cmocka_unit_test(test_selfcheck),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
