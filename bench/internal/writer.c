/*
 * writer: what the broker's writer thread costs per event, apart from the
 * network and the event loop: batches of the 300-byte bench event written
 * through daemon/acceptance (claim the id, append the `accepted` record with
 * its chain hash, put the pending entry) and committed with fsync, against
 * the minimal durable write (the bare body appended to one LMDB table, one
 * fsync'd commit per batch) in the same run, interleaved.
 *
 * It splits each side into the puts (CPU inside the transaction) and the
 * commit (page writes and fsyncs), the two halves of the writer's cycle
 * that bench/ingest shows only as a whole, so that a change to either can
 * be measured without the noise of sockets and scheduling.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>

#include <lmdb.h>

#include "bench/support/bench_event.h"
#include "bench/support/bench_machine.h"
#include "bench/support/bench_stats.h"
#include "common/clock.h"
#include "daemon/acceptance.h"
#include "daemon/audit_log.h"
#include "proto/pack.h"
#include "proto/text.h"
#include "tests/support/daemon_harness.h"

#define MAX_RUNS        50
#define DEFAULT_RUNS    5
#define DEFAULT_BATCHES 2000
#define DEFAULT_BATCH   480 /* about what bench/ingest's 8x125 commits at once */
#define MAP_BYTES       ((uint64_t)16 << 30)

struct options {
    int runs;
    size_t batches, batch;
};

/* One run of one side: microseconds per event in the puts and in the commits. */
struct result {
    double puts_us, commit_us;
};

static double
s_total(const struct result *r)
{
    return r->puts_us + r->commit_us;
}

/* The bench event with its id's index set to n: every event new. */
static void
s_event(uint8_t ev[BENCH_EVENT_BYTES], size_t id_at, uint32_t n)
{
    bench_event_id_set_index(ev + id_at, n);
}

static int
s_mkdtemp(char *dir, size_t size, const char *prefix, char *err, size_t errlen)
{
    if (harness_mkdtemp(dir, size, prefix) == 0)
        return 0;
    snprintf(err, errlen, "mkdtemp: %s", strerror(errno));
    return -1;
}

static void
s_per_event(const struct options *o, uint64_t puts_ns, uint64_t commit_ns, struct result *ret)
{
    double events = (double)o->batches * (double)o->batch;
    ret->puts_us = (double)puts_ns / 1e3 / events;
    ret->commit_us = (double)commit_ns / 1e3 / events;
}

static int
s_run_mandated(const struct options *o, const uint8_t *tmpl, size_t id_at, struct result *ret,
               char *err, size_t errlen)
{
    char dir[512];
    if (s_mkdtemp(dir, sizeof dir, "bench-writer", err, errlen) < 0)
        return -EIO;
    const struct audit_log_options lo = {
        .durable = true, .map_initial = MAP_BYTES, .map_max = MAP_BYTES};
    struct audit_log *log = NULL;
    int rc = audit_log_open(dir, &lo, &log, err, errlen);
    /* Each batch's records are prepared first, untimed, as ingress does on
     * the loop thread while the writer works (proto/audit_record.h). */
    uint8_t *evs = malloc(o->batch * BENCH_EVENT_BYTES);
    struct audit_prepared *preps = calloc(o->batch, sizeof *preps);
    msgpack_sbuffer fields, heads;
    msgpack_sbuffer_init(&fields);
    msgpack_sbuffer_init(&heads);
    if (!evs || !preps) {
        snprintf(err, errlen, "out of memory");
        rc = -ENOMEM;
    }
    for (size_t i = 0; rc == 0 && i < o->batch; i++)
        memcpy(evs + i * BENCH_EVENT_BYTES, tmpl, BENCH_EVENT_BYTES);
    uint64_t puts_ns = 0, commit_ns = 0;
    uint32_t n = 0;
    for (size_t b = 0; rc == 0 && b < o->batches; b++) {
        msgpack_sbuffer_clear(&heads);
        for (size_t i = 0; i < o->batch; i++) {
            uint8_t *ev = evs + i * BENCH_EVENT_BYTES;
            s_event(ev, id_at, n++);
            msgpack_packer pk;
            msgpack_sbuffer_clear(&fields);
            msgpack_packer_init(&pk, &fields, pack_sbuffer_write);
            const struct audit_accepted a = {
                .area = "press", .event = ev, .event_len = BENCH_EVENT_BYTES};
            unsigned nf = audit_pack_accepted(&pk, &a);
            audit_prepared_set(&preps[i], &heads, fields.data, fields.size, nf);
        }
        uint64_t t0 = monotonic_ns();
        rc = audit_log_begin(log);
        for (size_t i = 0; rc == 0 && i < o->batch; i++) {
            const uint8_t *ev = evs + i * BENCH_EVENT_BYTES;
            const struct audit_accepted a = {.id = ev + id_at,
                                             .area = "press",
                                             .event = ev,
                                             .event_len = BENCH_EVENT_BYTES,
                                             .prepared = &preps[i]};
            uint64_t seq;
            bool dup;
            rc = acceptance_write(log, &a, NULL, &seq, &dup);
            if (rc == 0 && dup)
                rc = -EEXIST;
        }
        uint64_t t1 = monotonic_ns();
        if (rc == 0)
            rc = audit_log_commit(log);
        else
            audit_log_abort(log);
        puts_ns += t1 - t0;
        commit_ns += monotonic_ns() - t1;
    }
    if (rc < 0 && !err[0])
        snprintf(err, errlen, "audit log: %s", strerror(-rc));
    free(preps);
    msgpack_sbuffer_destroy(&heads);
    free(evs);
    msgpack_sbuffer_destroy(&fields);
    audit_log_destroy(&log);
    harness_rm_rf(dir);
    s_per_event(o, puts_ns, commit_ns, ret);
    return rc;
}

/* The minimal loop's writing: the bare body, MDB_APPEND, one fsync'd commit per batch. */
static int
s_run_baseline(const struct options *o, const uint8_t *tmpl, size_t id_at, struct result *ret,
               char *err, size_t errlen)
{
    char dir[512];
    if (s_mkdtemp(dir, sizeof dir, "bench-writer-base", err, errlen) < 0)
        return -EIO;
    MDB_env *env = NULL;
    MDB_dbi dbi;
    MDB_txn *txn;
    uint8_t ev[BENCH_EVENT_BYTES], key[8];
    uint64_t puts_ns = 0, commit_ns = 0, seq = 0;
    uint32_t n = 0;
    memcpy(ev, tmpl, sizeof ev);
    int rc = mdb_env_create(&env);
    if (rc == 0)
        rc = mdb_env_set_mapsize(env, MAP_BYTES);
    if (rc == 0)
        rc = mdb_env_open(env, dir, 0, 0600);
    if (rc == 0 && (rc = mdb_txn_begin(env, NULL, 0, &txn)) == 0) {
        rc = mdb_dbi_open(txn, NULL, 0, &dbi);
        if (rc == 0)
            rc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
    }
    for (size_t b = 0; rc == 0 && b < o->batches; b++) {
        uint64_t t0 = monotonic_ns();
        rc = mdb_txn_begin(env, NULL, 0, &txn);
        if (rc)
            break;
        for (size_t i = 0; rc == 0 && i < o->batch; i++) {
            s_event(ev, id_at, n++);
            seq++;
            for (int k = 0; k < 8; k++)
                key[k] = (uint8_t)(seq >> (56 - 8 * k));
            MDB_val k = {.mv_size = 8, .mv_data = key}, v = {.mv_size = sizeof ev, .mv_data = ev};
            rc = mdb_put(txn, dbi, &k, &v, MDB_APPEND);
        }
        uint64_t t1 = monotonic_ns();
        if (rc == 0)
            rc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
        puts_ns += t1 - t0;
        commit_ns += monotonic_ns() - t1;
    }
    if (rc)
        snprintf(err, errlen, "baseline LMDB: %s", mdb_strerror(rc));
    if (env)
        mdb_env_close(env);
    harness_rm_rf(dir);
    s_per_event(o, puts_ns, commit_ns, ret);
    return rc ? -EIO : 0;
}

static void
s_usage(FILE *out)
{
    fprintf(out,
            "usage: writer [--runs N] [--batches N] [--batch N]\n"
            "  --runs N       runs of each side, interleaved, 3..%d (default %d)\n"
            "  --batches N    commits per run (default %d)\n"
            "  --batch N      events per commit (default %d)\n"
            "Prints, per side, microseconds per event in the puts, in the commit, and in all,\n"
            "median (min..max) over the runs, and mandated's cost over the baseline's.\n",
            MAX_RUNS, DEFAULT_RUNS, DEFAULT_BATCHES, DEFAULT_BATCH);
}

static int
s_parse_args(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {{"runs", required_argument, NULL, 'r'},
                                             {"batches", required_argument, NULL, 'b'},
                                             {"batch", required_argument, NULL, 'n'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    uint64_t v;
    int opt;
    *o = (struct options){.runs = DEFAULT_RUNS, .batches = DEFAULT_BATCHES, .batch = DEFAULT_BATCH};
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'r':
            if (text_parse_u64(optarg, 3, MAX_RUNS, &v) < 0)
                goto bad;
            o->runs = (int)v;
            break;
        case 'b':
            if (text_parse_u64(optarg, 1, 1000000, &v) < 0)
                goto bad;
            o->batches = (size_t)v;
            break;
        case 'n':
            if (text_parse_u64(optarg, 1, 100000, &v) < 0)
                goto bad;
            o->batch = (size_t)v;
            break;
        case 'h':
            s_usage(stdout);
            exit(EX_OK);
        default:
            s_usage(stderr);
            return -EINVAL;
        }
    }
    if (optind == argc)
        return 0;
    fprintf(stderr, "writer: unexpected argument '%s'\n", argv[optind]);
    s_usage(stderr);
    return -EINVAL;
bad:
    fprintf(stderr, "writer: bad value '%s'\n", optarg);
    s_usage(stderr);
    return -EINVAL;
}

static struct bench_spread
s_spread(const struct result *r, int n, double (*pick)(const struct result *))
{
    double v[MAX_RUNS];
    for (int i = 0; i < n; i++)
        v[i] = pick(&r[i]);
    return bench_spread_of(v, n);
}

static double
s_puts(const struct result *r)
{
    return r->puts_us;
}

static double
s_commit(const struct result *r)
{
    return r->commit_us;
}

static void
s_print_side(const char *name, const struct result *r, int n)
{
    static const struct {
        const char *what;
        double (*pick)(const struct result *);
    } parts[] = {{"puts", s_puts}, {"commit", s_commit}, {"total", s_total}};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        struct bench_spread s = s_spread(r, n, parts[i].pick);
        printf("  %-9s %-7s %7.2f µs/event  (%.2f .. %.2f)\n", name, parts[i].what, s.median, s.min,
               s.max);
        printf("BENCH writer %s.%s_us_per_event median=%.3f min=%.3f max=%.3f runs=%d\n", name,
               parts[i].what, s.median, s.min, s.max, n);
    }
}

int
main(int argc, char **argv)
{
    struct options o;
    if (s_parse_args(argc, argv, &o) < 0)
        return EX_USAGE;
    uint8_t tmpl[BENCH_EVENT_BYTES];
    size_t id_at;
    if (bench_event_make(tmpl, 1, 0, 0) < 0 || bench_event_find_id(tmpl, 1, 0, 0, &id_at) < 0) {
        fprintf(stderr, "writer: cannot make a %d-byte envelope\n", BENCH_EVENT_BYTES);
        return EX_SOFTWARE;
    }
    printf("mandated writer benchmark\n");
    printf("  disk       %s: %s\n", bench_tmpdir(), bench_fs_type(bench_tmpdir()));
    printf("  load       %d runs a side, interleaved; per run %zu commits of %zu events "
           "(%d-byte envelope, ids in order)\n",
           o.runs, o.batches, o.batch, BENCH_EVENT_BYTES);
    bench_print_busy("before the first run", bench_busy_cores());
    bench_print_tmpfs_warning();
    fflush(stdout);

    struct result m[MAX_RUNS], b[MAX_RUNS];
    double ratio[MAX_RUNS];
    char err[256] = "";
    for (int i = 0; i < o.runs; i++) {
        if (s_run_mandated(&o, tmpl, id_at, &m[i], err, sizeof err) < 0 ||
            s_run_baseline(&o, tmpl, id_at, &b[i], err, sizeof err) < 0) {
            fprintf(stderr, "writer: %s\n", err);
            return EX_SOFTWARE;
        }
        ratio[i] = s_total(&m[i]) / s_total(&b[i]);
        fprintf(stderr, "[run %d/%d] mandated %.2f + %.2f µs/event, baseline %.2f + %.2f\n", i + 1,
                o.runs, m[i].puts_us, m[i].commit_us, b[i].puts_us, b[i].commit_us);
    }
    s_print_side("mandated", m, o.runs);
    s_print_side("baseline", b, o.runs);
    struct bench_spread r = bench_spread_of(ratio, o.runs);
    printf("  mandated / baseline, per run: %.2f (%.2f .. %.2f)\n", r.median, r.min, r.max);
    printf("BENCH writer ratio.total median=%.3f min=%.3f max=%.3f runs=%d\n", r.median, r.min,
           r.max, o.runs);
    bench_print_busy("after the last run", bench_busy_cores());
    return EX_OK;
}
