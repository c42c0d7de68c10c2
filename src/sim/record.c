/* record.c — record mode: Udacity-layout drives from the expert with perturbations (record.h). */
#include "sim/record.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/file_read.h"
#include "io/image.h"
#include "sim/episode.h"
#include "sim/render.h"

#define MPS_TO_MPH 2.2369362920544
#define TOP_SPEED_MPH 30.0

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static nn_status make_dir(const char *path, nn_err *err)
{
    if (mkdir(path, 0777) == 0 || errno == EEXIST) {
        struct stat sb;
        if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
            return NN_OK;
        return nn_fail(err, NN_E_IO, "%s: exists and is not a directory", path);
    }
    return nn_fail(err, NN_E_IO, "%s: cannot create directory: %s", path, strerror(errno));
}

/* `<camera>_YYYY_MM_DD_HH_MM_SS_mmm.jpg` of a time in ms since 1970 (UTC). */
static void image_name(char *out, size_t cap, const char *camera, long long t_ms)
{
    time_t secs = (time_t)(t_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(out, cap, "%s_%04d_%02d_%02d_%02d_%02d_%02d_%03d.jpg", camera, tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(t_ms % 1000));
}

typedef struct {
    render_ctx rc;
    uint8_t *rgb;
    sim_episode ep;
    FILE *csv;
    char csv_tmp[4200], csv_path[4200], img_dir[4200];
} recorder;

static void rec_free(recorder *r)
{
    render_free(&r->rc);
    free(r->rgb);
    episode_free(&r->ep);
    if (r->csv) {
        fclose(r->csv);
        unlink(r->csv_tmp);
    }
}

static nn_status write_image(recorder *r, sim_cam cam, const char *name, int quality, record_stats *st, nn_err *err)
{
    uint64_t t0 = mono_ns();
    episode_render(&r->ep, &r->rc, cam, r->rgb);
    uint64_t t1 = mono_ns();
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", r->img_dir, name);
    nn_status s = io_image_save_jpeg(path, r->rgb, SIM_FRAME_W, SIM_FRAME_H, quality, err);
    hist_record(&st->render_ns, t1 - t0);
    hist_record(&st->encode_ns, mono_ns() - t1);
    return s;
}

static nn_status record_road(recorder *r, const sim_params *p, int road_i, long long *t_ms, int quality,
                             record_stats *st, double *sum_cte, double *sum_label, nn_err *err)
{
    nn_status s = episode_start(&r->ep, p, road_i, err);
    if (s)
        return s;
    long n = sim_params_frames(p);
    long long t_start = *t_ms;
    for (long f = 0; f < n; f++) {
        long long t = t_start + llround((double)f * 1000.0 / p->fps);
        char names[3][64];
        static const char *const cams[3] = {"center", "left", "right"};
        static const sim_cam ids[3] = {CAM_CENTER, CAM_LEFT, CAM_RIGHT};
        double label = episode_expert(&r->ep);
        for (int k = 0; k < 3; k++) {
            image_name(names[k], sizeof names[k], cams[k], t);
            if ((s = write_image(r, ids[k], names[k], quality, st, err)))
                return s;
        }
        double mph = r->ep.car.v * MPS_TO_MPH;
        if (fprintf(r->csv, "IMG/%s,IMG/%s,IMG/%s,%.6f,%.6f,0,%.5f\n", names[0], names[1], names[2], label,
                    fmin(1.0, mph / TOP_SPEED_MPH), mph) < 0)
            return nn_fail(err, NN_E_IO, "%s: write failed: %s", r->csv_tmp, strerror(errno));
        double ac = fabs(r->ep.cte);
        *sum_cte += ac;
        *sum_label += fabs(label);
        if (ac > st->max_abs_cte)
            st->max_abs_cte = ac;
        if (fabs(label) > st->max_abs_label)
            st->max_abs_label = fabs(label);
        st->frames++;
        episode_step_expert(&r->ep);
    }
    *t_ms = t_start + llround((double)n * 1000.0 / p->fps) + 1000;
    return NN_OK;
}

nn_status sim_record(const sim_params *p, const char *out_dir, int quality, FILE *progress, record_stats *st,
                     nn_err *err)
{
    memset(st, 0, sizeof *st);
    hist_reset(&st->render_ns);
    hist_reset(&st->encode_ns);
    nn_status s = sim_params_check(p, err);
    if (s)
        return s;
    if (quality < 1 || quality > 100)
        return nn_fail(err, NN_E_ARG, "--quality: expected an integer in [1, 100] (got %d)", quality);
    recorder r;
    memset(&r, 0, sizeof r);
    if (strlen(out_dir) > 4000)
        return nn_fail(err, NN_E_ARG, "--out: path too long");
    snprintf(r.csv_path, sizeof r.csv_path, "%s/driving_log.csv", out_dir);
    snprintf(r.csv_tmp, sizeof r.csv_tmp, "%s/.driving_log.csv.tmp", out_dir);
    snprintf(r.img_dir, sizeof r.img_dir, "%s/IMG", out_dir);
    if (access(r.csv_path, F_OK) == 0)
        return nn_fail(err, NN_E_IO, "%s: already exists (refusing to overwrite a recording)", r.csv_path);
    if ((s = cm_mkdirs(out_dir, err)) || (s = make_dir(r.img_dir, err)))
        return s;
    uint64_t t0 = mono_ns();
    if ((s = render_init(&r.rc, SIM_FRAME_W, SIM_FRAME_H, err)))
        return s;
    r.rgb = malloc((size_t)SIM_FRAME_W * SIM_FRAME_H * 3);
    r.csv = fopen(r.csv_tmp, "w");
    if (!r.rgb || !r.csv) {
        s = r.rgb ? nn_fail(err, NN_E_IO, "%s: cannot create: %s", r.csv_tmp, strerror(errno))
                  : nn_fail(err, NN_E_NOMEM, "record: out of memory");
        rec_free(&r);
        return s;
    }
    fputs("center,left,right,steering,throttle,brake,speed\n", r.csv);
    long long t_ms = RECORD_T0_MS;
    double sum_cte = 0, sum_label = 0;
    for (long i = 0; i < p->roads && !s; i++) {
        s = record_road(&r, p, (int)i, &t_ms, quality, st, &sum_cte, &sum_label, err);
        if (!s && progress)
            fprintf(progress, "road %ld/%ld: %ld frames, lane width %.2f m, curvature max %.4f 1/m\n", i + 1,
                    p->roads, sim_params_frames(p), r.ep.road.lane_width, p->curvature);
    }
    if (!s) {
        FILE *f = r.csv;
        r.csv = NULL;
        if (fflush(f) || ferror(f) || fsync(fileno(f))) {
            s = nn_fail(err, NN_E_IO, "%s: write failed: %s", r.csv_tmp, strerror(errno));
            fclose(f);
            unlink(r.csv_tmp);
        } else if (fclose(f)) {
            s = nn_fail(err, NN_E_IO, "%s: close failed: %s", r.csv_tmp, strerror(errno));
            unlink(r.csv_tmp);
        } else if (rename(r.csv_tmp, r.csv_path)) {
            s = nn_fail(err, NN_E_IO, "%s: cannot rename to %s: %s", r.csv_tmp, r.csv_path, strerror(errno));
            unlink(r.csv_tmp);
        }
    }
    rec_free(&r);
    if (st->frames) {
        st->mean_abs_cte = sum_cte / (double)st->frames;
        st->mean_abs_label = sum_label / (double)st->frames;
    }
    st->wall_s = (double)(mono_ns() - t0) / 1e9;
    return s;
}
