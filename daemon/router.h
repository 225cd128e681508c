/*
 * router: the broker's ROUTER sockets (ingress, workers), made the one way
 * every one of them needs, and joined to the libevent loop through ZMQ_FD.
 * ZMQ_FD signals edges only, and any send or ZMQ_EVENTS query may consume
 * one, so callers drain until EAGAIN and call router_rearm() after sending.
 */
#ifndef MANDATE_ROUTER_H
#define MANDATE_ROUTER_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

struct router_options {
    int64_t max_msg_bytes; /* ZMQ_MAXMSGSIZE: a peer sending more is disconnected */
    int sndhwm, rcvhwm;    /* 0: libzmq's default */
    int linger_ms;
    bool handover; /* ZMQ_ROUTER_HANDOVER: a reconnecting peer may reuse its identity */
    /* CURVE server (RFC 26) with this secret key (32 bytes), its peers
     * judged by the ZAP handler (daemon/zap.h) under zap_domain; NULL: plain. */
    const uint8_t *curve_secret_key;
    const char *zap_domain;
};

/*
 * A ROUTER bound to endpoint, ZMQ_ROUTER_MANDATORY on (a reply to a peer
 * that left fails instead of vanishing). NULL with errno set on failure.
 */
void *router_new(void *zmq_ctx, const char *endpoint, const struct router_options *opts);
/*
 * A persistent read event on sock's ZMQ_FD, already added and made active
 * once (anything queued before the fd was watched would raise no edge).
 * NULL with errno set on failure.
 */
struct event *router_event_new(struct event_base *base, void *sock, event_callback_fn cb,
                               void *arg);
/*
 * Whether a message can be read now; if so, activates ev (sock's read
 * event), since the ZMQ_EVENTS query itself may have consumed the edge
 * that would have woken it. Call it after sends, and wherever input must
 * not wait for the next edge.
 */
bool router_rearm(void *sock, struct event *ev);

#endif
