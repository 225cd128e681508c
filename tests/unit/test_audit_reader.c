/*
 * test_audit_reader: builds a real LMDB audit log in a temporary directory
 * with the daemon's layout (records packed with audit_record_begin and
 * chained with audit_chain_hash), then reads it back through audit_reader:
 * scans both ways across transaction chunks, lookups, meta, counts, a map
 * grown by another process while the reader is open, and tampering that the
 * verifier (and `mandatectl verify`) must pin to the right seq.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lmdb.h>

#include "proto/audit_record.h"
#include "tests/support/daemon_harness.h"
#include "tools/audit_reader.h"

static char s_dir[256];

static void
s_put_be64(uint8_t out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        out[i] = (uint8_t)v;
}

static void
s_id_for(uint64_t n, uint8_t id[16])
{
    memset(id, 0xa5, 16);
    s_put_be64(id + 8, n);
}

/* ---- a writer with the daemon's layout ---- */

struct writer {
    MDB_env *env;
    MDB_dbi log, ids, pending, meta;
    uint64_t last;
    uint8_t head[AUDIT_HASH_LEN];
};

static void
s_writer_open(struct writer *w, size_t mapsize)
{
    char path[300];
    MDB_txn *txn;

    snprintf(path, sizeof(path), "%s/audit", s_dir);
    mkdir(path, 0750);
    cr_assert_eq(mdb_env_create(&w->env), 0);
    mdb_env_set_maxdbs(w->env, 8);
    mdb_env_set_mapsize(w->env, mapsize);
    cr_assert_eq(mdb_env_open(w->env, path, MDB_NOSYNC, 0640), 0);
    cr_assert_eq(mdb_txn_begin(w->env, NULL, 0, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, "log", MDB_CREATE, &w->log), 0);
    cr_assert_eq(mdb_dbi_open(txn, "ids", MDB_CREATE, &w->ids), 0);
    cr_assert_eq(mdb_dbi_open(txn, "pending", MDB_CREATE, &w->pending), 0);
    cr_assert_eq(mdb_dbi_open(txn, "meta", MDB_CREATE, &w->meta), 0);
    uint8_t ver[8];
    s_put_be64(ver, 1);
    MDB_val k = {14, "format_version"}, v = {8, ver};
    cr_assert_eq(mdb_put(txn, w->meta, &k, &v, 0), 0);
    cr_assert_eq(mdb_txn_commit(txn), 0);
}

/* Appends one record of kind (accepted ones get an id, type, area and event). */
static void
s_append(struct writer *w, MDB_txn *txn, const char *kind, const char *type, size_t pad)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    uint64_t seq = w->last + 1;
    uint8_t key[8], id[16];
    bool accepted = strcmp(kind, AUDIT_KIND_ACCEPTED) == 0;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    audit_record_begin(&pk, seq, 1700000000000000000ULL + seq * 1000000, kind, w->head,
                       accepted ? 5 : 2);
    if (accepted) {
        s_id_for(seq, id);
        audit_pack_key(&pk, "id");
        msgpack_pack_bin(&pk, 16);
        msgpack_pack_bin_body(&pk, id, 16);
        audit_pack_key(&pk, "type");
        audit_pack_str(&pk, type);
        audit_pack_key(&pk, "source");
        audit_pack_str(&pk, "test");
        audit_pack_key(&pk, "area");
        audit_pack_str(&pk, "press");
        audit_pack_key(&pk, "event");
        msgpack_pack_map(&pk, 2);
        audit_pack_key(&pk, "type");
        audit_pack_str(&pk, type);
        audit_pack_key(&pk, "data");
        msgpack_pack_map(&pk, 1);
        audit_pack_key(&pk, "pad");
        msgpack_pack_bin(&pk, pad);
        for (size_t i = 0; i < pad; i++)
            msgpack_pack_bin_body(&pk, "x", 1);
    } else {
        audit_pack_key(&pk, "pid");
        msgpack_pack_uint32(&pk, 42);
        audit_pack_key(&pk, "version");
        audit_pack_str(&pk, "0.1.0");
    }
    s_put_be64(key, seq);
    MDB_val k = {8, key}, v = {sb.size, sb.data};
    cr_assert_eq(mdb_put(txn, w->log, &k, &v, MDB_APPEND), 0);
    if (accepted) {
        MDB_val ik = {16, id}, iv = {8, key};
        cr_assert_eq(mdb_put(txn, w->ids, &ik, &iv, 0), 0);
        if (seq % 2 == 0)
            cr_assert_eq(mdb_put(txn, w->pending, &k, &v, 0), 0); /* any bytes do */
    }
    audit_chain_hash(seq, UINT64_MAX, sb.data, sb.size, w->head); /* format 1: BLAKE2b-256 */
    w->last = seq;
    msgpack_sbuffer_destroy(&sb);
}

/* Appends n records in one transaction and moves meta's chain head along. */
static void
s_write(struct writer *w, unsigned n, size_t pad)
{
    MDB_txn *txn;
    uint8_t seqbuf[8];

    cr_assert_eq(mdb_txn_begin(w->env, NULL, 0, &txn), 0);
    for (unsigned i = 0; i < n; i++) {
        if (w->last == 0)
            s_append(w, txn, AUDIT_KIND_STARTED, NULL, 0);
        else
            s_append(w, txn, AUDIT_KIND_ACCEPTED, w->last % 3 ? "press.bulletin" : "cyber.alert",
                     pad);
    }
    s_put_be64(seqbuf, w->last);
    MDB_val hk = {10, "chain_head"}, hv = {AUDIT_HASH_LEN, w->head};
    MDB_val sk = {9, "chain_seq"}, sv = {8, seqbuf};
    cr_assert_eq(mdb_put(txn, w->meta, &hk, &hv, 0), 0);
    cr_assert_eq(mdb_put(txn, w->meta, &sk, &sv, 0), 0);
    cr_assert_eq(mdb_txn_commit(txn), 0);
}

static void
s_writer_close(struct writer *w)
{
    mdb_env_close(w->env);
}

/* Rewrites record seq with one byte XORed (the bytes at offset). */
static void
s_tamper(uint64_t seq, const char *needle, size_t needle_len)
{
    struct writer w = {0};
    MDB_txn *txn;
    uint8_t key[8];
    MDB_val k = {8, key}, v;

    s_writer_open(&w, 1 << 20);
    s_put_be64(key, seq);
    cr_assert_eq(mdb_txn_begin(w.env, NULL, 0, &txn), 0);
    cr_assert_eq(mdb_get(txn, w.log, &k, &v), 0);
    uint8_t *copy = malloc(v.mv_size);
    memcpy(copy, v.mv_data, v.mv_size);
    uint8_t *at = memmem(copy, v.mv_size, needle, needle_len);
    cr_assert_not_null(at, "record %llu holds '%s'", (unsigned long long)seq, needle);
    at[0] ^= 0x01; /* 'p' -> 'q': still a readable record, just not the same bytes */
    MDB_val nv = {v.mv_size, copy};
    cr_assert_eq(mdb_put(txn, w.log, &k, &nv, 0), 0);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    free(copy);
    s_writer_close(&w);
}

static void
s_setup(void)
{
    cr_assert_eq(harness_mkdtemp(s_dir, sizeof s_dir, "test_audit_reader"), 0);
}

static void
s_teardown(void)
{
    harness_rm_rf(s_dir);
}

TestSuite(audit_reader, .init = s_setup, .fini = s_teardown);

/* ---- scanning ---- */

struct seen {
    uint64_t first, last, count, stop_at;
    bool ordered;
    struct audit_verifier v;
    bool verify;
};

static int
s_collect(void *arg, uint64_t seq, const void *bytes, size_t len)
{
    struct seen *s = arg;
    struct audit_record rec;

    if (s->count == 0)
        s->first = seq;
    else if (seq != s->last + 1 && seq != s->last - 1)
        s->ordered = false;
    s->last = seq;
    s->count++;
    cr_assert_eq(audit_record_decode(bytes, len, &rec), 0, "record %llu decodes",
                 (unsigned long long)seq);
    cr_expect_eq(rec.seq, seq);
    audit_record_release(&rec);
    if (s->verify && !audit_verifier_feed(&s->v, seq, bytes, len))
        return 1;
    return s->stop_at && seq == s->stop_at ? 7 : 0;
}

Test(audit_reader, missing_log_is_enoent)
{
    struct audit_reader *r = NULL;
    char path[300];

    cr_expect_eq(audit_reader_open(s_dir, &r), -ENOENT, "no audit directory");
    snprintf(path, sizeof(path), "%s/audit", s_dir);
    mkdir(path, 0750);
    cr_expect_eq(audit_reader_open(s_dir, &r), -ENOENT, "no data.mdb");

    /* An environment without the `log` database (another program's, or not set up yet). */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    mdb_env_create(&env);
    mdb_env_set_maxdbs(env, 8);
    cr_assert_eq(mdb_env_open(env, path, 0, 0640), 0);
    mdb_txn_begin(env, NULL, 0, &txn);
    mdb_dbi_open(txn, "other", MDB_CREATE, &dbi);
    mdb_txn_commit(txn);
    mdb_env_close(env);
    cr_expect_eq(audit_reader_open(s_dir, &r), -ENOENT, "no log database");
    cr_expect_null(r);
    audit_reader_destroy(&r); /* NULL is fine */
}

Test(audit_reader, reads_what_was_written)
{
    struct writer w = {0};
    struct audit_reader *r;
    struct audit_meta meta;
    struct audit_counts counts;
    struct seen s = {.ordered = true};
    uint64_t last, seq;
    uint8_t id[16];

    s_writer_open(&w, 16 << 20);
    s_write(&w, 10, 8);
    cr_assert_eq(audit_reader_open(s_dir, &r), 0);

    cr_expect_eq(audit_reader_last_seq(r, &last), 0);
    cr_expect_eq(last, 10);
    cr_expect_eq(audit_reader_scan(r, 1, 0, s_collect, &s), 0);
    cr_expect(s.ordered && s.first == 1 && s.last == 10 && s.count == 10);

    /* Bounded both ends, an empty range, and a start past the end. */
    memset(&s, 0, sizeof(s));
    s.ordered = true;
    cr_expect_eq(audit_reader_scan(r, 3, 5, s_collect, &s), 0);
    cr_expect(s.first == 3 && s.last == 5 && s.count == 3);
    memset(&s, 0, sizeof(s));
    cr_expect_eq(audit_reader_scan(r, 6, 5, s_collect, &s), 0);
    cr_expect_eq(s.count, 0);
    cr_expect_eq(audit_reader_scan(r, 11, 0, s_collect, &s), 0);
    cr_expect_eq(s.count, 0);

    /* The callback's non-zero value stops the scan and comes back. */
    memset(&s, 0, sizeof(s));
    s.stop_at = 4;
    cr_expect_eq(audit_reader_scan(r, 1, 0, s_collect, &s), 7);
    cr_expect_eq(s.count, 4);

    /* Backwards, from the end and from the middle. */
    memset(&s, 0, sizeof(s));
    s.ordered = true;
    cr_expect_eq(audit_reader_scan_back(r, UINT64_MAX, s_collect, &s), 0);
    cr_expect(s.ordered && s.first == 10 && s.last == 1 && s.count == 10);
    memset(&s, 0, sizeof(s));
    cr_expect_eq(audit_reader_scan_back(r, 4, s_collect, &s), 0);
    cr_expect(s.first == 4 && s.last == 1 && s.count == 4);

    void *bytes;
    size_t len;
    cr_expect_eq(audit_reader_get(r, 11, &bytes, &len), -ENOENT);
    cr_assert_eq(audit_reader_get(r, 10, &bytes, &len), 0);
    uint8_t h[AUDIT_HASH_LEN];
    audit_chain_hash(10, UINT64_MAX, bytes, len, h);
    cr_expect_eq(memcmp(h, w.head, AUDIT_HASH_LEN), 0, "the last record hashes to the head");
    free(bytes);

    cr_assert_eq(audit_reader_meta(r, &meta), 0);
    cr_expect(meta.has_version && meta.format_version == 1);
    cr_expect_eq(meta.sha256_from, UINT64_MAX, "format 1 hashes with BLAKE2b-256 throughout");
    cr_expect(meta.has_head && meta.chain_seq == 10);
    cr_expect_eq(memcmp(meta.chain_head, w.head, AUDIT_HASH_LEN), 0);

    s_id_for(7, id);
    cr_expect_eq(audit_reader_lookup_id(r, id, &seq), 0);
    cr_expect_eq(seq, 7);
    s_id_for(1, id); /* seq 1 is `started`: no id */
    cr_expect_eq(audit_reader_lookup_id(r, id, &seq), -ENOENT);

    cr_assert_eq(audit_reader_counts(r, &counts), 0);
    cr_expect_eq(counts.log, 10);
    cr_expect(counts.has_ids && counts.ids == 9);
    cr_expect(counts.has_pending && counts.pending == 5);
    cr_expect_gt(counts.map_size, 0);

    audit_reader_destroy(&r);
    audit_reader_destroy(&r); /* safe twice */
    s_writer_close(&w);
}

Test(audit_reader, empty_log)
{
    struct writer w = {0};
    struct audit_reader *r;
    struct audit_meta meta;
    struct seen s = {0};
    uint64_t last = 99;

    s_writer_open(&w, 1 << 20);
    cr_assert_eq(audit_reader_open(s_dir, &r), 0);
    cr_expect_eq(audit_reader_last_seq(r, &last), 0);
    cr_expect_eq(last, 0);
    cr_expect_eq(audit_reader_scan(r, 1, 0, s_collect, &s), 0);
    cr_expect_eq(audit_reader_scan_back(r, UINT64_MAX, s_collect, &s), 0);
    cr_expect_eq(s.count, 0);
    cr_expect_eq(audit_reader_meta(r, &meta), 0);
    cr_expect(!meta.has_head);
    audit_reader_destroy(&r);
    s_writer_close(&w);
}

/* A scan reopens its read transaction every 1024 records; none is lost or seen twice. */
Test(audit_reader, scans_across_transaction_chunks)
{
    struct writer w = {0};
    struct audit_reader *r;
    struct seen s = {.ordered = true};

    s_writer_open(&w, 64 << 20);
    s_write(&w, 2500, 4);
    cr_assert_eq(audit_reader_open(s_dir, &r), 0);
    cr_expect_eq(audit_reader_scan(r, 1, 0, s_collect, &s), 0);
    cr_expect(s.ordered && s.count == 2500 && s.last == 2500);
    memset(&s, 0, sizeof(s));
    s.ordered = true;
    cr_expect_eq(audit_reader_scan_back(r, 2400, s_collect, &s), 0);
    cr_expect(s.ordered && s.count == 2400 && s.first == 2400 && s.last == 1);
    audit_reader_destroy(&r);
    s_writer_close(&w);
}

/*
 * Another process grows the map past what the reader mapped and appends past
 * the old end: the reader's next transaction reports MDB_MAP_RESIZED, which
 * the reader must absorb by remapping.
 */
Test(audit_reader, follows_a_map_grown_by_the_writer)
{
    struct writer w = {0};
    struct audit_reader *r;
    struct seen s = {.ordered = true};
    uint64_t last;
    int status;

    s_writer_open(&w, 1 << 20);
    s_write(&w, 3, 8);
    s_writer_close(&w);
    cr_assert_eq(audit_reader_open(s_dir, &r), 0);

    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        struct writer w2 = {0};
        s_writer_open(&w2, 1 << 20);
        /* Picks up the chain where the parent left it. */
        w2.last = 3;
        memcpy(w2.head, w.head, AUDIT_HASH_LEN);
        mdb_env_set_mapsize(w2.env, 32 << 20);
        for (int i = 0; i < 10; i++)
            s_write(&w2, 100, 2000); /* ~2 MB in all, past the 1 MiB first map */
        s_writer_close(&w2);
        _exit(0);
    }
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer child failed");

    cr_expect_eq(audit_reader_last_seq(r, &last), 0);
    cr_expect_eq(last, 1003);
    cr_expect_eq(audit_reader_scan(r, 1, 0, s_collect, &s), 0);
    cr_expect(s.ordered && s.count == 1003);
    audit_reader_destroy(&r);
}

/* ---- tampering ---- */

static struct audit_verifier
s_verify(struct audit_reader *r, uint64_t from)
{
    struct seen s = {0};
    struct audit_meta meta;
    uint8_t prev[AUDIT_HASH_LEN] = {0};

    cr_assert_eq(audit_reader_meta(r, &meta), 0);
    if (from > 1) {
        void *bytes;
        size_t len;
        cr_assert_eq(audit_reader_get(r, from - 1, &bytes, &len), 0);
        audit_chain_hash(from - 1, meta.sha256_from, bytes, len, prev);
        free(bytes);
    }
    s.verify = true;
    audit_verifier_init(&s.v, from, prev, meta.sha256_from);
    cr_assert_geq(audit_reader_scan(r, from, meta.chain_seq, s_collect, &s), 0);
    audit_verifier_finish(&s.v, meta.has_head ? meta.chain_head : NULL, meta.chain_seq);
    return s.v;
}

Test(audit_reader, verifier_names_the_tampered_record)
{
    struct writer w = {0};
    struct audit_reader *r;
    struct audit_verifier v;

    s_writer_open(&w, 16 << 20);
    s_write(&w, 8, 8);
    s_writer_close(&w);

    cr_assert_eq(audit_reader_open(s_dir, &r), 0);
    v = s_verify(r, 1);
    cr_expect_eq(v.bad_seq, 0, "intact chain: %s", v.why);
    audit_reader_destroy(&r);

    s_tamper(5, "press.bulletin", 14);
    cr_assert_eq(audit_reader_open(s_dir, &r), 0);
    v = s_verify(r, 1);
    cr_expect_eq(v.bad_seq, 5, "bad seq %llu: %s", (unsigned long long)v.bad_seq, v.why);
    cr_expect(strstr(v.why, "5") != NULL, "%s", v.why);
    /*
     * --from SEQ trusts the stored bytes of SEQ-1: from 6, record 6's prev no
     * longer matches the altered 5, and 6 is the first record there is to
     * blame; from 7 on the chain holds.
     */
    v = s_verify(r, 6);
    cr_expect_eq(v.bad_seq, 6, "%s", v.why);
    v = s_verify(r, 7);
    cr_expect_eq(v.bad_seq, 0, "%s", v.why);
    /* From the damaged record itself, its own hash breaks the link to 6. */
    v = s_verify(r, 5);
    cr_expect_eq(v.bad_seq, 5, "%s", v.why);
    audit_reader_destroy(&r);
}

Test(audit_reader, verifier_names_a_tampered_last_record)
{
    struct writer w = {0};
    struct audit_reader *r;
    struct audit_verifier v;

    s_writer_open(&w, 16 << 20);
    s_write(&w, 6, 8);
    s_writer_close(&w);
    s_tamper(6, "press.bulletin", 14); /* only the chain head in meta covers it */
    cr_assert_eq(audit_reader_open(s_dir, &r), 0);
    v = s_verify(r, 1);
    cr_expect_eq(v.bad_seq, 6, "%s", v.why);
    audit_reader_destroy(&r);
}

/* ---- mandatectl verify on the same logs ---- */

static int
s_run_verify(const char *extra, char *out, size_t size)
{
    const char *bin = getenv("MANDATECTL_BIN");
    char cmd[512];
    FILE *p;
    size_t n;

    snprintf(cmd, sizeof(cmd), "'%s' --state-dir '%s' verify %s 2>&1", bin, s_dir, extra);
    p = popen(cmd, "r");
    cr_assert_not_null(p);
    n = fread(out, 1, size - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Test(audit_reader, mandatectl_verify)
{
    struct writer w = {0};
    char out[1024];

    if (!getenv("MANDATECTL_BIN"))
        cr_skip_test("MANDATECTL_BIN not set");
    cr_expect_eq(s_run_verify("", out, sizeof(out)), 66, "no log: %s", out);

    s_writer_open(&w, 16 << 20);
    s_write(&w, 8, 8);
    s_writer_close(&w);
    cr_expect_eq(s_run_verify("", out, sizeof(out)), 0, "%s", out);
    cr_expect(strncmp(out, "ok: 8 records, chain head ", 26) == 0, "%s", out);

    s_tamper(3, "press.bulletin", 14);
    cr_expect_eq(s_run_verify("", out, sizeof(out)), 1, "%s", out);
    cr_expect(strncmp(out, "bad: seq 3: ", 12) == 0, "%s", out);
    cr_expect_eq(s_run_verify("--from 4", out, sizeof(out)), 1, "%s", out);
    cr_expect(strncmp(out, "bad: seq 4: ", 12) == 0, "%s", out);
    cr_expect_eq(s_run_verify("--from 5", out, sizeof(out)), 0, "%s", out);
    cr_expect(strncmp(out, "ok: 4 records", 13) == 0, "%s", out);
    cr_expect_eq(s_run_verify("--from 20", out, sizeof(out)), 65, "%s", out);
    cr_expect_eq(s_run_verify("--from 0", out, sizeof(out)), 64, "%s", out);
}
