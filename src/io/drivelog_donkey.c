/* drivelog_donkey.c — Donkey Car tub v2 (donkeycar/parts/tub_v2.py, datastore_v2.py): a folder
 * with `manifest.json`, `catalog_N.catalog` files and `images/`.
 * manifest.json is five lines, each one JSON value:
 *     ["cam/image_array", "user/angle", "user/throttle", "user/mode"]   inputs
 *     ["image_array", "float", "float", "str"]                          their types
 *     {}                                                                user metadata
 *     {"created_at": 1614000000.0, ...}                                 manifest metadata
 *     {"paths": ["catalog_0.catalog"], "current_index": 3, "max_len": 1000, "deleted_indexes": [1]}
 * Each catalog line is one record:
 *     {"_index": 0, "_session_id": "21-02-20_0", "_timestamp_ms": 1613808000000,
 *      "cam/image_array": "0_cam_image_array_.jpg", "user/angle": -0.25, "user/throttle": 0.3, ...}
 * The image is the input typed image_array (`cam/image_array` when there are several), found in
 * `images/` (or as written, relative to the tub); steering = `user/angle` in [-1, 1], throttle =
 * `user/throttle` in [-1, 1] when recorded; records whose `_index` is in deleted_indexes are
 * skipped (counted in log->deleted). Other keys are ignored. The JSON is read strictly (RFC 8259,
 * src/nn/format/json.h), so NaN or Infinity in a record is a bad row. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/drivelog_read.h"
#include "io/file.h"
#include "common/parse_num.h"
#include "nn/format/json.h"

#define MANIFEST_MAX (64u << 20) /* deleted_indexes of a huge tub fit; a larger file is not a manifest */
#define KEY_LEN 128

typedef struct {
    char image_key[KEY_LEN];
    bool has_throttle;
    char **paths;          /* catalog file names */
    size_t n_paths;
    uint64_t *deleted;     /* sorted */
    size_t n_deleted;
} manifest;

static void manifest_free(manifest *m)
{
    for (size_t i = 0; i < m->n_paths; i++)
        free(m->paths[i]);
    free(m->paths);
    free(m->deleted);
}

/* The raw text of the value at the cursor (for messages), at most cap-1 bytes. */
static const char *raw_token(const json_cur *c, char *out, size_t cap)
{
    size_t i = c->pos, n = 0;
    while (i < c->len && n + 1 < cap && c->s[i] != ',' && c->s[i] != '}' && c->s[i] != ']' && c->s[i] != '\r' &&
           c->s[i] != '\n')
        out[n++] = (char)c->s[i++];
    out[n] = '\0';
    return out;
}

/* A JSON number (finite) at the cursor. */
static nn_status read_number(io_reader *rd, json_cur *c, const char *field, double lo, double hi, double *v)
{
    char raw[64];
    int ch = json_peek(c);
    raw_token(c, raw, sizeof raw);
    if (ch != '-' && (ch < '0' || ch > '9'))
        return io_rd_fail(rd, field, "expected a number", raw);
    size_t start = c->pos;
    if (!json_skip(c, 1))
        return io_rd_fail(rd, field, "expected a number", raw);
    char num[64];
    size_t n = c->pos - start;
    if (n >= sizeof num)
        return io_rd_fail(rd, field, "expected a number", raw);
    memcpy(num, c->s + start, n);
    num[n] = '\0';
    if (!cm_parse_finite(num, v))
        return io_rd_fail(rd, field, "expected a number", num);
    if (*v < lo || *v > hi) {
        char problem[96];
        snprintf(problem, sizeof problem, "must be in [%g, %g]", lo, hi);
        return io_rd_fail(rd, field, problem, num);
    }
    return NN_OK;
}

static nn_status bad_json(io_reader *rd, const char *field, const json_cur *c)
{
    char problem[256], raw[64], why[sizeof c->why];
    snprintf(why, sizeof why, "%s", c->why);
    char *eoh = strstr(why, "end of header"); /* the scanner's words for the end of its input */
    if (eoh)
        snprintf(eoh, sizeof why - (size_t)(eoh - why), "end of line");
    snprintf(problem, sizeof problem, "bad JSON at byte %zu: %s", c->pos + 1, why);
    return io_rd_fail(rd, field, problem, raw_token(c, raw, sizeof raw));
}

/* The value must end the line. */
static nn_status expect_end(io_reader *rd, const char *field, json_cur *c)
{
    char raw[64];
    if (json_peek(c) != -1)
        return io_rd_fail(rd, field, "unexpected text after the JSON value", raw_token(c, raw, sizeof raw));
    return NN_OK;
}

/* Line 1 or 2 of manifest.json: an array of strings (stored in out[0..*n), each < KEY_LEN). */
static nn_status string_array(io_reader *rd, const char *field, const char *text, size_t len, char (*out)[KEY_LEN],
                              int max, int *n)
{
    json_cur c;
    json_init(&c, text, len);
    *n = 0;
    if (!json_eat(&c, '['))
        return bad_json(rd, field, &c);
    if (json_peek(&c) == ']') {
        c.pos++;
        return expect_end(rd, field, &c);
    }
    for (;;) {
        char tmp[KEY_LEN];
        size_t sl;
        if (!json_string(&c, tmp, sizeof tmp, &sl))
            return bad_json(rd, field, &c);
        if (sl >= KEY_LEN)
            return io_rd_fail(rd, field, "name too long (expected < 128 bytes)", tmp);
        if (*n == max)
            return io_rd_fail(rd, field, "too many entries (expected at most 256)", tmp);
        memcpy(out[(*n)++], tmp, sizeof tmp);
        if (json_peek(&c) == ',') {
            c.pos++;
            continue;
        }
        if (!json_eat(&c, ']'))
            return bad_json(rd, field, &c);
        return expect_end(rd, field, &c);
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Line 5: {"paths": [...], "deleted_indexes": [...], ...}. */
static nn_status catalog_meta(io_reader *rd, manifest *m, const char *text, size_t len)
{
    const char *field = "catalog metadata";
    json_cur c;
    json_init(&c, text, len);
    bool have_paths = false;
    if (!json_eat(&c, '{'))
        return bad_json(rd, field, &c);
    if (json_peek(&c) == '}') {
        c.pos++;
    } else {
        for (;;) {
            char key[KEY_LEN];
            if (!json_string(&c, key, sizeof key, NULL) || !json_eat(&c, ':'))
                return bad_json(rd, field, &c);
            bool is_paths = strcmp(key, "paths") == 0, is_del = strcmp(key, "deleted_indexes") == 0;
            if (is_paths || is_del) {
                const char *what = is_paths ? "paths" : "deleted_indexes";
                if (!json_eat(&c, '['))
                    return bad_json(rd, what, &c);
                size_t cap = 0, *count = is_paths ? &m->n_paths : &m->n_deleted;
                if (*count)
                    return io_rd_fail(rd, what, "given twice", "");
                have_paths |= is_paths;
                while (json_peek(&c) != ']') {
                    if (*count == cap) {
                        cap = cap ? cap * 2 : 16;
                        void *p = is_paths ? realloc(m->paths, cap * sizeof *m->paths)
                                           : realloc(m->deleted, cap * sizeof *m->deleted);
                        if (!p)
                            return nn_fail(rd->err, NN_E_NOMEM, "%s: out of memory", rd->file);
                        if (is_paths)
                            m->paths = p;
                        else
                            m->deleted = p;
                    }
                    if (is_paths) {
                        char name[1024];
                        size_t nl;
                        if (!json_string(&c, name, sizeof name, &nl))
                            return bad_json(rd, what, &c);
                        if (nl >= sizeof name || !*name)
                            return io_rd_fail(rd, what, "expected catalog file names (1..1023 bytes)", name);
                        if (!(m->paths[m->n_paths] = strdup(name)))
                            return nn_fail(rd->err, NN_E_NOMEM, "%s: out of memory", rd->file);
                        m->n_paths++;
                    } else if (!json_uint(&c, &m->deleted[m->n_deleted++])) {
                        return bad_json(rd, what, &c);
                    }
                    if (json_peek(&c) == ',')
                        c.pos++;
                    else if (json_peek(&c) != ']')
                        return bad_json(rd, what, &c);
                }
                c.pos++;
            } else if (!json_skip(&c, JSON_MAX_DEPTH)) {
                return bad_json(rd, key, &c);
            }
            if (json_peek(&c) == ',') {
                c.pos++;
                continue;
            }
            if (!json_eat(&c, '}'))
                return bad_json(rd, field, &c);
            break;
        }
    }
    nn_status s = expect_end(rd, field, &c);
    if (s)
        return s;
    if (!have_paths)
        return io_rd_fail(rd, "paths", "missing: the catalog metadata names no catalog files", "");
    if (m->n_deleted)
        qsort(m->deleted, m->n_deleted, sizeof *m->deleted, cmp_u64);
    return NN_OK;
}

static nn_status read_manifest(io_reader *rd, manifest *m, FILE *fp)
{
    struct stat st;
    if (fstat(fileno(fp), &st) != 0)
        return nn_fail(rd->err, NN_E_IO, "%s: cannot stat: %s", rd->file, strerror(errno));
    if (st.st_size > (off_t)MANIFEST_MAX)
        return nn_fail(rd->err, NN_E_PARSE, "%s: larger than %u MiB: not a tub manifest", rd->file,
                       MANIFEST_MAX >> 20);
    size_t cap = (size_t)st.st_size + 1;
    char *buf = malloc(cap);
    if (!buf)
        return nn_fail(rd->err, NN_E_NOMEM, "%s: out of memory", rd->file);
    size_t len = fread(buf, 1, cap, fp);
    io_rd_hash(rd, buf, len);
    nn_status s = NN_OK;
    if (ferror(fp))
        s = nn_fail(rd->err, NN_E_IO, "%s: read error: %s", rd->file, strerror(errno));
    else if (len == cap)
        s = nn_fail(rd->err, NN_E_IO, "%s: the file grew while being read", rd->file);
    static const char *const what[5] = {"inputs", "types", "metadata", "manifest metadata", "catalog metadata"};
    char(*inputs)[KEY_LEN] = NULL, (*types)[KEY_LEN] = NULL;
    int n_in = 0, n_ty = 0;
    if (!s && (!(inputs = malloc(256 * KEY_LEN)) || !(types = malloc(256 * KEY_LEN))))
        s = nn_fail(rd->err, NN_E_NOMEM, "%s: out of memory", rd->file);
    size_t p = 0;
    for (int k = 0; !s && k < 5; k++) {
        if (p >= len) {
            rd->line = k + 1;
            s = io_rd_fail(rd, what[k], "missing: a tub v2 manifest has 5 lines", "");
            break;
        }
        size_t e = p;
        while (e < len && buf[e] != '\n')
            e++;
        rd->line = k + 1;
        const char *text = buf + p;
        size_t n = e - p;
        if (memchr(text, '\0', n))
            s = io_rd_fail(rd, what[k], "NUL byte in the line", "");
        else if (k == 0)
            s = string_array(rd, what[k], text, n, inputs, 256, &n_in);
        else if (k == 1)
            s = string_array(rd, what[k], text, n, types, 256, &n_ty);
        else if (k == 4)
            s = catalog_meta(rd, m, text, n);
        else {
            json_cur c;
            json_init(&c, text, n);
            s = json_skip(&c, JSON_MAX_DEPTH) ? expect_end(rd, what[k], &c) : bad_json(rd, what[k], &c);
        }
        p = e + 1;
    }
    if (!s) {
        char got[32];
        snprintf(got, sizeof got, "%d types for %d inputs", n_ty, n_in);
        rd->line = 2;
        if (n_ty != n_in)
            s = io_rd_fail(rd, "types", "expected one type per input", got);
    }
    int angle = -1, image = -1;
    for (int i = 0; !s && i < n_in; i++) {
        if (strcmp(inputs[i], "user/angle") == 0)
            angle = i;
        if (strcmp(inputs[i], "user/throttle") == 0)
            m->has_throttle = true;
        if (strcmp(types[i], "image_array") == 0 && (image < 0 || strcmp(inputs[i], "cam/image_array") == 0))
            image = i;
    }
    rd->line = 1;
    if (!s && angle < 0)
        s = io_rd_fail(rd, "inputs", "no 'user/angle' input (the steering to learn)", n_in ? inputs[0] : "[]");
    if (!s && image < 0)
        s = io_rd_fail(rd, "inputs", "no input of type image_array (the camera)", n_in ? inputs[0] : "[]");
    if (!s)
        memcpy(m->image_key, inputs[image], KEY_LEN);
    free(inputs);
    free(types);
    free(buf);
    return s;
}

static bool is_deleted(const manifest *m, uint64_t index)
{
    return m->n_deleted && bsearch(&index, m->deleted, m->n_deleted, sizeof index, cmp_u64) != NULL;
}

/* One catalog line: a JSON object. *next_index counts records (for ones without _index). */
static nn_status add_record(io_reader *rd, const manifest *m, const char *text, size_t len, uint64_t *next_index)
{
    io_drive_row *r = io_rd_row(rd);
    if (!r)
        return NN_E_NOMEM;
    json_cur c;
    json_init(&c, text, len);
    char image[4096] = "";
    bool have_image = false, have_angle = false;
    uint64_t index = *next_index;
    double v;
    nn_status s;
    if (!json_eat(&c, '{'))
        return bad_json(rd, "record", &c);
    if (json_peek(&c) != '}') {
        for (;;) {
            char key[KEY_LEN];
            size_t kl;
            if (!json_string(&c, key, sizeof key, &kl) || !json_eat(&c, ':'))
                return bad_json(rd, "record", &c);
            if (kl >= sizeof key) {
                if (!json_skip(&c, JSON_MAX_DEPTH))
                    return bad_json(rd, "record", &c);
            } else if (strcmp(key, m->image_key) == 0) {
                size_t il;
                if (json_peek(&c) != '"' || !json_string(&c, image, sizeof image, &il))
                    return bad_json(rd, key, &c);
                if (il >= sizeof image)
                    return io_rd_fail(rd, key, "image name too long", image);
                have_image = true;
            } else if (strcmp(key, "user/angle") == 0) {
                if ((s = read_number(rd, &c, key, -1.0, 1.0, &v)))
                    return s;
                r->steering = (float)v;
                have_angle = true;
            } else if (strcmp(key, "user/throttle") == 0) {
                if ((s = read_number(rd, &c, key, -1.0, 1.0, &v)))
                    return s;
                r->throttle = (float)v;
            } else if (strcmp(key, "_index") == 0) {
                if ((s = read_number(rd, &c, key, 0, 9007199254740992.0, &v)))
                    return s;
                if (v != floor(v)) {
                    char got[32];
                    snprintf(got, sizeof got, "%.17g", v);
                    return io_rd_fail(rd, key, "expected a whole number", got);
                }
                index = (uint64_t)v;
            } else if (strcmp(key, "_timestamp_ms") == 0) {
                if ((s = read_number(rd, &c, key, 0, 9007199254740992.0, &v)))
                    return s;
                r->t_ms = (int64_t)v;
                r->has_time = true;
            } else if (!json_skip(&c, JSON_MAX_DEPTH)) {
                return bad_json(rd, key, &c);
            }
            if (json_peek(&c) == ',') {
                c.pos++;
                continue;
            }
            if (!json_eat(&c, '}'))
                return bad_json(rd, "record", &c);
            break;
        }
    } else {
        c.pos++;
    }
    if ((s = expect_end(rd, "record", &c)))
        return s;
    *next_index = index + 1;
    if (is_deleted(m, index)) {
        rd->log->deleted++;
        return NN_OK;
    }
    if (!have_angle)
        return io_rd_fail(rd, "user/angle", "missing from the record", "");
    if (!have_image)
        return io_rd_fail(rd, m->image_key, "missing from the record", "");
    char a[8192], b[8192], problem[4200];
    if ((size_t)snprintf(a, sizeof a, "%s/images/%s", rd->log->dir, image) >= sizeof a ||
        (size_t)snprintf(b, sizeof b, "%s/%s", rd->log->dir, image) >= sizeof b)
        return io_rd_fail(rd, m->image_key, "path too long", image);
    snprintf(problem, sizeof problem, "image not found in %.4000s/images/ nor as written", rd->log->dir);
    const char *cand[2] = {a, b};
    if (image[0] == '/')
        cand[0] = image; /* absolute: only as written */
    bool gone;
    if ((s = io_rd_image(rd, m->image_key, image, cand, image[0] == '/' ? 1 : 2, problem, true, IO_PATH_CENTER,
                         &gone)))
        return s;
    if (gone)
        rd->log->skipped++;
    else
        io_rd_commit(rd);
    return NN_OK;
}

static nn_status read_catalog(io_reader *rd, const manifest *m, const char *name, uint64_t *next_index)
{
    char path[8192];
    if (name[0] == '/')
        snprintf(path, sizeof path, "%s", name);
    else
        snprintf(path, sizeof path, "%s/%s", rd->log->dir, name);
    FILE *fp;
    nn_status s = io_fopen_regular(path, &fp, rd->err);
    if (s) {
        char why[sizeof rd->err->msg];
        snprintf(why, sizeof why, "%s", rd->err->msg);
        return nn_fail(rd->err, NN_E_IO, "%s:5: paths: catalog %s", rd->log->path, why);
    }
    s = io_rd_set_file(rd, path);
    char *line = NULL, *p;
    size_t cap = 0;
    bool eof = false;
    while (!s && !(s = io_rd_getline(rd, fp, "record", &line, &cap, &p, &eof)) && !eof) {
        p = io_rd_trim(p);
        if (*p)
            s = add_record(rd, m, p, strlen(p), next_index);
    }
    free(line);
    fclose(fp);
    return s;
}

nn_status io_donkey_load(io_drive_log *log, const char *path, const io_drive_opts *opts, nn_err *err)
{
    io_reader rd;
    FILE *fp;
    nn_status s = io_rd_open(&rd, log, path, "manifest.json", NULL, 0, opts, err, &fp);
    if (s)
        return s;
    manifest m;
    memset(&m, 0, sizeof m);
    s = read_manifest(&rd, &m, fp);
    fclose(fp);
    uint64_t next_index = 0;
    for (size_t i = 0; !s && i < m.n_paths; i++)
        s = read_catalog(&rd, &m, m.paths[i], &next_index);
    manifest_free(&m);
    return io_rd_finish(&rd, s, "records in the catalogs that manifest.json lists");
}
