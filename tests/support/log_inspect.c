/* log_inspect: direct, read-mostly LMDB access for test assertions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>

#include "tests/support/log_inspect.h"

static int
s_open(const char *state_dir, unsigned flags, MDB_env **ret)
{
    char path[512];
    snprintf(path, sizeof path, "%s/audit", state_dir);
    if (mdb_env_create(ret))
        return -1;
    mdb_env_set_maxdbs(*ret, 8);
    if (mdb_env_open(*ret, path, flags, 0640)) {
        mdb_env_close(*ret);
        return -1;
    }
    return 0;
}

static uint64_t
s_be(const void *p)
{
    const uint8_t *b = p;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | b[i];
    return v;
}

long
log_inspect_each(const char *state_dir,
                 bool (*fn)(uint64_t, const struct audit_record *, const void *, size_t, void *),
                 void *arg)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_cursor *cur;
    MDB_val k, v;
    long n = 0;
    if (s_open(state_dir, MDB_RDONLY, &env) < 0)
        return -1;
    if (mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) || mdb_dbi_open(txn, "log", 0, &dbi) ||
        mdb_cursor_open(txn, dbi, &cur)) {
        mdb_env_close(env);
        return -1;
    }
    int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        struct audit_record rec;
        bool ok = audit_record_decode(v.mv_data, v.mv_size, &rec) == 0;
        bool go = fn(s_be(k.mv_data), ok ? &rec : NULL, v.mv_data, v.mv_size, arg);
        if (ok)
            audit_record_release(&rec);
        n++;
        if (!go)
            break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return n;
}

long
log_inspect_count(const char *state_dir, const char *db)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_stat st;
    long n = -1;
    if (s_open(state_dir, MDB_RDONLY, &env) < 0)
        return -1;
    if (mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0) {
        if (mdb_dbi_open(txn, db, 0, &dbi) == 0 && mdb_stat(txn, dbi, &st) == 0)
            n = (long)st.ms_entries;
        mdb_txn_abort(txn);
    }
    mdb_env_close(env);
    return n;
}

long
log_inspect_count_ids(const char *state_dir)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi ids, ids_new;
    MDB_stat st;
    MDB_cursor *cur;
    MDB_val k, v, found;
    long n = -1;
    if (s_open(state_dir, MDB_RDONLY, &env) < 0)
        return -1;
    if (mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0) {
        bool has_ids = mdb_dbi_open(txn, "ids", 0, &ids) == 0 && mdb_stat(txn, ids, &st) == 0;
        n = has_ids ? (long)st.ms_entries : 0;
        if (mdb_dbi_open(txn, "ids_new", 0, &ids_new) == 0 &&
            mdb_cursor_open(txn, ids_new, &cur) == 0) {
            for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
                 rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
                if (!has_ids || mdb_get(txn, ids, &v, &found) == MDB_NOTFOUND)
                    n++;
            mdb_cursor_close(cur);
        }
        mdb_txn_abort(txn);
    }
    mdb_env_close(env);
    return n;
}

int
log_inspect_flip_byte(const char *state_dir, uint64_t seq, size_t offset)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    uint8_t key[8];
    MDB_val k = {.mv_size = 8, .mv_data = key}, v;
    int rc = -1;
    for (int i = 7; i >= 0; i--, seq >>= 8)
        key[i] = (uint8_t)seq;
    if (s_open(state_dir, 0, &env) < 0)
        return -1;
    if (mdb_txn_begin(env, NULL, 0, &txn) == 0) {
        if (mdb_dbi_open(txn, "log", 0, &dbi) == 0 && mdb_get(txn, dbi, &k, &v) == 0 &&
            offset < v.mv_size) {
            uint8_t *copy = malloc(v.mv_size);
            memcpy(copy, v.mv_data, v.mv_size);
            copy[offset] ^= 0x01;
            MDB_val nv = {.mv_size = v.mv_size, .mv_data = copy};
            if (mdb_put(txn, dbi, &k, &nv, 0) == 0) {
                rc = mdb_txn_commit(txn) == 0 ? 0 : -1;
                txn = NULL;
            }
            free(copy);
        }
        if (txn)
            mdb_txn_abort(txn);
    }
    mdb_env_close(env);
    return rc;
}

struct kind_count {
    const char *kind, *key, *value;
    long n;
};

static bool
s_str_field_is(const struct audit_record *rec, const char *key, const char *want)
{
    const msgpack_object *o = audit_record_event_field(rec, key);
    return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(want) &&
           memcmp(o->via.str.ptr, want, o->via.str.size) == 0;
}

static bool
s_count_kind(uint64_t seq, const struct audit_record *rec, const void *bytes, size_t len, void *arg)
{
    struct kind_count *c = arg;
    if (rec && strcmp(rec->kind, c->kind) == 0 &&
        (!c->value || s_str_field_is(rec, c->key, c->value)))
        c->n++;
    return true;
}

long
log_inspect_count_kind(const char *state_dir, const char *kind, const char *area)
{
    return log_inspect_count_field(state_dir, kind, "area", area);
}

long
log_inspect_count_field(const char *state_dir, const char *kind, const char *key, const char *value)
{
    struct kind_count c = {kind, key, value, 0};
    return log_inspect_each(state_dir, s_count_kind, &c) < 0 ? -1 : c.n;
}

bool
log_inspect_wait_empty(const char *state_dir, const char *db, int timeout_ms)
{
    for (int waited = 0;; waited += 50) {
        if (log_inspect_count(state_dir, db) == 0)
            return true;
        if (waited >= timeout_ms)
            return false;
        usleep(50000);
    }
}

bool
log_inspect_wait_kind(const char *state_dir, const char *kind, const char *area, long n,
                      int timeout_ms)
{
    for (int waited = 0;; waited += 50) {
        if (log_inspect_count_kind(state_dir, kind, area) >= n)
            return true;
        if (waited >= timeout_ms)
            return false;
        usleep(50000);
    }
}
