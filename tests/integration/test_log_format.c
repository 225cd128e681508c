/*
 * Audit log formats. Format 1 kept an `accepted` record's id, type and
 * source beside the envelope that holds them too; format 2 keeps them in
 * the envelope only; format 3 chains with SHA-256 instead of BLAKE2b-256;
 * format 4 takes new ids through `ids_new` before `ids`. tests/data/audit-v1
 * to audit-v3 are logs written by the format 1 to 3 brokers (each: a start,
 * three press notices accepted from so-van-hoa with ids ...01 to ...03, one
 * cyber event rejected, a stop): this broker and mandatectl read them,
 * verify them and append to them, the old links kept and the new ones
 * SHA-256; a format they do not know is refused, named.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lmdb.h>
#include <zmq.h>

#include "proto/audit_record.h"
#include "proto/be64.h"
#include "proto/mep.h"
#include "tests/support/daemon_harness.h"
#include "tests/support/log_inspect.h"

#define OLD_RECORDS 6 /* in each fixture */

/* A harness whose state dir holds a copy of the format 1, 2 or 3 log. */
static struct harness *
s_with_old_log(int format)
{
    struct harness *h = harness_new(NULL, NULL);
    char dir[1024], from[1024], to[1100];
    const char *src = getenv("MANDATE_SOURCE_DIR");
    snprintf(from, sizeof from, "%s/tests/data/audit-v%d/data.mdb", src ? src : ".", format);
    snprintf(dir, sizeof dir, "%s", harness_state_dir(h));
    mkdir(dir, 0750);
    snprintf(dir, sizeof dir, "%s/audit", harness_state_dir(h));
    cr_assert_eq(mkdir(dir, 0750), 0, "mkdir %s: %s", dir, strerror(errno));
    snprintf(to, sizeof to, "%s/data.mdb", dir);
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    cr_assert(in && out, "cannot copy %s to %s", from, to);
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        cr_assert_eq(fwrite(buf, 1, n, out), n);
    fclose(in);
    fclose(out);
    return h;
}

static void
s_expect_output(struct harness *h, const char *want, const char *cmd, const char *arg)
{
    char *out = NULL;
    int rc = harness_ctl(h, NULL, &out, cmd, arg, NULL);
    cr_assert_eq(rc, 0, "mandatectl %s exit %d: %s", cmd, rc, out);
    cr_expect(strstr(out, want), "mandatectl %s should say '%s'; said:\n%s", cmd, want, out);
    free(out);
}

struct shape {
    uint64_t seq;
    bool own_type, found;
    char type[64];
    size_t len;
};

static bool
s_shape(uint64_t key, const struct audit_record *rec, const void *b, size_t l, void *arg)
{
    struct shape *s = arg;
    (void)b;
    if (key != s->seq || !rec)
        return true;
    s->found = true;
    s->len = l;
    s->own_type = audit_record_field(rec, "type") != NULL;
    const msgpack_object *t = audit_record_event_field(rec, "type");
    if (t && t->type == MSGPACK_OBJECT_STR)
        snprintf(s->type, sizeof s->type, "%.*s", (int)t->via.str.size, t->via.str.ptr);
    return false;
}

static struct shape
s_shape_of(struct harness *h, uint64_t seq)
{
    struct shape s = {.seq = seq};
    cr_assert_geq(log_inspect_each(harness_state_dir(h), s_shape, &s), 0);
    cr_assert(s.found, "no record %llu", (unsigned long long)seq);
    return s;
}

/* Sends one press notice with id ...N and returns the seq its ACK names (dup: was it one). */
static uint64_t
s_publish(struct harness *h, uint8_t n, bool *ret_dup)
{
    void *s = harness_dealer(h);
    uint8_t id[16] = {0}, buf[512], body[256];
    char cmd[8];
    id[15] = n;
    size_t len = harness_envelope(buf, sizeof buf, id, "press.conference_notice", "so-van-hoa", n);
    cr_assert_eq(harness_send_pub(s, buf, len), 0);
    int blen = harness_recv_reply(s, cmd, body, sizeof body, 5000);
    cr_assert_geq(blen, 0);
    cr_assert_str_eq(cmd, "ACK");
    struct mep_reply r;
    cr_assert_eq(mep_reply_decode(body, (size_t)blen, true, &r), 0);
    zmq_close(s);
    *ret_dup = r.dup;
    return r.seq;
}

/* Byte offset of the last byte of record seq (its tail: the last field's value). */
static size_t
s_record_len(struct harness *h, uint64_t seq)
{
    struct shape s = {.seq = seq};
    cr_assert_geq(log_inspect_each(harness_state_dir(h), s_shape, &s), 0);
    cr_assert(s.found, "no record %llu", (unsigned long long)seq);
    return s.len;
}

/* verify names seq once one byte of it changed; the byte is put back after. */
static void
s_expect_tamper_named(struct harness *h, uint64_t seq)
{
    size_t off = s_record_len(h, seq) - 2;
    char want[64];
    cr_assert_eq(log_inspect_flip_byte(harness_state_dir(h), seq, off), 0);
    char *out = NULL;
    int rc = harness_ctl(h, NULL, &out, "verify", NULL, NULL);
    snprintf(want, sizeof want, "bad: seq %llu:", (unsigned long long)seq);
    cr_expect_eq(rc, 1, "verify exit %d on a changed record %llu: %s", rc, (unsigned long long)seq,
                 out);
    cr_expect(strstr(out, want), "verify should say '%s'; said:\n%s", want, out);
    free(out);
    cr_assert_eq(log_inspect_flip_byte(harness_state_dir(h), seq, off), 0);
}

/*
 * The fixture of that format is read and verified as it is; the broker
 * carries it on as format 4 and its ids still deduplicate; the records the
 * broker writes (from its `started`, seq 7, on) chain on with SHA-256; and
 * verify follows the chain across the change (from format 1 and 2), naming
 * a changed record on either side of it.
 */
static void
s_carried_on(int format)
{
    struct harness *h = s_with_old_log(format);
    char want[96];
    snprintf(want, sizeof want, "ok: %d records", OLD_RECORDS);
    s_expect_output(h, want, "verify", NULL);
    snprintf(want, sizeof want, "format:      %d", format);
    s_expect_output(h, want, "stats", NULL);
    s_expect_output(h, "press.conference_notice          so-van-hoa   00000001", "tail", NULL);
    cr_expect_eq(s_shape_of(h, 2).own_type, format == 1,
                 "format 1 accepted records keep their own type, format 2 ones do not");

    cr_assert_eq(harness_start(h, 10000), 0, "format %d refused:\n%s", format,
                 harness_daemon_log(h));
    char *log = harness_daemon_log(h);
    if (format == 3)
        snprintf(want, sizeof want,
                 "format 3, carried on as format 4: the ids of new events go through ids_new");
    else
        snprintf(want, sizeof want, "format %d, carried on as format 4: records 1 to %d keep",
                 format, OLD_RECORDS);
    cr_expect(strstr(log, want), "the upgrade is not said ('%s'):\n%s", want, log);
    free(log);
    bool dup;
    /* Its ids still deduplicate: ...02 was accepted as seq 3 by the old broker. */
    cr_expect_eq(s_publish(h, 2, &dup), 3);
    cr_expect(dup);
    uint64_t seq = s_publish(h, 9, &dup);
    cr_expect_not(dup);
    cr_expect_eq(seq, OLD_RECORDS + 2, "after the old records and `started`");
    cr_assert_eq(harness_stop(h, 10000), 0);

    snprintf(want, sizeof want, "ok: %d records", OLD_RECORDS + 3);
    s_expect_output(h, want, "verify", NULL);
    s_expect_output(h, "format:      4", "stats", NULL);
    s_expect_output(h, "event ids:   4", "stats", NULL);
    /* One id in ids_new only, one in ids only: show finds both. */
    snprintf(want, sizeof want, "event %llu id=00000000000000000000000000000009",
             (unsigned long long)seq);
    s_expect_output(h, want, "show", "00000000000000000000000000000009");
    s_expect_output(h, "event 3 id=00000000000000000000000000000002", "show",
                    "00000000000000000000000000000002");
    struct shape s = s_shape_of(h, seq);
    cr_expect_not(s.own_type, "a new accepted record keeps its type in the envelope only");
    cr_expect_str_eq(s.type, "press.conference_notice");
    s_expect_output(h, "press.conference_notice          so-van-hoa   00000009", "tail", NULL);
    s_expect_output(h, "press.conference_notice          so-van-hoa   00000003", "tail", NULL);

    /* Either side of the change: the last BLAKE2b-256 record, the first SHA-256 one. */
    s_expect_tamper_named(h, OLD_RECORDS);
    s_expect_tamper_named(h, OLD_RECORDS + 1);
    s_expect_tamper_named(h, 2);
    snprintf(want, sizeof want, "ok: %d records", OLD_RECORDS + 3);
    s_expect_output(h, want, "verify", NULL);

    /* A second start finds format 4 and its boundary as they were. */
    cr_assert_eq(harness_start(h, 10000), 0, "the carried-on log refused:\n%s",
                 harness_daemon_log(h));
    cr_assert_eq(harness_stop(h, 10000), 0);
    snprintf(want, sizeof want, "ok: %d records", OLD_RECORDS + 5);
    s_expect_output(h, want, "verify", NULL);
    harness_destroy(&h);
}

Test(log_format, a_format_1_log_is_read_verified_and_appended_to, .timeout = 60)
{
    s_carried_on(1);
}

Test(log_format, a_format_2_log_is_read_verified_and_appended_to, .timeout = 60)
{
    s_carried_on(2);
}

Test(log_format, a_format_3_log_is_read_verified_and_appended_to, .timeout = 60)
{
    s_carried_on(3);
}

Test(log_format, a_new_log_is_format_4_chained_with_sha256_from_seq_1, .timeout = 60)
{
    struct harness *h = harness_new(NULL, NULL);
    cr_assert_eq(harness_start(h, 10000), 0);
    bool dup;
    cr_expect_eq(s_publish(h, 1, &dup), 2);
    cr_assert_eq(harness_stop(h, 10000), 0);
    s_expect_output(h, "format:      4", "stats", NULL);
    s_expect_output(h, "ok: 3 records", "verify", NULL);
    s_expect_tamper_named(h, 1);
    s_expect_tamper_named(h, 2);
    harness_destroy(&h);
}

/* A transaction on the stopped broker's log and one of its tables, read-only or not. */
static void
s_open_table(struct harness *h, const char *table, unsigned flags, MDB_env **env, MDB_txn **txn,
             MDB_dbi *dbi)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/audit", harness_state_dir(h));
    cr_assert_eq(mdb_env_create(env), 0);
    mdb_env_set_maxdbs(*env, 8);
    cr_assert_eq(mdb_env_open(*env, dir, flags, 0640), 0);
    cr_assert_eq(mdb_txn_begin(*env, NULL, flags, txn), 0);
    cr_assert_eq(mdb_dbi_open(*txn, table, 0, dbi), 0);
}

/* A table's value under key, as another program might have left it: vlen
 * bytes of val, or (val NULL) the key deleted. The broker must be stopped. */
static void
s_put_raw(struct harness *h, const char *table, const void *key, size_t klen, const void *val,
          size_t vlen)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    s_open_table(h, table, 0, &env, &txn, &dbi);
    MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
    MDB_val v = {.mv_size = vlen, .mv_data = (void *)val};
    if (val)
        cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
    else
        cr_assert_eq(mdb_del(txn, dbi, &k, NULL), 0);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

/* A copy of a table's value under key (NULL if there is none); *ret_len its size. */
static void *
s_get_raw(struct harness *h, const char *table, const void *key, size_t klen, size_t *ret_len)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    s_open_table(h, table, MDB_RDONLY, &env, &txn, &dbi);
    MDB_val k = {.mv_size = klen, .mv_data = (void *)key}, v;
    void *copy = NULL;
    if (mdb_get(txn, dbi, &k, &v) == 0) {
        copy = malloc(v.mv_size ? v.mv_size : 1);
        memcpy(copy, v.mv_data, v.mv_size);
        *ret_len = v.mv_size;
    }
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return copy;
}

/* meta's key set to len bytes of v (big-endian), as a later broker might leave it; len 0
 * deletes the key. */
static void
s_set_meta(struct harness *h, const char *key, uint64_t v, size_t len)
{
    uint8_t be[8];
    be64_put(be, v);
    s_put_raw(h, "meta", key, strlen(key), len ? be : NULL, len);
}

static void
s_set_format(struct harness *h, uint64_t v, size_t len)
{
    s_set_meta(h, "format_version", v, len);
}

Test(log_format, a_log_without_its_sha256_boundary_is_refused_and_named, .timeout = 60)
{
    struct harness *h = harness_new(NULL, NULL);
    cr_assert_eq(harness_start(h, 10000), 0);
    cr_assert_eq(harness_stop(h, 10000), 0);
    s_set_meta(h, "chain_sha256_from", 0, 0);
    cr_assert_neq(harness_start(h, 3000), 0, "the broker started without chain_sha256_from");
    char *log = harness_daemon_log(h);
    cr_expect(strstr(log, "meta chain_sha256_from is missing"), "the refusal must name it:\n%s",
              log);
    free(log);
    char *out = NULL;
    int rc = harness_ctl(h, NULL, &out, "verify", NULL, NULL);
    cr_expect_eq(rc, 1, "verify exit %d: %s", rc, out);
    cr_expect(strstr(out, "bad: meta: chain_sha256_from is missing or not a seq"),
              "verify must say why it cannot check:\n%s", out);
    free(out);

    s_set_meta(h, "chain_sha256_from", 1, 3);
    cr_assert_neq(harness_start(h, 3000), 0, "the broker started on a 3-byte chain_sha256_from");
    log = harness_daemon_log(h);
    cr_expect(strstr(log, "meta chain_sha256_from is not a seq"), "the refusal must say why:\n%s",
              log);
    free(log);

    /* A boundary past the next record: the broker would hash records it must
     * not (its appends are all SHA-256), so it refuses; verify, which then
     * takes records 1 and 2 for BLAKE2b-256 ones, finds the chain broken. */
    s_set_meta(h, "chain_sha256_from", 9, 8);
    cr_assert_neq(harness_start(h, 3000), 0, "the broker started with its boundary past the log");
    log = harness_daemon_log(h);
    cr_expect(strstr(log, "meta chain_sha256_from is 9, past the next record (3)"),
              "the refusal must name both:\n%s", log);
    free(log);
    out = NULL;
    rc = harness_ctl(h, NULL, &out, "verify", NULL, NULL);
    cr_expect_eq(rc, 1, "verify exit %d: %s", rc, out);
    cr_expect(strstr(out, "bad: seq "), "verify must name a record:\n%s", out);
    free(out);
    harness_destroy(&h);
}

/* A log whose chain head does not match is refused after it was opened: the file is left
 * exactly as it was, its length too (the broker extends a sound log's file past its pages). */
Test(log_format, a_log_refused_at_recovery_keeps_its_file_as_it_was, .timeout = 60)
{
    struct harness *h = s_with_old_log(2);
    s_set_meta(h, "chain_head", 0, 8);
    char data[1024];
    snprintf(data, sizeof data, "%s/audit/data.mdb", harness_state_dir(h));
    struct stat before, after;
    cr_assert_eq(stat(data, &before), 0);
    cr_assert_neq(harness_start(h, 3000), 0, "the broker started on a wrong chain head");
    char *log = harness_daemon_log(h);
    cr_expect(strstr(log, "chain head in meta does not match record"), "the refusal:\n%s", log);
    free(log);
    cr_assert_eq(stat(data, &after), 0);
    cr_expect_eq(after.st_size, before.st_size, "a refused log keeps its size: %lld, then %lld",
                 (long long)before.st_size, (long long)after.st_size);
    cr_expect_eq(after.st_blocks, before.st_blocks);
    harness_destroy(&h);
}

Test(log_format, an_unknown_format_is_refused_and_named, .timeout = 60)
{
    struct harness *h = s_with_old_log(1);
    s_set_format(h, 7, 8);
    cr_assert_neq(harness_start(h, 3000), 0, "the broker started on a format 7 log");
    char *log = harness_daemon_log(h);
    cr_expect(strstr(log, "format version is 7, not 1 to 4"), "the refusal must name it:\n%s", log);
    free(log);
    /* verify gives no verdict on a chain it may not know how to follow. */
    char *out = NULL, *err = NULL;
    int rc = harness_ctl_err(h, &out, &err, "verify", NULL);
    cr_expect_eq(rc, 65, "verify exit %d: %s%s", rc, out, err);
    cr_expect(strstr(err, "meta format_version is 7, newer than this mandatectl reads (1 to 4)"),
              "verify must name the format:\n%s", err);
    cr_expect_null(strstr(out, "ok:"), "no verdict on a format 7 log:\n%s", out);
    free(out);
    free(err);
    harness_destroy(&h);
}

Test(log_format, a_format_version_that_is_no_number_is_refused_and_named, .timeout = 60)
{
    struct harness *h = s_with_old_log(1);
    s_set_format(h, 1, 3); /* the first 3 bytes of the number: 0 0 0 */
    cr_assert_neq(harness_start(h, 3000), 0, "the broker started on an unreadable format_version");
    char *log = harness_daemon_log(h);
    cr_expect(strstr(log, "format_version is 3 bytes, not an 8-byte number"),
              "the refusal must say what is wrong:\n%s", log);
    free(log);
    harness_destroy(&h);
}

/*
 * A `pending` entry that does not decode (another program's bytes, a
 * damaged page) is named at start by its event's seq, and left as it is:
 * the broker starts, delivers nothing for it, and changes no byte of it.
 */
Test(log_format, an_unreadable_pending_entry_is_named_at_start_and_left_as_it_is, .timeout = 60)
{
    struct harness *h = harness_new(NULL, NULL);
    cr_assert_eq(harness_start(h, 10000), 0);
    bool dup;
    uint64_t seq = s_publish(h, 1, &dup);
    cr_assert_eq(harness_stop(h, 10000), 0);
    uint8_t key[8];
    be64_put(key, seq);
    size_t len = 0;
    void *entry = s_get_raw(h, "pending", key, sizeof key, &len);
    cr_assert_not_null(entry, "event %llu has no pending entry to damage", (unsigned long long)seq);
    free(entry);

    static const uint8_t bad[] = {0xc1, 0x00}; /* 0xc1: never used in msgpack */
    s_put_raw(h, "pending", key, sizeof key, bad, sizeof bad);
    harness_write_config(h, "[area press]\ntypes = press.*\nspawn = no\n");
    cr_assert_eq(harness_start(h, 10000), 0, "the broker must start beside an unreadable entry");
    /* A reload that adds an area walks `pending` again: the entry is not named twice. */
    harness_write_config(h, "[area press]\ntypes = press.*\nspawn = no\n"
                            "[area rf]\ntypes = rf.*\nspawn = no\n");
    long reloads = log_inspect_count_kind(harness_state_dir(h), "reloaded", NULL);
    cr_assert_eq(kill(harness_pid(h), SIGHUP), 0);
    cr_assert(log_inspect_wait_kind(harness_state_dir(h), "reloaded", NULL, reloads + 1, 10000),
              "no reloaded record:\n%s", harness_daemon_log(h));
    cr_assert_eq(harness_stop(h, 10000), 0);
    char *log = harness_daemon_log(h);
    char want[128];
    snprintf(want, sizeof want, "the `pending` entry of event %llu cannot be read",
             (unsigned long long)seq);
    const char *named = strstr(log, want);
    cr_expect(named, "the start must name the entry:\n%s", log);
    cr_expect(named && !strstr(named + 1, want), "named again at the reload:\n%s", log);
    cr_expect(strstr(log, "0 wait for an unconfigured area, 1 cannot be read"),
              "and count it apart from unconfigured areas:\n%s", log);
    free(log);
    entry = s_get_raw(h, "pending", key, sizeof key, &len);
    cr_assert_not_null(entry, "the entry was removed");
    cr_expect(len == sizeof bad && memcmp(entry, bad, sizeof bad) == 0, "the entry was changed");
    free(entry);
    s_expect_output(h, "ok: ", "verify", NULL);
    harness_destroy(&h);
}

/* The broker refuses to start, and its log says why. */
static void
s_expect_refused(struct harness *h, const char *why)
{
    cr_assert_neq(harness_start(h, 3000), 0, "the broker started; it should refuse: %s", why);
    char *log = harness_daemon_log(h);
    cr_expect(strstr(log, why), "the refusal must say '%s':\n%s", why, log);
    free(log);
}

/*
 * An ids_new entry the broker cannot have written — not an 8-byte seq and a
 * 16-byte id (the id it stood for would be taken for new, and its event
 * accepted twice), an id held twice, a seq past the last record — refuses
 * the start, is named, and is left as it is.
 */
Test(log_format, an_ids_new_entry_the_broker_did_not_write_is_refused_and_named, .timeout = 60)
{
    struct harness *h = harness_new(NULL, NULL);
    cr_assert_eq(harness_start(h, 10000), 0);
    cr_assert_eq(harness_stop(h, 10000), 0);
    static const uint8_t short_id[] = {1, 2, 3};
    uint8_t key[8];
    be64_put(key, 9);
    s_put_raw(h, "ids_new", key, sizeof key, short_id, sizeof short_id);
    cr_assert_neq(harness_start(h, 3000), 0, "the broker started on a 3-byte id in ids_new");
    char *log = harness_daemon_log(h);
    cr_expect(strstr(log, "ids_new entry 1 is a 8-byte key and a 3-byte value, not a seq and an "
                          "event id"),
              "the refusal must name the entry:\n%s", log);
    free(log);
    size_t len = 0;
    void *entry = s_get_raw(h, "ids_new", key, sizeof key, &len);
    cr_assert_not_null(entry, "the entry was removed");
    cr_expect(len == sizeof short_id && memcmp(entry, short_id, len) == 0, "the entry was changed");
    free(entry);

    s_put_raw(h, "ids_new", key, sizeof key, NULL, 0);

    /* A key that is no seq, after a sound entry: named as the second. */
    uint8_t seq1[8], seq2[8], id[16] = {0x42}, other[16] = {0x43};
    be64_put(seq1, 1);
    be64_put(seq2, 2);
    s_put_raw(h, "ids_new", seq1, sizeof seq1, id, sizeof id);
    s_put_raw(h, "ids_new", "seq-ten", 7, id, sizeof id);
    s_expect_refused(h, "ids_new entry 2 is a 7-byte key and a 16-byte value");
    s_put_raw(h, "ids_new", "seq-ten", 7, NULL, 0);

    /* The same id under a later seq: a second event's claim on it. */
    s_put_raw(h, "ids_new", seq2, sizeof seq2, id, sizeof id);
    s_expect_refused(h, "ids_new entry 2 (seq 2) repeats the id of an earlier entry");

    /* A seq past the last record (the first start and stop wrote 1 and 2). */
    s_put_raw(h, "ids_new", seq2, sizeof seq2, NULL, 0);
    s_put_raw(h, "ids_new", key, sizeof key, other, sizeof other);
    s_expect_refused(h, "ids_new entry 2 names seq 9, past the last record (2)");
    s_put_raw(h, "ids_new", key, sizeof key, NULL, 0);

    /* Without them, the broker starts, and knows the sound entry's id. */
    cr_assert_eq(harness_start(h, 10000), 0);
    cr_assert_eq(harness_stop(h, 10000), 0);
    cr_expect_eq(log_inspect_count_ids(harness_state_dir(h)), 1);
    harness_destroy(&h);
}
