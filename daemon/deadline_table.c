/*
 * deadline_table: see deadline_table.h. Everything here but the readers
 * runs in the open write transaction.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/deadline_table.h"
#include "proto/be64.h"
#include "proto/envelope.h"
#include "proto/pack.h"
#include "proto/worker_result.h"

#define CLOSURE_KEY_MAX (2 + ENVELOPE_SUBJECT_MAX + ENVELOPE_TYPE_MAX)

/* ------------------------------------------------------------------------ */
/* Keys and values. */

static size_t
s_key(uint8_t *key, uint64_t due, uint64_t seq, const char *name)
{
    size_t n = strlen(name);
    be64_put(key, due);
    be64_put(key + 8, seq);
    memcpy(key + 16, name, n);
    return 16 + n;
}

bool
deadline_key_due(const void *key, size_t klen, uint64_t *ret_due)
{
    if (klen < 16 || klen > DEADLINE_KEY_MAX)
        return false;
    *ret_due = be64_get(key);
    return true;
}

static void
s_pack_str_obj(msgpack_packer *pk, const msgpack_object *o)
{
    if (o && o->type == MSGPACK_OBJECT_STR)
        msgpack_pack_object(pk, *o);
    else
        msgpack_pack_nil(pk);
}

static void
s_pack_value(msgpack_sbuffer *sb, const struct deadline_entry *t)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, pack_sbuffer_write);
    msgpack_pack_map(&pk, 9);
    pack_cstr(&pk, "seq");
    msgpack_pack_uint64(&pk, t->seq);
    pack_cstr(&pk, "area");
    pack_cstr(&pk, t->area);
    pack_cstr(&pk, "name");
    pack_cstr(&pk, t->deadline.name);
    pack_cstr(&pk, "due");
    if (t->deadline.open)
        msgpack_pack_nil(&pk);
    else
        msgpack_pack_uint64(&pk, t->deadline.due_ms);
    pack_cstr(&pk, "rule");
    s_pack_str_obj(&pk, t->deadline.rule);
    pack_cstr(&pk, "basis");
    s_pack_str_obj(&pk, t->deadline.basis);
    pack_cstr(&pk, "subject");
    s_pack_str_obj(&pk, t->deadline.subject);
    pack_cstr(&pk, "closed_by");
    if (t->deadline.closed_by && t->deadline.closed_by->type == MSGPACK_OBJECT_ARRAY)
        msgpack_pack_object(&pk, *t->deadline.closed_by);
    else
        msgpack_pack_array(&pk, 0);
    pack_cstr(&pk, "warned");
    if (t->warned)
        msgpack_pack_true(&pk);
    else
        msgpack_pack_false(&pk);
}

/* A stored value is a result's deadline entry plus seq, area and warned. */
bool
deadline_entry_read(const msgpack_object *m, struct deadline_entry *t)
{
    memset(t, 0, sizeof *t);
    if (!worker_result_deadline_read(m, &t->deadline))
        return false;
    const msgpack_object *seq = worker_result_get(m, "seq");
    if (seq && seq->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        t->seq = seq->via.u64;
    pack_str_copy(worker_result_get(m, "area"), t->area, sizeof t->area);
    const msgpack_object *w = worker_result_get(m, "warned");
    t->warned = w && w->type == MSGPACK_OBJECT_BOOLEAN && w->via.boolean;
    return true;
}

/* A closure's key: 's', the case's seq (BE), the closing type; or 'j', the
 * subject, NUL, the closing type. */
static size_t
s_closure_key(uint8_t *key, size_t size, uint64_t seq, const char *subject, size_t subject_len,
              const char *type)
{
    size_t tlen = strlen(type), n;
    if (subject) {
        if (1 + subject_len + 1 + tlen > size)
            return 0;
        key[0] = 'j';
        memcpy(key + 1, subject, subject_len);
        key[1 + subject_len] = 0;
        n = 2 + subject_len;
    } else {
        if (9 + tlen > size)
            return 0;
        key[0] = 's';
        be64_put(key + 1, seq);
        n = 9;
    }
    memcpy(key + n, type, tlen);
    return n + tlen;
}

/* Whether an event of one of t's closed_by types already closed its case
 * (accepted before the completion that tracks t). */
static bool
s_already_closed(struct audit_log *log, const struct deadline_entry *t)
{
    uint8_t key[CLOSURE_KEY_MAX];
    for (uint32_t i = 0;
         t->deadline.closed_by && t->deadline.closed_by->type == MSGPACK_OBJECT_ARRAY &&
         i < t->deadline.closed_by->via.array.size;
         i++) {
        const msgpack_object *c = &t->deadline.closed_by->via.array.ptr[i];
        char type[ENVELOPE_TYPE_MAX + 1];
        if (!pack_str_copy(c, type, sizeof type))
            continue;
        size_t n = s_closure_key(key, sizeof key, t->seq, NULL, 0, type);
        if (n && audit_log_closure_exists(log, key, n))
            return true;
        if (t->deadline.subject && t->deadline.subject->type == MSGPACK_OBJECT_STR) {
            n = s_closure_key(key, sizeof key, 0, t->deadline.subject->via.str.ptr,
                              t->deadline.subject->via.str.size, type);
            if (n && audit_log_closure_exists(log, key, n))
                return true;
        }
    }
    return false;
}

/* ------------------------------------------------------------------------ */
/* In the transaction. */

int
deadline_table_track(struct audit_log *log, uint64_t event_seq, const char *area,
                     const void *fields, size_t len, unsigned nfields)
{
    msgpack_zone zone;
    msgpack_zone_init(&zone, 2048);
    const msgpack_object *result = NULL;
    msgpack_object key, val;
    size_t off = 0;
    for (unsigned i = 0; i < nfields && !result; i++) {
        /* EXTRA_BYTES: one object read, more follow (the next field). */
        int rk = msgpack_unpack(fields, len, &off, &zone, &key);
        int rv = rk > 0 ? msgpack_unpack(fields, len, &off, &zone, &val) : rk;
        if (rk <= 0 || rv <= 0)
            break;
        if (pack_str_is(&key, "result"))
            result = &val;
    }
    const msgpack_object *list = worker_result_deadlines(result);
    int rc = 0;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    for (uint32_t i = 0;
         list && i < list->via.array.size && i < WORKER_RESULT_DEADLINES_MAX && rc == 0; i++) {
        struct deadline_entry t = {0};
        if (!worker_result_deadline_read(&list->via.array.ptr[i], &t.deadline) || !t.deadline.track)
            continue;
        t.seq = event_seq;
        snprintf(t.area, sizeof t.area, "%s", area);
        t.warned = false;
        if (s_already_closed(log, &t))
            continue;
        uint8_t k[DEADLINE_KEY_MAX];
        size_t klen = s_key(k, t.deadline.due_ms, t.seq, t.deadline.name);
        msgpack_sbuffer_clear(&sb);
        s_pack_value(&sb, &t);
        rc = audit_log_deadline_put(log, k, klen, sb.data, sb.size);
    }
    msgpack_sbuffer_destroy(&sb);
    msgpack_zone_destroy(&zone);
    return rc;
}

struct closing {
    const char *type;
    uint64_t case_seq; /* 0: no corr to match */
    const char *subject;
    size_t subject_len;
    msgpack_sbuffer keys; /* lengths (size_t) and keys to delete */
};

static bool
s_names(const msgpack_object *list, const char *type)
{
    for (uint32_t i = 0; list && list->type == MSGPACK_OBJECT_ARRAY && i < list->via.array.size;
         i++)
        if (pack_str_is(&list->via.array.ptr[i], type))
            return true;
    return false;
}

static int
s_match(void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct closing *c = arg;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    struct deadline_entry t;
    if (msgpack_unpack_next(&u, val, vlen, NULL) == MSGPACK_UNPACK_SUCCESS &&
        deadline_entry_read(&u.data, &t) && s_names(t.deadline.closed_by, c->type)) {
        bool by_corr = c->case_seq && t.seq == c->case_seq;
        bool by_subject = c->subject && t.deadline.subject &&
                          t.deadline.subject->type == MSGPACK_OBJECT_STR &&
                          t.deadline.subject->via.str.size == c->subject_len &&
                          memcmp(t.deadline.subject->via.str.ptr, c->subject, c->subject_len) == 0;
        if (by_corr || by_subject) {
            pack_sbuffer_write(&c->keys, (const char *)&klen, sizeof klen);
            pack_sbuffer_write(&c->keys, key, klen);
        }
    }
    msgpack_unpacked_destroy(&u);
    return 0;
}

int
deadline_table_close(struct audit_log *log, const struct catalogue_type *type, const uint8_t *corr,
                     const char *subject, size_t subject_len)
{
    if (!type || !type->closes)
        return 0;
    struct closing c = {.type = type->name, .subject = subject, .subject_len = subject_len};
    if (corr && audit_log_find_id(log, corr, &c.case_seq) < 0)
        c.case_seq = 0;
    if (!c.case_seq && !subject)
        return 0;
    /* Remembered, for deadlines tracked after this (their completion may
     * be written after the closing event is accepted). */
    uint8_t ckey[CLOSURE_KEY_MAX];
    size_t cn;
    int rc = 0;
    if (c.case_seq && (cn = s_closure_key(ckey, sizeof ckey, c.case_seq, NULL, 0, type->name)))
        rc = audit_log_closure_put(log, ckey, cn);
    if (rc == 0 && subject &&
        (cn = s_closure_key(ckey, sizeof ckey, 0, subject, subject_len, type->name)))
        rc = audit_log_closure_put(log, ckey, cn);
    if (rc < 0)
        return rc;
    msgpack_sbuffer_init(&c.keys);
    rc = audit_log_deadline_foreach(log, false, s_match, &c);
    for (size_t off = 0; rc == 0 && off < c.keys.size;) {
        size_t klen;
        memcpy(&klen, c.keys.data + off, sizeof klen);
        off += sizeof klen;
        rc = audit_log_deadline_del(log, c.keys.data + off, klen);
        if (rc == -ENOENT)
            rc = 0;
        off += klen;
    }
    msgpack_sbuffer_destroy(&c.keys);
    return rc;
}

bool
deadline_table_applies(struct audit_log *log, const void *key, size_t klen, bool warning)
{
    const void *val;
    size_t vlen;
    if (audit_log_deadline_get(log, key, klen, &val, &vlen) < 0)
        return false;
    if (!warning)
        return true;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    struct deadline_entry t;
    bool applies = msgpack_unpack_next(&u, val, vlen, NULL) == MSGPACK_UNPACK_SUCCESS &&
                   deadline_entry_read(&u.data, &t) && !t.warned;
    msgpack_unpacked_destroy(&u);
    return applies;
}

int
deadline_table_apply(struct audit_log *log, const void *key, size_t klen, bool warning)
{
    if (!warning)
        return audit_log_deadline_del(log, key, klen);
    const void *val;
    size_t vlen;
    int rc = audit_log_deadline_get(log, key, klen, &val, &vlen);
    if (rc < 0)
        return rc;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    struct deadline_entry t;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (msgpack_unpack_next(&u, val, vlen, NULL) == MSGPACK_UNPACK_SUCCESS &&
        deadline_entry_read(&u.data, &t)) {
        t.warned = true;
        s_pack_value(&sb, &t);
        rc = audit_log_deadline_put(log, key, klen, sb.data, sb.size);
    }
    msgpack_sbuffer_destroy(&sb);
    msgpack_unpacked_destroy(&u);
    return rc;
}
