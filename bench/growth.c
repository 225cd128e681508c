/*
 * growth: does the broker's cost stay flat as the work grows? One long run
 * per kind of event id (UUIDv4, random; UUIDv7, time-ordered) publishes
 * --events events (default 20 million) from 8 DEALERs with 125 in flight
 * each into one daemon (durability = full, no workers: every event stays
 * pending), and prints the rate of every million, the daemon's anonymous
 * memory sampled every second, how long the daemon takes to be ready again
 * on that state, and how fast `mandatectl verify` checks the final log.
 * Before those, a separate state of 1,000,000 pending events is restarted
 * three times: the restart target (a state of its own, so that no restart
 * cuts a growth run's series). bench/README.md says how to read it.
 *
 * Everything it starts it also stops, by pid: the daemons and mandatectl
 * (which also die with this process), and a watchdog alarm bounds the run.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>
#include <zmq.h>

#include "bench/support/bench_event.h"
#include "bench/support/bench_cgroup.h"
#include "bench/support/bench_machine.h"
#include "bench/support/bench_mep.h"
#include "bench/support/bench_proc.h"
#include "bench/support/bench_spawn.h"
#include "bench/support/bench_stats.h"
#include "bench/support/bench_stop.h"
#include "bench/support/bench_uuid.h"
#include "common/clock.h"
#include "proto/mep.h"
#include "proto/text.h"
#include "tests/support/daemon_harness.h"
#include "tests/support/log_inspect.h"

#define MILLION           1000000u
#define CLIENTS           8
#define WINDOW            125
#define WARMUP_PER_CLIENT 10     /* lock-step, before the clock starts: connections up */
#define INFLIGHT_CAP      256    /* a power of two, over twice WINDOW: probes stay short */
#define REPLY_TIMEOUT_MS  30000  /* a commit on a many-GB log may be slow; a hang is not */
#define POLL_SLICE_MS     200    /* how soon a client notices an interruption */
#define DAEMON_START_MS   120000 /* a restart on 20 million pending events may be slow */
#define DAEMON_STOP_MS    60000
#define RSS_PERIOD_MS     1000
#define FIRST_TOUCH_MIB   256

#define DEFAULT_EVENTS   20000000u
#define QUICK_EVENTS     2000000u
#define MIN_EVENTS       2000000u /* first and last million are then distinct */
#define MAX_EVENTS       1000000000u
#define DEFAULT_MAX_SECS 7200     /* a full run with random ids on a busy 2-core VM: see README */
#define RESTART_EVENTS   1000000u /* the pending events of the restart target */
#define RESTARTS         3
/* Random ids: a start reads `pending` (by seq) and, since format 4, the ids
 * of ids_new back into memory, which holds up to ids_in_memory of them only
 * when the ids are random. */
#define RESTART_IDS ID_V4
#define VERIFY_RUNS 3

/* What one run's state takes on disk, with room: measured about 620 B an event
 * with sequential ids (bench/README.md); random ids leave B-tree pages part full. */
#define DISK_PER_EVENT 1024u
#define DISK_SPARE     ((uint64_t)1 << 30)

#define TARGET_RATIO    0.9
#define TARGET_READY_MS 1000.0
#define TARGET_VERIFY   1000000.0

enum id_kind { ID_V4, ID_V7, ID_KINDS };

static const char *const g_kind_key[ID_KINDS] = {"v4", "v7"};
static const char *const g_kind_label[ID_KINDS] = {"UUIDv4, random", "UUIDv7, time-ordered"};

struct options {
    const char *mandated;
    char mandatectl[PATH_MAX];
    size_t events;
    enum id_kind kinds[ID_KINDS]; /* in the order given */
    int nkinds;
    unsigned max_seconds;
    uint64_t memory_cap;    /* bytes, 0: none */
    struct bench_cgroup cg; /* the daemon's memory cgroup when memory_cap is set */
};

/* "20,000,000": big counts are read at a glance. Four buffers: a few per printf. */
static const char *
s_n(uint64_t v)
{
    static char bufs[4][32];
    static unsigned next;
    char tmp[32], *out = bufs[next++ % 4];
    int len = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v);
    size_t o = 0;
    for (int i = 0; i < len; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = tmp[i];
    }
    out[o] = '\0';
    return out;
}

/* ---- events in flight ---------------------------------------------- */

/*
 * A client's events in flight, by id. A UUIDv4 carries no slot or index a
 * reply could be matched by, so replies are looked up here: open addressing
 * with linear probing, removal by backward shift (no tombstones, so the table
 * stays as fast at event 20 million as at the first). Each entry keeps its
 * send number, which also says whether replies come back in send order.
 */
struct inflight {
    struct {
        uint8_t id[BENCH_UUID_LEN];
        uint64_t sendno;
        bool used;
    } slot[INFLIGHT_CAP];
};

/* Bytes 9..15 are random in both kinds of id (bench_uuid makes them; byte 8
 * holds the variant bits, and a UUIDv7's first 8 are the same for a whole
 * millisecond). */
static size_t
s_home(const uint8_t id[BENCH_UUID_LEN])
{
    uint64_t tail;
    memcpy(&tail, id + 8, 8);
    return (size_t)(tail >> 8) & (INFLIGHT_CAP - 1);
}

static void
s_inflight_put(struct inflight *fl, const uint8_t id[BENCH_UUID_LEN], uint64_t sendno)
{
    size_t i = s_home(id);
    /* At most WINDOW of INFLIGHT_CAP cells are used: a free one exists. */
    while (fl->slot[i].used)
        i = (i + 1) & (INFLIGHT_CAP - 1);
    memcpy(fl->slot[i].id, id, BENCH_UUID_LEN);
    fl->slot[i].sendno = sendno;
    fl->slot[i].used = true;
}

/* Removes id; its send number, or -1 when it is not in flight. */
static int64_t
s_inflight_take(struct inflight *fl, const uint8_t id[BENCH_UUID_LEN])
{
    size_t i = s_home(id);
    while (fl->slot[i].used && memcmp(fl->slot[i].id, id, BENCH_UUID_LEN) != 0)
        i = (i + 1) & (INFLIGHT_CAP - 1);
    if (!fl->slot[i].used)
        return -1;
    int64_t sendno = (int64_t)fl->slot[i].sendno;
    /* Backward shift: pull later entries of the probe run into the hole while
     * their home lies cyclically outside (hole, entry]. */
    size_t j = i;
    for (;;) {
        fl->slot[j].used = false;
        size_t k = j;
        for (;;) {
            k = (k + 1) & (INFLIGHT_CAP - 1);
            if (!fl->slot[k].used)
                return sendno;
            size_t h = s_home(fl->slot[k].id);
            bool stays = j < k ? (h > j && h <= k) : (h > j || h <= k);
            if (!stays)
                break;
        }
        fl->slot[j] = fl->slot[k];
        j = k;
    }
}

/* ---- clients -------------------------------------------------------- */

/*
 * What the client threads share: the gate that starts their clock together,
 * the count of measured ACKs, and the moments each million completed with the
 * CPU the daemon and this process had used by then.
 */
struct shared {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    size_t ready;
    bool open, cancelled;
    pid_t daemon;
    atomic_bool failed; /* one client failed: the others stop too */
    atomic_uint_fast64_t acked;
    size_t millions;
    /* [0]: the start; [k]: when the k-th million of ACKs was in. */
    uint64_t *mark_ns, *mark_srv_cpu, *mark_cli_cpu;
    long long *mark_srv_wbytes; /* the daemon's write_bytes; < 0 unknown */
};

struct client {
    pthread_t tid;
    struct shared *sh;
    void *sock;
    enum id_kind kind;
    size_t quota; /* measured events this client sends */
    struct bench_rng rng;
    uint8_t ev[BENCH_EVENT_BYTES]; /* the one encoded event; its id is rewritten per send */
    size_t id_at;
    struct inflight fl;
    uint64_t sent, acked;       /* of the current phase */
    uint64_t replies, in_order; /* all phases */
    int rc;
    char err[256];
};

/* Counts n more measured ACKs; the thread whose ACKs complete a million marks it. */
static void
s_count(struct shared *sh, uint64_t n)
{
    uint64_t old = atomic_fetch_add_explicit(&sh->acked, n, memory_order_relaxed);
    for (uint64_t k = old / MILLION + 1; k <= (old + n) / MILLION && k <= sh->millions; k++) {
        sh->mark_ns[k] = monotonic_ns();
        sh->mark_srv_cpu[k] = bench_proc_cpu_ns(sh->daemon);
        sh->mark_cli_cpu[k] = bench_proc_cpu_ns(0);
        sh->mark_srv_wbytes[k] = bench_proc_write_bytes(sh->daemon);
    }
}

/* Books one reply: an ACK, not dup, for an id in flight. */
static int
s_take_reply(struct client *cl, const char *cmd, const uint8_t *body, size_t len, int frames)
{
    struct mep_reply r;

    if (frames != 3) {
        snprintf(cl->err, sizeof cl->err, "reply with %d frames, expected 3", frames);
        return -EPROTO;
    }
    if (strcmp(cmd, "ACK") != 0) {
        if (strcmp(cmd, "NACK") == 0 && mep_reply_decode(body, len, false, &r) == 0)
            snprintf(cl->err, sizeof cl->err, "NACK %s: %s", mep_code_name(r.code), r.reason);
        else
            snprintf(cl->err, sizeof cl->err, "unexpected reply command '%s'", cmd);
        return -EPROTO;
    }
    if (mep_reply_decode(body, len, true, &r) < 0 || !r.has_id) {
        snprintf(cl->err, sizeof cl->err, "undecodable ACK body (%zu bytes)", len);
        return -EPROTO;
    }
    if (r.dup) {
        snprintf(cl->err, sizeof cl->err, "ACK with dup = true for a fresh id (seq %llu)",
                 (unsigned long long)r.seq);
        return -EPROTO;
    }
    int64_t sendno = s_inflight_take(&cl->fl, r.id);
    if (sendno < 0) {
        snprintf(cl->err, sizeof cl->err, "ACK (seq %llu) for an id not in flight on this client",
                 (unsigned long long)r.seq);
        return -EPROTO;
    }
    /* In order: the k-th reply answers the k-th send. */
    if ((uint64_t)sendno == cl->acked)
        cl->in_order++;
    cl->acked++;
    cl->replies++;
    return 0;
}

/*
 * count events with up to window in flight, each with a fresh id made here,
 * until all are answered; counted: their ACKs go to the shared count.
 * Bounded: REPLY_TIMEOUT_MS without any reply fails the run.
 */
static int
s_phase(struct client *cl, uint64_t count, unsigned window, bool counted)
{
    uint8_t *id = cl->ev + cl->id_at;
    int waited_ms = 0;

    cl->sent = cl->acked = 0;
    while (cl->acked < count) {
        while (cl->sent < count && cl->sent - cl->acked < window) {
            if (cl->kind == ID_V4)
                bench_uuid_v4(&cl->rng, id);
            else
                bench_uuid_v7(&cl->rng, unix_ms(), id);
            s_inflight_put(&cl->fl, id, cl->sent);
            int rc = harness_send_pub(cl->sock, cl->ev, BENCH_EVENT_BYTES);
            if (rc < 0) {
                snprintf(cl->err, sizeof cl->err, "send: %s", zmq_strerror(-rc));
                return rc;
            }
            cl->sent++;
        }
        zmq_pollitem_t item = {.socket = cl->sock, .events = ZMQ_POLLIN};
        int ready = zmq_poll(&item, 1, POLL_SLICE_MS);
        if (bench_stop_signal) {
            snprintf(cl->err, sizeof cl->err, "interrupted");
            return -EINTR;
        }
        if (atomic_load_explicit(&cl->sh->failed, memory_order_relaxed)) {
            snprintf(cl->err, sizeof cl->err, "stopped: another client failed");
            return -ECANCELED;
        }
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready < 0) {
            snprintf(cl->err, sizeof cl->err, "zmq_poll: %s", zmq_strerror(errno));
            return -errno;
        }
        if (ready == 0) {
            if ((waited_ms += POLL_SLICE_MS) < REPLY_TIMEOUT_MS)
                continue;
            snprintf(cl->err, sizeof cl->err, "no reply for %d ms (%llu of %llu answered)",
                     REPLY_TIMEOUT_MS, (unsigned long long)cl->acked, (unsigned long long)count);
            return -ETIMEDOUT;
        }
        waited_ms = 0;
        /* Drain what is there before refilling: fewer wake-ups for the same work. */
        uint64_t got = 0;
        for (;;) {
            char cmd[8];
            uint8_t body[512];
            size_t len;
            int frames;
            int rc = bench_mep_recv(cl->sock, cmd, body, sizeof body, &len, &frames);
            if (rc == 0)
                break;
            if (rc < 0) {
                snprintf(cl->err, sizeof cl->err, "recv: %s", zmq_strerror(-rc));
                return rc;
            }
            if ((rc = s_take_reply(cl, cmd, body, len, frames)) < 0)
                return rc;
            got++;
        }
        if (counted && got)
            s_count(cl->sh, got);
    }
    return 0;
}

static void *
s_client_main(void *arg)
{
    struct client *cl = arg;
    struct shared *sh = cl->sh;

    cl->rc = s_phase(cl, WARMUP_PER_CLIENT, 1, false);
    if (cl->rc < 0)
        atomic_store(&sh->failed, true);
    /* Reported ready even after a failure, so that the main thread never waits forever. */
    pthread_mutex_lock(&sh->mu);
    sh->ready++;
    pthread_cond_broadcast(&sh->cond);
    while (!sh->open && !sh->cancelled)
        pthread_cond_wait(&sh->cond, &sh->mu);
    bool go = !sh->cancelled;
    pthread_mutex_unlock(&sh->mu);
    if (go && cl->rc == 0)
        cl->rc = s_phase(cl, cl->quota, WINDOW, true);
    if (cl->rc < 0)
        atomic_store(&sh->failed, true);
    return NULL;
}

/* ---- RssAnon, once a second ------------------------------------------ */

struct rss_sample {
    uint64_t at_ns;
    uint64_t acked; /* measured ACKs by then */
    long kib;
};

struct sampler {
    pthread_t tid;
    pid_t pid;
    struct shared *sh;
    pthread_mutex_t mu;
    pthread_cond_t cond; /* on CLOCK_MONOTONIC */
    bool stop;
    struct rss_sample *v;
    size_t n, cap;
};

static void
s_sample(struct sampler *s)
{
    long kib = bench_proc_rss_anon_kib(s->pid);
    if (kib < 0)
        return; /* the daemon is gone: the run fails elsewhere */
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        struct rss_sample *v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] =
        (struct rss_sample){.at_ns = monotonic_ns(),
                            .acked = atomic_load_explicit(&s->sh->acked, memory_order_relaxed),
                            .kib = kib};
}

static void *
s_sampler_main(void *arg)
{
    struct sampler *s = arg;
    struct timespec next;

    clock_gettime(CLOCK_MONOTONIC, &next);
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        pthread_mutex_unlock(&s->mu);
        s_sample(s);
        pthread_mutex_lock(&s->mu);
        /* On a fixed beat, not a second after each sample. */
        next.tv_sec += RSS_PERIOD_MS / 1000;
        next.tv_nsec += (RSS_PERIOD_MS % 1000) * 1000000L;
        if (next.tv_nsec >= 1000000000L) {
            next.tv_sec++;
            next.tv_nsec -= 1000000000L;
        }
        while (!s->stop && pthread_cond_timedwait(&s->cond, &s->mu, &next) != ETIMEDOUT) {
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static int
s_sampler_start(struct sampler *s, pid_t pid, struct shared *sh)
{
    pthread_condattr_t ca;
    memset(s, 0, sizeof *s);
    s->pid = pid;
    s->sh = sh;
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &ca);
    pthread_condattr_destroy(&ca);
    return pthread_create(&s->tid, NULL, s_sampler_main, s) ? -EAGAIN : 0;
}

/* The last sample is taken now, while the daemon still runs. */
static void
s_sampler_stop(struct sampler *s)
{
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->tid, NULL);
    s_sample(s);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->mu);
}

/* ---- the daemon ------------------------------------------------------ */

/* One state directory (the harness writes its config) and the daemon on it, started by us. */
struct daemon {
    struct harness *h;
    pid_t pid;
    int starts;
    char log[512]; /* of the latest start */
};

static int
s_daemon_new(struct daemon *d, char *err, size_t errlen)
{
    char extra[256];
    int port = bench_free_port();

    memset(d, 0, sizeof *d);
    if (port < 0) {
        snprintf(err, errlen, "no free loopback port");
        return port;
    }
    /* durability = full is the default; said here so that no default can change what we
     * measure. TCP on loopback, as a publisher on another host connects. */
    snprintf(extra, sizeof extra, "ingress = tcp://127.0.0.1:%d\ndurability = full\n", port);
    d->h = harness_new(extra, BENCH_EVENT_SOURCE_CONFIG);
    return 0;
}

/*
 * Starts the daemon on the state directory and waits until it answers PING;
 * *ret_ready_ms: from just before the fork (the exec included) to the PONG.
 * Not harness_start(): its PING waits up to 200 ms on a socket that retries
 * the connection every 100 ms, too coarse to time a start.
 */
static int
s_daemon_start(struct daemon *d, const struct options *o, void *ctx, double *ret_ready_ms,
               char *err, size_t errlen)
{
    const char *argv[] = {o->mandated, "-c", harness_config_path(d->h), NULL};
    uint64_t pong = 0;
    pid_t pid;

    snprintf(d->log, sizeof d->log, "%s/mandated-%d.log", harness_dir(d->h), ++d->starts);
    uint64_t t0 = monotonic_ns();
    int rc = bench_spawn(argv, d->log, &pid);
    if (rc < 0) {
        snprintf(err, errlen, "cannot run %s: %s", o->mandated, strerror(-rc));
        return rc;
    }
    d->pid = pid;
    bench_stop_watch(0, pid);
    if (o->memory_cap && (rc = bench_cgroup_add(&o->cg, pid)) < 0) {
        snprintf(err, errlen, "cannot move the daemon into %s: %s", o->cg.path, strerror(-rc));
        return rc;
    }
    rc = bench_mep_wait_pong(ctx, harness_endpoint(d->h), pid, DAEMON_START_MS, &bench_stop_signal,
                             &pong);
    if (rc == -ECHILD) {
        d->pid = 0; /* reaped */
        bench_stop_watch(0, 0);
    }
    if (rc < 0) {
        snprintf(err, errlen, "daemon did not answer PING (%s)",
                 rc == -ECHILD ? "it exited" : strerror(-rc));
        bench_proc_print_log_tail(d->log, 20);
        return rc;
    }
    *ret_ready_ms = (double)(pong - t0) / 1e6;
    return 0;
}

/* SIGTERM; a clean stop is exit status 0 within DAEMON_STOP_MS. */
static int
s_daemon_stop(struct daemon *d, char *err, size_t errlen)
{
    pid_t pid = d->pid;
    /* Cleared first: once reaped, the pid may be someone else's. The stop is bounded. */
    d->pid = 0;
    bench_stop_watch(0, 0);
    int status = bench_spawn_stop(pid, SIGTERM, DAEMON_STOP_MS);
    if (status == 0)
        return 0;
    if (status == -ETIMEDOUT)
        snprintf(err, errlen, "daemon did not stop within %d ms of SIGTERM (killed)",
                 DAEMON_STOP_MS);
    else
        snprintf(err, errlen, "daemon exited with %d on SIGTERM", status);
    bench_proc_print_log_tail(d->log, 20);
    return -ECHILD;
}

/* Kills a daemon still running and removes the whole state directory. */
static void
s_daemon_destroy(struct daemon *d)
{
    if (d->pid > 0) {
        pid_t pid = d->pid;
        d->pid = 0;
        bench_stop_watch(0, 0);
        bench_spawn_stop(pid, SIGKILL, DAEMON_STOP_MS);
    }
    harness_destroy(&d->h);
}

/*
 * Where the disk went: data.mdb's blocks, the pages LMDB has used (its high
 * water mark: freed pages are reused, the file never shrinks), and the pages
 * of the three tables that grow with every event.
 */
enum table { TB_LOG, TB_IDS, TB_PENDING, TB_COUNT };
/* LMDB's tables by the column they count in: ids_new is the ids on their way into ids. */
static const struct {
    const char *name;
    enum table column;
} g_table[] = {{"log", TB_LOG}, {"ids", TB_IDS}, {"ids_new", TB_IDS}, {"pending", TB_PENDING}};

struct disk_usage {
    double file_bytes, used_bytes;
    double table_bytes[TB_COUNT]; /* branch, leaf and overflow pages */
};

static void
s_disk_usage(const struct daemon *d, struct disk_usage *ret)
{
    char path[600];
    struct stat st;
    MDB_env *env = NULL;
    MDB_txn *txn;
    MDB_envinfo info;
    MDB_stat est;

    memset(ret, 0, sizeof *ret);
    snprintf(path, sizeof path, "%s/audit/data.mdb", harness_state_dir(d->h));
    if (stat(path, &st) == 0)
        ret->file_bytes = (double)st.st_blocks * 512.0;
    snprintf(path, sizeof path, "%s/audit", harness_state_dir(d->h));
    if (mdb_env_create(&env) != 0)
        return;
    mdb_env_set_maxdbs(env, 8);
    if (mdb_env_open(env, path, MDB_RDONLY, 0640) == 0 && mdb_env_info(env, &info) == 0 &&
        mdb_env_stat(env, &est) == 0 && mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0) {
        ret->used_bytes = (double)(info.me_last_pgno + 1) * est.ms_psize;
        for (size_t t = 0; t < sizeof g_table / sizeof g_table[0]; t++) {
            MDB_dbi dbi;
            MDB_stat ts;
            if (mdb_dbi_open(txn, g_table[t].name, 0, &dbi) == 0 && mdb_stat(txn, dbi, &ts) == 0)
                ret->table_bytes[g_table[t].column] +=
                    (double)(ts.ms_branch_pages + ts.ms_leaf_pages + ts.ms_overflow_pages) *
                    ts.ms_psize;
        }
        mdb_txn_abort(txn);
    }
    mdb_env_close(env);
}

/*
 * The daemon's own account of a run, from the lines it logs: events per
 * commit (its stop line; warm-up included) and how often it grew its map.
 * Left 0 when the lines are not there.
 */
struct daemon_account {
    unsigned long long accepted, batches, map_grown;
};

static void
s_read_daemon_account(const char *log_path, struct daemon_account *ret)
{
    char line[1024];
    FILE *f = fopen(log_path, "r");

    memset(ret, 0, sizeof *ret);
    while (f && fgets(line, sizeof line, f)) {
        const char *at;
        if (strstr(line, "audit log: map grown to"))
            ret->map_grown++;
        else if ((at = strstr(line, "records in the audit log; ")) != NULL &&
                 sscanf(at, "records in the audit log; %llu events accepted in %llu batches",
                        &ret->accepted, &ret->batches) != 2)
            ret->accepted = ret->batches = 0;
    }
    if (f)
        fclose(f);
}

/* ---- one publishing run ----------------------------------------------- */

struct publish_result {
    double seconds;
    uint64_t replies, in_order; /* every ACK, warm-up included; those in send order */
    size_t millions;
    uint64_t *mark_ns, *mark_srv_cpu, *mark_cli_cpu; /* [millions + 1], malloc'd */
    long long *mark_srv_wbytes;
};

static void
s_publish_result_free(struct publish_result *p)
{
    free(p->mark_ns);
    free(p->mark_srv_cpu);
    free(p->mark_cli_cpu);
    free(p->mark_srv_wbytes);
    memset(p, 0, sizeof *p);
}

/*
 * events measured events (a multiple of a million, so of CLIENTS) from
 * CLIENTS threads, one DEALER each, WINDOW in flight each, after
 * WARMUP_PER_CLIENT lock-step events each. sh is set up here; a sampler may
 * read it meanwhile.
 */
static int
s_publish(void *ctx, const char *endpoint, pid_t daemon, enum id_kind kind, size_t events,
          struct shared *sh, struct publish_result *ret, char *err, size_t errlen)
{
    struct client *cl = calloc(CLIENTS, sizeof *cl);
    int rc = 0, linger = 0, sndtimeo = REPLY_TIMEOUT_MS;
    size_t started = 0;

    memset(ret, 0, sizeof *ret);
    ret->millions = events / MILLION;
    ret->mark_ns = calloc(ret->millions + 1, sizeof(uint64_t));
    ret->mark_srv_cpu = calloc(ret->millions + 1, sizeof(uint64_t));
    ret->mark_cli_cpu = calloc(ret->millions + 1, sizeof(uint64_t));
    ret->mark_srv_wbytes = calloc(ret->millions + 1, sizeof(long long));
    sh->daemon = daemon;
    sh->millions = ret->millions;
    sh->mark_ns = ret->mark_ns;
    sh->mark_srv_cpu = ret->mark_srv_cpu;
    sh->mark_cli_cpu = ret->mark_cli_cpu;
    sh->mark_srv_wbytes = ret->mark_srv_wbytes;
    if (!cl || !ret->mark_ns || !ret->mark_srv_cpu || !ret->mark_cli_cpu || !ret->mark_srv_wbytes) {
        snprintf(err, errlen, "out of memory");
        free(cl);
        return -ENOMEM;
    }
    for (size_t c = 0; c < CLIENTS && rc == 0; c++) {
        cl[c].sh = sh;
        cl[c].kind = kind;
        cl[c].quota = events / CLIENTS;
        if ((rc = bench_rng_seed(&cl[c].rng)) < 0) {
            snprintf(err, errlen, "getrandom: %s", strerror(-rc));
            break;
        }
        /* The bench's usual 300-byte envelope; only its id changes from one send to the next. */
        if ((rc = bench_event_make(cl[c].ev, 1, (unsigned)c, 0)) < 0 ||
            (rc = bench_event_find_id(cl[c].ev, 1, (unsigned)c, 0, &cl[c].id_at)) < 0) {
            snprintf(err, errlen, "cannot make a %d-byte envelope", BENCH_EVENT_BYTES);
            break;
        }
        cl[c].sock = zmq_socket(ctx, ZMQ_DEALER);
        if (!cl[c].sock) {
            rc = -errno;
            snprintf(err, errlen, "zmq_socket: %s", zmq_strerror(errno));
            break;
        }
        zmq_setsockopt(cl[c].sock, ZMQ_LINGER, &linger, sizeof linger);
        /* A DEALER with no peer blocks in send; a dead daemon must fail the run instead. */
        zmq_setsockopt(cl[c].sock, ZMQ_SNDTIMEO, &sndtimeo, sizeof sndtimeo);
        if (zmq_connect(cl[c].sock, endpoint) < 0) {
            rc = -errno;
            snprintf(err, errlen, "connect %s: %s", endpoint, zmq_strerror(errno));
        }
    }
    for (; rc == 0 && started < CLIENTS; started++) {
        if (pthread_create(&cl[started].tid, NULL, s_client_main, &cl[started])) {
            snprintf(err, errlen, "pthread_create failed");
            rc = -EAGAIN;
            break;
        }
    }
    pthread_mutex_lock(&sh->mu);
    if (rc < 0) {
        sh->cancelled = true;
    } else {
        while (sh->ready < CLIENTS)
            pthread_cond_wait(&sh->cond, &sh->mu);
        sh->mark_srv_cpu[0] = bench_proc_cpu_ns(daemon);
        sh->mark_cli_cpu[0] = bench_proc_cpu_ns(0);
        sh->mark_srv_wbytes[0] = bench_proc_write_bytes(daemon);
        sh->mark_ns[0] = monotonic_ns();
        sh->open = true;
    }
    pthread_cond_broadcast(&sh->cond);
    pthread_mutex_unlock(&sh->mu);
    uint64_t end = 0;
    for (size_t c = 0; c < started; c++)
        pthread_join(cl[c].tid, NULL);
    end = monotonic_ns();
    /* The client that failed first is the one to name, not those it stopped. */
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        for (size_t c = 0; c < started && rc == 0; c++) {
            if (cl[c].rc < 0 && (pass == 1 || cl[c].rc != -ECANCELED)) {
                rc = cl[c].rc;
                snprintf(err, errlen, "client %zu: %s", c, cl[c].err);
            }
        }
    }
    for (size_t c = 0; c < started; c++) {
        ret->replies += cl[c].replies;
        ret->in_order += cl[c].in_order;
    }
    for (size_t c = 0; c < CLIENTS; c++)
        if (cl[c].sock)
            zmq_close(cl[c].sock);
    free(cl);
    if (rc == 0 && atomic_load(&sh->acked) != events) {
        snprintf(err, errlen, "%llu of %zu events ACKed",
                 (unsigned long long)atomic_load(&sh->acked), events);
        rc = -EPROTO;
    }
    ret->seconds = (double)(end - sh->mark_ns[0]) / 1e9;
    return rc;
}

static void
s_shared_init(struct shared *sh)
{
    memset(sh, 0, sizeof *sh);
    pthread_mutex_init(&sh->mu, NULL);
    pthread_cond_init(&sh->cond, NULL);
    atomic_init(&sh->failed, false);
    atomic_init(&sh->acked, 0);
}

static void
s_shared_destroy(struct shared *sh)
{
    pthread_cond_destroy(&sh->cond);
    pthread_mutex_destroy(&sh->mu);
}

/* After a clean stop: every ACK stands for an id in the log, and (no workers) a pending event. */
static int
s_check_tables(const struct daemon *d, uint64_t acked, long *ret_pending, char *err, size_t errlen)
{
    long ids = log_inspect_count_ids(harness_state_dir(d->h));
    *ret_pending = log_inspect_count(harness_state_dir(d->h), "pending");
    if (ids < 0 || (uint64_t)ids != acked) {
        snprintf(err, errlen, "daemon ACKed %llu events but its ids table has %ld",
                 (unsigned long long)acked, ids);
        return -EBADMSG;
    }
    return 0;
}

/* ---- mandatectl verify ---------------------------------------------- */

/*
 * One `mandatectl -c CONFIG verify`, timed from just before the fork to its
 * exit: *ret_s, and *ret_records from its "ok: N records" line.
 */
static int
s_verify(const struct options *o, const struct daemon *d, int i, double *ret_s,
         uint64_t *ret_records, char *err, size_t errlen)
{
    const char *argv[] = {o->mandatectl, "-c", harness_config_path(d->h), "verify", NULL};
    char out[512], line[512] = "";
    unsigned long long records = 0;
    int status, rc;
    pid_t pid;

    snprintf(out, sizeof out, "%s/verify-%d.out", harness_dir(d->h), i);
    uint64_t t0 = monotonic_ns();
    if ((rc = bench_spawn(argv, out, &pid)) < 0) {
        snprintf(err, errlen, "cannot run %.300s: %s", o->mandatectl, strerror(-rc));
        return rc;
    }
    bench_stop_watch(1, pid);
    /* Blocking: the watchdog's handler kills it, and the wait returns. */
    while ((rc = (int)waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
    }
    uint64_t t1 = monotonic_ns();
    bench_stop_watch(1, 0);
    if (rc < 0) {
        snprintf(err, errlen, "waitpid: %s", strerror(errno));
        return -ECHILD;
    }
    /* Its verdict line: "ok: N records, ..." or "bad: seq N: why"; warnings may come first. */
    FILE *f = fopen(out, "r");
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, "ok: ", 4) == 0 || strncmp(line, "bad: ", 5) == 0)
            break;
    }
    if (f)
        fclose(f);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
        sscanf(line, "ok: %llu records", &records) != 1) {
        snprintf(err, errlen, "mandatectl verify failed (status %d): %s", status,
                 line[0] ? line : "(no output)");
        return -EBADMSG;
    }
    *ret_s = (double)(t1 - t0) / 1e9;
    *ret_records = records;
    return 0;
}

/* ---- the two parts ---------------------------------------------------- */

struct growth_result {
    enum id_kind kind;
    bool ran;
    size_t events;
    struct publish_result pub;
    struct rss_sample *rss; /* malloc'd */
    size_t nrss;
    long pending;
    struct disk_usage disk;
    struct daemon_account account;
    double start_ms, restart_ms;
    double verify_s[VERIFY_RUNS];
    uint64_t verify_records;
    long log_records;
};

static void
s_progress(const char *what)
{
    time_t now = time(NULL);
    struct tm tm;
    char ts[16];
    strftime(ts, sizeof ts, "%H:%M:%S", localtime_r(&now, &tm));
    fprintf(stderr, "[%s] %s\n", ts, what);
}

/*
 * The restart target: a state of RESTART_EVENTS pending events, made by
 * publishing them like a growth run (ids of kind), then RESTARTS times:
 * start, time until ready, SIGTERM. A state of its own, so that the growth
 * runs' memory and rates are not cut by a restart.
 */
static int
s_restart_part(const struct options *o, void *ctx, enum id_kind kind, double ready_ms[RESTARTS],
               long *ret_pending, char *err, size_t errlen)
{
    struct daemon d;
    struct shared sh;
    struct publish_result pub;
    double first_ms;
    char msg[256];
    int rc = s_daemon_new(&d, err, errlen);

    memset(&pub, 0, sizeof pub);
    s_shared_init(&sh);
    if (rc == 0)
        rc = s_daemon_start(&d, o, ctx, &first_ms, err, errlen);
    if (rc == 0) {
        snprintf(msg, sizeof msg, "restart target: publishing %s events (%s ids)",
                 s_n(RESTART_EVENTS), g_kind_key[kind]);
        s_progress(msg);
        rc = s_publish(ctx, harness_endpoint(d.h), d.pid, kind, RESTART_EVENTS, &sh, &pub, err,
                       errlen);
    }
    if (rc == 0)
        rc = s_daemon_stop(&d, err, errlen);
    if (rc == 0)
        rc = s_check_tables(&d, pub.replies, ret_pending, err, errlen);
    for (int i = 0; i < RESTARTS && rc == 0; i++) {
        rc = s_daemon_start(&d, o, ctx, &ready_ms[i], err, errlen);
        if (rc == 0)
            rc = s_daemon_stop(&d, err, errlen);
        if (rc == 0) {
            snprintf(msg, sizeof msg, "restart %d/%d with %s pending: ready in %.1f ms", i + 1,
                     RESTARTS, s_n((uint64_t)*ret_pending), ready_ms[i]);
            s_progress(msg);
        }
    }
    s_publish_result_free(&pub);
    s_shared_destroy(&sh);
    s_daemon_destroy(&d);
    return rc;
}

/* One growth run for one kind of id, then its restart and its verifies; the state is removed. */
static int
s_growth_part(const struct options *o, void *ctx, struct growth_result *r, char *err, size_t errlen)
{
    struct daemon d;
    struct shared sh;
    struct sampler smp;
    bool sampling = false;
    char msg[256];
    int rc = s_daemon_new(&d, err, errlen);

    r->events = o->events;
    s_shared_init(&sh);
    if (rc == 0)
        rc = s_daemon_start(&d, o, ctx, &r->start_ms, err, errlen);
    if (rc == 0 && (rc = s_sampler_start(&smp, d.pid, &sh)) < 0)
        snprintf(err, errlen, "cannot start the RSS sampler thread");
    sampling = rc == 0;
    if (rc == 0) {
        snprintf(msg, sizeof msg, "%s: publishing %s events (%s)", g_kind_key[r->kind],
                 s_n(o->events), g_kind_label[r->kind]);
        s_progress(msg);
        rc = s_publish(ctx, harness_endpoint(d.h), d.pid, r->kind, o->events, &sh, &r->pub, err,
                       errlen);
    }
    if (sampling) {
        s_sampler_stop(&smp);
        r->rss = smp.v;
        r->nrss = smp.n;
    }
    if (rc == 0)
        rc = s_daemon_stop(&d, err, errlen);
    if (rc == 0) {
        snprintf(msg, sizeof msg, "%s: %s events in %.1f s; checking the tables",
                 g_kind_key[r->kind], s_n(o->events), r->pub.seconds);
        s_progress(msg);
        rc = s_check_tables(&d, r->pub.replies, &r->pending, err, errlen);
        s_read_daemon_account(d.log, &r->account);
    }
    if (rc == 0) {
        s_disk_usage(&d, &r->disk);
        rc = s_daemon_start(&d, o, ctx, &r->restart_ms, err, errlen);
    }
    if (rc == 0)
        rc = s_daemon_stop(&d, err, errlen);
    if (rc == 0) {
        snprintf(msg, sizeof msg, "%s: restart with %s pending: ready in %.1f ms",
                 g_kind_key[r->kind], s_n((uint64_t)r->pending), r->restart_ms);
        s_progress(msg);
        /* Counted now, stopped: the restart added its own started/stopped records. */
        r->log_records = log_inspect_count(harness_state_dir(d.h), "log");
    }
    for (int i = 0; i < VERIFY_RUNS && rc == 0; i++) {
        rc = s_verify(o, &d, i, &r->verify_s[i], &r->verify_records, err, errlen);
        if (rc == 0 && r->log_records >= 0 && r->verify_records != (uint64_t)r->log_records) {
            snprintf(err, errlen, "verify checked %llu records, the log holds %ld",
                     (unsigned long long)r->verify_records, r->log_records);
            rc = -EBADMSG;
        }
        if (rc == 0) {
            snprintf(msg, sizeof msg, "%s: verify %d/%d: %s records in %.2f s", g_kind_key[r->kind],
                     i + 1, VERIFY_RUNS, s_n(r->verify_records), r->verify_s[i]);
            s_progress(msg);
        }
    }
    r->ran = rc == 0;
    s_shared_destroy(&sh);
    s_daemon_destroy(&d);
    return rc;
}

/* ---- figures ---------------------------------------------------------- */

static double
s_million_rate(const struct publish_result *p, size_t k)
{
    uint64_t dt = p->mark_ns[k] - p->mark_ns[k - 1];
    return dt ? (double)MILLION / ((double)dt / 1e9) : 0;
}

/* µs of CPU per event over million k, from the marks; 0 unknown. */
static double
s_million_cpu(const uint64_t *mark, size_t k)
{
    return mark[k] && mark[k - 1] && mark[k] > mark[k - 1]
               ? (double)(mark[k] - mark[k - 1]) / 1000.0 / MILLION
               : 0;
}

/* Bytes the daemon wrote per event over million k; < 0 unknown. */
static double
s_million_wbytes(const struct publish_result *p, size_t k)
{
    long long a = p->mark_srv_wbytes[k - 1], b = p->mark_srv_wbytes[k];
    return a >= 0 && b >= a ? (double)(b - a) / MILLION : -1;
}

/* RssAnon once the k-th million was in (k = 0: the first sample, before any event). */
static long
s_rss_at(const struct growth_result *r, size_t k)
{
    if (r->nrss == 0)
        return 0;
    for (size_t i = 0; i < r->nrss && k > 0; i++)
        if (r->rss[i].acked >= k * MILLION)
            return r->rss[i].kib;
    return k == 0 ? r->rss[0].kib : r->rss[r->nrss - 1].kib;
}

static long
s_rss_max(const struct growth_result *r)
{
    long max = 0;
    for (size_t i = 0; i < r->nrss; i++)
        if (r->rss[i].kib > max)
            max = r->rss[i].kib;
    return max;
}

static struct bench_spread
s_verify_spread(const struct growth_result *r)
{
    double v[VERIFY_RUNS];
    for (int i = 0; i < VERIFY_RUNS; i++)
        v[i] = r->verify_s[i] > 0 ? (double)r->verify_records / r->verify_s[i] : 0;
    return bench_spread_of(v, VERIFY_RUNS);
}

static void
s_print_growth(const struct growth_result *r)
{
    const struct publish_result *p = &r->pub;
    size_t m = p->millions;
    double first = s_million_rate(p, 1), last = s_million_rate(p, m);
    double ratio = first > 0 ? last / first : 0;
    uint64_t all = p->replies;

    printf("\n%s ids (%s): %s events in %.1f s, %.0f events/s overall\n", g_kind_key[r->kind],
           g_kind_label[r->kind], s_n(r->events), p->seconds,
           p->seconds > 0 ? (double)r->events / p->seconds : 0);
    printf("  %7s %10s %8s %14s %14s %14s %12s\n", "million", "events/s", "x first", "daemon µs/ev",
           "client µs/ev", "daemon wr B/ev", "RssAnon MiB");
    for (size_t k = 1; k <= m; k++) {
        double rate = s_million_rate(p, k);
        printf("  %7zu %10.0f %8.3f %14.2f %14.2f %14.0f %12.1f\n", k, rate,
               first > 0 ? rate / first : 0, s_million_cpu(p->mark_srv_cpu, k),
               s_million_cpu(p->mark_cli_cpu, k), s_million_wbytes(p, k),
               (double)s_rss_at(r, k) / 1024.0);
    }
    printf("  last / first million   %.3f   target >= %.1f   %s   (= %.0f / %.0f events/s)\n",
           ratio, TARGET_RATIO, ratio >= TARGET_RATIO ? "PASS" : "MISS", last, first);
    printf("  RssAnon (KiB)          first %s (before the first event), after the first million "
           "%s, max %s, last %s\n"
           "                         %zu samples, one a second\n",
           s_n((uint64_t)s_rss_at(r, 0)), s_n((uint64_t)s_rss_at(r, 1)),
           s_n((uint64_t)s_rss_max(r)), s_n((uint64_t)(r->nrss ? r->rss[r->nrss - 1].kib : 0)),
           r->nrss);
    printf("  replies in send order  %s of %s on their connection%s\n", s_n(p->in_order), s_n(all),
           p->in_order == all ? " (all: the broker answers each socket in arrival order)" : "");
    printf("  tables after the stop  ids %s = ACKs (warm-up %d a client included); pending %s\n",
           s_n(all), WARMUP_PER_CLIENT, s_n((uint64_t)r->pending));
    double per = all ? r->disk.file_bytes / (double)all : 0;
    printf("  disk                   data.mdb %.2f GB on disk, %.0f bytes an ACKed event%s\n",
           r->disk.file_bytes / 1e9, per,
           per > DISK_PER_EVENT ? "  <- above the disk check's estimate" : "");
    if (all)
        printf("                         pages used %.0f B an event: log %.0f, ids %.0f, pending "
               "%.0f\n",
               r->disk.used_bytes / (double)all, r->disk.table_bytes[TB_LOG] / (double)all,
               r->disk.table_bytes[TB_IDS] / (double)all,
               r->disk.table_bytes[TB_PENDING] / (double)all);
    if (r->account.batches)
        printf("  daemon's account       %s events in %s commits: %.1f events a commit; map grown "
               "%llu times\n",
               s_n(r->account.accepted), s_n(r->account.batches),
               (double)r->account.accepted / (double)r->account.batches, r->account.map_grown);
    printf("  start                  fresh state ready in %.1f ms; restart with %s pending ready "
           "in %.1f ms\n",
           r->start_ms, s_n((uint64_t)r->pending), r->restart_ms);
    struct bench_spread v = s_verify_spread(r);
    printf("  mandatectl verify      %s records: median %.0f records/s (min %.0f, max %.0f), %d "
           "runs\n",
           s_n(r->verify_records), v.median, v.min, v.max, VERIFY_RUNS);
}

static void
s_print_machine_growth(const struct growth_result *r)
{
    const struct publish_result *p = &r->pub;
    const char *k = g_kind_key[r->kind];
    double first = s_million_rate(p, 1), last = s_million_rate(p, p->millions);
    double ratio = first > 0 ? last / first : 0;
    struct bench_spread v = s_verify_spread(r);

    printf("BENCH growth %s.first_million.per_s value=%.0f\n", k, first);
    printf("BENCH growth %s.last_million.per_s value=%.0f\n", k, last);
    printf("BENCH growth %s.ratio.last_over_first value=%.3f target>=%.1f %s\n", k, ratio,
           TARGET_RATIO, ratio >= TARGET_RATIO ? "PASS" : "MISS");
    printf("BENCH growth %s.overall.per_s value=%.0f events=%zu seconds=%.1f\n", k,
           p->seconds > 0 ? (double)r->events / p->seconds : 0, r->events, p->seconds);
    printf("BENCH growth %s.per_million.per_s values=", k);
    for (size_t i = 1; i <= p->millions; i++)
        printf("%s%.0f", i > 1 ? "," : "", s_million_rate(p, i));
    printf("\n");
    printf("BENCH growth %s.per_million.daemon_cpu_us_per_event values=", k);
    for (size_t i = 1; i <= p->millions; i++)
        printf("%s%.2f", i > 1 ? "," : "", s_million_cpu(p->mark_srv_cpu, i));
    printf("\n");
    printf("BENCH growth %s.per_million.client_cpu_us_per_event values=", k);
    for (size_t i = 1; i <= p->millions; i++)
        printf("%s%.2f", i > 1 ? "," : "", s_million_cpu(p->mark_cli_cpu, i));
    printf("\n");
    printf("BENCH growth %s.per_million.daemon_write_bytes_per_event values=", k);
    for (size_t i = 1; i <= p->millions; i++)
        printf("%s%.0f", i > 1 ? "," : "", s_million_wbytes(p, i));
    printf("\n");
    printf("BENCH growth %s.per_million.rss_anon_kib values=", k);
    for (size_t i = 1; i <= p->millions; i++)
        printf("%s%ld", i > 1 ? "," : "", s_rss_at(r, i));
    printf("\n");
    printf("BENCH growth %s.rss_anon_kib first=%ld after_first_million=%ld max=%ld last=%ld\n", k,
           s_rss_at(r, 0), s_rss_at(r, 1), s_rss_max(r), r->nrss ? r->rss[r->nrss - 1].kib : 0);
    printf("BENCH growth %s.restart_end.ready_ms value=%.1f pending=%ld\n", k, r->restart_ms,
           r->pending);
    printf("BENCH growth %s.verify.records_per_s median=%.0f min=%.0f max=%.0f records=%llu "
           "runs=%d\n",
           k, v.median, v.min, v.max, (unsigned long long)r->verify_records, VERIFY_RUNS);
    double all = p->replies ? (double)p->replies : 1;
    printf("BENCH growth %s.disk.bytes_per_event file=%.0f used=%.0f log=%.0f ids=%.0f "
           "pending=%.0f\n",
           k, r->disk.file_bytes / all, r->disk.used_bytes / all, r->disk.table_bytes[TB_LOG] / all,
           r->disk.table_bytes[TB_IDS] / all, r->disk.table_bytes[TB_PENDING] / all);
    printf("BENCH growth %s.events_per_commit value=%.1f\n", k,
           r->account.batches ? (double)r->account.accepted / (double)r->account.batches : 0);
    printf("BENCH growth %s.replies_in_order value=%llu of=%llu\n", k,
           (unsigned long long)p->in_order, (unsigned long long)p->replies);
}

/* ---- the program ---------------------------------------------------- */

static uint64_t
s_disk_needed(size_t events)
{
    size_t biggest = events > RESTART_EVENTS ? events : RESTART_EVENTS;
    return (uint64_t)biggest * DISK_PER_EVENT + DISK_SPARE;
}

static void
s_print_header(const struct options *o, uint64_t avail, double busy, double first_touch_ns)
{
    struct utsname u;
    char real[PATH_MAX], ids[16] = "";
    const char *fstype = bench_fs_type(bench_tmpdir());
    int zmaj, zmin, zpat;

    uname(&u);
    zmq_version(&zmaj, &zmin, &zpat);
    for (int i = 0; i < o->nkinds; i++)
        snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%s%s", i ? "," : "",
                 g_kind_key[o->kinds[i]]);
    printf("mandated growth benchmark\n");
    printf("  daemon     %s, durability = full, no workers: every event stays pending\n",
           realpath(o->mandated, real) ? real : o->mandated);
    printf("  verify     %s\n", realpath(o->mandatectl, real) ? real : o->mandatectl);
    printf("  load       %s events per run, ids %s (one run each, a fresh state dir each);\n"
           "             %d DEALERs x %d in flight, tcp on loopback; %d lock-step warm-up events "
           "a client first\n",
           s_n(o->events), ids, CLIENTS, WINDOW, WARMUP_PER_CLIENT);
    printf("  event      %d-byte MEP/1 envelope, type %s, source %s; a fresh id per send\n",
           BENCH_EVENT_BYTES, BENCH_EVENT_TYPE, BENCH_EVENT_SOURCE);
    printf("  ready      from just before the daemon's fork+exec to its first PONG to a MEP/1 "
           "PING\n"
           "             (a DEALER retrying its connection every 1 ms): the daemon answers from "
           "its\n"
           "             event loop, after it opened the log, wrote `started`, bound ingress and\n"
           "             queued every pending event again\n");
    printf("  disk       %s: %s, %.1f GB free; a run needs about %.1f GB (~%u B an event, one "
           "state at a time)\n",
           bench_tmpdir(), fstype, (double)avail / 1e9, (double)s_disk_needed(o->events) / 1e9,
           DISK_PER_EVENT);
    printf("  machine    %ld CPUs online, %s %s, libzmq %d.%d.%d, %s\n",
           sysconf(_SC_NPROCESSORS_ONLN), u.sysname, u.release, zmaj, zmin, zpat,
           mdb_version(NULL, NULL, NULL));
    printf("  memory     first touch of a fresh 4 KiB page: %.0f ns (%d MiB mapped, touched, "
           "unmapped)\n",
           first_touch_ns, FIRST_TOUCH_MIB);
    if (o->memory_cap)
        printf("             the daemon runs in %s, capped at %s MiB with its page cache: the\n"
               "             cache is recycled as on a machine whose RAM is full\n",
               o->cg.path, s_n(o->memory_cap >> 20));
    else
        printf("             no cap on the daemon's memory: its page cache grows into free RAM\n");
    bench_print_busy("before the first run", busy);
    bench_print_tmpfs_warning();
    fflush(stdout);
}

static void
s_usage(FILE *out)
{
    fprintf(out,
            "usage: growth [--mandated PATH] [--mandatectl PATH] [--events N] [--ids v4|v7|v4,v7]\n"
            "              [--quick] [--max-seconds S] [--memory-cap MIB]\n"
            "  --mandated PATH     daemon binary (default: $MANDATED_BIN, else build/mandated)\n"
            "  --mandatectl PATH   for verify (default: mandatectl beside the daemon)\n"
            "  --events N          events per run, a multiple of 1,000,000, at least %s\n"
            "                      (default %s)\n"
            "  --ids LIST          kinds of event id, one run each: v4 (random), v7\n"
            "                      (time-ordered), or both in the order given (default v4,v7)\n"
            "  --quick             --events %s\n"
            "  --max-seconds S     kill everything and fail after S seconds (default %d)\n"
            "  --memory-cap MIB    run the daemon in a memory cgroup of MIB MiB, page cache\n"
            "                      included (needs root; default: no cap)\n"
            "  -h, --help          this text\n"
            "Before the runs, a state of %s pending events (%s ids) is restarted %d times.\n"
            "Exit status: 0 when every part ran, whatever the targets; non-zero when something\n"
            "broke (NACK, timeout, a daemon that did not start or stop, a failed verify).\n",
            s_n(MIN_EVENTS), s_n(DEFAULT_EVENTS), s_n(QUICK_EVENTS), DEFAULT_MAX_SECS,
            s_n(RESTART_EVENTS), g_kind_key[RESTART_IDS], RESTARTS);
}

static int
s_parse_ids(const char *s, struct options *o)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%s", s);
    o->nkinds = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        enum id_kind k;
        if (strcmp(t, "v4") == 0)
            k = ID_V4;
        else if (strcmp(t, "v7") == 0)
            k = ID_V7;
        else
            return -EINVAL;
        for (int i = 0; i < o->nkinds; i++)
            if (o->kinds[i] == k)
                return -EINVAL;
        if (o->nkinds == ID_KINDS)
            return -EINVAL;
        o->kinds[o->nkinds++] = k;
    }
    return o->nkinds ? 0 : -EINVAL;
}

static int
s_parse_args(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {{"mandated", required_argument, NULL, 'm'},
                                             {"mandatectl", required_argument, NULL, 'C'},
                                             {"events", required_argument, NULL, 'e'},
                                             {"ids", required_argument, NULL, 'i'},
                                             {"quick", no_argument, NULL, 'q'},
                                             {"max-seconds", required_argument, NULL, 's'},
                                             {"memory-cap", required_argument, NULL, 'M'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *bin = getenv("MANDATED_BIN"), *ctl = NULL;
    uint64_t v;
    int opt;

    memset(o, 0, sizeof *o);
    o->mandated = bin && *bin ? bin : "build/mandated";
    o->events = DEFAULT_EVENTS;
    o->kinds[0] = ID_V4;
    o->kinds[1] = ID_V7;
    o->nkinds = 2;
    o->max_seconds = DEFAULT_MAX_SECS;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'm':
            o->mandated = optarg;
            break;
        case 'C':
            ctl = optarg;
            break;
        case 'e':
            if (text_parse_u64(optarg, MIN_EVENTS, MAX_EVENTS, &v) < 0 || v % MILLION != 0)
                goto bad;
            o->events = (size_t)v;
            break;
        case 'i':
            if (s_parse_ids(optarg, o) < 0)
                goto bad;
            break;
        case 'q':
            o->events = QUICK_EVENTS;
            break;
        case 's':
            if (text_parse_u64(optarg, 10, 7 * 86400, &v) < 0)
                goto bad;
            o->max_seconds = (unsigned)v;
            break;
        case 'M':
            if (text_parse_u64(optarg, 64, (uint64_t)1 << 30, &v) < 0)
                goto bad;
            o->memory_cap = v << 20;
            break;
        case 'h':
            s_usage(stdout);
            exit(EX_OK);
        default:
            s_usage(stderr);
            return -EINVAL;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "growth: unexpected argument '%s'\n", argv[optind]);
        s_usage(stderr);
        return -EINVAL;
    }
    if (ctl) {
        snprintf(o->mandatectl, sizeof o->mandatectl, "%s", ctl);
    } else {
        /* Beside the daemon: one build directory holds both. */
        const char *slash = strrchr(o->mandated, '/');
        snprintf(o->mandatectl, sizeof o->mandatectl, "%.*smandatectl",
                 slash ? (int)(slash - o->mandated + 1) : 0, o->mandated);
    }
    return 0;

bad:
    fprintf(stderr, "growth: bad value '%s'\n", optarg);
    s_usage(stderr);
    return -EINVAL;
}

int
main(int argc, char **argv)
{
    struct options o;
    struct growth_result res[ID_KINDS];
    double ready_ms[RESTARTS] = {0};
    long restart_pending = 0;
    struct statvfs vfs;
    char err[512] = "";
    int rc = 0;

    memset(res, 0, sizeof res);
    if (s_parse_args(argc, argv, &o) < 0)
        return EX_USAGE;
    if (access(o.mandated, X_OK) < 0) {
        fprintf(stderr,
                "growth: no daemon at %s (%s): build it, or set $MANDATED_BIN or "
                "--mandated\n",
                o.mandated, strerror(errno));
        return EX_UNAVAILABLE;
    }
    if (access(o.mandatectl, X_OK) < 0) {
        fprintf(stderr, "growth: no mandatectl at %s (%s): build it, or give --mandatectl\n",
                o.mandatectl, strerror(errno));
        return EX_UNAVAILABLE;
    }
    /* Refused now rather than with a full disk an hour in. */
    if (statvfs(bench_tmpdir(), &vfs) < 0) {
        fprintf(stderr, "growth: %s: %s\n", bench_tmpdir(), strerror(errno));
        return EX_UNAVAILABLE;
    }
    uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
    if (avail < s_disk_needed(o.events)) {
        fprintf(stderr,
                "growth: %s has %.1f GB free, and a run of %s events needs about %.1f GB (~%u "
                "bytes an event plus %.0f GB spare; one run's state at a time). Free some space, "
                "set TMPDIR to a bigger disk, or lower --events.\n",
                bench_tmpdir(), (double)avail / 1e9, s_n(o.events),
                (double)s_disk_needed(o.events) / 1e9, DISK_PER_EVENT, (double)DISK_SPARE / 1e9);
        return EX_CANTCREAT;
    }
    struct bench_rng probe;
    uint8_t probe_ev[BENCH_EVENT_BYTES];
    if (bench_rng_seed(&probe) < 0 || bench_event_make(probe_ev, 1, 0, 0) < 0) {
        fprintf(stderr, "growth: cannot seed ids or make a %d-byte envelope\n", BENCH_EVENT_BYTES);
        return EX_SOFTWARE;
    }

    bench_stop_install("growth", o.max_seconds);

    if (o.memory_cap && bench_cgroup_create(&o.cg, o.memory_cap, err, sizeof err) < 0) {
        fprintf(stderr, "growth: --memory-cap: %s\n", err);
        return EX_UNAVAILABLE;
    }
    double first_touch_ns = bench_first_touch_ns((size_t)FIRST_TOUCH_MIB << 20);
    double busy_before = bench_busy_cores();
    s_print_header(&o, avail, busy_before, first_touch_ns);
    void *ctx = zmq_ctx_new();
    if (!ctx) {
        fprintf(stderr, "growth: zmq_ctx_new: %s\n", zmq_strerror(errno));
        bench_cgroup_remove(&o.cg);
        return EX_SOFTWARE;
    }
    rc = s_restart_part(&o, ctx, RESTART_IDS, ready_ms, &restart_pending, err, sizeof err);
    if (rc < 0)
        fprintf(stderr, "growth: restart target: %s\n", err);
    for (int i = 0; i < o.nkinds && rc == 0; i++) {
        res[i].kind = o.kinds[i];
        err[0] = '\0';
        rc = s_growth_part(&o, ctx, &res[i], err, sizeof err);
        if (rc < 0)
            fprintf(stderr, "growth: %s run: %s\n", g_kind_key[o.kinds[i]], err);
    }
    zmq_ctx_term(ctx);
    /* Every daemon has exited: the group can go. */
    uint64_t cap_peak = bench_cgroup_peak(&o.cg);
    bench_cgroup_remove(&o.cg);
    int status = bench_stop_failed(rc);
    if (status >= 0) {
        for (int i = 0; i < o.nkinds; i++) {
            s_publish_result_free(&res[i].pub);
            free(res[i].rss);
        }
        return status;
    }
    double busy_after = bench_busy_cores();

    double sorted[RESTARTS];
    memcpy(sorted, ready_ms, sizeof sorted);
    struct bench_spread ready = bench_spread_of(sorted, RESTARTS);
    bool ready_ok = ready.median < TARGET_READY_MS;
    printf("\nrestart with %s events pending (%s ids), %d restarts\n",
           s_n((uint64_t)restart_pending), g_kind_key[RESTART_IDS], RESTARTS);
    printf("  ready in               median %.1f ms (min %.1f, max %.1f)   target < %.0f ms   "
           "%s\n",
           ready.median, ready.min, ready.max, TARGET_READY_MS, ready_ok ? "PASS" : "MISS");

    double all_verify[ID_KINDS * VERIFY_RUNS];
    int nverify = 0;
    for (int i = 0; i < o.nkinds; i++) {
        s_print_growth(&res[i]);
        for (int j = 0; j < VERIFY_RUNS; j++)
            if (res[i].verify_s[j] > 0)
                all_verify[nverify++] = (double)res[i].verify_records / res[i].verify_s[j];
    }
    struct bench_spread verify = bench_spread_of(all_verify, nverify);
    bool verify_ok = verify.median >= TARGET_VERIFY;
    printf("\nmandatectl verify over every run's final log: median %.0f records/s (min %.0f, max "
           "%.0f, %d runs)   target >= %.0f   %s\n",
           verify.median, verify.min, verify.max, nverify, TARGET_VERIFY,
           verify_ok ? "PASS" : "MISS");
    printf("\n");
    bench_print_busy("before the first run", busy_before);
    bench_print_busy("after the last run  ", busy_after);

    printf("\n");
    for (int i = 0; i < o.nkinds; i++)
        s_print_machine_growth(&res[i]);
    printf("BENCH growth restart_1m.ready_ms median=%.1f min=%.1f max=%.1f pending=%ld runs=%d "
           "target<%.0f %s\n",
           ready.median, ready.min, ready.max, restart_pending, RESTARTS, TARGET_READY_MS,
           ready_ok ? "PASS" : "MISS");
    printf("BENCH growth verify.records_per_s median=%.0f min=%.0f max=%.0f runs=%d target>=%.0f "
           "%s\n",
           verify.median, verify.min, verify.max, nverify, TARGET_VERIFY,
           verify_ok ? "PASS" : "MISS");
    printf("BENCH growth machine.busy_cores before=%.2f after=%.2f\n", busy_before, busy_after);
    printf("BENCH growth machine.first_touch_ns value=%.0f\n", first_touch_ns);
    if (o.memory_cap)
        printf("BENCH growth memory_cap_mib value=%llu peak_mib=%llu\n",
               (unsigned long long)(o.memory_cap >> 20), (unsigned long long)(cap_peak >> 20));
    for (int i = 0; i < o.nkinds; i++) {
        s_publish_result_free(&res[i].pub);
        free(res[i].rss);
    }
    return EX_OK;
}
