/*
 * worker_process: fork/exec with PR_SET_PDEATHSIG, so that a test that dies
 * midway leaves no worker behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support/worker_process.h"

/* Debian's interpreter, which has python3-zmq; a pyenv python3 on PATH may not. */
#define PYTHON "/usr/bin/python3"

static pid_t
s_spawn(struct harness *h, const char *const *argv)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    char path[512];
    snprintf(path, sizeof path, "%s/workers.log", harness_dir(h));
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
        dup2(fd, 2);
        close(fd);
    }
    execv(argv[0], (char *const *)argv);
    fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

static pid_t
s_run(struct harness *h, const char *const *head, size_t nhead, const char *const *extra)
{
    const char *argv[64];
    size_t n = 0;
    for (size_t i = 0; i < nhead; i++)
        argv[n++] = head[i];
    for (size_t i = 0; extra && extra[i] && n < 63; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    return s_spawn(h, argv);
}

pid_t
worker_process_python(struct harness *h, const char *area, const char *const *extra)
{
    const char *src = getenv("MANDATE_SOURCE_DIR");
    static char script[512];
    snprintf(script, sizeof script, "%s/tests/support/mdp_worker.py", src ? src : ".");
    const char *head[] = {PYTHON,      script, "--endpoint", harness_workers_endpoint(h),
                          "--service", area};
    return s_run(h, head, sizeof head / sizeof head[0], extra);
}

pid_t
worker_process_native(struct harness *h, const char *area, const char *const *extra)
{
    const char *bin = getenv("MANDATE_WORKER_BIN");
    const char *head[] = {bin ? bin : "build/mandate-worker",
                          "--area",
                          area,
                          "-c",
                          harness_config_path(h),
                          "--endpoint",
                          harness_workers_endpoint(h)};
    return s_run(h, head, sizeof head / sizeof head[0], extra);
}

int
worker_process_stop(pid_t pid, int sig)
{
    int status;
    if (pid <= 0)
        return -1;
    kill(pid, sig);
    for (int i = 0; i < 500; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return status;
        usleep(10000);
    }
    kill(pid, SIGKILL);
    return waitpid(pid, &status, 0) == pid ? status : -1;
}
