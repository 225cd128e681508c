/*
 * area_foreign_info: foreign information (Art. 3 item 6), Phòng Thông tin -
 * Báo chí - Xuất bản. A display request is decided in 10 WD; a diplomatic
 * mission's request is copied to limit.mission_copy_to (Nghị định 88/2012
 * Art. 20; Thông tư 04/2014 Art. 9).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pack.h"
#include "workers/area_result.h"
#include "workers/handler_dispatch.h"

static void
s_display_request(struct area_result *r)
{
    bool mission = false;
    area_data_bool(r->req, "is_diplomatic_mission", &mission);
    area_result_outcome(r, "under_review");
    area_result_deadline(r, "decide", -1, NULL);
    if (mission) {
        const char *to = area_limit(r, "mission_copy_to");
        if (to) {
            pack_cstr(area_result_extra(r, "copy_to"), to);
            area_result_finding(r, "copy_to_foreign_affairs", NULL,
                                "a diplomatic mission's request: copy to %s", to);
        }
    }
}

static const struct area_rules s_rules[] = {
    {"foreign_info.display_request", s_display_request},
    {NULL, NULL},
};

int
area_foreign_info(const struct handler_request *req, struct handler_outcome *out)
{
    return handler_dispatch(req, out, s_rules);
}
