/* drivelog_sully.c — Sully Chen's driving datasets (github.com/SullyChen/driving-datasets):
 * `data.txt` with one frame per line,
 *     0.jpg 0.000000                               (dataset 1, 2017)
 *     0.jpg 0.000000,2018-07-01 17:09:44:912       (the 07/01/2018 dataset)
 * the file name, blanks, the steering-wheel angle in degrees, and optionally a comma and the
 * recording time `YYYY-MM-DD HH:MM:SS:mmm`. Dataset 1 unpacks to `driving_dataset/` with
 * data.txt next to the images; the 2018 archive keeps its images in a `data/` folder. So the
 * log is `<path>/data.txt` or else `<path>/data/data.txt`, and each image is looked up next to
 * data.txt first, then in its `data/` subfolder. steering = angle / max_angle_deg, and an angle
 * beyond +-max_angle_deg is a bad row (the trainer passes the model's `output.scale_deg`). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/drivelog_read.h"
#include "common/parse_num.h"

static bool blank(char c) { return c == ' ' || c == '\t'; }

static nn_status add_row(io_reader *rd, char *p)
{
    char *file = p;
    while (*p && !blank(*p))
        p++;
    if (!*p)
        return io_rd_fail(rd, "row", "expected 'file angle' or 'file angle,date time'", file);
    *p++ = '\0';
    while (blank(*p))
        p++;
    char *angle = p, *when = NULL;
    while (*p && *p != ',' && !blank(*p))
        p++;
    char *end = p;
    while (blank(*p))
        p++;
    if (*p == ',') {
        when = io_rd_trim(p + 1);
    } else if (*p) {
        return io_rd_fail(rd, "row", "expected 'file angle' or 'file angle,date time' (one blank-free file name)", p);
    }
    *end = '\0';
    io_drive_row *r = io_rd_row(rd);
    if (!r)
        return NN_E_NOMEM;
    double max = rd->opts.max_angle_deg;
    double deg;
    if (!cm_parse_finite(angle, &deg))
        return io_rd_fail(rd, "angle", "expected a number of degrees", angle);
    if (fabs(deg) > max) {
        char problem[128];
        snprintf(problem, sizeof problem, "must be in [-%g, %g] degrees (max_angle_deg)", max, max);
        return io_rd_fail(rd, "angle", problem, angle);
    }
    r->steering = (float)(deg / max);
    if (when) {
        if (!io_sully_time(when, &r->t_ms))
            return io_rd_fail(rd, "time", "expected YYYY-MM-DD HH:MM:SS:mmm", when);
        r->has_time = true;
    }
    char a[8192], b[8192], problem[4200];
    snprintf(a, sizeof a, "%s/%s", rd->log->dir, file);
    snprintf(b, sizeof b, "%s/data/%s", rd->log->dir, file);
    snprintf(problem, sizeof problem, "image not found in %.4000s/ nor its data/", rd->log->dir);
    const char *cand[2] = {a, b};
    bool gone;
    nn_status s = io_rd_image(rd, "file", file, cand, 2, problem, true, IO_PATH_CENTER, &gone);
    if (s)
        return s;
    if (gone)
        rd->log->skipped++;
    else
        io_rd_commit(rd);
    return NN_OK;
}

nn_status io_sully_load(io_drive_log *log, const char *path, const io_drive_opts *opts, nn_err *err)
{
    io_reader rd;
    FILE *fp;
    static const char *const also[1] = {"data/data.txt"};
    nn_status s = io_rd_open(&rd, log, path, "data.txt", also, 1, opts, err, &fp);
    if (s)
        return s;
    char *line = NULL, *p;
    size_t cap = 0;
    bool eof = false;
    while (!(s = io_rd_getline(&rd, fp, "row", &line, &cap, &p, &eof)) && !eof) {
        p = io_rd_trim(p);
        if (*p && (s = add_row(&rd, p)))
            break;
    }
    free(line);
    fclose(fp);
    return io_rd_finish(&rd, s, "lines 'file angle' or 'file angle,date time'");
}
