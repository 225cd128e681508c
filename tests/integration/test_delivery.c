/*
 * Delivery to area workers, end to end: the real daemon, real worker
 * processes (a plain RFC 7 worker in Python, the real mandate-worker), real
 * sockets, kill -9 of workers and of the broker.
 */
#include <criterion/criterion.h>
#include <zmq.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proto/audit_record.h"
#include "proto/pack.h"
#include "tests/support/daemon_harness.h"
#include "tests/support/sample_data.h"
#include "tests/support/log_inspect.h"
#include "tests/support/worker_process.h"
#include "tools/mandate_client.h"

/* Fast heartbeats and retries so that losses and backoffs show within a test. */
#define FAST_DELIVERY                                                                              \
    "[delivery]\nheartbeat_ms = 100\nliveness = 3\nmax_attempts = 3\nretry_backoff_ms = 20\n"

static struct harness *
s_start(const char *broker_extra, const char *tail_extra)
{
    struct harness *h = harness_new(broker_extra, tail_extra ? tail_extra : FAST_DELIVERY);
    cr_assert_eq(harness_start(h, 10000), 0, "daemon did not start:\n%s", harness_daemon_log(h));
    return h;
}

struct publish_count {
    unsigned acked, nacked;
};

static void
s_on_reply(void *arg, const struct mep_reply *r, void *user)
{
    struct publish_count *c = arg;
    if (r->is_ack)
        c->acked++;
    else
        c->nacked++;
}

/*
 * Publishes n events of type (pipelined, window events in flight), data =
 * {"n": i, "pad": pad_bytes of padding}, and waits for every answer;
 * max_resends as libmandate takes it. Counts ACKs and NACKs into *c.
 */
static void
s_publish_with(struct harness *h, const char *type, const char *source, unsigned n, unsigned window,
               unsigned max_resends, size_t pad_bytes, struct publish_count *c)
{
    struct mandate_client_options o;
    mandate_client_options_init(&o);
    o.window = window;
    o.max_resends = max_resends;
    o.on_reply = s_on_reply;
    o.cb_arg = c;
    struct mandate_client *cl = mandate_client_new(harness_endpoint(h), &o);
    cr_assert_not_null(cl);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    for (unsigned i = 0; i < n; i++) {
        uint8_t id[16];
        getrandom(id, sizeof id, 0);
        msgpack_sbuffer_clear(&sb);
        msgpack_packer_init(&pk, &sb, pack_sbuffer_write);
        /* Data the catalogue accepts; only the notice takes padding. */
        if (strcmp(type, "press.conference_notice") == 0)
            sample_notice_pack(&pk, i, pad_bytes);
        else
            cr_assert_eq(sample_data_pack(type, NULL, i, &sb), 0, "no sample for %s", type);
        struct envelope_fields f = {.id = id,
                                    .type = type,
                                    .source = source,
                                    .time_ms = (uint64_t)time(NULL) * 1000,
                                    .data = sb.data,
                                    .data_len = sb.size};
        cr_assert_eq(mandate_client_publish(cl, &f, NULL), 0);
    }
    mandate_client_flush(cl, 60000);
    mandate_client_destroy(&cl);
    msgpack_sbuffer_destroy(&sb);
}

/* n small events, every one answered; returns the ACK count. */
static unsigned
s_publish(struct harness *h, const char *type, const char *source, unsigned n)
{
    struct publish_count c = {0};
    s_publish_with(h, type, source, n, 256, MANDATE_DEFAULT_MAX_RESENDS, 0, &c);
    cr_assert_eq(c.acked + c.nacked, n, "events left unanswered");
    return c.acked;
}

static long
s_count(struct harness *h, const char *kind, const char *area)
{
    return log_inspect_count_kind(harness_state_dir(h), kind, area);
}

static bool
s_wait(struct harness *h, const char *kind, const char *area, long n, int timeout_ms)
{
    return log_inspect_wait_kind(harness_state_dir(h), kind, area, n, timeout_ms);
}

/*
 * Starts the plain Python worker for area (fast heartbeats, plus extra
 * arguments) and waits until the broker has recorded it joining.
 */
static pid_t
s_join_python(struct harness *h, const char *area, const char *const *extra)
{
    const char *argv[16] = {"--heartbeat-ms", "100"};
    size_t n = 2;
    for (size_t i = 0; extra && extra[i] && n < 15; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    long joined = s_count(h, "worker_joined", area);
    pid_t pid = worker_process_python(h, area, argv);
    cr_assert(s_wait(h, "worker_joined", area, joined + 1, 10000),
              "the %s worker never joined:\n%s", area, harness_daemon_log(h));
    return pid;
}

/* Waits until `pending` is empty: every accepted event completed or dead-lettered. */
static bool
s_wait_no_pending(struct harness *h, int timeout_ms)
{
    return log_inspect_wait_empty(harness_state_dir(h), "pending", timeout_ms);
}

/* A string field of a record equals want. */
static bool
s_field_is(const struct audit_record *rec, const char *key, const char *want)
{
    const msgpack_object *o = audit_record_field(rec, key);
    return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(want) &&
           memcmp(o->via.str.ptr, want, o->via.str.size) == 0;
}

static uint64_t
s_uint_field(const struct audit_record *rec, const char *key)
{
    const msgpack_object *o = audit_record_field(rec, key);
    return o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? o->via.u64 : 0;
}

/* Per-event tallies of delivery records, indexed by the accepted seq. */
struct tally {
    size_t n; /* seqs 0..n-1: the whole log */
    uint16_t *dispatched, *completed, *retried, *failed, *dead;
    uint8_t *accepted;
    char last_reason[256];
    char restart_reason[256];
};

static bool
s_tally_one(uint64_t seq, const struct audit_record *rec, const void *b, size_t l, void *arg)
{
    struct tally *t = arg;
    if (!rec)
        return true;
    uint64_t ev = s_uint_field(rec, "event_seq");
    if (strcmp(rec->kind, "accepted") == 0 && seq < t->n)
        t->accepted[seq] = 1;
    if (ev >= t->n)
        return true;
    const msgpack_object *reason = audit_record_field(rec, "reason");
    if (strcmp(rec->kind, "dispatched") == 0)
        t->dispatched[ev]++;
    else if (strcmp(rec->kind, "completed") == 0)
        t->completed[ev]++;
    else if (strcmp(rec->kind, "failed") == 0)
        t->failed[ev]++;
    else if (strcmp(rec->kind, "retried") == 0) {
        t->retried[ev]++;
        if (reason && reason->type == MSGPACK_OBJECT_STR)
            snprintf(t->restart_reason, sizeof t->restart_reason, "%.*s", (int)reason->via.str.size,
                     reason->via.str.ptr);
    } else if (strcmp(rec->kind, "deadlettered") == 0) {
        t->dead[ev]++;
        if (reason && reason->type == MSGPACK_OBJECT_STR)
            snprintf(t->last_reason, sizeof t->last_reason, "%.*s", (int)reason->via.str.size,
                     reason->via.str.ptr);
    }
    return true;
}

static struct tally *
s_tally(struct harness *h)
{
    struct tally *t = calloc(1, sizeof *t);
    t->n = (size_t)log_inspect_count(harness_state_dir(h), "log") + 1;
    t->dispatched = calloc(t->n, sizeof *t->dispatched);
    t->completed = calloc(t->n, sizeof *t->completed);
    t->retried = calloc(t->n, sizeof *t->retried);
    t->failed = calloc(t->n, sizeof *t->failed);
    t->dead = calloc(t->n, sizeof *t->dead);
    t->accepted = calloc(t->n, sizeof *t->accepted);
    cr_assert_geq(log_inspect_each(harness_state_dir(h), s_tally_one, t), 0);
    return t;
}

static void
s_tally_free(struct tally *t)
{
    free(t->dispatched);
    free(t->completed);
    free(t->retried);
    free(t->failed);
    free(t->dead);
    free(t->accepted);
    free(t);
}

/*
 * Every accepted event was completed exactly once, and (dispatched_once)
 * dispatched exactly once; returns how many there are.
 */
static long
s_expect_each_once(struct harness *h, bool dispatched_once)
{
    struct tally *t = s_tally(h);
    long accepted = 0;
    for (uint64_t s = 0; s < t->n; s++) {
        if (!t->accepted[s])
            continue;
        accepted++;
        if (dispatched_once)
            cr_expect_eq(t->dispatched[s], 1, "event %lu dispatched %u times", s, t->dispatched[s]);
        cr_expect_eq(t->completed[s], 1, "event %lu completed %u times", s, t->completed[s]);
    }
    s_tally_free(t);
    return accepted;
}

static void
s_finish(struct harness **h)
{
    cr_assert_eq(harness_stop(*h, 15000), 0, "daemon did not stop cleanly:\n%s",
                 harness_daemon_log(*h));
    harness_destroy(h);
}

Test(delivery, plain_rfc7_worker_serves_an_area, .timeout = 120)
{
    struct harness *h = s_start(NULL, NULL);
    pid_t w = s_join_python(h, "press", (const char *[]){NULL});

    cr_assert_eq(s_publish(h, "press.conference_notice", "agency", 50), 50);
    cr_assert(s_wait_no_pending(h, 30000), "events not completed:\n%s", harness_daemon_log(h));

    cr_expect_eq(s_expect_each_once(h, true), 50);
    /* A plain worker gets a credit of 1. */
    cr_expect_eq(s_count(h, "worker_joined", "press"), 1);
    cr_expect_eq(worker_process_stop(w, SIGTERM), 0);
    cr_expect(s_wait(h, "worker_lost", "press", 1, 5000), "DISCONNECT was not recorded");
    s_finish(&h);
}

static bool
s_credit_of_join(uint64_t seq, const struct audit_record *rec, const void *b, size_t l, void *arg)
{
    if (rec && strcmp(rec->kind, "worker_joined") == 0)
        *(uint64_t *)arg = s_uint_field(rec, "credit");
    return true;
}

static unsigned
s_max_held(struct harness *h, const char *log_name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", harness_dir(h), log_name);
    char *text = harness_read_file(path);
    const char *p = strstr(text, "max_held ");
    unsigned n = p ? (unsigned)atoi(p + 9) : 0;
    free(text);
    return n;
}

static void
s_credit_case(const char *credit, unsigned expect)
{
    struct harness *h = s_start(NULL, NULL);
    char log_path[512];
    snprintf(log_path, sizeof log_path, "%s/held.log", harness_dir(h));
    const char *args[] = {"--hold-ms", "300", "--log", log_path, credit ? "--credit" : NULL,
                          credit,      NULL};
    pid_t w = s_join_python(h, "press", args);
    uint64_t announced = 0;
    log_inspect_each(harness_state_dir(h), s_credit_of_join, &announced);
    cr_expect_eq(announced, credit ? (uint64_t)atoi(credit) : 1);

    /* Held 300 ms per round: 100 events take 4 rounds at credit 32; 10 take 10 at credit 1. */
    unsigned n = credit ? 100 : 10;
    cr_assert_eq(s_publish(h, "press.conference_notice", "agency", n), n);
    cr_assert(s_wait_no_pending(h, 60000), "events not completed");
    cr_expect_eq(worker_process_stop(w, SIGTERM), 0);
    cr_expect_eq(s_max_held(h, "held.log"), expect, "the worker held %u requests at once",
                 s_max_held(h, "held.log"));
    s_finish(&h);
}

Test(delivery, credit_32_gets_32_in_flight, .timeout = 120)
{
    s_credit_case("32", 32);
}

Test(delivery, plain_worker_gets_one_in_flight, .timeout = 120)
{
    s_credit_case(NULL, 1);
}

Test(delivery, killed_worker_events_complete_on_another, .timeout = 120)
{
    struct harness *h = s_start(NULL, NULL);
    /* The first worker takes 8 requests and never answers, then dies. */
    pid_t stuck =
        s_join_python(h, "press", (const char *[]){"--credit", "8", "--hold-ms", "600000", NULL});
    cr_assert_eq(s_publish(h, "press.conference_notice", "agency", 8), 8);
    cr_assert(s_wait(h, "dispatched", "press", 8, 10000));
    pid_t good = s_join_python(h, "press", (const char *[]){NULL});
    worker_process_stop(stuck, SIGKILL);

    cr_assert(s_wait_no_pending(h, 30000), "events not completed after the worker died:\n%s",
              harness_daemon_log(h));
    struct tally *t = s_tally(h);
    for (uint64_t s = 0; s < t->n; s++) {
        if (!t->accepted[s])
            continue;
        cr_expect_eq(t->completed[s], 1, "event %lu completed %u times", s, t->completed[s]);
        cr_expect_eq(t->retried[s], 1, "event %lu retried %u times", s, t->retried[s]);
        cr_expect_eq(t->dispatched[s], 2);
    }
    /* Heartbeats expire, or a send finds the peer gone first: either way it is lost. */
    cr_expect(strstr(t->restart_reason, "lost: heartbeat expired") ||
                  strstr(t->restart_reason, "lost: unreachable"),
              "retry reason: %s", t->restart_reason);
    s_tally_free(t);
    cr_expect_eq(s_count(h, "worker_lost", "press"), 1);
    worker_process_stop(good, SIGTERM);
    s_finish(&h);
}

Test(delivery, always_failing_worker_dead_letters_with_reason, .timeout = 120)
{
    struct harness *h = s_start(NULL, NULL);
    pid_t w = s_join_python(h, "cyber", (const char *[]){"--mode", "fail", NULL});
    cr_assert_eq(s_publish(h, "cyber.soc_alert", "soc", 5), 5);
    cr_assert(s_wait(h, "deadlettered", "cyber", 5, 30000), "not dead-lettered:\n%s",
              harness_daemon_log(h));
    cr_assert(s_wait_no_pending(h, 5000));

    struct tally *t = s_tally(h);
    for (uint64_t s = 0; s < t->n; s++) {
        if (!t->accepted[s])
            continue;
        /* max_attempts = 3: three tries, two retries, one dead letter. */
        cr_expect_eq(t->dispatched[s], 3);
        cr_expect_eq(t->failed[s], 3);
        cr_expect_eq(t->retried[s], 2);
        cr_expect_eq(t->dead[s], 1);
        cr_expect_eq(t->completed[s], 0);
    }
    cr_expect(strstr(t->last_reason, "always fails") != NULL, "reason kept: '%s'", t->last_reason);
    s_tally_free(t);
    worker_process_stop(w, SIGTERM);
    s_finish(&h);
}

Test(delivery, reply_that_is_not_a_map_is_an_opaque_done, .timeout = 60)
{
    struct harness *h = s_start(NULL, NULL);
    pid_t w = s_join_python(h, "press", (const char *[]){"--mode", "garbage", NULL});
    cr_assert_eq(s_publish(h, "press.conference_notice", "agency", 1), 1);
    cr_assert(s_wait(h, "completed", "press", 1, 10000));
    char *out = NULL;
    cr_assert_eq(harness_ctl(h, NULL, &out, "tail", "--kind", "completed", "--json", NULL), 0);
    cr_expect(strstr(out, "\"status\":\"done\"") && strstr(out, "\"opaque\":\""),
              "completed record: %s", out);
    free(out);
    worker_process_stop(w, SIGTERM);
    s_finish(&h);
}

Test(delivery, emitted_follow_up_is_accepted_and_routed, .timeout = 60)
{
    struct harness *h = s_start(NULL, NULL);
    pid_t p = s_join_python(h, "press", (const char *[]){"--mode", "emit", NULL});
    pid_t c = s_join_python(h, "cyber", (const char *[]){NULL});
    cr_assert_eq(s_publish(h, "press.conference_notice", "agency", 3), 3);
    /* Three press completions, three follow-ups in cyber, completed too. */
    cr_assert(s_wait(h, "completed", "cyber", 3, 20000), "follow-ups not completed:\n%s",
              harness_daemon_log(h));
    cr_expect_eq(s_count(h, "accepted", "cyber"), 3);
    char *out = NULL;
    cr_assert_eq(
        harness_ctl(h, NULL, &out, "tail", "--kind", "accepted", "--area", "cyber", "--json", NULL),
        0);
    cr_expect(strstr(out, "\"source\":\"area:press\"") && strstr(out, "\"cause\":") &&
                  strstr(out, "\"corr\":"),
              "follow-up: %s", out);
    free(out);
    worker_process_stop(p, SIGTERM);
    worker_process_stop(c, SIGTERM);
    s_finish(&h);
}

/* A reply may bring 64 follow-ups; the rest are recorded as refused, not dropped. */
Test(delivery, follow_ups_past_the_limit_are_recorded_not_dropped, .timeout = 60)
{
    struct harness *h = s_start(NULL, NULL);
    pid_t p =
        s_join_python(h, "press", (const char *[]){"--mode", "emit", "--emit-count", "70", NULL});
    cr_assert_eq(s_publish(h, "press.conference_notice", "agency", 1), 1);
    cr_assert(s_wait(h, "completed", "press", 1, 10000));
    cr_expect_eq(s_count(h, "accepted", "cyber"), 64);
    cr_expect_eq(s_count(h, "rejected", NULL), 1);
    char *out = NULL;
    cr_assert_eq(harness_ctl(h, NULL, &out, "tail", "--kind", "rejected", "--json", NULL), 0);
    cr_expect(strstr(out, "\"code\":\"too_large\"") &&
                  strstr(out, "6 follow-up events past the first 64") &&
                  strstr(out, "\"source\":\"area:press\""),
              "rejected: %s", out);
    free(out);
    worker_process_stop(p, SIGTERM);
    s_finish(&h);
}

/* Anonymous resident memory of a process, in KiB (the LMDB map is file-backed). */
static long
s_rss_anon_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "RssAnon:", 8) == 0)
            kib = atol(line + 8);
    if (f)
        fclose(f);
    return kib;
}

/* n events with pad bytes of padding each, every one acknowledged. */
static void
s_publish_padded(struct harness *h, unsigned n, size_t pad)
{
    struct publish_count c = {0};
    s_publish_with(h, "press.conference_notice", "agency", n, 256, MANDATE_DEFAULT_MAX_RESENDS, pad,
                   &c);
    cr_assert_eq(c.acked, n, "%u of %u events acknowledged", c.acked, n);
}

Test(delivery, events_wait_without_workers_in_flat_memory, .timeout = 300)
{
    struct harness *h = s_start(NULL, NULL);
    /* Warm up first (allocator arenas, LMDB's page pool), then 100,000 more wait.
     * The padding makes each event ~600 bytes, so a broker that kept waiting
     * events in memory would grow by ~60 MB, far from the bound below. */
    s_publish_padded(h, 50000, 512);
    long before = s_rss_anon_kib(harness_pid(h));
    s_publish_padded(h, 100000, 512);
    long after = s_rss_anon_kib(harness_pid(h));
    cr_log_info("RssAnon: %ld KiB with 50,000 waiting, %ld KiB with 150,000", before, after);
#ifndef __SANITIZE_ADDRESS__
    /* Past 16,384 an area's waiting events stay in `pending` alone, so 100,000 more
     * cost no queue slots; allocator and libzmq buffer slack varies with
     * scheduling (seen up to ~3.3 MiB under ctest -j2). */
    cr_expect_lt(after - before, 8192, "RssAnon grew by %ld KiB", after - before);
#else
    /* ASan keeps freed memory in quarantine: resident size says nothing here. */
#endif
    cr_expect_eq(s_count(h, "dispatched", NULL), 0);
    cr_expect_eq(log_inspect_count(harness_state_dir(h), "pending"), 150000);

    /* A worker joins: all of them complete. */
    pid_t w = worker_process_native(h, "press", (const char *[]){"--credit", "64", NULL});
    cr_assert(s_wait_no_pending(h, 240000), "backlog not drained:\n%s", harness_daemon_log(h));
    worker_process_stop(w, SIGTERM);
    s_finish(&h);
}

/* Per area, whether first attempts were dispatched in seq order; and what the last `stopped` said.
 */
struct dispatch_order {
    const char *area;
    uint64_t last;
    long first_attempts, out_of_order;
    uint64_t waiting_at_stop;
};

static bool
s_order_one(uint64_t seq, const struct audit_record *rec, const void *b, size_t l, void *arg)
{
    struct dispatch_order *o = arg;
    (void)seq, (void)b, (void)l;
    if (!rec)
        return true;
    if (strcmp(rec->kind, "stopped") == 0)
        o->waiting_at_stop = s_uint_field(rec, "waiting");
    if (strcmp(rec->kind, "dispatched") != 0 || !s_field_is(rec, "area", o->area) ||
        s_uint_field(rec, "attempt") != 1)
        return true;
    uint64_t ev = s_uint_field(rec, "event_seq");
    if (ev <= o->last)
        o->out_of_order++;
    o->last = ev;
    o->first_attempts++;
    return true;
}

static struct dispatch_order
s_dispatch_order(struct harness *h, const char *area)
{
    struct dispatch_order o = {.area = area};
    cr_assert_geq(log_inspect_each(harness_state_dir(h), s_order_one, &o), 0);
    return o;
}

/*
 * An area keeps 16,384 waiting events in memory (HELD_MAX in
 * daemon/delivery.c); the rest wait in `pending` alone and are read back as
 * the queue drains. Two areas, their events interleaved in runs, each with
 * more than twice that, across a restart: every event reaches a worker once,
 * in seq order, and the broker counts all of them as waiting.
 */
#define BACKLOG_RUNS     8
#define BACKLOG_PER_RUN  5000
#define BACKLOG_PER_AREA (BACKLOG_RUNS * BACKLOG_PER_RUN)

/*
 * Each event must reach a worker exactly once, so nothing else may send one
 * again or add one: heartbeats slow enough that a loop busy with the backlog
 * on two loaded cores does not make a worker reconnect (its in-flight events
 * would be retried), and no deadline scan (the sample alerts' notice clocks
 * have passed; a breach found between the two log reads below would add an
 * event to one and not the other).
 */
#define BACKLOG_DELIVERY                                                                           \
    "[delivery]\nheartbeat_ms = 1000\nliveness = 5\ndeadline_scan_ms = 3600000\n"

Test(delivery, a_backlog_larger_than_memory_holds_is_delivered_once_in_order, .timeout = 240)
{
    struct harness *h = s_start(NULL, BACKLOG_DELIVERY);
    for (int r = 0; r < BACKLOG_RUNS; r++) {
        cr_assert_eq(s_publish(h, "press.conference_notice", "agency", BACKLOG_PER_RUN),
                     BACKLOG_PER_RUN);
        /* A source without a section: soc is held to its rate. */
        cr_assert_eq(s_publish(h, "cyber.soc_alert", "siem", BACKLOG_PER_RUN), BACKLOG_PER_RUN);
    }
    cr_assert_eq(harness_stop(h, 10000), 0);
    cr_expect_eq(s_dispatch_order(h, "press").waiting_at_stop, 2 * BACKLOG_PER_AREA,
                 "the broker must count spilled events as waiting");

    /* Restarted: queued again from `pending`, most of it left there until needed. */
    cr_assert_eq(harness_start(h, 10000), 0, "restart failed:\n%s", harness_daemon_log(h));
    cr_assert_eq(s_publish(h, "press.conference_notice", "agency", 1000), 1000);
    pid_t p = worker_process_native(h, "press", (const char *[]){"--credit", "64", NULL});
    pid_t c = worker_process_native(h, "cyber", (const char *[]){"--credit", "64", NULL});
    cr_assert(s_wait_no_pending(h, 180000), "backlog not drained:\n%s", harness_daemon_log(h));

    long accepted = s_expect_each_once(h, true);
    /* The cyber workers escalate a few alerts: follow-ups, accepted and routed too. */
    cr_expect_geq(accepted, 2 * BACKLOG_PER_AREA + 1000, "accepted %ld", accepted);
    struct dispatch_order press = s_dispatch_order(h, "press"),
                          cyber = s_dispatch_order(h, "cyber");
    cr_expect_eq(press.first_attempts, BACKLOG_PER_AREA + 1000);
    cr_expect_eq(press.first_attempts + cyber.first_attempts, accepted, "press %ld, cyber %ld",
                 press.first_attempts, cyber.first_attempts);
    cr_expect_eq(press.out_of_order, 0, "press events dispatched out of seq order");
    cr_expect_eq(cyber.out_of_order, 0, "cyber events dispatched out of seq order");
    worker_process_stop(p, SIGTERM);
    worker_process_stop(c, SIGTERM);
    s_finish(&h);
}

Test(delivery, broker_kill9_with_pending_and_in_flight_redelivers_all, .timeout = 120)
{
    struct harness *h = s_start(NULL, NULL);
    /* 20 press events in flight at a worker that never answers; 20 cyber events waiting. */
    pid_t stuck =
        s_join_python(h, "press", (const char *[]){"--credit", "32", "--hold-ms", "600000", NULL});
    cr_assert_eq(s_publish(h, "press.conference_notice", "agency", 20), 20);
    cr_assert_eq(s_publish(h, "cyber.soc_alert", "soc", 20), 20);
    cr_assert(s_wait(h, "dispatched", "press", 20, 10000));

    harness_kill9(h);
    worker_process_stop(stuck, SIGKILL);
    cr_assert_eq(log_inspect_count(harness_state_dir(h), "pending"), 40);

    cr_assert_eq(harness_start(h, 10000), 0, "restart failed:\n%s", harness_daemon_log(h));
    pid_t p = s_join_python(h, "press", (const char *[]){NULL});
    pid_t c = s_join_python(h, "cyber", (const char *[]){NULL});
    cr_assert(s_wait_no_pending(h, 30000), "not all delivered after restart:\n%s",
              harness_daemon_log(h));

    struct tally *t = s_tally(h);
    long in_flight = 0, waiting = 0;
    for (uint64_t s = 0; s < t->n; s++) {
        if (!t->accepted[s])
            continue;
        cr_expect_geq(t->completed[s], 1, "event %lu never completed", s);
        if (t->dispatched[s] == 2) {
            /* It was in flight at the crash: redelivered, with its `retried` record. */
            cr_expect_eq(t->retried[s], 1, "event %lu redelivered without `retried`", s);
            in_flight++;
        } else {
            cr_expect_eq(t->dispatched[s], 1);
            cr_expect_eq(t->retried[s], 0);
            waiting++;
        }
    }
    cr_expect_eq(in_flight, 20);
    cr_expect_eq(waiting, 20);
    cr_expect(strstr(t->restart_reason, "restarted") != NULL, "reason: %s", t->restart_reason);
    s_tally_free(t);
    worker_process_stop(p, SIGTERM);
    worker_process_stop(c, SIGTERM);
    s_finish(&h);

    /* The whole history still verifies. */
}

/* The pids of the daemon's children. */
static size_t
s_children(pid_t parent, pid_t *out, size_t max)
{
    size_t n = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d)) && n < max) {
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        if (fgets(buf, sizeof buf, f)) {
            /* pid (comm) state ppid ...; comm may hold spaces, so parse after the last ')'. */
            const char *p = strrchr(buf, ')');
            int ppid = 0;
            char state;
            if (p && sscanf(p + 1, " %c %d", &state, &ppid) == 2 && ppid == parent && state != 'Z')
                out[n++] = (pid_t)atoi(e->d_name);
        }
        fclose(f);
    }
    if (d)
        closedir(d);
    return n;
}

Test(delivery, spawned_worker_killed_comes_back, .timeout = 120)
{
    struct harness *h = harness_new(NULL, FAST_DELIVERY);
    cr_assert_eq(harness_config_area(h, "press", "spawn", "yes"), 0);
    cr_assert_eq(harness_config_area(h, "press", "workers", "2"), 0);
    cr_assert_eq(harness_start(h, 10000), 0, "%s", harness_daemon_log(h));
    cr_assert(s_wait(h, "worker_joined", "press", 2, 15000), "spawned workers did not join:\n%s",
              harness_daemon_log(h));
    pid_t kids[8];
    cr_assert_eq(s_children(harness_pid(h), kids, 8), 2);

    kill(kids[0], SIGKILL);
    cr_assert(s_wait(h, "worker_lost", "press", 1, 10000));
    cr_assert(s_wait(h, "worker_joined", "press", 3, 15000), "not restarted:\n%s",
              harness_daemon_log(h));
    pid_t now[8];
    size_t n = s_children(harness_pid(h), now, 8);
    cr_expect_eq(n, 2);
    for (size_t i = 0; i < n; i++)
        cr_expect_neq(now[i], kids[0], "the killed worker is still listed");

    cr_assert_eq(s_publish(h, "press.conference_notice", "agency", 20), 20);
    cr_assert(s_wait(h, "completed", "press", 20, 20000), "work did not continue:\n%s",
              harness_daemon_log(h));
    /* Stopping the broker stops its workers. */
    s_finish(&h);
    for (size_t i = 0; i < n; i++)
        cr_expect(kill(now[i], 0) < 0, "worker %d outlived the broker", (int)now[i]);
}

struct flood {
    struct harness *h;
    unsigned n, acked;
};

static void *
s_flood(void *arg)
{
    struct flood *f = arg;
    f->acked = s_publish(f->h, "press.conference_notice", "agency", f->n);
    return NULL;
}

/* seq of the last cyber completion, and press completions before it. */
struct lane {
    uint64_t last_alert_done;
    long press_done_before, press_done;
};

static bool
s_lane_one(uint64_t seq, const struct audit_record *rec, const void *b, size_t l, void *arg)
{
    struct lane *ln = arg;
    if (!rec || strcmp(rec->kind, "completed") != 0)
        return true;
    if (s_field_is(rec, "area", "cyber"))
        ln->last_alert_done = seq, ln->press_done_before = ln->press_done;
    else if (s_field_is(rec, "area", "press"))
        ln->press_done++;
    return true;
}

Test(delivery, soc_alerts_pass_a_press_backlog, .timeout = 300)
{
    struct harness *h = s_start(NULL, NULL);
    pid_t press = s_join_python(h, "press", (const char *[]){NULL});
    pid_t cyber = s_join_python(h, "cyber", (const char *[]){NULL});

    /* 50,000 press events from one flooding publisher... */
    struct flood f = {.h = h, .n = 50000};
    pthread_t t;
    pthread_create(&t, NULL, s_flood, &f);
    cr_assert(s_wait(h, "accepted", "press", 5000, 60000));
    /* ...then 100 alerts from another, while the flood is still coming in: the
     * flooding connection does not hold them up at intake. */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cr_assert_eq(s_publish(h, "cyber.soc_alert", "soc", 100), 100);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long alert_ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    long press_in = s_count(h, "accepted", "press");
    pthread_join(t, NULL);
    cr_log_info("100 alerts ACKed in %ld ms; %ld of 50,000 press events were in by then", alert_ms,
                press_in);
    cr_expect_lt(press_in, 50000, "the alerts waited for the whole flood at intake");
    cr_expect_lt(alert_ms, 10000);
    cr_assert_eq(f.acked, 50000);
    cr_assert(s_wait(h, "completed", "cyber", 100, 60000), "alerts not completed");

    struct lane ln = {0};
    log_inspect_each(harness_state_dir(h), s_lane_one, &ln);
    cr_log_info("all 100 alerts completed when %ld of 50,000 press events were",
                ln.press_done_before);
    cr_expect_lt(ln.press_done_before, 25000, "alerts waited behind the press backlog");
    worker_process_stop(press, SIGKILL);
    worker_process_stop(cyber, SIGTERM);
    s_finish(&h);
}

/* Sends frames (after the DEALER's own routing) as one multipart message. */
static void
s_send_frames(void *sock, const char *const *frames, const size_t *lens, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cr_assert_geq(zmq_send(sock, frames[i], lens[i], i + 1 < n ? ZMQ_SNDMORE : 0), 0);
}

/* Whether the broker sends DISCONNECT to this socket within timeout_ms. */
static bool
s_got_disconnect(void *sock, int timeout_ms)
{
    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
    for (;;) {
        zmq_msg_t parts[8];
        size_t n = 0;
        int more = 1;
        while (more && n < 8) {
            zmq_msg_init(&parts[n]);
            if (zmq_msg_recv(&parts[n], sock, 0) < 0) {
                zmq_msg_close(&parts[n]);
                return false;
            }
            more = zmq_msg_more(&parts[n]);
            n++;
        }
        bool disconnect = n == 3 && zmq_msg_size(&parts[2]) == 1 &&
                          *(const uint8_t *)zmq_msg_data(&parts[2]) == 0x05;
        for (size_t i = 0; i < n; i++)
            zmq_msg_close(&parts[i]);
        if (disconnect)
            return true;
    }
}

Test(delivery, malformed_worker_messages_change_nothing, .timeout = 120)
{
    struct harness *h = s_start(NULL, NULL);
    void *ctx = harness_zmq_ctx(h);
    long records_before = log_inspect_count(harness_state_dir(h), "log");

    /* Each case on a fresh DEALER: the broker answers a bad message with DISCONNECT. */
    static const struct {
        const char *name;
        size_t n;
        const char *frames[6];
        size_t lens[6];
    } cases[] = {
        {"no delimiter", 3, {"MDPW01", "\x01", "press"}, {6, 1, 5}},
        {"wrong protocol", 4, {"", "MDPW02", "\x01", "press"}, {0, 6, 1, 5}},
        {"unknown command", 3, {"", "MDPW01", "\x09"}, {0, 6, 1}},
        {"REQUEST from a worker", 6, {"", "MDPW01", "\x02", "1", "", "x"}, {0, 6, 1, 1, 0, 1}},
        {"READY without service", 3, {"", "MDPW01", "\x01"}, {0, 6, 1}},
        {"READY for no area", 4, {"", "MDPW01", "\x01", "nosuch"}, {0, 6, 1, 6}},
        {"bad credit frame",
         5,
         {"", "MDPW01", "\x01", "press", "\xdd\xff\xff\xff\xff"},
         {0, 6, 1, 5, 5}},
        {"REPLY from a stranger", 6, {"", "MDPW01", "\x03", "2", "", "\x80"}, {0, 6, 1, 1, 0, 1}},
        {"HEARTBEAT from a stranger", 3, {"", "MDPW01", "\x04"}, {0, 6, 1}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        void *s = zmq_socket(ctx, ZMQ_DEALER);
        int linger = 0;
        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
        cr_assert_eq(zmq_connect(s, harness_workers_endpoint(h)), 0);
        s_send_frames(s, cases[i].frames, cases[i].lens, cases[i].n);
        cr_expect(s_got_disconnect(s, 3000), "%s: no DISCONNECT", cases[i].name);
        zmq_close(s);
    }
    /* More frames than any MDP message has. */
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    cr_assert_eq(zmq_connect(s, harness_workers_endpoint(h)), 0);
    for (int i = 0; i < 20; i++)
        zmq_send(s, "", 0, i < 19 ? ZMQ_SNDMORE : 0);
    cr_expect(s_got_disconnect(s, 3000), "too many frames: no DISCONNECT");

    /* A joined worker that sends READY again, or replies for a seq it was never given. */
    const char *ready[] = {"", "MDPW01", "\x01", "press"};
    const size_t ready_lens[] = {0, 6, 1, 5};
    void *w = zmq_socket(ctx, ZMQ_DEALER);
    cr_assert_eq(zmq_connect(w, harness_workers_endpoint(h)), 0);
    s_send_frames(w, ready, ready_lens, 4);
    cr_assert(s_wait(h, "worker_joined", "press", 1, 5000));
    const char *reply[] = {"", "MDPW01", "\x03", "999999", "", "\x80"};
    const size_t reply_lens[] = {0, 6, 1, 6, 0, 1};
    s_send_frames(w, reply, reply_lens, 6);
    s_send_frames(w, ready, ready_lens, 4);
    cr_expect(s_got_disconnect(w, 3000), "READY twice: no DISCONNECT");
    cr_expect(s_wait(h, "worker_lost", "press", 1, 5000));
    zmq_close(w);
    zmq_close(s);

    /* A worker whose message is past the limit (64 follow-ups' worth) is cut off by
     * libzmq: it is lost, and nothing of it is buffered. */
    void *big = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(big, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert_eq(zmq_connect(big, harness_workers_endpoint(h)), 0);
    s_send_frames(big, ready, ready_lens, 4);
    cr_assert(s_wait(h, "worker_joined", "press", 2, 5000));
    size_t huge_len = (size_t)66 * 65536 + 8192;
    char *huge = calloc(1, huge_len);
    const char *reply_huge[] = {"", "MDPW01", "\x03", "1", "", huge};
    const size_t reply_huge_lens[] = {0, 6, 1, 1, 0, huge_len};
    s_send_frames(big, reply_huge, reply_huge_lens, 6);
    free(huge);
    cr_expect(s_wait(h, "worker_lost", "press", 2, 10000), "the oversize worker was not dropped");
    zmq_close(big);

    /* Nothing but those workers' joins and losses was recorded; the broker still works. */
    cr_expect_eq(log_inspect_count(harness_state_dir(h), "log"), records_before + 4);
    cr_expect_eq(s_count(h, "completed", NULL), 0);
    pid_t good = s_join_python(h, "press", (const char *[]){NULL});
    cr_assert_eq(s_publish(h, "press.conference_notice", "agency", 5), 5);
    cr_assert(s_wait_no_pending(h, 10000));
    char *log = harness_daemon_log(h);
    cr_expect(strstr(log, "frame 1: protocol is not MDPW01") || strstr(log, "frame 1"),
              "errors name the frame:\n%s", log);
    free(log);
    worker_process_stop(good, SIGTERM);
    s_finish(&h);
}

/* Crash rounds with delivery: every ACKed event is completed in the end. */
struct acks {
    pthread_mutex_t lock;
    uint64_t *seqs;
    size_t n, cap;
    volatile bool stop;
    struct harness *h;
};

static void
s_on_ack(void *arg, const struct mep_reply *r, void *user)
{
    struct acks *a = arg;
    if (!r->is_ack)
        return;
    pthread_mutex_lock(&a->lock);
    if (a->n < a->cap)
        a->seqs[a->n++] = r->seq;
    pthread_mutex_unlock(&a->lock);
}

static void *
s_publish_until_stopped(void *arg)
{
    struct acks *a = arg;
    struct mandate_client_options o;
    mandate_client_options_init(&o);
    o.window = 64;
    o.timeout_ms = 300;
    o.max_resends = 1000;
    o.on_reply = s_on_ack;
    o.cb_arg = a;
    struct mandate_client *cl = mandate_client_new(harness_endpoint(a->h), &o);
    msgpack_sbuffer notice, alert;
    msgpack_packer pk;
    msgpack_sbuffer_init(&notice);
    msgpack_sbuffer_init(&alert);
    msgpack_packer_init(&pk, &notice, pack_sbuffer_write);
    sample_notice_pack(&pk, 0, 0);
    sample_data_pack("cyber.soc_alert", NULL, -1, &alert);
    for (uint32_t i = 0; !a->stop; i++) {
        uint8_t id[16];
        getrandom(id, sizeof id, 0);
        const msgpack_sbuffer *data = i % 4 ? &notice : &alert;
        struct envelope_fields f = {.id = id,
                                    .type = i % 4 ? "press.conference_notice" : "cyber.soc_alert",
                                    .source = "agency",
                                    .time_ms = (uint64_t)time(NULL) * 1000,
                                    .data = data->data,
                                    .data_len = data->size};
        mandate_client_publish(cl, &f, NULL);
    }
    mandate_client_flush(cl, 20000);
    mandate_client_destroy(&cl);
    msgpack_sbuffer_destroy(&notice);
    msgpack_sbuffer_destroy(&alert);
    return NULL;
}

Test(delivery, kill9_rounds_under_load_lose_no_delivery, .timeout = 300)
{
    struct harness *h = harness_new(NULL, FAST_DELIVERY);
    cr_assert_eq(harness_config_area(h, "press", "spawn", "yes"), 0);
    cr_assert_eq(harness_config_area(h, "cyber", "spawn", "yes"), 0);
    cr_assert_eq(harness_start(h, 10000), 0);
    struct acks a = {.lock = PTHREAD_MUTEX_INITIALIZER, .cap = 2000000, .h = h};
    a.seqs = calloc(a.cap, sizeof *a.seqs);
    pthread_t t;
    pthread_create(&t, NULL, s_publish_until_stopped, &a);

    const char *rounds_env = getenv("MANDATE_CRASH_ROUNDS");
    int rounds = rounds_env ? atoi(rounds_env) / 4 : 5;
    srand((unsigned)getpid());
    for (int r = 0; r < (rounds > 0 ? rounds : 1); r++) {
        usleep(200000 + (useconds_t)(rand() % 400) * 1000);
        harness_kill9(h);
        cr_assert_eq(harness_start(h, 10000), 0, "restart %d failed:\n%s", r,
                     harness_daemon_log(h));
    }
    usleep(300000);
    a.stop = true;
    pthread_join(t, NULL);
    cr_assert(s_wait_no_pending(h, 60000), "deliveries left pending:\n%s", harness_daemon_log(h));

    struct tally *tl = s_tally(h);
    size_t acked = 0;
    for (size_t i = 0; i < a.n; i++) {
        uint64_t s = a.seqs[i];
        cr_assert_lt(s, tl->n);
        cr_expect(tl->accepted[s], "ACKed seq %lu is not an accepted record", s);
        cr_expect_geq(tl->completed[s] + tl->dead[s], 1, "ACKed seq %lu never completed", s);
        acked++;
    }
    cr_log_info("%zu ACKed events over %d kill -9 rounds, all completed", acked, rounds);
    cr_expect_gt(acked, 100);
    s_tally_free(tl);
    free(a.seqs);
    cr_assert_eq(harness_stop(h, 15000), 0);
    /* The chain holds over every crash. */
    cr_expect_eq(harness_ctl(h, NULL, NULL, "verify", NULL), 0);
    harness_destroy(&h);
}

/* The `stopped` record's count of requests left in flight. */
static bool
s_stopped_inflight(uint64_t seq, const struct audit_record *rec, const void *b, size_t l, void *arg)
{
    if (rec && strcmp(rec->kind, "stopped") == 0)
        *(long *)arg = (long)s_uint_field(rec, "inflight");
    return true;
}

Test(delivery, sigterm_waits_for_replies_in_flight_then_leaves_the_rest_pending, .timeout = 120)
{
    struct harness *h = harness_new(NULL, FAST_DELIVERY "drain_timeout_ms = 3000\n");
    cr_assert_eq(harness_start(h, 10000), 0);
    /* Answers 400 ms after its last request: within the drain bound. */
    pid_t slow =
        s_join_python(h, "press", (const char *[]){"--credit", "4", "--hold-ms", "400", NULL});
    cr_assert_eq(s_publish(h, "press.conference_notice", "agency", 4), 4);
    cr_assert(s_wait(h, "dispatched", "press", 4, 10000));
    cr_assert_eq(harness_stop(h, 10000), 0, "%s", harness_daemon_log(h));
    cr_expect_eq(s_count(h, "completed", "press"), 4, "replies during the drain are recorded");
    long left = -1;
    log_inspect_each(harness_state_dir(h), s_stopped_inflight, &left);
    cr_expect_eq(left, 0);
    worker_process_stop(slow, SIGKILL);

    /* A worker that never answers: the drain gives up after its bound. */
    cr_assert_eq(harness_start(h, 10000), 0);
    pid_t stuck =
        s_join_python(h, "press", (const char *[]){"--credit", "4", "--hold-ms", "600000", NULL});
    cr_assert_eq(s_publish(h, "press.conference_notice", "agency", 3), 3);
    cr_assert(s_wait(h, "dispatched", "press", 7, 10000));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cr_assert_eq(harness_stop(h, 10000), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    cr_expect(secs >= 2.5 && secs < 8, "stopped after %.1f s with drain_timeout_ms = 3000", secs);
    log_inspect_each(harness_state_dir(h), s_stopped_inflight, &left);
    cr_expect_eq(left, 3);
    cr_expect_eq(log_inspect_count(harness_state_dir(h), "pending"), 3);
    worker_process_stop(stuck, SIGKILL);
    harness_destroy(&h);
}

/* Publishes batches of 50 600-byte events until some are refused; returns the ACK count. */
static unsigned
s_publish_until_refused(struct harness *h, unsigned *refused)
{
    struct publish_count c = {0};
    for (int round = 0; round < 400 && c.nacked == 0; round++)
        s_publish_with(h, "press.conference_notice", "agency", 50, 50, 0, 600, &c);
    *refused = c.nacked;
    return c.acked;
}

/* Delivery records that cannot be written (disk full) wait and go in once there is room. */
Test(delivery, completions_survive_a_full_disk, .timeout = 180)
{
    struct harness *h = harness_new("map_initial_bytes = 8388608\n", FAST_DELIVERY);
    if (harness_mount_state_tmpfs(h, "1m") < 0) {
        harness_destroy(&h);
        cr_skip_test("needs root to mount a small tmpfs");
    }
    cr_assert_eq(harness_start(h, 10000), 0);
    pid_t w = s_join_python(h, "press", (const char *[]){NULL});
    unsigned refused = 0;
    unsigned acked = s_publish_until_refused(h, &refused);
    cr_assert_gt(refused, 0, "a 1 MiB disk never filled");
    cr_assert_gt(acked, 50);
    usleep(500000); /* completions arrive meanwhile and cannot be written */

    cr_assert_eq(harness_remount_state_tmpfs(h, "64m"), 0);
    /* The worker may have finished every event before the refusal; one more
     * makes sure a commit follows the failed one. */
    cr_assert_eq(s_publish(h, "press.conference_notice", "agency", 1), 1);
    acked++;
    cr_assert(s_wait_no_pending(h, 30000), "deliveries stuck after the disk had room:\n%s",
              harness_daemon_log(h));
    char *log = harness_daemon_log(h);
    cr_expect(strstr(log, "commit failed") && strstr(log, "commits work again"),
              "the disk never refused a commit, or commits never recovered:\n%s", log);
    free(log);
    /* Dispatches whose records the full disk refused may be made again. */
    cr_expect_eq(s_expect_each_once(h, false), (long)acked);
    worker_process_stop(w, SIGTERM);
    cr_assert_eq(harness_stop(h, 15000), 0);
    cr_expect_eq(harness_ctl(h, NULL, NULL, "verify", NULL), 0);
    cr_assert_eq(harness_umount_state(h), 0);
    harness_destroy(&h);
}

/* A stop while the disk is full ends (the unwritable records are given up), and the
 * events they were about are delivered after the next start. */
Test(delivery, sigterm_on_a_full_disk_stops_and_redelivers_after_restart, .timeout = 180)
{
    struct harness *h = harness_new("map_initial_bytes = 8388608\n", FAST_DELIVERY);
    if (harness_mount_state_tmpfs(h, "1m") < 0) {
        harness_destroy(&h);
        cr_skip_test("needs root to mount a small tmpfs");
    }
    cr_assert_eq(harness_start(h, 10000), 0);
    pid_t w = s_join_python(h, "press", (const char *[]){NULL});
    unsigned refused = 0;
    unsigned acked = s_publish_until_refused(h, &refused);
    cr_assert_gt(refused, 0, "a 1 MiB disk never filled");
    usleep(300000); /* completions arrive and cannot be written */
    cr_assert_eq(harness_stop(h, 15000), 0, "no clean stop on a full disk:\n%s",
                 harness_daemon_log(h));
    worker_process_stop(w, SIGTERM);

    cr_assert_eq(harness_remount_state_tmpfs(h, "64m"), 0);
    cr_assert_eq(harness_start(h, 10000), 0, "%s", harness_daemon_log(h));
    w = s_join_python(h, "press", (const char *[]){NULL});
    cr_assert(s_wait_no_pending(h, 30000), "not redelivered after the restart:\n%s",
              harness_daemon_log(h));
    struct tally *t = s_tally(h);
    long accepted = 0;
    for (uint64_t s = 0; s < t->n; s++)
        if (t->accepted[s]) {
            accepted++;
            cr_expect_geq(t->completed[s], 1, "event %lu never completed", s);
        }
    s_tally_free(t);
    cr_expect_eq(accepted, (long)acked);
    worker_process_stop(w, SIGTERM);
    cr_assert_eq(harness_stop(h, 15000), 0);
    cr_expect_eq(harness_ctl(h, NULL, NULL, "verify", NULL), 0);
    cr_assert_eq(harness_umount_state(h), 0);
    harness_destroy(&h);
}
