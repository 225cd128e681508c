/*
 * Ingest against the real daemon: pipelined publishers, duplicates, REQ
 * peers, every NACK code the broker can reach, SIGTERM, and a full map.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <msgpack.h>
#include <zmq.h>

#include "proto/mep.h"
#include "tests/support/daemon_harness.h"
#include "tests/support/sample_data.h"
#include "proto/pack.h"
#include "tests/support/log_inspect.h"

#define CLIENTS 4
#define PER     2500
#define WINDOW  64
#define TOTAL   (CLIENTS * PER)

static void
s_id(uint8_t id[16], uint32_t client, uint32_t n)
{
    memset(id, 0, 16);
    id[0] = 0xee;
    memcpy(id + 4, &client, 4);
    memcpy(id + 8, &n, 4);
}

static struct mep_reply
s_reply(void *sock, const char *want_cmd)
{
    char cmd[8];
    uint8_t body[512];
    struct mep_reply r;
    int n = harness_recv_reply(sock, cmd, body, sizeof body, 5000);
    cr_assert_geq(n, 0, "no reply within 5 s");
    if (want_cmd)
        cr_assert_str_eq(cmd, want_cmd);
    cr_assert_eq(mep_reply_decode(body, (size_t)n, strcmp(cmd, "ACK") == 0, &r), 0,
                 "undecodable %s body", cmd);
    return r;
}

/* Publishes one event and returns the reply. */
static struct mep_reply
s_publish(void *sock, const uint8_t id[16], const char *type, const char *source, uint64_t n)
{
    uint8_t buf[512];
    size_t len = harness_envelope(buf, sizeof buf, id, type, source, n);
    cr_assert(len > 0);
    cr_assert_eq(harness_send_pub(sock, buf, len), 0);
    return s_reply(sock, NULL);
}

struct id_count {
    uint32_t counts[CLIENTS][PER];
    uint64_t seq_of[CLIENTS][PER];
    long accepted;
};

static bool
s_count_ids(uint64_t key, const struct audit_record *rec, const void *b, size_t l, void *arg)
{
    struct id_count *c = arg;
    cr_assert_not_null(rec, "record %llu undecodable", (unsigned long long)key);
    cr_assert_eq(rec->seq, key);
    if (strcmp(rec->kind, "accepted") != 0)
        return true;
    const msgpack_object *id = audit_record_event_field(rec, "id");
    cr_assert(id && id->type == MSGPACK_OBJECT_BIN && id->via.bin.size == 16);
    uint32_t client, n;
    memcpy(&client, id->via.bin.ptr + 4, 4);
    memcpy(&n, id->via.bin.ptr + 8, 4);
    cr_assert(client < CLIENTS && n < PER);
    c->counts[client][n]++;
    cr_assert_eq(c->seq_of[client][n], key, "id (%u,%u) ACKed with seq %llu, logged at %llu",
                 client, n, (unsigned long long)c->seq_of[client][n], (unsigned long long)key);
    c->accepted++;
    return true;
}

Test(ingest, four_pipelined_clients_ten_thousand_events, .timeout = 120)
{
    struct harness *h = harness_new(NULL, NULL);
    cr_assert_eq(harness_start(h, 10000), 0, "daemon did not start");

    void *socks[CLIENTS];
    uint32_t sent[CLIENTS] = {0}, acked[CLIENTS] = {0};
    static struct id_count ids;
    memset(&ids, 0, sizeof ids);
    static uint32_t ack_count[CLIENTS][PER];
    memset(ack_count, 0, sizeof ack_count);
    for (int c = 0; c < CLIENTS; c++)
        socks[c] = harness_dealer(h);

    uint64_t max_seq = 0;
    int done = 0;
    while (done < CLIENTS) {
        for (int c = 0; c < CLIENTS; c++) {
            while (sent[c] < PER && sent[c] - acked[c] < WINDOW) {
                uint8_t id[16], buf[512];
                s_id(id, (uint32_t)c, sent[c]);
                size_t len = harness_envelope(buf, sizeof buf, id, "press.conference_notice",
                                              "agency-test", sent[c]);
                cr_assert_eq(harness_send_pub(socks[c], buf, len), 0);
                sent[c]++;
            }
        }
        zmq_pollitem_t items[CLIENTS];
        for (int c = 0; c < CLIENTS; c++)
            items[c] = (zmq_pollitem_t){.socket = socks[c], .events = ZMQ_POLLIN};
        cr_assert_gt(zmq_poll(items, CLIENTS, 5000), 0, "no ACK for 5 s");
        for (int c = 0; c < CLIENTS; c++) {
            if (!(items[c].revents & ZMQ_POLLIN))
                continue;
            struct mep_reply r = s_reply(socks[c], "ACK");
            cr_assert(r.is_ack && !r.dup);
            uint32_t client, n;
            memcpy(&client, r.id + 4, 4);
            memcpy(&n, r.id + 8, 4);
            cr_assert_eq(client, (uint32_t)c, "reply routed to the wrong client");
            cr_assert_lt(n, PER);
            cr_assert_eq(ack_count[c][n]++, 0, "id (%d,%u) ACKed twice", c, n);
            ids.seq_of[c][n] = r.seq;
            if (r.seq > max_seq)
                max_seq = r.seq;
            if (++acked[c] == PER)
                done++;
        }
    }

    /* A resent id: ACK dup with the original seq, nothing written. */
    uint8_t id[16];
    s_id(id, 2, 1234);
    struct mep_reply r = s_publish(socks[0], id, "press.conference_notice", "agency-test", 1234);
    cr_assert(r.is_ack);
    cr_assert(r.dup, "resent id not flagged dup");
    cr_assert_eq(r.seq, ids.seq_of[2][1234]);

    for (int c = 0; c < CLIENTS; c++)
        zmq_close(socks[c]);
    cr_assert_eq(harness_stop(h, 10000), 0, "SIGTERM did not exit 0");

    /* Seqs gap-free: `started` is seq 1, the events 2..TOTAL+1, then `stopped`. */
    cr_assert_eq(max_seq, TOTAL + 1);
    cr_assert_eq(log_inspect_each(harness_state_dir(h), s_count_ids, &ids), TOTAL + 2);
    cr_assert_eq(ids.accepted, TOTAL);
    for (int c = 0; c < CLIENTS; c++)
        for (int n = 0; n < PER; n++)
            cr_assert_eq(ids.counts[c][n], 1, "id (%d,%d) logged %u times", c, n, ids.counts[c][n]);
    cr_assert_eq(log_inspect_count_ids(harness_state_dir(h)), TOTAL);
    cr_assert_eq(log_inspect_count(harness_state_dir(h), "pending"), TOTAL);
    cr_assert_eq(harness_ctl(h, NULL, NULL, "verify", NULL), 0);
    harness_destroy(&h);
}

struct kinds {
    int accepted, rejected, started, stopped;
    char last_kind[32];
    char codes[16][32];
};

static bool
s_kinds(uint64_t key, const struct audit_record *rec, const void *b, size_t l, void *arg)
{
    struct kinds *k = arg;
    cr_assert_not_null(rec);
    snprintf(k->last_kind, sizeof k->last_kind, "%s", rec->kind);
    if (!strcmp(rec->kind, "accepted"))
        k->accepted++;
    else if (!strcmp(rec->kind, "started"))
        k->started++;
    else if (!strcmp(rec->kind, "stopped"))
        k->stopped++;
    else if (!strcmp(rec->kind, "rejected")) {
        const msgpack_object *code = audit_record_field(rec, "code");
        cr_assert(code && code->type == MSGPACK_OBJECT_STR);
        if (k->rejected < 16)
            snprintf(k->codes[k->rejected], 32, "%.*s", (int)code->via.str.size, code->via.str.ptr);
        k->rejected++;
    }
    return true;
}

static void
s_send_frames(void *sock, int n, const char **frames, const size_t *lens)
{
    for (int i = 0; i < n; i++)
        cr_assert_geq(zmq_send(sock, frames[i], lens[i], i + 1 < n ? ZMQ_SNDMORE : 0), 0);
}

Test(ingest, bad_input_gets_its_code_and_changes_nothing_else, .timeout = 60)
{
    struct harness *h = harness_new(NULL, NULL);
    cr_assert_eq(harness_start(h, 10000), 0);
    void *s = harness_dealer(h);
    struct mep_reply r;
    uint8_t id[16] = {1, 2, 3};

    /* Wrong protocol frame. */
    const char *f1[] = {"MEP2", "PUB", "x"};
    size_t l1[] = {4, 3, 1};
    s_send_frames(s, 3, f1, l1);
    r = s_reply(s, "NACK");
    cr_assert_eq(r.code, MEP_BAD_FRAME);
    cr_assert(!r.has_id);
    cr_assert(strstr(r.reason, "frame 1"), "reason: %s", r.reason);

    /* Unknown command; too many frames. */
    const char *f2[] = {"MEP1", "GET", "x"};
    s_send_frames(s, 3, f2, l1);
    r = s_reply(s, "NACK");
    cr_assert_eq(r.code, MEP_BAD_FRAME);
    cr_assert(strstr(r.reason, "frame 2"), "reason: %s", r.reason);
    const char *f3[] = {"MEP1", "PUB", "x", "y", "z"};
    size_t l3[] = {4, 3, 1, 1, 1};
    s_send_frames(s, 5, f3, l3);
    cr_assert_eq(s_reply(s, "NACK").code, MEP_BAD_FRAME);

    /* Not msgpack. */
    const char *f4[] = {"MEP1", "PUB", "\xc1\xc1"};
    size_t l4[] = {4, 3, 2};
    s_send_frames(s, 3, f4, l4);
    cr_assert_eq(s_reply(s, "NACK").code, MEP_BAD_MSGPACK);

    /* Five bytes declaring 2^32-1 array elements. */
    const char *f5[] = {"MEP1", "PUB", "\xdd\xff\xff\xff\xff"};
    size_t l5[] = {4, 3, 5};
    s_send_frames(s, 3, f5, l5);
    cr_assert_eq(s_reply(s, "NACK").code, MEP_BAD_MSGPACK);

    /* Oversize body. */
    static char big[70000];
    memset(big, 0xa0, sizeof big);
    const char *f6[] = {"MEP1", "PUB", big};
    size_t l6[] = {4, 3, 65537};
    s_send_frames(s, 3, f6, l6);
    cr_assert_eq(s_reply(s, "NACK").code, MEP_TOO_LARGE);

    /* Unknown type; a source publishing outside its allow list; a worker-only source. */
    r = s_publish(s, id, "press.no_such_thing", "agency", 1);
    cr_assert_eq(r.code, MEP_UNKNOWN_TYPE);
    cr_assert(r.has_id && memcmp(r.id, id, 16) == 0, "NACK must carry the readable id");
    r = s_publish(s, id, "press.conference_notice", "soc", 1);
    cr_assert_eq(r.code, MEP_FORBIDDEN);
    r = s_publish(s, id, "press.conference_notice", "area:press", 1);
    cr_assert_eq(r.code, MEP_FORBIDDEN);

    /* The same id is still free: nothing above consumed it. */
    r = s_publish(s, id, "press.conference_notice", "agency", 1);
    cr_assert(r.is_ack && !r.dup);

    zmq_close(s);
    cr_assert_eq(harness_stop(h, 10000), 0);
    struct kinds k = {0};
    log_inspect_each(harness_state_dir(h), s_kinds, &k);
    cr_assert_eq(k.accepted, 1);
    cr_assert_eq(k.rejected, 9);
    cr_assert_str_eq(k.codes[0], "bad_frame");
    cr_assert_str_eq(k.codes[5], "too_large");
    cr_assert_str_eq(k.codes[6], "unknown_type");
    cr_assert_eq(k.started, 1);
    cr_assert_eq(k.stopped, 1);
    cr_assert_str_eq(k.last_kind, "stopped");
    cr_assert_eq(log_inspect_count_ids(harness_state_dir(h)), 1);
    harness_destroy(&h);
}

/* Publishes type with data given as packed msgpack, corr optional. */
static struct mep_reply
s_publish_data(void *sock, const uint8_t id[16], const char *type, const msgpack_sbuffer *data,
               const uint8_t *corr)
{
    uint8_t buf[2048];
    size_t len =
        harness_envelope_data(buf, sizeof buf, id, type, "agency", 1, corr, data->data, data->size);
    cr_assert(len > 0);
    cr_assert_eq(harness_send_pub(sock, buf, len), 0);
    return s_reply(sock, NULL);
}

/*
 * The catalogue at intake: data missing a required field or breaking a rule
 * gets NACK invalid_data naming the field; a worker-only type is forbidden;
 * case.decision needs a corr naming an accepted event and goes to its area.
 * Refusals consume no id and write only their rejected record.
 */
Test(ingest, catalogue_checks_data_at_intake, .timeout = 60)
{
    struct harness *h = harness_new(NULL, NULL);
    cr_assert_eq(harness_start(h, 10000), 0);
    void *s = harness_dealer(h);
    uint8_t id[16], notice_id[16], decision_id[16];
    msgpack_sbuffer data;
    msgpack_sbuffer_init(&data);
    s_id(id, 9, 1);
    s_id(notice_id, 9, 2);
    s_id(decision_id, 9, 3);

    cr_assert_eq(sample_data_pack("press.conference_notice", "venue", -1, &data), 0);
    struct mep_reply r = s_publish_data(s, id, "press.conference_notice", &data, NULL);
    cr_assert_eq(r.code, MEP_INVALID_DATA);
    cr_expect_not(r.retry);
    cr_expect_str_eq(r.reason, "field 'data.venue': missing (required by press.conference_notice)");

    /* organiser_kind outside its one_of. */
    msgpack_sbuffer_clear(&data);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &data, pack_sbuffer_write);
    msgpack_pack_map(&pk, 8);
    static const char *const kv[][2] = {
        {"organiser", "O"}, {"organiser_kind", "alien"},
        {"chair", "C"},     {"purpose", "P"},
        {"content", "C"},   {"venue", "V"},
        {"invitees", "I"},
    };
    for (size_t i = 0; i < 7; i++) {
        pack_cstr(&pk, kv[i][0]);
        pack_cstr(&pk, kv[i][1]);
    }
    pack_cstr(&pk, "start_time");
    msgpack_pack_uint64(&pk, 1780300000000ull);
    r = s_publish_data(s, id, "press.conference_notice", &data, NULL);
    cr_assert_eq(r.code, MEP_INVALID_DATA);
    cr_expect_str_eq(r.reason, "field 'data.organiser_kind': \"alien\" is not one of "
                               "domestic|foreign|central (press.conference_notice)");

    /* Only workers and the broker emit escalations. */
    msgpack_sbuffer_clear(&data);
    msgpack_pack_map(&pk, 0);
    r = s_publish_data(s, id, "cyber.serious_incident_escalation", &data, NULL);
    cr_assert_eq(r.code, MEP_FORBIDDEN);
    cr_expect(strstr(r.reason, "emitted by workers and the broker only"), "%s", r.reason);

    /* case.decision: without corr, with a corr naming nothing, then rightly. */
    msgpack_sbuffer_clear(&data);
    cr_assert_eq(sample_data_pack("case.decision", NULL, -1, &data), 0);
    r = s_publish_data(s, decision_id, "case.decision", &data, NULL);
    cr_assert_eq(r.code, MEP_INVALID_DATA);
    cr_expect(strstr(r.reason, "field 'corr': missing"), "%s", r.reason);
    r = s_publish_data(s, decision_id, "case.decision", &data, notice_id);
    cr_assert_eq(r.code, MEP_INVALID_DATA);
    cr_expect(strstr(r.reason, "names no accepted event"), "%s", r.reason);

    /* The same ids are still free: nothing above consumed them. */
    r = s_publish(s, notice_id, "press.conference_notice", "agency", 1);
    cr_assert(r.is_ack && !r.dup);
    r = s_publish_data(s, decision_id, "case.decision", &data, notice_id);
    cr_assert(r.is_ack && !r.dup, "%s", r.reason);
    uint64_t decision_seq = r.seq;
    r = s_publish(s, id, "press.conference_notice.v2", "agency", 1);
    cr_assert(r.is_ack, "%s", r.reason);

    zmq_close(s);
    msgpack_sbuffer_destroy(&data);
    cr_assert_eq(harness_stop(h, 10000), 0);
    struct kinds k = {0};
    log_inspect_each(harness_state_dir(h), s_kinds, &k);
    cr_expect_eq(k.accepted, 3);
    cr_expect_eq(k.rejected, 5);
    cr_expect_str_eq(k.codes[0], "invalid_data");
    cr_expect_str_eq(k.codes[2], "forbidden");
    cr_expect_eq(log_inspect_count_ids(harness_state_dir(h)), 3);
    /* The decision went where its case is. */
    char *out = NULL;
    char seq[24];
    snprintf(seq, sizeof seq, "%llu", (unsigned long long)decision_seq);
    cr_assert_eq(harness_ctl(h, NULL, &out, "tail", "--json", "--from", seq, NULL), 0);
    char *nl = strchr(out, '\n');
    if (nl)
        *nl = '\0'; /* the decision's own record */
    cr_expect(strstr(out, "case.decision"), "%s", out);
    cr_expect(strstr(out, "\"area\": \"press\"") || strstr(out, "\"area\":\"press\""), "%s", out);
    free(out);
    harness_destroy(&h);
}

Test(ingest, req_client_lock_step, .timeout = 60)
{
    struct harness *h = harness_new(NULL, NULL);
    cr_assert_eq(harness_start(h, 10000), 0);
    void *s = zmq_socket(harness_zmq_ctx(h), ZMQ_REQ);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert_eq(zmq_connect(s, harness_endpoint(h)), 0);
    for (uint32_t i = 0; i < 20; i++) {
        uint8_t id[16];
        s_id(id, 1, i);
        struct mep_reply r = s_publish(s, id, "cyber.soc_alert", "soc", i);
        cr_assert(r.is_ack, "REQ peer got %s", r.reason);
        cr_assert_eq(r.seq, i + 2);
    }
    zmq_close(s);
    harness_destroy(&h);
}

Test(ingest, rejected_records_are_rate_limited, .timeout = 60)
{
    struct harness *h = harness_new("rejected_log_rate = 5\n", NULL);
    cr_assert_eq(harness_start(h, 10000), 0);
    void *s = harness_dealer(h);
    const char *f[] = {"MEP1", "PUB", "\xc1"};
    size_t l[] = {4, 3, 1};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 500; i++)
        s_send_frames(s, 3, f, l);
    for (int i = 0; i < 500; i++)
        cr_assert_eq(s_reply(s, "NACK").code, MEP_BAD_MSGPACK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    zmq_close(s);
    cr_assert_eq(harness_stop(h, 10000), 0);
    struct kinds k = {0};
    log_inspect_each(harness_state_dir(h), s_kinds, &k);
    /* The bucket holds 5 and refills at 5/s: a 500-message flood writes only a handful. */
    int most = 5 + (int)(5 * secs) + 1;
    cr_assert_geq(k.rejected, 5);
    cr_assert_leq(k.rejected, most, "%d rejected records for a flood of 500 in %.2f s", k.rejected,
                  secs);
    cr_assert_lt(most, 100, "the flood was too slow to show the limit (%.2f s)", secs);
    harness_destroy(&h);
}

/*
 * Publishes lock-step until `want` events were refused as `unavailable` (or
 * 20,000 were sent): the only NACK a full map or disk may give, always
 * marked for retry. *next is the next event number; returns the refusals.
 */
static uint32_t
s_publish_until_unavailable(void *s, uint32_t client, uint32_t want, uint32_t *next,
                            uint32_t *acked)
{
    uint32_t unavailable = 0;
    for (; *next < 20000 && unavailable < want; (*next)++) {
        uint8_t id[16];
        s_id(id, client, *next);
        struct mep_reply r = s_publish(s, id, "press.conference_notice", "agency", *next);
        if (r.is_ack) {
            (*acked)++;
            continue;
        }
        cr_assert_eq(r.code, MEP_UNAVAILABLE, "unexpected NACK %s", r.reason);
        cr_assert(r.retry);
        unavailable++;
    }
    return unavailable;
}

Test(ingest, full_map_answers_unavailable_and_harms_nothing, .timeout = 120)
{
    struct harness *h = harness_new("map_initial_bytes = 262144\nmap_max_bytes = 1048576\n", NULL);
    cr_assert_eq(harness_start(h, 10000), 0);
    void *s = harness_dealer(h);
    uint32_t acked = 0, next = 0;
    uint32_t unavailable = s_publish_until_unavailable(s, 3, 10, &next, &acked);
    cr_assert_gt(acked, 100, "the map should have grown past its first size");
    cr_assert_eq(unavailable, 10, "a 1 MiB map never filled");
    zmq_close(s);
    harness_kill9(h);
    /* Everything ACKed is there and the chain holds. */
    cr_assert_eq(log_inspect_count_ids(harness_state_dir(h)), acked);
    cr_assert_eq(harness_ctl(h, NULL, NULL, "verify", NULL), 0);
    harness_destroy(&h);
}

/* A real full disk: the state directory on a 1 MiB tmpfs (needs root; skipped otherwise). */
Test(ingest, full_disk_answers_unavailable_then_recovers, .timeout = 120)
{
    struct harness *h = harness_new("map_initial_bytes = 8388608\n", NULL);
    if (harness_mount_state_tmpfs(h, "1m") < 0) {
        harness_destroy(&h);
        cr_skip_test("needs root to mount a small tmpfs");
    }
    cr_assert_eq(harness_start(h, 10000), 0);
    void *s = harness_dealer(h);
    uint32_t acked = 0, i = 0;
    uint32_t unavailable = s_publish_until_unavailable(s, 4, 5, &i, &acked);
    cr_assert_gt(acked, 100);
    cr_assert_eq(unavailable, 5, "a 1 MiB disk never filled");
    /* Room again: the same broker takes events again, no restart needed. */
    cr_assert_eq(harness_remount_state_tmpfs(h, "16m"), 0);
    uint8_t id[16];
    s_id(id, 4, i);
    struct mep_reply r = s_publish(s, id, "press.conference_notice", "agency", i);
    cr_assert(r.is_ack, "after freeing space: %s", r.reason);
    acked++;
    zmq_close(s);
    cr_assert_eq(harness_stop(h, 10000), 0);
    cr_assert_eq(log_inspect_count_ids(harness_state_dir(h)), acked);
    cr_assert_eq(harness_ctl(h, NULL, NULL, "verify", NULL), 0);
    cr_assert_eq(harness_umount_state(h), 0);
    harness_destroy(&h);
}

/* commit_max_delay_ms holds a lone event back that long, and no longer than needed. */
Test(ingest, commit_max_delay_is_honoured, .timeout = 60)
{
    struct harness *h = harness_new("commit_max_delay_ms = 300\n", NULL);
    cr_assert_eq(harness_start(h, 10000), 0);
    void *s = harness_dealer(h);
    uint8_t id[16];
    s_id(id, 5, 1);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct mep_reply r = s_publish(s, id, "press.conference_notice", "agency", 1);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    cr_assert(r.is_ack);
    cr_assert_geq(ms, 280, "ACK after %ld ms, before the configured delay", ms);
    cr_assert_lt(ms, 2000, "ACK after %ld ms", ms);
    zmq_close(s);
    harness_destroy(&h);
}
