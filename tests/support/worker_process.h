/*
 * worker_process: starts MDP workers for process-level tests: the plain
 * RFC 7 worker in Python (tests/support/mdp_worker.py) or the real
 * mandate-worker, each connected to a harness's workers endpoint.
 */
#ifndef MANDATE_WORKER_PROCESS_H
#define MANDATE_WORKER_PROCESS_H

#include <sys/types.h>

#include "tests/support/daemon_harness.h"

/*
 * Runs mdp_worker.py --endpoint E --service AREA plus extra arguments
 * (NULL-terminated, may be NULL); its stderr goes to the harness's directory.
 * Returns the pid (the test must stop it with worker_process_stop).
 */
pid_t worker_process_python(struct harness *h, const char *area, const char *const *extra);
/* Runs the real mandate-worker --area AREA --endpoint E [extra...]. */
pid_t worker_process_native(struct harness *h, const char *area, const char *const *extra);
/* Sends sig and reaps (SIGKILL after 5 s). Returns the wait status, or -1. */
int worker_process_stop(pid_t pid, int sig);

#endif
