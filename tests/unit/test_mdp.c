/*
 * test_mdp: the MDP/0.1 worker-protocol codec. Both frame parsers against
 * every malformed shape (the error must name the frame or field at fault),
 * seq addresses, the READY credit extension, REQUEST and REPLY bodies
 * packed then decoded, and the opaque-outcome fallback.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "proto/mdp.h"

#define RAW(s) s, sizeof(s) - 1
#define FR(s)                                                                                      \
    {                                                                                              \
        s, sizeof(s) - 1                                                                           \
    }
#define NFR(a) (sizeof(a) / sizeof((a)[0]))

#define EMPTY FR("")
#define PROTO FR("MDPW01")

static struct mdp_msg s_msg;
static char s_err[MDP_ERROR_MAX];

static int
s_worker(const struct mdp_frame *f, size_t n)
{
    memset(s_err, 0, sizeof(s_err));
    return mdp_parse_from_worker(f, n, &s_msg, s_err);
}

static int
s_broker(const struct mdp_frame *f, size_t n)
{
    memset(s_err, 0, sizeof(s_err));
    return mdp_parse_from_broker(f, n, &s_msg, s_err);
}

/* Asserts a failed parse whose error contains want. */
#define ASSERT_FAILS(call, want)                                                                   \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        cr_assert_eq(rc_, -EBADMSG, "%s: rc %d", #call, rc_);                                      \
        cr_assert(strstr(s_err, want) != NULL, "error '%s' lacks '%s'", s_err, want);              \
    } while (0)

Test(mdp, names)
{
    cr_assert_str_eq(mdp_command_name(MDP_READY), "READY");
    cr_assert_str_eq(mdp_command_name(MDP_REQUEST), "REQUEST");
    cr_assert_str_eq(mdp_command_name(MDP_REPLY), "REPLY");
    cr_assert_str_eq(mdp_command_name(MDP_HEARTBEAT), "HEARTBEAT");
    cr_assert_str_eq(mdp_command_name(MDP_DISCONNECT), "DISCONNECT");
    cr_assert_str_eq(mdp_command_name((enum mdp_command)0), "?");
    cr_assert_str_eq(mdp_command_name((enum mdp_command)6), "?");
    cr_assert_str_eq(mdp_status_name(MDP_STATUS_DONE), "done");
    cr_assert_str_eq(mdp_status_name(MDP_STATUS_FAILED), "failed");
    cr_assert_str_eq(mdp_status_name(MDP_STATUS_RETRY), "retry");
    cr_assert_str_eq(mdp_status_name((enum mdp_status)3), "?");
}

/* ------------------------------------------------------------------------ */
/* Frames. */

Test(mdp, ready_plain)
{
    struct mdp_frame f[] = {EMPTY, PROTO, FR("\x01"), FR("press")};

    cr_assert_eq(s_worker(f, NFR(f)), 0, "%s", s_err);
    cr_assert_eq(s_msg.command, MDP_READY);
    cr_assert_str_eq(s_msg.service, "press");
    cr_assert_eq(s_msg.credit, 1, "plain MDP workers get 1");
}

Test(mdp, ready_with_credit)
{
    msgpack_sbuffer b;

    msgpack_sbuffer_init(&b);
    msgpack_sbuffer_write(&b, "stale", 5); /* cleared first */
    mdp_pack_credit(&b, 8);
    cr_assert_eq(b.size, 9);
    cr_assert_eq(memcmp(b.data,
                        "\x81\xa6"
                        "credit\x08",
                        9),
                 0);
    {
        struct mdp_frame f[] = {EMPTY, PROTO, FR("\x01"), FR("cyber"), {b.data, b.size}};

        cr_assert_eq(s_worker(f, NFR(f)), 0, "%s", s_err);
        cr_assert_str_eq(s_msg.service, "cyber");
        cr_assert_eq(s_msg.credit, 8);
    }
    /* A credit over the cap is capped, not refused. */
    mdp_pack_credit(&b, 1000000);
    {
        struct mdp_frame f[] = {EMPTY, PROTO, FR("\x01"), FR("cyber"), {b.data, b.size}};

        cr_assert_eq(s_worker(f, NFR(f)), 0, "%s", s_err);
        cr_assert_eq(s_msg.credit, MDP_CREDIT_MAX);
    }
    msgpack_sbuffer_destroy(&b);
}

Test(mdp, credit_huge_u64_capped_and_unknown_keys_ignored)
{
    struct mdp_frame f[] = {EMPTY, PROTO, FR("\x01"), FR("a"),
                            FR("\x82\xa1x\xc0\xa6"
                               "credit\xcf\xff\xff\xff\xff\xff\xff\xff\xff")};

    cr_assert_eq(s_worker(f, NFR(f)), 0, "%s", s_err);
    cr_assert_eq(s_msg.credit, MDP_CREDIT_MAX);
}

struct bad_credit {
    const char *bytes;
    size_t len;
    const char *want;
};

#define BC(s, want)                                                                                \
    {                                                                                              \
        s, sizeof(s) - 1, want                                                                     \
    }

Test(mdp, bad_credit_frames)
{
    static const struct bad_credit cases[] = {
        BC("", "frame 4: credit map: empty"),
        BC("hello", "frame 4: credit map: trailing bytes"),
        BC("\xc1", "frame 4: credit map: invalid msgpack byte"),
        BC("\x05", "frame 4: credit map expected, got uint"),
        BC("\x91\x01", "frame 4: credit map expected, got array"),
        BC("\x80", "frame 4: field 'credit': missing"),
        BC("\x81\xa6"
           "credit\x00",
           "frame 4: field 'credit': 0"),
        BC("\x81\xa6"
           "credit\xff",
           "frame 4: field 'credit': positive integer expected, got negative"),
        BC("\x81\xa6"
           "credit\xa1"
           "5",
           "frame 4: field 'credit': positive integer expected, got str"),
        BC("\x81\xa6"
           "credit\xcb\x40\x20\x00\x00\x00\x00\x00\x00",
           "frame 4: field 'credit': positive integer expected, got float"),
        BC("\x82\xa6"
           "credit\x01\xa6"
           "credit\x02",
           "frame 4: field 'credit': duplicate"),
        BC("\x81\xa6"
           "credit",
           "frame 4: credit map: truncated"),
        /* Declares 2^32-1 pairs in six bytes: refused before any allocation. */
        BC("\xdf\xff\xff\xff\xff\x00", "frame 4: credit map: truncated"),
        BC("\x81\xdb\xff\xff\xff\xff", "frame 4: credit map: truncated"),
    };
    char big[300];

    for (size_t i = 0; i < NFR(cases); i++) {
        struct mdp_frame f[] = {
            EMPTY, PROTO, FR("\x01"), FR("press"), {cases[i].bytes, cases[i].len}};

        ASSERT_FAILS(s_worker(f, NFR(f)), cases[i].want);
    }
    memset(big, 0xc0, sizeof(big));
    {
        struct mdp_frame f[] = {EMPTY, PROTO, FR("\x01"), FR("press"), {big, sizeof(big)}};

        ASSERT_FAILS(s_worker(f, NFR(f)), "frame 4: credit map longer than");
    }
}

Test(mdp, header_faults)
{
    struct mdp_frame none[1];
    struct mdp_frame not_empty[] = {FR("x"), PROTO, FR("\x04")};
    struct mdp_frame only_empty[] = {EMPTY};
    struct mdp_frame wrong_proto[] = {EMPTY, FR("MDPC01"), FR("\x04")};
    struct mdp_frame short_proto[] = {EMPTY, FR("MDPW0"), FR("\x04")};
    struct mdp_frame no_cmd[] = {EMPTY, PROTO};
    struct mdp_frame long_cmd[] = {EMPTY, PROTO, FR("\x04\x00")};
    struct mdp_frame empty_cmd[] = {EMPTY, PROTO, EMPTY};
    struct mdp_frame cmd0[] = {EMPTY, PROTO, FR("\x00")};
    struct mdp_frame cmd9[] = {EMPTY, PROTO, FR("\x09")};
    struct mdp_frame ascii_cmd[] = {EMPTY, PROTO, FR("4")};

    for (int side = 0; side < 2; side++) {
        int (*parse)(const struct mdp_frame *, size_t) = side ? s_broker : s_worker;

        ASSERT_FAILS(parse(none, 0), "frame 0: missing");
        ASSERT_FAILS(parse(not_empty, NFR(not_empty)), "frame 0: empty delimiter expected");
        ASSERT_FAILS(parse(only_empty, NFR(only_empty)), "frame 1: missing");
        ASSERT_FAILS(parse(wrong_proto, NFR(wrong_proto)), "frame 1: protocol 'MDPW01' expected");
        ASSERT_FAILS(parse(wrong_proto, NFR(wrong_proto)), "'MDPC01'");
        ASSERT_FAILS(parse(short_proto, NFR(short_proto)), "frame 1:");
        ASSERT_FAILS(parse(no_cmd, NFR(no_cmd)), "frame 2: missing");
        ASSERT_FAILS(parse(long_cmd, NFR(long_cmd)), "frame 2: command of 1 byte expected, got 2");
        ASSERT_FAILS(parse(empty_cmd, NFR(empty_cmd)),
                     "frame 2: command of 1 byte expected, got 0");
        ASSERT_FAILS(parse(cmd0, NFR(cmd0)), "frame 2: command 0x00");
        ASSERT_FAILS(parse(cmd9, NFR(cmd9)), "frame 2: command 0x09");
        ASSERT_FAILS(parse(ascii_cmd, NFR(ascii_cmd)), "frame 2: command 0x34");
    }
}

Test(mdp, commands_on_the_wrong_side)
{
    struct mdp_frame request[] = {EMPTY, PROTO, FR("\x02"), FR("1"), EMPTY, FR("\x80")};
    struct mdp_frame ready[] = {EMPTY, PROTO, FR("\x01"), FR("press")};
    struct mdp_frame reply[] = {EMPTY, PROTO, FR("\x03"), FR("1"), EMPTY, FR("\x80")};

    ASSERT_FAILS(s_worker(request, NFR(request)), "frame 2: command 0x02 (REQUEST)");
    ASSERT_FAILS(s_broker(ready, NFR(ready)), "frame 2: command 0x01 (READY)");
    ASSERT_FAILS(s_broker(reply, NFR(reply)), "frame 2: command 0x03 (REPLY)");
    cr_assert_eq(s_broker(request, NFR(request)), 0, "%s", s_err);
    cr_assert_eq(s_worker(reply, NFR(reply)), 0, "%s", s_err);
}

Test(mdp, ready_faults)
{
    char longname[MDP_SERVICE_MAX + 1];
    struct mdp_frame no_service[] = {EMPTY, PROTO, FR("\x01")};
    struct mdp_frame empty_service[] = {EMPTY, PROTO, FR("\x01"), EMPTY};
    struct mdp_frame nul_service[] = {EMPTY, PROTO, FR("\x01"), FR("pr\0ss")};
    struct mdp_frame space_service[] = {EMPTY, PROTO, FR("\x01"), FR("pr ss")};
    struct mdp_frame utf8_service[] = {EMPTY, PROTO, FR("\x01"), FR("b\xc3\xa1o")};
    struct mdp_frame too_many[] = {EMPTY,
                                   PROTO,
                                   FR("\x01"),
                                   FR("press"),
                                   FR("\x81\xa6"
                                      "credit\x01"),
                                   EMPTY};

    ASSERT_FAILS(s_worker(no_service, NFR(no_service)), "frame 3: missing");
    ASSERT_FAILS(s_worker(empty_service, NFR(empty_service)), "frame 3: service name is empty");
    ASSERT_FAILS(s_worker(nul_service, NFR(nul_service)), "frame 3: service name byte 2 (0x00)");
    ASSERT_FAILS(s_worker(space_service, NFR(space_service)), "frame 3: service name byte 2");
    ASSERT_FAILS(s_worker(utf8_service, NFR(utf8_service)), "frame 3: service name byte 1");
    ASSERT_FAILS(s_worker(too_many, NFR(too_many)), "frame 5: unexpected");

    memset(longname, 'a', sizeof(longname));
    {
        struct mdp_frame f[] = {EMPTY, PROTO, FR("\x01"), {longname, MDP_SERVICE_MAX + 1}};

        ASSERT_FAILS(s_worker(f, NFR(f)), "frame 3: service name longer than 64 bytes");
        f[3].len = MDP_SERVICE_MAX; /* the boundary itself is fine */
        cr_assert_eq(s_worker(f, NFR(f)), 0, "%s", s_err);
        cr_assert_eq(strlen(s_msg.service), MDP_SERVICE_MAX);
    }
}

Test(mdp, heartbeat_and_disconnect)
{
    struct mdp_frame hb[] = {EMPTY, PROTO, FR("\x04")};
    struct mdp_frame dc[] = {EMPTY, PROTO, FR("\x05")};
    struct mdp_frame hb_extra[] = {EMPTY, PROTO, FR("\x04"), EMPTY};
    struct mdp_frame dc_extra[] = {EMPTY, PROTO, FR("\x05"), FR("bye")};

    for (int side = 0; side < 2; side++) {
        int (*parse)(const struct mdp_frame *, size_t) = side ? s_broker : s_worker;

        cr_assert_eq(parse(hb, NFR(hb)), 0, "%s", s_err);
        cr_assert_eq(s_msg.command, MDP_HEARTBEAT);
        cr_assert_eq(parse(dc, NFR(dc)), 0, "%s", s_err);
        cr_assert_eq(s_msg.command, MDP_DISCONNECT);
        ASSERT_FAILS(parse(hb_extra, NFR(hb_extra)), "frame 3: unexpected, HEARTBEAT");
        ASSERT_FAILS(parse(dc_extra, NFR(dc_extra)), "frame 3: unexpected, DISCONNECT");
    }
}

Test(mdp, addressed_faults)
{
    char longaddr[MDP_ADDRESS_MAX + 1];

    for (int side = 0; side < 2; side++) {
        int (*parse)(const struct mdp_frame *, size_t) = side ? s_broker : s_worker;
        const char *cmd = side ? "\x02" : "\x03";
        struct mdp_frame no_addr[] = {EMPTY, PROTO, {cmd, 1}};
        struct mdp_frame empty_addr[] = {EMPTY, PROTO, {cmd, 1}, EMPTY, EMPTY, FR("\x80")};
        struct mdp_frame no_delim[] = {EMPTY, PROTO, {cmd, 1}, FR("17")};
        struct mdp_frame bad_delim[] = {EMPTY, PROTO, {cmd, 1}, FR("17"), FR("\x80")};

        ASSERT_FAILS(parse(no_addr, NFR(no_addr)), "frame 3: missing, client address");
        ASSERT_FAILS(parse(empty_addr, NFR(empty_addr)), "frame 3: client address is empty");
        ASSERT_FAILS(parse(no_delim, NFR(no_delim)), "frame 4: missing, empty delimiter");
        ASSERT_FAILS(parse(bad_delim, NFR(bad_delim)), "frame 4: empty delimiter expected");
        memset(longaddr, '1', sizeof(longaddr));
        {
            struct mdp_frame f[] = {EMPTY, PROTO, {cmd, 1}, {longaddr, sizeof(longaddr)}, EMPTY};

            ASSERT_FAILS(parse(f, NFR(f)), "frame 3: client address longer than 255");
        }
    }
}

Test(mdp, request_frames_and_body)
{
    struct mdp_frame f[] = {EMPTY, PROTO,      FR("\x02"), FR("18446744073709551615"),
                            EMPTY, FR("\x80"), FR("x")};

    cr_assert_eq(s_broker(f, NFR(f)), 0, "%s", s_err);
    cr_assert_eq(s_msg.command, MDP_REQUEST);
    cr_assert(s_msg.has_seq);
    cr_assert_eq(s_msg.seq, UINT64_MAX);
    cr_assert_eq(s_msg.address_len, 20);
    cr_assert_eq(memcmp(s_msg.address, "18446744073709551615", 20), 0);
    cr_assert_eq(s_msg.nbody, 2);
    cr_assert_eq(s_msg.body, &f[5]);
    /* No body frame at all is a valid shape; the body decoder judges it. */
    cr_assert_eq(s_broker(f, 5), 0, "%s", s_err);
    cr_assert_eq(s_msg.nbody, 0);
}

/* Any client address is accepted (RFC 7); only a canonical decimal is a seq. */
Test(mdp, non_seq_addresses)
{
    static const struct {
        const char *addr;
        const char *want;
    } cases[] = {
        {"abc", "frame 3: client address 'abc' is not a decimal seq"},
        {"12a", "frame 3: client address '12a' is not a decimal seq"},
        {"-1", "frame 3: client address '-1' is not a decimal seq"},
        {"+1", "frame 3: client address '+1' is not a decimal seq"},
        {" 1", "frame 3: client address ' 1' is not a decimal seq"},
        {"0", "frame 3: client address '0' is not a seq (seq 0)"},
        {"007", "frame 3: client address '007' is not a seq (leading zero)"},
        {"18446744073709551616", "frame 3: client address '18446744073709551616' overflows"},
        {"99999999999999999999999", "overflows a 64-bit seq"},
    };

    for (size_t i = 0; i < NFR(cases); i++) {
        struct mdp_frame f[] = {
            EMPTY, PROTO, FR("\x03"), {cases[i].addr, strlen(cases[i].addr)}, EMPTY, FR("\x80")};
        uint64_t seq = 42;

        cr_assert_eq(s_worker(f, NFR(f)), 0, "%s", s_err);
        cr_assert_not(s_msg.has_seq, "%s", cases[i].addr);
        ASSERT_FAILS(mdp_address_seq(cases[i].addr, strlen(cases[i].addr), &seq, s_err),
                     cases[i].want);
        cr_assert_eq(seq, 42, "untouched on failure");
    }
    {
        uint64_t seq = 42;

        ASSERT_FAILS(mdp_address_seq("1\0", 2, &seq, s_err), "'1\\x00' is not a decimal seq");
        ASSERT_FAILS(mdp_address_seq("", 0, &seq, s_err), "frame 3: client address is empty");
    }
}

Test(mdp, seq_address_round_trip)
{
    static const uint64_t seqs[] = {1, 9, 10, 4096, 1ULL << 53, UINT64_MAX - 1, UINT64_MAX};
    char buf[24];

    for (size_t i = 0; i < NFR(seqs); i++) {
        size_t n = mdp_seq_address(seqs[i], buf);
        uint64_t back = 0;
        char want[32];

        snprintf(want, sizeof(want), "%llu", (unsigned long long)seqs[i]);
        cr_assert_eq(n, strlen(want));
        cr_assert_eq(memcmp(buf, want, n), 0);
        cr_assert_eq(mdp_address_seq(buf, n, &back, s_err), 0, "%s", s_err);
        cr_assert_eq(back, seqs[i]);
    }
}

/* ------------------------------------------------------------------------ */
/* REQUEST bodies. */

/* A small valid-looking envelope map; mdp does not validate the envelope. */
static const char s_env[] = "\x82\xa4type\xa9press.x.y\xa1v\x01";

Test(mdp, request_round_trip)
{
    msgpack_sbuffer b;
    struct mdp_request r;

    msgpack_sbuffer_init(&b);
    msgpack_sbuffer_write(&b, "stale", 5);
    mdp_pack_request(&b, UINT64_MAX, 3, "press", RAW(s_env));
    memset(&r, 0xa5, sizeof(r));
    cr_assert_eq(mdp_request_decode(b.data, b.size, &r, s_err), 0, "%s", s_err);
    /* The result owns a copy: wipe the wire bytes before looking. */
    memset(b.data, 0, b.size);
    cr_assert_eq(r.seq, UINT64_MAX);
    cr_assert_eq(r.attempt, 3);
    cr_assert_str_eq(r.area, "press");
    cr_assert_not_null(r.event);
    cr_assert_eq(r.event->type, MSGPACK_OBJECT_MAP);
    cr_assert_eq(r.event->via.map.size, 2);
    cr_assert_eq(r.event->via.map.ptr[0].val.via.str.size, 9);
    cr_assert_eq(memcmp(r.event->via.map.ptr[0].val.via.str.ptr, "press.x.y", 9), 0);
    mdp_request_release(&r);
    mdp_request_release(&r); /* safe twice */
    mdp_request_release(NULL);
    msgpack_sbuffer_destroy(&b);
}

Test(mdp, request_unknown_keys_ignored)
{
    struct mdp_request r;

    cr_assert_eq(mdp_request_decode(RAW("\x85\xa3seq\x01\xa7"
                                        "attempt\x00\xa4"
                                        "area\xa1z\xa5"
                                        "event\x80\xa5later\x93\x01\x02\x03"),
                                    &r, s_err),
                 0, "%s", s_err);
    cr_assert_eq(r.seq, 1);
    cr_assert_eq(r.attempt, 0);
    mdp_request_release(&r);
}

struct bad_body {
    const char *bytes;
    size_t len;
    const char *want;
};

#define BB(s, want)                                                                                \
    {                                                                                              \
        s, sizeof(s) - 1, want                                                                     \
    }

#define REQ_TAIL                                                                                   \
    "\xa4"                                                                                         \
    "area\xa5press\xa5"                                                                            \
    "event\x80"

Test(mdp, request_faults)
{
    static const struct bad_body cases[] = {
        BB("", "body: empty"),
        BB("\xc1", "body: invalid msgpack byte"),
        BB("\x80\x80", "body: trailing bytes"),
        BB("\x84\xa3seq", "body: truncated msgpack"),
        BB("\x84\xa3seq\x01\xa7"
           "attempt\x01" REQ_TAIL "\x00",
           "body: trailing bytes"),
        /* Declared lengths far past the bytes: refused by the scan, nothing allocated. */
        BB("\xdf\xff\xff\xff\xff", "body: truncated msgpack"),
        BB("\xdd\x7f\xff\xff\xff\x00", "body: truncated msgpack"),
        BB("\x81\xa3seq\xdb\xff\xff\xff\xf0"
           "abc",
           "body: truncated msgpack"),
        BB("\x81\xa3seq\xc6\xff\xff\xff\xf0"
           "abc",
           "body: truncated msgpack"),
        BB("\x93\x01\x02\x03", "body: map expected, got array"),
        BB("\xa3seq", "body: map expected, got str"),
        BB("\x83\xa7"
           "attempt\x01" REQ_TAIL,
           "field 'seq': missing"),
        BB("\x83\xa3seq\x01" REQ_TAIL, "field 'attempt': missing"),
        BB("\x83\xa3seq\x01\xa7"
           "attempt\x01\xa5"
           "event\x80",
           "field 'area': missing"),
        BB("\x83\xa3seq\x01\xa7"
           "attempt\x01\xa4"
           "area\xa1z",
           "field 'event': missing"),
        BB("\x84\xa3seq\xa1"
           "1\xa7"
           "attempt\x01" REQ_TAIL,
           "field 'seq': not a positive integer"),
        BB("\x84\xa3seq\x00\xa7"
           "attempt\x01" REQ_TAIL,
           "field 'seq': not a positive integer"),
        BB("\x84\xa3seq\xff\xa7"
           "attempt\x01" REQ_TAIL,
           "field 'seq': not a positive integer"),
        BB("\x84\xa3seq\x01\xa7"
           "attempt\xff" REQ_TAIL,
           "field 'attempt': not an unsigned integer"),
        BB("\x84\xa3seq\x01\xa7"
           "attempt\xc3" REQ_TAIL,
           "field 'attempt': not an unsigned integer"),
        BB("\x84\xa3seq\x01\xa7"
           "attempt\xcf\x00\x00\x00\x01\x00\x00\x00\x00" REQ_TAIL,
           "field 'attempt': not an unsigned integer"),
        BB("\x84\xa3seq\x01\xa7"
           "attempt\x01\xa4"
           "area\x05\xa5"
           "event\x80",
           "field 'area': str expected, got uint"),
        BB("\x84\xa3seq\x01\xa7"
           "attempt\x01\xa4"
           "area\xa0\xa5"
           "event\x80",
           "field 'area': 1 to"),
        BB("\x84\xa3seq\x01\xa7"
           "attempt\x01\xa4"
           "area\xa3p\0s\xa5"
           "event\x80",
           "field 'area': 1 to"),
        BB("\x84\xa3seq\x01\xa7"
           "attempt\x01\xa4"
           "area\xa1z\xa5"
           "event\xc4\x01x",
           "field 'event': map expected, got bin"),
        BB("\x84\xa3seq\x01\xa7"
           "attempt\x01\xa4"
           "area\xa1z\xa5"
           "event\xc0",
           "field 'event': map expected, got nil"),
        BB("\x85\xa3seq\x01\xa3seq\x02\xa7"
           "attempt\x01" REQ_TAIL,
           "field 'seq': duplicate"),
    };
    char longarea[200];

    for (size_t i = 0; i < NFR(cases); i++) {
        struct mdp_request r;

        memset(&r, 0x5a, sizeof(r));
        memset(s_err, 0, sizeof(s_err));
        ASSERT_FAILS(mdp_request_decode(cases[i].bytes, cases[i].len, &r, s_err), cases[i].want);
        cr_assert_eq(r.seq, 0x5a5a5a5a5a5a5a5aULL, "untouched on failure");
    }
    /* An area name over MDP_SERVICE_MAX. */
    {
        msgpack_sbuffer b;
        struct mdp_request r;

        memset(longarea, 'a', MDP_SERVICE_MAX + 1);
        longarea[MDP_SERVICE_MAX + 1] = '\0';
        msgpack_sbuffer_init(&b);
        mdp_pack_request(&b, 5, 1, longarea, RAW("\x80"));
        ASSERT_FAILS(mdp_request_decode(b.data, b.size, &r, s_err), "field 'area': 1 to 64");
        longarea[MDP_SERVICE_MAX] = '\0';
        mdp_pack_request(&b, 5, 1, longarea, RAW("\x80"));
        cr_assert_eq(mdp_request_decode(b.data, b.size, &r, s_err), 0, "%s", s_err);
        mdp_request_release(&r);
        msgpack_sbuffer_destroy(&b);
    }
}

/* Every prefix of a valid body is refused cleanly, never read past. */
Test(mdp, request_every_truncation)
{
    msgpack_sbuffer b;

    msgpack_sbuffer_init(&b);
    mdp_pack_request(&b, 77, 2, "press", RAW(s_env));
    for (size_t n = 0; n < b.size; n++) {
        struct mdp_request r;
        char *copy = malloc(n ? n : 1);

        memcpy(copy, b.data, n);
        cr_assert_eq(mdp_request_decode(copy, n, &r, s_err), -EBADMSG, "prefix %zu", n);
        cr_assert(strncmp(s_err, "body: ", 6) == 0, "prefix %zu: %s", n, s_err);
        free(copy);
    }
    msgpack_sbuffer_destroy(&b);
}

/* ------------------------------------------------------------------------ */
/* REPLY bodies. */

Test(mdp, outcome_round_trip)
{
    msgpack_sbuffer b, emit[2];
    struct mdp_outcome o;

    msgpack_sbuffer_init(&b);
    msgpack_sbuffer_init(&emit[0]);
    msgpack_sbuffer_init(&emit[1]);
    msgpack_sbuffer_write(&emit[0], RAW("\x81\xa1"
                                        "a\x01"));
    msgpack_sbuffer_write(&emit[1], RAW("\x80"));

    mdp_pack_outcome(&b, MDP_STATUS_RETRY, "later", RAW("\x81\xa1k\xa1v"), emit, 2);
    mdp_outcome_decode(b.data, b.size, &o);
    memset(b.data, 0, b.size); /* the outcome owns a copy */
    cr_assert_not(o.opaque);
    cr_assert_eq(o.status, MDP_STATUS_RETRY);
    cr_assert_str_eq(o.note, "later");
    cr_assert_not_null(o.result);
    cr_assert_eq(o.result->type, MSGPACK_OBJECT_MAP);
    cr_assert_eq(o.result->via.map.size, 1);
    cr_assert_eq(o.nemit, 2);
    cr_assert_eq(o.emit[0].type, MSGPACK_OBJECT_MAP);
    cr_assert_eq(o.emit[0].via.map.size, 1);
    cr_assert_eq(o.emit[1].via.map.size, 0);
    mdp_outcome_release(&o);
    mdp_outcome_release(&o);
    mdp_outcome_release(NULL);

    /* The smallest: no result, no emit, no note. */
    mdp_pack_outcome(&b, MDP_STATUS_DONE, NULL, NULL, 0, NULL, 0);
    cr_assert_eq(b.size, 19);
    cr_assert_eq(memcmp(b.data,
                        "\x82\xa6status\xa4"
                        "done\xa4note\xa0",
                        19),
                 0);
    mdp_outcome_decode(b.data, b.size, &o);
    cr_assert_not(o.opaque);
    cr_assert_eq(o.status, MDP_STATUS_DONE);
    cr_assert_str_eq(o.note, "");
    cr_assert_null(o.result);
    cr_assert_null(o.emit);
    cr_assert_eq(o.nemit, 0);
    mdp_outcome_release(&o);

    mdp_pack_outcome(&b, MDP_STATUS_FAILED, "field 'type': bad", NULL, 0, NULL, 0);
    mdp_outcome_decode(b.data, b.size, &o);
    cr_assert_not(o.opaque);
    cr_assert_eq(o.status, MDP_STATUS_FAILED);
    cr_assert_str_eq(o.note, "field 'type': bad");
    mdp_outcome_release(&o);

    msgpack_sbuffer_destroy(&emit[0]);
    msgpack_sbuffer_destroy(&emit[1]);
    msgpack_sbuffer_destroy(&b);
}

Test(mdp, outcome_status_only_and_nil_result)
{
    struct mdp_outcome o;

    mdp_outcome_decode(RAW("\x81\xa6status\xa6"
                           "failed"),
                       &o);
    cr_assert_not(o.opaque);
    cr_assert_eq(o.status, MDP_STATUS_FAILED);
    mdp_outcome_release(&o);
    mdp_outcome_decode(RAW("\x83\xa6status\xa4"
                           "done\xa6result\xc0\xa4"
                           "emit\x90"),
                       &o);
    cr_assert_not(o.opaque);
    cr_assert_null(o.result);
    cr_assert_eq(o.nemit, 0);
    mdp_outcome_release(&o);
}

Test(mdp, note_cut_on_a_character)
{
    char note[MDP_NOTE_MAX + 100];
    msgpack_sbuffer b;
    struct mdp_outcome o;

    memset(note, 'x', sizeof(note));
    memcpy(note + MDP_NOTE_MAX - 1, "\xc3\xa9", 2); /* é across the cut */
    note[sizeof(note) - 1] = '\0';
    msgpack_sbuffer_init(&b);
    mdp_pack_outcome(&b, MDP_STATUS_DONE, note, NULL, 0, NULL, 0);
    mdp_outcome_decode(b.data, b.size, &o);
    cr_assert_not(o.opaque);
    cr_assert_eq(strlen(o.note), MDP_NOTE_MAX - 1);
    mdp_outcome_release(&o);

    /* A long note packed by someone else is cut by the decoder, on a character too. */
    {
        msgpack_packer pk;

        msgpack_sbuffer_clear(&b);
        msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 2);
        msgpack_pack_str_with_body(&pk, "status", 6);
        msgpack_pack_str_with_body(&pk, "retry", 5);
        msgpack_pack_str_with_body(&pk, "note", 4);
        msgpack_pack_str_with_body(&pk, note, strlen(note));
    }
    mdp_outcome_decode(b.data, b.size, &o);
    cr_assert_not(o.opaque);
    cr_assert_eq(o.status, MDP_STATUS_RETRY);
    cr_assert_eq(strlen(o.note), MDP_NOTE_MAX - 1);
    cr_assert_eq(memcmp(o.note, note, MDP_NOTE_MAX - 1), 0);
    mdp_outcome_release(&o);
    msgpack_sbuffer_destroy(&b);
}

Test(mdp, opaque_outcomes)
{
    static const struct bad_body cases[] = {
        BB("", "empty"),
        BB("done", "not msgpack"),
        BB("\xc1", "bad byte"),
        BB("\x81\xa6status", "truncated"),
        BB("\xdf\xff\xff\xff\xff", "huge declared map"),
        BB("\x81\xa6status\xdb\xff\xff\xff\xff", "huge declared str"),
        BB("\xa4"
           "done",
           "not a map"),
        BB("\x80", "no status"),
        BB("\x81\xa6status\xa2ok", "unknown status"),
        BB("\x81\xa6status\x01", "status not a str"),
        BB("\x82\xa6status\xa4"
           "done\xa4"
           "more\x01",
           "unknown key"),
        BB("\x82\xa6status\xa4"
           "done\xa6status\xa4"
           "done",
           "duplicate key"),
        BB("\x82\xa6status\xa4"
           "done\xa4note\x01",
           "note not a str"),
        BB("\x82\xa6status\xa4"
           "done\xa4note\xa2\xff\xfe",
           "note not UTF-8"),
        BB("\x82\xa6status\xa4"
           "done\xa4note\xa2"
           "a\0",
           "note with NUL"),
        BB("\x82\xa6status\xa4"
           "done\xa6result\x91\x01",
           "result not a map"),
        BB("\x82\xa6status\xa4"
           "done\xa4"
           "emit\x80",
           "emit not an array"),
        BB("\x82\xa6status\xa4"
           "done\xa4"
           "emit\x92\x80\x01",
           "emit element not a map"),
        BB("\x81\x01\xa4"
           "done",
           "key not a str"),
        BB("\x81\xa6status\xa4"
           "done\x00",
           "trailing bytes"),
    };

    for (size_t i = 0; i < NFR(cases); i++) {
        struct mdp_outcome o;
        uint8_t want[32];

        memset(&o, 0x5a, sizeof(o));
        mdp_outcome_decode(cases[i].bytes, cases[i].len, &o);
        cr_assert(o.opaque, "%s", cases[i].want);
        cr_assert_eq(o.status, MDP_STATUS_DONE, "%s", cases[i].want);
        cr_assert_str_eq(o.note, "", "%s", cases[i].want);
        cr_assert_null(o.result);
        cr_assert_null(o.emit);
        cr_assert_eq(o.nemit, 0);
        crypto_generichash(want, sizeof(want), (const uint8_t *)cases[i].bytes, cases[i].len, NULL,
                           0);
        cr_assert_arr_eq(o.hash, want, 32, "%s", cases[i].want);
        mdp_outcome_release(&o);
    }
}

/* The hash is BLAKE2b-256 of the body: pinned for the empty body. */
Test(mdp, opaque_hash_is_blake2b_256)
{
    static const uint8_t empty_hash[32] = {
        0x0e, 0x57, 0x51, 0xc0, 0x26, 0xe5, 0x43, 0xb2, 0xe8, 0xab, 0x2e,
        0xb0, 0x60, 0x99, 0xda, 0xa1, 0xd1, 0xe5, 0xdf, 0x47, 0x77, 0x8f,
        0x77, 0x87, 0xfa, 0xab, 0x45, 0xcd, 0xf1, 0x2f, 0xe3, 0xa8,
    };
    struct mdp_outcome o;

    mdp_outcome_decode("", 0, &o);
    cr_assert(o.opaque);
    cr_assert_arr_eq(o.hash, empty_hash, 32);
    mdp_outcome_release(&o);
}
