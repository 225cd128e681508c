#include "bench/support/bench_uuid.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

static uint64_t
s_rotl(uint64_t x, int k)
{
    return x << k | x >> (64 - k);
}

int
bench_rng_seed(struct bench_rng *r)
{
    size_t got = 0;
    while (got < sizeof r->s) {
        ssize_t n = getrandom((uint8_t *)r->s + got, sizeof r->s - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        got += (size_t)n;
    }
    /* The one state xoshiro never leaves; 2^-256, but then it would only ever give 0. */
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3]))
        r->s[0] = 1;
    return 0;
}

/* xoshiro256** 1.0 (Blackman and Vigna): a few ns a call, 2^256 - 1 period. */
uint64_t
bench_rng_next(struct bench_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = s_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = s_rotl(s[3], 45);
    return out;
}

void
bench_uuid_v4(struct bench_rng *r, uint8_t out[BENCH_UUID_LEN])
{
    uint64_t a = bench_rng_next(r), b = bench_rng_next(r);
    memcpy(out, &a, 8);
    memcpy(out + 8, &b, 8);
    out[6] = (uint8_t)(0x40 | (out[6] & 0x0f));
    out[8] = (uint8_t)(0x80 | (out[8] & 0x3f));
}

void
bench_uuid_v7(struct bench_rng *r, uint64_t unix_ms, uint8_t out[BENCH_UUID_LEN])
{
    uint64_t a = bench_rng_next(r), b = bench_rng_next(r);
    for (int i = 0; i < 6; i++)
        out[i] = (uint8_t)(unix_ms >> (40 - 8 * i));
    out[6] = (uint8_t)(0x70 | (a & 0x0f));
    out[7] = (uint8_t)(a >> 8);
    memcpy(out + 8, &b, 8);
    out[8] = (uint8_t)(0x80 | (out[8] & 0x3f));
}
