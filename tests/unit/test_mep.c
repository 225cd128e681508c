/*
 * test_mep: MEP/1 code names, retry flags and commands; the exact bytes of
 * ACK / NACK / PONG bodies; and the client-side reply decoder against good
 * and malformed replies.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <string.h>

#include "proto/mep.h"

#define RAW(s) s, sizeof(s) - 1
#define ID16   "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10"

static const uint8_t s_id[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

Test(mep, code_names)
{
    static const char *const want[MEP_CODE_COUNT] = {
        "ok",           "bad_frame", "bad_msgpack", "bad_envelope", "unknown_type",
        "invalid_data", "forbidden", "too_large",   "rate_limited", "unavailable",
    };

    for (int c = 0; c < MEP_CODE_COUNT; c++) {
        enum mep_code back = MEP_OK;

        cr_assert_str_eq(mep_code_name((enum mep_code)c), want[c]);
        cr_assert_eq(mep_code_from_name(want[c], strlen(want[c]), &back), 0);
        cr_assert_eq(back, (enum mep_code)c);
    }
    cr_assert_str_eq(mep_code_name(MEP_CODE_COUNT), "?");
    cr_assert_str_eq(mep_code_name((enum mep_code) - 1), "?");
}

Test(mep, code_from_name_is_exact)
{
    enum mep_code c = MEP_FORBIDDEN;

    cr_assert_eq(mep_code_from_name("bad", 3, &c), -EINVAL);
    cr_assert_eq(mep_code_from_name("bad_frames", 10, &c), -EINVAL);
    cr_assert_eq(mep_code_from_name("BAD_FRAME", 9, &c), -EINVAL);
    cr_assert_eq(mep_code_from_name("", 0, &c), -EINVAL);
    cr_assert_eq(c, MEP_FORBIDDEN, "untouched on failure");
    /* len is honoured: no NUL needed. */
    cr_assert_eq(mep_code_from_name("too_largeXYZ", 9, &c), 0);
    cr_assert_eq(c, MEP_TOO_LARGE);
}

Test(mep, retry_only_for_transient_codes)
{
    for (int c = 0; c < MEP_CODE_COUNT; c++)
        cr_assert_eq(mep_code_retry((enum mep_code)c),
                     c == MEP_RATE_LIMITED || c == MEP_UNAVAILABLE, "%s",
                     mep_code_name((enum mep_code)c));
}

Test(mep, commands)
{
    cr_assert_eq(mep_command_parse("PUB", 3), MEP_CMD_PUB);
    cr_assert_eq(mep_command_parse("PING", 4), MEP_CMD_PING);
    cr_assert_eq(mep_command_parse("ACK", 3), MEP_CMD_ACK);
    cr_assert_eq(mep_command_parse("NACK", 4), MEP_CMD_NACK);
    cr_assert_eq(mep_command_parse("PONG", 4), MEP_CMD_PONG);
    cr_assert_eq(mep_command_parse("pub", 3), MEP_CMD_UNKNOWN);
    cr_assert_eq(mep_command_parse("PUBX", 4), MEP_CMD_UNKNOWN);
    cr_assert_eq(mep_command_parse("PUB\0", 4), MEP_CMD_UNKNOWN);
    cr_assert_eq(mep_command_parse("PU", 2), MEP_CMD_UNKNOWN);
    cr_assert_eq(mep_command_parse("", 0), MEP_CMD_UNKNOWN);
    cr_assert_eq(mep_command_parse("NAC", 3), MEP_CMD_UNKNOWN);
    cr_assert_str_eq(mep_command_name(MEP_CMD_NACK), "NACK");
    cr_assert_str_eq(mep_command_name(MEP_CMD_PUB), "PUB");
    cr_assert_str_eq(mep_command_name(MEP_CMD_UNKNOWN), "?");
}

static void
s_assert_bytes(const msgpack_sbuffer *b, const char *want, size_t len)
{
    cr_assert_eq(b->size, len, "size %zu, expected %zu", b->size, len);
    cr_assert_eq(memcmp(b->data, want, len), 0, "bytes differ");
}

Test(mep, ack_bytes)
{
    msgpack_sbuffer b;

    msgpack_sbuffer_init(&b);
    msgpack_sbuffer_write(&b, "stale", 5); /* cleared first */
    mep_pack_ack(&b, s_id, 42, false);
    s_assert_bytes(&b, RAW("\x83\xa2id\xc4\x10" ID16 "\xa3seq\x2a\xa3"
                           "dup\xc2"));
    mep_pack_ack(&b, s_id, 1ULL << 40, true);
    s_assert_bytes(&b, RAW("\x83\xa2id\xc4\x10" ID16 "\xa3seq\xcf\x00\x00\x01\x00\x00\x00\x00\x00"
                           "\xa3"
                           "dup\xc3"));
    msgpack_sbuffer_destroy(&b);
}

Test(mep, nack_bytes)
{
    msgpack_sbuffer b;

    msgpack_sbuffer_init(&b);
    mep_pack_nack(&b, NULL, MEP_BAD_MSGPACK, "message: empty");
    s_assert_bytes(&b, RAW("\x84\xa2id\xc0\xa4"
                           "code\xab"
                           "bad_msgpack\xa6reason\xae"
                           "message: empty\xa5retry\xc2"));
    mep_pack_nack(&b, s_id, MEP_RATE_LIMITED, "");
    s_assert_bytes(&b, RAW("\x84\xa2id\xc4\x10" ID16 "\xa4"
                           "code\xac"
                           "rate_limited\xa6reason\xa0"
                           "\xa5retry\xc3"));
    msgpack_sbuffer_destroy(&b);
}

Test(mep, pong_bytes)
{
    msgpack_sbuffer b;

    msgpack_sbuffer_init(&b);
    msgpack_sbuffer_write(&b, "stale", 5);
    mep_pack_pong(&b);
    s_assert_bytes(&b, RAW("\x80"));
    msgpack_sbuffer_destroy(&b);
}

Test(mep, ack_round_trip)
{
    msgpack_sbuffer b;
    struct mep_reply r;

    msgpack_sbuffer_init(&b);
    mep_pack_ack(&b, s_id, UINT64_MAX, true);
    cr_assert_eq(mep_reply_decode(b.data, b.size, true, &r), 0);
    cr_assert(r.is_ack);
    cr_assert(r.has_id);
    cr_assert_arr_eq(r.id, s_id, 16);
    cr_assert_eq(r.seq, UINT64_MAX);
    cr_assert(r.dup);
    /* An ACK body is not a NACK body. */
    cr_assert_eq(mep_reply_decode(b.data, b.size, false, &r), -EBADMSG);
    msgpack_sbuffer_destroy(&b);
}

Test(mep, nack_round_trip)
{
    msgpack_sbuffer b;
    struct mep_reply r;

    msgpack_sbuffer_init(&b);
    for (int c = MEP_BAD_FRAME; c < MEP_CODE_COUNT; c++) {
        mep_pack_nack(&b, (c & 1) ? s_id : NULL, (enum mep_code)c, "field 'type': invalid UTF-8");
        cr_assert_eq(mep_reply_decode(b.data, b.size, false, &r), 0, "%d", c);
        cr_assert_not(r.is_ack);
        cr_assert_eq(r.has_id, (c & 1) != 0);
        if (r.has_id)
            cr_assert_arr_eq(r.id, s_id, 16);
        cr_assert_eq(r.code, (enum mep_code)c);
        cr_assert_eq(r.retry, mep_code_retry((enum mep_code)c));
        cr_assert_str_eq(r.reason, "field 'type': invalid UTF-8");
        cr_assert_eq(mep_reply_decode(b.data, b.size, true, &r), -EBADMSG, "not an ACK");
    }
    msgpack_sbuffer_destroy(&b);
}

/* The reason on the wire is cut to MEP_REASON_MAX without splitting a UTF-8 sequence. */
Test(mep, long_reason_cut_on_a_character)
{
    char reason[400];
    msgpack_sbuffer b;
    struct mep_reply r;

    memset(reason, 'x', sizeof(reason));
    memcpy(reason + MEP_REASON_MAX - 1, "\xc3\xa9", 2); /* é across the cut */
    reason[sizeof(reason) - 1] = '\0';
    msgpack_sbuffer_init(&b);
    mep_pack_nack(&b, NULL, MEP_INVALID_DATA, reason);
    cr_assert_eq(mep_reply_decode(b.data, b.size, false, &r), 0);
    cr_assert_eq(strlen(r.reason), MEP_REASON_MAX - 1);
    cr_assert_eq(memcmp(r.reason, reason, MEP_REASON_MAX - 1), 0);
    mep_pack_nack(&b, NULL, MEP_INVALID_DATA, NULL);
    cr_assert_eq(mep_reply_decode(b.data, b.size, false, &r), 0);
    cr_assert_str_eq(r.reason, "");
    msgpack_sbuffer_destroy(&b);
}

Test(mep, reply_tolerates_unknown_keys)
{
    struct mep_reply r;

    cr_assert_eq(mep_reply_decode(RAW("\x84\xa2id\xc4\x10" ID16 "\xa3seq\x07\xa3"
                                      "dup\xc2"
                                      "\xa4note\xa2hi"),
                                  true, &r),
                 0);
    cr_assert_eq(r.seq, 7);
}

struct bad_reply {
    const char *name;
    const char *bytes;
    size_t len;
    bool is_ack;
};

static const struct bad_reply s_bad[] = {
    {"empty", RAW(""), true},
    {"0xc1", RAW("\xc1"), true},
    {"not a map", RAW("\x93\x01\x02\x03"), true},
    {"trailing",
     RAW("\x83\xa2id\xc4\x10" ID16 "\xa3seq\x2a\xa3"
         "dup\xc2\x00"),
     true},
    {"truncated",
     RAW("\x83\xa2id\xc4\x10" ID16 "\xa3seq\x2a\xa3"
         "dup"),
     true},
    {"map32 lie", RAW("\xdf\xff\xff\xff\xff"), true},
    {"missing dup", RAW("\x82\xa2id\xc4\x10" ID16 "\xa3seq\x2a"), true},
    {"missing seq",
     RAW("\x82\xa2id\xc4\x10" ID16 "\xa3"
         "dup\xc2"),
     true},
    {"missing id",
     RAW("\x82\xa3seq\x2a\xa3"
         "dup\xc2"),
     true},
    {"ack with nil id",
     RAW("\x83\xa2id\xc0\xa3seq\x2a\xa3"
         "dup\xc2"),
     true},
    {"id of 15",
     RAW("\x83\xa2id\xc4\x0f"
         "123456789012345\xa3seq\x2a\xa3"
         "dup\xc2"),
     true},
    {"id as str",
     RAW("\x83\xa2id\xb0"
         "0123456789abcdef\xa3seq\x2a\xa3"
         "dup\xc2"),
     true},
    {"negative seq",
     RAW("\x83\xa2id\xc4\x10" ID16 "\xa3seq\xff\xa3"
         "dup\xc2"),
     true},
    {"dup as int",
     RAW("\x83\xa2id\xc4\x10" ID16 "\xa3seq\x2a\xa3"
         "dup\x01"),
     true},
    {"duplicate seq",
     RAW("\x84\xa2id\xc4\x10" ID16 "\xa3seq\x2a\xa3"
         "dup\xc2\xa3seq\x2b"),
     true},
    {"int key",
     RAW("\x84\xa2id\xc4\x10" ID16 "\xa3seq\x2a\xa3"
         "dup\xc2\x01\x02"),
     true},
    {"unknown code",
     RAW("\x84\xa2id\xc0\xa4"
         "code\xa3"
         "bad\xa6reason\xa0\xa5retry\xc2"),
     false},
    {"code ok",
     RAW("\x84\xa2id\xc0\xa4"
         "code\xa2ok\xa6reason\xa0\xa5retry\xc2"),
     false},
    {"code as int",
     RAW("\x84\xa2id\xc0\xa4"
         "code\x01\xa6reason\xa0\xa5retry\xc2"),
     false},
    {"reason as bin",
     RAW("\x84\xa2id\xc0\xa4"
         "code\xa9"
         "forbidden\xa6reason\xc4\x00\xa5retry\xc2"),
     false},
    {"retry missing",
     RAW("\x83\xa2id\xc0\xa4"
         "code\xa9"
         "forbidden\xa6reason\xa0"),
     false},
    {"id missing",
     RAW("\x83\xa4"
         "code\xa9"
         "forbidden\xa6reason\xa0\xa5retry\xc2"),
     false},
    {"nack id 17",
     RAW("\x84\xa2id\xc4\x11"
         "12345678901234567\xa4"
         "code\xa9"
         "forbidden\xa6reason"
         "\xa0\xa5retry\xc2"),
     false},
    {"too deep", RAW("\x81\xa1x\x91\x91\x91\x01"), true},
};

Test(mep, malformed_replies)
{
    for (size_t i = 0; i < sizeof(s_bad) / sizeof(s_bad[0]); i++) {
        struct mep_reply r;

        memset(&r, 0x5a, sizeof(r));
        cr_expect_eq(mep_reply_decode(s_bad[i].bytes, s_bad[i].len, s_bad[i].is_ack, &r), -EBADMSG,
                     "[%s] accepted", s_bad[i].name);
        cr_expect_eq(r.seq, 0x5a5a5a5a5a5a5a5aULL, "[%s] reply touched on failure", s_bad[i].name);
    }
}

/* The good forms the table's cases are variations of really do decode. */
Test(mep, table_baselines_decode)
{
    struct mep_reply r;

    cr_assert_eq(mep_reply_decode(RAW("\x83\xa2id\xc4\x10" ID16 "\xa3seq\x2a\xa3"
                                      "dup\xc2"),
                                  true, &r),
                 0);
    cr_assert_eq(r.seq, 42);
    cr_assert_not(r.dup);
    cr_assert_eq(mep_reply_decode(RAW("\x84\xa2id\xc0\xa4"
                                      "code\xa9"
                                      "forbidden\xa6reason\xa0"
                                      "\xa5retry\xc2"),
                                  false, &r),
                 0);
    cr_assert_eq(r.code, MEP_FORBIDDEN);
    cr_assert_not(r.has_id);
}
