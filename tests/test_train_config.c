/* test_train_config.c — steer-train's config table (src/train/train_config.c): defaults and the
 * defaults that follow other keys, every type and bound, unknown and duplicate keys, wrong
 * types, missing required keys, every cross-field rule, relative paths, `--set key=value`
 * overrides (accepted, unknown key, bad value, malformed), and the dump/hash round trip. Every
 * error is one line: `file:line:col: key: problem` or `--set key...: problem`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "train/train_config.h"

#define BASE "model: m.yaml\ndataset:\n  kind: idx\n  train: /d/train-images-idx3-ubyte\noutput: /tmp/run\n"

static nn_status load(train_config *c, const char *text, const char *const *sets, int n_sets, nn_err *err)
{
    memset(err, 0, sizeof *err);
    nn_status s = tc_parse_buffer(c, text, strlen(text), "dir/t.yaml", err);
    for (int i = 0; !s && i < n_sets; i++)
        s = tc_set(c, sets[i], err);
    return s ? s : tc_validate(c, err);
}

/* Fails unless text (+ sets) is refused with a message starting `prefix` and containing needle. */
static void expect_error_sets(const char *text, const char *const *sets, int n_sets, const char *prefix,
                              const char *needle)
{
    train_config c;
    nn_err err;
    if (load(&c, text, sets, n_sets, &err) == NN_OK)
        fail_msg("accepted a bad config:\n%s", text);
    if (strncmp(err.msg, prefix, strlen(prefix)) != 0 || !strstr(err.msg, needle))
        fail_msg("config:\n%s\nexpected '%s...%s', got '%s'", text, prefix, needle, err.msg);
    assert_null(strchr(err.msg, '\n'));
}

static void expect_error(const char *text, int line, int col, const char *needle)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "dir/t.yaml:%d:%d: ", line, col);
    expect_error_sets(text, NULL, 0, prefix, needle);
}

static void expect_set_error(const char *set, const char *needle)
{
    const char *sets[] = {set};
    expect_error_sets(BASE, sets, 1, "--set ", needle);
}

static void test_defaults(void **state)
{
    (void)state;
    train_config c;
    nn_err err;
    assert_int_equal(load(&c, BASE, NULL, 0, &err), NN_OK);
    assert_string_equal(c.model, "dir/m.yaml"); /* relative to the config's folder */
    assert_string_equal(c.train, "/d/train-images-idx3-ubyte");
    assert_string_equal(c.test, "");
    assert_int_equal(c.task, TC_TASK_CLASSIFY);
    assert_int_equal(c.loss_kind, TC_LOSS_CE);
    assert_int_equal(c.opt_kind, TC_OPT_ADAM);
    assert_int_equal(c.batch_size, 64);
    assert_int_equal(c.epochs, 10);
    assert_int_equal(c.threads, 1);
    assert_int_equal(c.seed, 1);
    assert_true(c.lr == 1e-3 && c.betas[0] == 0.9 && c.betas[1] == 0.999 && c.eps == 1e-8);
    assert_true(c.weight_decay == 0.0 && c.val_split == 0.1 && c.grad_clip == 0.0);
    assert_true(c.aug_steering_correction == 0.25);
    /* adamw: weight decay defaults to 0.01 (PyTorch) unless given */
    assert_int_equal(load(&c, BASE "optimizer: {kind: adamw}\n", NULL, 0, &err), NN_OK);
    assert_true(c.weight_decay == 0.01);
    assert_int_equal(load(&c, BASE "optimizer: {kind: adamw, weight_decay: 0}\n", NULL, 0, &err), NN_OK);
    assert_true(c.weight_decay == 0.0);
}

static void test_every_key(void **state)
{
    (void)state;
    const char *text =
        "model: /m.yaml\n"
        "dataset:\n  kind: idx\n  train: a-images-idx3\n  train_labels: l\n  test: t\n  test_labels: tl\n"
        "  classes: 10\n  queue_depth: 8\n"
        "task: classification\nbatch_size: 32\nepochs: 3\n"
        "optimizer:\n  kind: sgd\n  lr: 0.1\n  momentum: 0.9\n  dampening: 0\n  nesterov: true\n"
        "  weight_decay: 0.0005\n"
        "schedule:\n  kind: cosine\n  warmup_epochs: 1\n  warmup_start: 0.5\n  min_lr: 0.001\n"
        "loss:\n  kind: cross_entropy\n"
        "grad_clip: 2.5\nval_split: 0\nseed: 42\nthreads: 2\noutput: out\n";
    train_config c;
    nn_err err;
    assert_int_equal(load(&c, text, NULL, 0, &err), NN_OK);
    assert_string_equal(c.train_labels, "dir/l");
    assert_string_equal(c.test_labels, "dir/tl");
    assert_string_equal(c.output, "dir/out");
    assert_int_equal(c.classes, 10);
    assert_int_equal(c.queue_depth, 8);
    assert_int_equal(c.opt_kind, TC_OPT_SGD);
    assert_true(c.nesterov && c.momentum == 0.9 && c.lr == 0.1 && c.weight_decay == 0.0005);
    assert_int_equal(c.sched_kind, TC_LR_COSINE);
    assert_int_equal(c.warmup_epochs, 1);
    assert_true(c.warmup_start == 0.5 && c.min_lr == 0.001 && c.grad_clip == 2.5 && c.val_split == 0.0);
    assert_int_equal(c.seed, 42);
    /* regression on a driving log with every augmentation key, dotted keys too */
    const char *steer =
        "model: /m.yaml\ndataset: {kind: udacity, train: /rec}\ntask: regression\noutput: /o\n"
        "loss: {kind: huber, delta: 0.2}\noptimizer.betas: [0.8, 0.99]\noptimizer.eps: 1e-6\n"
        "schedule: {kind: step, step_epochs: 3, gamma: 0.5}\n"
        "augmentation:\n  flip: true\n  brightness: 0.3\n  side_cameras: true\n  steering_correction: 0.2\n"
        "  zero_threshold: 0.02\n  zero_keep: 0.5\n";
    assert_int_equal(load(&c, steer, NULL, 0, &err), NN_OK);
    assert_int_equal(c.loss_kind, TC_LOSS_HUBER);
    assert_true(c.huber_delta == 0.2 && c.betas[0] == 0.8 && c.betas[1] == 0.99 && c.eps == 1e-6);
    assert_true(c.aug_flip && c.aug_side_cameras && c.aug_brightness == 0.3 && c.aug_zero_keep == 0.5);
    assert_int_equal(c.step_epochs, 3);
    /* regression's default loss is mse */
    assert_int_equal(load(&c, "model: /m\ndataset: {kind: donkey, train: /t}\ntask: regression\noutput: /o\n",
                          NULL, 0, &err), NN_OK);
    assert_int_equal(c.loss_kind, TC_LOSS_MSE);
    /* idx: the digit shift and the per-step log */
    assert_int_equal(load(&c, BASE "augmentation: {shift: 2}\nlog_steps: true\n", NULL, 0, &err), NN_OK);
    assert_true(c.aug_shift == 2 && c.log_steps);
}

static void test_parse_errors(void **state)
{
    (void)state;
    expect_error(BASE "bogus: 1\n", 6, 1, "bogus: unknown key");
    expect_error(BASE "optimizer:\n  lrr: 0.1\n", 7, 3, "optimizer.lrr: unknown key");
    expect_error(BASE "optimizer: 3\n", 6, 12, "optimizer: expected a mapping");
    expect_error(BASE "batch_size: many\n", 6, 13, "batch_size: expected an integer (got 'many')");
    expect_error(BASE "batch_size: 0\n", 6, 13, "batch_size: must be in [1, 65536] (got 0)");
    expect_error(BASE "epochs: 100001\n", 6, 9, "epochs: must be in [1, 100000]");
    expect_error(BASE "threads: 0\n", 6, 10, "threads: must be in [1, 256]");
    expect_error(BASE "seed: -1\n", 6, 7, "seed: must be in [0,");
    expect_error(BASE "optimizer: {lr: 0}\n", 6, 17, "optimizer.lr: must be > 0 (got 0)");
    expect_error(BASE "optimizer: {lr: fast}\n", 6, 17, "optimizer.lr: expected a finite number (got 'fast')");
    expect_error(BASE "optimizer: {lr: .nan}\n", 6, 17, "optimizer.lr: expected a finite number");
    expect_error(BASE "optimizer: {momentum: 1}\n", 6, 23, "optimizer.momentum: must be in [0,");
    expect_error(BASE "optimizer: {kind: rmsprop}\n", 6, 19, "optimizer.kind: expected one of sgd");
    expect_error(BASE "optimizer: {nesterov: yes}\n", 6, 23, "optimizer.nesterov: expected true or false");
    expect_error(BASE "optimizer: {betas: 0.9}\n", 6, 20, "optimizer.betas: expected a list of two numbers");
    expect_error(BASE "optimizer: {betas: [0.9]}\n", 6, 20, "optimizer.betas: expected a list of two numbers");
    expect_error(BASE "optimizer: {betas: [0.9, 1.5]}\n", 6, 26, "optimizer.betas: must be in [0,");
    expect_error(BASE "optimizer: {eps: 0}\n", 6, 18, "optimizer.eps: must be in (0, 1] (got 0)");
    expect_error(BASE "schedule: {kind: linear}\n", 6, 18, "schedule.kind: expected one of constant");
    expect_error(BASE "schedule: {gamma: 0}\n", 6, 19, "schedule.gamma: must be in (0, 1] (got 0)");
    expect_error(BASE "schedule: {warmup_start: 2}\n", 6, 26, "schedule.warmup_start: must be in (0, 1] (got 2)");
    expect_error(BASE "loss: {kind: l1}\n", 6, 14, "loss.kind: expected one of cross_entropy");
    expect_error(BASE "val_split: 0.95\n", 6, 12, "val_split: must be in [0, 0.9]");
    expect_error(BASE "grad_clip: -1\n", 6, 12, "grad_clip: must be >= 0 (got -1)");
    expect_error(BASE "task: ranking\n", 6, 7, "task: expected one of classification");
    expect_error(BASE "dataset.queue_depth: 1\n", 6, 22, "dataset.queue_depth: must be in [2, 64]");
    expect_error(BASE "dataset.classes: 300\n", 6, 18, "dataset.classes: must be in [0, 256]");
    expect_error("model: \"\"\ndataset: {kind: idx, train: /t}\noutput: /o\n", 1, 8, "model: must not be empty");
    expect_error("model: [a]\ndataset: {kind: idx, train: /t}\noutput: /o\n", 1, 8, "model: expected a scalar");
    expect_error(BASE "optimizer.lr: 0.1\noptimizer: {lr: 0.2}\n", 7, 13, "optimizer.lr: given twice");
    expect_error("dataset: {kind: idx, train: /t}\noutput: /o\n", 1, 1, "model: required key is missing");
    expect_error("model: /m\ndataset: {train: /t}\noutput: /o\n", 2, 10, "dataset.kind: required key is missing");
    expect_error("model: /m\ndataset: {kind: idx}\noutput: /o\n", 2, 10, "dataset.train: required key is missing");
    expect_error("model: /m\ndataset: {kind: idx, train: /t}\n", 1, 1, "output: required key is missing");
    expect_error("- a\n- b\n", 1, 1, "config: expected a mapping of keys at the top level");
    expect_error("", 1, 1, "empty document");
    train_config c;
    nn_err err;
    assert_int_not_equal(load(&c, "model: [\n", NULL, 0, &err), NN_OK); /* YAML syntax */
    assert_non_null(strstr(err.msg, "dir/t.yaml"));
    assert_int_equal(tc_parse_file(&c, "/nonexistent/t.yaml", &err), NN_E_IO);
    assert_string_equal(err.msg, "/nonexistent/t.yaml: cannot open: No such file or directory");
}

static void test_cross_field(void **state)
{
    (void)state;
    expect_error(BASE "task: regression\n", 6, 7, "task: dataset.kind idx holds class labels");
    expect_error("model: /m\ndataset: {kind: udacity, train: /t}\noutput: /o\n", 1, 1,
                 "task: driving logs hold steering angles: task must be regression");
    expect_error(BASE "loss: {kind: mse}\n", 6, 14, "loss.kind: task classification needs cross_entropy");
    expect_error("model: /m\ndataset: {kind: udacity, train: /t}\ntask: regression\noutput: /o\n"
                 "loss: {kind: cross_entropy}\n", 5, 14, "loss.kind: task regression needs mse or huber");
    expect_error(BASE "loss: {delta: 0.5}\n", 6, 15, "loss.delta: only for loss.kind huber");
    expect_error("model: /m\ndataset: {kind: udacity, train: /t, classes: 3}\ntask: regression\noutput: /o\n", 2,
                 46, "dataset.classes: only for dataset.kind idx");
    expect_error(BASE "augmentation: {flip: true}\n", 6, 22,
                 "augmentation.flip: steering augmentation applies to driving-log datasets only");
    expect_error(BASE "augmentation: {zero_keep: 0.5}\n", 6, 27, "augmentation.zero_keep: steering augmentation");
    expect_error("model: /m\ndataset: {kind: sullychen, train: /t}\ntask: regression\noutput: /o\n"
                 "augmentation: {side_cameras: true}\n", 5, 30,
                 "augmentation.side_cameras: needs dataset.kind udacity (a sullychen log has one camera)");
    expect_error(BASE "dataset.allow_missing: true\n", 6, 24,
                 "dataset.allow_missing: applies to driving-log datasets only");
    expect_error(BASE "dataset.test_labels: /l\n", 6, 22, "dataset.test_labels: needs dataset.test");
    expect_error("model: /m\ndataset: {kind: udacity, train: /t}\ntask: regression\noutput: /o\n"
                 "augmentation: {shift: 1}\n", 5, 23, "augmentation.shift: applies to idx datasets only");
    expect_error(BASE "augmentation: {shift: 9}\n", 6, 23, "augmentation.shift: ");
    expect_error(BASE "optimizer: {nesterov: true}\n", 6, 23,
                 "optimizer.nesterov: needs optimizer.kind sgd, momentum > 0 and dampening 0");
    expect_error(BASE "optimizer: {kind: sgd, nesterov: true}\n", 6, 34, "optimizer.nesterov: needs");
    expect_error(BASE "optimizer: {momentum: 0.9}\n", 6, 23, "optimizer.momentum: only for optimizer.kind sgd");
    expect_error(BASE "optimizer: {kind: sgd, betas: [0.8, 0.9]}\n", 6, 31,
                 "optimizer.betas: only for optimizer.kind adam or adamw");
    expect_error(BASE "schedule: {warmup_epochs: 1}\n", 6, 27,
                 "schedule.warmup_epochs: warm-up needs schedule.kind cosine");
    expect_error(BASE "schedule: {kind: cosine, min_lr: 0.1}\n", 6, 34, "schedule.min_lr: must be <= optimizer.lr");
}

/* A warm-up as long as the run or longer (`--set epochs=1` on a config with warmup_epochs: 1)
 * is shortened to epochs - 1, the cosine decay keeping the last epoch; warmup_clipped tells
 * steer-train to say so. A shorter one is kept. replicas: 0 (off) by default, out of the hash. */
static void test_warmup_clip_and_replicas(void **state)
{
    (void)state;
    train_config c;
    nn_err err;
    const char *one[] = {"epochs=1"};
    assert_int_equal(load(&c, BASE "epochs: 3\nschedule: {kind: cosine, warmup_epochs: 1}\n", one, 1, &err), NN_OK);
    assert_int_equal(c.warmup_epochs, 0);
    assert_int_equal(c.warmup_clipped, 1);
    assert_int_equal(load(&c, BASE "epochs: 3\nschedule: {kind: cosine, warmup_epochs: 5}\n", NULL, 0, &err), NN_OK);
    assert_int_equal(c.warmup_epochs, 2);
    assert_int_equal(c.warmup_clipped, 5);
    assert_int_equal(load(&c, BASE "epochs: 3\nschedule: {kind: cosine, warmup_epochs: 2}\n", NULL, 0, &err), NN_OK);
    assert_int_equal(c.warmup_epochs, 2);
    assert_int_equal(c.warmup_clipped, 0);
    char h0[72], h1[72];
    assert_int_equal(load(&c, BASE, NULL, 0, &err), NN_OK);
    assert_int_equal(c.replicas, 0);
    tc_hash(&c, h0);
    const char *four[] = {"replicas=4"};
    assert_int_equal(load(&c, BASE, four, 1, &err), NN_OK);
    assert_int_equal(c.replicas, 4);
    tc_hash(&c, h1);
    assert_string_not_equal(h0, h1);
    expect_error(BASE "replicas: -1\n", 6, 11, "replicas: ");
}

static void test_set(void **state)
{
    (void)state;
    train_config c;
    nn_err err;
    const char *ok[] = {"optimizer.lr=0.5", "epochs=2", "output=rel/out", "optimizer.betas=[0.5, 0.6]",
                        "optimizer.kind=sgd", "optimizer.betas=[0.9, 0.999]", "schedule.kind=step"};
    assert_int_equal(load(&c, BASE, ok, 7, &err), NN_OK);
    assert_true(c.lr == 0.5);
    assert_int_equal(c.epochs, 2);
    assert_string_equal(c.output, "rel/out"); /* --set paths: relative to the current directory */
    assert_int_equal(c.opt_kind, TC_OPT_SGD);
    expect_set_error("optimizer.lr", "--set optimizer.lr: expected key=value");
    expect_set_error("=3", "--set =3: expected key=value");
    expect_set_error("optimizer.rate=3", "--set optimizer.rate: unknown key");
    expect_set_error("optimizer.lr=-1", "--set optimizer.lr=-1: must be > 0 (got -1)");
    expect_set_error("epochs=zero", "--set epochs=zero: expected an integer (got 'zero')");
    expect_set_error("optimizer.kind=rmsprop", "--set optimizer.kind=rmsprop: expected one of sgd");
    expect_set_error("epochs=", "--set epochs=: empty document");
    expect_set_error("model=[", "--set model=[: ");
    /* a rule broken by an override names the override */
    const char *sets[] = {"loss.kind=mse"};
    expect_error_sets(BASE, sets, 1, "--set loss.kind: ", "task classification needs cross_entropy");
    /* a failed override leaves the config as it was */
    assert_int_equal(load(&c, BASE, NULL, 0, &err), NN_OK);
    assert_int_not_equal(tc_set(&c, "batch_size=0", &err), NN_OK);
    assert_int_equal(c.batch_size, 64);
}

static void test_dump_roundtrip(void **state)
{
    (void)state;
    train_config a, b;
    nn_err err;
    const char *sets[] = {"optimizer.kind=adamw", "seed=7"};
    assert_int_equal(load(&a, BASE "dataset.test: /t\n", sets, 2, &err), NN_OK);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    tc_dump(&a, f, true);
    fclose(f);
    nn_status s = tc_parse_buffer(&b, buf, len, "/run/config.yaml", &err);
    if (!s)
        s = tc_validate(&b, &err);
    if (s)
        fail_msg("dump does not parse back: %s\n%s", err.msg, buf);
    free(buf);
    char ha[72], hb[72];
    tc_hash(&a, ha);
    tc_hash(&b, hb);
    assert_string_equal(ha, hb);
    assert_true(b.weight_decay == 0.01 && b.seed == 7);
    /* the output is not part of the hash; anything else is */
    snprintf(b.output, sizeof b.output, "/elsewhere");
    tc_hash(&b, hb);
    assert_string_equal(ha, hb);
    b.log_steps = true; /* nor is the per-step log */
    tc_hash(&b, hb);
    assert_string_equal(ha, hb);
    b.aug_shift = 1;
    tc_hash(&b, hb);
    assert_string_not_equal(ha, hb);
    b.aug_shift = 0;
    b.threads = 2;
    tc_hash(&b, hb);
    assert_string_not_equal(ha, hb);
    assert_string_equal(tc_enum_name(TC_OPT_KIND, TC_OPT_ADAMW), "adamw");
    assert_string_equal(tc_enum_name(TC_BATCH_SIZE, 0), "?");
    assert_string_equal(tc_key_name(TC_OPT_BETAS), "optimizer.betas");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),     cmocka_unit_test(test_every_key), cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_cross_field), cmocka_unit_test(test_set),
        cmocka_unit_test(test_warmup_clip_and_replicas), cmocka_unit_test(test_dump_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
