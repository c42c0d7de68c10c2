/* frame_slot.h — the latest-frame slot between the capture thread and the inference loop: a
 * triple buffer. The producer fills its own buffer, then commit() swaps it with the middle one;
 * an unread frame there is dropped (counted) — drop-oldest — or, in back-pressure mode, commit
 * waits until the consumer took it. take() swaps the middle buffer with the consumer's. The
 * mutex guards only pointer swaps; nobody holds it while copying pixels or running inference.
 * Buffers grow only when a larger frame arrives (first frame, caps change): no allocation per
 * frame. */
#ifndef STEERD_DAEMON_FRAME_SLOT_H
#define STEERD_DAEMON_FRAME_SLOT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/frame.h"


typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv_new;   /* a frame was committed / the slot closed */
    pthread_cond_t cv_space; /* the middle buffer was taken (back-pressure mode) */
    sd_frame bufs[3];
    sd_frame *writing, *middle, *reading;
    bool has_new;            /* middle holds a committed, unread frame */
    _Atomic uint64_t commit_seq; /* commits, readable without the mutex (for spinning) */
    uint64_t last_commit_ns; /* CLOCK_MONOTONIC of the last commit */
    uint64_t period_ns;      /* smoothed interval between commits (0 = unknown) */
    uint64_t spin_ns;        /* busy-wait window around the expected next commit (0 = never spin) */
    bool closed;
    uint64_t commits, drops, takes;
    /* consumer only: memory it writes right after a take, brought into its cache while it spins */
    void *warm;
    size_t warm_bytes;
} frame_slot;

int fs_init(frame_slot *s);       /* 0 or an errno value */
void fs_destroy(frame_slot *s);

/* Producer: its buffer, grown to at least `bytes` (NULL when out of memory). */
sd_frame *fs_write_buffer(frame_slot *s, size_t bytes);
/* Producer: publishes the write buffer. block=false drops an unread frame (counted); block=true
 * waits until the consumer took it or the slot is closed. Returns false when closed. */
bool fs_commit(frame_slot *s, bool block);

/* Consumer: waits up to timeout_ms for a new frame; NULL on timeout or when closed and empty.
 * The returned frame belongs to the consumer until its next take(). */
const sd_frame *fs_take(frame_slot *s, int timeout_ms);
/* Sets the busy-wait window of fs_take (0 = block only). Waking a sleeping thread can take
 * hundreds of microseconds: with a steady frame interval, fs_take sleeps until spin_us before the
 * next frame is due and spins from there until spin_us after it. */
void fs_set_spin(frame_slot *s, int spin_us);

/* Consumer: the memory it writes first after a take (the model input: preprocessing writes it,
 * the forward pass reads it). Between frames other work evicts it from the cache; fs_take
 * prefetches it for writing when it starts spinning for a predicted frame, so that the
 * preprocessing does not wait on cache misses. NULL: none. Call from the consumer's thread. */
void fs_set_warm(frame_slot *s, void *p, size_t bytes);

/* Wakes both sides; commits are refused until fs_open(). */
void fs_close(frame_slot *s);
void fs_open(frame_slot *s);

typedef struct {
    uint64_t commits, drops, takes;
    bool pending;
} fs_counters;
fs_counters fs_get_counters(frame_slot *s);

#endif
