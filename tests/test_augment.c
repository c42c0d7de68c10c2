/* test_augment.c — steering augmentation (src/train/augment.c) and the loader applying it:
 * flip really mirrors every row of every channel and negates the steering (twice = unchanged),
 * brightness scales pixels in 0..255 units and clips, a shadow darkens exactly the pixels on its
 * side of its line and leaves the steering alone, draws are a function of (seed, item) with
 * the configured rates (flip ~1/2, cameras ~1/3 each, gain within [1-b, 1+b]) and each choice is
 * independent of the others being on; the per-epoch down-sampling of straight items keeps all
 * others and a fixed number of straight ones, a different seeded choice per epoch; a loader with
 * augmentation gives the same batches for the same seed, other ones for another seed, and
 * allocates nothing per batch (malloc & co. counted through --wrap). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "train/augment.h"

#include "alloc_counter.h"

#define H 3
#define W 5
#define C 3

static void test_flip_mirrors_and_negates(void **state)
{
    (void)state;
    float img[H * W * C], orig[H * W * C];
    for (int i = 0; i < H * W * C; i++)
        orig[i] = img[i] = (float)i * 0.25f - 3.0f;
    float target = 0.375f;
    aug_draw d = {.camera = DS_CAMERA_CENTER, .flip = true, .gain = 1.0f};
    ds_xform xf = {.scale = 1.0f / 255.0f, .offset = -0.5f};
    aug_apply(&d, &xf, img, H, W, C, &target, 1);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int k = 0; k < C; k++)
                if (img[(y * W + x) * C + k] != orig[(y * W + (W - 1 - x)) * C + k])
                    fail_msg("pixel (%d,%d,%d) is not the mirror of (%d,%d,%d)", y, x, k, y, W - 1 - x, k);
    assert_true(target == -0.375f);
    aug_apply(&d, &xf, img, H, W, C, &target, 1);
    assert_memory_equal(img, orig, sizeof img);
    assert_true(target == 0.375f);
    /* no flip, gain 1: nothing changes */
    d.flip = false;
    aug_apply(&d, &xf, img, H, W, C, &target, 1);
    assert_memory_equal(img, orig, sizeof img);
    assert_true(target == 0.375f);
}

static void test_brightness(void **state)
{
    (void)state;
    const ds_xform xf = {.scale = 1.0f / 255.0f, .offset = -0.5f};
    const float pixels[4] = {0, 100, 200, 255};
    float img[4];
    for (int i = 0; i < 4; i++)
        img[i] = pixels[i] * xf.scale + xf.offset;
    aug_draw d = {.camera = DS_CAMERA_CENTER, .flip = false, .gain = 1.5f};
    float target = 0.5f;
    aug_apply(&d, &xf, img, 1, 4, 1, &target, 1);
    const float want[4] = {0, 150, 255, 255}; /* 200 * 1.5 and 255 * 1.5 clip to 255 */
    for (int i = 0; i < 4; i++)
        assert_float_equal(img[i], want[i] * xf.scale + xf.offset, 1e-6);
    assert_true(target == 0.5f);
    d.gain = 0.5f;
    for (int i = 0; i < 4; i++)
        img[i] = pixels[i] * xf.scale + xf.offset;
    aug_apply(&d, &xf, img, 1, 4, 1, NULL, 0);
    for (int i = 0; i < 4; i++)
        assert_float_equal(img[i], pixels[i] * 0.5f * xf.scale + xf.offset, 1e-6);
    /* a negative scale (inverted input) clips the same pixel range */
    const ds_xform inv = {.scale = -2.0f, .offset = 1.0f};
    float v = 200.0f * inv.scale + inv.offset;
    d.gain = 2.0f;
    aug_apply(&d, &inv, &v, 1, 1, 1, NULL, 0);
    assert_float_equal(v, 255.0f * inv.scale + inv.offset, 1e-4);
}

static void test_shadow(void **state)
{
    (void)state;
    /* 4 rows x 8 columns x 2 channels; the line runs from x = 2 (top) to x = 6 (bottom) */
    enum { SH = 4, SW = 8, SC = 2 };
    const ds_xform xf = {.scale = 1.0f / 255.0f, .offset = -0.5f};
    float img[SH * SW * SC], orig[SH * SW * SC];
    for (int i = 0; i < SH * SW * SC; i++)
        orig[i] = img[i] = (float)(i % 251) * xf.scale + xf.offset;
    aug_draw d = {.camera = DS_CAMERA_CENTER, .gain = 1.0f, .shadow = true, .shadow_top = 0.25f,
                  .shadow_bottom = 0.75f, .shadow_left = true, .shadow_gain = 0.5f};
    float target = 0.25f;
    aug_apply(&d, &xf, img, SH, SW, SC, &target, 1);
    assert_true(target == 0.25f);
    int darkened = 0;
    for (int y = 0; y < SH; y++) {
        float edge = (0.25f + 0.5f * (float)y / (SH - 1)) * SW; /* 2, 3.33, 4.67, 6 */
        for (int x = 0; x < SW; x++)
            for (int k = 0; k < SC; k++) {
                int i = (y * SW + x) * SC + k;
                float p = (orig[i] - xf.offset) / xf.scale; /* the pixel in 0..255 */
                if ((float)x + 0.5f < edge) {
                    assert_float_equal(img[i], p * 0.5f * xf.scale + xf.offset, 1e-6);
                    darkened++;
                } else {
                    assert_true(img[i] == orig[i]);
                }
            }
    }
    assert_int_equal(darkened, (2 + 3 + 5 + 6) * SC);
    /* the other side */
    memcpy(img, orig, sizeof img);
    d.shadow_left = false;
    aug_apply(&d, &xf, img, SH, SW, SC, NULL, 0);
    assert_true(img[0] == orig[0]);                                     /* (0, 0): left of the line */
    assert_float_equal(img[(SW - 1) * SC], ((orig[(SW - 1) * SC] - xf.offset) * 0.5f) + xf.offset, 1e-6);
    /* drawn at the configured rate, with the factor and the line inside their ranges */
    aug_config a = {.shadow = 0.3f, .zero_keep = 1.0f};
    assert_true(aug_per_item(&a));
    int on = 0, left = 0;
    const int n = 3000;
    for (int i = 0; i < n; i++) {
        aug_draw e = aug_pick(&a, 11, (size_t)i);
        if (!e.shadow) {
            assert_true(e.shadow_gain == 1.0f);
            continue;
        }
        on++;
        left += e.shadow_left;
        assert_true(e.shadow_gain >= 0.35f && e.shadow_gain <= 0.75f);
        assert_true(e.shadow_top >= 0 && e.shadow_top < 1 && e.shadow_bottom >= 0 && e.shadow_bottom < 1);
    }
    assert_in_range(on, n * 3 / 10 - 120, n * 3 / 10 + 120);
    assert_in_range(left, on / 2 - 100, on / 2 + 100);
}

static void test_draws(void **state)
{
    (void)state;
    aug_config a = {.flip = true, .brightness = 0.3f, .side_cameras = true, .zero_keep = 1.0f};
    int flips = 0, cams[3] = {0, 0, 0};
    const int n = 3000;
    for (int i = 0; i < n; i++) {
        aug_draw d = aug_pick(&a, 77, (size_t)i), e = aug_pick(&a, 77, (size_t)i);
        assert_memory_equal(&d, &e, sizeof d); /* a function of (seed, item) */
        assert_true(d.camera >= 0 && d.camera <= 2);
        assert_true(d.gain >= 0.7f && d.gain <= 1.3f);
        flips += d.flip;
        cams[d.camera]++;
    }
    assert_in_range(flips, n / 2 - 150, n / 2 + 150);
    for (int k = 0; k < 3; k++)
        assert_in_range(cams[k], n / 3 - 150, n / 3 + 150);
    /* another seed gives other draws */
    int same = 0;
    for (int i = 0; i < 200; i++) {
        aug_draw d = aug_pick(&a, 77, (size_t)i), e = aug_pick(&a, 78, (size_t)i);
        same += d.flip == e.flip && d.camera == e.camera && d.gain == e.gain;
    }
    assert_true(same < 20);
    /* turning flip off leaves the other choices as they were */
    aug_config b = a;
    b.flip = false;
    for (int i = 0; i < 100; i++) {
        aug_draw d = aug_pick(&a, 5, (size_t)i), e = aug_pick(&b, 5, (size_t)i);
        assert_false(e.flip);
        assert_true(d.camera == e.camera && d.gain == e.gain);
    }
    /* and turning shadows on changes none of them either */
    aug_config sh = a;
    sh.shadow = 1.0f;
    for (int i = 0; i < 100; i++) {
        aug_draw d = aug_pick(&a, 5, (size_t)i), e = aug_pick(&sh, 5, (size_t)i);
        assert_true(e.shadow && !d.shadow);
        assert_true(d.camera == e.camera && d.gain == e.gain && d.flip == e.flip);
    }
    /* all off: the identity draw, and nothing to do per item */
    aug_config off = {.zero_keep = 0.5f};
    assert_false(aug_per_item(&off));
    assert_false(aug_per_item(NULL));
    aug_draw z = aug_pick(&off, 5, 3);
    assert_true(z.camera == DS_CAMERA_CENTER && !z.flip && z.gain == 1.0f);
}

/* A regression kind whose item i has steering steer[i] and pixels = item index (image 2x4x1). */
#define N_SYN 40
typedef struct {
    float steer[N_SYN];
} synth;

static size_t syn_count(const ds_dataset *ds)
{
    (void)ds;
    return N_SYN;
}

static nn_status syn_get(ds_dataset *ds, size_t i, const ds_xform *xf, float *image, int32_t *label, float *target,
                         nn_err *err)
{
    (void)err;
    const synth *s = ds_impl(ds);
    for (int k = 0; k < 8; k++)
        image[k] = ((float)i + (float)k / 8.0f) * xf->scale + xf->offset; /* pixels i .. i+7/8 */
    if (label)
        *label = 0;
    target[0] = s->steer[i] + (xf->camera == DS_CAMERA_LEFT ? 0.25f : xf->camera == DS_CAMERA_RIGHT ? -0.25f : 0);
    return NN_OK;
}

static nn_status syn_target(const ds_dataset *ds, size_t i, float *target, nn_err *err)
{
    (void)err;
    target[0] = ((const synth *)ds_impl(ds))->steer[i];
    return NN_OK;
}

static void syn_close(ds_dataset *ds) { (void)ds; }

static const ds_ops syn_ops = {syn_count, syn_get, syn_close, syn_target, NULL, NULL};

static ds_dataset *make_synth(synth *s)
{
    for (int i = 0; i < N_SYN; i++)
        s->steer[i] = i % 4 == 0 ? 0.3f * (float)((i % 3) - 1) + 0.05f : 0.0f; /* 10 moving, 30 straight */
    ds_info info = {.h = 2, .w = 4, .c = 1, .task = DS_REGRESS, .n_targets = 1};
    ds_dataset *ds;
    nn_err err;
    assert_int_equal(ds_create(&ds, &syn_ops, s, &info, "synthetic", &err), NN_OK);
    return ds;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

static void test_sampler(void **state)
{
    (void)state;
    synth s;
    ds_dataset *ds = make_synth(&s);
    size_t idx[N_SYN - 4], n = 0;
    for (size_t i = 0; i < N_SYN; i++)
        if (i % 10 != 9) /* a training split of 36 items: 9 moving (0, 4, ... 36 minus none), 27 straight */
            idx[n++] = i;
    size_t moving = 0;
    for (size_t i = 0; i < n; i++)
        moving += fabsf(s.steer[idx[i]]) >= 0.01f;
    aug_config a = {.zero_threshold = 0.01f, .zero_keep = 0.25f};
    aug_sampler sm;
    nn_err err;
    assert_int_equal(aug_sampler_init(&sm, ds, &a, idx, n, &err), NN_OK);
    size_t straight = n - moving, keep = (size_t)llround((double)straight * 0.25);
    assert_int_equal(aug_sampler_count(&sm), moving + keep);
    size_t e0[N_SYN], e1[N_SYN], again[N_SYN];
    size_t count = aug_sampler_count(&sm);
    aug_sampler_epoch(&sm, 9, 0, e0);
    aug_sampler_epoch(&sm, 9, 1, e1);
    aug_sampler_epoch(&sm, 9, 0, again);
    assert_memory_equal(e0, again, count * sizeof *e0); /* seeded */
    for (int e = 0; e < 2; e++) {
        size_t *items = e ? e1 : e0, m = 0;
        qsort(items, count, sizeof *items, cmp_size);
        for (size_t i = 0; i < count; i++) {
            if (i > 0)
                assert_true(items[i] != items[i - 1]); /* no item twice */
            bool in_split = false;
            for (size_t k = 0; k < n; k++)
                in_split |= idx[k] == items[i];
            assert_true(in_split);
            m += fabsf(s.steer[items[i]]) >= 0.01f;
        }
        assert_int_equal(m, moving); /* every moving item, every epoch */
    }
    assert_memory_not_equal(e0, e1, count * sizeof *e0); /* another choice of straight items */
    aug_sampler_free(&sm);
    /* keep everything */
    a.zero_keep = 1.0f;
    assert_int_equal(aug_sampler_init(&sm, ds, &a, idx, n, &err), NN_OK);
    assert_int_equal(aug_sampler_count(&sm), n);
    aug_sampler_free(&sm);
    ds_close(ds);
}

/* All batches of `epochs` epochs of a loader over the synthetic kind, concatenated. */
static size_t run_loader(ds_dataset *ds, const aug_config *a, uint64_t seed, float *images, float *targets,
                         size_t *items, size_t *allocs)
{
    size_t idx[N_SYN];
    for (size_t i = 0; i < N_SYN; i++)
        idx[i] = i;
    ds_loader_opts o = {.batch_size = 8, .queue_depth = 3, .shuffle = true, .seed = seed,
                        .xf = {.scale = 1.0f / 255.0f, .offset = -0.5f}, .aug = a};
    ds_loader *l;
    nn_err err;
    assert_int_equal(ds_loader_create(&l, ds, idx, N_SYN, &o, &err), NN_OK);
    const ds_batch *b;
    size_t rows = 0;
    size_t before = atomic_load(&allocations);
    for (int epoch = 0; epoch < 3; epoch++) {
        while (ds_loader_next(l, &b, &err) == NN_OK && b) {
            memcpy(images + rows * 8, b->images, (size_t)b->n * 8 * sizeof *images);
            memcpy(targets + rows, b->targets, (size_t)b->n * sizeof *targets);
            memcpy(items + rows, b->items, (size_t)b->n * sizeof *items);
            rows += (size_t)b->n;
        }
    }
    *allocs = atomic_load(&allocations) - before;
    ds_loader_free(l);
    return rows;
}

static void test_loader_with_augmentation(void **state)
{
    (void)state;
    synth s;
    ds_dataset *ds = make_synth(&s);
    aug_config a = {.flip = true, .brightness = 0.2f, .side_cameras = true, .zero_keep = 1.0f};
    enum { ROWS = 3 * N_SYN };
    static float im1[ROWS * 8], im2[ROWS * 8], t1[ROWS], t2[ROWS];
    static size_t it1[ROWS], it2[ROWS];
    size_t allocs;
    assert_int_equal(run_loader(ds, &a, 11, im1, t1, it1, &allocs), ROWS);
    if (allocs)
        fail_msg("%zu heap allocations while loading 3 augmented epochs", allocs);
    assert_int_equal(run_loader(ds, &a, 11, im2, t2, it2, &allocs), ROWS);
    assert_memory_equal(im1, im2, sizeof im1); /* the same seed: the same batches */
    assert_memory_equal(t1, t2, sizeof t1);
    int flipped = 0, plain = 0;
    for (size_t r = 0; r < ROWS; r++) {
        size_t i = it1[r];
        /* the row is the item's pixels in order or mirrored (within each of the 2 rows of 4),
         * with a gain: compare the orientation through the pixel ranks */
        const float *p = im1 + r * 8;
        bool mirrored = p[0] > p[3];
        float steer = s.steer[i];
        float t = mirrored ? -t1[r] : t1[r];
        /* the target is the (side-camera corrected) steering, negated exactly when mirrored */
        assert_true(fabsf(t - steer) < 1e-6f || fabsf(t - (steer + 0.25f)) < 1e-6f || fabsf(t - (steer - 0.25f)) < 1e-6f);
        flipped += mirrored;
        plain += !mirrored;
    }
    assert_true(flipped > ROWS / 4 && plain > ROWS / 4);
    assert_int_equal(run_loader(ds, &a, 12, im2, t2, it2, &allocs), ROWS);
    assert_memory_not_equal(im1, im2, sizeof im1); /* another seed: other draws */
    ds_close(ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flip_mirrors_and_negates),
        cmocka_unit_test(test_brightness),
        cmocka_unit_test(test_shadow),
        cmocka_unit_test(test_draws),
        cmocka_unit_test(test_sampler),
        cmocka_unit_test(test_loader_with_augmentation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
