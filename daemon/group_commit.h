/*
 * group_commit: the audit log's one writer. Producers (ingress, delivery,
 * the deadline scan) queue records on their own side; at the end of a loop
 * turn the group commit takes what they all queued and writes it in one
 * transaction with one fsync, on a thread of its own (daemon/batch_writer.h),
 * while the loop reads and checks what comes next. Each producer hears back,
 * on the loop thread, once its records are durable (or the commit failed).
 *
 * It owns the batch hand-off, the transaction, map growth (MDB_MAP_FULL:
 * grow and write the batch again), the pacing of retries after a failed
 * commit, and the drain at stop. Producers own their records, their
 * meaning and their callbacks.
 *
 * The promise it keeps for ingress: a producer's done() runs only after the
 * transaction that holds its records committed (and, under durability =
 * full, reached the disk), so an ACK sent from done() is never premature.
 */
#ifndef MANDATE_GROUP_COMMIT_H
#define MANDATE_GROUP_COMMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "config/config.h"
#include "daemon/audit_log.h"

/*
 * A producer. Records are written in the order producers were added, each
 * producer's in its own order. All but write() run on the loop thread.
 */
struct group_commit_producer {
    const char *name;
    /* Someone waits on these records (a publisher's ACK): they go at once,
     * and a small batch may be written on the loop thread. Otherwise they
     * wait a little for company, since every commit costs its fsyncs. */
    bool awaited;
    /* How many records wait. */
    size_t (*queued)(void *arg);
    /* Optional: more input is readable right now (so a small batch is worth
     * handing to the writer thread rather than written at once). */
    bool (*more_coming)(void *arg);
    /* Claims the waiting records for the coming transaction. */
    void (*take)(void *arg);
    /* Writer thread (or the loop thread, for a small awaited batch), inside
     * the transaction; sets *wrote if it appended or changed anything.
     * Repeatable: a map-full retry runs it again on a fresh transaction. */
    int (*write)(void *arg, struct audit_log *log, bool *wrote);
    /* The transaction holding the taken records committed (rc 0) or failed:
     * the records are no longer in hand, and take() may be called again. */
    void (*done)(void *arg, int rc);
    /* Optional: after done(), once the next transaction (if any is due) is
     * with the writer: the slow part of the answer (sending the ACKs), so
     * that it overlaps the next write instead of delaying it. */
    void (*answer)(void *arg);
    void *arg;
};

struct group_commit_stats {
    uint64_t batches;         /* transactions attempted */
    uint64_t commit_failures; /* of those, failed */
    uint64_t write_ns;        /* in the LMDB transaction, fsync included */
    uint64_t commit_ns;       /* of that, in mdb_txn_commit: page writes and fsyncs */
};

struct group_commit;

/* NULL on failure (logged). */
struct group_commit *group_commit_new(struct event_base *base, const struct mandated_config *cfg,
                                      struct audit_log *log);
void group_commit_destroy(struct group_commit **gc_p);

/* SIGHUP: pacing follows cfg. */
void group_commit_reconfigure(struct group_commit *gc, const struct mandated_config *cfg);
/* Adds a producer (copied); at most GROUP_COMMIT_PRODUCERS_MAX. */
#define GROUP_COMMIT_PRODUCERS_MAX 4
void group_commit_add(struct group_commit *gc, const struct group_commit_producer *p);

/* End of a loop turn: starts a transaction if the producers' records call
 * for one now (or arms the delay that gathers more). */
void group_commit_flush(struct group_commit *gc);
/* At stop: writes everything queued, blocking on the writer, until nothing
 * is left or commits keep failing (then the rest is given up and said). */
void group_commit_drain(struct group_commit *gc);
/* Whether the last commit failed (map or disk full). */
bool group_commit_failing(const struct group_commit *gc);
const struct group_commit_stats *group_commit_stats(const struct group_commit *gc);

#endif
