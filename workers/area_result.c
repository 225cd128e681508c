/*
 * area_result: the shared answer of the area handlers (see area_result.h).
 * Fixed arrays: a handler applies a handful of rules; a finding past the
 * limit is dropped and the last one says so.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "config/calendar.h"
#include "proto/pack.h"
#include "proto/text.h"
#include "proto/worker_result.h"
#include "workers/area_result.h"

void
area_result_init(struct area_result *r, const struct handler_request *req,
                 const struct catalogue_type *type, struct handler_outcome *out)
{
    memset(r, 0, sizeof *r);
    r->req = req;
    r->out = out;
    r->type = type;
    r->unit = req->area_conf && req->area_conf->unit[0] ? req->area_conf->unit : "(none)";
    r->outcome = "recorded";
    r->subject = req->env && req->env->has_subject ? req->env->subject : NULL;
    msgpack_sbuffer_init(&r->extra);
    msgpack_packer_init(&r->extra_pk, &r->extra, pack_sbuffer_write);
}

void
area_result_destroy(struct area_result *r)
{
    msgpack_sbuffer_destroy(&r->extra);
}

void
area_result_outcome(struct area_result *r, const char *outcome)
{
    r->outcome = outcome;
}

void
area_result_subject(struct area_result *r, const char *subject)
{
    if (!subject) {
        r->subject = NULL;
        return;
    }
    snprintf(r->subject_buf, sizeof r->subject_buf, "%s", subject);
    r->subject = r->subject_buf;
}

void
area_result_triage(struct area_result *r)
{
    const struct area_conf *a = r->req->area_conf;
    if (a && a->triage_unit[0])
        r->unit = a->triage_unit;
}

void
area_result_finding(struct area_result *r, const char *code, const char *basis, const char *fmt,
                    ...)
{
    if (r->nfindings == AREA_RESULT_MAX_FINDINGS) {
        struct area_finding *last = &r->findings[AREA_RESULT_MAX_FINDINGS - 1];
        snprintf(last->code, sizeof last->code, "more");
        snprintf(last->detail, sizeof last->detail, "more findings than the result holds");
        last->basis = "";
        return;
    }
    struct area_finding *f = &r->findings[r->nfindings++];
    snprintf(f->code, sizeof f->code, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->detail, sizeof f->detail, fmt, ap);
    va_end(ap);
    /* Cut on a character boundary: details quote Vietnamese text. */
    f->detail[text_utf8_prefix(f->detail, strlen(f->detail), sizeof f->detail - 1)] = '\0';
    f->basis = basis ? basis : r->type ? r->type->basis : "";
}

/* The instant a deadline counts from: the event's time, or its data field. */
static int
s_anchor(const struct area_result *r, const struct catalogue_deadline *d, int64_t *ret)
{
    uint64_t t;
    switch (d->anchor_kind) {
    case ANCHOR_RECEIVED:
        *ret = (int64_t)r->req->env->time_ms;
        return 0;
    case ANCHOR_DATE:
        return area_data_date_ms(r->req, d->anchor, ret) ? 0 : -ENODATA;
    default:
        if (!area_data_u64(r->req, d->anchor, &t))
            return -ENODATA;
        *ret = (int64_t)t;
        return 0;
    }
}

int
area_result_deadline(struct area_result *r, const char *name, int64_t anchor_ms, int64_t *ret_due)
{
    const struct catalogue_deadline *d = r->type ? catalogue_deadline(r->type, name) : NULL;
    if (!d)
        return -ENOENT;
    const char *basis = catalogue_basis(r->type, name);
    if (d->form == DEADLINE_NONE) {
        area_result_finding(r, "no_statutory_deadline", basis,
                            "deadline.%s: the sources give no figure; set one in the catalogue",
                            name);
        return -ENOSYS;
    }
    int64_t due = INT64_MAX; /* open: no due time */
    if (d->form == DEADLINE_PERIOD) {
        if (anchor_ms < 0 && s_anchor(r, d, &anchor_ms) < 0)
            return -ENODATA;
        due = calendar_due(r->req->cfg->calendar, anchor_ms, d->n, d->unit, d->before,
                           &r->calendar_missing);
    }
    if (r->ndeadlines < AREA_RESULT_MAX_DEADLINES)
        r->deadlines[r->ndeadlines++] = (struct area_deadline){d, basis, due};
    if (ret_due)
        *ret_due = due;
    return 0;
}

const char *
area_limit(struct area_result *r, const char *name)
{
    const char *v = r->type ? catalogue_limit(r->type, name) : NULL;
    if (!v || !*v) {
        area_result_finding(r, "limit_not_set", "",
                            "limit.%s is not set in the catalogue: its "
                            "rule was not applied",
                            name);
        return NULL;
    }
    return v;
}

bool
area_limit_number(struct area_result *r, const char *name, double *ret)
{
    const char *v = area_limit(r, name);
    char *end;
    if (!v)
        return false;
    double d = strtod(v, &end);
    if (end == v || *end) {
        area_result_finding(r, "limit_not_set", "",
                            "limit.%s = '%.32s' is not a number: its "
                            "rule was not applied",
                            name, v);
        return false;
    }
    *ret = d;
    return true;
}

msgpack_packer *
area_result_extra(struct area_result *r, const char *key)
{
    pack_cstr(&r->extra_pk, key);
    r->nextra++;
    return &r->extra_pk;
}

void
area_result_emit(struct area_result *r, const struct envelope_fields *f)
{
    handler_outcome_emit(r->out, f);
}

void
area_result_retry(struct area_result *r, int rc)
{
    r->rc = rc;
}

void
area_format_time(int64_t unix_ms, char *buf, size_t size)
{
    int64_t local = unix_ms + CALENDAR_UTC_OFFSET_MS;
    int64_t day = local / CALENDAR_DAY_MS - (local % CALENDAR_DAY_MS < 0);
    int64_t in_day = local - day * CALENDAR_DAY_MS;
    int y, m, d;
    if (in_day == 0) {
        calendar_date_of_day(day - 1, &y, &m, &d);
        snprintf(buf, size, "%04d-%02d-%02d 24:00 +07:00", y, m, d);
        return;
    }
    calendar_date_of_day(day, &y, &m, &d);
    int minutes = (int)(in_day / 60000);
    snprintf(buf, size, "%04d-%02d-%02d %02d:%02d +07:00", y, m, d, minutes / 60, minutes % 60);
}

static void
s_pack_deadline(msgpack_packer *pk, const struct area_deadline *dl, const char *subject)
{
    const struct catalogue_deadline *d = dl->rule;
    char due_text[48] = "";
    bool open = d->form == DEADLINE_OPEN;
    if (!open)
        area_format_time(dl->due_ms, due_text, sizeof due_text);
    const struct worker_result_deadline_fields f = {
        .subject = subject,
        .name = d->name,
        .open = open,
        .due_ms = dl->due_ms,
        .due_text = due_text,
        .rule = d->rule,
        .basis = dl->basis,
        .track = d->track,
        .closed_by = (const char *const *)d->closed_by,
        .nclosed_by = d->nclosed_by,
    };
    worker_result_pack_deadline(pk, &f);
}

void
area_result_finish(struct area_result *r)
{
    struct handler_outcome *out = r->out;
    msgpack_packer *pk = &out->result_pk;
    const struct envelope *env = r->req->env;

    msgpack_pack_map(pk, WORKER_RESULT_NKEYS + r->nextra);
    pack_cstr(pk, WORKER_RESULT_AREA);
    pack_cstr(pk, r->req->area);
    pack_cstr(pk, WORKER_RESULT_UNIT);
    pack_cstr(pk, r->unit);
    pack_cstr(pk, WORKER_RESULT_TYPE);
    pack_cstr(pk, env->type);
    pack_cstr(pk, WORKER_RESULT_VERSION);
    msgpack_pack_unsigned_int(pk, r->type ? r->type->version : 1);
    pack_cstr(pk, WORKER_RESULT_OUTCOME);
    pack_cstr(pk, r->outcome);
    pack_cstr(pk, WORKER_RESULT_FINDINGS);
    msgpack_pack_array(pk, (uint32_t)r->nfindings);
    for (size_t i = 0; i < r->nfindings; i++) {
        msgpack_pack_map(pk, 3);
        pack_cstr(pk, WORKER_RESULT_FINDING_CODE);
        pack_cstr(pk, r->findings[i].code);
        pack_cstr(pk, WORKER_RESULT_FINDING_DETAIL);
        pack_cstr(pk, r->findings[i].detail);
        pack_cstr(pk, WORKER_RESULT_FINDING_BASIS);
        pack_cstr(pk, r->findings[i].basis);
    }
    pack_cstr(pk, WORKER_RESULT_DEADLINES);
    msgpack_pack_array(pk, (uint32_t)r->ndeadlines);
    for (size_t i = 0; i < r->ndeadlines; i++)
        s_pack_deadline(pk, &r->deadlines[i], r->subject);
    pack_cstr(pk, WORKER_RESULT_CALENDAR_MISSING);
    if (r->calendar_missing)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
    pack_cstr(pk, WORKER_RESULT_BASIS);
    pack_cstr(pk, r->type ? r->type->basis : "");
    pack_cstr(pk, WORKER_RESULT_HANDLED_AT);
    msgpack_pack_int64(pk, (int64_t)unix_ms());
    if (r->nextra)
        pack_sbuffer_write(&out->result, r->extra.data, r->extra.size);

    out->status = MDP_STATUS_DONE;
    if (r->nfindings)
        handler_outcome_note(out, "%s: %s", r->outcome, r->findings[0].detail);
    else
        handler_outcome_note(out, "%s", r->outcome);
}

/* ------------------------------------------------------------------------ */
/* Data. */

const msgpack_object *
area_data(const struct handler_request *req, const char *key)
{
    const msgpack_object *data = req->env ? req->env->data : NULL;
    if (!data || data->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t klen = strlen(key);
    for (uint32_t i = 0; i < data->via.map.size; i++) {
        const msgpack_object *k = &data->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == klen &&
            memcmp(k->via.str.ptr, key, klen) == 0)
            return &data->via.map.ptr[i].val;
    }
    return NULL;
}

bool
area_data_str(const struct handler_request *req, const char *key, char *buf, size_t size)
{
    const msgpack_object *o = area_data(req, key);
    if (!o || o->type != MSGPACK_OBJECT_STR || size == 0)
        return false;
    size_t n = text_utf8_prefix(o->via.str.ptr, o->via.str.size, size - 1);
    memcpy(buf, o->via.str.ptr, n);
    buf[n] = '\0';
    return true;
}

bool
area_data_u64(const struct handler_request *req, const char *key, uint64_t *ret)
{
    const msgpack_object *o = area_data(req, key);
    if (!o || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return false;
    *ret = o->via.u64;
    return true;
}

bool
area_data_number(const struct handler_request *req, const char *key, double *ret)
{
    const msgpack_object *o = area_data(req, key);
    if (!o)
        return false;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        *ret = (double)o->via.u64;
    else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        *ret = (double)o->via.i64;
    else if (o->type == MSGPACK_OBJECT_FLOAT32 || o->type == MSGPACK_OBJECT_FLOAT64)
        *ret = o->via.f64;
    else
        return false;
    return true;
}

bool
area_data_bool(const struct handler_request *req, const char *key, bool *ret)
{
    const msgpack_object *o = area_data(req, key);
    if (!o || o->type != MSGPACK_OBJECT_BOOLEAN)
        return false;
    *ret = o->via.boolean;
    return true;
}

bool
area_data_date_ms(const struct handler_request *req, const char *key, int64_t *ret)
{
    const msgpack_object *o = area_data(req, key);
    int y, m, d;
    if (!o || o->type != MSGPACK_OBJECT_STR ||
        !text_parse_date(o->via.str.ptr, o->via.str.size, &y, &m, &d))
        return false;
    *ret = calendar_day_start_ms(calendar_day_of_date(y, m, d));
    return true;
}
