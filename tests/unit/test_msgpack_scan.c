/*
 * test_msgpack_scan: every msgpack format scanned whole and cut short, lying
 * lengths, depth and string limits taken both ways, hostile inputs that
 * must neither allocate nor recurse, and agreement with msgpack-c.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "proto/msgpack_scan.h"

#define RAW(s) s, sizeof(s) - 1

static const struct msgpack_scan_limits s_wide = {MSGPACK_SCAN_DEPTH_CAP, SIZE_MAX};

static enum msgpack_scan_result
s_scan(const void *buf, size_t len, size_t *off)
{
    return msgpack_scan(buf, len, &s_wide, off);
}

/* One encoding of every msgpack format. */
struct sample {
    const char *name;
    const char *bytes;
    size_t len;
};

static const struct sample s_samples[] = {
    {"positive fixint", RAW("\x7f")},
    {"negative fixint", RAW("\xe0")},
    {"nil", RAW("\xc0")},
    {"false", RAW("\xc2")},
    {"true", RAW("\xc3")},
    {"fixmap", RAW("\x82\x01\x02\xa1"
                   "a\xc0")},
    {"fixarray", RAW("\x93\x01\x02\x03")},
    {"fixstr", RAW("\xa3"
                   "abc")},
    {"bin 8", RAW("\xc4\x02\x00\x01")},
    {"bin 16", RAW("\xc5\x00\x02\x00\x01")},
    {"bin 32", RAW("\xc6\x00\x00\x00\x02\x00\x01")},
    {"ext 8", RAW("\xc7\x02\x05\x00\x01")},
    {"ext 16", RAW("\xc8\x00\x02\x05\x00\x01")},
    {"ext 32", RAW("\xc9\x00\x00\x00\x02\x05\x00\x01")},
    {"float 32", RAW("\xca\x3f\x80\x00\x00")},
    {"float 64", RAW("\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00")},
    {"uint 8", RAW("\xcc\xff")},
    {"uint 16", RAW("\xcd\xff\xff")},
    {"uint 32", RAW("\xce\xff\xff\xff\xff")},
    {"uint 64", RAW("\xcf\xff\xff\xff\xff\xff\xff\xff\xff")},
    {"int 8", RAW("\xd0\x80")},
    {"int 16", RAW("\xd1\x80\x00")},
    {"int 32", RAW("\xd2\x80\x00\x00\x00")},
    {"int 64", RAW("\xd3\x80\x00\x00\x00\x00\x00\x00\x00")},
    {"fixext 1", RAW("\xd4\x01\x00")},
    {"fixext 2", RAW("\xd5\x01\x00\x01")},
    {"fixext 4", RAW("\xd6\xff\x00\x01\x02\x03")}, /* timestamp 32 */
    {"fixext 8", RAW("\xd7\x01\x00\x01\x02\x03\x04\x05\x06\x07")},
    {"fixext 16", RAW("\xd8\x01\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f")},
    {"str 8", RAW("\xd9\x03"
                  "abc")},
    {"str 16", RAW("\xda\x00\x03"
                   "abc")},
    {"str 32", RAW("\xdb\x00\x00\x00\x03"
                   "abc")},
    {"array 16", RAW("\xdc\x00\x02\x01\x02")},
    {"array 32", RAW("\xdd\x00\x00\x00\x02\x01\x02")},
    {"map 16", RAW("\xde\x00\x01\x01\x02")},
    {"map 32", RAW("\xdf\x00\x00\x00\x01\x01\x02")},
    {"empty containers", RAW("\x92\x80\x90")},
    {"empty str and bin", RAW("\x92\xa0\xc4\x00")},
};

/* Every format scans whole; every strict prefix is truncated; one more byte is trailing. */
Test(msgpack_scan, every_format)
{
    for (size_t i = 0; i < sizeof(s_samples) / sizeof(s_samples[0]); i++) {
        const struct sample *s = &s_samples[i];
        char more[64];
        size_t off = 12345;

        cr_expect_eq(s_scan(s->bytes, s->len, NULL), MSGPACK_SCAN_OK, "%s", s->name);
        for (size_t cut = 1; cut < s->len; cut++)
            cr_expect_eq(s_scan(s->bytes, cut, NULL), MSGPACK_SCAN_TRUNCATED, "%s cut at %zu",
                         s->name, cut);
        memcpy(more, s->bytes, s->len);
        more[s->len] = 0x00;
        cr_expect_eq(s_scan(more, s->len + 1, &off), MSGPACK_SCAN_TRAILING, "%s", s->name);
        cr_expect_eq(off, s->len, "%s: trailing offset", s->name);
    }
}

Test(msgpack_scan, empty)
{
    size_t off = 99;

    cr_assert_eq(s_scan("", 0, &off), MSGPACK_SCAN_EMPTY);
    cr_assert_eq(off, 0);
    cr_assert_eq(s_scan(NULL, 0, NULL), MSGPACK_SCAN_EMPTY);
}

Test(msgpack_scan, bad_byte)
{
    size_t off = 0;

    cr_assert_eq(s_scan("\xc1", 1, &off), MSGPACK_SCAN_BAD_BYTE);
    cr_assert_eq(off, 0);
    cr_assert_eq(s_scan(RAW("\x93\x01\x02\xc1"), &off), MSGPACK_SCAN_BAD_BYTE);
    cr_assert_eq(off, 3);
    /* 0xc1 inside a str payload is just a byte. */
    cr_assert_eq(s_scan(RAW("\xa1\xc1"), NULL), MSGPACK_SCAN_OK);
}

/* Five bytes that would make msgpack-c allocate for 2^32 - 1 elements. */
Test(msgpack_scan, lying_lengths)
{
    static const struct sample lies[] = {
        {"array 32", RAW("\xdd\xff\xff\xff\xff")},
        {"map 32", RAW("\xdf\xff\xff\xff\xff")},
        {"str 32", RAW("\xdb\xff\xff\xff\xff")},
        {"bin 32", RAW("\xc6\xff\xff\xff\xff")},
        {"ext 32", RAW("\xc9\xff\xff\xff\xff\x01")},
        {"array 16", RAW("\xdc\xff\xff")},
        {"map 16", RAW("\xde\xff\xff")},
        {"array 32 inside", RAW("\x91\xdd\x7f\xff\xff\xff")},
    };

    for (size_t i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
        size_t off = 99;

        cr_expect_eq(s_scan(lies[i].bytes, lies[i].len, &off), MSGPACK_SCAN_TRUNCATED, "%s",
                     lies[i].name);
        cr_expect_eq(off, i == 7 ? 1 : 0, "%s: offset %zu", lies[i].name, off);
    }
}

/* A container needs one byte per element, a map two per pair. */
Test(msgpack_scan, element_counts_against_remaining_bytes)
{
    size_t off;

    cr_assert_eq(s_scan(RAW("\x93\x01\x02"), &off), MSGPACK_SCAN_TRUNCATED);
    cr_assert_eq(off, 0, "refused at the header, before any element");
    cr_assert_eq(s_scan(RAW("\x82\x01\x02\x03"), &off), MSGPACK_SCAN_TRUNCATED);
    cr_assert_eq(off, 0);
    /* The outer array owes one more element than the bytes allow once the inner one opens. */
    cr_assert_eq(s_scan(RAW("\x92\x93\x01\x02\x03"), &off), MSGPACK_SCAN_TRUNCATED);
    cr_assert_eq(off, 1);
    cr_assert_eq(s_scan(RAW("\x92\x93\x01\x02\x03\x04"), NULL), MSGPACK_SCAN_OK);
    /* Enough bytes in count but not in content. */
    cr_assert_eq(s_scan(RAW("\x92\xa5"
                            "abc"),
                        &off),
                 MSGPACK_SCAN_TRUNCATED);
    cr_assert_eq(off, 1);
}

Test(msgpack_scan, depth_limit_both_ways)
{
    const struct msgpack_scan_limits three = {3, 100};
    size_t off = 0;

    cr_assert_eq(msgpack_scan(RAW("\x91\x91\x91\x01"), &three, NULL), MSGPACK_SCAN_OK);
    cr_assert_eq(msgpack_scan(RAW("\x91\x91\x91\x91\x01"), &three, &off), MSGPACK_SCAN_TOO_DEEP);
    cr_assert_eq(off, 3);
    /* An empty container still opens a level. */
    cr_assert_eq(msgpack_scan(RAW("\x91\x91\x91\x90"), &three, &off), MSGPACK_SCAN_TOO_DEEP);
    cr_assert_eq(msgpack_scan(RAW("\x91\x91\x81\x01\x80"), &three, &off), MSGPACK_SCAN_TOO_DEEP);
    cr_assert_eq(off, 4);
    /* Siblings do not add up: depth is nesting, not count. */
    cr_assert_eq(msgpack_scan(RAW("\x93\x91\x91\x01\x91\x91\x01\x91\x91\x01"), &three, NULL),
                 MSGPACK_SCAN_OK);
    /* "1 = a top-level map holding only scalars" */
    {
        const struct msgpack_scan_limits one = {1, 100};
        const struct msgpack_scan_limits zero = {0, 100};

        cr_assert_eq(msgpack_scan(RAW("\x81\xa1"
                                      "a\x01"),
                                  &one, NULL),
                     MSGPACK_SCAN_OK);
        cr_assert_eq(msgpack_scan(RAW("\x81\xa1"
                                      "a\x80"),
                                  &one, NULL),
                     MSGPACK_SCAN_TOO_DEEP);
        cr_assert_eq(msgpack_scan(RAW("\x01"), &zero, NULL), MSGPACK_SCAN_OK);
        cr_assert_eq(msgpack_scan(RAW("\x80"), &zero, NULL), MSGPACK_SCAN_TOO_DEEP);
    }
}

Test(msgpack_scan, depth_cap_matches_msgpack_c)
{
    const struct msgpack_scan_limits huge = {1000, 100};
    char buf[MSGPACK_SCAN_DEPTH_CAP + 2];
    msgpack_unpacked up;
    size_t off = 0;

    /* 32 nested arrays: the most msgpack-c can unpack, and the most we let through. */
    memset(buf, 0x91, MSGPACK_SCAN_DEPTH_CAP);
    buf[MSGPACK_SCAN_DEPTH_CAP - 1] = (char)0x90;
    cr_assert_eq(msgpack_scan(buf, MSGPACK_SCAN_DEPTH_CAP, &huge, NULL), MSGPACK_SCAN_OK);
    msgpack_unpacked_init(&up);
    cr_assert_eq(msgpack_unpack_next(&up, buf, MSGPACK_SCAN_DEPTH_CAP, &off),
                 MSGPACK_UNPACK_SUCCESS);
    msgpack_unpacked_destroy(&up);

    memset(buf, 0x91, MSGPACK_SCAN_DEPTH_CAP + 1);
    buf[MSGPACK_SCAN_DEPTH_CAP] = (char)0x90;
    cr_assert_eq(msgpack_scan(buf, MSGPACK_SCAN_DEPTH_CAP + 1, &huge, NULL), MSGPACK_SCAN_TOO_DEEP);
    off = 0;
    msgpack_unpacked_init(&up);
    cr_assert_neq(msgpack_unpack_next(&up, buf, MSGPACK_SCAN_DEPTH_CAP + 1, &off),
                  MSGPACK_UNPACK_SUCCESS);
    msgpack_unpacked_destroy(&up);
}

Test(msgpack_scan, string_limit_both_ways)
{
    const struct msgpack_scan_limits four = {4, 4};
    size_t off = 0;

    cr_assert_eq(msgpack_scan(RAW("\xa4"
                                  "abcd"),
                              &four, NULL),
                 MSGPACK_SCAN_OK);
    cr_assert_eq(msgpack_scan(RAW("\xa5"
                                  "abcde"),
                              &four, &off),
                 MSGPACK_SCAN_STR_TOO_LONG);
    cr_assert_eq(off, 0);
    cr_assert_eq(msgpack_scan(RAW("\xc4\x04"
                                  "abcd"),
                              &four, NULL),
                 MSGPACK_SCAN_OK);
    cr_assert_eq(msgpack_scan(RAW("\x91\xc4\x05"
                                  "abcde"),
                              &four, &off),
                 MSGPACK_SCAN_STR_TOO_LONG);
    cr_assert_eq(off, 1);
    cr_assert_eq(msgpack_scan(RAW("\xd6\x01"
                                  "abcd"),
                              &four, NULL),
                 MSGPACK_SCAN_OK);
    cr_assert_eq(msgpack_scan(RAW("\xd7\x01"
                                  "abcdefgh"),
                              &four, NULL),
                 MSGPACK_SCAN_STR_TOO_LONG);
    cr_assert_eq(msgpack_scan(RAW("\xc7\x05\x01"
                                  "abcde"),
                              &four, NULL),
                 MSGPACK_SCAN_STR_TOO_LONG);
    /* Keys are strings too. */
    cr_assert_eq(msgpack_scan(RAW("\x81\xa5"
                                  "abcde\x01"),
                              &four, NULL),
                 MSGPACK_SCAN_STR_TOO_LONG);
    /* A length that lies is truncation first, whatever the limit. */
    cr_assert_eq(msgpack_scan(RAW("\xdb\xff\xff\xff\xff"), &four, NULL), MSGPACK_SCAN_TRUNCATED);
}

/* A megabyte of array headers: refused quickly, no recursion, no allocation. */
Test(msgpack_scan, hostile_nesting, .timeout = 10)
{
    const size_t n = 1 << 20;
    const struct msgpack_scan_limits eight = {8, 16384};
    char *buf = malloc(n);
    size_t off = 0;

    cr_assert_not_null(buf);
    memset(buf, 0x91, n);
    cr_assert_eq(msgpack_scan(buf, n, &eight, &off), MSGPACK_SCAN_TOO_DEEP);
    cr_assert_eq(off, 8);
    cr_assert_eq(msgpack_scan(buf, n, &s_wide, &off), MSGPACK_SCAN_TOO_DEEP);
    cr_assert_eq(off, MSGPACK_SCAN_DEPTH_CAP);
    /* Maps of maps that never close. */
    memset(buf, 0xdf, n);
    cr_assert_eq(msgpack_scan(buf, n, &s_wide, &off), MSGPACK_SCAN_TRUNCATED);
    free(buf);
}

/* Wide and flat: 65535 pairs in a map 16. */
Test(msgpack_scan, wide_map)
{
    const size_t n = 3 + 2 * 65535;
    char *buf = malloc(n);

    cr_assert_not_null(buf);
    memset(buf, 0x01, n);
    buf[0] = (char)0xde;
    buf[1] = (char)0xff;
    buf[2] = (char)0xff;
    cr_assert_eq(s_scan(buf, n, NULL), MSGPACK_SCAN_OK);
    cr_assert_eq(s_scan(buf, n - 1, NULL), MSGPACK_SCAN_TRUNCATED);
    free(buf);
}

Test(msgpack_scan, scan_one_allows_what_follows)
{
    size_t used = 0, off = 0;

    cr_assert_eq(msgpack_scan_one(RAW("\x92\x01\x02\xa1"
                                      "x"),
                                  &s_wide, &used, &off),
                 MSGPACK_SCAN_OK);
    cr_assert_eq(used, 3);
    cr_assert_eq(msgpack_scan_one(RAW("\x92\x01"), &s_wide, &used, &off), MSGPACK_SCAN_TRUNCATED);
    cr_assert_eq(msgpack_scan_one("", 0, &s_wide, &used, &off), MSGPACK_SCAN_EMPTY);
}

Test(msgpack_scan, strerror_names_each)
{
    for (int r = MSGPACK_SCAN_OK; r <= MSGPACK_SCAN_EMPTY; r++) {
        const char *s = msgpack_scan_strerror((enum msgpack_scan_result)r);

        cr_assert_not_null(s);
        cr_assert_neq(strcmp(s, "unknown scan result"), 0, "%d", r);
    }
    cr_assert_str_eq(msgpack_scan_strerror(MSGPACK_SCAN_BAD_BYTE), "invalid msgpack byte 0xc1");
}

static int
s_write(void *data, const char *buf, size_t len)
{
    return msgpack_sbuffer_write(data, buf, len);
}

/* Packs a pseudo-random object of bounded depth (a small LCG keeps it reproducible). */
static void
s_pack_random(msgpack_packer *pk, unsigned *seed, unsigned depth)
{
    unsigned r;

    *seed = *seed * 1103515245u + 12345u;
    r = (*seed >> 16) % (depth > 0 ? 12 : 9);
    switch (r) {
    case 0:
        msgpack_pack_nil(pk);
        break;
    case 1:
        msgpack_pack_int64(pk, -(int64_t)(*seed % 100000));
        break;
    case 2:
        msgpack_pack_uint64(pk, (uint64_t)*seed * 77777u);
        break;
    case 3:
        msgpack_pack_double(pk, *seed / 7.0);
        break;
    case 4:
        msgpack_pack_str(pk, *seed % 300);
        for (unsigned i = 0; i < *seed % 300; i++)
            msgpack_pack_str_body(pk, "s", 1);
        break;
    case 5:
        msgpack_pack_bin(pk, *seed % 40);
        for (unsigned i = 0; i < *seed % 40; i++)
            msgpack_pack_bin_body(pk, "\xc1", 1);
        break;
    case 6:
        msgpack_pack_ext(pk, 3, 1); /* 3 bytes of type 1 */
        msgpack_pack_ext_body(pk, "eee", 3);
        break;
    case 7:
        msgpack_pack_true(pk);
        break;
    case 8:
        msgpack_pack_float(pk, 1.5f);
        break;
    case 9:
    case 10: {
        unsigned n = *seed % 20;

        msgpack_pack_array(pk, n);
        for (unsigned i = 0; i < n; i++)
            s_pack_random(pk, seed, depth - 1);
        break;
    }
    default: {
        unsigned n = *seed % 20;

        msgpack_pack_map(pk, n);
        for (unsigned i = 0; i < 2 * n; i++)
            s_pack_random(pk, seed, depth - 1);
        break;
    }
    }
}

/* Whatever msgpack-c packs scans clean, and every cut of it is caught. */
Test(msgpack_scan, agrees_with_msgpack_c, .timeout = 60)
{
    for (unsigned seed = 1; seed <= 300; seed++) {
        unsigned s = seed;
        msgpack_sbuffer buf;
        msgpack_packer pk;

        msgpack_sbuffer_init(&buf);
        msgpack_packer_init(&pk, &buf, s_write);
        s_pack_random(&pk, &s, 5);
        cr_assert_eq(s_scan(buf.data, buf.size, NULL), MSGPACK_SCAN_OK, "seed %u", seed);
        for (size_t cut = 1; cut < buf.size; cut += 1 + cut / 16)
            cr_assert_eq(s_scan(buf.data, cut, NULL), MSGPACK_SCAN_TRUNCATED, "seed %u cut %zu",
                         seed, cut);
        msgpack_sbuffer_destroy(&buf);
    }
}

Test(msgpack_scan, map_field_finds_values_and_refuses_what_is_not_a_map)
{
    /* {"a": 1, "long_key": [1, 2], "event": {"x": "y"}} */
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    msgpack_pack_str_with_body(&pk, "a", 1);
    msgpack_pack_uint8(&pk, 1);
    msgpack_pack_str_with_body(&pk, "long_key", 8);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_uint8(&pk, 1);
    msgpack_pack_uint8(&pk, 2);
    msgpack_pack_str_with_body(&pk, "event", 5);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str_with_body(&pk, "x", 1);
    msgpack_pack_str_with_body(&pk, "y", 1);

    size_t off, len;
    cr_assert_eq(msgpack_scan_map_field(sb.data, sb.size, "event", &off, &len), 0);
    cr_expect_eq(off + len, sb.size, "the last value ends the buffer");
    cr_expect_eq(len, 5); /* 0x81 0xa1 'x' 0xa1 'y' */
    cr_assert_eq(msgpack_scan_map_field(sb.data, sb.size, "long_key", &off, &len), 0);
    cr_expect_eq(len, 3);
    cr_expect_eq(msgpack_scan_map_field(sb.data, sb.size, "eve", &off, &len), -ENOENT);
    cr_expect_eq(msgpack_scan_map_field(sb.data, sb.size, "events", &off, &len), -ENOENT);

    /* Every truncation is refused, never read past. */
    for (size_t cut = 0; cut < sb.size; cut++) {
        int rc = msgpack_scan_map_field(sb.data, cut, "event", &off, &len);
        cr_expect(rc == -EBADMSG || (rc == 0 && off + len <= cut), "cut at %zu: %d", cut, rc);
        cr_expect_neq(rc, 0, "cut at %zu found a value that runs past the end", cut);
    }
    msgpack_sbuffer_destroy(&sb);

    static const struct {
        const char *name;
        const char *bytes;
        size_t len;
    } bad[] = {
        {"not a map", "\x91\x01", 2},
        {"int key", "\x81\x01\x01", 3},
        {"key length past the end",
         "\x81\xd9\xff"
         "abc",
         6},
        {"map32 count past the end",
         "\xdf\xff\xff\xff\xff\xa1"
         "a\x01",
         8},
        {"value past the end",
         "\x81\xa1"
         "a\xdb\x00\x00\xff\xff",
         8},
        {"bad byte as value",
         "\x81\xa1"
         "a\xc1",
         4},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(msgpack_scan_map_field(bad[i].bytes, bad[i].len, "a", &off, &len), -EBADMSG,
                     "%s", bad[i].name);
}

Test(msgpack_scan, map_fields_finds_several_in_one_pass_and_refuses_the_malformed)
{
    static const struct msgpack_scan_limits limits = {3, 16};
    static const char *const keys[] = {"seq", "prev", "absent"};
    /* {"seq": 7, "note": [1, [2]], "prev": "ab"} */
    static const char good[] = "\x83\xa3seq\x07\xa4note\x92\x01\x91\x02\xa4prev\xa2"
                               "ab";
    size_t off[3], len[3];

    cr_assert_eq(msgpack_scan_map_fields(RAW(good), &limits, keys, 3, off, len), 0);
    cr_expect_eq(off[0], 5);
    cr_expect_eq(len[0], 1);
    cr_expect_eq(len[1], 3);
    cr_expect_eq(memcmp(good + off[1],
                        "\xa2"
                        "ab",
                        3),
                 0);
    cr_expect_eq(len[2], 0, "an absent key has no value");

    static const struct {
        const char *name;
        const char *bytes;
        size_t len;
        struct msgpack_scan_limits limits;
    } bad[] = {
        {"empty", RAW(""), {3, 16}},
        {"not a map", RAW("\x91\x01"), {3, 16}},
        {"trailing byte", RAW("\x81\xa3seq\x07\x00"), {3, 16}},
        {"int key", RAW("\x81\x01\x07"), {3, 16}},
        {"wanted key twice", RAW("\x82\xa3seq\x07\xa3seq\x08"), {3, 16}},
        {"value cut short", RAW("\x81\xa3seq\xcd\x01"), {3, 16}},
        {"key past the end",
         RAW("\x81\xd9\xff"
             "abc"),
         {3, 16}},
        {"count past the end",
         RAW("\xdf\xff\xff\xff\xff\xa1"
             "a\x01"),
         {3, 16}},
        {"value too deep", RAW("\x81\xa1z\x91\x91\x90"), {3, 16}},
        {"value string too long", RAW("\x81\xa1z\xa3xyz"), {3, 2}},
        {"key too long", RAW("\x81\xa3xyz\x01"), {3, 2}},
        {"0xc1 in a value", RAW("\x81\xa1z\xc1"), {3, 16}},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_eq(
            msgpack_scan_map_fields(bad[i].bytes, bad[i].len, &bad[i].limits, keys, 3, off, len),
            -EBADMSG, "[%s]", bad[i].name);
    /* Depth 3 is the map and two levels inside it: one more is refused above. */
    cr_expect_eq(msgpack_scan_map_fields(RAW("\x81\xa1z\x91\x90"), &limits, keys, 3, off, len), 0);
    /* Every cut of the good map is refused. */
    for (size_t cut = 0; cut < sizeof(good) - 1; cut++)
        cr_expect_eq(msgpack_scan_map_fields(good, cut, &limits, keys, 3, off, len), -EBADMSG,
                     "cut at %zu", cut);
}
