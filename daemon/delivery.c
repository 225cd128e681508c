/*
 * delivery: the MDP broker. One FIFO of seqs per area, the workers that
 * announced that area (each with its credit), the events waiting out a
 * backoff, heartbeats and liveness; what it records goes through
 * daemon/delivery_records.h.
 *
 * A request goes out before its `dispatched` record commits; if the broker
 * dies in between, the event is still pending and is offered again after
 * restart.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "daemon/delivery.h"
#include "daemon/delivery_records.h"
#include "common/alloc.h"
#include "common/log.h"
#include "daemon/router.h"
#include "common/clock.h"
#include "daemon/retry_heap.h"
#include "daemon/seq_queue.h"
#include "daemon/zap.h"
#include "proto/envelope.h"
#include "proto/mdp.h"
#include "proto/msgpack_scan.h"
#include "proto/pack.h"

#define IDENTITY_MAX    255
#define FRAMES_MAX      8    /* after the identity; more is a protocol error */
#define READ_BUDGET     1024 /* messages per loop turn before yielding */
#define BACKOFF_MAX_MS  300000
#define WORKER_NAME_MAX 96
/* Events an area keeps queued in memory; later ones wait in `pending` alone
 * and are read back in seq order as the queue drains, so a backlog costs
 * the broker disk, not memory. */
#define HELD_MAX     16384
#define REFILL_BELOW (HELD_MAX / 2)
#define REFILL_SCAN  (4 * HELD_MAX) /* `pending` entries one refill reads, at most */

struct inflight {
    uint64_t seq;
    unsigned attempt;
    uint8_t id[ENVELOPE_ID_LEN];            /* the event's id: corr of what it emits */
    struct delivery_op_position dispatched; /* where its `dispatched` op was queued */
};

struct area_state;

struct worker {
    struct worker *next;
    uint8_t identity[IDENTITY_MAX];
    size_t identity_len;
    char name[WORKER_NAME_MAX];
    /* workers_curve = on: the key it connected with (checked again at a
     * reload, which may remove or replace it) and that key's name; else "". */
    char key_z85[CURVE_KEY_Z85_LEN + 1];
    char key[KEYRING_NAME_MAX + 1];
    struct area_state *area;
    unsigned credit, ninflight;
    struct inflight *inflight; /* credit entries */
    uint64_t expiry_ms;        /* monotonic; lost when passed without a word */
};

struct area_state {
    const struct area_conf *conf;
    struct seq_queue queue;
    struct retry_heap retries; /* events waiting out a backoff */
    struct event *retry_ev;    /* fires at the earliest due time */
    struct delivery *d;
    bool dirty; /* got events or credit this turn: dispatch at its end */
    /* Waiting events past HELD_MAX: in `pending` only, none of them below
     * seq spill_from (0: there are none); spilled counts them. */
    uint64_t spill_from, spilled;
};

struct delivery {
    const struct mandated_config *cfg;
    struct audit_log *log;
    struct loop_turn *turn;
    struct event_base *base;
    void *sock;
    struct event *ev, *heartbeat_ev, *drain_ev;

    struct area_state **areas; /* parallel to cfg->areas; each keeps its address across reloads */
    struct worker *workers;

    struct delivery_records *records;

    msgpack_sbuffer body; /* request bodies */
    msgpack_sbuffer data; /* a reply's body of several frames */
    bool dirty;           /* some area got events or credit: dispatch at the turn's end */

    bool draining;
    void (*drain_done)(void *arg);
    void *drain_arg;

    uint64_t inflight;
    struct delivery_stats stats;
};

static uint64_t
s_now_ms(void)
{
    return monotonic_ms();
}

static void s_dispatch(struct delivery *d, struct area_state *a);

/* A new event for a (its first attempt): queued, or left in `pending` once the queue is full. */
static void
s_hold(struct area_state *a, uint64_t seq)
{
    /* One that arrives below the spilled range (it cannot, but if it did, a
     * refill would never read it) is queued whatever the queue holds. */
    if ((a->spill_from == 0 && seq_queue_len(&a->queue) < HELD_MAX) ||
        (a->spill_from && seq < a->spill_from)) {
        seq_queue_push(&a->queue, seq, 1);
        return;
    }
    if (a->spill_from == 0)
        a->spill_from = seq;
    a->spilled++;
}

/*
 * The state of an area of the current config, or of an earlier config's
 * area by its name (events checked before a reload arrive with those):
 * NULL if the area is gone, and the event then stays pending, as at a
 * restart, until a config brings the area back.
 */
static struct area_state *
s_area_state(struct delivery *d, const struct area_conf *conf)
{
    if (conf >= d->cfg->areas && conf < d->cfg->areas + d->cfg->nareas)
        return d->areas[conf - d->cfg->areas];
    const struct area_conf *now = config_area(d->cfg, conf->name);
    return now ? d->areas[now - d->cfg->areas] : NULL;
}

static void
s_route(struct delivery *d, uint64_t seq, const struct area_conf *area)
{
    struct area_state *a = s_area_state(d, area);
    if (a) {
        s_hold(a, seq);
        s_dispatch(d, a);
    } else
        log_info("event %llu waits for area '%s', no longer configured", (unsigned long long)seq,
                 area->name);
}

void
delivery_route(struct delivery *d, uint64_t seq, const struct area_conf *area)
{
    s_route(d, seq, area);
}

void
delivery_route_emitted(void *arg, const struct journal_emit *e)
{
    struct delivery *d = arg;
    d->stats.emitted++;
    s_route(d, e->seq, e->area);
}

/* ------------------------------------------------------------------------ */
/* Workers. */

static void
s_worker_name(const uint8_t *id, size_t len, char *out, size_t size)
{
    bool printable = len > 0;
    for (size_t i = 0; i < len && printable; i++)
        printable = id[i] >= 0x21 && id[i] < 0x7f;
    if (printable && len < size) {
        memcpy(out, id, len);
        out[len] = '\0';
        return;
    }
    /* libzmq's generated identities are binary: show them in hex. */
    size_t o = 0;
    for (size_t i = 0; i < len && o + 3 < size; i++)
        o += (size_t)snprintf(out + o, size - o, "%02x", id[i]);
    out[o] = '\0';
}

static struct worker *
s_find_worker(struct delivery *d, const uint8_t *id, size_t len)
{
    for (struct worker *w = d->workers; w; w = w->next)
        if (w->identity_len == len && memcmp(w->identity, id, len) == 0)
            return w;
    return NULL;
}

/* Sends identity · "" · MDPW01 · command [· frames...]. Returns 0 or -errno. */
static int
s_send(struct delivery *d, const uint8_t *identity, size_t identity_len, enum mdp_command cmd,
       const struct mdp_frame *frames, size_t nframes)
{
    uint8_t c = (uint8_t)cmd;
    int more = ZMQ_SNDMORE | ZMQ_DONTWAIT;
    int rc = zmq_send(d->sock, identity, identity_len, more);
    if (rc >= 0)
        rc = zmq_send(d->sock, "", 0, more);
    if (rc >= 0)
        rc = zmq_send(d->sock, MDPW_PROTOCOL, 6, more);
    if (rc >= 0)
        rc = zmq_send(d->sock, &c, 1, nframes ? more : ZMQ_DONTWAIT);
    for (size_t i = 0; rc >= 0 && i < nframes; i++)
        rc =
            zmq_send(d->sock, frames[i].data, frames[i].len, i + 1 < nframes ? more : ZMQ_DONTWAIT);
    if (rc < 0) {
        d->stats.sends_failed++;
        return -errno;
    }
    return 0;
}

static unsigned
s_backoff_ms(const struct delivery *d, unsigned attempt)
{
    uint64_t ms = d->cfg->delivery.retry_backoff_ms;
    for (unsigned i = 1; i < attempt && ms < BACKOFF_MAX_MS; i++)
        ms *= 2;
    return (unsigned)(ms < BACKOFF_MAX_MS ? ms : BACKOFF_MAX_MS);
}

/* Arms the area's retry timer for its earliest due time. */
static void
s_arm_retry(struct area_state *a)
{
    const struct retry_entry *e = retry_heap_peek(&a->retries);
    if (!e) {
        evtimer_del(a->retry_ev);
        return;
    }
    uint64_t now = s_now_ms(), wait = e->due_ms > now ? e->due_ms - now : 0;
    struct timeval tv = {.tv_sec = (time_t)(wait / 1000), .tv_usec = (long)(wait % 1000) * 1000};
    evtimer_add(a->retry_ev, &tv);
}

static void
s_schedule_retry(struct delivery *d, struct area_state *a, uint64_t seq, unsigned attempt,
                 unsigned delay_ms)
{
    const struct retry_entry *first = retry_heap_peek(&a->retries);
    uint64_t due = s_now_ms() + delay_ms;
    /* Read before the push, which may move the heap. */
    bool earliest = !first || due < first->due_ms;
    retry_heap_push(&a->retries, due, seq, attempt);
    if (earliest)
        s_arm_retry(a);
}

/* The backoff of the earliest ones ran out: back into the queue, in due order. */
static void
s_on_retry(evutil_socket_t fd, short what, void *arg)
{
    struct area_state *a = arg;
    uint64_t now = s_now_ms();
    struct retry_entry e;
    const struct retry_entry *head;
    while ((head = retry_heap_peek(&a->retries)) && head->due_ms <= now) {
        retry_heap_pop(&a->retries, &e);
        seq_queue_push(&a->queue, e.seq, e.attempt);
    }
    s_arm_retry(a);
    s_dispatch(a->d, a);
}

/*
 * The attempt that ended (attempt) did not complete the event: offer it
 * again after a backoff, or dead-letter it once max_attempts were made.
 */
static void
s_retry_or_deadletter(struct delivery *d, struct area_state *a, uint64_t seq, unsigned attempt,
                      const char *reason)
{
    const char *area = a->conf->name;
    if (attempt >= d->cfg->delivery.max_attempts) {
        const struct audit_delivery rec = {
            .event_seq = seq, .area = area, .attempt = attempt, .reason = reason};
        delivery_records_deadlettered(d->records, &rec);
        d->stats.deadlettered++;
        log_warn("event %llu (%s): dead-lettered after %u attempt%s: %s", (unsigned long long)seq,
                 area, attempt, attempt == 1 ? "" : "s", reason);
        return;
    }
    unsigned delay = s_backoff_ms(d, attempt);
    const struct audit_delivery rec = {
        .event_seq = seq,
        .area = area,
        .attempt = attempt + 1,
        .reason = reason,
        .due_ms = unix_ms() + delay,
    };
    delivery_records_retried(d->records, &rec);
    d->stats.retried++;
    s_schedule_retry(d, a, seq, attempt + 1, delay);
}

static void s_check_drained(struct delivery *d);

/*
 * Forgets a worker. retry: whatever it had in flight is retried or
 * dead-lettered; else (its area is gone) it stays pending, as at a restart.
 */
static void
s_worker_remove(struct delivery *d, struct worker *w, const char *why, bool retry)
{
    char reason[160];
    snprintf(reason, sizeof reason, "worker %s lost: %s", w->name, why);
    log_warn("%s (area %s, %u in flight%s)", reason, w->area->conf->name, w->ninflight,
             retry ? "" : ", left pending");
    const struct audit_worker rec = {
        .worker = w->name, .area = w->area->conf->name, .reason = why, .inflight = w->ninflight};
    delivery_records_worker_lost(d->records, &rec);
    d->stats.workers_lost++;
    for (unsigned i = 0; retry && i < w->ninflight; i++)
        s_retry_or_deadletter(d, w->area, w->inflight[i].seq, w->inflight[i].attempt, reason);
    d->inflight -= w->ninflight;
    for (struct worker **p = &d->workers; *p; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            break;
        }
    struct area_state *a = w->area;
    free(w->inflight);
    free(w);
    if (retry)
        s_dispatch(d, a);
    s_check_drained(d);
}

static void
s_worker_lost(struct delivery *d, struct worker *w, const char *why)
{
    s_worker_remove(d, w, why, true);
}

static void
s_send_disconnect(struct delivery *d, const uint8_t *id, size_t len)
{
    s_send(d, id, len, MDP_DISCONNECT, NULL, 0);
}

/* ------------------------------------------------------------------------ */
/* Dispatch. */

/*
 * The area's worker with the most free credit, or NULL if all are busy. A
 * worker is topped up only once a quarter of its credit is free: it still
 * has the rest queued, and requests sent in bursts share the socket's
 * writes instead of costing one system call each.
 */
static struct worker *
s_pick_worker(struct delivery *d, struct area_state *a)
{
    struct worker *best = NULL;
    unsigned best_free = 0;
    for (struct worker *w = d->workers; w; w = w->next) {
        if (w->area != a)
            continue;
        unsigned free_credit = w->credit - w->ninflight;
        if (free_credit < (w->credit + 3) / 4)
            continue;
        if (free_credit > best_free) {
            best = w;
            best_free = free_credit;
        }
    }
    return best;
}

/*
 * Finds the envelope and id in an `accepted` record's bytes without
 * unpacking it. Returns 0 or -EBADMSG.
 */
static int
s_record_event(const void *rec, size_t len, const void **ret_env, size_t *ret_env_len,
               uint8_t id[ENVELOPE_ID_LEN])
{
    size_t off, vlen;
    const uint8_t *p = rec;
    if (audit_record_scan_event_field(rec, len, "id", &off, &vlen) < 0 ||
        vlen != 2 + ENVELOPE_ID_LEN || p[off] != 0xc4 || p[off + 1] != ENVELOPE_ID_LEN)
        return -EBADMSG;
    memcpy(id, p + off + 2, ENVELOPE_ID_LEN);
    if (msgpack_scan_map_field(rec, len, "event", &off, &vlen) < 0)
        return -EBADMSG;
    *ret_env = p + off;
    *ret_env_len = vlen;
    return 0;
}

/* Sends one request to w. Returns 0, or -errno if the worker could not take it. */
static int
s_send_request(struct delivery *d, struct worker *w, uint64_t seq, unsigned attempt,
               const void *env, size_t env_len)
{
    char addr[24];
    size_t addr_len = mdp_seq_address(seq, addr);
    mdp_pack_request(&d->body, seq, attempt, w->area->conf->name, env, env_len);
    struct mdp_frame frames[3] = {
        {addr, addr_len},
        {"", 0},
        {d->body.data, d->body.size},
    };
    return s_send(d, w->identity, w->identity_len, MDP_REQUEST, frames, 3);
}

/*
 * Sends a's queued events to its workers while they have credit (the read
 * snapshot is open). Returns a worker found gone, or NULL.
 */
static struct worker *
s_dispatch_area(struct delivery *d, struct area_state *a)
{
    struct worker *w = s_pick_worker(d, a);
    uint64_t seq;
    unsigned attempt;
    while (w && seq_queue_pop(&a->queue, &seq, &attempt)) {
        const void *rec, *env;
        size_t rec_len, env_len;
        struct inflight *fl = &w->inflight[w->ninflight];
        if (audit_log_snapshot_get(d->log, seq, &rec, &rec_len) < 0 ||
            s_record_event(rec, rec_len, &env, &env_len, fl->id) < 0) {
            /* Cannot happen unless the file was altered; `verify` will say where. */
            log_err("delivery: event %llu is not a readable `accepted` record; skipped",
                    (unsigned long long)seq);
            continue;
        }
        int rc = s_send_request(d, w, seq, attempt, env, env_len);
        if (rc < 0) {
            seq_queue_push_front(&a->queue, seq, attempt);
            if (rc == -EHOSTUNREACH)
                return w; /* gone without a DISCONNECT */
            log_warn("delivery: cannot send to %s: %s", w->name, strerror(-rc));
            return NULL;
        }
        fl->seq = seq;
        fl->attempt = attempt;
        w->ninflight++;
        d->inflight++;
        d->stats.dispatched++;
        const struct audit_delivery dispatched = {
            .event_seq = seq, .area = a->conf->name, .attempt = attempt, .worker = w->name};
        delivery_records_dispatched(d->records, &dispatched, &fl->dispatched);
        if (w->ninflight == w->credit)
            w = s_pick_worker(d, a);
    }
    return NULL;
}

struct refill {
    struct area_state *a;
    size_t room;
};

static int
s_refill_one(void *arg, const struct audit_pending *p)
{
    struct refill *r = arg;
    /* Not yet tried, and this area's: others were queued at start (or, unreadable,
     * named there), or are another area's. */
    if (p->unreadable || p->attempt != 0 || strcmp(p->area, r->a->conf->name) != 0)
        return 0;
    seq_queue_push(&r->a->queue, p->seq, 1);
    if (r->a->spilled)
        r->a->spilled--;
    return --r->room == 0;
}

/*
 * Reads spilled events of a back from `pending` (the snapshot is open) once
 * its queue is half empty. Every spilled event was committed before it was
 * routed, so a scan that reaches the table's end has them all.
 */
static void
s_refill(struct delivery *d, struct area_state *a)
{
    size_t held = seq_queue_len(&a->queue);
    if (!a->spill_from || held >= REFILL_BELOW)
        return;
    struct refill r = {.a = a, .room = HELD_MAX - held};
    uint64_t next;
    int rc = audit_log_snapshot_pending_from(d->log, a->spill_from, REFILL_SCAN, s_refill_one, &r,
                                             &next);
    if (rc < 0) {
        log_err("delivery: cannot read pending events of %s: %s; they wait", a->conf->name,
                strerror(-rc));
        return;
    }
    a->spill_from = next;
    if (next == 0)
        a->spilled = 0;
    else if (seq_queue_len(&a->queue) < REFILL_BELOW)
        s_dispatch(d, a); /* the scan's budget ran out: on at the next turn */
}

/*
 * Runs once at the end of a loop turn for every area that got events or
 * credit during it: one read snapshot for all, however many replies and
 * accepted events the turn brought.
 */
void
delivery_dispatch(struct delivery *d)
{
    if (!d->dirty || d->draining)
        return;
    d->dirty = false;
    if (audit_log_snapshot_begin(d->log) < 0) {
        log_err("delivery: cannot read the audit log; events wait");
        return;
    }
    struct worker *lost = NULL;
    for (size_t i = 0; i < d->cfg->nareas && !lost; i++) {
        struct area_state *a = d->areas[i];
        if (!a->dirty)
            continue;
        a->dirty = false;
        s_refill(d, a);
        if (seq_queue_len(&a->queue))
            lost = s_dispatch_area(d, a);
        if (!lost && a->spill_from && seq_queue_len(&a->queue) < REFILL_BELOW) {
            s_refill(d, a);
            lost = s_dispatch_area(d, a);
        }
    }
    audit_log_snapshot_end(d->log);
    /* A send may have consumed ZMQ_FD's edge while replies were already waiting. */
    router_rearm(d->sock, d->ev);
    if (lost)
        s_worker_lost(d, lost, "unreachable"); /* marks the area again */
}

static void
s_dispatch(struct delivery *d, struct area_state *a)
{
    a->dirty = true;
    d->dirty = true;
    loop_turn_request(d->turn);
}

/* ------------------------------------------------------------------------ */
/* Replies. */

static void
s_on_reply(struct delivery *d, struct worker *w, const struct mdp_msg *m)
{
    unsigned i;
    for (i = 0; i < w->ninflight; i++)
        if (m->has_seq && w->inflight[i].seq == m->seq)
            break;
    if (i == w->ninflight) {
        log_warn("delivery: %s replied for '%.*s', which is not in flight there; ignored", w->name,
                 (int)(m->address_len < 32 ? m->address_len : 32), (const char *)m->address);
        d->stats.protocol_errors++;
        return;
    }
    struct inflight fl = w->inflight[i];
    w->inflight[i] = w->inflight[--w->ninflight];
    d->inflight--;
    delivery_records_attempt_ended(d->records, &fl.dispatched);

    struct mdp_outcome out;
    const void *body = m->nbody ? m->body[0].data : "";
    size_t body_len = m->nbody ? m->body[0].len : 0;
    if (m->nbody > 1) {
        /* RFC 7 allows a body of several frames: never our map, so an opaque done
         * whose hash covers them all, in order. */
        msgpack_sbuffer_clear(&d->data);
        for (size_t k = 0; k < m->nbody; k++)
            pack_sbuffer_write(&d->data, m->body[k].data, m->body[k].len);
        body = d->data.data;
        body_len = d->data.size;
    }
    mdp_outcome_decode(body, body_len, &out);

    struct area_state *a = w->area;
    struct audit_delivery rec = {
        .event_seq = fl.seq,
        .area = a->conf->name,
        .attempt = fl.attempt,
        .worker = w->name,
        .note = out.note,
        .result = out.result,
        .opaque_hash = out.opaque ? out.hash : NULL,
    };
    if (out.status == MDP_STATUS_DONE) {
        delivery_records_completed(d->records, &rec, a->conf, &out, fl.id);
        d->stats.completed++;
    } else {
        char reason[MDP_NOTE_MAX + 64];
        if (out.status == MDP_STATUS_FAILED) {
            delivery_records_failed(d->records, &rec);
            d->stats.failed++;
            snprintf(reason, sizeof reason, "failed: %s", out.note[0] ? out.note : "(no note)");
        } else {
            snprintf(reason, sizeof reason, "worker asked for a retry: %s",
                     out.note[0] ? out.note : "(no note)");
        }
        s_retry_or_deadletter(d, a, fl.seq, fl.attempt, reason);
    }
    mdp_outcome_release(&out);
    s_dispatch(d, a);
    s_check_drained(d);
}

static void
s_refuse_worker(struct delivery *d, const uint8_t *id, size_t id_len, const char *name,
                const char *key, const char *area, const char *reason)
{
    log_warn("delivery: worker %s (key '%s') refused for area '%s': %s; disconnected", name, key,
             area, reason);
    s_send_disconnect(d, id, id_len);
    d->stats.workers_refused++;
    const struct audit_worker_refused rec = {
        .worker = name, .key = key, .area = area, .reason = reason};
    delivery_records_worker_refused(d->records, &rec);
}

/*
 * With workers_curve = on a worker's key decides which areas it may serve
 * ([worker NAME] areas). Returns the key's name, or NULL if refused.
 */
static const char *
s_worker_key(struct delivery *d, const uint8_t *id, size_t id_len, const char *name,
             const char *user_key, const char *area)
{
    const struct keyring_entry *k = keyring_find_z85(d->cfg->keys.workers, user_key);
    if (!k) {
        s_refuse_worker(d, id, id_len, name, "", area,
                        "its key is no longer admitted; reconnect with an admitted key");
        return NULL;
    }
    if (!config_worker_serves(config_worker(d->cfg, k->name), area)) {
        s_refuse_worker(d, id, id_len, name, k->name, area,
                        "the key may not serve this area ([worker] areas)");
        return NULL;
    }
    return k->name;
}

static void
s_on_ready(struct delivery *d, const uint8_t *id, size_t id_len, const struct mdp_msg *m,
           const char *user_key)
{
    const struct area_conf *conf = config_area(d->cfg, m->service);
    char name[WORKER_NAME_MAX];
    s_worker_name(id, id_len, name, sizeof name);
    if (!conf) {
        log_warn("delivery: worker %s offers service '%s', which is not an area; disconnected",
                 name, m->service);
        s_send_disconnect(d, id, id_len);
        return;
    }
    const char *key = "";
    if (d->cfg->security.workers_curve &&
        !(key = s_worker_key(d, id, id_len, name, user_key, conf->name)))
        return;
    struct worker *w = xcalloc(1, sizeof *w);
    memcpy(w->identity, id, id_len);
    w->identity_len = id_len;
    memcpy(w->name, name, sizeof name);
    snprintf(w->key, sizeof w->key, "%s", key);
    snprintf(w->key_z85, sizeof w->key_z85, "%s", key[0] ? user_key : "");
    w->area = s_area_state(d, conf);
    w->credit = m->credit ? m->credit : 1;
    w->inflight = xcalloc(w->credit, sizeof *w->inflight);
    w->expiry_ms = s_now_ms() + (uint64_t)d->cfg->delivery.heartbeat_ms * d->cfg->delivery.liveness;
    w->next = d->workers;
    d->workers = w;
    d->stats.workers_joined++;
    const struct audit_worker rec = {
        .worker = w->name, .area = conf->name, .credit = w->credit, .key = w->key};
    delivery_records_worker_joined(d->records, &rec);
    log_info("worker %s joined area %s with credit %u", w->name, conf->name, w->credit);
    s_dispatch(d, w->area);
}

static void
s_handle(struct delivery *d, const uint8_t *id, size_t id_len, const struct mdp_frame *frames,
         size_t nframes, const char *user_key)
{
    struct mdp_msg m;
    char err[MDP_ERROR_MAX];
    struct worker *w = s_find_worker(d, id, id_len);
    char name[WORKER_NAME_MAX];

    if (mdp_parse_from_worker(frames, nframes, &m, err) < 0) {
        d->stats.protocol_errors++;
        s_worker_name(id, id_len, name, sizeof name);
        log_warn("delivery: worker %s: %s; disconnected", name, err);
        s_send_disconnect(d, id, id_len);
        if (w)
            s_worker_lost(d, w, "protocol error");
        return;
    }
    if (w)
        w->expiry_ms =
            s_now_ms() + (uint64_t)d->cfg->delivery.heartbeat_ms * d->cfg->delivery.liveness;
    switch (m.command) {
    case MDP_READY:
        if (w) {
            /* RFC 7: READY twice is a protocol error. */
            s_send_disconnect(d, id, id_len);
            s_worker_lost(d, w, "sent READY twice");
        } else {
            s_on_ready(d, id, id_len, &m, user_key);
        }
        break;
    case MDP_REPLY:
    case MDP_HEARTBEAT:
        if (!w) {
            /* A worker we do not know (e.g. from before a restart): make it READY again. */
            s_send_disconnect(d, id, id_len);
        } else if (m.command == MDP_REPLY) {
            s_on_reply(d, w, &m);
        }
        break;
    case MDP_DISCONNECT:
        if (w)
            s_worker_lost(d, w, "disconnected");
        break;
    default:
        break;
    }
}

/* Reads one multipart message. Returns false if nothing could be read. */
static bool
s_read_one(struct delivery *d)
{
    zmq_msg_t idmsg, parts[FRAMES_MAX];
    size_t nparts = 0;
    bool too_many = false;

    zmq_msg_init(&idmsg);
    if (zmq_msg_recv(&idmsg, d->sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&idmsg);
        return false;
    }
    bool more = zmq_msg_more(&idmsg);
    while (more) {
        zmq_msg_t extra, *m = nparts < FRAMES_MAX ? &parts[nparts] : &extra;
        zmq_msg_init(m);
        if (zmq_msg_recv(m, d->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(m);
            break;
        }
        more = zmq_msg_more(m);
        if (m == &extra) {
            too_many = true;
            zmq_msg_close(m);
        } else {
            nparts++;
        }
    }
    const uint8_t *id = zmq_msg_data(&idmsg);
    size_t id_len = zmq_msg_size(&idmsg);
    if (too_many || id_len > IDENTITY_MAX) {
        char name[WORKER_NAME_MAX];
        s_worker_name(id, id_len, name, sizeof name);
        log_warn("delivery: worker %s sent a message of more than %d frames; disconnected", name,
                 FRAMES_MAX);
        d->stats.protocol_errors++;
        if (id_len <= IDENTITY_MAX) {
            s_send_disconnect(d, id, id_len);
            struct worker *w = s_find_worker(d, id, id_len);
            if (w)
                s_worker_lost(d, w, "protocol error");
        }
    } else {
        struct mdp_frame frames[FRAMES_MAX];
        for (size_t i = 0; i < nparts; i++) {
            frames[i].data = zmq_msg_data(&parts[i]);
            frames[i].len = zmq_msg_size(&parts[i]);
        }
        s_handle(d, id, id_len, frames, nparts, nparts ? zap_user_key(&parts[0]) : NULL);
    }
    for (size_t i = 0; i < nparts; i++)
        zmq_msg_close(&parts[i]);
    zmq_msg_close(&idmsg);
    return true;
}

static void
s_on_readable(evutil_socket_t fd, short what, void *arg)
{
    struct delivery *d = arg;
    for (int i = 0; i < READ_BUDGET; i++)
        if (!s_read_one(d))
            break;
    /* ZMQ_FD signals edges only; sends may have consumed one. */
    router_rearm(d->sock, d->ev);
}

static void
s_on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
    struct delivery *d = arg;
    uint64_t now = s_now_ms();
    /* s_worker_lost() frees only w (its dispatching waits for the end of the
     * turn), so the saved next stays valid. */
    for (struct worker *w = d->workers, *next; w; w = next) {
        next = w->next;
        if (now > w->expiry_ms)
            s_worker_lost(d, w, "heartbeat expired");
        else if (s_send(d, w->identity, w->identity_len, MDP_HEARTBEAT, NULL, 0) == -EHOSTUNREACH)
            s_worker_lost(d, w, "unreachable");
    }
    router_rearm(d->sock, d->ev);
}

/* ------------------------------------------------------------------------ */
/* Drain. */

static void
s_finish_drain(struct delivery *d)
{
    void (*done)(void *) = d->drain_done;
    d->drain_done = NULL;
    if (d->drain_ev)
        evtimer_del(d->drain_ev);
    if (done)
        done(d->drain_arg);
}

static void
s_check_drained(struct delivery *d)
{
    if (d->draining && d->inflight == 0 && d->drain_done)
        s_finish_drain(d);
}

static void
s_on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct delivery *d = arg;
    if (d->drain_done)
        log_warn("delivery: %llu request(s) still in flight after the drain timeout; they stay "
                 "pending and are offered again after restart",
                 (unsigned long long)d->inflight);
    s_finish_drain(d);
}

void
delivery_drain(struct delivery *d, unsigned timeout_ms, void (*done)(void *arg), void *arg)
{
    d->draining = true;
    d->drain_done = done;
    d->drain_arg = arg;
    if (d->inflight == 0) {
        s_finish_drain(d);
        return;
    }
    log_notice("delivery: waiting up to %u ms for %llu request(s) in flight", timeout_ms,
               (unsigned long long)d->inflight);
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    evtimer_add(d->drain_ev, &tv);
}

/* ------------------------------------------------------------------------ */
/* Start: what `pending` holds is queued again. */

struct recover_ctx {
    struct delivery *d;
    const struct mandated_config *known; /* its areas are queued already; NULL: none are */
    uint64_t queued, retried, orphaned, unreadable;
    uint64_t now_wall;
};

static int
s_recover_one(void *arg, const struct audit_pending *p)
{
    struct recover_ctx *rc = arg;
    struct delivery *d = rc->d;
    if (p->unreadable) {
        /* Left in `pending` as it is: the record in `log` still says what the event was.
         * Named at start; a reload's walk (known) would only say it again. */
        if (rc->known)
            return 0;
        rc->unreadable++;
        if (rc->unreadable <= 10)
            log_err("delivery: the `pending` entry of event %llu cannot be read (not a map "
                    "with an area); it is left in place and not delivered",
                    (unsigned long long)p->seq);
        return 0;
    }
    const struct area_conf *conf = config_area(d->cfg, p->area);
    if (conf && rc->known && config_area(rc->known, p->area))
        return 0;
    if (!conf) {
        /* Left in `pending`: a config that brings the area back delivers it. */
        rc->orphaned++;
        if (rc->orphaned <= 10)
            log_warn("event %llu waits for area '%s', which is not configured",
                     (unsigned long long)p->seq, p->area);
        return 0;
    }
    struct area_state *a = d->areas[conf - d->cfg->areas];
    if (p->attempt == 0) {
        s_hold(a, p->seq);
    } else if (p->due_ms == 0) {
        /* It was in flight when the broker stopped: that attempt's fate is unknown. */
        s_retry_or_deadletter(d, a, p->seq, p->attempt, "broker restarted while it was in flight");
        rc->retried++;
        return 0;
    } else {
        /* Its `retried` record is already in the log: keep the schedule. */
        uint64_t delay = p->due_ms > rc->now_wall ? p->due_ms - rc->now_wall : 0;
        s_schedule_retry(d, a, p->seq, p->attempt + 1,
                         (unsigned)(delay < BACKOFF_MAX_MS ? delay : BACKOFF_MAX_MS));
    }
    rc->queued++;
    return 0;
}

/* Queues what `pending` holds for the areas that known (NULL: none) did not have. */
static int
s_recover(struct delivery *d, const struct mandated_config *known)
{
    struct recover_ctx rc = {.d = d, .known = known, .now_wall = unix_ms()};
    int r = audit_log_pending_foreach(d->log, s_recover_one, &rc);
    if (r < 0) {
        log_err("delivery: cannot read pending deliveries: %s", strerror(-r));
        return r;
    }
    if (rc.queued || rc.retried || rc.orphaned || rc.unreadable)
        log_notice("delivery: %llu pending event(s) queued again, %llu were in flight, %llu wait "
                   "for an unconfigured area, %llu cannot be read",
                   (unsigned long long)rc.queued, (unsigned long long)rc.retried,
                   (unsigned long long)rc.orphaned, (unsigned long long)rc.unreadable);
    return 0;
}

int
delivery_start(struct delivery *d)
{
    return s_recover(d, NULL);
}

static struct area_state *
s_area_new(struct delivery *d, const struct area_conf *conf)
{
    struct area_state *a = xcalloc(1, sizeof *a);
    a->conf = conf;
    a->d = d;
    seq_queue_init(&a->queue);
    retry_heap_init(&a->retries);
    a->retry_ev = evtimer_new(d->base, s_on_retry, a);
    return a;
}

static void
s_area_free(struct area_state *a)
{
    if (!a)
        return;
    seq_queue_destroy(&a->queue);
    retry_heap_destroy(&a->retries);
    if (a->retry_ev)
        event_free(a->retry_ev);
    free(a);
}

/*
 * Whether a worker may still serve its area after a reload: the key it
 * connected with (its bytes: a key replaced under the same name no longer
 * counts) is still admitted, and its [worker] section still names the area.
 */
static bool
s_still_allowed(const struct delivery *d, const struct worker *w)
{
    if (!d->cfg->security.workers_curve)
        return true;
    const struct keyring_entry *k = keyring_find_z85(d->cfg->keys.workers, w->key_z85);
    return k && config_worker_serves(config_worker(d->cfg, k->name), w->area->conf->name);
}

void
delivery_reconfigure(struct delivery *d, const struct mandated_config *cfg)
{
    const struct mandated_config *old = d->cfg;
    struct area_state **areas = xcalloc(cfg->nareas ? cfg->nareas : 1, sizeof *areas);
    bool added = false;
    for (size_t i = 0; i < cfg->nareas; i++) {
        const struct area_conf *was = config_area(old, cfg->areas[i].name);
        if (was) {
            areas[i] = d->areas[was - old->areas];
            d->areas[was - old->areas] = NULL;
            areas[i]->conf = &cfg->areas[i];
        } else {
            areas[i] = s_area_new(d, &cfg->areas[i]);
            added = true;
        }
    }
    /* Workers of an area that is gone leave with it; their requests in
     * flight and the area's queue stay in `pending`. */
    for (struct worker *w = d->workers, *next; w; w = next) {
        next = w->next;
        bool gone = false;
        for (size_t i = 0; i < old->nareas && !gone; i++)
            gone = d->areas[i] == w->area;
        if (gone) {
            s_send_disconnect(d, w->identity, w->identity_len);
            s_worker_remove(d, w, "its area was removed", false);
        }
    }
    for (size_t i = 0; i < old->nareas; i++)
        s_area_free(d->areas[i]);
    free(d->areas);
    d->areas = areas;
    d->cfg = cfg;
    delivery_records_reconfigure(d->records, cfg);

    for (struct worker *w = d->workers, *next; w; w = next) {
        next = w->next;
        if (!s_still_allowed(d, w)) {
            s_send_disconnect(d, w->identity, w->identity_len);
            s_worker_lost(d, w, "its key may no longer serve the area");
        }
    }
    unsigned hb = cfg->delivery.heartbeat_ms;
    struct timeval tv = {.tv_sec = hb / 1000, .tv_usec = (hb % 1000) * 1000};
    event_add(d->heartbeat_ev, &tv);
    /* Areas the old config did not have get what `pending` holds for them:
     * a walk of the whole table, so only when there are such areas. */
    if (added)
        s_recover(d, old);
    for (size_t i = 0; i < cfg->nareas; i++)
        s_dispatch(d, d->areas[i]);
    router_rearm(d->sock, d->ev);
}

struct delivery *
delivery_new(struct event_base *base, void *zmq_ctx, const struct mandated_config *cfg,
             struct audit_log *log, struct group_commit *commit, struct loop_turn *turn)
{
    struct delivery *d = xcalloc(1, sizeof *d);

    d->cfg = cfg;
    d->log = log;
    d->turn = turn;
    d->base = base;
    d->areas = xcalloc(cfg->nareas ? cfg->nareas : 1, sizeof *d->areas);
    for (size_t i = 0; i < cfg->nareas; i++)
        d->areas[i] = s_area_new(d, &cfg->areas[i]);
    d->records = delivery_records_new(cfg, log, turn, delivery_route_emitted, d);
    struct group_commit_producer producer;
    journal_producer(delivery_records_journal(d->records), "delivery", &producer);
    group_commit_add(commit, &producer);
    msgpack_sbuffer_init(&d->body);
    msgpack_sbuffer_init(&d->data);

    /* A reply carries at most DELIVERY_EMIT_MAX follow-ups besides its result:
     * a worker sending more than that is cut off by libzmq before it is buffered. */
    const struct router_options ropts = {
        .max_msg_bytes =
            (int64_t)(DELIVERY_EMIT_MAX + 2) * (int64_t)cfg->broker.max_event_bytes + 4096,
        .sndhwm = 1000000,
        .rcvhwm = 1000000,
        .linger_ms = 0,   /* unanswered requests are pending in the log: nothing to flush */
        .handover = true, /* a restarted worker may come back under the same identity */
        .curve_secret_key = cfg->security.workers_curve ? cfg->keys.server.secret_key : NULL,
        .zap_domain = ZAP_DOMAIN_WORKERS,
    };
    d->sock = router_new(zmq_ctx, cfg->broker.workers, &ropts);
    if (!d->sock) {
        log_err("delivery: cannot bind %s: %s", cfg->broker.workers, zmq_strerror(errno));
        goto out_destroy;
    }
    d->ev = router_event_new(base, d->sock, s_on_readable, d);
    if (!d->ev)
        goto out_error;
    unsigned hb = cfg->delivery.heartbeat_ms;
    struct timeval tv = {.tv_sec = hb / 1000, .tv_usec = (hb % 1000) * 1000};
    d->heartbeat_ev = event_new(base, -1, EV_PERSIST, s_on_heartbeat, d);
    event_add(d->heartbeat_ev, &tv);
    d->drain_ev = evtimer_new(base, s_on_drain_timeout, d);
    return d;

out_error:
    log_err("delivery: %s", zmq_strerror(errno));
out_destroy:
    delivery_destroy(&d);
    return NULL;
}

void
delivery_destroy(struct delivery **d_p)
{
    struct delivery *d = *d_p;
    if (!d)
        return;
    while (d->workers) {
        struct worker *w = d->workers;
        d->workers = w->next;
        free(w->inflight);
        free(w);
    }
    struct event *evs[] = {d->ev, d->heartbeat_ev, d->drain_ev};
    for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
        if (evs[i])
            event_free(evs[i]);
    if (d->sock)
        zmq_close(d->sock);
    for (size_t i = 0; d->areas && i < d->cfg->nareas; i++)
        s_area_free(d->areas[i]);
    free(d->areas);
    delivery_records_destroy(&d->records);
    msgpack_sbuffer_destroy(&d->body);
    msgpack_sbuffer_destroy(&d->data);
    free(d);
    *d_p = NULL;
}

const struct delivery_stats *
delivery_stats(const struct delivery *d)
{
    return &d->stats;
}

uint64_t
delivery_waiting(const struct delivery *d)
{
    uint64_t n = 0;
    for (size_t i = 0; i < d->cfg->nareas; i++)
        n += seq_queue_len(&d->areas[i]->queue) + retry_heap_len(&d->areas[i]->retries) +
             d->areas[i]->spilled;
    return n;
}

uint64_t
delivery_inflight(const struct delivery *d)
{
    return d->inflight;
}
