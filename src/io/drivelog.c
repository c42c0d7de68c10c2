/* drivelog.c — what the drive-log readers share (see drivelog_read.h): log file or folder, row
 * array and path pool, one-line errors, number fields, image lookup with the missing-image
 * policy, the final pointer pass; plus file-name and date timestamps and the dispatch by format
 * name. The formats themselves are in drivelog_udacity.c, drivelog_sully.c, drivelog_donkey.c. */
#include "io/drivelog_read.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/file_read.h"
#include "common/parse_num.h"
#include "io/file.h"

const char *io_basename_any(const char *path)
{
    const char *b = path;
    for (const char *p = path; *p; p++)
        if (*p == '/' || *p == '\\')
            b = p + 1;
    return b;
}

/* H. Hinnant's days_from_civil. */
int64_t io_rd_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Reads exactly `width` digits at *p into *v. */
static bool digits(const char **p, int width, int *v)
{
    *v = 0;
    for (int k = 0; k < width; k++, (*p)++) {
        if (!isdigit((unsigned char)**p))
            return false;
        *v = *v * 10 + (**p - '0');
    }
    return true;
}

/* ms since 1970 of a date and time, false when a field is out of range. */
static bool civil_ms(const int v[6], int ms, int64_t *t_ms)
{
    if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 || v[5] > 60)
        return false;
    int64_t s = io_rd_days_from_civil(v[0], v[1], v[2]) * 86400 + v[3] * 3600 + v[4] * 60 + v[5];
    *t_ms = s * 1000 + ms;
    return true;
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
        if (!digits(&p, widths[i], &v[i]) || *p != (i < 6 ? '_' : '.'))
            return false;
        p++;
    }
    return civil_ms(v, v[6], t_ms);
}

bool io_sully_time(const char *s, int64_t *t_ms)
{
    /* YYYY-MM-DD HH:MM:SS:mmm (or .mmm; 1..6 fraction digits) */
    static const int widths[6] = {4, 2, 2, 2, 2, 2};
    static const char seps[6] = {'-', '-', ' ', ':', ':', 0};
    const char *p = s;
    int v[6];
    for (int i = 0; i < 6; i++) {
        if (!digits(&p, widths[i], &v[i]))
            return false;
        if (i < 5 && *p++ != seps[i])
            return false;
    }
    if (*p != ':' && *p != '.')
        return false;
    p++;
    int n = 0;
    double frac = 0, unit = 0.1;
    while (isdigit((unsigned char)*p) && n < 6) {
        frac += (*p++ - '0') * unit;
        unit *= 0.1;
        n++;
    }
    if (n == 0 || *p)
        return false;
    return civil_ms(v, (int)floor(frac * 1000.0 + 1e-6), t_ms);
}

void io_drive_log_free(io_drive_log *log)
{
    free(log->rows);
    free(log->pool);
    memset(log, 0, sizeof *log);
}

nn_status io_drive_load(io_drive_log *log, const char *format, const char *path, const io_drive_opts *opts,
                        nn_err *err)
{
    memset(log, 0, sizeof *log);
    if (format && strcmp(format, "udacity") == 0)
        return io_udacity_load(log, path, opts, err);
    if (format && strcmp(format, "sullychen") == 0)
        return io_sully_load(log, path, opts, err);
    if (format && strcmp(format, "donkey") == 0)
        return io_donkey_load(log, path, opts, err);
    return nn_fail(err, NN_E_ARG, "%s: unknown drive-log format (expected udacity, sullychen or donkey, got '%s')",
                   path, format ? format : "");
}

/* ---- the shared reader ---- */

bool io_rd_is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *io_rd_trim(char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        *--e = '\0';
    return s;
}

static nn_status pool_add(io_reader *rd, const char *s, size_t *off)
{
    io_drive_log *log = rd->log;
    size_t n = strlen(s) + 1;
    if (log->pool_len + n > log->pool_cap) {
        size_t cap = log->pool_cap ? log->pool_cap : 4096;
        while (log->pool_len + n > cap)
            cap *= 2;
        char *p = realloc(log->pool, cap);
        if (!p)
            return nn_fail(rd->err, NN_E_NOMEM, "%s: out of memory", log->path);
        log->pool = p;
        log->pool_cap = cap;
    }
    memcpy(log->pool + log->pool_len, s, n);
    *off = log->pool_len;
    log->pool_len += n;
    return NN_OK;
}

nn_status io_rd_set_file(io_reader *rd, const char *path)
{
    snprintf(rd->file, sizeof rd->file, "%s", path);
    rd->line = 0;
    return pool_add(rd, path, &rd->file_off);
}

nn_status io_rd_open(io_reader *rd, io_drive_log *log, const char *path, const char *default_name,
                     const char *const *also, int n_also, const io_drive_opts *opts, nn_err *err, FILE **fp)
{
    memset(log, 0, sizeof *log);
    memset(rd, 0, sizeof *rd);
    *fp = NULL;
    rd->log = log;
    rd->err = err;
    rd->opts = (io_drive_opts){.check_images = true};
    if (opts)
        rd->opts = *opts;
    if (!(rd->opts.max_angle_deg >= 0) || !isfinite(rd->opts.max_angle_deg))
        return nn_fail(err, NN_E_ARG, "%s: max_angle_deg must be a positive number (got %g)", path,
                       rd->opts.max_angle_deg);
    if (rd->opts.max_angle_deg == 0)
        rd->opts.max_angle_deg = IO_DEFAULT_MAX_ANGLE_DEG;
    if (strlen(path) + strlen(default_name) + 16 >= sizeof log->path)
        return nn_fail(err, NN_E_ARG, "%.200s...: path too long", path);
    if (is_dir(path)) {
        size_t n = strlen(path);
        while (n > 1 && path[n - 1] == '/')
            n--;
        snprintf(log->path, sizeof log->path, "%.*s/%s", (int)n, path, default_name);
        for (int i = 0; i < n_also && !io_rd_is_file(log->path); i++) {
            char alt[sizeof log->path];
            snprintf(alt, sizeof alt, "%.*s/%.64s", (int)n, path, also[i]);
            if (io_rd_is_file(alt))
                memcpy(log->path, alt, sizeof alt);
        }
    } else {
        snprintf(log->path, sizeof log->path, "%s", path);
    }
    const char *slash = strrchr(log->path, '/');
    if (!slash)
        snprintf(log->dir, sizeof log->dir, ".");
    else if (slash == log->path)
        snprintf(log->dir, sizeof log->dir, "/");
    else
        snprintf(log->dir, sizeof log->dir, "%.*s", (int)(slash - log->path), log->path);
    sha256_init(&rd->sha);
    nn_status s = io_fopen_regular(log->path, fp, err);
    if (s)
        return s;
    s = io_rd_set_file(rd, log->path);
    if (s) {
        fclose(*fp);
        *fp = NULL;
        io_drive_log_free(log);
    }
    return s;
}

void io_rd_hash(io_reader *rd, const void *buf, size_t len) { sha256_update(&rd->sha, buf, len); }

nn_status io_rd_getline(io_reader *rd, FILE *fp, const char *field, char **line, size_t *cap, char **text,
                        bool *eof)
{
    errno = 0;
    ssize_t len = getline(line, cap, fp);
    *eof = len < 0;
    if (len < 0)
        return ferror(fp) ? nn_fail(rd->err, NN_E_IO, "%s: cannot read: %s", rd->file,
                                    strerror(errno ? errno : EIO))
                          : NN_OK;
    rd->line++;
    sha256_update(&rd->sha, *line, (size_t)len);
    *text = *line;
    if ((size_t)len != strlen(*line))
        return io_rd_fail(rd, field, "NUL byte in the line", "");
    if (rd->line == 1 && len >= 3 && memcmp(*line, "\xEF\xBB\xBF", 3) == 0)
        *text += 3;
    return NN_OK;
}

nn_status io_rd_fail(io_reader *rd, const char *field, const char *problem, const char *got)
{
    return nn_fail(rd->err, NN_E_PARSE, "%s:%d: %s: %s (got '%.200s')", rd->file, rd->line, field, problem, got);
}

nn_status io_rd_number(io_reader *rd, const char *field, const char *s, double lo, double hi, float *out)
{
    double v;
    if (!cm_parse_finite(s, &v))
        return io_rd_fail(rd, field, "expected a number", s);
    if (v < lo || v > hi) {
        char problem[96];
        snprintf(problem, sizeof problem, "must be in [%g, %g]", lo, hi);
        return io_rd_fail(rd, field, problem, s);
    }
    *out = (float)v;
    return NN_OK;
}

io_drive_row *io_rd_row(io_reader *rd)
{
    io_drive_log *log = rd->log;
    if (log->n == log->rows_cap) {
        size_t cap = log->rows_cap ? log->rows_cap * 2 : 256;
        io_drive_row *r = realloc(log->rows, cap * sizeof *r);
        if (!r) {
            nn_fail(rd->err, NN_E_NOMEM, "%s: out of memory", log->path);
            return NULL;
        }
        log->rows = r;
        size_t *o = realloc(rd->offs, cap * IO_ROW_PATHS * sizeof *o);
        if (!o) {
            nn_fail(rd->err, NN_E_NOMEM, "%s: out of memory", log->path);
            return NULL;
        }
        rd->offs = o;
        log->rows_cap = cap;
    }
    io_drive_row *r = &log->rows[log->n];
    memset(r, 0, sizeof *r);
    r->line = rd->line;
    size_t *off = &rd->offs[log->n * IO_ROW_PATHS];
    for (int k = 0; k < IO_ROW_PATHS; k++)
        off[k] = SIZE_MAX;
    off[IO_PATH_FILE] = rd->file_off;
    return r;
}

void io_rd_commit(io_reader *rd) { rd->log->n++; }

nn_status io_rd_image(io_reader *rd, const char *field, const char *value, const char *const *cand, int n,
                      const char *problem, bool required, int slot, bool *missing)
{
    size_t *off = &rd->offs[rd->log->n * IO_ROW_PATHS + slot];
    *off = SIZE_MAX;
    *missing = false;
    if (!*value) {
        if (required)
            return io_rd_fail(rd, field, "empty image path", value);
        return NN_OK;
    }
    if (rd->opts.check_images)
        rd->log->listed++;
    for (int i = 0; i < n; i++) {
        struct stat st;
        if (stat(cand[i], &st) != 0)
            continue;
        if (S_ISREG(st.st_mode))
            return pool_add(rd, cand[i], off);
        if (rd->opts.check_images) {
            char problem_kind[64];
            snprintf(problem_kind, sizeof problem_kind, "image is %s, expected a regular file", cm_file_kind(st.st_mode));
            return io_rd_fail(rd, field, problem_kind, value);
        }
    }
    if (!rd->opts.check_images)
        return pool_add(rd, cand[0], off);
    if (!rd->opts.skip_missing)
        return io_rd_fail(rd, field, problem, value);
    *missing = true;
    if (rd->log->missing++ == 0) {
        nn_err e;
        io_reader quiet = *rd;
        quiet.err = &e;
        io_rd_fail(&quiet, field, problem, value);
        snprintf(rd->log->first_missing, sizeof rd->log->first_missing, "%s", e.msg);
    }
    return NN_OK;
}

nn_status io_rd_finish(io_reader *rd, nn_status s, const char *what)
{
    io_drive_log *log = rd->log;
    if (!s)
        sha256_final_tag(&rd->sha, log->digest);
    if (!s && log->n == 0) {
        if (log->skipped)
            s = nn_fail(rd->err, NN_E_PARSE, "%s: no rows left: all %zu rows name a missing image (first: %s)",
                        log->path, log->skipped, log->first_missing);
        else
            s = nn_fail(rd->err, NN_E_PARSE, "%s: no rows (expected %s)", log->path, what);
    }
    if (!s) {
        log->all_timed = true;
        for (size_t i = 0; i < log->n; i++) {
            io_drive_row *r = &log->rows[i];
            const char **dst[IO_ROW_PATHS] = {&r->center, &r->left, &r->right, &r->file};
            for (int k = 0; k < IO_ROW_PATHS; k++) {
                size_t o = rd->offs[i * IO_ROW_PATHS + k];
                *dst[k] = o == SIZE_MAX ? "" : log->pool + o;
            }
            if (!r->has_time || (i > 0 && r->t_ms < log->rows[i - 1].t_ms))
                log->all_timed = false;
        }
    }
    free(rd->offs);
    rd->offs = NULL;
    if (s)
        io_drive_log_free(log);
    return s;
}
