/*
 * delivery_records: what event delivery writes to the audit log, and what
 * each record does to the tables in the same transaction. Every record
 * goes into delivery's journal (daemon/journal.h), a group commit producer,
 * and asks for the end of the loop turn, when the group commit takes it.
 *
 * What keeps "at least once": an event's pending entry is deleted only in
 * the transaction that writes its `completed` or `deadlettered` record, and
 * rewritten (attempt, due) with every `dispatched` and `retried`.
 *
 * A completion's follow-up events are admitted here (daemon/admission.h)
 * and accepted in the completion's transaction; those refused get a
 * `rejected` record naming why.
 */
#ifndef MANDATE_DELIVERY_RECORDS_H
#define MANDATE_DELIVERY_RECORDS_H

#include <stdint.h>

#include "config/config.h"
#include "daemon/audit_log.h"
#include "daemon/journal.h"
#include "daemon/loop_turn.h"
#include "proto/audit_kinds.h"
#include "proto/mdp.h"

#define DELIVERY_EMIT_MAX 64 /* follow-up events one reply may emit */

struct delivery_records;

/* accepted(arg, e): a completion's follow-up entered the log (route it). */
struct delivery_records *
delivery_records_new(const struct mandated_config *cfg, struct audit_log *log,
                     struct loop_turn *turn,
                     void (*accepted)(void *arg, const struct journal_emit *e), void *arg);
void delivery_records_destroy(struct delivery_records **r_p);
struct journal *delivery_records_journal(struct delivery_records *r);

/* Where a `dispatched` op is queued, so that the reply can find it again. */
struct delivery_op_position {
    uint64_t generation;
    size_t index;
};

/* r: event_seq, area, attempt, worker. */
void delivery_records_dispatched(struct delivery_records *r, const struct audit_delivery *rec,
                                 struct delivery_op_position *ret_pos);
/*
 * The event's attempt ended: every outcome rewrites or deletes its pending
 * entry. If its `dispatched` op is still queued, both land in one
 * transaction and that op's own rewrite would be overwritten at once: skip it.
 */
void delivery_records_attempt_ended(struct delivery_records *r,
                                    const struct delivery_op_position *pos);
/* r: event_seq, area, attempt (the next one), reason, due_ms; the attempt
 * made so far is rec->attempt - 1. */
void delivery_records_retried(struct delivery_records *r, const struct audit_delivery *rec);
/* r: event_seq, area, attempt (those made), reason. */
void delivery_records_deadlettered(struct delivery_records *r, const struct audit_delivery *rec);
void delivery_records_failed(struct delivery_records *r, const struct audit_delivery *rec);
/*
 * A `done` reply: its follow-ups (out->emit, up to DELIVERY_EMIT_MAX; more is
 * one `rejected` record) admitted with parent_id as their corr when they
 * name none, then the completion naming them. Returns how many were queued.
 */
size_t delivery_records_completed(struct delivery_records *r, const struct audit_delivery *rec,
                                  const struct area_conf *area, const struct mdp_outcome *out,
                                  const uint8_t parent_id[ENVELOPE_ID_LEN]);
void delivery_records_worker_joined(struct delivery_records *r, const struct audit_worker *rec);
void delivery_records_worker_lost(struct delivery_records *r, const struct audit_worker *rec);
void delivery_records_worker_refused(struct delivery_records *r,
                                     const struct audit_worker_refused *rec);
/* Follow-ups are admitted against cfg from now on (SIGHUP). */
void delivery_records_reconfigure(struct delivery_records *r, const struct mandated_config *cfg);

#endif
