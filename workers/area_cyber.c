/*
 * area_cyber: cybersecurity (Art. 3 item 15): the SOC lane.
 *
 * cyber.soc_alert: the severity is normalised to P1..P4 (soc_severity.h)
 * and the alert correlated into an incident (incident_store.h, window
 * limit.correlation_window_s). The worker emits cyber.incident_opened once
 * per incident, cyber.incident_updated when its priority rises or its alert
 * count reaches 10, 100, 1000..., and cyber.serious_incident_escalation once
 * the Quyết định 05/2017 test holds: the system is level 4-5 or on the
 * critical list (asset registry), the alerts show one of its impacts
 * (service interruption, probable leak of secret data, unrecoverable loss of
 * integrity, loss of control, wide spread), its owner cannot cope, and the
 * incident is confirmed: a feed's severity alone never escalates. An
 * incident is confirmed when it reaches limit.confirm_priority; then the
 * 5-day notification clock (Thông tư 20/2017 Art. 9) starts from its first
 * alert, tracked until a cyber.incident_notification with the incident id
 * as subject arrives. Emitted events' ids derive from the incident, so a
 * redelivered alert emits nothing new.
 *
 * cyber.incident_notification: late if received more than 5 days after
 * discovery; the case stays open (tracked) until its final report; the same
 * serious-incident test on the system it names, if the registry knows it.
 * cyber.incident_final_report: late if more than 5 days after the response
 * ended. Alerts and incidents are triaged by the area's triage unit.
 *
 * State: the incident store, in the handler's state (area_cyber_open() at
 * the runtime's start, area_cyber_close() at its stop, through the handler
 * table), opened on the first alert rather than at start: a worker that
 * only sees notifications needs none, and a store that cannot be opened
 * yet makes each alert answer retry (and the open be tried again), not the
 * worker stop.
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "proto/pack.h"
#include "workers/area_result.h"
#include "workers/handler_dispatch.h"
#include "workers/incident_store.h"
#include "workers/soc_severity.h"

static const char *const s_impact_names[] = {"service_interruption", "data_leak", "integrity_loss",
                                             "loss_of_control", "spread"};
#define NIMPACTS (sizeof s_impact_names / sizeof *s_impact_names)
/* An asset or system name: the catalogue allows 256 characters, 4 bytes at most each. */
#define ASSET_BYTES (4 * 256 + 1)

/* The handler's state, from area_cyber_open(). */
struct cyber_state {
    const struct mandated_config *cfg;
    struct incident_store *store; /* NULL until the first alert opens it */
};

int
area_cyber_open(const struct mandated_config *cfg, void **ret_state)
{
    struct cyber_state *st = xcalloc(1, sizeof *st);
    st->cfg = cfg;
    *ret_state = st;
    return 0;
}

void
area_cyber_close(void **state_p)
{
    struct cyber_state *st = *state_p;
    if (!st)
        return;
    incident_store_destroy(&st->store);
    free(st);
    *state_p = NULL;
}

/* The store, opened on first use under the config's state directory.
 * Returns 0 or -errno (logged). */
static int
s_open_store(struct cyber_state *st, struct incident_store **ret)
{
    if (!st->store) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/cyber", st->cfg->broker.state_dir);
        int rc = incident_store_open(dir, &st->store);
        if (rc < 0) {
            log_err("cyber: cannot open the incident store %s: %s", dir, strerror(-rc));
            return rc;
        }
    }
    *ret = st->store;
    return 0;
}

/* The impact bits an array of criterion names sets (other strings ignored). */
static unsigned
s_impacts(const msgpack_object *list)
{
    unsigned bits = 0;
    for (uint32_t i = 0; list && list->type == MSGPACK_OBJECT_ARRAY && i < list->via.array.size;
         i++) {
        const msgpack_object *o = &list->via.array.ptr[i];
        for (size_t k = 0; o->type == MSGPACK_OBJECT_STR && k < NIMPACTS; k++)
            if (o->via.str.size == strlen(s_impact_names[k]) &&
                memcmp(o->via.str.ptr, s_impact_names[k], o->via.str.size) == 0)
                bits |= 1u << k;
    }
    return bits;
}

static void
s_pack_impacts(msgpack_packer *pk, unsigned bits)
{
    uint32_t n = 0;
    for (size_t k = 0; k < NIMPACTS; k++)
        n += (bits >> k) & 1;
    msgpack_pack_array(pk, n);
    for (size_t k = 0; k < NIMPACTS; k++)
        if ((bits >> k) & 1)
            pack_cstr(pk, s_impact_names[k]);
}

/* The registry's verdict on a system for QĐ 05/2017, with a finding if unknown. */
static bool
s_serious_system(struct area_result *r, const char *name, unsigned *ret_level)
{
    const struct asset *a = asset_registry_find(r->req->cfg->assets, name);
    if (!a) {
        area_result_finding(r, "asset_unregistered", "Quyết định 05/2017/QĐ-TTg",
                            "'%s' is not in the asset registry: the serious-incident test "
                            "cannot apply",
                            name);
        return false;
    }
    *ret_level = a->system_level;
    return (a->system_level >= 4 || a->critical) && !a->owner_copes;
}

/* An emitted event's id: the first 16 bytes of BLAKE2b over what it is. */
static void
s_emit_id(uint8_t id[16], const char *what, const char *incident, uint32_t n)
{
    char text[ENVELOPE_SUBJECT_MAX + 64];
    snprintf(text, sizeof text, "mandate:%s:%s:%u", what, incident, n);
    crypto_generichash(id, 16, (const unsigned char *)text, strlen(text), NULL, 0);
}

static void
s_emit(struct area_result *r, const char *type, const uint8_t id[16], uint64_t time_ms,
       const char *subject, const msgpack_sbuffer *data)
{
    const struct envelope_fields f = {.id = id,
                                      .type = type,
                                      .source = "area:cyber",
                                      .time_ms = time_ms,
                                      .subject = subject,
                                      .data = data->data,
                                      .data_len = data->size};
    area_result_emit(r, &f);
}

static const char *
s_p(int priority)
{
    static const char *const names[] = {"P1", "P1", "P2", "P3", "P4"};
    return names[priority >= 1 && priority <= 4 ? priority : 4];
}

static void
s_soc_alert(struct area_result *r)
{
    const struct handler_request *req = r->req;
    char format[16] = "", asset[ASSET_BYTES] = "", why[160];
    uint64_t time_ms = 0;
    double window_s = 0;
    area_data_str(req, "format", format, sizeof format);
    area_data_str(req, "asset", asset, sizeof asset);
    area_data_u64(req, "time", &time_ms);
    area_result_triage(r);

    int p = soc_priority(format, area_data(req, "severity_raw"),
                         catalogue_limit(r->type, "stix_labels"), why, sizeof why);
    if (!p) {
        area_result_finding(r, "severity_unreadable", NULL, "%s: taken as P4", why);
        p = 4;
    }
    const char *confirm = area_limit(r, "confirm_priority");
    int confirm_p = confirm && confirm[0] == 'P' && confirm[1] >= '1' && confirm[1] <= '4'
                        ? confirm[1] - '0'
                        : 0; /* unset: nothing is confirmed */
    area_limit_number(r, "correlation_window_s", &window_s);
    unsigned level = 0;
    struct alert_facts facts = {.asset = asset,
                                .time_ms = time_ms,
                                .priority = p,
                                .impacts = s_impacts(area_data(req, "impact")),
                                .seq = req->seq,
                                .event_id = req->env->id};
    struct incident_params params = {.window_ms = (uint64_t)(window_s * 1000),
                                     .confirm_priority = confirm_p,
                                     .serious_system = s_serious_system(r, asset, &level)};
    struct incident_store *store;
    struct incident_decision d;
    /* No state: the runtime did not open the handler's (a programming error). */
    int rc = req->state ? s_open_store(req->state, &store) : -EINVAL;
    if (rc == 0)
        rc = incident_store_correlate(store, &facts, &params, &d);
    if (rc < 0) {
        area_result_retry(r, rc); /* the alert comes back */
        return;
    }

    area_result_outcome(r, d.opened ? "incident_opened" : "incident_joined");
    area_result_subject(r, NULL);
    pack_cstr(area_result_extra(r, "priority"), s_p(p));
    pack_cstr(area_result_extra(r, "incident_id"), d.incident_id);
    pack_cstr(area_result_extra(r, "incident_priority"), s_p(d.priority));
    msgpack_pack_uint32(area_result_extra(r, "incident_alerts"), d.alerts);
    if (d.replay)
        area_result_finding(r, "redelivered", "", "decided before: the same answer again");

    msgpack_sbuffer data;
    msgpack_packer pk;
    uint8_t id[16];
    msgpack_sbuffer_init(&data);
    msgpack_packer_init(&pk, &data, pack_sbuffer_write);
    if (d.opened || d.rose || d.milestone) {
        bool opened = d.opened;
        msgpack_pack_map(&pk, 5);
        pack_cstr(&pk, "incident_id");
        pack_cstr(&pk, d.incident_id);
        pack_cstr(&pk, "asset");
        pack_cstr(&pk, asset);
        pack_cstr(&pk, "priority");
        pack_cstr(&pk, s_p(d.priority));
        pack_cstr(&pk, opened ? "first_seen" : "last_seen");
        msgpack_pack_uint64(&pk, opened ? d.first_seen : d.last_seen);
        pack_cstr(&pk, "alerts");
        msgpack_pack_uint32(&pk, d.alerts);
        s_emit_id(id, opened ? "opened" : "updated", d.incident_id, opened ? 0 : d.alerts);
        s_emit(r, opened ? "cyber.incident_opened" : "cyber.incident_updated", id, time_ms,
               d.incident_id, &data);
    }
    if (d.escalate_now) {
        msgpack_sbuffer_clear(&data);
        msgpack_pack_map(&pk, 5);
        pack_cstr(&pk, "incident_id");
        pack_cstr(&pk, d.incident_id);
        pack_cstr(&pk, "asset");
        pack_cstr(&pk, asset);
        pack_cstr(&pk, "system_level");
        msgpack_pack_unsigned_int(&pk, level ? level : 1);
        pack_cstr(&pk, "criteria");
        s_pack_impacts(&pk, d.impacts);
        pack_cstr(&pk, "priority");
        pack_cstr(&pk, s_p(d.priority));
        s_emit_id(id, "escalation", d.incident_id, 0);
        s_emit(r, "cyber.serious_incident_escalation", id, time_ms, d.incident_id, &data);
        area_result_finding(r, "serious_incident", "Quyết định 05/2017/QĐ-TTg",
                            "%s on level-%u system '%s', owner cannot cope: escalated",
                            d.incident_id, level, asset);
    }
    msgpack_sbuffer_destroy(&data);
    if (d.confirmed_now) {
        area_result_subject(r, d.incident_id);
        area_result_deadline(r, "notify", (int64_t)d.first_seen, NULL);
        area_result_finding(r, "incident_confirmed", catalogue_basis(r->type, "notify"),
                            "%s reached %s: the 5-day notification clock runs from its first "
                            "alert",
                            d.incident_id, s_p(d.priority));
    }
}

/* Late if received after the deadline name (anchored on its data field). */
static void
s_lateness(struct area_result *r, const char *name, const char *code)
{
    int64_t due;
    if (area_result_deadline(r, name, -1, &due) == 0 && (int64_t)r->req->env->time_ms > due) {
        char due_text[48];
        area_format_time(due, due_text, sizeof due_text);
        area_result_outcome(r, code);
        area_result_finding(r, code, catalogue_basis(r->type, name), "it was due by %s", due_text);
    }
}

static void
s_notification(struct area_result *r)
{
    char system[ASSET_BYTES] = "";
    uint64_t level = 0;
    area_data_str(r->req, "system", system, sizeof system);
    area_data_u64(r->req, "system_level", &level);
    area_result_outcome(r, "notified");
    s_lateness(r, "notify", "late_notification");
    area_result_deadline(r, "case", -1, NULL);

    unsigned impacts = s_impacts(area_data(r->req, "impact"));
    const struct asset *a = asset_registry_find(r->req->cfg->assets, system);
    if (a && impacts && (level >= 4 || a->critical) && !a->owner_copes) {
        msgpack_sbuffer data;
        msgpack_packer pk;
        uint8_t id[16];
        char ref[ENVELOPE_SUBJECT_MAX + 1];
        msgpack_sbuffer_init(&data);
        msgpack_packer_init(&pk, &data, pack_sbuffer_write);
        /* The notification is its own incident: its subject, or its event id. */
        if (r->req->env->has_subject)
            snprintf(ref, sizeof ref, "%s", r->req->env->subject);
        else
            snprintf(ref, sizeof ref, "seq-%llu", (unsigned long long)r->req->seq);
        msgpack_pack_map(&pk, 5);
        pack_cstr(&pk, "incident_id");
        pack_cstr(&pk, ref);
        pack_cstr(&pk, "asset");
        pack_cstr(&pk, system);
        pack_cstr(&pk, "system_level");
        msgpack_pack_uint64(&pk, level);
        pack_cstr(&pk, "criteria");
        s_pack_impacts(&pk, impacts);
        pack_cstr(&pk, "priority");
        pack_cstr(&pk, "P1");
        s_emit_id(id, "escalation", ref, 0);
        s_emit(r, "cyber.serious_incident_escalation", id, r->req->env->time_ms, ref, &data);
        msgpack_sbuffer_destroy(&data);
        area_result_finding(r, "serious_incident", "Quyết định 05/2017/QĐ-TTg",
                            "level-%llu system '%s', owner cannot cope: escalated",
                            (unsigned long long)level, system);
    }
}

static void
s_final_report(struct area_result *r)
{
    area_result_outcome(r, "case_closed");
    s_lateness(r, "report", "late_report");
}

static void
s_incident_event(struct area_result *r)
{
    char incident[INCIDENT_ID_MAX + 8] = "";
    area_data_str(r->req, "incident_id", incident, sizeof incident);
    area_result_triage(r);
    bool opened = strcmp(r->type->base, "cyber.incident_opened") == 0;
    area_result_outcome(r, opened ? "incident_triaged" : "update_triaged");
    pack_cstr(area_result_extra(r, "incident_id"), incident);
}

static void
s_escalation(struct area_result *r)
{
    char incident[INCIDENT_ID_MAX + 8] = "", asset[ASSET_BYTES] = "";
    area_data_str(r->req, "incident_id", incident, sizeof incident);
    area_data_str(r->req, "asset", asset, sizeof asset);
    const struct asset *a = asset_registry_find(r->req->cfg->assets, asset);
    area_result_outcome(r, "escalated");
    area_result_finding(r, "notify_now", NULL,
                        "%s: notify the owner (%s), VNCERT/CC and the standing response unit",
                        incident, a ? a->owner : "unknown");
}

static const struct area_rules s_rules[] = {
    {"cyber.soc_alert", s_soc_alert},
    {"cyber.incident_notification", s_notification},
    {"cyber.incident_final_report", s_final_report},
    {"cyber.incident_opened", s_incident_event},
    {"cyber.incident_updated", s_incident_event},
    {"cyber.serious_incident_escalation", s_escalation},
    {NULL, NULL},
};

int
area_cyber(const struct handler_request *req, struct handler_outcome *out)
{
    return handler_dispatch(req, out, s_rules);
}
