/*
 * test_soc: the SOC lane end to end, through the real broker and two
 * spawned cyber workers sharing one incident store: 10,000 alerts over 50
 * assets, in bursts that fit the correlation window and gaps that do not,
 * published interleaved so that both workers correlate the same assets at
 * once, must open exactly the expected incidents, each once; and the
 * serious-incident test must escalate a level-4 system's incident and not
 * a level-2 one's.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "proto/pack.h"
#include "tools/mandate_client.h"
#include "tests/support/daemon_harness.h"
#include "tests/support/log_inspect.h"

#define ASSETS      50
#define BURSTS      4
#define PER_BURST   50
#define ALERT_GAP_S 10   /* within a burst: 490 s in all, under the 900 s window */
#define BURST_GAP_S 7200 /* between bursts: far past the window */

struct count {
    unsigned acked, nacked;
};

static void
s_on_reply(void *arg, const struct mep_reply *r, void *user)
{
    (void)user;
    struct count *c = arg;
    if (r->is_ack)
        c->acked++;
    else
        c->nacked++;
}

static void
s_pack_alert(msgpack_sbuffer *sb, const char *format, const char *asset, int64_t time_ms,
             int severity, const char *impact)
{
    msgpack_packer pk;
    msgpack_sbuffer_clear(sb);
    msgpack_packer_init(&pk, sb, pack_sbuffer_write);
    msgpack_pack_map(&pk, impact ? 7 : 6);
    pack_cstr(&pk, "format");
    pack_cstr(&pk, format);
    pack_cstr(&pk, "time");
    msgpack_pack_uint64(&pk, (uint64_t)time_ms);
    pack_cstr(&pk, "asset");
    pack_cstr(&pk, asset);
    pack_cstr(&pk, "rule");
    pack_cstr(&pk, "test rule");
    pack_cstr(&pk, "severity_raw");
    msgpack_pack_int(&pk, severity);
    pack_cstr(&pk, "observables");
    msgpack_pack_array(&pk, 0);
    if (impact) {
        pack_cstr(&pk, "impact");
        msgpack_pack_array(&pk, 1);
        pack_cstr(&pk, impact);
    }
}

static void
s_publish(struct mandate_client *cl, const msgpack_sbuffer *data, int64_t time_ms)
{
    uint8_t id[16];
    getrandom(id, sizeof id, 0);
    struct envelope_fields f = {.id = id,
                                .type = "cyber.soc_alert",
                                .source = "soc-feed", /* [source soc] has a rate limit */
                                .time_ms = (uint64_t)time_ms,
                                .data = data->data,
                                .data_len = data->size};
    cr_assert_eq(mandate_client_publish(cl, &f, NULL), 0);
}

Test(soc, ten_thousand_alerts_open_exactly_the_expected_incidents, .timeout = 240)
{
    struct harness *h = harness_new(NULL, NULL);
    cr_assert_eq(harness_config_area(h, "cyber", "spawn", "yes"), 0);
    cr_assert_eq(harness_config_area(h, "cyber", "workers", "2"), 0);
    cr_assert_eq(harness_start(h, 10000), 0);
    cr_assert(log_inspect_wait_kind(harness_state_dir(h), "worker_joined", "cyber", 2, 15000),
              "workers did not join:\n%s", harness_daemon_log(h));

    struct count c = {0};
    struct mandate_client_options o;
    mandate_client_options_init(&o);
    o.window = 512;
    o.on_reply = s_on_reply;
    o.cb_arg = &c;
    struct mandate_client *cl = mandate_client_new(harness_endpoint(h), &o);
    cr_assert_not_null(cl);
    msgpack_sbuffer data;
    msgpack_sbuffer_init(&data);
    static const char *const formats[] = {"wazuh", "cef", "ocsf", "misp"};
    int64_t t0 = 1780282800000; /* 2026-06-01 10:00 +07:00 */
    unsigned sent = 0;
    /* Interleaved: alert i of every asset before alert i + 1 of any. */
    for (int b = 0; b < BURSTS; b++)
        for (int i = 0; i < PER_BURST; i++)
            for (int a = 0; a < ASSETS; a++) {
                char asset[32];
                snprintf(asset, sizeof asset, "host-%02d", a);
                int64_t t = t0 + ((int64_t)b * BURST_GAP_S + (int64_t)i * ALERT_GAP_S) * 1000;
                s_pack_alert(&data, formats[(a + i) % 4], asset, t, (a + i) % 5 + 1, NULL);
                s_publish(cl, &data, t);
                sent++;
            }
    cr_assert_eq(sent, 10000);
    cr_assert_eq(mandate_client_flush(cl, 60000), 0);
    cr_assert_eq(c.acked, sent, "%u ACKed, %u NACKed", c.acked, c.nacked);
    cr_assert(log_inspect_wait_empty(harness_state_dir(h), "pending", 120000),
              "alerts not all completed:\n%s", harness_daemon_log(h));

    const char *sd = harness_state_dir(h);
    long opened = log_inspect_count_field(sd, "accepted", "type", "cyber.incident_opened");
    cr_expect_eq(opened, ASSETS * BURSTS, "%ld incidents opened, want %d", opened, ASSETS * BURSTS);
    cr_expect_eq(
        log_inspect_count_field(sd, "accepted", "type", "cyber.serious_incident_escalation"), 0,
        "host-NN are not in the registry");
    cr_expect_eq(log_inspect_count_field(sd, "rejected", NULL, NULL), 0);
    cr_expect_eq(log_inspect_count_kind(sd, "deadlettered", NULL), 0);

    /* QĐ 05/2017: a P1 with an outage on a level-4 system whose owner cannot
     * cope is escalated once; the same on a level-2 system is not. */
    int64_t t1 = t0 + 86400000;
    for (int i = 0; i < 3; i++) {
        s_pack_alert(&data, "wazuh", "cong-dich-vu-cong", t1 + i * 1000, 13,
                     "service_interruption");
        s_publish(cl, &data, t1 + i * 1000);
        s_pack_alert(&data, "wazuh", "web-01", t1 + i * 1000, 13, "service_interruption");
        s_publish(cl, &data, t1 + i * 1000);
    }
    cr_assert_eq(mandate_client_flush(cl, 60000), 0);
    cr_assert(log_inspect_wait_empty(sd, "pending", 60000));
    cr_expect_eq(
        log_inspect_count_field(sd, "accepted", "type", "cyber.serious_incident_escalation"), 1);
    cr_expect_eq(log_inspect_count_field(sd, "accepted", "type", "cyber.incident_opened"),
                 ASSETS * BURSTS + 2);

    msgpack_sbuffer_destroy(&data);
    mandate_client_destroy(&cl);
    cr_assert_eq(harness_stop(h, 20000), 0);
    cr_assert_eq(harness_ctl(h, NULL, NULL, "verify", NULL), 0);
    harness_destroy(&h);
}
