/* dev_layout.c — the CUDA backend's host-side arithmetic (dev_layout.h): aligned device offsets
 * of the parameter tensors, packing to and from the device image, the choice of a cuDNN
 * algorithm from its ranked list and a convolution's forward route. Plain C, no CUDA. */
#include "nn/dev_layout.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int cmp_tensor(const void *a, const void *b)
{
    const nn_dev_tensor *x = a, *y = b;
    if (x->host_off != y->host_off)
        return x->host_off < y->host_off ? -1 : 1;
    return x->count < y->count ? -1 : x->count > y->count;
}

nn_status nn_dev_params_build(nn_dev_params *d, const size_t *host_off, const size_t *count, int n,
                              size_t host_floats, nn_err *err)
{
    memset(d, 0, sizeof *d);
    d->host_floats = host_floats;
    d->t = calloc(n > 0 ? (size_t)n : 1, sizeof *d->t);
    if (!d->t)
        return nn_fail(err, NN_E_NOMEM, "device parameter layout: out of memory for %d tensors", n);
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (!count[i])
            continue;
        if (host_off[i] > host_floats || count[i] > host_floats - host_off[i]) {
            nn_dev_params_free(d);
            return nn_fail(err, NN_E_ARG, "device parameter layout: tensor at %zu (%zu floats) leaves the block of %zu",
                           host_off[i], count[i], host_floats);
        }
        d->t[m++] = (nn_dev_tensor){.host_off = host_off[i], .count = count[i]};
    }
    qsort(d->t, (size_t)m, sizeof *d->t, cmp_tensor);
    int k = 0;
    for (int i = 0; i < m; i++) {
        if (k && d->t[i].host_off == d->t[k - 1].host_off && d->t[i].count == d->t[k - 1].count)
            continue; /* the same tensor named twice (a parameter several steps read) */
        if (k && d->t[i].host_off < d->t[k - 1].host_off + d->t[k - 1].count) {
            size_t a = d->t[k - 1].host_off, b = d->t[i].host_off;
            nn_dev_params_free(d);
            return nn_fail(err, NN_E_ARG, "device parameter layout: tensors at %zu and %zu overlap", a, b);
        }
        d->t[k++] = d->t[i];
    }
    d->n = k;
    size_t off = 0;
    for (int i = 0; i < k; i++) {
        d->t[i].dev_off = off;
        off += nn_dev_align(d->t[i].count * sizeof(float)) / sizeof(float);
    }
    d->dev_floats = off ? off : NN_DEV_ALIGN_FLOATS;
    return NN_OK;
}

void nn_dev_params_free(nn_dev_params *d)
{
    free(d->t);
    memset(d, 0, sizeof *d);
}

size_t nn_dev_params_map(const nn_dev_params *d, size_t host_off)
{
    int lo = 0, hi = d->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        const nn_dev_tensor *t = &d->t[mid];
        if (host_off < t->host_off)
            hi = mid - 1;
        else if (host_off >= t->host_off + t->count)
            lo = mid + 1;
        else
            return t->dev_off + (host_off - t->host_off);
    }
    return SIZE_MAX;
}

void nn_dev_params_pack(const nn_dev_params *d, float *dev, const float *host)
{
    memset(dev, 0, d->dev_floats * sizeof *dev);
    for (int i = 0; i < d->n; i++)
        memcpy(dev + d->t[i].dev_off, host + d->t[i].host_off, d->t[i].count * sizeof *dev);
}

void nn_dev_params_unpack(const nn_dev_params *d, float *host, const float *dev)
{
    for (int i = 0; i < d->n; i++)
        memcpy(host + d->t[i].host_off, dev + d->t[i].dev_off, d->t[i].count * sizeof *host);
}

nn_status nn_dev_params_graph(nn_dev_params *d, const nn_graph *g, nn_err *err)
{
    int n = g->n_params;
    size_t *off = calloc(n > 0 ? (size_t)n : 1, sizeof *off), *cnt = calloc(n > 0 ? (size_t)n : 1, sizeof *cnt);
    nn_status s = NN_OK;
    if (!off || !cnt)
        s = nn_fail(err, NN_E_NOMEM, "%s: out of memory", g->name);
    for (int i = 0; !s && i < n; i++)
        off[i] = g->params[i].offset, cnt[i] = g->params[i].count;
    if (!s)
        s = nn_dev_params_build(d, off, cnt, n, g->n_param_floats, err);
    free(off);
    free(cnt);
    return s;
}

size_t nn_layer_param_floats(const nn_layer *l, int k)
{
    const size_t cin = (size_t)l->in.c, cout = (size_t)l->out.c;
    switch (l->op) {
    case NN_OP_CONV2D:
        return k == 0 ? cout * (cin / (size_t)(l->groups > 0 ? l->groups : 1)) * (size_t)l->kh * (size_t)l->kw
             : k == 1 ? cout : 0;
    case NN_OP_DEPTHWISE:
        return k == 0 ? cout * (size_t)l->kh * (size_t)l->kw : k == 1 ? cout : 0;
    case NN_OP_DENSE:
        return k == 0 ? cout * nn_shape_size(l->in) : k == 1 ? cout : 0;
    case NN_OP_BATCHNORM:
        return k >= 0 && k < 4 ? cin : 0;
    default:
        return 0;
    }
}

int nn_algo_pick(const nn_algo_cand *c, int n, size_t cap, const int *pinned, int n_pinned)
{
    for (int i = 0; i < n; i++) {
        if (!c[i].ok || !c[i].fp32 || c[i].ws > cap)
            continue;
        bool allowed = n_pinned <= 0;
        for (int j = 0; j < n_pinned && !allowed; j++)
            allowed = pinned[j] == c[i].algo;
        if (allowed)
            return i;
    }
    return -1;
}

nn_conv_route nn_conv_route_pick(bool direct, bool small, bool cached, bool heuristic_found)
{
    if (direct || small)
        return NN_CONV_DIRECT;
    if (cached)
        return NN_CONV_SLOT;
    return heuristic_found ? NN_CONV_HEURISTIC : NN_CONV_DIRECT;
}

const char *nn_cudnn_algo_name(nn_conv_pass pass, int algo)
{
    static const char *const fwd[] = {"IMPLICIT_GEMM", "IMPLICIT_PRECOMP_GEMM", "GEMM", "DIRECT",
                                      "FFT", "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
    static const char *const data[] = {"ALGO_0", "ALGO_1", "FFT", "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
    static const char *const filter[] = {"ALGO_0", "ALGO_1", "FFT", "ALGO_3", "WINOGRAD", "WINOGRAD_NONFUSED",
                                         "FFT_TILING"};
    const char *const *t = pass == NN_PASS_FWD ? fwd : pass == NN_PASS_BWD_DATA ? data : filter;
    int n = pass == NN_PASS_FWD ? 8 : pass == NN_PASS_BWD_DATA ? 6 : 7;
    return algo >= 0 && algo < n ? t[algo] : "?";
}

int nn_cudnn_pinned(nn_conv_pass pass, const int **list)
{
    static const int fwd[] = {0, 1, 2, 3}, data[] = {0, 1}, filter[] = {0, 1, 3};
    *list = pass == NN_PASS_FWD ? fwd : pass == NN_PASS_BWD_DATA ? data : filter;
    return pass == NN_PASS_FWD ? 4 : pass == NN_PASS_BWD_DATA ? 2 : 3;
}
