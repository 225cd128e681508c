/*
 * bench_event: the one event every intake benchmark publishes: an MEP/1
 * envelope of exactly BENCH_EVENT_BYTES, a valid press.conference_notice
 * from source bench, padded in its data. Its id says who sent it, so a reply
 * finds its send time without a table. The same bytes are the payload the
 * peer brokers of bench/peers store, so that every broker carries the same.
 */
#ifndef MANDATED_BENCH_EVENT_H
#define MANDATED_BENCH_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "proto/envelope.h"

#define BENCH_EVENT_BYTES  300 /* every encoded envelope is exactly this long */
#define BENCH_EVENT_TYPE   "press.conference_notice"
#define BENCH_EVENT_SOURCE "bench"
#define BENCH_EVENT_MAGIC  0xbe /* byte 0 of every id */

/* What the daemon's config says of the source: it may publish the bench's type. */
#define BENCH_EVENT_SOURCE_CONFIG "[source " BENCH_EVENT_SOURCE "]\nallow = " BENCH_EVENT_TYPE "\n"

/*
 * The id of event index of client in phase (0 warm-up, 1 measured): byte 0
 * BENCH_EVENT_MAGIC, byte 1 phase, byte 2 client, bytes 4..7 the index
 * big-endian, the rest 0x5a. The broker only checks the length.
 */
void bench_event_id(uint8_t id[ENVELOPE_ID_LEN], unsigned phase, unsigned client, uint32_t index);
uint32_t bench_event_id_index(const uint8_t id[ENVELOPE_ID_LEN]);
/* Rewrites the index of an id in place (bytes 4..7). */
void bench_event_id_set_index(uint8_t id[ENVELOPE_ID_LEN], uint32_t index);

/*
 * Encodes the event with that id into out (BENCH_EVENT_BYTES). Returns 0, or
 * -EINVAL when no padding makes the envelope exactly that long. The first
 * call finds the padding: make it before starting threads.
 */
int bench_event_make(uint8_t out[BENCH_EVENT_BYTES], unsigned phase, unsigned client,
                     uint32_t index);

/* Where the id of (phase, client, index) sits in an encoded event: exactly once, or -EINVAL. */
int bench_event_find_id(const uint8_t ev[BENCH_EVENT_BYTES], unsigned phase, unsigned client,
                        uint32_t index, size_t *ret_at);

#endif
