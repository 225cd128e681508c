/*
 * test_deadline_table: the writer side against a real audit log in a
 * temporary directory. A completion's result, which a worker wrote, is
 * outside input: only well-formed deadlines marked track are kept, the
 * rest is skipped without harm. Closing by corr and by subject, and only
 * by a closed_by type; warnings once; breaches remove the entry.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "config/embedded.h"
#include "daemon/audit_log.h"
#include "daemon/deadline_table.h"
#include "proto/envelope.h"
#include "proto/worker_result.h"
#include "proto/pack.h"
#include "tests/unit/unit_log.h"
#include "tests/support/daemon_harness.h"

static char s_dir[256];
static struct audit_log *s_log;
static struct mandated_config *s_cfg;

static void
s_setup(void)
{
    cr_assert_eq(harness_mkdtemp(s_dir, sizeof s_dir, "deadlines"), 0);
    s_log = unit_log_open(s_dir, 1 << 20, 1 << 24);
    cr_assert_eq(config_load_string(embedded_config.text, embedded_config.name, &s_cfg, NULL), 0);
}

static void
s_teardown(void)
{
    audit_log_destroy(&s_log);
    config_destroy(&s_cfg);
    harness_rm_rf(s_dir);
}

TestSuite(deadline_table, .init = s_setup, .fini = s_teardown);

static int
s_count_one(void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
    (void)key;
    (void)klen;
    (void)val;
    (void)vlen;
    (*(int *)arg)++;
    return 0;
}

static int
s_count(void)
{
    int n = 0;
    cr_assert_eq(audit_log_snapshot_begin(s_log), 0);
    cr_assert_eq(audit_log_deadline_foreach(s_log, true, s_count_one, &n), 0);
    audit_log_snapshot_end(s_log);
    return n;
}

/* A deadline entry of a result: name, due (0 = nil), track, closed_by, subject. */
static void
s_pack_deadline(msgpack_packer *pk, const char *name, uint64_t due, bool track,
                const char *closed_by, const char *subject)
{
    msgpack_pack_map(pk, 5);
    pack_cstr(pk, "name");
    pack_cstr(pk, name);
    pack_cstr(pk, "due");
    if (due)
        msgpack_pack_uint64(pk, due);
    else
        msgpack_pack_nil(pk);
    pack_cstr(pk, "track");
    if (track)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
    pack_cstr(pk, "closed_by");
    msgpack_pack_array(pk, 1);
    pack_cstr(pk, closed_by);
    pack_cstr(pk, "subject");
    if (subject)
        pack_cstr(pk, subject);
    else
        msgpack_pack_nil(pk);
}

/* The fields of a completed record: event_seq, then result as packed by fn. */
static void
s_track(uint64_t event_seq, void (*fn)(msgpack_packer *pk))
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, pack_sbuffer_write);
    pack_cstr(&pk, "event_seq");
    msgpack_pack_uint64(&pk, event_seq);
    pack_cstr(&pk, "result");
    fn(&pk);
    cr_assert_eq(audit_log_begin(s_log), 0);
    cr_assert_eq(deadline_table_track(s_log, event_seq, "ads", sb.data, sb.size, 2), 0);
    cr_assert_eq(audit_log_commit(s_log), 0);
    msgpack_sbuffer_destroy(&sb);
}

static const char *s_case_subject = "INC-1"; /* the open case's subject in s_result_mixed */

static void
s_result_mixed(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 2);
    pack_cstr(pk, "outcome");
    pack_cstr(pk, "x");
    pack_cstr(pk, "deadlines");
    msgpack_pack_array(pk, 6);
    s_pack_deadline(pk, "removal", 1000, true, "case.decision", NULL);
    s_pack_deadline(pk, "case", 0, true, "cyber.incident_final_report", s_case_subject);
    s_pack_deadline(pk, "untracked", 2000, false, "case.decision", NULL);
    /* Malformed: no name; a due that is a string; not a map at all. */
    msgpack_pack_map(pk, 2);
    pack_cstr(pk, "due");
    msgpack_pack_uint64(pk, 5);
    pack_cstr(pk, "track");
    msgpack_pack_true(pk);
    msgpack_pack_map(pk, 3);
    pack_cstr(pk, "name");
    pack_cstr(pk, "bad_due");
    pack_cstr(pk, "due");
    pack_cstr(pk, "tomorrow");
    pack_cstr(pk, "track");
    msgpack_pack_true(pk);
    msgpack_pack_array(pk, 0);
}

static void
s_result_not_a_map(msgpack_packer *pk)
{
    pack_cstr(pk, "done");
}

static void
s_result_deadlines_not_a_list(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 1);
    pack_cstr(pk, "deadlines");
    msgpack_pack_uint64(pk, 3);
}

static void
s_result_too_many(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 1);
    pack_cstr(pk, "deadlines");
    msgpack_pack_array(pk, 20);
    for (int i = 0; i < 20; i++) {
        char name[16];
        snprintf(name, sizeof name, "d%d", i);
        s_pack_deadline(pk, name, 1000 + (uint64_t)i, true, "case.decision", NULL);
    }
}

Test(deadline_table, keeps_only_wellformed_tracked_deadlines)
{
    s_track(7, s_result_mixed);
    cr_expect_eq(s_count(), 2, "removal and the open case");
    s_track(8, s_result_not_a_map);
    s_track(9, s_result_deadlines_not_a_list);
    cr_expect_eq(s_count(), 2);
    s_track(10, s_result_too_many);
    cr_expect_eq(s_count(), 2 + 8, "at most 8 per result");
}

/* An accepted event for seq 7's id, so that corr can name it. */
static void
s_accepted(const uint8_t id[16], uint64_t *ret_seq)
{
    struct audit_accepted a = {.id = id, .area = "ads", .event = "\x80", .event_len = 1};
    uint64_t claimed;
    cr_assert_eq(audit_log_begin(s_log), 0);
    cr_assert_eq(audit_log_claim_id(s_log, id, &claimed), 0);
    cr_assert_eq(audit_log_append_accepted(s_log, &a, ret_seq), 0);
    cr_assert_eq(audit_log_commit(s_log), 0);
}

static void
s_close(const char *type, const uint8_t *corr, const char *subject)
{
    cr_assert_eq(audit_log_begin(s_log), 0);
    cr_assert_eq(deadline_table_close(s_log, config_type(s_cfg, type), corr, subject,
                                      subject ? strlen(subject) : 0),
                 0);
    cr_assert_eq(audit_log_commit(s_log), 0);
}

Test(deadline_table, closes_by_corr_or_subject_and_type_only)
{
    uint8_t id[16] = {7, 7, 7}, other[16] = {9};
    uint64_t seq;
    s_accepted(id, &seq);
    s_accepted(other, &(uint64_t){0});
    /* The tracked event is the one just accepted. */
    s_track(seq, s_result_mixed);
    cr_assert_eq(s_count(), 2);

    s_close("cyber.incident_final_report", other, NULL); /* another event, no subject */
    cr_expect_eq(s_count(), 2);
    s_close("case.decision", other, NULL);
    cr_expect_eq(s_count(), 2);
    s_close("cyber.incident_final_report", id, NULL);
    cr_expect_eq(s_count(), 1, "the case closed by corr; removal is not closed by that type");
    s_close("case.decision", NULL, "INC-1");
    cr_expect_eq(s_count(), 1, "removal has no subject to match");
    s_close("case.decision", id, NULL);
    cr_expect_eq(s_count(), 0, "removal closed by corr");

    /* By subject alone: another event, another case. */
    uint8_t third[16] = {8};
    uint64_t third_seq;
    s_accepted(third, &third_seq);
    s_case_subject = "INC-9";
    s_track(third_seq, s_result_mixed);
    cr_expect_eq(s_count(), 2);
    s_close("cyber.incident_final_report", NULL, "INC-8");
    cr_expect_eq(s_count(), 2);
    s_close("cyber.incident_final_report", NULL, "INC-9");
    cr_expect_eq(s_count(), 1, "the case closed by subject");
}

static int
s_first_key(void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
    (void)val;
    (void)vlen;
    memcpy(arg, key, klen);
    ((uint8_t *)arg)[DEADLINE_KEY_MAX] = (uint8_t)klen;
    return 1;
}

Test(deadline_table, warns_once_and_a_breach_removes)
{
    s_track(7, s_result_mixed);
    uint8_t key[DEADLINE_KEY_MAX + 1];
    cr_assert_eq(audit_log_snapshot_begin(s_log), 0);
    cr_assert_eq(audit_log_deadline_foreach(s_log, true, s_first_key, key), 0);
    audit_log_snapshot_end(s_log);
    size_t klen = key[DEADLINE_KEY_MAX];

    cr_assert_eq(audit_log_begin(s_log), 0);
    cr_expect(deadline_table_applies(s_log, key, klen, true));
    cr_assert_eq(deadline_table_apply(s_log, key, klen, true), 0);
    cr_expect_not(deadline_table_applies(s_log, key, klen, true), "warned once");
    cr_expect(deadline_table_applies(s_log, key, klen, false), "still there to breach");
    cr_assert_eq(deadline_table_apply(s_log, key, klen, false), 0);
    cr_expect_not(deadline_table_applies(s_log, key, klen, false), "breached: gone");
    cr_assert_eq(audit_log_commit(s_log), 0);
    cr_expect_eq(s_count(), 1);
}

/* A case decided before the completion that tracks its deadline is written
 * (a decision sent right after its application's ACK): it stays closed. */
Test(deadline_table, a_case_closed_before_tracking_stays_closed)
{
    uint8_t id[16] = {5, 5, 5};
    uint64_t seq;
    s_accepted(id, &seq);
    s_close("case.decision", id, NULL);
    s_close("cyber.incident_final_report", NULL, "INC-1");
    s_track(seq, s_result_mixed);
    cr_expect_eq(s_count(), 0, "both were closed before they were tracked");

    /* Another event's deadlines are tracked as usual. */
    uint8_t other[16] = {6};
    uint64_t other_seq;
    s_accepted(other, &other_seq);
    s_track(other_seq, s_result_too_many);
    cr_expect_eq(s_count(), 8);
}

/* What the loop thread decides before the writer parses anything. */
static bool
s_tracks(void (*fn)(msgpack_packer *pk))
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_unpacked u;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, pack_sbuffer_write);
    fn(&pk);
    msgpack_unpacked_init(&u);
    cr_assert_eq(msgpack_unpack_next(&u, sb.data, sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
    bool tracks = worker_result_tracks(&u.data);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
    return tracks;
}

static void
s_result_untracked(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 1);
    pack_cstr(pk, "deadlines");
    msgpack_pack_array(pk, 1);
    s_pack_deadline(pk, "notice", 1000, false, "case.decision", NULL);
}

Test(deadline_table, says_which_results_track)
{
    cr_expect(s_tracks(s_result_mixed));
    cr_expect(s_tracks(s_result_too_many));
    cr_expect_not(s_tracks(s_result_untracked));
    cr_expect_not(s_tracks(s_result_not_a_map));
    cr_expect_not(s_tracks(s_result_deadlines_not_a_list));
}

/* A worker's oversized or wrongly shaped strings and lists: the entry is
 * refused, or kept without the part that does not fit. */
static void
s_result_oversized(msgpack_packer *pk)
{
    static char big[ENVELOPE_SUBJECT_MAX + 2];
    memset(big, 's', sizeof big - 1);
    msgpack_pack_map(pk, 1);
    pack_cstr(pk, "deadlines");
    msgpack_pack_array(pk, 3);
    /* closed_by a string: refused. */
    msgpack_pack_map(pk, 4);
    pack_cstr(pk, "name");
    pack_cstr(pk, "a");
    pack_cstr(pk, "due");
    msgpack_pack_uint64(pk, 10);
    pack_cstr(pk, "track");
    msgpack_pack_true(pk);
    pack_cstr(pk, "closed_by");
    pack_cstr(pk, "case.decision");
    /* 17 closing types: refused. */
    msgpack_pack_map(pk, 4);
    pack_cstr(pk, "name");
    pack_cstr(pk, "b");
    pack_cstr(pk, "due");
    msgpack_pack_uint64(pk, 11);
    pack_cstr(pk, "track");
    msgpack_pack_true(pk);
    pack_cstr(pk, "closed_by");
    msgpack_pack_array(pk, 17);
    for (int i = 0; i < 17; i++)
        pack_cstr(pk, "case.decision");
    /* A subject longer than an envelope's: kept, without it. */
    s_pack_deadline(pk, "c", 12, true, "cyber.incident_final_report", big);
}

Test(deadline_table, oversized_worker_strings_and_lists)
{
    s_track(7, s_result_oversized);
    cr_expect_eq(s_count(), 1);
    static char big[ENVELOPE_SUBJECT_MAX + 2];
    memset(big, 's', sizeof big - 1);
    s_close("cyber.incident_final_report", NULL, big);
    cr_expect_eq(s_count(), 1, "its subject was not kept: nothing to match");
}
