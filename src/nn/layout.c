/* layout.c — PyTorch <-> engine parameter layouts:
 *   conv2d    OIHW [O][I/g][kh][kw]  <->  [g][kh][kw][I/g][O/g]
 *   depthwise [C*dm][1][kh][kw]      <->  [kh][kw][C*dm]
 *   dense     [out][in_chw]          <->  [in_hwc][out]
 *   per-feature vectors after a flatten of a spatial tensor: CHW order <-> HWC order. */
#include "nn/layout.h"

#include <stdbool.h>

/* Engine index of flat feature f (HWC order) -> PyTorch index (CHW order) for a flattened input. */
static size_t feature_to_torch(nn_shape s, size_t f)
{
    if (!s.src_c)
        return f;
    size_t c = f % (size_t)s.src_c, yx = f / (size_t)s.src_c;
    return c * (size_t)s.src_h * (size_t)s.src_w + yx;
}

/* Copies one element between the engine and PyTorch positions, in the chosen direction. */
typedef struct {
    const float *src;
    float *dst;
    bool to_torch;
} copy_ctx;

static inline void put(copy_ctx *c, size_t engine, size_t torch)
{
    if (c->to_torch)
        c->dst[torch] = c->src[engine];
    else
        c->dst[engine] = c->src[torch];
}

static void convert(const nn_layer *l, int role, const nn_param *p, copy_ctx *c)
{
    if (role == 0 && l->op == NN_OP_CONV2D) {
        size_t G = (size_t)l->groups, O = (size_t)l->units, og = O / G, ig = (size_t)l->in.c / G;
        size_t kh = (size_t)l->kh, kw = (size_t)l->kw;
        for (size_t o = 0; o < O; o++) {
            size_t g = o / og, j = o % og;
            for (size_t i = 0; i < ig; i++)
                for (size_t y = 0; y < kh; y++)
                    for (size_t x = 0; x < kw; x++)
                        put(c, (((g * kh + y) * kw + x) * ig + i) * og + j, ((o * ig + i) * kh + y) * kw + x);
        }
    } else if (role == 0 && l->op == NN_OP_DEPTHWISE) {
        size_t C = (size_t)l->out.c, kh = (size_t)l->kh, kw = (size_t)l->kw;
        for (size_t o = 0; o < C; o++)
            for (size_t y = 0; y < kh; y++)
                for (size_t x = 0; x < kw; x++)
                    put(c, (y * kw + x) * C + o, (o * kh + y) * kw + x);
    } else if (role == 0 && l->op == NN_OP_DENSE) {
        size_t in = nn_shape_size(l->in), out = (size_t)l->units;
        for (size_t f = 0; f < in; f++) {
            size_t t = feature_to_torch(l->in, f);
            for (size_t o = 0; o < out; o++)
                put(c, f * out + o, o * in + t);
        }
    } else if (l->op == NN_OP_BATCHNORM) {
        for (size_t f = 0; f < p->count; f++)
            put(c, f, feature_to_torch(l->in, f));
    } else {
        for (size_t i = 0; i < p->count; i++)
            put(c, i, i);
    }
}

void nn_layout_from_torch(const nn_layer *l, int role, const nn_param *p, const float *src, float *dst)
{
    copy_ctx c = {src, dst, false};
    convert(l, role, p, &c);
}

void nn_layout_to_torch(const nn_layer *l, int role, const nn_param *p, const float *src, float *dst)
{
    copy_ctx c = {src, dst, true};
    convert(l, role, p, &c);
}
