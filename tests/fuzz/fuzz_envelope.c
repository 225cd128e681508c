/*
 * fuzz_envelope: feeds arbitrary bytes to every decoder of outside input in
 * proto/ (msgpack_scan, envelope_decode, mep_reply_decode). What decodes must
 * re-encode and decode to the same envelope; nothing may crash, leak or trip
 * a sanitizer. Built as a libFuzzer target or linked with replay_main.c.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/envelope.h"
#include "proto/mep.h"
#include "proto/msgpack_scan.h"

/* assert() vanishes under NDEBUG; a fuzz oracle must not. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
s_write(void *buf, const char *bytes, size_t len)
{
    return msgpack_sbuffer_write(buf, bytes, len);
}

/* Re-encodes a decoded envelope and checks that it decodes to the same fields. */
static void
s_round_trip(const struct envelope *env)
{
    msgpack_sbuffer data, out;
    msgpack_packer pk;
    struct envelope_fields f;
    struct envelope again;
    struct envelope_error err;

    msgpack_sbuffer_init(&data);
    msgpack_packer_init(&pk, &data, s_write);
    msgpack_pack_object(&pk, *env->data);

    memset(&f, 0, sizeof(f));
    f.id = env->id;
    f.type = env->type;
    f.source = env->source;
    f.time_ms = env->time_ms;
    f.corr = env->has_corr ? env->corr : NULL;
    f.subject = env->has_subject ? env->subject : NULL;
    f.data = data.data;
    f.data_len = data.size;
    msgpack_sbuffer_init(&out);
    envelope_encode(&f, &out);

    /* msgpack-c packs minimally, so the re-encoding is never longer. */
    CHECK(envelope_decode(out.data, out.size, NULL, &again, &err) == 0);
    CHECK(memcmp(again.id, env->id, ENVELOPE_ID_LEN) == 0);
    CHECK(strcmp(again.type, env->type) == 0);
    CHECK(strcmp(again.source, env->source) == 0);
    CHECK(again.time_ms == env->time_ms);
    CHECK(again.has_corr == env->has_corr);
    CHECK(!env->has_corr || memcmp(again.corr, env->corr, ENVELOPE_ID_LEN) == 0);
    CHECK(again.has_subject == env->has_subject);
    CHECK(!env->has_subject || strcmp(again.subject, env->subject) == 0);
    CHECK(again.data->type == MSGPACK_OBJECT_MAP);
    CHECK(again.data->via.map.size == env->data->via.map.size);
    envelope_release(&again);
    msgpack_sbuffer_destroy(&out);
    msgpack_sbuffer_destroy(&data);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct msgpack_scan_limits tight = {2, 8};
    static const struct msgpack_scan_limits loose = {MSGPACK_SCAN_DEPTH_CAP, SIZE_MAX};
    struct envelope env;
    struct envelope_error err;
    struct mep_reply reply;
    size_t off = 0;
    int rc;

    /* The scanner never reports a fault past the end, and OK means OK at any looser limit. */
    if (msgpack_scan(data, size, &tight, &off) == MSGPACK_SCAN_OK)
        CHECK(msgpack_scan(data, size, &loose, NULL) == MSGPACK_SCAN_OK);
    else
        CHECK(off <= size);

    rc = envelope_decode(data, size, &envelope_default_limits, &env, &err);
    if (rc == 0) {
        CHECK(env.v == ENVELOPE_VERSION);
        CHECK(envelope_type_name_valid(env.type, strlen(env.type)));
        CHECK(envelope_source_name_valid(env.source, strlen(env.source)));
        CHECK(env.data && env.data->type == MSGPACK_OBJECT_MAP);
        s_round_trip(&env);
        envelope_release(&env);
        envelope_release(&env);
    } else {
        CHECK(rc == -EBADMSG);
        CHECK(err.code > MEP_OK && err.code < MEP_CODE_COUNT);
        CHECK(err.reason[0] != '\0');
        CHECK(strlen(err.reason) <= MEP_REASON_MAX);
        CHECK(env.data == NULL);
    }

    if (mep_reply_decode(data, size, true, &reply) == 0)
        CHECK(reply.is_ack && reply.has_id);
    if (mep_reply_decode(data, size, false, &reply) == 0)
        CHECK(!reply.is_ack && reply.code > MEP_OK && reply.code < MEP_CODE_COUNT);
    return 0;
}
