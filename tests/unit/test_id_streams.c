/*
 * id_streams: an id continues a stream when it is above the stream's last
 * id and shares its first bytes; streams are told apart when they
 * interleave; random ids continue none; the stream continued least lately
 * makes room for a new one.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "daemon/id_streams.h"

/* Publisher p's n-th id: p in its first bytes, n after them (big-endian). */
static void
s_id(uint8_t id[16], uint8_t p, uint32_t n)
{
    memset(id, 0, 16);
    id[0] = 0xbe;
    id[2] = p;
    for (int i = 0; i < 4; i++)
        id[4 + i] = (uint8_t)(n >> (24 - 8 * i));
}

Test(id_streams, an_id_above_a_streams_last_continues_it_once_the_stream_started)
{
    struct id_streams s;
    uint8_t id[16];
    id_streams_init(&s);
    s_id(id, 1, 10);
    cr_assert_not(id_streams_continue(&s, id), "no stream yet");
    id_streams_start(&s, id);
    s_id(id, 1, 11);
    cr_assert(id_streams_continue(&s, id));
    s_id(id, 1, 500);
    cr_assert(id_streams_continue(&s, id), "a gap in the same prefix is still the stream");
    s_id(id, 1, 499);
    cr_assert_not(id_streams_continue(&s, id), "below the stream's last id");
    s_id(id, 2, 1);
    cr_assert_not(id_streams_continue(&s, id), "another prefix is another stream");
}

Test(id_streams, interleaved_publishers_each_continue_their_own)
{
    struct id_streams s;
    uint8_t id[16];
    id_streams_init(&s);
    for (uint8_t p = 0; p < 8; p++) {
        s_id(id, p, 0);
        id_streams_start(&s, id);
    }
    for (uint32_t n = 1; n < 1000; n++)
        for (uint8_t p = 0; p < 8; p++) {
            s_id(id, (uint8_t)(7 - p), n);
            cr_assert(id_streams_continue(&s, id), "publisher %u's id %u", 7 - p, n);
        }
    for (unsigned i = 1; i < s.n; i++)
        cr_assert_leq(memcmp(s.tail[i - 1].id, s.tail[i].id, 16), 0, "tails out of order");
}

Test(id_streams, random_ids_continue_none)
{
    struct id_streams s;
    uint8_t id[16];
    uint64_t x = 88172645463325252ull;
    id_streams_init(&s);
    unsigned continued = 0;
    for (int i = 0; i < 100000; i++) {
        for (int j = 0; j < 16; j += 8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            memcpy(id + j, &x, 8);
        }
        if (id_streams_continue(&s, id))
            continued++;
        else
            id_streams_start(&s, id);
    }
    cr_assert_eq(continued, 0);
    cr_assert_eq(s.n, ID_STREAMS_MAX);
}

Test(id_streams, the_stream_continued_least_lately_makes_room)
{
    struct id_streams s;
    uint8_t id[16];
    id_streams_init(&s);
    for (unsigned p = 0; p < ID_STREAMS_MAX; p++) {
        s_id(id, (uint8_t)p, 0);
        id_streams_start(&s, id);
    }
    /* All but publisher 5 go on; a new one then takes 5's place. */
    for (unsigned p = 0; p < ID_STREAMS_MAX; p++) {
        s_id(id, (uint8_t)p, 1);
        if (p != 5)
            cr_assert(id_streams_continue(&s, id));
    }
    s_id(id, 200, 0);
    id_streams_start(&s, id);
    cr_assert_eq(s.n, ID_STREAMS_MAX);
    s_id(id, 5, 2);
    cr_assert_not(id_streams_continue(&s, id), "publisher 5 was forgotten");
    for (unsigned p = 0; p < ID_STREAMS_MAX; p++) {
        s_id(id, (uint8_t)p, 2);
        if (p != 5)
            cr_assert(id_streams_continue(&s, id), "publisher %u was forgotten", p);
    }
    s_id(id, 200, 1);
    cr_assert(id_streams_continue(&s, id));
}
