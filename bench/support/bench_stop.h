/*
 * bench_stop: how a benchmark stops when it is asked to (SIGINT, SIGTERM,
 * or its --max-seconds alarm). The first signal kills the processes it has
 * started, by pid, so that nothing keeps running, and leaves the run to fail
 * and clean up (its loops look at bench_stop_signal); a second signal, or a
 * cleanup taking over BENCH_STOP_HARD_SECS, exits at once.
 */
#ifndef MANDATED_BENCH_STOP_H
#define MANDATED_BENCH_STOP_H

#include <signal.h>
#include <sys/types.h>

#define BENCH_STOP_SLOTS     2  /* processes watched at once */
#define BENCH_STOP_HARD_SECS 10 /* after a stop request, cleanup gets this long */

/* 0, or the signal that asked this program to stop. */
extern volatile sig_atomic_t bench_stop_signal;

/*
 * Handles SIGINT, SIGTERM and SIGALRM, ignores SIGPIPE, and arms the alarm
 * for max_seconds (0: none). prog names the program in its messages.
 */
void bench_stop_install(const char *prog, unsigned max_seconds);

/* The process in slot (0 .. BENCH_STOP_SLOTS-1) is killed on a stop; pid 0 forgets it. */
void bench_stop_watch(int slot, pid_t pid);

/*
 * After the runs, the alarm off: the exit status when they did not all
 * finish (stopped, or rc < 0: something broke), said on stderr; else -1.
 */
int bench_stop_failed(int rc);

#endif
