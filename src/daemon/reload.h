/* reload.h — a SIGHUP reload's loader: a detached thread reads the configuration, checks a changed
 * pipeline and loads the model into a job of its own, while the frame loop keeps serving the old
 * ones. The loop takes the result between frames when the job is done, or gives the job up when
 * it takes longer than reload_timeout_ms (a hung file system): an abandoned loader frees its own
 * result whenever it returns, so nothing is ever joined and nothing it touches is freed under it
 * (the job holds copies of everything it reads: path, pipeline, logger). */
#ifndef STEERD_DAEMON_RELOAD_H
#define STEERD_DAEMON_RELOAD_H

#include <stdbool.h>

#include "common/log.h"
#include "runtime/config.h"
#include "runtime/served_model.h"
#include "nn/nn.h"

typedef struct reload_job reload_job;

/* Starts the loader for cfg_path (publish.endpoint replaced by endpoint unless NULL: steerd
 * --endpoint, cfg_load_as); cur_pipeline is the running one (a changed pipeline is parsed
 * before it is accepted). delay_ms stalls the loader first (tests: STEERD_TEST_RELOAD_DELAY_MS).
 * Fails only when the job or its thread cannot be created (err says why). */
nn_status reload_start(reload_job **out, const char *cfg_path, const char *endpoint, const char *cur_pipeline,
                       const slog *log, unsigned delay_ms, nn_err *err);
/* true once the loader returned (its result is ready). */
bool reload_done(const reload_job *j);
/* After reload_done: the loader's status; on success moves its configuration and model into *cfg
 * and *model, on failure err says why. Releases the job. */
nn_status reload_take(reload_job *j, steerd_config *cfg, sd_model *model, nn_err *err);
/* Gives the job up, done or not: whoever of the loop and the loader lets go last frees it (and a
 * model nobody took). Never blocks. */
void reload_release(reload_job *j);

#endif
