/* delivery_records: see delivery_records.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "daemon/admission.h"
#include "daemon/delivery_records.h"
#include "proto/envelope.h"
#include "proto/pack.h"
#include "proto/worker_result.h"

struct delivery_records {
    const struct mandated_config *cfg;
    struct audit_log *log;
    struct loop_turn *turn;
    struct journal *journal;
    msgpack_sbuffer body, data; /* re-packed follow-ups */
    struct envelope_limits limits;
};

struct delivery_records *
delivery_records_new(const struct mandated_config *cfg, struct audit_log *log,
                     struct loop_turn *turn,
                     void (*accepted)(void *arg, const struct journal_emit *e), void *arg)
{
    struct delivery_records *r = xcalloc(1, sizeof *r);
    r->cfg = cfg;
    r->log = log;
    r->turn = turn;
    r->journal = journal_new(accepted, arg);
    msgpack_sbuffer_init(&r->body);
    msgpack_sbuffer_init(&r->data);
    r->limits = envelope_default_limits;
    r->limits.max_bytes = cfg->broker.max_event_bytes;
    return r;
}

void
delivery_records_destroy(struct delivery_records **r_p)
{
    struct delivery_records *r = *r_p;
    if (!r)
        return;
    journal_destroy(&r->journal);
    msgpack_sbuffer_destroy(&r->body);
    msgpack_sbuffer_destroy(&r->data);
    free(r);
    *r_p = NULL;
}

struct journal *
delivery_records_journal(struct delivery_records *r)
{
    return r->journal;
}

/* Ends a record: the group commit writes it at the end of the turn. */
static void
s_end(struct delivery_records *r, struct journal_op *op, unsigned nfields)
{
    journal_end(r->journal, op, nfields);
    loop_turn_request(r->turn);
}

/* An op that changes rec's event's pending entry. */
static struct journal_op *
s_begin_event(struct delivery_records *r, const char *kind, const struct audit_delivery *rec,
              enum pending_action pending, msgpack_packer *pk)
{
    struct journal_op *op = journal_begin(r->journal, kind, pk);
    op->pending = pending;
    op->event_seq = rec->event_seq;
    op->area = rec->area;
    return op;
}

void
delivery_records_dispatched(struct delivery_records *r, const struct audit_delivery *rec,
                            struct delivery_op_position *ret_pos)
{
    msgpack_packer pk;
    journal_position(r->journal, &ret_pos->generation, &ret_pos->index);
    struct journal_op *op = s_begin_event(r, AUDIT_KIND_DISPATCHED, rec, PENDING_UPDATE, &pk);
    op->attempt = rec->attempt;
    s_end(r, op, audit_pack_dispatched(&pk, rec));
}

void
delivery_records_attempt_ended(struct delivery_records *r, const struct delivery_op_position *pos)
{
    struct journal_op *dispatched = journal_queued_op(r->journal, pos->generation, pos->index);
    if (dispatched)
        dispatched->pending = PENDING_KEEP;
}

void
delivery_records_retried(struct delivery_records *r, const struct audit_delivery *rec)
{
    msgpack_packer pk;
    struct journal_op *op = s_begin_event(r, AUDIT_KIND_RETRIED, rec, PENDING_UPDATE, &pk);
    op->attempt = rec->attempt - 1;
    op->due_ms = rec->due_ms;
    s_end(r, op, audit_pack_retried(&pk, rec));
}

void
delivery_records_deadlettered(struct delivery_records *r, const struct audit_delivery *rec)
{
    msgpack_packer pk;
    struct journal_op *op = s_begin_event(r, AUDIT_KIND_DEADLETTERED, rec, PENDING_DELETE, &pk);
    s_end(r, op, audit_pack_deadlettered(&pk, rec));
}

void
delivery_records_failed(struct delivery_records *r, const struct audit_delivery *rec)
{
    msgpack_packer pk;
    /* The retry or dead letter that follows rewrites the pending entry. */
    struct journal_op *op = journal_begin(r->journal, AUDIT_KIND_FAILED, &pk);
    s_end(r, op, audit_pack_failed(&pk, rec));
}

static void
s_worker_record(struct delivery_records *r, const char *kind, const struct audit_worker *rec,
                unsigned (*pack)(msgpack_packer *, const struct audit_worker *))
{
    msgpack_packer pk;
    struct journal_op *op = journal_begin(r->journal, kind, &pk);
    s_end(r, op, pack(&pk, rec));
}

void
delivery_records_worker_joined(struct delivery_records *r, const struct audit_worker *rec)
{
    s_worker_record(r, AUDIT_KIND_WORKER_JOINED, rec, audit_pack_worker_joined);
}

void
delivery_records_worker_lost(struct delivery_records *r, const struct audit_worker *rec)
{
    s_worker_record(r, AUDIT_KIND_WORKER_LOST, rec, audit_pack_worker_lost);
}

void
delivery_records_worker_refused(struct delivery_records *r, const struct audit_worker_refused *rec)
{
    msgpack_packer pk;
    struct journal_op *op = journal_begin(r->journal, AUDIT_KIND_WORKER_REFUSED, &pk);
    s_end(r, op, audit_pack_worker_refused(&pk, rec));
}

void
delivery_records_reconfigure(struct delivery_records *r, const struct mandated_config *cfg)
{
    r->cfg = cfg;
}

/* A follow-up a worker emitted that does not enter the log, and why. */
static void
s_rejected_emit(struct delivery_records *r, const char *worker, const char *area, const uint8_t *id,
                enum mep_code code, const char *reason, const char *type)
{
    char source[ENVELOPE_SOURCE_MAX + 1];
    msgpack_packer pk;
    snprintf(source, sizeof source, "area:%s", area);
    const struct audit_rejected rec = {
        .id = id,
        .code = mep_code_name(code),
        .reason = reason,
        .source = source,
        .type = type,
        .peer = worker,
    };
    struct journal_op *op = journal_begin(r->journal, AUDIT_KIND_REJECTED, &pk);
    s_end(r, op, audit_pack_rejected(&pk, &rec));
}

/*
 * Admits one emitted envelope and adds it to the journal's emits (returns
 * true), or writes a `rejected` record saying why not (returns false).
 */
static bool
s_add_emit(struct delivery_records *r, const char *worker, const struct area_conf *area,
           const msgpack_object *obj, const uint8_t parent_id[ENVELOPE_ID_LEN])
{
    struct envelope env;
    struct envelope_error err;
    struct admission_verdict v;
    char source[ENVELOPE_SOURCE_MAX + 1];
    msgpack_packer pk;

    snprintf(source, sizeof source, "area:%s", area->name);
    msgpack_sbuffer_clear(&r->body);
    msgpack_packer_init(&pk, &r->body, pack_sbuffer_write);
    msgpack_pack_object(&pk, *obj);
    int rc = envelope_decode(r->body.data, r->body.size, &r->limits, &env, &err);
    bool admitted = rc == 0 && admission_check(r->cfg, r->log, ADMISSION_FOLLOW_UP, &env, area, &v);
    if (!admitted) {
        const char *reason = rc == 0 ? v.reason : err.reason;
        log_warn("delivery: %s emitted an event that cannot be accepted: %s", worker, reason);
        s_rejected_emit(r, worker, area->name,
                        rc == 0      ? env.id
                        : err.has_id ? err.id
                                     : NULL,
                        rc == 0 ? v.code : err.code, reason, rc == 0 ? env.type : NULL);
        if (rc == 0)
            envelope_release(&env);
        return false;
    }

    /* Re-encoded with the worker's area as source and the parent as corr. */
    msgpack_sbuffer_clear(&r->data);
    msgpack_packer_init(&pk, &r->data, pack_sbuffer_write);
    msgpack_pack_object(&pk, *env.data);
    struct envelope_fields f = {
        .id = env.id,
        .type = env.type,
        .source = source,
        .time_ms = env.time_ms,
        .corr = env.has_corr ? env.corr : parent_id,
        .subject = env.has_subject ? env.subject : NULL,
        .data = r->data.data,
        .data_len = r->data.size,
    };
    journal_add_emit(r->journal, &f, v.area, v.type);
    envelope_release(&env);
    return true;
}

size_t
delivery_records_completed(struct delivery_records *r, const struct audit_delivery *rec,
                           const struct area_conf *area, const struct mdp_outcome *out,
                           const uint8_t parent_id[ENVELOPE_ID_LEN])
{
    /* Follow-ups first: their envelopes go into the journal, rejections ahead
     * of the completion, which then names the accepted ones. */
    size_t emit_first = journal_emits(r->journal), nemit = 0;
    size_t nobj = out->nemit < DELIVERY_EMIT_MAX ? out->nemit : DELIVERY_EMIT_MAX;
    for (size_t k = 0; k < nobj; k++)
        nemit += s_add_emit(r, rec->worker, area, &out->emit[k], parent_id);
    if (out->nemit > DELIVERY_EMIT_MAX) {
        /* Not dropped silently: the surplus is one `rejected` record. */
        char reason[128];
        snprintf(reason, sizeof reason,
                 "%zu follow-up events past the first %d of one reply were not accepted",
                 out->nemit - DELIVERY_EMIT_MAX, DELIVERY_EMIT_MAX);
        log_warn("delivery: %s: %s", rec->worker, reason);
        s_rejected_emit(r, rec->worker, area->name, NULL, MEP_TOO_LARGE, reason, NULL);
    }
    msgpack_packer pk;
    struct journal_op *op = s_begin_event(r, AUDIT_KIND_COMPLETED, rec, PENDING_DELETE, &pk);
    op->emit_first = emit_first;
    op->nemit = nemit;
    op->track_deadlines = out->result && worker_result_tracks(out->result);
    s_end(r, op, audit_pack_completed(&pk, rec));
    return nemit;
}
