/*
 * audit_log: the broker's side of the LMDB audit log, its only writer.
 *
 * Layout (environment STATE_DIR/audit; tools/audit_reader.c reads the same):
 *   log      u64 BE seq (from 1, MDB_APPEND)  -> msgpack record
 *   ids      16-byte event id                 -> u64 BE seq of its `accepted`
 *   ids_new  u64 BE seq of an `accepted`      -> its 16-byte event id, for
 *            the ids not yet swept into `ids` (daemon/id_memtable.h): an id
 *            is known if it is in either
 *   pending  u64 BE seq                       -> msgpack {area, attempt, due}
 *   meta     "format_version" -> u64 BE, "chain_head" -> 32 bytes,
 *            "chain_seq" -> u64 BE, "chain_sha256_from" -> u64 BE (the
 *            first seq hashed with SHA-256; BLAKE2b-256 before it)
 *
 * Writes happen in batches: audit_log_begin(), any number of appends and
 * puts, audit_log_commit(). The chain head and next seq advance only when a
 * commit succeeds, so a failed batch (map full, disk full) leaves both the
 * file and the in-memory state exactly as they were.
 */
#ifndef MANDATE_AUDIT_LOG_H
#define MANDATE_AUDIT_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/audit_kinds.h"
#include "proto/audit_record.h"

#define AUDIT_FORMAT_VERSION 4

/* Ids kept in memory before the sweep moves them into `ids`. */
#define AUDIT_IDS_IN_MEMORY_DEFAULT 1000000

struct audit_log;

struct audit_log_options {
    bool durable;         /* fsync on every commit (durability = full) */
    uint64_t map_initial; /* first map size in bytes */
    uint64_t map_max;     /* the map may grow to this; past it: -ENOSPC */
    size_t ids_in_memory; /* the sweep keeps about this many; 0: the default */
    size_t ids_filter;    /* ids the filter in front of `ids` is sized for; 0: no filter */
};

/* Creates STATE_DIR/audit if needed, opens or creates the environment and checks its chain head. */
int audit_log_open(const char *state_dir, const struct audit_log_options *opts,
                   struct audit_log **ret_log, char *errbuf, size_t errlen);
void audit_log_destroy(struct audit_log **log_p);

uint64_t audit_log_last_seq(const struct audit_log *log);
uint64_t audit_log_map_size(const struct audit_log *log);

int audit_log_begin(struct audit_log *log);
/*
 * Appends a record: the common fields are packed here; fields holds the
 * already packed kind-specific key/value pairs (extra_fields of them).
 */
int audit_log_append(struct audit_log *log, const char *kind, const void *fields, size_t fields_len,
                     unsigned extra_fields, uint64_t *ret_seq);
/* Waits until the filter in front of `ids` is built: 0, its -errno, or
 * -ENOENT when there is none. For tests and benchmarks; the broker never waits. */
int audit_log_wait_filter(struct audit_log *log);
/* Seq of the event with this id, visible within the open batch too; -ENOENT if none. */
int audit_log_find_id(struct audit_log *log, const uint8_t id[16], uint64_t *ret_seq);
/*
 * Claims id for the record the next audit_log_append() will write: 0 if the
 * id was new (put into `ids`, or appended to ids_new: daemon/id_streams.h
 * says which), -EEXIST with *ret_seq set to the original seq if it was
 * already known (nothing written then).
 */
int audit_log_claim_id(struct audit_log *log, const uint8_t id[16], uint64_t *ret_seq);
/* An event entering the log: appends its `accepted` record (the envelope is
 * its last field) and puts its pending entry. The id is already claimed with
 * audit_log_claim_id(). */
int audit_log_append_accepted(struct audit_log *log, const struct audit_accepted *a,
                              uint64_t *ret_seq);

/*
 * pending: one entry per event not yet completed or dead-lettered. attempt
 * counts the deliveries made so far; due_ms (unix ms) is when a retry is
 * next offered, 0 if none is scheduled. put_pending is for new events (seq
 * above every entry); update_pending rewrites an existing entry.
 */
int audit_log_put_pending(struct audit_log *log, uint64_t seq, const char *area, unsigned attempt,
                          uint64_t due_ms);
int audit_log_update_pending(struct audit_log *log, uint64_t seq, const char *area,
                             unsigned attempt, uint64_t due_ms);
/* -ENOENT if there was no entry. */
int audit_log_del_pending(struct audit_log *log, uint64_t seq);
/*
 * The tracked deadlines (daemon/deadline_table.h owns their keys and
 * values), in the batch's transaction. get and del return -ENOENT for a
 * missing key.
 */
int audit_log_deadline_put(struct audit_log *log, const void *key, size_t klen, const void *val,
                           size_t vlen);
int audit_log_deadline_get(struct audit_log *log, const void *key, size_t klen,
                           const void **ret_val, size_t *ret_len);
int audit_log_deadline_del(struct audit_log *log, const void *key, size_t klen);
/*
 * The closures seen (daemon/deadline_table.h owns their keys): a case
 * closed before its deadlines were tracked stays closed. In the batch.
 */
int audit_log_closure_put(struct audit_log *log, const void *key, size_t klen);
bool audit_log_closure_exists(struct audit_log *log, const void *key, size_t klen);
/*
 * Calls fn for every entry in key order: in the batch's transaction, or in
 * the open snapshot (audit_log_snapshot_begin). fn returns 0 to go on, 1 to
 * stop, or a negative -errno, returned. fn must not write.
 */
int audit_log_deadline_foreach(struct audit_log *log, bool snapshot,
                               int (*fn)(void *arg, const void *key, size_t klen, const void *val,
                                         size_t vlen),
                               void *arg);

/* Commits; with durable set, returns only once the data is on disk. */
int audit_log_commit(struct audit_log *log);
void audit_log_abort(struct audit_log *log);

/*
 * After -ENOSPC from a put/append/commit because the map is full: doubles
 * the map up to map_max. Returns 0 if it grew (retry the batch), -ENOSPC if
 * the map is already at its limit. Must be called outside a batch.
 */
int audit_log_grow(struct audit_log *log);
/* Whether the last failure was the map limit (as opposed to the disk). */
bool audit_log_map_was_full(const struct audit_log *log);

/*
 * Reading committed records from the writer's process (the loop thread, while
 * the writer thread may be committing). A snapshot is one short read
 * transaction; record bytes stay valid until audit_log_snapshot_end(). Do
 * not hold one across a write on the same thread.
 */
int audit_log_snapshot_begin(struct audit_log *log);
/* -ENOENT if seq is not in the log. */
int audit_log_snapshot_get(struct audit_log *log, uint64_t seq, const void **ret_bytes,
                           size_t *ret_len);
/*
 * The seq of an event id's accepted record, committed by the time of the call;
 * -ENOENT. It may begin the snapshot anew (an id the writer moved from the
 * memtable into `ids` after the snapshot began): bytes from
 * audit_log_snapshot_get() before it are then no longer valid. On an error
 * the snapshot is closed.
 */
int audit_log_snapshot_find_id(struct audit_log *log, const uint8_t id[16], uint64_t *ret_seq);
void audit_log_snapshot_end(struct audit_log *log);

/* One pending entry, as read back at start. */
struct audit_pending {
    uint64_t seq;
    bool unreadable; /* the stored bytes do not decode: only seq is known */
    char area[65];
    unsigned attempt;
    uint64_t due_ms;
};

/*
 * Calls fn for every pending entry in seq order (outside any batch). An entry
 * that does not decode is reported as unreadable so the caller can say so.
 * Returns 0, -errno, or the first negative value fn returned.
 */
int audit_log_pending_foreach(struct audit_log *log,
                              int (*fn)(void *arg, const struct audit_pending *p), void *arg);

/*
 * The same from the open snapshot: the entries from seq `from` on, at most
 * max of them, until fn returns non-zero. *ret_next is the seq to go on
 * from, or 0 once the table's end was reached. 0 or -errno.
 */
int audit_log_snapshot_pending_from(struct audit_log *log, uint64_t from, size_t max,
                                    int (*fn)(void *arg, const struct audit_pending *p), void *arg,
                                    uint64_t *ret_next);

/* Flushes to disk (for durability = relaxed, called from a timer and at stop). */
int audit_log_sync(struct audit_log *log);

#endif
