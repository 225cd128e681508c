/*
 * broker: wires the loop together and says what happens at the end of every
 * turn (s_before_sleep). SIGTERM stops intake first, then waits a bounded
 * time for requests in flight at workers, flushes the records that are
 * still queued, stops spawned workers, and writes `stopped` as the last
 * word in the log. Every ACK already sent was committed before it went out.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>
#include <zmq.h>

#include "config/config_diff.h"
#include "config/embedded.h"
#include "daemon/broker.h"
#include "daemon/deadline_scan.h"
#include "daemon/delivery.h"
#include "daemon/group_commit.h"
#include "daemon/ingress.h"
#include "daemon/loop_turn.h"
#include "common/alloc.h"
#include "common/log.h"
#include "daemon/supervisor.h"
#include "daemon/zap.h"
#include "proto/pack.h"

#define RELAXED_SYNC_MS 1000

struct broker {
    const struct mandated_config *cfg; /* the one in force */
    /* Configs read at reloads, the one in force among them: kept until exit,
     * since records and events in hand still point into earlier ones. */
    struct mandated_config **loaded;
    size_t nloaded;
    struct event_base *base;
    void *zmq_ctx;
    struct audit_log *log;
    struct loop_turn *turn;
    struct group_commit *commit;
    struct ingress *ingress;
    struct delivery *delivery;
    struct deadline_scan *deadlines;
    struct supervisor *supervisor;
    struct journal *records; /* the broker's own: auth_refused, reloaded, reload_failed */
    struct zap *zap;         /* with CURVE on either endpoint */
    struct event *sig_term, *sig_int, *sig_hup, *watchdog, *sync_timer;
    const char *stop_reason;
};

/*
 * A lifecycle record in its own transaction, growing the map if it must.
 * Written before the group commit starts (started) or after it drained
 * (stopped), so the log still has one writer at a time.
 */
static int
s_write_record(struct broker *b, const char *kind, const msgpack_sbuffer *fields, unsigned n)
{
    int rc;
    for (;;) {
        rc = audit_log_begin(b->log);
        if (rc == 0)
            rc = audit_log_append(b->log, kind, fields->data, fields->size, n, NULL);
        if (rc == 0)
            rc = audit_log_commit(b->log);
        else
            audit_log_abort(b->log);
        if (rc != -ENOSPC || !audit_log_map_was_full(b->log) || audit_log_grow(b->log) < 0)
            break;
    }
    if (rc < 0)
        log_err("audit log: cannot write `%s` record: %s", kind, strerror(-rc));
    return rc;
}

static int
s_record_started(struct broker *b)
{
    const struct audit_started rec = {
        .pid = getpid(),
        .version = MANDATED_VERSION,
        .durability = b->cfg->broker.durability == DURABILITY_FULL ? "full" : "relaxed",
        .config = b->cfg->path,
        .recovered_seq = audit_log_last_seq(b->log),
    };
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, pack_sbuffer_write);
    int rc = s_write_record(b, AUDIT_KIND_STARTED, &sb, audit_pack_started(&pk, &rec));
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

static void
s_record_stopped(struct broker *b)
{
    const struct ingress_stats *st = ingress_stats(b->ingress);
    uint64_t rejected = 0;
    for (int c = 0; c < MEP_CODE_COUNT; c++)
        rejected += st->rejected[c];
    const struct audit_stopped rec = {
        .pid = getpid(),
        .reason = b->stop_reason ? b->stop_reason : "stopped",
        .accepted = st->accepted,
        .duplicates = st->duplicates,
        .rejected = rejected,
        .rejected_suppressed = st->rejected_suppressed,
        .batches = group_commit_stats(b->commit)->batches,
        /* What delivery left behind: still pending, and offered again at the next start. */
        .waiting = delivery_waiting(b->delivery),
        .inflight = delivery_inflight(b->delivery),
    };
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, pack_sbuffer_write);
    s_write_record(b, AUDIT_KIND_STOPPED, &sb, audit_pack_stopped(&pk, &rec));
    msgpack_sbuffer_destroy(&sb);
}

/*
 * The end of every loop turn in which a module asked for it
 * (daemon/loop_turn.h), in this order:
 *  1. delivery sends the areas that got events or credit to their workers,
 *     queuing their `dispatched` records;
 *  2. the group commit takes what ingress, delivery and the deadline scan
 *     queued (those `dispatched` records included) into one transaction,
 *     or arms the short delay that gathers records nobody waits on.
 * ACKs go out when that transaction is durable, from ingress's done().
 */
static void
s_before_sleep(void *arg)
{
    struct broker *b = arg;
    delivery_dispatch(b->delivery);
    group_commit_flush(b->commit);
}

/* Ingress's accepted events go where their area's queue is. */
static void
s_on_accepted(void *arg, uint64_t seq, const struct area_conf *area)
{
    struct broker *b = arg;
    delivery_route(b->delivery, seq, area);
}

static void
s_on_drained(void *arg)
{
    struct broker *b = arg;
    event_base_loopexit(b->base, NULL);
}

static void
s_on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
    struct broker *b = arg;
    if (b->stop_reason) {
        /* A second signal: stop waiting for workers. */
        log_notice("%s again: not waiting for the %llu request(s) in flight; they stay pending",
                   sig == SIGTERM ? "SIGTERM" : "SIGINT",
                   (unsigned long long)delivery_inflight(b->delivery));
        event_base_loopexit(b->base, NULL);
        return;
    }
    b->stop_reason = sig == SIGTERM ? "SIGTERM" : "SIGINT";
    log_notice("%s: stopping intake", b->stop_reason);
    sd_notify(0, "STOPPING=1");
    ingress_stop(b->ingress);
    /* Replies of requests in flight still arrive and are recorded meanwhile. */
    delivery_drain(b->delivery, b->cfg->delivery.drain_timeout_ms, s_on_drained, b);
}

/* The broker's own records (auth_refused is the ZAP handler's), through the group commit. */
static void
s_end_record(struct broker *b, struct journal_op *op, unsigned nfields)
{
    journal_end(b->records, op, nfields);
    loop_turn_request(b->turn);
}

/* Reads the config the broker runs on again, whole, keys included. */
static int
s_read_config(const struct broker *b, struct mandated_config **ret, struct config_error *err)
{
    const char *path = b->cfg->path;
    int rc = strcmp(path, embedded_config.name) == 0
                 ? config_load_string(embedded_config.text, embedded_config.name, ret, err)
                 : config_load_file(path, ret, err);
    if (rc == 0 && (rc = config_load_keys(*ret, err)) < 0)
        config_destroy(ret);
    return rc;
}

/*
 * SIGHUP (DESIGN.md "Signals"): the new config is read and checked whole
 * first; a bad one changes nothing and is said in `reload_failed`. A good
 * one is handed to every module on this thread, between two loop turns, so
 * no event is checked half against one and half against the other; the
 * writer thread never reads a module's config, only the areas and types of
 * the records it was handed, which stay alive with their config.
 */
static void
s_reload(struct broker *b)
{
    struct mandated_config *next = NULL;
    struct config_error err;
    char msg[1024];
    msgpack_packer pk;
    struct journal_op *op;

    sd_notify(0, "RELOADING=1");
    if (s_read_config(b, &next, &err) < 0) {
        config_error_format(&err, msg, sizeof msg);
        log_err("SIGHUP: %s; nothing changed", msg);
        const struct audit_reload_failed rec = {.config = b->cfg->path, .error = msg};
        op = journal_begin(b->records, AUDIT_KIND_RELOAD_FAILED, &pk);
        s_end_record(b, op, audit_pack_reload_failed(&pk, &rec));
        sd_notify(0, "READY=1");
        return;
    }
    struct config_diff diff;
    config_diff_compute(b->cfg, next, &diff);
    config_diff_keep_restart_only(next, b->cfg, &diff);
    config_diff_describe(&diff, msg, sizeof msg);

    b->loaded = xreallocarray(b->loaded, b->nloaded + 1, sizeof *b->loaded);
    b->loaded[b->nloaded++] = next;
    b->cfg = next;
    if (b->zap)
        zap_reconfigure(b->zap, next);
    group_commit_reconfigure(b->commit, next);
    ingress_reconfigure(b->ingress, next);
    delivery_reconfigure(b->delivery, next);
    deadline_scan_reconfigure(b->deadlines, next);
    supervisor_reconfigure(b->supervisor, next);

    op = journal_begin(b->records, AUDIT_KIND_RELOADED, &pk);
    unsigned n = audit_pack_reloaded_config(&pk, next->path);
    n += config_diff_pack(&diff, &pk);
    s_end_record(b, op, n);
    log_notice("SIGHUP: reloaded %s: %s", next->path, config_diff_empty(&diff) ? "no change" : msg);
    config_diff_release(&diff);
    sd_notify(0, "READY=1");
}

static void
s_on_hup(evutil_socket_t sig, short what, void *arg)
{
    struct broker *b = arg;
    if (b->stop_reason) {
        log_notice("SIGHUP while stopping: ignored");
        return;
    }
    s_reload(b);
}

static void
s_on_watchdog(evutil_socket_t fd, short what, void *arg)
{
    sd_notify(0, "WATCHDOG=1");
}

/*
 * Runs on the loop thread while the writer thread may be committing: safe,
 * because without MDB_WRITEMAP mdb_env_sync() is only an fdatasync of the
 * data file and touches no transaction or map state.
 */
static void
s_on_sync(evutil_socket_t fd, short what, void *arg)
{
    struct broker *b = arg;
    int rc = audit_log_sync(b->log);
    if (rc < 0)
        log_err("audit log: sync: %s", strerror(-rc));
}

static struct event *
s_timer(struct broker *b, uint64_t usec, event_callback_fn cb)
{
    struct timeval tv = {.tv_sec = (time_t)(usec / 1000000), .tv_usec = (long)(usec % 1000000)};
    struct event *ev = event_new(b->base, -1, EV_PERSIST, cb, b);
    event_add(ev, &tv);
    return ev;
}

struct broker *
broker_new(const struct mandated_config *cfg)
{
    char err[512];
    uint64_t wd_usec = 0;
    struct broker *b = xcalloc(1, sizeof *b);
    b->cfg = cfg;

    struct audit_log_options opts = {
        .durable = cfg->broker.durability == DURABILITY_FULL,
        .map_initial = cfg->broker.map_initial_bytes,
        .map_max = cfg->broker.map_max_bytes,
        .ids_in_memory = cfg->broker.ids_in_memory,
        .ids_filter = cfg->broker.ids_filter,
    };
    if (audit_log_open(cfg->broker.state_dir, &opts, &b->log, err, sizeof err) < 0) {
        log_err("%s", err);
        goto out_destroy;
    }
    log_info("audit log: %s/audit, %llu records, map %llu bytes", cfg->broker.state_dir,
             (unsigned long long)audit_log_last_seq(b->log),
             (unsigned long long)audit_log_map_size(b->log));
    if (!opts.durable)
        log_warn("durability = relaxed: commits are not fsynced; a power failure may lose "
                 "up to %d ms of ACKed events",
                 RELAXED_SYNC_MS);

    b->base = event_base_new();
    b->zmq_ctx = zmq_ctx_new();
    if (!b->base || !b->zmq_ctx) {
        log_err("cannot create the event loop or ZeroMQ context");
        goto out_destroy;
    }
    if (s_record_started(b) < 0)
        goto out_destroy;
    b->turn = loop_turn_new(b->base, s_before_sleep, b);
    b->commit = b->turn ? group_commit_new(b->base, cfg, b->log) : NULL;
    if (!b->commit)
        goto out_destroy;
    b->records = journal_new(NULL, NULL);
    /* Before the endpoints bind: libzmq needs the handler there by then. */
    if ((cfg->security.curve || cfg->security.workers_curve) &&
        !(b->zap = zap_new(b->base, b->zmq_ctx, cfg, b->records, b->turn)))
        goto out_destroy;
    /* The producers, in the order their records go into a transaction. */
    b->ingress =
        ingress_new(b->base, b->zmq_ctx, cfg, b->log, b->commit, b->turn, s_on_accepted, b);
    if (!b->ingress)
        goto out_destroy;
    b->delivery = delivery_new(b->base, b->zmq_ctx, cfg, b->log, b->commit, b->turn);
    if (!b->delivery)
        goto out_destroy;
    b->deadlines = deadline_scan_new(b->base, cfg, b->log, b->commit, b->turn,
                                     delivery_route_emitted, b->delivery);
    if (!b->deadlines || delivery_start(b->delivery) < 0)
        goto out_destroy;
    struct group_commit_producer producer;
    journal_producer(b->records, "broker", &producer);
    group_commit_add(b->commit, &producer);
    /* After the bind: spawned workers find the endpoint there. */
    b->supervisor = supervisor_new(b->base, cfg);
    if (!b->supervisor)
        goto out_destroy;

    b->sig_term = evsignal_new(b->base, SIGTERM, s_on_stop_signal, b);
    b->sig_int = evsignal_new(b->base, SIGINT, s_on_stop_signal, b);
    b->sig_hup = evsignal_new(b->base, SIGHUP, s_on_hup, b);
    event_add(b->sig_term, NULL);
    event_add(b->sig_int, NULL);
    event_add(b->sig_hup, NULL);
    if (sd_watchdog_enabled(0, &wd_usec) > 0)
        b->watchdog = s_timer(b, wd_usec / 2, s_on_watchdog);
    if (!opts.durable)
        b->sync_timer = s_timer(b, RELAXED_SYNC_MS * 1000u, s_on_sync);

    log_notice("ready: ingress %s, workers %s, durability %s, %zu areas, %zu worker processes%s%s",
               cfg->broker.ingress, cfg->broker.workers, opts.durable ? "full" : "relaxed",
               cfg->nareas, supervisor_size(b->supervisor),
               cfg->security.curve ? ", CURVE on ingress" : "",
               cfg->security.workers_curve ? ", CURVE on workers" : "");
    sd_notify(0, "READY=1");
    return b;

out_destroy:
    broker_destroy(&b);
    return NULL;
}

int
broker_run(struct broker *b)
{
    event_base_dispatch(b->base);
    /* The records of replies that came in while draining are written here too. */
    group_commit_drain(b->commit);
    supervisor_stop(b->supervisor, b->cfg->delivery.drain_timeout_ms);
    s_record_stopped(b);
    if (b->cfg->broker.durability != DURABILITY_FULL)
        audit_log_sync(b->log);
    const struct ingress_stats *st = ingress_stats(b->ingress);
    const struct group_commit_stats *gs = group_commit_stats(b->commit);
    log_notice("stopped: %llu records in the audit log; %llu events accepted in %llu batches",
               (unsigned long long)audit_log_last_seq(b->log), (unsigned long long)st->accepted,
               (unsigned long long)gs->batches);
    const struct delivery_stats *ds = delivery_stats(b->delivery);
    log_notice("delivery: %llu dispatched, %llu completed, %llu failed, %llu retried, %llu "
               "dead-lettered, %llu follow-ups; %llu waiting, %llu in flight; workers %llu "
               "joined, %llu lost; %llu protocol errors, %llu sends failed",
               (unsigned long long)ds->dispatched, (unsigned long long)ds->completed,
               (unsigned long long)ds->failed, (unsigned long long)ds->retried,
               (unsigned long long)ds->deadlettered, (unsigned long long)ds->emitted,
               (unsigned long long)delivery_waiting(b->delivery),
               (unsigned long long)delivery_inflight(b->delivery),
               (unsigned long long)ds->workers_joined, (unsigned long long)ds->workers_lost,
               (unsigned long long)ds->protocol_errors, (unsigned long long)ds->sends_failed);
    const struct deadline_scan_stats *dl = deadline_scan_stats(b->deadlines);
    log_notice("deadlines: %llu scans, %llu warnings and %llu breaches found",
               (unsigned long long)dl->scans, (unsigned long long)dl->warned,
               (unsigned long long)dl->breached);
    if (b->zap) {
        const struct zap_stats *zs = zap_stats(b->zap);
        log_notice("authentication: %llu connections admitted, %llu refused (%llu of them not "
                   "written: one record a second per peer), %llu malformed ZAP requests",
                   (unsigned long long)zs->admitted, (unsigned long long)zs->refused,
                   (unsigned long long)zs->suppressed, (unsigned long long)zs->malformed);
    }
    log_info("time: %.3f s receiving and checking, %.3f s writing and syncing, %.3f s replying",
             st->read_ns / 1e9, gs->write_ns / 1e9, st->reply_ns / 1e9);
    log_info("time: of the writing, %.3f s committing (page writes and fsyncs)",
             gs->commit_ns / 1e9);
    return 0;
}

void
broker_destroy(struct broker **b_p)
{
    struct broker *b = *b_p;
    if (!b)
        return;
    struct event *evs[] = {b->sig_term, b->sig_int, b->sig_hup, b->watchdog, b->sync_timer};
    for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
        if (evs[i])
            event_free(evs[i]);
    supervisor_destroy(&b->supervisor);
    /* The group commit first: waiting for its writer may still call the
     * producers' done(), which ask for the end of a turn. */
    group_commit_destroy(&b->commit);
    deadline_scan_destroy(&b->deadlines);
    delivery_destroy(&b->delivery);
    ingress_destroy(&b->ingress);
    zap_destroy(&b->zap);
    journal_destroy(&b->records);
    loop_turn_destroy(&b->turn);
    if (b->zmq_ctx)
        zmq_ctx_term(b->zmq_ctx);
    if (b->base)
        event_base_free(b->base);
    audit_log_destroy(&b->log);
    for (size_t i = 0; i < b->nloaded; i++)
        config_destroy(&b->loaded[i]);
    free(b->loaded);
    free(b);
    *b_p = NULL;
}
