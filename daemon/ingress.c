/*
 * ingress: MEP/1 intake. The invariant this file keeps: an ACK leaves only
 * after the transaction holding the event's `accepted` record has committed
 * (and, under durability = full, reached the disk).
 *
 * Group commit: everything read while the writer thread commits one batch
 * (up to commit_max_batch) becomes the next batch, one transaction and one
 * fsync. Under load the fsync of one batch overlaps the reading of the next;
 * a lone event with nothing behind it is written on the loop thread at once.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "daemon/batch_writer.h"
#include "daemon/deadline_tracker.h"
#include "daemon/ingress.h"
#include "common/clock.h"
#include "common/alloc.h"
#include "common/log.h"
#include "daemon/router.h"
#include "daemon/rate_limit.h"
#include "proto/envelope.h"
#include "proto/msgpack_scan.h"
#include "proto/pack.h"

#define IDENTITY_MAX     255
#define FRAMES_MAX       8   /* after the identity; more is a bad frame */
#define INLINE_BATCH_MAX 4   /* written on the loop thread when nothing else waits */
#define RIDER_BATCH_MIN  256 /* rider records worth a commit of their own at once */
#define RIDER_DELAY_MS   2   /* how long fewer of them wait for more */
#define RIDER_RETRY_MS   100 /* between attempts while commits fail */

/* One message read in this turn, and what will be answered. */
struct item {
    uint8_t identity[IDENTITY_MAX];
    size_t identity_len;
    bool delimiter; /* a REQ peer: its empty frame is echoed back */

    enum mep_code code; /* MEP_OK: to be accepted */
    char reason[MEP_REASON_MAX + 1];
    bool has_id;
    uint8_t id[ENVELOPE_ID_LEN];
    bool log_rejection;
    char peer[64];

    bool has_env;
    struct envelope env;
    zmq_msg_t body; /* the raw envelope, stored verbatim in `accepted` */
    bool has_body;
    const struct area_conf *area;
    const struct catalogue_type *type; /* NULL: a type only an area glob routes */

    uint64_t seq;
    bool dup;
};

/* Messages read in some loop turns, written in one transaction. */
struct batch {
    struct item *items;
    size_t nitems;
    uint64_t suppressed; /* rejections not logged before this batch's first logged one */
    bool has_logged_rejection;
    bool rider_taken; /* the rider's records ride in this transaction */
    int rc;           /* of the write, for the replies */
    uint64_t write_ns;
};

struct ingress {
    struct event_base *base;
    const struct mandated_config *cfg;
    struct audit_log *log;
    void *sock;
    struct event *ev;
    bool stopped;

    struct envelope_limits limits;
    struct envelope_decoder decoder; /* it->env.data is valid only during the checks */

    /* Double buffering: the loop fills one batch while the writer thread
     * commits the other; `writing` is NULL while the writer is idle. */
    struct batch batches[2];
    struct batch *filling, *writing;
    struct batch_writer *writer;
    struct event *delay_ev; /* commit_max_delay_ms */
    bool delay_armed;
    struct event *kick_ev; /* the rider has records to write */
    struct ingress_rider rider;
    bool has_rider;

    struct rate_limit *source_limits; /* parallel to cfg->sources */
    struct rate_limit rejected_limit;
    uint64_t suppressed_since_logged;

    msgpack_sbuffer fields; /* kind-specific record fields; writer thread only */
    msgpack_sbuffer reply;  /* loop thread only */
    bool last_commit_failed;
    struct ingress_stats stats;
};

static void s_reject(struct item *it, enum mep_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
s_reject(struct item *it, enum mep_code code, const char *fmt, ...)
{
    va_list ap;
    it->code = code;
    va_start(ap, fmt);
    vsnprintf(it->reason, sizeof it->reason, fmt, ap);
    va_end(ap);
}

static void
s_item_release(struct item *it)
{
    if (it->has_env)
        envelope_release(&it->env);
    if (it->has_body)
        zmq_msg_close(&it->body);
    it->has_env = false;
    it->has_body = false;
}

/* Sends identity [· empty] · MEP1 · command · body. Counts a reply that cannot go out. */
static void
s_send_reply(struct ingress *in, const uint8_t *identity, size_t identity_len, bool delimiter,
             const char *command, const msgpack_sbuffer *body)
{
    int rc = zmq_send(in->sock, identity, identity_len, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    if (rc >= 0 && delimiter)
        rc = zmq_send(in->sock, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    if (rc >= 0)
        rc = zmq_send(in->sock, MEP_PROTOCOL, 4, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    if (rc >= 0)
        rc = zmq_send(in->sock, command, strlen(command), ZMQ_SNDMORE | ZMQ_DONTWAIT);
    if (rc >= 0)
        rc = zmq_send(in->sock, body->data, body->size, ZMQ_DONTWAIT);
    if (rc < 0) {
        /* EHOSTUNREACH: the peer left (ROUTER_MANDATORY); EAGAIN: its queue is full.
         * Either way the publisher resends the same id and gets `dup`. */
        in->stats.replies_dropped++;
        log_debug("ingress: reply %s dropped: %s", command, zmq_strerror(errno));
    }
}

static void
s_peer_address(zmq_msg_t *msg, char *out, size_t size)
{
    const char *addr = zmq_msg_gets(msg, "Peer-Address");
    snprintf(out, size, "%s", addr ? addr : "");
}

/*
 * The area of the event env's corr names, for the catalogue types that go
 * where their case is (case.decision): read from its accepted record. An
 * event still in the batch being written is not found yet: a publisher
 * sends a decision after its case's ACK, as it would on paper.
 */
static const struct area_conf *
s_area_of_corr(struct ingress *in, const struct envelope *env)
{
    const struct area_conf *area = NULL;
    uint64_t seq;
    const void *rec;
    size_t len, off, flen;

    if (audit_log_snapshot_begin(in->log) < 0)
        return NULL;
    if (audit_log_snapshot_find_id(in->log, env->corr, &seq) == 0 &&
        audit_log_snapshot_get(in->log, seq, &rec, &len) == 0 &&
        msgpack_scan_map_field(rec, len, "area", &off, &flen) == 0) {
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        if (msgpack_unpack_next(&u, (const char *)rec + off, flen, NULL) ==
                MSGPACK_UNPACK_SUCCESS &&
            u.data.type == MSGPACK_OBJECT_STR && u.data.via.str.size <= 64) {
            char name[65];
            memcpy(name, u.data.via.str.ptr, u.data.via.str.size);
            name[u.data.via.str.size] = '\0';
            area = config_area(in->cfg, name);
        }
        msgpack_unpacked_destroy(&u);
    }
    audit_log_snapshot_end(in->log);
    return area;
}

/* Source, type, data and rate checks on a decoded envelope. */
static void
s_check_envelope(struct ingress *in, struct item *it, uint64_t now)
{
    const struct envelope *env = &it->env;
    const struct mandated_config *cfg = in->cfg;

    if (strncmp(env->source, "area:", 5) == 0) {
        s_reject(it, MEP_FORBIDDEN, "field 'source': '%s' is reserved for workers' follow-ups",
                 env->source);
        return;
    }
    const struct catalogue_type *type = it->type = config_type(cfg, env->type);
    it->area = config_area_for_type(cfg, env->type);
    if (!it->area && type && type->area) {
        s_reject(it, MEP_UNKNOWN_TYPE,
                 "field 'type': '%s' belongs to area '%s', which this broker does not serve",
                 env->type, type->area);
        return;
    }
    if (!it->area && !type) {
        s_reject(it, MEP_UNKNOWN_TYPE, "field 'type': '%s' is not in the catalogue", env->type);
        return;
    }
    if (type && type->internal) {
        s_reject(it, MEP_FORBIDDEN, "field 'type': '%s' is emitted by workers and the broker only",
                 env->type);
        return;
    }
    const struct source_conf *src = config_source(cfg, env->source);
    if (!config_source_allows(src, env->type)) {
        s_reject(it, MEP_FORBIDDEN, "field 'type': source '%s' may not publish '%s'", env->source,
                 env->type);
        return;
    }
    if (type) {
        char reason[MEP_REASON_MAX + 1];
        if (catalogue_check_data(type, env->data, reason, sizeof reason) < 0) {
            s_reject(it, MEP_INVALID_DATA, "%s", reason);
            return;
        }
    }
    if (!it->area) {
        if (!env->has_corr) {
            s_reject(it, MEP_INVALID_DATA,
                     "field 'corr': missing; '%s' goes to the area of the event its corr names",
                     env->type);
            return;
        }
        it->area = s_area_of_corr(in, env);
        if (!it->area) {
            s_reject(it, MEP_INVALID_DATA,
                     "field 'corr': names no accepted event of an area this broker serves");
            return;
        }
    }
    if (src && !rate_limit_take(&in->source_limits[src - cfg->sources], now)) {
        s_reject(it, MEP_RATE_LIMITED, "source '%s' is over its rate of %g events/s", env->source,
                 src->rate);
        return;
    }
}

/* Reads one multipart message. Returns false if nothing could be read. */
static bool
s_read_one(struct ingress *in, uint64_t now)
{
    zmq_msg_t parts[FRAMES_MAX];
    size_t nparts = 0, extra = 0;
    zmq_msg_t idmsg;
    struct item *it = &in->filling->items[in->filling->nitems];

    zmq_msg_init(&idmsg);
    if (zmq_msg_recv(&idmsg, in->sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&idmsg);
        return false;
    }
    memset(it, 0, offsetof(struct item, env));
    it->has_env = it->has_body = false;
    it->area = NULL;
    it->type = NULL;
    it->seq = 0;
    it->dup = false;
    it->identity_len = zmq_msg_size(&idmsg);
    if (it->identity_len > IDENTITY_MAX)
        it->identity_len = IDENTITY_MAX;
    memcpy(it->identity, zmq_msg_data(&idmsg), it->identity_len);
    bool more = zmq_msg_more(&idmsg);
    zmq_msg_close(&idmsg);

    while (more) {
        zmq_msg_t *m = nparts < FRAMES_MAX ? &parts[nparts] : &idmsg;
        zmq_msg_init(m);
        if (zmq_msg_recv(m, in->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(m);
            break;
        }
        more = zmq_msg_more(m);
        if (nparts < FRAMES_MAX)
            nparts++;
        else {
            zmq_msg_close(m);
            extra++;
        }
    }

    size_t first = 0;
    if (nparts > 0 && zmq_msg_size(&parts[0]) == 0) {
        it->delimiter = true;
        first = 1;
    }
    size_t nframes = nparts - first + extra;
    zmq_msg_t *f = &parts[first];
    it->code = MEP_OK;

    if (nframes < 2 || nframes > 3) {
        s_reject(it, MEP_BAD_FRAME, "expected 3 frames (MEP1, command, body), got %zu", nframes);
    } else if (zmq_msg_size(&f[0]) != 4 || memcmp(zmq_msg_data(&f[0]), MEP_PROTOCOL, 4) != 0) {
        s_reject(it, MEP_BAD_FRAME, "frame 1: protocol is not MEP1");
    } else {
        enum mep_command cmd = mep_command_parse(zmq_msg_data(&f[1]), zmq_msg_size(&f[1]));
        if (cmd == MEP_CMD_PING) {
            mep_pack_pong(&in->reply);
            s_send_reply(in, it->identity, it->identity_len, it->delimiter, "PONG", &in->reply);
            for (size_t i = 0; i < nparts; i++)
                zmq_msg_close(&parts[i]);
            return true; /* answered at once: no item */
        }
        if (cmd != MEP_CMD_PUB) {
            s_reject(it, MEP_BAD_FRAME, "frame 2: unknown command");
        } else if (nframes != 3) {
            s_reject(it, MEP_BAD_FRAME, "frame 3: PUB without a body");
        } else {
            /* envelope_decode enforces max_bytes itself, and still reads the id of an
             * oversize event so that a pipelining publisher can match the NACK. */
            struct envelope_error err;
            if (envelope_decode_with(&in->decoder, zmq_msg_data(&f[2]), zmq_msg_size(&f[2]),
                                     &in->limits, &it->env, &err) < 0) {
                it->code = err.code;
                snprintf(it->reason, sizeof it->reason, "%s", err.reason);
                it->has_id = err.has_id;
                memcpy(it->id, err.id, sizeof it->id);
            } else {
                it->has_env = true;
                it->has_id = true;
                memcpy(it->id, it->env.id, sizeof it->id);
                s_check_envelope(in, it, now);
            }
        }
    }

    if (it->code == MEP_OK) {
        /* Keep the raw bytes without copying: the record embeds them verbatim. */
        zmq_msg_init(&it->body);
        zmq_msg_move(&it->body, &f[2]);
        it->has_body = true;
    } else {
        in->stats.rejected[it->code]++;
        /* rejected_log_rate = 0 turns rejected records off; the counters remain. */
        it->log_rejection =
            in->cfg->broker.rejected_log_rate > 0 && rate_limit_take(&in->rejected_limit, now);
        if (it->log_rejection && nparts > 0)
            s_peer_address(&parts[0], it->peer, sizeof it->peer);
        if (!it->log_rejection) {
            in->suppressed_since_logged++;
            in->stats.rejected_suppressed++;
        } else if (!in->filling->has_logged_rejection) {
            /* The first logged rejection of a batch carries the count of those skipped. */
            in->filling->has_logged_rejection = true;
            in->filling->suppressed = in->suppressed_since_logged;
            in->suppressed_since_logged = 0;
        }
    }
    for (size_t i = 0; i < nparts; i++)
        zmq_msg_close(&parts[i]);
    in->filling->nitems++;
    return true;
}

static int
s_append_accepted(struct ingress *in, struct item *it)
{
    struct audit_accepted a = {
        .id = it->id,
        .type = it->env.type,
        .source = it->env.source,
        .area = it->area->name,
        .event = zmq_msg_data(&it->body),
        .event_len = zmq_msg_size(&it->body),
    };
    int rc = audit_log_append_accepted(in->log, &a, &it->seq);
    if (rc == 0 && it->type && it->type->closes)
        rc = deadline_tracker_close(in->log, it->type, it->env.has_corr ? it->env.corr : NULL,
                                    it->env.has_subject ? it->env.subject : NULL,
                                    it->env.has_subject ? strlen(it->env.subject) : 0);
    return rc;
}

static int
s_append_rejected(struct ingress *in, struct item *it, uint64_t suppressed)
{
    msgpack_packer pk;
    msgpack_sbuffer_clear(&in->fields);
    msgpack_packer_init(&pk, &in->fields, pack_sbuffer_write);
    const struct audit_rejected r = {
        .id = it->has_id ? it->id : NULL,
        .code = mep_code_name(it->code),
        .reason = it->reason,
        .source = it->has_env ? it->env.source : NULL,
        .type = it->has_env ? it->env.type : NULL,
        .peer = it->peer,
        .suppressed = suppressed,
    };
    unsigned n = audit_pack_rejected(&pk, &r);
    return audit_log_append(in->log, AUDIT_KIND_REJECTED, in->fields.data, in->fields.size, n,
                            NULL);
}

/* One transaction for the whole batch. Returns 0 or -errno (nothing written). */
static int
s_write_batch(struct ingress *in, struct batch *b)
{
    int rc = audit_log_begin(in->log);
    bool wrote = false, first_rejection = true;
    for (size_t i = 0; rc == 0 && i < b->nitems; i++) {
        struct item *it = &b->items[i];
        it->dup = false;
        if (it->code == MEP_OK) {
            uint64_t seq;
            int claimed = audit_log_claim_id(in->log, it->id, &seq);
            if (claimed == -EEXIST) {
                it->dup = true;
                it->seq = seq;
            } else if (claimed == 0) {
                rc = s_append_accepted(in, it);
                wrote = true;
            } else {
                rc = claimed;
            }
        } else if (it->log_rejection) {
            rc = s_append_rejected(in, it, first_rejection ? b->suppressed : 0);
            first_rejection = false;
            wrote = true;
        }
    }
    if (rc == 0 && b->rider_taken)
        rc = in->rider.write(in->rider.arg, in->log, &wrote);
    if (rc == 0 && wrote)
        rc = audit_log_commit(in->log);
    else
        audit_log_abort(in->log);
    return rc;
}

/* Writer thread: the batch's transaction, growing the map as often as it helps. */
static int
s_write(void *arg)
{
    struct ingress *in = arg;
    struct batch *b = in->writing;
    uint64_t t0 = monotonic_ns();
    int rc;
    for (;;) {
        rc = s_write_batch(in, b);
        if (rc != -ENOSPC || !audit_log_map_was_full(in->log) || audit_log_grow(in->log) < 0)
            break;
    }
    b->write_ns = monotonic_ns() - t0;
    b->rc = rc;
    return rc;
}

/* Loop thread: answers every message of a written batch. */
static void
s_reply_batch(struct ingress *in, struct batch *b)
{
    int rc = b->rc;
    in->stats.batches++;
    in->stats.write_ns += b->write_ns;
    if (rc < 0) {
        in->stats.commit_failures++;
        /* The rejected record that was to carry this count was not written. */
        in->suppressed_since_logged += b->suppressed;
        if (!in->last_commit_failed)
            log_err("audit log: commit failed: %s%s; answering `unavailable`", strerror(-rc),
                    audit_log_map_was_full(in->log) ? " (map at map_max_bytes)" : "");
        in->last_commit_failed = true;
    } else if (in->last_commit_failed) {
        log_notice("audit log: commits work again");
        in->last_commit_failed = false;
    }

    for (size_t i = 0; i < b->nitems; i++) {
        struct item *it = &b->items[i];
        if (it->code == MEP_OK && rc < 0) {
            in->stats.rejected[MEP_UNAVAILABLE]++;
            mep_pack_nack(&in->reply, it->id, MEP_UNAVAILABLE,
                          "the audit log cannot take more events now; retry later");
            s_send_reply(in, it->identity, it->identity_len, it->delimiter, "NACK", &in->reply);
        } else if (it->code == MEP_OK) {
            if (it->dup) {
                in->stats.duplicates++;
            } else {
                in->stats.accepted++;
                if (in->has_rider)
                    in->rider.accepted(in->rider.arg, it->seq, it->area);
            }
            mep_pack_ack(&in->reply, it->id, it->seq, it->dup);
            s_send_reply(in, it->identity, it->identity_len, it->delimiter, "ACK", &in->reply);
        } else {
            if (it->log_rejection && rc == 0)
                in->stats.rejected_logged++;
            mep_pack_nack(&in->reply, it->has_id ? it->id : NULL, it->code, it->reason);
            s_send_reply(in, it->identity, it->identity_len, it->delimiter, "NACK", &in->reply);
        }
        s_item_release(it);
    }
    b->nitems = 0;
    b->suppressed = 0;
    b->has_logged_rejection = false;
    if (b->rider_taken) {
        b->rider_taken = false;
        in->rider.done(in->rider.arg, rc);
    }
}

/*
 * Hands the filling batch to the writer if it is idle and there is something
 * to write. A small batch with nothing else waiting is written right here
 * instead: a lock-step publisher would otherwise pay two thread wake-ups per
 * event, and there is no next batch whose reading the fsync could overlap.
 */
static void
s_submit(struct ingress *in, bool force)
{
    size_t riders = in->has_rider ? in->rider.queued(in->rider.arg) : 0;
    if (in->writing || (in->filling->nitems == 0 && riders == 0))
        return;
    /* commit_max_delay_ms: an operator may trade latency for fuller batches.
     * The rider's records alone (no ACK waits on them) always wait a little
     * for company: every commit costs two fsyncs however small it is. */
    unsigned delay_ms = in->cfg->broker.commit_max_delay_ms;
    bool rider_only = in->filling->nitems == 0;
    bool wait = rider_only ? riders < RIDER_BATCH_MIN
                           : in->filling->nitems < in->cfg->broker.commit_max_batch;
    if (rider_only && delay_ms < RIDER_DELAY_MS)
        delay_ms = RIDER_DELAY_MS;
    /* After a failed commit (disk or map full) the rider's records would be
     * retried back to back: space the attempts out. New events still go at once. */
    if (rider_only && in->last_commit_failed) {
        delay_ms = RIDER_RETRY_MS;
        wait = true;
    }
    if (!force && delay_ms > 0 && wait) {
        if (!in->delay_armed) {
            struct timeval tv = {.tv_sec = delay_ms / 1000, .tv_usec = (delay_ms % 1000) * 1000};
            evtimer_add(in->delay_ev, &tv);
            in->delay_armed = true;
        }
        return;
    }
    if (in->delay_armed) {
        evtimer_del(in->delay_ev);
        in->delay_armed = false;
    }
    /* Inline only for a publisher waiting on its ACK: the rider's records alone
     * have nobody waiting, and the writer thread lets them gather meanwhile. */
    bool inline_write = in->filling->nitems > 0 &&
                        in->filling->nitems + riders <= INLINE_BATCH_MAX &&
                        !router_has_input(in->sock);
    if (riders) {
        in->rider.take(in->rider.arg);
        in->filling->rider_taken = true;
    }
    in->writing = in->filling;
    in->filling = in->filling == &in->batches[0] ? &in->batches[1] : &in->batches[0];
    if (!inline_write) {
        batch_writer_submit(in->writer, s_write, in);
        return;
    }
    s_write(in);
    uint64_t t0 = monotonic_ns();
    s_reply_batch(in, in->writing);
    in->stats.reply_ns += monotonic_ns() - t0;
    in->writing = NULL;
}

/* Loop thread, after the writer finished: reply, pass on the next batch, read on. */
static void
s_on_written(void *arg, int rc)
{
    struct ingress *in = arg;
    uint64_t t0 = monotonic_ns();
    s_reply_batch(in, in->writing);
    in->writing = NULL;
    s_submit(in, false);
    in->stats.reply_ns += monotonic_ns() - t0;
    /* Reading may have paused on a full batch, and sends may have consumed the edge. */
    if (!in->stopped && router_has_input(in->sock))
        event_active(in->ev, EV_READ, 0);
}

static void
s_on_delay(evutil_socket_t fd, short what, void *arg)
{
    struct ingress *in = arg;
    in->delay_armed = false;
    s_submit(in, true);
}

static void
s_on_kick(evutil_socket_t fd, short what, void *arg)
{
    s_submit(arg, false);
}

void
ingress_set_rider(struct ingress *in, const struct ingress_rider *rider)
{
    in->rider = *rider;
    in->has_rider = true;
}

void
ingress_kick(struct ingress *in)
{
    /* Deferred to the end of this loop turn, so that everything the turn
     * produces (replies of many workers, say) shares one transaction. */
    event_active(in->kick_ev, EV_TIMEOUT, 0);
}

static void
s_on_readable(evutil_socket_t fd, short what, void *arg)
{
    struct ingress *in = arg;
    if (in->stopped)
        return;
    uint64_t now = monotonic_ns();
    /* Drain until EAGAIN rather than asking ZMQ_EVENTS before every message:
     * that query runs libzmq's command processing, a syscall, each time. */
    while (in->filling->nitems < in->cfg->broker.commit_max_batch) {
        if (!s_read_one(in, now))
            break;
    }
    in->stats.read_ns += monotonic_ns() - now;
    s_submit(in, false);
    /* A full batch waits for the writer (s_on_written reads on); otherwise keep
     * reading while input is there, since ZMQ_FD only signals edges. */
    if (in->filling->nitems < in->cfg->broker.commit_max_batch && router_has_input(in->sock))
        event_active(in->ev, EV_READ, 0);
}

struct ingress *
ingress_new(struct event_base *base, void *zmq_ctx, const struct mandated_config *cfg,
            struct audit_log *log)
{
    struct ingress *in = xcalloc(1, sizeof *in);
    uint64_t now = monotonic_ns();

    in->base = base;
    in->cfg = cfg;
    in->log = log;
    in->limits = envelope_default_limits;
    in->limits.max_bytes = cfg->broker.max_event_bytes;
    envelope_decoder_init(&in->decoder);
    for (int i = 0; i < 2; i++)
        in->batches[i].items = xcalloc(cfg->broker.commit_max_batch, sizeof(struct item));
    in->filling = &in->batches[0];
    in->delay_ev = evtimer_new(base, s_on_delay, in);
    in->kick_ev = event_new(base, -1, 0, s_on_kick, in);
    in->writer = batch_writer_new(base, s_on_written, in);
    if (!in->writer)
        goto out_error;
    in->source_limits = xcalloc(cfg->nsources ? cfg->nsources : 1, sizeof *in->source_limits);
    for (size_t i = 0; i < cfg->nsources; i++)
        rate_limit_init(&in->source_limits[i], cfg->sources[i].rate, cfg->sources[i].burst, now);
    /* A bucket under one token would refuse everything: burst at least 1. */
    double rejected_burst = cfg->broker.rejected_log_rate > 1 ? cfg->broker.rejected_log_rate : 1;
    rate_limit_init(&in->rejected_limit, cfg->broker.rejected_log_rate, rejected_burst, now);
    msgpack_sbuffer_init(&in->fields);
    msgpack_sbuffer_init(&in->reply);

    /* Slightly over the event limit so that a near miss gets a too_large NACK;
     * anything far beyond it is cut off by libzmq before it is buffered. */
    const struct router_options ropts = {
        .max_msg_bytes = (int64_t)cfg->broker.max_event_bytes + 4096,
        .sndhwm = 100000,
        .linger_ms = 2000, /* the last replies of a stop still go out */
    };
    in->sock = router_new(zmq_ctx, cfg->broker.ingress, &ropts);
    if (!in->sock) {
        log_err("ingress: cannot bind %s: %s", cfg->broker.ingress, zmq_strerror(errno));
        goto out_destroy;
    }
    in->ev = router_event_new(base, in->sock, s_on_readable, in);
    if (!in->ev)
        goto out_error;
    return in;

out_error:
    log_err("ingress: %s", zmq_strerror(errno));
out_destroy:
    ingress_destroy(&in);
    return NULL;
}

void
ingress_stop(struct ingress *in)
{
    in->stopped = true;
    if (in->ev)
        event_del(in->ev);
}

void
ingress_drain(struct ingress *in)
{
    /* What was read before the stop is written and answered, not dropped;
     * so are the rider's records. */
    while (in->writing || in->filling->nitems ||
           (in->has_rider && in->rider.queued(in->rider.arg))) {
        s_submit(in, true);
        batch_writer_wait(in->writer);
        /* Events get their NACK when a commit fails, but the rider's records
         * would be retried for ever: give up on them at a stop. Their events
         * are still pending, so they are delivered again after the restart. */
        if (in->last_commit_failed && !in->writing && in->filling->nitems == 0) {
            size_t left = in->has_rider ? in->rider.queued(in->rider.arg) : 0;
            if (left)
                log_err("audit log: %zu delivery record(s) could not be written at the stop; "
                        "their events stay pending and are offered again at the next start",
                        left);
            break;
        }
    }
}

void
ingress_destroy(struct ingress **in_p)
{
    struct ingress *in = *in_p;
    if (!in)
        return;
    if (in->writer)
        batch_writer_wait(in->writer);
    batch_writer_destroy(&in->writer);
    if (in->delay_ev)
        event_free(in->delay_ev);
    if (in->kick_ev)
        event_free(in->kick_ev);
    if (in->ev)
        event_free(in->ev);
    for (int b = 0; b < 2; b++) {
        for (size_t i = 0; i < in->batches[b].nitems; i++)
            s_item_release(&in->batches[b].items[i]);
        free(in->batches[b].items);
    }
    if (in->sock)
        zmq_close(in->sock);
    msgpack_sbuffer_destroy(&in->fields);
    msgpack_sbuffer_destroy(&in->reply);
    envelope_decoder_destroy(&in->decoder);
    free(in->source_limits);
    free(in);
    *in_p = NULL;
}

const struct ingress_stats *
ingress_stats(const struct ingress *in)
{
    return &in->stats;
}
