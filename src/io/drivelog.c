/* drivelog.c — the Udacity simulator's driving_log.csv reader: a small CSV splitter (quoted
 * fields with "" escapes, spaces around fields trimmed, CRLF and a UTF-8 BOM accepted), the
 * header check, per-field validation with `file:line: field: problem (got value)` errors, image
 * path resolution against the log's IMG/ folder, and timestamps from the image file names. */
#include "io/drivelog.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define UDACITY_FIELDS 7
static const char *const udacity_cols[UDACITY_FIELDS] = {"center", "left",  "right", "steering",
                                                          "throttle", "brake", "speed"};

const char *io_basename_any(const char *path)
{
    const char *b = path;
    for (const char *p = path; *p; p++)
        if (*p == '/' || *p == '\\')
            b = p + 1;
    return b;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

bool io_udacity_time(const char *path, int64_t *t_ms)
{
    /* <camera>_YYYY_MM_DD_HH_MM_SS_mmm.<ext> */
    static const int widths[7] = {4, 2, 2, 2, 2, 2, 3};
    const char *p = strchr(io_basename_any(path), '_');
    if (!p)
        return false;
    p++;
    int v[7];
    for (int i = 0; i < 7; i++) {
        v[i] = 0;
        for (int k = 0; k < widths[i]; k++, p++) {
            if (!isdigit((unsigned char)*p))
                return false;
            v[i] = v[i] * 10 + (*p - '0');
        }
        if (*p != (i < 6 ? '_' : '.'))
            return false;
        p++;
    }
    if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 || v[5] > 60)
        return false;
    int64_t s = days_from_civil(v[0], v[1], v[2]) * 86400 + v[3] * 3600 + v[4] * 60 + v[5];
    *t_ms = s * 1000 + v[6];
    return true;
}

void io_drive_log_free(io_drive_log *log)
{
    free(log->rows);
    free(log->pool);
    memset(log, 0, sizeof *log);
}

/* ---- loading ---- */

typedef struct {
    io_drive_log *log;
    io_drive_opts opts;
    size_t *offs;  /* 3 pool offsets per row (SIZE_MAX: empty); pointers are set at the end */
    nn_err *err;
    int line;
} loader;

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        *--e = '\0';
    return s;
}

/* Splits one CSV line in place into at most `max` fields; returns the field count (max + 1 when
 * there are more), or -1 for an unterminated quote. */
static int split_csv(char *line, char **fields, int max)
{
    int n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        char *start = p;
        if (*p == '"') {
            char *w = p;
            p++;
            for (;;) {
                if (!*p)
                    return -1;
                if (*p == '"' && p[1] == '"') {
                    *w++ = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    *w++ = *p++;
                }
            }
            while (*p && *p != ',')
                p++; /* spaces after the closing quote */
            bool more = *p == ',';
            *w = '\0';
            if (n < max)
                fields[n] = start;
            n++;
            if (!more)
                break;
            p++;
            continue;
        }
        while (*p && *p != ',')
            p++;
        bool more = *p == ',';
        *p = '\0';
        if (n < max)
            fields[n] = trim(start);
        n++;
        if (!more)
            break;
        p++;
    }
    return n > max ? max + 1 : n;
}

static nn_status fail_at(loader *ld, const char *field, const char *problem, const char *got)
{
    return nn_fail(ld->err, NN_E_PARSE, "%s:%d: %s: %s (got '%.200s')", ld->log->path, ld->line, field, problem, got);
}

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static nn_status pool_add(loader *ld, const char *s, size_t *off)
{
    io_drive_log *log = ld->log;
    size_t n = strlen(s) + 1;
    if (log->pool_len + n > log->pool_cap) {
        size_t cap = log->pool_cap ? log->pool_cap : 4096;
        while (log->pool_len + n > cap)
            cap *= 2;
        char *p = realloc(log->pool, cap);
        if (!p)
            return nn_fail(ld->err, NN_E_NOMEM, "%s: out of memory", log->path);
        log->pool = p;
        log->pool_cap = cap;
    }
    memcpy(log->pool + log->pool_len, s, n);
    *off = log->pool_len;
    log->pool_len += n;
    return NN_OK;
}

/* <dir>/IMG/<basename> first, then the path as written (relative to <dir> unless absolute). */
static nn_status resolve_image(loader *ld, const char *field, const char *value, bool required, size_t *off)
{
    *off = SIZE_MAX;
    if (!*value) {
        if (required)
            return fail_at(ld, field, "empty image path", value);
        return NN_OK;
    }
    char a[8192], b[8192];
    const char *base = io_basename_any(value);
    if (!*base)
        return fail_at(ld, field, "image path has no file name", value);
    snprintf(a, sizeof a, "%s/IMG/%s", ld->log->dir, base);
    const char *use = a;
    if (!is_file(a)) {
        if (value[0] == '/')
            snprintf(b, sizeof b, "%s", value);
        else
            snprintf(b, sizeof b, "%s/%s", ld->log->dir, value);
        if (is_file(b))
            use = b;
        else if (ld->opts.check_images) {
            char problem[4200];
            snprintf(problem, sizeof problem, "image not found in %.4000s/IMG/ nor as written", ld->log->dir);
            return fail_at(ld, field, problem, value);
        }
    }
    return pool_add(ld, use, off);
}

static nn_status parse_num(loader *ld, const char *field, const char *s, double lo, double hi, float *out)
{
    char *end = NULL;
    errno = 0;
    double v = *s ? strtod(s, &end) : 0;
    if (!*s || *end || errno == ERANGE || !isfinite(v))
        return fail_at(ld, field, "expected a number", s);
    if (v < lo || v > hi) {
        char problem[96];
        snprintf(problem, sizeof problem, "must be in [%g, %g]", lo, hi);
        return fail_at(ld, field, problem, s);
    }
    *out = (float)v;
    return NN_OK;
}

static nn_status check_header(loader *ld, char **f, int n)
{
    if (n != UDACITY_FIELDS) {
        char got[16];
        snprintf(got, sizeof got, "%d", n > UDACITY_FIELDS ? UDACITY_FIELDS + 1 : n);
        return fail_at(ld, "header", "expected the 7 columns center,left,right,steering,throttle,brake,speed", got);
    }
    for (int i = 0; i < UDACITY_FIELDS; i++)
        if (strcasecmp(f[i], udacity_cols[i]) != 0) {
            char problem[64];
            snprintf(problem, sizeof problem, "column %d must be '%s'", i + 1, udacity_cols[i]);
            return fail_at(ld, "header", problem, f[i]);
        }
    return NN_OK;
}

static nn_status add_row(loader *ld, char **f, int n)
{
    io_drive_log *log = ld->log;
    if (n != UDACITY_FIELDS) {
        char got[16];
        snprintf(got, sizeof got, n > UDACITY_FIELDS ? "more than %d" : "%d", n > UDACITY_FIELDS ? UDACITY_FIELDS : n);
        return fail_at(ld, "row", "expected 7 fields center,left,right,steering,throttle,brake,speed", got);
    }
    if (log->n == log->rows_cap) {
        size_t cap = log->rows_cap ? log->rows_cap * 2 : 256;
        io_drive_row *r = realloc(log->rows, cap * sizeof *r);
        if (!r)
            return nn_fail(ld->err, NN_E_NOMEM, "%s: out of memory", log->path);
        log->rows = r;
        size_t *o = realloc(ld->offs, cap * 3 * sizeof *o);
        if (!o)
            return nn_fail(ld->err, NN_E_NOMEM, "%s: out of memory", log->path);
        ld->offs = o;
        log->rows_cap = cap;
    }
    io_drive_row *r = &log->rows[log->n];
    memset(r, 0, sizeof *r);
    r->line = ld->line;
    size_t *off = &ld->offs[log->n * 3];
    nn_status s;
    if ((s = parse_num(ld, "steering", f[3], -1.0, 1.0, &r->steering)) ||
        (s = parse_num(ld, "throttle", f[4], -1.0, 1.0, &r->throttle)) ||
        (s = parse_num(ld, "brake", f[5], 0.0, 1.0, &r->brake)) ||
        (s = parse_num(ld, "speed", f[6], 0.0, 1000.0, &r->speed)) ||
        (s = resolve_image(ld, "center", f[0], true, &off[0])) ||
        (s = resolve_image(ld, "left", f[1], false, &off[1])) ||
        (s = resolve_image(ld, "right", f[2], false, &off[2])))
        return s;
    r->has_time = io_udacity_time(f[0], &r->t_ms);
    log->n++;
    return NN_OK;
}

static nn_status load_lines(loader *ld, FILE *fp)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    nn_status s = NN_OK;
    bool first = true;
    while (!s && (len = getline(&line, &cap, fp)) >= 0) {
        ld->line++;
        char *p = line;
        if (ld->line == 1 && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB && (unsigned char)p[2] == 0xBF)
            p += 3;
        if ((size_t)len != strlen(line)) {
            s = fail_at(ld, "row", "NUL byte in the line", "");
            break;
        }
        if (!*trim(p))
            continue;
        char shown[256], *f[UDACITY_FIELDS];
        snprintf(shown, sizeof shown, "%s", p); /* split_csv() rewrites the line */
        int n = split_csv(p, f, UDACITY_FIELDS);
        if (n < 0) {
            s = fail_at(ld, "row", "unterminated quoted field", shown);
        } else if (first && n >= 1 && strcasecmp(f[0], "center") == 0) {
            ld->log->header = true;
            s = check_header(ld, f, n);
        } else {
            s = add_row(ld, f, n);
        }
        first = false;
    }
    if (!s && ferror(fp))
        s = nn_fail(ld->err, NN_E_IO, "%s: read error: %s", ld->log->path, strerror(errno));
    free(line);
    return s;
}

nn_status io_udacity_load(io_drive_log *log, const char *csv_path, const io_drive_opts *opts, nn_err *err)
{
    memset(log, 0, sizeof *log);
    if (strlen(csv_path) >= sizeof log->path)
        return nn_fail(err, NN_E_ARG, "%.200s...: path too long", csv_path);
    snprintf(log->path, sizeof log->path, "%s", csv_path);
    const char *slash = strrchr(csv_path, '/');
    if (!slash)
        snprintf(log->dir, sizeof log->dir, ".");
    else if (slash == csv_path)
        snprintf(log->dir, sizeof log->dir, "/");
    else
        snprintf(log->dir, sizeof log->dir, "%.*s", (int)(slash - csv_path), csv_path);
    loader ld = {.log = log, .opts = {.check_images = true}, .err = err};
    if (opts)
        ld.opts = *opts;
    FILE *fp = fopen(csv_path, "r");
    if (!fp)
        return nn_fail(err, NN_E_IO, "%s: cannot open: %s", csv_path, strerror(errno));
    nn_status s = load_lines(&ld, fp);
    fclose(fp);
    if (!s && log->n == 0)
        s = nn_fail(err, NN_E_PARSE, "%s: no rows (expected center,left,right,steering,throttle,brake,speed)",
                    csv_path);
    if (!s) {
        log->all_timed = true;
        for (size_t i = 0; i < log->n; i++) {
            io_drive_row *r = &log->rows[i];
            const char **dst[3] = {&r->center, &r->left, &r->right};
            for (int k = 0; k < 3; k++)
                *dst[k] = ld.offs[i * 3 + k] == SIZE_MAX ? "" : log->pool + ld.offs[i * 3 + k];
            if (!r->has_time || (i > 0 && r->t_ms < log->rows[i - 1].t_ms))
                log->all_timed = false;
        }
    }
    free(ld.offs);
    if (s)
        io_drive_log_free(log);
    return s;
}
