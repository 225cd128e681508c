/*
 * audit_record: the msgpack record stored in the audit log's `log` table and
 * the hash chain that makes the log tamper-evident (DESIGN.md "Audit log").
 *
 * Chain: a record's `prev` is the hash of the previous record's stored bytes
 * (32 zero bytes for seq 1). The stored bytes include their own `prev`, so
 * each hash covers the previous hash and the record bytes, and altering any
 * record breaks every link after it.
 *
 * The hash is SHA-256 (format 3; OpenSSL's libcrypto, which uses the CPU's
 * SHA extensions, and what RFC 6962 Merkle trees hash with). Formats 1 and 2
 * hashed with BLAKE2b-256: a log carried on from them keeps those links as
 * they are, and meta's `chain_sha256_from` names the first record hashed
 * with SHA-256 (1 for a log begun in format 3).
 */
#ifndef MANDATE_AUDIT_RECORD_H
#define MANDATE_AUDIT_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

#define AUDIT_HASH_LEN 32

/* Record kinds written by the broker. */
#define AUDIT_KIND_STARTED  "started"
#define AUDIT_KIND_STOPPED  "stopped"
#define AUDIT_KIND_ACCEPTED "accepted"
#define AUDIT_KIND_REJECTED "rejected"

/*
 * Event delivery: each of these carries event_seq (the seq of the event's
 * `accepted` record), area and attempt (1 = first delivery; in `retried` the
 * next attempt's number, in `deadlettered` the attempts made).
 */
#define AUDIT_KIND_DISPATCHED   "dispatched"
#define AUDIT_KIND_COMPLETED    "completed"
#define AUDIT_KIND_FAILED       "failed"
#define AUDIT_KIND_RETRIED      "retried"
#define AUDIT_KIND_DEADLETTERED "deadlettered"
#define AUDIT_FIELD_EVENT_SEQ   "event_seq"
/* In an `accepted` record of a follow-up event: the seq of the event that emitted it. */
#define AUDIT_FIELD_CAUSE "cause"

/* Worker pool membership: worker, area, then credit (joined) or reason, inflight (lost). */
#define AUDIT_KIND_WORKER_JOINED "worker_joined"
#define AUDIT_KIND_WORKER_LOST   "worker_lost"
/* A tracked deadline near or past its due time (daemon/deadline_scan.h):
 * event_seq, area, deadline, due (unix ms), state "warning" | "breached";
 * emitted: the deadline.* event it brought in. */
#define AUDIT_KIND_DEADLINE "deadline"
/* Security and configuration (daemon/zap.h, SIGHUP): a refused ZAP
 * request (peer, domain, mechanism, key, reason, suppressed), a worker key
 * offering an area it may not serve (worker, key, area, reason), a reload
 * (what changed) and a reload that changed nothing (the error). */
#define AUDIT_KIND_AUTH_REFUSED   "auth_refused"
#define AUDIT_KIND_WORKER_REFUSED "worker_refused"
#define AUDIT_KIND_RELOADED       "reloaded"
#define AUDIT_KIND_RELOAD_FAILED  "reload_failed"

/* The hash of record seq's bytes: SHA-256 from seq sha256_from on, BLAKE2b-256 before it. */
void audit_chain_hash(uint64_t seq, uint64_t sha256_from, const void *bytes, size_t len,
                      uint8_t ret_hash[AUDIT_HASH_LEN]);

/*
 * Starts a record: packs a map header of 4 + extra_fields entries and the
 * common fields seq, at, kind, prev. The caller then packs exactly
 * extra_fields key/value pairs.
 */
void audit_record_begin(msgpack_packer *pk, uint64_t seq, uint64_t at_ns, const char *kind,
                        const uint8_t prev[AUDIT_HASH_LEN], unsigned extra_fields);

/*
 * A record whose own fields are known before its seq (an `accepted`
 * record's area and envelope), packed and hashed ahead, off the writer
 * thread: the map header and those fields come first, the common fields
 * last, so that the writer packs and hashes only that tail. The map's order
 * is free: readers look fields up by key.
 */
#define AUDIT_PREPARED_STATE_BYTES 128
struct audit_prepared {
    /* The head (map header + the record's own fields) is len bytes at off
     * in arena: a buffer that the caller shares among a batch's records and
     * keeps until they are written (its data may move as it grows). */
    const msgpack_sbuffer *arena;
    size_t off, len;
    /* SHA-256 over the head, as the bytes of libcrypto's state (so that
     * this header needs no OpenSSL one). New records only: their seqs are
     * all at or past chain_sha256_from. */
    unsigned char sha256[AUDIT_PREPARED_STATE_BYTES];
};

/* Appends the head to arena: fields are extra_fields packed key/value pairs. */
void audit_prepared_set(struct audit_prepared *p, msgpack_sbuffer *arena, const void *fields,
                        size_t len, unsigned extra_fields);
const void *audit_prepared_head(const struct audit_prepared *p);
/* The tail of a prepared record: seq, at, kind, prev. */
void audit_record_tail(msgpack_packer *pk, uint64_t seq, uint64_t at_ns, const char *kind,
                       const uint8_t prev[AUDIT_HASH_LEN]);
/* The record's hash: SHA-256 of head || tail, as audit_chain_hash() of its bytes. */
void audit_prepared_hash(const struct audit_prepared *p, const void *tail, size_t len,
                         uint8_t ret_hash[AUDIT_HASH_LEN]);

/* Packs a string key (helper for the kind-specific fields). */
void audit_pack_key(msgpack_packer *pk, const char *key);
void audit_pack_str(msgpack_packer *pk, const char *s);
/* A string, or nil when s is NULL or empty. */
void audit_pack_str_or_nil(msgpack_packer *pk, const char *s);

/* The kinds' own fields: proto/audit_kinds.h. */

/* A decoded record: the common fields, plus the whole map for the rest. */
struct audit_record {
    uint64_t seq;
    uint64_t at_ns;
    char kind[32];
    uint8_t prev[AUDIT_HASH_LEN];
    const msgpack_object *map; /* valid until audit_record_release() */
    msgpack_unpacked unpacked;
};

/*
 * Decodes stored record bytes (bounded, like any outside input: the log file
 * may have been altered). Returns 0 or -EBADMSG.
 */
int audit_record_decode(const void *buf, size_t len, struct audit_record *ret);
void audit_record_release(struct audit_record *rec);

/* Looks up a key in the record map; NULL if absent. */
const msgpack_object *audit_record_field(const struct audit_record *rec, const char *key);
/*
 * A field of the event an `accepted` record holds (id, type, source, ...):
 * the record's own copy where it has one (format 1 kept id, type and source
 * beside the envelope), else the envelope's. NULL if neither has it.
 */
const msgpack_object *audit_record_event_field(const struct audit_record *rec, const char *key);
/*
 * The same in a record's stored bytes, without unpacking them: where the
 * field's value sits (offset and length into bytes). 0 or -EBADMSG.
 */
int audit_record_scan_event_field(const void *bytes, size_t len, const char *key, size_t *ret_off,
                                  size_t *ret_len);

/*
 * Verifying the chain: feed records in seq order; the verifier reports the
 * first record whose bytes no longer match the chain. When link (k, k+1)
 * breaks, record k is to blame unless link (k+1, k+2) breaks as well (then
 * k+1's own `prev` was altered); audit_verify_finish() checks the last link
 * against the chain head kept in `meta`.
 */
struct audit_verifier {
    uint64_t first_seq;                /* seq of the first record to be fed */
    uint64_t expect_seq;               /* next seq expected */
    uint8_t prev_hash[AUDIT_HASH_LEN]; /* hash of the last record fed */
    uint64_t sha256_from;              /* meta's chain_sha256_from */
    uint64_t suspect;                  /* seq of a broken link's earlier record, 0 if none */
    uint64_t bad_seq;                  /* first bad seq once known, 0 if none */
    char why[160];
};

void audit_verifier_init(struct audit_verifier *v, uint64_t first_seq,
                         const uint8_t prev_of_first[AUDIT_HASH_LEN], uint64_t sha256_from);
/* Returns true while the chain is still good; false once bad_seq is known. */
bool audit_verifier_feed(struct audit_verifier *v, uint64_t key_seq, const void *bytes, size_t len);
/* head: meta's chain head (NULL if missing). Returns true if the whole chain is good. */
bool audit_verifier_finish(struct audit_verifier *v, const uint8_t *head, uint64_t head_seq);

#endif
