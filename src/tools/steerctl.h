/* steerctl.h — subcommands of the steerctl tool; each returns the process exit status (0
 * success, 1 failure, 64 usage error, 66 an input file missing, 78 a bad configuration: see
 * common/opts.h) and prints one error line on failure. A new subcommand is one function here and
 * one row of steerctl.c's table. */
#ifndef STEERD_STEERCTL_H
#define STEERD_STEERCTL_H

int cmd_model(int argc, char **argv);   /* model info | init | run */
int cmd_explain(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_import(int argc, char **argv);  /* import MODEL.onnx: to the zoo's YAML + safetensors (cmd_import.c) */
int cmd_bench_train(int argc, char **argv); /* bench --train: training throughput (cmd_bench_train.c) */
#ifdef STEERD_HAVE_REPLAY
int cmd_replay(int argc, char **argv);  /* replay LOG: a recorded drive through the daemon's engine path */
#endif
#ifdef STEERD_HAVE_SIM
int cmd_sim(int argc, char **argv);     /* sim record|drive: the driving simulator (src/sim) */
#endif
#ifdef STEERD_HAVE_ZMQ
int cmd_sub(int argc, char **argv);     /* sub ENDPOINT: print steerd's ZeroMQ messages */
#endif

/* Option parsing (common/opts.h) and steerctl's bounded option values (opts.c). */
#include "tools/opts.h"

/* Ends a --json document written to stdout through jb_init_file: 0, or 1 after one error line
 * when it could not be written whole. */
#include "common/json_writer.h"
int json_stdout_done(jbuf *j);

/* Shared by the benchmarks (cmd_bench.c): qsort comparator of uint64_t; x[n] <- uniform in
 * [-0.5, 0.5) from a 64-bit LCG seeded by seed (the same numbers on every run). */
#include <stddef.h>
#include <stdint.h>
int bench_cmp_u64(const void *a, const void *b);
void bench_fill_random(float *x, size_t n, uint64_t seed);

#endif
