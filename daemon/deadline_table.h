/*
 * deadline_table: the tracked deadlines kept in the audit log's `deadlines`
 * table, and the closures that end them (DESIGN.md, issue "deadline
 * tracking"). A worker's result lists its deadlines; those with "track":
 * true are kept, in the transaction that writes the `completed` record, so
 * that they survive any restart exactly as the completion does. An accepted
 * event of a type a tracked deadline names in closed_by, whose corr is the
 * tracked event's id or whose subject is the deadline's subject, closes it
 * in the transaction that accepts it; the closure is remembered, so that a
 * deadline its case's completion tracks only later (a decision sent right
 * after its application's ACK) is not tracked at all.
 *
 * The functions that change the table run inside the open transaction (the
 * writer thread's, daemon/group_commit.h); deadline_entry_read() and the key
 * layout are also what the loop's scan (daemon/deadline_scan.h) reads.
 *
 * A stored value is the deadline's entry of the worker's result
 * (proto/worker_result.h) with the tracked event's seq and area and whether
 * it was warned. Table layout: key = due (u64 BE, unix ms; UINT64_MAX for an open case),
 * event seq (u64 BE), deadline name; value = msgpack map {"seq", "area",
 * "name", "due" (int or nil), "rule", "basis", "subject" (str or nil),
 * "closed_by": [types], "warned": bool}. Keys sort by due time, so a scan
 * reads only what is due or nearly due and stops.
 */
#ifndef MANDATE_DEADLINE_TABLE_H
#define MANDATE_DEADLINE_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

#include "config/config.h"
#include "daemon/audit_log.h"
#include "proto/worker_result.h"

#define DEADLINE_KEY_MAX (16 + WORKER_RESULT_NAME_MAX)

/* One tracked deadline, as stored: the worker's entry and whose it is. */
struct deadline_entry {
    struct worker_result_deadline deadline; /* objects point into the unpacked value */
    uint64_t seq;                           /* the tracked event's */
    char area[65];
    bool warned;
};

/* Reads a stored value; false if it is not one (the file is outside input). */
bool deadline_entry_read(const msgpack_object *value, struct deadline_entry *ret);
/* The due time a key sorts by; false if the key is not one of the table's. */
bool deadline_key_due(const void *key, size_t klen, uint64_t *ret_due);

/* In the transaction: keeps the tracked deadlines of a `completed` record's
 * fields (nfields key/value pairs). Malformed entries are skipped. */
int deadline_table_track(struct audit_log *log, uint64_t event_seq, const char *area,
                         const void *fields, size_t len, unsigned nfields);
/* In the transaction: an accepted event of type (corr: 16 bytes or NULL;
 * subject: NULL or subject_len bytes) closes the deadlines of its case. */
int deadline_table_close(struct audit_log *log, const struct catalogue_type *type,
                         const uint8_t *corr, const char *subject, size_t subject_len);
/* In the transaction: whether a scan's finding still applies (the entry is
 * there, and for a warning not yet warned), and applying it (warning: mark
 * warned; breached: remove). */
bool deadline_table_applies(struct audit_log *log, const void *key, size_t klen, bool warning);
int deadline_table_apply(struct audit_log *log, const void *key, size_t klen, bool warning);

#endif
