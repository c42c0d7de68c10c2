/* npy.c — NumPy .npy reader (format 1.0/2.0/3.0; little-endian integer and float dtypes
 * converted to float32, C order only) and atomic '<f4' writer (format 1.0).
 * File: "\x93NUMPY", major, minor, header length (u16 LE for 1.0, u32 LE for 2.0/3.0), a
 * Python dict literal {'descr': ..., 'fortran_order': ..., 'shape': (...), } padded with
 * spaces and ending in '\n', then the raw data. All errors are NN_E_PARSE except I/O. */
#include "nn/format/npy.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/file_read.h"
#include "common/quote.h"
#include "nn/format/fmtio.h"
#include "nn/graph.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "npy.c assumes a little-endian host"
#endif

#define NPY_MAX_HEADER (1u << 20) /* header dicts are < 100 bytes in practice */

typedef struct {
    const char *path;
    const uint8_t *s;
    size_t len, pos;
    nn_err *err;
} hdr_cur;

/* Positions a header error; the header's bytes are never echoed (common/quote.h). */
static nn_status hfail(hdr_cur *h, const char *what)
{
    return nn_fail(h->err, NN_E_PARSE, "%s: header: %s at byte %zu", h->path, what, h->pos);
}

static void hws(hdr_cur *h)
{
    while (h->pos < h->len && (h->s[h->pos] == ' ' || h->s[h->pos] == '\t' || h->s[h->pos] == '\n' ||
                               h->s[h->pos] == '\r'))
        h->pos++;
}

/* Skips whitespace and consumes ch. */
static bool heat(hdr_cur *h, char ch)
{
    hws(h);
    if (h->pos < h->len && h->s[h->pos] == (uint8_t)ch) {
        h->pos++;
        return true;
    }
    return false;
}

/* A quoted Python string without escapes ('...' or "..."), copied (truncated) into out. */
static bool hstr(hdr_cur *h, char *out, size_t cap)
{
    hws(h);
    if (h->pos >= h->len || (h->s[h->pos] != '\'' && h->s[h->pos] != '"'))
        return false;
    uint8_t quote = h->s[h->pos];
    size_t i = h->pos + 1, n = 0;
    for (; i < h->len && h->s[i] != quote; i++) {
        if (h->s[i] == '\\' || h->s[i] < 0x20)
            return false;
        if (n + 1 < cap)
            out[n++] = (char)h->s[i];
    }
    if (i >= h->len)
        return false;
    out[n] = '\0';
    h->pos = i + 1;
    return true;
}

/* A non-negative decimal integer (Python 2 files may append 'L'). */
static bool hint(hdr_cur *h, int64_t *out)
{
    hws(h);
    size_t i = h->pos;
    int64_t v = 0;
    if (i >= h->len || h->s[i] < '0' || h->s[i] > '9')
        return false;
    for (; i < h->len && h->s[i] >= '0' && h->s[i] <= '9'; i++) {
        int d = h->s[i] - '0';
        if (v > (INT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (i < h->len && h->s[i] == 'L')
        i++;
    h->pos = i;
    *out = v;
    return true;
}

static bool hword(hdr_cur *h, const char *w)
{
    size_t n = strlen(w);
    hws(h);
    if (h->len - h->pos < n || memcmp(h->s + h->pos, w, n) != 0)
        return false;
    size_t e = h->pos + n;
    if (e < h->len && (h->s[e] == '_' || (h->s[e] >= 'a' && h->s[e] <= 'z') || (h->s[e] >= 'A' && h->s[e] <= 'Z') ||
                       (h->s[e] >= '0' && h->s[e] <= '9')))
        return false;
    h->pos = e;
    return true;
}

/* "(d0, d1, ...)": "()" is a scalar, one element needs a trailing comma "(5,)". */
static nn_status hshape(hdr_cur *h, npy_array *a)
{
    if (!heat(h, '('))
        return hfail(h, "'shape' must be a tuple");
    if (heat(h, ')'))
        return NN_OK;
    for (;;) {
        int64_t v;
        if (!hint(h, &v))
            return hfail(h, "'shape' entries must be non-negative integers");
        if (a->ndim == NPY_MAX_DIMS)
            return nn_fail(h->err, NN_E_PARSE, "%s: header: 'shape' has more than %d dimensions", h->path,
                           NPY_MAX_DIMS);
        a->dims[a->ndim++] = v;
        bool comma = heat(h, ',');
        if (heat(h, ')')) {
            if (a->ndim == 1 && !comma)
                return hfail(h, "'shape' (n) is not a tuple, expected (n,)");
            return NN_OK;
        }
        if (!comma)
            return hfail(h, "expected ',' or ')' in 'shape'");
    }
}

typedef enum { K_FLOAT, K_INT, K_UINT } npy_kind;

/* An unsupported descr for messages: shown when it has a dtype's form (byte order, kind letter,
 * up to 3 digits, a datetime unit: '|b1', '>f4', '<U10', '<M8[D]'), else under the rule of
 * common/quote.h. */
static const char *dtype_str(char buf[CM_QUOTE_LEN], const char *d)
{
    size_t n = strlen(d), k = (n && strchr("<>|=", d[0])) ? 1 : 0;
    bool form = n <= 10 && k < n && ((d[k] >= 'a' && d[k] <= 'z') || (d[k] >= 'A' && d[k] <= 'Z'));
    for (k++; form && k < n && d[k] >= '0' && d[k] <= '9'; k++)
        ;
    if (form && k < n && d[k] == '[' && d[n - 1] == ']')
        for (k++; k < n - 1 && ((d[k] >= 'a' && d[k] <= 'z') || (d[k] >= 'A' && d[k] <= 'Z')); k++)
            ;
    if (!form || (k < n && !(d[k] == ']' && k == n - 1)))
        return cm_quote(buf, d);
    snprintf(buf, CM_QUOTE_LEN, "'%s'", d);
    return buf;
}

/* Accepts [<=|]{f2,f4,f8,i1,i2,i4,i8,u1,u2,u4,u8} ('|' and '>' only for 1-byte types). */
static bool parse_descr(const char *d, npy_kind *kind, int *size)
{
    if (strlen(d) != 3 || !strchr("<=|>", d[0]) || !strchr("fiu", d[1]) || !strchr("1248", d[2]))
        return false;
    *kind = d[1] == 'f' ? K_FLOAT : d[1] == 'i' ? K_INT : K_UINT;
    *size = d[2] - '0';
    if (*kind == K_FLOAT && *size == 1)
        return false;
    if (*size > 1 && (d[0] == '|' || d[0] == '>'))
        return false;
    return true;
}

static float half_to_float(uint16_t h)
{
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    float v;
    if (e == 0)
        v = ldexpf((float)m, -24);
    else if (e == 31)
        v = m ? NAN : INFINITY;
    else
        v = ldexpf((float)(m | 0x400), e - 25);
    return (h & 0x8000) ? -v : v;
}

/* double → float with IEEE round-to-nearest overflow to ±inf, without C's undefined behaviour. */
static float double_to_float(double d)
{
    if (d > FLT_MAX || d < -FLT_MAX) {
        double ad = fabs(d);
        float r = ad < 0x1.ffffffp127 ? FLT_MAX : INFINITY;
        return d < 0 ? -r : r;
    }
    return (float)d;
}

static float convert_one(const uint8_t *p, npy_kind kind, int size)
{
    uint64_t u = 0;
    memcpy(&u, p, (size_t)size); /* little-endian host: low bytes first */
    if (kind == K_FLOAT) {
        if (size == 2)
            return half_to_float((uint16_t)u);
        if (size == 4) {
            float f;
            memcpy(&f, p, 4);
            return f;
        }
        double d;
        memcpy(&d, p, 8);
        return double_to_float(d);
    }
    if (kind == K_UINT)
        return (float)u;
    int sh = 64 - 8 * size; /* sign-extend */
    int64_t v = (int64_t)(u << sh) >> sh;
    return (float)v;
}

nn_status npy_parse(npy_array *a, const uint8_t *buf, size_t len, const char *name_for_errors, nn_err *err)
{
    const char *path = name_for_errors ? name_for_errors : "(buffer)";
    memset(a, 0, sizeof *a);
    if (!buf)
        len = 0;
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6) != 0)
        return nn_fail(err, NN_E_PARSE, "%s: not a .npy file (no \\x93NUMPY magic)", path);
    int major = buf[6], minor = buf[7];
    size_t off, hlen;
    if (major == 1 && minor == 0) {
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
        off = 10;
    } else if ((major == 2 || major == 3) && minor == 0) {
        if (len < 12)
            return nn_fail(err, NN_E_PARSE, "%s: truncated header (%zu bytes)", path, len);
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
        off = 12;
    } else {
        return nn_fail(err, NN_E_PARSE, "%s: unsupported .npy format version %d.%d", path, major, minor);
    }
    if (hlen > NPY_MAX_HEADER)
        return nn_fail(err, NN_E_PARSE, "%s: header length %zu exceeds the limit of %u bytes", path, hlen,
                       NPY_MAX_HEADER);
    if (hlen > len - off)
        return nn_fail(err, NN_E_PARSE, "%s: truncated header: length %zu but only %zu bytes follow", path, hlen,
                       len - off);

    hdr_cur h = {.path = path, .s = buf + off, .len = hlen, .err = err};
    char descr[40] = "", key[32], qb[CM_QUOTE_LEN];
    bool fortran = false, has_descr = false, has_fortran = false, has_shape = false;
    nn_status s;
    if (!heat(&h, '{'))
        return hfail(&h, "expected a dict '{'");
    while (!heat(&h, '}')) {
        if (!hstr(&h, key, sizeof key))
            return hfail(&h, "expected a quoted key");
        if (!heat(&h, ':'))
            return hfail(&h, "expected ':'");
        bool dup;
        if (strcmp(key, "descr") == 0) {
            dup = has_descr;
            has_descr = true;
            if (!hstr(&h, descr, sizeof descr))
                return nn_fail(err, NN_E_PARSE, "%s: unsupported dtype (structured or non-string 'descr')", path);
        } else if (strcmp(key, "fortran_order") == 0) {
            dup = has_fortran;
            has_fortran = true;
            if (hword(&h, "True"))
                fortran = true;
            else if (hword(&h, "False"))
                fortran = false;
            else
                return hfail(&h, "'fortran_order' must be True or False");
        } else if (strcmp(key, "shape") == 0) {
            dup = has_shape;
            has_shape = true;
            if (!dup && (s = hshape(&h, a)) != NN_OK)
                return s;
        } else {
            return nn_fail(err, NN_E_PARSE, "%s: header: unknown key %s", path, cm_quote(qb, key));
        }
        if (dup)
            return nn_fail(err, NN_E_PARSE, "%s: header: duplicate key '%s'", path, key);
        if (!heat(&h, ',')) {
            if (!heat(&h, '}'))
                return hfail(&h, "expected ',' or '}'");
            break;
        }
    }
    hws(&h);
    if (h.pos != h.len)
        return hfail(&h, "unexpected characters after the dict");
    const char *missing = !has_descr ? "descr" : !has_fortran ? "fortran_order" : !has_shape ? "shape" : NULL;
    if (missing)
        return nn_fail(err, NN_E_PARSE, "%s: header: missing '%s'", path, missing);

    npy_kind kind;
    int size;
    if (!parse_descr(descr, &kind, &size))
        return nn_fail(err, NN_E_PARSE, "%s: unsupported dtype %s (numeric little-endian only: f2 f4 f8 i1-i8 u1-u8)",
                       path, dtype_str(qb, descr));
    if (fortran)
        return nn_fail(err, NN_E_PARSE, "%s: fortran_order True is not supported (save a C-order array)", path);
    size_t count = 1;
    bool zero = false;
    for (int i = 0; i < a->ndim; i++)
        zero |= a->dims[i] == 0;
    for (int i = 0; i < a->ndim && !zero; i++) {
        if ((uint64_t)a->dims[i] > SIZE_MAX / (size_t)size / count)
            return nn_fail(err, NN_E_PARSE, "%s: shape is too large", path);
        count *= (size_t)a->dims[i];
    }
    if (zero)
        count = 0;
    size_t need = count * (size_t)size, have = len - off - hlen;
    if (have < need)
        return nn_fail(err, NN_E_PARSE, "%s: truncated: expected %zu bytes of data, found %zu", path, need, have);
    if (have > need)
        return nn_fail(err, NN_E_PARSE, "%s: expected %zu bytes of data, found %zu (%zu trailing bytes)", path, need,
                       have, have - need);
    float *data = malloc((count ? count : 1) * sizeof *data);
    if (!data)
        return nn_fail(err, NN_E_NOMEM, "%s: out of memory for %zu floats", path, count);
    const uint8_t *p = buf + off + hlen;
    if (kind == K_FLOAT && size == 4)
        memcpy(data, p, need);
    else
        for (size_t i = 0; i < count; i++)
            data[i] = convert_one(p + i * (size_t)size, kind, size);
    a->data = data;
    a->count = count;
    return NN_OK;
}

/* The largest .npy input read (a file or a stream): 1 GiB, 256 Mi float32 values. */
#define NPY_MAX_FILE ((size_t)1 << 30)

nn_status npy_read(npy_array *a, const char *path, nn_err *err)
{
    char *buf;
    size_t len;
    memset(a, 0, sizeof *a);
    nn_status s = cm_read_input(path, NPY_MAX_FILE, &buf, &len, err);
    if (s != NN_OK)
        return s;
    s = npy_parse(a, (const uint8_t *)buf, len, path, err);
    free(buf);
    return s;
}

void npy_free(npy_array *a)
{
    if (!a)
        return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

nn_status npy_write_f32(const char *path, const float *data, int ndim, const int64_t *dims, nn_err *err)
{
    if (!path || ndim < 0 || ndim > NPY_MAX_DIMS || (ndim > 0 && !dims))
        return nn_fail(err, NN_E_ARG, "%s: npy_write_f32: bad ndim %d", path ? path : "(null)", ndim);
    char hdr[512];
    memcpy(hdr, "\x93NUMPY\x01\x00", 8); /* bytes 8-9: header length, filled below */
    size_t n = 10 + (size_t)snprintf(hdr + 10, sizeof hdr - 10, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    size_t count = 1;
    bool zero = false;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0)
            return nn_fail(err, NN_E_ARG, "%s: negative dimension %lld", path, (long long)dims[i]);
        zero |= dims[i] == 0;
        n += (size_t)snprintf(hdr + n, sizeof hdr - n, i ? ", %lld" : "%lld", (long long)dims[i]);
    }
    for (int i = 0; i < ndim && !zero; i++) {
        if ((uint64_t)dims[i] > SIZE_MAX / sizeof(float) / count)
            return nn_fail(err, NN_E_ARG, "%s: shape is too large", path);
        count *= (size_t)dims[i];
    }
    if (zero)
        count = 0;
    if (count > 0 && !data)
        return nn_fail(err, NN_E_ARG, "%s: no data", path);
    n += (size_t)snprintf(hdr + n, sizeof hdr - n, "%s), }", ndim == 1 ? "," : "");
    /* Pad with spaces so that magic + length + header (ending in '\n') is a multiple of 64. */
    size_t total = (n + 1 + 63) / 64 * 64;
    memset(hdr + n, ' ', total - 1 - n);
    hdr[total - 1] = '\n';
    size_t hlen = total - 10;
    hdr[8] = (char)(hlen & 0xff);
    hdr[9] = (char)(hlen >> 8);

    fmt_atomic at;
    nn_status s = fmt_atomic_open(&at, path, err);
    if (s == NN_OK)
        s = fmt_atomic_write(&at, hdr, total, err);
    if (s == NN_OK && count > 0)
        s = fmt_atomic_write(&at, data, count * sizeof(float), err);
    if (s == NN_OK)
        s = fmt_atomic_commit(&at, err);
    return s;
}
