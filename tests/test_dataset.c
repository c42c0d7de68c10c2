/* test_dataset.c — src/train/dataset.c over IDX files the test writes: dataset interface (count,
 * info, items with the pixel transform, label checks, kind errors), seeded split, and the
 * background loader: every item exactly once per epoch, end-of-epoch markers, partial and
 * dropped last batches, the same order for the same seed (= ds_epoch_order), a different one for
 * another seed or epoch, a bounded queue, a kind made with ds_create (regression targets, a decode
 * error reaching the caller), and no heap allocation per batch (malloc & co. counted
 * through the linker's --wrap, from both threads). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "train/dataset.h"

#include "alloc_counter.h"

#define N_ITEMS 23
#define ROWS 2
#define COLS 3

typedef struct {
    char dir[64], images[128], labels[128], bad_labels[128];
} files;

static void put32(FILE *f, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    assert_int_equal(fwrite(x, 1, 4, f), 4);
}

/* Item i: pixels i, i+1, ..., label i % 10 (bad_labels: item 5 has label 12). */
static void write_labels(const char *path, int bad)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    put32(f, 0x801);
    put32(f, N_ITEMS);
    for (int i = 0; i < N_ITEMS; i++)
        fputc(bad && i == 5 ? 12 : i % 10, f);
    assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
    files *fs = calloc(1, sizeof *fs);
    strcpy(fs->dir, "/tmp/test_dataset.XXXXXX");
    if (!mkdtemp(fs->dir))
        return -1;
    snprintf(fs->images, sizeof fs->images, "%s/x-images-idx3-ubyte", fs->dir);
    snprintf(fs->labels, sizeof fs->labels, "%s/x-labels-idx1-ubyte", fs->dir);
    snprintf(fs->bad_labels, sizeof fs->bad_labels, "%s/bad-labels", fs->dir);
    FILE *f = fopen(fs->images, "wb");
    if (!f)
        return -1;
    put32(f, 0x803);
    put32(f, N_ITEMS);
    put32(f, ROWS);
    put32(f, COLS);
    for (int i = 0; i < N_ITEMS; i++)
        for (int k = 0; k < ROWS * COLS; k++)
            fputc(i + k, f);
    fclose(f);
    write_labels(fs->labels, 0);
    write_labels(fs->bad_labels, 1);
    *state = fs;
    return 0;
}

static int teardown(void **state)
{
    files *fs = *state;
    unlink(fs->images), unlink(fs->labels), unlink(fs->bad_labels);
    rmdir(fs->dir);
    free(fs);
    return 0;
}

static void test_open_and_items(void **state)
{
    files *fs = *state;
    ds_dataset *ds;
    nn_err err;
    if (ds_open(&ds, "idx", fs->images, NULL, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(ds_count(ds), N_ITEMS);
    const ds_info *in = ds_get_info(ds);
    assert_int_equal(in->h, ROWS);
    assert_int_equal(in->w, COLS);
    assert_int_equal(in->c, 1);
    assert_int_equal(in->task, DS_CLASSIFY);
    assert_int_equal(in->n_classes, 10);
    assert_string_equal(ds_path(ds), fs->images);
    float img[ROWS * COLS];
    int32_t label;
    ds_xform xf = {.scale = 0.5f, .offset = -1.0f};
    assert_int_equal(ds_item(ds, 17, &xf, img, &label, NULL, &err), NN_OK);
    assert_int_equal(label, 7);
    for (int k = 0; k < ROWS * COLS; k++)
        assert_true(img[k] == (float)(17 + k) * 0.5f - 1.0f);
    assert_int_equal(ds_item(ds, 3, NULL, img, NULL, NULL, &err), NN_OK);
    assert_true(img[1] == 4.0f);
    assert_int_equal(ds_item(ds, N_ITEMS, NULL, img, &label, NULL, &err), NN_E_ARG);
    assert_non_null(strstr(err.msg, "item 23 out of range (expected < 23)"));
    ds_close(ds);
    ds_close(NULL);

    ds_open_opts o = {.labels_path = fs->labels, .n_classes = 12};
    assert_int_equal(ds_open(&ds, "idx", fs->images, &o, &err), NN_OK);
    assert_int_equal(ds_get_info(ds)->n_classes, 12);
    ds_close(ds);
}

/* ds_digest: an idx dataset's identity covers both files' bytes (a resume checks it); a kind
 * without the op gives "". */
static void test_digest(void **state)
{
    files *fs = *state;
    ds_dataset *ds;
    nn_err err;
    char first[72], other[72];
    assert_int_equal(ds_open(&ds, "idx", fs->images, NULL, &err), NN_OK);
    snprintf(first, sizeof first, "%s", ds_digest(ds));
    ds_close(ds);
    assert_int_equal(strncmp(first, "sha256:", 7), 0);
    assert_int_equal(strlen(first), 71);
    assert_int_equal(ds_open(&ds, "idx", fs->images, NULL, &err), NN_OK);
    assert_string_equal(ds_digest(ds), first);
    ds_close(ds);
    ds_open_opts o = {.labels_path = fs->bad_labels}; /* one label differs, same size */
    assert_int_equal(ds_open(&ds, "idx", fs->images, &o, &err), NN_OK);
    snprintf(other, sizeof other, "%s", ds_digest(ds));
    ds_close(ds);
    assert_string_not_equal(other, first);
    assert_int_equal(strlen(other), 71);
}

static void expect_open_fail(const char *kind, const char *path, const ds_open_opts *o, nn_status want,
                             const char *msg)
{
    ds_dataset *ds = (ds_dataset *)1;
    nn_err err;
    assert_int_equal(ds_open(&ds, kind, path, o, &err), want);
    assert_null(ds);
    if (!strstr(err.msg, msg) || strchr(err.msg, '\n'))
        fail_msg("expected '%s' in: %s", msg, err.msg);
}

static void test_open_errors(void **state)
{
    files *fs = *state;
    char want[512];
    ds_open_opts o = {.labels_path = fs->bad_labels, .n_classes = 10};
    snprintf(want, sizeof want, "%s: record 5: label out of range (expected 0..9, got 12)", fs->bad_labels);
    expect_open_fail("idx", fs->images, &o, NN_E_PARSE, want);
    o.n_classes = 300;
    expect_open_fail("idx", fs->images, &o, NN_E_ARG, "n_classes out of range (expected 0..256, got 300)");
    expect_open_fail("csv", fs->images, NULL, NN_E_ARG,
                     "unknown dataset kind (expected idx, udacity, sullychen or donkey, got 'csv')");
#ifdef STEERD_HAVE_IO /* driving logs (tests/test_ds_drivelog.c) need the model's input */
    expect_open_fail("udacity", "/tmp/log.csv", NULL, NN_E_ARG,
                     "/tmp/log.csv: a 'udacity' dataset needs the model's input and preprocessing");
#else
    expect_open_fail("udacity", "/tmp/log.csv", NULL, NN_E_UNSUPPORTED,
                     "/tmp/log.csv: dataset kind 'udacity' needs src/io (libjpeg and libpng)");
#endif
    expect_open_fail("idx", fs->labels, NULL, NN_E_ARG,
                     "cannot derive the labels file name (expected 'images-idx3' in the file name, got 'x-labels-idx1-ubyte')");
    o.labels_path = fs->images;
    o.n_classes = 0;
    expect_open_fail("idx", fs->images, &o, NN_E_PARSE, "bad magic number for an IDX labels file");
    expect_open_fail("idx", "/nonexistent/t-images-idx3-ubyte", NULL, NN_E_IO, "cannot open");
    o.labels_path = fs->dir;
    snprintf(want, sizeof want, "%s: is a directory, expected a regular file", fs->dir);
    expect_open_fail("idx", fs->images, &o, NN_E_IO, want);
    expect_open_fail(NULL, "x", NULL, NN_E_ARG, "dataset: no kind or path");
}

static void test_split(void **state)
{
    (void)state;
    size_t tr[100], va[100], tr2[100], va2[100], nt, nv, nt2, nv2;
    nn_err err;
    assert_int_equal(ds_split(100, 0.2, 7, tr, &nt, va, &nv, &err), NN_OK);
    assert_int_equal(nt, 80);
    assert_int_equal(nv, 20);
    unsigned char seen[100] = {0};
    for (size_t i = 0; i < nt; i++) {
        assert_true(i == 0 || tr[i] > tr[i - 1]);
        seen[tr[i]]++;
    }
    for (size_t i = 0; i < nv; i++) {
        assert_true(i == 0 || va[i] > va[i - 1]);
        seen[va[i]]++;
    }
    for (int i = 0; i < 100; i++)
        assert_int_equal(seen[i], 1);
    assert_int_equal(ds_split(100, 0.2, 7, tr2, &nt2, va2, &nv2, &err), NN_OK);
    assert_memory_equal(va, va2, sizeof va[0] * nv);
    assert_int_equal(ds_split(100, 0.2, 8, tr2, &nt2, va2, &nv2, &err), NN_OK);
    assert_true(memcmp(va, va2, sizeof va[0] * nv) != 0);
    assert_int_equal(ds_split(100, 0.0, 7, tr, &nt, va, &nv, &err), NN_OK);
    assert_int_equal(nt, 100);
    assert_int_equal(nv, 0);
    assert_int_equal(ds_split(100, 1.0, 7, tr, &nt, va, &nv, &err), NN_E_ARG);
    assert_non_null(strstr(err.msg, "validation split out of range (expected 0 <= split < 1, got 1)"));
    assert_int_equal(ds_split(3, 0.9, 7, tr, &nt, va, &nv, &err), NN_E_ARG);
    assert_non_null(strstr(err.msg, "leaves no training items"));
}

/* Runs `epochs` epochs and records the items in order; checks contents and epoch structure. */
static void run_epochs(ds_loader *l, ds_dataset *ds, int epochs, int bs, size_t n, bool drop_last, size_t *log)
{
    nn_err err;
    size_t k = 0;
    for (int e = 0; e < epochs; e++) {
        size_t rows = 0, batches = 0;
        const ds_batch *b;
        for (;;) {
            if (ds_loader_next(l, &b, &err))
                fail_msg("epoch %d: %s", e, err.msg);
            if (!b)
                break;
            assert_int_equal(b->epoch, e);
            assert_int_equal(b->index, batches);
            assert_true(b->n == bs || (!drop_last && b->n == (int)(n % (size_t)bs)));
            for (int r = 0; r < b->n; r++) {
                size_t it = b->items[r];
                assert_true(it < ds_count(ds));
                assert_int_equal(b->labels[r], (int32_t)(it % 10));
                for (int p = 0; p < ROWS * COLS; p++)
                    assert_true(b->images[r * ROWS * COLS + p] == (float)(it + (size_t)p) * (1.0f / 255.0f) + 0.0f);
                log[k++] = it;
            }
            rows += (size_t)b->n;
            batches++;
        }
        assert_int_equal(batches, ds_loader_batches(l));
        assert_int_equal(rows, drop_last ? n / (size_t)bs * (size_t)bs : n);
    }
}

static void test_loader_epochs(void **state)
{
    files *fs = *state;
    ds_dataset *ds;
    nn_err err;
    assert_int_equal(ds_open(&ds, "idx", fs->images, NULL, &err), NN_OK);
    size_t idx[N_ITEMS];
    for (size_t i = 0; i < N_ITEMS; i++)
        idx[i] = i;
    ds_loader_opts o = {.batch_size = 5, .queue_depth = 3, .shuffle = true, .seed = 42, .xf = {.scale = 1.0f / 255.0f}};
    ds_loader *l, *l2;
    size_t a[3 * N_ITEMS], b[3 * N_ITEMS], order[N_ITEMS];
    assert_int_equal(ds_loader_create(&l, ds, idx, N_ITEMS, &o, &err), NN_OK);
    assert_int_equal(ds_loader_batches(l), 5);
    run_epochs(l, ds, 3, 5, N_ITEMS, false, a);
    for (int e = 0; e < 3; e++) { /* each epoch: every item once, in ds_epoch_order's order */
        unsigned char seen[N_ITEMS] = {0};
        for (int i = 0; i < N_ITEMS; i++)
            seen[a[e * N_ITEMS + i]]++;
        for (int i = 0; i < N_ITEMS; i++)
            assert_int_equal(seen[i], 1);
        ds_epoch_order(idx, N_ITEMS, 42, e, order);
        assert_memory_equal(order, a + e * N_ITEMS, sizeof order);
    }
    assert_true(memcmp(a, a + N_ITEMS, sizeof order) != 0); /* epochs differ */
    ds_loader_stats st = ds_loader_get_stats(l);
    assert_int_equal(st.consumed, 15);
    assert_true(st.produced >= 15 && st.max_queued <= 3);
    ds_loader_free(l);

    assert_int_equal(ds_loader_create(&l2, ds, idx, N_ITEMS, &o, &err), NN_OK); /* same seed: same batches */
    run_epochs(l2, ds, 3, 5, N_ITEMS, false, b);
    assert_memory_equal(a, b, sizeof a);
    ds_loader_free(l2);
    o.seed = 43;
    assert_int_equal(ds_loader_create(&l2, ds, idx, N_ITEMS, &o, &err), NN_OK);
    run_epochs(l2, ds, 1, 5, N_ITEMS, false, b);
    assert_true(memcmp(a, b, sizeof order) != 0);
    ds_loader_free(l2);

    /* drop_last, no shuffle over a subset (a validation loader): index order */
    size_t sub[7] = {20, 3, 4, 9, 10, 11, 1};
    o.shuffle = false;
    o.drop_last = true;
    o.batch_size = 3;
    assert_int_equal(ds_loader_create(&l2, ds, sub, 7, &o, &err), NN_OK);
    run_epochs(l2, ds, 2, 3, 7, true, b);
    size_t want[12] = {20, 3, 4, 9, 10, 11, 20, 3, 4, 9, 10, 11};
    assert_memory_equal(b, want, sizeof want);
    ds_loader_free(l2);
    o.drop_last = false;
    assert_int_equal(ds_loader_create(&l2, ds, sub, 7, &o, &err), NN_OK);
    run_epochs(l2, ds, 1, 3, 7, false, b);
    assert_memory_equal(b, sub, sizeof sub);
    ds_loader_free(l2);
    ds_loader_free(NULL);
    ds_close(ds);
}

static void test_loader_bounded_and_no_alloc(void **state)
{
    files *fs = *state;
    ds_dataset *ds;
    nn_err err;
    assert_int_equal(ds_open(&ds, "idx", fs->images, NULL, &err), NN_OK);
    size_t idx[N_ITEMS];
    for (size_t i = 0; i < N_ITEMS; i++)
        idx[i] = i;
    ds_loader_opts o = {.batch_size = 4, .queue_depth = 2, .shuffle = true, .seed = 1, .xf = {.scale = 1.0f / 255.0f}};
    ds_loader *l;
    assert_int_equal(ds_loader_create(&l, ds, idx, N_ITEMS, &o, &err), NN_OK);
    const ds_batch *b;
    assert_int_equal(ds_loader_next(l, &b, &err), NN_OK);
    assert_non_null(b);
    /* The caller holds one buffer: the thread may decode one more, then must wait. */
    for (int i = 0; i < 400 && ds_loader_get_stats(l).produced < 2; i++)
        usleep(5000);
    usleep(50000);
    ds_loader_stats st = ds_loader_get_stats(l);
    assert_int_equal(st.consumed, 1);
    assert_int_equal(st.produced, 2);
    assert_true(st.max_queued <= 2);

    size_t before = atomic_load(&allocations);
    int rows = 0;
    for (int e = 0; e < 10; e++)
        for (;;) {
            assert_int_equal(ds_loader_next(l, &b, &err), NN_OK);
            if (!b)
                break;
            rows += b->n;
        }
    size_t during = atomic_load(&allocations) - before;
    if (during)
        fail_msg("%zu heap allocations while loading 10 epochs of batches", during);
    assert_int_equal(rows, 10 * N_ITEMS - 4); /* the first epoch's first batch was taken above */
    ds_loader_free(l);

    /* bad loader options */
    o.batch_size = 0;
    assert_int_equal(ds_loader_create(&l, ds, idx, N_ITEMS, &o, &err), NN_E_ARG);
    assert_non_null(strstr(err.msg, "batch_size out of range (expected >= 1, got 0)"));
    o.batch_size = 4;
    o.queue_depth = 1;
    assert_int_equal(ds_loader_create(&l, ds, idx, N_ITEMS, &o, &err), NN_E_ARG);
    assert_non_null(strstr(err.msg, "queue_depth out of range (expected 2..64, got 1)"));
    o.queue_depth = 2;
    assert_int_equal(ds_loader_create(&l, ds, idx, 0, &o, &err), NN_E_ARG);
    assert_non_null(strstr(err.msg, "empty dataset"));
    size_t badidx[2] = {1, 23};
    assert_int_equal(ds_loader_create(&l, ds, badidx, 2, &o, &err), NN_E_ARG);
    assert_non_null(strstr(err.msg, "item index 1 out of range (expected < 23, got 23)"));
    o.drop_last = true;
    o.batch_size = 30;
    assert_int_equal(ds_loader_create(&l, ds, idx, N_ITEMS, &o, &err), NN_E_ARG);
    assert_non_null(strstr(err.msg, "23 items make no full batch of 30 (drop_last)"));
    ds_close(ds);
}

/* A regression kind made with ds_create: item i has pixels i, targets {i / 2, -i}; item `bad`
 * fails to decode. */
typedef struct {
    size_t n, bad;
} synth;

static size_t synth_count(const ds_dataset *ds) { return ((const synth *)ds_impl(ds))->n; }

static nn_status synth_get(ds_dataset *ds, size_t i, const ds_xform *xf, float *image, int32_t *label,
                           float *target, nn_err *err)
{
    (void)label;
    const synth *s = ds_impl(ds);
    if (i == s->bad)
        return nn_fail(err, NN_E_PARSE, "%s: record %zu: corrupt image", ds_path(ds), i);
    for (int k = 0; k < 2 * 2 * 3; k++)
        image[k] = (float)i * xf->scale + xf->offset;
    target[0] = (float)i / 2;
    target[1] = -(float)i;
    return NN_OK;
}

static void synth_close(ds_dataset *ds) { (void)ds; }

static const ds_ops synth_ops = {synth_count, synth_get, synth_close, NULL, NULL, NULL};

static void test_custom_kind_targets_and_errors(void **state)
{
    (void)state;
    synth sy = {.n = 20, .bad = 13};
    ds_info info = {.h = 2, .w = 2, .c = 3, .task = DS_REGRESS, .n_targets = 2};
    ds_dataset *ds;
    nn_err err;
    assert_int_equal(ds_create(&ds, &synth_ops, &sy, &info, "synthetic", &err), NN_OK);
    assert_string_equal(ds_digest(ds), "");
    size_t order[20];
    for (size_t i = 0; i < 20; i++)
        order[i] = i;
    ds_loader_opts o = {.batch_size = 4, .queue_depth = 2, .shuffle = false, .xf = {.scale = 1.0f}};
    ds_loader *l;
    assert_int_equal(ds_loader_create(&l, ds, order, 20, &o, &err), NN_OK);
    const ds_batch *b;
    for (int k = 0; k < 3; k++) { /* items 0..11 decode */
        assert_int_equal(ds_loader_next(l, &b, &err), NN_OK);
        assert_non_null(b->targets);
        for (int r = 0; r < b->n; r++) {
            assert_true(b->targets[2 * r] == (float)b->items[r] / 2 && b->targets[2 * r + 1] == -(float)b->items[r]);
            assert_true(b->images[r * 12 + 11] == (float)b->items[r]);
        }
    }
    for (int k = 0; k < 2; k++) { /* batch 3 holds item 13: its error, then the same again */
        err.msg[0] = 0;
        assert_int_equal(ds_loader_next(l, &b, &err), NN_E_PARSE);
        assert_null(b);
        assert_string_equal(err.msg, "synthetic: record 13: corrupt image");
    }
    ds_loader_free(l);
    ds_close(ds);

    info.n_targets = 0;
    assert_int_equal(ds_create(&ds, &synth_ops, &sy, &info, "synthetic", &err), NN_E_ARG);
    assert_non_null(strstr(err.msg, "synthetic: task out of range"));
    info.n_targets = 2;
    info.c = 0;
    assert_int_equal(ds_create(&ds, &synth_ops, &sy, &info, "synthetic", &err), NN_E_ARG);
    assert_non_null(strstr(err.msg, "image shape out of range (expected >= 1 each, got 2x2x0)"));
    info.c = 3;
    sy.n = 0;
    assert_int_equal(ds_create(&ds, &synth_ops, &sy, &info, "synthetic", &err), NN_E_PARSE);
    assert_string_equal(err.msg, "synthetic: empty dataset (expected at least 1 item, got 0)");
    assert_int_equal(ds_create(&ds, NULL, &sy, &info, "synthetic", &err), NN_E_ARG);
}

static void test_rng(void **state)
{
    (void)state;
    ds_rng r = {123};
    unsigned counts[3] = {0};
    for (int i = 0; i < 3000; i++)
        counts[ds_rng_below(&r, 3)]++;
    for (int i = 0; i < 3; i++)
        assert_true(counts[i] > 850 && counts[i] < 1150);
    assert_int_equal(ds_rng_below(&r, 1), 0);
    ds_rng a = {5}, b = {5};
    assert_true(ds_rng_next(&a) == ds_rng_next(&b));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_and_items),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_digest),
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_loader_epochs),
        cmocka_unit_test(test_loader_bounded_and_no_alloc),
        cmocka_unit_test(test_custom_kind_targets_and_errors),
        cmocka_unit_test(test_rng),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
