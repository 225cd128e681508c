/*
 * audit_reader: read-only access to the LMDB audit log (see audit_reader.h).
 */
#include "tools/audit_reader.h"
#include "proto/be64.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

/* Records per read transaction in a scan: short enough not to pin the writer. */
#define SCAN_CHUNK   1024
#define MAX_DBS      8
#define RESIZE_TRIES 8

struct audit_reader {
    MDB_env *env;
    MDB_dbi log, ids, ids_new, pending, meta, deadlines;
    bool has_ids, has_ids_new, has_pending, has_meta, has_deadlines;
    int mdb_rc; /* the last LMDB error, for audit_reader_strerror() */
    char path[PATH_MAX];
    char msg[PATH_MAX + 128];
};

/* LMDB's rc to -errno at the boundary; LMDB's own codes become -EIO (kept for the message). */
static int
s_err(struct audit_reader *r, int rc)
{
    if (rc == 0)
        return 0;
    if (rc == MDB_NOTFOUND)
        return -ENOENT;
    r->mdb_rc = rc;
    return rc > 0 ? -rc : -EIO;
}

/*
 * Begins a read transaction. The writer grows the map when it fills up; a
 * reader that mapped the old size learns it here and maps the new one.
 */
static int
s_begin(struct audit_reader *r, MDB_txn **ret_txn)
{
    int rc;

    for (int tries = 0;; tries++) {
        rc = mdb_txn_begin(r->env, NULL, MDB_RDONLY, ret_txn);
        if (rc != MDB_MAP_RESIZED || tries == RESIZE_TRIES)
            break;
        rc = mdb_env_set_mapsize(r->env, 0);
        if (rc != 0)
            break;
    }
    return s_err(r, rc);
}

int
audit_reader_open(const char *state_dir, struct audit_reader **ret_reader)
{
    struct audit_reader *r;
    MDB_txn *txn;
    int rc, err, dead;

    r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    if (snprintf(r->path, sizeof(r->path), "%s/%s", state_dir, AUDIT_READER_SUBDIR) >=
        (int)sizeof(r->path)) {
        free(r);
        return -ENAMETOOLONG;
    }
    rc = mdb_env_create(&r->env);
    if (rc != 0) {
        free(r);
        return rc > 0 ? -rc : -EIO;
    }
    mdb_env_set_maxdbs(r->env, MAX_DBS);
    /*
     * Read-only, but still through the lock file: the reader table in it is
     * what keeps the writer from reusing pages this process is reading.
     */
    rc = mdb_env_open(r->env, r->path, MDB_RDONLY, 0644);
    if (rc != 0)
        goto out_env;
    mdb_reader_check(r->env, &dead); /* clears slots of readers that died */

    err = s_begin(r, &txn);
    if (err != 0)
        goto out_env_err;
    rc = mdb_dbi_open(txn, "log", 0, &r->log);
    if (rc != 0) {
        mdb_txn_abort(txn);
        goto out_env;
    }
    r->has_ids = mdb_dbi_open(txn, "ids", 0, &r->ids) == 0;
    r->has_ids_new = mdb_dbi_open(txn, "ids_new", 0, &r->ids_new) == 0;
    r->has_pending = mdb_dbi_open(txn, "pending", 0, &r->pending) == 0;
    r->has_deadlines = mdb_dbi_open(txn, "deadlines", 0, &r->deadlines) == 0;
    r->has_meta = mdb_dbi_open(txn, "meta", 0, &r->meta) == 0;
    /* Committing, even read-only, is what keeps the handles for later transactions. */
    rc = mdb_txn_commit(txn);
    if (rc != 0)
        goto out_env;
    *ret_reader = r;
    return 0;

out_env:
    err = s_err(r, rc);
out_env_err:
    mdb_env_close(r->env);
    free(r);
    return err;
}

void
audit_reader_destroy(struct audit_reader **reader_p)
{
    if (!reader_p || !*reader_p)
        return;
    mdb_env_close((*reader_p)->env);
    free(*reader_p);
    *reader_p = NULL;
}

const char *
audit_reader_path(const struct audit_reader *r)
{
    return r->path;
}

const char *
audit_reader_strerror(const struct audit_reader *r, int err)
{
    struct audit_reader *w = (struct audit_reader *)r;

    if (err == -EIO && r->mdb_rc != 0)
        return mdb_strerror(r->mdb_rc);
    if (err == -EBADMSG)
        return "a log key is not an 8-byte seq";
    if (err == -EACCES)
        return "permission denied (readers register in lock.mdb: run as the daemon's user "
               "or group)";
    snprintf(w->msg, sizeof(w->msg), "%s", strerror(-err));
    return w->msg;
}

/*
 * Walks the log from `next` in one direction, SCAN_CHUNK records per read
 * transaction; each new transaction repositions on the seq after the last one
 * seen, so records appended meanwhile are picked up and none is seen twice.
 */
static int
s_scan(struct audit_reader *r, uint64_t next, uint64_t to, bool back, audit_reader_fn *fn,
       void *arg)
{
    for (;;) {
        MDB_txn *txn;
        MDB_cursor *cur;
        MDB_val k, v;
        uint8_t key[8];
        unsigned n = 0;
        int rc, err, ret = 0;
        bool more = false;

        err = s_begin(r, &txn);
        if (err != 0)
            return err;
        rc = mdb_cursor_open(txn, r->log, &cur);
        if (rc != 0) {
            mdb_txn_abort(txn);
            return s_err(r, rc);
        }
        be64_put(key, next);
        k.mv_size = sizeof(key);
        k.mv_data = key;
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (back) {
            /* SET_RANGE lands at or above next: step back below it, or start at the end. */
            if (rc == MDB_NOTFOUND)
                rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
            else if (rc == 0 && (k.mv_size != 8 || be64_get(k.mv_data) > next))
                rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
        }
        while (rc == 0) {
            if (k.mv_size != 8) {
                ret = -EBADMSG;
                break;
            }
            uint64_t seq = be64_get(k.mv_data);
            if (!back && to != 0 && seq > to)
                break;
            ret = fn(arg, seq, v.mv_data, v.mv_size);
            if (ret != 0)
                break;
            if (back ? seq <= 1 : seq == UINT64_MAX)
                break;
            next = back ? seq - 1 : seq + 1;
            if (++n == SCAN_CHUNK) {
                more = true;
                break;
            }
            rc = mdb_cursor_get(cur, &k, &v, back ? MDB_PREV : MDB_NEXT);
        }
        mdb_cursor_close(cur);
        mdb_txn_abort(txn);
        if (ret != 0)
            return ret;
        if (rc != 0 && rc != MDB_NOTFOUND)
            return s_err(r, rc);
        if (!more)
            return 0;
    }
}

int
audit_reader_scan(struct audit_reader *r, uint64_t from, uint64_t to, audit_reader_fn *fn,
                  void *arg)
{
    if (to != 0 && from > to)
        return 0;
    return s_scan(r, from, to, false, fn, arg);
}

int
audit_reader_scan_back(struct audit_reader *r, uint64_t from, audit_reader_fn *fn, void *arg)
{
    if (from == 0)
        return 0;
    return s_scan(r, from, 0, true, fn, arg);
}

int
audit_reader_last_seq(struct audit_reader *r, uint64_t *ret_seq)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc, err;

    err = s_begin(r, &txn);
    if (err != 0)
        return err;
    rc = mdb_cursor_open(txn, r->log, &cur);
    if (rc == 0) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    if (rc == MDB_NOTFOUND) {
        *ret_seq = 0;
        return 0;
    }
    if (rc != 0)
        return s_err(r, rc);
    if (k.mv_size != 8)
        return -EBADMSG;
    *ret_seq = be64_get(k.mv_data);
    return 0;
}

int
audit_reader_get(struct audit_reader *r, uint64_t seq, void **ret_bytes, size_t *ret_len)
{
    MDB_txn *txn;
    MDB_val k, v;
    uint8_t key[8];
    void *copy = NULL;
    int rc, err;

    err = s_begin(r, &txn);
    if (err != 0)
        return err;
    be64_put(key, seq);
    k.mv_size = sizeof(key);
    k.mv_data = key;
    rc = mdb_get(txn, r->log, &k, &v);
    if (rc == 0) {
        copy = malloc(v.mv_size ? v.mv_size : 1);
        if (copy)
            memcpy(copy, v.mv_data, v.mv_size);
    }
    mdb_txn_abort(txn);
    if (rc != 0)
        return s_err(r, rc);
    if (!copy)
        return -ENOMEM;
    *ret_bytes = copy;
    *ret_len = v.mv_size;
    return 0;
}

static int
s_meta_get(MDB_txn *txn, MDB_dbi dbi, const char *name, MDB_val *ret_val)
{
    MDB_val k = {.mv_size = strlen(name), .mv_data = (void *)name};

    return mdb_get(txn, dbi, &k, ret_val);
}

int
audit_reader_meta(struct audit_reader *r, struct audit_meta *ret_meta)
{
    struct audit_meta m = {.sha256_from = UINT64_MAX};
    MDB_txn *txn;
    MDB_val v, v2;
    int err;

    if (!r->has_meta) {
        *ret_meta = m;
        return 0;
    }
    err = s_begin(r, &txn);
    if (err != 0)
        return err;
    if (s_meta_get(txn, r->meta, "format_version", &v) == 0 && v.mv_size == 8) {
        m.has_version = true;
        m.format_version = be64_get(v.mv_data);
    }
    if (m.format_version >= 3)
        m.sha256_from = s_meta_get(txn, r->meta, "chain_sha256_from", &v) == 0 && v.mv_size == 8
                            ? be64_get(v.mv_data)
                            : 0;
    /* Head and seq are written in one transaction: read them in one too. */
    if (s_meta_get(txn, r->meta, "chain_head", &v) == 0 && v.mv_size == AUDIT_HASH_LEN &&
        s_meta_get(txn, r->meta, "chain_seq", &v2) == 0 && v2.mv_size == 8) {
        m.has_head = true;
        memcpy(m.chain_head, v.mv_data, AUDIT_HASH_LEN);
        m.chain_seq = be64_get(v2.mv_data);
    }
    mdb_txn_abort(txn);
    *ret_meta = m;
    return 0;
}

/*
 * Walks ids_new: with id, stops at its entry (*ret_seq); without, counts in
 * *ret_n the entries whose id `ids` does not have. Returns an LMDB code.
 */
static int
s_ids_new_walk(struct audit_reader *r, MDB_txn *txn, const uint8_t *id, uint64_t *ret_seq,
               uint64_t *ret_n)
{
    MDB_cursor *cur;
    MDB_val k, v, ik, iv;
    uint64_t n = 0;
    int rc = mdb_cursor_open(txn, r->ids_new, &cur);
    if (rc != 0)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 8 || v.mv_size != 16)
            continue;
        if (id && memcmp(v.mv_data, id, 16) == 0) {
            *ret_seq = be64_get(k.mv_data);
            break;
        }
        ik = v;
        if (!id && (!r->has_ids || mdb_get(txn, r->ids, &ik, &iv) == MDB_NOTFOUND))
            n++;
    }
    mdb_cursor_close(cur);
    if (ret_n)
        *ret_n = n;
    return rc;
}

int
audit_reader_lookup_id(struct audit_reader *r, const uint8_t id[16], uint64_t *ret_seq)
{
    MDB_txn *txn;
    MDB_val k = {.mv_size = 16, .mv_data = (void *)id}, v;
    uint64_t seq = 0;
    int rc, err;

    if (!r->has_ids && !r->has_ids_new)
        return -ENOENT;
    err = s_begin(r, &txn);
    if (err != 0)
        return err;
    rc = r->has_ids ? mdb_get(txn, r->ids, &k, &v) : MDB_NOTFOUND;
    if (rc == 0 && v.mv_size == 8)
        seq = be64_get(v.mv_data);
    if (rc == MDB_NOTFOUND && r->has_ids_new)
        rc = s_ids_new_walk(r, txn, id, &seq, NULL);
    mdb_txn_abort(txn);
    if (rc != 0)
        return s_err(r, rc);
    if (seq == 0)
        return -EBADMSG;
    *ret_seq = seq;
    return 0;
}

int
audit_reader_counts(struct audit_reader *r, struct audit_counts *ret_counts)
{
    struct audit_counts c = {0};
    MDB_envinfo info;
    MDB_stat st;
    MDB_txn *txn;
    int rc, err;

    err = s_begin(r, &txn);
    if (err != 0)
        return err;
    rc = mdb_stat(txn, r->log, &st);
    if (rc == 0) {
        c.log = st.ms_entries;
        if (r->has_ids && mdb_stat(txn, r->ids, &st) == 0) {
            c.has_ids = true;
            c.ids = st.ms_entries;
        }
        uint64_t unswept;
        if (r->has_ids_new && s_ids_new_walk(r, txn, NULL, NULL, &unswept) == MDB_NOTFOUND) {
            c.has_ids = true;
            c.ids += unswept;
        }
        if (r->has_pending && mdb_stat(txn, r->pending, &st) == 0) {
            c.has_pending = true;
            c.pending = st.ms_entries;
        }
        if (r->has_deadlines && mdb_stat(txn, r->deadlines, &st) == 0) {
            c.has_deadlines = true;
            c.deadlines = st.ms_entries;
        }
    }
    mdb_txn_abort(txn);
    if (rc != 0)
        return s_err(r, rc);
    if (mdb_env_info(r->env, &info) == 0 && mdb_env_stat(r->env, &st) == 0) {
        c.map_size = info.me_mapsize;
        c.last_page_bytes = (uint64_t)(info.me_last_pgno + 1) * st.ms_psize;
    }
    *ret_counts = c;
    return 0;
}
