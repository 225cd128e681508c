/*
 * mep: the MEP/1 ingress protocol (publishers -> broker): frame names, reply
 * codes and the ACK / NACK / PONG bodies. DESIGN.md "Ingress protocol MEP/1".
 */
#ifndef MANDATE_MEP_H
#define MANDATE_MEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

#define MEP_PROTOCOL   "MEP1"
#define MEP_ID_LEN     16
#define MEP_REASON_MAX 200

/* Reply codes. MEP_OK is internal (no NACK); the rest are NACK codes. */
enum mep_code {
    MEP_OK = 0,
    MEP_BAD_FRAME,
    MEP_BAD_MSGPACK,
    MEP_BAD_ENVELOPE,
    MEP_UNKNOWN_TYPE,
    MEP_INVALID_DATA,
    MEP_FORBIDDEN,
    MEP_TOO_LARGE,
    MEP_RATE_LIMITED,
    MEP_UNAVAILABLE,
    MEP_CODE_COUNT
};

/* "bad_frame", ...; "ok" for MEP_OK; "?" out of range. */
const char *mep_code_name(enum mep_code code);
/* Parses a code name; -EINVAL when unknown. */
int mep_code_from_name(const char *name, size_t len, enum mep_code *ret_code);
/* Whether a publisher should resend the same event later (rate_limited, unavailable). */
bool mep_code_retry(enum mep_code code);

enum mep_command {
    MEP_CMD_PUB,
    MEP_CMD_PING,
    MEP_CMD_ACK,
    MEP_CMD_NACK,
    MEP_CMD_PONG,
    MEP_CMD_UNKNOWN
};

/* Maps a command frame's bytes to a command; MEP_CMD_UNKNOWN otherwise. */
enum mep_command mep_command_parse(const void *frame, size_t len);
const char *mep_command_name(enum mep_command cmd);

/* Reply bodies, packed into a caller-owned sbuffer (cleared first). */
void mep_pack_ack(msgpack_sbuffer *out, const uint8_t id[MEP_ID_LEN], uint64_t seq, bool dup);
/* id may be NULL (nil on the wire: the fault came before the id could be read). */
void mep_pack_nack(msgpack_sbuffer *out, const uint8_t *id, enum mep_code code, const char *reason);
void mep_pack_pong(msgpack_sbuffer *out);

/* A decoded ACK or NACK, as a client sees it. */
struct mep_reply {
    bool is_ack;
    bool has_id;
    uint8_t id[MEP_ID_LEN];
    uint64_t seq;                    /* ACK */
    bool dup;                        /* ACK */
    enum mep_code code;              /* NACK */
    bool retry;                      /* NACK */
    char reason[MEP_REASON_MAX + 1]; /* NACK, truncated if longer */
};

/*
 * Decodes an ACK (is_ack) or NACK body from the broker. Bounded like every
 * decoder of outside bytes. Returns 0 or -EBADMSG.
 */
int mep_reply_decode(const void *buf, size_t len, bool is_ack, struct mep_reply *ret_reply);

#endif
