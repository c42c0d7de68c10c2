/* onnx_tf.c — the shape-only operators that tf2onnx (and PyTorch around global pooling) leave on
 * computed tensors: Squeeze of the 1x1 spatial dimensions after GlobalAveragePool / ReduceMean
 * with keepdims (4-D -> [N, C]) and Unsqueeze of [N, C] back to [N, C, 1, 1] / [N, 1, 1, C], one
 * axis at a time or both; Identity and inference Dropout. The engine's 1x1xC tensor is all of
 * these, so each is a renaming of the value, never a layer. Squeeze and Unsqueeze of constants
 * are folded (onnx_const.c); any other use is one error naming the node, its operator and its
 * axes (docs/FORMATS.md §9). */
#include <stdio.h>
#include <string.h>

#include "import/onnx_internal.h"

/* The axes of the current Squeeze / Unsqueeze of a rank-r value: attribute (opset < 13) or constant
 * input 1, each normalised against r (Unsqueeze: the output's rank), sorted. Returns the count (0:
 * none given), -1 on bad axes. */
static int axes_of(ox_ctx *c, int r, bool un, int *ax, nn_status *s)
{
    int64_t v[OX_MAX_DIMS];
    int n = 0;
    const Onnx__AttributeProto *a = ox_attr(c->node, "axes");
    ox_const *k = ox_konst(c, ox_in(c, 1), s);
    if (*s)
        return -1;
    if (ox_in(c, 1) && (!k || k->is_float || k->n > OX_MAX_DIMS))
        return -1;
    if (k) {
        n = (int)k->n;
        memcpy(v, k->i, (size_t)n * sizeof *v);
    } else if (a && a->n_ints) {
        if (a->n_ints > OX_MAX_DIMS)
            return -1;
        n = (int)a->n_ints;
        memcpy(v, a->ints, (size_t)n * sizeof *v);
    }
    int rank = un ? r + n : r;
    for (int i = 0; i < n; i++) {
        if (v[i] < -rank || v[i] >= rank)
            return -1;
        ax[i] = (int)(v[i] < 0 ? v[i] + rank : v[i]);
        for (int j = i; j > 0 && ax[j - 1] >= ax[j]; j--) {
            if (ax[j - 1] == ax[j])
                return -1;
            int t = ax[j];
            ax[j] = ax[j - 1];
            ax[j - 1] = t;
        }
    }
    return n;
}

nn_status ox_op_squeeze(ox_ctx *c, bool un)
{
    ox_val *x = ox_in(c, 0);
    nn_status s = NN_OK;
    if (!(x && x->kind == OV_VEC3) && (s = ox_tensor_in(c, 0, true, true, &x)))
        return s;
    /* the value as ONNX sees it: rank r, the channels on axis p, every other axis but the batch 1 */
    int r = x->kind == OV_VEC3 ? 3 : x->kind == OV_FLAT ? 2 : 4;
    int p = x->kind == OV_VEC3 ? x->vpos : x->kind == OV_SPATIAL && x->nhwc ? 3 : 1;
    int ax[OX_MAX_DIMS], n = axes_of(c, r, un, ax, &s), np = p, nr;
    if (s)
        return s;
    char what[64];
    if (r == 4)
        snprintf(what, sizeof what, "an %s tensor of %dx%dx%d", x->nhwc ? "NHWC" : "NCHW", x->h, x->w, x->c);
    else
        snprintf(what, sizeof what, "a %d-D tensor", r);
    if (n >= 0 && un && n > 0 && ax[0] > 0) {
        nr = r + n; /* the channels land on the p-th axis that is not a new one */
        for (int i = 0, j = 0, k = 0; i < nr; i++)
            if (k < n && ax[k] == i)
                k++;
            else if (j++ == p)
                np = i;
    } else if (n >= 0 && !un && (n == 0 ? x->c != 1 : ax[0] > 0)) {
        nr = n == 0 ? 2 : r - n; /* none given: every axis of size 1 goes */
        for (int k = 0; k < n; k++)
            if (ax[k] == p)
                n = -1;
            else if (ax[k] < p)
                np--;
        np = n == 0 ? 1 : np;
    } else {
        n = -1;
    }
    bool one = r < 4 || (x->h == 1 && x->w == 1);
    if (n < 0 || !one || !(nr == 2 || nr == 3 || (nr == 4 && np != 2)))
        return ox_fail(c, NN_E_UNSUPPORTED, "attribute axes on %s: only the 1x1 height and width around global "
                       "pooling may be squeezed ([N, C, 1, 1] or [N, 1, 1, C] <-> [N, C])", what);
    if (un && x->kind == OV_FLAT && x->sh * x->sw > 1)
        return ox_fail(c, NN_E_UNSUPPORTED, "unsqueezes a flattened %dx%dx%d tensor (only [N, C] features "
                       "of a 1x1 tensor can become 4-D again)", x->sh, x->sw, x->sc);
    if ((s = ox_alias(c, x, nr == 2 ? OV_FLAT : nr == 3 ? OV_VEC3 : OV_SPATIAL)))
        return s;
    ox_val *o = &c->v[c->n_v - 1];
    o->h = o->w = 1;
    o->nhwc = nr == 4 && np == 3;
    o->vpos = np;
    o->hwc = false;
    o->sh = o->sw = o->sc = 0;
    return NN_OK;
}

nn_status ox_op_identity(ox_ctx *c, bool dropout)
{
    ox_val *x = ox_in(c, 0);
    nn_status s = NN_OK;
    if (!x || x->kind == OV_UNSET)
        return ox_fail(c, NN_E_PARSE, "input 0 is missing");
    if (dropout) { /* opset 12+: training_mode is input 2 (absent: false) */
        ox_val *t = ox_in(c, 2);
        ox_const *k = ox_konst(c, t, &s);
        if (s)
            return s;
        if ((t && (!k || k->n != 1 || ox_at(k, 0) != 0)) || ox_attr_i(c->node, "is_test", 1) == 0)
            return ox_fail(c, NN_E_UNSUPPORTED, "input training_mode: only inference Dropout (a constant false "
                           "training_mode) is supported");
    }
    return ox_alias(c, x, x->kind);
}
