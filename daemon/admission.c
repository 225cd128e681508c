/* admission: see admission.h. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <msgpack.h>

#include "daemon/admission.h"
#include "proto/msgpack_scan.h"

static bool s_refuse(struct admission_verdict *v, enum mep_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool
s_refuse(struct admission_verdict *v, enum mep_code code, const char *fmt, ...)
{
    va_list ap;
    v->code = code;
    v->area = NULL;
    va_start(ap, fmt);
    vsnprintf(v->reason, sizeof v->reason, fmt, ap);
    va_end(ap);
    return false;
}

/*
 * The area of the event env's corr names, for the catalogue types that go
 * where their case is (case.decision): read from its accepted record. An
 * event still in the batch being written is not found yet: a publisher
 * sends a decision after its case's ACK, as it would on paper.
 */
static const struct area_conf *
s_area_of_corr(const struct mandated_config *cfg, struct audit_log *log, const struct envelope *env)
{
    const struct area_conf *area = NULL;
    uint64_t seq;
    const void *rec;
    size_t len, off, flen;

    if (audit_log_snapshot_begin(log) < 0)
        return NULL;
    if (audit_log_snapshot_find_id(log, env->corr, &seq) == 0 &&
        audit_log_snapshot_get(log, seq, &rec, &len) == 0 &&
        msgpack_scan_map_field(rec, len, "area", &off, &flen) == 0) {
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        if (msgpack_unpack_next(&u, (const char *)rec + off, flen, NULL) ==
                MSGPACK_UNPACK_SUCCESS &&
            u.data.type == MSGPACK_OBJECT_STR && u.data.via.str.size <= 64) {
            char name[65];
            memcpy(name, u.data.via.str.ptr, u.data.via.str.size);
            name[u.data.via.str.size] = '\0';
            area = config_area(cfg, name);
        }
        msgpack_unpacked_destroy(&u);
    }
    audit_log_snapshot_end(log);
    return area;
}

/* The catalogue's reason names the field and the rule: it is the NACK's. */
static bool
s_data_valid(const struct catalogue_type *type, const struct envelope *env,
             struct admission_verdict *v)
{
    if (!type || catalogue_check_data(type, env->data, v->reason, sizeof v->reason) == 0)
        return true;
    v->code = MEP_INVALID_DATA;
    v->area = NULL;
    return false;
}

/* A source's event: permissions first, then the catalogue, then its area. */
static bool
s_published(const struct mandated_config *cfg, struct audit_log *log, const struct envelope *env,
            struct admission_verdict *v)
{
    if (strncmp(env->source, "area:", 5) == 0)
        return s_refuse(v, MEP_FORBIDDEN,
                        "field 'source': '%s' is reserved for workers' follow-ups", env->source);
    const struct catalogue_type *type = v->type;
    if (!v->area && type && type->area)
        return s_refuse(v, MEP_UNKNOWN_TYPE,
                        "field 'type': '%s' belongs to area '%s', which this broker does not serve",
                        env->type, type->area);
    if (!v->area && !type)
        return s_refuse(v, MEP_UNKNOWN_TYPE, "field 'type': '%s' is not in the catalogue",
                        env->type);
    if (type && type->internal)
        return s_refuse(v, MEP_FORBIDDEN,
                        "field 'type': '%s' is emitted by workers and the broker only", env->type);
    v->source = config_source(cfg, env->source);
    if (!config_source_allows(v->source, env->type))
        return s_refuse(v, MEP_FORBIDDEN, "field 'type': source '%s' may not publish '%s'",
                        env->source, env->type);
    if (!s_data_valid(type, env, v))
        return false;
    if (v->area)
        return true;
    if (!env->has_corr)
        return s_refuse(v, MEP_INVALID_DATA,
                        "field 'corr': missing; '%s' goes to the area of the event its corr names",
                        env->type);
    v->area = s_area_of_corr(cfg, log, env);
    if (!v->area)
        return s_refuse(v, MEP_INVALID_DATA,
                        "field 'corr': names no accepted event of an area this broker serves");
    return true;
}

/* A worker's or the broker's own: no permissions to check, the catalogue still holds. */
static bool
s_internal(enum admission_origin origin, const struct envelope *env,
           const struct area_conf *origin_area, struct admission_verdict *v)
{
    const struct catalogue_type *type = v->type;
    /* The broker says where its own events go. A follow-up of a type that
     * goes where its case is stays with the emitting area: its case is the
     * parent, or one the worker itself handled. */
    if (origin == ADMISSION_BROKER || (!v->area && type && !type->area))
        v->area = origin_area;
    if (!v->area)
        return s_refuse(v, MEP_UNKNOWN_TYPE, "field 'type': '%s' is not in the catalogue",
                        env->type);
    return s_data_valid(type, env, v);
}

bool
admission_check(const struct mandated_config *cfg, struct audit_log *log,
                enum admission_origin origin, const struct envelope *env,
                const struct area_conf *origin_area, struct admission_verdict *ret)
{
    ret->code = MEP_OK;
    ret->reason[0] = '\0';
    ret->type = config_type(cfg, env->type);
    ret->area = config_area_for_type(cfg, env->type);
    ret->source = NULL;
    if (origin == ADMISSION_PUBLISHED)
        return s_published(cfg, log, env, ret);
    return s_internal(origin, env, origin_area, ret);
}
