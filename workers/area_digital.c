/*
 * area_digital: digital transformation and e-documents (Art. 3 item 14),
 * Phòng Công nghệ thông tin. A received edXML document (QCVN 102:2016) is
 * checked and its errors returned: document_id and subject within
 * limit.max_document_id / limit.max_subject characters, at least one
 * recipient and none twice, the sender not among them, and a promulgation
 * date not after the day it arrived.
 */
#include <stdio.h>
#include <string.h>

#include "config/calendar.h"
#include "proto/pack.h"
#include "workers/area_result.h"
#include "workers/handler_dispatch.h"

static size_t
s_chars(const msgpack_object *o)
{
    size_t n = 0;
    for (uint32_t i = 0; o && o->type == MSGPACK_OBJECT_STR && i < o->via.str.size; i++)
        n += ((unsigned char)o->via.str.ptr[i] & 0xc0) != 0x80;
    return n;
}

static bool
s_str_eq(const msgpack_object *a, const msgpack_object *b)
{
    return a && b && a->type == MSGPACK_OBJECT_STR && b->type == MSGPACK_OBJECT_STR &&
           a->via.str.size == b->via.str.size &&
           memcmp(a->via.str.ptr, b->via.str.ptr, a->via.str.size) == 0;
}

static void
s_limit_chars(struct area_result *r, const char *field, const char *limit)
{
    double max;
    size_t n = s_chars(area_data(r->req, field));
    if (area_limit_number(r, limit, &max) && (double)n > max)
        area_result_finding(r, "field_too_long", NULL, "%s: %zu characters, at most %g", field, n,
                            max);
}

static void
s_edoc(struct area_result *r)
{
    const msgpack_object *from = area_data(r->req, "from_organ_id");
    const msgpack_object *to = area_data(r->req, "to_organ_ids");
    int64_t promulgated;

    s_limit_chars(r, "document_id", "max_document_id");
    s_limit_chars(r, "subject", "max_subject");
    uint32_t n = to && to->type == MSGPACK_OBJECT_ARRAY ? to->via.array.size : 0;
    if (!n)
        area_result_finding(r, "no_recipient", NULL, "to_organ_ids is empty");
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *id = &to->via.array.ptr[i];
        if (s_str_eq(id, from))
            area_result_finding(r, "sender_is_recipient", NULL, "to_organ_ids[%u] is the sender",
                                i);
        for (uint32_t j = 0; j < i; j++)
            if (s_str_eq(id, &to->via.array.ptr[j])) {
                area_result_finding(r, "recipient_repeated", NULL, "to_organ_ids[%u] repeats [%u]",
                                    i, j);
                break;
            }
    }
    if (area_data_date_ms(r->req, "promulgation_date", &promulgated) &&
        calendar_day_of_ms(promulgated) > calendar_day_of_ms((int64_t)r->req->env->time_ms))
        area_result_finding(r, "promulgated_in_future", NULL,
                            "promulgation_date is after the day the document arrived");

    area_result_outcome(r, r->nfindings ? "invalid" : "valid");
    msgpack_packer *pk = area_result_extra(r, "errors");
    msgpack_pack_array(pk, (uint32_t)r->nfindings);
    for (size_t i = 0; i < r->nfindings; i++)
        pack_cstr(pk, r->findings[i].detail);
}

static const struct area_rules s_rules[] = {
    {"dx.edoc_received", s_edoc},
    {NULL, NULL},
};

int
area_digital(const struct handler_request *req, struct handler_outcome *out)
{
    return handler_dispatch(req, out, s_rules);
}
