/*
 * Audit log formats. Format 1 kept an `accepted` record's id, type and
 * source beside the envelope that holds them too; format 2 keeps them in
 * the envelope only. tests/data/audit-v1 is a log written by the format 1
 * broker (a start, three press notices accepted from so-van-hoa with ids
 * ...01 to ...03, one cyber alert rejected, a stop): this broker and
 * mandatectl read it, verify it and append to it; a format they do not know
 * is refused, named.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lmdb.h>
#include <zmq.h>

#include "proto/audit_record.h"
#include "proto/mep.h"
#include "tests/support/daemon_harness.h"
#include "tests/support/log_inspect.h"

#define V1_RECORDS 6

/* A harness whose state dir holds a copy of the format 1 log. */
static struct harness *
s_with_v1_log(void)
{
    struct harness *h = harness_new(NULL, NULL);
    char dir[1024], from[1024], to[1100];
    const char *src = getenv("MANDATE_SOURCE_DIR");
    snprintf(from, sizeof from, "%s/tests/data/audit-v1/data.mdb", src ? src : ".");
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
};

static bool
s_shape(uint64_t key, const struct audit_record *rec, const void *b, size_t l, void *arg)
{
    struct shape *s = arg;
    (void)b, (void)l;
    if (key != s->seq || !rec)
        return true;
    s->found = true;
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

Test(log_format, a_format_1_log_is_read_verified_and_appended_to, .timeout = 60)
{
    struct harness *h = s_with_v1_log();
    char want[64];
    snprintf(want, sizeof want, "ok: %d records", V1_RECORDS);
    s_expect_output(h, want, "verify", NULL);
    s_expect_output(h, "press.conference_notice          so-van-hoa   00000001", "tail", NULL);
    cr_expect(s_shape_of(h, 2).own_type, "the fixture's accepted records are format 1");

    cr_assert_eq(harness_start(h, 10000), 0, "format 1 refused:\n%s", harness_daemon_log(h));
    char *log = harness_daemon_log(h);
    cr_expect(strstr(log, "carried on as format 2"), "the upgrade is not said:\n%s", log);
    free(log);
    bool dup;
    /* Its ids still deduplicate: ...02 was accepted as seq 3 by the format 1 broker. */
    cr_expect_eq(s_publish(h, 2, &dup), 3);
    cr_expect(dup);
    uint64_t seq = s_publish(h, 9, &dup);
    cr_expect_not(dup);
    cr_expect_eq(seq, V1_RECORDS + 2, "after the v1 records and `started`");
    cr_assert_eq(harness_stop(h, 10000), 0);

    snprintf(want, sizeof want, "ok: %d records", V1_RECORDS + 3);
    s_expect_output(h, want, "verify", NULL);
    s_expect_output(h, "format:      2", "stats", NULL);
    struct shape s = s_shape_of(h, seq);
    cr_expect_not(s.own_type, "a new accepted record keeps its type in the envelope only");
    cr_expect_str_eq(s.type, "press.conference_notice");
    s_expect_output(h, "press.conference_notice          so-van-hoa   00000009", "tail", NULL);
    s_expect_output(h, "press.conference_notice          so-van-hoa   00000003", "tail", NULL);
    harness_destroy(&h);
}

/* meta's format_version set to v (len bytes of it, big-endian), as a later broker might leave it.
 */
static void
s_set_format(struct harness *h, uint64_t v, size_t len)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/audit", harness_state_dir(h));
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    cr_assert_eq(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 8);
    cr_assert_eq(mdb_env_open(env, dir, 0, 0640), 0);
    cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    uint8_t be[8];
    for (int i = 0; i < 8; i++)
        be[i] = (uint8_t)(v >> (56 - 8 * i));
    MDB_val k = {.mv_size = 14, .mv_data = "format_version"}, val = {.mv_size = len, .mv_data = be};
    cr_assert_eq(mdb_put(txn, dbi, &k, &val, 0), 0);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

Test(log_format, an_unknown_format_is_refused_and_named, .timeout = 60)
{
    struct harness *h = s_with_v1_log();
    s_set_format(h, 7, 8);
    cr_assert_neq(harness_start(h, 3000), 0, "the broker started on a format 7 log");
    char *log = harness_daemon_log(h);
    cr_expect(strstr(log, "format version is 7, not 1 or 2"), "the refusal must name it:\n%s", log);
    free(log);
    harness_destroy(&h);
}

Test(log_format, a_format_version_that_is_no_number_is_refused_and_named, .timeout = 60)
{
    struct harness *h = s_with_v1_log();
    s_set_format(h, 1, 3); /* the first 3 bytes of the number: 0 0 0 */
    cr_assert_neq(harness_start(h, 3000), 0, "the broker started on an unreadable format_version");
    char *log = harness_daemon_log(h);
    cr_expect(strstr(log, "format_version is 3 bytes, not an 8-byte number"),
              "the refusal must say what is wrong:\n%s", log);
    free(log);
    harness_destroy(&h);
}
