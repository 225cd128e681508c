/*
 * delivery: routes accepted events to area workers over MDP/0.1 (DESIGN.md
 * "Worker protocol") and audits what becomes of them: dispatched, completed,
 * failed, retried, dead-lettered, worker joined / lost.
 *
 * Its records ride in ingress's transactions (struct ingress_rider), so the
 * log keeps one writer and a loop turn's records share one fsync. Delivery
 * is at least once: an event leaves `pending` only in the transaction that
 * records its completion or dead letter, and whatever is pending at start is
 * queued again.
 */
#ifndef MANDATE_DELIVERY_H
#define MANDATE_DELIVERY_H

#include <stdint.h>

#include <event2/event.h>

#include "config/config.h"
#include "daemon/audit_log.h"
#include "daemon/ingress.h"

struct delivery;

struct deadline_tracker_stats;

struct delivery_stats {
    uint64_t dispatched;
    uint64_t completed;
    uint64_t failed;
    uint64_t retried;
    uint64_t deadlettered;
    uint64_t emitted;
    uint64_t workers_joined;
    uint64_t workers_lost;
    uint64_t protocol_errors;
    uint64_t sends_failed;
};

/* Binds cfg->broker.workers on zmq_ctx and joins base. NULL on failure (logged). */
struct delivery *delivery_new(struct event_base *base, void *zmq_ctx,
                              const struct mandated_config *cfg, struct audit_log *log);
/*
 * Rides on in's transactions and queues everything found in `pending`
 * (events in flight when the broker stopped get a `retried` record). Returns
 * 0 or -errno (logged).
 */
int delivery_start(struct delivery *d, struct ingress *in);
/*
 * SIGTERM: dispatches nothing more and calls done(arg) once no request is in
 * flight, or after timeout_ms. What is still in flight then stays pending.
 */
void delivery_drain(struct delivery *d, unsigned timeout_ms, void (*done)(void *arg), void *arg);
void delivery_destroy(struct delivery **d_p);

const struct delivery_stats *delivery_stats(const struct delivery *d);
/* The counts of its deadline tracker (daemon/deadline_tracker.h); NULL before start. */
const struct deadline_tracker_stats *delivery_deadline_stats(const struct delivery *d);
/* Events waiting for a worker (queued or waiting for a retry), and in flight. */
uint64_t delivery_waiting(const struct delivery *d);
uint64_t delivery_inflight(const struct delivery *d);

#endif
