/*
 * ingress: MEP/1 intake. The invariant this file keeps: an ACK leaves only
 * after the transaction holding the event's `accepted` record has committed
 * (and, under durability = full, reached the disk): replies are sent from
 * the group commit's done callback, never before.
 *
 * Double buffering: the loop fills one batch (up to commit_max_batch) while
 * the group commit writes the other, so under load the fsync of one batch
 * overlaps the reading of the next.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "daemon/acceptance.h"
#include "daemon/admission.h"
#include "daemon/ingress.h"
#include "daemon/rate_limit.h"
#include "daemon/router.h"
#include "daemon/zap.h"
#include "proto/envelope.h"
#include "proto/pack.h"

#define IDENTITY_MAX 255
#define FRAMES_MAX   8 /* after the identity; more is a bad frame */

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
    /* MEP_OK: its `accepted` record's own fields, packed and hashed on the
     * loop thread, so that the writer thread adds only the common ones. */
    struct audit_prepared rec;
};

#define BATCHES 3 /* filling, writing, answering */

/* Messages read in some loop turns, written in one transaction. */
struct batch {
    struct item *items;
    size_t nitems;
    msgpack_sbuffer heads; /* the prepared records' heads (item.rec) */
    uint64_t suppressed;   /* rejections not logged before this batch's first logged one */
    bool has_logged_rejection;
};

struct ingress {
    const struct mandated_config *cfg;
    struct audit_log *log;
    void *sock;
    struct event *ev;
    bool stopped;

    struct envelope_limits limits;
    struct envelope_decoder decoder; /* it->env.data is valid only during the checks */

    /* The loop fills one batch while the group commit writes another, and
     * the one written before is answered once the next write has started;
     * `writing` and `answering` are NULL while they hold none. */
    struct batch batches[BATCHES];
    size_t batch_cap; /* items in each, commit_max_batch at start */
    struct batch *filling, *writing, *answering;
    int answering_rc;
    struct loop_turn *turn;
    ingress_accepted_fn on_accepted;
    void *on_accepted_arg;

    struct rate_limit *source_limits; /* parallel to cfg->sources */
    struct rate_limit rejected_limit;
    uint64_t suppressed_since_logged;

    msgpack_sbuffer fields;      /* kind-specific record fields; writer thread only */
    msgpack_sbuffer loop_fields; /* the same for a prepared record; loop thread only */
    msgpack_sbuffer reply;       /* loop thread only */
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

/* Admission (daemon/admission.h), then the source's rate. */
static void
s_check_envelope(struct ingress *in, struct item *it, uint64_t now)
{
    const struct envelope *env = &it->env;
    struct admission_verdict v;
    if (!admission_check(in->cfg, in->log, ADMISSION_PUBLISHED, env, NULL, &v)) {
        it->code = v.code;
        memcpy(it->reason, v.reason, sizeof it->reason);
        return;
    }
    it->area = v.area;
    it->type = v.type;
    const struct source_conf *src = v.source;
    if (src && !rate_limit_take(&in->source_limits[src - in->cfg->sources], now)) {
        s_reject(it, MEP_RATE_LIMITED, "source '%s' is over its rate of %g events/s", env->source,
                 src->rate);
        return;
    }
}

/*
 * With CURVE the connection's key is the source (DESIGN.md "Security
 * model"): looked up in the keys of the moment, so that a key removed at a
 * reload no longer publishes on a connection it opened before.
 */
static bool
s_source_is_key(struct ingress *in, struct item *it, zmq_msg_t *frame)
{
    const struct keyring_entry *k = keyring_find_z85(in->cfg->keys.sources, zap_user_key(frame));
    if (!k) {
        s_reject(it, MEP_FORBIDDEN,
                 "the key this connection authenticated with is no longer admitted; "
                 "reconnect with an admitted key");
        return false;
    }
    if (strcmp(it->env.source, k->name) != 0) {
        s_reject(it, MEP_FORBIDDEN, "source '%s' is not the one this connection's key names ('%s')",
                 it->env.source, k->name);
        return false;
    }
    return true;
}

/* An accepted item's record fields, packed and hashed now (proto/audit_record.h). */
static void
s_prepare_record(struct ingress *in, struct item *it)
{
    msgpack_packer pk;
    const struct audit_accepted a = {
        .area = it->area->name,
        .event = zmq_msg_data(&it->body),
        .event_len = zmq_msg_size(&it->body),
    };
    msgpack_sbuffer_clear(&in->loop_fields);
    msgpack_packer_init(&pk, &in->loop_fields, pack_sbuffer_write);
    unsigned n = audit_pack_accepted(&pk, &a);
    audit_prepared_set(&it->rec, &in->filling->heads, in->loop_fields.data, in->loop_fields.size,
                       n);
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
                if (!in->cfg->security.curve || s_source_is_key(in, it, &parts[0]))
                    s_check_envelope(in, it, now);
            }
        }
    }

    if (it->code == MEP_OK) {
        /* Keep the raw bytes without copying: the record embeds them verbatim. */
        zmq_msg_init(&it->body);
        zmq_msg_move(&it->body, &f[2]);
        it->has_body = true;
        s_prepare_record(in, it);
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
    const struct audit_accepted a = {
        .id = it->id,
        .area = it->area->name,
        .event = zmq_msg_data(&it->body),
        .event_len = zmq_msg_size(&it->body),
        .prepared = &it->rec,
    };
    return acceptance_write(in->log, &a, it->type, &it->seq, &it->dup);
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

/* The producer's write: the batch in the group commit's transaction. */
static int
s_write_batch(void *arg, struct audit_log *log, bool *wrote)
{
    struct ingress *in = arg;
    struct batch *b = in->writing;
    bool first_rejection = true;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < b->nitems; i++) {
        struct item *it = &b->items[i];
        it->dup = false;
        if (it->code == MEP_OK) {
            rc = s_append_accepted(in, it);
            /* A duplicate writes nothing, but its id's lookup was in the transaction. */
            *wrote = *wrote || !it->dup;
        } else if (it->log_rejection) {
            rc = s_append_rejected(in, it, first_rejection ? b->suppressed : 0);
            first_rejection = false;
            *wrote = true;
        }
    }
    return rc;
}

/* Loop thread: answers every message of a written batch. */
static void
s_reply_batch(struct ingress *in, struct batch *b, int rc)
{
    if (rc < 0) {
        /* The rejected record that was to carry this count was not written. */
        in->suppressed_since_logged += b->suppressed;
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
                in->on_accepted(in->on_accepted_arg, it->seq, it->area);
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
    msgpack_sbuffer_clear(&b->heads);
    b->suppressed = 0;
    b->has_logged_rejection = false;
}

/* ------------------------------------------------------------------------ */
/* As a group commit producer: awaited, since every item has a peer waiting. */

static size_t
s_queued(void *arg)
{
    struct ingress *in = arg;
    return in->filling->nitems;
}

/* Asked before every transaction with our items in it; what it sees is
 * read in this turn. */
static bool
s_more_coming(void *arg)
{
    struct ingress *in = arg;
    return router_rearm(in->sock, in->ev);
}

static void
s_take(void *arg)
{
    struct ingress *in = arg;
    in->writing = in->filling;
    for (size_t i = 0; i < BATCHES; i++)
        if (&in->batches[i] != in->writing && &in->batches[i] != in->answering)
            in->filling = &in->batches[i];
}

/* Answers the batch written last, then reads on. */
static void
s_answer(void *arg)
{
    struct ingress *in = arg;
    if (!in->answering)
        return;
    uint64_t t0 = monotonic_ns();
    s_reply_batch(in, in->answering, in->answering_rc);
    in->answering = NULL;
    in->stats.reply_ns += monotonic_ns() - t0;
    /* Reading may have paused on a full batch, and sends may have consumed the edge.
     * (After a stop the read callback returns at once.) */
    router_rearm(in->sock, in->ev);
}

/* The batch is durable (or failed): it is answered by s_answer, once the
 * next batch is with the writer. */
static void
s_done(void *arg, int rc)
{
    struct ingress *in = arg;
    /* Replies leave in the order their batches were written. */
    s_answer(in);
    in->answering = in->writing;
    in->answering_rc = rc;
    in->writing = NULL;
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
    while (in->filling->nitems < in->batch_cap) {
        if (!s_read_one(in, now))
            break;
    }
    in->stats.read_ns += monotonic_ns() - now;
    /* Reading ended on EAGAIN, which leaves ZMQ_FD armed, or on a full
     * batch, which goes on once the batch is taken (s_more_coming) or
     * answered (s_done). */
    if (in->filling->nitems)
        loop_turn_request(in->turn);
}

/*
 * The rate buckets of cfg's sources and of rejected records. A source that
 * was in old (NULL at start) keeps its bucket's tokens, retuned; a new one
 * starts full.
 */
static void
s_init_limits(struct ingress *in, const struct mandated_config *old,
              const struct mandated_config *cfg, uint64_t now)
{
    struct rate_limit *limits = xcalloc(cfg->nsources ? cfg->nsources : 1, sizeof *limits);
    for (size_t i = 0; i < cfg->nsources; i++) {
        const struct source_conf *src = &cfg->sources[i];
        const struct source_conf *was = old ? config_source(old, src->name) : NULL;
        if (was) {
            limits[i] = in->source_limits[was - old->sources];
            rate_limit_retune(&limits[i], src->rate, src->burst, now);
        } else {
            rate_limit_init(&limits[i], src->rate, src->burst, now);
        }
    }
    free(in->source_limits);
    in->source_limits = limits;
    /* A bucket under one token would refuse everything: burst at least 1. */
    double rejected_burst = cfg->broker.rejected_log_rate > 1 ? cfg->broker.rejected_log_rate : 1;
    if (old)
        rate_limit_retune(&in->rejected_limit, cfg->broker.rejected_log_rate, rejected_burst, now);
    else
        rate_limit_init(&in->rejected_limit, cfg->broker.rejected_log_rate, rejected_burst, now);
}

void
ingress_reconfigure(struct ingress *in, const struct mandated_config *cfg)
{
    /* Items of the batches in hand keep the areas and types of the config
     * they were checked against, which stays alive (daemon/broker.c). */
    s_init_limits(in, in->cfg, cfg, monotonic_ns());
    in->cfg = cfg;
}

struct ingress *
ingress_new(struct event_base *base, void *zmq_ctx, const struct mandated_config *cfg,
            struct audit_log *log, struct group_commit *commit, struct loop_turn *turn,
            ingress_accepted_fn on_accepted, void *on_accepted_arg)
{
    struct ingress *in = xcalloc(1, sizeof *in);
    uint64_t now = monotonic_ns();

    in->cfg = cfg;
    in->log = log;
    in->limits = envelope_default_limits;
    in->limits.max_bytes = cfg->broker.max_event_bytes;
    envelope_decoder_init(&in->decoder);
    in->batch_cap = cfg->broker.commit_max_batch;
    for (int i = 0; i < BATCHES; i++) {
        in->batches[i].items = xcalloc(in->batch_cap, sizeof(struct item));
        msgpack_sbuffer_init(&in->batches[i].heads);
    }
    in->filling = &in->batches[0];
    in->turn = turn;
    in->on_accepted = on_accepted;
    in->on_accepted_arg = on_accepted_arg;
    s_init_limits(in, NULL, cfg, now);
    msgpack_sbuffer_init(&in->fields);
    msgpack_sbuffer_init(&in->loop_fields);
    msgpack_sbuffer_init(&in->reply);

    /* Slightly over the event limit so that a near miss gets a too_large NACK;
     * anything far beyond it is cut off by libzmq before it is buffered. */
    const struct router_options ropts = {
        .max_msg_bytes = (int64_t)cfg->broker.max_event_bytes + 4096,
        .sndhwm = 100000,
        .linger_ms = 2000, /* the last replies of a stop still go out */
        .curve_secret_key = cfg->security.curve ? cfg->keys.server.secret_key : NULL,
        .zap_domain = ZAP_DOMAIN_INGRESS,
    };
    in->sock = router_new(zmq_ctx, cfg->broker.ingress, &ropts);
    if (!in->sock) {
        log_err("ingress: cannot bind %s: %s", cfg->broker.ingress, zmq_strerror(errno));
        goto out_destroy;
    }
    in->ev = router_event_new(base, in->sock, s_on_readable, in);
    if (!in->ev)
        goto out_error;
    const struct group_commit_producer producer = {
        .name = "ingress",
        .awaited = true,
        .queued = s_queued,
        .more_coming = s_more_coming,
        .take = s_take,
        .write = s_write_batch,
        .done = s_done,
        .answer = s_answer,
        .arg = in,
    };
    group_commit_add(commit, &producer);
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
ingress_destroy(struct ingress **in_p)
{
    struct ingress *in = *in_p;
    if (!in)
        return;
    if (in->ev)
        event_free(in->ev);
    for (int b = 0; b < BATCHES; b++) {
        for (size_t i = 0; i < in->batches[b].nitems; i++)
            s_item_release(&in->batches[b].items[i]);
        msgpack_sbuffer_destroy(&in->batches[b].heads);
        free(in->batches[b].items);
    }
    if (in->sock)
        zmq_close(in->sock);
    msgpack_sbuffer_destroy(&in->fields);
    msgpack_sbuffer_destroy(&in->loop_fields);
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
