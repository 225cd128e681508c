/*
 * worker: the MDP/0.1 worker runtime behind mandate-worker. One DEALER
 * connection to the broker at a time: READY (with the credit extension),
 * REQUEST -> handler -> REPLY, heartbeats both ways, reconnect with
 * exponential backoff when the broker goes silent or says DISCONNECT, and a
 * drain on SIGTERM / SIGINT that answers what is in flight before leaving.
 */
#ifndef MANDATE_WORKER_H
#define MANDATE_WORKER_H

#include "config/config.h"
#include "workers/handlers.h"

struct worker;

struct worker_options {
    const struct mandated_config *cfg;   /* borrowed; outlives the worker */
    const struct area_conf *area;        /* one of cfg's areas */
    const char *endpoint;                /* the broker's [broker] workers endpoint */
    unsigned credit;                     /* 1..MDP_CREDIT_MAX */
    const struct handler_entry *handler; /* the area's; borrowed */
    /*
     * CURVE (RFC 26), optional: the broker's public key and this worker's
     * key pair, each 40 Z85 characters, borrowed for the worker's life. All
     * three or none; set on every new connection before it connects.
     */
    const char *curve_server_key;
    const char *curve_public_key;
    const char *curve_secret_key;
};

/*
 * NULL on failure (logged). Blocks SIGTERM and SIGINT: the worker reads them
 * itself. Opens the handler's state (its entry's open hook), which
 * worker_destroy() closes.
 */
struct worker *worker_new(const struct worker_options *opt);
/*
 * Serves until SIGTERM / SIGINT, then drains. Returns 0 after a clean
 * drain, -EINVAL if the endpoint or the CURVE keys are unusable, another
 * -errno on a socket failure (logged).
 */
int worker_run(struct worker *w);
void worker_destroy(struct worker **w_p);

#endif
