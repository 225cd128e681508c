/*
 * incident_store: three databases, values packed by hand in a fixed
 * layout, integers big-endian (they never leave this machine's store):
 *   timeline   BLAKE2b-128 of the asset's name, first alert time (u64 BE)
 *              -> incident id: an asset's incidents in time order
 *   incidents  incident id -> first u64, last u64, alerts u64, priority u8,
 *              impacts u8, flags u8 (confirmed, escalated), asset
 *   alerts     seq (u64 BE) -> the decision for that alert
 *
 * Alerts reach the workers out of order (two workers, deep pipelines): an
 * alert of one burst can be decided after the first alert of the next. So
 * an alert joins the incident whose window covers its time, found in the
 * asset's timeline, not merely the asset's latest incident.
 */
#include <errno.h>
#include <lmdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "proto/be64.h"
#include "workers/incident_store.h"

#define MAP_BYTES       (1ull << 30)
#define FLAG_CONFIRMED  1u
#define FLAG_ESCALATED  2u
#define D_OPENED        1u
#define D_ROSE          2u
#define D_MILESTONE     4u
#define D_CONFIRMED_NOW 8u
#define D_ESCALATE_NOW  16u
#define INCIDENT_BYTES  27
#define ASSET_HASH      16 /* an asset's name in keys: any length, one key size */
#define TIMELINE_KEY    (ASSET_HASH + 8)
#define LOOK_BACK       4 /* incidents tried before the one found */
#define DECISION_BYTES  (INCIDENT_ID_MAX + 27)

struct incident_store {
    MDB_env *env;
    MDB_dbi timeline, incidents, alerts;
};

struct incident {
    uint64_t first, last;
    uint32_t alerts;
    uint8_t priority, impacts, flags;
};

static int
s_errno(int rc)
{
    return rc == MDB_MAP_FULL ? -ENOSPC : rc > 0 && rc < 200 ? -rc : -EIO;
}

/* mkdir -p: a worker may start before the broker made its state directory. */
static int
s_mkdirs(const char *dir)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        return -ENAMETOOLONG;
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0750) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    return mkdir(path, 0750) < 0 && errno != EEXIST ? -errno : 0;
}

int
incident_store_open(const char *dir, struct incident_store **ret)
{
    int mk = s_mkdirs(dir);
    if (mk < 0)
        return mk;
    struct incident_store *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    MDB_txn *txn = NULL;
    int dead, rc = mdb_env_create(&s->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(s->env, 3);
    if (rc == 0)
        rc = mdb_env_set_mapsize(s->env, MAP_BYTES);
    if (rc == 0)
        rc = mdb_env_open(s->env, dir, MDB_NOSYNC, 0640);
    if (rc == 0)
        rc = mdb_reader_check(s->env, &dead);
    if (rc == 0)
        rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "timeline", MDB_CREATE, &s->timeline);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "incidents", MDB_CREATE, &s->incidents);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "alerts", MDB_CREATE, &s->alerts);
    if (rc == 0) {
        rc = mdb_txn_commit(txn);
        txn = NULL;
    }
    if (rc) {
        if (txn)
            mdb_txn_abort(txn);
        if (s->env)
            mdb_env_close(s->env);
        free(s);
        return s_errno(rc);
    }
    *ret = s;
    return 0;
}

void
incident_store_destroy(struct incident_store **store_p)
{
    if (!store_p || !*store_p)
        return;
    mdb_env_close((*store_p)->env);
    free(*store_p);
    *store_p = NULL;
}

static void
s_pack_decision(const struct incident_decision *d, uint8_t *v)
{
    memset(v, 0, DECISION_BYTES);
    memcpy(v, d->incident_id, strlen(d->incident_id));
    uint8_t *p = v + INCIDENT_ID_MAX;
    p[0] = (uint8_t)((d->opened ? D_OPENED : 0) | (d->rose ? D_ROSE : 0) |
                     (d->milestone ? D_MILESTONE : 0) | (d->confirmed_now ? D_CONFIRMED_NOW : 0) |
                     (d->escalate_now ? D_ESCALATE_NOW : 0));
    p[1] = (uint8_t)d->priority;
    p[2] = (uint8_t)d->impacts;
    be64_put(p + 3, d->alerts);
    be64_put(p + 11, d->first_seen);
    be64_put(p + 19, d->last_seen);
}

static void
s_unpack_decision(const uint8_t *v, struct incident_decision *d)
{
    memset(d, 0, sizeof *d);
    memcpy(d->incident_id, v, INCIDENT_ID_MAX - 1);
    const uint8_t *p = v + INCIDENT_ID_MAX;
    d->opened = p[0] & D_OPENED;
    d->rose = p[0] & D_ROSE;
    d->milestone = p[0] & D_MILESTONE;
    d->confirmed_now = p[0] & D_CONFIRMED_NOW;
    d->escalate_now = p[0] & D_ESCALATE_NOW;
    d->priority = p[1];
    d->impacts = p[2];
    d->alerts = (uint32_t)be64_get(p + 3);
    d->first_seen = be64_get(p + 11);
    d->last_seen = be64_get(p + 19);
}

static bool
s_milestone(uint32_t n)
{
    for (uint32_t m = 10; m && m <= n; m *= 10)
        if (m == n)
            return true;
    return false;
}

/* The asset's hash, then the time (BE): an asset's incidents sort by their
 * first alert, whatever the length of its name. */
static void
s_timeline_key(uint8_t key[TIMELINE_KEY], const char *asset, uint64_t t)
{
    crypto_generichash(key, ASSET_HASH, (const unsigned char *)asset, strlen(asset), NULL, 0);
    be64_put(key + ASSET_HASH, t);
}

static int
s_get_incident(struct incident_store *s, MDB_txn *txn, const char *id, struct incident *inc)
{
    MDB_val ik = {.mv_size = strlen(id), .mv_data = (void *)id}, iv;
    int rc = mdb_get(txn, s->incidents, &ik, &iv);
    if (rc)
        return rc;
    if (iv.mv_size != INCIDENT_BYTES)
        return MDB_CORRUPTED;
    const uint8_t *b = iv.mv_data;
    *inc = (struct incident){be64_get(b), be64_get(b + 8), (uint32_t)be64_get(b + 16),
                             b[24],       b[25],           b[26]};
    return 0;
}

/*
 * The incident of asset whose window covers t, into d->incident_id and
 * *inc: the latest incident that began no later than t + window, or one of
 * the few before it (a long incident may cover t though a later one began).
 */
static int
s_find(struct incident_store *s, MDB_txn *txn, const struct alert_facts *a, uint64_t window,
       struct incident_decision *d, struct incident *inc, bool *found)
{
    uint8_t key[TIMELINE_KEY];
    s_timeline_key(key, a->asset, a->time_ms + window);
    MDB_val k = {.mv_size = sizeof key, .mv_data = key};
    MDB_val v;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, s->timeline, &cur);
    if (rc)
        return rc;
    *found = false;
    /* The first key at or past (asset, t + window); unless it is exactly
     * there (an incident beginning at t + window covers t), back one. */
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    bool exact = rc == 0 && k.mv_size == sizeof key && memcmp(k.mv_data, key, sizeof key) == 0;
    if (!exact)
        rc = mdb_cursor_get(cur, &k, &v, rc == MDB_NOTFOUND ? MDB_LAST : MDB_PREV);
    for (int tries = 0; rc == 0 && tries <= LOOK_BACK; tries++) {
        if (k.mv_size != sizeof key || memcmp(k.mv_data, key, ASSET_HASH) != 0)
            break; /* another asset's: none of this one's is earlier */
        if (v.mv_size >= INCIDENT_ID_MAX)
            break;
        memcpy(d->incident_id, v.mv_data, v.mv_size);
        d->incident_id[v.mv_size] = '\0';
        rc = s_get_incident(s, txn, d->incident_id, inc);
        if (rc)
            break;
        if (a->time_ms + window >= inc->first && a->time_ms <= inc->last + window) {
            *found = true;
            break;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int
s_decide(struct incident_store *s, MDB_txn *txn, const struct alert_facts *a,
         const struct incident_params *p, struct incident_decision *d)
{
    struct incident inc = {0};
    bool joined = false;
    uint8_t tkey[TIMELINE_KEY];
    int rc = s_find(s, txn, a, p->window_ms, d, &inc, &joined);
    if (rc)
        return s_errno(rc);

    uint64_t old_first = inc.first;
    if (!joined) {
        static const char hex[] = "0123456789abcdef";
        memcpy(d->incident_id, "INC-", 4);
        for (int i = 0; i < 8; i++) {
            d->incident_id[4 + 2 * i] = hex[a->event_id[i] >> 4];
            d->incident_id[5 + 2 * i] = hex[a->event_id[i] & 15];
        }
        d->incident_id[20] = '\0';
        inc = (struct incident){a->time_ms,           a->time_ms,          1,
                                (uint8_t)a->priority, (uint8_t)a->impacts, 0};
        d->opened = true;
    } else {
        inc.alerts++;
        if (a->time_ms < inc.first)
            inc.first = a->time_ms;
        if (a->time_ms > inc.last)
            inc.last = a->time_ms;
        if (a->priority < inc.priority) {
            inc.priority = (uint8_t)a->priority;
            d->rose = true;
        }
        inc.impacts |= (uint8_t)a->impacts;
        d->milestone = s_milestone(inc.alerts);
    }
    if (!(inc.flags & FLAG_CONFIRMED) && inc.priority <= p->confirm_priority) {
        inc.flags |= FLAG_CONFIRMED;
        d->confirmed_now = true;
    }
    if (!(inc.flags & FLAG_ESCALATED) && (inc.flags & FLAG_CONFIRMED) && inc.impacts &&
        p->serious_system) {
        inc.flags |= FLAG_ESCALATED;
        d->escalate_now = true;
    }
    d->priority = inc.priority;
    d->alerts = inc.alerts;
    d->first_seen = inc.first;
    d->last_seen = inc.last;
    d->impacts = inc.impacts;

    uint8_t ib[INCIDENT_BYTES];
    be64_put(ib, inc.first);
    be64_put(ib + 8, inc.last);
    be64_put(ib + 16, inc.alerts);
    ib[24] = inc.priority;
    ib[25] = inc.impacts;
    ib[26] = inc.flags;
    MDB_val ik = {.mv_size = strlen(d->incident_id), .mv_data = d->incident_id};
    MDB_val iv = {.mv_size = sizeof ib, .mv_data = ib};
    rc = mdb_put(txn, s->incidents, &ik, &iv, 0);
    /* The timeline is keyed by the first alert: move the key if it moved. */
    if (rc == 0 && joined && inc.first != old_first) {
        s_timeline_key(tkey, a->asset, old_first);
        MDB_val tk = {.mv_size = sizeof tkey, .mv_data = tkey};
        rc = mdb_del(txn, s->timeline, &tk, NULL);
    }
    if (rc == 0 && (!joined || inc.first != old_first)) {
        s_timeline_key(tkey, a->asset, inc.first);
        MDB_val tk = {.mv_size = sizeof tkey, .mv_data = tkey};
        rc = mdb_put(txn, s->timeline, &tk, &ik, 0);
    }
    return rc ? s_errno(rc) : 0;
}

int
incident_store_correlate(struct incident_store *s, const struct alert_facts *a,
                         const struct incident_params *p, struct incident_decision *ret)
{
    MDB_txn *txn;
    uint8_t seq_be[8], dv[DECISION_BYTES];
    be64_put(seq_be, a->seq);
    MDB_val key = {.mv_size = 8, .mv_data = seq_be}, val;
    struct incident_decision d = {0};

    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc)
        return s_errno(rc);
    rc = mdb_get(txn, s->alerts, &key, &val);
    if (rc == 0 && val.mv_size == DECISION_BYTES) {
        s_unpack_decision(val.mv_data, &d);
        d.replay = true;
        mdb_txn_abort(txn);
        *ret = d;
        return 0;
    }
    int err = rc == MDB_NOTFOUND || rc == 0 ? s_decide(s, txn, a, p, &d) : s_errno(rc);
    if (err == 0) {
        s_pack_decision(&d, dv);
        val = (MDB_val){.mv_size = sizeof dv, .mv_data = dv};
        rc = mdb_put(txn, s->alerts, &key, &val, 0);
        err = rc ? s_errno(rc) : 0;
    }
    if (err) {
        mdb_txn_abort(txn);
        return err;
    }
    rc = mdb_txn_commit(txn);
    if (rc)
        return s_errno(rc);
    *ret = d;
    return 0;
}
