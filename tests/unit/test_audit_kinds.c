/*
 * audit_kinds: every packer's count is the number of fields it packed (a
 * record built with it decodes whole, with nothing left over), and each
 * kind's fields carry what the struct said, optional ones only when set.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "proto/audit_kinds.h"
#include "proto/pack.h"

struct built {
    msgpack_sbuffer sb;
    struct audit_record rec;
};

/* A whole record: the common fields, then what fn packs, counted by its return. */
static void
s_build(struct built *b, const char *kind, unsigned (*fn)(msgpack_packer *, const void *),
        const void *arg)
{
    msgpack_sbuffer fields;
    msgpack_packer pk;
    msgpack_sbuffer_init(&fields);
    msgpack_packer_init(&pk, &fields, pack_sbuffer_write);
    unsigned n = fn(&pk, arg);
    static const uint8_t prev[AUDIT_HASH_LEN];
    msgpack_sbuffer_init(&b->sb);
    msgpack_packer_init(&pk, &b->sb, pack_sbuffer_write);
    audit_record_begin(&pk, 7, 1, kind, prev, n);
    pack_sbuffer_write(&b->sb, fields.data, fields.size);
    msgpack_sbuffer_destroy(&fields);
    cr_assert_eq(audit_record_decode(b->sb.data, b->sb.size, &b->rec), 0,
                 "a `%s` record with its packer's count does not decode", kind);
    cr_assert_eq(b->rec.map->via.map.size, 4 + n);
}

static void
s_free(struct built *b)
{
    audit_record_release(&b->rec);
    msgpack_sbuffer_destroy(&b->sb);
}

static bool
s_str(const struct built *b, const char *key, const char *want)
{
    const msgpack_object *o = audit_record_field(&b->rec, key);
    return o && pack_str_is(o, want);
}

static uint64_t
s_u64(const struct built *b, const char *key)
{
    const msgpack_object *o = audit_record_field(&b->rec, key);
    cr_assert(o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER, "field %s", key);
    return o->via.u64;
}

static bool
s_nil(const struct built *b, const char *key)
{
    const msgpack_object *o = audit_record_field(&b->rec, key);
    return o && o->type == MSGPACK_OBJECT_NIL;
}

/* The packers take typed structs; these adapters let s_build call each one. */
#define ADAPT(name, type)                                                                          \
    static unsigned s_##name(msgpack_packer *pk, const void *r)                                    \
    {                                                                                              \
        return audit_pack_##name(pk, (const type *)r);                                             \
    }
ADAPT(started, struct audit_started)
ADAPT(stopped, struct audit_stopped)
ADAPT(accepted, struct audit_accepted)
ADAPT(rejected, struct audit_rejected)
ADAPT(dispatched, struct audit_delivery)
ADAPT(completed, struct audit_delivery)
ADAPT(failed, struct audit_delivery)
ADAPT(retried, struct audit_delivery)
ADAPT(deadlettered, struct audit_delivery)
ADAPT(worker_joined, struct audit_worker)
ADAPT(worker_lost, struct audit_worker)
ADAPT(deadline, struct audit_deadline)

Test(audit_kinds, lifecycle)
{
    struct built b;
    const struct audit_started st = {
        .pid = 42, .version = "0.1.0", .durability = "full", .config = "c", .recovered_seq = 9};
    s_build(&b, AUDIT_KIND_STARTED, s_started, &st);
    cr_expect(s_str(&b, "durability", "full"));
    cr_expect_eq(s_u64(&b, "recovered_seq"), 9);
    s_free(&b);

    const struct audit_stopped sp = {
        .pid = 42, .reason = "SIGTERM", .accepted = 5, .batches = 2, .waiting = 3, .inflight = 1};
    s_build(&b, AUDIT_KIND_STOPPED, s_stopped, &sp);
    cr_expect(s_str(&b, "reason", "SIGTERM"));
    cr_expect_eq(s_u64(&b, "accepted"), 5);
    cr_expect_eq(s_u64(&b, "inflight"), 1);
    s_free(&b);
}

Test(audit_kinds, accepted_ends_with_the_envelope_and_cause_is_optional)
{
    struct built b;
    uint8_t id[16] = {1};
    const uint8_t env[] = {0x81, 0xa1, 'v', 0x01}; /* {"v": 1} */
    struct audit_accepted a = {.id = id, .area = "press", .event = env, .event_len = sizeof env};
    s_build(&b, AUDIT_KIND_ACCEPTED, s_accepted, &a);
    cr_expect_null(audit_record_field(&b.rec, AUDIT_FIELD_CAUSE));
    cr_expect_eq(memcmp(b.sb.data + b.sb.size - sizeof env, env, sizeof env), 0,
                 "the envelope's bytes end the record");
    s_free(&b);
    a.cause = 3;
    s_build(&b, AUDIT_KIND_ACCEPTED, s_accepted, &a);
    cr_expect_eq(s_u64(&b, AUDIT_FIELD_CAUSE), 3);
    s_free(&b);
}

Test(audit_kinds, rejected_packs_nil_for_what_it_could_not_read)
{
    struct built b;
    struct audit_rejected r = {.code = "bad_frame", .reason = "frame 1"};
    s_build(&b, AUDIT_KIND_REJECTED, s_rejected, &r);
    cr_expect(s_nil(&b, "id") && s_nil(&b, "source") && s_nil(&b, "type") && s_nil(&b, "peer"));
    cr_expect_null(audit_record_field(&b.rec, "suppressed"));
    s_free(&b);
    r.suppressed = 12;
    s_build(&b, AUDIT_KIND_REJECTED, s_rejected, &r);
    cr_expect_eq(s_u64(&b, "suppressed"), 12);
    s_free(&b);
}

Test(audit_kinds, delivery_records)
{
    struct built b;
    uint8_t hash[AUDIT_HASH_LEN] = {5};
    struct audit_delivery d = {.event_seq = 11,
                               .area = "press",
                               .attempt = 2,
                               .worker = "w1",
                               .reason = "lost",
                               .due_ms = 77};
    s_build(&b, AUDIT_KIND_DISPATCHED, s_dispatched, &d);
    cr_expect_eq(s_u64(&b, AUDIT_FIELD_EVENT_SEQ), 11);
    cr_expect(s_str(&b, "worker", "w1"));
    s_free(&b);

    s_build(&b, AUDIT_KIND_COMPLETED, s_completed, &d);
    cr_expect(s_str(&b, "status", "done"));
    cr_expect(s_nil(&b, "note") && s_nil(&b, "result"), "no note, no result");
    cr_expect_null(audit_record_field(&b.rec, "opaque"));
    s_free(&b);
    d.note = "ok";
    d.opaque_hash = hash;
    s_build(&b, AUDIT_KIND_COMPLETED, s_completed, &d);
    cr_expect(s_str(&b, "note", "ok"));
    const msgpack_object *o = audit_record_field(&b.rec, "opaque");
    cr_expect(o && o->type == MSGPACK_OBJECT_BIN && o->via.bin.size == AUDIT_HASH_LEN);
    s_free(&b);

    s_build(&b, AUDIT_KIND_FAILED, s_failed, &d);
    cr_expect(s_str(&b, "note", "ok"));
    s_free(&b);
    s_build(&b, AUDIT_KIND_RETRIED, s_retried, &d);
    cr_expect_eq(s_u64(&b, "due_ms"), 77);
    cr_expect_eq(s_u64(&b, "attempt"), 2);
    s_free(&b);
    s_build(&b, AUDIT_KIND_DEADLETTERED, s_deadlettered, &d);
    cr_expect(s_str(&b, "reason", "lost"));
    s_free(&b);
}

Test(audit_kinds, workers_deadlines_and_emitted)
{
    struct built b;
    const struct audit_worker w = {
        .worker = "w", .area = "cyber", .credit = 8, .reason = "gone", .inflight = 3};
    s_build(&b, AUDIT_KIND_WORKER_JOINED, s_worker_joined, &w);
    cr_expect_eq(s_u64(&b, "credit"), 8);
    cr_expect_null(audit_record_field(&b.rec, "reason"));
    s_free(&b);
    s_build(&b, AUDIT_KIND_WORKER_LOST, s_worker_lost, &w);
    cr_expect_eq(s_u64(&b, "inflight"), 3);
    s_free(&b);

    struct audit_deadline dl = {.event_seq = 4, .area = "ads", .deadline = "decision", .due_ms = 5};
    s_build(&b, AUDIT_KIND_DEADLINE, s_deadline, &dl);
    cr_expect(s_str(&b, "state", "warning"));
    s_free(&b);
    dl.breached = true;
    s_build(&b, AUDIT_KIND_DEADLINE, s_deadline, &dl);
    cr_expect(s_str(&b, "state", "breached"));
    s_free(&b);

    /* emitted is appended to another kind's fields: one more field. */
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, pack_sbuffer_write);
    const uint64_t seqs[] = {21, 22};
    cr_expect_eq(audit_pack_emitted(&pk, seqs, 2), 1);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    cr_assert_eq(msgpack_unpack_next(&u, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    cr_expect(pack_str_is(&u.data, "emitted"));
    cr_assert_eq(msgpack_unpack_next(&u, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    cr_expect(u.data.type == MSGPACK_OBJECT_ARRAY && u.data.via.array.size == 2 &&
              u.data.via.array.ptr[1].via.u64 == 22);
    cr_expect_eq(off, sb.size);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}
