/*
 * zap: the broker's ZAP handler (ZeroMQ RFC 27), served in its own loop.
 * libzmq asks it, for every CURVE handshake on a socket with a ZAP domain
 * (daemon/router.h), whether the client's key may connect: on the domain
 * "ingress" the keys of sources_dir, on "workers" those of worker_keys_dir
 * (config_load_keys()). An admitted connection's messages carry the key
 * (Z85) as their User-Id, so ingress and delivery look the key up again in
 * the config of the moment, and a key removed at a reload stops working on
 * connections it opened before.
 *
 * A refusal is counted and written as `auth_refused`, at most once a second
 * per peer address, with the number suppressed since the last one: a client
 * retrying a bad key cannot fill the log.
 */
#ifndef MANDATE_ZAP_H
#define MANDATE_ZAP_H

#include <stdint.h>

#include <event2/event.h>
#include <zmq.h>

#include "config/config.h"
#include "daemon/journal.h"
#include "daemon/loop_turn.h"

#define ZAP_DOMAIN_INGRESS "ingress"
#define ZAP_DOMAIN_WORKERS "workers"
#define ZAP_ENDPOINT       "inproc://zeromq.zap.01"

struct zap_stats {
    uint64_t admitted;
    uint64_t refused;    /* mandated_auth_refused_total */
    uint64_t suppressed; /* refusals counted but not written (the per-peer limit) */
    uint64_t malformed;  /* requests that were not ZAP/1.0 */
};

struct zap;

/*
 * Binds the handler in zmq_ctx; must come before any socket with a ZAP
 * domain binds. Refusals go into records (a journal that is a group commit
 * producer). NULL on failure (logged).
 */
struct zap *zap_new(struct event_base *base, void *zmq_ctx, const struct mandated_config *cfg,
                    struct journal *records, struct loop_turn *turn);
/* The keys of cfg decide from now on (SIGHUP). */
void zap_reconfigure(struct zap *z, const struct mandated_config *cfg);
void zap_destroy(struct zap **z_p);
const struct zap_stats *zap_stats(const struct zap *z);

/* The User-Id of a message from a connection ZAP admitted: its key, Z85; NULL if none. */
const char *zap_user_key(zmq_msg_t *msg);

#endif
