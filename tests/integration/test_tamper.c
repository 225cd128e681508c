/*
 * Tamper: alter one byte of one stored record; `mandatectl verify` must exit 1
 * and name that record's seq. Covers a byte in the body and one in `prev`.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "proto/mep.h"
#include "tests/support/daemon_harness.h"
#include "tests/support/log_inspect.h"

#define EVENTS 50

static struct harness *
s_filled_log(void)
{
    struct harness *h = harness_new(NULL, NULL);
    cr_assert_eq(harness_start(h, 10000), 0);
    void *s = harness_dealer(h);
    for (uint32_t i = 0; i < EVENTS; i++) {
        uint8_t id[16] = {0x7a}, buf[512], body[256];
        char cmd[8];
        memcpy(id + 8, &i, 4);
        size_t len = harness_envelope(buf, sizeof buf, id, "press.conference_notice", "t", i);
        cr_assert_eq(harness_send_pub(s, buf, len), 0);
        cr_assert_geq(harness_recv_reply(s, cmd, body, sizeof body, 5000), 0);
        cr_assert_str_eq(cmd, "ACK");
    }
    zmq_close(s);
    cr_assert_eq(harness_stop(h, 10000), 0);
    cr_assert_eq(harness_ctl(h, NULL, NULL, "verify", NULL), 0, "untouched log must verify");
    return h;
}

struct find {
    uint64_t seq;
    size_t len;
    size_t prev_offset;
};

static bool
s_find(uint64_t key, const struct audit_record *rec, const void *b, size_t l, void *arg)
{
    struct find *f = arg;
    if (key != f->seq)
        return true;
    f->len = l;
    /* Where the 32 prev bytes sit: search the bytes for them. */
    const uint8_t *p = b;
    for (size_t i = 0; i + 32 <= l; i++)
        if (memcmp(p + i, rec->prev, 32) == 0)
            f->prev_offset = i;
    return false;
}

static void
s_expect_named(struct harness *h, uint64_t seq)
{
    char *out = NULL, want[64];
    int rc = harness_ctl(h, NULL, &out, "verify", NULL);
    cr_assert_eq(rc, 1, "verify exit %d after tampering; output: %s", rc, out);
    snprintf(want, sizeof want, "seq %llu", (unsigned long long)seq);
    cr_assert(strstr(out, want), "verify should name %s, said: %s", want, out);
    free(out);
}

Test(tamper, flipped_byte_in_a_record_body_is_named, .timeout = 60)
{
    struct harness *h = s_filled_log();
    unsigned rng = (unsigned)getpid();
    struct find f = {.seq = 2 + (uint64_t)(rand_r(&rng) % EVENTS)};
    log_inspect_each(harness_state_dir(h), s_find, &f);
    cr_assert_gt(f.len, 60);
    /* A byte in the embedded event, well past the common fields. */
    size_t off = f.len - 1 - (size_t)(rand_r(&rng) % 20);
    cr_assert_eq(log_inspect_flip_byte(harness_state_dir(h), f.seq, off), 0);
    s_expect_named(h, f.seq);
    harness_destroy(&h);
}

Test(tamper, altered_prev_is_named, .timeout = 60)
{
    struct harness *h = s_filled_log();
    struct find f = {.seq = 17};
    log_inspect_each(harness_state_dir(h), s_find, &f);
    cr_assert_gt(f.prev_offset, 0);
    cr_assert_eq(log_inspect_flip_byte(harness_state_dir(h), f.seq, f.prev_offset + 5), 0);
    s_expect_named(h, 17);
    harness_destroy(&h);
}

Test(tamper, last_record_altered_is_named, .timeout = 60)
{
    struct harness *h = s_filled_log();
    /* The `stopped` record is last: only meta's chain head can catch it. */
    struct find f = {.seq = EVENTS + 2};
    log_inspect_each(harness_state_dir(h), s_find, &f);
    cr_assert_gt(f.len, 0);
    cr_assert_eq(log_inspect_flip_byte(harness_state_dir(h), f.seq, f.len - 1), 0);
    s_expect_named(h, EVENTS + 2);

    /* The broker refuses to extend a chain whose head no longer matches. */
    cr_assert_neq(harness_start(h, 3000), 0, "the daemon started on a tampered log");
    char *log = harness_daemon_log(h);
    char *why = strstr(log, "chain head");
    cr_assert_not_null(why, "the refusal must say why: %s", log);
    why[strcspn(why, "\n")] = '\0'; /* one line says both */
    cr_assert(strstr(why, "verify"), "the refusal must point at verify: %s", why);
    free(log);
    harness_destroy(&h);
}

/*
 * A log long enough that verify checks it in ranges on several threads
 * (tools/mandatectl_verify.c): a record altered on either side of a range
 * boundary is named just as one pass names it.
 */
#define LONG_EVENTS 120000
#define LONG_WINDOW 500
#define RANGE_MIN   50000 /* as RANGE_MIN_RECORDS in the verifier */
#define RANGES_MAX  4

static struct harness *
s_long_log(uint64_t *ret_records)
{
    struct harness *h = harness_new(NULL, NULL);
    cr_assert_eq(harness_start(h, 10000), 0);
    void *s = harness_dealer(h);
    uint32_t sent = 0, acked = 0;
    while (acked < LONG_EVENTS) {
        while (sent < LONG_EVENTS && sent - acked < LONG_WINDOW) {
            uint8_t id[16] = {0x7b}, buf[512];
            memcpy(id + 8, &sent, 4);
            size_t len =
                harness_envelope(buf, sizeof buf, id, "press.conference_notice", "t", sent);
            cr_assert_eq(harness_send_pub(s, buf, len), 0);
            sent++;
        }
        uint8_t body[256];
        char cmd[8];
        cr_assert_geq(harness_recv_reply(s, cmd, body, sizeof body, 10000), 0);
        cr_assert_str_eq(cmd, "ACK");
        acked++;
    }
    zmq_close(s);
    cr_assert_eq(harness_stop(h, 10000), 0);
    *ret_records = (uint64_t)log_inspect_count(harness_state_dir(h), "log");
    cr_assert_geq(*ret_records, LONG_EVENTS);
    char *out = NULL, want[64];
    cr_assert_eq(harness_ctl(h, NULL, &out, "verify", NULL), 0, "untouched log must verify");
    snprintf(want, sizeof want, "ok: %llu records", (unsigned long long)*ret_records);
    cr_assert(strstr(out, want), "verify should say %s, said: %s", want, out);
    free(out);
    return h;
}

/* Where the verifier's second range starts, as it splits seq 1..records. */
static uint64_t
s_second_range(uint64_t records)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int n = cpus < 2 ? 2 : cpus > RANGES_MAX ? RANGES_MAX : (int)cpus;
    while (n > 1 && records / (uint64_t)n < RANGE_MIN)
        n--;
    cr_assert_geq(n, 2, "the log is too short to be split");
    return 1 + records / (uint64_t)n;
}

/* Alters one byte of seq (in_prev: one of its prev, else its last but one), checks that
 * verify names seq, and restores it. */
static void
s_flip_and_expect(struct harness *h, uint64_t seq, bool in_prev)
{
    struct find f = {.seq = seq};
    log_inspect_each(harness_state_dir(h), s_find, &f);
    cr_assert_gt(f.len, 60);
    size_t off = in_prev ? f.prev_offset + 3 : f.len - 2;
    cr_assert(!in_prev || f.prev_offset > 0);
    cr_assert_eq(log_inspect_flip_byte(harness_state_dir(h), seq, off), 0);
    s_expect_named(h, seq);
    cr_assert_eq(log_inspect_flip_byte(harness_state_dir(h), seq, off), 0);
}

Test(tamper, records_altered_around_a_range_boundary_are_named, .timeout = 240)
{
    uint64_t records;
    struct harness *h = s_long_log(&records);
    uint64_t b = s_second_range(records);
    for (uint64_t seq = b - 2; seq <= b + 1; seq++) {
        s_flip_and_expect(h, seq, false);
        s_flip_and_expect(h, seq, true);
    }
    /* Two records altered, one in each range: the earlier is named, as one pass would. */
    struct find early = {.seq = b - 1000}, late = {.seq = b + 1000};
    log_inspect_each(harness_state_dir(h), s_find, &early);
    log_inspect_each(harness_state_dir(h), s_find, &late);
    cr_assert_eq(log_inspect_flip_byte(harness_state_dir(h), late.seq, late.len - 2), 0);
    s_expect_named(h, late.seq);
    cr_assert_eq(log_inspect_flip_byte(harness_state_dir(h), early.seq, early.len - 2), 0);
    s_expect_named(h, early.seq);
    cr_assert_eq(log_inspect_flip_byte(harness_state_dir(h), early.seq, early.len - 2), 0);
    cr_assert_eq(log_inspect_flip_byte(harness_state_dir(h), late.seq, late.len - 2), 0);
    /* Restored, it verifies again: each flip above was undone. */
    cr_assert_eq(harness_ctl(h, NULL, NULL, "verify", NULL), 0);
    harness_destroy(&h);
}
