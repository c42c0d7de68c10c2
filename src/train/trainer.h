/* trainer.h — steer-train's epoch loop: one training epoch (the engine's nn_train_step per batch:
 * zero_grad -> forward -> loss -> backward -> clip -> optimizer step, on whichever backend the
 * context runs; batches from the background loader) and the evaluation of a split through the
 * inference path (nn_infer: batch norm folded, dropout off).
 * Everything per batch lives in buffers sized at tr_init; loaders and the inference context are
 * made once per epoch.
 * Data parallelism (comm.h, N ranks): batch_size stays the global batch; rank r computes samples
 * [B r / N, B (r+1) / N) of every batch (its loader decodes only those items: the epoch's order is
 * the same on every rank), the engine sums batch-norm statistics, the loss and the gradients
 * over the ranks (nn_train_shard), and an evaluation splits its items into N contiguous blocks
 * whose sums are added. One rank computes what one process does, to float summation order.
 * With `replicas: V` (replicas.h) the batch is cut into V fixed slices instead, each trained by
 * its own one-thread context (V / N per rank, on threads), their sums folded in replica order:
 * the weights are then the same bit for bit for any N that divides V. On the CUDA backend each
 * rank trains on one GPU (local rank modulo the GPUs it sees, comm_gpu.c) and the sums run on
 * the device by NCCL, or through MPI on the host in a build without NCCL; replicas stay CPU-only. */
#ifndef STEERD_TRAIN_TRAINER_H
#define STEERD_TRAIN_TRAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nn/nn.h"
#include "nn/train.h"
#include "train/augment.h"
#include "train/comm.h"
#include "train/dataset.h"
#include "train/metrics.h"
#include "train/replicas.h"
#include "nn/optim.h"
#include "train/train_config.h"

/* One local replica (replicas off: the one context). */
typedef struct {
    nn_train *t;
    nn_model *m;               /* replica 0: the trainer's model; the others their own copy */
    int off, n;                /* its samples [off, off + n) of this rank's slice */
    nn_step_result res;        /* its last step */
} tr_replica;

typedef struct {
    const train_config *cfg;
    nn_model *m;
    nn_train *t;               /* rep[0].t: the state main checkpoints and shares */
    tr_replica *rep;           /* [n_rep] this rank's replicas (replicas off: 1) */
    int n_rep;
    tr_replicas *group;        /* replicas on: their threads and sums (NULL: off) */
    void *nccl;                /* backend cuda over several ranks with NCCL: its communicator (comm_gpu.c) */
    double *rep_metric;        /* [n_rep] the epoch's correct predictions / absolute-error sum per replica */
    double *eval_sums;         /* [n_rep][3] an evaluation's loss, metric and item sums per block */
    const ds_batch *cur;       /* the batch the replicas' step job trains */
    nn_step_args sa;
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
    const tr_comm *comm;       /* the ranks (one process: size 1) */
    int slice_lo, slice_n;     /* this rank's samples [slice_lo, slice_lo + slice_n) of every batch */
    size_t *order;             /* [n_train] the epoch's order (scratch) */
    size_t *rank_items;        /* [batches_per_epoch * slice_n] this rank's items of the epoch, batch by batch */
    FILE *steps;               /* log_steps: `epoch,batch,step,loss,lr` per step (NULL = off; main owns it);
                                  the host copies (m->params, opt_mem) are current at epoch boundaries */
} trainer;

/* Sizes everything for cfg over ds (opened) with model m (parameters initialised), as rank
 * comm->rank of comm->size (comm outlives the trainer). */
nn_status tr_init(trainer *tr, const train_config *cfg, nn_model *m, ds_dataset *ds, const tr_comm *comm,
                  nn_err *err);
void tr_free(trainer *tr);
/* Trains epoch `epoch` (0-based); fills row's train_* fields, lr, images_per_s. A non-finite
 * loss or gradient returns NN_E_ARG with tr->diverged set (parameters are then unusable). */
nn_status tr_train_epoch(trainer *tr, int epoch, tm_row *row, nn_err *err);
/* Mean loss and accuracy / MAE of items idx[0..n) of ds through nn_infer (each rank its block of
 * them, or with replicas its replicas' blocks, folded in replica order; every rank gets the totals). */
nn_status tr_evaluate(trainer *tr, ds_dataset *ds, const size_t *idx, size_t n, double *loss, double *metric,
                      nn_err *err);
/* Checks that a dataset fits the model and task: image shape, classes or targets. */
nn_status tr_check_dataset(const train_config *cfg, const nn_model *m, ds_dataset *ds, nn_err *err);
uint64_t tr_now_ns(void);

#endif
