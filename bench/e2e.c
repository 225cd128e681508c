/*
 * bench/e2e: publish -> `completed` through 1, 2 and 4 no-op workers
 * (mandate-worker, generic handler) on one area, durability full, against
 * ingest alone (the same publishers, no worker) measured in the same run.
 *
 * Each event carries its publish time (CLOCK_REALTIME ns) in data.t; after a
 * run the audit log gives each completion's broker time, so latency is
 * completed.at - data.t and throughput is events / (last completion - first
 * publish). Every run uses a fresh state directory.
 *
 *   bench/e2e [--mandated PATH] [--worker PATH] [--runs N] [--events N] [--credit N]
 *             [--relaxed] [--quick]
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench/support/bench_stats.h"
#include "common/clock.h"
#include "proto/audit_record.h"
#include "tests/support/daemon_harness.h"
#include "tests/support/log_inspect.h"
#include "tests/support/sample_data.h"
#include "tests/support/worker_process.h"
#include <zmq.h>

#include "proto/envelope.h"
#include "proto/mdp.h"
#include "proto/pack.h"
#include "proto/text.h"
#include "tools/mandate_client.h"

#define CLIENTS        8
#define WINDOW         125
#define DEFAULT_CREDIT "128"
#define AREA           "press"
#define EVENT_BYTES    300 /* as in bench/ingest */
#define EVENT_TYPE     "press.conference_notice"
#define MAX_WORKERS    4
#define MAX_RUNS       20
#define TARGET_RATIO   0.5
#define DEFAULT_RUNS   5
#define DEFAULT_EVENTS 100000

static char s_credit[24] = DEFAULT_CREDIT; /* --credit: each worker's READY credit */
static bool s_relaxed; /* --relaxed: durability = relaxed, to see what fsync costs */

/*
 * A publisher as light as bench/ingest's, so that the clients take as little
 * of the two cores from the daemon as there: its events are encoded before
 * the clock starts and sent raw on a DEALER, up to WINDOW unanswered; the
 * replies are only counted. Only the publish time (data.t) is written into
 * each event as it goes out.
 */
struct publisher {
    const char *endpoint;
    void *zmq_ctx; /* one context (one I/O thread) for all the publishers */
    unsigned n;
    unsigned acked;
    msgpack_sbuffer events; /* n encoded envelopes, back to back */
    size_t *off;            /* where each starts (n + 1 entries) */
    size_t t_at;            /* offset of data.t's 8 bytes within an event */
};

/* A valid notice's data with "pad" (pad_len bytes) and, last, "t": 0 as a
 * full 8-byte uint (0xcf), so that its bytes can be rewritten in place. */
static void
s_notice_data(msgpack_sbuffer *sb, size_t pad_len)
{
    static const uint8_t zeros[256];
    msgpack_packer pk;
    msgpack_sbuffer_clear(sb);
    msgpack_packer_init(&pk, sb, pack_sbuffer_write);
    msgpack_pack_map(&pk, SAMPLE_NOTICE_FIELDS + 2);
    sample_notice_fields(&pk);
    msgpack_pack_str_with_body(&pk, "pad", 3);
    msgpack_pack_bin_with_body(&pk, zeros, pad_len < sizeof zeros ? pad_len : sizeof zeros);
    msgpack_pack_str_with_body(&pk, "t", 1);
    pack_sbuffer_write(sb, "\xcf\0\0\0\0\0\0\0\0", 9);
}

/*
 * Encodes p->n events with UUIDv7 ids (what publishers really send) and
 * valid notice data padded to EVENT_BYTES an event, as in bench/ingest,
 * with "t" (the publish time) last.
 */
static void
s_prepare(struct publisher *p)
{
    msgpack_sbuffer data, probe;
    msgpack_sbuffer_init(&data);
    msgpack_sbuffer_init(&probe);
    uint8_t id[16] = {0};
    size_t pad = 0;
    /* The padding that makes an envelope EVENT_BYTES long (or the nearest under). */
    for (size_t try = 0; try < 256; try++) {
        s_notice_data(&data, try);
        struct envelope_fields f = {.id = id,
                                    .type = EVENT_TYPE,
                                    .source = "bench",
                                    .time_ms = realtime_ns() / 1000000u,
                                    .data = data.data,
                                    .data_len = data.size};
        msgpack_sbuffer_clear(&probe);
        envelope_encode(&f, &probe);
        if (probe.size > EVENT_BYTES)
            break;
        pad = try;
    }
    s_notice_data(&data, pad);
    msgpack_sbuffer_destroy(&probe);
    msgpack_sbuffer_init(&p->events);
    p->off = calloc(p->n + 1, sizeof *p->off);
    for (unsigned i = 0; i < p->n; i++) {
        mandate_new_id(id);
        struct envelope_fields f = {.id = id,
                                    .type = EVENT_TYPE,
                                    .source = "bench",
                                    .time_ms = realtime_ns() / 1000000u,
                                    .data = data.data,
                                    .data_len = data.size};
        p->off[i] = p->events.size;
        envelope_encode(&f, &p->events);
    }
    p->off[p->n] = p->events.size;
    msgpack_sbuffer_destroy(&data);
    if (p->n && p->off[1] - p->off[0] != EVENT_BYTES)
        fprintf(stderr, "e2e: events are %zu bytes, not %d\n", p->off[1] - p->off[0], EVENT_BYTES);
    /* data is the envelope's last field: t's bytes end the event. */
    p->t_at = p->off[1] - p->off[0] - 8;
}

static bool
s_recv_reply(void *sock, struct publisher *p, int flags)
{
    zmq_msg_t m;
    int part = 0, more = 1;
    bool ack = false;
    while (more) {
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, part ? 0 : flags) < 0) {
            zmq_msg_close(&m);
            return false;
        }
        if (part == 1)
            ack = zmq_msg_size(&m) == 3 && memcmp(zmq_msg_data(&m), "ACK", 3) == 0;
        more = zmq_msg_more(&m);
        zmq_msg_close(&m);
        part++;
    }
    p->acked += ack;
    return true;
}

static void *
s_publish(void *arg)
{
    struct publisher *p = arg;
    void *sock = zmq_socket(p->zmq_ctx, ZMQ_DEALER);
    int linger = 0, timeout = 10000;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    if (zmq_connect(sock, p->endpoint) < 0)
        goto out;
    unsigned sent = 0, answered = 0;
    while (answered < p->n) {
        while (sent < p->n && sent - answered < WINDOW) {
            uint8_t *ev = (uint8_t *)p->events.data + p->off[sent];
            uint64_t t = realtime_ns();
            for (int b = 0; b < 8; b++)
                ev[p->t_at + (size_t)b] = (uint8_t)(t >> (8 * (7 - b)));
            zmq_send(sock, "MEP1", 4, ZMQ_SNDMORE);
            zmq_send(sock, "PUB", 3, ZMQ_SNDMORE);
            zmq_send(sock, ev, p->off[sent + 1] - p->off[sent], 0);
            sent++;
        }
        if (!s_recv_reply(sock, p, 0))
            break; /* 10 s without an answer: the run fails on the count */
        answered++;
        while (answered < sent && s_recv_reply(sock, p, ZMQ_DONTWAIT))
            answered++;
    }
out:
    zmq_close(sock);
    return NULL;
}

/*
 * A no-op MDP worker, forked: READY with the credit frame, then every
 * REQUEST is answered {"status": "done"} at once, without looking at the
 * event. It measures the broker's side of delivery with as little worker
 * CPU as MDP allows; the real mandate-worker runs in its own scenario.
 */
static void
s_noop_worker_main(const char *endpoint, unsigned credit)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    void *ctx = zmq_ctx_new();
    void *sock = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect(sock, endpoint) < 0)
        _exit(1);
    msgpack_sbuffer credit_frame, done;
    msgpack_sbuffer_init(&credit_frame);
    msgpack_sbuffer_init(&done);
    mdp_pack_credit(&credit_frame, credit);
    mdp_pack_outcome(&done, MDP_STATUS_DONE, NULL, NULL, 0, NULL, 0);
    static const uint8_t ready = MDP_READY, reply = MDP_REPLY, heartbeat = MDP_HEARTBEAT;
    zmq_send(sock, "", 0, ZMQ_SNDMORE);
    zmq_send(sock, MDPW_PROTOCOL, 6, ZMQ_SNDMORE);
    zmq_send(sock, &ready, 1, ZMQ_SNDMORE);
    zmq_send(sock, AREA, strlen(AREA), ZMQ_SNDMORE);
    zmq_send(sock, credit_frame.data, credit_frame.size, 0);
    uint64_t last_sent = realtime_ns();
    for (;;) {
        zmq_pollitem_t item = {.socket = sock, .events = ZMQ_POLLIN};
        if (zmq_poll(&item, 1, 500) < 0)
            _exit(1);
        /* Stay alive in the broker's eyes (heartbeat_ms 2500 by default). */
        if (realtime_ns() - last_sent > 1000000000u) {
            zmq_send(sock, "", 0, ZMQ_SNDMORE);
            zmq_send(sock, MDPW_PROTOCOL, 6, ZMQ_SNDMORE);
            zmq_send(sock, &heartbeat, 1, 0);
            last_sent = realtime_ns();
        }
        zmq_msg_t parts[8];
        size_t n;
        while (item.revents & ZMQ_POLLIN) {
            int more = 1;
            for (n = 0; more && n < 8; n++) {
                zmq_msg_init(&parts[n]);
                if (zmq_msg_recv(&parts[n], sock, n ? 0 : ZMQ_DONTWAIT) < 0)
                    break;
                more = zmq_msg_more(&parts[n]);
            }
            if (n == 0 || (n == 1 && !zmq_msg_size(&parts[0]) && !more)) {
                zmq_msg_close(&parts[0]);
                break; /* nothing more to read */
            }
            if (n >= 6 && zmq_msg_size(&parts[2]) == 1 &&
                *(const uint8_t *)zmq_msg_data(&parts[2]) == MDP_REQUEST) {
                zmq_send(sock, "", 0, ZMQ_SNDMORE);
                zmq_send(sock, MDPW_PROTOCOL, 6, ZMQ_SNDMORE);
                zmq_send(sock, &reply, 1, ZMQ_SNDMORE);
                zmq_send(sock, zmq_msg_data(&parts[3]), zmq_msg_size(&parts[3]), ZMQ_SNDMORE);
                zmq_send(sock, "", 0, ZMQ_SNDMORE);
                zmq_send(sock, done.data, done.size, 0);
                last_sent = realtime_ns();
            }
            for (size_t i = 0; i < n; i++)
                zmq_msg_close(&parts[i]);
        }
    }
}

static pid_t
s_noop_worker(struct harness *h, unsigned credit)
{
    pid_t pid = fork();
    if (pid == 0) {
        s_noop_worker_main(harness_workers_endpoint(h), credit);
        _exit(0);
    }
    return pid;
}

/* What one run measured. */
struct result {
    double events_per_s;
    double p50_us, p99_us;
    bool ok;
};

struct scan {
    uint64_t *t_by_seq; /* publish time of the event with that accepted seq */
    size_t cap;
    uint64_t *lat_ns;
    size_t nlat;
    uint64_t first_pub, last_done;
    const char *done_kind; /* "completed", or "accepted" for ingest alone */
};

static uint64_t
s_field_u64(const struct audit_record *rec, const char *key)
{
    const msgpack_object *o = audit_record_field(rec, key);
    return o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? o->via.u64 : 0;
}

static bool
s_scan_one(uint64_t seq, const struct audit_record *rec, const void *b, size_t l, void *arg)
{
    struct scan *s = arg;
    if (!rec)
        return true;
    if (strcmp(rec->kind, "accepted") == 0 && seq < s->cap) {
        const msgpack_object *ev = audit_record_field(rec, "event");
        for (uint32_t i = 0; ev && ev->type == MSGPACK_OBJECT_MAP && i < ev->via.map.size; i++) {
            const msgpack_object_kv *kv = &ev->via.map.ptr[i];
            if (kv->key.type != MSGPACK_OBJECT_STR || kv->key.via.str.size != 4 ||
                memcmp(kv->key.via.str.ptr, "data", 4) != 0 || kv->val.type != MSGPACK_OBJECT_MAP ||
                kv->val.via.map.size == 0)
                continue;
            /* "t" comes last */
            s->t_by_seq[seq] = kv->val.via.map.ptr[kv->val.via.map.size - 1].val.via.u64;
            if (!s->first_pub || s->t_by_seq[seq] < s->first_pub)
                s->first_pub = s->t_by_seq[seq];
        }
    }
    if (strcmp(rec->kind, s->done_kind) != 0)
        return true;
    uint64_t ev = strcmp(s->done_kind, "accepted") == 0 ? seq : s_field_u64(rec, "event_seq");
    if (ev < s->cap && s->t_by_seq[ev] && rec->at_ns > s->t_by_seq[ev]) {
        s->lat_ns[s->nlat++] = rec->at_ns - s->t_by_seq[ev];
        if (rec->at_ns > s->last_done)
            s->last_done = rec->at_ns;
    }
    return true;
}

static bool
s_wait_no_pending(struct harness *h, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        if (log_inspect_count(harness_state_dir(h), "pending") == 0)
            return true;
        usleep(20000);
    }
    return false;
}

/* CPU time of each of the daemon's threads so far, per event. */
static void
s_print_threads(pid_t pid, double events)
{
    char path[128];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *dir = opendir(path);
    struct dirent *e;
    long tick = sysconf(_SC_CLK_TCK);
    while (dir && (e = readdir(dir))) {
        if (e->d_name[0] == '.')
            continue;
        char stat[512], buf[512];
        snprintf(stat, sizeof stat, "%s/%s/stat", path, e->d_name);
        FILE *f = fopen(stat, "r");
        if (!f)
            continue;
        if (fgets(buf, sizeof buf, f)) {
            char *open = strchr(buf, '('), *close = strrchr(buf, ')');
            unsigned long ut = 0, st = 0;
            /* Fields after the comm: state ppid pgrp session tty tpgid flags minflt cminflt
             * majflt cmajflt utime stime. */
            if (open && close &&
                sscanf(close + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
                       &st) == 2) {
                double secs = (double)(ut + st) / (double)tick;
                fprintf(stderr, "  thread %-6s %-16.*s %6.3f s cpu  %5.2f us/event\n", e->d_name,
                        (int)(close - open - 1), open + 1, secs,
                        events > 0 ? secs * 1e6 / events : 0);
            }
        }
        fclose(f);
    }
    if (dir)
        closedir(dir);
}

/* One run: nworkers = 0 measures ingest alone (ACK = done). */
static struct result
s_run(unsigned nworkers, bool noop, unsigned events)
{
    struct result r = {0};
    pid_t workers[MAX_WORKERS] = {0};
    struct rusage ru0;
    getrusage(RUSAGE_SELF, &ru0);
    double self_before = (double)(ru0.ru_utime.tv_sec + ru0.ru_stime.tv_sec) +
                         (double)(ru0.ru_utime.tv_usec + ru0.ru_stime.tv_usec) / 1e6;
    struct harness *h = harness_new(s_relaxed ? "map_initial_bytes = 1073741824\n"
                                                "durability = relaxed\n"
                                              : "map_initial_bytes = 1073741824\n",
                                    NULL);
    if (harness_start(h, 15000) < 0) {
        fprintf(stderr, "e2e: daemon did not start\n%s", harness_daemon_log(h));
        harness_destroy(&h);
        return r;
    }
    for (unsigned i = 0; i < nworkers; i++)
        workers[i] = noop ? s_noop_worker(h, (unsigned)strtoul(s_credit, NULL, 10))
                          : worker_process_native(
                                h, AREA, (const char *[]){"--credit", s_credit, "-q", NULL});
    if (nworkers && !log_inspect_wait_kind(harness_state_dir(h), "worker_joined", AREA,
                                           (long)nworkers, 15000)) {
        fprintf(stderr, "e2e: workers did not join\n");
        goto out;
    }

    struct publisher pubs[CLIENTS];
    pthread_t threads[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        pubs[i] = (struct publisher){
            .endpoint = harness_endpoint(h), .zmq_ctx = harness_zmq_ctx(h), .n = events / CLIENTS};
        s_prepare(&pubs[i]);
    }
    for (int i = 0; i < CLIENTS; i++)
        pthread_create(&threads[i], NULL, s_publish, &pubs[i]);
    unsigned acked = 0;
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(threads[i], NULL);
        acked += pubs[i].acked;
        msgpack_sbuffer_destroy(&pubs[i].events);
        free(pubs[i].off);
    }
    if (acked != events / CLIENTS * CLIENTS) {
        fprintf(stderr, "e2e: only %u of %u events acknowledged\n", acked, events);
        goto out;
    }
    if (nworkers && !s_wait_no_pending(h, 300000)) {
        fprintf(stderr, "e2e: events did not all complete\n");
        goto out;
    }

    struct scan sc = {.cap = (size_t)events * 4 + 64,
                      .done_kind = nworkers ? "completed" : "accepted"};
    sc.t_by_seq = calloc(sc.cap, sizeof *sc.t_by_seq);
    sc.lat_ns = calloc(events, sizeof *sc.lat_ns);
    log_inspect_each(harness_state_dir(h), s_scan_one, &sc);
    if (sc.nlat == acked && sc.last_done > sc.first_pub) {
        qsort(sc.lat_ns, sc.nlat, sizeof *sc.lat_ns, bench_cmp_u64);
        r.events_per_s = sc.nlat / ((sc.last_done - sc.first_pub) / 1e9);
        r.p50_us = sc.lat_ns[sc.nlat / 2] / 1e3;
        r.p99_us = sc.lat_ns[sc.nlat * 99 / 100] / 1e3;
        r.ok = true;
    } else {
        fprintf(stderr, "e2e: %zu of %u events measured\n", sc.nlat, acked);
    }
    free(sc.t_by_seq);
    free(sc.lat_ns);
out:
    if (getenv("E2E_DAEMON_LOG")) {
        /* CPU per event of every process and thread involved (clients: this process). */
        double n = r.ok ? (double)events : 0;
        s_print_threads(harness_pid(h), n);
        char io_path[64], line[128];
        snprintf(io_path, sizeof io_path, "/proc/%d/io", (int)harness_pid(h));
        FILE *io = fopen(io_path, "r");
        while (io && fgets(line, sizeof line, io))
            if (strncmp(line, "wchar", 5) == 0 || strncmp(line, "syscw", 5) == 0 ||
                strncmp(line, "write_bytes", 11) == 0)
                fprintf(stderr, "  daemon io %.*s per event %.0f\n", (int)strcspn(line, ":"), line,
                        n > 0 ? atof(strchr(line, ':') + 1) / n : 0);
        if (io)
            fclose(io);
        for (unsigned i = 0; i < nworkers; i++)
            s_print_threads(workers[i], n);
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        double self = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                      (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
        fprintf(stderr, "  publishers (this process) %.3f s cpu  %.2f us/event\n",
                self - self_before, n > 0 ? (self - self_before) * 1e6 / n : 0);
    }
    for (unsigned i = 0; i < nworkers; i++)
        worker_process_stop(workers[i], SIGTERM);
    harness_stop(h, 30000);
    if (getenv("E2E_DAEMON_LOG")) {
        /* The daemon's own accounting of where its time went. */
        char *log = harness_daemon_log(h);
        for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n"))
            if (strstr(line, "time:") || strstr(line, "stopped:") || strstr(line, "delivery:"))
                fprintf(stderr, "  daemon: %s\n", line);
        free(log);
    }
    harness_destroy(&h);
    return r;
}

static double
s_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct scenario {
    const char *name;
    unsigned workers;
    bool noop; /* the bench's own no-op worker; else mandate-worker (generic handler) */
    double tput[MAX_RUNS], p50[MAX_RUNS], p99[MAX_RUNS];
    int n;
};

static void
s_print(struct scenario *s)
{
    if (s->n == 0) {
        printf("%-22s no successful run\n", s->name);
        return;
    }
    double lo = s->tput[0], hi = s->tput[0];
    for (int i = 1; i < s->n; i++) {
        lo = s->tput[i] < lo ? s->tput[i] : lo;
        hi = s->tput[i] > hi ? s->tput[i] : hi;
    }
    double t = s_median(s->tput, s->n);
    printf("%-22s %9.0f ev/s (%.0f-%.0f)   p50 %8.0f us   p99 %8.0f us   (%d runs)\n", s->name, t,
           lo, hi, s_median(s->p50, s->n), s_median(s->p99, s->n), s->n);
}

static void
s_usage(FILE *out)
{
    fprintf(out,
            "usage: e2e [--mandated PATH] [--worker PATH] [--runs 1..%d] [--events N]\n"
            "           [--credit 1..%d] [--relaxed] [--quick]\n",
            MAX_RUNS, MDP_CREDIT_MAX);
}

int
main(int argc, char **argv)
{
    uint64_t runs = DEFAULT_RUNS, events = DEFAULT_EVENTS, credit;
    static const struct option longopts[] = {
        {"mandated", required_argument, NULL, 'm'},
        {"worker", required_argument, NULL, 'w'},
        {"runs", required_argument, NULL, 'r'},
        {"events", required_argument, NULL, 'n'},
        {"quick", no_argument, NULL, 'q'},
        {"credit", required_argument, NULL, 'c'},
        {"relaxed", no_argument, NULL, 'x'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "m:w:r:n:qc:xh", longopts, NULL)) != -1) {
        switch (c) {
        case 'm':
            setenv("MANDATED_BIN", optarg, 1);
            break;
        case 'w':
            setenv("MANDATE_WORKER_BIN", optarg, 1);
            break;
        case 'r':
            if (text_parse_u64(optarg, 1, MAX_RUNS, &runs) < 0)
                goto usage;
            break;
        case 'n':
            if (text_parse_u64(optarg, CLIENTS, 1000000, &events) < 0)
                goto usage;
            break;
        case 'c':
            if (text_parse_u64(optarg, 1, MDP_CREDIT_MAX, &credit) < 0)
                goto usage;
            snprintf(s_credit, sizeof s_credit, "%" PRIu64, credit);
            break;
        case 'x':
            s_relaxed = true;
            break;
        case 'q':
            runs = 1;
            events = 4000;
            break;
        case 'h':
            s_usage(stdout);
            return 0;
        default:
            goto usage;
        }
    }
    if (optind != argc)
        goto usage;
    if (!getenv("MANDATE_WORKER_BIN"))
        setenv("MANDATE_WORKER_BIN", "build/mandate-worker", 1);

    struct scenario sc[] = {
        {.name = "ingest only (ACK)", .workers = 0},
        {.name = "e2e, 1 no-op worker", .workers = 1, .noop = true},
        {.name = "e2e, 2 no-op workers", .workers = 2, .noop = true},
        {.name = "e2e, 4 no-op workers", .workers = 4, .noop = true},
        {.name = "e2e, 2 mandate-workers", .workers = 2},
    };
    size_t nsc = sizeof sc / sizeof sc[0];
    printf("e2e: %" PRIu64 " events of %s per run, %d clients x window %d, workers credit %s, "
           "durability %s\n",
           events, EVENT_TYPE, CLIENTS, WINDOW, s_credit, s_relaxed ? "relaxed" : "full");
    /* Interleaved, so that drift of the machine spreads over every scenario alike. */
    for (unsigned run = 0; run < runs; run++)
        for (size_t i = 0; i < nsc; i++) {
            struct result r = s_run(sc[i].workers, sc[i].noop, (unsigned)events);
            if (!r.ok)
                continue;
            sc[i].tput[sc[i].n] = r.events_per_s;
            sc[i].p50[sc[i].n] = r.p50_us;
            sc[i].p99[sc[i].n] = r.p99_us;
            sc[i].n++;
            fprintf(stderr, "run %u %-20s %.0f ev/s p50 %.0f us p99 %.0f us\n", run + 1, sc[i].name,
                    r.events_per_s, r.p50_us, r.p99_us);
        }
    printf("\n");
    for (size_t i = 0; i < nsc; i++)
        s_print(&sc[i]);
    if (sc[0].n == 0)
        return 1;
    double base = s_median(sc[0].tput, sc[0].n);
    printf("\nthroughput against ingest only (target >= %.1f):\n", TARGET_RATIO);
    for (size_t i = 1; i < nsc; i++) {
        if (sc[i].n == 0)
            continue;
        double ratio = s_median(sc[i].tput, sc[i].n) / base;
        printf("  %-20s %.2f  %s\n", sc[i].name, ratio, ratio >= TARGET_RATIO ? "PASS" : "MISS");
    }
    return 0;

usage:
    s_usage(stderr);
    return 64;
}
