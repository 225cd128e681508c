/*
 * deadline_tracker: the due times that must not pass unnoticed (DESIGN.md,
 * issue "deadline tracking"). A worker's result lists its deadlines; those
 * with "track": true are kept in the audit log's `deadlines` table, in the
 * transaction that writes the `completed` record, so that they survive any
 * restart exactly as the completion does. An accepted event of a type a
 * tracked deadline names in closed_by, whose corr is the tracked event's id
 * or whose subject is the deadline's subject, closes it in the transaction
 * that accepts it; the closure is remembered, so that a deadline its case's
 * completion tracks only later (a decision sent right after its
 * application's ACK) is not tracked at all.
 *
 * A timer on the loop scans the table in due order: a deadline within
 * [delivery] deadline_warn_ms of its due time gets a `deadline` record
 * (state warning) and a deadline.warning event, once; one past due gets a
 * `deadline` record (state breached) and a deadline.breached event, and
 * leaves the table. Both events go to the tracked event's area, with corr =
 * its id, source "broker", and an id derived from the deadline, so that a
 * scan repeated before the write commits, or after a crash, emits nothing
 * twice. Each deadline record is written only if its entry is still there
 * (and not yet warned) in the writing transaction.
 *
 * Writer-thread functions run inside the batch's transaction; the tracker
 * itself lives on the loop thread.
 */
#ifndef MANDATE_DEADLINE_TRACKER_H
#define MANDATE_DEADLINE_TRACKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <event2/event.h>

#include "config/config.h"
#include "daemon/audit_log.h"
#include "daemon/delivery_journal.h"

#define DEADLINE_KEY_MAX (16 + 64)

/* Loop thread: whether a worker's result lists a deadline to track (so that
 * the writer parses only the completions that need it). */
bool deadline_tracker_result_tracks(const msgpack_object *result);
/* Writer thread: keeps the tracked deadlines of a `completed` record's
 * fields (nfields key/value pairs). Malformed entries are skipped. */
int deadline_tracker_track(struct audit_log *log, uint64_t event_seq, const char *area,
                           const void *fields, size_t len, unsigned nfields);
/* Writer thread: an accepted event of type (corr: 16 bytes or NULL; subject:
 * NULL or subject_len bytes) closes the deadlines of its case. */
int deadline_tracker_close(struct audit_log *log, const struct catalogue_type *type,
                           const uint8_t *corr, const char *subject, size_t subject_len);
/* Writer thread: whether a deadline op still applies, and applying it
 * (warning: mark warned; breached: remove). */
bool deadline_tracker_applies(struct audit_log *log, const void *key, size_t klen, bool warning);
int deadline_tracker_apply(struct audit_log *log, const void *key, size_t klen, bool warning);

struct deadline_tracker;
struct ingress;

/* Deadline records queued (a repeated scan's duplicate, dropped at the
 * write, is counted again: these say what the scan found). */
struct deadline_tracker_stats {
    uint64_t warned, breached, scans;
};

/*
 * Scans every [delivery] deadline_scan_ms; queues its records in journal
 * and kicks in. Returns NULL on failure (logged).
 */
struct deadline_tracker *deadline_tracker_new(struct event_base *base,
                                              const struct mandated_config *cfg,
                                              struct audit_log *log,
                                              struct delivery_journal *journal, struct ingress *in);
const struct deadline_tracker_stats *deadline_tracker_stats(const struct deadline_tracker *t);
void deadline_tracker_destroy(struct deadline_tracker **t_p);

#endif
