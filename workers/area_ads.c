/*
 * area_ads: advertising (Art. 3 item 9), Phòng Thông tin - Báo chí - Xuất
 * bản. An online ad is to be taken down within 24 h of the request; the
 * period is tracked until a case.decision reports it done.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pack.h"
#include "workers/area_result.h"
#include "workers/handler_dispatch.h"

static void
s_takedown(struct area_result *r)
{
    int64_t due;
    if (area_result_deadline(r, "removal", -1, &due) < 0)
        return;
    area_result_outcome(r, "takedown_ordered");
    if ((int64_t)r->req->env->time_ms > due) {
        char due_text[48];
        area_format_time(due, due_text, sizeof due_text);
        area_result_finding(r, "overdue_on_arrival", NULL,
                            "the 24 h removal period ended %s, before this request arrived",
                            due_text);
    }
}

static const struct area_rules s_rules[] = {
    {"ads.online_takedown", s_takedown},
    {NULL, NULL},
};

int
area_ads(const struct handler_request *req, struct handler_outcome *out)
{
    return handler_dispatch(req, out, s_rules);
}
