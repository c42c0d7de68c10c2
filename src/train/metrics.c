/* metrics.c — log.csv and metrics.json of a training run, written whole from the epoch history
 * through the atomic temp-file + rename helpers (tm_begin / tm_commit) that the checkpoint and
 * the chart use too. */
#include "train/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

/* A number, or an empty CSV field / JSON null when not measured. */
static void put_num(FILE *f, double v, bool json)
{
    if (isfinite(v))
        fprintf(f, "%.6g", v);
    else if (json)
        fputs("null", f);
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
            put_num(f, v[k], false);
        }
        fputc('\n', f);
    }
    return tm_commit(f, tmp, dir, "log.csv", err);
}

static void put_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

nn_status tm_write_json(const char *dir, const tm_summary *s, const tm_row *rows, int n, nn_err *err)
{
    char tmp[4096];
    FILE *f = tm_begin(dir, "metrics.json", tmp, sizeof tmp, err);
    if (!f)
        return NN_E_IO;
    const char *m = s->classify ? "accuracy" : "mae";
    fputs("{\n  \"model\": ", f);
    put_str(f, s->model_name);
    fputs(",\n  \"model_path\": ", f);
    put_str(f, s->model_path);
    fputs(",\n  \"dataset\": ", f);
    put_str(f, s->dataset);
    fputs(",\n  \"task\": ", f);
    put_str(f, s->task);
    fputs(",\n  \"config_hash\": ", f);
    put_str(f, s->config_hash);
    fprintf(f, ",\n  \"metric\": \"%s\",\n  \"trainable_params\": %zu,\n  \"train_items\": %zu,\n"
            "  \"val_items\": %zu,\n  \"epochs_planned\": %d,\n  \"epochs_done\": %d,\n",
            m, s->params, s->n_train, s->n_val, s->epochs, n);
    fputs("  \"weights\": ", f);
    if (s->weights_file)
        put_str(f, s->weights_file);
    else
        fputs("null", f);
    fputs(",\n  \"stopped\": ", f);
    if (s->stopped)
        put_str(f, s->stopped);
    else
        fputs("null", f);
    double secs = 0, ips = 0;
    for (int i = 0; i < n; i++) {
        secs += rows[i].seconds;
        ips += rows[i].images_per_s;
    }
    fputs(",\n  \"seconds_per_epoch\": ", f);
    put_num(f, n ? secs / n : NAN, true);
    fputs(",\n  \"images_per_s\": ", f);
    put_num(f, n ? ips / n : NAN, true);
    fputs(",\n  \"final\": {", f);
    const tm_row *last = n ? &rows[n - 1] : NULL;
    fputs("\"train_loss\": ", f);
    put_num(f, last ? last->train_loss : NAN, true);
    fprintf(f, ", \"train_%s\": ", m);
    put_num(f, last ? last->train_metric : NAN, true);
    fputs(", \"val_loss\": ", f);
    put_num(f, last ? last->val_loss : NAN, true);
    fprintf(f, ", \"val_%s\": ", m);
    put_num(f, last ? last->val_metric : NAN, true);
    fputs("},\n  \"test\": ", f);
    if (s->has_test) {
        fprintf(f, "{\"items\": %zu, \"loss\": ", s->n_test);
        put_num(f, s->test_loss, true);
        fprintf(f, ", \"%s\": ", m);
        put_num(f, s->test_metric, true);
        fputs("}", f);
    } else {
        fputs("null", f);
    }
    fputs(",\n  \"history\": [", f);
    for (int i = 0; i < n; i++) {
        const tm_row *r = &rows[i];
        fprintf(f, "%s\n    {\"epoch\": %d, \"train_loss\": ", i ? "," : "", (int)r->epoch);
        put_num(f, r->train_loss, true);
        fprintf(f, ", \"train_%s\": ", m);
        put_num(f, r->train_metric, true);
        fputs(", \"val_loss\": ", f);
        put_num(f, r->val_loss, true);
        fprintf(f, ", \"val_%s\": ", m);
        put_num(f, r->val_metric, true);
        fputs(", \"lr\": ", f);
        put_num(f, r->lr, true);
        fputs(", \"images_per_s\": ", f);
        put_num(f, r->images_per_s, true);
        fputs(", \"seconds\": ", f);
        put_num(f, r->seconds, true);
        fputs("}", f);
    }
    fputs("\n  ]\n}\n", f);
    return tm_commit(f, tmp, dir, "metrics.json", err);
}
