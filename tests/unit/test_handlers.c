/*
 * test_handlers: the worker's handler table covers every area of the
 * shipped config; the generic handler's result and its failure on an event
 * that is not an envelope; the outcome helpers (note cut on a character,
 * emit growth, reset).
 */
#include <criterion/criterion.h>

#include <string.h>

#include "config/config.h"
#include "config/embedded.h"
#include "workers/handlers.h"

static struct mandated_config *
s_default_config(void)
{
    struct mandated_config *cfg = NULL;
    struct config_error err;

    cr_assert_eq(config_load_string(embedded_config.text, embedded_config.name, &cfg, &err), 0,
                 "%s", err.message);
    return cfg;
}

static const msgpack_object *
s_get(const msgpack_object *map, const char *key)
{
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];

        if (kv->key.via.str.size == strlen(key) &&
            memcmp(kv->key.via.str.ptr, key, kv->key.via.str.size) == 0)
            return &kv->val;
    }
    return NULL;
}

Test(handlers, every_shipped_area_has_a_handler)
{
    struct mandated_config *cfg = s_default_config();

    cr_assert_gt(cfg->nareas, 0);
    for (size_t i = 0; i < cfg->nareas; i++)
        cr_assert_not_null(handler_lookup(cfg->areas[i].name), "%s", cfg->areas[i].name);
    cr_assert_null(handler_lookup("nope"));
    cr_assert_null(handler_lookup(""));
    config_destroy(&cfg);
}

Test(handlers, generic_done_with_result)
{
    struct mandated_config *cfg = s_default_config();
    const struct area_conf *area = config_area(cfg, "cyber");
    struct envelope env;
    struct handler_outcome out;
    msgpack_unpacked up;
    size_t off = 0;

    memset(&env, 0, sizeof(env));
    strcpy(env.type, "cyber.soc_alert");
    const struct handler_request req = {
        .seq = 9, .attempt = 1, .area = "cyber", .env = &env, .cfg = cfg, .area_conf = area};

    handler_outcome_init(&out);
    cr_assert_eq(handler_generic(&req, &out), 0);
    cr_assert_eq(out.status, MDP_STATUS_DONE);
    cr_assert_str_eq(out.note, "recorded");
    cr_assert_eq(out.nemit, 0);
    msgpack_unpacked_init(&up);
    cr_assert_eq(msgpack_unpack_next(&up, out.result.data, out.result.size, &off),
                 MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(off, out.result.size);
    cr_assert_eq(up.data.type, MSGPACK_OBJECT_MAP);
    cr_assert_eq(up.data.via.map.size, 10);
    cr_assert_eq(memcmp(s_get(&up.data, "outcome")->via.str.ptr, "recorded", 8), 0);
    cr_assert_eq(s_get(&up.data, "area")->via.str.size, 5);
    cr_assert_eq(s_get(&up.data, "unit")->via.str.size, strlen(area->unit));
    cr_assert_eq(memcmp(s_get(&up.data, "type")->via.str.ptr, "cyber.soc_alert", 15), 0);
    cr_assert_eq(s_get(&up.data, "handled_at")->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    msgpack_unpacked_destroy(&up);
    handler_outcome_destroy(&out);
    config_destroy(&cfg);
}

Test(handlers, generic_fails_with_the_decode_reason)
{
    struct mandated_config *cfg = s_default_config();
    struct envelope_error err = {.code = MEP_BAD_ENVELOPE};
    struct handler_outcome out;

    strcpy(err.reason, "field 'id': missing");
    const struct handler_request req = {.seq = 9,
                                        .area = "press",
                                        .env_err = &err,
                                        .cfg = cfg,
                                        .area_conf = config_area(cfg, "press")};

    handler_outcome_init(&out);
    cr_assert_eq(handler_generic(&req, &out), 0);
    cr_assert_eq(out.status, MDP_STATUS_FAILED);
    cr_assert_str_eq(out.note, "field 'id': missing");
    cr_assert_eq(out.result.size, 0, "no result");
    handler_outcome_destroy(&out);
    config_destroy(&cfg);
}

Test(handlers, note_is_cut_on_a_character)
{
    char long_note[MDP_NOTE_MAX + 40];
    struct handler_outcome out;

    memset(long_note, 'x', sizeof(long_note));
    memcpy(long_note + MDP_NOTE_MAX - 1, "\xe1\xba\xa3", 3); /* ả across the cut */
    long_note[sizeof(long_note) - 1] = '\0';
    handler_outcome_init(&out);
    handler_outcome_note(&out, "%s", long_note);
    cr_assert_eq(strlen(out.note), MDP_NOTE_MAX - 1);
    handler_outcome_note(&out, "short %d", 5);
    cr_assert_str_eq(out.note, "short 5");
    handler_outcome_destroy(&out);
}

Test(handlers, emit_grows_and_reset_keeps_buffers)
{
    static const uint8_t id[16] = {1};
    const struct envelope_fields f = {.id = id,
                                      .type = "press.bulletin_licence_application",
                                      .source = "area:press",
                                      .time_ms = 1,
                                      .data = "\x80",
                                      .data_len = 1};
    struct handler_outcome out;

    handler_outcome_init(&out);
    for (int i = 0; i < 9; i++)
        handler_outcome_emit(&out, &f);
    cr_assert_eq(out.nemit, 9);
    for (int i = 0; i < 9; i++) {
        struct envelope env;
        struct envelope_error err;

        cr_assert_eq(envelope_decode(out.emit[i].data, out.emit[i].size, &envelope_default_limits,
                                     &env, &err),
                     0, "%s", err.reason);
        cr_assert_str_eq(env.source, "area:press");
        envelope_release(&env);
    }
    out.status = MDP_STATUS_RETRY;
    handler_outcome_note(&out, "x");
    handler_outcome_reset(&out);
    cr_assert_eq(out.status, MDP_STATUS_DONE);
    cr_assert_str_eq(out.note, "");
    cr_assert_eq(out.nemit, 0);
    cr_assert_geq(out.emit_cap, 9);
    handler_outcome_emit(&out, &f);
    cr_assert_eq(out.nemit, 1);
    cr_assert_gt(out.emit[0].size, 0);
    handler_outcome_destroy(&out);
}
