/* safetensors.c — safetensors reader (mmap or caller buffer; every header field validated,
 * __metadata__ "checksum" verified) and atomic F32 writer.
 * Layout: u64 little-endian header length N, N bytes of JSON header, raw little-endian data.
 * Status codes: NN_E_IO open/read/write, NN_E_PARSE file too short / header length / JSON /
 * header structure (keys, types, dtype, names, metadata), NN_E_WEIGHTS tensor geometry
 * (offsets past the data, size != shape x dtype, overlaps), NN_E_CHECKSUM. */
#include "nn/format/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file_read.h"
#include "common/quote.h"
#include "common/sha256.h"
#include "nn/format/fmtio.h"
#include "nn/format/json.h"
#include "nn/graph.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c assumes a little-endian host (the format is little-endian)"
#endif

#define ST_MAX_HEADER 100000000ull /* 100 MB, the reference implementation's limit */
#define ST_META_KEY_LEN ((int)sizeof(((st_meta_kv *)0)->key))
#define ST_META_VAL_LEN ((int)sizeof(((st_meta_kv *)0)->value))

static const struct {
    const char *name;
    size_t size;
} st_dtypes[] = {
    {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8},
    {"I32", 4}, {"I16", 2}, {"I8", 1},  {"U8", 1},   {"BOOL", 1},
};

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, bits;
    if (exp == 0x1f) { /* inf, NaN (payload kept) */
        bits = sign | 0x7f800000u | man << 13;
    } else if (exp) { /* normal: exponent rebiased 15 -> 127 */
        bits = sign | (exp + 112u) << 23 | man << 13;
    } else if (man) { /* subnormal man * 2^-24: normalised */
        uint32_t shift = 0;
        while (!(man & 0x400u)) {
            man <<= 1;
            shift++;
        }
        bits = sign | (113u - shift) << 23 | (man & 0x3ffu) << 13;
    } else { /* ±0 */
        bits = sign;
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

void st_f16_to_f32(const uint8_t *src, float *dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = half_to_float((uint16_t)(src[2 * i] | src[2 * i + 1] << 8));
}

size_t st_dtype_size(const char *dtype)
{
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (strcmp(dtype, st_dtypes[i].name) == 0)
            return st_dtypes[i].size;
    return 0;
}

/* A name or value from the header, for messages: shown only under the rule of common/quote.h. */
static const char *q(char buf[128], const char *s)
{
    _Static_assert(CM_QUOTE_LEN <= 128, "q() buffers hold a cm_quote");
    return cm_quote(buf, s);
}

/* Formats dims as "[2, 3]" (ndim 0 → "[]"). */
static const char *shape_str(char buf[200], const int64_t *dims, int ndim)
{
    size_t n = 0;
    buf[n++] = '[';
    for (int i = 0; i < ndim; i++) {
        n += (size_t)snprintf(buf + n, 200 - n, i ? ", %lld" : "%lld", (long long)dims[i]);
        if (n >= 196) { /* cannot happen with ST_MAX_DIMS int64 values; keep room for "]" */
            n = 196;
            break;
        }
    }
    buf[n++] = ']';
    buf[n] = '\0';
    return buf;
}

/* Element count x element size, or false on overflow. A zero dimension makes the product 0
 * whatever the other dimensions are. */
static bool nbytes(const int64_t *dims, int ndim, size_t esize, size_t *out)
{
    for (int i = 0; i < ndim; i++)
        if (dims[i] == 0) {
            *out = 0;
            return true;
        }
    size_t n = esize;
    for (int i = 0; i < ndim; i++) {
        if ((uint64_t)dims[i] > SIZE_MAX / n)
            return false;
        n *= (size_t)dims[i];
    }
    *out = n;
    return true;
}

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Returns the first name that appears twice in names[0..n) (the array gets sorted), or NULL. */
static const char *find_duplicate(const char **names, int n)
{
    qsort(names, (size_t)n, sizeof *names, cmp_str_ptr);
    for (int i = 1; i < n; i++)
        if (strcmp(names[i - 1], names[i]) == 0)
            return names[i];
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Reader                                                                                     */

typedef struct {
    st_file *f;
    nn_err *err;
    json_cur c;
    int cap_t, cap_m;
    bool seen_meta;
} parser;

/* A JSON value had the wrong type/shape where `what` was expected (cursor's why says how). */
static nn_status bad_field(parser *p, const char *tname, const char *field)
{
    char qb[128];
    if (tname)
        return nn_fail(p->err, NN_E_PARSE, "%s: tensor %s: \"%s\": %s (header byte %zu)", p->f->path,
                       q(qb, tname), field, p->c.why, p->c.pos);
    return nn_fail(p->err, NN_E_PARSE, "%s: %s: %s (header byte %zu)", p->f->path, field, p->c.why, p->c.pos);
}

/* After an element of an object/array: consumes ',' (returns 1) or the closer (returns 0). */
static int next_or_close(parser *p, char closer)
{
    int ch = json_peek(&p->c);
    if (ch == ',' || ch == closer)
        p->c.pos++;
    if (ch == ',')
        return 1;
    if (ch == closer)
        return 0;
    snprintf(p->c.why, sizeof p->c.why, "expected ',' or '%c'", closer);
    return -1;
}

static nn_status parse_meta(parser *p)
{
    st_file *f = p->f;
    char qb[128], qv[128];
    if (p->seen_meta)
        return nn_fail(p->err, NN_E_PARSE, "%s: duplicate \"__metadata__\"", f->path);
    p->seen_meta = true;
    if (!json_eat(&p->c, '{'))
        return bad_field(p, NULL, "__metadata__");
    if (json_peek(&p->c) == '}') {
        p->c.pos++;
        return NN_OK;
    }
    for (;;) {
        if (f->n_meta == p->cap_m) {
            int cap = p->cap_m ? p->cap_m * 2 : 8;
            st_meta_kv *m = cap < (1 << 24) ? realloc(f->meta, (size_t)cap * sizeof *m) : NULL;
            if (!m)
                return nn_fail(p->err, NN_E_NOMEM, "%s: out of memory for %d metadata entries", f->path, cap);
            f->meta = m;
            p->cap_m = cap;
        }
        st_meta_kv *kv = &f->meta[f->n_meta];
        size_t klen, vlen;
        if (!json_string(&p->c, kv->key, sizeof kv->key, &klen) || !json_eat(&p->c, ':'))
            return bad_field(p, NULL, "__metadata__");
        if (klen >= sizeof kv->key)
            return nn_fail(p->err, NN_E_PARSE, "%s: __metadata__ key %s: longer than %d bytes (%zu)", f->path,
                           q(qb, kv->key), ST_META_KEY_LEN - 1, klen);
        if (json_peek(&p->c) != '"')
            return nn_fail(p->err, NN_E_PARSE, "%s: __metadata__ %s: value must be a string", f->path,
                           q(qb, kv->key));
        if (!json_string(&p->c, kv->value, sizeof kv->value, &vlen))
            return bad_field(p, NULL, "__metadata__");
        if (vlen >= sizeof kv->value)
            return nn_fail(p->err, NN_E_PARSE, "%s: __metadata__ %s: value %s longer than %d bytes (%zu)",
                           f->path, q(qb, kv->key), q(qv, kv->value), ST_META_VAL_LEN - 1, vlen);
        f->n_meta++;
        int r = next_or_close(p, '}');
        if (r < 0)
            return bad_field(p, NULL, "__metadata__");
        if (r == 0)
            return NN_OK;
    }
}

/* Parses "[d0, d1, ...]" into t->dims. */
static nn_status parse_shape(parser *p, st_tensor *t)
{
    char qb[128];
    if (!json_eat(&p->c, '['))
        return bad_field(p, t->name, "shape");
    if (json_peek(&p->c) == ']') {
        p->c.pos++;
        return NN_OK;
    }
    for (;;) {
        uint64_t v;
        if (!json_uint(&p->c, &v))
            return bad_field(p, t->name, "shape");
        if (t->ndim == ST_MAX_DIMS)
            return nn_fail(p->err, NN_E_PARSE, "%s: tensor %s: shape has more than %d dimensions", p->f->path,
                           q(qb, t->name), ST_MAX_DIMS);
        if (v > INT64_MAX)
            return nn_fail(p->err, NN_E_PARSE, "%s: tensor %s: shape dimension %llu is too large", p->f->path,
                           q(qb, t->name), (unsigned long long)v);
        t->dims[t->ndim++] = (int64_t)v;
        int r = next_or_close(p, ']');
        if (r < 0)
            return bad_field(p, t->name, "shape");
        if (r == 0)
            return NN_OK;
    }
}

/* Parses "[begin, end]" and checks them against the data section. */
static nn_status parse_offsets(parser *p, st_tensor *t, uint64_t *b, uint64_t *e)
{
    char qb[128];
    if (!json_eat(&p->c, '[') || !json_uint(&p->c, b) || !json_eat(&p->c, ',') || !json_uint(&p->c, e))
        return bad_field(p, t->name, "data_offsets");
    if (!json_eat(&p->c, ']'))
        return nn_fail(p->err, NN_E_PARSE, "%s: tensor %s: \"data_offsets\" must be [begin, end] (header byte %zu)",
                       p->f->path, q(qb, t->name), p->c.pos);
    return NN_OK;
}

static nn_status parse_tensor(parser *p, const char *name, size_t nlen)
{
    st_file *f = p->f;
    char qb[128], qv[128], sb[200];
    if (nlen >= ST_NAME_LEN)
        return nn_fail(p->err, NN_E_PARSE, "%s: tensor %s: name longer than %d bytes (%zu)", f->path,
                       q(qb, name), ST_NAME_LEN - 1, nlen);
    if (f->n_tensors == p->cap_t) {
        int cap = p->cap_t ? p->cap_t * 2 : 16;
        st_tensor *t = cap < (1 << 24) ? realloc(f->tensors, (size_t)cap * sizeof *t) : NULL;
        if (!t)
            return nn_fail(p->err, NN_E_NOMEM, "%s: out of memory for %d tensors", f->path, cap);
        f->tensors = t;
        p->cap_t = cap;
    }
    st_tensor *t = &f->tensors[f->n_tensors];
    memset(t, 0, sizeof *t);
    memcpy(t->name, name, nlen + 1);
    bool has_dtype = false, has_shape = false, has_offsets = false;
    uint64_t b = 0, e = 0;
    size_t esize = 0;
    nn_status s;
    if (!json_eat(&p->c, '{'))
        return nn_fail(p->err, NN_E_PARSE, "%s: tensor %s: expected an object {\"dtype\", \"shape\", "
                       "\"data_offsets\"} (header byte %zu)", f->path, q(qb, name), p->c.pos);
    if (json_peek(&p->c) == '}')
        p->c.pos++;
    else
        for (;;) {
            char key[32], dt[16];
            size_t klen, dlen;
            if (!json_string(&p->c, key, sizeof key, &klen) || !json_eat(&p->c, ':'))
                return bad_field(p, name, "key");
            bool dup = false;
            if (klen == 5 && strcmp(key, "dtype") == 0) {
                dup = has_dtype;
                has_dtype = true;
                if (!dup) {
                    if (!json_string(&p->c, dt, sizeof dt, &dlen))
                        return bad_field(p, name, "dtype");
                    esize = dlen < sizeof dt ? st_dtype_size(dt) : 0;
                    if (esize == 0)
                        return nn_fail(p->err, NN_E_PARSE, "%s: tensor %s: unknown dtype %s", f->path,
                                       q(qb, name), q(qv, dt));
                    memcpy(t->dtype, dt, dlen + 1);
                }
            } else if (klen == 5 && strcmp(key, "shape") == 0) {
                dup = has_shape;
                has_shape = true;
                if (!dup && (s = parse_shape(p, t)) != NN_OK)
                    return s;
            } else if (klen == 12 && strcmp(key, "data_offsets") == 0) {
                dup = has_offsets;
                has_offsets = true;
                if (!dup && (s = parse_offsets(p, t, &b, &e)) != NN_OK)
                    return s;
            } else {
                return nn_fail(p->err, NN_E_PARSE, "%s: tensor %s: unknown key %s", f->path, q(qb, name),
                               q(qv, key));
            }
            if (dup)
                return nn_fail(p->err, NN_E_PARSE, "%s: tensor %s: duplicate key \"%s\"", f->path, q(qb, name), key);
            int r = next_or_close(p, '}');
            if (r < 0)
                return bad_field(p, name, "key");
            if (r == 0)
                break;
        }
    const char *missing = !has_dtype ? "dtype" : !has_shape ? "shape" : !has_offsets ? "data_offsets" : NULL;
    if (missing)
        return nn_fail(p->err, NN_E_PARSE, "%s: tensor %s: missing \"%s\"", f->path, q(qb, name), missing);
    if (b > e)
        return nn_fail(p->err, NN_E_WEIGHTS, "%s: tensor %s: data_offsets [%llu, %llu]: begin is after end",
                       f->path, q(qb, name), (unsigned long long)b, (unsigned long long)e);
    if (e > f->data_len)
        return nn_fail(p->err, NN_E_WEIGHTS, "%s: tensor %s: data_offsets [%llu, %llu] past end of data (%zu bytes)",
                       f->path, q(qb, name), (unsigned long long)b, (unsigned long long)e, f->data_len);
    size_t need;
    if (!nbytes(t->dims, t->ndim, esize, &need))
        return nn_fail(p->err, NN_E_WEIGHTS, "%s: tensor %s: shape %s of %s is too large", f->path, q(qb, name),
                       shape_str(sb, t->dims, t->ndim), t->dtype);
    if (e - b != need)
        return nn_fail(p->err, NN_E_WEIGHTS,
                       "%s: tensor %s: data_offsets [%llu, %llu] hold %llu bytes but shape %s of %s needs %zu",
                       f->path, q(qb, name), (unsigned long long)b, (unsigned long long)e,
                       (unsigned long long)(e - b), shape_str(sb, t->dims, t->ndim), t->dtype, need);
    t->begin = (size_t)b;
    t->end = (size_t)e;
    f->n_tensors++;
    return NN_OK;
}

typedef struct {
    size_t b, e;
    int i;
} st_range;

static int cmp_range(const void *pa, const void *pb)
{
    const st_range *a = pa, *b = pb;
    if (a->b != b->b)
        return a->b < b->b ? -1 : 1;
    if (a->e != b->e)
        return a->e < b->e ? -1 : 1;
    return 0;
}

/* Duplicate names (tensors, metadata keys) and overlapping tensor data. */
static nn_status check_unique(st_file *f, nn_err *err)
{
    char qb[128], qc[128];
    int n = f->n_tensors > f->n_meta ? f->n_tensors : f->n_meta;
    if (n < 2)
        return NN_OK;
    void *mem = malloc((size_t)n * (sizeof(st_range) > sizeof(char *) ? sizeof(st_range) : sizeof(char *)));
    if (!mem)
        return nn_fail(err, NN_E_NOMEM, "%s: out of memory checking %d names", f->path, n);
    const char **names = mem;
    for (int i = 0; i < f->n_tensors; i++)
        names[i] = f->tensors[i].name;
    const char *dup = find_duplicate(names, f->n_tensors);
    if (dup) {
        nn_status s = nn_fail(err, NN_E_PARSE, "%s: duplicate tensor %s", f->path, q(qb, dup));
        free(mem);
        return s;
    }
    for (int i = 0; i < f->n_meta; i++)
        names[i] = f->meta[i].key;
    dup = find_duplicate(names, f->n_meta);
    if (dup) {
        nn_status s = nn_fail(err, NN_E_PARSE, "%s: __metadata__: duplicate key %s", f->path, q(qb, dup));
        free(mem);
        return s;
    }
    st_range *r = mem;
    for (int i = 0; i < f->n_tensors; i++)
        r[i] = (st_range){f->tensors[i].begin, f->tensors[i].end, i};
    if (f->n_tensors > 1)
        qsort(r, (size_t)f->n_tensors, sizeof *r, cmp_range);
    for (int i = 1; i < f->n_tensors; i++)
        if (r[i - 1].e > r[i].b) {
            const st_tensor *a = &f->tensors[r[i - 1].i], *b = &f->tensors[r[i].i];
            nn_status s = nn_fail(err, NN_E_WEIGHTS, "%s: tensor %s data [%zu, %zu] overlaps tensor %s data [%zu, %zu]",
                                  f->path, q(qb, b->name), b->begin, b->end, q(qc, a->name), a->begin, a->end);
            free(mem);
            return s;
        }
    free(mem);
    return NN_OK;
}

static nn_status check_checksum(const st_file *f, nn_err *err)
{
    const char *want = st_meta(f, "checksum");
    char qb[128], got[72];
    if (!want)
        return NN_OK;
    bool ok = strlen(want) == 71 && memcmp(want, "sha256:", 7) == 0;
    for (int i = 7; ok && i < 71; i++)
        ok = (want[i] >= '0' && want[i] <= '9') || (want[i] >= 'a' && want[i] <= 'f') ||
             (want[i] >= 'A' && want[i] <= 'F');
    if (!ok)
        return nn_fail(err, NN_E_CHECKSUM, "%s: __metadata__ \"checksum\" must be \"sha256:<64 hex digits>\", got %s",
                       f->path, q(qb, want));
    sha256_tag(f->data, f->data_len, got);
    if (strcasecmp(want, got) != 0)
        return nn_fail(err, NN_E_CHECKSUM, "%s: checksum mismatch: __metadata__ says %s, data section hashes to %s",
                       f->path, want, got);
    return NN_OK;
}

static nn_status parse_all(st_file *f, const uint8_t *buf, size_t len, nn_err *err)
{
    if (len < 8)
        return nn_fail(err, NN_E_PARSE, "%s: file is %zu bytes, too short for a safetensors header", f->path, len);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | buf[i];
    /* The length is the file's first 8 bytes: never printed (it is whatever the file holds). */
    if (n > ST_MAX_HEADER)
        return nn_fail(err, NN_E_PARSE, "%s: not a safetensors file: the header length (bytes 0-7, little-endian) "
                       "exceeds the limit of %llu bytes", f->path, ST_MAX_HEADER);
    if (n > len - 8)
        return nn_fail(err, NN_E_PARSE, "%s: the header length (bytes 0-7) exceeds the %zu bytes after the length "
                       "field (truncated file?)", f->path, len - 8);
    f->data = buf + 8 + n;
    f->data_len = len - 8 - (size_t)n;

    parser p = {.f = f, .err = err};
    /* Pass 1: the whole header is one well-formed JSON value with bounded nesting. */
    json_init(&p.c, buf + 8, (size_t)n);
    if (!json_skip(&p.c, JSON_MAX_DEPTH))
        return nn_fail(err, NN_E_PARSE, "%s: header: invalid JSON at byte %zu: %s", f->path, p.c.pos, p.c.why);
    int trail = json_peek(&p.c);
    if (trail >= 0)
        return nn_fail(err, NN_E_PARSE, "%s: header: trailing garbage at byte %zu after the JSON object (byte 0x%02x)",
                       f->path, p.c.pos, trail);
    /* Pass 2: structure. */
    json_init(&p.c, buf + 8, (size_t)n);
    if (!json_eat(&p.c, '{'))
        return nn_fail(err, NN_E_PARSE, "%s: header is not a JSON object", f->path);
    if (json_peek(&p.c) == '}')
        p.c.pos++;
    else
        for (;;) {
            char key[ST_NAME_LEN];
            size_t klen;
            nn_status s;
            if (!json_string(&p.c, key, sizeof key, &klen) || !json_eat(&p.c, ':'))
                return bad_field(&p, NULL, "header");
            if (klen == 12 && strcmp(key, "__metadata__") == 0)
                s = parse_meta(&p);
            else
                s = parse_tensor(&p, key, klen);
            if (s != NN_OK)
                return s;
            int r = next_or_close(&p, '}');
            if (r < 0)
                return bad_field(&p, NULL, "header");
            if (r == 0)
                break;
        }
    nn_status s = check_unique(f, err);
    return s != NN_OK ? s : check_checksum(f, err);
}

static void set_path(st_file *f, const char *name)
{
    snprintf(f->path, sizeof f->path, "%s", name ? name : "(buffer)");
}

nn_status st_parse(st_file *f, const uint8_t *buf, size_t len, const char *name_for_errors, nn_err *err)
{
    memset(f, 0, sizeof *f);
    set_path(f, name_for_errors);
    static const uint8_t empty[1] = {0};
    nn_status s = parse_all(f, buf ? buf : empty, buf ? len : 0, err);
    if (s != NN_OK)
        st_close(f);
    return s;
}

nn_status st_open(st_file *f, const char *path, nn_err *err)
{
    memset(f, 0, sizeof *f);
    set_path(f, path);
    int fd;
    size_t len;
    nn_status os = cm_open_regular(f->path, &fd, &len, err);
    if (os != NN_OK)
        return os;
    if (len < 8) {
        close(fd);
        return nn_fail(err, NN_E_PARSE, "%s: file is %zu bytes, too short for a safetensors header", f->path, len);
    }
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (map == MAP_FAILED)
        return nn_fail(err, NN_E_IO, "%s: cannot mmap %zu bytes: %s", f->path, len, strerror(e));
    f->map = map;
    f->map_len = len;
    nn_status s = parse_all(f, map, len, err);
    if (s != NN_OK)
        st_close(f);
    return s;
}

void st_close(st_file *f)
{
    if (!f)
        return;
    if (f->map)
        munmap(f->map, f->map_len);
    free(f->tensors);
    free(f->meta);
    memset(f, 0, sizeof *f);
}

const st_tensor *st_find(const st_file *f, const char *name)
{
    for (int i = 0; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0)
            return &f->tensors[i];
    return NULL;
}

const char *st_meta(const st_file *f, const char *key)
{
    for (int i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta[i].key, key) == 0)
            return f->meta[i].value;
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Writer                                                                                     */

typedef struct {
    char *p;
    size_t n, cap;
    bool oom;
} sbuf;

static bool sb_reserve(sbuf *b, size_t more)
{
    if (b->oom)
        return false;
    if (b->n + more + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + more + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (sb_reserve(b, n)) {
        memcpy(b->p + b->n, s, n);
        b->n += n;
        b->p[b->n] = '\0';
    }
}

static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_quoted(sbuf *b, const char *s)
{
    size_t need = json_quote(NULL, 0, s);
    if (sb_reserve(b, need)) {
        json_quote(b->p + b->n, need + 1, s);
        b->n += need;
    }
}

static void sb_u64(sbuf *b, unsigned long long v)
{
    char t[24];
    int k = snprintf(t, sizeof t, "%llu", v);
    sb_put(b, t, (size_t)k);
}

/* Checks the caller's tensors and metadata; fills sizes[i] with tensor i's byte count. */
static nn_status check_write_args(const char *path, const st_out_tensor *t, int n, const char *const *meta_kv,
                                  size_t *sizes, nn_err *err)
{
    char qb[128];
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        const char *name = t[i].name;
        if (!name)
            return nn_fail(err, NN_E_ARG, "%s: tensor %d has no name", path, i);
        size_t len = strlen(name);
        if (len >= ST_NAME_LEN || !json_utf8_valid(name, len) || strcmp(name, "__metadata__") == 0)
            return nn_fail(err, NN_E_ARG, "%s: tensor %s: name must be UTF-8, at most %d bytes, not \"__metadata__\"",
                           path, q(qb, name), ST_NAME_LEN - 1);
        if (t[i].ndim < 0 || t[i].ndim > ST_MAX_DIMS || (t[i].ndim > 0 && !t[i].dims))
            return nn_fail(err, NN_E_ARG, "%s: tensor %s: bad ndim %d", path, q(qb, name), t[i].ndim);
        int64_t dims[ST_MAX_DIMS];
        for (int d = 0; d < t[i].ndim; d++) {
            if (t[i].dims[d] < 0)
                return nn_fail(err, NN_E_ARG, "%s: tensor %s: negative dimension %d", path, q(qb, name), t[i].dims[d]);
            dims[d] = t[i].dims[d];
        }
        if (!nbytes(dims, t[i].ndim, 4, &sizes[i]) || sizes[i] > SIZE_MAX - total)
            return nn_fail(err, NN_E_ARG, "%s: tensor %s: too large", path, q(qb, name));
        total += sizes[i];
        if (sizes[i] > 0 && !t[i].data)
            return nn_fail(err, NN_E_ARG, "%s: tensor %s: no data", path, q(qb, name));
    }
    for (int i = 0; meta_kv && meta_kv[i]; i += 2) {
        const char *k = meta_kv[i], *v = meta_kv[i + 1];
        if (!v)
            return nn_fail(err, NN_E_ARG, "%s: __metadata__ key %s has no value", path, q(qb, k));
        if (strlen(k) >= ST_META_KEY_LEN || !json_utf8_valid(k, strlen(k)))
            return nn_fail(err, NN_E_ARG, "%s: __metadata__ key %s: must be UTF-8, at most %d bytes", path, q(qb, k),
                           ST_META_KEY_LEN - 1);
        if (strlen(v) >= ST_META_VAL_LEN || !json_utf8_valid(v, strlen(v)))
            return nn_fail(err, NN_E_ARG, "%s: __metadata__ %s: value must be UTF-8, at most %d bytes", path,
                           q(qb, k), ST_META_VAL_LEN - 1);
        if (strcmp(k, "checksum") == 0)
            return nn_fail(err, NN_E_ARG, "%s: __metadata__ \"checksum\" is computed by the writer", path);
        for (int j = 0; j < i; j += 2)
            if (strcmp(meta_kv[j], k) == 0)
                return nn_fail(err, NN_E_ARG, "%s: __metadata__: duplicate key %s", path, q(qb, k));
    }
    if (n < 2)
        return NN_OK;
    const char **names = malloc((size_t)n * sizeof *names);
    if (!names)
        return nn_fail(err, NN_E_NOMEM, "%s: out of memory", path);
    for (int i = 0; i < n; i++)
        names[i] = t[i].name;
    const char *dup = find_duplicate(names, n);
    nn_status s = dup ? nn_fail(err, NN_E_ARG, "%s: duplicate tensor %s", path, q(qb, dup)) : NN_OK;
    free(names);
    return s;
}

/* Builds the JSON header: __metadata__ (caller pairs + checksum) first, then the tensors in
 * order with contiguous offsets; padded with spaces to a multiple of 8 bytes. */
static void build_header(sbuf *h, const st_out_tensor *t, int n, const char *const *meta_kv, const size_t *sizes,
                         const char *tag)
{
    sb_str(h, "{\"__metadata__\":{");
    for (int i = 0; meta_kv && meta_kv[i]; i += 2) {
        sb_quoted(h, meta_kv[i]);
        sb_str(h, ":");
        sb_quoted(h, meta_kv[i + 1]);
        sb_str(h, ",");
    }
    sb_str(h, "\"checksum\":");
    sb_quoted(h, tag);
    sb_str(h, "}");
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        sb_str(h, ",");
        sb_quoted(h, t[i].name);
        sb_str(h, ":{\"dtype\":\"F32\",\"shape\":[");
        for (int d = 0; d < t[i].ndim; d++) {
            if (d)
                sb_str(h, ",");
            sb_u64(h, (unsigned long long)t[i].dims[d]);
        }
        sb_str(h, "],\"data_offsets\":[");
        sb_u64(h, off);
        sb_str(h, ",");
        sb_u64(h, off + sizes[i]);
        sb_str(h, "]}");
        off += sizes[i];
    }
    sb_str(h, "}");
    while (!h->oom && h->n % 8 != 0)
        sb_str(h, " ");
}

nn_status st_write(const char *path, const st_out_tensor *t, int n, const char *const *meta_kv,
                   char checksum_out[80], nn_err *err)
{
    if (!path || n < 0 || (n > 0 && !t))
        return nn_fail(err, NN_E_ARG, "%s: st_write: bad arguments (n = %d)", path ? path : "(null)", n);
    size_t *sizes = malloc((size_t)(n > 0 ? n : 1) * sizeof *sizes);
    if (!sizes)
        return nn_fail(err, NN_E_NOMEM, "%s: out of memory", path);
    nn_status s = check_write_args(path, t, n, meta_kv, sizes, err);
    if (s != NN_OK) {
        free(sizes);
        return s;
    }
    sha256_ctx hc;
    char tag[72];
    sha256_init(&hc);
    for (int i = 0; i < n; i++)
        if (sizes[i] > 0)
            sha256_update(&hc, t[i].data, sizes[i]);
    sha256_final_tag(&hc, tag);

    sbuf h = {0};
    build_header(&h, t, n, meta_kv, sizes, tag);
    if (h.oom || h.n > ST_MAX_HEADER) {
        free(h.p);
        free(sizes);
        return nn_fail(err, h.oom ? NN_E_NOMEM : NN_E_ARG, "%s: header too large (%zu bytes)", path, h.n);
    }
    uint8_t len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (uint8_t)((uint64_t)h.n >> (8 * i));
    fmt_atomic a;
    s = fmt_atomic_open(&a, path, err);
    if (s == NN_OK)
        s = fmt_atomic_write(&a, len8, 8, err);
    if (s == NN_OK)
        s = fmt_atomic_write(&a, h.p, h.n, err);
    for (int i = 0; s == NN_OK && i < n; i++)
        if (sizes[i] > 0)
            s = fmt_atomic_write(&a, t[i].data, sizes[i], err);
    if (s == NN_OK)
        s = fmt_atomic_commit(&a, err);
    free(h.p);
    free(sizes);
    if (s == NN_OK && checksum_out)
        memcpy(checksum_out, tag, sizeof tag);
    return s;
}
