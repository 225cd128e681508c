/*
 * mep: MEP/1 names and reply bodies. The broker packs ACK / NACK / PONG here;
 * clients decode ACK / NACK here, scanned before unpacking like any bytes
 * that come from another process.
 *
 * Allocation failure while packing aborts (the proto/ policy: msgpack-c's
 * sbuffer only fails on out-of-memory, and a half-packed reply is worse).
 */
#include "proto/mep.h"
#include "proto/pack.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/msgpack_scan.h"
#include "proto/text.h"

/* Bounds for reply bodies: a flat map with short strings. */
#define S_REPLY_MAX_BYTES 4096
#define S_REPLY_MAX_DEPTH 2

static const char *const s_code_names[MEP_CODE_COUNT] = {
    [MEP_OK] = "ok",
    [MEP_BAD_FRAME] = "bad_frame",
    [MEP_BAD_MSGPACK] = "bad_msgpack",
    [MEP_BAD_ENVELOPE] = "bad_envelope",
    [MEP_UNKNOWN_TYPE] = "unknown_type",
    [MEP_INVALID_DATA] = "invalid_data",
    [MEP_FORBIDDEN] = "forbidden",
    [MEP_TOO_LARGE] = "too_large",
    [MEP_RATE_LIMITED] = "rate_limited",
    [MEP_UNAVAILABLE] = "unavailable",
};

static const char *const s_cmd_names[] = {
    [MEP_CMD_PUB] = "PUB",   [MEP_CMD_PING] = "PING", [MEP_CMD_ACK] = "ACK",
    [MEP_CMD_NACK] = "NACK", [MEP_CMD_PONG] = "PONG",
};

const char *
mep_code_name(enum mep_code code)
{
    if ((unsigned)code >= MEP_CODE_COUNT)
        return "?";
    return s_code_names[code];
}

int
mep_code_from_name(const char *name, size_t len, enum mep_code *ret_code)
{
    for (unsigned i = 0; i < MEP_CODE_COUNT; i++) {
        if (strlen(s_code_names[i]) == len && memcmp(s_code_names[i], name, len) == 0) {
            *ret_code = (enum mep_code)i;
            return 0;
        }
    }
    return -EINVAL;
}

bool
mep_code_retry(enum mep_code code)
{
    return code == MEP_RATE_LIMITED || code == MEP_UNAVAILABLE;
}

enum mep_command
mep_command_parse(const void *frame, size_t len)
{
    for (unsigned i = 0; i < MEP_CMD_UNKNOWN; i++) {
        if (strlen(s_cmd_names[i]) == len && memcmp(s_cmd_names[i], frame, len) == 0)
            return (enum mep_command)i;
    }
    return MEP_CMD_UNKNOWN;
}

const char *
mep_command_name(enum mep_command cmd)
{
    if ((unsigned)cmd >= MEP_CMD_UNKNOWN)
        return "?";
    return s_cmd_names[cmd];
}

void
mep_pack_ack(msgpack_sbuffer *out, const uint8_t id[MEP_ID_LEN], uint64_t seq, bool dup)
{
    msgpack_packer pk;

    msgpack_sbuffer_clear(out);
    msgpack_packer_init(&pk, out, pack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    pack_cstr(&pk, "id");
    msgpack_pack_bin(&pk, MEP_ID_LEN);
    msgpack_pack_bin_body(&pk, id, MEP_ID_LEN);
    pack_cstr(&pk, "seq");
    msgpack_pack_uint64(&pk, seq);
    pack_cstr(&pk, "dup");
    if (dup)
        msgpack_pack_true(&pk);
    else
        msgpack_pack_false(&pk);
}

void
mep_pack_nack(msgpack_sbuffer *out, const uint8_t *id, enum mep_code code, const char *reason)
{
    msgpack_packer pk;
    const char *name = mep_code_name(code);

    if (reason == NULL)
        reason = "";
    msgpack_sbuffer_clear(out);
    msgpack_packer_init(&pk, out, pack_sbuffer_write);
    msgpack_pack_map(&pk, 4);
    pack_cstr(&pk, "id");
    if (id) {
        msgpack_pack_bin(&pk, MEP_ID_LEN);
        msgpack_pack_bin_body(&pk, id, MEP_ID_LEN);
    } else {
        msgpack_pack_nil(&pk);
    }
    pack_cstr(&pk, "code");
    pack_cstr(&pk, name);
    pack_cstr(&pk, "reason");
    pack_strn(&pk, reason, text_utf8_prefix(reason, strlen(reason), MEP_REASON_MAX));
    pack_cstr(&pk, "retry");
    if (mep_code_retry(code))
        msgpack_pack_true(&pk);
    else
        msgpack_pack_false(&pk);
}

void
mep_pack_pong(msgpack_sbuffer *out)
{
    msgpack_packer pk;

    msgpack_sbuffer_clear(out);
    msgpack_packer_init(&pk, out, pack_sbuffer_write);
    msgpack_pack_map(&pk, 0);
}

/*
 * Fills r from the reply map. Unknown keys are skipped so that a newer broker
 * may add fields; a known key twice, or of the wrong type, is a fault.
 */
static int
s_reply_fields(const msgpack_object *map, bool is_ack, struct mep_reply *r)
{
    enum { F_ID, F_SEQ, F_DUP, F_CODE, F_REASON, F_RETRY, F_COUNT };
    static const char *const names[F_COUNT] = {"id", "seq", "dup", "code", "reason", "retry"};
    const msgpack_object *f[F_COUNT] = {NULL};
    const unsigned need = is_ack ? (1u << F_ID | 1u << F_SEQ | 1u << F_DUP)
                                 : (1u << F_ID | 1u << F_CODE | 1u << F_REASON | 1u << F_RETRY);

    if (map->type != MSGPACK_OBJECT_MAP)
        return -EBADMSG;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];

        if (kv->key.type != MSGPACK_OBJECT_STR)
            return -EBADMSG;
        for (unsigned k = 0; k < F_COUNT; k++) {
            if (!pack_str_is(&kv->key, names[k]))
                continue;
            if (f[k])
                return -EBADMSG;
            f[k] = &kv->val;
        }
    }
    for (unsigned k = 0; k < F_COUNT; k++) {
        if ((need & (1u << k)) && !f[k])
            return -EBADMSG;
    }

    memset(r, 0, sizeof(*r));
    r->is_ack = is_ack;
    if (f[F_ID]->type == MSGPACK_OBJECT_BIN && f[F_ID]->via.bin.size == MEP_ID_LEN) {
        r->has_id = true;
        memcpy(r->id, f[F_ID]->via.bin.ptr, MEP_ID_LEN);
    } else if (!(f[F_ID]->type == MSGPACK_OBJECT_NIL && !is_ack)) {
        return -EBADMSG; /* only a NACK may lack the id */
    }

    if (is_ack) {
        if (f[F_SEQ]->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
            f[F_DUP]->type != MSGPACK_OBJECT_BOOLEAN)
            return -EBADMSG;
        r->seq = f[F_SEQ]->via.u64;
        r->dup = f[F_DUP]->via.boolean;
        return 0;
    }

    if (f[F_CODE]->type != MSGPACK_OBJECT_STR || f[F_REASON]->type != MSGPACK_OBJECT_STR ||
        f[F_RETRY]->type != MSGPACK_OBJECT_BOOLEAN)
        return -EBADMSG;
    if (mep_code_from_name(f[F_CODE]->via.str.ptr, f[F_CODE]->via.str.size, &r->code) < 0 ||
        r->code == MEP_OK)
        return -EBADMSG;
    r->retry = f[F_RETRY]->via.boolean;
    {
        size_t n = f[F_REASON]->via.str.size;

        if (n > MEP_REASON_MAX)
            n = MEP_REASON_MAX;
        memcpy(r->reason, f[F_REASON]->via.str.ptr, n);
        r->reason[n] = '\0';
    }
    return 0;
}

int
mep_reply_decode(const void *buf, size_t len, bool is_ack, struct mep_reply *ret_reply)
{
    static const struct msgpack_scan_limits limits = {S_REPLY_MAX_DEPTH, S_REPLY_MAX_BYTES};
    msgpack_unpacked up;
    struct mep_reply r;
    size_t off = 0;
    int rc = -EBADMSG;

    if (len > S_REPLY_MAX_BYTES || msgpack_scan(buf, len, &limits, NULL) != MSGPACK_SCAN_OK)
        return -EBADMSG;
    msgpack_unpacked_init(&up);
    if (msgpack_unpack_next(&up, buf, len, &off) == MSGPACK_UNPACK_SUCCESS && off == len)
        rc = s_reply_fields(&up.data, is_ack, &r);
    msgpack_unpacked_destroy(&up);
    if (rc == 0)
        *ret_reply = r;
    return rc;
}
