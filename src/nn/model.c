/* model.c — nn_model: an architecture plus its parameters in engine layout. Loads safetensors
 * (PyTorch names and layouts, every tensor checked), writes them back, He initialisation. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/quote.h"
#include "common/sha256.h"
#include "nn/format/safetensors.h"
#include "nn/graph.h"
#include "nn/layout.h"

static void set_identity_bn(nn_model *m)
{
    const nn_graph *g = &m->g;
    for (int i = 0; i < g->n_layers; i++) {
        const nn_layer *l = &g->layers[i];
        if (l->op != NN_OP_BATCHNORM)
            continue;
        const nn_param *gamma = nn_layer_param(g, l, 0), *var = nn_layer_param(g, l, 3);
        for (size_t k = 0; k < gamma->count; k++) {
            m->params[gamma->offset + k] = 1.0f;
            m->params[var->offset + k] = 1.0f;
        }
    }
}

nn_status nn_model_load_spec(nn_model **out, const char *spec_path, nn_err *err)
{
    *out = NULL;
    nn_model *m = calloc(1, sizeof *m);
    if (!m)
        return nn_fail(err, NN_E_NOMEM, "%s: out of memory", spec_path);
    nn_status s = nn_graph_parse_file(&m->g, spec_path, err);
    if (s) {
        free(m);
        return s;
    }
    m->params = calloc(m->g.n_param_floats ? m->g.n_param_floats : 1, sizeof *m->params);
    if (!m->params) {
        size_t n = m->g.n_param_floats;
        nn_model_free(m);
        return nn_fail(err, NN_E_NOMEM, "%s: out of memory for %zu parameters", spec_path, n);
    }
    set_identity_bn(m);
    *out = m;
    return NN_OK;
}

void nn_model_free(nn_model *m)
{
    if (!m)
        return;
    nn_graph_free(&m->g);
    free(m->params);
    free(m);
}

const char *nn_model_name(const nn_model *m) { return m->g.name; }
const char *nn_model_checksum(const nn_model *m) { return m->checksum; }
const char *nn_model_weights(const nn_model *m) { return m->weights; }

void nn_model_input_shape(const nn_model *m, int *h, int *w, int *c)
{
    *h = m->g.in_h;
    *w = m->g.in_w;
    *c = m->g.in_c;
}

int nn_model_output_size(const nn_model *m) { return (int)nn_shape_size(m->g.layers[m->g.n_layers - 1].out); }

/* Finds the layer and role owning parameter index pi. */
static const nn_layer *param_owner(const nn_graph *g, int pi, int *role)
{
    for (int i = 0; i < g->n_layers; i++) {
        const nn_layer *l = &g->layers[i];
        if (pi >= l->param_first && pi < l->param_first + l->n_params) {
            *role = pi - l->param_first;
            return l;
        }
    }
    return NULL;
}

static void dims_str(char *buf, size_t cap, int ndim, const int64_t *d64, const int *d32)
{
    size_t used = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%lld", i ? ", " : "",
                                 d64 ? (long long)d64[i] : (long long)d32[i]);
    if (used < cap)
        snprintf(buf + used, cap - used, "]");
}

static bool is_ignored_extra(const nn_graph *g, const char *name)
{
    const char *suffix = ".num_batches_tracked";
    size_t n = strlen(name), k = strlen(suffix);
    if (n <= k || strcmp(name + n - k, suffix) != 0)
        return false;
    for (int i = 0; i < g->n_layers; i++)
        if (g->layers[i].op == NN_OP_BATCHNORM && strlen(g->layers[i].name) == n - k &&
            strncmp(g->layers[i].name, name, n - k) == 0)
            return true;
    return false;
}

/* Every value of tensor p (PyTorch order, as in the file) is finite, and a batch norm's
 * running_var is >= 0; the error names the tensor, the index and the value. */
static nn_status check_values(const st_file *f, const nn_layer *l, int role, const nn_param *p, const float *v,
                              nn_err *err)
{
    bool var = l->op == NN_OP_BATCHNORM && role == NN_PARAM_RUNNING_VAR;
    for (size_t k = 0; k < p->count; k++) {
        if (!isfinite(v[k]))
            return nn_fail(err, NN_E_WEIGHTS, "%s: tensor '%s': value %g at index %zu (must be finite)", f->path,
                           p->name, (double)v[k], k);
        if (var && v[k] < 0.0f)
            return nn_fail(err, NN_E_WEIGHTS, "%s: tensor '%s': value %g at index %zu (must be >= 0)", f->path,
                           p->name, (double)v[k], k);
    }
    return NN_OK;
}

static nn_status load_tensors(nn_model *m, const st_file *f, nn_err *err)
{
    const nn_graph *g = &m->g;
    float *tmp = malloc((g->n_param_floats ? g->n_param_floats : 1) * sizeof *tmp);
    if (!tmp)
        return nn_fail(err, NN_E_NOMEM, "%s: out of memory", f->path);
    nn_status s = NN_OK;
    for (int pi = 0; pi < g->n_params && !s; pi++) {
        const nn_param *p = &g->params[pi];
        const st_tensor *t = st_find(f, p->name);
        char want[64], got[64];
        dims_str(want, sizeof want, p->ndim, NULL, p->dims);
        if (!t) {
            s = nn_fail(err, NN_E_WEIGHTS, "%s: missing tensor \"%s\" (F32 %s) required by %s", f->path, p->name, want,
                        g->path);
            break;
        }
        bool f16 = strcmp(t->dtype, "F16") == 0;
        if (!f16 && strcmp(t->dtype, "F32") != 0) {
            s = nn_fail(err, NN_E_WEIGHTS, "%s: tensor \"%s\": dtype %s, expected F32 or F16", f->path, p->name,
                        t->dtype);
            break;
        }
        bool same = t->ndim == p->ndim;
        for (int k = 0; same && k < p->ndim; k++)
            same = t->dims[k] == p->dims[k];
        if (!same) {
            dims_str(got, sizeof got, t->ndim, t->dims, NULL);
            s = nn_fail(err, NN_E_WEIGHTS, "%s: tensor \"%s\": shape %s, expected %s", f->path, p->name, got, want);
            break;
        }
        int role = 0;
        const nn_layer *l = param_owner(g, pi, &role);
        if (f16) /* converted exactly: every half is a float32 */
            st_f16_to_f32(f->data + t->begin, tmp, p->count);
        else
            memcpy(tmp, f->data + t->begin, p->count * sizeof(float));
        if ((s = check_values(f, l, role, p, tmp, err)))
            break;
        nn_layout_from_torch(l, role, p, tmp, m->params + p->offset);
    }
    free(tmp);
    if (s)
        return s;
    for (int i = 0; i < f->n_tensors; i++) {
        bool known = false;
        for (int pi = 0; pi < g->n_params && !known; pi++)
            known = strcmp(g->params[pi].name, f->tensors[i].name) == 0;
        char qb[CM_QUOTE_LEN];
        if (!known && !is_ignored_extra(g, f->tensors[i].name))
            return nn_fail(err, NN_E_WEIGHTS, "%s: unexpected tensor %s (not a parameter of %s)", f->path,
                           cm_quote(qb, f->tensors[i].name), g->path);
    }
    return NN_OK;
}

nn_status nn_model_load(nn_model **out, const char *spec_path, const char *weights_path, nn_err *err)
{
    nn_model *m;
    nn_status s = nn_model_load_spec(&m, spec_path, err);
    if (s)
        return s;
    st_file f;
    s = st_open(&f, weights_path, err);
    if (s) {
        nn_model_free(m);
        return s;
    }
    s = load_tensors(m, &f, err);
    if (!s) {
        snprintf(m->weights, sizeof m->weights, "%s", weights_path);
        const char *sum = st_meta(&f, "checksum");
        if (sum)
            snprintf(m->checksum, sizeof m->checksum, "%s", sum);
        else
            sha256_tag(f.data, f.data_len, m->checksum);
    }
    st_close(&f);
    if (s) {
        nn_model_free(m);
        return s;
    }
    *out = m;
    return NN_OK;
}

nn_status nn_model_save(const nn_model *m, const char *path, const char *const *extra_meta, nn_err *err)
{
    const nn_graph *g = &m->g;
    float *torch = malloc((g->n_param_floats ? g->n_param_floats : 1) * sizeof *torch);
    st_out_tensor *t = calloc((size_t)(g->n_params ? g->n_params : 1), sizeof *t);
    const char **meta = NULL;
    int n_extra = 0;
    while (extra_meta && extra_meta[2 * n_extra])
        n_extra++;
    meta = calloc((size_t)(2 * n_extra + 3), sizeof *meta);
    if (!torch || !t || !meta) {
        free(torch);
        free(t);
        free(meta);
        return nn_fail(err, NN_E_NOMEM, "%s: out of memory", path);
    }
    for (int pi = 0; pi < g->n_params; pi++) {
        const nn_param *p = &g->params[pi];
        int role = 0;
        const nn_layer *l = param_owner(g, pi, &role);
        nn_layout_to_torch(l, role, p, m->params + p->offset, torch + p->offset);
        t[pi] = (st_out_tensor){p->name, p->ndim, p->dims, torch + p->offset};
    }
    meta[0] = "model";
    meta[1] = g->name;
    for (int i = 0; i < 2 * n_extra; i++)
        meta[2 + i] = extra_meta[i];
    nn_status s = st_write(path, t, g->n_params, meta, NULL, err);
    free(torch);
    free(t);
    free(meta);
    return s;
}

/* splitmix64: a small, well-mixed, reproducible generator for initialisation. */
static uint64_t next_u64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double next_normal(uint64_t *state)
{
    double u1 = ((double)(next_u64(state) >> 11) + 1.0) * 0x1.0p-53;
    double u2 = (double)(next_u64(state) >> 11) * 0x1.0p-53;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void nn_model_init_he(nn_model *m, uint64_t seed)
{
    const nn_graph *g = &m->g;
    uint64_t state = seed;
    memset(m->params, 0, g->n_param_floats * sizeof *m->params);
    set_identity_bn(m);
    for (int i = 0; i < g->n_layers; i++) {
        const nn_layer *l = &g->layers[i];
        size_t fan_in = 0;
        if (l->op == NN_OP_CONV2D)
            fan_in = (size_t)(l->in.c / l->groups) * (size_t)(l->kh * l->kw);
        else if (l->op == NN_OP_DEPTHWISE)
            fan_in = (size_t)(l->kh * l->kw);
        else if (l->op == NN_OP_DENSE)
            fan_in = nn_shape_size(l->in);
        if (!fan_in)
            continue;
        const nn_param *w = nn_layer_param(g, l, 0);
        double std = sqrt(2.0 / (double)fan_in);
        for (size_t k = 0; k < w->count; k++)
            m->params[w->offset + k] = (float)(std * next_normal(&state));
    }
    m->checksum[0] = '\0';
    m->weights[0] = '\0';
}
