#include "bench/support/bench_stop.h"

#include <stdbool.h>
#include <stdio.h>
#include <sysexits.h>
#include <unistd.h>

volatile sig_atomic_t bench_stop_signal;

static volatile sig_atomic_t g_watched[BENCH_STOP_SLOTS];
static const char *g_prog = "bench";
/* Made before any signal can come: the handler may only write(). */
static char g_soft[128], g_hard[64];
static size_t g_soft_len, g_hard_len;

static void
s_on_stop(int sig)
{
    bool again = bench_stop_signal != 0;

    for (int i = 0; i < BENCH_STOP_SLOTS; i++) {
        if (g_watched[i] > 0)
            kill((pid_t)g_watched[i], SIGKILL);
    }
    if (!again) {
        bench_stop_signal = sig;
        alarm(BENCH_STOP_HARD_SECS);
    }
    if (write(STDERR_FILENO, again ? g_hard : g_soft, again ? g_hard_len : g_soft_len) < 0) {
        /* Nothing left to tell anyone. */
    }
    if (again)
        _exit(bench_stop_signal == SIGALRM ? EX_SOFTWARE : 128 + bench_stop_signal);
}

static size_t
s_message(char *buf, size_t size, const char *fmt)
{
    int n = snprintf(buf, size, fmt, g_prog);
    return n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
}

void
bench_stop_install(const char *prog, unsigned max_seconds)
{
    g_prog = prog;
    g_soft_len = s_message(g_soft, sizeof g_soft,
                           "%s: stopping: killed the processes it started; cleaning up\n");
    g_hard_len = s_message(g_hard, sizeof g_hard, "%s: stopping now\n");

    struct sigaction sa = {.sa_handler = s_on_stop};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    alarm(max_seconds);
}

void
bench_stop_watch(int slot, pid_t pid)
{
    if (slot >= 0 && slot < BENCH_STOP_SLOTS)
        g_watched[slot] = pid;
}

int
bench_stop_failed(int rc)
{
    alarm(0);
    if (bench_stop_signal) {
        fprintf(stderr, "%s: %s; no figures printed\n", g_prog,
                bench_stop_signal == SIGALRM ? "over --max-seconds" : "interrupted");
        return bench_stop_signal == SIGALRM ? EX_SOFTWARE : 128 + bench_stop_signal;
    }
    if (rc < 0) {
        fprintf(stderr, "%s: aborted: something broke; no figures printed\n", g_prog);
        return EX_SOFTWARE;
    }
    return -1;
}
