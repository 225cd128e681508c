/*
 * CURVE on ingress and on the workers endpoint, for real: keys made by
 * pyzmq's zmq.auth.create_certificates, used as they are; every refusal
 * path with what it leaves in the log (DESIGN.md "Security model").
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <zmq.h>

#include "proto/curve_socket.h"
#include "config/curve_cert.h"
#include "proto/audit_record.h"
#include "tests/support/daemon_harness.h"
#include "tests/support/log_inspect.h"
#include "tests/support/worker_process.h"

struct keys {
    char dir[256];
    struct curve_cert server, soc, stranger, w1;
    char server_public[320], w1_secret[320];
};

static void
s_load(const struct keys *k, const char *rel, bool secret, struct curve_cert *ret)
{
    char path[400];
    struct config_error err;
    snprintf(path, sizeof path, "%s/%s", k->dir, rel);
    cr_assert_eq(curve_cert_load(path, secret, ret, &err), 0, "%s: %s", path, err.message);
}

/* Keys as an agency makes them: with pyzmq, into the directories the broker reads. */
static void
s_make_keys(struct keys *k)
{
    cr_assert_eq(harness_mkdtemp(k->dir, sizeof k->dir, "mandate-curve"), 0);
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cd %s && mkdir sources workers made && /usr/bin/python3 -c '"
             "import zmq.auth as a, os\n"
             "a.create_certificates(\".\", \"server\")\n"
             "for n in (\"soc\", \"stranger\", \"w1\"): a.create_certificates(\"made\", n)\n"
             "os.rename(\"made/soc.key\", \"sources/soc.key\")\n"
             "os.rename(\"made/w1.key\", \"workers/w1.key\")\n"
             "for f in (\"server\", \"made/soc\", \"made/stranger\", \"made/w1\"):"
             " os.chmod(f + \".key_secret\", 0o600)\n'",
             k->dir);
    cr_assert_eq(system(cmd), 0, "pyzmq could not make keys");
    s_load(k, "server.key_secret", true, &k->server);
    s_load(k, "made/soc.key_secret", true, &k->soc);
    s_load(k, "made/stranger.key_secret", true, &k->stranger);
    s_load(k, "made/w1.key_secret", true, &k->w1);
    snprintf(k->server_public, sizeof k->server_public, "%s/server.key", k->dir);
    snprintf(k->w1_secret, sizeof k->w1_secret, "%s/made/w1.key_secret", k->dir);
}

static struct harness *
s_broker(const struct keys *k, const char *extra)
{
    char tail[2048];
    snprintf(tail, sizeof tail,
             "[security]\ncurve = on\nserver_secret_key = %s/server.key_secret\n"
             "sources_dir = %s/sources\nworkers_curve = on\nworker_keys_dir = %s/workers\n"
             "[worker w1]\nareas = cyber\n"
             "%s",
             k->dir, k->dir, k->dir, extra ? extra : "");
    struct harness *h = harness_new(NULL, tail);
    harness_set_curve(h, k->server.public_z85, k->soc.public_z85, k->soc.secret_z85);
    return h;
}

static void
s_keys_destroy(struct keys *k)
{
    harness_rm_rf(k->dir);
}

/* Fresh keys and a running broker that uses them. */
static struct harness *
s_start(struct keys *k)
{
    s_make_keys(k);
    struct harness *h = s_broker(k, NULL);
    cr_assert_eq(harness_start(h, 10000), 0, "%s", harness_daemon_log(h));
    return h;
}

/* A clean stop, then nothing left behind. */
static void
s_finish(struct harness *h, struct keys *k)
{
    cr_assert_eq(harness_stop(h, 10000), 0, "%s", harness_daemon_log(h));
    harness_destroy(&h);
    s_keys_destroy(k);
}

/* Sends SIGHUP and waits for the n-th `reloaded` record. */
static void
s_reload(struct harness *h, long n)
{
    cr_assert_eq(kill(harness_pid(h), SIGHUP), 0);
    cr_assert(log_inspect_wait_kind(harness_state_dir(h), "reloaded", NULL, n, 10000), "%s",
              harness_daemon_log(h));
}

/* A DEALER with the given client pair (NULL: no CURVE) and server key. */
static void *
s_client(struct harness *h, const struct curve_cert *client, const char *server_z85)
{
    void *s = zmq_socket(harness_zmq_ctx(h), ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (client)
        cr_assert_eq(curve_socket_client(s, server_z85, client->public_z85, client->secret_z85), 0);
    cr_assert_eq(zmq_connect(s, harness_endpoint(h)), 0);
    return s;
}

/* Publishes one event; the reply's command, or "" if none came in timeout_ms. */
static const char *
s_publish(void *sock, const char *type, const char *source, uint64_t n, int timeout_ms,
          char *reason, size_t reason_size)
{
    static char cmd[8];
    uint8_t id[16] = {0xc0, 0x7e}, buf[4096], body[1024];
    memcpy(id + 8, &n, sizeof n);
    size_t len = harness_envelope(buf, sizeof buf, id, type, source, n);
    cr_assert_eq(harness_send_pub(sock, buf, len), 0);
    int blen = harness_recv_reply(sock, cmd, body, sizeof body, timeout_ms);
    if (blen < 0)
        return "";
    if (reason) {
        /* The NACK body holds its reason as text: enough to assert on. */
        size_t k = 0;
        for (int i = 0; i < blen && k + 1 < reason_size; i++)
            if (body[i] >= 0x20 && body[i] < 0x7f)
                reason[k++] = (char)body[i];
        reason[k] = '\0';
    }
    return cmd;
}

static long
s_records(struct harness *h)
{
    return log_inspect_count(harness_state_dir(h), "log");
}

Test(curve, pyzmq_keys_publish_and_serve, .timeout = 60)
{
    struct keys k;
    struct harness *h = s_start(&k);

    const char *wargs[] = {"--key", k.w1_secret, "--server-key", k.server_public, NULL};
    pid_t w = worker_process_python(h, "cyber", wargs);
    cr_assert(log_inspect_wait_kind(harness_state_dir(h), "worker_joined", "cyber", 1, 10000), "%s",
              harness_daemon_log(h));
    cr_assert_eq(log_inspect_count_field(harness_state_dir(h), "worker_joined", "key", "w1"), 1);

    void *s = harness_dealer(h);
    for (uint64_t n = 1; n <= 20; n++)
        cr_assert_str_eq(s_publish(s, "cyber.soc_alert", "soc", n, 5000, NULL, 0), "ACK");
    cr_assert(log_inspect_wait_kind(harness_state_dir(h), "completed", "cyber", 20, 10000), "%s",
              harness_daemon_log(h));
    cr_assert_eq(log_inspect_count_field(harness_state_dir(h), "accepted", "source", "soc"), 20);
    zmq_close(s);
    worker_process_stop(w, SIGTERM);
    s_finish(h, &k);
}

/* Connections that never open write nothing, except a ZAP refusal's one record. */
Test(curve, refused_connections, .timeout = 60)
{
    struct keys k;
    struct harness *h = s_start(&k);
    long before = s_records(h);

    /* No CURVE at all: the handshake fails before ZAP is asked. */
    void *plain = s_client(h, NULL, NULL);
    cr_assert_str_eq(s_publish(plain, "cyber.soc_alert", "soc", 1, 1500, NULL, 0), "");
    zmq_close(plain);
    /* An admitted key but the wrong server key: the server cannot read the hello. */
    void *wrong = s_client(h, &k.soc, k.stranger.public_z85);
    cr_assert_str_eq(s_publish(wrong, "cyber.soc_alert", "soc", 2, 1500, NULL, 0), "");
    zmq_close(wrong);
    cr_assert_eq(s_records(h), before, "a failed handshake wrote to the log");

    /* A key that is not in sources_dir: ZAP refuses it, once a second at most in the log. */
    void *stranger = s_client(h, &k.stranger, k.server.public_z85);
    cr_assert_str_eq(s_publish(stranger, "cyber.soc_alert", "stranger", 3, 2500, NULL, 0), "");
    zmq_close(stranger);
    long refused =
        log_inspect_count_field(harness_state_dir(h), "auth_refused", "key", k.stranger.public_z85);
    cr_assert(refused >= 1 && refused <= 4, "%ld auth_refused records in 2.5 s", refused);
    cr_assert_eq(s_records(h), before + refused, "only auth_refused records were written");
    cr_assert_eq(log_inspect_count_kind(harness_state_dir(h), "accepted", NULL), 0);

    cr_assert_eq(harness_stop(h, 10000), 0);
    /* Retries of the same peer past the first record were counted, not written. */
    char *log = harness_daemon_log(h);
    cr_assert(strstr(log, "authentication: ") && !strstr(log, "authentication: 0 connections"),
              "%s", log);
    free(log);
    harness_destroy(&h);
    s_keys_destroy(&k);
}

/* An authenticated connection may publish only as its key's source, only its types. */
Test(curve, source_is_the_key, .timeout = 60)
{
    struct keys k;
    struct harness *h = s_start(&k);
    void *s = harness_dealer(h);
    char reason[512];

    cr_assert_str_eq(
        s_publish(s, "cyber.soc_alert", "press_office", 1, 5000, reason, sizeof reason), "NACK");
    cr_assert(strstr(reason, "forbidden") && strstr(reason, "'soc'"), "%s", reason);
    cr_assert_str_eq(s_publish(s, "press.conference_notice", "soc", 2, 5000, reason, sizeof reason),
                     "NACK");
    cr_assert(strstr(reason, "forbidden"), "%s", reason);
    cr_assert_str_eq(s_publish(s, "cyber.soc_alert", "soc", 3, 5000, NULL, 0), "ACK");

    cr_assert_eq(log_inspect_count_field(harness_state_dir(h), "rejected", "code", "forbidden"), 2);
    cr_assert_eq(log_inspect_count_kind(harness_state_dir(h), "accepted", NULL), 1);
    zmq_close(s);
    s_finish(h, &k);
}

/*
 * Every record of kind has key = value. The broker may still be writing
 * such records (a refused worker keeps retrying), so the kind is counted
 * before and after the field: equal counts mean both saw the same records.
 */
static void
s_expect_all_have(struct harness *h, const char *kind, const char *key, const char *value)
{
    const char *sd = harness_state_dir(h);
    for (int tries = 0; tries < 100; tries++) {
        long before = log_inspect_count_kind(sd, kind, NULL);
        long with = log_inspect_count_field(sd, kind, key, value);
        if (log_inspect_count_kind(sd, kind, NULL) == before) {
            cr_assert_eq(with, before, "%ld of %ld %s records have %s = %s", with, before, kind,
                         key, value);
            return;
        }
        usleep(20000);
    }
    cr_assert_fail("%s records kept coming for 2 s: no stable count", kind);
}

/* A worker key offering an area its [worker] section does not name. */
Test(curve, worker_for_another_area, .timeout = 60)
{
    struct keys k;
    struct harness *h = s_start(&k);
    const char *wargs[] = {"--key", k.w1_secret, "--server-key", k.server_public, NULL};
    pid_t w = worker_process_python(h, "press", wargs);
    cr_assert(log_inspect_wait_kind(harness_state_dir(h), "worker_refused", NULL, 1, 10000), "%s",
              harness_daemon_log(h));
    s_expect_all_have(h, "worker_refused", "key", "w1");
    s_expect_all_have(h, "worker_refused", "area", "press");
    cr_assert_eq(log_inspect_count_kind(harness_state_dir(h), "worker_joined", NULL), 0);

    /* A worker key the broker does not have gets no connection at all. */
    char stranger[320];
    snprintf(stranger, sizeof stranger, "%s/made/stranger.key_secret", k.dir);
    const char *sargs[] = {"--key", stranger, "--server-key", k.server_public, NULL};
    pid_t s = worker_process_python(h, "cyber", sargs);
    cr_assert(log_inspect_wait_kind(harness_state_dir(h), "auth_refused", NULL, 1, 10000), "%s",
              harness_daemon_log(h));
    s_expect_all_have(h, "auth_refused", "domain", "workers");
    cr_assert_eq(log_inspect_count_kind(harness_state_dir(h), "worker_joined", NULL), 0);
    worker_process_stop(s, SIGTERM);
    worker_process_stop(w, SIGTERM);
    s_finish(h, &k);
}

/* A secret key file group or others may read stops the broker, naming it. */
Test(curve, loose_secret_file_is_refused, .timeout = 30)
{
    struct keys k;
    s_make_keys(&k);
    char path[400];
    snprintf(path, sizeof path, "%s/server.key_secret", k.dir);
    cr_assert_eq(chmod(path, 0640), 0);
    struct harness *h = s_broker(&k, NULL);
    const char *bin = getenv("MANDATED_BIN") ? getenv("MANDATED_BIN") : "build/mandated";
    char cmd[1200], out[400];
    snprintf(out, sizeof out, "%s/stderr", harness_dir(h));
    snprintf(cmd, sizeof cmd, "%s -c %s 2>%s", bin, harness_config_path(h), out);
    int status = system(cmd);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 78, "exit status %d", status);
    char *log = harness_read_file(out);
    cr_assert(strstr(log, path) && strstr(log, "0640"), "%s", log);
    free(log);
    cr_assert_eq(log_inspect_count(harness_state_dir(h), "log"), -1, "the log was opened");
    harness_destroy(&h);
    s_keys_destroy(&k);
}

/*
 * A worker key removed at a reload, or replaced under the same name: its
 * worker leaves at the reload, and ZAP refuses it when it reconnects with
 * the key it has.
 */
static void
s_worker_key_taken_away(bool replace)
{
    struct keys k;
    struct harness *h = s_start(&k);
    const char *wargs[] = {"--key", k.w1_secret, "--server-key", k.server_public, NULL};
    pid_t w = worker_process_python(h, "cyber", wargs);
    cr_assert(log_inspect_wait_kind(harness_state_dir(h), "worker_joined", "cyber", 1, 10000), "%s",
              harness_daemon_log(h));

    char from[400], to[400];
    snprintf(to, sizeof to, "%s/workers/w1.key", k.dir);
    if (replace) {
        /* w1.key now holds another key (stranger's): same name, other bytes. */
        snprintf(from, sizeof from, "%s/made/stranger.key", k.dir);
        cr_assert_eq(rename(from, to), 0);
    } else {
        cr_assert_eq(unlink(to), 0);
    }
    s_reload(h, 1);
    cr_assert_eq(
        log_inspect_count_field(harness_state_dir(h), "reloaded", "config", harness_config_path(h)),
        1);
    /* Lost at the reload itself, not later by its heartbeat. */
    cr_assert(log_inspect_wait_kind(harness_state_dir(h), "worker_lost", "cyber", 1, 10000), "%s",
              harness_daemon_log(h));
    cr_assert_eq(log_inspect_count_field(harness_state_dir(h), "worker_lost", "reason",
                                         "its key may no longer serve the area"),
                 1, "%s", harness_daemon_log(h));
    /* It reconnects at once, with the same key: ZAP refuses it now. */
    cr_assert(log_inspect_wait_kind(harness_state_dir(h), "auth_refused", NULL, 1, 10000), "%s",
              harness_daemon_log(h));
    cr_assert_eq(log_inspect_count_field(harness_state_dir(h), "auth_refused", "domain", "workers"),
                 log_inspect_count_kind(harness_state_dir(h), "auth_refused", NULL));
    cr_assert_eq(log_inspect_count_kind(harness_state_dir(h), "worker_joined", NULL), 1);
    worker_process_stop(w, SIGTERM);
    s_finish(h, &k);
}

Test(curve, worker_key_removed_at_reload, .timeout = 60)
{
    s_worker_key_taken_away(false);
}

Test(curve, worker_key_replaced_at_reload, .timeout = 60)
{
    s_worker_key_taken_away(true);
}
