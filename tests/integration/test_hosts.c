/*
 * Other hosts, for real (DESIGN.md "Scale past one machine"): the broker, a
 * publisher and a worker each in a network namespace of their own, joined by
 * veth pairs with addresses from 198.18.0.0/15 (the benchmarking range of RFC
 * 2544) that exist inside those namespaces only, and the whole path over tcp
 * with CURVE on both of the broker's endpoints:
 *
 *   publisher           broker                      worker
 *   pub0 198.18.1.2 --- b-pub 198.18.1.1 :7400
 *                       b-wrk 198.18.2.1 :7401 ---  wrk0 198.18.2.2
 *
 * The test process is the publisher host: it joins that namespace before
 * its first ZeroMQ socket, so the start's PING and the events (libmandate,
 * the publisher's own key) come from there. The daemon's child enters the
 * broker's namespace before exec (harness_set_netns); the worker, with a
 * worker key of its own, is forked from the worker's namespace: the real
 * mandate-worker in one test, the plain RFC 7 worker in Python (pyzmq's
 * CURVE) in the other.
 *
 * 300 events are published and completed; then the worker's link goes down
 * and 200 more are published: the broker ACKs them (the publisher's link is
 * up), sends the first CREDIT of them to the worker it still counts, and,
 * hearing nothing past heartbeat_ms * liveness, records worker_lost and
 * retries those. The link comes back after three times the liveness, the
 * worker joins again, and every one of the 500 completes exactly once: none
 * lost, none twice, the log's seq without a gap and its chain verified.
 *
 * Needs root (CI runs as root); skipped, saying why, where namespaces cannot
 * be made. Everything the test makes is removed at the end, also when it
 * fails (the fini, and netns.h's atexit), and a killed run's namespaces are
 * removed by the next one.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "config/curve_cert.h"
#include "proto/audit_record.h"
#include "proto/pack.h"
#include "tests/support/daemon_harness.h"
#include "tests/support/log_inspect.h"
#include "tests/support/netns.h"
#include "tests/support/sample_data.h"
#include "tests/support/worker_process.h"
#include "tools/mandate_client.h"

#define PREFIX  "mdhosts" /* namespaces mdhosts-PID-broker, -publisher, -worker */
#define INGRESS "tcp://198.18.1.1:7400"
#define WORKERS "tcp://198.18.2.1:7401"

#define HEARTBEAT_MS      200
#define HEARTBEAT_MS_TEXT "200"
#define LIVENESS          3
#define LIVENESS_MS       (HEARTBEAT_MS * LIVENESS)
/* The link stays down this long: three times the liveness of either end. */
#define CUT_MS (3 * LIVENESS_MS)

#define EVENTS            500
#define EVENTS_BEFORE_CUT 300
#define TYPE              "press.conference_notice"
#define SOURCE            "agency-hp"    /* the publisher's key name, so its source */
#define WORKER_KEY        "press-remote" /* the worker's key name, [worker press-remote] */
#define CREDIT            "16"

static struct {
    struct netns_lab *lab;
    struct harness *h;
    pid_t worker;
    char keys[300]; /* the keys' directory, in the harness's */
    char server_pub[340], worker_sec[340];
    struct curve_cert server, source; /* the publisher's pair and the broker's public key */
    uint8_t ids[EVENTS][16];
} s_t;

static void
s_fini(void)
{
    if (s_t.worker > 0)
        worker_process_stop(s_t.worker, SIGKILL);
    s_t.worker = 0;
    harness_destroy(&s_t.h);
    curve_cert_clear(&s_t.source);
    /* Last: the namespaces go with nothing left in them. */
    netns_lab_destroy(&s_t.lab);
}

TestSuite(hosts, .fini = s_fini, .timeout = 100);

static void
s_sleep_until(uint64_t t_ms)
{
    for (uint64_t now = monotonic_ms(); now < t_ms; now = monotonic_ms())
        usleep((useconds_t)(t_ms - now) * 1000);
}

/* ---- the hosts ---- */

static void
s_make_hosts(void)
{
    static const char *const hosts[] = {"broker", "publisher", "worker", NULL};
    static const struct netns_end b_pub = {"broker", "b-pub", "198.18.1.1/24"},
                                  pub = {"publisher", "pub0", "198.18.1.2/24"},
                                  b_wrk = {"broker", "b-wrk", "198.18.2.1/24"},
                                  wrk = {"worker", "wrk0", "198.18.2.2/24"};
    char why[1200];

    s_t.lab = netns_lab_new(PREFIX, hosts, why, sizeof why);
    if (!s_t.lab)
        cr_skip_test("%s", why);
    cr_assert_eq(netns_lab_link(s_t.lab, &b_pub, &pub), 0, "%s", netns_lab_error(s_t.lab));
    cr_assert_eq(netns_lab_link(s_t.lab, &b_wrk, &wrk), 0, "%s", netns_lab_error(s_t.lab));
    cr_assert_eq(netns_lab_enter(s_t.lab, "publisher"), 0, "cannot join the publisher's namespace");
}

/* ---- keys and config ---- */

/*
 * mandatectl keygen NAME --dir keys/SUB; reads the pair back into *ret (the
 * public key only unless secret), or nothing if ret is NULL.
 */
static void
s_keygen(const char *sub, const char *name, bool secret, struct curve_cert *ret)
{
    char dir[340], path[400], *out = NULL;
    struct config_error err;

    snprintf(dir, sizeof dir, "%s/%s", s_t.keys, sub);
    cr_assert(mkdir(dir, 0700) == 0 || errno == EEXIST, "mkdir %s: %s", dir, strerror(errno));
    cr_assert_eq(harness_ctl(s_t.h, NULL, &out, "keygen", name, "--dir", dir, NULL), 0,
                 "keygen %s: %s", name, out);
    free(out);
    if (!ret)
        return;
    snprintf(path, sizeof path, "%s/%s.key%s", dir, name, secret ? "_secret" : "");
    cr_assert_eq(curve_cert_load(path, secret, ret, &err), 0, "cannot read %s", path);
}

/*
 * The harness writes an ipc workers endpoint; this broker binds tcp on the
 * workers' link instead (one `workers =` line: a second would be a duplicate
 * key).
 */
static void
s_config_tcp_workers(void)
{
    const char *path = harness_config_path(s_t.h);
    char *text = harness_read_file(path);
    const char *ep = harness_workers_endpoint(s_t.h);
    char *at = strstr(text, ep);

    cr_assert_not_null(at, "no workers endpoint in the config");
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f, "%.*s%s%s", (int)(at - text), text, WORKERS, at + strlen(ep));
    fclose(f);
    free(text);
}

static void
s_config_security(void)
{
    FILE *f = fopen(harness_config_path(s_t.h), "a");

    cr_assert_not_null(f);
    fprintf(f,
            "\n[delivery]\nheartbeat_ms = %d\nliveness = %d\nretry_backoff_ms = 50\n"
            "\n[security]\ncurve = on\nserver_secret_key = %s/server.key_secret\n"
            "sources_dir = %s/sources\nworkers_curve = on\nworker_keys_dir = %s/workers\n"
            "\n[worker " WORKER_KEY "]\nareas = press\n"
            "\n[source " SOURCE "]\nallow = press.*\n",
            HEARTBEAT_MS, LIVENESS, s_t.keys, s_t.keys, s_t.keys);
    fclose(f);
}

/* The broker in its namespace, CURVE on both endpoints; the start's PING as the publisher. */
static void
s_start_broker(void)
{
    s_t.h = harness_new("ingress = " INGRESS "\n", NULL);
    snprintf(s_t.keys, sizeof s_t.keys, "%s/keys", harness_dir(s_t.h));
    cr_assert_eq(mkdir(s_t.keys, 0700), 0);
    s_keygen(".", "server", false, &s_t.server);
    s_keygen("sources", SOURCE, true, &s_t.source);
    s_keygen("workers", WORKER_KEY, false, NULL);
    snprintf(s_t.server_pub, sizeof s_t.server_pub, "%s/server.key", s_t.keys);
    snprintf(s_t.worker_sec, sizeof s_t.worker_sec, "%s/workers/%s.key_secret", s_t.keys,
             WORKER_KEY);
    s_config_tcp_workers();
    s_config_security();

    harness_set_curve(s_t.h, s_t.server.public_z85, s_t.source.public_z85, s_t.source.secret_z85);
    harness_set_netns(s_t.h, netns_lab_name(s_t.lab, "broker"));
    cr_assert_eq(harness_start(s_t.h, 20000), 0, "daemon did not start:\n%s",
                 harness_daemon_log(s_t.h));
}

static long
s_count(const char *kind)
{
    return log_inspect_count_kind(harness_state_dir(s_t.h), kind, NULL);
}

/* What the worker wrote, for failure messages (malloc'd, leaked on failure only). */
static char *
s_worker_log(void)
{
    char path[400];

    snprintf(path, sizeof path, "%s/workers.log", harness_dir(s_t.h));
    return harness_read_file(path);
}

/*
 * Polls until the broker has recorded n worker_joined, failing at once if
 * the worker process has exited (a flag it does not know, a key it cannot
 * read).
 */
static void
s_wait_joined(long n, int timeout_ms, const char *what)
{
    uint64_t deadline = monotonic_ms() + (uint64_t)timeout_ms;
    int status;

    while (log_inspect_count_kind(harness_state_dir(s_t.h), AUDIT_KIND_WORKER_JOINED, "press") <
           n) {
        if (waitpid(s_t.worker, &status, WNOHANG) == s_t.worker) {
            s_t.worker = 0;
            cr_assert_fail("%s: the worker exited (status %d):\n%s", what, status, s_worker_log());
        }
        cr_assert_lt(monotonic_ms(), deadline, "%s:\n%s\n%s", what, harness_daemon_log(s_t.h),
                     s_worker_log());
        usleep(20000);
    }
}

enum worker_kind {
    WORKER_NATIVE, /* mandate-worker */
    WORKER_RFC7,   /* tests/support/mdp_worker.py: MDP from the RFC alone, pyzmq's CURVE */
};

/* The worker in the worker's namespace, over tcp with its own key. */
static void
s_start_worker(enum worker_kind kind)
{
    const char *const native[] = {
        "--endpoint",   WORKERS,    "--key", s_t.worker_sec, "--server-key",
        s_t.server_pub, "--credit", CREDIT,  "-v",           NULL};
    const char *const rfc7[] = {"--endpoint",     WORKERS,           "--key",    s_t.worker_sec,
                                "--server-key",   s_t.server_pub,    "--credit", CREDIT,
                                "--heartbeat-ms", HEARTBEAT_MS_TEXT, NULL};

    cr_assert_eq(netns_lab_enter(s_t.lab, "worker"), 0);
    s_t.worker = kind == WORKER_NATIVE ? worker_process_native(s_t.h, "press", native)
                                       : worker_process_python(s_t.h, "press", rfc7);
    cr_assert_eq(netns_lab_enter(s_t.lab, "publisher"), 0);
    cr_assert_gt(s_t.worker, 0);
    s_wait_joined(1, 15000, "the worker never joined");
}

/* ---- publishing ---- */

struct acks {
    unsigned acked, dups, nacked;
    char last_nack[MEP_REASON_MAX + 32];
    uint8_t acked_id[EVENTS][16];
};

static void
s_on_reply(void *arg, const struct mep_reply *r, void *user)
{
    struct acks *a = arg;
    unsigned i = (unsigned)(uintptr_t)user;

    if (!r->is_ack) {
        a->nacked++;
        snprintf(a->last_nack, sizeof a->last_nack, "%s: %s", mep_code_name(r->code), r->reason);
        return;
    }
    a->acked++;
    a->dups += r->dup;
    if (r->has_id && i < EVENTS)
        memcpy(a->acked_id[i], r->id, 16);
}

/*
 * Publishes events [from, to) from this process (the publisher's host) with
 * libmandate over tcp and CURVE, as the source its key names, and checks
 * that the broker ACKed every one, none as a dup.
 */
static void
s_publish(unsigned from, unsigned to)
{
    static struct acks a;
    struct mandate_client_options o;
    msgpack_sbuffer sb;
    msgpack_packer pk;

    memset(&a, 0, sizeof a);
    mandate_client_options_init(&o);
    o.window = 128;
    o.on_reply = s_on_reply;
    o.cb_arg = &a;
    o.curve_server_key = s_t.server.public_z85;
    o.curve_public_key = s_t.source.public_z85;
    o.curve_secret_key = s_t.source.secret_z85;
    struct mandate_client *c = mandate_client_new(INGRESS, &o);
    cr_assert_not_null(c, "mandate_client_new: %s", strerror(errno));
    msgpack_sbuffer_init(&sb);
    for (unsigned i = from; i < to; i++) {
        mandate_new_id(s_t.ids[i]);
        msgpack_sbuffer_clear(&sb);
        msgpack_packer_init(&pk, &sb, pack_sbuffer_write);
        sample_notice_pack(&pk, i, 0);
        const struct envelope_fields f = {.id = s_t.ids[i],
                                          .type = TYPE,
                                          .source = SOURCE,
                                          .time_ms = unix_ms(),
                                          .data = sb.data,
                                          .data_len = sb.size};
        cr_assert_eq(mandate_client_publish(c, &f, (void *)(uintptr_t)i), 0);
    }
    int rc = mandate_client_flush(c, 30000);
    mandate_client_destroy(&c);
    msgpack_sbuffer_destroy(&sb);
    cr_assert_eq(rc, 0, "events still unanswered after 30 s");
    cr_assert_eq(a.nacked, 0, "%u NACKed, the last: %s", a.nacked, a.last_nack);
    cr_assert_eq(a.acked, to - from, "%u of %u ACKed", a.acked, to - from);
    cr_assert_eq(a.dups, 0, "%u ACKed as dups", a.dups);
    for (unsigned i = from; i < to; i++)
        cr_assert_arr_eq(a.acked_id[i], s_t.ids[i], 16, "event %u: ACK for another id", i);
}

/* ---- what the log says ---- */

struct tally {
    long *idx_of_seq; /* seq -> event index, -1: none of ours */
    size_t nseq;
    unsigned accepted[EVENTS], completed[EVENTS], retried[EVENTS], deadlettered[EVENTS];
    uint64_t expect_seq; /* the next seq; a gap or a disorder stops it */
    bool seq_ok;
    unsigned lost, joined_after_lost, inflight_lost, refused, ours_foreign;
    char lost_reason[128];
};

static const msgpack_object *
s_field(const struct audit_record *rec, const char *key, msgpack_object_type type)
{
    const msgpack_object *o = audit_record_event_field(rec, key);
    return o && o->type == type ? o : NULL;
}

static long
s_index_of_id(const msgpack_object *id)
{
    if (!id || id->via.bin.size != 16)
        return -1;
    for (long i = 0; i < EVENTS; i++)
        if (memcmp(s_t.ids[i], id->via.bin.ptr, 16) == 0)
            return i;
    return -1;
}

static void
s_tally_delivery(struct tally *t, const struct audit_record *rec)
{
    const msgpack_object *ev = s_field(rec, "event_seq", MSGPACK_OBJECT_POSITIVE_INTEGER);
    long i = ev && ev->via.u64 < t->nseq ? t->idx_of_seq[ev->via.u64] : -1;

    if (i < 0)
        return;
    if (strcmp(rec->kind, AUDIT_KIND_COMPLETED) == 0)
        t->completed[i]++;
    else if (strcmp(rec->kind, AUDIT_KIND_RETRIED) == 0)
        t->retried[i]++;
    else if (strcmp(rec->kind, AUDIT_KIND_DEADLETTERED) == 0)
        t->deadlettered[i]++;
}

static void
s_tally_worker(struct tally *t, const struct audit_record *rec)
{
    if (strcmp(rec->kind, AUDIT_KIND_WORKER_LOST) == 0) {
        const msgpack_object *n = s_field(rec, "inflight", MSGPACK_OBJECT_POSITIVE_INTEGER);
        const msgpack_object *why = s_field(rec, "reason", MSGPACK_OBJECT_STR);
        if (!t->lost++ && why)
            snprintf(t->lost_reason, sizeof t->lost_reason, "%.*s", (int)why->via.str.size,
                     why->via.str.ptr);
        t->inflight_lost += n ? (unsigned)n->via.u64 : 0;
    } else if (strcmp(rec->kind, AUDIT_KIND_WORKER_JOINED) == 0 && t->lost) {
        t->joined_after_lost++;
    } else if (strcmp(rec->kind, AUDIT_KIND_AUTH_REFUSED) == 0 ||
               strcmp(rec->kind, AUDIT_KIND_WORKER_REFUSED) == 0) {
        t->refused++;
    }
}

static bool
s_tally_one(uint64_t key_seq, const struct audit_record *rec, const void *bytes, size_t len,
            void *arg)
{
    struct tally *t = arg;

    if (!rec || rec->seq != key_seq || key_seq != t->expect_seq) {
        t->seq_ok = false;
        return false;
    }
    t->expect_seq++;
    if (strcmp(rec->kind, AUDIT_KIND_ACCEPTED) == 0) {
        long i = s_index_of_id(s_field(rec, "id", MSGPACK_OBJECT_BIN));
        if (i >= 0) {
            t->accepted[i]++;
            if (key_seq < t->nseq)
                t->idx_of_seq[key_seq] = i;
            const msgpack_object *src = s_field(rec, "source", MSGPACK_OBJECT_STR);
            if (!src || src->via.str.size != strlen(SOURCE) ||
                memcmp(src->via.str.ptr, SOURCE, strlen(SOURCE)) != 0)
                t->ours_foreign++;
        }
    }
    s_tally_delivery(t, rec);
    s_tally_worker(t, rec);
    return true;
}

static struct tally *
s_tally(void)
{
    struct tally *t = calloc(1, sizeof *t);
    long n = log_inspect_count(harness_state_dir(s_t.h), "log");

    cr_assert_gt(n, 0);
    t->nseq = (size_t)n + 1;
    t->idx_of_seq = malloc(t->nseq * sizeof *t->idx_of_seq);
    for (size_t s = 0; s < t->nseq; s++)
        t->idx_of_seq[s] = -1;
    t->expect_seq = 1;
    t->seq_ok = true;
    cr_assert_eq(log_inspect_each(harness_state_dir(s_t.h), s_tally_one, t), n);
    return t;
}

/* Polls until the completed records reach n; false on timeout. */
static bool
s_wait_completed(long n, int timeout_ms)
{
    return log_inspect_wait_kind(harness_state_dir(s_t.h), AUDIT_KIND_COMPLETED, "press", n,
                                 timeout_ms);
}

static void
s_scenario(enum worker_kind kind)
{
    uint64_t t0 = monotonic_ms();

    s_make_hosts();
    s_start_broker();
    s_start_worker(kind);

    /* The whole path over tcp with CURVE, from the publisher's host to the worker's. */
    s_publish(0, EVENTS_BEFORE_CUT);
    cr_assert(s_wait_completed(EVENTS_BEFORE_CUT, 30000), "%ld of %d completed:\n%s",
              s_count(AUDIT_KIND_COMPLETED), EVENTS_BEFORE_CUT, harness_daemon_log(s_t.h));

    /* Cut the worker's link; the publisher's stays up and its events are ACKed. Sent
     * right after the cut, the first CREDIT go to a worker the broker still counts. */
    uint64_t cut_at = monotonic_ms();
    cr_assert_eq(netns_lab_set_link(s_t.lab, "worker", "wrk0", false), 0, "%s",
                 netns_lab_error(s_t.lab));
    s_publish(EVENTS_BEFORE_CUT, EVENTS);
    cr_assert(
        log_inspect_wait_kind(harness_state_dir(s_t.h), AUDIT_KIND_WORKER_LOST, "press", 1, 10000),
        "no worker_lost with the worker's link down:\n%s", harness_daemon_log(s_t.h));
    s_sleep_until(cut_at + CUT_MS);
    cr_expect_eq(s_count(AUDIT_KIND_COMPLETED), EVENTS_BEFORE_CUT,
                 "events completed while the worker's link was down");
    cr_assert_eq(netns_lab_set_link(s_t.lab, "worker", "wrk0", true), 0, "%s",
                 netns_lab_error(s_t.lab));
    uint64_t restored_at = monotonic_ms();

    /* The worker reconnects (its backoff, at most 10 s) and every event completes. */
    s_wait_joined(2, 30000, "the worker did not join again");
    cr_assert(log_inspect_wait_empty(harness_state_dir(s_t.h), "pending", 30000),
              "events still pending after the link came back:\n%s", harness_daemon_log(s_t.h));
    uint64_t done_at = monotonic_ms();

    struct tally *t = s_tally();
    cr_expect(t->seq_ok, "the log's seq has a gap or a disorder at %llu",
              (unsigned long long)t->expect_seq);
    for (unsigned i = 0; i < EVENTS; i++) {
        cr_expect_eq(t->accepted[i], 1, "event %u accepted %u times", i, t->accepted[i]);
        cr_expect_eq(t->completed[i], 1, "event %u completed %u times", i, t->completed[i]);
        cr_expect_eq(t->deadlettered[i], 0, "event %u dead-lettered", i);
    }
    unsigned retried = 0;
    for (unsigned i = 0; i < EVENTS; i++)
        retried += t->retried[i];
    cr_log_info("hosts: link down %lld ms, all done %lld ms after it came back, %lld ms in all; "
                "%u in flight at the loss, %u retried, %llu records",
                (long long)(restored_at - cut_at), (long long)(done_at - restored_at),
                (long long)(done_at - t0), t->inflight_lost, retried,
                (unsigned long long)t->expect_seq - 1);
    cr_expect_eq(t->ours_foreign, 0, "events recorded with a source other than their key's");
    cr_expect_eq(t->lost, 1, "worker_lost %u times", t->lost);
    cr_expect_str_eq(t->lost_reason, "heartbeat expired");
    cr_expect_geq(t->joined_after_lost, 1, "no worker_joined after worker_lost");
    cr_expect_eq(retried, t->inflight_lost, "%u retried, %u were in flight at the loss", retried,
                 t->inflight_lost);
    long joined = s_count(AUDIT_KIND_WORKER_JOINED);
    cr_expect_eq(log_inspect_count_field(harness_state_dir(s_t.h), AUDIT_KIND_WORKER_JOINED, "key",
                                         WORKER_KEY),
                 joined, "of %ld joins, some not with the worker's key", joined);
    cr_expect_eq(t->refused, 0, "a key was refused:\n%s", harness_daemon_log(s_t.h));
    free(t->idx_of_seq);
    free(t);
    cr_expect_eq(harness_ctl(s_t.h, NULL, NULL, "verify", NULL), 0, "the chain does not verify");

    cr_assert_eq(WEXITSTATUS(worker_process_stop(s_t.worker, SIGTERM)), 0,
                 "the worker did not stop cleanly:\n%s", s_worker_log());
    s_t.worker = 0;
    cr_assert_eq(harness_stop(s_t.h, 15000), 0, "daemon did not stop cleanly:\n%s",
                 harness_daemon_log(s_t.h));
}

Test(hosts, mandate_worker_over_curve_survives_a_cut_link)
{
    s_scenario(WORKER_NATIVE);
}

Test(hosts, rfc7_worker_over_curve_survives_a_cut_link)
{
    s_scenario(WORKER_RFC7);
}
