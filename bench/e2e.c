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
 *   bench/e2e [--mandated PATH] [--worker PATH] [--runs N] [--events N] [--quick]
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "proto/audit_record.h"
#include "tests/support/daemon_harness.h"
#include "tests/support/log_inspect.h"
#include "tests/support/worker_process.h"
#include "tools/mandate_client.h"

#define CLIENTS        8
#define WINDOW         125
#define CREDIT         "64"
#define AREA           "press"
#define EVENT_TYPE     "press.conference_notice"
#define MAX_WORKERS    4
#define MAX_RUNS       20
#define TARGET_RATIO   0.5
#define DEFAULT_RUNS   5
#define DEFAULT_EVENTS 40000

static uint64_t
s_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct publisher {
    const char *endpoint;
    unsigned n;
    unsigned acked;
    uint64_t last_ack_ns;
};

static void
s_on_reply(void *arg, const struct mep_reply *r, void *user)
{
    struct publisher *p = arg;
    if (r->is_ack)
        p->acked++;
    p->last_ack_ns = s_now_ns();
}

static void *
s_publish(void *arg)
{
    struct publisher *p = arg;
    struct mandate_client_options o;
    mandate_client_options_init(&o);
    o.window = WINDOW;
    o.on_reply = s_on_reply;
    o.cb_arg = p;
    o.timeout_ms = 10000;
    struct mandate_client *c = mandate_client_new(p->endpoint, &o);
    if (!c)
        return NULL;
    for (unsigned i = 0; i < p->n; i++) {
        uint8_t id[16], data[32];
        getrandom(id, sizeof id, 0);
        /* data = {"t": publish time}: fixed-size uint64 so every event has one size. */
        size_t len = 0;
        uint64_t t = s_now_ns();
        data[len++] = 0x81;
        data[len++] = 0xa1;
        data[len++] = 't';
        data[len++] = 0xcf;
        for (int b = 7; b >= 0; b--)
            data[len++] = (uint8_t)(t >> (8 * b));
        struct envelope_fields f = {.id = id,
                                    .type = EVENT_TYPE,
                                    .source = "bench",
                                    .time_ms = t / 1000000u,
                                    .data = data,
                                    .data_len = len};
        if (mandate_client_publish(c, &f, NULL) < 0)
            break;
    }
    mandate_client_flush(c, 60000);
    mandate_client_destroy(&c);
    return NULL;
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
                kv->val.via.map.size != 1)
                continue;
            s->t_by_seq[seq] = kv->val.via.map.ptr[0].val.via.u64;
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

static int
s_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int
s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
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
s_run(unsigned nworkers, unsigned events)
{
    struct result r = {0};
    pid_t workers[MAX_WORKERS] = {0};
    struct harness *h = harness_new(getenv("E2E_BROKER_EXTRA") ? getenv("E2E_BROKER_EXTRA")
                                                               : "map_initial_bytes = 1073741824\n",
                                    NULL);
    if (harness_start(h, 15000) < 0) {
        fprintf(stderr, "e2e: daemon did not start\n%s", harness_daemon_log(h));
        harness_destroy(&h);
        return r;
    }
    for (unsigned i = 0; i < nworkers; i++)
        workers[i] =
            worker_process_native(h, AREA, (const char *[]){"--credit", CREDIT, "-q", NULL});
    if (nworkers && !log_inspect_wait_kind(harness_state_dir(h), "worker_joined", AREA,
                                           (long)nworkers, 15000)) {
        fprintf(stderr, "e2e: workers did not join\n");
        goto out;
    }

    struct publisher pubs[CLIENTS];
    pthread_t threads[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        pubs[i] = (struct publisher){.endpoint = harness_endpoint(h), .n = events / CLIENTS};
        pthread_create(&threads[i], NULL, s_publish, &pubs[i]);
    }
    unsigned acked = 0;
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(threads[i], NULL);
        acked += pubs[i].acked;
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
        qsort(sc.lat_ns, sc.nlat, sizeof *sc.lat_ns, s_cmp_u64);
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
    for (unsigned i = 0; i < nworkers; i++)
        worker_process_stop(workers[i], SIGTERM);
    if (getenv("E2E_DAEMON_LOG"))
        s_print_threads(harness_pid(h), r.events_per_s > 0 ? (double)events : 0);
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
    qsort(v, (size_t)n, sizeof *v, s_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct scenario {
    const char *name;
    unsigned workers;
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
            "usage: e2e [--mandated PATH] [--worker PATH] [--runs N] [--events N] [--quick]\n");
}

int
main(int argc, char **argv)
{
    int runs = DEFAULT_RUNS;
    unsigned events = DEFAULT_EVENTS;
    static const struct option longopts[] = {
        {"mandated", required_argument, NULL, 'm'},
        {"worker", required_argument, NULL, 'w'},
        {"runs", required_argument, NULL, 'r'},
        {"events", required_argument, NULL, 'n'},
        {"quick", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "m:w:r:n:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'm':
            setenv("MANDATED_BIN", optarg, 1);
            break;
        case 'w':
            setenv("MANDATE_WORKER_BIN", optarg, 1);
            break;
        case 'r':
            runs = atoi(optarg);
            break;
        case 'n':
            events = (unsigned)atoi(optarg);
            break;
        case 'q':
            runs = 1;
            events = 4000;
            break;
        case 'h':
            s_usage(stdout);
            return 0;
        default:
            s_usage(stderr);
            return 64;
        }
    }
    if (runs < 1 || runs > MAX_RUNS || events < CLIENTS || events > 1000000) {
        s_usage(stderr);
        return 64;
    }
    if (!getenv("MANDATE_WORKER_BIN"))
        setenv("MANDATE_WORKER_BIN", "build/mandate-worker", 1);

    struct scenario sc[] = {
        {.name = "ingest only (ACK)", .workers = 0},
        {.name = "e2e, 1 worker", .workers = 1},
        {.name = "e2e, 2 workers", .workers = 2},
        {.name = "e2e, 4 workers", .workers = 4},
    };
    size_t nsc = sizeof sc / sizeof sc[0];
    printf("e2e: %u events of %s per run, %d clients x window %d, workers credit %s, "
           "durability full\n",
           events, EVENT_TYPE, CLIENTS, WINDOW, CREDIT);
    /* Interleaved, so that drift of the machine spreads over every scenario alike. */
    for (int run = 0; run < runs; run++)
        for (size_t i = 0; i < nsc; i++) {
            struct result r = s_run(sc[i].workers, events);
            if (!r.ok)
                continue;
            sc[i].tput[sc[i].n] = r.events_per_s;
            sc[i].p50[sc[i].n] = r.p50_us;
            sc[i].p99[sc[i].n] = r.p99_us;
            sc[i].n++;
            fprintf(stderr, "run %d %-20s %.0f ev/s p50 %.0f us p99 %.0f us\n", run + 1, sc[i].name,
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
}
