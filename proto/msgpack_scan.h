/*
 * msgpack_scan: walks a msgpack buffer without allocating and proves that every
 * length it declares fits in the bytes that remain, before msgpack-c unpacks
 * it. msgpack-c allocates for a declared array/map count up front, so five
 * bytes (0xdd ff ff ff ff) would otherwise ask for tens of gigabytes.
 */
#ifndef MANDATE_MSGPACK_SCAN_H
#define MANDATE_MSGPACK_SCAN_H

#include <stddef.h>

enum msgpack_scan_result {
    MSGPACK_SCAN_OK = 0,
    MSGPACK_SCAN_TRUNCATED,    /* a header or a declared length runs past the end */
    MSGPACK_SCAN_BAD_BYTE,     /* 0xc1, the one byte msgpack never uses */
    MSGPACK_SCAN_TRAILING,     /* bytes left after the one top-level object */
    MSGPACK_SCAN_TOO_DEEP,     /* arrays/maps nested deeper than max_depth */
    MSGPACK_SCAN_STR_TOO_LONG, /* a str or bin longer than max_str */
    MSGPACK_SCAN_EMPTY,        /* no bytes at all */
};

/*
 * The deepest nesting the scanner accepts whatever max_depth says: msgpack-c's
 * own unpacker refuses more than MSGPACK_EMBED_STACK_SIZE (32) open
 * containers, so anything deeper could never be unpacked anyway.
 */
#define MSGPACK_SCAN_DEPTH_CAP 32

struct msgpack_scan_limits {
    unsigned max_depth; /* 1 = a top-level map holding only scalars */
    size_t max_str;     /* longest str, bin or ext payload */
};

/*
 * Scans exactly one msgpack object that must fill buf[0..len).
 * Returns MSGPACK_SCAN_OK or the first fault; *ret_offset (may be NULL) gets
 * the byte offset of the fault.
 */
enum msgpack_scan_result msgpack_scan(const void *buf, size_t len,
                                      const struct msgpack_scan_limits *limits, size_t *ret_offset);

/*
 * Scans the one msgpack object at the start of buf[0..len); bytes after it are
 * allowed and *ret_consumed (may be NULL) gets its size. Used to walk the
 * fields of a map one value at a time.
 */
enum msgpack_scan_result msgpack_scan_one(const void *buf, size_t len,
                                          const struct msgpack_scan_limits *limits,
                                          size_t *ret_consumed, size_t *ret_offset);

/*
 * Locates the value of a string key in the map that starts buf (the layout of
 * audit records and envelopes), without unpacking anything: *ret_off and
 * *ret_len give the value's bytes. Returns 0, -ENOENT if the map has no such
 * key, or -EBADMSG if buf does not start with a well-formed map.
 */
int msgpack_scan_map_field(const void *buf, size_t len, const char *key, size_t *ret_off,
                           size_t *ret_len);

/*
 * Locates several string keys of the map that fills buf[0..len) exactly, in
 * one pass that checks every key and value against limits (the map counts as
 * one level of depth, as in msgpack_scan()). ret_off[i] and ret_len[i] give
 * keys[i]'s value bytes; ret_len[i] is 0 when the map lacks it. Returns 0, or
 * -EBADMSG if buf is not one well-formed map with string keys, or if it holds
 * a wanted key twice.
 */
int msgpack_scan_map_fields(const void *buf, size_t len, const struct msgpack_scan_limits *limits,
                            const char *const *keys, size_t nkeys, size_t *ret_off,
                            size_t *ret_len);

const char *msgpack_scan_strerror(enum msgpack_scan_result r);

#endif
