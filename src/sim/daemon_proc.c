/* daemon_proc.c — spawning and watching steerd (see daemon_proc.h). */
#include "sim/daemon_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* `steerd` next to /proc/self/exe when it is there and executable. */
static bool sibling_steerd(char *out, size_t cap)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return false;
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (!slash)
        return false;
    *slash = 0;
    snprintf(out, cap, "%s/steerd", self);
    return access(out, X_OK) == 0;
}

nn_status dp_start(daemon_proc *d, const char *steerd, const char *config, const char *log, nn_err *err)
{
    memset(d, 0, sizeof *d);
    char exe[PATH_MAX + 16];
    if (steerd)
        snprintf(exe, sizeof exe, "%s", steerd);
    else if (!sibling_steerd(exe, sizeof exe))
        snprintf(exe, sizeof exe, "steerd");
    if (steerd && access(exe, X_OK) != 0)
        return nn_fail(err, NN_E_IO, "--steerd: %s: %s", exe, strerror(errno));
    int fd;
    if (log) {
        snprintf(d->log_path, sizeof d->log_path, "%s", log);
        fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(d->log_path, sizeof d->log_path, "%s/steerctl-sim-steerd-XXXXXX.log", tmp && *tmp ? tmp : "/tmp");
        fd = mkostemps(d->log_path, 4, O_CLOEXEC);
        d->log_is_temp = fd >= 0;
    }
    if (fd < 0)
        return nn_fail(err, NN_E_IO, "%s: cannot create steerd's log: %s", d->log_path, strerror(errno));
    posix_spawn_file_actions_t fa;
    int rc = posix_spawn_file_actions_init(&fa);
    if (!rc)
        rc = posix_spawn_file_actions_adddup2(&fa, fd, STDOUT_FILENO);
    if (!rc)
        rc = posix_spawn_file_actions_adddup2(&fa, fd, STDERR_FILENO);
    if (!rc)
        rc = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    char *argv[] = {exe, (char *)"-c", (char *)config, NULL};
    if (!rc)
        rc = strchr(exe, '/') ? posix_spawn(&d->pid, exe, &fa, NULL, argv, environ)
                              : posix_spawnp(&d->pid, exe, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fd);
    if (rc) {
        d->pid = 0;
        return nn_fail(err, NN_E_IO, "cannot start %s: %s", exe, strerror(rc));
    }
    return NN_OK;
}

bool dp_alive(daemon_proc *d)
{
    if (!d->pid || d->exited)
        return false;
    int st;
    pid_t r = waitpid(d->pid, &st, WNOHANG);
    if (r == d->pid) {
        d->exited = true;
        d->status = st;
        return false;
    }
    return true;
}

void dp_exit_text(const daemon_proc *d, char *out, size_t cap)
{
    if (!d->exited)
        snprintf(out, cap, "is running");
    else if (WIFEXITED(d->status))
        snprintf(out, cap, "exited with status %d", WEXITSTATUS(d->status));
    else if (WIFSIGNALED(d->status))
        snprintf(out, cap, "was killed by signal %d (%s)", WTERMSIG(d->status), strsignal(WTERMSIG(d->status)));
    else
        snprintf(out, cap, "stopped (status 0x%x)", d->status);
}

void dp_last_log_line(const daemon_proc *d, char *out, size_t cap)
{
    out[0] = 0;
    FILE *f = fopen(d->log_path, "r");
    if (!f)
        return;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        if (n)
            snprintf(out, cap, "%s", line);
    }
    fclose(f);
}

int dp_stop(daemon_proc *d, int grace_ms)
{
    if (!d->pid)
        return 0;
    if (!d->exited && dp_alive(d)) {
        kill(d->pid, SIGTERM);
        for (int waited = 0; waited < grace_ms && dp_alive(d); waited += 10) {
            struct timespec ts = {0, 10000000};
            nanosleep(&ts, NULL);
        }
        if (dp_alive(d)) {
            kill(d->pid, SIGKILL);
            int st;
            if (waitpid(d->pid, &st, 0) == d->pid) {
                d->exited = true;
                d->status = st;
            }
        }
    }
    return WIFEXITED(d->status) ? WEXITSTATUS(d->status) : 128 + WTERMSIG(d->status);
}

void dp_cleanup(daemon_proc *d)
{
    if (d->log_is_temp)
        unlink(d->log_path);
    d->log_is_temp = false;
}
