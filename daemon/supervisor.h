/*
 * supervisor: the worker processes of the areas with `spawn = yes`. Forks
 * and execs `workers` copies of mandate-worker per area, reaps them from a
 * SIGCHLD event on the broker's loop, restarts any that exit with a backoff
 * (100 ms doubling per consecutive quick failure, up to 30 s; reset once a
 * child has lived 10 s) and stops them all at shutdown. Areas with
 * `spawn = no` are left to systemd (mandate-worker@.service).
 */
#ifndef MANDATE_SUPERVISOR_H
#define MANDATE_SUPERVISOR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <event2/event.h>

#include "config/config.h"

struct supervisor;

/*
 * Starts areas[i].workers processes for every area with spawn = yes (none
 * at all is fine). Each runs
 *   PROGRAM --area NAME --credit N --endpoint BROKER.WORKERS [-c CONFIG]
 * with -c only when cfg->path names a readable file. PROGRAM is
 * broker.worker_program, else mandate-worker beside the running executable,
 * else mandate-worker from $PATH. The children keep the broker's stdout,
 * stderr, working directory and environment (less NOTIFY_SOCKET, WATCHDOG_*
 * and LISTEN_*), and no other fd; they get SIGTERM if the broker dies. Call
 * it, and run base, on the thread that lives as long as the process:
 * PR_SET_PDEATHSIG fires when the forking thread ends. cfg is copied from,
 * not kept. One supervisor per process (libevent delivers a signal to one
 * base). NULL on failure (logged), with any child already started stopped.
 */
struct supervisor *supervisor_new(struct event_base *base, const struct mandated_config *cfg);

/*
 * SIGTERM to every child, then waits (blocking: call it after the loop has
 * ended) up to timeout_ms for them to exit; SIGKILLs and reaps the rest.
 * Frees the supervisor's events, so base may be freed afterwards, before
 * supervisor_destroy. No restarts after this. Safe to call twice.
 */
void supervisor_stop(struct supervisor *s, unsigned timeout_ms);
/* Stops first (5 s timeout) if not stopped. Accepts NULL; nulls *s_p. */
void supervisor_destroy(struct supervisor **s_p);

/* Children alive now (started and not yet reaped). */
size_t supervisor_running(const struct supervisor *s);
/* Children configured: the sum of `workers` over the areas with spawn = yes. */
size_t supervisor_size(const struct supervisor *s);
/* Restarts so far, over all children. */
uint64_t supervisor_restarts(const struct supervisor *s);
/* Child i (0 .. size-1, in area order): its pid, or 0 while it is not running. */
pid_t supervisor_pid(const struct supervisor *s, size_t i);
/* Child i's area name (borrowed). */
const char *supervisor_area(const struct supervisor *s, size_t i);

#endif
