/*
 * admission: the one check of every event entering the log, for each
 * origin, against the shipped config and catalogue and a real audit log
 * (for the case a corr names). Every refusal names its code and the field;
 * what is admitted says where it goes.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "config/config.h"
#include "config/embedded.h"
#include "daemon/admission.h"
#include "proto/pack.h"
#include "tests/unit/unit_log.h"
#include "tests/support/daemon_harness.h"
#include "tests/support/sample_data.h"

static char s_dir[256];
static struct audit_log *s_log;
static struct mandated_config *s_cfg;

static void
s_setup(void)
{
    cr_assert_eq(harness_mkdtemp(s_dir, sizeof s_dir, "admission"), 0);
    s_log = unit_log_open(s_dir, 1 << 20, 1 << 24);
    cr_assert_eq(config_load_string(embedded_config.text, embedded_config.name, &s_cfg, NULL), 0);
}

static void
s_teardown(void)
{
    audit_log_destroy(&s_log);
    config_destroy(&s_cfg);
    harness_rm_rf(s_dir);
}

TestSuite(admission, .init = s_setup, .fini = s_teardown);

static const uint8_t s_id[16] = {1, 2, 3};

/* Decodes an envelope of type from source with data (a packed map) and corr. */
static void
s_envelope(struct envelope *env, const char *type, const char *source, const void *data,
           size_t data_len, const uint8_t *corr)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    const struct envelope_fields f = {.id = s_id,
                                      .type = type,
                                      .source = source,
                                      .time_ms = 1798772400000,
                                      .corr = corr,
                                      .data = data,
                                      .data_len = data_len};
    envelope_encode(&f, &sb);
    struct envelope_error err;
    cr_assert_eq(envelope_decode(sb.data, sb.size, &envelope_default_limits, env, &err), 0, "%s",
                 err.reason);
    msgpack_sbuffer_destroy(&sb);
}

/* The internal types have no published sample: their data, as the broker
 * and the cyber worker write it (without_key left out). */
static void
s_internal_data(const char *type, const char *without_key, msgpack_sbuffer *out)
{
    static const char *const deadline_keys[] = {"event_seq", "event_type", "deadline", "due",
                                                "rule",      "basis",      NULL};
    static const char *const incident_keys[] = {"incident_id", "asset",  "priority",
                                                "first_seen",  "alerts", NULL};
    const char *const *keys =
        strcmp(type, "cyber.incident_opened") == 0 ? incident_keys : deadline_keys;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, pack_sbuffer_write);
    uint32_t n = 0;
    for (size_t i = 0; keys[i]; i++)
        n += !without_key || strcmp(keys[i], without_key) != 0;
    msgpack_pack_map(&pk, n);
    for (size_t i = 0; keys[i]; i++) {
        if (without_key && strcmp(keys[i], without_key) == 0)
            continue;
        pack_cstr(&pk, keys[i]);
        const char *k = keys[i];
        if (!strcmp(k, "event_seq") || !strcmp(k, "due") || !strcmp(k, "first_seen") ||
            !strcmp(k, "alerts"))
            msgpack_pack_uint64(&pk, 1798772400000);
        else if (!strcmp(k, "priority"))
            pack_cstr(&pk, "P2");
        else
            pack_cstr(&pk, "x");
    }
}

/* An envelope of type with its sample data (without_key left out). */
static void
s_sample(struct envelope *env, const char *type, const char *source, const char *without_key,
         const uint8_t *corr)
{
    msgpack_sbuffer data;
    msgpack_sbuffer_init(&data);
    if (strncmp(type, "deadline.", 9) == 0 || strcmp(type, "cyber.incident_opened") == 0)
        s_internal_data(type, without_key, &data);
    else
        cr_assert_eq(sample_data_pack(type, without_key, -1, &data), 0, "no sample for %s", type);
    s_envelope(env, type, source, data.data, data.size, corr);
    msgpack_sbuffer_destroy(&data);
}

static struct admission_verdict
s_check(enum admission_origin origin, struct envelope *env, const char *origin_area, bool expect)
{
    struct admission_verdict v;
    const struct area_conf *area = origin_area ? config_area(s_cfg, origin_area) : NULL;
    bool ok = admission_check(s_cfg, s_log, origin, env, area, &v);
    cr_assert_eq(ok, expect, "%s: %s", env->type, v.reason);
    cr_assert_eq(v.code == MEP_OK, expect);
    envelope_release(env);
    return v;
}

Test(admission, a_published_event_goes_to_its_types_area)
{
    struct envelope env;
    s_sample(&env, "press.conference_notice", "so-van-hoa", NULL, NULL);
    struct admission_verdict v = s_check(ADMISSION_PUBLISHED, &env, NULL, true);
    cr_expect_str_eq(v.area->name, "press");
    cr_expect_str_eq(v.type->name, "press.conference_notice");
    cr_expect_null(v.source, "no [source so-van-hoa] section");
}

Test(admission, published_refusals_name_the_field)
{
    struct envelope env;
    struct admission_verdict v;

    s_sample(&env, "press.conference_notice", "area:press", NULL, NULL);
    v = s_check(ADMISSION_PUBLISHED, &env, NULL, false);
    cr_expect_eq(v.code, MEP_FORBIDDEN);
    cr_expect(strstr(v.reason, "field 'source'"), "%s", v.reason);

    uint8_t empty_map[] = {0x80};
    s_envelope(&env, "press.press_card_request", "agency", empty_map, 1, NULL);
    v = s_check(ADMISSION_PUBLISHED, &env, NULL, false);
    cr_expect_eq(v.code, MEP_UNKNOWN_TYPE);
    cr_expect(strstr(v.reason, "is not in the catalogue"), "%s", v.reason);

    s_sample(&env, "deadline.breached", "agency", NULL, NULL);
    v = s_check(ADMISSION_PUBLISHED, &env, NULL, false);
    cr_expect_eq(v.code, MEP_FORBIDDEN);
    cr_expect(strstr(v.reason, "workers and the broker only"), "%s", v.reason);

    /* [source soc] allows cyber.* only. */
    s_sample(&env, "press.conference_notice", "soc", NULL, NULL);
    v = s_check(ADMISSION_PUBLISHED, &env, NULL, false);
    cr_expect_eq(v.code, MEP_FORBIDDEN);
    cr_expect(strstr(v.reason, "source 'soc' may not publish"), "%s", v.reason);

    s_sample(&env, "press.conference_notice", "agency", "venue", NULL);
    v = s_check(ADMISSION_PUBLISHED, &env, NULL, false);
    cr_expect_eq(v.code, MEP_INVALID_DATA);
    cr_expect(strstr(v.reason, "field 'data.venue'"), "%s", v.reason);
}

Test(admission, a_decision_goes_where_its_case_is)
{
    struct envelope env;
    struct admission_verdict v;

    s_sample(&env, "case.decision", "agency", NULL, NULL);
    v = s_check(ADMISSION_PUBLISHED, &env, NULL, false);
    cr_expect_eq(v.code, MEP_INVALID_DATA);
    cr_expect(strstr(v.reason, "field 'corr': missing"), "%s", v.reason);

    uint8_t case_id[16] = {9, 9, 9};
    s_sample(&env, "case.decision", "agency", NULL, case_id);
    v = s_check(ADMISSION_PUBLISHED, &env, NULL, false);
    cr_expect(strstr(v.reason, "names no accepted event"), "%s", v.reason);

    /* The case is in the log, in area ads: the decision goes there. */
    uint64_t seq;
    const char body[] = "\x80";
    const struct audit_accepted a = {.id = case_id, .area = "ads", .event = body, .event_len = 1};
    cr_assert_eq(audit_log_begin(s_log), 0);
    cr_assert_eq(audit_log_claim_id(s_log, case_id, &seq), 0);
    cr_assert_eq(audit_log_append_accepted(s_log, &a, &seq), 0);
    cr_assert_eq(audit_log_commit(s_log), 0);
    s_sample(&env, "case.decision", "agency", NULL, case_id);
    v = s_check(ADMISSION_PUBLISHED, &env, NULL, true);
    cr_expect_str_eq(v.area->name, "ads");
}

Test(admission, follow_ups_may_be_internal_and_stay_with_their_case)
{
    struct envelope env;
    struct admission_verdict v;

    s_sample(&env, "cyber.incident_opened", "area:cyber", NULL, NULL);
    v = s_check(ADMISSION_FOLLOW_UP, &env, "cyber", true);
    cr_expect_str_eq(v.area->name, "cyber");

    /* No corr needed: a decision a worker emits is about its own case. */
    s_sample(&env, "case.decision", "area:press", NULL, NULL);
    v = s_check(ADMISSION_FOLLOW_UP, &env, "press", true);
    cr_expect_str_eq(v.area->name, "press");

    uint8_t empty_map[] = {0x80};
    s_envelope(&env, "nowhere.at_all", "area:press", empty_map, 1, NULL);
    v = s_check(ADMISSION_FOLLOW_UP, &env, "press", false);
    cr_expect_eq(v.code, MEP_UNKNOWN_TYPE);
    cr_expect(strstr(v.reason, "field 'type'"), "%s", v.reason);

    s_sample(&env, "press.conference_notice", "area:press", "venue", NULL);
    v = s_check(ADMISSION_FOLLOW_UP, &env, "press", false);
    cr_expect_eq(v.code, MEP_INVALID_DATA);
    cr_expect(strstr(v.reason, "field 'data.venue'"), "%s", v.reason);
}

Test(admission, the_brokers_events_go_where_the_broker_says_and_still_fit_the_catalogue)
{
    struct envelope env;
    struct admission_verdict v;

    s_sample(&env, "deadline.breached", "broker", NULL, NULL);
    v = s_check(ADMISSION_BROKER, &env, "ads", true);
    cr_expect_str_eq(v.area->name, "ads");

    s_sample(&env, "deadline.breached", "broker", "deadline", NULL);
    v = s_check(ADMISSION_BROKER, &env, "ads", false);
    cr_expect_eq(v.code, MEP_INVALID_DATA);
    cr_expect(strstr(v.reason, "field 'data.deadline'"), "%s", v.reason);
}
