/* daemon_proc.h — the steerd process a closed-loop run starts: spawned with its standard output
 * and error in a log file, watched without blocking (a daemon that dies mid-episode is noticed
 * at the next frame), stopped with SIGTERM (SIGKILL after a grace period). */
#ifndef STEERD_SIM_DAEMON_PROC_H
#define STEERD_SIM_DAEMON_PROC_H

#include <stdbool.h>
#include <sys/types.h>

#include "nn/nn.h"

typedef struct {
    pid_t pid;            /* 0: none */
    bool exited;
    int status;           /* waitpid status once exited */
    char log_path[4096];
    bool log_is_temp;     /* removed by dp_cleanup */
} daemon_proc;

/* steerd: a path, or NULL for the steerd next to this executable (else $PATH). log: a file path,
 * or NULL for a temporary file. The caller sets the environment steerd needs beforehand. */
nn_status dp_start(daemon_proc *d, const char *steerd, const char *config, const char *log, nn_err *err);
/* true while the process runs; false once it has exited (status recorded). */
bool dp_alive(daemon_proc *d);
/* "exited with status 78" / "was killed by signal 9". */
void dp_exit_text(const daemon_proc *d, char *out, size_t cap);
/* The last non-empty line of the log (empty when none). */
void dp_last_log_line(const daemon_proc *d, char *out, size_t cap);
/* SIGTERM, wait up to grace_ms, then SIGKILL; returns the exit status (128+signal when killed). */
int dp_stop(daemon_proc *d, int grace_ms);
/* Removes a temporary log. */
void dp_cleanup(daemon_proc *d);

#endif
