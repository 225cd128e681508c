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
