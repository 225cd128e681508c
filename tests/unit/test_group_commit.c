/*
 * group_commit against a real audit log and a real event loop: producers'
 * records share one transaction in the order the producers were added; done()
 * runs only once the records are committed; records nobody waits on wait for
 * company; a failed commit reaches every producer in it and nothing is
 * written; a full map grows and the batch is written again; a drain at stop
 * writes everything.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "config/config.h"
#include "config/embedded.h"
#include "daemon/group_commit.h"
#include "proto/pack.h"
#include "tests/unit/unit_log.h"
#include "tests/support/daemon_harness.h"
#include "tests/support/log_inspect.h"

static char s_dir[256];
static struct mandated_config *s_cfg;
static struct event_base *s_base;

static void
s_setup(void)
{
    cr_assert_eq(harness_mkdtemp(s_dir, sizeof s_dir, "group-commit"), 0);
    cr_assert_eq(config_load_string(embedded_config.text, embedded_config.name, &s_cfg, NULL), 0);
    s_base = event_base_new();
}

static void
s_teardown(void)
{
    event_base_free(s_base);
    config_destroy(&s_cfg);
    harness_rm_rf(s_dir);
}

TestSuite(group_commit, .init = s_setup, .fini = s_teardown);

static struct audit_log *
s_open(uint64_t map_initial, uint64_t map_max)
{
    return unit_log_open(s_dir, map_initial, map_max);
}

/* A producer of records of kind `name` with one field "n" (and "pad" bytes). */
struct fake {
    const char *name;
    struct audit_log *log;
    size_t queued, taken;
    size_t pad;
    int fail_with; /* write returns this once, if set */
    int writes, dones, last_rc;
    int answers;
    size_t taken_at_answer[2];  /* records of the next transaction already taken */
    uint64_t committed_at_done; /* the log's last committed seq when done() ran */
    uint64_t next_n;
};

static size_t
s_queued(void *arg)
{
    return ((struct fake *)arg)->queued;
}

static void
s_take(void *arg)
{
    struct fake *f = arg;
    f->taken = f->queued;
    f->queued = 0;
}

static int
s_write(void *arg, struct audit_log *log, bool *wrote)
{
    struct fake *f = arg;
    static char pad[600 * 1024];
    f->writes++;
    if (f->fail_with) {
        int rc = f->fail_with;
        f->fail_with = 0;
        return rc;
    }
    for (size_t i = 0; i < f->taken; i++) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, pack_sbuffer_write);
        pack_cstr(&pk, "n");
        msgpack_pack_uint64(&pk, f->next_n + i);
        pack_cstr(&pk, "pad");
        msgpack_pack_bin_with_body(&pk, pad, f->pad < sizeof pad ? f->pad : sizeof pad);
        int rc = audit_log_append(log, f->name, sb.data, sb.size, 2, NULL);
        msgpack_sbuffer_destroy(&sb);
        if (rc < 0)
            return rc;
        *wrote = true;
    }
    return 0;
}

static void
s_done(void *arg, int rc)
{
    struct fake *f = arg;
    f->dones++;
    f->last_rc = rc;
    f->committed_at_done = audit_log_last_seq(f->log);
    if (rc == 0)
        f->next_n += f->taken;
    else
        f->queued += f->taken; /* as a real producer does: put back, write again */
    f->taken = 0;
}

static void
s_answer(void *arg)
{
    struct fake *f = arg;
    if (f->answers < 2)
        f->taken_at_answer[f->answers] = f->taken;
    f->answers++;
}

static void
s_add(struct group_commit *gc, struct fake *f, bool awaited)
{
    const struct group_commit_producer p = {
        .name = f->name,
        .awaited = awaited,
        .queued = s_queued,
        .take = s_take,
        .write = s_write,
        .done = s_done,
        .answer = s_answer,
        .arg = f,
    };
    group_commit_add(gc, &p);
}

/* Runs the loop until cond(arg) or 2 s. */
static void
s_run_until(bool (*cond)(void *arg), void *arg)
{
    for (int i = 0; i < 200 && !cond(arg); i++) {
        struct timeval tv = {0, 10 * 1000};
        event_base_loopexit(s_base, &tv);
        event_base_dispatch(s_base);
    }
}

static bool
s_done_once(void *arg)
{
    return ((struct fake *)arg)->dones > 0;
}

struct order {
    char kinds[64][32];
    uint64_t n[64];
    size_t count;
};

static bool
s_order(uint64_t seq, const struct audit_record *rec, const void *b, size_t l, void *arg)
{
    struct order *o = arg;
    if (!rec || (strcmp(rec->kind, "a") != 0 && strcmp(rec->kind, "b") != 0) || o->count == 64)
        return true;
    snprintf(o->kinds[o->count], sizeof o->kinds[0], "%s", rec->kind);
    const msgpack_object *n = audit_record_field(rec, "n");
    o->n[o->count++] = n ? n->via.u64 : 999;
    return true;
}

Test(group_commit, awaited_records_are_committed_before_done)
{
    struct audit_log *log = s_open(1 << 20, 1 << 24);
    struct group_commit *gc = group_commit_new(s_base, s_cfg, log);
    struct fake a = {.name = "a", .log = log, .queued = 1};
    s_add(gc, &a, true);
    group_commit_flush(gc);
    /* One record with nothing else readable: written at once, on this thread. */
    cr_expect_eq(a.dones, 1, "a lone awaited record is written inline");
    cr_expect_eq(a.last_rc, 0);
    cr_expect_eq(a.committed_at_done, 1, "done ran after the commit");
    cr_expect_eq(group_commit_stats(gc)->batches, 1);
    group_commit_destroy(&gc);
    audit_log_destroy(&log);
}

/* The ACKs of one batch must not delay the write of the next. */
Test(group_commit, the_next_batch_is_with_the_writer_before_the_last_is_answered)
{
    struct audit_log *log = s_open(1 << 20, 1 << 24);
    struct group_commit *gc = group_commit_new(s_base, s_cfg, log);
    struct fake a = {.name = "a", .log = log, .queued = 10};
    s_add(gc, &a, true);
    group_commit_flush(gc);
    cr_assert_eq(a.dones, 0, "ten records go to the writer thread");
    a.queued = 8; /* read while the first batch is being written */
    for (int i = 0; i < 200 && a.answers < 2; i++) {
        struct timeval tv = {0, 10 * 1000};
        event_base_loopexit(s_base, &tv);
        event_base_dispatch(s_base);
    }
    cr_assert_eq(a.dones, 2);
    cr_expect_eq(a.answers, 2, "each batch answered once its transaction ended");
    cr_expect_eq(a.taken_at_answer[0], 8, "the next batch was taken before the answer");
    cr_expect_eq(a.taken_at_answer[1], 0, "nothing more was queued");
    cr_expect_eq(audit_log_last_seq(log), 18);
    group_commit_destroy(&gc);
    audit_log_destroy(&log);
}

Test(group_commit, one_transaction_in_producer_order)
{
    struct audit_log *log = s_open(1 << 20, 1 << 24);
    struct group_commit *gc = group_commit_new(s_base, s_cfg, log);
    struct fake a = {.name = "a", .log = log, .queued = 10};
    struct fake b = {.name = "b", .log = log, .queued = 3};
    s_add(gc, &a, true);
    s_add(gc, &b, false);
    group_commit_flush(gc);
    cr_expect_eq(a.dones, 0, "ten records go to the writer thread");
    s_run_until(s_done_once, &a);
    cr_assert_eq(a.dones, 1);
    cr_expect_eq(b.dones, 1, "b's records rode along");
    cr_expect_eq(a.last_rc, 0);
    cr_expect_eq(b.last_rc, 0);
    cr_expect_eq(a.committed_at_done, 13);
    cr_expect_eq(group_commit_stats(gc)->batches, 1, "one transaction for both");
    group_commit_destroy(&gc);
    audit_log_destroy(&log);

    struct order o = {0};
    log_inspect_each(s_dir, s_order, &o);
    cr_assert_eq(o.count, 13);
    for (size_t i = 0; i < 13; i++) {
        cr_expect_str_eq(o.kinds[i], i < 10 ? "a" : "b", "record %zu", i);
        cr_expect_eq(o.n[i], i < 10 ? i : i - 10);
    }
}

Test(group_commit, unawaited_records_wait_for_company)
{
    struct audit_log *log = s_open(1 << 20, 1 << 24);
    struct group_commit *gc = group_commit_new(s_base, s_cfg, log);
    struct fake b = {.name = "b", .log = log, .queued = 3};
    s_add(gc, &b, false);
    group_commit_flush(gc);
    cr_expect_eq(b.dones, 0, "three records nobody waits on do not cost a commit at once");
    cr_expect_eq(b.writes, 0);
    s_run_until(s_done_once, &b);
    cr_expect_eq(b.dones, 1, "the delay ran out and they were written");
    cr_expect_eq(b.committed_at_done, 3);
    group_commit_destroy(&gc);
    audit_log_destroy(&log);
}

Test(group_commit, a_failed_commit_reaches_every_producer)
{
    struct audit_log *log = s_open(1 << 20, 1 << 24);
    struct group_commit *gc = group_commit_new(s_base, s_cfg, log);
    struct fake a = {.name = "a", .log = log, .queued = 2};
    struct fake b = {.name = "b", .log = log, .queued = 2, .fail_with = -EIO};
    s_add(gc, &a, true);
    s_add(gc, &b, false);
    group_commit_flush(gc);
    s_run_until(s_done_once, &a);
    cr_assert_eq(a.dones, 1);
    cr_expect_eq(a.last_rc, -EIO, "a's records shared the failed transaction");
    cr_expect_eq(b.last_rc, -EIO);
    cr_expect_eq(audit_log_last_seq(log), 0, "nothing of the batch was written");
    cr_expect(group_commit_failing(gc));
    cr_expect_eq(group_commit_stats(gc)->commit_failures, 1);

    /* Both put their records back; the next turn writes them. */
    group_commit_flush(gc);
    s_run_until(s_done_once, &a); /* already true: wait on the write itself */
    for (int i = 0; i < 200 && audit_log_last_seq(log) < 4; i++) {
        struct timeval tv = {0, 10 * 1000};
        event_base_loopexit(s_base, &tv);
        event_base_dispatch(s_base);
    }
    cr_expect_eq(audit_log_last_seq(log), 4);
    cr_expect_eq(a.last_rc, 0);
    cr_expect_not(group_commit_failing(gc), "commits work again");
    group_commit_destroy(&gc);
    audit_log_destroy(&log);
}

Test(group_commit, a_full_map_grows_and_the_batch_is_written_again)
{
    struct audit_log *log = s_open(1 << 20, 1 << 26);
    uint64_t before = audit_log_map_size(log);
    struct group_commit *gc = group_commit_new(s_base, s_cfg, log);
    /* Six records of 600 KiB: more than the first map holds. */
    struct fake a = {.name = "a", .log = log, .queued = 6, .pad = 600 * 1024};
    s_add(gc, &a, true);
    group_commit_flush(gc);
    s_run_until(s_done_once, &a);
    cr_assert_eq(a.dones, 1);
    cr_expect_eq(a.last_rc, 0);
    cr_expect_gt(a.writes, 1, "the first attempt hit the map's end");
    cr_expect_gt(audit_log_map_size(log), before);
    cr_expect_eq(audit_log_last_seq(log), 6);
    group_commit_destroy(&gc);
    audit_log_destroy(&log);
}

Test(group_commit, drain_writes_everything_queued)
{
    struct audit_log *log = s_open(1 << 20, 1 << 24);
    struct group_commit *gc = group_commit_new(s_base, s_cfg, log);
    struct fake a = {.name = "a", .log = log, .queued = 7};
    struct fake b = {.name = "b", .log = log, .queued = 5};
    s_add(gc, &a, true);
    s_add(gc, &b, false);
    group_commit_drain(gc); /* the loop is not running: as at a stop */
    cr_expect_eq(a.dones, 1);
    cr_expect_eq(b.dones, 1);
    cr_expect_eq(a.answers + b.answers, 2, "answered at a stop too");
    cr_expect_eq(audit_log_last_seq(log), 12);
    cr_expect_eq(a.queued + b.queued, 0);
    group_commit_destroy(&gc);
    audit_log_destroy(&log);
}
