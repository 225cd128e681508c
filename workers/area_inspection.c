/*
 * area_inspection: inspection, complaints and denunciations (Art. 3 item
 * 31), Thanh tra Sở.
 *  - complaint: accepted within 10 days of receipt (Luật Khiếu nại 2011
 *    Art. 27); decided within 30 days, 45 if complex, 45 / 60 in remote
 *    areas (Art. 28), counted here from receipt since acceptance is not yet
 *    known: the earliest, so the safe side; a complaint more than 90 days
 *    after the complainant learnt of the decision (known_at) is out of time
 *    (Art. 9).
 *  - denunciation: the accuser is told within 5 WD of acceptance; resolved
 *    within 30 days of it, plus limit.extension_days for each extension (at
 *    most limit.max_extensions) (Luật Tố cáo 2018 Art. 23, 29, 30). Before
 *    acceptance (no accepted_at) both count from receipt.
 */
#include <errno.h>
#include <stdio.h>

#include "config/calendar.h"
#include "proto/pack.h"
#include "workers/area_result.h"
#include "workers/handler_dispatch.h"

static void
s_complaint(struct area_result *r)
{
    bool complex = false, remote = false;
    int64_t limit_due;
    area_data_bool(r->req, "complex", &complex);
    area_data_bool(r->req, "remote", &remote);

    area_result_outcome(r, "to_accept");
    area_result_deadline(r, "accept", -1, NULL);
    area_result_deadline(r,
                         remote && complex ? "decide_remote_complex"
                         : remote          ? "decide_remote"
                         : complex         ? "decide_complex"
                                           : "decide",
                         -1, NULL);
    uint64_t received = 0;
    area_data_u64(r->req, "received_at", &received);
    if (area_result_deadline(r, "time_limit", -1, &limit_due) == 0 &&
        (int64_t)received > limit_due) {
        char due_text[48];
        area_format_time(limit_due, due_text, sizeof due_text);
        area_result_outcome(r, "out_of_time");
        area_result_finding(r, "out_of_time", catalogue_basis(r->type, "time_limit"),
                            "the 90 days to complain ended %s", due_text);
    }
}

static void
s_denunciation(struct area_result *r)
{
    uint64_t accepted = 0, received = 0, extensions = 0;
    double extension_days = 0, max_extensions = 0;
    bool known = area_data_u64(r->req, "accepted_at", &accepted);
    area_data_u64(r->req, "received_at", &received);
    area_data_u64(r->req, "extensions", &extensions);
    int64_t anchor = known ? (int64_t)accepted : (int64_t)received;

    area_result_outcome(r, known ? "accepted" : "to_accept");
    if (!known)
        area_result_finding(r, "counted_from_receipt", NULL,
                            "not yet accepted: periods counted from receipt, the earliest");
    area_result_deadline(r, "notify", anchor, NULL);
    if (extensions && area_limit_number(r, "extension_days", &extension_days) &&
        area_limit_number(r, "max_extensions", &max_extensions)) {
        if ((double)extensions > max_extensions)
            area_result_finding(r, "too_many_extensions", NULL, "%llu extensions, at most %g",
                                (unsigned long long)extensions, max_extensions);
        /* The resolve period grows by whole days: add them to the anchor. */
        anchor += (int64_t)((double)extensions * extension_days) * CALENDAR_DAY_MS;
    }
    area_result_deadline(r, "resolve", anchor, NULL);
}

static const struct area_rules s_rules[] = {
    {"inspection.complaint_received", s_complaint},
    {"inspection.denunciation_received", s_denunciation},
    {NULL, NULL},
};

int
area_inspection(const struct handler_request *req, struct handler_outcome *out)
{
    return handler_dispatch(req, out, s_rules);
}
