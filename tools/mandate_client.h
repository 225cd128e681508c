/*
 * mandate_client: libmandate, the C client library of MEP/1 (DESIGN.md
 * "Ingress protocol MEP/1"). One DEALER socket to the broker; events are
 * published pipelined up to a window, each resent with the same bytes (and so
 * the same id: the broker deduplicates) until it is answered, and every event
 * ends in exactly one callback: ACK, NACK, or a local timeout.
 *
 * Not thread-safe: one client per thread, like the ZeroMQ socket inside it.
 * The library never logs; functions return 0 or -errno.
 */
#ifndef MANDATE_CLIENT_H
#define MANDATE_CLIENT_H

#include <stdint.h>

#include "proto/envelope.h"
#include "proto/mep.h"

struct mandate_client;

/*
 * Called once per published event with its outcome; user is the pointer given
 * to mandate_client_publish(). reply is valid only during the call. A local
 * timeout (no answer after max_resends resends) arrives as a NACK with code
 * MEP_UNAVAILABLE, retry = true and a reason starting with "timeout". A NACK
 * the broker sent without an id (it could not read one) is matched to the
 * oldest event in flight and keeps has_id = false: with a window of 1 the
 * match is exact, with more it is the best guess the protocol allows.
 * The callback may not call back into the client.
 */
typedef void(mandate_reply_fn)(void *cb_arg, const struct mep_reply *reply, void *user);

#define MANDATE_DEFAULT_WINDOW      64
#define MANDATE_DEFAULT_TIMEOUT_MS  2000
#define MANDATE_DEFAULT_MAX_RESENDS 5

struct mandate_client_options {
    unsigned window;            /* events in flight at most; 0 = MANDATE_DEFAULT_WINDOW */
    unsigned timeout_ms;        /* wait before resending; 0 = MANDATE_DEFAULT_TIMEOUT_MS */
    unsigned max_resends;       /* resends before a local timeout; taken as is (0 = never resend) */
    mandate_reply_fn *on_reply; /* may be NULL */
    void *cb_arg;
    /* Optional: a ZeroMQ context to share; NULL = the client owns one. */
    void *zmq_ctx;
    /*
     * Optional CURVE (RFC 26): the broker's public key and this publisher's
     * key pair, each 40 Z85 characters. All three or none.
     */
    const char *curve_server_key;
    const char *curve_public_key;
    const char *curve_secret_key;
};

/* Fills *opts with the defaults (window 64, 2000 ms, 5 resends, no callback). */
void mandate_client_options_init(struct mandate_client_options *opts);

/*
 * Connects a DEALER socket to endpoint (e.g. "tcp://127.0.0.1:7400"). opts
 * may be NULL for the defaults. Returns NULL on failure with errno set
 * (EINVAL for a bad endpoint or key, or libzmq's errno).
 */
struct mandate_client *mandate_client_new(const char *endpoint,
                                          const struct mandate_client_options *opts);
/* Closes the socket at once (linger 0): events still in flight get no callback. */
void mandate_client_destroy(struct mandate_client **client_p);

/*
 * Encodes f as an envelope and sends it. Blocks while the window is full,
 * servicing replies (callbacks run from inside this call). Returns 0 once
 * sent; -EINVAL if f lacks an id, type or source; -EEXIST if an event with
 * that id is already in flight on this client; -errno from libzmq.
 */
int mandate_client_publish(struct mandate_client *c, const struct envelope_fields *f, void *user);

/*
 * Services replies and resends for up to timeout_ms (-1: until at least one
 * event completes, 0: only what is already there), returning as soon as one
 * or more events have completed. Returns the number of events completed
 * (callbacks run), or -errno.
 */
int mandate_client_poll(struct mandate_client *c, int timeout_ms);

/*
 * Waits until no event is in flight; timeout_ms < 0 waits as long as the
 * resends take. Returns 0, or -ETIMEDOUT with events still in flight.
 */
int mandate_client_flush(struct mandate_client *c, int timeout_ms);

/* Sends PING and waits for PONG (servicing replies meanwhile). 0 or -ETIMEDOUT. */
int mandate_client_ping(struct mandate_client *c, int timeout_ms);

/* Events sent and not yet completed. */
unsigned mandate_client_in_flight(const struct mandate_client *c);

struct mandate_client_stats {
    uint64_t published; /* events handed to mandate_client_publish */
    uint64_t resent;    /* resends after a timeout */
    uint64_t acked;     /* of which dup: */
    uint64_t dups;
    uint64_t nacked;    /* NACKs from the broker */
    uint64_t timed_out; /* local timeouts after max_resends */
    uint64_t stray;     /* replies for ids no longer in flight (late, or answers to resends) */
    uint64_t malformed; /* replies that were not MEP/1 */
    uint64_t replies;   /* well-formed replies received, of any kind */
};

void mandate_client_get_stats(const struct mandate_client *c, struct mandate_client_stats *ret);

/*
 * A fresh event id: UUIDv7 (RFC 9562), 48 bits of Unix time in ms, then
 * random bits from libsodium, with the version and variant bits set.
 */
void mandate_new_id(uint8_t ret_id[16]);

#endif
