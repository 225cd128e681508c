/*
 * journal: two buffers of ops, packed fields and follow-up
 * envelopes. Only one side is ever taken, and the generation counts takes,
 * so an in-flight request can find its own `dispatched` op again while it
 * is still queued.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "daemon/acceptance.h"
#include "daemon/deadline_table.h"
#include "daemon/journal.h"
#include "proto/pack.h"

struct side {
    struct journal_op *ops;
    size_t nops, cap;
    struct journal_emit *emits;
    size_t nemits, emit_cap;
    msgpack_sbuffer buf;
};

struct journal {
    struct side sides[2];
    struct side *queued, *taken;
    uint64_t generation;     /* takes (and failed writes) so far */
    msgpack_sbuffer scratch; /* writer thread: a record's fields plus `emitted` */
    uint64_t *seqs;          /* writer thread: the seqs `emitted` names */
    size_t seqs_cap;
    /* who hears of the follow-ups that entered the log */
    void (*accepted)(void *arg, const struct journal_emit *e);
    void *accepted_arg;
};

static void
s_side_init(struct side *s)
{
    memset(s, 0, sizeof *s);
    msgpack_sbuffer_init(&s->buf);
}

static void
s_side_clear(struct side *s)
{
    s->nops = 0;
    s->nemits = 0;
    msgpack_sbuffer_clear(&s->buf);
}

static void
s_side_destroy(struct side *s)
{
    free(s->ops);
    free(s->emits);
    msgpack_sbuffer_destroy(&s->buf);
}

static struct journal_op *
s_new_op(struct side *s)
{
    if (s->nops == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->ops = xrealloc(s->ops, s->cap * sizeof *s->ops);
    }
    return &s->ops[s->nops++];
}

static struct journal_emit *
s_new_emit(struct side *s)
{
    if (s->nemits == s->emit_cap) {
        s->emit_cap = s->emit_cap ? s->emit_cap * 2 : 16;
        s->emits = xrealloc(s->emits, s->emit_cap * sizeof *s->emits);
    }
    return &s->emits[s->nemits++];
}

struct journal *
journal_new(void (*accepted)(void *arg, const struct journal_emit *e), void *arg)
{
    struct journal *j = xcalloc(1, sizeof *j);
    j->accepted = accepted;
    j->accepted_arg = arg;
    s_side_init(&j->sides[0]);
    s_side_init(&j->sides[1]);
    j->queued = &j->sides[0];
    j->taken = &j->sides[1];
    msgpack_sbuffer_init(&j->scratch);
    return j;
}

void
journal_destroy(struct journal **j_p)
{
    struct journal *j = *j_p;
    if (!j)
        return;
    s_side_destroy(&j->sides[0]);
    s_side_destroy(&j->sides[1]);
    msgpack_sbuffer_destroy(&j->scratch);
    free(j->seqs);
    free(j);
    *j_p = NULL;
}

struct journal_op *
journal_begin(struct journal *j, const char *kind, msgpack_packer *pk)
{
    struct side *s = j->queued;
    struct journal_op *op = s_new_op(s);
    memset(op, 0, sizeof *op);
    op->kind = kind;
    op->off = s->buf.size;
    op->emit_first = s->nemits;
    msgpack_packer_init(pk, &s->buf, pack_sbuffer_write);
    return op;
}

void
journal_end(struct journal *j, struct journal_op *op, unsigned nfields)
{
    op->len = j->queued->buf.size - op->off;
    op->nfields = nfields;
}

size_t
journal_append_raw(struct journal *j, const void *bytes, size_t len)
{
    size_t off = j->queued->buf.size;
    pack_sbuffer_write(&j->queued->buf, bytes, len);
    return off;
}

void
journal_add_emit(struct journal *j, const struct envelope_fields *f, const struct area_conf *area,
                 const struct catalogue_type *ctype)
{
    struct side *s = j->queued;
    struct journal_emit *e = s_new_emit(s);
    memset(e, 0, sizeof *e);
    e->off = s->buf.size;
    envelope_encode(f, &s->buf);
    e->len = s->buf.size - e->off;
    memcpy(e->id, f->id, sizeof e->id);
    snprintf(e->type, sizeof e->type, "%s", f->type);
    e->area = area;
    e->ctype = ctype;
}

size_t
journal_emits(const struct journal *j)
{
    return j->queued->nemits;
}

void
journal_position(const struct journal *j, uint64_t *ret_generation, size_t *ret_index)
{
    *ret_generation = j->generation;
    *ret_index = j->queued->nops;
}

struct journal_op *
journal_queued_op(struct journal *j, uint64_t generation, size_t index)
{
    if (generation != j->generation || index >= j->queued->nops)
        return NULL;
    return &j->queued->ops[index];
}

size_t
journal_queued(const struct journal *j)
{
    return j->queued->nops;
}

void
journal_take(struct journal *j)
{
    struct side *t = j->taken;
    j->taken = j->queued;
    j->queued = t;
    j->generation++;
}

/* Accepts op's follow-ups; a retried worker may emit one again (a dup then). */
static int
s_write_emits(struct side *s, const struct journal_op *op, struct audit_log *log)
{
    for (size_t i = 0; i < op->nemit; i++) {
        struct journal_emit *e = &s->emits[op->emit_first + i];
        const struct audit_accepted a = {
            .id = e->id,
            .area = e->area->name,
            .cause = op->event_seq,
            .event = s->buf.data + e->off,
            .event_len = e->len,
        };
        int rc = acceptance_write(log, &a, e->ctype, &e->seq, &e->dup);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int
journal_write(struct journal *j, struct audit_log *log, bool *wrote)
{
    struct side *s = j->taken;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < s->nops; i++) {
        const struct journal_op *op = &s->ops[i];
        const void *fields = s->buf.data + op->off;
        size_t len = op->len;
        unsigned n = op->nfields;
        const char *dkey = s->buf.data + op->deadline_key_off;
        bool warning = op->deadline == JOURNAL_DEADLINE_WARNED;
        if (op->deadline && !deadline_table_applies(log, dkey, op->deadline_key_len, warning)) {
            /* Closed, or already reported by an earlier scan: nothing to say. */
            for (size_t k = 0; k < op->nemit; k++)
                s->emits[op->emit_first + k].dup = true;
            continue;
        }
        if (op->nemit) {
            rc = s_write_emits(s, op, log);
            if (rc < 0)
                break;
            /* The completion names the follow-ups it brought in. */
            if (op->nemit > j->seqs_cap) {
                j->seqs_cap = op->nemit;
                j->seqs = xreallocarray(j->seqs, j->seqs_cap, sizeof *j->seqs);
            }
            for (size_t k = 0; k < op->nemit; k++)
                j->seqs[k] = s->emits[op->emit_first + k].seq;
            msgpack_packer pk;
            msgpack_sbuffer_clear(&j->scratch);
            pack_sbuffer_write(&j->scratch, fields, len);
            msgpack_packer_init(&pk, &j->scratch, pack_sbuffer_write);
            n += audit_pack_emitted(&pk, j->seqs, op->nemit);
            fields = j->scratch.data;
            len = j->scratch.size;
        }
        rc = audit_log_append(log, op->kind, fields, len, n, NULL);
        if (rc == 0 && op->deadline)
            rc = deadline_table_apply(log, dkey, op->deadline_key_len, warning);
        if (rc == 0 && op->track_deadlines)
            rc = deadline_table_track(log, op->event_seq, op->area, s->buf.data + op->off, op->len,
                                      op->nfields);
        if (rc == 0 && op->pending == PENDING_UPDATE) {
            rc = audit_log_update_pending(log, op->event_seq, op->area, op->attempt, op->due_ms);
        } else if (rc == 0 && op->pending == PENDING_DELETE) {
            rc = audit_log_del_pending(log, op->event_seq);
            if (rc == -ENOENT)
                rc = 0;
        }
    }
    if (rc == 0 && s->nops)
        *wrote = true;
    return rc;
}

/* Appends src's ops after dst's, fixing offsets. */
static void
s_side_append(struct side *dst, const struct side *src)
{
    size_t base = dst->buf.size, ebase = dst->nemits;
    pack_sbuffer_write(&dst->buf, src->buf.data, src->buf.size);
    for (size_t i = 0; i < src->nemits; i++) {
        struct journal_emit *e = s_new_emit(dst);
        *e = src->emits[i];
        e->off += base;
    }
    for (size_t i = 0; i < src->nops; i++) {
        struct journal_op *op = s_new_op(dst);
        *op = src->ops[i];
        op->off += base;
        op->emit_first += ebase;
        if (op->deadline)
            op->deadline_key_off += base;
    }
}

void
journal_done(struct journal *j, int rc)
{
    struct side *t = j->taken;
    if (rc < 0) {
        /* Nothing was written: the records go out again, ahead of newer ones. */
        s_side_append(t, j->queued);
        j->taken = j->queued;
        j->queued = t;
        s_side_clear(j->taken);
        j->generation++; /* queued ops moved: their old positions mean nothing now */
        return;
    }
    for (size_t i = 0; i < t->nemits; i++)
        if (!t->emits[i].dup)
            j->accepted(j->accepted_arg, &t->emits[i]);
    s_side_clear(t);
}

/* ------------------------------------------------------------------------ */
/* As a group commit producer. */

static size_t
s_producer_queued(void *arg)
{
    return journal_queued(arg);
}

static void
s_producer_take(void *arg)
{
    journal_take(arg);
}

static int
s_producer_write(void *arg, struct audit_log *log, bool *wrote)
{
    return journal_write(arg, log, wrote);
}

static void
s_producer_done(void *arg, int rc)
{
    journal_done(arg, rc);
}

void
journal_producer(struct journal *j, const char *name, struct group_commit_producer *ret)
{
    *ret = (struct group_commit_producer){
        .name = name,
        .awaited = false,
        .queued = s_producer_queued,
        .take = s_producer_take,
        .write = s_producer_write,
        .done = s_producer_done,
        .arg = j,
    };
}
