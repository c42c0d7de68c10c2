/* trainer.h — steer-train's epoch loop: one training epoch (the engine's nn_train_step per batch:
 * zero_grad -> forward -> loss -> backward -> clip -> optimizer step, on whichever backend the
 * context runs; batches from the background loader) and the evaluation of a split through the
 * inference path (nn_infer: batch norm folded, dropout off).
 * Everything per batch lives in buffers sized at tr_init; loaders and the inference context are
 * made once per epoch. */
#ifndef STEERD_TRAIN_TRAINER_H
#define STEERD_TRAIN_TRAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nn/nn.h"
#include "nn/train.h"
#include "train/augment.h"
#include "train/dataset.h"
#include "train/metrics.h"
#include "nn/optim.h"
#include "train/train_config.h"

typedef struct {
    const train_config *cfg;
    nn_model *m;
    nn_train *t;
    ds_dataset *ds;
    size_t *train_idx, *val_idx;
    size_t n_train, n_val;
    float *opt_mem;            /* the optimizer state's host copy (nn_train_opt_host: the engine owns it) */
    size_t n_params, n_state;
    lr_schedule sched;
    float *dloss;              /* [batch_size, out] evaluation's loss gradient (scratch) */
    int out_size;
    bool classify, softmax_out;
    size_t batches_per_epoch;
    ds_xform xf;
    aug_config aug;            /* driving logs: steering augmentation (augment.h) */
    bool use_aug;              /* per-item draws (flip, brightness, side cameras) */
    bool sample;               /* straight items down-sampled per epoch (zero_keep < 1) */
    aug_sampler sampler;
    size_t *epoch_idx;         /* [n_train] the epoch's items when sampling */
    size_t n_epoch;            /* training items per epoch (n_train unless sampling) */
    bool tty;                  /* progress line redrawn in place */
    /* ETA: batches and seconds of training measured in this process */
    uint64_t t_run0;
    size_t batches_run;
    char diverged[256];        /* set when training stopped on a non-finite loss or gradient */
    FILE *steps;               /* log_steps: `epoch,batch,step,loss,lr` per step (NULL = off; main owns it);
                                  the host copies (m->params, opt_mem) are current at epoch boundaries */
} trainer;

/* Sizes everything for cfg over ds (opened) with model m (parameters initialised). */
nn_status tr_init(trainer *tr, const train_config *cfg, nn_model *m, ds_dataset *ds, nn_err *err);
void tr_free(trainer *tr);
/* Trains epoch `epoch` (0-based); fills row's train_* fields, lr, images_per_s. A non-finite
 * loss or gradient returns NN_E_ARG with tr->diverged set (parameters are then unusable). */
nn_status tr_train_epoch(trainer *tr, int epoch, tm_row *row, nn_err *err);
/* Mean loss and accuracy / MAE of items idx[0..n) of ds through nn_infer. */
nn_status tr_evaluate(trainer *tr, ds_dataset *ds, const size_t *idx, size_t n, double *loss, double *metric,
                      nn_err *err);
/* Checks that a dataset fits the model and task: image shape, classes or targets. */
nn_status tr_check_dataset(const train_config *cfg, const nn_model *m, ds_dataset *ds, nn_err *err);
uint64_t tr_now_ns(void);

#endif
