/*
 * area_grassroots: grassroots information (Art. 3 item 7), Phòng Thông tin -
 * Báo chí - Xuất bản. Feedback is recorded; the law gives no deadline, so
 * unless the catalogue sets deadline.respond a finding says so.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pack.h"
#include "workers/area_result.h"
#include "workers/handler_dispatch.h"

static void
s_feedback(struct area_result *r)
{
    area_result_outcome(r, "recorded");
    area_result_deadline(r, "respond", -1, NULL);
}

static const struct area_rules s_rules[] = {
    {"grassroots.feedback_item", s_feedback},
    {NULL, NULL},
};

int
area_grassroots(const struct handler_request *req, struct handler_outcome *out)
{
    return handler_dispatch(req, out, s_rules);
}
