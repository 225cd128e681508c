/*
 * area_rf: radio frequencies (Art. 3 item 12), Phòng Bưu chính - Viễn
 * thông. An interference report is forwarded to limit.forward_to (the
 * regional radio-frequency centre, Cục Tần số practice); a window that
 * ends before it starts is sent back.
 */
#include <stdio.h>

#include "proto/pack.h"
#include "workers/area_result.h"
#include "workers/handler_dispatch.h"

static void
s_interference(struct area_result *r)
{
    uint64_t start = 0, end = 0;
    area_data_u64(r->req, "window_start", &start);
    area_data_u64(r->req, "window_end", &end);
    if (end < start) {
        area_result_outcome(r, "returned");
        area_result_finding(r, "window_reversed", NULL, "window_end is before window_start");
        return;
    }
    const char *to = area_limit(r, "forward_to");
    area_result_outcome(r, to ? "forwarded" : "recorded");
    if (to)
        pack_cstr(area_result_extra(r, "forward_to"), to);
}

static const struct area_rules s_rules[] = {
    {"rf.interference_report", s_interference},
    {NULL, NULL},
};

int
area_rf(const struct handler_request *req, struct handler_outcome *out)
{
    return handler_dispatch(req, out, s_rules);
}
