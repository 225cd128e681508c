/*
 * mdp: the Majordomo worker protocol MDP/0.1 (ZeroMQ RFC 7) between the
 * broker and area workers, with the compatible extensions of DESIGN.md
 * "Worker protocol":
 *   - READY may carry one more frame, msgpack {"credit": N};
 *   - a REQUEST's client-address frame is the event's seq in decimal ASCII;
 *   - REQUEST body: msgpack {"seq", "attempt", "area", "event": envelope};
 *   - REPLY body: msgpack {"status": "done"|"failed"|"retry", "note": str,
 *     "result": map, "emit": [envelope, ...]}; anything else is an opaque
 *     `done`.
 *
 * Frames as seen by a DEALER worker (the broker's ROUTER adds the identity):
 *   READY      "" · "MDPW01" · 0x01 · service [· credit map]
 *   REQUEST    "" · "MDPW01" · 0x02 · client address · "" · body
 *   REPLY      "" · "MDPW01" · 0x03 · client address · "" · body
 *   HEARTBEAT  "" · "MDPW01" · 0x04
 *   DISCONNECT "" · "MDPW01" · 0x05
 *
 * Every parser here takes outside bytes: it checks every frame and names
 * the one at fault in its error.
 */
#ifndef MANDATE_MDP_H
#define MANDATE_MDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

#define MDPW_PROTOCOL   "MDPW01"
#define MDP_SERVICE_MAX 64   /* bytes of a service (area) name */
#define MDP_CREDIT_MAX  1024 /* a larger announced credit is capped to this */
#define MDP_NOTE_MAX    512  /* bytes of a reply note kept; longer ones are cut */
#define MDP_ERROR_MAX   160
#define MDP_ADDRESS_MAX 255 /* bytes of a client-address frame (a ZeroMQ routing id at most) */

enum mdp_command {
    MDP_READY = 1,
    MDP_REQUEST = 2,
    MDP_REPLY = 3,
    MDP_HEARTBEAT = 4,
    MDP_DISCONNECT = 5,
};

/* "READY", ...; "?" out of range. */
const char *mdp_command_name(enum mdp_command cmd);

/* One received frame: borrowed bytes. */
struct mdp_frame {
    const void *data;
    size_t len;
};

/*
 * A message one side received, frames after the ROUTER identity (broker
 * side) or as read by the DEALER (worker side). Pointers borrow the frames.
 */
struct mdp_msg {
    enum mdp_command command;
    char service[MDP_SERVICE_MAX + 1]; /* READY */
    unsigned credit;                   /* READY: 1 without the extension frame */
    const uint8_t *address;            /* REQUEST, REPLY: the client-address frame */
    size_t address_len;
    bool has_seq; /* address is a decimal seq (1..2^64-1) without leading zeros */
    uint64_t seq;
    const struct mdp_frame *body; /* REQUEST, REPLY: the frames after the empty one */
    size_t nbody;                 /* 0 or more */
};

/*
 * Parses a worker -> broker message (READY, REPLY, HEARTBEAT, DISCONNECT).
 * Returns 0, or -EBADMSG with err naming the frame ("frame 2: command 0x09
 * is not a worker command", "frame 3: service name is empty", ...).
 * Frame numbers count from 0 at the empty delimiter frame.
 * REQUEST / REPLY: any client address of 1..MDP_ADDRESS_MAX bytes is accepted
 * (RFC 7); has_seq and seq tell whether it is a seq (see mdp_address_seq()).
 */
int mdp_parse_from_worker(const struct mdp_frame *frames, size_t nframes, struct mdp_msg *ret,
                          char err[MDP_ERROR_MAX]);
/* Parses a broker -> worker message (REQUEST, HEARTBEAT, DISCONNECT). Same conventions. */
int mdp_parse_from_broker(const struct mdp_frame *frames, size_t nframes, struct mdp_msg *ret,
                          char err[MDP_ERROR_MAX]);

/*
 * Reads a client-address frame as a seq: 1..2^64-1 in decimal ASCII without
 * leading zeros. Returns 0, or -EBADMSG with err naming frame 3 (the address
 * frame of REQUEST and REPLY); *ret_seq is untouched on failure.
 */
int mdp_address_seq(const void *address, size_t len, uint64_t *ret_seq, char err[MDP_ERROR_MAX]);

/* Formats seq as the client-address frame; returns its length (no NUL sent). */
size_t mdp_seq_address(uint64_t seq, char buf[24]);

/* Packs the msgpack {"credit": N} extension frame of READY (out cleared first). */
void mdp_pack_credit(msgpack_sbuffer *out, unsigned credit);

/* REQUEST body (out cleared first); envelope holds the event's raw envelope bytes. */
void mdp_pack_request(msgpack_sbuffer *out, uint64_t seq, unsigned attempt, const char *area,
                      const void *envelope, size_t envelope_len);

/* A decoded REQUEST body, as a worker sees it. */
struct mdp_request {
    uint64_t seq;
    unsigned attempt;
    char area[MDP_SERVICE_MAX + 1];
    const msgpack_object *event; /* the envelope map, valid until mdp_request_release() */
    msgpack_unpacked unpacked;
};

/* Returns 0 or -EBADMSG with err naming the field ("field 'attempt': not an unsigned integer"). */
int mdp_request_decode(const void *buf, size_t len, struct mdp_request *ret,
                       char err[MDP_ERROR_MAX]);
void mdp_request_release(struct mdp_request *req);

enum mdp_status {
    MDP_STATUS_DONE,
    MDP_STATUS_FAILED,
    MDP_STATUS_RETRY,
};

/* "done", "failed", "retry". */
const char *mdp_status_name(enum mdp_status st);

/*
 * A decoded REPLY body, as the broker sees it. A body that is not such a map
 * (not msgpack, not a map, no or unknown status, wrong field types) is
 * `opaque`: status done, and hash holds BLAKE2b-256 of the body bytes.
 */
struct mdp_outcome {
    enum mdp_status status;
    bool opaque;
    uint8_t hash[32];             /* opaque only */
    char note[MDP_NOTE_MAX + 1];  /* "" if none */
    const msgpack_object *result; /* a map, or NULL */
    const msgpack_object *emit;   /* the array's elements, or NULL */
    size_t nemit;
    msgpack_unpacked unpacked;
};

/* Never fails: what it cannot read is opaque. Call mdp_outcome_release() after. */
void mdp_outcome_decode(const void *buf, size_t len, struct mdp_outcome *ret);
void mdp_outcome_release(struct mdp_outcome *out);

/*
 * REPLY body (out cleared first). result: an already packed msgpack map or
 * NULL; emit: already packed envelopes, nemit of them.
 */
void mdp_pack_outcome(msgpack_sbuffer *out, enum mdp_status status, const char *note,
                      const void *result, size_t result_len, const msgpack_sbuffer *emit,
                      size_t nemit);

#endif
