/* test_spec.c — the model YAML parser: block expansion, names, shapes, padding, parameter
 * layout, and one clear positioned error for every kind of bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "nn/cost.h"
#include "nn/graph.h"

#define HEADER "name: t\ninput: {height: %d, width: %d, channels: %d}\noutput: {kind: values}\nlayers:\n"

static nn_status parse(nn_graph *g, nn_err *err, const char *text)
{
    return nn_graph_parse_buffer(g, text, strlen(text), "t.yaml", err);
}

static const nn_layer *layer(const nn_graph *g, const char *name)
{
    for (int i = 0; i < g->n_layers; i++)
        if (strcmp(g->layers[i].name, name) == 0)
            return &g->layers[i];
    fail_msg("no layer '%s'", name);
    return NULL;
}

static void test_effnet_block_expansion(void **state)
{
    (void)state;
    char text[512];
    snprintf(text, sizeof text, HEADER "  - {name: b1, type: effnet_block, ch_mid: 16, ch_out: 32, dropout: 0.25}\n",
             28, 28, 1);
    nn_graph g;
    nn_err err;
    assert_int_equal(parse(&g, &err, text), NN_OK);
    const char *names[] = {"input", "b1.conv1", "b1.conv1.act", "b1.dw1", "b1.dw1.act", "b1.pool",
                           "b1.dw2", "b1.dw2.act", "b1.conv2", "b1.conv2.act", "b1.drop"};
    assert_int_equal(g.n_layers, 11);
    for (int i = 0; i < 11; i++)
        assert_string_equal(g.layers[i].name, names[i]);
    /* 28x28 -> pool 2x1 -> 14x28 -> conv 2x1 stride (1,2) same -> 14x14 */
    const nn_layer *c2 = layer(&g, "b1.conv2");
    assert_int_equal(c2->out.h, 14);
    assert_int_equal(c2->out.w, 14);
    assert_int_equal(c2->out.c, 32);
    /* TF same padding for an even kernel pads the bottom only. */
    assert_int_equal(c2->pad_top, 0);
    assert_int_equal(c2->pad_bottom, 1);
    const nn_layer *dw1 = layer(&g, "b1.dw1");
    assert_int_equal(dw1->pad_left, 1);
    assert_int_equal(dw1->pad_right, 1);
    assert_int_equal(dw1->pad_top, 0);
    assert_false(dw1->has_bias);
    /* PyTorch names and shapes. */
    const nn_param *w = nn_layer_param(&g, c2, 0);
    assert_string_equal(w->name, "b1.conv2.weight");
    assert_int_equal(w->dims[0], 32);
    assert_int_equal(w->dims[1], 16);
    assert_int_equal(w->dims[2], 2);
    assert_int_equal(w->dims[3], 1);
    assert_int_equal(c2->n_params, 1);
    nn_graph_free(&g);
}

static void test_block_batch_norm_names(void **state)
{
    (void)state;
    char text[512];
    snprintf(text, sizeof text,
             HEADER "  - {name: s, type: shuffle_unit, ch_mid: 8, filters: 16, groups: 4, stride: 2, batch_norm: true}\n",
             8, 8, 8);
    nn_graph g;
    nn_err err;
    assert_int_equal(parse(&g, &err, text), NN_OK);
    const nn_layer *bn = layer(&g, "s.gconv1_bn");
    assert_int_equal(bn->op, NN_OP_BATCHNORM);
    assert_string_equal(nn_layer_param(&g, bn, 2)->name, "s.gconv1_bn.running_mean");
    assert_false(nn_layer_param(&g, bn, 3)->trainable);
    assert_int_equal(layer(&g, "s.shuffle")->groups, 4);
    assert_int_equal(layer(&g, "s.gconv2")->out.h, 4);
    assert_int_equal(nn_layer_param(&g, layer(&g, "s.gconv1"), 0)->dims[1], 2); /* 8 channels / 4 groups */
    /* ShuffleNet's depthwise has no activation. */
    for (int i = 0; i < g.n_layers; i++)
        assert_string_not_equal(g.layers[i].name, "s.dw.act");
    nn_graph_free(&g);
}

static void test_dense_flatten_order_and_costs(void **state)
{
    (void)state;
    char text[512];
    snprintf(text, sizeof text,
             HEADER "  - {name: c, type: conv2d, filters: 4, kernel: 3, padding: same, activation: relu}\n"
                    "  - {name: bn, type: batch_norm}\n"
                    "  - {name: d, type: dense, units: 5}\n",
             6, 7, 3);
    nn_graph g;
    nn_err err;
    assert_int_equal(parse(&g, &err, text), NN_OK);
    const nn_layer *d = layer(&g, "d");
    assert_int_equal(d->in.c, 6 * 7 * 4);
    assert_int_equal(d->in.src_h, 6);
    assert_int_equal(d->in.src_w, 7);
    assert_int_equal(d->in.src_c, 4);
    nn_cost c = nn_graph_cost(&g);
    assert_int_equal(c.macs, 6 * 7 * 4 * 3 * 3 * 3 + 6 * 7 * 4 * 5);
    assert_int_equal(c.params, 4 * 27 + 4 + 4 * 4 + 6 * 7 * 4 * 5 + 5);
    assert_int_equal(c.trainable, c.params - 8);
    nn_graph_free(&g);
}

static void test_explicit_padding_and_multi_input(void **state)
{
    (void)state;
    char text[768];
    snprintf(text, sizeof text,
             HEADER "  - {name: a, type: conv2d, filters: 4, kernel: [1, 3], padding: [0, 0, 2, 0]}\n"
                    "  - {name: b, type: conv2d, filters: 4, kernel: [1, 3], padding: [0, 0, 0, 2], input: input}\n"
                    "  - {name: s, type: add, inputs: [a, b]}\n"
                    "  - {name: k, type: concat, inputs: [s, a, input]}\n",
             5, 6, 2);
    nn_graph g;
    nn_err err;
    assert_int_equal(parse(&g, &err, text), NN_OK);
    const nn_layer *k = layer(&g, "k");
    assert_int_equal(k->out.c, 4 + 4 + 2);
    assert_int_equal(k->out.w, 6);
    assert_int_equal(k->n_inputs, 3);
    assert_int_equal(k->inputs[2], 0);
    nn_graph_free(&g);
}

typedef struct {
    const char *what;
    const char *layers;
    nn_status status;
    const char *message;
} bad_case;

static void test_bad_specs(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {"unknown key", "  - {name: c, type: conv2d, filters: 4, kernel: 3, colour: red}\n", NN_E_SPEC,
         "t.yaml:5:52: c: unknown key 'colour'"},
        {"unknown type", "  - {name: c, type: conv3d}\n", NN_E_SPEC, "t.yaml:5:21: type: unknown layer type 'conv3d'"},
        {"negative filters", "  - {name: c, type: conv2d, filters: -1, kernel: 3}\n", NN_E_SPEC,
         "filters: must be in [1, 65536] (got -1)"},
        {"string kernel", "  - {name: c, type: conv2d, filters: 2, kernel: big}\n", NN_E_SPEC,
         "kernel: expected an integer (got 'big')"},
        {"pool chain too small",
         "  - {name: p1, type: max_pool2d, pool: 2}\n  - {name: p2, type: max_pool2d, pool: 2}\n"
         "  - {name: p3, type: max_pool2d, pool: 2}\n",
         NN_E_SHAPE, "layer 'p3' (max_pool2d): input 1x1x1: too small for a 2x2 window"},
        {"duplicate name", "  - {name: c, type: relu}\n  - {name: c, type: relu}\n", NN_E_SPEC,
         "layer name 'c' is used twice"},
        {"bad reference", "  - {name: c, type: relu, input: nope}\n", NN_E_SPEC, "no earlier layer named 'nope'"},
        {"groups", "  - {name: c, type: conv2d, filters: 4, kernel: 1, groups: 3}\n", NN_E_SHAPE,
         "groups 3 must divide input channels 4"},
        {"add mismatch", "  - {name: c, type: conv2d, filters: 2, kernel: 3}\n  - {name: s, type: add, inputs: [c, input]}\n",
         NN_E_SHAPE, "does not match"},
        {"missing name", "  - {type: relu}\n", NN_E_SPEC, "every layer needs a name"},
        {"bad name", "  - {name: a.b, type: relu}\n", NN_E_SPEC, "letters, digits and '_' only"},
        {"softmax on conv", "  - {name: c, type: conv2d, filters: 2, kernel: 1, activation: softmax}\n", NN_E_SPEC,
         "softmax is only allowed on dense"},
        {"bad padding", "  - {name: c, type: conv2d, filters: 2, kernel: 1, padding: full}\n", NN_E_SPEC,
         "expected one of valid, same (got 'full')"},
        {"dropout rate", "  - {name: d, type: dropout, rate: 1.5}\n", NN_E_SPEC, "rate: must be in"},
        {"malformed", "  - {name: c, type: relu\n", NN_E_PARSE, "malformed YAML"},
        {"block key", "  - {name: b, type: effnet_block, ch_mid: 2, ch_out: 4, kernel: 3}\n", NN_E_SPEC,
         "b: unknown key 'kernel'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[1024];
        snprintf(text, sizeof text, HEADER "%s", 4, 4, 4, cases[i].layers);
        if (strstr(cases[i].what, "pool chain"))
            snprintf(text, sizeof text, HEADER "%s", 4, 4, 1, cases[i].layers);
        nn_graph g;
        nn_err err = {{0}};
        nn_status s = parse(&g, &err, text);
        if (s != cases[i].status || !strstr(err.msg, cases[i].message))
            fail_msg("case '%s': status %d (want %d), message '%s' (want '%s')", cases[i].what, s, cases[i].status,
                     err.msg, cases[i].message);
        assert_null(strchr(err.msg, '\n'));
    }
}

static void test_bad_top_level(void **state)
{
    (void)state;
    static const struct {
        const char *what, *text, *message;
    } cases[] = {
        {"no layers", "name: t\ninput: {height: 4, width: 4, channels: 1}\noutput: {kind: values}\nlayers: []\n",
         "at least one layer"},
        {"labels count",
         "name: t\ninput: {height: 4, width: 4, channels: 1}\noutput: {kind: classes, labels: [a, b]}\nlayers:\n"
         "  - {name: d, type: dense, units: 3}\n",
         "2 labels for 3 outputs"},
        {"steering outputs",
         "name: t\ninput: {height: 4, width: 4, channels: 1}\noutput: {kind: steering, scale_deg: 25}\nlayers:\n"
         "  - {name: d, type: dense, units: 3}\n",
         "steering needs 1 output"},
        {"unknown top key", "name: t\nimput: {}\n", "model: unknown key 'imput'"},
        {"crop", "name: t\ninput: {height: 4, width: 4, channels: 1}\npreprocess: {crop: {top: 5, bottom: 2, left: 0, "
                 "right: 4}}\noutput: {kind: values}\nlayers:\n  - {name: r, type: relu}\n",
         "empty crop"},
        {"two documents", "name: t\n---\nname: u\n", "only one YAML document"},
        {"alias", "name: &n t\ndescription: *n\n", "aliases are not supported"},
        {"duplicate key", "name: t\nname: u\n", "duplicate key 'name'"},
        {"empty", "", "empty document"},
        {"not a mapping", "- 1\n", "expected a mapping"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nn_graph g;
        nn_err err = {{0}};
        nn_status s = parse(&g, &err, cases[i].text);
        if (s == NN_OK || !strstr(err.msg, cases[i].message))
            fail_msg("case '%s': status %d, message '%s' (want '%s')", cases[i].what, s, err.msg, cases[i].message);
    }
}

static void test_missing_file(void **state)
{
    (void)state;
    nn_graph g;
    nn_err err;
    assert_int_equal(nn_graph_parse_file(&g, "/nonexistent/m.yaml", &err), NN_E_IO);
    assert_non_null(strstr(err.msg, "/nonexistent/m.yaml: cannot open"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_effnet_block_expansion),
        cmocka_unit_test(test_block_batch_norm_names),
        cmocka_unit_test(test_dense_flatten_order_and_costs),
        cmocka_unit_test(test_explicit_padding_and_multi_input),
        cmocka_unit_test(test_bad_specs),
        cmocka_unit_test(test_bad_top_level),
        cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
