/* checkpoint.c — run directory creation (refusing to overwrite a previous run) and the
 * checkpoint file: header (magic, version, config hash, counters, sizes), parameters, optimizer
 * state, epoch history (doubles), then the SHA-256 of all of it. Native byte order: checkpoints
 * are for resuming on the machine that wrote them; the portable result is the .safetensors. */
#include "train/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/sha256.h"

static const char magic[8] = {'S', 'T', 'C', 'K', 'P', 'T', '0', '1'};
#define CK_VERSION 1u

typedef struct {
    char magic[8];
    uint32_t version, header_bytes;
    char config_hash[72];
    int64_t epochs_done, opt_step;
    uint64_t train_step, n_params, n_state, n_rows;
} ck_header;

static bool dir_empty(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return false;
    struct dirent *e;
    bool empty = true;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            empty = false;
    closedir(d);
    return empty;
}

static nn_status mkdirs(const char *dir, nn_err *err)
{
    char p[4096];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p)
        return nn_fail(err, NN_E_IO, "%s: path too long", dir);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        if (mkdir(p, 0755) != 0 && errno != EEXIST)
            return nn_fail(err, NN_E_IO, "%s: cannot create directory (%s)", p, strerror(errno));
        *s = '/';
    }
    if (mkdir(p, 0755) != 0 && errno != EEXIST)
        return nn_fail(err, NN_E_IO, "%s: cannot create directory (%s)", p, strerror(errno));
    return NN_OK;
}

nn_status ck_prepare_dir(const char *dir, bool resume, bool *has_checkpoint, nn_err *err)
{
    struct stat st;
    *has_checkpoint = false;
    bool exists = stat(dir, &st) == 0;
    if (exists && !S_ISDIR(st.st_mode))
        return nn_fail(err, NN_E_IO, "%s: exists and is not a directory", dir);
    if (resume) {
        char ck[4096];
        snprintf(ck, sizeof ck, "%s/%s", dir, CK_FILE);
        if (!exists)
            return nn_fail(err, NN_E_IO, "%s: no run directory to resume", dir);
        *has_checkpoint = stat(ck, &st) == 0;
        return NN_OK;
    }
    if (exists && !dir_empty(dir))
        return nn_fail(err, NN_E_IO,
                       "%s: run directory exists and is not empty; refusing to overwrite it (continue it with "
                       "--resume %s, or choose another output)", dir, dir);
    return mkdirs(dir, err);
}

nn_status ck_save(const char *dir, const ck_state *s, nn_err *err)
{
    ck_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, magic, sizeof magic);
    h.version = CK_VERSION;
    h.header_bytes = sizeof h;
    memcpy(h.config_hash, s->config_hash, sizeof h.config_hash);
    h.epochs_done = s->epochs_done;
    h.opt_step = s->opt_step;
    h.train_step = s->train_step;
    h.n_params = s->n_params;
    h.n_state = s->n_state;
    h.n_rows = (uint64_t)s->n_rows;
    sha256_ctx c;
    sha256_init(&c);
    char tmp[4096];
    FILE *f = tm_begin(dir, CK_FILE, tmp, sizeof tmp, err);
    if (!f)
        return NN_E_IO;
    struct {
        const void *p;
        size_t n;
    } parts[] = {{&h, sizeof h},
                 {s->params, s->n_params * sizeof(float)},
                 {s->state, s->n_state * sizeof(float)}};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if (parts[i].n)
            fwrite(parts[i].p, 1, parts[i].n, f);
        sha256_update(&c, parts[i].p, parts[i].n);
    }
    for (int i = 0; i < s->n_rows; i++) {
        const tm_row *r = &s->rows[i];
        const double v[TM_ROW_DOUBLES] = {r->epoch, r->train_loss, r->train_metric, r->val_loss, r->val_metric,
                                          r->lr, r->images_per_s, r->seconds};
        fwrite(v, sizeof v, 1, f);
        sha256_update(&c, v, sizeof v);
    }
    uint8_t sum[32];
    sha256_final(&c, sum);
    fwrite(sum, 1, sizeof sum, f);
    return tm_commit(f, tmp, dir, CK_FILE, err);
}

nn_status ck_load(const char *dir, ck_state *s, int max_rows, nn_err *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, CK_FILE);
    FILE *f = fopen(path, "rb");
    if (!f)
        return nn_fail(err, NN_E_IO, "%s: cannot open (%s)", path, strerror(errno));
    nn_status st = NN_OK;
    uint8_t *buf = NULL;
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        len = ftell(f);
    if (len < (long)(sizeof(ck_header) + 32) || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return nn_fail(err, NN_E_PARSE, "%s: truncated checkpoint (%ld bytes)", path, len);
    }
    buf = calloc(1, (size_t)len);
    if (!buf) {
        fclose(f);
        return nn_fail(err, NN_E_NOMEM, "%s: out of memory", path);
    }
    if (fread(buf, 1, (size_t)len, f) != (size_t)len)
        st = nn_fail(err, NN_E_IO, "%s: read error", path);
    fclose(f);
    ck_header h;
    memcpy(&h, buf, sizeof h);
    size_t body = (size_t)len - 32;
    if (!st && (memcmp(h.magic, magic, sizeof magic) != 0 || h.version != CK_VERSION || h.header_bytes != sizeof h))
        st = nn_fail(err, NN_E_PARSE, "%s: not a steer-train checkpoint of this version", path);
    if (!st && (h.n_params != s->n_params || h.n_state != s->n_state))
        st = nn_fail(err, NN_E_PARSE,
                     "%s: sizes do not match the model and optimizer (expected %zu parameters and %zu state "
                     "floats, got %llu and %llu)", path, s->n_params, s->n_state, (unsigned long long)h.n_params,
                     (unsigned long long)h.n_state);
    if (!st && (h.n_rows > (uint64_t)max_rows || h.n_rows != (uint64_t)h.epochs_done))
        st = nn_fail(err, NN_E_PARSE, "%s: epoch history out of range (%llu rows, %lld epochs done, at most %d)",
                     path, (unsigned long long)h.n_rows, (long long)h.epochs_done, max_rows);
    size_t want = sizeof h + (h.n_params + h.n_state) * sizeof(float) + h.n_rows * TM_ROW_DOUBLES * sizeof(double);
    if (!st && want != body)
        st = nn_fail(err, NN_E_PARSE, "%s: truncated or oversized checkpoint (expected %zu bytes, got %zu)", path,
                     want + 32, (size_t)len);
    if (!st) {
        uint8_t sum[32];
        sha256_ctx c;
        sha256_init(&c);
        sha256_update(&c, buf, body);
        sha256_final(&c, sum);
        if (memcmp(sum, buf + body, 32) != 0)
            st = nn_fail(err, NN_E_CHECKSUM, "%s: checksum mismatch (corrupt checkpoint)", path);
    }
    if (!st) {
        const uint8_t *p = buf + sizeof h;
        memcpy(s->config_hash, h.config_hash, sizeof s->config_hash);
        s->config_hash[sizeof s->config_hash - 1] = 0;
        s->epochs_done = h.epochs_done;
        s->opt_step = h.opt_step;
        s->train_step = h.train_step;
        memcpy(s->params, p, s->n_params * sizeof(float));
        p += s->n_params * sizeof(float);
        if (s->n_state)
            memcpy(s->state, p, s->n_state * sizeof(float));
        p += s->n_state * sizeof(float);
        s->n_rows = (int)h.n_rows;
        for (int i = 0; i < s->n_rows; i++) {
            double v[TM_ROW_DOUBLES];
            memcpy(v, p, sizeof v);
            p += sizeof v;
            s->rows[i] = (tm_row){v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]};
        }
    }
    free(buf);
    return st;
}
