/*
 * ingress: the MEP/1 ROUTER socket, the front door. Reads every message
 * readable in one loop turn (up to commit_max_batch), checks each (frames,
 * envelope, admission, the source's rate), hands the batch to the group
 * commit as its most urgent producer, and sends ACK / NACK once the batch is
 * durable.
 */
#ifndef MANDATE_INGRESS_H
#define MANDATE_INGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "config/config.h"
#include "daemon/audit_log.h"
#include "daemon/group_commit.h"
#include "daemon/loop_turn.h"
#include "proto/mep.h"

struct ingress;

struct ingress_stats {
    uint64_t accepted;
    uint64_t duplicates;
    uint64_t rejected[MEP_CODE_COUNT];
    uint64_t rejected_logged;
    uint64_t rejected_suppressed; /* rejections not written (rate-limited) */
    uint64_t replies_dropped;     /* peer gone or its queue full */
    uint64_t read_ns;             /* receiving and checking */
    uint64_t reply_ns;            /* sending the replies */
};

/* A new event's `accepted` record committed: route it. */
typedef void (*ingress_accepted_fn)(void *arg, uint64_t seq, const struct area_conf *area);

/*
 * Binds cfg->broker.ingress on zmq_ctx, joins base and adds itself to
 * commit as a producer; asks turn for the end of the turn when it read
 * something. NULL on failure (logged).
 */
struct ingress *ingress_new(struct event_base *base, void *zmq_ctx,
                            const struct mandated_config *cfg, struct audit_log *log,
                            struct group_commit *commit, struct loop_turn *turn,
                            ingress_accepted_fn on_accepted, void *on_accepted_arg);
/* Stops reading: nothing more is accepted; what was read is still written
 * and answered (group_commit_drain()). */
/*
 * SIGHUP: checks from now on follow cfg (sources, allow, rates, keys,
 * catalogue, areas); a source's rate bucket keeps its tokens. The endpoint
 * stays.
 */
void ingress_reconfigure(struct ingress *in, const struct mandated_config *cfg);
void ingress_stop(struct ingress *in);
void ingress_destroy(struct ingress **in_p);
const struct ingress_stats *ingress_stats(const struct ingress *in);

#endif
