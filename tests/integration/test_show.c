/*
 * mandatectl show, and tail's human lines, on the event-delivery records
 * (dispatched, failed, retried, completed, deadlettered, worker_joined,
 * worker_lost, follow-up events). The broker does not write these yet, so
 * each test writes a realistic history itself, through the broker's own
 * writer (daemon/audit_log.h) with no daemon running, then runs mandatectl
 * on it and compares whole lines.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <msgpack.h>

#include "daemon/audit_log.h"
#include "tests/support/daemon_harness.h"

/* ---- the history ---- */

/* The records s_write_history() writes, by seq. */
enum {
    SEQ_STARTED = 1,
    SEQ_JOINED,            /* worker_joined cyber-w1 */
    SEQ_ALERT,             /* accepted: cyber.soc_alert */
    SEQ_ALERT_DISPATCH1,   /* dispatched, attempt 1 */
    SEQ_NOTICE,            /* accepted: press.conference_notice */
    SEQ_ALERT_FAILED,      /* failed, attempt 1 */
    SEQ_ALERT_RETRIED,     /* retried, attempt 2 */
    SEQ_ALERT_DISPATCH2,   /* dispatched, attempt 2 */
    SEQ_NOTICE_DISPATCH,   /* dispatched, attempt 1 */
    SEQ_ALERT_COMPLETED,   /* completed, emitted the follow-up */
    SEQ_FOLLOWUP,          /* accepted: cyber.incident_notification, cause = SEQ_ALERT */
    SEQ_LOST,              /* worker_lost press-w1 */
    SEQ_NOTICE_RETRIED,    /* retried, attempt 2 */
    SEQ_FOLLOWUP_DISPATCH, /* dispatched, attempt 1 */
    SEQ_FOLLOWUP_DONE,     /* completed with an opaque reply */
    SEQ_NOTICE_DEAD,       /* deadlettered after 5 attempts */
    SEQ_COMPLAINT,         /* accepted: never dispatched */
    SEQ_BRIEFING,          /* accepted */
    SEQ_BRIEFING_DISPATCH, /* dispatched, still in flight */
    SEQ_LAST = SEQ_BRIEFING_DISPATCH,
};

#define ALERT_ID     "0190a1b2c3d47e5f8a9b0c1d2e3f4a5b"
#define ALERT_UUID   "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
#define NOTICE_ID    "0190a1b2c3d47e5f8a9b0c1d2e3f4a60"
#define FOLLOWUP_ID  "0190a1b2c3d47e5f8a9b0c1d2e3f4a61"
#define COMPLAINT_ID "0190a1b2c3d47e5f8a9b0c1d2e3f4a62"
#define BRIEFING_ID  "0190a1b2c3d47e5f8a9b0c1d2e3f4a63"
#define OPAQUE_HEX   "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

/* Writes records through the broker's writer, up to seq `limit` and no further. */
struct writer {
    struct audit_log *log;
    uint64_t limit;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    unsigned n; /* fields packed so far */
};

static void
s_id(const char *hex, uint8_t id[16])
{
    for (int i = 0; i < 16; i++)
        cr_assert_eq(sscanf(hex + 2 * i, "%2hhx", &id[i]), 1);
}

static void
s_key(struct writer *w, const char *key)
{
    audit_pack_key(&w->pk, key);
    w->n++;
}

static void
s_str(struct writer *w, const char *key, const char *val)
{
    s_key(w, key);
    if (val)
        audit_pack_str(&w->pk, val);
    else
        msgpack_pack_nil(&w->pk);
}

static void
s_u64(struct writer *w, const char *key, uint64_t val)
{
    s_key(w, key);
    msgpack_pack_uint64(&w->pk, val);
}

/* Appends a record of kind with the fields packed since the last one, claiming id if given. */
static void
s_write(struct writer *w, const char *kind, const uint8_t *id)
{
    uint64_t seq;

    if (audit_log_last_seq(w->log) < w->limit) {
        cr_assert_eq(audit_log_begin(w->log), 0);
        if (id)
            cr_assert_eq(audit_log_claim_id(w->log, id, &seq), 0);
        cr_assert_eq(audit_log_append(w->log, kind, w->sb.data, w->sb.size, w->n, &seq), 0);
        cr_assert_eq(audit_log_commit(w->log), 0);
    }
    msgpack_sbuffer_clear(&w->sb);
    w->n = 0;
}

static void
s_append(struct writer *w, const char *kind)
{
    s_write(w, kind, NULL);
}

/* An `accepted` record with its envelope (and ids entry), as the broker writes one. */
static void
s_accepted(struct writer *w, const char *id_hex, const char *type, const char *source,
           const char *area, uint64_t n, uint64_t cause, const char *corr_hex)
{
    uint8_t id[16], corr[16], env[512];
    char data[16];

    s_id(id_hex, id);
    if (corr_hex)
        s_id(corr_hex, corr);
    /* data = {"n": n}: this log is written by hand, past the catalogue's check. */
    size_t data_len = 0;
    data[data_len++] = (char)0x81;
    data[data_len++] = (char)0xa1;
    data[data_len++] = 'n';
    data[data_len++] = (char)n; /* a positive fixint: n < 128 here */
    cr_assert_lt(n, 128);
    size_t env_len = harness_envelope_data(env, sizeof env, id, type, source, n,
                                           corr_hex ? corr : NULL, data, data_len);
    cr_assert_gt(env_len, 0);

    s_key(w, "id");
    msgpack_pack_bin_with_body(&w->pk, id, sizeof id);
    s_str(w, "type", type);
    s_str(w, "source", source);
    s_str(w, "area", area);
    if (cause)
        s_u64(w, "cause", cause);
    s_key(w, "event");
    msgpack_sbuffer_write(&w->sb, (const char *)env, env_len);
    s_write(w, AUDIT_KIND_ACCEPTED, id);
}

/* Starts a delivery record with the fields they all have, and the worker's name if given. */
static void
s_delivery(struct writer *w, uint64_t event_seq, const char *area, uint64_t attempt,
           const char *worker)
{
    s_u64(w, AUDIT_FIELD_EVENT_SEQ, event_seq);
    s_str(w, "area", area);
    s_u64(w, "attempt", attempt);
    if (worker)
        s_str(w, "worker", worker);
}

static void
s_dispatched(struct writer *w, uint64_t event_seq, const char *area, uint64_t attempt,
             const char *worker)
{
    s_delivery(w, event_seq, area, attempt, worker);
    s_append(w, AUDIT_KIND_DISPATCHED);
}

static void
s_retried(struct writer *w, uint64_t event_seq, const char *area, uint64_t attempt,
          const char *reason, uint64_t due_ms)
{
    s_delivery(w, event_seq, area, attempt, NULL);
    s_str(w, "reason", reason);
    s_u64(w, "due_ms", due_ms);
    s_append(w, AUDIT_KIND_RETRIED);
}

/* Writes the history above into the harness's state dir, records 1 to limit. */
static void
s_write_history(struct harness *h, uint64_t limit)
{
    struct audit_log_options opts = {.durable = false, .map_initial = 1 << 20, .map_max = 1 << 24};
    struct writer w = {.limit = limit};
    char err[256] = "";

    cr_assert_eq(audit_log_open(harness_state_dir(h), &opts, &w.log, err, sizeof err), 0, "%s",
                 err);
    msgpack_sbuffer_init(&w.sb);
    msgpack_packer_init(&w.pk, &w.sb, msgpack_sbuffer_write);

    s_u64(&w, "pid", 4242);
    s_str(&w, "version", "0.1.0");
    s_append(&w, AUDIT_KIND_STARTED);
    s_str(&w, "worker", "cyber-w1");
    s_str(&w, "area", "cyber");
    s_u64(&w, "credit", 2);
    s_append(&w, AUDIT_KIND_WORKER_JOINED);
    s_accepted(&w, ALERT_ID, "cyber.soc_alert", "soc", "cyber", 1, 0, NULL);
    s_dispatched(&w, SEQ_ALERT, "cyber", 1, "cyber-w1");
    s_accepted(&w, NOTICE_ID, "press.conference_notice", "so-van-hoa", "press", 2, 0, NULL);
    s_delivery(&w, SEQ_ALERT, "cyber", 1, "cyber-w1");
    s_str(&w, "note", "asset not in inventory");
    s_append(&w, AUDIT_KIND_FAILED);
    s_retried(&w, SEQ_ALERT, "cyber", 2, "worker failed", 1780000005000ull);
    s_dispatched(&w, SEQ_ALERT, "cyber", 2, "cyber-w2");
    s_dispatched(&w, SEQ_NOTICE, "press", 1, "press-w1");

    /* Completed with a nested result, emitting one follow-up event. */
    s_delivery(&w, SEQ_ALERT, "cyber", 2, "cyber-w2");
    s_str(&w, "status", "done");
    s_str(&w, "note", "escalated");
    s_key(&w, "result");
    msgpack_pack_map(&w.pk, 2);
    audit_pack_key(&w.pk, "severity");
    msgpack_pack_uint64(&w.pk, 3);
    audit_pack_key(&w.pk, "steps");
    msgpack_pack_map(&w.pk, 2);
    audit_pack_key(&w.pk, "notify");
    msgpack_pack_true(&w.pk);
    audit_pack_key(&w.pk, "deadline");
    audit_pack_str(&w.pk, "2026-12-05");
    s_key(&w, "emitted");
    msgpack_pack_array(&w.pk, 1);
    msgpack_pack_uint64(&w.pk, SEQ_FOLLOWUP);
    s_append(&w, AUDIT_KIND_COMPLETED);
    s_accepted(&w, FOLLOWUP_ID, "cyber.incident_notification", "area:cyber", "cyber", 3, SEQ_ALERT,
               ALERT_ID);

    s_str(&w, "worker", "press-w1");
    s_str(&w, "area", "press");
    s_str(&w, "reason", "heartbeat expired");
    s_u64(&w, "inflight", 1);
    s_append(&w, AUDIT_KIND_WORKER_LOST);
    s_retried(&w, SEQ_NOTICE, "press", 2, "worker lost", 1780000060000ull);

    /* The follow-up's worker replied with something other than a map. */
    s_dispatched(&w, SEQ_FOLLOWUP, "cyber", 1, "cyber-w1");
    s_delivery(&w, SEQ_FOLLOWUP, "cyber", 1, "cyber-w1");
    s_str(&w, "status", "done");
    s_str(&w, "note", NULL);
    s_str(&w, "result", NULL);
    uint8_t opaque[32];
    for (int i = 0; i < 32; i++)
        opaque[i] = (uint8_t)i;
    s_key(&w, "opaque");
    msgpack_pack_bin_with_body(&w.pk, opaque, sizeof opaque);
    s_append(&w, AUDIT_KIND_COMPLETED);

    s_delivery(&w, SEQ_NOTICE, "press", 5, NULL);
    s_str(&w, "reason", "max_attempts reached");
    s_append(&w, AUDIT_KIND_DEADLETTERED);
    s_accepted(&w, COMPLAINT_ID, "inspection.complaint_received", "ttcp", "inspection", 4, 0, NULL);
    s_accepted(&w, BRIEFING_ID, "press.conference_notice", "so-van-hoa", "press", 5, 0, NULL);
    s_dispatched(&w, SEQ_BRIEFING, "press", 1, "press-w2");

    cr_assert_eq(audit_log_last_seq(w.log), limit < SEQ_LAST ? limit : SEQ_LAST);
    msgpack_sbuffer_destroy(&w.sb);
    audit_log_destroy(&w.log);
}

/* ---- running mandatectl ---- */

/*
 * Replaces the time column of each record line ("  SEQ  2026-...Z  kind")
 * with "T", so that lines written at any time compare equal.
 */
static void
s_untime(char *text)
{
    for (char *line = text; line && *line;) {
        char *p = line + strspn(line, " ");
        p += strspn(p, "0123456789");
        if (p > line && strncmp(p, "  ", 2) == 0 && strlen(p + 2) >= 24 && p[2 + 10] == 'T' &&
            p[2 + 23] == 'Z') {
            p[2] = 'T';
            memmove(p + 3, p + 2 + 24, strlen(p + 2 + 24) + 1);
        }
        line = strchr(line, '\n');
        if (line)
            line++;
    }
}

/* Runs mandatectl ARGS...; returns the exit code, stdout (times replaced) and stderr. */
#define CTL(h, out, err, ...) s_ctl_untimed(h, out, err, __VA_ARGS__, NULL)

static int
s_ctl_untimed(struct harness *h, char **out, char **err, ...)
{
    const char *args[16];
    int n = 0;
    va_list ap;

    va_start(ap, err);
    while (n < 15 && (args[n] = va_arg(ap, const char *)))
        n++;
    va_end(ap);
    args[n] = NULL;
    int rc = harness_ctl_err(h, out, err, args[0], args[1], args[2], args[3], args[4], args[5],
                             args[6], args[7], args[8], args[9], args[10], args[11], args[12],
                             args[13], args[14], NULL);
    s_untime(*out);
    return rc;
}

/* The history of the cyber alert, as show prints it (times replaced by T). */
static const char s_alert_history[] =
    "event 3 id=" ALERT_ID " type=cyber.soc_alert source=soc area=cyber: "
    "completed (attempt 2, worker cyber-w2)\n"
    "     3  T  accepted      cyber.soc_alert                  soc          2e3f4a5b area=cyber\n"
    "     4  T  dispatched    event=3      cyber        attempt=1  cyber-w1\n"
    "     6  T  failed        event=3      cyber        attempt=1  cyber-w1     "
    "asset not in inventory\n"
    "     7  T  retried       event=3      cyber        attempt=2  "
    "due=2026-05-28T20:26:45.000Z worker failed\n"
    "     8  T  dispatched    event=3      cyber        attempt=2  cyber-w2\n"
    "    10  T  completed     event=3      cyber        attempt=2  cyber-w2     done "
    "note=escalated result={\"severity\":3,\"steps\":{\"notify\":true,\"deadline\":\"2026-12-"
    "05\"}} emitted=[11]\n"
    "        11  T  accepted      cyber.incident_notification      area:cyber   2e3f4a61 "
    "area=cyber cause=3\n";

static struct harness *
s_history(uint64_t limit)
{
    struct harness *h = harness_new(NULL, NULL);
    s_write_history(h, limit);
    return h;
}

/* ---- show ---- */

Test(show, by_seq_of_the_accepted_record)
{
    struct harness *h = s_history(SEQ_LAST);
    char *out, *err;

    cr_assert_eq(CTL(h, &out, &err, "show", "3"), 0, "%s", err);
    cr_assert_str_eq(out, s_alert_history);
    cr_assert_str_eq(err, "");
    free(out);
    free(err);
    harness_destroy(&h);
}

/* Each way of naming the alert shows the same history. */
static void
s_assert_shows_alert(const char *const *names, size_t n)
{
    struct harness *h = s_history(SEQ_LAST);
    char *out, *err;

    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(CTL(h, &out, &err, "show", names[i]), 0, "show %s: %s", names[i], err);
        cr_assert_str_eq(out, s_alert_history, "show %s", names[i]);
        free(out);
        free(err);
    }
    harness_destroy(&h);
}

Test(show, by_seq_of_any_record_of_the_event)
{
    static const char *const seqs[] = {"4", "6", "7", "10"};

    s_assert_shows_alert(seqs, sizeof seqs / sizeof seqs[0]);
}

Test(show, by_id_with_and_without_dashes)
{
    static const char *const ids[] = {ALERT_ID, ALERT_UUID, "0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B"};

    s_assert_shows_alert(ids, sizeof ids / sizeof ids[0]);
}

Test(show, a_follow_up_names_its_cause)
{
    struct harness *h = s_history(SEQ_LAST);
    char *out, *err;

    cr_assert_eq(CTL(h, &out, &err, "show", FOLLOWUP_ID), 0, "%s", err);
    cr_assert_str_eq(
        out, "event 11 id=" FOLLOWUP_ID " type=cyber.incident_notification source=area:cyber "
             "area=cyber cause=3: completed (attempt 1, worker cyber-w1)\n"
             "    11  T  accepted      cyber.incident_notification      area:cyber   2e3f4a61 "
             "area=cyber cause=3\n"
             "    14  T  dispatched    event=11     cyber        attempt=1  cyber-w1\n"
             "    15  T  completed     event=11     cyber        attempt=1  cyber-w1     done "
             "opaque=" OPAQUE_HEX "\n");
    free(out);
    free(err);
    harness_destroy(&h);
}

/* The first line's state, for each way an event can stand. */
static void
s_assert_state(uint64_t limit, const char *seq, const char *want)
{
    struct harness *h = s_history(limit);
    char *out, *err;

    cr_assert_eq(CTL(h, &out, &err, "show", seq), 0, "show %s: %s", seq, err);
    char *eol = strchr(out, '\n');
    cr_assert_not_null(eol);
    *eol = '\0';
    cr_assert_str_eq(out, want);
    free(out);
    free(err);
    harness_destroy(&h);
}

Test(show, states)
{
    s_assert_state(SEQ_LAST, "5",
                   "event 5 id=" NOTICE_ID " type=press.conference_notice source=so-van-hoa "
                   "area=press: dead-lettered (attempt 5: max_attempts reached)");
    s_assert_state(SEQ_LAST, "17",
                   "event 17 id=" COMPLAINT_ID " type=inspection.complaint_received "
                   "source=ttcp area=inspection: waiting (not dispatched yet)");
    s_assert_state(SEQ_LAST, "19",
                   "event 18 id=" BRIEFING_ID " type=press.conference_notice source=so-van-hoa "
                   "area=press: in flight (attempt 1, worker press-w2)");
    /* Cut short: the notice waits for its retry; the alert has just failed. */
    s_assert_state(SEQ_NOTICE_RETRIED, "5",
                   "event 5 id=" NOTICE_ID " type=press.conference_notice source=so-van-hoa "
                   "area=press: waiting (attempt 2 due 2026-05-28T20:27:40.000Z)");
    s_assert_state(SEQ_ALERT_FAILED, "3",
                   "event 3 id=" ALERT_ID " type=cyber.soc_alert source=soc area=cyber: "
                   "waiting (attempt 1 failed)");
}

Test(show, json_prints_the_records_whole)
{
    struct harness *h = s_history(SEQ_LAST);
    static const char *const want[] = {
        "{\"area\":\"cyber\",\"event\":{\"data\":{\"n\":1},\"id\":\"" ALERT_ID
        "\",\"source\":\"soc\",\"time\":1780000000001,\"type\":\"cyber.soc_alert\",\"v\":1},"
        "\"id\":\"" ALERT_ID "\",\"kind\":\"accepted\",\"seq\":3,\"source\":\"soc\","
        "\"type\":\"cyber.soc_alert\"}",
        "{\"area\":\"cyber\",\"attempt\":1,\"event_seq\":3,\"kind\":\"dispatched\",\"seq\":4,"
        "\"worker\":\"cyber-w1\"}",
        "{\"area\":\"cyber\",\"attempt\":1,\"event_seq\":3,\"kind\":\"failed\","
        "\"note\":\"asset not in inventory\",\"seq\":6,\"worker\":\"cyber-w1\"}",
        "{\"area\":\"cyber\",\"attempt\":2,\"due_ms\":1780000005000,\"event_seq\":3,"
        "\"kind\":\"retried\",\"reason\":\"worker failed\",\"seq\":7}",
        "{\"area\":\"cyber\",\"attempt\":2,\"event_seq\":3,\"kind\":\"dispatched\",\"seq\":8,"
        "\"worker\":\"cyber-w2\"}",
        "{\"area\":\"cyber\",\"attempt\":2,\"emitted\":[11],\"event_seq\":3,"
        "\"kind\":\"completed\",\"note\":\"escalated\",\"result\":{\"severity\":3,\"steps\":{"
        "\"deadline\":\"2026-12-05\",\"notify\":true}},\"seq\":10,\"status\":\"done\","
        "\"worker\":\"cyber-w2\"}",
        "{\"area\":\"cyber\",\"cause\":3,\"event\":{\"corr\":\"" ALERT_ID
        "\",\"data\":{\"n\":3},\"id\":\"" FOLLOWUP_ID "\",\"source\":\"area:cyber\","
        "\"time\":1780000000003,\"type\":\"cyber.incident_notification\",\"v\":1},"
        "\"id\":\"" FOLLOWUP_ID "\",\"kind\":\"accepted\",\"seq\":11,\"source\":\"area:cyber\","
        "\"type\":\"cyber.incident_notification\"}",
    };
    char *out, *err;

    cr_assert_eq(CTL(h, &out, &err, "show", "--json", "7"), 0, "%s", err);
    size_t n = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"), n++) {
        json_error_t jerr;
        json_t *j = json_loads(line, 0, &jerr);
        cr_assert_not_null(j, "line %zu is not JSON (%s): %s", n, jerr.text, line);
        /* at and prev change with every run: check their form, then compare the rest. */
        cr_assert(json_is_integer(json_object_get(j, "at")), "%s", line);
        const char *prev = json_string_value(json_object_get(j, "prev"));
        cr_assert(prev && strlen(prev) == 64 && strspn(prev, "0123456789abcdef") == 64, "%s", line);
        json_object_del(j, "at");
        json_object_del(j, "prev");
        char *rest = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
        cr_assert(n < sizeof want / sizeof want[0], "extra line: %s", line);
        cr_assert_str_eq(rest, want[n]);
        free(rest);
        json_decref(j);
    }
    cr_assert_eq(n, sizeof want / sizeof want[0]);
    free(out);
    free(err);
    harness_destroy(&h);
}

/* A refusal: exit code, nothing on stdout, and this line on stderr. */
static void
s_assert_refused(struct harness *h, int code, const char *arg, const char *want_err)
{
    char *out, *err;

    cr_assert_eq(CTL(h, &out, &err, "show", arg), code, "show '%s': %s", arg, err);
    cr_assert_str_eq(out, "", "show '%s'", arg);
    cr_assert_str_eq(err, want_err, "show '%s'", arg);
    free(out);
    free(err);
}

/* Refusals: exit 1 for what is not an event in this log, 64 (EX_USAGE) for what is no seq or id. */
Test(show, refusals)
{
    struct harness *h = s_history(SEQ_LAST);
    static const struct {
        int code;
        const char *arg, *why;
    } cases[] = {
        {1, "1", "seq 1 is a `started` record, not part of an event's history"},
        {1, "12", "seq 12 is a `worker_lost` record, not part of an event's history"},
        {1, "20", "seq 20 is not in the log (its last seq is 19)"},
        {1, "18446744073709551615",
         "seq 18446744073709551615 is not in the log (its last seq is 19)"},
        {1, "ffffffffffffffffffffffffffffffff",
         "no event with id ffffffffffffffffffffffffffffffff in the log"},
        {64, "next", "'next' is neither a seq nor an event id (32 hex digits or a UUID)"},
        {64, "1.5", "'1.5' is neither a seq nor an event id (32 hex digits or a UUID)"},
        {64, "+3", "'+3' is neither a seq nor an event id (32 hex digits or a UUID)"},
        {64, " 3", "' 3' is neither a seq nor an event id (32 hex digits or a UUID)"},
        {64, "", "'' is neither a seq nor an event id (32 hex digits or a UUID)"},
        {64, "12abc", "'12abc' is not an event id: it has 5 hex digits, not 32"},
        {64, "0", "there is no seq 0: seqs start at 1"},
        {64, "18446744073709551616",
         "seq 18446744073709551616 is out of range (1 to 18446744073709551615)"},
        {64, "99999999999999999999999",
         "seq 99999999999999999999999 is out of range (1 to 18446744073709551615)"},
        {64, "0190a1b2c3d47e5f8a9b0c1d2e3f4a5",
         "'0190a1b2c3d47e5f8a9b0c1d2e3f4a5' is not an event id: it has 31 hex digits, not 32"},
        {64, "0190a1b2c3d4-7e5f-8a9b-0c1d2e3f4a5b",
         "'0190a1b2c3d4-7e5f-8a9b-0c1d2e3f4a5b' is not an event id: dashes go where a UUID "
         "has them (8-4-4-4-12)"},
    };
    char want[512];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(want, sizeof want, "mandatectl: show: %s\n%s", cases[i].why,
                 cases[i].code == 64 ? "try 'mandatectl show --help'\n" : "");
        s_assert_refused(h, cases[i].code, cases[i].arg, want);
    }

    char *out, *err;
    cr_assert_eq(CTL(h, &out, &err, "show"), 64);
    cr_assert_str_eq(err, "mandatectl: show: missing the event: a SEQ or an ID\n"
                          "try 'mandatectl show --help'\n");
    free(out);
    free(err);
    cr_assert_eq(CTL(h, &out, &err, "show", "3", "4"), 64);
    cr_assert_str_eq(err, "mandatectl: show: unexpected argument '4'\n"
                          "try 'mandatectl show --help'\n");
    free(out);
    free(err);
    cr_assert_eq(CTL(h, &out, &err, "show", "-1"), 64);
    cr_assert_str_eq(out, "");
    free(out);
    free(err);
    harness_destroy(&h);
}

Test(show, missing_or_empty_log)
{
    struct harness *h = harness_new(NULL, NULL);
    char *out, *err, want[512];

    /* No state directory at all. */
    cr_assert_eq(CTL(h, &out, &err, "show", "1"), 66);
    snprintf(want, sizeof want,
             "mandatectl: no audit log in %s/audit (has the broker run with this state_dir?)\n",
             harness_state_dir(h));
    cr_assert_str_eq(err, want);
    cr_assert_str_eq(out, "");
    free(out);
    free(err);

    /* A log the broker created but never wrote to. */
    s_write_history(h, 0);
    cr_assert_eq(CTL(h, &out, &err, "show", ALERT_ID), 1);
    snprintf(want, sizeof want, "mandatectl: show: the audit log in %s/audit is empty\n",
             harness_state_dir(h));
    cr_assert_str_eq(err, want);
    cr_assert_str_eq(out, "");
    free(out);
    free(err);
    harness_destroy(&h);
}

/* ---- tail ---- */

Test(tail, shows_delivery_and_worker_records)
{
    struct harness *h = s_history(SEQ_LAST);
    char *out, *err;

    cr_assert_eq(CTL(h, &out, &err, "tail", "--from", "12", "--area", "press"), 0, "%s", err);
    cr_assert_str_eq(
        out, "    12  T  worker_lost   press-w1     press        heartbeat expired inflight=1\n"
             "    13  T  retried       event=5      press        attempt=2  "
             "due=2026-05-28T20:27:40.000Z worker lost\n"
             "    16  T  deadlettered  event=5      press        attempt=5  max_attempts reached\n"
             "    18  T  accepted      press.conference_notice          so-van-hoa   2e3f4a63 "
             "area=press\n"
             "    19  T  dispatched    event=18     press        attempt=1  press-w2\n");
    free(out);
    free(err);

    cr_assert_eq(CTL(h, &out, &err, "tail", "--last", "2", "--kind", "completed"), 0, "%s", err);
    cr_assert_str_eq(
        out, "    10  T  completed     event=3      cyber        attempt=2  cyber-w2     done "
             "note=escalated result={\"severity\":3,\"steps\":{\"notify\":true,\"deadline\":"
             "\"2026-12-05\"}} emitted=[11]\n"
             "    15  T  completed     event=11     cyber        attempt=1  cyber-w1     done "
             "opaque=" OPAQUE_HEX "\n");
    free(out);
    free(err);

    cr_assert_eq(CTL(h, &out, &err, "tail", "--kind", "worker_joined"), 0, "%s", err);
    cr_assert_str_eq(out, "     2  T  worker_joined cyber-w1     cyber        credit=2\n");
    free(out);
    free(err);
    harness_destroy(&h);
}

Test(tail, json_keeps_nested_results_and_hashes)
{
    struct harness *h = s_history(SEQ_LAST);
    char *out, *err;

    cr_assert_eq(CTL(h, &out, &err, "tail", "--json", "--kind", "completed"), 0, "%s", err);
    cr_assert(strstr(out, "\"result\":{\"severity\":3,\"steps\":{\"notify\":true,"
                          "\"deadline\":\"2026-12-05\"}},\"emitted\":[11]}\n"),
              "%s", out);
    cr_assert(strstr(out, "\"note\":null,\"result\":null,\"opaque\":\"" OPAQUE_HEX "\"}\n"), "%s",
              out);
    free(out);
    free(err);
    harness_destroy(&h);
}
