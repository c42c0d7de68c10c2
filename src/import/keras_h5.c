/* keras_h5.c — Keras 2 `.h5` files through libhdf5 (keras_h5.h). The file is opened as an
 * in-memory image (the core driver), so the reader and its fuzz harness take the same path;
 * HDF5's own error printing is switched off (every failure becomes one error line here). */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import/imodel.h"
#include "import/keras_h5.h"
#include "nn/limits.h"

nn_status kh5_open(kh5 *h, const uint8_t *buf, size_t len, const char *src, nn_err *err)
{
    memset(h, 0, sizeof *h);
    h->file = h->fapl = -1;
    h->src = src;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0 || H5Pset_fapl_core(fapl, 1 << 16, 0) < 0 || H5Pset_file_image(fapl, (void *)buf, len) < 0) {
        if (fapl >= 0)
            H5Pclose(fapl);
        return nn_fail(err, NN_E_NOMEM, "%s: cannot set up the HDF5 reader", src);
    }
    h->fapl = fapl;
    h->file = len >= 8 && memcmp(buf, "\x89HDF\r\n\x1a\n", 8) == 0 ? H5Fopen("image.h5", H5F_ACC_RDONLY, fapl) : -1;
    if (h->file < 0) {
        kh5_close(h);
        return nn_fail(err, NN_E_PARSE, "%s: not a readable HDF5 file (truncated, damaged or another format)", src);
    }
    snprintf(h->weights_root, sizeof h->weights_root, "%s",
             H5Lexists((hid_t)h->file, "model_weights", H5P_DEFAULT) > 0 ? "model_weights" : "");
    return NN_OK;
}

void kh5_close(kh5 *h)
{
    if (h->file >= 0)
        H5Fclose((hid_t)h->file);
    if (h->fapl >= 0)
        H5Pclose((hid_t)h->fapl);
    h->file = h->fapl = -1;
}

/* The strings of attribute `name` of obj (a scalar or a 1-D array; fixed or variable length):
 * *n strings, each malloc'ed, in a malloc'ed array. */
static int read_strings(hid_t obj, const char *name, char ***out, int *n)
{
    *out = NULL;
    *n = 0;
    if (H5Aexists(obj, name) <= 0)
        return -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT), t = a >= 0 ? H5Aget_type(a) : -1, sp = a >= 0 ? H5Aget_space(a) : -1;
    hssize_t cnt = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    int rc = -1;
    if (t >= 0 && H5Tget_class(t) == H5T_STRING && cnt >= 1 && cnt <= 100000) {
        char **v = calloc((size_t)cnt, sizeof *v);
        hid_t mt = H5Tcopy(H5T_C_S1);
        /* Variable-length strings (h5py 3 writes the scalar model_config so) come from HDF5's global
         * heap, whose reader in libhdf5 1.10.8 copies out of bounds on some damaged files (found by
         * fuzz_h5, inside H5HG_read): a known limit, docs/FORMATS.md §9. */
        if (v && mt >= 0 && H5Tis_variable_str(t) > 0) {
            H5Tset_size(mt, H5T_VARIABLE);
            char **raw = calloc((size_t)cnt, sizeof *raw);
            if (raw && H5Aread(a, mt, raw) >= 0) {
                rc = 0;
                for (hssize_t i = 0; i < cnt; i++)
                    if (!(v[i] = strdup(raw[i] ? raw[i] : "")))
                        rc = -1;
                H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, raw);
            }
            free(raw);
        } else if (v && mt >= 0) {
            size_t sz = H5Tget_size(t);
            char *raw = sz && sz < (64u << 20) / (size_t)cnt ? calloc((size_t)cnt, sz) : NULL;
            /* NULLPAD like the file's (numpy 'S'): a NULLTERM copy would drop a full-length string's last byte */
            if (raw && H5Tset_size(mt, sz) >= 0 && H5Tset_strpad(mt, H5T_STR_NULLPAD) >= 0 &&
                H5Aread(a, mt, raw) >= 0) {
                rc = 0;
                for (hssize_t i = 0; i < cnt; i++)
                    if (!(v[i] = strndup(raw + (size_t)i * sz, sz)))
                        rc = -1;
            }
            free(raw);
        }
        if (mt >= 0)
            H5Tclose(mt);
        if (rc == 0) {
            *out = v;
            *n = (int)cnt;
        } else if (v) {
            for (hssize_t i = 0; i < cnt; i++)
                free(v[i]);
            free(v);
        }
    }
    if (sp >= 0)
        H5Sclose(sp);
    if (t >= 0)
        H5Tclose(t);
    if (a >= 0)
        H5Aclose(a);
    return rc;
}

void kh5_free_names(char **v, int n)
{
    for (int i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

nn_status kh5_root_attr(kh5 *h, const char *name, char **out, nn_err *err)
{
    char **v;
    int n;
    if (read_strings((hid_t)h->file, name, &v, &n) != 0 || n != 1) {
        if (v)
            kh5_free_names(v, n);
        return nn_fail(err, NN_E_PARSE, "%s: no string attribute '%s' at the root (not a Keras 2 model.save file)",
                       h->src, name);
    }
    *out = v[0];
    free(v);
    return NN_OK;
}

int kh5_root_has(kh5 *h, const char *name)
{
    return H5Aexists((hid_t)h->file, name) > 0;
}

void kh5_weighted_layers(kh5 *h, char ***names, int *n)
{
    *names = NULL;
    *n = 0;
    hid_t g = H5Gopen2((hid_t)h->file, h->weights_root[0] ? h->weights_root : "/", H5P_DEFAULT);
    char **all = NULL;
    int na = 0;
    if (g < 0 || read_strings(g, "layer_names", &all, &na) != 0) {
        if (g >= 0)
            H5Gclose(g);
        return;
    }
    int k = 0;
    for (int i = 0; i < na; i++) {
        char **w = NULL;
        int nw = 0;
        hid_t lg = !strchr(all[i], '/') && H5Lexists(g, all[i], H5P_DEFAULT) > 0 ? H5Gopen2(g, all[i], H5P_DEFAULT) : -1;
        char *keep = all[i];
        all[i] = NULL;
        if (lg >= 0 && read_strings(lg, "weight_names", &w, &nw) == 0 && nw > 0)
            all[k++] = keep;
        else
            free(keep);
        if (w)
            kh5_free_names(w, nw);
        if (lg >= 0)
            H5Gclose(lg);
    }
    H5Gclose(g);
    *names = all;
    *n = k;
}

/* The full path of the weight of `layer` ending with "/suffix", or "" when none. */
static void weight_path(kh5 *h, const char *layer, const char *suffix, char *path, size_t cap)
{
    path[0] = '\0';
    char grp[NN_NAME_LEN + 32];
    snprintf(grp, sizeof grp, "%s%s%s", h->weights_root, h->weights_root[0] ? "/" : "", layer);
    if (strchr(layer, '/') || H5Lexists((hid_t)h->file, grp, H5P_DEFAULT) <= 0)
        return;
    hid_t g = H5Gopen2((hid_t)h->file, grp, H5P_DEFAULT);
    char **names;
    int n;
    if (g >= 0 && read_strings(g, "weight_names", &names, &n) == 0) {
        size_t sl = strlen(suffix);
        for (int i = 0; i < n && !path[0]; i++) {
            size_t l = strlen(names[i]);
            if (l >= sl && strcmp(names[i] + l - sl, suffix) == 0 && (l == sl || names[i][l - sl - 1] == '/'))
                snprintf(path, cap, "%s/%s", grp, names[i]);
        }
        kh5_free_names(names, n);
    }
    if (g >= 0)
        H5Gclose(g);
}

int kh5_has_weight(kh5 *h, const char *layer, const char *suffix)
{
    char path[512];
    weight_path(h, layer, suffix, path, sizeof path);
    return path[0] != '\0';
}

nn_status kh5_weight(kh5 *h, const char *layer, const char *suffix, float **data, int *ndim, int dims[4],
                     nn_err *err)
{
    char path[512], q[IMP_QUOTE_LEN];
    weight_path(h, layer, suffix, path, sizeof path);
    hid_t d = path[0] && H5Lexists((hid_t)h->file, path, H5P_DEFAULT) > 0 ? H5Dopen2((hid_t)h->file, path, H5P_DEFAULT)
                                                                          : -1;
    if (d < 0)
        return nn_fail(err, NN_E_WEIGHTS, "%s: layer %s: weight '%s' is missing (%s<layer>/<layer>/%s)", h->src,
                       imp_quote(q, layer), suffix, h->weights_root[0] ? "model_weights/" : "", suffix);
    hid_t sp = H5Dget_space(d), t = H5Dget_type(d);
    int r = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    hsize_t hd[4];
    nn_status s = NN_OK;
    long long ld[4];
    size_t cnt = 0;
    if (r < 1 || r > 4 || H5Sget_simple_extent_dims(sp, hd, NULL) < 0 || t < 0 || H5Tget_class(t) != H5T_FLOAT) {
        s = nn_fail(err, NN_E_WEIGHTS, "%s: layer %s: weight '%s' is not a float tensor of rank 1 to 4", h->src,
                    imp_quote(q, layer), suffix);
    } else {
        for (int i = 0; i < r; i++)
            ld[i] = hd[i] > (hsize_t)NN_MAX_PARAMS ? -1 : (long long)hd[i];
        if (!imp_count(ld, r, &cnt))
            s = nn_fail(err, NN_E_WEIGHTS, "%s: layer %s: weight '%s' is too large", h->src, imp_quote(q, layer),
                        suffix);
    }
    float *f = s ? NULL : malloc((cnt ? cnt : 1) * sizeof *f);
    if (!s && !f)
        s = nn_fail(err, NN_E_NOMEM, "%s: out of memory", h->src);
    if (!s && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, f) < 0)
        s = nn_fail(err, NN_E_WEIGHTS, "%s: layer %s: weight '%s' cannot be read", h->src, imp_quote(q, layer), suffix);
    if (t >= 0)
        H5Tclose(t);
    if (sp >= 0)
        H5Sclose(sp);
    H5Dclose(d);
    if (s) {
        free(f);
        return s;
    }
    *data = f;
    *ndim = r;
    for (int i = 0; i < r; i++)
        dims[i] = (int)ld[i];
    return NN_OK;
}
