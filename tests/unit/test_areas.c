/*
 * test_areas: the area handlers' rules on the shipped catalogue and
 * calendars. For every publishable type a valid event gets its area's
 * handler, its unit and the due time of its rule; each rule that can refuse
 * or flag is exercised both ways. Times are Vietnam's (UTC+7).
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/embedded.h"
#include "proto/pack.h"
#include "tests/support/daemon_harness.h"
#include "tests/support/sample_data.h"
#include "tools/json_msgpack.h"
#include "workers/handlers.h"

static struct mandated_config *s_cfg;
static char s_state[256];
/* Each handler's state (its table entry's open hook), by table index, kept
 * for the whole test as a worker keeps it while it runs. */
static void *s_handler_state[32];

/* The shipped config with its state directory (the cyber worker's incident
 * store) in a fresh temporary directory, and every handler's state open. */
static void
s_setup(void)
{
    struct config_error err;
    cr_assert_eq(config_load_string(embedded_config.text, embedded_config.name, &s_cfg, &err), 0,
                 "%s", err.message);
    cr_assert_eq(harness_mkdtemp(s_state, sizeof s_state, "areas"), 0);
    free(s_cfg->broker.state_dir);
    s_cfg->broker.state_dir = strdup(s_state);
    for (size_t i = 0; handler_table[i].area; i++) {
        cr_assert_lt(i, sizeof s_handler_state / sizeof *s_handler_state);
        if (handler_table[i].open)
            cr_assert_eq(handler_table[i].open(s_cfg, &s_handler_state[i]), 0, "%s",
                         handler_table[i].area);
    }
}

static void
s_teardown(void)
{
    for (size_t i = 0; handler_table[i].area; i++) {
        if (handler_table[i].close) {
            handler_table[i].close(&s_handler_state[i]);
            cr_assert_null(s_handler_state[i], "%s", handler_table[i].area);
        }
    }
    config_destroy(&s_cfg);
    harness_rm_rf(s_state);
}

/* y-m-d hh:mm in Vietnam's time as unix ms. */
static int64_t
s_at(int y, int m, int d, int hh, int mm)
{
    return calendar_day_start_ms(calendar_day_of_date(y, m, d)) + ((int64_t)hh * 60 + mm) * 60000;
}

struct run {
    char area[64];
    char unit[128];
    char outcome[64];
    char note[MDP_NOTE_MAX + 1];
    bool calendar_missing;
    json_t *result; /* the whole result, as JSON for easy reading */
    size_t nemit;
    char emitted[8][ENVELOPE_TYPE_MAX + 1]; /* the types of the events it emitted */
    char emitted_id[8][33];
};

static uint64_t s_next_seq = 100;

/*
 * Runs type's sample data, with the keys of overrides (a JSON object, may
 * be NULL) set over it and without_key removed, received at time_ms,
 * through the handler of the area the shipped config routes it to.
 */
static void s_run_seq(struct run *run, const char *type, const char *overrides,
                      const char *without_key, int64_t time_ms, uint64_t seq);

static void
s_run(struct run *run, const char *type, const char *overrides, const char *without_key,
      int64_t time_ms)
{
    s_run_seq(run, type, overrides, without_key, time_ms, s_next_seq++);
}

/* The same as the event of that seq (its id derives from it): a redelivery. */
static void
s_run_seq(struct run *run, const char *type, const char *overrides, const char *without_key,
          int64_t time_ms, uint64_t seq)
{
    json_error_t jerr;
    json_t *data = json_loads(sample_data_json(type), 0, &jerr);
    cr_assert_not_null(data, "%s: %s", type, jerr.text);
    if (overrides) {
        json_t *o = json_loads(overrides, 0, &jerr);
        cr_assert_not_null(o, "overrides: %s", jerr.text);
        json_object_update(data, o);
        json_decref(o);
    }
    if (without_key)
        json_object_del(data, without_key);

    msgpack_sbuffer packed, envbuf;
    msgpack_packer pk;
    char err[128];
    msgpack_sbuffer_init(&packed);
    msgpack_sbuffer_init(&envbuf);
    msgpack_packer_init(&pk, &packed, pack_sbuffer_write);
    cr_assert_eq(json_msgpack_pack(&pk, data, 16, err, sizeof err), 0, "%s", err);
    json_decref(data);
    uint8_t id[16] = {0};
    memcpy(id, &seq, sizeof seq);
    struct envelope_fields f = {.id = id,
                                .type = type,
                                .source = "test",
                                .time_ms = (uint64_t)time_ms,
                                .data = packed.data,
                                .data_len = packed.size};
    envelope_encode(&f, &envbuf);
    struct envelope env;
    struct envelope_error eerr;
    cr_assert_eq(envelope_decode(envbuf.data, envbuf.size, &envelope_default_limits, &env, &eerr),
                 0, "%s", eerr.reason);

    const struct catalogue_type *t = config_type(s_cfg, type);
    cr_assert_not_null(t);
    char reason[300];
    cr_assert_eq(catalogue_check_data(t, env.data, reason, sizeof reason), 0, "%s", reason);
    const struct area_conf *area = config_area_for_type(s_cfg, type);
    cr_assert_not_null(area, "%s is not routed", type);
    const struct handler_entry *handler = handler_lookup(area->name);
    cr_assert_not_null(handler);
    struct handler_outcome out;
    handler_outcome_init(&out);
    const struct handler_request req = {.seq = seq,
                                        .attempt = 1,
                                        .area = area->name,
                                        .env = &env,
                                        .cfg = s_cfg,
                                        .area_conf = area,
                                        .state = s_handler_state[handler - handler_table]};
    cr_assert_eq(handler->handle(&req, &out), 0);
    cr_assert_eq(out.status, MDP_STATUS_DONE, "%s: %s", type, out.note);
    snprintf(run->note, sizeof run->note, "%s", out.note);
    run->nemit = out.nemit < 8 ? out.nemit : 8;
    for (size_t i = 0; i < run->nemit; i++) {
        struct envelope e;
        cr_assert_eq(envelope_decode(out.emit[i].data, out.emit[i].size, &envelope_default_limits,
                                     &e, &eerr),
                     0, "emitted: %s", eerr.reason);
        const struct catalogue_type *et = config_type(s_cfg, e.type);
        cr_assert_not_null(et, "emitted %s", e.type);
        cr_assert_eq(catalogue_check_data(et, e.data, reason, sizeof reason), 0, "emitted: %s",
                     reason);
        snprintf(run->emitted[i], sizeof run->emitted[i], "%s", e.type);
        for (int b = 0; b < 16; b++)
            snprintf(run->emitted_id[i] + 2 * b, 3, "%02x", e.id[b]);
        envelope_release(&e);
    }

    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    cr_assert_eq(msgpack_unpack_next(&up, out.result.data, out.result.size, NULL),
                 MSGPACK_UNPACK_SUCCESS);
    run->result = json_msgpack_to_json(&up.data);
    cr_assert_not_null(run->result);
    msgpack_unpacked_destroy(&up);
    snprintf(run->area, sizeof run->area, "%s",
             json_string_value(json_object_get(run->result, "area")));
    snprintf(run->unit, sizeof run->unit, "%s",
             json_string_value(json_object_get(run->result, "unit")));
    snprintf(run->outcome, sizeof run->outcome, "%s",
             json_string_value(json_object_get(run->result, "outcome")));
    run->calendar_missing = json_is_true(json_object_get(run->result, "calendar_missing"));
    cr_assert_str_eq(json_string_value(json_object_get(run->result, "type")), type);

    handler_outcome_destroy(&out);
    envelope_release(&env);
    msgpack_sbuffer_destroy(&packed);
    msgpack_sbuffer_destroy(&envbuf);
}

static void
s_done(struct run *run)
{
    json_decref(run->result);
}

/* The entry of the result's list (deadlines, findings) whose key is value, or NULL. */
static json_t *
s_entry(const struct run *run, const char *list, const char *key, const char *value)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(run->result, list), i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, key)), value) == 0)
            return e;
    }
    return NULL;
}

static json_t *
s_deadline(const struct run *run, const char *name)
{
    return s_entry(run, "deadlines", "name", name);
}

static bool
s_has_finding(const struct run *run, const char *code)
{
    return s_entry(run, "findings", "code", code) != NULL;
}

static void
s_expect_due(const struct run *run, const char *name, const char *due_text, bool track)
{
    json_t *d = s_deadline(run, name);
    cr_assert_not_null(d, "no deadline %s in %s", name, json_dumps(run->result, 0));
    cr_expect_str_eq(json_string_value(json_object_get(d, "due_text")), due_text, "%s", name);
    cr_expect_eq(json_is_true(json_object_get(d, "track")), track, "%s track", name);
    cr_expect(json_string_value(json_object_get(d, "rule"))[0], "%s has a rule", name);
    cr_expect(json_string_value(json_object_get(d, "basis"))[0], "%s has a basis", name);
}

TestSuite(areas, .init = s_setup, .fini = s_teardown);

/* Every publishable type reaches its area's own handler, with its unit. */
Test(areas, every_type_gets_area_and_unit)
{
    size_t n = 0;
    for (const struct sample_data *s = sample_data; s->type; s++) {
        if (strcmp(s->type, "case.decision") == 0)
            continue; /* goes where its case is: see test_ingest */
        struct run run;
        s_run(&run, s->type, NULL, NULL, s_at(2026, 6, 1, 10, 0));
        const struct area_conf *a = config_area_for_type(s_cfg, s->type);
        cr_expect_str_eq(run.area, a->name, "%s", s->type);
        /* The SOC lane's alerts go to the area's triage unit. */
        const char *unit = strcmp(s->type, "cyber.soc_alert") == 0 ? a->triage_unit : a->unit;
        cr_expect_str_eq(run.unit, unit, "%s", s->type);
        cr_expect_str_neq(run.outcome, "", "%s", s->type);
        cr_expect(json_string_value(json_object_get(run.result, "basis"))[0], "%s", s->type);
        s_done(&run);
        n++;
    }
    cr_expect_geq(n, 24);
}

Test(areas, press_notice_24_hours)
{
    struct run run;
    const char *start = "{\"start_time\": 1781056800000}"; /* 2026-06-10 09:00 +07:00 */
    cr_assert_eq(s_at(2026, 6, 10, 9, 0), 1781056800000);
    s_run(&run, "press.conference_notice", start, NULL, s_at(2026, 6, 8, 10, 0));
    cr_expect_str_eq(run.unit, "Phòng Thông tin - Báo chí - Xuất bản");
    cr_expect_str_eq(run.outcome, "notice_accepted");
    s_expect_due(&run, "notice", "2026-06-09 09:00 +07:00", false);
    s_done(&run);
    s_run(&run, "press.conference_notice", start, NULL, s_at(2026, 6, 9, 9, 1));
    cr_expect_str_eq(run.outcome, "late_notice");
    cr_expect(s_has_finding(&run, "late_notice"));
    cr_expect(strstr(run.note, "late_notice: received 2026-06-09 09:01"), "%s", run.note);
    s_done(&run);
}

Test(areas, press_notice_foreign_2_working_days)
{
    struct run run;
    /* Thursday 2026-06-11 09:00: Tuesday and Wednesday must lie between. */
    const char *start = "{\"start_time\": 1781143200000, \"organiser_kind\": \"foreign\"}";
    cr_assert_eq(s_at(2026, 6, 11, 9, 0), 1781143200000);
    s_run(&run, "press.conference_notice", start, NULL, s_at(2026, 6, 8, 23, 0));
    cr_expect_str_eq(run.outcome, "notice_accepted");
    s_expect_due(&run, "notice_foreign", "2026-06-08 24:00 +07:00", false);
    s_done(&run);
    s_run(&run, "press.conference_notice", start, NULL, s_at(2026, 6, 9, 8, 0));
    cr_expect_str_eq(run.outcome, "late_notice");
    s_done(&run);
    /* v2 follows the same rules. */
    s_run(&run, "press.conference_notice.v2", "{\"start_time\": 1781143200000}", NULL,
          s_at(2026, 6, 9, 8, 0));
    cr_expect_str_eq(run.outcome, "late_notice");
    json_t *version = json_object_get(run.result, "version");
    cr_expect_eq(json_integer_value(version), 2);
    s_done(&run);
}

Test(areas, bulletin_limits_and_20_days)
{
    struct run run;
    s_run(&run, "press.bulletin_licence_application", NULL, NULL, s_at(2026, 6, 1, 10, 0));
    cr_expect_str_eq(run.outcome, "under_review");
    /* 20 days end on Sunday 21 June: Monday. */
    s_expect_due(&run, "decide", "2026-06-22 24:00 +07:00", true);
    json_t *closed = json_object_get(s_deadline(&run, "decide"), "closed_by");
    cr_expect_str_eq(json_string_value(json_array_get(closed, 0)), "case.decision");
    s_done(&run);
    s_run(&run, "press.bulletin_licence_application", "{\"size_cm\": \"20x27\", \"pages\": 80}",
          NULL, s_at(2026, 6, 1, 10, 0));
    cr_expect_str_eq(run.outcome, "refused");
    cr_expect(s_has_finding(&run, "size_over_limit"));
    cr_expect(s_has_finding(&run, "pages_over_limit"));
    s_expect_due(&run, "decide", "2026-06-22 24:00 +07:00", true);
    s_done(&run);
    s_run(&run, "press.bulletin_licence_application", "{\"size_cm\": \"27 × 19\"}", NULL,
          s_at(2026, 6, 1, 10, 0));
    cr_expect_str_eq(run.outcome, "under_review", "landscape within the limit");
    s_done(&run);
}

Test(areas, publishing_rules)
{
    struct run run;
    /* 10 WD from the Friday before Tết 2026. */
    s_run(&run, "publishing.noncommercial_permit", NULL, NULL, s_at(2026, 2, 13, 10, 0));
    cr_expect_str_eq(run.outcome, "under_review");
    s_expect_due(&run, "decide", "2026-03-06 24:00 +07:00", true);
    s_done(&run);
    s_run(&run, "publishing.noncommercial_permit", "{\"manuscripts\": 1}", NULL,
          s_at(2026, 2, 13, 10, 0));
    cr_expect_str_eq(run.outcome, "incomplete_dossier");
    s_expect_due(&run, "incomplete", "2026-02-24 24:00 +07:00", false);
    s_done(&run);
    /* 15 days ending on 30/4, then 1/5 and a weekend. */
    s_run(&run, "publishing.noncommercial_import", NULL, NULL, s_at(2026, 4, 15, 10, 0));
    s_expect_due(&run, "decide", "2026-05-04 24:00 +07:00", true);
    s_done(&run);
    s_run(&run, "printing.licence_application", "{\"reissue\": true}", NULL,
          s_at(2026, 6, 1, 10, 0));
    s_expect_due(&run, "reissue", "2026-06-10 24:00 +07:00", true);
    cr_expect_null(s_deadline(&run, "decide"));
    s_done(&run);
    s_run(&run, "printing.establishment_registration",
          "{\"change_type\": \"change\", \"changed_on\": \"2026-06-01\"}", NULL,
          s_at(2026, 6, 10, 10, 0));
    cr_expect_str_eq(run.outcome, "late_filing");
    s_expect_due(&run, "change_filing", "2026-06-08 24:00 +07:00", false);
    s_expect_due(&run, "confirm", "2026-06-15 24:00 +07:00", true);
    s_done(&run);
    s_run(&run, "printing.color_copier_registration", NULL, NULL, s_at(2026, 6, 1, 10, 0));
    s_expect_due(&run, "confirm", "2026-06-08 24:00 +07:00", true);
    s_done(&run);
    s_run(&run, "publishing.book_fair_permit",
          "{\"titles\": [\"A\", \"B\", \"A\"], \"start_date\": \"2026-06-05\"}", NULL,
          s_at(2026, 6, 1, 10, 0));
    cr_expect(s_has_finding(&run, "title_repeated"));
    cr_expect(s_has_finding(&run, "starts_before_decision_due"));
    cr_expect_str_eq(run.outcome, "under_review");
    s_done(&run);
    s_run(&run, "publishing.book_fair_permit",
          "{\"start_date\": \"2026-06-20\", \"end_date\": \"2026-06-10\"}", NULL,
          s_at(2026, 6, 1, 10, 0));
    cr_expect_str_eq(run.outcome, "refused");
    cr_expect(s_has_finding(&run, "dates_reversed"));
    s_done(&run);
}

Test(areas, information_rules)
{
    struct run run;
    s_run(&run, "foreign_info.display_request", NULL, NULL, s_at(2026, 6, 1, 10, 0));
    cr_expect(strstr(json_string_value(json_object_get(run.result, "copy_to")), "Ngoại giao"));
    s_expect_due(&run, "decide", "2026-06-15 24:00 +07:00", true);
    s_done(&run);
    s_run(&run, "foreign_info.display_request", "{\"is_diplomatic_mission\": false}", NULL,
          s_at(2026, 6, 1, 10, 0));
    cr_expect_null(json_object_get(run.result, "copy_to"));
    s_done(&run);
    s_run(&run, "grassroots.feedback_item", NULL, NULL, s_at(2026, 6, 1, 10, 0));
    cr_expect(s_has_finding(&run, "no_statutory_deadline"));
    cr_expect_eq(json_array_size(json_object_get(run.result, "deadlines")), 0);
    s_done(&run);
    s_run(&run, "einfo.general_website_licence", NULL, NULL, s_at(2026, 6, 1, 10, 0));
    s_expect_due(&run, "decide", "2026-06-15 24:00 +07:00", true);
    s_done(&run);
}

Test(areas, game_point_distance_and_room_area_by_class)
{
    struct run run;
    s_run(&run, "einfo.game_point_certificate", NULL, NULL, s_at(2026, 6, 1, 10, 0));
    cr_expect_str_eq(run.outcome, "under_review");
    cr_expect_eq(json_real_value(json_object_get(run.result, "valid_years")), 3.0);
    s_done(&run);
    s_run(&run, "einfo.game_point_certificate", "{\"school_distance_m\": 150}", NULL,
          s_at(2026, 6, 1, 10, 0));
    cr_expect_str_eq(run.outcome, "refused");
    cr_expect(s_has_finding(&run, "too_close_to_school"));
    s_done(&run);
    s_run(&run, "einfo.game_point_certificate", "{\"urban_class\": \"II\", \"room_area_m2\": 45}",
          NULL, s_at(2026, 6, 1, 10, 0));
    cr_expect_str_eq(run.outcome, "under_review", "40 m2 in class II");
    s_done(&run);
    s_run(&run, "einfo.game_point_certificate", "{\"urban_class\": \"I\", \"room_area_m2\": 45}",
          NULL, s_at(2026, 6, 1, 10, 0));
    cr_expect_str_eq(run.outcome, "refused", "50 m2 in class I");
    cr_expect(s_has_finding(&run, "room_too_small"));
    s_done(&run);
    s_run(&run, "einfo.game_point_certificate", "{\"room_area_m2\": 45}", "urban_class",
          s_at(2026, 6, 1, 10, 0));
    cr_expect_str_eq(run.outcome, "refused", "the strictest without a class");
    cr_expect(s_has_finding(&run, "urban_class_missing"));
    s_done(&run);
}

Test(areas, takedown_24_hours_tracked)
{
    struct run run;
    const char *req = "{\"request_time\": 1780282800000}"; /* 2026-06-01 10:00 +07:00 */
    cr_assert_eq(s_at(2026, 6, 1, 10, 0), 1780282800000);
    s_run(&run, "ads.online_takedown", req, NULL, s_at(2026, 6, 1, 11, 0));
    cr_expect_str_eq(run.outcome, "takedown_ordered");
    s_expect_due(&run, "removal", "2026-06-02 10:00 +07:00", true);
    cr_expect_not(s_has_finding(&run, "overdue_on_arrival"));
    s_done(&run);
    s_run(&run, "ads.online_takedown", req, NULL, s_at(2026, 6, 3, 9, 0));
    cr_expect(s_has_finding(&run, "overdue_on_arrival"));
    s_done(&run);
}

Test(areas, postal_telecom_rf)
{
    struct run run;
    s_run(&run, "postal.activity_notification", "{\"request\": \"amendment\"}", NULL,
          s_at(2026, 6, 1, 10, 0));
    cr_expect_str_eq(run.unit, "Phòng Bưu chính - Viễn thông");
    s_expect_due(&run, "amendment", "2026-06-15 24:00 +07:00", true);
    s_expect_due(&run, "refusal", "2026-06-08 24:00 +07:00", false);
    cr_expect_null(s_deadline(&run, "confirm"));
    s_done(&run);
    s_run(&run, "postal.licence_application",
          "{\"scope\": \"international\", \"capital_vnd\": 3000000000}", NULL,
          s_at(2026, 6, 1, 10, 0));
    cr_expect_str_eq(run.outcome, "refused");
    cr_expect(s_has_finding(&run, "capital_below_floor"));
    cr_expect(s_has_finding(&run, "no_statutory_deadline"));
    s_done(&run);
    s_run(&run, "postal.licence_application", NULL, NULL, s_at(2026, 6, 1, 10, 0));
    cr_expect_str_eq(run.outcome, "under_review", "3 bn is enough at home");
    cr_expect_eq(json_real_value(json_object_get(run.result, "max_term_years")), 10.0);
    s_done(&run);
    s_run(&run, "telecom.infrastructure_report", NULL, NULL, s_at(2026, 6, 1, 10, 0));
    cr_expect_str_eq(run.outcome, "recorded");
    cr_expect_eq(json_array_size(json_object_get(run.result, "position")), 2);
    s_done(&run);
    s_run(&run, "rf.interference_report", NULL, NULL, s_at(2026, 6, 1, 10, 0));
    cr_expect_str_eq(run.outcome, "forwarded");
    cr_expect(json_string_value(json_object_get(run.result, "forward_to")));
    s_done(&run);
    s_run(&run, "rf.interference_report", "{\"window_end\": 1}", NULL, s_at(2026, 6, 1, 10, 0));
    cr_expect_str_eq(run.outcome, "returned");
    s_done(&run);
}

Test(areas, edoc_checks_return_errors)
{
    struct run run;
    s_run(&run, "dx.edoc_received", NULL, NULL, s_at(2026, 6, 1, 10, 0));
    cr_expect_str_eq(run.outcome, "valid");
    cr_expect_eq(json_array_size(json_object_get(run.result, "errors")), 0);
    s_done(&run);
    s_run(&run, "dx.edoc_received",
          "{\"document_id\": \"0123456789abcdef\", \"to_organ_ids\": [\"000.00.31.H26\", "
          "\"x\", \"x\"], \"promulgation_date\": \"2026-06-02\"}",
          NULL, s_at(2026, 6, 1, 10, 0));
    cr_expect_str_eq(run.outcome, "invalid");
    cr_expect(s_has_finding(&run, "field_too_long"));
    cr_expect(s_has_finding(&run, "sender_is_recipient"));
    cr_expect(s_has_finding(&run, "recipient_repeated"));
    cr_expect(s_has_finding(&run, "promulgated_in_future"));
    cr_expect_eq(json_array_size(json_object_get(run.result, "errors")), 4);
    s_done(&run);
}

Test(areas, complaint_and_denunciation)
{
    struct run run;
    const char *complaint = "{\"received_at\": 1780282800000}"; /* 2026-06-01 10:00 */
    s_run(&run, "inspection.complaint_received", complaint, NULL, s_at(2026, 6, 1, 11, 0));
    cr_expect_str_eq(run.unit, "Thanh tra Sở");
    cr_expect_str_eq(run.outcome, "to_accept");
    s_expect_due(&run, "accept", "2026-06-11 24:00 +07:00", false);
    s_expect_due(&run, "decide", "2026-07-01 24:00 +07:00", true);
    s_done(&run);
    s_run(&run, "inspection.complaint_received",
          "{\"received_at\": 1780282800000, \"complex\": true, \"remote\": true, "
          "\"known_at\": 1769914800000}",
          NULL, s_at(2026, 6, 1, 11, 0));
    /* 60 days from 1 June: 31 July. Known 1 Feb: 90 days ended 4 May. */
    s_expect_due(&run, "decide_remote_complex", "2026-07-31 24:00 +07:00", true);
    s_expect_due(&run, "time_limit", "2026-05-04 24:00 +07:00", false);
    cr_expect_str_eq(run.outcome, "out_of_time");
    s_done(&run);

    s_run(&run, "inspection.denunciation_received",
          "{\"accepted_at\": 1780282800000, \"extensions\": 1}", NULL, s_at(2026, 6, 1, 11, 0));
    cr_expect_str_eq(run.outcome, "accepted");
    s_expect_due(&run, "notify", "2026-06-08 24:00 +07:00", false);
    s_expect_due(&run, "resolve", "2026-07-31 24:00 +07:00", true);
    s_done(&run);
    s_run(&run, "inspection.denunciation_received", "{\"received_at\": 1780282800000}", NULL,
          s_at(2026, 6, 1, 11, 0));
    cr_expect_str_eq(run.outcome, "to_accept");
    cr_expect(s_has_finding(&run, "counted_from_receipt"));
    s_expect_due(&run, "resolve", "2026-07-01 24:00 +07:00", true);
    s_done(&run);
}

/* A working-day rule in a year without a calendar file says so. */
Test(areas, calendar_missing_is_flagged)
{
    struct run run;
    s_run(&run, "publishing.noncommercial_permit", NULL, NULL, s_at(2027, 3, 1, 10, 0));
    cr_expect(run.calendar_missing);
    s_done(&run);
    s_run(&run, "publishing.noncommercial_permit", NULL, NULL, s_at(2026, 3, 2, 10, 0));
    cr_expect_not(run.calendar_missing);
    s_done(&run);
}

/* ------------------------------------------------------------------------ */
/* The SOC lane. */

static bool
s_emitted(const struct run *run, const char *type)
{
    for (size_t i = 0; i < run->nemit; i++)
        if (strcmp(run->emitted[i], type) == 0)
            return true;
    return false;
}

static const char *
s_str(const struct run *run, const char *key)
{
    const char *v = json_string_value(json_object_get(run->result, key));
    return v ? v : "";
}

/* An alert: wazuh level, asset, alert time (unix ms), impacts (a JSON array or NULL). */
static void
s_alert(struct run *run, const char *asset, int level, int64_t time_ms, const char *impact)
{
    char data[1200];
    snprintf(data, sizeof data, "{\"asset\": \"%s\", \"severity_raw\": %d, \"time\": %lld%s%s}",
             asset, level, (long long)time_ms, impact ? ", \"impact\": " : "",
             impact ? impact : "");
    s_run(run, "cyber.soc_alert", data, NULL, time_ms + 1000);
}

Test(areas, soc_alerts_correlate_per_asset_within_the_window)
{
    struct run run;
    int64_t t0 = s_at(2026, 6, 1, 10, 0), minute = 60000;
    char first[32];

    s_alert(&run, "a1", 5, t0, NULL);
    cr_expect_str_eq(run.outcome, "incident_opened");
    cr_expect_str_eq(run.unit, "Trung tâm Thông tin và Truyền thông");
    cr_expect_str_eq(s_str(&run, "priority"), "P4");
    cr_expect(s_emitted(&run, "cyber.incident_opened"));
    cr_expect_eq(run.nemit, 1);
    snprintf(first, sizeof first, "%s", s_str(&run, "incident_id"));
    cr_expect_eq(strncmp(first, "INC-", 4), 0);
    cr_expect_null(s_deadline(&run, "notify"), "a P4 is not confirmed");
    s_done(&run);

    /* 10 minutes later, within the 15-minute window: the same incident. */
    s_alert(&run, "a1", 5, t0 + 10 * minute, NULL);
    cr_expect_str_eq(run.outcome, "incident_joined");
    cr_expect_str_eq(s_str(&run, "incident_id"), first);
    cr_expect_eq(run.nemit, 0);
    s_done(&run);
    /* Another asset meanwhile: its own incident. */
    s_alert(&run, "a2", 5, t0 + 11 * minute, NULL);
    cr_expect_str_eq(run.outcome, "incident_opened");
    cr_expect_str_neq(s_str(&run, "incident_id"), first);
    s_done(&run);
    /* A P2 joins a1's incident, raises it and confirms it: the 5-day clock
     * runs from the incident's first alert, tracked under its id. */
    s_alert(&run, "a1", 10, t0 + 20 * minute, NULL);
    cr_expect_str_eq(s_str(&run, "incident_id"), first);
    cr_expect_str_eq(s_str(&run, "incident_priority"), "P2");
    cr_expect(s_emitted(&run, "cyber.incident_updated"));
    s_expect_due(&run, "notify", "2026-06-08 24:00 +07:00", true); /* Sat 6 June: Monday */
    cr_expect_str_eq(json_string_value(json_object_get(s_deadline(&run, "notify"), "subject")),
                     first);
    cr_expect(s_has_finding(&run, "incident_confirmed"));
    s_done(&run);
    /* An hour after its last alert: a new incident on a1. */
    s_alert(&run, "a1", 5, t0 + 80 * minute, NULL);
    cr_expect_str_eq(run.outcome, "incident_opened");
    cr_expect_str_neq(s_str(&run, "incident_id"), first);
    s_done(&run);
}

/* Two workers decide alerts out of order: an alert joins the incident whose
 * window covers it, even after the asset's next incident has begun. */
Test(areas, soc_late_alert_joins_the_incident_that_covers_it)
{
    struct run run;
    int64_t t0 = s_at(2026, 6, 1, 10, 0), s = 1000;
    unsigned opened = 0;
    const int64_t times[] = {0, 7200, 480, 7230, 10, 7190 + 900};
    for (size_t i = 0; i < sizeof times / sizeof *times; i++) {
        s_alert(&run, "ooo", 5, t0 + times[i] * s, NULL);
        opened += s_emitted(&run, "cyber.incident_opened");
        s_done(&run);
    }
    cr_expect_eq(opened, 2, "%u incidents for two bursts", opened);
}

/* An asset name as long as the catalogue allows (256 characters, here 768
 * bytes of Vietnamese) correlates like any other. */
Test(areas, soc_long_asset_name_correlates)
{
    struct run run;
    char asset[800] = "";
    for (int i = 0; i < 256; i++)
        strcat(asset, "ệ");
    int64_t t0 = s_at(2026, 6, 1, 10, 0);
    s_alert(&run, asset, 5, t0, NULL);
    cr_expect_str_eq(run.outcome, "incident_opened", "%s", run.note);
    char first[32];
    snprintf(first, sizeof first, "%s", s_str(&run, "incident_id"));
    s_done(&run);
    s_alert(&run, asset, 5, t0 + 60000, NULL);
    cr_expect_str_eq(run.outcome, "incident_joined");
    cr_expect_str_eq(s_str(&run, "incident_id"), first);
    s_done(&run);
    /* Differing only in its last character: another asset. */
    asset[strlen(asset) - 3] = '\0';
    strcat(asset, "ế");
    s_alert(&run, asset, 5, t0 + 60000, NULL);
    cr_expect_str_eq(run.outcome, "incident_opened");
    s_done(&run);
}

/* QĐ 05/2017: level 4-5 or critical, an impact, an owner who cannot cope. */
Test(areas, soc_serious_incident_needs_level_impact_and_owner)
{
    struct run run;
    int64_t t0 = s_at(2026, 6, 2, 10, 0);
    const char *outage = "[\"service_interruption\"]";

    /* A P1 on a level-4 system whose owner cannot cope: escalated. */
    s_alert(&run, "cong-dich-vu-cong", 13, t0, outage);
    cr_expect(s_emitted(&run, "cyber.serious_incident_escalation"), "%s", run.note);
    cr_expect(s_has_finding(&run, "serious_incident"));
    s_done(&run);
    /* Once per incident. */
    s_alert(&run, "cong-dich-vu-cong", 13, t0 + 60000, outage);
    cr_expect_not(s_emitted(&run, "cyber.serious_incident_escalation"));
    s_done(&run);
    /* The same on a level-2 system: none. */
    s_alert(&run, "web-01", 13, t0, outage);
    cr_expect_not(s_emitted(&run, "cyber.serious_incident_escalation"));
    cr_expect(s_deadline(&run, "notify"), "still confirmed: the clock runs");
    s_done(&run);
    /* Level 4 and critical, but its owner copes: none. */
    s_alert(&run, "lgsp", 13, t0, outage);
    cr_expect_not(s_emitted(&run, "cyber.serious_incident_escalation"));
    s_done(&run);
    /* Level 4, owner cannot cope, P1, but no impact: severity alone never escalates. */
    s_alert(&run, "camera-giao-thong", 13, t0, NULL);
    cr_expect_not(s_emitted(&run, "cyber.serious_incident_escalation"));
    s_done(&run);
    /* An asset the registry does not know: said so. */
    s_alert(&run, "unknown-host", 13, t0, outage);
    cr_expect_not(s_emitted(&run, "cyber.serious_incident_escalation"));
    cr_expect(s_has_finding(&run, "asset_unregistered"));
    s_done(&run);
}

/* A redelivered alert gets the same decision and the same event ids. */
Test(areas, soc_redelivery_replays_the_decision)
{
    struct run a, b;
    int64_t t0 = s_at(2026, 6, 3, 10, 0);
    char data[200];
    snprintf(data, sizeof data,
             "{\"asset\": \"cong-dich-vu-cong\", \"severity_raw\": 13, \"time\": %lld, "
             "\"impact\": [\"data_leak\"]}",
             (long long)t0);
    s_run_seq(&a, "cyber.soc_alert", data, NULL, t0, 777);
    s_run_seq(&b, "cyber.soc_alert", data, NULL, t0, 777);
    cr_expect_str_eq(s_str(&a, "incident_id"), s_str(&b, "incident_id"));
    cr_expect_eq(a.nemit, 2, "opened and escalated");
    cr_expect_eq(b.nemit, a.nemit);
    for (size_t i = 0; i < a.nemit; i++)
        cr_expect_str_eq(a.emitted_id[i], b.emitted_id[i]);
    cr_expect(s_has_finding(&b, "redelivered"));
    s_expect_due(&b, "notify", "2026-06-08 24:00 +07:00", true);
    s_done(&a);
    s_done(&b);
}

Test(areas, cyber_notification_and_final_report)
{
    struct run run;
    /* Discovered 2026-05-27 17:00 +07:00; received 5 June: late. */
    s_run(&run, "cyber.incident_notification", "{\"discovered_at\": 1779876000000}", NULL,
          s_at(2026, 6, 5, 10, 0));
    cr_expect_str_eq(run.outcome, "late_notification");
    s_expect_due(&run, "notify", "2026-06-01 24:00 +07:00", false);
    json_t *c = s_deadline(&run, "case");
    cr_assert_not_null(c);
    cr_expect(json_is_null(json_object_get(c, "due")), "open until its final report");
    cr_expect(json_is_true(json_object_get(c, "track")));
    s_done(&run);
    /* Level 4, in the registry with an owner who cannot cope, an impact: escalated. */
    s_run(&run, "cyber.incident_notification",
          "{\"system\": \"cong-dich-vu-cong\", \"system_level\": 4, \"discovered_at\": "
          "1780282800000}",
          NULL, s_at(2026, 6, 1, 12, 0));
    cr_expect_str_eq(run.outcome, "notified");
    cr_expect(s_emitted(&run, "cyber.serious_incident_escalation"));
    s_done(&run);
    s_run(&run, "cyber.incident_final_report", "{\"completed_at\": 1780282800000}", NULL,
          s_at(2026, 6, 10, 12, 0));
    cr_expect_str_eq(run.outcome, "late_report");
    s_done(&run);
}
