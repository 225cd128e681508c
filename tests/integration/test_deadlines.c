/*
 * test_deadlines: tracked deadlines through the real broker and spawned
 * workers. A takedown's 24-hour removal period, tracked, gets one
 * deadline.warning before it is due and one deadline.breached after, even
 * when the broker is killed -9 in between and started again after the due
 * time; a case.decision naming the takedown closes its deadline; and an
 * incident notification's open case is closed by the final report carrying
 * the same subject.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "proto/envelope.h"
#include "proto/mep.h"
#include "proto/pack.h"
#include "tests/support/daemon_harness.h"
#include "tests/support/log_inspect.h"
#include "tests/support/sample_data.h"

#define FAST "[delivery]\nheartbeat_ms = 200\ndeadline_scan_ms = 100\ndeadline_warn_ms = 2500\n"

static int64_t
s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Publishes type with data (packed), corr and subject optional; returns the ACK's seq. */
static uint64_t
s_publish(struct harness *h, const uint8_t id[16], const char *type, const msgpack_sbuffer *data,
          const uint8_t *corr, const char *subject)
{
    msgpack_sbuffer env;
    msgpack_sbuffer_init(&env);
    struct envelope_fields f = {.id = id,
                                .type = type,
                                .source = "agency",
                                .time_ms = (uint64_t)s_now_ms(),
                                .corr = corr,
                                .subject = subject,
                                .data = data->data,
                                .data_len = data->size};
    envelope_encode(&f, &env);
    void *s = harness_dealer(h);
    cr_assert_eq(harness_send_pub(s, env.data, env.size), 0);
    char cmd[8];
    uint8_t body[512];
    int n = harness_recv_reply(s, cmd, body, sizeof body, 5000);
    cr_assert_geq(n, 0, "no reply");
    struct mep_reply r;
    cr_assert_eq(mep_reply_decode(body, (size_t)n, strcmp(cmd, "ACK") == 0, &r), 0);
    cr_assert(r.is_ack, "%s NACKed: %s", type, r.reason);
    zmq_close(s);
    msgpack_sbuffer_destroy(&env);
    return r.seq;
}

/* A takedown whose 24-hour removal period ends in_ms from now. */
static void
s_takedown_data(msgpack_sbuffer *sb, int64_t in_ms)
{
    msgpack_packer pk;
    msgpack_sbuffer_clear(sb);
    msgpack_packer_init(&pk, sb, pack_sbuffer_write);
    msgpack_pack_map(&pk, 4);
    pack_cstr(&pk, "platform");
    pack_cstr(&pk, "example-social");
    pack_cstr(&pk, "ad_ref");
    pack_cstr(&pk, "ad/1");
    pack_cstr(&pk, "legal_basis");
    pack_cstr(&pk, "Luật Quảng cáo Art. 8");
    pack_cstr(&pk, "request_time");
    msgpack_pack_uint64(&pk, (uint64_t)(s_now_ms() - 86400000 + in_ms));
}

static long
s_count_type(struct harness *h, const char *type)
{
    return log_inspect_count_field(harness_state_dir(h), "accepted", "type", type);
}

static bool
s_wait_type(struct harness *h, const char *type, long n, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 50) {
        if (s_count_type(h, type) >= n)
            return true;
        usleep(50000);
    }
    return false;
}

Test(deadlines, warning_then_breach_across_a_kill9, .timeout = 120)
{
    struct harness *h = harness_new(NULL, FAST);
    cr_assert_eq(harness_config_area(h, "ads", "spawn", "yes"), 0);
    cr_assert_eq(harness_start(h, 10000), 0);
    const char *sd = harness_state_dir(h);
    cr_assert(log_inspect_wait_kind(sd, "worker_joined", "ads", 1, 15000));

    uint8_t a[16], b[16], decision[16];
    getrandom(a, sizeof a, 0);
    getrandom(b, sizeof b, 0);
    getrandom(decision, sizeof decision, 0);
    msgpack_sbuffer data;
    msgpack_sbuffer_init(&data);
    int64_t due = s_now_ms() + 5000;
    s_takedown_data(&data, 5000);
    uint64_t seq_a = s_publish(h, a, "ads.online_takedown", &data, NULL, NULL);
    s_publish(h, b, "ads.online_takedown", &data, NULL, NULL);
    /* Both completions tracked, then a decision closes b's. */
    cr_assert(log_inspect_wait_kind(sd, "completed", "ads", 2, 10000));
    cr_assert_eq(log_inspect_count(sd, "deadlines"), 2);
    msgpack_sbuffer_clear(&data);
    cr_assert_eq(sample_data_pack("case.decision", NULL, -1, &data), 0);
    s_publish(h, decision, "case.decision", &data, b, NULL);
    cr_assert(log_inspect_wait_kind(sd, "completed", "ads", 3, 10000), "the decision went to ads");
    cr_expect_eq(log_inspect_count(sd, "deadlines"), 1, "b's deadline closed");

    /* a's warning comes 2.5 s before it is due. */
    cr_assert(s_wait_type(h, "deadline.warning", 1, 5000), "no warning:\n%s",
              harness_daemon_log(h));
    cr_expect_lt(s_now_ms(), due, "warned before due");

    /* Killed before due, started after. */
    harness_kill9(h);
    while (s_now_ms() < due + 500)
        usleep(100000);
    cr_assert_eq(harness_start(h, 10000), 0);
    cr_assert(s_wait_type(h, "deadline.breached", 1, 10000), "no breach after the restart:\n%s",
              harness_daemon_log(h));
    cr_assert(log_inspect_wait_empty(sd, "pending", 15000), "deadline events not handled");
    usleep(500000); /* a few more scans: nothing more may come */
    cr_assert_eq(harness_stop(h, 15000), 0);
    char *log = harness_daemon_log(h);
    cr_expect(strstr(log, "deadlines: ") && strstr(log, "breaches found"),
              "the stop line counts the scan's findings:\n%s", log);
    free(log);

    cr_expect_eq(s_count_type(h, "deadline.warning"), 1);
    cr_expect_eq(s_count_type(h, "deadline.breached"), 1);
    cr_expect_eq(log_inspect_count_kind(sd, "deadline", NULL), 2, "warning and breach records");
    cr_expect_eq(log_inspect_count_field(sd, "deadline", "state", "breached"), 1);
    cr_expect_eq(log_inspect_count(sd, "deadlines"), 0, "the breached deadline left the table");
    /* The events went to the takedown's area, which handled them. */
    cr_expect_eq(log_inspect_count_field(sd, "accepted", "source", "broker"), 2);
    cr_expect_eq(log_inspect_count_kind(sd, "completed", "ads"), 5);
    char seq[24];
    snprintf(seq, sizeof seq, "%llu", (unsigned long long)seq_a);
    char *out = NULL;
    cr_assert_eq(harness_ctl(h, NULL, &out, "show", seq, NULL), 0);
    cr_expect(strstr(out, "deadline.breached"), "show lists the breach:\n%s", out);
    free(out);
    /* The breach names the takedown as its corr. */
    char a_hex[33];
    for (int i = 0; i < 16; i++)
        snprintf(a_hex + 2 * i, 3, "%02x", a[i]);
    cr_assert_eq(harness_ctl(h, NULL, &out, "tail", "--json", "--kind", "accepted", NULL), 0);
    char *breach = strstr(out, "\"deadline.breached\"");
    cr_assert_not_null(breach, "%s", out);
    char *line_start = breach;
    while (line_start > out && line_start[-1] != '\n')
        line_start--;
    char *line_end = strchr(breach, '\n');
    if (line_end)
        *line_end = '\0';
    cr_expect(strstr(line_start, a_hex), "corr is the takedown's id %s: %s", a_hex, line_start);
    free(out);
    /* tail's columns for the deadline records. */
    cr_assert_eq(harness_ctl(h, NULL, &out, "tail", "--kind", "deadline", NULL), 0);
    cr_expect(strstr(out, "warning") && strstr(out, "breached") && strstr(out, "removal"), "%s",
              out);
    free(out);
    cr_assert_eq(harness_ctl(h, NULL, NULL, "verify", NULL), 0);
    msgpack_sbuffer_destroy(&data);
    harness_destroy(&h);
}

Test(deadlines, final_report_closes_the_case_by_subject, .timeout = 60)
{
    struct harness *h = harness_new(NULL, FAST);
    cr_assert_eq(harness_config_area(h, "cyber", "spawn", "yes"), 0);
    cr_assert_eq(harness_config_area(h, "cyber", "workers", "1"), 0);
    cr_assert_eq(harness_start(h, 10000), 0);
    const char *sd = harness_state_dir(h);
    cr_assert(log_inspect_wait_kind(sd, "worker_joined", "cyber", 1, 15000));

    uint8_t n[16], r[16];
    getrandom(n, sizeof n, 0);
    getrandom(r, sizeof r, 0);
    msgpack_sbuffer data;
    msgpack_sbuffer_init(&data);
    cr_assert_eq(sample_data_pack("cyber.incident_notification", NULL, -1, &data), 0);
    s_publish(h, n, "cyber.incident_notification", &data, NULL, "INC-T1");
    cr_assert(log_inspect_wait_kind(sd, "completed", "cyber", 1, 10000));
    cr_expect_eq(log_inspect_count(sd, "deadlines"), 1, "the case is open");
    char *out = NULL;
    cr_assert_eq(harness_ctl(h, NULL, &out, "stats", NULL), 0);
    cr_expect(strstr(out, "deadlines:   1 tracked"), "stats counts it:\n%s", out);
    free(out);
    /* A final report of another incident closes nothing. */
    msgpack_sbuffer_clear(&data);
    cr_assert_eq(sample_data_pack("cyber.incident_final_report", NULL, -1, &data), 0);
    s_publish(h, r, "cyber.incident_final_report", &data, NULL, "INC-OTHER");
    cr_expect_eq(log_inspect_count(sd, "deadlines"), 1);
    getrandom(r, sizeof r, 0);
    s_publish(h, r, "cyber.incident_final_report", &data, NULL, "INC-T1");
    cr_expect_eq(log_inspect_count(sd, "deadlines"), 0, "the final report closed it");
    cr_assert_eq(harness_stop(h, 15000), 0);
    msgpack_sbuffer_destroy(&data);
    harness_destroy(&h);
}
