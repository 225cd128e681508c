/*
 * supervisor: the worker processes of the areas with `spawn = yes`. Forks
 * and execs `workers` copies of mandate-worker per area, reaps them from a
 * SIGCHLD event on the broker's loop, restarts any that exit with a backoff
 * (100 ms doubling per consecutive quick failure, up to 30 s; reset once a
 * child has lived 10 s) and stops them all at shutdown. Areas with
 * `spawn = no` are left to systemd (mandate-worker@.service). A SIGHUP
 * reload hands it the new config (supervisor_reconfigure).
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
 *           [--key WORKER_SECRET_KEY --server-key SERVER_PUBLIC_KEY]
 * with -c only when cfg->path names a readable file (made absolute), and
 * the keys when [security] workers_curve = on (their paths made absolute
 * against the broker's working directory, which the config's relative
 * paths resolve against). PROGRAM is
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
 * Applies a reloaded config, on the loop thread, without blocking it. Areas
 * are matched by name. An area that now spawns (new, or spawn turned on, or
 * workers up from 0) gets its workers started; one that no longer does
 * (removed, spawn = no, workers = 0) has its children stopped; a changed
 * `workers` count starts or stops the difference (the area's last children
 * by supervisor_pid() order go first). Stopping is SIGTERM, as at supervisor_stop, then SIGKILL
 * after [delivery] drain_timeout_ms; the SIGCHLD event reaps them, and they are never restarted.
 * Children that stay keep running as they were started: a changed credit, worker_program, config
 * path or key pair applies to the children started from then on (a new area's, or a restart). cfg
 * is copied from, not kept. Does nothing after supervisor_stop.
 */
void supervisor_reconfigure(struct supervisor *s, const struct mandated_config *cfg);

/*
 * SIGTERM to every child, then waits (blocking: call it after the loop has
 * ended) up to timeout_ms for them to exit; SIGKILLs and reaps the rest.
 * Frees the supervisor's events, so base may be freed afterwards, before
 * supervisor_destroy. No restarts after this. Safe to call twice.
 */
void supervisor_stop(struct supervisor *s, unsigned timeout_ms);
/* Stops first (5 s timeout) if not stopped. Accepts NULL; nulls *s_p. */
void supervisor_destroy(struct supervisor **s_p);

/* Children alive now (started and not yet reaped), those being stopped by a reconfigure included.
 */
size_t supervisor_running(const struct supervisor *s);
/* Children a reconfigure is stopping that have not been reaped yet. */
size_t supervisor_retiring(const struct supervisor *s);
/* Children configured: the sum of `workers` over the areas with spawn = yes. */
size_t supervisor_size(const struct supervisor *s);
/* Restarts so far, over all children. */
uint64_t supervisor_restarts(const struct supervisor *s);
/* Child i (0 .. size-1, in area order): its pid, or 0 while it is not running. */
pid_t supervisor_pid(const struct supervisor *s, size_t i);
/* Child i's area name (borrowed). */
const char *supervisor_area(const struct supervisor *s, size_t i);

#endif
