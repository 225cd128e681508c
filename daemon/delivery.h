/*
 * delivery: routes accepted events to area workers over MDP/0.1 (DESIGN.md
 * "Worker protocol"): per-area queues, workers' credit, heartbeats and
 * liveness, retries with backoff, dead letters. What becomes of each event
 * (dispatched, completed, failed, retried, dead-lettered, worker joined /
 * lost) is recorded through daemon/delivery_records.h, whose journal is a
 * group commit producer. Delivery is at least once: whatever is pending at
 * start is queued again.
 */
#ifndef MANDATE_DELIVERY_H
#define MANDATE_DELIVERY_H

#include <stdint.h>

#include <event2/event.h>

#include "config/config.h"
#include "daemon/audit_log.h"
#include "daemon/group_commit.h"
#include "daemon/journal.h"
#include "daemon/loop_turn.h"

struct delivery;

struct delivery_stats {
    uint64_t dispatched;
    uint64_t completed;
    uint64_t failed;
    uint64_t retried;
    uint64_t deadlettered;
    uint64_t emitted;
    uint64_t workers_joined;
    uint64_t workers_lost;
    uint64_t workers_refused; /* their key may not serve the area they offered */
    uint64_t protocol_errors;
    uint64_t sends_failed;
};

/* Binds cfg->broker.workers on zmq_ctx, joins base and adds its records to
 * commit as a producer. NULL on failure (logged). */
struct delivery *delivery_new(struct event_base *base, void *zmq_ctx,
                              const struct mandated_config *cfg, struct audit_log *log,
                              struct group_commit *commit, struct loop_turn *turn);
/*
 * Queues everything found in `pending` (events in flight when the broker
 * stopped get a `retried` record). Returns 0 or -errno (logged).
 */
int delivery_start(struct delivery *d);
/* A newly accepted event (its record committed) goes to its area's queue. */
void delivery_route(struct delivery *d, uint64_t seq, const struct area_conf *area);
/* The same for a follow-up or broker event a journal brought in (counted as
 * emitted); arg is the delivery, as a journal's accepted callback gets it. */
void delivery_route_emitted(void *arg, const struct journal_emit *e);
/* End of a loop turn: sends the areas that got events or credit to their
 * workers, in one read snapshot. */
void delivery_dispatch(struct delivery *d);
/*
 * SIGTERM: dispatches nothing more and calls done(arg) once no request is in
 * flight, or after timeout_ms. What is still in flight then stays pending.
 */
void delivery_drain(struct delivery *d, unsigned timeout_ms, void (*done)(void *arg), void *arg);
/*
 * SIGHUP: routing, areas, worker keys and timing follow cfg. An area that
 * is new gets what `pending` holds for it; one that is gone takes its
 * workers with it, and its queued and in-flight events stay pending (as at
 * a restart). A worker whose key may no longer serve its area is lost.
 */
void delivery_reconfigure(struct delivery *d, const struct mandated_config *cfg);
void delivery_destroy(struct delivery **d_p);

const struct delivery_stats *delivery_stats(const struct delivery *d);
/* Events waiting for a worker (queued or waiting for a retry), and in flight. */
uint64_t delivery_waiting(const struct delivery *d);
uint64_t delivery_inflight(const struct delivery *d);

#endif
