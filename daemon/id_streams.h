/*
 * id_streams: the publishers' runs of ascending ids, and whether a new id
 * continues one (daemon/audit_log.c's choice of where an id goes).
 *
 * Why: a publisher that makes its ids in order — UUIDv7 from one host, a
 * counter under its own prefix — puts each next id beside its last one in
 * the `ids` B-tree, on a page the batch has already changed: there, a
 * direct insert is the cheapest place an id can go. A random id (UUIDv4)
 * lands on a page of its own and goes through ids_new and the memtable's
 * sweep instead. A stream is remembered by its last id; an id continues it
 * when it is above that id and shares its first ID_STREAMS_PREFIX bytes, which
 * two random ids do once in 2^32. This is a guess about cost only: the
 * memtable is looked up first whatever it says.
 */
#ifndef MANDATE_ID_STREAMS_H
#define MANDATE_ID_STREAMS_H

#include <stdbool.h>
#include <stdint.h>

#define ID_STREAMS_MAX    64
#define ID_STREAMS_PREFIX 4

struct id_streams {
    /* Each stream's last id, sorted, and when it was last continued. */
    struct id_stream_tail {
        uint8_t id[16];
        uint64_t used;
    } tail[ID_STREAMS_MAX];
    unsigned n;
    uint64_t clock;
};

void id_streams_init(struct id_streams *s);
/* Whether id continues a stream; if it does, id is that stream's last id from now on. */
bool id_streams_continue(struct id_streams *s, const uint8_t id[16]);
/* An id that continued none starts a stream, in place of the one continued least lately. */
void id_streams_start(struct id_streams *s, const uint8_t id[16]);

#endif
