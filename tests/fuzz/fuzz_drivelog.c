/* fuzz_drivelog.c — libFuzzer harness for the three drive-log readers (src/io/drivelog*.c).
 * Input: byte 0 picks the format (bits 0-1: 0/3 Udacity driving_log.csv, 1 Sully data.txt,
 * 2 Donkey tub) and the options (bit 2: no image check, bit 3: skip_missing, bit 4: no side
 * images, bit 5: max_angle_deg 500); the rest is the log file. For Donkey it is split at the
 * first "@@\n" into manifest.json and catalog_0.catalog. The files are written into a folder made
 * once per process that also holds a few images the logs can name (IMG/a.jpg, IMG/center_x.jpg,
 * 0.jpg, data/1.jpg, images/0_cam_image_array_.jpg) and non-regular files a log or a manifest's
 * `paths` can name (the FIFO `fifo` and `IMG/fifo.jpg` with no writer, the directory
 * `IMG/dir.jpg`): they must be refused, never waited on. A load either fails with a one-line message
 * and nothing allocated, or returns rows whose every string is readable (read in full, so ASan
 * sees a bad pointer), steering in [-1, 1], finite controls, image counts that add up, and with
 * the image check, centre images that exist, and the content digest set. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/drivelog.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

static void put(const char *name, const void *data, size_t n)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f))
        abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(dir, sizeof dir, "/tmp/fuzz_drivelog_XXXXXX");
    if (!mkdtemp(dir))
        abort();
    const char *sub[3] = {"IMG", "data", "images"};
    for (int i = 0; i < 3; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/%s", dir, sub[i]);
        if (mkdir(path, 0755))
            abort();
    }
    const char *files[5] = {"IMG/a.jpg", "IMG/center_2016_12_01_13_30_48_287.jpg", "0.jpg", "data/1.jpg",
                            "images/0_cam_image_array_.jpg"};
    for (int i = 0; i < 5; i++)
        put(files[i], "x", 1);
    char path[256];
    snprintf(path, sizeof path, "%s/fifo", dir);
    if (mkfifo(path, 0600))
        abort();
    snprintf(path, sizeof path, "%s/IMG/fifo.jpg", dir);
    if (mkfifo(path, 0600))
        abort();
    snprintf(path, sizeof path, "%s/IMG/dir.jpg", dir);
    if (mkdir(path, 0755))
        abort();
    return 0;
}

static size_t touch(const char *s)
{
    return strlen(s); /* reads every byte up to the NUL */
}

static bool is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int fmt = data[0] & 3;
    io_drive_opts o = {.check_images = !(data[0] & 4), .skip_missing = (data[0] & 8) != 0,
                       .no_side_images = (data[0] & 16) != 0, .max_angle_deg = (data[0] & 32) ? 500 : 0};
    const uint8_t *body = data + 1;
    size_t n = size - 1;
    const char *kind;
    if (fmt == 1) {
        kind = "sullychen";
        put("data.txt", body, n);
    } else if (fmt == 2) {
        kind = "donkey";
        const uint8_t *cut = NULL;
        for (size_t i = 0; i + 3 <= n && !cut; i++)
            if (body[i] == '@' && body[i + 1] == '@' && body[i + 2] == '\n')
                cut = body + i;
        size_t m = cut ? (size_t)(cut - body) : n;
        put("manifest.json", body, m);
        put("catalog_0.catalog", cut ? cut + 3 : body, cut ? n - m - 3 : 0);
    } else {
        kind = "udacity";
        put("driving_log.csv", body, n);
    }
    io_drive_log log;
    nn_err err;
    err.msg[0] = 0;
    if (io_drive_load(&log, kind, dir, &o, &err) != NN_OK) {
        if (!err.msg[0] || strchr(err.msg, '\n') || log.rows || log.pool || log.n)
            abort();
        return 0;
    }
    if (log.n < 1 || log.missing > log.listed || (!o.skip_missing && log.missing) || log.skipped > log.missing)
        abort();
    size_t sum = touch(log.path) + touch(log.dir) + touch(log.first_missing);
    for (size_t i = 0; i < log.n; i++) {
        const io_drive_row *r = &log.rows[i];
        if (!(r->steering >= -1.0f && r->steering <= 1.0f) || !isfinite(r->throttle) || !isfinite(r->brake) ||
            !isfinite(r->speed) || r->line < 1)
            abort();
        sum += touch(r->center) + touch(r->left) + touch(r->right) + touch(r->file);
        if (!r->center[0] || !r->file[0])
            abort();
        if (o.check_images && !is_file(r->center))
            abort();
        if (o.no_side_images && (r->left[0] || r->right[0]))
            abort();
    }
    if (sum == 0 || strncmp(log.digest, "sha256:", 7) != 0 || strlen(log.digest) != 71)
        abort();
    io_drive_log_free(&log);
    return 0;
}
