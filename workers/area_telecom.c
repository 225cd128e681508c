/*
 * area_telecom: telecommunications (Art. 3 item 11), Phòng Bưu chính - Viễn
 * thông. An infrastructure report is recorded with its site; the sources
 * gave no review period (deadline.review = none).
 */
#include <stdio.h>

#include "proto/pack.h"
#include "workers/area_result.h"
#include "workers/handler_dispatch.h"

static void
s_infrastructure(struct area_result *r)
{
    double lat = 0, lon = 0;
    area_data_number(r->req, "lat", &lat);
    area_data_number(r->req, "lon", &lon);
    area_result_outcome(r, "recorded");
    msgpack_packer *pk = area_result_extra(r, "position");
    msgpack_pack_array(pk, 2);
    msgpack_pack_double(pk, lat);
    msgpack_pack_double(pk, lon);
    area_result_deadline(r, "review", -1, NULL);
}

static const struct area_rules s_rules[] = {
    {"telecom.infrastructure_report", s_infrastructure},
    {NULL, NULL},
};

int
area_telecom(const struct handler_request *req, struct handler_outcome *out)
{
    return handler_dispatch(req, out, s_rules);
}
