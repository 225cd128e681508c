/*
 * audit_reader: read-only access to the broker's LMDB audit log (DESIGN.md
 * "Audit log"), safe while the broker writes. Every call uses its own short
 * read transaction; long scans reopen one every few hundred records so that a
 * slow reader never pins old pages and makes the writer grow the file.
 *
 * Layout (written by the daemon): environment STATE_DIR/audit; databases
 * `log` (u64 BE seq -> msgpack record), `ids` (16-byte id -> u64 BE seq),
 * `ids_new` (u64 BE seq -> 16-byte id: the ids not yet swept into `ids`),
 * `pending` (u64 BE seq -> msgpack delivery state), `meta` ("format_version"
 * -> u64 BE, "chain_head" -> 32 bytes, "chain_seq" -> u64 BE).
 */
#ifndef MANDATE_AUDIT_READER_H
#define MANDATE_AUDIT_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/audit_record.h"

#define AUDIT_READER_SUBDIR "audit"

struct audit_reader;

/*
 * Opens STATE_DIR/audit read-only. Returns 0, -ENOENT when there is no
 * environment or no `log` database in it yet, -EACCES when the lock file
 * cannot be opened for writing (readers register in it), or another -errno
 * (an LMDB error becomes -EIO; audit_reader_strerror() explains any of these).
 */
int audit_reader_open(const char *state_dir, struct audit_reader **ret_reader);
void audit_reader_destroy(struct audit_reader **reader_p);

/* The environment directory that was opened (STATE_DIR/audit). */
const char *audit_reader_path(const struct audit_reader *r);
/* A message for an error this module returned, with the LMDB reason when there was one. */
const char *audit_reader_strerror(const struct audit_reader *r, int err);

/*
 * Called for each record: bytes are valid only during the call. Return 0 to
 * go on; anything else stops the scan and is returned by it.
 */
typedef int(audit_reader_fn)(void *arg, uint64_t seq, const void *bytes, size_t len);

/*
 * Calls fn for each record with from <= seq <= to (to = 0: up to the last
 * one) in seq order. Returns 0, fn's non-zero value, or -errno.
 */
int audit_reader_scan(struct audit_reader *r, uint64_t from, uint64_t to, audit_reader_fn *fn,
                      void *arg);
/* The same downwards: from the record at or below from (UINT64_MAX: the last) to seq 1. */
int audit_reader_scan_back(struct audit_reader *r, uint64_t from, audit_reader_fn *fn, void *arg);

/* The last seq in the log, 0 when it is empty. */
int audit_reader_last_seq(struct audit_reader *r, uint64_t *ret_seq);
/* A copy of record seq (malloc'd, the caller frees); -ENOENT when absent. */
int audit_reader_get(struct audit_reader *r, uint64_t seq, void **ret_bytes, size_t *ret_len);

/* The newest log format this reader knows how to follow. */
#define AUDIT_READER_FORMAT_MAX 4

struct audit_meta {
    bool has_version;
    uint64_t format_version;
    /* The first seq hashed with SHA-256: meta's chain_sha256_from in format 3
     * (0 if it is missing or no seq there), UINT64_MAX before format 3. */
    uint64_t sha256_from;
    bool has_head; /* chain_head and chain_seq */
    uint8_t chain_head[AUDIT_HASH_LEN];
    uint64_t chain_seq;
};

/* Reads `meta` in one transaction (absent keys leave has_* false). */
int audit_reader_meta(struct audit_reader *r, struct audit_meta *ret_meta);

/*
 * The seq of the `accepted` record of event id; -ENOENT when unknown. An id
 * not yet swept into `ids` is looked for in `ids_new` from end to end (up to
 * the broker's ids_in_memory entries and a sweep's worth more).
 */
int audit_reader_lookup_id(struct audit_reader *r, const uint8_t id[16], uint64_t *ret_seq);

struct audit_counts {
    uint64_t log;                             /* records */
    uint64_t ids;                             /* distinct event ids */
    uint64_t pending;                         /* deliveries not finished */
    uint64_t deadlines;                       /* tracked deadlines still open */
    bool has_ids, has_pending, has_deadlines; /* whether those databases exist */
    uint64_t map_size;                        /* bytes mapped, as the writer last set it */
    uint64_t last_page_bytes;                 /* bytes of the file in use */
};

int audit_reader_counts(struct audit_reader *r, struct audit_counts *ret_counts);

#endif
