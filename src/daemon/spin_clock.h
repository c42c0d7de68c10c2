/* spin_clock.h — the pipeline clock for live sources: GStreamer's monotonic system clock, except
 * that a synchronous wait sleeps only until `spin_us` before its deadline and busy-waits the rest.
 *
 * Why: a live source that paces itself on the clock (videotestsrc, any source with sync) stamps a
 * frame with the time it waits for, then pushes it when the wait returns. The system clock ends
 * its waits with clock_nanosleep, and the kernel wakes the thread a wake-up latency late: about
 * 100 us at p50 and up to 300 us at p99 on a VM, all of it inside steerd's capture -> publish
 * time. Busy-waiting the last `spin_us` hands the frame on within a microsecond or two of its
 * time stamp, for about spin_us of CPU per frame (1.5 % of a core at 30 fps with 500).
 *
 * Unscheduling (a state change, a seek, shutdown) interrupts the wait in both phases: the sleep
 * is the system clock's own, and the busy-wait checks the entry's status on every turn. Asynchronous
 * waits (gst_clock_id_wait_async) are the system clock's, unchanged. */
#ifndef STEERD_DAEMON_SPIN_CLOCK_H
#define STEERD_DAEMON_SPIN_CLOCK_H

#include <gst/gst.h>

/* A new clock (floating ref sunk: the caller owns one reference), or NULL when out of memory.
 * spin_us 0: waits behave exactly like the system clock's. */
GstClock *spin_clock_new(int spin_us);

#endif
