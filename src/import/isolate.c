/* isolate.c — imp_read_isolated (import.h): a model file parsed in a forked child under resource
 * limits, for readers built on a library that crashes on damaged input (libhdf5 1.10.8: fuzz_h5).
 * The child sends the parsed imp_model (or its one-line error) back over a pipe in a small binary
 * form that the parent reads with bounds on every count, length and string, then hands to
 * imp_write, which loads it through the engine and runs the self-check as for any model: the
 * parent trusts nothing from the child. A child killed by a signal, over a limit, or exiting
 * without a complete result (an ASan report) is one error naming the signal or status. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/file_read.h"
#include "import/import.h"
#include "nn/limits.h"

#define ISO_MAGIC "SDIMP01"
#define ISO_MAX_LAYERS 65536
#define ISO_MAX_TENSORS 131072
/* Address space the child may add to what it has at the fork (which holds the file): libhdf5's two
 * copies of the file image (the property list's, the core driver's; <= IMP_MAX_FILE each) and the
 * weights as float32 (<= 2x a file of float16 weights). A damaged size field asks for far more. */
#define ISO_HEADROOM ((rlim_t)4 * IMP_MAX_FILE)
/* CPU seconds: importing the seed's steering EffNet takes well under 1 s, a 2 GiB file of weights
 * some 20 s under ASan; past 60 s the library is looping on a damaged file (SIGXCPU, then KILL). */
#define ISO_CPU_S 60

/* ---- child: write ---- */

static bool put(FILE *f, const void *p, size_t n) { return fwrite(p, 1, n, f) == n; }
static bool put_i(FILE *f, int32_t v) { return put(f, &v, sizeof v); }

static bool put_model(FILE *f, const imp_model *m)
{
    const int32_t hdr[] = {m->in_h, m->in_w, m->in_c, m->crop, m->src_h, m->src_w, m->top, m->bottom, m->left,
                           m->right, m->n_l, m->n_t};
    bool ok = put(f, hdr, sizeof hdr);
    for (int i = 0; ok && i < m->n_l; i++) {
        const imp_layer *l = &m->l[i];
        ok = put(f, l->name, sizeof l->name) && put(f, l->type, sizeof l->type) && put(f, l->keys, sizeof l->keys) &&
             put(f, l->inputs, sizeof l->inputs) && put_i(f, l->n_inputs) && put_i(f, l->bias);
    }
    for (int i = 0; ok && i < m->n_t; i++) {
        const imp_tensor *t = &m->t[i];
        size_t n = 1;
        for (int d = 0; d < t->ndim; d++)
            n *= (size_t)t->dims[d];
        ok = put(f, t->name, sizeof t->name) && put_i(f, t->ndim) && put(f, t->dims, sizeof t->dims) &&
             put(f, t->data, n * sizeof(float));
    }
    return ok;
}

/* Limits, then the parse; the result goes to fd. Never returns. */
static void child(imp_model *m, imp_parse_fn parse, const char *buf, size_t len, int fd)
{
    long pages = 0;
    FILE *sm = fopen("/proc/self/statm", "r"); /* current size: ASan's shadow reservation included */
    if (sm) {
        if (fscanf(sm, "%ld", &pages) != 1)
            pages = 0;
        fclose(sm);
    }
    struct rlimit as = {(rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + ISO_HEADROOM, 0};
    as.rlim_max = as.rlim_cur;
    struct rlimit cpu = {ISO_CPU_S, ISO_CPU_S + 1};
    if (pages > 0)
        setrlimit(RLIMIT_AS, &as);
    setrlimit(RLIMIT_CPU, &cpu);
    int null = open("/dev/null", O_WRONLY); /* the library's (or ASan's) report: the parent says it */
    if (null >= 0)
        dup2(null, STDERR_FILENO);
    nn_err err;
    nn_status s = parse(m, (const uint8_t *)buf, len, &err);
    FILE *f = fdopen(fd, "w");
    bool ok = f && put(f, ISO_MAGIC, 8) && put_i(f, s);
    if (ok && s)
        ok = put(f, err.msg, sizeof err.msg);
    else if (ok)
        ok = put_model(f, m);
    ok = f && fclose(f) == 0 && ok;
    _exit(ok ? 0 : 1);
}

/* ---- parent: read and validate ---- */

static bool get(FILE *f, void *p, size_t n) { return fread(p, 1, n, f) == n; }

static bool get_i(FILE *f, int32_t *v, int32_t lo, int32_t hi) { return get(f, v, sizeof *v) && *v >= lo && *v <= hi; }

/* A NUL-terminated string within its array, without control characters (one line). */
static bool text_ok(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return n < cap;
}

/* A non-empty name of [A-Za-z0-9_] (as imp_add makes them) and the characters in `extra`. */
static bool name_ok(const char *s, size_t cap, const char *extra)
{
    static const char id[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";
    if (!text_ok(s, cap) || !s[0])
        return false;
    for (const char *p = s; *p; p++)
        if (!strchr(id, *p) && !strchr(extra, *p))
            return false;
    return true;
}

static bool get_layer(FILE *f, imp_layer *l)
{
    int32_t n, b;
    if (!get(f, l->name, sizeof l->name) || !get(f, l->type, sizeof l->type) || !get(f, l->keys, sizeof l->keys) ||
        !get(f, l->inputs, sizeof l->inputs) || !get_i(f, &n, 0, NN_MAX_INPUTS) || !get_i(f, &b, -1, 1))
        return false;
    l->n_inputs = n;
    l->bias = b;
    bool ok = name_ok(l->name, sizeof l->name, "") && name_ok(l->type, sizeof l->type, "") &&
              text_ok(l->keys, sizeof l->keys);
    for (int i = 0; ok && i < n; i++)
        ok = name_ok(l->inputs[i], sizeof l->inputs[i], "");
    return ok;
}

static nn_status get_tensor(FILE *f, imp_model *m, size_t *total, nn_err *err)
{
    char name[sizeof m->t[0].name];
    int32_t ndim, dims[4];
    if (!get(f, name, sizeof name) || !name_ok(name, sizeof name, ".:") || !get_i(f, &ndim, 0, 4) ||
        !get(f, dims, sizeof dims))
        return NN_E_PARSE;
    long long d[4];
    size_t n;
    for (int i = 0; i < ndim; i++)
        d[i] = dims[i] > 0 ? dims[i] : -1;
    if (!imp_count(d, ndim, &n) || n > (size_t)NN_MAX_PARAMS - *total)
        return NN_E_PARSE;
    *total += n;
    float *data = malloc(n ? n * sizeof *data : 1);
    if (!data)
        return nn_fail(err, NN_E_NOMEM, "%s: out of memory", m->src);
    if (!get(f, data, n * sizeof *data)) {
        free(data);
        return NN_E_PARSE;
    }
    char *dot = strchr(name, '.'); /* imp_tensor_add puts it back together */
    if (!dot)
        return free(data), NN_E_PARSE;
    *dot = '\0';
    return imp_tensor_add(m, name, dot + 1, ndim, dims, data, err);
}

/* The child's result into m (its error into err): NN_E_PARSE without touching err when the stream
 * is incomplete or out of bounds. */
static nn_status get_result(FILE *f, imp_model *m, nn_err *err)
{
    char magic[8];
    int32_t s, h[12];
    if (!get(f, magic, sizeof magic) || memcmp(magic, ISO_MAGIC, sizeof magic) != 0 || !get_i(f, &s, 0, 1 << 16))
        return NN_E_PARSE;
    if (s) {
        nn_err e;
        if (!get(f, e.msg, sizeof e.msg) || !text_ok(e.msg, sizeof e.msg) || !e.msg[0])
            return NN_E_PARSE;
        *err = e;
        return (nn_status)s;
    }
    if (!get(f, h, sizeof h))
        return NN_E_PARSE;
    for (int i = 0; i < 10; i++)
        if (h[i] < 0 || h[i] > NN_MAX_DIM)
            return NN_E_PARSE;
    if (h[10] < 1 || h[10] > ISO_MAX_LAYERS || h[11] < 0 || h[11] > ISO_MAX_TENSORS)
        return NN_E_PARSE;
    m->in_h = h[0], m->in_w = h[1], m->in_c = h[2], m->crop = h[3] != 0;
    m->src_h = h[4], m->src_w = h[5], m->top = h[6], m->bottom = h[7], m->left = h[8], m->right = h[9];
    m->l = calloc((size_t)h[10], sizeof *m->l);
    if (!m->l)
        return nn_fail(err, NN_E_NOMEM, "%s: out of memory", m->src);
    m->cap_l = h[10];
    for (; m->n_l < h[10]; m->n_l++)
        if (!get_layer(f, &m->l[m->n_l]))
            return NN_E_PARSE;
    size_t total = 0;
    for (int i = 0; i < h[11]; i++) {
        nn_status t = get_tensor(f, m, &total, err);
        if (t)
            return t;
    }
    return fgetc(f) == EOF ? NN_OK : NN_E_PARSE;
}

nn_status imp_read_isolated(imp_model *m, imp_parse_fn parse, const char *lib, nn_err *err)
{
    char *buf;
    size_t len;
    nn_status s = cm_read_regular(m->src, IMP_MAX_FILE, &buf, &len, err);
    if (s)
        return s;
    int fd[2];
    if (pipe(fd) != 0) {
        free(buf);
        return nn_fail(err, NN_E_IO, "%s: pipe: %s", m->src, strerror(errno));
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        child(m, parse, buf, len, fd[1]);
    }
    free(buf);
    close(fd[1]);
    if (pid < 0) {
        close(fd[0]);
        return nn_fail(err, NN_E_IO, "%s: fork: %s", m->src, strerror(errno));
    }
    FILE *f = fdopen(fd[0], "r");
    nn_err e;
    e.msg[0] = '\0';
    s = f ? get_result(f, m, &e) : NN_E_IO;
    if (f) /* the rest of a bad stream, so that the child ends on its own */
        while (fgetc(f) != EOF) {
        }
    f ? fclose(f) : close(fd[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    bool clean = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (!clean || (s == NN_E_PARSE && e.msg[0] == '\0')) {
        imp_free(m);
        char why[64];
        if (WIFSIGNALED(st)) {
            const char *abbr = sigabbrev_np(WTERMSIG(st));
            snprintf(why, sizeof why, "signal %d, SIG%s", WTERMSIG(st), abbr ? abbr : "?");
        } else if (!clean) {
            snprintf(why, sizeof why, "exit status %d", WEXITSTATUS(st));
        } else {
            snprintf(why, sizeof why, "its result was incomplete");
        }
        return nn_fail(err, NN_E_PARSE, "%s: the %s library failed reading this file (%s): the file is damaged or "
                       "not a %s", m->src, lib, why, m->format);
    }
    if (s) {
        imp_free(m);
        *err = e;
    }
    return s;
}
