/* drivelog_udacity.c — the Udacity simulator's driving_log.csv reader: a small CSV splitter
 * (quoted fields with "" escapes, spaces around fields trimmed, CRLF and a UTF-8 BOM accepted),
 * the header check, per-field validation, image paths resolved against the log's IMG/ folder,
 * and timestamps from the image file names. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "io/drivelog_read.h"

#define UDACITY_FIELDS 7
static const char *const udacity_cols[UDACITY_FIELDS] = {"center", "left",  "right", "steering",
                                                          "throttle", "brake", "speed"};

static char *trim_blanks(char *s)
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
            fields[n] = trim_blanks(start);
        n++;
        if (!more)
            break;
        p++;
    }
    return n > max ? max + 1 : n;
}

/* <dir>/IMG/<basename> first, then the path as written (relative to <dir> unless absolute). */
static nn_status resolve(io_reader *rd, const char *field, const char *value, bool required, int slot,
                         bool *missing)
{
    char a[8192], b[8192], problem[4200];
    const char *base = io_basename_any(value);
    if (*value && !*base)
        return io_rd_fail(rd, field, "image path has no file name", value);
    snprintf(a, sizeof a, "%s/IMG/%s", rd->log->dir, base);
    if (value[0] == '/')
        snprintf(b, sizeof b, "%s", value);
    else
        snprintf(b, sizeof b, "%s/%s", rd->log->dir, value);
    snprintf(problem, sizeof problem, "image not found in %.4000s/IMG/ nor as written", rd->log->dir);
    const char *cand[2] = {a, b};
    return io_rd_image(rd, field, value, cand, 2, problem, required, slot, missing);
}

static nn_status check_header(io_reader *rd, char **f, int n)
{
    if (n != UDACITY_FIELDS) {
        char got[16];
        snprintf(got, sizeof got, "%d", n > UDACITY_FIELDS ? UDACITY_FIELDS + 1 : n);
        return io_rd_fail(rd, "header", "expected the 7 columns center,left,right,steering,throttle,brake,speed", got);
    }
    for (int i = 0; i < UDACITY_FIELDS; i++)
        if (strcasecmp(f[i], udacity_cols[i]) != 0) {
            char problem[64];
            snprintf(problem, sizeof problem, "column %d must be '%s'", i + 1, udacity_cols[i]);
            return io_rd_fail(rd, "header", problem, f[i]);
        }
    return NN_OK;
}

static nn_status add_row(io_reader *rd, char **f, int n)
{
    if (n != UDACITY_FIELDS) {
        char got[16];
        snprintf(got, sizeof got, n > UDACITY_FIELDS ? "more than %d" : "%d", n > UDACITY_FIELDS ? UDACITY_FIELDS : n);
        return io_rd_fail(rd, "row", "expected 7 fields center,left,right,steering,throttle,brake,speed", got);
    }
    io_drive_row *r = io_rd_row(rd);
    if (!r)
        return NN_E_NOMEM;
    nn_status s;
    bool gone[3] = {false, false, false};
    bool sides = !rd->opts.no_side_images;
    if ((s = io_rd_number(rd, "steering", f[3], -1.0, 1.0, &r->steering)) ||
        (s = io_rd_number(rd, "throttle", f[4], -1.0, 1.0, &r->throttle)) ||
        (s = io_rd_number(rd, "brake", f[5], 0.0, 1.0, &r->brake)) ||
        (s = io_rd_number(rd, "speed", f[6], 0.0, 1000.0, &r->speed)) ||
        (s = resolve(rd, "center", f[0], true, IO_PATH_CENTER, &gone[0])) ||
        (sides && (s = resolve(rd, "left", f[1], false, IO_PATH_LEFT, &gone[1]))) ||
        (sides && (s = resolve(rd, "right", f[2], false, IO_PATH_RIGHT, &gone[2]))))
        return s;
    r->has_time = io_udacity_time(f[0], &r->t_ms);
    if (gone[0])
        rd->log->skipped++;
    else
        io_rd_commit(rd);
    return NN_OK;
}

static nn_status load_lines(io_reader *rd, FILE *fp)
{
    char *line = NULL, *p;
    size_t cap = 0;
    nn_status s = NN_OK;
    bool first = true, eof = false;
    while (!s && !(s = io_rd_getline(rd, fp, "row", &line, &cap, &p, &eof)) && !eof) {
        if (!*trim_blanks(p))
            continue;
        char shown[256], *f[UDACITY_FIELDS];
        snprintf(shown, sizeof shown, "%s", p); /* split_csv() rewrites the line */
        int n = split_csv(p, f, UDACITY_FIELDS);
        if (n < 0) {
            s = io_rd_fail(rd, "row", "unterminated quoted field", shown);
        } else if (first && n >= 1 && strcasecmp(f[0], "center") == 0) {
            rd->log->header = true;
            s = check_header(rd, f, n);
        } else {
            s = add_row(rd, f, n);
        }
        first = false;
    }
    free(line);
    return s;
}

nn_status io_udacity_load(io_drive_log *log, const char *path, const io_drive_opts *opts, nn_err *err)
{
    io_reader rd;
    FILE *fp;
    nn_status s = io_rd_open(&rd, log, path, "driving_log.csv", NULL, 0, opts, err, &fp);
    if (s)
        return s;
    s = load_lines(&rd, fp);
    fclose(fp);
    return io_rd_finish(&rd, s, "center,left,right,steering,throttle,brake,speed");
}
