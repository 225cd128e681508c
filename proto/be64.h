/*
 * be64: unsigned 64-bit integers as 8 big-endian bytes, the key layout of
 * every LMDB table the project keeps (seqs and due times sort as numbers).
 */
#ifndef MANDATE_BE64_H
#define MANDATE_BE64_H

#include <stdint.h>

static inline void
be64_put(uint8_t out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)v;
        v >>= 8;
    }
}

static inline uint64_t
be64_get(const void *in)
{
    const uint8_t *b = in;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | b[i];
    return v;
}

#endif
