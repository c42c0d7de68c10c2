/* imodel.c — the imported model's layer and tensor lists, and the checked writer (imodel.h). */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/file_read.h"
#include "common/quote.h"
#include "import/import.h"
#include "nn/format/safetensors.h"
#include "nn/limits.h"

void imp_init(imp_model *m, const char *src, const char *format)
{
    memset(m, 0, sizeof *m);
    m->src = src;
    m->format = format;
}

void imp_free(imp_model *m)
{
    for (int i = 0; i < m->n_t; i++)
        free(m->t[i].data);
    free(m->t);
    free(m->l);
    m->t = NULL;
    m->l = NULL;
    m->n_t = m->n_l = 0;
}

const char *imp_quote(char buf[IMP_QUOTE_LEN], const char *s)
{
    size_t n = s ? strlen(s) : 0;
    bool ok = s && n <= IMP_QUOTE_LEN - 4;
    for (size_t i = 0; ok && i < n; i++) /* identifier characters, and '/' ':' of exporters' names */
        ok = cm_quote_char((unsigned char)s[i]) || s[i] == '/' || s[i] == ':';
    if (!s)
        snprintf(buf, IMP_QUOTE_LEN, "<none>");
    else if (ok)
        snprintf(buf, IMP_QUOTE_LEN, "'%s'", s);
    else
        snprintf(buf, IMP_QUOTE_LEN, "<%zu bytes, not shown>", n);
    return buf;
}

bool imp_count(const long long *dims, int ndim, size_t *n)
{
    size_t c = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0 || (dims[i] && c > (size_t)NN_MAX_PARAMS / (size_t)dims[i]))
            return false;
        c *= (size_t)dims[i];
    }
    *n = c;
    return true;
}

int imp_find(const imp_model *m, const char *name)
{
    for (int i = m->n_l - 1; i >= 0; i--)
        if (strcmp(m->l[i].name, name) == 0)
            return i;
    return -1;
}

nn_status imp_add(imp_model *m, const char *base, const char *type, const char *const *inputs, int n,
                  imp_layer **out, nn_err *err)
{
    if (n > NN_MAX_INPUTS)
        return nn_fail(err, NN_E_UNSUPPORTED, "%s: a layer with %d inputs (the engine takes at most %d)", m->src, n,
                       NN_MAX_INPUTS);
    if (m->n_l == m->cap_l) {
        int cap = m->cap_l ? 2 * m->cap_l : 32;
        imp_layer *l = realloc(m->l, (size_t)cap * sizeof *l);
        if (!l)
            return nn_fail(err, NN_E_NOMEM, "%s: out of memory", m->src);
        m->l = l;
        m->cap_l = cap;
    }
    char nm[NN_NAME_LEN - 12]; /* room for "_<int>" */
    size_t k = 0;
    for (const char *p = base; *p && k + 1 < sizeof nm; p++) {
        char c = isalnum((unsigned char)*p) ? *p : '_';
        if (c == '_' && (k == 0 || nm[k - 1] == '_'))
            continue;
        nm[k++] = c;
    }
    while (k && nm[k - 1] == '_')
        k--;
    nm[k] = '\0';
    if (!k)
        snprintf(nm, sizeof nm, "%s", type);
    imp_layer *l = &m->l[m->n_l];
    memset(l, 0, sizeof *l);
    snprintf(l->name, sizeof l->name, "%s", nm);
    for (int i = 2; imp_find(m, l->name) >= 0 || strcmp(l->name, "input") == 0; i++)
        snprintf(l->name, sizeof l->name, "%s_%d", nm, i);
    snprintf(l->type, sizeof l->type, "%s", type);
    l->bias = -1;
    l->n_inputs = n;
    for (int i = 0; i < n; i++)
        snprintf(l->inputs[i], sizeof l->inputs[i], "%s", inputs[i]);
    m->n_l++;
    *out = l;
    return NN_OK;
}

bool imp_keys(imp_layer *l, const char *fmt, ...)
{
    size_t used = strlen(l->keys);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(l->keys + used, sizeof l->keys - used, fmt, ap);
    va_end(ap);
    return n >= 0 && (size_t)n < sizeof l->keys - used;
}

nn_status imp_tensor_add(imp_model *m, const char *layer, const char *suffix, int ndim, const int *dims, float *data,
                         nn_err *err)
{
    if (m->n_t == m->cap_t) {
        int cap = m->cap_t ? 2 * m->cap_t : 32;
        imp_tensor *t = realloc(m->t, (size_t)cap * sizeof *t);
        if (!t) {
            free(data);
            return nn_fail(err, NN_E_NOMEM, "%s: out of memory", m->src);
        }
        m->t = t;
        m->cap_t = cap;
    }
    imp_tensor *t = &m->t[m->n_t++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s.%s", layer, suffix);
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        t->dims[i] = dims[i];
    t->data = data;
    return NN_OK;
}

/* ---- writer ---- */

static void write_layer(FILE *f, const imp_layer *l, const char *prev)
{
    fprintf(f, "  - {name: %s, type: %s", l->name, l->type);
    if (l->n_inputs > 1) {
        fputs(", inputs: [", f);
        for (int i = 0; i < l->n_inputs; i++)
            fprintf(f, "%s%s", i ? ", " : "", l->inputs[i]);
        fputc(']', f);
    } else if (l->n_inputs == 1 && strcmp(l->inputs[0], prev) != 0) {
        fprintf(f, ", input: %s", l->inputs[0]);
    }
    fputs(l->keys, f);
    if (l->bias >= 0)
        fprintf(f, ", bias: %s", l->bias ? "true" : "false");
    fputs("}\n", f);
}

static nn_status write_yaml(const imp_model *m, const char *path, const char *name, nn_err *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return nn_fail(err, NN_E_IO, "%s: %s", path, strerror(errno));
    const char *base = strrchr(m->src, '/') ? strrchr(m->src, '/') + 1 : m->src;
    char q[IMP_QUOTE_LEN];
    fprintf(f, "# %s — imported by `steerctl import` from the %s file %s.\n", name, m->format, imp_quote(q, base));
    fputs("# Layers are the engine's primitives (docs/FORMATS.md, section 9); weights in the .safetensors\n"
          "# beside this file. Set `preprocess` (pixel scale/offset, crop) and `output` (classes with labels,\n"
          "# or steering with scale_deg) to what the model was trained with.\n", f);
    fprintf(f, "name: %s\n", name);
    fprintf(f, "description: \"imported from %s\"\n", m->format);
    fprintf(f, "input: {height: %d, width: %d, channels: %d}\n", m->in_h, m->in_w, m->in_c);
    if (m->crop)
        fprintf(f, "preprocess:\n  source: {height: %d, width: %d}\n  crop: {top: %d, bottom: %d, left: %d, right: %d}\n",
                m->src_h, m->src_w, m->top, m->bottom, m->left, m->right);
    fputs("output: {kind: values}\nlayers:\n", f);
    for (int i = 0; i < m->n_l; i++)
        write_layer(f, &m->l[i], i ? m->l[i - 1].name : "input");
    bool bad = ferror(f) != 0;
    if (fclose(f) != 0 || bad) {
        unlink(path);
        return nn_fail(err, NN_E_IO, "%s: write failed", path);
    }
    return NN_OK;
}

/* The engine loads both files and runs a forward pass of its test image. */
static nn_status check_load(const char *yaml, const char *st, nn_err *err)
{
    nn_model *mdl;
    nn_status s = nn_model_load(&mdl, yaml, st, err);
    if (s)
        return s;
    nn_infer *ctx;
    nn_infer_opts io = {.max_batch = 1, .threads = 1, .backend = NN_BACKEND_CPU};
    if (!(s = nn_infer_create_opts(&ctx, mdl, &io, err))) {
        s = nn_infer_selfcheck(ctx, mdl, err);
        nn_infer_free(ctx);
    }
    nn_model_free(mdl);
    return s;
}

nn_status imp_write(const imp_model *m, const char *dir, const char *name, char *yaml_path, size_t cap, nn_err *err)
{
    char ty[1024], ts[1024], fy[1024], fs[1024];
    if ((size_t)snprintf(ty, sizeof ty, "%s/.%s.import.yaml", dir, name) >= sizeof ty ||
        (size_t)snprintf(ts, sizeof ts, "%s/.%s.import.safetensors", dir, name) >= sizeof ts ||
        (size_t)snprintf(fy, sizeof fy, "%s/%s.yaml", dir, name) >= sizeof fy ||
        (size_t)snprintf(fs, sizeof fs, "%s/%s.safetensors", dir, name) >= sizeof fs || strlen(fy) >= cap)
        return nn_fail(err, NN_E_ARG, "%s: path too long", dir);
    st_out_tensor *t = calloc((size_t)m->n_t + 1, sizeof *t);
    if (!t)
        return nn_fail(err, NN_E_NOMEM, "%s: out of memory", m->src);
    for (int i = 0; i < m->n_t; i++)
        t[i] = (st_out_tensor){m->t[i].name, m->t[i].ndim, m->t[i].dims, m->t[i].data};
    const char *base = strrchr(m->src, '/') ? strrchr(m->src, '/') + 1 : m->src;
    char src[200];
    snprintf(src, sizeof src, "%s", base);
    const char *meta[] = {"model", name, "imported_from", src, NULL};
    nn_status s = write_yaml(m, ty, name, err);
    if (!s && !(s = st_write(ts, t, m->n_t, meta, NULL, err)) && !(s = check_load(ty, ts, err))) {
        if (rename(ts, fs) != 0 || rename(ty, fy) != 0) {
            s = nn_fail(err, NN_E_IO, "%s: cannot write into %s: %s", name, dir, strerror(errno));
            unlink(fs);
        }
    }
    free(t);
    if (s) {
        unlink(ty);
        unlink(ts);
        return s;
    }
    snprintf(yaml_path, cap, "%s", fy);
    return NN_OK;
}

nn_status imp_read(imp_model *m, imp_parse_fn parse, nn_err *err)
{
    char *buf;
    size_t len;
    nn_status s = cm_read_regular(m->src, IMP_MAX_FILE, &buf, &len, err);
    if (s)
        return s;
    s = parse(m, (const uint8_t *)buf, len, err);
    free(buf);
    return s;
}
