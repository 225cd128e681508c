/*
 * audit_log against a real LMDB environment in a temporary directory:
 * batches commit or leave nothing, ids are claimed once, the map grows
 * to its limit and no further, and a reopened log continues its chain.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "daemon/audit_log.h"
#include "tests/unit/unit_log.h"
#include "tests/support/daemon_harness.h"
#include "tests/support/log_inspect.h"

static char s_dir[256];

static void
s_setup(void)
{
    cr_assert_eq(harness_mkdtemp(s_dir, sizeof s_dir, "mandated-unit"), 0);
}

static void
s_teardown(void)
{
    cr_assert_eq(harness_rm_rf(s_dir), 0);
}

TestSuite(audit_log, .init = s_setup, .fini = s_teardown);

static struct audit_log *
s_open(uint64_t initial, uint64_t max)
{
    return unit_log_open(s_dir, initial, max);
}

/* One record with one field, "n". */
static int
s_append(struct audit_log *log, uint64_t n, uint64_t *ret_seq)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    audit_pack_key(&pk, "n");
    msgpack_pack_uint64(&pk, n);
    int rc = audit_log_append(log, "test", sb.data, sb.size, 1, ret_seq);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

Test(audit_log, commit_advances_abort_leaves_nothing)
{
    struct audit_log *log = s_open(1 << 20, 1 << 24);
    uint64_t seq;
    cr_assert_eq(audit_log_begin(log), 0);
    cr_assert_eq(s_append(log, 1, &seq), 0);
    cr_assert_eq(seq, 1);
    cr_assert_eq(s_append(log, 2, &seq), 0);
    cr_assert_eq(seq, 2);
    cr_assert_eq(audit_log_commit(log), 0);
    cr_assert_eq(audit_log_last_seq(log), 2);

    cr_assert_eq(audit_log_begin(log), 0);
    cr_assert_eq(s_append(log, 3, &seq), 0);
    cr_assert_eq(seq, 3);
    audit_log_abort(log);
    cr_assert_eq(audit_log_last_seq(log), 2, "an aborted batch must not advance the log");

    /* The next batch reuses seq 3 and chains onto record 2, not the aborted one. */
    cr_assert_eq(audit_log_begin(log), 0);
    cr_assert_eq(s_append(log, 4, &seq), 0);
    cr_assert_eq(seq, 3);
    cr_assert_eq(audit_log_commit(log), 0);
    audit_log_destroy(&log);
    cr_assert_null(log);
    audit_log_destroy(&log); /* safe twice */
    cr_assert_eq(log_inspect_count(s_dir, "log"), 3);
}

Test(audit_log, ids_are_claimed_once)
{
    struct audit_log *log = s_open(1 << 20, 1 << 24);
    uint8_t id[16] = {1, 2, 3};
    uint64_t seq = 0, found = 0;
    cr_assert_eq(audit_log_begin(log), 0);
    cr_assert_eq(audit_log_find_id(log, id, &found), -ENOENT);
    cr_assert_eq(audit_log_claim_id(log, id, &found), 0);
    cr_assert_eq(s_append(log, 1, &seq), 0);
    cr_assert_eq(seq, 1, "the claim is for the record appended next");
    /* Within the same batch the claim is already visible. */
    cr_assert_eq(audit_log_claim_id(log, id, &found), -EEXIST);
    cr_assert_eq(found, seq);
    cr_assert_eq(audit_log_commit(log), 0);

    cr_assert_eq(audit_log_begin(log), 0);
    cr_assert_eq(audit_log_find_id(log, id, &found), 0);
    cr_assert_eq(found, 1);
    audit_log_abort(log);
    audit_log_destroy(&log);
}

Test(audit_log, map_grows_to_its_limit_then_refuses)
{
    struct audit_log *log = s_open(64 * 1024, 256 * 1024);
    uint64_t seq = 0;
    int rc = 0, grew = 0;
    for (uint64_t n = 0; n < 100000 && rc == 0; n++) {
        cr_assert_eq(audit_log_begin(log), 0);
        rc = s_append(log, n, &seq);
        if (rc == 0)
            rc = audit_log_commit(log);
        else
            audit_log_abort(log);
        if (rc == -ENOSPC && audit_log_map_was_full(log) && audit_log_grow(log) == 0) {
            grew++;
            rc = 0;
        }
    }
    cr_assert_eq(rc, -ENOSPC);
    cr_assert(audit_log_map_was_full(log));
    cr_assert_eq(audit_log_map_size(log), 256 * 1024);
    cr_assert_eq(grew, 2, "64 KiB -> 128 KiB -> 256 KiB");
    cr_assert_eq(audit_log_grow(log), -ENOSPC);
    uint64_t last = audit_log_last_seq(log);
    audit_log_destroy(&log);
    cr_assert_eq(log_inspect_count(s_dir, "log"), (long)last, "a refused batch left a trace");
}

static bool
s_feed(uint64_t key, const struct audit_record *rec, const void *b, size_t l, void *arg)
{
    return audit_verifier_feed(arg, key, b, l);
}

Test(audit_log, reopen_continues_the_chain)
{
    struct audit_log *log = s_open(1 << 20, 1 << 24);
    uint64_t seq;
    cr_assert_eq(audit_log_begin(log), 0);
    cr_assert_eq(s_append(log, 1, &seq), 0);
    cr_assert_eq(audit_log_commit(log), 0);
    audit_log_destroy(&log);

    log = s_open(1 << 20, 1 << 24);
    cr_assert_eq(audit_log_last_seq(log), 1);
    cr_assert_eq(audit_log_begin(log), 0);
    cr_assert_eq(s_append(log, 2, &seq), 0);
    cr_assert_eq(seq, 2);
    cr_assert_eq(audit_log_commit(log), 0);
    audit_log_destroy(&log);

    /* Chained across the reopen: record 2's prev is the hash of record 1
     * (SHA-256 from seq 1 on: a log begun in format 3). */
    struct audit_verifier v;
    static const uint8_t zero[AUDIT_HASH_LEN];
    audit_verifier_init(&v, 1, zero, 1);
    cr_assert_eq(log_inspect_each(s_dir, s_feed, &v), 2);
    cr_assert_eq(v.bad_seq, 0, "%s", v.why);
}

Test(audit_log, a_bad_state_dir_is_named)
{
    struct audit_log_options o = {.durable = false, .map_initial = 1 << 20, .map_max = 1 << 24};
    struct audit_log *log = NULL;
    char err[600] = "", path[300];
    snprintf(path, sizeof path, "%s/file", s_dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fclose(f);
    cr_assert_lt(audit_log_open(path, &o, &log, err, sizeof err), 0);
    cr_assert_null(log);
    cr_assert(strstr(err, path), "error must name the path: %s", err);
}

struct pending_seen {
    struct audit_pending p[8];
    size_t n;
};

static int
s_collect_pending(void *arg, const struct audit_pending *p)
{
    struct pending_seen *s = arg;
    if (s->n < 8)
        s->p[s->n++] = *p;
    return 0;
}

Test(audit_log, pending_entries_update_delete_and_read_back)
{
    struct audit_log *log = s_open(1 << 20, 1 << 24);
    uint64_t seq;
    cr_assert_eq(audit_log_begin(log), 0);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(s_append(log, (uint64_t)i, &seq), 0);
        cr_assert_eq(audit_log_put_pending(log, seq, "press", 0, 0), 0);
    }
    cr_assert_eq(audit_log_commit(log), 0);
    cr_assert_eq(audit_log_begin(log), 0);
    cr_assert_eq(audit_log_update_pending(log, 2, "press", 3, 1234567), 0);
    cr_assert_eq(audit_log_del_pending(log, 1), 0);
    cr_expect_eq(audit_log_del_pending(log, 99), -ENOENT);
    cr_assert_eq(audit_log_commit(log), 0);

    struct pending_seen seen = {0};
    cr_assert_eq(audit_log_pending_foreach(log, s_collect_pending, &seen), 0);
    cr_assert_eq(seen.n, 2);
    cr_expect(seen.p[0].seq == 2 && seen.p[0].attempt == 3 && seen.p[0].due_ms == 1234567 &&
              strcmp(seen.p[0].area, "press") == 0);
    cr_expect(seen.p[1].seq == 3 && seen.p[1].attempt == 0 && seen.p[1].due_ms == 0);

    /* Committed records read back through a snapshot; a missing seq is -ENOENT. */
    const void *bytes;
    size_t len;
    cr_assert_eq(audit_log_snapshot_begin(log), 0);
    cr_expect_eq(audit_log_snapshot_get(log, 3, &bytes, &len), 0);
    struct audit_record rec;
    cr_assert_eq(audit_record_decode(bytes, len, &rec), 0);
    cr_expect_eq(rec.seq, 3);
    audit_record_release(&rec);
    cr_expect_eq(audit_log_snapshot_get(log, 4, &bytes, &len), -ENOENT);
    audit_log_snapshot_end(log);
    audit_log_destroy(&log);
}

static int
s_stop_early(void *arg, const struct audit_pending *p)
{
    ++*(int *)arg;
    return -ECANCELED;
}

Test(audit_log, a_pending_value_that_does_not_decode_is_reported_not_trusted)
{
    struct audit_log *log = s_open(1 << 20, 1 << 24);
    cr_assert_eq(audit_log_begin(log), 0);
    cr_assert_eq(audit_log_put_pending(log, 1, "press", 0, 0), 0);
    cr_assert_eq(audit_log_put_pending(log, 2, "cyber", 0, 0), 0);
    cr_assert_eq(audit_log_put_pending(log, 3, "postal", 0, 0), 0);
    cr_assert_eq(audit_log_commit(log), 0);
    audit_log_destroy(&log);

    /* Corrupt entry 1 from outside: its value becomes a lone 0xc1; and entry 3
     * a map whose area decodes before a key that is no string. */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    char path[300];
    snprintf(path, sizeof path, "%s/audit", s_dir);
    cr_assert_eq(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 8);
    cr_assert_eq(mdb_env_open(env, path, 0, 0640), 0);
    cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, "pending", 0, &dbi), 0);
    uint8_t k[8] = {0, 0, 0, 0, 0, 0, 0, 1};
    MDB_val key = {8, k}, val = {1, "\xc1"};
    cr_assert_eq(mdb_put(txn, dbi, &key, &val, 0), 0);
    static const char half[] = "\x82\xa4"
                               "area"
                               "\xa5"
                               "cyber"
                               "\x01\x02";
    k[7] = 3;
    val = (MDB_val){sizeof half - 1, (void *)half};
    cr_assert_eq(mdb_put(txn, dbi, &key, &val, 0), 0);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);

    log = s_open(1 << 20, 1 << 24);
    struct pending_seen seen = {0};
    cr_assert_eq(audit_log_pending_foreach(log, s_collect_pending, &seen), 0);
    cr_assert_eq(seen.n, 3);
    cr_expect(seen.p[2].unreadable && seen.p[2].seq == 3, "entry 3 must be reported unreadable");
    cr_expect_str_eq(seen.p[2].area, "", "a half-decoded entry keeps no area");
    cr_expect(seen.p[0].unreadable, "entry 1 must be reported unreadable");
    cr_expect_eq(seen.p[0].seq, 1);
    cr_expect_str_eq(seen.p[0].area, "", "an undecodable entry has no area");
    cr_expect_not(seen.p[1].unreadable);
    cr_expect_str_eq(seen.p[1].area, "cyber");
    /* The callback's error stops the walk and comes back. */
    int calls = 0;
    cr_expect_eq(audit_log_pending_foreach(log, s_stop_early, &calls), -ECANCELED);
    cr_expect_eq(calls, 1);
    audit_log_destroy(&log);
}

/* ids_filter 0: no filter; else one sized so, and built before this returns. */
static struct audit_log *
s_open_filtered(size_t ids_in_memory, size_t ids_filter)
{
    struct audit_log_options o = {.durable = false,
                                  .map_initial = 1 << 27,
                                  .map_max = 1 << 27,
                                  .ids_in_memory = ids_in_memory,
                                  .ids_filter = ids_filter};
    struct audit_log *log = NULL;
    char err[256];
    cr_assert_eq(audit_log_open(s_dir, &o, &log, err, sizeof err), 0, "%s", err);
    if (ids_filter)
        cr_assert_eq(audit_log_wait_filter(log), 0);
    return log;
}

static struct audit_log *
s_open_ids(size_t ids_in_memory)
{
    return s_open_filtered(ids_in_memory, 0);
}

/* Event k's id: spread over the whole key space, as random (UUIDv4) ids are. */
static void
s_spread_id(uint64_t k, uint8_t id[16])
{
    uint64_t x = k * 0x9e3779b97f4a7c15ull;
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 29;
    for (int i = 0; i < 8; i++)
        id[i] = (uint8_t)(x >> (56 - 8 * i));
    for (int i = 0; i < 8; i++)
        id[8 + i] = (uint8_t)(k >> (56 - 8 * i));
}

/* Claims ids first..first+n-1 (each for its own record) in one batch. */
static void
s_claim_batch(struct audit_log *log, uint64_t first, uint64_t n)
{
    uint8_t id[16];
    uint64_t seq, found;
    cr_assert_eq(audit_log_begin(log), 0);
    for (uint64_t k = first; k < first + n; k++) {
        s_spread_id(k, id);
        int rc = audit_log_claim_id(log, id, &found);
        cr_assert_eq(rc, 0, "id %llu: %s", (unsigned long long)k, strerror(-rc));
        cr_assert_eq(s_append(log, k, &seq), 0);
        cr_assert_eq(seq, k + 1);
    }
    cr_assert_eq(audit_log_commit(log), 0);
}

/* Every id 0..n-1 is claimed, by the record it came with. */
static void
s_expect_all_claimed(struct audit_log *log, uint64_t n)
{
    uint8_t id[16];
    uint64_t found;
    cr_assert_eq(audit_log_begin(log), 0);
    for (uint64_t k = 0; k < n; k++) {
        s_spread_id(k, id);
        found = 0;
        cr_assert_eq(audit_log_claim_id(log, id, &found), -EEXIST, "id %llu claimed twice",
                     (unsigned long long)k);
        cr_assert_eq(found, k + 1, "id %llu names seq %llu", (unsigned long long)k,
                     (unsigned long long)found);
    }
    audit_log_abort(log);
}

/*
 * With room for 100 ids in memory, 20,000 spread ids go through ids_new and
 * the sweep into `ids` (and ids_new is pruned behind it); each stays claimed,
 * before and after a reopen. The first 8,192 go straight into `ids`: the
 * right edge starts at the bottom of the key space.
 */
Test(audit_log, spread_ids_are_swept_into_ids_and_stay_claimed_across_a_reopen)
{
    enum { N = 20000, BATCH = 250 };
    struct audit_log *log = s_open_ids(100);
    for (uint64_t k = 0; k < N; k += BATCH) {
        s_claim_batch(log, k, BATCH);
        if (k == N / 2)
            s_expect_all_claimed(log, k + BATCH);
    }
    s_expect_all_claimed(log, N);
    audit_log_destroy(&log);
    cr_expect_eq(log_inspect_count_ids(s_dir), N);
    long in_ids = log_inspect_count(s_dir, "ids"), in_new = log_inspect_count(s_dir, "ids_new");
    cr_expect_geq(in_ids, N - 100 - BATCH, "the sweep left %ld ids out of `ids`", N - in_ids);
    cr_expect_lt(in_new, 5000, "ids_new was not pruned: %ld entries", in_new);

    log = s_open_ids(100);
    s_expect_all_claimed(log, N);
    s_claim_batch(log, N, BATCH);
    s_expect_all_claimed(log, N + BATCH);
    audit_log_destroy(&log);
    cr_expect_eq(log_inspect_count_ids(s_dir), N + BATCH);
}

/*
 * With the filter in front of `ids`: a filter of the least size, soon full of
 * false positives, then one built at a reopen from `ids` with room to spare
 * (most new ids then skip the lookup), over more than one read transaction
 * of the build (65,536 ids each). Each swept id stays claimed and each new
 * id is taken for new, both ways: an id the sweep put into `ids` without
 * telling the filter, or a build that missed one, is a duplicate accepted.
 */
Test(audit_log, with_the_filter_swept_ids_stay_claimed_and_new_ones_are_new)
{
    enum { N = 140000, BATCH = 1000 };
    struct audit_log *log = s_open_filtered(100, 1);
    for (uint64_t k = 0; k < N; k += BATCH)
        s_claim_batch(log, k, BATCH);
    s_expect_all_claimed(log, N);
    audit_log_destroy(&log);

    log = s_open_filtered(100, 1000000);
    s_expect_all_claimed(log, N);
    s_claim_batch(log, N, BATCH);
    s_expect_all_claimed(log, N + BATCH);
    audit_log_destroy(&log);
    cr_expect_eq(log_inspect_count_ids(s_dir), N + BATCH);
    /* Without a filter, as the tests above run, there is nothing to wait for. */
    log = s_open_ids(100);
    cr_expect_eq(audit_log_wait_filter(log), -ENOENT);
    audit_log_destroy(&log);
}

/* Publisher p's n-th id: p in its first bytes, n in its last ones. */
static void
s_stream_id(uint8_t p, uint64_t n, uint8_t id[16])
{
    memset(id, 0, 16);
    id[0] = p;
    for (int i = 0; i < 8; i++)
        id[8 + i] = (uint8_t)(n >> (56 - 8 * i));
}

/* Claims id for a record of its own, in a batch of its own; the record's seq. */
static uint64_t
s_claim_one(struct audit_log *log, const uint8_t id[16])
{
    uint64_t seq, found;
    cr_assert_eq(audit_log_begin(log), 0);
    cr_assert_eq(audit_log_claim_id(log, id, &found), 0);
    cr_assert_eq(s_append(log, 0, &seq), 0);
    cr_assert_eq(audit_log_commit(log), 0);
    return seq;
}

/*
 * A publisher's ascending ids go straight into `ids`, its first through
 * ids_new; an id resent from ids_new while the ids beside it go straight
 * in is still found, before and after a reopen.
 */
Test(audit_log, a_resent_id_from_ids_new_is_found_beside_ids_that_went_straight_in)
{
    struct audit_log *log = s_open_ids(0);
    uint8_t id[16];
    uint64_t found;
    s_stream_id(7, 100, id);
    uint64_t first = s_claim_one(log, id); /* starts the stream: through ids_new */
    s_stream_id(7, 50, id);
    s_claim_one(log, id); /* below it: another stream, through ids_new */
    for (uint64_t n = 101; n < 200; n++) {
        s_stream_id(7, n, id);
        s_claim_one(log, id); /* they continue the first: straight in */
    }
    for (int round = 0; round < 2; round++) {
        /* 100 is above the stream at 50: it would go straight in, beside its copy in ids_new. */
        cr_assert_eq(audit_log_begin(log), 0);
        s_stream_id(7, 100, id);
        found = 0;
        cr_expect_eq(audit_log_claim_id(log, id, &found), -EEXIST, "round %d: claimed twice",
                     round);
        cr_expect_eq(found, first);
        s_stream_id(7, 150, id);
        cr_expect_eq(audit_log_claim_id(log, id, &found), -EEXIST, "round %d: claimed twice",
                     round);
        audit_log_abort(log);
        audit_log_destroy(&log);
        if (round == 0) {
            cr_expect_eq(log_inspect_count(s_dir, "ids_new"), 2,
                         "the two streams' first ids, and no other");
            cr_expect_eq(log_inspect_count_ids(s_dir), 101);
            log = s_open_ids(0);
        }
    }
}

/* As s_claim_batch, on a log that may be full: 0, or the error that ended the batch. */
static int
s_try_batch(struct audit_log *log, uint64_t first, uint64_t n)
{
    uint8_t id[16];
    uint64_t seq, found;
    int rc = audit_log_begin(log);
    for (uint64_t k = first; rc == 0 && k < first + n; k++) {
        s_spread_id(k, id);
        rc = audit_log_claim_id(log, id, &found);
        if (rc == 0)
            rc = s_append(log, k, &seq);
    }
    if (rc == 0)
        return audit_log_commit(log);
    audit_log_abort(log);
    return rc;
}

/* A map that fills up, in a claim or in the sweep at commit: the batch
 * fails whole, and every id committed before it stays claimed. */
Test(audit_log, a_full_map_keeps_every_committed_id_claimed)
{
    enum { BATCH = 250 };
    struct audit_log_options o = {
        .durable = false, .map_initial = 1 << 22, .map_max = 1 << 22, .ids_in_memory = 100};
    struct audit_log *log = NULL;
    char err[256];
    cr_assert_eq(audit_log_open(s_dir, &o, &log, err, sizeof err), 0, "%s", err);
    uint64_t done = 0;
    int rc;
    while ((rc = s_try_batch(log, done, BATCH)) == 0)
        done += BATCH;
    cr_assert_eq(rc, -ENOSPC);
    cr_assert_gt(done, 8192, "the map filled before ids went through ids_new");
    s_expect_all_claimed(log, done);
    uint8_t id[16];
    uint64_t found;
    cr_assert_eq(audit_log_begin(log), 0);
    s_spread_id(done, id);
    cr_expect_eq(audit_log_claim_id(log, id, &found), 0, "the failed batch's id stayed claimed");
    audit_log_abort(log);
    audit_log_destroy(&log);
    cr_expect_eq(log_inspect_count_ids(s_dir), (long)done);

    o.map_initial = o.map_max = 1 << 23;
    cr_assert_eq(audit_log_open(s_dir, &o, &log, err, sizeof err), 0, "%s", err);
    s_expect_all_claimed(log, done);
    cr_expect_eq(s_try_batch(log, done, BATCH), 0, "a larger map takes the batch");
    s_expect_all_claimed(log, done + BATCH);
    audit_log_destroy(&log);
}

/* The writer thread's batches after the snapshot began: 500 more spread ids. */
static void *
s_write_more(void *arg)
{
    s_claim_batch(arg, 10, 250);
    s_claim_batch(arg, 260, 250);
    return NULL;
}

/*
 * The loop thread's lookup, through a snapshot begun before the writer
 * moved the id from the memtable into `ids`: it is in neither as that
 * snapshot sees them, and is still found.
 */
Test(audit_log, a_snapshot_finds_an_id_swept_into_ids_after_it_began)
{
    struct audit_log *log = s_open_ids(1);
    uint8_t id[16];
    uint64_t found = 0;
    s_claim_batch(log, 0, 10);
    s_spread_id(0, id);
    cr_assert_eq(audit_log_snapshot_begin(log), 0);
    cr_assert_eq(audit_log_snapshot_find_id(log, id, &found), 0, "in the memtable");
    cr_assert_eq(found, 1);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, s_write_more, log), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    found = 0;
    cr_expect_eq(audit_log_snapshot_find_id(log, id, &found), 0, "lost between the two");
    cr_expect_eq(found, 1);
    s_spread_id(400, id);
    cr_expect_eq(audit_log_snapshot_find_id(log, id, &found), 0);
    cr_expect_eq(found, 401);
    s_spread_id(9999, id);
    cr_expect_eq(audit_log_snapshot_find_id(log, id, &found), -ENOENT);
    audit_log_snapshot_end(log);
    audit_log_destroy(&log);
    cr_expect_eq(log_inspect_count_ids(s_dir), 510);
}
