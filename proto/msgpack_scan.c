/*
 * msgpack_scan: the bounds check that runs on every message before msgpack-c
 * sees it. One forward pass, no allocation and no recursion: a fixed stack
 * holds, per open container, how many objects it still owes, so hostile
 * nesting costs at most MSGPACK_SCAN_DEPTH_CAP slots.
 */
#include "proto/msgpack_scan.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Reads an n-byte big-endian unsigned integer (n <= 4 here). */
static inline uint64_t
s_be(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

enum s_kind { S_FIXED, S_SIZED, S_ARRAY, S_MAP };

enum msgpack_scan_result
msgpack_scan_one(const void *buf, size_t len, const struct msgpack_scan_limits *limits,
                 size_t *ret_consumed, size_t *ret_offset)
{
    const uint8_t *const start = buf;
    const uint8_t *const end = start + len;
    const uint8_t *p = start;
    const uint8_t *obj = start;
    const unsigned max_depth =
        limits->max_depth < MSGPACK_SCAN_DEPTH_CAP ? limits->max_depth : MSGPACK_SCAN_DEPTH_CAP;
    /* owed[d]: objects the container open at depth d + 1 has still to yield. */
    uint64_t owed[MSGPACK_SCAN_DEPTH_CAP];
    unsigned depth = 0;
    /*
     * Objects declared but not yet read, over all open containers. Each takes
     * at least one byte, so this may never exceed the bytes that remain: that
     * one comparison is what keeps msgpack-c from allocating for lies.
     */
    uint64_t need = 1;
    enum msgpack_scan_result r;

    if (len == 0) {
        r = MSGPACK_SCAN_EMPTY;
        goto fail;
    }

    for (;;) {
        const size_t avail = (size_t)(end - p);
        enum s_kind kind = S_FIXED;
        size_t fixed = 1;   /* S_FIXED: whole object size */
        unsigned lsz = 0;   /* bytes of the length / count field */
        unsigned extra = 0; /* the ext type byte */
        uint64_t n = 0;     /* payload bytes, or element count */
        uint8_t b;

        obj = p;
        if (avail == 0) {
            r = MSGPACK_SCAN_TRUNCATED;
            goto fail;
        }
        if (depth > 0)
            owed[depth - 1]--;
        need--;

        b = *p;
        if (b <= 0x7f || b >= 0xe0) {
            fixed = 1;
        } else if (b <= 0x8f) {
            kind = S_MAP;
            n = b & 0x0f;
        } else if (b <= 0x9f) {
            kind = S_ARRAY;
            n = b & 0x0f;
        } else if (b <= 0xbf) {
            kind = S_SIZED;
            n = b & 0x1f;
        } else {
            switch (b) {
            case 0xc1:
                r = MSGPACK_SCAN_BAD_BYTE;
                goto fail;
            case 0xc0: /* nil */
            case 0xc2: /* false */
            case 0xc3: /* true */
                fixed = 1;
                break;
            case 0xc4: /* bin 8 */
            case 0xd9: /* str 8 */
                kind = S_SIZED;
                lsz = 1;
                break;
            case 0xc5:
            case 0xda:
                kind = S_SIZED;
                lsz = 2;
                break;
            case 0xc6:
            case 0xdb:
                kind = S_SIZED;
                lsz = 4;
                break;
            case 0xc7: /* ext 8/16/32: length, then type */
                kind = S_SIZED;
                lsz = 1;
                extra = 1;
                break;
            case 0xc8:
                kind = S_SIZED;
                lsz = 2;
                extra = 1;
                break;
            case 0xc9:
                kind = S_SIZED;
                lsz = 4;
                extra = 1;
                break;
            case 0xcc: /* uint 8 */
            case 0xd0: /* int 8 */
                fixed = 2;
                break;
            case 0xcd:
            case 0xd1:
                fixed = 3;
                break;
            case 0xca: /* float 32 */
            case 0xce:
            case 0xd2:
                fixed = 5;
                break;
            case 0xcb: /* float 64 */
            case 0xcf:
            case 0xd3:
                fixed = 9;
                break;
            case 0xd4: /* fixext 1, 2, 4, 8, 16 */
            case 0xd5:
            case 0xd6:
            case 0xd7:
            case 0xd8:
                kind = S_SIZED;
                extra = 1;
                n = 1u << (b - 0xd4);
                break;
            case 0xdc:
                kind = S_ARRAY;
                lsz = 2;
                break;
            case 0xdd:
                kind = S_ARRAY;
                lsz = 4;
                break;
            case 0xde:
                kind = S_MAP;
                lsz = 2;
                break;
            default: /* 0xdf */
                kind = S_MAP;
                lsz = 4;
                break;
            }
        }

        if (kind == S_FIXED) {
            if (avail < fixed) {
                r = MSGPACK_SCAN_TRUNCATED;
                goto fail;
            }
            p += fixed;
        } else {
            const size_t hdr = 1 + lsz + extra;
            size_t rest;

            if (avail < hdr) {
                r = MSGPACK_SCAN_TRUNCATED;
                goto fail;
            }
            if (lsz > 0)
                n = s_be(p + 1, lsz);
            rest = avail - hdr;
            p += hdr;
            if (kind == S_SIZED) {
                /* A lie about the length is malformed input before it is too long. */
                if (n > rest) {
                    r = MSGPACK_SCAN_TRUNCATED;
                    goto fail;
                }
                if (n > limits->max_str) {
                    r = MSGPACK_SCAN_STR_TOO_LONG;
                    goto fail;
                }
                p += n;
            } else {
                if (depth >= max_depth) {
                    r = MSGPACK_SCAN_TOO_DEEP;
                    goto fail;
                }
                if (kind == S_MAP)
                    n *= 2;
                need += n;
                if (need > rest) {
                    r = MSGPACK_SCAN_TRUNCATED;
                    goto fail;
                }
                if (n > 0) {
                    owed[depth++] = n;
                    continue;
                }
            }
        }

        /* One object complete: close every container it completed. */
        while (depth > 0 && owed[depth - 1] == 0)
            depth--;
        if (depth == 0)
            break;
    }

    if (ret_consumed)
        *ret_consumed = (size_t)(p - start);
    return MSGPACK_SCAN_OK;

fail:
    if (ret_offset)
        *ret_offset = (size_t)(obj - start);
    return r;
}

enum msgpack_scan_result
msgpack_scan(const void *buf, size_t len, const struct msgpack_scan_limits *limits,
             size_t *ret_offset)
{
    size_t used = 0;
    enum msgpack_scan_result r = msgpack_scan_one(buf, len, limits, &used, ret_offset);

    if (r == MSGPACK_SCAN_OK && used != len) {
        if (ret_offset)
            *ret_offset = used;
        return MSGPACK_SCAN_TRAILING;
    }
    return r;
}

const char *
msgpack_scan_strerror(enum msgpack_scan_result r)
{
    switch (r) {
    case MSGPACK_SCAN_OK:
        return "ok";
    case MSGPACK_SCAN_TRUNCATED:
        return "truncated msgpack";
    case MSGPACK_SCAN_BAD_BYTE:
        return "invalid msgpack byte 0xc1";
    case MSGPACK_SCAN_TRAILING:
        return "trailing bytes after the msgpack object";
    case MSGPACK_SCAN_TOO_DEEP:
        return "nesting too deep";
    case MSGPACK_SCAN_STR_TOO_LONG:
        return "string too long";
    case MSGPACK_SCAN_EMPTY:
        return "empty message";
    }
    return "unknown scan result";
}

/* The str header at p: 0 with the header and string sizes set, or -EBADMSG if p is not a str. */
static int
s_str_header(const uint8_t *p, size_t avail, size_t *ret_hdr, size_t *ret_len)
{
    if (avail < 1)
        return -EBADMSG;
    if ((p[0] & 0xe0) == 0xa0) {
        *ret_hdr = 1;
        *ret_len = p[0] & 0x1f;
        return 0;
    }
    unsigned width = p[0] == 0xd9 ? 1 : p[0] == 0xda ? 2 : p[0] == 0xdb ? 4 : 0;
    if (!width || avail < 1 + (size_t)width)
        return -EBADMSG;
    *ret_hdr = 1 + (size_t)width;
    *ret_len = s_be(p + 1, width);
    return 0;
}

/* The map header at p: 0 with its size and pair count set, or -EBADMSG. */
static int
s_map_header(const uint8_t *p, size_t len, size_t *ret_hdr, size_t *ret_pairs)
{
    size_t n, off;

    if (len < 1)
        return -EBADMSG;
    if ((p[0] & 0xf0) == 0x80) {
        n = p[0] & 0x0f;
        off = 1;
    } else if (p[0] == 0xde && len >= 3) {
        n = s_be(p + 1, 2);
        off = 3;
    } else if (p[0] == 0xdf && len >= 5) {
        n = s_be(p + 1, 4);
        off = 5;
    } else {
        return -EBADMSG;
    }
    /* Every pair takes two bytes at least: a count beyond that is a lie. */
    if (n > (len - off) / 2)
        return -EBADMSG;
    *ret_hdr = off;
    *ret_pairs = n;
    return 0;
}

int
msgpack_scan_map_fields(const void *buf, size_t len, const struct msgpack_scan_limits *limits,
                        const char *const *keys, size_t nkeys, size_t *ret_off, size_t *ret_len)
{
    const uint8_t *p = buf;
    /* The map itself is the first level of nesting its values sit in. */
    const struct msgpack_scan_limits inner = {
        .max_depth = limits->max_depth > 0 ? limits->max_depth - 1 : 0,
        .max_str = limits->max_str,
    };
    size_t off, n;

    if (limits->max_depth < 1 || s_map_header(p, len, &off, &n) < 0)
        return -EBADMSG;
    for (size_t k = 0; k < nkeys; k++)
        ret_len[k] = 0;
    for (size_t i = 0; i < n; i++) {
        size_t hdr, klen, used, want = nkeys;

        if (s_str_header(p + off, len - off, &hdr, &klen) < 0 || klen > len - off - hdr ||
            klen > limits->max_str)
            return -EBADMSG;
        for (size_t k = 0; k < nkeys && klen > 0; k++) {
            /* The first byte settles most keys: verify walks millions of records. */
            if (keys[k][0] == (char)p[off + hdr] &&
                strncmp(keys[k], (const char *)p + off + hdr, klen) == 0 && keys[k][klen] == '\0') {
                want = k;
                break;
            }
        }
        off += hdr + klen;
        if (msgpack_scan_one(p + off, len - off, &inner, &used, NULL) != MSGPACK_SCAN_OK)
            return -EBADMSG;
        if (want < nkeys) {
            if (ret_len[want] != 0)
                return -EBADMSG; /* the same key twice: which one counts is anyone's guess */
            ret_off[want] = off;
            ret_len[want] = used;
        }
        off += used;
    }
    return off == len ? 0 : -EBADMSG;
}

int
msgpack_scan_map_field(const void *buf, size_t len, const char *key, size_t *ret_off,
                       size_t *ret_len)
{
    const uint8_t *p = buf;
    const struct msgpack_scan_limits limits = {.max_depth = MSGPACK_SCAN_DEPTH_CAP, .max_str = len};
    size_t off, n, keylen = strlen(key);

    if (s_map_header(p, len, &off, &n) < 0)
        return -EBADMSG;
    for (size_t i = 0; i < n; i++) {
        size_t hdr, klen, used;
        if (s_str_header(p + off, len - off, &hdr, &klen) < 0 || klen > len - off - hdr)
            return -EBADMSG;
        bool match = klen == keylen && memcmp(p + off + hdr, key, keylen) == 0;
        off += hdr + klen;
        if (msgpack_scan_one(p + off, len - off, &limits, &used, NULL) != MSGPACK_SCAN_OK)
            return -EBADMSG;
        if (match) {
            *ret_off = off;
            *ret_len = used;
            return 0;
        }
        off += used;
    }
    return -ENOENT;
}
