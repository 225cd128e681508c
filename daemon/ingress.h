/*
 * ingress: the MEP/1 ROUTER socket. Reads every event readable in one loop
 * turn (up to commit_max_batch), checks each, writes the batch to the audit
 * log in one transaction with one fsync, and only then sends ACK / NACK.
 */
#ifndef MANDATE_INGRESS_H
#define MANDATE_INGRESS_H

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

/* Binds cfg->broker.ingress on zmq_ctx and joins base. NULL on failure (logged). */
struct ingress *ingress_new(struct event_base *base, void *zmq_ctx,
                            const struct mandated_config *cfg, struct audit_log *log);
/* Stops reading: nothing more is accepted; already sent replies still drain. */
void ingress_stop(struct ingress *in);
/* After ingress_stop: writes and answers whatever was read (blocks on the writer). */
void ingress_drain(struct ingress *in);
void ingress_destroy(struct ingress **in_p);
const struct ingress_stats *ingress_stats(const struct ingress *in);

#endif
