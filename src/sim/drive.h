/* drive.h — closed-loop mode: each road is driven by steerd (or by the expert, the ceiling) at
 * --fps. A frame goes out through steerd's real GStreamer source (TCP, raw RGB), steerd's
 * `steer` message comes back over ZeroMQ, and the latest prediction steers the bicycle model
 * (in real time; or, with lockstep, each frame waits for its own answer). Per road: interventions
 * (the car's centre > 1 m from the lane centre; the car is put back on the lane centre and each
 * costs 6 s, PilotNet's autonomy = 1 - interventions * 6 s / elapsed), mean and max |cross-track
 * error|, distance, mean |predicted - expert steering|, end-to-end latency (frame rendered ->
 * steer message received, CLOCK_MONOTONIC). A daemon that dies, stops reading frames or stops
 * answering fails the road with one line saying so; nothing waits forever. */
#ifndef STEERD_SIM_DRIVE_H
#define STEERD_SIM_DRIVE_H

#include <stdbool.h>
#include <stdio.h>

#include "sim/params.h"

#define DRIVE_INTERVENTION_M 1.0  /* PilotNet: > 1 m off the lane centre */
#define DRIVE_INTERVENTION_S 6.0  /* each intervention counts as 6 s of manual driving */
#define DRIVE_DEFAULT_PORT 5600   /* --listen with --endpoint */

typedef struct {
    sim_params prm;
    const char *config;      /* steerd config: start steerd with it */
    const char *endpoint;    /* or: a running steerd's publish endpoint */
    bool expert;             /* or: drive with the expert */
    const char *steerd, *model, *weights, *daemon_log;
    const char *video, *json;
    const char *trace;       /* per-frame CSV: road, frame, t_s, s_m, cte_m, expert, steer, intervention */
    int listen_port;         /* 0: a free port (--config) / DRIVE_DEFAULT_PORT (--endpoint) */
    bool lockstep;
    double timeout_s;        /* longest wait for a connection or a steer message */
} drive_opts;

void drive_opts_defaults(drive_opts *o);
/* Runs every road; prints one line per road and a summary to out. Returns the exit status:
 * 0 when every road ran to its end, 1 otherwise (the reason on stderr, one line). */
int sim_drive(const drive_opts *o, FILE *out);

#endif
