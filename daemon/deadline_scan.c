/* deadline_scan: see deadline_scan.h. */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "daemon/admission.h"
#include "daemon/deadline_scan.h"
#include "daemon/deadline_table.h"
#include "proto/audit_kinds.h"
#include "proto/msgpack_scan.h"
#include "proto/pack.h"

#define MAX_PER_SCAN 256 /* records queued by one scan; the next goes on */

struct deadline_scan {
    const struct mandated_config *cfg;
    struct audit_log *log;
    struct journal *journal;
    struct loop_turn *turn;
    struct event *timer;
    msgpack_sbuffer data, event;
    struct envelope_limits limits;
    uint64_t now_ms;
    unsigned queued;    /* by this scan */
    bool told_unrouted; /* logged that a deadline's area is gone */
    bool told_refused;  /* logged that admission refused a deadline event */
    struct deadline_scan_stats stats;
};

/* The tracked event's id (for the deadline event's corr; false if unreadable)
 * and type, read once from its accepted record in the snapshot. */
static bool
s_tracked_event(struct deadline_scan *t, uint64_t seq, uint8_t id[16], char *type, size_t size)
{
    const void *rec;
    size_t len, off, flen;
    bool has_id = false;
    snprintf(type, size, "unknown");
    if (audit_log_snapshot_get(t->log, seq, &rec, &len) < 0)
        return false;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    if (audit_record_scan_event_field(rec, len, "type", &off, &flen) == 0 &&
        msgpack_unpack_next(&u, (const char *)rec + off, flen, NULL) == MSGPACK_UNPACK_SUCCESS)
        pack_str_copy(&u.data, type, size);
    if (audit_record_scan_event_field(rec, len, "id", &off, &flen) == 0 &&
        msgpack_unpack_next(&u, (const char *)rec + off, flen, NULL) == MSGPACK_UNPACK_SUCCESS &&
        u.data.type == MSGPACK_OBJECT_BIN && u.data.via.bin.size == 16) {
        memcpy(id, u.data.via.bin.ptr, 16);
        has_id = true;
    }
    msgpack_unpacked_destroy(&u);
    return has_id;
}

static void
s_queue(struct deadline_scan *t, const void *key, size_t klen, const struct deadline_entry *d,
        bool warning)
{
    const struct area_conf *area = config_area(t->cfg, d->area);
    if (!area) {
        /* It waits for a config that has its area again; said once, not
         * every scan. */
        if (!t->told_unrouted)
            log_warn("deadline: %s of event %" PRIu64 " belongs to area '%s', no longer "
                     "configured: such deadlines wait for it",
                     d->deadline.name, d->seq, d->area);
        t->told_unrouted = true;
        return;
    }
    const char *type = warning ? "deadline.warning" : "deadline.breached";
    char event_type[ENVELOPE_TYPE_MAX + 1], text[160];
    uint8_t id[16], corr[16];
    bool has_corr = s_tracked_event(t, d->seq, corr, event_type, sizeof event_type);
    snprintf(text, sizeof text, "mandate:%s:%" PRIu64 ":%s", type, d->seq, d->deadline.name);
    crypto_generichash(id, sizeof id, (const unsigned char *)text, strlen(text), NULL, 0);

    msgpack_packer pk;
    msgpack_sbuffer_clear(&t->data);
    msgpack_packer_init(&pk, &t->data, pack_sbuffer_write);
    msgpack_pack_map(&pk, 6);
    pack_cstr(&pk, "event_seq");
    msgpack_pack_uint64(&pk, d->seq);
    pack_cstr(&pk, "event_type");
    pack_cstr(&pk, event_type);
    pack_cstr(&pk, "deadline");
    pack_cstr(&pk, d->deadline.name);
    pack_cstr(&pk, "due");
    msgpack_pack_uint64(&pk, d->deadline.due_ms);
    /* The catalogue wants rule and basis as strings: "" if the worker gave none. */
    pack_cstr(&pk, "rule");
    if (d->deadline.rule)
        msgpack_pack_object(&pk, *d->deadline.rule);
    else
        pack_cstr(&pk, "");
    pack_cstr(&pk, "basis");
    if (d->deadline.basis)
        msgpack_pack_object(&pk, *d->deadline.basis);
    else
        pack_cstr(&pk, "");
    char subject[ENVELOPE_SUBJECT_MAX + 1] = "";
    bool has_subject = pack_str_copy(d->deadline.subject, subject, sizeof subject);
    struct envelope_fields f = {.id = id,
                                .type = type,
                                .source = "broker",
                                .time_ms = t->now_ms,
                                .corr = has_corr ? corr : NULL,
                                .subject = has_subject ? subject : NULL,
                                .data = t->data.data,
                                .data_len = t->data.size};
    /* Checked as every event entering the log is, though the broker wrote it. */
    struct envelope env;
    struct envelope_error err;
    struct admission_verdict v;
    msgpack_sbuffer_clear(&t->event);
    envelope_encode(&f, &t->event);
    bool admitted = envelope_decode(t->event.data, t->event.size, &t->limits, &env, &err) == 0;
    if (admitted) {
        admitted = admission_check(t->cfg, t->log, ADMISSION_BROKER, &env, area, &v);
        envelope_release(&env);
    } else {
        snprintf(v.reason, sizeof v.reason, "%s", err.reason);
    }
    if (!admitted) {
        /* A catalogue that no longer fits its own deadline events: the
         * deadline waits for one that does; said once. */
        if (!t->told_refused)
            log_err("deadline: %s of event %" PRIu64 ": %s refused: %s", d->deadline.name, d->seq,
                    type, v.reason);
        t->told_refused = true;
        return;
    }
    size_t emit_first = journal_emits(t->journal);
    journal_add_emit(t->journal, &f, v.area, v.type);

    struct journal_op *op = journal_begin(t->journal, AUDIT_KIND_DEADLINE, &pk);
    op->emit_first = emit_first;
    op->nemit = 1;
    op->event_seq = d->seq;
    op->area = area->name;
    op->deadline = warning ? JOURNAL_DEADLINE_WARNED : JOURNAL_DEADLINE_BREACHED;
    const struct audit_deadline rec = {
        .event_seq = d->seq,
        .area = area->name,
        .deadline = d->deadline.name,
        .due_ms = d->deadline.due_ms,
        .breached = !warning,
    };
    journal_end(t->journal, op, audit_pack_deadline(&pk, &rec));
    /* The table key rides in the journal too, outside the record. */
    op->deadline_key_off = journal_append_raw(t->journal, key, klen);
    op->deadline_key_len = klen;
    t->queued++;
    if (warning)
        t->stats.warned++;
    else
        t->stats.breached++;
}

static int
s_visit(void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct deadline_scan *t = arg;
    uint64_t due;
    if (!deadline_key_due(key, klen, &due))
        return 0;
    uint64_t warn = t->cfg->delivery.deadline_warn_ms;
    if (due == UINT64_MAX || due > t->now_ms + warn)
        return 1; /* in due order: nothing later is due either */
    if (t->queued >= MAX_PER_SCAN)
        return 1;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    struct deadline_entry d;
    if (msgpack_unpack_next(&u, val, vlen, NULL) == MSGPACK_UNPACK_SUCCESS &&
        deadline_entry_read(&u.data, &d)) {
        if (due <= t->now_ms)
            s_queue(t, key, klen, &d, false);
        else if (warn && !d.warned)
            s_queue(t, key, klen, &d, true);
    }
    msgpack_unpacked_destroy(&u);
    return 0;
}

static void
s_scan(struct deadline_scan *t)
{
    t->now_ms = unix_ms();
    t->queued = 0;
    t->stats.scans++;
    if (audit_log_snapshot_begin(t->log) < 0)
        return;
    int rc = audit_log_deadline_foreach(t->log, true, s_visit, t);
    audit_log_snapshot_end(t->log);
    if (rc < 0)
        log_warn("deadline: scan failed: %s", strerror(-rc));
    if (t->queued)
        loop_turn_request(t->turn);
}

static void
s_on_timer(evutil_socket_t fd, short what, void *arg)
{
    s_scan(arg);
}

struct deadline_scan *
deadline_scan_new(struct event_base *base, const struct mandated_config *cfg, struct audit_log *log,
                  struct group_commit *commit, struct loop_turn *turn,
                  void (*accepted)(void *arg, const struct journal_emit *e), void *arg)
{
    struct deadline_scan *t = xcalloc(1, sizeof *t);
    t->cfg = cfg;
    t->log = log;
    t->turn = turn;
    t->limits = envelope_default_limits;
    t->limits.max_bytes = cfg->broker.max_event_bytes;
    t->journal = journal_new(accepted, arg);
    msgpack_sbuffer_init(&t->data);
    msgpack_sbuffer_init(&t->event);
    t->timer = event_new(base, -1, EV_PERSIST, s_on_timer, t);
    unsigned ms = cfg->delivery.deadline_scan_ms;
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    if (!t->timer || event_add(t->timer, &tv) < 0) {
        log_err("deadline: cannot start the scan timer");
        deadline_scan_destroy(&t);
        return NULL;
    }
    struct group_commit_producer producer;
    journal_producer(t->journal, "deadline scan", &producer);
    group_commit_add(commit, &producer);
    return t;
}

void
deadline_scan_reconfigure(struct deadline_scan *t, const struct mandated_config *cfg)
{
    t->cfg = cfg;
    /* A deadline whose area came back, or a catalogue that fits again, is said anew. */
    t->told_unrouted = t->told_refused = false;
    unsigned ms = cfg->delivery.deadline_scan_ms;
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    event_add(t->timer, &tv);
}

const struct deadline_scan_stats *
deadline_scan_stats(const struct deadline_scan *t)
{
    return &t->stats;
}

void
deadline_scan_destroy(struct deadline_scan **t_p)
{
    struct deadline_scan *t = *t_p;
    if (!t)
        return;
    if (t->timer)
        event_free(t->timer);
    journal_destroy(&t->journal);
    msgpack_sbuffer_destroy(&t->data);
    msgpack_sbuffer_destroy(&t->event);
    free(t);
    *t_p = NULL;
}
