/*
 * audit_log: the single writer of the LMDB audit log. Keeps the chain head
 * and next seq in memory, advances them only on a successful commit, and
 * turns LMDB's return codes into -errno at this boundary.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <lmdb.h>
#include <msgpack.h>

#include "daemon/audit_log.h"
#include "daemon/id_filter.h"
#include "daemon/id_memtable.h"
#include "daemon/id_streams.h"
#include "daemon/page_prefill.h"
#include "proto/be64.h"
#include "common/clock.h"
#include "common/alloc.h"
#include "common/log.h"
#include "proto/pack.h"

#define FILTER_CHUNK 65536 /* ids the filter's build reads in one read transaction */

struct audit_log {
    MDB_env *env;
    MDB_dbi db_log, db_ids, db_ids_new, db_pending, db_meta, db_deadlines, db_closures;
    MDB_txn *txn; /* the open batch, or NULL */
    /* Cursors of the open batch that only append (NULL until the first):
     * kept at the end of their table, an append does not search the tree. */
    MDB_cursor *log_end, *pending_end, *ids_new_end;
    /* Ids in ids_new and not yet known to be in ids (daemon/id_memtable.h). */
    struct id_memtable *recent;
    /* Publishers' ascending ids: those go straight into `ids` (daemon/id_streams.h). */
    struct id_streams streams;
    /* Which ids `ids` may hold, so that most new ones skip the lookup there
     * (daemon/id_filter.h); NULL: none, every new id is looked up. */
    struct id_filter *filter;
    uint64_t snap_gen; /* id_memtable_gen() before the snapshot began */
    MDB_txn *snap;     /* the loop thread's read snapshot (reset between uses), or NULL */
    bool snap_open;
    /* mdb_env_set_mapsize() needs every transaction of the process closed:
     * growing takes this for writing, a snapshot for reading. */
    pthread_rwlock_t resize_lock;
    struct audit_log_options opts;
    uint64_t map_size;
    unsigned page_size;
    struct page_prefill prefill; /* of data.mdb, advanced before each batch */

    /* The first seq hashed with SHA-256 (meta's chain_sha256_from); every
     * record this broker appends is at or past it. */
    uint64_t sha256_from;

    /* Committed state. */
    uint64_t last_seq;
    uint8_t head[AUDIT_HASH_LEN];

    /* State of the open batch, adopted on commit. */
    uint64_t batch_seq;
    uint8_t batch_head[AUDIT_HASH_LEN];

    bool map_full;               /* the last failure was MDB_MAP_FULL */
    msgpack_sbuffer rec;         /* reused record buffer */
    msgpack_sbuffer pending_buf; /* reused pending-entry buffer */
    msgpack_sbuffer fields;      /* reused kind-specific fields of `accepted` */
};

/* LMDB codes to -errno: map full and disk full both mean "no room". */
static int
s_mdb_errno(struct audit_log *log, int rc)
{
    if (rc == MDB_MAP_FULL) {
        log->map_full = true;
        return -ENOSPC;
    }
    log->map_full = false;
    if (rc == ENOSPC || rc == EDQUOT)
        return -ENOSPC;
    if (rc > 0)
        return -rc;
    return -EIO;
}

/* A meta key by name. */
static MDB_val
s_meta_key(const char *name)
{
    return (MDB_val){.mv_size = strlen(name), .mv_data = (void *)name};
}

/*
 * meta's format_version, read in the opening transaction: 4, or 1 to 3 (the
 * log is carried on as format 4 once it is known to be sound, by
 * s_write_format), or 0 for a new log. Sets sha256_from: meta's for formats
 * 3 and 4; for the others none yet (every stored record is BLAKE2b-hashed).
 * Returns 0, an LMDB code, or -EPROTO with errbuf set.
 */
static int
s_read_format(struct audit_log *log, MDB_txn *txn, const char *path, uint64_t *ret_found,
              char *errbuf, size_t errlen)
{
    MDB_val vk = s_meta_key("format_version"), fk = s_meta_key("chain_sha256_from");
    MDB_val v;

    *ret_found = 0;
    log->sha256_from = UINT64_MAX;
    int rc = mdb_get(txn, log->db_meta, &vk, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return rc;
    if (v.mv_size != 8) {
        snprintf(errbuf, errlen,
                 "%s: meta format_version is %zu bytes, not an 8-byte number: not an audit "
                 "log this broker wrote",
                 path, v.mv_size);
        return -EPROTO;
    }
    *ret_found = be64_get(v.mv_data);
    if (*ret_found == 1 || *ret_found == 2)
        return 0;
    if (*ret_found != 3 && *ret_found != AUDIT_FORMAT_VERSION) {
        snprintf(errbuf, errlen, "%s: audit log format version is %llu, not 1 to %d", path,
                 (unsigned long long)*ret_found, AUDIT_FORMAT_VERSION);
        return -EPROTO;
    }
    rc = mdb_get(txn, log->db_meta, &fk, &v);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    if (rc || v.mv_size != 8 || be64_get(v.mv_data) == 0) {
        snprintf(errbuf, errlen,
                 "%s: meta chain_sha256_from is %s: which records are hashed how is unknown, "
                 "run `mandatectl verify`",
                 path, rc ? "missing" : "not a seq (an 8-byte number from 1)");
        return -EPROTO;
    }
    log->sha256_from = be64_get(v.mv_data);
    return 0;
}

/*
 * A new log, or an older one that s_recover() found sound, becomes format 4.
 * From format 1 or 2: the records stored keep their BLAKE2b-256 links (the
 * chain covers their bytes), the ones to come are hashed with SHA-256. From
 * format 3 only the ids change: its `ids` holds every id, and new ones go
 * through `ids_new` as well. Readers of format 4 read all four; older
 * readers must not misread what comes next (an id only in `ids_new` would
 * look new to them), and the version tells them so.
 */
static int
s_write_format(struct audit_log *log, uint64_t found, char *errbuf, size_t errlen)
{
    uint8_t ver[8], from[8];
    MDB_txn *txn;

    if (found != 3)
        log->sha256_from = log->last_seq + 1;
    be64_put(ver, AUDIT_FORMAT_VERSION);
    be64_put(from, log->sha256_from);
    MDB_val vk = s_meta_key("format_version"), vv = {.mv_size = 8, .mv_data = ver};
    MDB_val fk = s_meta_key("chain_sha256_from"), fv = {.mv_size = 8, .mv_data = from};
    int rc = mdb_txn_begin(log->env, NULL, 0, &txn);
    if (rc == 0) {
        rc = mdb_put(txn, log->db_meta, &fk, &fv, 0);
        if (rc == 0)
            rc = mdb_put(txn, log->db_meta, &vk, &vv, 0);
        if (rc == 0)
            rc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
    }
    if (rc) {
        snprintf(errbuf, errlen, "audit log: marking it format %d: %s", AUDIT_FORMAT_VERSION,
                 mdb_strerror(rc));
        return s_mdb_errno(log, rc);
    }
    if (found == 3)
        log_notice("audit log: format 3, carried on as format %d: the ids of new events go "
                   "through ids_new on their way into ids",
                   AUDIT_FORMAT_VERSION);
    else if (found)
        log_notice("audit log: format %llu, carried on as format %d: records 1 to %llu keep "
                   "their BLAKE2b-256 links, from %llu on the chain hash is SHA-256%s",
                   (unsigned long long)found, AUDIT_FORMAT_VERSION,
                   (unsigned long long)log->last_seq, (unsigned long long)log->sha256_from,
                   found == 1 ? "; new `accepted` records keep id, type and source in their "
                                "envelope only"
                              : "");
    return 0;
}

/* Keeps the cache ahead of the pages LMDB will write next (daemon/page_prefill.h). */
static void
s_prefill(struct audit_log *log)
{
    MDB_envinfo info;
    mdb_env_info(log->env, &info);
    page_prefill_ahead(&log->prefill, ((uint64_t)info.me_last_pgno + 1) * log->page_size,
                       info.me_mapsize);
}

static int
s_mkdir_p(const char *path)
{
    char buf[4096];
    if (strlen(path) >= sizeof buf)
        return -ENAMETOOLONG;
    strcpy(buf, path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0750) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, 0750) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

/*
 * Reads ids_new back into the memtable, in seq order. The broker writes
 * each entry with its `accepted` record, so one that is not an 8-byte seq
 * of a stored record and a 16-byte id held once refuses the log: an id it
 * hid would be taken for new, and one held twice or past the last record
 * would be another event's claim. Called after s_recover() (last_seq).
 */
static int
s_load_recent_ids(struct audit_log *log, char *errbuf, size_t errlen)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur;
    MDB_val key, val;
    int rc = mdb_txn_begin(log->env, NULL, MDB_RDONLY, &txn);
    if (rc == 0)
        rc = mdb_cursor_open(txn, log->db_ids_new, &cur);
    if (rc) {
        snprintf(errbuf, errlen, "audit log: reading ids_new: %s", mdb_strerror(rc));
        if (txn)
            mdb_txn_abort(txn);
        return -EIO;
    }
    uint64_t n = 0;
    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        n++;
        if (key.mv_size != 8 || val.mv_size != 16 || be64_get(key.mv_data) == 0) {
            snprintf(errbuf, errlen,
                     "audit log: ids_new entry %llu is a %zu-byte key and a %zu-byte value, not "
                     "a seq and an event id",
                     (unsigned long long)n, key.mv_size, val.mv_size);
            rc = -EBADMSG;
            break;
        }
        uint64_t seq = be64_get(key.mv_data);
        if (seq > log->last_seq) {
            snprintf(errbuf, errlen,
                     "audit log: ids_new entry %llu names seq %llu, past the last record (%llu)",
                     (unsigned long long)n, (unsigned long long)seq,
                     (unsigned long long)log->last_seq);
            rc = -EBADMSG;
            break;
        }
        if (!id_memtable_load(log->recent, val.mv_data, seq)) {
            snprintf(errbuf, errlen,
                     "audit log: ids_new entry %llu (seq %llu) repeats the id of an earlier entry",
                     (unsigned long long)n, (unsigned long long)seq);
            rc = -EBADMSG;
            break;
        }
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc > 0) {
        snprintf(errbuf, errlen, "audit log: reading ids_new: %s", mdb_strerror(rc));
        rc = -EIO;
    }
    return rc;
}

/* Reads the last record and meta's chain head; refuses a log whose head disagrees. */
static int
s_recover(struct audit_log *log, char *errbuf, size_t errlen)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val key, val;
    int rc = mdb_txn_begin(log->env, NULL, MDB_RDONLY, &txn);
    if (rc) {
        snprintf(errbuf, errlen, "audit log: read transaction: %s", mdb_strerror(rc));
        return -EIO;
    }
    memset(log->head, 0, sizeof log->head);
    log->last_seq = 0;
    rc = mdb_cursor_open(txn, log->db_log, &cur);
    if (rc == 0) {
        rc = mdb_cursor_get(cur, &key, &val, MDB_LAST);
        if (rc == 0) {
            if (key.mv_size != 8) {
                snprintf(errbuf, errlen, "audit log: last key is %zu bytes, not 8", key.mv_size);
                rc = -EBADMSG;
            } else {
                log->last_seq = be64_get(key.mv_data);
                audit_chain_hash(log->last_seq, log->sha256_from, val.mv_data, val.mv_size,
                                 log->head);
                rc = 0;
            }
        } else if (rc == MDB_NOTFOUND) {
            rc = 0;
        }
        mdb_cursor_close(cur);
    }
    if (rc == 0 && log->sha256_from != UINT64_MAX && log->sha256_from > log->last_seq + 1) {
        /* The writer hashes every record it appends with SHA-256: a boundary
         * past the next seq would have it break the chain it extends. */
        snprintf(errbuf, errlen,
                 "audit log: meta chain_sha256_from is %llu, past the next record (%llu); "
                 "run `mandatectl verify`",
                 (unsigned long long)log->sha256_from, (unsigned long long)log->last_seq + 1);
        rc = -EBADMSG;
    }
    if (rc == 0 && log->last_seq > 0) {
        MDB_val k = s_meta_key("chain_head"), v;
        int g = mdb_get(txn, log->db_meta, &k, &v);
        if (g != 0 || v.mv_size != AUDIT_HASH_LEN ||
            memcmp(v.mv_data, log->head, AUDIT_HASH_LEN) != 0) {
            snprintf(errbuf, errlen,
                     "audit log: chain head in meta does not match record %llu; "
                     "run `mandatectl verify`",
                     (unsigned long long)log->last_seq);
            rc = -EBADMSG;
        }
    }
    mdb_txn_abort(txn);
    if (rc > 0) {
        snprintf(errbuf, errlen, "audit log: %s", mdb_strerror(rc));
        rc = -EIO;
    }
    return rc;
}

/* Up to FILTER_CHUNK ids of `ids` in one read transaction, from the key in
 * from (the last one added) when started. 0: more to read; MDB_NOTFOUND: all
 * read; -ECANCELED: the filter is going away; else an LMDB error. */
static int
s_fill_filter_chunk(struct audit_log *log, struct id_filter *f, uint8_t from[16], bool *started)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k = {.mv_size = 16, .mv_data = from}, v;
    int rc = mdb_txn_begin(log->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return rc;
    rc = mdb_cursor_open(txn, log->db_ids, &cur);
    if (rc) {
        mdb_txn_abort(txn);
        return rc;
    }
    rc = mdb_cursor_get(cur, &k, &v, *started ? MDB_SET_RANGE : MDB_FIRST);
    for (size_t n = 0; rc == 0 && n < FILTER_CHUNK; n++) {
        /* Any other size is no id: a lookup could never find it either. */
        if (k.mv_size == 16) {
            memcpy(from, k.mv_data, 16);
            *started = true;
            if (!id_filter_build_add(f, from))
                rc = -ECANCELED;
        }
        if (rc == 0)
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur); /* a read-only transaction's cursor outlives it otherwise */
    mdb_txn_abort(txn);
    return rc;
}

/*
 * The filter's build thread: every id in `ids`, a chunk of keys per read
 * transaction, so that a growing map (which waits for the resize lock) waits
 * for one chunk at most. Ids are never taken out of `ids`, so each later
 * snapshot still holds every id the first one did; those put in between
 * reach the filter through the writer (daemon/id_filter.h).
 */
static int
s_fill_filter(void *arg, struct id_filter *f)
{
    struct audit_log *log = arg;
    uint8_t from[16];
    bool started = false;
    int rc;
    do {
        pthread_rwlock_rdlock(&log->resize_lock);
        rc = s_fill_filter_chunk(log, f, from, &started);
        pthread_rwlock_unlock(&log->resize_lock);
    } while (rc == 0);
    if (rc == MDB_NOTFOUND)
        return 0;
    return rc > 0 ? s_mdb_errno(log, rc) : rc; /* -ECANCELED: stopped */
}

/* Sized for ids_filter ids, or twice those `ids` holds if more: a filter
 * past its size says "maybe" more often, and the lookups come back. */
static void
s_start_filter(struct audit_log *log)
{
    MDB_txn *txn;
    MDB_stat st;
    if (log->opts.ids_filter == 0)
        return;
    size_t capacity = log->opts.ids_filter;
    if (mdb_txn_begin(log->env, NULL, MDB_RDONLY, &txn) == 0) {
        if (mdb_stat(txn, log->db_ids, &st) == 0 && st.ms_entries * 2 > capacity)
            capacity = st.ms_entries * 2;
        mdb_txn_abort(txn);
    }
    if (capacity > ID_FILTER_CAPACITY_MAX)
        capacity = ID_FILTER_CAPACITY_MAX;
    log->filter = id_filter_new(capacity, s_fill_filter, log);
}

int
audit_log_open(const char *state_dir, const struct audit_log_options *opts,
               struct audit_log **ret_log, char *errbuf, size_t errlen)
{
    char path[4096];
    int rc, dead = 0;
    MDB_txn *txn;
    MDB_envinfo info;

    if (snprintf(path, sizeof path, "%s/audit", state_dir) >= (int)sizeof path) {
        snprintf(errbuf, errlen, "state_dir too long");
        return -ENAMETOOLONG;
    }
    rc = s_mkdir_p(path);
    if (rc < 0) {
        snprintf(errbuf, errlen, "%s: %s", path, strerror(-rc));
        return rc;
    }

    struct audit_log *log = xcalloc(1, sizeof *log);
    log->opts = *opts;
    if (!log->opts.ids_in_memory)
        log->opts.ids_in_memory = AUDIT_IDS_IN_MEMORY_DEFAULT;
    log->recent = id_memtable_new();
    if (!log->recent) {
        snprintf(errbuf, errlen, "audit log: libsodium cannot start");
        free(log);
        return -EIO;
    }
    id_streams_init(&log->streams);
    log->prefill = (struct page_prefill){.fd = -1};
    msgpack_sbuffer_init(&log->rec);
    msgpack_sbuffer_init(&log->pending_buf);
    msgpack_sbuffer_init(&log->fields);
    pthread_rwlock_init(&log->resize_lock, NULL);

    rc = mdb_env_create(&log->env);
    if (rc)
        goto out_lmdb_error;
    mdb_env_set_maxdbs(log->env, 8);
    mdb_env_set_mapsize(log->env, opts->map_initial);
    /* No readahead on the map: the broker's reads that miss the cache are ids' random
     * leaves, and once the cache is smaller than the log, each fault's readahead (up to
     * 2 MiB of large folios) evicts what the next lookup needs (bench/README, growth). */
    rc = mdb_env_open(log->env, path, (opts->durable ? 0 : MDB_NOSYNC) | MDB_NORDAHEAD, 0640);
    if (rc)
        goto out_env_close;
    /* Readers killed mid-transaction leave slots that would pin old pages. */
    mdb_reader_check(log->env, &dead);
    if (dead)
        log_notice("audit log: cleared %d stale reader slot(s)", dead);

    rc = mdb_txn_begin(log->env, NULL, 0, &txn);
    if (rc)
        goto out_env_close;
    if ((rc = mdb_dbi_open(txn, "log", MDB_CREATE, &log->db_log)) ||
        (rc = mdb_dbi_open(txn, "ids", MDB_CREATE, &log->db_ids)) ||
        (rc = mdb_dbi_open(txn, "ids_new", MDB_CREATE, &log->db_ids_new)) ||
        (rc = mdb_dbi_open(txn, "pending", MDB_CREATE, &log->db_pending)) ||
        (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &log->db_meta)) ||
        (rc = mdb_dbi_open(txn, "deadlines", MDB_CREATE, &log->db_deadlines)) ||
        (rc = mdb_dbi_open(txn, "closures", MDB_CREATE, &log->db_closures)))
        goto out_txn_abort;
    uint64_t found;
    rc = s_read_format(log, txn, path, &found, errbuf, errlen);
    if (rc < 0) {
        mdb_txn_abort(txn);
        goto out_destroy;
    }
    if (rc)
        goto out_txn_abort;
    rc = mdb_txn_commit(txn);
    if (rc)
        goto out_env_close;

    mdb_env_info(log->env, &info);
    log->map_size = info.me_mapsize;
    MDB_stat st;
    mdb_env_stat(log->env, &st);
    log->page_size = st.ms_psize;
    rc = s_recover(log, errbuf, errlen);
    if (rc == 0)
        rc = s_load_recent_ids(log, errbuf, errlen);
    if (rc == 0 && found != AUDIT_FORMAT_VERSION)
        rc = s_write_format(log, found, errbuf, errlen);
    if (rc < 0)
        goto out_destroy;
    /* Only a log found sound: one refused is left exactly as it was, its size too. */
    char data_path[sizeof path + 16];
    snprintf(data_path, sizeof data_path, "%s/data.mdb", path);
    page_prefill_open(&log->prefill, data_path);
    s_prefill(log);
    s_start_filter(log);
    *ret_log = log;
    return 0;

out_txn_abort:
    mdb_txn_abort(txn);
out_env_close:
out_lmdb_error:
    snprintf(errbuf, errlen, "%s: %s", path, mdb_strerror(rc));
    rc = rc > 0 ? -rc : -EIO;
out_destroy:
    audit_log_destroy(&log);
    return rc;
}

void
audit_log_destroy(struct audit_log **log_p)
{
    struct audit_log *log = *log_p;
    if (!log)
        return;
    /* Its build reads the environment: stopped before that closes. */
    id_filter_destroy(&log->filter);
    if (log->txn)
        mdb_txn_abort(log->txn);
    if (log->snap)
        mdb_txn_abort(log->snap);
    if (log->env)
        mdb_env_close(log->env);
    id_memtable_destroy(&log->recent);
    page_prefill_close(&log->prefill);
    pthread_rwlock_destroy(&log->resize_lock);
    msgpack_sbuffer_destroy(&log->rec);
    msgpack_sbuffer_destroy(&log->pending_buf);
    msgpack_sbuffer_destroy(&log->fields);
    free(log);
    *log_p = NULL;
}

uint64_t
audit_log_last_seq(const struct audit_log *log)
{
    return log->last_seq;
}

uint64_t
audit_log_map_size(const struct audit_log *log)
{
    return log->map_size;
}

int
audit_log_begin(struct audit_log *log)
{
    /* Here, not after the last commit: that batch's answers need not wait for it. */
    s_prefill(log);
    int rc = mdb_txn_begin(log->env, NULL, 0, &log->txn);
    if (rc == MDB_MAP_RESIZED) {
        /* Only this process writes, but honour a resize if one ever happens. */
        mdb_env_set_mapsize(log->env, 0);
        rc = mdb_txn_begin(log->env, NULL, 0, &log->txn);
    }
    if (rc) {
        log->txn = NULL;
        return s_mdb_errno(log, rc);
    }
    log->batch_seq = log->last_seq;
    memcpy(log->batch_head, log->head, AUDIT_HASH_LEN);
    log->log_end = log->pending_end = log->ids_new_end = NULL; /* LMDB frees them */
    id_memtable_begin(log->recent, log->batch_seq + 1);
    return 0;
}

/* The batch's appending cursor on dbi, opened on first use. */
static int
s_append_cursor(struct audit_log *log, MDB_dbi dbi, MDB_cursor **cur)
{
    if (*cur)
        return 0;
    int rc = mdb_cursor_open(log->txn, dbi, cur);
    if (rc)
        *cur = NULL;
    return rc;
}

/*
 * Appends the record a || b (two pieces of its bytes) as seq batch_seq + 1,
 * written straight into the room LMDB reserves for it in the page, so that
 * neither piece is copied twice. Returns 0 with *ret_bytes (if not NULL)
 * pointing at the stored bytes (valid until the next write of the batch),
 * or -errno.
 */
static int
s_put_record(struct audit_log *log, const void *a, size_t alen, const void *b, size_t blen,
             void **ret_bytes)
{
    uint8_t keybuf[8];
    be64_put(keybuf, log->batch_seq + 1);
    MDB_val key = {.mv_size = 8, .mv_data = keybuf};
    MDB_val val = {.mv_size = alen + blen};
    int rc = s_append_cursor(log, log->db_log, &log->log_end);
    if (rc == 0)
        rc = mdb_cursor_put(log->log_end, &key, &val, MDB_APPEND | MDB_RESERVE);
    if (rc)
        return s_mdb_errno(log, rc);
    memcpy(val.mv_data, a, alen);
    if (blen)
        memcpy((char *)val.mv_data + alen, b, blen);
    if (ret_bytes)
        *ret_bytes = val.mv_data;
    log->batch_seq++;
    return 0;
}

int
audit_log_append(struct audit_log *log, const char *kind, const void *fields, size_t fields_len,
                 unsigned extra_fields, uint64_t *ret_seq)
{
    msgpack_packer pk;
    void *bytes;

    msgpack_sbuffer_clear(&log->rec);
    msgpack_packer_init(&pk, &log->rec, pack_sbuffer_write);
    audit_record_begin(&pk, log->batch_seq + 1, realtime_ns(), kind, log->batch_head, extra_fields);
    int rc = s_put_record(log, log->rec.data, log->rec.size, fields, fields_len, &bytes);
    if (rc < 0)
        return rc;
    audit_chain_hash(log->batch_seq, log->sha256_from, bytes, log->rec.size + fields_len,
                     log->batch_head);
    if (ret_seq)
        *ret_seq = log->batch_seq;
    return 0;
}

/* One value by key, -ENOENT if missing; the bytes live as long as txn. */
static int
s_get(struct audit_log *log, MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
      const void **ret_val, size_t *ret_len)
{
    MDB_val k = {.mv_size = klen, .mv_data = (void *)key}, v;
    int rc = mdb_get(txn, dbi, &k, &v);
    if (rc == MDB_NOTFOUND)
        return -ENOENT;
    if (rc)
        return s_mdb_errno(log, rc);
    *ret_val = v.mv_data;
    *ret_len = v.mv_size;
    return 0;
}

/* An event id's seq in txn (the batch's or the snapshot). */
static int
s_find_id(struct audit_log *log, MDB_txn *txn, const uint8_t id[16], uint64_t *ret_seq)
{
    const void *val;
    size_t len;
    int rc = s_get(log, txn, log->db_ids, id, 16, &val, &len);
    if (rc < 0)
        return rc;
    if (len != 8)
        return -EBADMSG;
    *ret_seq = be64_get(val);
    return 0;
}

int
audit_log_wait_filter(struct audit_log *log)
{
    return log->filter ? id_filter_wait(log->filter) : -ENOENT;
}

int
audit_log_find_id(struct audit_log *log, const uint8_t id[16], uint64_t *ret_seq)
{
    if (id_memtable_find(log->recent, id, ret_seq))
        return 0;
    return s_find_id(log, log->txn, id, ret_seq);
}

/* An id not in the memtable, straight into `ids`: one B-tree operation claims or finds it. */
static int
s_claim_in_ids(struct audit_log *log, const uint8_t id[16], uint64_t *ret_seq)
{
    uint8_t v[8];
    be64_put(v, log->batch_seq + 1);
    MDB_val key = {.mv_size = 16, .mv_data = (void *)id}, val = {.mv_size = 8, .mv_data = v};
    /* On MDB_KEYEXIST LMDB hands back the stored value: the lookup comes free. */
    int rc = mdb_put(log->txn, log->db_ids, &key, &val, MDB_NOOVERWRITE);
    if (rc == MDB_KEYEXIST) {
        if (val.mv_size != 8)
            return -EBADMSG;
        *ret_seq = be64_get(val.mv_data);
        return -EEXIST;
    }
    if (rc)
        return s_mdb_errno(log, rc);
    if (log->filter)
        id_filter_add(log->filter, id);
    return 0;
}

int
audit_log_claim_id(struct audit_log *log, const uint8_t id[16], uint64_t *ret_seq)
{
    if (log->filter)
        id_filter_prefetch(log->filter, id);
    /* The memtable first, whatever the id: one of its ids is not in `ids` yet,
     * and a put there would take it for new. */
    if (id_memtable_find(log->recent, id, ret_seq))
        return -EEXIST;
    if (id_streams_continue(&log->streams, id))
        return s_claim_in_ids(log, id, ret_seq);
    int rc = !log->filter || id_filter_may_hold(log->filter, id)
                 ? s_find_id(log, log->txn, id, ret_seq)
                 : -ENOENT;
    if (rc == 0)
        return -EEXIST;
    if (rc != -ENOENT)
        return rc;
    id_streams_start(&log->streams, id);
    uint8_t k[8];
    uint64_t seq = log->batch_seq + 1;
    be64_put(k, seq);
    MDB_val key = {.mv_size = 8, .mv_data = k}, val = {.mv_size = 16, .mv_data = (void *)id};
    rc = s_append_cursor(log, log->db_ids_new, &log->ids_new_end);
    if (rc == 0)
        rc = mdb_cursor_put(log->ids_new_end, &key, &val, MDB_APPEND);
    if (rc)
        return s_mdb_errno(log, rc);
    id_memtable_add(log->recent, id, seq);
    return 0;
}

static int
s_write_pending(struct audit_log *log, uint64_t seq, const char *area, unsigned attempt,
                uint64_t due_ms, unsigned flags)
{
    uint8_t k[8];
    msgpack_sbuffer *sb = &log->pending_buf;
    msgpack_packer pk;

    msgpack_sbuffer_clear(sb);
    msgpack_packer_init(&pk, sb, pack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    audit_pack_key(&pk, "area");
    audit_pack_str(&pk, area);
    audit_pack_key(&pk, "attempt");
    msgpack_pack_unsigned_int(&pk, attempt);
    audit_pack_key(&pk, "due");
    msgpack_pack_uint64(&pk, due_ms);

    be64_put(k, seq);
    MDB_val key = {.mv_size = 8, .mv_data = k}, val = {.mv_size = sb->size, .mv_data = sb->data};
    int rc;
    if (flags & MDB_APPEND) {
        rc = s_append_cursor(log, log->db_pending, &log->pending_end);
        if (rc == 0)
            rc = mdb_cursor_put(log->pending_end, &key, &val, flags);
    } else {
        rc = mdb_put(log->txn, log->db_pending, &key, &val, flags);
    }
    return rc ? s_mdb_errno(log, rc) : 0;
}

int
audit_log_put_pending(struct audit_log *log, uint64_t seq, const char *area, unsigned attempt,
                      uint64_t due_ms)
{
    /* New events only: seqs grow, so pending entries are appended like log records. */
    return s_write_pending(log, seq, area, attempt, due_ms, MDB_APPEND);
}

int
audit_log_update_pending(struct audit_log *log, uint64_t seq, const char *area, unsigned attempt,
                         uint64_t due_ms)
{
    return s_write_pending(log, seq, area, attempt, due_ms, 0);
}

int
audit_log_del_pending(struct audit_log *log, uint64_t seq)
{
    uint8_t k[8];
    be64_put(k, seq);
    MDB_val key = {.mv_size = 8, .mv_data = k};
    int rc = mdb_del(log->txn, log->db_pending, &key, NULL);
    if (rc == MDB_NOTFOUND)
        return -ENOENT;
    return rc ? s_mdb_errno(log, rc) : 0;
}

int
audit_log_deadline_put(struct audit_log *log, const void *key, size_t klen, const void *val,
                       size_t vlen)
{
    MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
    MDB_val v = {.mv_size = vlen, .mv_data = (void *)val};
    int rc = mdb_put(log->txn, log->db_deadlines, &k, &v, 0);
    return rc ? s_mdb_errno(log, rc) : 0;
}

int
audit_log_deadline_get(struct audit_log *log, const void *key, size_t klen, const void **ret_val,
                       size_t *ret_len)
{
    return s_get(log, log->txn, log->db_deadlines, key, klen, ret_val, ret_len);
}

int
audit_log_deadline_del(struct audit_log *log, const void *key, size_t klen)
{
    MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
    int rc = mdb_del(log->txn, log->db_deadlines, &k, NULL);
    if (rc == MDB_NOTFOUND)
        return -ENOENT;
    return rc ? s_mdb_errno(log, rc) : 0;
}

int
audit_log_closure_put(struct audit_log *log, const void *key, size_t klen)
{
    MDB_val k = {.mv_size = klen, .mv_data = (void *)key}, v = {.mv_size = 0, .mv_data = ""};
    int rc = mdb_put(log->txn, log->db_closures, &k, &v, 0);
    return rc ? s_mdb_errno(log, rc) : 0;
}

bool
audit_log_closure_exists(struct audit_log *log, const void *key, size_t klen)
{
    const void *val;
    size_t vlen;
    return s_get(log, log->txn, log->db_closures, key, klen, &val, &vlen) == 0;
}

int
audit_log_deadline_foreach(struct audit_log *log, bool snapshot,
                           int (*fn)(void *arg, const void *key, size_t klen, const void *val,
                                     size_t vlen),
                           void *arg)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_cursor_open(snapshot ? log->snap : log->txn, log->db_deadlines, &cur);
    if (rc)
        return s_mdb_errno(log, rc);
    int out = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && out == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        out = fn(arg, k.mv_data, k.mv_size, v.mv_data, v.mv_size);
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return s_mdb_errno(log, rc);
    return out < 0 ? out : 0;
}

/* A prepared record: its head as it is, then the common fields, hashed from where head ended. */
static int
s_append_prepared(struct audit_log *log, const char *kind, const struct audit_prepared *p,
                  uint64_t *ret_seq)
{
    msgpack_packer pk;

    msgpack_sbuffer_clear(&log->rec);
    msgpack_packer_init(&pk, &log->rec, pack_sbuffer_write);
    audit_record_tail(&pk, log->batch_seq + 1, realtime_ns(), kind, log->batch_head);
    int rc = s_put_record(log, audit_prepared_head(p), p->len, log->rec.data, log->rec.size, NULL);
    if (rc < 0)
        return rc;
    audit_prepared_hash(p, log->rec.data, log->rec.size, log->batch_head);
    *ret_seq = log->batch_seq;
    return 0;
}

int
audit_log_append_accepted(struct audit_log *log, const struct audit_accepted *a, uint64_t *ret_seq)
{
    msgpack_packer pk;
    uint64_t seq;
    int rc;
    if (a->prepared) {
        rc = s_append_prepared(log, AUDIT_KIND_ACCEPTED, a->prepared, &seq);
    } else {
        msgpack_sbuffer_clear(&log->fields);
        msgpack_packer_init(&pk, &log->fields, pack_sbuffer_write);
        unsigned n = audit_pack_accepted(&pk, a);
        rc =
            audit_log_append(log, AUDIT_KIND_ACCEPTED, log->fields.data, log->fields.size, n, &seq);
    }
    if (rc == 0)
        rc = audit_log_put_pending(log, seq, a->area, 0, 0);
    if (rc == 0 && ret_seq)
        *ret_seq = seq;
    return rc;
}

/*
 * The sweep's share of a batch: while the memtable holds more than
 * ids_in_memory ids, move the excess (at most SWEEP_MAX a batch) into `ids`,
 * and drop what ids_new no longer needs (at most PRUNE_MAX entries).
 */
#define SWEEP_MAX 2048
#define PRUNE_MAX 4096

static int
s_sweep(struct audit_log *log)
{
    size_t held = id_memtable_size(log->recent);
    if (held > log->opts.ids_in_memory) {
        const struct id_memtable_item *it;
        size_t over = held - log->opts.ids_in_memory;
        size_t n = id_memtable_take(log->recent, over < SWEEP_MAX ? over : SWEEP_MAX, &it);
        MDB_cursor *cur;
        int rc = mdb_cursor_open(log->txn, log->db_ids, &cur);
        if (rc)
            return rc;
        for (size_t i = 0; rc == 0 && i < n; i++) {
            uint8_t v[8];
            be64_put(v, it[i].seq);
            MDB_val key = {.mv_size = 16, .mv_data = (void *)it[i].id};
            MDB_val val = {.mv_size = 8, .mv_data = v};
            /* Already there after a crash between a sweep and its prune: the same seq. */
            rc = mdb_cursor_put(cur, &key, &val, MDB_NOOVERWRITE);
            if (rc == MDB_KEYEXIST)
                rc = 0;
            if (rc == 0 && log->filter)
                id_filter_add(log->filter, it[i].id);
        }
        mdb_cursor_close(cur);
        if (rc)
            return rc;
    }
    uint64_t below = id_memtable_prune_below(log->recent);
    if (below == 0)
        return 0;
    MDB_cursor *cur;
    MDB_val key, val;
    int rc = mdb_cursor_open(log->txn, log->db_ids_new, &cur);
    if (rc)
        return rc;
    rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
    for (size_t n = 0;
         rc == 0 && n < PRUNE_MAX && key.mv_size == 8 && be64_get(key.mv_data) < below; n++) {
        rc = mdb_cursor_del(cur, 0);
        /* After a delete the cursor stands on the entry that followed; with
         * none left LMDB says MDB_NOTFOUND, or EINVAL once the table is empty. */
        if (rc == 0)
            rc = mdb_cursor_get(cur, &key, &val, MDB_GET_CURRENT);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND || rc == EINVAL ? 0 : rc;
}

int
audit_log_commit(struct audit_log *log)
{
    uint8_t seqbuf[8];
    int rc = s_sweep(log);

    if (rc) {
        audit_log_abort(log);
        return s_mdb_errno(log, rc);
    }
    if (log->batch_seq != log->last_seq) {
        be64_put(seqbuf, log->batch_seq);
        MDB_val hk = s_meta_key("chain_head");
        MDB_val hv = {.mv_size = AUDIT_HASH_LEN, .mv_data = log->batch_head};
        MDB_val sk = s_meta_key("chain_seq");
        MDB_val sv = {.mv_size = 8, .mv_data = seqbuf};
        rc = mdb_put(log->txn, log->db_meta, &hk, &hv, 0);
        if (rc == 0)
            rc = mdb_put(log->txn, log->db_meta, &sk, &sv, 0);
        if (rc) {
            audit_log_abort(log);
            return s_mdb_errno(log, rc);
        }
    }
    rc = mdb_txn_commit(log->txn);
    log->txn = NULL; /* freed by LMDB whether or not the commit worked */
    if (rc) {
        id_memtable_abort(log->recent);
        return s_mdb_errno(log, rc);
    }
    id_memtable_commit(log->recent);
    log->last_seq = log->batch_seq;
    memcpy(log->head, log->batch_head, AUDIT_HASH_LEN);
    return 0;
}

void
audit_log_abort(struct audit_log *log)
{
    if (log->txn) {
        mdb_txn_abort(log->txn);
        id_memtable_abort(log->recent);
    }
    log->txn = NULL;
}

int
audit_log_grow(struct audit_log *log)
{
    if (log->map_size >= log->opts.map_max)
        return -ENOSPC;
    uint64_t next = log->map_size * 2;
    if (next > log->opts.map_max)
        next = log->opts.map_max;
    pthread_rwlock_wrlock(&log->resize_lock);
    int rc = mdb_env_set_mapsize(log->env, next);
    pthread_rwlock_unlock(&log->resize_lock);
    if (rc)
        return s_mdb_errno(log, rc);
    MDB_envinfo info;
    mdb_env_info(log->env, &info);
    log->map_size = info.me_mapsize;
    log_notice("audit log: map grown to %llu bytes (limit %llu)", (unsigned long long)log->map_size,
               (unsigned long long)log->opts.map_max);
    return 0;
}

bool
audit_log_map_was_full(const struct audit_log *log)
{
    return log->map_full;
}

int
audit_log_sync(struct audit_log *log)
{
    int rc = mdb_env_sync(log->env, 1);
    return rc ? s_mdb_errno(log, rc) : 0;
}

int
audit_log_snapshot_begin(struct audit_log *log)
{
    int rc;
    /* Before the transaction: an id that left the memtable after this is in
     * `ids` for a snapshot begun after it, and the gen tells (find_id). */
    log->snap_gen = id_memtable_gen(log->recent);
    pthread_rwlock_rdlock(&log->resize_lock);
    if (log->snap)
        rc = mdb_txn_renew(log->snap);
    else
        rc = mdb_txn_begin(log->env, NULL, MDB_RDONLY, &log->snap);
    if (rc == MDB_MAP_RESIZED) {
        /* The writer thread grew the map: adopt the new size, then retry. */
        mdb_env_set_mapsize(log->env, 0);
        rc = log->snap ? mdb_txn_renew(log->snap)
                       : mdb_txn_begin(log->env, NULL, MDB_RDONLY, &log->snap);
    }
    if (rc) {
        pthread_rwlock_unlock(&log->resize_lock);
        return s_mdb_errno(log, rc);
    }
    log->snap_open = true;
    return 0;
}

int
audit_log_snapshot_get(struct audit_log *log, uint64_t seq, const void **ret_bytes, size_t *ret_len)
{
    uint8_t k[8];
    be64_put(k, seq);
    return s_get(log, log->snap, log->db_log, k, sizeof k, ret_bytes, ret_len);
}

int
audit_log_snapshot_find_id(struct audit_log *log, const uint8_t id[16], uint64_t *ret_seq)
{
    if (id_memtable_find_committed(log->recent, id, ret_seq))
        return 0;
    int rc = s_find_id(log, log->snap, id, ret_seq);
    if (rc != -ENOENT || id_memtable_gen(log->recent) == log->snap_gen)
        return rc;
    /* Swept into `ids` by a commit newer than the snapshot: look again in a newer one. */
    audit_log_snapshot_end(log);
    rc = audit_log_snapshot_begin(log);
    if (rc < 0)
        return rc;
    if (id_memtable_find_committed(log->recent, id, ret_seq))
        return 0;
    return s_find_id(log, log->snap, id, ret_seq);
}

void
audit_log_snapshot_end(struct audit_log *log)
{
    if (!log->snap_open)
        return;
    mdb_txn_reset(log->snap);
    log->snap_open = false;
    pthread_rwlock_unlock(&log->resize_lock);
}

/* Decodes a pending value {area, attempt, due}; false if it is not one. */
static bool
s_decode_pending(const MDB_val *val, struct audit_pending *p)
{
    msgpack_unpacked u;
    size_t off = 0;
    bool ok = false, has_area = false;
    msgpack_unpacked_init(&u);
    /* Our own small map, but read from a file: bound it before unpacking. */
    if (val->mv_size > 256 ||
        msgpack_unpack_next(&u, val->mv_data, val->mv_size, &off) != MSGPACK_UNPACK_SUCCESS ||
        u.data.type != MSGPACK_OBJECT_MAP)
        goto out;
    for (uint32_t i = 0; i < u.data.via.map.size; i++) {
        const msgpack_object_kv *kv = &u.data.via.map.ptr[i];
        if (kv->key.type != MSGPACK_OBJECT_STR)
            goto out;
        const char *k = kv->key.via.str.ptr;
        uint32_t klen = kv->key.via.str.size;
        if (klen == 4 && memcmp(k, "area", 4) == 0 && kv->val.type == MSGPACK_OBJECT_STR &&
            kv->val.via.str.size < sizeof p->area) {
            memcpy(p->area, kv->val.via.str.ptr, kv->val.via.str.size);
            p->area[kv->val.via.str.size] = '\0';
            has_area = true;
        } else if (klen == 7 && memcmp(k, "attempt", 7) == 0 &&
                   kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER && kv->val.via.u64 < 65536) {
            p->attempt = (unsigned)kv->val.via.u64;
        } else if (klen == 3 && memcmp(k, "due", 3) == 0 &&
                   kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
            p->due_ms = kv->val.via.u64;
        }
    }
    ok = has_area;
out:
    msgpack_unpacked_destroy(&u);
    return ok;
}

/* Walks pending from the cursor's position: fn for each entry, at most max (0: all). */
static int
s_pending_walk(struct audit_log *log, MDB_cursor *cur, int rc, MDB_val *key, MDB_val *val,
               size_t max, int (*fn)(void *arg, const struct audit_pending *p), void *arg,
               uint64_t *ret_next)
{
    int ret = 0;
    size_t n = 0;
    for (; rc == 0 && ret == 0; rc = mdb_cursor_get(cur, key, val, MDB_NEXT)) {
        struct audit_pending p = {0};
        if (key->mv_size != 8)
            continue;
        p.seq = be64_get(key->mv_data);
        if (max && n++ == max) {
            *ret_next = p.seq;
            return 0;
        }
        /* Whatever a partial decode found is not to be trusted. */
        p.unreadable = !s_decode_pending(val, &p);
        if (p.unreadable)
            p = (struct audit_pending){.seq = p.seq, .unreadable = true};
        ret = fn(arg, &p);
        *ret_next = p.seq + 1;
    }
    if (ret == 0 && rc != MDB_NOTFOUND && rc != 0)
        return s_mdb_errno(log, rc);
    if (ret == 0)
        *ret_next = 0;
    return ret;
}

int
audit_log_pending_foreach(struct audit_log *log,
                          int (*fn)(void *arg, const struct audit_pending *p), void *arg)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val key, val;
    uint64_t next;
    int rc = mdb_txn_begin(log->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return s_mdb_errno(log, rc);
    rc = mdb_cursor_open(txn, log->db_pending, &cur);
    if (rc) {
        mdb_txn_abort(txn);
        return s_mdb_errno(log, rc);
    }
    rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
    int ret = s_pending_walk(log, cur, rc, &key, &val, 0, fn, arg, &next);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return ret;
}

int
audit_log_snapshot_pending_from(struct audit_log *log, uint64_t from, size_t max,
                                int (*fn)(void *arg, const struct audit_pending *p), void *arg,
                                uint64_t *ret_next)
{
    MDB_cursor *cur;
    uint8_t k[8];
    be64_put(k, from);
    MDB_val key = {.mv_size = 8, .mv_data = k}, val;
    int rc = mdb_cursor_open(log->snap, log->db_pending, &cur);
    if (rc)
        return s_mdb_errno(log, rc);
    *ret_next = from;
    rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    int ret = s_pending_walk(log, cur, rc, &key, &val, max, fn, arg, ret_next);
    mdb_cursor_close(cur);
    return ret;
}
