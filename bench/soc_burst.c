/*
 * bench/soc_burst: the SOC lane under a burst. 50,000 cyber.soc_alert and
 * 1,000 publishing.noncommercial_permit applications are published at once,
 * from two publishers, to the real broker with its real workers (two cyber
 * workers, credit 128 each, correlating into their shared incident store;
 * one publishing worker), durability full. It prints alerts/s (publish of
 * the first alert to completion of the last), p50/p99 publish -> completed
 * for alerts, and the permits' p50/p99 and time until the last permit
 * completed. Baselines measured in the same run: the alerts alone and the
 * permits alone; the ratios say what each load costs the other.
 *
 * Each event carries its publish time (CLOCK_REALTIME ns) in data.t (an
 * extra key, which the catalogue allows); the audit log gives each
 * completion's broker time. Runs are interleaved so that drift of the
 * machine spreads over every scenario alike; each uses a fresh state
 * directory. Alerts come from a source without a [source] section: the
 * shipped [source soc] rate limit (5,000/s) would measure the limiter.
 *
 *   bench/soc_burst [--mandated PATH] [--worker PATH] [--runs N] [--alerts N]
 *                   [--permits N] [--quick]
 */
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "bench/support/bench_stats.h"
#include "common/clock.h"
#include "proto/audit_record.h"
#include "proto/pack.h"
#include "proto/text.h"
#include "tests/support/daemon_harness.h"
#include "tests/support/log_inspect.h"
#include "tools/mandate_client.h"

#define MAX_RUNS        20
#define DEFAULT_RUNS    3
#define DEFAULT_ALERTS  50000
#define DEFAULT_PERMITS 1000
#define ASSETS          500
#define WINDOW          512
#define ALERT_TYPE      "cyber.soc_alert"
#define PERMIT_TYPE     "publishing.noncommercial_permit"

/* ------------------------------------------------------------------------ */
/* Publishing. */

struct publisher {
    struct harness *h;
    bool alerts; /* else permits */
    unsigned n;
    unsigned acked, nacked;
};

static void
s_on_reply(void *arg, const struct mep_reply *r, void *user)
{
    (void)user;
    struct publisher *p = arg;
    if (r->is_ack)
        p->acked++;
    else
        p->nacked++;
}

static void
s_pack_alert(msgpack_packer *pk, unsigned i, uint64_t t)
{
    static const char *const formats[] = {"wazuh", "cef", "ocsf", "misp"};
    static const int severity[] = {9, 6, 3, 3}; /* P3, P3, P3, P4: no escalation storm */
    char asset[32];
    snprintf(asset, sizeof asset, "host-%03u", i % ASSETS);
    msgpack_pack_map(pk, 7);
    pack_cstr(pk, "format");
    pack_cstr(pk, formats[i % 4]);
    pack_cstr(pk, "time");
    msgpack_pack_uint64(pk, t / 1000000u);
    pack_cstr(pk, "asset");
    pack_cstr(pk, asset);
    pack_cstr(pk, "rule");
    pack_cstr(pk, "bench rule");
    pack_cstr(pk, "severity_raw");
    msgpack_pack_int(pk, severity[i % 4]);
    pack_cstr(pk, "observables");
    msgpack_pack_array(pk, 1);
    pack_cstr(pk, "203.0.113.9");
    pack_cstr(pk, "t");
    msgpack_pack_uint64(pk, t);
}

static void
s_pack_permit(msgpack_packer *pk, unsigned i, uint64_t t)
{
    char title[48];
    snprintf(title, sizeof title, "Kỷ yếu %u", i);
    msgpack_pack_map(pk, 4);
    pack_cstr(pk, "applicant");
    pack_cstr(pk, "Hội Văn học nghệ thuật");
    pack_cstr(pk, "title");
    pack_cstr(pk, title);
    pack_cstr(pk, "manuscripts");
    msgpack_pack_uint32(pk, 2);
    pack_cstr(pk, "t");
    msgpack_pack_uint64(pk, t);
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
    struct mandate_client *cl = mandate_client_new(harness_endpoint(p->h), &o);
    if (!cl)
        return NULL;
    msgpack_sbuffer data;
    msgpack_packer pk;
    msgpack_sbuffer_init(&data);
    for (unsigned i = 0; i < p->n; i++) {
        uint8_t id[16];
        mandate_new_id(id);
        uint64_t t = realtime_ns();
        msgpack_sbuffer_clear(&data);
        msgpack_packer_init(&pk, &data, pack_sbuffer_write);
        if (p->alerts)
            s_pack_alert(&pk, i, t);
        else
            s_pack_permit(&pk, i, t);
        struct envelope_fields f = {.id = id,
                                    .type = p->alerts ? ALERT_TYPE : PERMIT_TYPE,
                                    .source = p->alerts ? "soc-bench" : "hoi-van-hoc",
                                    .time_ms = t / 1000000u,
                                    .data = data.data,
                                    .data_len = data.size};
        if (mandate_client_publish(cl, &f, NULL) < 0)
            break;
    }
    mandate_client_flush(cl, 300000);
    mandate_client_destroy(&cl);
    msgpack_sbuffer_destroy(&data);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Reading the log back. */

struct lane {
    uint64_t *lat_ns;
    size_t nlat, cap;
    uint64_t first_pub, last_done;
};

struct scan {
    uint64_t *t_by_seq;   /* publish time of our events, by seq */
    uint8_t *lane_by_seq; /* 1 alert, 2 permit */
    size_t cap;
    struct lane lanes[3];
};

static uint64_t
s_data_t(const msgpack_object *ev)
{
    for (uint32_t i = 0; ev && ev->type == MSGPACK_OBJECT_MAP && i < ev->via.map.size; i++) {
        const msgpack_object_kv *kv = &ev->via.map.ptr[i];
        if (!pack_str_is(&kv->key, "data") || kv->val.type != MSGPACK_OBJECT_MAP)
            continue;
        for (uint32_t k = 0; k < kv->val.via.map.size; k++)
            if (pack_str_is(&kv->val.via.map.ptr[k].key, "t") &&
                kv->val.via.map.ptr[k].val.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
                return kv->val.via.map.ptr[k].val.via.u64;
    }
    return 0;
}

static bool
s_scan_one(uint64_t seq, const struct audit_record *rec, const void *b, size_t l, void *arg)
{
    (void)b;
    (void)l;
    struct scan *s = arg;
    if (!rec || seq >= s->cap)
        return true;
    if (strcmp(rec->kind, "accepted") == 0) {
        const msgpack_object *type = audit_record_field(rec, "type");
        int lane = pack_str_is(type, ALERT_TYPE) ? 1 : pack_str_is(type, PERMIT_TYPE) ? 2 : 0;
        uint64_t t = lane ? s_data_t(audit_record_field(rec, "event")) : 0;
        if (t) {
            s->t_by_seq[seq] = t;
            s->lane_by_seq[seq] = (uint8_t)lane;
            struct lane *ln = &s->lanes[lane];
            if (!ln->first_pub || t < ln->first_pub)
                ln->first_pub = t;
        }
        return true;
    }
    if (strcmp(rec->kind, "completed") != 0)
        return true;
    const msgpack_object *ev = audit_record_field(rec, "event_seq");
    if (!ev || ev->type != MSGPACK_OBJECT_POSITIVE_INTEGER || ev->via.u64 >= s->cap)
        return true;
    uint64_t e = ev->via.u64;
    struct lane *ln = &s->lanes[s->lane_by_seq[e]];
    if (s->lane_by_seq[e] && rec->at_ns > s->t_by_seq[e] && ln->nlat < ln->cap) {
        ln->lat_ns[ln->nlat++] = rec->at_ns - s->t_by_seq[e];
        if (rec->at_ns > ln->last_done)
            ln->last_done = rec->at_ns;
    }
    return true;
}

/* ------------------------------------------------------------------------ */
/* One run. */

struct result {
    bool ok;
    double alerts_per_s, alert_p50_ms, alert_p99_ms;
    double permit_p50_ms, permit_p99_ms, permits_done_ms;
};

static void
s_lane_figures(struct lane *ln, double *p50, double *p99)
{
    qsort(ln->lat_ns, ln->nlat, sizeof *ln->lat_ns, bench_cmp_u64);
    *p50 = (double)ln->lat_ns[ln->nlat / 2] / 1e6;
    *p99 = (double)ln->lat_ns[ln->nlat * 99 / 100] / 1e6;
}

static struct result
s_run(unsigned alerts, unsigned permits)
{
    struct result r = {0};
    struct harness *h = harness_new("map_initial_bytes = 1073741824\n", NULL);
    harness_config_area(h, "cyber", "spawn", "yes");
    harness_config_area(h, "cyber", "workers", "2");
    harness_config_area(h, "publishing", "spawn", "yes");
    if (harness_start(h, 15000) < 0 ||
        !log_inspect_wait_kind(harness_state_dir(h), "worker_joined", NULL, 3, 15000)) {
        fprintf(stderr, "soc_burst: daemon or workers did not start\n%s", harness_daemon_log(h));
        harness_destroy(&h);
        return r;
    }
    struct publisher pubs[2] = {{.h = h, .alerts = true, .n = alerts},
                                {.h = h, .alerts = false, .n = permits}};
    pthread_t threads[2];
    for (int i = 0; i < 2; i++)
        if (pubs[i].n)
            pthread_create(&threads[i], NULL, s_publish, &pubs[i]);
    for (int i = 0; i < 2; i++)
        if (pubs[i].n)
            pthread_join(threads[i], NULL);
    if (pubs[0].acked != alerts || pubs[1].acked != permits) {
        fprintf(stderr, "soc_burst: %u/%u alerts and %u/%u permits acknowledged\n", pubs[0].acked,
                alerts, pubs[1].acked, permits);
        goto out;
    }
    if (!log_inspect_wait_empty(harness_state_dir(h), "pending", 600000)) {
        fprintf(stderr, "soc_burst: events did not all complete\n");
        goto out;
    }
    struct scan sc = {.cap = ((size_t)alerts + permits) * 8 + 1024};
    sc.t_by_seq = calloc(sc.cap, sizeof *sc.t_by_seq);
    sc.lane_by_seq = calloc(sc.cap, 1);
    sc.lanes[1] = (struct lane){.lat_ns = calloc(alerts + 1, 8), .cap = alerts};
    sc.lanes[2] = (struct lane){.lat_ns = calloc(permits + 1, 8), .cap = permits};
    log_inspect_each(harness_state_dir(h), s_scan_one, &sc);
    struct lane *a = &sc.lanes[1], *p = &sc.lanes[2];
    if (a->nlat == alerts && p->nlat == permits) {
        r.ok = true;
        if (alerts) {
            s_lane_figures(a, &r.alert_p50_ms, &r.alert_p99_ms);
            r.alerts_per_s = alerts / ((double)(a->last_done - a->first_pub) / 1e9);
        }
        if (permits) {
            s_lane_figures(p, &r.permit_p50_ms, &r.permit_p99_ms);
            r.permits_done_ms = (double)(p->last_done - p->first_pub) / 1e6;
        }
    } else {
        fprintf(stderr, "soc_burst: measured %zu/%u alerts, %zu/%u permits\n", a->nlat, alerts,
                p->nlat, permits);
    }
    free(sc.t_by_seq);
    free(sc.lane_by_seq);
    free(a->lat_ns);
    free(p->lat_ns);
out:
    harness_stop(h, 60000);
    harness_destroy(&h);
    return r;
}

/* ------------------------------------------------------------------------ */
/* Figures. */

struct series {
    double v[MAX_RUNS];
    int n;
};

static double
s_median(const struct series *s)
{
    double v[MAX_RUNS];
    memcpy(v, s->v, sizeof v);
    qsort(v, (size_t)s->n, sizeof *v, bench_cmp_double);
    return s->n % 2 ? v[s->n / 2] : (v[s->n / 2 - 1] + v[s->n / 2]) / 2;
}

static void
s_print(const char *label, const char *unit, const struct series *s)
{
    if (!s->n) {
        printf("  %-34s no successful run\n", label);
        return;
    }
    double lo = s->v[0], hi = s->v[0];
    for (int i = 1; i < s->n; i++) {
        lo = s->v[i] < lo ? s->v[i] : lo;
        hi = s->v[i] > hi ? s->v[i] : hi;
    }
    printf("  %-34s %10.1f %-8s (%.1f-%.1f, %d runs)\n", label, s_median(s), unit, lo, hi, s->n);
}

static void
s_add(struct series *s, double v)
{
    s->v[s->n++] = v;
}

int
main(int argc, char **argv)
{
    uint64_t runs = DEFAULT_RUNS, alerts = DEFAULT_ALERTS, permits = DEFAULT_PERMITS;
    static const struct option longopts[] = {
        {"mandated", required_argument, NULL, 'm'}, {"worker", required_argument, NULL, 'w'},
        {"runs", required_argument, NULL, 'r'},     {"alerts", required_argument, NULL, 'a'},
        {"permits", required_argument, NULL, 'p'},  {"quick", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "m:w:r:a:p:qh", longopts, NULL)) != -1) {
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
        case 'a':
            if (text_parse_u64(optarg, 1, 10000000, &alerts) < 0)
                goto usage;
            break;
        case 'p':
            if (text_parse_u64(optarg, 1, 1000000, &permits) < 0)
                goto usage;
            break;
        case 'q':
            runs = 1;
            alerts = 5000;
            permits = 200;
            break;
        case 'h':
            printf("usage: soc_burst [--mandated PATH] [--worker PATH] [--runs 1..%d] "
                   "[--alerts N] [--permits N] [--quick]\n",
                   MAX_RUNS);
            return 0;
        default:
            goto usage;
        }
    }
    if (optind != argc)
        goto usage;
    if (!getenv("MANDATED_BIN"))
        setenv("MANDATED_BIN", "build/mandated", 1);

    struct series alone_rate = {0}, alone_p50 = {0}, alone_p99 = {0};
    struct series burst_rate = {0}, burst_p50 = {0}, burst_p99 = {0};
    struct series palone_p50 = {0}, palone_p99 = {0}, palone_done = {0};
    struct series pburst_p50 = {0}, pburst_p99 = {0}, pburst_done = {0};
    printf("soc_burst: %" PRIu64 " alerts over %d assets + %" PRIu64
           " permit applications at once; 2 cyber workers (credit 128), 1 publishing worker; "
           "durability full\n",
           alerts, ASSETS, permits);
    for (unsigned run = 0; run < runs; run++) {
        struct result a = s_run((unsigned)alerts, 0);
        if (a.ok) {
            s_add(&alone_rate, a.alerts_per_s);
            s_add(&alone_p50, a.alert_p50_ms);
            s_add(&alone_p99, a.alert_p99_ms);
        }
        struct result p = s_run(0, (unsigned)permits);
        if (p.ok) {
            s_add(&palone_p50, p.permit_p50_ms);
            s_add(&palone_p99, p.permit_p99_ms);
            s_add(&palone_done, p.permits_done_ms);
        }
        struct result b = s_run((unsigned)alerts, (unsigned)permits);
        if (b.ok) {
            s_add(&burst_rate, b.alerts_per_s);
            s_add(&burst_p50, b.alert_p50_ms);
            s_add(&burst_p99, b.alert_p99_ms);
            s_add(&pburst_p50, b.permit_p50_ms);
            s_add(&pburst_p99, b.permit_p99_ms);
            s_add(&pburst_done, b.permits_done_ms);
        }
        fprintf(stderr,
                "run %u: alone %.0f alerts/s p99 %.0f ms | permits alone p99 %.0f ms | burst "
                "%.0f alerts/s p99 %.0f ms, permits p99 %.0f ms, all done in %.0f ms\n",
                run + 1, a.alerts_per_s, a.alert_p99_ms, p.permit_p99_ms, b.alerts_per_s,
                b.alert_p99_ms, b.permit_p99_ms, b.permits_done_ms);
    }
    printf("\nthe burst (alerts and permits at once):\n");
    s_print("alerts/s", "", &burst_rate);
    s_print("alert publish -> completed p50", "ms", &burst_p50);
    s_print("alert publish -> completed p99", "ms", &burst_p99);
    s_print("permit publish -> completed p50", "ms", &pburst_p50);
    s_print("permit publish -> completed p99", "ms", &pburst_p99);
    s_print("all permits completed after", "ms", &pburst_done);
    printf("\nbaselines (same run):\n");
    s_print("alerts alone: alerts/s", "", &alone_rate);
    s_print("alerts alone: p99", "ms", &alone_p99);
    s_print("permits alone: p99", "ms", &palone_p99);
    s_print("permits alone: all completed after", "ms", &palone_done);
    if (burst_rate.n && alone_rate.n)
        printf("\nalerts/s, burst against alone:             %.2f\n",
               s_median(&burst_rate) / s_median(&alone_rate));
    if (pburst_done.n && palone_done.n)
        printf("permits' completion time, burst against alone: %.2f\n",
               s_median(&pburst_done) / s_median(&palone_done));
    return burst_rate.n ? 0 : 1;

usage:
    fprintf(stderr, "usage: soc_burst [--mandated PATH] [--worker PATH] [--runs N] [--alerts N] "
                    "[--permits N] [--quick]\n");
    return 64;
}
