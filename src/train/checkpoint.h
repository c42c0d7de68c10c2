/* checkpoint.h — a training run's directory and its checkpoint. The run directory is created
 * fresh (an existing non-empty one is refused unless resuming). checkpoint.bin holds everything
 * a resumed run needs to continue bit-identically: the parameters (engine layout, batch-norm
 * running statistics included), the optimizer state and step, the dropout stream position, the
 * epochs done and the epoch history, under the config hash. It is written after every epoch
 * through a temp file + fsync + rename, and ends in a SHA-256 of its contents. */
#ifndef STEERD_TRAIN_CHECKPOINT_H
#define STEERD_TRAIN_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nn/nn.h"
#include "train/metrics.h"

#define CK_FILE "checkpoint.bin"

typedef struct {
    char config_hash[72];
    int64_t epochs_done;
    int64_t opt_step;       /* optimizer steps (opt_state.step) */
    uint64_t train_step;    /* nn_train_step: the dropout stream */
    size_t n_params, n_state;
    float *params, *state;  /* n_params / n_state floats */
    int n_rows;
    tm_row *rows;           /* epochs_done rows */
} ck_state;

/* Fresh run: creates dir (and missing parents); refuses one that exists and is not empty.
 * Resume: dir must exist; *has_checkpoint tells whether it holds a checkpoint (a run stopped
 * during its first epoch has none and starts over). */
nn_status ck_prepare_dir(const char *dir, bool resume, bool *has_checkpoint, nn_err *err);
/* Writes dir/checkpoint.bin atomically. */
nn_status ck_save(const char *dir, const ck_state *s, nn_err *err);
/* Reads dir/checkpoint.bin into s: the sizes must equal s->n_params and s->n_state, rows must
 * have room for max_rows; params/state/rows are filled. */
nn_status ck_load(const char *dir, ck_state *s, int max_rows, nn_err *err);

#endif
