/* test_idx.c — the IDX reader (src/train/idx.c): raw and gzip files written by the test itself
 * (gzip via zlib, including a two-member stream), the pair loader, and every error path with its
 * one-line message: bad magic (either kind), zero count, rows/cols out of range, data too large,
 * truncated header / data, trailing bytes, corrupt and truncated gzip, unreadable files and every
 * non-regular kind (directory, FIFO without blocking, device), the content digest,
 * image/label count mismatch; and the real Fashion-MNIST test set when it is installed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <cmocka.h>

#include "train/idx.h"

typedef struct {
    uint8_t *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *src, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void put32(buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    put(b, x, 4);
}

/* An images file: count x rows x cols, pixel k = (k * 7 + 3) & 255; extra bytes appended/cut. */
static buf make_images(uint32_t magic, uint32_t count, uint32_t rows, uint32_t cols, size_t data)
{
    buf b = {0};
    put32(&b, magic);
    put32(&b, count);
    put32(&b, rows);
    put32(&b, cols);
    for (size_t k = 0; k < data; k++) {
        uint8_t v = (uint8_t)((k * 7 + 3) & 255);
        put(&b, &v, 1);
    }
    return b;
}

static buf make_labels(uint32_t magic, uint32_t count, size_t data)
{
    buf b = {0};
    put32(&b, magic);
    put32(&b, count);
    for (size_t k = 0; k < data; k++) {
        uint8_t v = (uint8_t)(k % 10);
        put(&b, &v, 1);
    }
    return b;
}

static buf gzip_of(const buf *in)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    buf out = {0};
    out.cap = deflateBound(&z, in->n) + 64;
    out.p = malloc(out.cap);
    assert_non_null(out.p);
    z.next_in = in->p;
    z.avail_in = (uInt)in->n;
    z.next_out = out.p;
    z.avail_out = (uInt)out.cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    out.n = out.cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

static void expect_fail(const buf *b, idx_kind k, nn_status want, const char *needle)
{
    idx_array a;
    nn_err err;
    nn_status s = idx_parse(&a, b->p, b->n, k, "t.idx", &err);
    if (s != want)
        fail_msg("expected status %d for '%s', got %d (%s)", (int)want, needle, (int)s, s ? err.msg : "ok");
    if (strncmp(err.msg, "t.idx: ", 7) != 0 || !strstr(err.msg, needle) || strchr(err.msg, '\n'))
        fail_msg("expected 't.idx: ...%s...', got: %s", needle, err.msg);
    assert_null(a.data);
}

static void check_images(const idx_array *a, size_t count, int rows, int cols)
{
    assert_int_equal(a->kind, IDX_IMAGES);
    assert_int_equal(a->count, count);
    assert_int_equal(a->rows, rows);
    assert_int_equal(a->cols, cols);
    for (size_t k = 0; k < count * (size_t)rows * (size_t)cols; k++)
        if (a->data[k] != (uint8_t)((k * 7 + 3) & 255))
            fail_msg("byte %zu: got %d", k, a->data[k]);
}

static void test_valid_raw_and_gzip(void **state)
{
    (void)state;
    buf im = make_images(IDX_MAGIC_IMAGES, 3, 4, 5, 60), lb = make_labels(IDX_MAGIC_LABELS, 3, 3);
    idx_array a;
    nn_err err;
    assert_int_equal(idx_parse(&a, im.p, im.n, IDX_IMAGES, "raw", &err), NN_OK);
    check_images(&a, 3, 4, 5);
    idx_free(&a);
    assert_null(a.data);
    buf gz = gzip_of(&im);
    assert_int_equal(idx_parse(&a, gz.p, gz.n, IDX_IMAGES, "gz", &err), NN_OK);
    check_images(&a, 3, 4, 5);
    idx_free(&a);
    assert_int_equal(idx_parse(&a, lb.p, lb.n, IDX_LABELS, "lb", &err), NN_OK);
    assert_int_equal(a.kind, IDX_LABELS);
    assert_int_equal(a.count, 3);
    assert_int_equal(a.rows, 1);
    assert_int_equal(a.data[2], 2);
    idx_free(&a);

    /* a large gzip file (more than the first 1 MiB chunk) and a two-member stream */
    buf big = make_images(IDX_MAGIC_IMAGES, 2000, 28, 28, 2000 * 784);
    buf bigz = gzip_of(&big);
    assert_int_equal(idx_parse(&a, bigz.p, bigz.n, IDX_IMAGES, "big", &err), NN_OK);
    check_images(&a, 2000, 28, 28);
    idx_free(&a);
    buf h1 = {0}, h2 = {0};
    put(&h1, im.p, 21);
    put(&h2, im.p + 21, im.n - 21);
    buf g1 = gzip_of(&h1), g2 = gzip_of(&h2), two = {0};
    put(&two, g1.p, g1.n);
    put(&two, g2.p, g2.n);
    assert_int_equal(idx_parse(&a, two.p, two.n, IDX_IMAGES, "two", &err), NN_OK);
    check_images(&a, 3, 4, 5);
    idx_free(&a);
    idx_free(NULL);
    buf *all[] = {&im, &lb, &gz, &big, &bigz, &h1, &h2, &g1, &g2, &two};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]->p);
}

static void test_header_errors(void **state)
{
    (void)state;
    buf empty = {0};
    expect_fail(&empty, IDX_IMAGES, NN_E_PARSE, "truncated IDX header (expected 16 bytes, got 0)");
    buf b = make_images(IDX_MAGIC_IMAGES, 3, 4, 5, 60);
    b.n = 10;
    expect_fail(&b, IDX_IMAGES, NN_E_PARSE, "truncated IDX header (expected 16 bytes, got 10)");
    free(b.p);
    b = make_images(0x00000802, 3, 4, 5, 60);
    expect_fail(&b, IDX_IMAGES, NN_E_PARSE, "bad magic number for an IDX images file (expected 0x00000803, got 0x00000802)");
    free(b.p);
    b = make_labels(IDX_MAGIC_LABELS, 3, 3);
    expect_fail(&b, IDX_IMAGES, NN_E_PARSE, "(expected 0x00000803, got 0x00000801 = a labels file)");
    free(b.p);
    b = make_images(IDX_MAGIC_IMAGES, 3, 4, 5, 60);
    expect_fail(&b, IDX_LABELS, NN_E_PARSE, "bad magic number for an IDX labels file (expected 0x00000801, got 0x00000803 = an images file)");
    free(b.p);
    b = make_labels(0x0d000801, 1, 1);
    expect_fail(&b, IDX_LABELS, NN_E_PARSE, "got 0x0d000801)");
    free(b.p);
    b = make_images(IDX_MAGIC_IMAGES, 0, 4, 5, 0);
    expect_fail(&b, IDX_IMAGES, NN_E_PARSE, "empty IDX images file (expected a count >= 1, got 0)");
    free(b.p);
    b = make_labels(IDX_MAGIC_LABELS, 0, 0);
    expect_fail(&b, IDX_LABELS, NN_E_PARSE, "empty IDX labels file (expected a count >= 1, got 0)");
    free(b.p);
    b = make_images(IDX_MAGIC_IMAGES, 1, 0, 5, 0);
    expect_fail(&b, IDX_IMAGES, NN_E_PARSE, "image rows out of range (expected 1..4096, got 0)");
    free(b.p);
    b = make_images(IDX_MAGIC_IMAGES, 1, 5, 5000, 0);
    expect_fail(&b, IDX_IMAGES, NN_E_PARSE, "image cols out of range (expected 1..4096, got 5000)");
    free(b.p);
    b = make_images(IDX_MAGIC_IMAGES, 0xffffffffu, 4096, 4096, 0);
    expect_fail(&b, IDX_IMAGES, NN_E_PARSE, "IDX data too large (expected at most 8589934592 bytes, got 72057594021150720)");
    free(b.p);
    b = make_images(IDX_MAGIC_IMAGES, 1, 1, 1, 1);
    idx_array a;
    assert_int_equal(idx_parse(&a, b.p, b.n, (idx_kind)5, "k", NULL), NN_E_ARG);
    assert_int_equal(idx_parse(&a, NULL, 4, IDX_IMAGES, "k", NULL), NN_E_ARG);
    free(b.p);
}

static void test_data_errors(void **state)
{
    (void)state;
    buf b = make_images(IDX_MAGIC_IMAGES, 3, 4, 5, 59);
    expect_fail(&b, IDX_IMAGES, NN_E_PARSE, "truncated image data (expected 60 bytes, got 59)");
    buf g = gzip_of(&b);
    expect_fail(&g, IDX_IMAGES, NN_E_PARSE, "truncated image data (expected 60 bytes, got 59)");
    free(b.p), free(g.p);
    b = make_labels(IDX_MAGIC_LABELS, 10, 4);
    expect_fail(&b, IDX_LABELS, NN_E_PARSE, "truncated label data (expected 10 bytes, got 4)");
    free(b.p);
    b = make_images(IDX_MAGIC_IMAGES, 3, 4, 5, 61);
    expect_fail(&b, IDX_IMAGES, NN_E_PARSE, "trailing bytes after the image data (expected 60 bytes, got 61)");
    g = gzip_of(&b);
    expect_fail(&g, IDX_IMAGES, NN_E_PARSE, "trailing bytes after the image data (expected 60 bytes, got more)");
    free(b.p), free(g.p);

    /* gzip: header cut inside the stream, the stream cut before its end, bytes damaged */
    b = make_images(IDX_MAGIC_IMAGES, 3, 4, 5, 60);
    buf h = {0};
    put(&h, b.p, 9);
    g = gzip_of(&h);
    expect_fail(&g, IDX_IMAGES, NN_E_PARSE, "truncated IDX header (expected 16 bytes, got 9)");
    free(h.p), free(g.p);
    g = gzip_of(&b);
    buf cut = {0};
    put(&cut, g.p, g.n - 8); /* no CRC / length trailer: all data there, the stream unfinished */
    expect_fail(&cut, IDX_IMAGES, NN_E_PARSE, "truncated gzip stream (expected its end after 60 bytes of image data, got none)");
    cut.n = 12; /* inside the deflate data */
    expect_fail(&cut, IDX_IMAGES, NN_E_PARSE, "truncated");
    buf bad = {0};
    put(&bad, g.p, g.n);
    bad.p[3] = 0xe0; /* reserved gzip flag bits */
    expect_fail(&bad, IDX_IMAGES, NN_E_PARSE, "corrupt gzip data (");
    memcpy(bad.p, g.p, g.n);
    bad.p[bad.n - 6] ^= 0x55; /* CRC32 mismatch */
    expect_fail(&bad, IDX_IMAGES, NN_E_PARSE, "corrupt gzip data (incorrect data check)");
    buf trail = {0};
    put(&trail, g.p, g.n);
    put(&trail, "junkjunkjunk", 12); /* not a second gzip member */
    expect_fail(&trail, IDX_IMAGES, NN_E_PARSE, "corrupt gzip data (");
    free(b.p), free(g.p), free(cut.p), free(bad.p), free(trail.p);
}

static void write_file(const char *path, const buf *b)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b->p, 1, b->n, f), b->n);
    assert_int_equal(fclose(f), 0);
}

static void test_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_idx.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char ip[256], lp[256], lp2[256];
    snprintf(ip, sizeof ip, "%s/train-images-idx3-ubyte.gz", dir);
    snprintf(lp, sizeof lp, "%s/train-labels-idx1-ubyte", dir);
    snprintf(lp2, sizeof lp2, "%s/short-labels", dir);
    buf im = make_images(IDX_MAGIC_IMAGES, 6, 2, 3, 36), gz = gzip_of(&im);
    buf lb = make_labels(IDX_MAGIC_LABELS, 6, 6), lb2 = make_labels(IDX_MAGIC_LABELS, 5, 5);
    write_file(ip, &gz);
    write_file(lp, &lb);
    write_file(lp2, &lb2);
    idx_array a, l;
    nn_err err;
    assert_int_equal(idx_load(&a, ip, IDX_IMAGES, &err), NN_OK);
    check_images(&a, 6, 2, 3);
    idx_free(&a);
    assert_int_equal(idx_load_pair(&a, &l, ip, lp, &err), NN_OK);
    assert_int_equal(l.count, 6);
    idx_free(&a);
    idx_free(&l);
    assert_int_equal(idx_load_pair(&a, &l, ip, lp2, &err), NN_E_PARSE);
    assert_null(a.data);
    assert_null(l.data);
    char want[600];
    snprintf(want, sizeof want, "%s: label count does not match the images of %s (expected 6, got 5)", lp2, ip);
    assert_string_equal(err.msg, want);
    assert_int_equal(idx_load_pair(&a, &l, ip, ip, &err), NN_E_PARSE); /* labels file is an images file */
    assert_null(a.data);
    assert_non_null(strstr(err.msg, "bad magic number for an IDX labels file"));
    assert_int_equal(idx_load_pair(&a, &l, lp, lp, &err), NN_E_PARSE);
    assert_int_equal(idx_load(&a, "/nonexistent/x.idx", IDX_IMAGES, &err), NN_E_IO);
    assert_string_equal(err.msg, "/nonexistent/x.idx: cannot open: No such file or directory");
    /* every non-regular kind is refused by name, and a FIFO without blocking (no writer here) */
    char fifo[256];
    snprintf(fifo, sizeof fifo, "%s/fifo-images-idx3-ubyte", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    const struct {
        const char *path, *kind;
    } bad[] = {{dir, "a directory"}, {fifo, "a FIFO"}, {"/dev/null", "a character device"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(idx_load(&a, bad[i].path, IDX_IMAGES, &err), NN_E_IO);
        snprintf(want, sizeof want, "%s: is %s, expected a regular file", bad[i].path, bad[i].kind);
        assert_string_equal(err.msg, want);
        assert_null(a.data);
        assert_int_equal(idx_load_pair(&a, &l, ip, bad[i].path, &err), NN_E_IO);
        assert_null(a.data);
    }
    unlink(fifo);
    unlink(ip), unlink(lp), unlink(lp2);
    rmdir(dir);
    free(im.p), free(gz.p), free(lb.p), free(lb2.p);
}

/* digest: the SHA-256 of the decoded content, so a resumed run can tell a changed file (one label
 * flipped, same size) from the one it was trained on, while the same data gzip-compressed is the
 * same dataset; idx_parse leaves it empty. */
static void test_digest(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_idx.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char lp[256];
    snprintf(lp, sizeof lp, "%s/labels", dir);
    buf lb = make_labels(IDX_MAGIC_LABELS, 6, 6);
    write_file(lp, &lb);
    idx_array a;
    nn_err err;
    assert_int_equal(idx_load(&a, lp, IDX_LABELS, &err), NN_OK);
    char first[72];
    memcpy(first, a.digest, sizeof first);
    assert_int_equal(strlen(first), 71);
    assert_memory_equal(first, "sha256:", 7);
    idx_free(&a);
    assert_int_equal(idx_load(&a, lp, IDX_LABELS, &err), NN_OK);
    assert_string_equal(a.digest, first);
    idx_free(&a);
    buf gz = gzip_of(&lb); /* the same labels compressed: the same content */
    write_file(lp, &gz);
    assert_int_equal(idx_load(&a, lp, IDX_LABELS, &err), NN_OK);
    assert_string_equal(a.digest, first);
    idx_free(&a);
    free(gz.p);
    lb.p[8] ^= 1;
    write_file(lp, &lb);
    assert_int_equal(idx_load(&a, lp, IDX_LABELS, &err), NN_OK);
    assert_string_not_equal(a.digest, first);
    idx_free(&a);
    assert_int_equal(idx_parse(&a, lb.p, lb.n, IDX_LABELS, "t.idx", &err), NN_OK);
    assert_string_equal(a.digest, "");
    idx_free(&a);
    unlink(lp);
    rmdir(dir);
    free(lb.p);
}

/* The real Fashion-MNIST test set when Debian's dataset-fashion-mnist is installed (skipped
 * otherwise): 10,000 28x28 images, 1,000 of each of the 10 classes. */
static void test_fashion_mnist_if_installed(void **state)
{
    (void)state;
    const char *dir = "/usr/share/datasets/fashion-mnist";
    char ip[256], lp[256];
    snprintf(ip, sizeof ip, "%s/t10k-images-idx3-ubyte.gz", dir);
    snprintf(lp, sizeof lp, "%s/t10k-labels-idx1-ubyte.gz", dir);
    if (access(ip, R_OK) != 0 || access(lp, R_OK) != 0)
        skip();
    idx_array a, l;
    nn_err err;
    if (idx_load_pair(&a, &l, ip, lp, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(a.count, 10000);
    assert_int_equal(a.rows, 28);
    assert_int_equal(a.cols, 28);
    int per[256] = {0};
    for (size_t i = 0; i < l.count; i++)
        per[l.data[i]]++;
    for (int c = 0; c < 10; c++)
        assert_int_equal(per[c], 1000);
    idx_free(&a);
    idx_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_raw_and_gzip),
        cmocka_unit_test(test_header_errors),
        cmocka_unit_test(test_data_errors),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_digest),
        cmocka_unit_test(test_fashion_mnist_if_installed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
