/*
 * handler_generic: the handler of every area that has none of its own yet.
 * It checks that the event is a valid envelope and records who took it:
 * result {"area", "unit", "type", "handled_at" (unix ms)}. An event that is
 * not a valid envelope fails with the decoder's reason, which names the field.
 */
#include <string.h>
#include <time.h>

#include "workers/handlers.h"

static uint64_t
s_unix_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
s_pack_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body(pk, s, strlen(s));
}

int
handler_generic(const struct handler_request *req, struct handler_outcome *out)
{
    msgpack_packer *pk = &out->result_pk;

    if (!req->env) {
        out->status = MDP_STATUS_FAILED;
        handler_outcome_note(out, "%s", req->env_err->reason);
        return 0;
    }
    msgpack_pack_map(pk, 4);
    s_pack_str(pk, "area");
    s_pack_str(pk, req->area);
    s_pack_str(pk, "unit");
    s_pack_str(pk, req->area_conf->unit);
    s_pack_str(pk, "type");
    s_pack_str(pk, req->env->type);
    s_pack_str(pk, "handled_at");
    msgpack_pack_uint64(pk, s_unix_ms());
    out->status = MDP_STATUS_DONE;
    return 0;
}
