/*
 * journal against a real audit log: records keep their order, a
 * failed transaction puts its records back ahead of newer ones, positions of
 * moved ops are forgotten, and follow-ups are accepted once.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "daemon/journal.h"
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

TestSuite(journal, .init = s_setup, .fini = s_teardown);

static struct audit_log *
s_open(void)
{
    return unit_log_open(s_dir, 1 << 20, 1 << 24);
}

/* A record with one field, "n". */
static struct journal_op *
s_queue(struct journal *j, const char *kind, uint64_t n)
{
    msgpack_packer pk;
    struct journal_op *op = journal_begin(j, kind, &pk);
    audit_pack_key(&pk, "n");
    msgpack_pack_uint64(&pk, n);
    journal_end(j, op, 1);
    return op;
}

static int
s_commit(struct journal *j, struct audit_log *log)
{
    bool wrote = false;
    int rc = audit_log_begin(log);
    if (rc == 0)
        rc = journal_write(j, log, &wrote);
    if (rc == 0)
        rc = audit_log_commit(log);
    else
        audit_log_abort(log);
    return rc;
}

struct order {
    char kinds[16][32];
    size_t n;
};

static bool
s_order(uint64_t seq, const struct audit_record *rec, const void *b, size_t l, void *arg)
{
    struct order *o = arg;
    if (rec && o->n < 16)
        snprintf(o->kinds[o->n++], sizeof o->kinds[0], "%s", rec->kind);
    return true;
}

static void
s_no_emit(void *arg, const struct journal_emit *e)
{
    cr_assert_fail("no follow-up was queued");
}

Test(journal, a_failed_transaction_puts_its_records_back_first)
{
    struct audit_log *log = s_open();
    struct journal *j = journal_new(s_no_emit, NULL);
    uint64_t gen;
    size_t index;

    s_queue(j, "first", 1);
    journal_position(j, &gen, &index);
    s_queue(j, "second", 2);
    cr_assert_not_null(journal_queued_op(j, gen, index), "still queued: found");
    journal_take(j);
    cr_expect_null(journal_queued_op(j, gen, index), "taken: forgotten");
    cr_expect_eq(journal_queued(j), 0);

    /* Queued while the first two were being written, which then failed. */
    s_queue(j, "third", 3);
    journal_done(j, -ENOSPC);
    cr_expect_eq(journal_queued(j), 3, "the failed records are queued again");

    journal_take(j);
    cr_assert_eq(s_commit(j, log), 0);
    journal_done(j, 0);
    cr_expect_eq(journal_queued(j), 0);

    struct order o = {0};
    journal_destroy(&j);
    audit_log_destroy(&log);
    log_inspect_each(s_dir, s_order, &o);
    cr_assert_eq(o.n, 3);
    cr_expect_str_eq(o.kinds[0], "first");
    cr_expect_str_eq(o.kinds[1], "second");
    cr_expect_str_eq(o.kinds[2], "third");
}

static void
s_count_emit(void *arg, const struct journal_emit *e)
{
    ++*(int *)arg;
}

struct follow_up {
    uint64_t accepted_seq, cause;
    long emitted_len;
    int accepted;
};

static bool
s_follow_up(uint64_t seq, const struct audit_record *rec, const void *b, size_t l, void *arg)
{
    struct follow_up *f = arg;
    if (!rec)
        return true;
    if (strcmp(rec->kind, "accepted") == 0) {
        f->accepted++;
        f->accepted_seq = seq;
        const msgpack_object *c = audit_record_field(rec, "cause");
        f->cause = c ? c->via.u64 : 0;
    } else if (strcmp(rec->kind, "completed") == 0) {
        const msgpack_object *e = audit_record_field(rec, "emitted");
        f->emitted_len = e && e->type == MSGPACK_OBJECT_ARRAY ? (long)e->via.array.size : -1;
    }
    return true;
}

Test(journal, follow_ups_are_accepted_once_with_their_cause)
{
    struct audit_log *log = s_open();
    int accepted = 0;
    struct journal *j = journal_new(s_count_emit, &accepted);
    static const struct area_conf area = {.name = "cyber"};
    uint8_t id[16] = {7, 7, 7};
    uint8_t data[] = {0x80};
    struct envelope_fields f = {.id = id,
                                .type = "cyber.incident_notification",
                                .source = "area:press",
                                .time_ms = 1,
                                .data = data,
                                .data_len = 1};

    /* Twice, as a retried worker would: the second time the id is already in. */
    for (int round = 0; round < 2; round++) {
        size_t first = journal_emits(j);
        journal_add_emit(j, &f, &area, NULL);
        struct journal_op *op = s_queue(j, "completed", 1);
        op->event_seq = 42;
        op->area = "press";
        op->emit_first = first;
        op->nemit = 1;
        journal_take(j);
        cr_assert_eq(s_commit(j, log), 0);
        journal_done(j, 0);
    }
    cr_expect_eq(accepted, 1, "routed once");

    journal_destroy(&j);
    audit_log_destroy(&log);
    struct follow_up fu = {0};
    log_inspect_each(s_dir, s_follow_up, &fu);
    cr_expect_eq(fu.accepted, 1, "accepted once");
    cr_expect_eq(fu.cause, 42);
    cr_expect_eq(fu.emitted_len, 1, "the completion names it");
}
