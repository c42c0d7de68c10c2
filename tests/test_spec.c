/* test_spec.c — the model YAML parser: block expansion, names, shapes, padding, parameter
 * layout, and one clear positioned error for every kind of bad input. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "nn/cost.h"
#include "nn/graph.h"
#include "nn/limits.h"

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

/* avg_pool2d's count_pad: false unless asked (every earlier model unchanged). */
static void test_avg_pool_count_pad(void **state)
{
    (void)state;
    char text[512];
    snprintf(text, sizeof text,
             HEADER "  - {name: a, type: avg_pool2d, pool: 3, stride: 2, padding: [1, 1, 1, 1], count_pad: true}\n"
                    "  - {name: b, type: avg_pool2d, pool: 2, padding: same, input: input}\n"
                    "  - {name: c, type: avg_pool2d, pool: 2, count_pad: false, input: input}\n",
             5, 6, 2);
    nn_graph g;
    nn_err err;
    assert_int_equal(parse(&g, &err, text), NN_OK);
    assert_true(layer(&g, "a")->count_pad);
    assert_int_equal(layer(&g, "a")->out.h, 3);
    assert_false(layer(&g, "b")->count_pad);
    assert_false(layer(&g, "c")->count_pad);
    nn_graph_free(&g);
}

/* sigmoid, tanh, elu (alpha default 1), clip (each bound optional: absent = unbounded). */
static void test_pointwise_activations(void **state)
{
    (void)state;
    char text[768];
    snprintf(text, sizeof text,
             HEADER "  - {name: s, type: sigmoid}\n  - {name: t, type: tanh}\n  - {name: e, type: elu}\n"
                    "  - {name: e2, type: elu, alpha: 0.5}\n  - {name: r6, type: clip, min: 0, max: 6}\n"
                    "  - {name: lo, type: clip, min: -1.5}\n  - {name: hi, type: clip, max: 2}\n",
             3, 4, 5);
    nn_graph g;
    nn_err err;
    assert_int_equal(parse(&g, &err, text), NN_OK);
    assert_int_equal(layer(&g, "s")->op, NN_OP_SIGMOID);
    assert_int_equal(layer(&g, "t")->op, NN_OP_TANH);
    assert_true(layer(&g, "e")->op == NN_OP_ELU && layer(&g, "e")->alpha == 1.0f);
    assert_true(layer(&g, "e2")->alpha == 0.5f);
    assert_true(layer(&g, "r6")->lo == 0.0f && layer(&g, "r6")->hi == 6.0f);
    assert_true(layer(&g, "lo")->lo == -1.5f && isinf(layer(&g, "lo")->hi) && layer(&g, "lo")->hi > 0);
    assert_true(isinf(layer(&g, "hi")->lo) && layer(&g, "hi")->lo < 0 && layer(&g, "hi")->hi == 2.0f);
    assert_int_equal(layer(&g, "hi")->out.c, 5);
    assert_string_equal(nn_op_name(NN_OP_CLIP), "clip");
    assert_string_equal(nn_op_name(NN_OP_ELU), "elu");
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
        {"clip unbounded", "  - {name: c, type: clip}\n", NN_E_SPEC, "a clip needs min, max or both"},
        {"clip min > max", "  - {name: c, type: clip, min: 6, max: 0}\n", NN_E_SPEC, "max: 0 is below min 6"},
        {"elu alpha", "  - {name: e, type: elu, alpha: -1}\n", NN_E_SPEC, "alpha: must be in"},
        {"clip key", "  - {name: c, type: clip, alpha: 1}\n", NN_E_SPEC, "c: unknown key 'alpha'"},
        {"block key", "  - {name: b, type: effnet_block, ch_mid: 2, ch_out: 4, kernel: 3}\n", NN_E_SPEC,
         "b: unknown key 'kernel'"},
        {"count_pad on max", "  - {name: p, type: max_pool2d, pool: 2, count_pad: true}\n", NN_E_SPEC,
         "p: unknown key 'count_pad'"},
        {"count_pad not bool", "  - {name: p, type: avg_pool2d, pool: 2, count_pad: 2}\n", NN_E_SPEC, "count_pad"},
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
        /* Issue 12 defect 11: what is not a short identifier or number is described, not echoed. */
        {"secret as the file", "root:$6$Zq8hUeWm3Kx9$Yb0sVQp1tLr7cN2gHdJf4aEi6oMkWzXu:19000:0:99999:7:::\n",
         "t.yaml:1:1: model: unknown key <71 bytes, not shown>"},
        {"secret key", "{root:$6$Zq8hUeWm3Kx9$Yb0sVQp1tLr7cN2g: 1}\n", "model: unknown key <37 bytes, not shown>"},
        {"secret duplicate key", "a b$: 1\na b$: 2\n", "duplicate key <4 bytes, not shown>"},
        {"secret value", "name: t\ninput: {height: 'x$6$Zq8hUeWm3Kx9', width: 4, channels: 1}\n",
         "input.height: expected an integer (got <16 bytes, not shown>)"},
        {"secret type", "name: t\ninput: {height: 4, width: 4, channels: 1}\noutput: {kind: values}\nlayers:\n"
                        "  - {name: a, type: 'conv$6$Zq8hUeWm'}\n",
         "type: unknown layer type <15 bytes, not shown>"},
        {"secret reference", "name: t\ninput: {height: 4, width: 4, channels: 1}\noutput: {kind: values}\nlayers:\n"
                             "  - {name: a, type: relu, input: 'x$6$Zq8hUeWm'}\n",
         "no earlier layer named <12 bytes, not shown>"},
        {"empty", "", "empty document"},
        {"not a mapping", "- 1\n", "expected a mapping"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nn_graph g;
        nn_err err = {{0}};
        nn_status s = parse(&g, &err, cases[i].text);
        if (s == NN_OK || !strstr(err.msg, cases[i].message) || strstr(err.msg, "$6$") || strstr(err.msg, "Zq8h"))
            fail_msg("case '%s': status %d, message '%s' (want '%s')", cases[i].what, s, err.msg, cases[i].message);
    }
}

/* ---- size limits (issue 12, defect 1): every dimension field of every layer type and block ---- */

/* One dimension field of one layer type; {V} is replaced by the value under test. */
typedef struct {
    const char *field;
    const char *layer; /* YAML flow mapping of the layer with {V} */
} dim_field;

static const dim_field dim_fields[] = {
    {"conv2d.filters", "{name: l, type: conv2d, filters: {V}, kernel: 1}"},
    {"conv2d.kernel", "{name: l, type: conv2d, filters: 4, kernel: {V}, padding: same}"},
    {"conv2d.kernel[1]", "{name: l, type: conv2d, filters: 4, kernel: [1, {V}], padding: same}"},
    {"conv2d.stride", "{name: l, type: conv2d, filters: 4, kernel: 1, stride: {V}}"},
    {"conv2d.padding", "{name: l, type: conv2d, filters: 4, kernel: 3, padding: [{V}, {V}, 1, 1]}"},
    {"conv2d.groups", "{name: l, type: conv2d, filters: 64, kernel: 1, groups: {V}}"},
    {"depthwise.kernel", "{name: l, type: depthwise_conv2d, kernel: {V}, padding: same}"},
    {"depthwise.stride", "{name: l, type: depthwise_conv2d, kernel: 3, stride: [{V}, 1]}"},
    {"depthwise.padding", "{name: l, type: depthwise_conv2d, kernel: 3, padding: [1, 1, {V}, {V}]}"},
    {"depthwise.depth_multiplier", "{name: l, type: depthwise_conv2d, kernel: 1, depth_multiplier: {V}}"},
    {"max_pool2d.pool", "{name: l, type: max_pool2d, pool: {V}}"},
    {"max_pool2d.stride", "{name: l, type: max_pool2d, pool: 2, stride: {V}}"},
    {"max_pool2d.padding", "{name: l, type: max_pool2d, pool: 2, padding: [{V}, 0, 0, 0]}"},
    {"avg_pool2d.pool", "{name: l, type: avg_pool2d, pool: [{V}, 1]}"},
    {"avg_pool2d.stride", "{name: l, type: avg_pool2d, pool: 1, stride: {V}}"},
    {"dense.units", "{name: l, type: dense, units: {V}}"},
    {"channel_shuffle.groups", "{name: l, type: channel_shuffle, groups: {V}}"},
    {"effnet_block.ch_mid", "{name: l, type: effnet_block, ch_mid: {V}, ch_out: 4}"},
    {"effnet_block.ch_out", "{name: l, type: effnet_block, ch_mid: 4, ch_out: {V}}"},
    {"effnet_block.depth_multiplier", "{name: l, type: effnet_block, ch_mid: 4, ch_out: 4, depth_multiplier: {V}}"},
    {"mobilenet_block.filters", "{name: l, type: mobilenet_block, filters: {V}}"},
    {"mobilenet_block.stride", "{name: l, type: mobilenet_block, filters: 4, stride: {V}}"},
    {"shuffle_unit.ch_mid", "{name: l, type: shuffle_unit, ch_mid: {V}, filters: 64, groups: 2}"},
    {"shuffle_unit.filters", "{name: l, type: shuffle_unit, ch_mid: 64, filters: {V}, groups: 2}"},
    {"shuffle_unit.groups", "{name: l, type: shuffle_unit, ch_mid: 64, filters: 64, groups: {V}}"},
    {"shuffle_unit.stride", "{name: l, type: shuffle_unit, ch_mid: 64, filters: 64, groups: 2, stride: {V}}"},
};

/* Values past every field's range (must be refused) and values at or near the ranges' ends
 * (refused or accepted; an accepted model must be within the limits). */
static const char *const huge_values[] = {"99999999", "2147483647", "2147483648", "4294967296", "4294967297",
                                          "9223372036854775807", "9223372036854775808", "1e308", "-1"};
static const char *const edge_values[] = {"64", "256", "1024", "4096", "65535", "65536", "1048576"};

/* Input shapes under test: small, and large ones whose products with the fields overflow 32 bits. */
static const int dim_inputs[][3] = {{8, 8, 4}, {4096, 4096, 64}, {8192, 8192, 16}, {1, 1, 4096}};

static void fill(char *out, size_t cap, const char *tmpl, const char *v)
{
    size_t o = 0;
    for (const char *p = tmpl; *p && o + 1 < cap;) {
        if (strncmp(p, "{V}", 3) == 0) {
            o += (size_t)snprintf(out + o, cap - o, "%s", v);
            p += 3;
        } else {
            out[o++] = *p++;
        }
    }
    out[o < cap ? o : cap - 1] = '\0';
}

/* The model a successful parse gives is within every limit, and so is what it costs. */
static void assert_within_limits(const nn_graph *g, const char *what)
{
    size_t act = 0;
    for (int i = 0; i < g->n_layers; i++) {
        const nn_layer *l = &g->layers[i];
        if (l->out.h > NN_MAX_DIM || l->out.w > NN_MAX_DIM || nn_shape_size(l->out) > (size_t)NN_MAX_TENSOR ||
            l->out.c <= 0)
            fail_msg("case %s: layer %s output %dx%dx%d is past the limits", what, l->name, l->out.h, l->out.w,
                     l->out.c);
        if (i)
            act += nn_shape_size(l->out);
    }
    if (g->n_param_floats > (size_t)NN_MAX_PARAMS || act > NN_MAX_ARENA_BYTES / 4)
        fail_msg("case %s: %zu parameters, %zu activation floats: past the limits", what, g->n_param_floats, act);
    nn_cost c = nn_graph_cost(g);
    if (c.params != g->n_param_floats || c.act_bytes != 4 * act)
        fail_msg("case %s: cost report %llu params / %llu bytes disagrees", what, (unsigned long long)c.params,
                 (unsigned long long)c.act_bytes);
}

static void test_size_limits_every_field(void **state)
{
    (void)state;
    int refused = 0, accepted = 0;
    for (size_t f = 0; f < sizeof dim_fields / sizeof dim_fields[0]; f++)
        for (size_t in = 0; in < sizeof dim_inputs / sizeof dim_inputs[0]; in++)
            for (int kind = 0; kind < 2; kind++) {
                const char *const *vals = kind ? edge_values : huge_values;
                size_t nv = kind ? sizeof edge_values / sizeof *edge_values : sizeof huge_values / sizeof *huge_values;
                for (size_t v = 0; v < nv; v++) {
                    char layer[256], text[512], what[160];
                    fill(layer, sizeof layer, dim_fields[f].layer, vals[v]);
                    snprintf(text, sizeof text, HEADER "  - %s\n  - {name: f, type: dense, units: 1}\n",
                             dim_inputs[in][0], dim_inputs[in][1], dim_inputs[in][2], layer);
                    snprintf(what, sizeof what, "%s = %s on %dx%dx%d", dim_fields[f].field, vals[v],
                             dim_inputs[in][0], dim_inputs[in][1], dim_inputs[in][2]);
                    nn_graph g;
                    nn_err err = {{0}};
                    nn_status s = parse(&g, &err, text);
                    if (s == NN_OK) {
                        if (!kind)
                            fail_msg("case %s: accepted", what);
                        assert_within_limits(&g, what);
                        nn_graph_free(&g);
                        accepted++;
                        continue;
                    }
                    refused++;
                    if ((s != NN_E_SPEC && s != NN_E_SHAPE) || strncmp(err.msg, "t.yaml:", 7) != 0 ||
                        strchr(err.msg, '\n'))
                        fail_msg("case %s: status %d, message '%s'", what, s, err.msg);
                }
            }
    /* Both outcomes happen, so the table reaches past the parser's ranges into the limits. */
    assert_true(refused > 0 && accepted > 0);
}

static void test_size_limits_messages(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        int h, w, c;
        const char *layers;
        const char *message;
    } cases[] = {
        {"input h*w*c >= 2^32 (issue 12)", 7604, 8069, 70, "  - {name: f, type: dense, units: 1}\n",
         "t.yaml:2:8: input: shape 7604x8069x70 = 4.29e+09 elements exceeds the limit of 1073741824 elements"},
        {"1 TiB input", 8192, 8192, 4096, "  - {name: f, type: dense, units: 1}\n",
         "input: shape 8192x8192x4096 = 2.75e+11 elements exceeds the limit"},
        {"conv output", 8192, 8192, 16, "  - {name: c, type: conv2d, filters: 65536, kernel: 1}\n",
         "layer 'c' (conv2d): output 8192x8192x65536 = 4.4e+12 elements exceeds the limit"},
        {"conv parameters", 8, 8, 4096, "  - {name: c, type: conv2d, filters: 65536, kernel: 4096, padding: same}\n",
         "layer 'c' (conv2d): parameter 'c.weight' 65536x4096x4096x4096 brings the model to 4.5e+15 parameters"},
        {"depthwise channels", 4096, 4096, 64, "  - {name: d, type: depthwise_conv2d, kernel: 1, depth_multiplier: 256}\n",
         "layer 'd' (depthwise_conv2d): output 4096x4096x16384 = 2.75e+11 elements exceeds the limit"},
        {"dense parameters", 1024, 1024, 1, "  - {name: f, type: dense, units: 1048576}\n",
         "parameter 'f.weight' 1048576x1048576 brings the model to 1.1e+12 parameters, which exceeds the limit of "
         "1073741824"},
        {"concat channels", 8192, 8192, 16, "  - {name: j, type: concat, inputs: [input, input]}\n",
         "layer 'j' (concat): output 8192x8192x32 = 2.15e+09 elements exceeds the limit"},
        {"one sample's activations", 4096, 4096, 64,
         "  - {name: a, type: relu}\n  - {name: b, type: relu}\n  - {name: c, type: relu}\n  - {name: d, type: relu}\n"
         "  - {name: e, type: relu}\n",
         "layer 'e' (relu): input 4096x4096x64: the activations of one sample reach 2.15e+10 bytes, which exceeds the "
         "limit of 17179869184"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[512];
        snprintf(text, sizeof text, HEADER "%s", cases[i].h, cases[i].w, cases[i].c, cases[i].layers);
        nn_graph g;
        nn_err err = {{0}};
        nn_status s = parse(&g, &err, text);
        if (s != NN_E_SHAPE || !strstr(err.msg, cases[i].message))
            fail_msg("case '%s': status %d, message '%s' (want '%s')", cases[i].what, s, err.msg, cases[i].message);
    }
}

/* A model within the per-sample limits is refused at context creation when the batch makes a
 * tensor too large, before the arena is allocated. */
static void test_size_limits_batch(void **state)
{
    (void)state;
    char text[256];
    snprintf(text, sizeof text, HEADER "  - {name: f, type: dense, units: 1}\n", 1024, 1024, 16);
    nn_model *m = NULL;
    nn_err err = {{0}};
    char path[64];
    snprintf(path, sizeof path, "/tmp/limits_batch_%d.yaml", (int)getpid());
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    assert_int_equal(nn_model_load_spec(&m, path, &err), NN_OK);
    nn_infer *ctx = NULL;
    assert_int_equal(nn_infer_create(&ctx, m, 65536, 1, &err), NN_E_SHAPE);
    assert_null(ctx);
    assert_non_null(strstr(err.msg, ".yaml:2:8: layer 'input' (input): output 1024x1024x16 x batch 65536 "
                                    "= 1.1e+12 elements exceeds the limit of 1073741824 elements per tensor"));
    nn_model_free(m);
    remove(path);
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
        cmocka_unit_test(test_pointwise_activations),
        cmocka_unit_test(test_dense_flatten_order_and_costs),
        cmocka_unit_test(test_explicit_padding_and_multi_input),
        cmocka_unit_test(test_avg_pool_count_pad),
        cmocka_unit_test(test_bad_specs),
        cmocka_unit_test(test_bad_top_level),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_size_limits_every_field),
        cmocka_unit_test(test_size_limits_messages),
        cmocka_unit_test(test_size_limits_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
