/*
 * zap: the ZAP handler answers libzmq's requests (RFC 27) from the loop:
 * admitted keys get 200 and their key as user id, unknown keys 400 and one
 * auth_refused record a second per peer, malformed requests 500 and no
 * record; and a new config's keys decide from the reconfigure on. Requests
 * are sent by hand on a REQ socket, as libzmq's I/O thread would.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <event2/event.h>
#include <zmq.h>

#include "config/config.h"
#include "daemon/journal.h"
#include "daemon/loop_turn.h"
#include "daemon/zap.h"
#include "tests/support/daemon_harness.h"

static char s_dir[256];
static struct event_base *s_base;
static void *s_ctx, *s_req;
static struct loop_turn *s_turn;
static struct journal *s_records;
static struct mandated_config *s_cfg;
static struct zap *s_zap;
static struct curve_cert s_soc, s_stranger;

static void
s_noop(void *arg)
{
}

static struct mandated_config *
s_config(const char *sources)
{
    char text[1024];
    struct config_error err;
    struct mandated_config *cfg;
    snprintf(text, sizeof text,
             "[security]\ncurve = on\nserver_secret_key = %s/server.key_secret\n"
             "sources_dir = %s/%s\n[area cyber]\ntypes = cyber.*\n",
             s_dir, s_dir, sources);
    cr_assert_eq(config_load_string(text, "zap.conf", &cfg, &err), 0, "%s", err.message);
    cr_assert_eq(config_load_keys(cfg, &err), 0, "%s", err.message);
    return cfg;
}

static void
s_setup(void)
{
    char sub[300];
    struct config_error err;
    cr_assert_eq(harness_mkdtemp(s_dir, sizeof s_dir, "zap"), 0);
    cr_assert_eq(curve_cert_generate(s_dir, "server", NULL, &err), 0);
    snprintf(sub, sizeof sub, "%s/a", s_dir);
    cr_assert_eq(mkdir(sub, 0755), 0);
    cr_assert_eq(curve_cert_generate(sub, "soc", &s_soc, &err), 0);
    snprintf(sub, sizeof sub, "%s/b", s_dir);
    cr_assert_eq(mkdir(sub, 0755), 0);
    cr_assert_eq(curve_cert_generate(sub, "stranger", &s_stranger, &err), 0);
    s_cfg = s_config("a");

    s_base = event_base_new();
    s_ctx = zmq_ctx_new();
    s_turn = loop_turn_new(s_base, s_noop, NULL);
    s_records = journal_new(NULL, NULL);
    s_zap = zap_new(s_base, s_ctx, s_cfg, s_records, s_turn);
    cr_assert_not_null(s_zap);
    s_req = zmq_socket(s_ctx, ZMQ_REQ);
    int linger = 0;
    zmq_setsockopt(s_req, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert_eq(zmq_connect(s_req, ZAP_ENDPOINT), 0);
}

static void
s_teardown(void)
{
    zmq_close(s_req);
    zap_destroy(&s_zap);
    journal_destroy(&s_records);
    loop_turn_destroy(&s_turn);
    zmq_ctx_term(s_ctx);
    event_base_free(s_base);
    config_destroy(&s_cfg);
    harness_rm_rf(s_dir);
}

TestSuite(zap, .init = s_setup, .fini = s_teardown);

struct reply {
    char status[8];
    char user_id[64];
    size_t nframes;
};

/* Sends frames (len -1: strlen), turns the loop until the reply is there. */
static struct reply
s_ask(const char *const *frames, const int *lens, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t len = lens && lens[i] >= 0 ? (size_t)lens[i] : strlen(frames[i]);
        cr_assert(zmq_send(s_req, frames[i], len, i + 1 < n ? ZMQ_SNDMORE : 0) >= 0);
    }
    struct reply r = {0};
    char buf[6][128];
    for (int tries = 0; tries < 200; tries++) {
        event_base_loop(s_base, EVLOOP_NONBLOCK);
        int more = 1, got = 0;
        while (more && r.nframes < 6) {
            int len = zmq_recv(s_req, buf[r.nframes], sizeof buf[0] - 1, ZMQ_DONTWAIT);
            if (len < 0)
                break;
            buf[r.nframes][len] = '\0';
            size_t sz = sizeof more;
            zmq_getsockopt(s_req, ZMQ_RCVMORE, &more, &sz);
            r.nframes++;
            got = 1;
        }
        if (got) {
            cr_assert_eq(r.nframes, 6, "a ZAP reply has 6 frames");
            snprintf(r.status, sizeof r.status, "%.7s", buf[2]);
            snprintf(r.user_id, sizeof r.user_id, "%.63s", buf[4]);
            return r;
        }
        struct timeval tv = {0, 5000};
        event_base_loopexit(s_base, &tv);
        event_base_dispatch(s_base);
    }
    cr_assert_fail("no ZAP reply");
    return r;
}

static struct reply
s_curve(const char *address, const struct curve_cert *client)
{
    const char *f[] = {
        "1.0", "7", ZAP_DOMAIN_INGRESS, address, "", "CURVE", (const char *)client->public_key};
    const int lens[] = {-1, -1, -1, -1, 0, -1, CURVE_KEY_LEN};
    return s_ask(f, lens, 7);
}

Test(zap, admits_a_known_key_with_its_key_as_user_id)
{
    struct reply r = s_curve("198.18.0.5", &s_soc);
    cr_assert_str_eq(r.status, "200");
    cr_assert_str_eq(r.user_id, s_soc.public_z85);
    cr_assert_eq(zap_stats(s_zap)->admitted, 1);
    cr_assert_eq(journal_queued(s_records), 0, "an admission writes nothing");
}

Test(zap, refuses_an_unknown_key_once_a_second_per_peer)
{
    for (int i = 0; i < 5; i++)
        cr_assert_str_eq(s_curve("198.18.0.9", &s_stranger).status, "400");
    cr_assert_eq(zap_stats(s_zap)->refused, 5);
    cr_assert_eq(zap_stats(s_zap)->suppressed, 4);
    cr_assert_eq(journal_queued(s_records), 1, "one auth_refused record for the peer");
    /* Another peer has its own allowance. */
    cr_assert_str_eq(s_curve("198.18.0.10", &s_stranger).status, "400");
    cr_assert_eq(journal_queued(s_records), 2);
}

Test(zap, other_mechanisms_and_domains_are_refused)
{
    const char *plain[] = {"1.0", "1", ZAP_DOMAIN_INGRESS, "198.18.0.7", "", "PLAIN", "u", "p"};
    cr_assert_str_eq(s_ask(plain, NULL, 8).status, "400");
    /* The workers domain has no keys under this config: nobody is admitted there. */
    const char *f[] = {
        "1.0", "2", ZAP_DOMAIN_WORKERS, "198.18.0.8", "", "CURVE", (const char *)s_soc.public_key};
    const int lens[] = {-1, -1, -1, -1, 0, -1, CURVE_KEY_LEN};
    cr_assert_str_eq(s_ask(f, lens, 7).status, "400");
}

Test(zap, malformed_requests_get_500_and_no_record)
{
    const char *short_req[] = {"1.0", "1", "ingress"};
    cr_assert_str_eq(s_ask(short_req, NULL, 3).status, "500");
    const char *version[] = {"2.0", "1", "ingress", "198.18.0.1", "", "CURVE", "k"};
    cr_assert_str_eq(s_ask(version, NULL, 7).status, "500");
    const char *nul[] = {"1.0", "1", "ingr\0ess", "198.18.0.1", "", "CURVE", "k"};
    const int nul_lens[] = {-1, -1, 8, -1, 0, -1, -1};
    cr_assert_str_eq(s_ask(nul, nul_lens, 7).status, "500");
    /* A CURVE request whose credential is not a 32-byte key. */
    const char *badkey[] = {"1.0", "1", "ingress", "198.18.0.2", "", "CURVE", "short"};
    cr_assert_str_eq(s_ask(badkey, NULL, 7).status, "400");
    const char *many[] = {"1.0", "1", "ingress", "a", "", "CURVE", "k", "x", "y", "z"};
    cr_assert_str_eq(s_ask(many, NULL, 10).status, "500");
    cr_assert_eq(zap_stats(s_zap)->malformed, 4);
    cr_assert_eq(journal_queued(s_records), 1, "only the bad key's refusal is a record");
}

Test(zap, a_new_config_decides_from_the_reconfigure_on)
{
    cr_assert_str_eq(s_curve("198.18.0.5", &s_soc).status, "200");
    struct mandated_config *next = s_config("b");
    zap_reconfigure(s_zap, next);
    cr_assert_str_eq(s_curve("198.18.0.5", &s_soc).status, "400");
    cr_assert_str_eq(s_curve("198.18.0.6", &s_stranger).status, "200");
    zap_reconfigure(s_zap, s_cfg);
    config_destroy(&next);
}
