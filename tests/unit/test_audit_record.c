/*
 * test_audit_record: record pack / decode round trips, bounded decoding of
 * altered bytes, the chain hash (BLAKE2b-256, then SHA-256), and the verifier naming the
 * right seq for each kind of tampering.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/audit_record.h"

#define N 10
/* The test chain is one carried on from format 2: records 1..5 hashed with
 * BLAKE2b-256, 6.. with SHA-256, so every tamper case below spans both. */
#define SHA256_FROM 6
#define RAW(s)      s, sizeof(s) - 1

static int
s_write(void *data, const char *buf, size_t len)
{
    return msgpack_sbuffer_write(data, buf, len);
}

/* A chain of N records, seq 1..N, as the broker would store them. */
struct chain {
    msgpack_sbuffer rec[N + 1]; /* rec[seq] */
    uint8_t head[AUDIT_HASH_LEN];
};

/* Packs record seq with the given prev; kind-specific field "note". */
static void
s_pack(msgpack_sbuffer *out, uint64_t seq, const uint8_t prev[AUDIT_HASH_LEN])
{
    msgpack_packer pk;
    char note[32];

    snprintf(note, sizeof(note), "record %02llu", (unsigned long long)seq);
    msgpack_sbuffer_init(out);
    msgpack_packer_init(&pk, out, s_write);
    audit_record_begin(&pk, seq, 1700000000000000000ULL + seq, AUDIT_KIND_ACCEPTED, prev, 1);
    audit_pack_key(&pk, "note");
    audit_pack_str(&pk, note);
}

static void
s_chain(struct chain *c, const uint8_t prev_of_first[AUDIT_HASH_LEN])
{
    uint8_t prev[AUDIT_HASH_LEN];

    memcpy(prev, prev_of_first, AUDIT_HASH_LEN);
    for (uint64_t seq = 1; seq <= N; seq++) {
        s_pack(&c->rec[seq], seq, prev);
        audit_chain_hash(seq, SHA256_FROM, c->rec[seq].data, c->rec[seq].size, prev);
    }
    memcpy(c->head, prev, AUDIT_HASH_LEN);
}

static void
s_chain_free(struct chain *c)
{
    for (uint64_t seq = 1; seq <= N; seq++)
        msgpack_sbuffer_destroy(&c->rec[seq]);
}

static const uint8_t s_zero[AUDIT_HASH_LEN];

/* Feeds seq from..to (skipping 'skip'), then finishes; returns the verifier's verdict. */
static bool
s_verify(struct chain *c, struct audit_verifier *v, uint64_t from, uint64_t to, uint64_t skip,
         const uint8_t *head, uint64_t head_seq)
{
    uint8_t prev[AUDIT_HASH_LEN];

    if (from == 1)
        memset(prev, 0, sizeof(prev));
    else
        audit_chain_hash(from - 1, SHA256_FROM, c->rec[from - 1].data, c->rec[from - 1].size, prev);
    audit_verifier_init(v, from, prev, SHA256_FROM);
    for (uint64_t seq = from; seq <= to; seq++) {
        if (seq == skip)
            continue;
        if (!audit_verifier_feed(v, seq, c->rec[seq].data, c->rec[seq].size))
            return false;
    }
    return audit_verifier_finish(v, head, head_seq);
}

/* Offset of the 32 prev bytes in a record. */
static size_t
s_prev_offset(const msgpack_sbuffer *b)
{
    const char *p = memmem(b->data, b->size, "\xa4prev\xc4\x20", 7);

    cr_assert_not_null(p);
    return (size_t)(p - b->data) + 7;
}

Test(audit_record, hash_is_sha256_from_sha256_from_and_blake2b_256_before)
{
    static const uint8_t sha_empty[32] = {0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14,
                                          0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
                                          0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c,
                                          0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55};
    static const uint8_t sha_abc[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
                                        0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
                                        0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
                                        0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    static const uint8_t empty[32] = {0x0e, 0x57, 0x51, 0xc0, 0x26, 0xe5, 0x43, 0xb2,
                                      0xe8, 0xab, 0x2e, 0xb0, 0x60, 0x99, 0xda, 0xa1,
                                      0xd1, 0xe5, 0xdf, 0x47, 0x77, 0x8f, 0x77, 0x87,
                                      0xfa, 0xab, 0x45, 0xcd, 0xf1, 0x2f, 0xe3, 0xa8};
    static const uint8_t abc[32] = {0xbd, 0xdd, 0x81, 0x3c, 0x63, 0x42, 0x39, 0x72,
                                    0x31, 0x71, 0xef, 0x3f, 0xee, 0x98, 0x57, 0x9b,
                                    0x94, 0x96, 0x4e, 0x3b, 0xb1, 0xcb, 0x3e, 0x42,
                                    0x72, 0x62, 0xc8, 0xc0, 0x68, 0xd5, 0x23, 0x19};
    uint8_t h[32];

    /* Record 4 of a log whose SHA-256 begins at 5, then record 5 and 6 of it. */
    audit_chain_hash(4, 5, "", 0, h);
    cr_assert_arr_eq(h, empty, 32);
    audit_chain_hash(4, 5, "abc", 3, h);
    cr_assert_arr_eq(h, abc, 32);
    audit_chain_hash(5, 5, "", 0, h);
    cr_assert_arr_eq(h, sha_empty, 32);
    audit_chain_hash(6, 5, "abc", 3, h);
    cr_assert_arr_eq(h, sha_abc, 32);
    /* A log never carried on (formats 1 and 2 as they were): BLAKE2b-256 throughout. */
    audit_chain_hash(UINT64_MAX - 1, UINT64_MAX, "abc", 3, h);
    cr_assert_arr_eq(h, abc, 32);
}

Test(audit_record, round_trip)
{
    uint8_t prev[AUDIT_HASH_LEN];
    msgpack_sbuffer b;
    struct audit_record rec;
    const msgpack_object *note;

    for (int i = 0; i < AUDIT_HASH_LEN; i++)
        prev[i] = (uint8_t)(0xa0 + i);
    s_pack(&b, 7, prev);
    /* Decode from a copy that is wiped afterwards: the record must not point into it. */
    {
        char *copy = malloc(b.size);

        cr_assert_not_null(copy);
        memcpy(copy, b.data, b.size);
        cr_assert_eq(audit_record_decode(copy, b.size, &rec), 0);
        memset(copy, 0, b.size);
        free(copy);
    }
    cr_assert_eq(rec.seq, 7);
    cr_assert_eq(rec.at_ns, 1700000000000000007ULL);
    cr_assert_str_eq(rec.kind, "accepted");
    cr_assert_arr_eq(rec.prev, prev, AUDIT_HASH_LEN);
    cr_assert_eq(rec.map->type, MSGPACK_OBJECT_MAP);
    cr_assert_eq(rec.map->via.map.size, 5);
    note = audit_record_field(&rec, "note");
    cr_assert_not_null(note);
    cr_assert_eq(note->type, MSGPACK_OBJECT_STR);
    cr_assert_eq(note->via.str.size, 9);
    cr_assert_eq(memcmp(note->via.str.ptr, "record 07", 9), 0);
    cr_assert_eq(audit_record_field(&rec, "seq")->via.u64, 7);
    cr_assert_null(audit_record_field(&rec, "absent"));
    cr_assert_null(audit_record_field(&rec, "not"), "a prefix is not a key");
    audit_record_release(&rec);
    audit_record_release(&rec); /* safe twice */
    msgpack_sbuffer_destroy(&b);
}

Test(audit_record, begin_bytes)
{
    msgpack_sbuffer b;
    msgpack_packer pk;

    msgpack_sbuffer_init(&b);
    msgpack_packer_init(&pk, &b, s_write);
    audit_record_begin(&pk, 1, 2, "started", s_zero, 0);
    cr_assert_eq(b.size, 1 + 4 + 1 + 3 + 1 + 5 + 8 + 5 + 2 + 32);
    cr_assert_eq(memcmp(b.data,
                        "\x84\xa3seq\x01\xa2"
                        "at\x02\xa4kind\xa7started\xa4prev\xc4\x20",
                        30),
                 0);
    msgpack_sbuffer_destroy(&b);
}

struct bad_record {
    const char *name;
    const char *bytes;
    size_t len;
};

#define PREV32                                                                                     \
    "\xc4\x20"                                                                                     \
    "0123456789abcdef0123456789abcdef"

static const struct bad_record s_bad[] = {
    {"empty", RAW("")},
    {"not a map", RAW("\x91\x01")},
    {"0xc1", RAW("\x84\xc1")},
    {"truncated", RAW("\x84\xa3seq\x01\xa2"
                      "at\x02\xa4kind\xa1x\xa4prev\xc4\x20"
                      "0123")},
    {"trailing", RAW("\x84\xa3seq\x01\xa2"
                     "at\x02\xa4kind\xa1x\xa4prev" PREV32 "\x00")},
    {"no prev", RAW("\x83\xa3seq\x01\xa2"
                    "at\x02\xa4kind\xa1x")},
    {"no seq", RAW("\x83\xa2"
                   "at\x02\xa4kind\xa1x\xa4prev" PREV32)},
    {"no at", RAW("\x83\xa3seq\x01\xa4kind\xa1x\xa4prev" PREV32)},
    {"no kind", RAW("\x83\xa3seq\x01\xa2"
                    "at\x02\xa4prev" PREV32)},
    {"prev of 31", RAW("\x84\xa3seq\x01\xa2"
                       "at\x02\xa4kind\xa1x\xa4prev\xc4\x1f"
                       "0123456789abcdef0123456789abcde")},
    {"prev as str", RAW("\x84\xa3seq\x01\xa2"
                        "at\x02\xa4kind\xa1x\xa4prev\xa1x")},
    {"negative seq", RAW("\x84\xa3seq\xff\xa2"
                         "at\x02\xa4kind\xa1x\xa4prev" PREV32)},
    {"at as str", RAW("\x84\xa3seq\x01\xa2"
                      "at\xa1x\xa4kind\xa1x\xa4prev" PREV32)},
    {"kind as int", RAW("\x84\xa3seq\x01\xa2"
                        "at\x02\xa4kind\x01\xa4prev" PREV32)},
    {"kind of 32", RAW("\x84\xa3seq\x01\xa2"
                       "at\x02\xa4kind\xd9\x20"
                       "0123456789abcdef0123456789abcdef\xa4prev" PREV32)},
    {"kind with NUL", RAW("\x84\xa3seq\x01\xa2"
                          "at\x02\xa4kind\xa2x\x00\xa4prev" PREV32)},
    {"two seqs", RAW("\x85\xa3seq\x01\xa2"
                     "at\x02\xa4kind\xa1x\xa4prev" PREV32 "\xa3seq\x02")},
    {"int key", RAW("\x85\xa3seq\x01\xa2"
                    "at\x02\xa4kind\xa1x\xa4prev" PREV32 "\x01\x02")},
    {"map32 lie", RAW("\xdf\xff\xff\xff\xff")},
    {"17 levels", RAW("\x85\xa3seq\x01\xa2"
                      "at\x02\xa4kind\xa1x\xa4prev" PREV32 "\xa1z"
                      "\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x90")},
};

Test(audit_record, decode_refuses_malformed)
{
    for (size_t i = 0; i < sizeof(s_bad) / sizeof(s_bad[0]); i++) {
        struct audit_record rec;

        cr_expect_eq(audit_record_decode(s_bad[i].bytes, s_bad[i].len, &rec), -EBADMSG, "[%s]",
                     s_bad[i].name);
        audit_record_release(&rec); /* harmless after a failure */
    }
}

Test(audit_record, decode_limits_both_ways)
{
    struct audit_record rec;

    /* 16 levels is the limit: the top map plus 15 arrays. */
    cr_assert_eq(audit_record_decode(RAW("\x85\xa3seq\x01\xa2"
                                         "at\x02\xa4kind\xa1x\xa4prev" PREV32
                                         "\xa1z\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91"
                                         "\x91\x91\x90"),
                                     &rec),
                 0);
    audit_record_release(&rec);
    cr_assert_eq(audit_record_decode(RAW("\x84\xa3seq\x01\xa2"
                                         "at\x02\xa4kind\xbf"
                                         "0123456789abcdef0123456789abcde\xa4prev" PREV32),
                                     &rec),
                 0, "a kind of 31 bytes fits");
    cr_assert_eq(strlen(rec.kind), 31);
    audit_record_release(&rec);
}

/*
 * The verifier reads records in place rather than through
 * audit_record_decode(); it must refuse and accept exactly what decode does,
 * including encodings the broker never writes but msgpack-c reads.
 */
Test(audit_record, verifier_reads_records_as_decode_does)
{
    static const uint8_t prev[AUDIT_HASH_LEN] = "0123456789abcdef0123456789abcdef";
    static const struct bad_record good[] = {
        {"16 levels", RAW("\x85\xa3seq\x01\xa2"
                          "at\x02\xa4kind\xa1x\xa4prev" PREV32
                          "\xa1z\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91"
                          "\x91\x91\x90")},
        {"kind of 31", RAW("\x84\xa3seq\x01\xa2"
                           "at\x02\xa4kind\xbf"
                           "0123456789abcdef0123456789abcde\xa4prev" PREV32)},
        {"seq as int 8, at as uint 64",
         RAW("\x84\xa3seq\xd0\x01\xa2"
             "at\xcf\x00\x00\x00\x00\x00\x00\x00\x02\xa4kind\xa1x\xa4prev" PREV32)},
        {"kind as str 16, prev as bin 16", RAW("\x84\xa3seq\x01\xa2"
                                               "at\x02\xa4kind\xda\x00\x01x\xa4prev\xc5\x00\x20"
                                               "0123456789abcdef0123456789abcdef")},
        {"common fields last", RAW("\x85\xa1z\xc0\xa4prev" PREV32 "\xa4kind\xa1x\xa2"
                                   "at\x02\xa3seq\x01")},
    };
    static const struct bad_record more_bad[] = {
        {"negative int 8 seq", RAW("\x84\xa3seq\xd0\xff\xa2"
                                   "at\x02\xa4kind\xa1x\xa4prev" PREV32)},
        {"float seq", RAW("\x84\xa3seq\xca\x3f\x80\x00\x00\xa2"
                          "at\x02\xa4kind\xa1x\xa4prev" PREV32)},
        {"prev as bin 16 of 31", RAW("\x84\xa3seq\x01\xa2"
                                     "at\x02\xa4kind\xa1x\xa4prev\xc5\x00\x1f"
                                     "0123456789abcdef0123456789abcde")},
        {"two prevs", RAW("\x85\xa3seq\x01\xa2"
                          "at\x02\xa4kind\xa1x\xa4prev" PREV32 "\xa4prev" PREV32)},
    };
    struct audit_verifier v;
    struct audit_record rec;

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        cr_expect_eq(audit_record_decode(good[i].bytes, good[i].len, &rec), 0, "[%s]",
                     good[i].name);
        audit_record_release(&rec);
        audit_verifier_init(&v, 1, prev, 1);
        cr_expect(audit_verifier_feed(&v, 1, good[i].bytes, good[i].len), "[%s] %s", good[i].name,
                  v.why);
    }
    for (size_t t = 0; t < 2; t++) {
        const struct bad_record *set = t == 0 ? s_bad : more_bad;
        size_t n =
            t == 0 ? sizeof(s_bad) / sizeof(s_bad[0]) : sizeof(more_bad) / sizeof(more_bad[0]);

        for (size_t i = 0; i < n; i++) {
            cr_expect_eq(audit_record_decode(set[i].bytes, set[i].len, &rec), -EBADMSG, "[%s]",
                         set[i].name);
            audit_record_release(&rec);
            audit_verifier_init(&v, 1, prev, 1);
            cr_expect_not(audit_verifier_feed(&v, 1, set[i].bytes, set[i].len), "[%s]",
                          set[i].name);
            cr_expect_eq(v.bad_seq, 1, "[%s]", set[i].name);
            cr_expect_not_null(strstr(v.why, "not a readable audit record"), "[%s] %s", set[i].name,
                               v.why);
        }
    }
}

Test(audit_record, good_chain_passes)
{
    struct chain c;
    struct audit_verifier v;

    s_chain(&c, s_zero);
    cr_assert(s_verify(&c, &v, 1, N, 0, c.head, N), "%s", v.why);
    cr_assert_eq(v.bad_seq, 0);
    /* From the middle, given the hash of the record before. */
    cr_assert(s_verify(&c, &v, 5, N, 0, c.head, N), "%s", v.why);
    /* A single record. */
    cr_assert(s_verify(&c, &v, N, N, 0, c.head, N), "%s", v.why);
    s_chain_free(&c);
}

Test(audit_record, empty_log)
{
    struct audit_verifier v;
    uint8_t h[AUDIT_HASH_LEN] = {1};

    audit_verifier_init(&v, 1, NULL, 1);
    cr_assert(audit_verifier_finish(&v, NULL, 0));
    audit_verifier_init(&v, 1, NULL, 1);
    cr_assert_not(audit_verifier_finish(&v, h, 3), "meta says 3 records, the log has none");
    cr_assert_eq(v.bad_seq, 1);
}

/* One byte of the note changed in record k: k is named, whichever k. */
Test(audit_record, flipped_body_byte_names_k)
{
    for (uint64_t k = 1; k <= N; k++) {
        struct chain c;
        struct audit_verifier v;

        s_chain(&c, s_zero);
        c.rec[k].data[c.rec[k].size - 1] ^= 0x01; /* "record 05" -> "record 04" */
        cr_assert_not(s_verify(&c, &v, 1, N, 0, c.head, N), "k=%llu", (unsigned long long)k);
        cr_assert_eq(v.bad_seq, k, "k=%llu: named %llu (%s)", (unsigned long long)k,
                     (unsigned long long)v.bad_seq, v.why);
        cr_assert_gt(strlen(v.why), 0);
        s_chain_free(&c);
    }
}

/* Any single byte of record k changed, anywhere: k is named. */
Test(audit_record, any_flipped_byte_names_k)
{
    struct chain c;

    s_chain(&c, s_zero);
    for (uint64_t k = 1; k <= N; k++) {
        for (size_t at = 0; at < c.rec[k].size; at++) {
            struct audit_verifier v;

            c.rec[k].data[at] ^= 0x40;
            cr_assert_not(s_verify(&c, &v, 1, N, 0, c.head, N));
            cr_assert_eq(v.bad_seq, k, "k=%llu byte %zu: named %llu (%s)", (unsigned long long)k,
                         at, (unsigned long long)v.bad_seq, v.why);
            c.rec[k].data[at] ^= 0x40;
        }
    }
    s_chain_free(&c);
}

/* Record k's prev altered (a byte of it, or re-packed with another hash): k is named. */
Test(audit_record, altered_prev_names_k)
{
    for (uint64_t k = 1; k <= N; k++) {
        struct chain c;
        struct audit_verifier v;
        uint8_t other[AUDIT_HASH_LEN];

        s_chain(&c, s_zero);
        c.rec[k].data[s_prev_offset(&c.rec[k]) + 5] ^= 0x80;
        cr_assert_not(s_verify(&c, &v, 1, N, 0, c.head, N));
        cr_assert_eq(v.bad_seq, k, "k=%llu: named %llu (%s)", (unsigned long long)k,
                     (unsigned long long)v.bad_seq, v.why);
        s_chain_free(&c);

        s_chain(&c, s_zero);
        memset(other, 0x77, sizeof(other));
        msgpack_sbuffer_destroy(&c.rec[k]);
        s_pack(&c.rec[k], k, other);
        cr_assert_not(s_verify(&c, &v, 1, N, 0, c.head, N));
        cr_assert_eq(v.bad_seq, k, "k=%llu re-packed: named %llu (%s)", (unsigned long long)k,
                     (unsigned long long)v.bad_seq, v.why);
        s_chain_free(&c);
    }
}

Test(audit_record, deleted_last_record_caught)
{
    struct chain c;
    struct audit_verifier v;

    s_chain(&c, s_zero);
    cr_assert_not(s_verify(&c, &v, 1, N - 1, 0, c.head, N));
    cr_assert_eq(v.bad_seq, N, "%s", v.why);
    cr_assert_not_null(strstr(v.why, "missing"), "%s", v.why);
    /* Also when meta's seq was rolled back with it: the hash still differs. */
    cr_assert_not(s_verify(&c, &v, 1, N - 1, 0, c.head, N - 1));
    cr_assert_eq(v.bad_seq, N - 1, "%s", v.why);
    s_chain_free(&c);
}

Test(audit_record, deleted_middle_record_caught)
{
    struct chain c;
    struct audit_verifier v;

    s_chain(&c, s_zero);
    cr_assert_not(s_verify(&c, &v, 1, N, 4, c.head, N));
    cr_assert_eq(v.bad_seq, 4, "%s", v.why);
    cr_assert_not_null(strstr(v.why, "missing"), "%s", v.why);
    s_chain_free(&c);
}

Test(audit_record, wrong_first_prev)
{
    struct chain c;
    struct audit_verifier v;
    uint8_t ones[AUDIT_HASH_LEN];

    memset(ones, 0x11, sizeof(ones));
    s_chain(&c, ones); /* consistent after record 1, but record 1 does not start at zeros */
    cr_assert_not(s_verify(&c, &v, 1, N, 0, c.head, N));
    cr_assert_eq(v.bad_seq, 1, "%s", v.why);
    cr_assert_not_null(strstr(v.why, "zero"), "%s", v.why);
    s_chain_free(&c);
}

Test(audit_record, missing_head)
{
    struct chain c;
    struct audit_verifier v;

    s_chain(&c, s_zero);
    cr_assert_not(s_verify(&c, &v, 1, N, 0, NULL, 0));
    cr_assert_eq(v.bad_seq, N, "%s", v.why);
    cr_assert_not_null(strstr(v.why, "head missing"), "%s", v.why);
    s_chain_free(&c);
}

Test(audit_record, wrong_head)
{
    struct chain c;
    struct audit_verifier v;

    s_chain(&c, s_zero);
    c.head[0] ^= 1;
    cr_assert_not(s_verify(&c, &v, 1, N, 0, c.head, N));
    cr_assert_eq(v.bad_seq, N, "%s", v.why);
    s_chain_free(&c);
}

Test(audit_record, records_past_the_head)
{
    struct chain c;
    struct audit_verifier v;
    uint8_t head7[AUDIT_HASH_LEN];

    s_chain(&c, s_zero);
    audit_chain_hash(7, SHA256_FROM, c.rec[7].data, c.rec[7].size, head7);
    cr_assert_not(s_verify(&c, &v, 1, N, 0, head7, 7));
    cr_assert_eq(v.bad_seq, 8, "%s", v.why);
    s_chain_free(&c);
}

Test(audit_record, seq_field_disagrees_with_key)
{
    struct chain c;
    struct audit_verifier v;
    uint8_t prev[AUDIT_HASH_LEN];

    s_chain(&c, s_zero);
    memcpy(prev, c.rec[6].data + s_prev_offset(&c.rec[6]), AUDIT_HASH_LEN);
    msgpack_sbuffer_destroy(&c.rec[6]);
    s_pack(&c.rec[6], 60, prev);
    cr_assert_not(s_verify(&c, &v, 1, N, 0, c.head, N));
    cr_assert_eq(v.bad_seq, 6, "%s", v.why);
    cr_assert_not_null(strstr(v.why, "says 60"), "%s", v.why);
    s_chain_free(&c);
}

Test(audit_record, garbage_record)
{
    struct chain c;
    struct audit_verifier v;

    s_chain(&c, s_zero);
    memset(c.rec[3].data, 0xc1, c.rec[3].size);
    cr_assert_not(s_verify(&c, &v, 1, N, 0, c.head, N));
    cr_assert_eq(v.bad_seq, 3, "%s", v.why);
    s_chain_free(&c);
}

/* Once bad, the verifier stays bad and keeps its first answer. */
Test(audit_record, first_answer_sticks)
{
    struct chain c;
    struct audit_verifier v;
    char why[sizeof(v.why)];

    s_chain(&c, s_zero);
    c.rec[2].data[c.rec[2].size - 1] ^= 1;
    audit_verifier_init(&v, 1, NULL, SHA256_FROM);
    for (uint64_t seq = 1; seq <= N; seq++)
        audit_verifier_feed(&v, seq, c.rec[seq].data, c.rec[seq].size);
    cr_assert_eq(v.bad_seq, 2);
    memcpy(why, v.why, sizeof(why));
    cr_assert_not(audit_verifier_feed(&v, N + 1, "x", 1));
    cr_assert_not(audit_verifier_finish(&v, c.head, N));
    cr_assert_eq(v.bad_seq, 2);
    cr_assert_str_eq(v.why, why);
    s_chain_free(&c);
}

Test(audit_record, kinds_are_named)
{
    cr_assert_str_eq(AUDIT_KIND_STARTED, "started");
    cr_assert_str_eq(AUDIT_KIND_STOPPED, "stopped");
    cr_assert_str_eq(AUDIT_KIND_ACCEPTED, "accepted");
    cr_assert_str_eq(AUDIT_KIND_REJECTED, "rejected");
}

/*
 * An `accepted` record as format 1 (own: id and type beside the envelope,
 * the own type differing from the envelope's so the test sees which is read)
 * or format 2 (the envelope only). The envelope is any msgpack map.
 */
static void
s_pack_accepted(msgpack_sbuffer *out, bool own, const char *event_type)
{
    msgpack_packer pk;
    msgpack_sbuffer_init(out);
    msgpack_packer_init(&pk, out, s_write);
    audit_record_begin(&pk, 3, 1700000000000000003ULL, AUDIT_KIND_ACCEPTED, s_zero, own ? 4 : 2);
    if (own) {
        audit_pack_key(&pk, "id");
        msgpack_pack_bin_with_body(&pk, "0123456789abcdef", 16);
        audit_pack_key(&pk, "type");
        audit_pack_str(&pk, "own.type");
    }
    audit_pack_key(&pk, "area");
    audit_pack_str(&pk, "press");
    audit_pack_key(&pk, "event");
    msgpack_pack_map(&pk, 2);
    audit_pack_key(&pk, "type");
    audit_pack_str(&pk, event_type);
    audit_pack_key(&pk, "source");
    audit_pack_str(&pk, "so-van-hoa");
}

static void
s_expect_str(const msgpack_object *o, const char *want)
{
    cr_assert_not_null(o, "no field for '%s'", want);
    cr_assert_eq(o->type, MSGPACK_OBJECT_STR);
    cr_assert_eq(o->via.str.size, strlen(want));
    cr_assert_eq(memcmp(o->via.str.ptr, want, strlen(want)), 0);
}

Test(audit_record, event_fields_are_the_records_own_else_the_envelopes)
{
    msgpack_sbuffer v1, v2;
    struct audit_record r1, r2;
    size_t off, len;

    s_pack_accepted(&v1, true, "press.conference_notice");
    s_pack_accepted(&v2, false, "press.conference_notice");
    cr_assert_eq(audit_record_decode(v1.data, v1.size, &r1), 0);
    cr_assert_eq(audit_record_decode(v2.data, v2.size, &r2), 0);
    s_expect_str(audit_record_event_field(&r1, "type"), "own.type");
    s_expect_str(audit_record_event_field(&r2, "type"), "press.conference_notice");
    s_expect_str(audit_record_event_field(&r1, "source"), "so-van-hoa");
    s_expect_str(audit_record_event_field(&r2, "area"), "press");
    cr_assert_null(audit_record_event_field(&r2, "id"));
    cr_assert_null(audit_record_event_field(&r2, "absent"));

    /* The same from the bytes, without unpacking. */
    cr_assert_eq(audit_record_scan_event_field(v1.data, v1.size, "type", &off, &len), 0);
    cr_assert_eq(len, 9);
    cr_assert_eq(memcmp(v1.data + off + 1, "own.type", 8), 0);
    cr_assert_eq(audit_record_scan_event_field(v2.data, v2.size, "type", &off, &len), 0);
    cr_assert_eq(len, 1 + strlen("press.conference_notice"));
    cr_assert_eq(memcmp(v2.data + off + 1, "press.conference_notice", len - 1), 0);
    cr_assert_eq(audit_record_scan_event_field(v1.data, v1.size, "id", &off, &len), 0);
    cr_assert_eq(len, 18);
    cr_assert_eq(audit_record_scan_event_field(v2.data, v2.size, "id", &off, &len), -EBADMSG);
    audit_record_release(&r1);
    audit_record_release(&r2);
    msgpack_sbuffer_destroy(&v1);
    msgpack_sbuffer_destroy(&v2);
}

Test(audit_record, event_field_scan_refuses_malformed_bytes)
{
    msgpack_sbuffer v2;
    size_t off, len;
    s_pack_accepted(&v2, false, "press.conference_notice");
    /* Cut inside the envelope, and anywhere before it: never read past the end. */
    for (size_t cut = 0; cut < v2.size; cut++) {
        int rc = audit_record_scan_event_field(v2.data, cut, "source", &off, &len);
        cr_assert_eq(rc, -EBADMSG, "cut at %zu of %zu: %d", cut, v2.size, rc);
    }
    /* An `event` that is not a map has no fields. */
    msgpack_sbuffer odd;
    msgpack_packer pk;
    msgpack_sbuffer_init(&odd);
    msgpack_packer_init(&pk, &odd, s_write);
    audit_record_begin(&pk, 3, 1, AUDIT_KIND_ACCEPTED, s_zero, 1);
    audit_pack_key(&pk, "event");
    audit_pack_str(&pk, "type");
    cr_assert_eq(audit_record_scan_event_field(odd.data, odd.size, "type", &off, &len), -EBADMSG);
    struct audit_record r;
    cr_assert_eq(audit_record_decode(odd.data, odd.size, &r), 0);
    cr_assert_null(audit_record_event_field(&r, "type"));
    audit_record_release(&r);
    msgpack_sbuffer_destroy(&odd);
    msgpack_sbuffer_destroy(&v2);
}

/* A prepared record (own fields first, common ones last) decodes as any
 * other, and its hash, made in two steps, is the hash of its bytes. */
Test(audit_record, prepared_record_hashes_as_its_bytes)
{
    msgpack_sbuffer fields, tail, whole, heads;
    msgpack_packer pk;
    struct audit_prepared p;
    uint8_t prev[AUDIT_HASH_LEN], h1[AUDIT_HASH_LEN], h2[AUDIT_HASH_LEN];
    struct audit_record rec;

    for (int i = 0; i < AUDIT_HASH_LEN; i++)
        prev[i] = (uint8_t)(0x30 + i);
    msgpack_sbuffer_init(&fields);
    msgpack_sbuffer_init(&tail);
    msgpack_sbuffer_init(&whole);
    msgpack_packer_init(&pk, &fields, s_write);
    audit_pack_key(&pk, "area");
    audit_pack_str(&pk, "press");
    audit_pack_key(&pk, "note");
    char big[300];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    audit_pack_str(&pk, big); /* longer than a SHA-256 block: the state carries over */
    msgpack_sbuffer_init(&heads);
    msgpack_sbuffer_write(&heads, "xyz", 3); /* a record before it in the same arena */
    audit_prepared_set(&p, &heads, fields.data, fields.size, 2);
    cr_assert_eq(p.off, 3);
    msgpack_packer_init(&pk, &tail, s_write);
    audit_record_tail(&pk, 9, 1700000000000000009ULL, AUDIT_KIND_ACCEPTED, prev);
    msgpack_sbuffer_write(&whole, audit_prepared_head(&p), p.len);
    msgpack_sbuffer_write(&whole, tail.data, tail.size);

    audit_prepared_hash(&p, tail.data, tail.size, h1);
    audit_chain_hash(9, 1, whole.data, whole.size, h2);
    cr_assert_arr_eq(h1, h2, AUDIT_HASH_LEN);
    cr_assert_eq(audit_record_decode(whole.data, whole.size, &rec), 0);
    cr_assert_eq(rec.seq, 9);
    cr_assert_str_eq(rec.kind, "accepted");
    cr_assert_arr_eq(rec.prev, prev, AUDIT_HASH_LEN);
    s_expect_str(audit_record_field(&rec, "area"), "press");
    audit_record_release(&rec);

    /* The verifier reads it too: its seq and prev, wherever they sit in the map. */
    struct audit_verifier v;
    audit_verifier_init(&v, 9, prev, 1);
    cr_assert(audit_verifier_feed(&v, 9, whole.data, whole.size), "%s", v.why);
    cr_assert(audit_verifier_finish(&v, h2, 9), "%s", v.why);
    msgpack_sbuffer_destroy(&heads);
    msgpack_sbuffer_destroy(&fields);
    msgpack_sbuffer_destroy(&tail);
    msgpack_sbuffer_destroy(&whole);
}
