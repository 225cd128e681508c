/* audit_kinds: see audit_kinds.h. */
#include "proto/audit_kinds.h"

static void
s_key_u64(msgpack_packer *pk, const char *key, uint64_t v)
{
    audit_pack_key(pk, key);
    msgpack_pack_uint64(pk, v);
}

static void
s_key_str(msgpack_packer *pk, const char *key, const char *s)
{
    audit_pack_key(pk, key);
    audit_pack_str(pk, s);
}

static void
s_key_str_or_nil(msgpack_packer *pk, const char *key, const char *s)
{
    audit_pack_key(pk, key);
    audit_pack_str_or_nil(pk, s);
}

unsigned
audit_pack_started(msgpack_packer *pk, const struct audit_started *r)
{
    audit_pack_key(pk, "pid");
    msgpack_pack_int64(pk, r->pid);
    s_key_str(pk, "version", r->version);
    s_key_str(pk, "durability", r->durability);
    s_key_str(pk, "config", r->config);
    s_key_u64(pk, "recovered_seq", r->recovered_seq);
    return 5;
}

unsigned
audit_pack_stopped(msgpack_packer *pk, const struct audit_stopped *r)
{
    audit_pack_key(pk, "pid");
    msgpack_pack_int64(pk, r->pid);
    s_key_str(pk, "reason", r->reason);
    s_key_u64(pk, "accepted", r->accepted);
    s_key_u64(pk, "duplicates", r->duplicates);
    s_key_u64(pk, "rejected", r->rejected);
    s_key_u64(pk, "rejected_suppressed", r->rejected_suppressed);
    s_key_u64(pk, "batches", r->batches);
    s_key_u64(pk, "waiting", r->waiting);
    s_key_u64(pk, "inflight", r->inflight);
    return 9;
}

unsigned
audit_pack_accepted(msgpack_packer *pk, const struct audit_accepted *r)
{
    /* Format 2: id, type and source are read from the envelope, not kept twice. */
    unsigned n = 2;
    s_key_str(pk, "area", r->area);
    if (r->cause) {
        s_key_u64(pk, AUDIT_FIELD_CAUSE, r->cause);
        n++;
    }
    audit_pack_key(pk, "event");
    /* The envelope is already msgpack: its bytes go in as they are. */
    pk->callback(pk->data, r->event, r->event_len);
    return n;
}

unsigned
audit_pack_rejected(msgpack_packer *pk, const struct audit_rejected *r)
{
    audit_pack_key(pk, "id");
    if (r->id)
        msgpack_pack_bin_with_body(pk, r->id, 16);
    else
        msgpack_pack_nil(pk);
    s_key_str(pk, "code", r->code);
    s_key_str(pk, "reason", r->reason);
    s_key_str_or_nil(pk, "source", r->source);
    s_key_str_or_nil(pk, "type", r->type);
    s_key_str_or_nil(pk, "peer", r->peer);
    if (!r->suppressed)
        return 6;
    s_key_u64(pk, "suppressed", r->suppressed);
    return 7;
}

/* The fields every event-delivery record starts with. */
static unsigned
s_delivery_head(msgpack_packer *pk, const struct audit_delivery *r)
{
    s_key_u64(pk, AUDIT_FIELD_EVENT_SEQ, r->event_seq);
    s_key_str(pk, "area", r->area);
    audit_pack_key(pk, "attempt");
    msgpack_pack_unsigned_int(pk, r->attempt);
    return 3;
}

unsigned
audit_pack_dispatched(msgpack_packer *pk, const struct audit_delivery *r)
{
    unsigned n = s_delivery_head(pk, r);
    s_key_str(pk, "worker", r->worker);
    return n + 1;
}

unsigned
audit_pack_completed(msgpack_packer *pk, const struct audit_delivery *r)
{
    unsigned n = s_delivery_head(pk, r);
    s_key_str(pk, "worker", r->worker);
    s_key_str(pk, "status", "done");
    s_key_str_or_nil(pk, "note", r->note);
    audit_pack_key(pk, "result");
    if (r->result)
        msgpack_pack_object(pk, *r->result);
    else
        msgpack_pack_nil(pk);
    n += 4;
    if (r->opaque_hash) {
        audit_pack_key(pk, "opaque");
        msgpack_pack_bin_with_body(pk, r->opaque_hash, AUDIT_HASH_LEN);
        n++;
    }
    return n;
}

unsigned
audit_pack_failed(msgpack_packer *pk, const struct audit_delivery *r)
{
    unsigned n = s_delivery_head(pk, r);
    s_key_str(pk, "worker", r->worker);
    s_key_str_or_nil(pk, "note", r->note);
    return n + 2;
}

unsigned
audit_pack_retried(msgpack_packer *pk, const struct audit_delivery *r)
{
    unsigned n = s_delivery_head(pk, r);
    s_key_str(pk, "reason", r->reason);
    s_key_u64(pk, "due_ms", r->due_ms);
    return n + 2;
}

unsigned
audit_pack_deadlettered(msgpack_packer *pk, const struct audit_delivery *r)
{
    unsigned n = s_delivery_head(pk, r);
    s_key_str(pk, "reason", r->reason);
    return n + 1;
}

unsigned
audit_pack_worker_joined(msgpack_packer *pk, const struct audit_worker *r)
{
    s_key_str(pk, "worker", r->worker);
    s_key_str(pk, "area", r->area);
    audit_pack_key(pk, "credit");
    msgpack_pack_unsigned_int(pk, r->credit);
    if (!r->key || !r->key[0])
        return 3;
    s_key_str(pk, "key", r->key);
    return 4;
}

unsigned
audit_pack_worker_lost(msgpack_packer *pk, const struct audit_worker *r)
{
    s_key_str(pk, "worker", r->worker);
    s_key_str(pk, "area", r->area);
    s_key_str(pk, "reason", r->reason);
    audit_pack_key(pk, "inflight");
    msgpack_pack_unsigned_int(pk, r->inflight);
    return 4;
}

unsigned
audit_pack_deadline(msgpack_packer *pk, const struct audit_deadline *r)
{
    s_key_u64(pk, AUDIT_FIELD_EVENT_SEQ, r->event_seq);
    s_key_str(pk, "area", r->area);
    s_key_str(pk, "deadline", r->deadline);
    s_key_u64(pk, "due", r->due_ms);
    s_key_str(pk, "state", r->breached ? "breached" : "warning");
    return 5;
}

unsigned
audit_pack_emitted(msgpack_packer *pk, const uint64_t *seqs, size_t n)
{
    audit_pack_key(pk, "emitted");
    msgpack_pack_array(pk, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        msgpack_pack_uint64(pk, seqs[i]);
    return 1;
}

unsigned
audit_pack_worker_refused(msgpack_packer *pk, const struct audit_worker_refused *r)
{
    s_key_str(pk, "worker", r->worker);
    s_key_str(pk, "key", r->key);
    s_key_str(pk, "area", r->area);
    s_key_str(pk, "reason", r->reason);
    return 4;
}

unsigned
audit_pack_auth_refused(msgpack_packer *pk, const struct audit_auth_refused *r)
{
    s_key_str(pk, "peer", r->peer);
    s_key_str(pk, "domain", r->domain);
    s_key_str(pk, "mechanism", r->mechanism);
    s_key_str_or_nil(pk, "key", r->key);
    s_key_str(pk, "reason", r->reason);
    s_key_u64(pk, "suppressed", r->suppressed);
    return 6;
}

unsigned
audit_pack_reload_failed(msgpack_packer *pk, const struct audit_reload_failed *r)
{
    s_key_str(pk, "config", r->config);
    s_key_str(pk, "error", r->error);
    return 2;
}

unsigned
audit_pack_reloaded_config(msgpack_packer *pk, const char *config)
{
    s_key_str(pk, "config", config);
    return 1;
}
