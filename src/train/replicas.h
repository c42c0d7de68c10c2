/* replicas.h — deterministic data parallelism (config key `replicas: V`): every global batch is
 * split into V fixed slices, replica r computing samples [B r / V, B (r+1) / V) in its own
 * one-thread training context (trainer.c). A process of N ranks runs V / N of them, one thread
 * each (this group: the calling thread runs local replica 0). Every sum across replicas the
 * engine asks for (nn_train_shard: batch-norm statistics, the loss, the gradients) is a fold
 * over ALL V replica vectors in replica order: the local replicas' vectors are gathered after a
 * barrier, every rank's are gathered from all ranks (MPI_Allgather, never MPI_Allreduce, whose
 * order is MPI's), and every rank adds the V vectors 0, 1, ..., V-1 itself. A replica's own sums
 * depend only on its slice (one thread: a fixed kernel partition), so the weights are the same
 * bit for bit for any N that divides V.
 * Sized once at create (the largest vector a sum may carry); the sums allocate nothing. Every
 * local replica makes the same sum calls in the same order (the engine does). */
#ifndef STEERD_TRAIN_REPLICAS_H
#define STEERD_TRAIN_REPLICAS_H

#include <stddef.h>

#include "nn/nn.h"
#include "train/comm.h"

typedef struct tr_replicas tr_replicas;

/* A job for local replica j (0 .. local-1); the group runs them at once. */
typedef nn_status (*tr_replica_job)(void *arg, int j, nn_err *err);

/* V replicas over comm's ranks (comm->size divides v, checked by the caller); max_bytes: the
 * largest vector a sum carries. Starts local - 1 worker threads. */
nn_status tr_replicas_create(tr_replicas **out, const tr_comm *comm, int v, size_t max_bytes, nn_err *err);
void tr_replicas_free(tr_replicas *g);
/* Replicas of this rank (V / N) and the global index of its first (rank * V / N). */
int tr_replicas_local(const tr_replicas *g);
int tr_replicas_first(const tr_replicas *g);
/* Runs job(arg, j, ...) for every local replica at once (j = 0 on the calling thread) and waits
 * for all; returns the lowest failing replica's status and message. */
nn_status tr_replicas_run(tr_replicas *g, tr_replica_job job, void *arg, nn_err *err);
/* The engine's shard callbacks (train.h nn_train_shard) for local replica j: ctx =
 * tr_replicas_ctx(g, j). Each replica's v becomes the fold of all V replicas' v. */
void *tr_replicas_ctx(tr_replicas *g, int j);
void tr_replicas_sum_f64(void *ctx, double *v, size_t n);
void tr_replicas_sum_f32(void *ctx, float *v, size_t n);
/* From one thread, outside tr_replicas_run: local [local][n] values (local replicas in order)
 * to out [n], the same fold over all V replicas. */
void tr_replicas_fold_f64(tr_replicas *g, const double *local, size_t n, double *out);

#endif
