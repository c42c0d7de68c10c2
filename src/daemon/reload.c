/* reload.c — the reload loader thread and its job's shared ownership (see reload.h). */
#include "daemon/reload.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/capture.h"

struct reload_job {
    atomic_int refs;         /* 2 while both the loop and the loader hold it */
    atomic_bool done;        /* the loader returned: status, err, cfg, model are final */
    char cfg_path[512];
    char endpoint[512];      /* steerd --endpoint, "" when not given */
    char cur_pipeline[4096];
    slog log;
    unsigned delay_ms;
    nn_status status;
    nn_err err;
    steerd_config cfg;
    sd_model model;
};

static void release(reload_job *j)
{
    if (atomic_fetch_sub(&j->refs, 1) == 1) {
        sd_model_free(&j->model);
        free(j);
    }
}

static void *loader(void *arg)
{
    reload_job *j = arg;
    if (j->delay_ms) {
        struct timespec ts = {j->delay_ms / 1000, (long)(j->delay_ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
    }
    nn_status s = cfg_load_as(&j->cfg, j->cfg_path, j->endpoint[0] ? j->endpoint : NULL, &j->err);
    if (!s && strcmp(j->cfg.pipeline, j->cur_pipeline) != 0) {
        nn_err e;
        if (cap_check(j->cfg.pipeline, &e))
            s = cfg_error(&j->cfg, CFG_SOURCE_PIPELINE, &j->err, NN_E_SPEC, "%s", e.msg);
    }
    if (!s)
        s = sd_model_load_config(&j->model, &j->cfg, &j->log, &j->err);
    j->status = s;
    atomic_store(&j->done, true);
    release(j);
    return NULL;
}

nn_status reload_start(reload_job **out, const char *cfg_path, const char *endpoint, const char *cur_pipeline,
                       const slog *log, unsigned delay_ms, nn_err *err)
{
    *out = NULL;
    reload_job *j = calloc(1, sizeof *j);
    if (!j)
        return nn_fail(err, NN_E_NOMEM, "cannot start the loader: out of memory");
    atomic_init(&j->refs, 2);
    atomic_init(&j->done, false);
    snprintf(j->cfg_path, sizeof j->cfg_path, "%s", cfg_path);
    snprintf(j->endpoint, sizeof j->endpoint, "%s", endpoint ? endpoint : "");
    snprintf(j->cur_pipeline, sizeof j->cur_pipeline, "%s", cur_pipeline);
    j->log = *log;
    j->delay_ms = delay_ms;
    pthread_attr_t attr;
    pthread_t t;
    int rc = pthread_attr_init(&attr);
    if (!rc)
        rc = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (!rc) {
        rc = pthread_create(&t, &attr, loader, j);
        pthread_attr_destroy(&attr);
    }
    if (rc) {
        free(j);
        return nn_fail(err, NN_E_IO, "cannot start the loader thread (%s)", strerror(rc));
    }
    *out = j;
    return NN_OK;
}

bool reload_done(const reload_job *j)
{
    return atomic_load(&j->done);
}

nn_status reload_take(reload_job *j, steerd_config *cfg, sd_model *model, nn_err *err)
{
    nn_status s = j->status;
    if (s) {
        *err = j->err;
    } else {
        *cfg = j->cfg;
        *model = j->model;
        memset(&j->model, 0, sizeof j->model);
    }
    release(j);
    return s;
}

void reload_release(reload_job *j)
{
    release(j);
}
