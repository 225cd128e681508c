/*
 * audit_record: pack and decode audit log records, hash them into the chain,
 * and verify a chain record by record.
 *
 * Stored bytes are outside input (anyone with write access to the LMDB file
 * can change them), so decoding is scanned and bounded like a network
 * message. Allocation failure aborts (common/alloc.h).
 *
 * How the verifier places blame (deterministic, one pass, O(1) state):
 * a record k is judged through two links, (k-1 -> k): k's prev equals the
 * hash of k-1's bytes, and (k -> k+1): k+1's prev equals the hash of k's
 * bytes; the chain head in meta acts as the link after the last record.
 *  - Record k missing, unreadable, or its seq field not k: k is bad.
 *  - Link (k-1 -> k) broken: k-1 becomes the suspect (if k is the first
 *    record fed there is no k-1 to suspect and k itself is bad). When link
 *    (k -> k+1) holds, k-1's bytes changed: bad = k-1. When it breaks too,
 *    k's own bytes changed in its prev (which breaks both): bad = k.
 *  - A link that cannot be checked (the next record missing or unreadable,
 *    the head missing or for another seq) counts as broken, so a pending
 *    suspect k-1 then resolves to bad = k.
 *  - At the end, no suspect: head missing -> the last record is bad (it is
 *    not covered); head_seq past the last record -> the first missing seq;
 *    head_seq before it -> the first record the head does not cover; head !=
 *    hash of the last record -> the last record.
 */
#include "common/alloc.h"
#include "proto/audit_record.h"
#include "proto/pack.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* SHA256_Init and company are deprecated in OpenSSL 3 in favour of EVP, whose
 * context is an opaque heap object; a prepared record needs a state it can
 * copy into its own bytes, which only these give (at no extra cost). */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <sodium.h>

#include "proto/msgpack_scan.h"

/* Records nest an envelope (depth 8) a few levels down; strings stay small. */
static const struct msgpack_scan_limits s_record_limits = {16, 1024 * 1024};

_Static_assert(sizeof(SHA256_CTX) <= AUDIT_PREPARED_STATE_BYTES, "SHA-256 state too large");
_Static_assert(SHA256_DIGEST_LENGTH == AUDIT_HASH_LEN, "chain hash length");

void
audit_chain_hash(uint64_t seq, uint64_t sha256_from, const void *bytes, size_t len,
                 uint8_t ret_hash[AUDIT_HASH_LEN])
{
    if (seq >= sha256_from) {
        SHA256_CTX st;
        SHA256_Init(&st);
        SHA256_Update(&st, bytes, len);
        SHA256_Final(ret_hash, &st);
    } else {
        crypto_generichash(ret_hash, AUDIT_HASH_LEN, bytes, len, NULL, 0);
    }
}

void
audit_pack_key(msgpack_packer *pk, const char *key)
{
    audit_pack_str(pk, key);
}

void
audit_pack_str(msgpack_packer *pk, const char *s)
{
    pack_cstr(pk, s);
}

void
audit_pack_str_or_nil(msgpack_packer *pk, const char *s)
{
    if (s && *s)
        audit_pack_str(pk, s);
    else
        msgpack_pack_nil(pk);
}

void
audit_record_begin(msgpack_packer *pk, uint64_t seq, uint64_t at_ns, const char *kind,
                   const uint8_t prev[AUDIT_HASH_LEN], unsigned extra_fields)
{
    msgpack_pack_map(pk, 4 + extra_fields);
    audit_record_tail(pk, seq, at_ns, kind, prev);
}

void
audit_record_tail(msgpack_packer *pk, uint64_t seq, uint64_t at_ns, const char *kind,
                  const uint8_t prev[AUDIT_HASH_LEN])
{
    audit_pack_key(pk, "seq");
    msgpack_pack_uint64(pk, seq);
    audit_pack_key(pk, "at");
    msgpack_pack_uint64(pk, at_ns);
    audit_pack_key(pk, "kind");
    audit_pack_str(pk, kind);
    audit_pack_key(pk, "prev");
    msgpack_pack_bin(pk, AUDIT_HASH_LEN);
    msgpack_pack_bin_body(pk, prev, AUDIT_HASH_LEN);
}

void
audit_prepared_set(struct audit_prepared *p, msgpack_sbuffer *arena, const void *fields, size_t len,
                   unsigned extra_fields)
{
    msgpack_packer pk;
    SHA256_CTX st;

    p->arena = arena;
    p->off = arena->size;
    msgpack_packer_init(&pk, arena, pack_sbuffer_write);
    msgpack_pack_map(&pk, 4 + extra_fields);
    pack_sbuffer_write(arena, fields, len);
    p->len = arena->size - p->off;
    SHA256_Init(&st);
    SHA256_Update(&st, audit_prepared_head(p), p->len);
    memcpy(p->sha256, &st, sizeof st);
}

const void *
audit_prepared_head(const struct audit_prepared *p)
{
    return p->arena->data + p->off;
}

void
audit_prepared_hash(const struct audit_prepared *p, const void *tail, size_t len,
                    uint8_t ret_hash[AUDIT_HASH_LEN])
{
    SHA256_CTX st;

    memcpy(&st, p->sha256, sizeof st);
    SHA256_Update(&st, tail, len);
    SHA256_Final(ret_hash, &st);
}

/* Checks the common fields: all keys strings, seq/at/kind/prev once each. */
static int
s_common_fields(const msgpack_object *map, struct audit_record *rec)
{
    const msgpack_object *seq = NULL, *at = NULL, *kind = NULL, *prev = NULL;

    if (map->type != MSGPACK_OBJECT_MAP)
        return -EBADMSG;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        const msgpack_object **slot = NULL;

        if (kv->key.type != MSGPACK_OBJECT_STR)
            return -EBADMSG;
        if (pack_str_is(&kv->key, "seq"))
            slot = &seq;
        else if (pack_str_is(&kv->key, "at"))
            slot = &at;
        else if (pack_str_is(&kv->key, "kind"))
            slot = &kind;
        else if (pack_str_is(&kv->key, "prev"))
            slot = &prev;
        if (!slot)
            continue;
        if (*slot)
            return -EBADMSG; /* a second seq or prev would make the record ambiguous */
        *slot = &kv->val;
    }
    if (!seq || seq->type != MSGPACK_OBJECT_POSITIVE_INTEGER || !at ||
        at->type != MSGPACK_OBJECT_POSITIVE_INTEGER || !kind || kind->type != MSGPACK_OBJECT_STR ||
        kind->via.str.size >= sizeof(rec->kind) ||
        memchr(kind->via.str.ptr, '\0', kind->via.str.size) || !prev ||
        prev->type != MSGPACK_OBJECT_BIN || prev->via.bin.size != AUDIT_HASH_LEN)
        return -EBADMSG;

    rec->seq = seq->via.u64;
    rec->at_ns = at->via.u64;
    memcpy(rec->kind, kind->via.str.ptr, kind->via.str.size);
    rec->kind[kind->via.str.size] = '\0';
    memcpy(rec->prev, prev->via.bin.ptr, AUDIT_HASH_LEN);
    return 0;
}

/*
 * Unpacks from a private copy, so that the record outlives buf (an LMDB page
 * is only valid for its transaction).
 */
int
audit_record_decode(const void *buf, size_t len, struct audit_record *ret)
{
    char *dup;
    msgpack_unpack_return ur;
    size_t off = 0;

    /* Zeroed first, so that audit_record_release() is harmless after a failure. */
    memset(ret, 0, sizeof(*ret));
    if (msgpack_scan(buf, len, &s_record_limits, NULL) != MSGPACK_SCAN_OK)
        return -EBADMSG;
    dup = xmalloc(len);
    memcpy(dup, buf, len);
    msgpack_unpacked_init(&ret->unpacked);
    ur = msgpack_unpack_next(&ret->unpacked, dup, len, &off);
    if (ur == MSGPACK_UNPACK_NOMEM_ERROR)
        alloc_failed(len);
    if (ur != MSGPACK_UNPACK_SUCCESS || off != len) {
        msgpack_unpacked_destroy(&ret->unpacked);
        free(dup);
        return -EBADMSG;
    }
    /* msgpack-c 4 drops the zone when nothing refers to it (a top-level scalar). */
    if (!ret->unpacked.zone)
        free(dup);
    else if (!msgpack_zone_push_finalizer(ret->unpacked.zone, free, dup))
        alloc_failed(sizeof(void *));
    if (s_common_fields(&ret->unpacked.data, ret) < 0) {
        msgpack_unpacked_destroy(&ret->unpacked);
        memset(ret, 0, sizeof(*ret));
        return -EBADMSG;
    }
    ret->map = &ret->unpacked.data;
    return 0;
}

void
audit_record_release(struct audit_record *rec)
{
    if (!rec)
        return;
    msgpack_unpacked_destroy(&rec->unpacked);
    rec->map = NULL;
}

static const msgpack_object *
s_map_get(const msgpack_object *map, const char *key)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        if (pack_str_is(&map->via.map.ptr[i].key, key))
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

const msgpack_object *
audit_record_field(const struct audit_record *rec, const char *key)
{
    return s_map_get(rec->map, key);
}

const msgpack_object *
audit_record_event_field(const struct audit_record *rec, const char *key)
{
    const msgpack_object *own = audit_record_field(rec, key);
    if (own)
        return own;
    return s_map_get(audit_record_field(rec, "event"), key);
}

int
audit_record_scan_event_field(const void *bytes, size_t len, const char *key, size_t *ret_off,
                              size_t *ret_len)
{
    size_t off, n;
    if (msgpack_scan_map_field(bytes, len, key, ret_off, ret_len) == 0)
        return 0;
    if (msgpack_scan_map_field(bytes, len, "event", &off, &n) < 0 ||
        msgpack_scan_map_field((const char *)bytes + off, n, key, ret_off, ret_len) < 0)
        return -EBADMSG;
    *ret_off += off;
    return 0;
}

/* A non-negative integer in any of msgpack's encodings, as msgpack-c reads it. */
static bool
s_uint_at(const uint8_t *p, size_t n, uint64_t *ret)
{
    uint64_t v = 0;

    if (n == 1 && p[0] < 0x80) {
        *ret = p[0];
        return true;
    }
    if (n < 2 || !((p[0] >= 0xcc && p[0] <= 0xcf) || (p[0] >= 0xd0 && p[0] <= 0xd3)) ||
        n != 1 + (1u << (p[0] & 0x03)))
        return false;
    if (p[0] >= 0xd0 && (p[1] & 0x80))
        return false; /* a negative signed integer */
    for (size_t i = 1; i < n; i++)
        v = (v << 8) | p[i];
    *ret = v;
    return true;
}

/* A bin of exactly AUDIT_HASH_LEN bytes (bin 8, 16 or 32): its payload, or NULL. */
static const uint8_t *
s_hash_at(const uint8_t *p, size_t n)
{
    size_t hdr = p[0] == 0xc4 ? 2 : p[0] == 0xc5 ? 3 : p[0] == 0xc6 ? 5 : 0;
    uint64_t size = 0;

    if (!hdr || n != hdr + AUDIT_HASH_LEN)
        return NULL;
    for (size_t i = 1; i < hdr; i++)
        size = (size << 8) | p[i];
    return size == AUDIT_HASH_LEN ? p + hdr : NULL;
}

/*
 * What the verifier needs of a record, seq and prev, with the same checks
 * audit_record_decode() makes (a bounded map of string keys, seq/at/kind/prev once each
 * and well typed) but read in place: verify reads millions of records, and
 * unpacking each into a zone would cost more than hashing it.
 */
static int
s_chain_fields(const void *buf, size_t len, uint64_t *ret_seq, const uint8_t **ret_prev)
{
    static const char *const keys[] = {"seq", "at", "kind", "prev"};
    const uint8_t *p = buf;
    size_t off[4], n[4], hdr, klen;
    uint64_t at;

    if (msgpack_scan_map_fields(buf, len, &s_record_limits, keys, 4, off, n) < 0)
        return -EBADMSG;
    for (int i = 0; i < 4; i++) {
        if (n[i] == 0)
            return -EBADMSG;
    }
    if (!s_uint_at(p + off[0], n[0], ret_seq) || !s_uint_at(p + off[1], n[1], &at))
        return -EBADMSG;
    /* kind: a str that fits struct audit_record's kind, NUL-free. */
    const uint8_t *k = p + off[2];
    if ((k[0] & 0xe0) == 0xa0) {
        hdr = 1;
        klen = k[0] & 0x1f;
    } else if (k[0] >= 0xd9 && k[0] <= 0xdb) {
        hdr = 1 + (1u << (k[0] - 0xd9)); /* str 8, 16, 32; the scan proved it fits */
        klen = n[2] - hdr;
    } else {
        return -EBADMSG;
    }
    if (klen >= sizeof(((struct audit_record *)0)->kind) || memchr(k + hdr, '\0', klen))
        return -EBADMSG;
    *ret_prev = s_hash_at(p + off[3], n[3]);
    return *ret_prev ? 0 : -EBADMSG;
}

void
audit_verifier_init(struct audit_verifier *v, uint64_t first_seq,
                    const uint8_t prev_of_first[AUDIT_HASH_LEN], uint64_t sha256_from)
{
    memset(v, 0, sizeof(*v));
    v->sha256_from = sha256_from;
    v->first_seq = first_seq > 0 ? first_seq : 1; /* seqs start at 1 */
    v->expect_seq = v->first_seq;
    if (prev_of_first)
        memcpy(v->prev_hash, prev_of_first, AUDIT_HASH_LEN);
}

__attribute__((format(printf, 3, 4))) static bool
s_bad(struct audit_verifier *v, uint64_t seq, const char *fmt, ...)
{
    va_list ap;

    v->bad_seq = seq;
    v->suspect = 0;
    va_start(ap, fmt);
    vsnprintf(v->why, sizeof(v->why), fmt, ap);
    va_end(ap);
    return false;
}

/* Settles a pending suspect s once the link after s + 1 is known (or unknowable). */
static bool
s_resolve(struct audit_verifier *v, bool next_link_ok, const char *next)
{
    unsigned long long s = v->suspect;

    if (next_link_ok)
        return s_bad(v, s, "record %llu: bytes altered (hash no longer matches record %llu's prev)",
                     s, s + 1);
    return s_bad(v, s + 1, "record %llu: altered (links from %llu and to %s both broken)", s + 1, s,
                 next);
}

bool
audit_verifier_feed(struct audit_verifier *v, uint64_t key_seq, const void *bytes, size_t len)
{
    unsigned long long k = key_seq;
    const uint8_t *prev;
    uint64_t seq;
    char next[40];
    bool link_ok;

    if (v->bad_seq)
        return false;

    if (key_seq != v->expect_seq) {
        if (v->suspect)
            return s_resolve(v, false, "a missing record");
        if (key_seq > v->expect_seq)
            return s_bad(v, v->expect_seq, "record %llu: missing (next stored record is %llu)",
                         (unsigned long long)v->expect_seq, k);
        return s_bad(v, key_seq, "record %llu: out of order (expected %llu)", k,
                     (unsigned long long)v->expect_seq);
    }
    if (s_chain_fields(bytes, len, &seq, &prev) < 0) {
        if (v->suspect)
            return s_resolve(v, false, "unreadable record");
        return s_bad(v, key_seq, "record %llu: not a readable audit record", k);
    }
    if (seq != key_seq) {
        snprintf(next, sizeof(next), "%llu", k);
        if (v->suspect)
            return s_resolve(v, false, next);
        return s_bad(v, key_seq, "record %llu: its seq field says %llu", k,
                     (unsigned long long)seq);
    }
    link_ok = memcmp(prev, v->prev_hash, AUDIT_HASH_LEN) == 0;

    if (v->suspect) {
        snprintf(next, sizeof(next), "%llu", k);
        return s_resolve(v, link_ok, next);
    }
    if (!link_ok) {
        if (key_seq == v->first_seq)
            return s_bad(v, key_seq, "record %llu: prev is not the expected %s", k,
                         key_seq == 1 ? "32 zero bytes" : "hash of the record before");
        v->suspect = key_seq - 1;
    }
    audit_chain_hash(key_seq, v->sha256_from, bytes, len, v->prev_hash);
    v->expect_seq = key_seq + 1;
    return true;
}

bool
audit_verifier_finish(struct audit_verifier *v, const uint8_t *head, uint64_t head_seq)
{
    unsigned long long last, hs = head_seq;

    if (v->bad_seq)
        return false;
    if (v->expect_seq == v->first_seq) {
        /* Nothing fed: fine for an empty log, not when meta says there was more. */
        if (head && head_seq >= v->first_seq)
            return s_bad(v, v->first_seq, "record %llu: missing (meta head is at seq %llu)",
                         (unsigned long long)v->first_seq, hs);
        return true;
    }
    last = v->expect_seq - 1;
    if (v->suspect)
        return s_resolve(
            v, head && head_seq == last && memcmp(head, v->prev_hash, AUDIT_HASH_LEN) == 0,
            "the chain head");
    if (!head)
        return s_bad(v, last, "record %llu: chain head missing from meta", last);
    if (head_seq > last)
        return s_bad(v, last + 1, "record %llu: missing (log ends at %llu, meta head is at %llu)",
                     last + 1, last, hs);
    if (head_seq < last) {
        uint64_t first = head_seq + 1 > v->first_seq ? head_seq + 1 : v->first_seq;

        return s_bad(v, first, "record %llu: past the chain head in meta (head at %llu)",
                     (unsigned long long)first, hs);
    }
    if (memcmp(head, v->prev_hash, AUDIT_HASH_LEN) != 0)
        return s_bad(v, last, "record %llu: bytes do not match the chain head in meta", last);
    return true;
}
