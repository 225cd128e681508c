/*
 * area_postal: postal services (Art. 3 item 10), Phòng Bưu chính - Viễn
 * thông (Luật Bưu chính 2010; Nghị định 47/2011, 25/2022).
 *  - activity_notification: confirmed in 10 WD, an amendment in 10 WD, a
 *    re-issue in 7 WD; a refusal is due within 5 WD;
 *  - licence_application: the capital floor of its scope (limit.
 *    min_capital_domestic_vnd / _international_vnd); below it: refused. No
 *    decision period was found in the sources (deadline.decide = none) and
 *    the licence runs at most limit.max_term_years.
 */
#include <stdio.h>
#include <string.h>

#include "proto/pack.h"
#include "workers/area_result.h"
#include "workers/handler_dispatch.h"

static void
s_activity_notification(struct area_result *r)
{
    char request[16] = "new";
    area_data_str(r->req, "request", request, sizeof request);
    area_result_outcome(r, "under_review");
    area_result_deadline(r,
                         strcmp(request, "amendment") == 0 ? "amendment"
                         : strcmp(request, "reissue") == 0 ? "reissue"
                                                           : "confirm",
                         -1, NULL);
    area_result_deadline(r, "refusal", -1, NULL);
}

static void
s_licence(struct area_result *r)
{
    char scope[16] = "";
    uint64_t capital = 0;
    double floor, term;
    area_data_str(r->req, "scope", scope, sizeof scope);
    area_data_u64(r->req, "capital_vnd", &capital);
    const char *limit = strcmp(scope, "international") == 0 ? "min_capital_international_vnd"
                                                            : "min_capital_domestic_vnd";
    bool refused = false;
    if (area_limit_number(r, limit, &floor) && (double)capital < floor) {
        refused = true;
        area_result_finding(r, "capital_below_floor", NULL, "%llu VND of capital; %s needs %.0f",
                            (unsigned long long)capital, scope, floor);
    }
    area_result_outcome(r, refused ? "refused" : "under_review");
    area_result_deadline(r, "decide", -1, NULL);
    if (!refused && area_limit_number(r, "max_term_years", &term))
        msgpack_pack_double(area_result_extra(r, "max_term_years"), term);
}

static const struct area_rules s_rules[] = {
    {"postal.activity_notification", s_activity_notification},
    {"postal.licence_application", s_licence},
    {NULL, NULL},
};

int
area_postal(const struct handler_request *req, struct handler_outcome *out)
{
    return handler_dispatch(req, out, s_rules);
}
