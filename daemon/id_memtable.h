/*
 * id_memtable: the ids of recent events, in memory, before they join the
 * `ids` B-tree (daemon/audit_log.h has the tables).
 *
 * Why: a publisher's ids are often random (UUIDv4). Each one inserted into a
 * B-tree far larger than a batch lands in a leaf of its own, so a commit of
 * 500 events rewrote ~500 leaves (and their branches): 4 KiB and more an
 * event, growing with the tree. Here a new id costs an append to `ids_new`
 * (seq -> id, in seq order: the last leaf only) and a slot in this table;
 * a sweep then moves the ids into `ids` in key order, one range of keys at
 * a time, so that a leaf is rewritten once a sweep for all the ids that
 * reached it, not once each.
 *
 * The sweep: the key space is cut into ID_MEMTABLE_RANGES ranges by the
 * id's first 12 bits. Each range keeps its ids in seq order. On arriving at a
 * range the sweep notes the next seq; it takes the range's ids below that
 * seq (later ones wait for the next sweep, so a busy range cannot hold it),
 * then moves on. When it wraps, every id claimed before that sweep began is
 * in `ids`, and `ids_new` may drop the entries below the seq it began at.
 *
 * Threads: the writer thread alone changes the table. Its own lookups take
 * no lock; other threads use id_memtable_find_committed(), which locks and
 * sees only committed ids.
 */
#ifndef MANDATE_ID_MEMTABLE_H
#define MANDATE_ID_MEMTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ID_MEMTABLE_RANGES 4096

struct id_memtable;

/* An id taken by the sweep, to be put into `ids`. */
struct id_memtable_item {
    uint8_t id[16];
    uint64_t seq;
};

struct id_memtable *id_memtable_new(void);
void id_memtable_destroy(struct id_memtable **mt_p);

/* Ids held, committed or not. */
size_t id_memtable_size(const struct id_memtable *mt);

/* The writer's lookup: committed ids and the open batch's. */
bool id_memtable_find(struct id_memtable *mt, const uint8_t id[16], uint64_t *ret_seq);
/* Another thread's lookup: committed ids only. */
bool id_memtable_find_committed(struct id_memtable *mt, const uint8_t id[16], uint64_t *ret_seq);
/* Counts the commits that removed ids (they are in `ids` from then on). */
uint64_t id_memtable_gen(struct id_memtable *mt);

/* A committed id read back from `ids_new` at start, in seq order; false (and
 * nothing changed) if the table holds that id already. */
bool id_memtable_load(struct id_memtable *mt, const uint8_t id[16], uint64_t seq);

/* Starts a batch: what id_memtable_abort() returns to. next_seq: its first seq. */
void id_memtable_begin(struct id_memtable *mt, uint64_t next_seq);
/* An id claimed in the open batch (not in the table: the caller looked). */
void id_memtable_add(struct id_memtable *mt, const uint8_t id[16], uint64_t seq);
/*
 * The sweep's next ids, at most max, sorted by id: the returned array is
 * valid until the next call or the batch's end. They leave the table when
 * the batch commits. Ids of the open batch wait for the next sweep.
 */
size_t id_memtable_take(struct id_memtable *mt, size_t max,
                        const struct id_memtable_item **ret_items);
/*
 * Entries of `ids_new` below this seq are all in `ids` (0: none known yet).
 * It moves when a sweep wraps.
 */
uint64_t id_memtable_prune_below(const struct id_memtable *mt);
/* The batch was committed: its ids become committed, the taken ones leave. */
void id_memtable_commit(struct id_memtable *mt);
/* The batch was not written: its ids leave, the taken ones stay, the sweep goes back. */
void id_memtable_abort(struct id_memtable *mt);

#endif
