#include "bench/support/bench_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/support/bench_machine.h"

#define FIRST_LINE_MS 5000

/* In the child, between fork and exec: only async-signal-safe calls. */
static void
s_child(const char *const argv[], int out_fd, int err_pipe, pid_t parent)
{
    int e;

    /* Never outlive the benchmark, whatever happens to it. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    /* The benchmark's handlers and mask are its own; the server starts clean. */
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigaction(SIGINT, &dfl, NULL);
    sigaction(SIGTERM, &dfl, NULL);
    sigaction(SIGALRM, &dfl, NULL);
    sigaction(SIGPIPE, &dfl, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int in = open("/dev/null", O_RDONLY);
    if (in < 0 || dup2(in, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 ||
        dup2(out_fd, STDERR_FILENO) < 0)
        goto fail;
    execv(argv[0], (char *const *)argv);
fail:
    e = errno;
    if (write(err_pipe, &e, sizeof e) < 0) {
        /* The parent then sees the pipe close without a byte: still a failure. */
    }
    _exit(127);
}

int
bench_spawn(const char *const argv[], const char *log_path, pid_t *ret_pid)
{
    int p[2], e, rc;
    pid_t parent = getpid();

    int out = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0)
        return -errno;
    if (pipe2(p, O_CLOEXEC) < 0) {
        rc = -errno;
        close(out);
        return rc;
    }
    pid_t pid = fork();
    if (pid < 0) {
        rc = -errno;
        close(out);
        close(p[0]);
        close(p[1]);
        return rc;
    }
    if (pid == 0) {
        close(p[0]);
        s_child(argv, out, p[1], parent);
    }
    close(out);
    close(p[1]);
    /* The pipe closes on a successful exec (CLOEXEC); a failed one writes its errno first. */
    ssize_t n;
    do
        n = read(p[0], &e, sizeof e);
    while (n < 0 && errno == EINTR);
    close(p[0]);
    if (n == (ssize_t)sizeof e) {
        waitpid(pid, NULL, 0);
        return -e;
    }
    *ret_pid = pid;
    return 0;
}

bool
bench_spawn_exited(pid_t pid, int *ret_status)
{
    int status;
    if (waitpid(pid, &status, WNOHANG) != pid)
        return false;
    if (ret_status)
        *ret_status = status;
    return true;
}

static int
s_exit_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 255;
}

int
bench_spawn_stop(pid_t pid, int sig, int timeout_ms)
{
    int status;

    if (pid <= 0)
        return -EINVAL;
    if (bench_spawn_exited(pid, &status))
        return s_exit_code(status);
    kill(pid, sig);
    for (int waited = 0; waited < timeout_ms; waited += 10) {
        if (bench_spawn_exited(pid, &status))
            return s_exit_code(status);
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -ETIMEDOUT;
}

void
bench_spawn_first_line(const char *const argv[], char *buf, size_t size)
{
    char tmpl[512];
    pid_t pid;

    if (size)
        buf[0] = '\0';
    snprintf(tmpl, sizeof tmpl, "%s/bench-version-XXXXXX", bench_tmpdir());
    int fd = mkstemp(tmpl);
    if (fd < 0)
        return;
    close(fd);
    /* A program that does not answer --version within the bound is stopped, not awaited. */
    if (bench_spawn(argv, tmpl, &pid) == 0) {
        int status, waited = 0;
        while (!bench_spawn_exited(pid, &status) && waited < FIRST_LINE_MS) {
            usleep(10000);
            waited += 10;
        }
        if (waited >= FIRST_LINE_MS)
            bench_spawn_stop(pid, SIGKILL, 100);
        FILE *f = fopen(tmpl, "r");
        if (f && size && fgets(buf, (int)size, f))
            buf[strcspn(buf, "\r\n")] = '\0';
        if (f)
            fclose(f);
    }
    unlink(tmpl);
}
