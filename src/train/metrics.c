/* metrics.c — log.csv and metrics.json of a training run, written whole from the epoch history
 * through the atomic temp-file + rename helpers (tm_begin / tm_commit) that the checkpoint and
 * the chart use too; the JSON through the one JSON writer (common/json_writer.h). */
#include "train/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/json_writer.h"

FILE *tm_begin(const char *dir, const char *name, char *tmp_path, size_t cap, nn_err *err)
{
    int n = snprintf(tmp_path, cap, "%s/.%s.tmp", dir, name);
    if (n < 0 || (size_t)n >= cap) {
        nn_fail(err, NN_E_IO, "%s/%s: path too long", dir, name);
        return NULL;
    }
    FILE *f = fopen(tmp_path, "wb");
    if (!f)
        nn_fail(err, NN_E_IO, "%s: cannot create (%s)", tmp_path, strerror(errno));
    return f;
}

nn_status tm_commit(FILE *f, const char *tmp_path, const char *dir, const char *name, nn_err *err)
{
    char final[4096];
    snprintf(final, sizeof final, "%s/%s", dir, name);
    bool ok = fflush(f) == 0 && !ferror(f) && fsync(fileno(f)) == 0;
    int e = errno;
    ok = fclose(f) == 0 && ok;
    if (!ok) {
        remove(tmp_path);
        return nn_fail(err, NN_E_IO, "%s: write error (%s)", tmp_path, strerror(e));
    }
    if (rename(tmp_path, final) != 0) {
        e = errno;
        remove(tmp_path);
        return nn_fail(err, NN_E_IO, "%s: cannot rename to %s (%s)", tmp_path, final, strerror(e));
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync(dfd); /* make the rename itself durable */
        close(dfd);
    }
    return NN_OK;
}

/* A number, or an empty CSV field when not measured. */
static void put_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.6g", v);
}

nn_status tm_write_csv(const char *dir, const tm_row *rows, int n, bool classify, nn_err *err)
{
    char tmp[4096];
    FILE *f = tm_begin(dir, "log.csv", tmp, sizeof tmp, err);
    if (!f)
        return NN_E_IO;
    const char *m = classify ? "acc" : "mae";
    fprintf(f, "epoch,train_loss,train_%s,val_loss,val_%s,lr,images_per_s,seconds\n", m, m);
    for (int i = 0; i < n; i++) {
        const tm_row *r = &rows[i];
        const double v[] = {r->train_loss, r->train_metric, r->val_loss, r->val_metric, r->lr, r->images_per_s,
                            r->seconds};
        fprintf(f, "%d", (int)r->epoch);
        for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
            fputc(',', f);
            put_num(f, v[k]);
        }
        fputc('\n', f);
    }
    return tm_commit(f, tmp, dir, "log.csv", err);
}

/* ", \"key\": " + a number (%.6g), or null when not measured. */
static void num_field(jbuf *j, const char *sep, const char *key, double v)
{
    jb_raw(j, sep);
    jb_str(j, key);
    jb_raw(j, ": ");
    jb_num(j, v, 6);
}

nn_status tm_write_json(const char *dir, const tm_summary *s, const tm_row *rows, int n, nn_err *err)
{
    char tmp[4096], buf[4096];
    FILE *f = tm_begin(dir, "metrics.json", tmp, sizeof tmp, err);
    if (!f)
        return NN_E_IO;
    jbuf j;
    jb_init_file(&j, buf, sizeof buf, f);
    const char *m = s->classify ? "accuracy" : "mae";
    char train_m[32], val_m[32];
    snprintf(train_m, sizeof train_m, "train_%s", m);
    snprintf(val_m, sizeof val_m, "val_%s", m);
    jb_raw(&j, "{\n  \"model\": ");
    jb_str(&j, s->model_name);
    jb_raw(&j, ",\n  \"model_path\": ");
    jb_str(&j, s->model_path);
    jb_raw(&j, ",\n  \"dataset\": ");
    jb_str(&j, s->dataset);
    jb_raw(&j, ",\n  \"task\": ");
    jb_str(&j, s->task);
    jb_raw(&j, ",\n  \"config_hash\": ");
    jb_str(&j, s->config_hash);
    jb_printf(&j, ",\n  \"metric\": \"%s\",\n  \"trainable_params\": %zu,\n  \"train_items\": %zu,\n"
              "  \"val_items\": %zu,\n  \"epochs_planned\": %d,\n  \"epochs_done\": %d,\n",
              m, s->params, s->n_train, s->n_val, s->epochs, n);
    jb_raw(&j, "  \"weights\": ");
    jb_str_or_null(&j, s->weights_file);
    jb_raw(&j, ",\n  \"stopped\": ");
    jb_str_or_null(&j, s->stopped);
    double secs = 0, ips = 0;
    for (int i = 0; i < n; i++) {
        secs += rows[i].seconds;
        ips += rows[i].images_per_s;
    }
    num_field(&j, ",\n  ", "seconds_per_epoch", n ? secs / n : NAN);
    num_field(&j, ",\n  ", "images_per_s", n ? ips / n : NAN);
    const tm_row *last = n ? &rows[n - 1] : NULL;
    num_field(&j, ",\n  \"final\": {", "train_loss", last ? last->train_loss : NAN);
    num_field(&j, ", ", train_m, last ? last->train_metric : NAN);
    num_field(&j, ", ", "val_loss", last ? last->val_loss : NAN);
    num_field(&j, ", ", val_m, last ? last->val_metric : NAN);
    jb_raw(&j, "},\n  \"test\": ");
    if (s->has_test) {
        jb_printf(&j, "{\"items\": %zu", s->n_test);
        num_field(&j, ", ", "loss", s->test_loss);
        num_field(&j, ", ", m, s->test_metric);
        jb_raw(&j, "}");
    } else {
        jb_raw(&j, "null");
    }
    jb_raw(&j, ",\n  \"history\": [");
    for (int i = 0; i < n; i++) {
        const tm_row *r = &rows[i];
        jb_printf(&j, "%s\n    {\"epoch\": %d", i ? "," : "", (int)r->epoch);
        num_field(&j, ", ", "train_loss", r->train_loss);
        num_field(&j, ", ", train_m, r->train_metric);
        num_field(&j, ", ", "val_loss", r->val_loss);
        num_field(&j, ", ", val_m, r->val_metric);
        num_field(&j, ", ", "lr", r->lr);
        num_field(&j, ", ", "images_per_s", r->images_per_s);
        num_field(&j, ", ", "seconds", r->seconds);
        jb_raw(&j, "}");
    }
    jb_raw(&j, "\n  ]\n}\n");
    if (!jb_flush(&j) && !ferror(f)) { /* a write error is tm_commit's to report */
        fclose(f);
        remove(tmp);
        return nn_fail(err, NN_E_IO, "%s/metrics.json: a value does not fit in the %zu-byte writer", dir, sizeof buf);
    }
    return tm_commit(f, tmp, dir, "metrics.json", err);
}
