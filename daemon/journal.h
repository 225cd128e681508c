/*
 * journal: audit records waiting for the group commit (daemon/group_commit.h),
 * each with what it does to the tables in the same transaction: its event's
 * pending entry, a tracked deadline, the follow-up events it brings in.
 * Delivery and the deadline scan each keep one and hand it to the group
 * commit as a producer (journal_producer()).
 *
 * The loop thread appends to the queued side; take() hands it to the writer
 * thread, which writes it inside the transaction while the loop queues the
 * next records; a failed transaction puts the taken records back ahead of
 * the newer ones.
 */
#ifndef MANDATE_JOURNAL_H
#define MANDATE_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

#include "config/config.h"
#include "daemon/audit_log.h"
#include "daemon/group_commit.h"
#include "proto/envelope.h"

/* What a record does to its event's pending entry, in the same transaction. */
enum pending_action { PENDING_KEEP, PENDING_UPDATE, PENDING_DELETE };

/* A `deadline` record's table entry (daemon/deadline_table.h): the record
 * is written only if the entry still applies, then marked or removed. */
enum journal_deadline { JOURNAL_DEADLINE_NONE, JOURNAL_DEADLINE_WARNED, JOURNAL_DEADLINE_BREACHED };

/* One record waiting for a transaction; the caller fills the pending fields. */
struct journal_op {
    const char *kind;
    size_t off, len; /* packed kind-specific fields in the journal's buffer */
    unsigned nfields;
    enum pending_action pending;
    uint64_t event_seq;
    const char *area; /* borrowed from the config */
    unsigned attempt;
    uint64_t due_ms;
    size_t emit_first, nemit; /* follow-ups accepted in the same transaction */
    enum journal_deadline deadline;
    size_t deadline_key_off, deadline_key_len;
    bool track_deadlines; /* a completion whose result lists deadlines to track */
};

/* A follow-up event a worker emitted, accepted before the op that carries it. */
struct journal_emit {
    size_t off, len; /* envelope bytes in the journal's buffer */
    uint8_t id[ENVELOPE_ID_LEN];
    char type[ENVELOPE_TYPE_MAX + 1];
    const struct area_conf *area;
    const struct catalogue_type *ctype; /* NULL: outside the catalogue */
    uint64_t seq; /* after the write: its accepted seq (or the original's, if dup) */
    bool dup;
};

struct journal;

/* accepted(arg, e) hears of every follow-up that entered the log (journal_done()). */
struct journal *journal_new(void (*accepted)(void *arg, const struct journal_emit *e), void *arg);
void journal_destroy(struct journal **j_p);

/* Loop thread: starts a record; pack its fields with *pk, then _end(). */
struct journal_op *journal_begin(struct journal *j, const char *kind, msgpack_packer *pk);
void journal_end(struct journal *j, struct journal_op *op, unsigned nfields);
/* Encodes f as a follow-up for the area; the next op with nemit > 0 carries it. */
void journal_add_emit(struct journal *j, const struct envelope_fields *f,
                      const struct area_conf *area, const struct catalogue_type *ctype);
/* Appends bytes an op refers to outside its record; returns their offset. */
size_t journal_append_raw(struct journal *j, const void *bytes, size_t len);
size_t journal_emits(const struct journal *j);

/*
 * Where the next op will be, as (generation, index): an op can be found
 * again with _queued_op() for as long as it has not been taken.
 */
void journal_position(const struct journal *j, uint64_t *ret_generation, size_t *ret_index);
struct journal_op *journal_queued_op(struct journal *j, uint64_t generation, size_t index);

/* The producer's side (struct group_commit_producer). */
size_t journal_queued(const struct journal *j);
void journal_take(struct journal *j);
/* Writer thread. Repeatable: a map-full retry runs it again on a fresh transaction. */
int journal_write(struct journal *j, struct audit_log *log, bool *wrote);
/* Loop thread, after the transaction: on success calls accepted() for every new follow-up. */
void journal_done(struct journal *j, int rc);

/* The journal as a group commit producer named name. */
void journal_producer(struct journal *j, const char *name, struct group_commit_producer *ret);

#endif
