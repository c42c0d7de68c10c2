/* checkpoint.h — a training run's directory and its checkpoint. The run directory is created
 * fresh (an existing non-empty one is refused unless resuming). checkpoint.bin holds everything
 * a resumed run needs to continue bit-identically: the parameters (engine layout, batch-norm
 * running statistics included), the optimizer state and step, the dropout stream position, the
 * epochs done and the epoch history, under the config hash and the identity of what the run
 * trains: the SHA-256 of the model file's content and of the dataset's index files (ds_digest),
 * so that a resume with the same config but a changed model file (leaky_relu -> relu keeps the
 * parameter count) or a changed dataset is refused by name. It is written after every epoch
 * through a temp file + fsync + rename, and ends in a SHA-256 of its contents. Version 1 files
 * (before the identity hashes) are still read; ck_load says so in `note`. */
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
    char model_hash[72];    /* sha256 tag of the model YAML's bytes */
    char data_hash[72];     /* sha256 tag of the dataset's identity (ds_digest of train + test) */
    int64_t epochs_done;
    int64_t opt_step;       /* optimizer steps (opt_state.step) */
    uint64_t train_step;    /* nn_train_get_step: the dropout stream */
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
/* What ck_load compares the checkpoint against: the current model and dataset hashes; force turns
 * a mismatch into a note instead of an error. */
typedef struct {
    const char *model_hash, *data_hash;
    const char *model_path, *data_path; /* named in the messages */
    bool force;
    char note[768];  /* out: "" or one line (a mismatch overridden by force, a version 1 file) */
} ck_expect;

/* Reads dir/checkpoint.bin (a regular file; its size is checked against its header before the
 * body is read) into s: first the integrity (magic, version, length, checksum), then the
 * identity against *x (model file, then dataset: `<file>: the model file m.yaml changed since
 * the checkpoint (...)`, refused unless x->force), then the sizes, which must equal s->n_params
 * and s->n_state; rows must have room for max_rows. params/state/rows and the hashes are filled. */
nn_status ck_load(const char *dir, ck_state *s, int max_rows, ck_expect *x, nn_err *err);

#endif
