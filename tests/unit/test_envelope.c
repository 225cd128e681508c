/*
 * test_envelope: envelope_decode against a table of malformed inputs (each
 * with its NACK code and the field its reason must name), the boundaries of
 * every limit taken both ways, and encode -> decode round trips.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/envelope.h"

/* The id used throughout: bytes 0x01 .. 0x10. */
#define ID16   "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10"
#define RAW(s) s, sizeof(s) - 1

static const uint8_t s_id[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

/* A valid envelope as (key, raw msgpack value) pairs, in wire order. */
struct pair {
    const char *key;
    const char *val;
    size_t len;
};

static const struct pair s_good[] = {
    {"v", RAW("\x01")},
    {"id", RAW("\xc4\x10" ID16)},
    {"type", RAW("\xb7press.conference_notice")},
    {"source", RAW("\xa6hp-dic")},
    {"time", RAW("\xcf\x00\x00\x01\x8b\xcf\xe5\x68\x00")}, /* 1700000000000 */
    {"data", RAW("\x81\xa5title\xa3"
                 "abc")},
};
#define GOOD_N (sizeof(s_good) / sizeof(s_good[0]))

enum op {
    OP_REPLACE,      /* key's value := val */
    OP_OMIT,         /* drop key */
    OP_ADD,          /* one more pair key := val, at the end */
    OP_FIRST,        /* one more pair key := val, at the front */
    OP_RAW,          /* the message is val */
    OP_TRUNC,        /* the good message cut to 'cut' bytes */
    OP_APPEND,       /* the good message followed by val */
    OP_FN,           /* the message is built by fn */
    OP_LONG_REPLACE, /* key's value replaced by a str of 'len' bytes of 'a' */
    OP_LONG_ADD,     /* one more pair key := a str of 'len' bytes of 'a' */
};

struct bad {
    const char *name;
    enum op op;
    const char *key;
    const char *val;
    size_t len;
    size_t cut;
    void (*fn)(msgpack_sbuffer *out);
    enum mep_code code;
    const char *reason; /* must occur in err.reason */
    int has_id;         /* 1 / 0: err.has_id must be so; -1: either */
};

static int
s_write(void *data, const char *buf, size_t len)
{
    return msgpack_sbuffer_write(data, buf, len);
}

static void
s_pack_key(msgpack_packer *pk, const char *key)
{
    msgpack_pack_str(pk, strlen(key));
    msgpack_pack_str_body(pk, key, strlen(key));
}

/* Packs the good envelope with one change. */
static void
s_build(msgpack_sbuffer *out, enum op op, const char *key, const char *val, size_t len)
{
    msgpack_packer pk;
    size_t n = GOOD_N;

    msgpack_packer_init(&pk, out, s_write);
    if (op == OP_OMIT)
        n--;
    if (op == OP_ADD || op == OP_FIRST)
        n++;
    msgpack_pack_map(&pk, n);
    if (op == OP_FIRST) {
        s_pack_key(&pk, key);
        msgpack_sbuffer_write(out, val, len);
    }
    for (size_t i = 0; i < GOOD_N; i++) {
        bool hit = key && strcmp(key, s_good[i].key) == 0;

        if (hit && op == OP_OMIT)
            continue;
        s_pack_key(&pk, s_good[i].key);
        if (hit && op == OP_REPLACE)
            msgpack_sbuffer_write(out, val, len);
        else
            msgpack_sbuffer_write(out, s_good[i].val, s_good[i].len);
    }
    if (op == OP_ADD) {
        s_pack_key(&pk, key);
        msgpack_sbuffer_write(out, val, len);
    }
}

/* The good envelope with data := {"a": <str of n bytes>, ...} (count strings). */
static void
s_build_data_strings(msgpack_sbuffer *out, unsigned count, size_t n)
{
    msgpack_sbuffer data;
    msgpack_packer pk;
    char *s = malloc(n);

    cr_assert_not_null(s);
    memset(s, 'x', n);
    msgpack_sbuffer_init(&data);
    msgpack_packer_init(&pk, &data, s_write);
    msgpack_pack_map(&pk, count);
    for (unsigned i = 0; i < count; i++) {
        char key[8];

        key[0] = (char)('a' + i);
        key[1] = '\0';
        s_pack_key(&pk, key);
        msgpack_pack_str(&pk, n);
        msgpack_pack_str_body(&pk, s, n);
    }
    s_build(out, OP_REPLACE, "data", data.data, data.size);
    msgpack_sbuffer_destroy(&data);
    free(s);
}

/* The good envelope with key := str of n bytes of c. */
static void
s_build_long_str(msgpack_sbuffer *out, enum op op, const char *key, size_t n, char c)
{
    msgpack_sbuffer v;
    msgpack_packer pk;
    char *s = malloc(n + 1);

    cr_assert_not_null(s);
    memset(s, c, n);
    if (n >= 3 && c != '.')
        s[1] = '.'; /* keeps a type name a dotted name */
    msgpack_sbuffer_init(&v);
    msgpack_packer_init(&pk, &v, s_write);
    msgpack_pack_str(&pk, n);
    msgpack_pack_str_body(&pk, s, n);
    s_build(out, op, key, v.data, v.size);
    msgpack_sbuffer_destroy(&v);
    free(s);
}

static void
s_fn_oversize_message(msgpack_sbuffer *out)
{
    s_build_data_strings(out, 5, 14000); /* ~70 KB, each string under 16 KiB */
}

static void
s_fn_oversize_string(msgpack_sbuffer *out)
{
    s_build_data_strings(out, 1, ENVELOPE_MAX_STR + 1);
}

/* 8 nested maps as data: with the top-level map, 9 levels. */
#define DEPTH9_DATA                                                                                \
    "\x81\xa1"                                                                                     \
    "a\x81\xa1"                                                                                    \
    "a\x81\xa1"                                                                                    \
    "a\x81\xa1"                                                                                    \
    "a\x81\xa1"                                                                                    \
    "a\x81\xa1"                                                                                    \
    "a\x81\xa1"                                                                                    \
    "a\x80"
/* 7 nested maps: 8 levels, the limit. */
#define DEPTH8_DATA                                                                                \
    "\x81\xa1"                                                                                     \
    "a\x81\xa1"                                                                                    \
    "a\x81\xa1"                                                                                    \
    "a\x81\xa1"                                                                                    \
    "a\x81\xa1"                                                                                    \
    "a\x81\xa1"                                                                                    \
    "a\x80"

/*
 * Byte offsets in the good message (98 bytes): v ends at 4, the id value spans
 * 7..25, type's 30..54, the source key 54..61 and its value ends at 68.
 */
static const struct bad s_bad[] = {
    /* Framing and msgpack itself. */
    {"empty input", OP_RAW, NULL, RAW(""), 0, NULL, MEP_BAD_MSGPACK, "message: empty", 0},
    {"0xc1 alone", OP_RAW, NULL, RAW("\xc1"), 0, NULL, MEP_BAD_MSGPACK, "0xc1", 0},
    {"0xc1 in data", OP_REPLACE, "data",
     RAW("\x81\xa1"
         "a\xc1"),
     0, NULL, MEP_BAD_MSGPACK, "field 'data': invalid msgpack byte 0xc1", 1},
    {"trailing byte", OP_APPEND, NULL, RAW("\x00"), 0, NULL, MEP_BAD_MSGPACK, "trailing bytes", 1},
    {"two envelopes' worth of trailing", OP_APPEND, NULL, RAW("\x80"), 0, NULL, MEP_BAD_MSGPACK,
     "trailing", 1},
    {"truncated: map header only", OP_TRUNC, NULL, NULL, 0, 1, NULL, MEP_BAD_MSGPACK,
     "message: truncated", 0},
    {"truncated: inside id", OP_TRUNC, NULL, NULL, 0, 15, NULL, MEP_BAD_MSGPACK,
     "field 'id': truncated msgpack at offset 7", 0},
    {"truncated: inside type", OP_TRUNC, NULL, NULL, 0, 40, NULL, MEP_BAD_MSGPACK,
     "field 'type': truncated", 1},
    {"truncated: after the source key", OP_TRUNC, NULL, NULL, 0, 61, NULL, MEP_BAD_MSGPACK,
     "field 'source': truncated", 1},
    {"truncated: between pairs", OP_TRUNC, NULL, NULL, 0, 68, NULL, MEP_BAD_MSGPACK,
     "message: truncated", 1},
    {"truncated: last byte missing", OP_TRUNC, NULL, NULL, 0, (size_t)-1, NULL, MEP_BAD_MSGPACK,
     "field 'data': truncated", 1},
    {"array32 of 2^32-1 in 5 bytes", OP_RAW, NULL, RAW("\xdd\xff\xff\xff\xff"), 0, NULL,
     MEP_BAD_MSGPACK, "truncated msgpack at offset 0", 0},
    {"map32 of 2^32-1 in 5 bytes", OP_RAW, NULL, RAW("\xdf\xff\xff\xff\xff"), 0, NULL,
     MEP_BAD_MSGPACK, "truncated msgpack at offset 0", 0},
    {"str32 of 2^32-1 in 5 bytes", OP_RAW, NULL, RAW("\xdb\xff\xff\xff\xff"), 0, NULL,
     MEP_BAD_MSGPACK, "truncated", 0},
    {"bin32 of 2^32-1 in 5 bytes", OP_RAW, NULL, RAW("\xc6\xff\xff\xff\xff"), 0, NULL,
     MEP_BAD_MSGPACK, "truncated", 0},
    {"ext32 of 2^32-1", OP_RAW, NULL, RAW("\xc9\xff\xff\xff\xff\x01"), 0, NULL, MEP_BAD_MSGPACK,
     "truncated", 0},
    {"data as map32 of 2^32-1", OP_REPLACE, "data", RAW("\xdf\xff\xff\xff\xff"), 0, NULL,
     MEP_BAD_MSGPACK, "field 'data': truncated", 1},
    {"data as array32 of 2^32-1", OP_REPLACE, "data", RAW("\xdd\xff\xff\xff\xff"), 0, NULL,
     MEP_BAD_MSGPACK, "field 'data': truncated", 1},
    {"map16 promising more pairs", OP_RAW, NULL, RAW("\xde\x00\x09\xa1v\x01"), 0, NULL,
     MEP_BAD_MSGPACK, "truncated", 0},

    /* Limits. */
    {"oversize message", OP_FN, NULL, NULL, 0, 0, s_fn_oversize_message, MEP_TOO_LARGE,
     "bytes, the limit is 65536", 1},
    {"oversize string in data", OP_FN, NULL, NULL, 0, 0, s_fn_oversize_string, MEP_TOO_LARGE,
     "field 'data': string longer than 16384", 1},
    {"oversize type string", OP_LONG_REPLACE, "type", NULL, ENVELOPE_MAX_STR + 1, 0, NULL,
     MEP_TOO_LARGE, "field 'type': string longer", 1},
    {"oversize subject string", OP_LONG_ADD, "subject", NULL, ENVELOPE_MAX_STR + 1, 0, NULL,
     MEP_TOO_LARGE, "field 'subject': string longer", 1},
    {"nesting depth 9", OP_REPLACE, "data", RAW(DEPTH9_DATA), 0, NULL, MEP_BAD_ENVELOPE,
     "field 'data': nesting deeper than 8", 1},
    {"nesting depth 9 with arrays", OP_REPLACE, "data",
     RAW("\x81\xa1"
         "a\x91\x91\x91\x91\x91\x91\x90"),
     0, NULL, MEP_BAD_ENVELOPE, "field 'data': nesting deeper than 8", 1},

    /* Shape. */
    {"top level array", OP_RAW, NULL, RAW("\x93\x01\x02\x03"), 0, NULL, MEP_BAD_ENVELOPE,
     "message: map expected, got array", 0},
    {"top level str", OP_RAW, NULL,
     RAW("\xa3"
         "abc"),
     0, NULL, MEP_BAD_ENVELOPE, "map expected, got str", 0},
    {"top level nil", OP_RAW, NULL, RAW("\xc0"), 0, NULL, MEP_BAD_ENVELOPE, "map expected, got nil",
     0},
    {"non-string key", OP_RAW, NULL, RAW("\x81\x01\x02"), 0, NULL, MEP_BAD_ENVELOPE,
     "key #1: str expected, got uint", 0},
    {"bin key", OP_RAW, NULL,
     RAW("\x81\xc4\x01"
         "x\x01"),
     0, NULL, MEP_BAD_ENVELOPE, "key #1: str expected, got bin", 0},
    {"unknown key before the id", OP_FIRST, "x", RAW("\x00"), 0, NULL, MEP_BAD_ENVELOPE,
     "unknown key 'x'", 1},
    {"unknown key", OP_ADD, "foo", RAW("\x01"), 0, NULL, MEP_BAD_ENVELOPE, "unknown key 'foo'", 1},
    {"unknown key, binary", OP_ADD, "f\x01\xff", RAW("\x01"), 0, NULL, MEP_BAD_ENVELOPE,
     "unknown key 'f\\x01\\xff'", 1},
    {"duplicate key", OP_ADD, "type",
     RAW("\xa3"
         "a.b"),
     0, NULL, MEP_BAD_ENVELOPE, "field 'type': duplicate key", 1},
    {"duplicate id", OP_ADD, "id", RAW("\xc4\x10" ID16), 0, NULL, MEP_BAD_ENVELOPE,
     "field 'id': duplicate key", 1},
    {"missing v", OP_OMIT, "v", NULL, 0, 0, NULL, MEP_BAD_ENVELOPE, "field 'v': missing", 1},
    {"missing id", OP_OMIT, "id", NULL, 0, 0, NULL, MEP_BAD_ENVELOPE, "field 'id': missing", 0},
    {"missing type", OP_OMIT, "type", NULL, 0, 0, NULL, MEP_BAD_ENVELOPE, "field 'type': missing",
     1},
    {"missing source", OP_OMIT, "source", NULL, 0, 0, NULL, MEP_BAD_ENVELOPE,
     "field 'source': missing", 1},
    {"missing time", OP_OMIT, "time", NULL, 0, 0, NULL, MEP_BAD_ENVELOPE, "field 'time': missing",
     1},
    {"missing data", OP_OMIT, "data", NULL, 0, 0, NULL, MEP_BAD_ENVELOPE, "field 'data': missing",
     1},

    /* v */
    {"v = 2", OP_REPLACE, "v", RAW("\x02"), 0, NULL, MEP_BAD_ENVELOPE, "field 'v': version 2", 1},
    {"v = 0", OP_REPLACE, "v", RAW("\x00"), 0, NULL, MEP_BAD_ENVELOPE, "field 'v': version 0", 1},
    {"v = -1", OP_REPLACE, "v", RAW("\xff"), 0, NULL, MEP_BAD_ENVELOPE,
     "field 'v': uint expected, got negative int", 1},
    {"v as str", OP_REPLACE, "v",
     RAW("\xa1"
         "1"),
     0, NULL, MEP_BAD_ENVELOPE, "field 'v': uint expected, got str", 1},
    {"v as float", OP_REPLACE, "v", RAW("\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00"), 0, NULL,
     MEP_BAD_ENVELOPE, "field 'v': uint expected, got float", 1},

    /* id */
    {"id of 15 bytes", OP_REPLACE, "id",
     RAW("\xc4\x0f"
         "123456789012345"),
     0, NULL, MEP_BAD_ENVELOPE, "field 'id': bin of 16 bytes expected, got 15", 0},
    {"id of 17 bytes", OP_REPLACE, "id",
     RAW("\xc4\x11"
         "12345678901234567"),
     0, NULL, MEP_BAD_ENVELOPE, "field 'id': bin of 16 bytes expected, got 17", 0},
    {"id of 0 bytes", OP_REPLACE, "id", RAW("\xc4\x00"), 0, NULL, MEP_BAD_ENVELOPE,
     "field 'id': bin of 16 bytes expected, got 0", 0},
    {"id as str", OP_REPLACE, "id",
     RAW("\xb0"
         "0123456789abcdef"),
     0, NULL, MEP_BAD_ENVELOPE, "field 'id': bin of 16 bytes expected, got str", 0},
    {"id as nil", OP_REPLACE, "id", RAW("\xc0"), 0, NULL, MEP_BAD_ENVELOPE,
     "field 'id': bin of 16 bytes expected, got nil", 0},

    /* type */
    {"type as int", OP_REPLACE, "type", RAW("\x05"), 0, NULL, MEP_BAD_ENVELOPE,
     "field 'type': str expected, got uint", 1},
    {"type as bin", OP_REPLACE, "type",
     RAW("\xc4\x03"
         "a.b"),
     0, NULL, MEP_BAD_ENVELOPE, "field 'type': str expected, got bin", 1},
    {"type bad UTF-8", OP_REPLACE, "type",
     RAW("\xa5"
         "a.b\xff"
         "c"),
     0, NULL, MEP_BAD_ENVELOPE, "field 'type': invalid UTF-8", 1},
    {"type overlong '/'", OP_REPLACE, "type",
     RAW("\xa6"
         "a.b\xc0\xaf"
         "c"),
     0, NULL, MEP_BAD_ENVELOPE, "field 'type': invalid UTF-8", 1},
    {"type surrogate", OP_REPLACE, "type",
     RAW("\xa6"
         "a.b\xed\xa0\x80"),
     0, NULL, MEP_BAD_ENVELOPE, "field 'type': invalid UTF-8", 1},
    {"type upper case", OP_REPLACE, "type",
     RAW("\xac"
         "Press.Notice"),
     0, NULL, MEP_BAD_ENVELOPE, "field 'type': not a dotted lower-case name", 1},
    {"type without dot", OP_REPLACE, "type", RAW("\xa5press"), 0, NULL, MEP_BAD_ENVELOPE,
     "field 'type': not a dotted lower-case name", 1},
    {"type with empty segment", OP_REPLACE, "type",
     RAW("\xa4"
         "a..b"),
     0, NULL, MEP_BAD_ENVELOPE, "field 'type': not a dotted", 1},
    {"type empty", OP_REPLACE, "type", RAW("\xa0"), 0, NULL, MEP_BAD_ENVELOPE,
     "field 'type': not a dotted", 1},
    {"type with NUL", OP_REPLACE, "type",
     RAW("\xa4"
         "a.b\x00"),
     0, NULL, MEP_BAD_ENVELOPE, "field 'type': contains NUL", 1},
    {"type of 129 bytes", OP_LONG_REPLACE, "type", NULL, ENVELOPE_TYPE_MAX + 1, 0, NULL,
     MEP_BAD_ENVELOPE, "field 'type': longer than 128 bytes", 1},

    /* source */
    {"source as int", OP_REPLACE, "source", RAW("\x07"), 0, NULL, MEP_BAD_ENVELOPE,
     "field 'source': str expected, got uint", 1},
    {"source empty", OP_REPLACE, "source", RAW("\xa0"), 0, NULL, MEP_BAD_ENVELOPE,
     "field 'source': not a source name", 1},
    {"source with space", OP_REPLACE, "source", RAW("\xa6hp dic"), 0, NULL, MEP_BAD_ENVELOPE,
     "field 'source': not a source name", 1},
    {"source bad UTF-8", OP_REPLACE, "source", RAW("\xa2\xc3\x28"), 0, NULL, MEP_BAD_ENVELOPE,
     "field 'source': invalid UTF-8", 1},
    {"source of 65 bytes", OP_LONG_REPLACE, "source", NULL, ENVELOPE_SOURCE_MAX + 1, 0, NULL,
     MEP_BAD_ENVELOPE, "field 'source': longer than 64 bytes", 1},

    /* time */
    {"time negative", OP_REPLACE, "time", RAW("\xff"), 0, NULL, MEP_BAD_ENVELOPE,
     "field 'time': uint expected, got negative int", 1},
    {"time int64 negative", OP_REPLACE, "time", RAW("\xd3\xff\xff\xff\xff\xff\xff\xff\x00"), 0,
     NULL, MEP_BAD_ENVELOPE, "field 'time': uint expected, got negative int", 1},
    {"time zero", OP_REPLACE, "time", RAW("\x00"), 0, NULL, MEP_BAD_ENVELOPE,
     "field 'time': must be positive", 1},
    {"time as str", OP_REPLACE, "time",
     RAW("\xa4"
         "1700"),
     0, NULL, MEP_BAD_ENVELOPE, "field 'time': uint expected, got str", 1},
    {"time as float", OP_REPLACE, "time", RAW("\xca\x3f\x80\x00\x00"), 0, NULL, MEP_BAD_ENVELOPE,
     "field 'time': uint expected, got float", 1},

    /* data */
    {"data as str", OP_REPLACE, "data", RAW("\xa1x"), 0, NULL, MEP_BAD_ENVELOPE,
     "field 'data': map expected, got str", 1},
    {"data as array", OP_REPLACE, "data", RAW("\x91\x01"), 0, NULL, MEP_BAD_ENVELOPE,
     "field 'data': map expected, got array", 1},
    {"data as nil", OP_REPLACE, "data", RAW("\xc0"), 0, NULL, MEP_BAD_ENVELOPE,
     "field 'data': map expected, got nil", 1},

    /* corr, subject */
    {"corr of 15 bytes", OP_ADD, "corr",
     RAW("\xc4\x0f"
         "123456789012345"),
     0, NULL, MEP_BAD_ENVELOPE, "field 'corr': bin of 16 bytes expected, got 15", 1},
    {"corr as str", OP_ADD, "corr",
     RAW("\xb0"
         "0123456789abcdef"),
     0, NULL, MEP_BAD_ENVELOPE, "field 'corr': bin of 16 bytes expected, got str", 1},
    {"subject as int", OP_ADD, "subject", RAW("\x01"), 0, NULL, MEP_BAD_ENVELOPE,
     "field 'subject': str expected, got uint", 1},
    {"subject bad UTF-8", OP_ADD, "subject", RAW("\xa2\xe2\x82"), 0, NULL, MEP_BAD_ENVELOPE,
     "field 'subject': invalid UTF-8", 1},
    {"subject of 257 bytes", OP_LONG_ADD, "subject", NULL, ENVELOPE_SUBJECT_MAX + 1, 0, NULL,
     MEP_BAD_ENVELOPE, "field 'subject': longer than 256 bytes", 1},
};

/* Builds the message of a table case. */
static void
s_bad_message(const struct bad *b, msgpack_sbuffer *out)
{
    switch (b->op) {
    case OP_RAW:
        if (b->len > 0) /* msgpack-c memcpy()s into a NULL buffer otherwise */
            msgpack_sbuffer_write(out, b->val, b->len);
        break;
    case OP_FN:
        b->fn(out);
        break;
    case OP_LONG_REPLACE:
    case OP_LONG_ADD:
        s_build_long_str(out, b->op == OP_LONG_ADD ? OP_ADD : OP_REPLACE, b->key, b->len, 'a');
        break;
    case OP_TRUNC:
        s_build(out, OP_REPLACE, NULL, NULL, 0);
        out->size = b->cut == (size_t)-1 ? out->size - 1 : b->cut;
        break;
    case OP_APPEND:
        s_build(out, OP_REPLACE, NULL, NULL, 0);
        msgpack_sbuffer_write(out, b->val, b->len);
        break;
    default:
        s_build(out, b->op, b->key, b->val, b->len);
        break;
    }
}

Test(envelope, table_has_enough_cases)
{
    cr_assert_geq(sizeof(s_bad) / sizeof(s_bad[0]), 30);
}

Test(envelope, good_message_decodes)
{
    msgpack_sbuffer buf;
    struct envelope env;
    struct envelope_error err;

    msgpack_sbuffer_init(&buf);
    s_build(&buf, OP_REPLACE, NULL, NULL, 0);
    cr_assert_eq(buf.size, 98, "offsets in the table assume 98 bytes, got %zu", buf.size);
    cr_assert_eq(envelope_decode(buf.data, buf.size, &envelope_default_limits, &env, &err), 0, "%s",
                 err.reason);
    cr_assert_eq(env.v, 1);
    cr_assert_arr_eq(env.id, s_id, 16);
    cr_assert_str_eq(env.type, "press.conference_notice");
    cr_assert_str_eq(env.source, "hp-dic");
    cr_assert_eq(env.time_ms, 1700000000000ULL);
    cr_assert_not(env.has_corr);
    cr_assert_not(env.has_subject);
    cr_assert_eq(env.data->type, MSGPACK_OBJECT_MAP);
    cr_assert_eq(env.data->via.map.size, 1);
    envelope_release(&env);
    envelope_release(&env); /* safe twice */
    msgpack_sbuffer_destroy(&buf);
}

/*
 * Runs the table through envelope_decode (dec == NULL) or, as the broker
 * does, through one reused envelope_decoder.
 */
static void
s_malformed_table(struct envelope_decoder *dec)
{
    for (size_t i = 0; i < sizeof(s_bad) / sizeof(s_bad[0]); i++) {
        const struct bad *b = &s_bad[i];
        msgpack_sbuffer buf;
        struct envelope env;
        struct envelope_error err;
        int rc;

        msgpack_sbuffer_init(&buf);
        s_bad_message(b, &buf);
        if (dec)
            rc =
                envelope_decode_with(dec, buf.data, buf.size, &envelope_default_limits, &env, &err);
        else
            rc = envelope_decode(buf.data, buf.size, &envelope_default_limits, &env, &err);
        cr_expect_eq(rc, -EBADMSG, "[%s] accepted", b->name);
        cr_expect_eq(err.code, b->code, "[%s] code %s, expected %s (%s)", b->name,
                     mep_code_name(err.code), mep_code_name(b->code), err.reason);
        cr_expect_not_null(strstr(err.reason, b->reason), "[%s] reason \"%s\" lacks \"%s\"",
                           b->name, err.reason, b->reason);
        if (b->has_id >= 0)
            cr_expect_eq(err.has_id, b->has_id == 1, "[%s] has_id %d", b->name, err.has_id);
        if (err.has_id)
            cr_expect_arr_eq(err.id, s_id, 16, "[%s] wrong id", b->name);
        cr_expect_eq(env.data, NULL, "[%s] data left set", b->name);
        envelope_release(&env); /* harmless after a failure */
        msgpack_sbuffer_destroy(&buf);
    }
}

Test(envelope, malformed_table)
{
    s_malformed_table(NULL);
}

Test(envelope, malformed_table_through_a_reused_decoder)
{
    struct envelope_decoder dec;
    envelope_decoder_init(&dec);
    s_malformed_table(&dec);
    /* And a good message decodes after all those failures, from the same zone. */
    msgpack_sbuffer buf;
    struct envelope env;
    struct envelope_error err;
    msgpack_sbuffer_init(&buf);
    s_build(&buf, OP_REPLACE, NULL, NULL, 0);
    cr_assert_eq(envelope_decode_with(&dec, buf.data, buf.size, NULL, &env, &err), 0, "%s",
                 err.reason);
    cr_assert_arr_eq(env.id, s_id, 16);
    cr_assert_not_null(env.data);
    cr_assert_eq(env.data->type, MSGPACK_OBJECT_MAP);
    envelope_release(&env);
    msgpack_sbuffer_destroy(&buf);
    envelope_decoder_destroy(&dec);
}

/* Every strict prefix of a good message is refused as bad msgpack (or empty). */
Test(envelope, every_truncation_refused)
{
    msgpack_sbuffer buf;

    msgpack_sbuffer_init(&buf);
    s_build(&buf, OP_ADD, "subject",
            RAW("\xa4"
                "HP-1"));
    for (size_t cut = 0; cut < buf.size; cut++) {
        struct envelope env;
        struct envelope_error err;

        cr_assert_eq(envelope_decode(buf.data, cut, NULL, &env, &err), -EBADMSG, "cut %zu", cut);
        cr_assert_eq(err.code, MEP_BAD_MSGPACK, "cut %zu: %s", cut, err.reason);
        /* The id is readable once its 25 bytes are in. */
        cr_assert_eq(err.has_id, cut >= 25, "cut %zu: has_id %d", cut, err.has_id);
    }
    msgpack_sbuffer_destroy(&buf);
}

static void
s_expect_ok(msgpack_sbuffer *buf, const struct envelope_limits *limits)
{
    struct envelope env;
    struct envelope_error err;

    cr_assert_eq(envelope_decode(buf->data, buf->size, limits, &env, &err), 0, "%s", err.reason);
    envelope_release(&env);
}

static void
s_expect_code(msgpack_sbuffer *buf, const struct envelope_limits *limits, enum mep_code code,
              const char *reason)
{
    struct envelope env;
    struct envelope_error err;

    cr_assert_eq(envelope_decode(buf->data, buf->size, limits, &env, &err), -EBADMSG);
    cr_assert_eq(err.code, code, "%s", err.reason);
    cr_assert_not_null(strstr(err.reason, reason), "\"%s\" lacks \"%s\"", err.reason, reason);
}

Test(envelope, depth_8_accepted)
{
    msgpack_sbuffer buf;

    msgpack_sbuffer_init(&buf);
    s_build(&buf, OP_REPLACE, "data", RAW(DEPTH8_DATA));
    s_expect_ok(&buf, NULL);
    msgpack_sbuffer_destroy(&buf);
}

Test(envelope, configured_depth)
{
    const struct envelope_limits shallow = {65536, 2, 100};
    msgpack_sbuffer buf;

    msgpack_sbuffer_init(&buf);
    s_build(&buf, OP_REPLACE, "data",
            RAW("\x81\xa1"
                "a\x80"));
    s_expect_code(&buf, &shallow, MEP_BAD_ENVELOPE, "field 'data': nesting deeper than 2");
    msgpack_sbuffer_clear(&buf);
    s_build(&buf, OP_REPLACE, "data",
            RAW("\x81\xa1"
                "a\x01"));
    s_expect_ok(&buf, &shallow);
    msgpack_sbuffer_destroy(&buf);
}

Test(envelope, string_limit_both_ways)
{
    msgpack_sbuffer buf;

    msgpack_sbuffer_init(&buf);
    s_build_data_strings(&buf, 1, ENVELOPE_MAX_STR);
    s_expect_ok(&buf, NULL);
    msgpack_sbuffer_clear(&buf);
    s_build_data_strings(&buf, 1, ENVELOPE_MAX_STR + 1);
    s_expect_code(&buf, NULL, MEP_TOO_LARGE, "string longer than 16384");
    msgpack_sbuffer_destroy(&buf);
}

Test(envelope, message_limit_both_ways)
{
    struct envelope_limits lim = envelope_default_limits;
    struct envelope env;
    struct envelope_error err;
    msgpack_sbuffer buf;

    msgpack_sbuffer_init(&buf);
    s_build_data_strings(&buf, 4, 16000);
    lim.max_bytes = buf.size;
    s_expect_ok(&buf, &lim);
    lim.max_bytes = buf.size - 1;
    cr_assert_eq(envelope_decode(buf.data, buf.size, &lim, &env, &err), -EBADMSG);
    cr_assert_eq(err.code, MEP_TOO_LARGE);
    cr_assert(err.has_id, "the id precedes data, so the NACK can carry it");
    cr_assert_arr_eq(err.id, s_id, 16);
    msgpack_sbuffer_destroy(&buf);
}

Test(envelope, field_lengths_both_ways)
{
    msgpack_sbuffer buf;

    msgpack_sbuffer_init(&buf);
    s_build_long_str(&buf, OP_REPLACE, "type", ENVELOPE_TYPE_MAX, 'a');
    s_expect_ok(&buf, NULL);
    msgpack_sbuffer_clear(&buf);
    s_build_long_str(&buf, OP_REPLACE, "source", ENVELOPE_SOURCE_MAX, 'a');
    s_expect_ok(&buf, NULL);
    msgpack_sbuffer_clear(&buf);
    s_build_long_str(&buf, OP_ADD, "subject", ENVELOPE_SUBJECT_MAX, 'a');
    s_expect_ok(&buf, NULL);
    msgpack_sbuffer_destroy(&buf);
}

/* The id is found wherever it sits, so the NACK carries it. */
Test(envelope, id_reported_even_after_the_fault)
{
    msgpack_sbuffer buf;
    struct envelope env;
    struct envelope_error err;
    msgpack_packer pk;

    msgpack_sbuffer_init(&buf);
    msgpack_packer_init(&pk, &buf, s_write);
    msgpack_pack_map(&pk, 3);
    s_pack_key(&pk, "zzz");
    msgpack_pack_nil(&pk);
    s_pack_key(&pk, "v");
    msgpack_pack_uint8(&pk, 7);
    s_pack_key(&pk, "id");
    msgpack_pack_bin(&pk, 16);
    msgpack_pack_bin_body(&pk, s_id, 16);
    cr_assert_eq(envelope_decode(buf.data, buf.size, NULL, &env, &err), -EBADMSG);
    cr_assert_str_eq(err.reason, "unknown key 'zzz'");
    cr_assert(err.has_id);
    cr_assert_arr_eq(err.id, s_id, 16);
    msgpack_sbuffer_destroy(&buf);
}

Test(envelope, long_unknown_key_is_quoted_short)
{
    msgpack_sbuffer buf;
    struct envelope env;
    struct envelope_error err;
    char key[300];

    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    msgpack_sbuffer_init(&buf);
    s_build(&buf, OP_ADD, key, RAW("\x01"));
    cr_assert_eq(envelope_decode(buf.data, buf.size, NULL, &env, &err), -EBADMSG);
    cr_assert_str_eq(err.reason, "unknown key 'kkkkkkkkkkkkkkkkkkkkkkkk...'");
    msgpack_sbuffer_destroy(&buf);
}

/* Decodes the good envelope with subject := raw str bytes. */
static int
s_subject(const char *bytes, size_t n)
{
    msgpack_sbuffer buf, v;
    msgpack_packer pk;
    struct envelope env;
    struct envelope_error err;
    int rc;

    msgpack_sbuffer_init(&v);
    msgpack_packer_init(&pk, &v, s_write);
    msgpack_pack_str(&pk, n);
    msgpack_pack_str_body(&pk, bytes, n);
    msgpack_sbuffer_init(&buf);
    s_build(&buf, OP_ADD, "subject", v.data, v.size);
    rc = envelope_decode(buf.data, buf.size, NULL, &env, &err);
    if (rc == 0) {
        cr_assert_eq(strlen(env.subject), n);
        cr_assert_eq(memcmp(env.subject, bytes, n), 0);
        envelope_release(&env);
    } else {
        cr_assert_eq(err.code, MEP_BAD_ENVELOPE);
        cr_assert_str_eq(err.reason, "field 'subject': invalid UTF-8");
    }
    msgpack_sbuffer_destroy(&buf);
    msgpack_sbuffer_destroy(&v);
    return rc;
}

Test(envelope, utf8_valid)
{
    static const char *const ok[] = {
        "",
        "HP-2024/0001",
        "Ph\xc3\xb2ng Th\xc3\xb4ng tin - B\xc3\xa1o ch\xc3\xad", /* Phòng Thông tin - Báo chí */
        "\xc2\x80",                                              /* U+0080, smallest 2-byte */
        "\xe0\xa0\x80",                                          /* U+0800 */
        "\xed\x9f\xbf",                                          /* U+D7FF, below surrogates */
        "\xee\x80\x80",                                          /* U+E000, above them */
        "\xef\xbf\xbf",                                          /* U+FFFF */
        "\xf0\x90\x80\x80",                                      /* U+10000 */
        "\xf0\x9f\x98\x80",                                      /* an emoji */
        "\xf4\x8f\xbf\xbf",                                      /* U+10FFFF, the last */
    };

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        cr_expect_eq(s_subject(ok[i], strlen(ok[i])), 0, "ok[%zu]", i);
}

Test(envelope, utf8_invalid)
{
    static const char *const bad[] = {
        "\x80",             /* lone continuation */
        "a\xbf",            /* lone continuation after ASCII */
        "\xc3",             /* cut 2-byte */
        "\xe2\x82",         /* cut 3-byte */
        "\xf0\x9f\x98",     /* cut 4-byte */
        "\xc3(",            /* bad continuation */
        "\xc0\x80",         /* overlong NUL */
        "\xc1\xbf",         /* overlong U+007F */
        "\xe0\x80\x80",     /* overlong 3-byte */
        "\xe0\x9f\xbf",     /* overlong U+07FF */
        "\xf0\x80\x80\x80", /* overlong 4-byte */
        "\xf0\x8f\xbf\xbf", /* overlong U+FFFF */
        "\xed\xa0\x80",     /* U+D800 surrogate */
        "\xed\xbf\xbf",     /* U+DFFF surrogate */
        "\xf4\x90\x80\x80", /* U+110000 */
        "\xf8\x88\x80\x80\x80",
        "\xfe",
        "\xff",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_eq(s_subject(bad[i], strlen(bad[i])), -EBADMSG, "bad[%zu]", i);
}

Test(envelope, type_names)
{
    static const char *const ok[] = {"a.b", "press.conference_notice", "cyber.incident.report",
                                     "a1.b_2", "x.y9_"};
    static const char *const bad[] = {"",     "a",    ".a",   "a.",   "a..b",  "A.b",   "a.B",
                                      "1a.b", "a.1b", "a._b", "_a.b", "a.b-c", "a b.c", "a.b."};
    char long_ok[ENVELOPE_TYPE_MAX + 2];

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        cr_expect(envelope_type_name_valid(ok[i], strlen(ok[i])), "%s", ok[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_not(envelope_type_name_valid(bad[i], strlen(bad[i])), "%s", bad[i]);
    memset(long_ok, 'a', sizeof(long_ok));
    long_ok[1] = '.';
    cr_expect(envelope_type_name_valid(long_ok, ENVELOPE_TYPE_MAX));
    cr_expect_not(envelope_type_name_valid(long_ok, ENVELOPE_TYPE_MAX + 1));
    /* len is honoured: a valid prefix of a longer buffer. */
    cr_expect(envelope_type_name_valid("a.b!!", 3));
}

Test(envelope, source_names)
{
    static const char *const ok[] = {"soc", "area:press", "hp-dic.v1_2", "A", "SO-TTTT"};
    static const char *const bad[] = {"", "a b", "s\xc3\xb6", "a/b", "a@b", "a\nb"};
    char s[ENVELOPE_SOURCE_MAX + 1];

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        cr_expect(envelope_source_name_valid(ok[i], strlen(ok[i])), "%s", ok[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_not(envelope_source_name_valid(bad[i], strlen(bad[i])), "%s", bad[i]);
    memset(s, 'z', sizeof(s));
    cr_expect(envelope_source_name_valid(s, ENVELOPE_SOURCE_MAX));
    cr_expect_not(envelope_source_name_valid(s, ENVELOPE_SOURCE_MAX + 1));
}

Test(envelope, default_limits)
{
    cr_assert_eq(envelope_default_limits.max_bytes, 65536);
    cr_assert_eq(envelope_default_limits.max_depth, 8);
    cr_assert_eq(envelope_default_limits.max_str, 16384);
}

/* Packs a small data map, encodes, decodes and compares every field. */
static void
s_round_trip(const uint8_t *corr, const char *subject)
{
    static const uint8_t id[16] = {0x01, 0x8f, 0x3a, 0x22, 0x7b, 0x00, 0x70, 0x00,
                                   0x80, 0x00, 0xde, 0xad, 0xbe, 0xef, 0x00, 0xff};
    msgpack_sbuffer data, out, again;
    msgpack_packer pk;
    struct envelope_fields f;
    struct envelope env;
    struct envelope_error err;

    msgpack_sbuffer_init(&data);
    msgpack_packer_init(&pk, &data, s_write);
    msgpack_pack_map(&pk, 3);
    s_pack_key(&pk, "title");
    msgpack_pack_str(&pk, 5);
    msgpack_pack_str_body(&pk, "Họp", 5);
    s_pack_key(&pk, "n");
    msgpack_pack_int64(&pk, -42);
    s_pack_key(&pk, "list");
    msgpack_pack_array(&pk, 2);
    msgpack_pack_true(&pk);
    msgpack_pack_double(&pk, 1.5);

    memset(&f, 0, sizeof(f));
    f.id = id;
    f.type = "press.conference_notice";
    f.source = "area:press";
    f.time_ms = 1717171717171ULL;
    f.corr = corr;
    f.subject = subject;
    f.data = data.data;
    f.data_len = data.size;

    msgpack_sbuffer_init(&out);
    msgpack_sbuffer_write(&out, "junk", 4); /* encode appends */
    envelope_encode(&f, &out);
    cr_assert_eq(memcmp(out.data, "junk", 4), 0);

    /* Decode from a private copy that is wiped afterwards: env must not point into it. */
    {
        char *copy = malloc(out.size - 4);

        cr_assert_not_null(copy);
        memcpy(copy, out.data + 4, out.size - 4);
        cr_assert_eq(envelope_decode(copy, out.size - 4, NULL, &env, &err), 0, "%s", err.reason);
        memset(copy, 0xee, out.size - 4);
        free(copy);
    }
    cr_assert_eq(env.v, 1);
    cr_assert_arr_eq(env.id, id, 16);
    cr_assert_str_eq(env.type, f.type);
    cr_assert_str_eq(env.source, f.source);
    cr_assert_eq(env.time_ms, f.time_ms);
    cr_assert_eq(env.has_corr, corr != NULL);
    if (corr)
        cr_assert_arr_eq(env.corr, corr, 16);
    cr_assert_eq(env.has_subject, subject != NULL);
    if (subject)
        cr_assert_str_eq(env.subject, subject);

    /* data packs back to the very bytes that went in. */
    msgpack_sbuffer_init(&again);
    msgpack_packer_init(&pk, &again, s_write);
    msgpack_pack_object(&pk, *env.data);
    cr_assert_eq(again.size, data.size);
    cr_assert_eq(memcmp(again.data, data.data, data.size), 0);

    envelope_release(&env);
    msgpack_sbuffer_destroy(&again);
    msgpack_sbuffer_destroy(&out);
    msgpack_sbuffer_destroy(&data);
}

Test(envelope, round_trip_plain)
{
    s_round_trip(NULL, NULL);
}

Test(envelope, round_trip_corr_subject)
{
    static const uint8_t corr[16] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6};

    s_round_trip(corr, "HP/2024/ĐKKD-0001");
}

Test(envelope, encode_without_data_packs_empty_map)
{
    struct envelope_fields f = {s_id, "a.b", "soc", 1, NULL, NULL, NULL, 0};
    msgpack_sbuffer out;
    struct envelope env;
    struct envelope_error err;

    msgpack_sbuffer_init(&out);
    envelope_encode(&f, &out);
    cr_assert_eq(envelope_decode(out.data, out.size, NULL, &env, &err), 0, "%s", err.reason);
    cr_assert_eq(env.data->type, MSGPACK_OBJECT_MAP);
    cr_assert_eq(env.data->via.map.size, 0);
    cr_assert_eq(env.time_ms, 1);
    envelope_release(&env);
    msgpack_sbuffer_destroy(&out);
}

/* Key order on the wire does not matter, and the id can come last. */
Test(envelope, any_key_order)
{
    msgpack_sbuffer buf;
    msgpack_packer pk;

    msgpack_sbuffer_init(&buf);
    msgpack_packer_init(&pk, &buf, s_write);
    msgpack_pack_map(&pk, GOOD_N);
    for (size_t i = GOOD_N; i-- > 0;) {
        s_pack_key(&pk, s_good[i].key);
        msgpack_sbuffer_write(&buf, s_good[i].val, s_good[i].len);
    }
    s_expect_ok(&buf, NULL);
    msgpack_sbuffer_destroy(&buf);
}

/* Non-minimal encodings msgpack allows are fine: v as uint64, id as bin32. */
Test(envelope, wide_encodings_accepted)
{
    msgpack_sbuffer buf;

    msgpack_sbuffer_init(&buf);
    s_build(&buf, OP_REPLACE, "v", RAW("\xcf\x00\x00\x00\x00\x00\x00\x00\x01"));
    s_expect_ok(&buf, NULL);
    msgpack_sbuffer_clear(&buf);
    s_build(&buf, OP_REPLACE, "id", RAW("\xc6\x00\x00\x00\x10" ID16));
    s_expect_ok(&buf, NULL);
    msgpack_sbuffer_destroy(&buf);
}
