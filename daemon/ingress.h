/*
 * ingress: the MEP/1 ROUTER socket. Reads every event readable in one loop
 * turn (up to commit_max_batch), checks each, writes the batch to the audit
 * log in one transaction with one fsync, and only then sends ACK / NACK.
 */
#ifndef MANDATE_INGRESS_H
#define MANDATE_INGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "config/config.h"
#include "daemon/audit_log.h"
#include "proto/mep.h"

struct ingress;

struct ingress_stats {
    uint64_t accepted;
    uint64_t duplicates;
    uint64_t rejected[MEP_CODE_COUNT];
    uint64_t rejected_logged;
    uint64_t rejected_suppressed; /* rejections not written (rate-limited) */
    uint64_t replies_dropped;     /* peer gone or its queue full */
    uint64_t batches;
    uint64_t commit_failures;
    uint64_t read_ns;  /* receiving and checking */
    uint64_t write_ns; /* the LMDB transaction, fsync included */
    uint64_t reply_ns; /* sending the replies */
};

/*
 * A rider: another producer of audit records (event delivery) whose records
 * travel in ingress's transactions, so that everything of a loop turn shares
 * one commit and one fsync and the log keeps a single writer.
 */
struct ingress_rider {
    /* Loop thread: how many records wait to be written. */
    size_t (*queued)(void *arg);
    /* Loop thread: claims the waiting records for the next transaction. */
    void (*take)(void *arg);
    /* Writer thread (or the loop thread, for small batches), inside the
     * transaction, after the batch's own records; sets *wrote if it appended. */
    int (*write)(void *arg, struct audit_log *log, bool *wrote);
    /* Loop thread, once the transaction committed (rc 0) or failed. */
    void (*done)(void *arg, int rc);
    /* Loop thread: a new event's `accepted` record committed. */
    void (*accepted)(void *arg, uint64_t seq, const struct area_conf *area);
    void *arg;
};

/* Binds cfg->broker.ingress on zmq_ctx and joins base. NULL on failure (logged). */
struct ingress *ingress_new(struct event_base *base, void *zmq_ctx,
                            const struct mandated_config *cfg, struct audit_log *log);
void ingress_set_rider(struct ingress *in, const struct ingress_rider *rider);
/* The rider has records waiting: write them in a coming loop turn. */
void ingress_kick(struct ingress *in);
/* Stops reading: nothing more is accepted; already sent replies still drain. */
void ingress_stop(struct ingress *in);
/* After ingress_stop: writes and answers whatever was read (blocks on the writer). */
void ingress_drain(struct ingress *in);
void ingress_destroy(struct ingress **in_p);
const struct ingress_stats *ingress_stats(const struct ingress *in);

#endif
