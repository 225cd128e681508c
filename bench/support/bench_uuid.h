/*
 * bench_uuid: event ids made the way publishers make them, fast enough that
 * a benchmark's clients are never what limits it: UUIDv4 (random) and
 * UUIDv7 (48-bit Unix milliseconds, then random), RFC 9562. The random bits
 * come from a per-thread xoshiro256** generator seeded once by getrandom(),
 * not from a system call per id. Not for keys or anything secret.
 */
#ifndef MANDATED_BENCH_UUID_H
#define MANDATED_BENCH_UUID_H

#include <stdint.h>

#define BENCH_UUID_LEN 16

/* One generator per thread: it is not locked. */
struct bench_rng {
    uint64_t s[4];
};

/* Seeds from getrandom(); 0 or -errno. */
int bench_rng_seed(struct bench_rng *r);
uint64_t bench_rng_next(struct bench_rng *r);

/* Version 4: 122 random bits, version 0100 and variant 10 set. */
void bench_uuid_v4(struct bench_rng *r, uint8_t out[BENCH_UUID_LEN]);

/*
 * Version 7: bytes 0..5 unix_ms big-endian, then version 0111, 12 random
 * bits, variant 10 and 62 random bits. Ids of one millisecond are in random
 * order among themselves (RFC 9562 6.2 allows it); across milliseconds they
 * sort by time.
 */
void bench_uuid_v7(struct bench_rng *r, uint64_t unix_ms, uint8_t out[BENCH_UUID_LEN]);

#endif
