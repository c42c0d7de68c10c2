/* idx.c — IDX reader (raw or gzip via zlib): header validation, exact data length, one-line
 * errors naming the file. A gzip stream is inflated into a buffer that grows with the data
 * actually produced (up to the size the header announces), so a lying header in a small file
 * cannot make the reader allocate gigabytes. Concatenated gzip members are accepted. */
#include "train/idx.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/file_read.h"
#include "common/sha256.h"

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static const char *kind_name(idx_kind k) { return k == IDX_IMAGES ? "images" : "labels"; }

/* Header of the wanted kind: 16 bytes for images, 8 for labels. */
static size_t header_len(idx_kind k) { return k == IDX_IMAGES ? 16 : 8; }

/* Validates a complete header (hdr holds header_len(want) bytes); fills out's shape and the
 * number of data bytes that must follow. */
static nn_status check_header(idx_array *out, const uint8_t *hdr, idx_kind want, const char *name,
                              size_t *data_bytes, nn_err *err)
{
    uint32_t magic = be32(hdr);
    uint32_t expect = want == IDX_IMAGES ? IDX_MAGIC_IMAGES : IDX_MAGIC_LABELS;
    if (magic != expect)
        return nn_fail(err, NN_E_PARSE, "%s: bad magic number for an IDX %s file (expected 0x%08x, got 0x%08x%s)",
                       name, kind_name(want), expect, magic,
                       magic == IDX_MAGIC_IMAGES   ? " = an images file"
                       : magic == IDX_MAGIC_LABELS ? " = a labels file"
                                                   : "");
    uint32_t count = be32(hdr + 4);
    if (count == 0)
        return nn_fail(err, NN_E_PARSE, "%s: empty IDX %s file (expected a count >= 1, got 0)", name,
                       kind_name(want));
    uint32_t rows = 1, cols = 1;
    if (want == IDX_IMAGES) {
        rows = be32(hdr + 8);
        cols = be32(hdr + 12);
        if (rows < 1 || rows > IDX_MAX_SIDE)
            return nn_fail(err, NN_E_PARSE, "%s: image rows out of range (expected 1..%d, got %u)", name,
                           IDX_MAX_SIDE, rows);
        if (cols < 1 || cols > IDX_MAX_SIDE)
            return nn_fail(err, NN_E_PARSE, "%s: image cols out of range (expected 1..%d, got %u)", name,
                           IDX_MAX_SIDE, cols);
    }
    size_t bytes = (size_t)count * rows * cols; /* < 2^56: no overflow in 64-bit size_t */
    if (bytes > IDX_MAX_BYTES)
        return nn_fail(err, NN_E_PARSE, "%s: IDX data too large (expected at most %zu bytes, got %zu)", name,
                       (size_t)IDX_MAX_BYTES, bytes);
    out->kind = want;
    out->count = count;
    out->rows = (int)rows;
    out->cols = (int)cols;
    *data_bytes = bytes;
    return NN_OK;
}

static const char *data_name(idx_kind k) { return k == IDX_IMAGES ? "image data" : "label data"; }

static nn_status parse_raw(idx_array *out, const uint8_t *buf, size_t len, idx_kind want, const char *name,
                           nn_err *err)
{
    size_t hl = header_len(want);
    if (len < 4)
        return nn_fail(err, NN_E_PARSE, "%s: truncated IDX header (expected %zu bytes, got %zu)", name, hl, len);
    if (be32(buf) == (want == IDX_IMAGES ? IDX_MAGIC_IMAGES : IDX_MAGIC_LABELS) && len < hl)
        return nn_fail(err, NN_E_PARSE, "%s: truncated IDX header (expected %zu bytes, got %zu)", name, hl, len);
    if (len < hl) {
        uint8_t hdr[16] = {0};
        memcpy(hdr, buf, len);
        size_t unused;
        return check_header(out, hdr, want, name, &unused, err); /* reports the bad magic */
    }
    size_t bytes;
    nn_status s = check_header(out, buf, want, name, &bytes, err);
    if (s)
        return s;
    size_t have = len - hl;
    if (have < bytes)
        return nn_fail(err, NN_E_PARSE, "%s: truncated %s (expected %zu bytes, got %zu)", name, data_name(want),
                       bytes, have);
    if (have > bytes)
        return nn_fail(err, NN_E_PARSE, "%s: trailing bytes after the %s (expected %zu bytes, got %zu)", name,
                       data_name(want), bytes, have);
    out->data = malloc(bytes);
    if (!out->data)
        return nn_fail(err, NN_E_NOMEM, "%s: out of memory for %zu bytes of %s", name, bytes, data_name(want));
    memcpy(out->data, buf + hl, bytes);
    return NN_OK;
}

/* ---- gzip ---- */

typedef struct {
    z_stream z;
    const uint8_t *in;
    size_t in_left;    /* input not yet handed to zlib */
    bool ended;        /* no more output can come */
    bool complete;     /* the last member ended cleanly with no input left */
    bool corrupt;
} gz_in;

static void gz_refill(gz_in *g)
{
    if (g->z.avail_in == 0 && g->in_left > 0) {
        uInt chunk = g->in_left > UINT_MAX ? UINT_MAX : (uInt)g->in_left;
        g->z.next_in = (Bytef *)(uintptr_t)g->in;
        g->z.avail_in = chunk;
        g->in += chunk;
        g->in_left -= chunk;
    }
}

/* Inflates up to n bytes into dst; *got = bytes produced (< n only when the stream ended,
 * was truncated or is corrupt: see g's flags). */
static void gz_read(gz_in *g, uint8_t *dst, size_t n, size_t *got)
{
    *got = 0;
    while (*got < n && !g->ended) {
        gz_refill(g);
        size_t want = n - *got;
        uInt chunk = want > UINT_MAX ? UINT_MAX : (uInt)want;
        g->z.next_out = dst + *got;
        g->z.avail_out = chunk;
        int r = inflate(&g->z, Z_NO_FLUSH);
        *got += chunk - g->z.avail_out;
        if (r == Z_STREAM_END) {
            gz_refill(g);
            if (g->z.avail_in == 0) {
                g->ended = g->complete = true;
            } else if (inflateReset(&g->z) != Z_OK) {
                g->ended = g->corrupt = true;
            }
        } else if (r == Z_OK || r == Z_BUF_ERROR) {
            gz_refill(g);
            if (g->z.avail_in == 0 && g->z.avail_out != 0)
                g->ended = true; /* input exhausted inside a member: truncated */
        } else {
            g->ended = g->corrupt = true;
        }
    }
}

static nn_status gz_fail(const gz_in *g, const char *name, nn_err *err)
{
    return nn_fail(err, NN_E_PARSE, "%s: corrupt gzip data (%s)", name, g->z.msg ? g->z.msg : "bad stream");
}

static nn_status parse_gz(idx_array *out, const uint8_t *buf, size_t len, idx_kind want, const char *name,
                          nn_err *err)
{
    gz_in g;
    memset(&g, 0, sizeof g);
    g.in = buf;
    g.in_left = len;
    if (inflateInit2(&g.z, 16 + MAX_WBITS) != Z_OK)
        return nn_fail(err, NN_E_NOMEM, "%s: cannot initialise zlib", name);
    nn_status s = NN_OK;
    uint8_t hdr[16] = {0};
    size_t hl = header_len(want), got = 0, bytes = 0, cap = 0;
    gz_read(&g, hdr, 4, &got);
    if (g.corrupt) {
        s = gz_fail(&g, name, err);
        goto done;
    }
    if (got == 4 && be32(hdr) == (want == IDX_IMAGES ? IDX_MAGIC_IMAGES : IDX_MAGIC_LABELS)) {
        size_t more = 0;
        gz_read(&g, hdr + 4, hl - 4, &more);
        got += more;
        if (g.corrupt) {
            s = gz_fail(&g, name, err);
            goto done;
        }
    }
    if (got < hl && (got < 4 || be32(hdr) == (want == IDX_IMAGES ? IDX_MAGIC_IMAGES : IDX_MAGIC_LABELS))) {
        s = nn_fail(err, NN_E_PARSE, "%s: truncated IDX header (expected %zu bytes, got %zu)", name, hl, got);
        goto done;
    }
    s = check_header(out, hdr, want, name, &bytes, err);
    if (s)
        goto done;
    cap = bytes < ((size_t)1 << 20) ? bytes : ((size_t)1 << 20);
    out->data = malloc(cap);
    if (!out->data) {
        s = nn_fail(err, NN_E_NOMEM, "%s: out of memory for %zu bytes of %s", name, cap, data_name(want));
        goto done;
    }
    size_t have = 0;
    for (;;) {
        size_t n = 0;
        gz_read(&g, out->data + have, cap - have, &n);
        have += n;
        if (g.corrupt) {
            s = gz_fail(&g, name, err);
            goto done;
        }
        if (have == bytes || g.ended)
            break;
        size_t ncap = cap * 2 < bytes ? cap * 2 : bytes;
        uint8_t *p = realloc(out->data, ncap);
        if (!p) {
            s = nn_fail(err, NN_E_NOMEM, "%s: out of memory for %zu bytes of %s", name, ncap, data_name(want));
            goto done;
        }
        out->data = p;
        cap = ncap;
    }
    if (have < bytes) {
        s = nn_fail(err, NN_E_PARSE, "%s: truncated %s (expected %zu bytes, got %zu)", name, data_name(want),
                    bytes, have);
        goto done;
    }
    uint8_t extra[64];
    size_t n_extra = 0;
    gz_read(&g, extra, sizeof extra, &n_extra);
    if (g.corrupt)
        s = gz_fail(&g, name, err);
    else if (n_extra > 0)
        s = nn_fail(err, NN_E_PARSE, "%s: trailing bytes after the %s (expected %zu bytes, got more)", name,
                    data_name(want), bytes);
    else if (!g.complete)
        s = nn_fail(err, NN_E_PARSE, "%s: truncated gzip stream (expected its end after %zu bytes of %s, got none)",
                    name, bytes, data_name(want));
done:
    inflateEnd(&g.z);
    if (s)
        idx_free(out);
    return s;
}

nn_status idx_parse(idx_array *out, const uint8_t *buf, size_t len, idx_kind want, const char *name,
                    nn_err *err)
{
    memset(out, 0, sizeof *out);
    if (!buf && len)
        return nn_fail(err, NN_E_ARG, "%s: no buffer", name);
    if (want != IDX_IMAGES && want != IDX_LABELS)
        return nn_fail(err, NN_E_ARG, "%s: unknown IDX kind %d", name, (int)want);
    if (len >= 2 && buf[0] == 0x1f && buf[1] == 0x8b)
        return parse_gz(out, buf, len, want, name, err);
    return parse_raw(out, buf, len, want, name, err);
}

nn_status idx_load(idx_array *out, const char *path, idx_kind want, nn_err *err)
{
    memset(out, 0, sizeof *out);
    char *buf;
    size_t len;
    nn_status s = cm_read_regular(path, IDX_MAX_BYTES + 16, &buf, &len, err);
    if (s)
        return s;
    s = idx_parse(out, (const uint8_t *)buf, len, want, path, err);
    free(buf);
    if (!s) {
        const uint64_t shape[4] = {(uint64_t)out->kind, out->count, (uint64_t)out->rows, (uint64_t)out->cols};
        sha256_ctx c;
        sha256_init(&c);
        sha256_update(&c, shape, sizeof shape);
        sha256_update(&c, out->data, out->count * (size_t)out->rows * (size_t)out->cols);
        sha256_final_tag(&c, out->digest);
    }
    return s;
}

nn_status idx_load_pair(idx_array *images, idx_array *labels, const char *images_path, const char *labels_path,
                        nn_err *err)
{
    memset(labels, 0, sizeof *labels);
    nn_status s = idx_load(images, images_path, IDX_IMAGES, err);
    if (s)
        return s;
    s = idx_load(labels, labels_path, IDX_LABELS, err);
    if (s) {
        idx_free(images);
        return s;
    }
    if (images->count != labels->count) {
        s = nn_fail(err, NN_E_PARSE, "%s: label count does not match the images of %s (expected %zu, got %zu)",
                    labels_path, images_path, images->count, labels->count);
        idx_free(images);
        idx_free(labels);
    }
    return s;
}

void idx_free(idx_array *a)
{
    if (!a)
        return;
    free(a->data);
    memset(a, 0, sizeof *a);
}
