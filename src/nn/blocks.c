/* blocks.c — composite blocks of the model YAML (effnet_block, mobilenet_block, shuffle_unit),
 * each expanded into named primitives: convolution, optional batch norm, activation. */
#include <stdio.h>
#include <string.h>

#include "nn/spec_internal.h"

typedef struct {
    spec_builder *b;
    const yd_node *n;            /* the block's YAML node (positions errors) */
    const char *block;           /* block name */
    const char *input;           /* explicit input of the first primitive, or NULL */
    bool batch_norm, bias;
    spec_act act;
    float alpha;
} block_ctx;

/* Appends `<block>.<sub>` (conv2d or depthwise), then `<block>.<sub>_bn`, then `<block>.<sub>.act`. */
static nn_status add_conv(block_ctx *c, const char *sub, nn_op op, int units, int groups, int kh, int kw, int sh,
                          int sw, int dm, spec_act act)
{
    spec_prim p = {0};
    snprintf(p.l.name, sizeof p.l.name, "%s.%s", c->block, sub);
    p.l.op = op;
    p.l.units = units;
    p.l.groups = groups;
    p.l.kh = kh;
    p.l.kw = kw;
    p.l.sh = sh;
    p.l.sw = sw;
    p.l.depth_multiplier = dm;
    p.l.has_bias = c->bias;
    p.pad_mode = PAD_SAME;
    if (c->input) {
        p.input_names[0] = c->input;
        p.n_input_names = 1;
        c->input = NULL;
    }
    nn_status s = spec_add(c->b, &p, c->n);
    if (!s && c->batch_norm) {
        spec_prim bn = {0};
        snprintf(bn.l.name, sizeof bn.l.name, "%s.%s_bn", c->block, sub);
        bn.l.op = NN_OP_BATCHNORM;
        bn.l.eps = 1e-5f;
        bn.l.momentum = 0.1f;
        s = spec_add(c->b, &bn, c->n);
    }
    if (!s)
        s = spec_add_act(c->b, p.l.name, act, c->alpha, c->n);
    return s;
}

static nn_status add_simple(block_ctx *c, const char *sub, nn_op op, int kh, int kw, int groups, float rate)
{
    spec_prim p = {0};
    snprintf(p.l.name, sizeof p.l.name, "%s.%s", c->block, sub);
    p.l.op = op;
    p.l.kh = p.l.sh = kh;
    p.l.kw = p.l.sw = kw;
    p.l.groups = groups;
    p.l.rate = rate;
    p.pad_mode = PAD_VALID;
    return spec_add(c->b, &p, c->n);
}

static nn_status read_common(block_ctx *c, bool bias_default)
{
    const yd_doc *d = c->b->doc;
    nn_status s;
    const yd_node *in = yd_get(c->n, "input");
    if (in) {
        if ((s = yd_expect(d, in, YD_SCALAR, "input", c->b->err)))
            return s;
        c->input = in->str;
    }
    if ((s = spec_read_act(c->b, c->n, SPEC_ACT_RELU, &c->act, &c->alpha)) ||
        (s = yd_bool(d, yd_get(c->n, "batch_norm"), "batch_norm", false, false, &c->batch_norm, c->b->err)) ||
        (s = yd_bool(d, yd_get(c->n, "bias"), "bias", false, bias_default, &c->bias, c->b->err)))
        return s;
    if (c->act == SPEC_ACT_SOFTMAX)
        return yd_error(c->b->err, d, yd_get(c->n, "activation"), NN_E_SPEC, "activation",
                        "softmax is only allowed on dense");
    return NN_OK;
}

#define BLOCK_KEYS "name", "type", "input", "activation", "alpha", "batch_norm", "bias"

static nn_status effnet_block(block_ctx *c)
{
    static const char *const keys[] = {BLOCK_KEYS, "ch_mid", "ch_out", "depth_multiplier", "dropout", NULL};
    const yd_doc *d = c->b->doc;
    nn_err *err = c->b->err;
    long mid, out, dm;
    double drop;
    nn_status s;
    if ((s = yd_check_keys(d, c->n, keys, c->block, err)) || (s = read_common(c, false)) ||
        (s = yd_int(d, yd_get(c->n, "ch_mid"), "ch_mid", true, 0, 1, 1 << 16, &mid, err)) ||
        (s = yd_int(d, yd_get(c->n, "ch_out"), "ch_out", true, 0, 1, 1 << 16, &out, err)) ||
        (s = yd_int(d, yd_get(c->n, "depth_multiplier"), "depth_multiplier", false, 1, 1, 64, &dm, err)) ||
        (s = yd_float(d, yd_get(c->n, "dropout"), "dropout", false, 0.0, 0.0, 0.999999, &drop, err)))
        return s;
    if ((s = add_conv(c, "conv1", NN_OP_CONV2D, (int)mid, 1, 1, 1, 1, 1, 1, c->act)) ||
        (s = add_conv(c, "dw1", NN_OP_DEPTHWISE, 0, 1, 1, 3, 1, 1, (int)dm, c->act)) ||
        (s = add_simple(c, "pool", NN_OP_MAXPOOL, 2, 1, 1, 0)) ||
        (s = add_conv(c, "dw2", NN_OP_DEPTHWISE, 0, 1, 3, 1, 1, 1, (int)dm, c->act)) ||
        (s = add_conv(c, "conv2", NN_OP_CONV2D, (int)out, 1, 2, 1, 1, 2, 1, c->act)))
        return s;
    return drop > 0 ? add_simple(c, "drop", NN_OP_DROPOUT, 1, 1, 1, (float)drop) : NN_OK;
}

static nn_status mobilenet_block(block_ctx *c)
{
    static const char *const keys[] = {BLOCK_KEYS, "filters", "stride", NULL};
    const yd_doc *d = c->b->doc;
    long filters, stride;
    nn_status s;
    if ((s = yd_check_keys(d, c->n, keys, c->block, c->b->err)) || (s = read_common(c, true)) ||
        (s = yd_int(d, yd_get(c->n, "filters"), "filters", true, 0, 1, 1 << 16, &filters, c->b->err)) ||
        (s = yd_int(d, yd_get(c->n, "stride"), "stride", false, 1, 1, 64, &stride, c->b->err)))
        return s;
    if ((s = add_conv(c, "dw", NN_OP_DEPTHWISE, 0, 1, 3, 3, (int)stride, (int)stride, 1, c->act)))
        return s;
    return add_conv(c, "pw", NN_OP_CONV2D, (int)filters, 1, 1, 1, 1, 1, 1, c->act);
}

static nn_status shuffle_unit(block_ctx *c)
{
    static const char *const keys[] = {BLOCK_KEYS, "ch_mid", "filters", "groups", "stride", NULL};
    const yd_doc *d = c->b->doc;
    nn_err *err = c->b->err;
    long mid, filters, groups, stride;
    nn_status s;
    if ((s = yd_check_keys(d, c->n, keys, c->block, err)) || (s = read_common(c, true)) ||
        (s = yd_int(d, yd_get(c->n, "ch_mid"), "ch_mid", true, 0, 1, 1 << 16, &mid, err)) ||
        (s = yd_int(d, yd_get(c->n, "filters"), "filters", true, 0, 1, 1 << 16, &filters, err)) ||
        (s = yd_int(d, yd_get(c->n, "groups"), "groups", true, 0, 1, 1 << 10, &groups, err)) ||
        (s = yd_int(d, yd_get(c->n, "stride"), "stride", false, 1, 1, 64, &stride, err)))
        return s;
    if ((s = add_conv(c, "gconv1", NN_OP_CONV2D, (int)mid, (int)groups, 1, 1, 1, 1, 1, c->act)) ||
        (s = add_simple(c, "shuffle", NN_OP_CHANNEL_SHUFFLE, 1, 1, (int)groups, 0)) ||
        (s = add_conv(c, "dw", NN_OP_DEPTHWISE, 0, 1, 3, 3, (int)stride, (int)stride, 1, SPEC_ACT_NONE)))
        return s;
    return add_conv(c, "gconv2", NN_OP_CONV2D, (int)filters, (int)groups, 1, 1, 1, 1, 1, c->act);
}

nn_status spec_add_block(spec_builder *b, const yd_node *n, const char *name, const char *type, bool *handled)
{
    block_ctx c = {.b = b, .n = n, .block = name};
    *handled = true;
    if (strcmp(type, "effnet_block") == 0)
        return effnet_block(&c);
    if (strcmp(type, "mobilenet_block") == 0)
        return mobilenet_block(&c);
    if (strcmp(type, "shuffle_unit") == 0)
        return shuffle_unit(&c);
    *handled = false;
    return NN_OK;
}
