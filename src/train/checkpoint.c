/* checkpoint.c — run directory creation (refusing to overwrite a previous run) and the
 * checkpoint file: header (magic, version, config hash, counters, sizes, then the model and
 * dataset hashes), parameters, optimizer state, epoch history (doubles), then the SHA-256 of
 * all of it. Native byte order: checkpoints
 * are for resuming on the machine that wrote them; the portable result is the .safetensors. */
#include "train/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file_read.h"
#include "common/sha256.h"

static const char magic[8] = {'S', 'T', 'C', 'K', 'P', 'T', '0', '1'};
#define CK_VERSION 2u

/* Version 1's header; version 2 follows it with ck_ident (header_bytes covers both). */
typedef struct {
    char magic[8];
    uint32_t version, header_bytes;
    char config_hash[72];
    int64_t epochs_done, opt_step;
    uint64_t train_step, n_params, n_state, n_rows;
} ck_header;

typedef struct {
    char model_hash[72], data_hash[72];
} ck_ident;

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
    return cm_mkdirs(dir, err);
}

nn_status ck_save(const char *dir, const ck_state *s, nn_err *err)
{
    ck_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, magic, sizeof magic);
    h.version = CK_VERSION;
    h.header_bytes = sizeof h + sizeof(ck_ident);
    ck_ident id;
    memset(&id, 0, sizeof id);
    memcpy(id.model_hash, s->model_hash, sizeof id.model_hash);
    memcpy(id.data_hash, s->data_hash, sizeof id.data_hash);
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
                 {&id, sizeof id},
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

/* Reads n bytes at offset off of fd (pread until done); false on an error or an early end. */
static bool read_at(int fd, void *buf, size_t n, size_t off)
{
    uint8_t *p = buf;
    errno = 0;
    while (n) {
        ssize_t r = pread(fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        p += r;
        n -= (size_t)r;
        off += (size_t)r;
    }
    return true;
}

/* The body size the header announces (header, parameters, state, rows), or 0 when it cannot be
 * the size of a file of len bytes (the products are checked against len, so none overflows). */
static size_t body_bytes(const ck_header *h, size_t hbytes, size_t len)
{
    size_t room = len / sizeof(float);
    if (h->n_params > room || h->n_state > room || h->n_rows > len / (TM_ROW_DOUBLES * sizeof(double)))
        return 0;
    return hbytes + (size_t)(h->n_params + h->n_state) * sizeof(float) +
           (size_t)h->n_rows * TM_ROW_DOUBLES * sizeof(double);
}

/* Compares one identity hash; a mismatch is an error, or with x->force a note. */
static nn_status check_identity(const char *path, const char *what, const char *name, const char *was,
                                const char *now, ck_expect *x, nn_err *err)
{
    if (!now || !now[0] || strcmp(was, now) == 0)
        return NN_OK;
    char line[360];
    snprintf(line, sizeof line, "%.150s: the %s %.120s changed since the checkpoint (%.19s... now %.19s...)", path,
             what, name, was, now);
    if (!x->force)
        return nn_fail(err, NN_E_ARG, "%s; resume with the original one, or pass --force to continue from this "
                       "checkpoint anyway", line);
    size_t n = strlen(x->note);
    if (n < sizeof x->note)
        snprintf(x->note + n, sizeof x->note - n, "%s%.360s; continuing (--force)", n ? "; " : "", line);
    return NN_OK;
}

nn_status ck_load(const char *dir, ck_state *s, int max_rows, ck_expect *x, nn_err *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, CK_FILE);
    x->note[0] = '\0';
    int fd;
    size_t len;
    nn_status st = cm_open_regular(path, &fd, &len, err);
    if (st)
        return st;
    ck_header h;
    ck_ident id = {{0}, {0}};
    size_t hbytes = 0;
    if (len < sizeof h + 32)
        st = nn_fail(err, NN_E_PARSE, "%s: truncated checkpoint (%zu bytes, expected at least %zu)", path, len,
                     sizeof h + 32);
    else if (!read_at(fd, &h, sizeof h, 0))
        st = nn_fail(err, NN_E_IO, "%s: cannot read the header: %s", path, errno ? strerror(errno) : "short read");
    else if (memcmp(h.magic, magic, sizeof magic) != 0)
        st = nn_fail(err, NN_E_PARSE, "%s: not a steer-train checkpoint (bad magic)", path);
    else if (h.version == 1 && h.header_bytes == sizeof h)
        hbytes = sizeof h;
    else if (h.version == CK_VERSION && h.header_bytes == sizeof h + sizeof id)
        hbytes = sizeof h + sizeof id;
    else
        st = nn_fail(err, NN_E_PARSE, "%s: checkpoint version %u (header %u bytes) is not one this steer-train "
                     "reads (1 or %u)", path, h.version, h.header_bytes, CK_VERSION);
    size_t body = len - 32, want = st ? 0 : body_bytes(&h, hbytes, len);
    if (!st && want != body)
        st = nn_fail(err, NN_E_PARSE, "%s: truncated or oversized checkpoint (its header announces %llu parameters, "
                     "%llu state floats and %llu epochs; the file has %zu bytes)", path,
                     (unsigned long long)h.n_params, (unsigned long long)h.n_state, (unsigned long long)h.n_rows, len);
    uint8_t *buf = NULL;
    if (!st && !(buf = malloc(len)))
        st = nn_fail(err, NN_E_NOMEM, "%s: out of memory for %zu bytes", path, len);
    if (!st && !read_at(fd, buf, len, 0))
        st = nn_fail(err, NN_E_IO, "%s: cannot read: %s", path, errno ? strerror(errno) : "the file shrank");
    close(fd);
    if (!st) {
        uint8_t sum[32];
        sha256_ctx c;
        sha256_init(&c);
        sha256_update(&c, buf, body);
        sha256_final(&c, sum);
        if (memcmp(sum, buf + body, 32) != 0)
            st = nn_fail(err, NN_E_CHECKSUM, "%s: checksum mismatch (corrupt checkpoint)", path);
    }
    if (!st && hbytes > sizeof h) {
        memcpy(&id, buf + sizeof h, sizeof id);
        id.model_hash[sizeof id.model_hash - 1] = id.data_hash[sizeof id.data_hash - 1] = '\0';
        st = check_identity(path, "model file", x->model_path, id.model_hash, x->model_hash, x, err);
        if (!st)
            st = check_identity(path, "dataset", x->data_path, id.data_hash, x->data_hash, x, err);
    } else if (!st) {
        snprintf(x->note, sizeof x->note, "%.300s: a version 1 checkpoint (written before model and dataset hashes): "
                 "the model file and the dataset cannot be checked against it", path);
    }
    if (!st && (h.n_params != s->n_params || h.n_state != s->n_state))
        st = nn_fail(err, NN_E_PARSE,
                     "%s: sizes do not match the model and optimizer (expected %zu parameters and %zu state "
                     "floats, got %llu and %llu)", path, s->n_params, s->n_state, (unsigned long long)h.n_params,
                     (unsigned long long)h.n_state);
    if (!st && (h.n_rows > (uint64_t)max_rows || h.n_rows != (uint64_t)h.epochs_done))
        st = nn_fail(err, NN_E_PARSE, "%s: epoch history out of range (%llu rows, %lld epochs done, at most %d)",
                     path, (unsigned long long)h.n_rows, (long long)h.epochs_done, max_rows);
    if (!st) {
        const uint8_t *p = buf + hbytes;
        memcpy(s->config_hash, h.config_hash, sizeof s->config_hash);
        s->config_hash[sizeof s->config_hash - 1] = 0;
        memcpy(s->model_hash, id.model_hash, sizeof s->model_hash);
        memcpy(s->data_hash, id.data_hash, sizeof s->data_hash);
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
