/*
 * handler_generic: what every area does with an event its own rules do not
 * name: a decision on one of its cases, a deadline warning or breach about
 * one, a type routed to it by glob, or an area with no rules of its own
 * (it_industry). It records who took it, in the shape of area_result.h.
 * A rule like any area's: handler_dispatch() looks the type up, builds the
 * result around it and decides when it applies.
 */
#include <string.h>

#include "proto/pack.h"
#include "workers/area_result.h"
#include "workers/handler_generic.h"

static void
s_deadline_event(struct area_result *r, bool breached)
{
    char deadline[64] = "", type[128] = "", due_text[48] = "";
    uint64_t due = 0, seq = 0;
    area_data_str(r->req, "deadline", deadline, sizeof deadline);
    area_data_str(r->req, "event_type", type, sizeof type);
    area_data_u64(r->req, "event_seq", &seq);
    if (area_data_u64(r->req, "due", &due))
        area_format_time((int64_t)due, due_text, sizeof due_text);
    area_result_outcome(r, breached ? "escalated_to_head_of_unit" : "unit_reminded");
    area_result_finding(r, breached ? "deadline_breached" : "deadline_near", NULL,
                        "%s of event %llu (%s) %s %s", deadline, (unsigned long long)seq, type,
                        breached ? "passed at" : "falls due at", due_text);
}

void
handler_generic_apply(struct area_result *r)
{
    const char *type = r->req->env->type;
    char decision[65];
    if (strcmp(type, "deadline.warning") == 0) {
        s_deadline_event(r, false);
    } else if (strcmp(type, "deadline.breached") == 0) {
        s_deadline_event(r, true);
    } else if (strcmp(type, "case.decision") == 0 &&
               area_data_str(r->req, "decision", decision, sizeof decision)) {
        area_result_outcome(r, "decision_recorded");
        pack_cstr(area_result_extra(r, "decision"), decision);
    }
}
