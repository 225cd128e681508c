/*
 * SIGHUP reload (DESIGN.md "Signals"), for real: the broker re-reads its
 * file, a bad one changes nothing and leaves `reload_failed` naming
 * file:line:key, a good one applies (allow tightened, a key added and one
 * removed, an area added or removed) and leaves `reloaded` saying what
 * changed; events published around and during reloads are all in the log
 * once, seq gap-free; systemd hears RELOADING=1 then READY=1.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <zmq.h>

#include "config/curve_cert.h"
#include "proto/audit_record.h"
#include "tests/support/daemon_harness.h"
#include "tests/support/log_inspect.h"
#include "tests/support/worker_process.h"

static long
s_count(struct harness *h, const char *kind)
{
    return log_inspect_count_kind(harness_state_dir(h), kind, NULL);
}

/* Sends SIGHUP and waits for the reload's record (reloaded or reload_failed). */
static void
s_hup(struct harness *h, const char *kind)
{
    long before = s_count(h, kind);
    cr_assert_eq(kill(harness_pid(h), SIGHUP), 0);
    cr_assert(log_inspect_wait_kind(harness_state_dir(h), kind, NULL, before + 1, 10000),
              "no %s record:\n%s", kind, harness_daemon_log(h));
}

/* Publishes one event lock-step; the reply's command ("" if none came). */
static const char *
s_publish(void *sock, const char *type, const char *source, uint64_t n)
{
    static char cmd[8];
    uint8_t id[16] = {0x4e, 0x10}, buf[4096], body[1024];
    memcpy(id + 8, &n, sizeof n);
    size_t len = harness_envelope(buf, sizeof buf, id, type, source, n);
    cr_assert_eq(harness_send_pub(sock, buf, len), 0);
    return harness_recv_reply(sock, cmd, body, sizeof body, 5000) < 0 ? "" : cmd;
}

/* The last record of kind, for its fields. */
struct find_last {
    const char *kind;
    char json[2048];
    char fields[2048]; /* "key=value;" for string fields and string arrays */
};

static bool
s_find_last(uint64_t seq, const struct audit_record *rec, const void *b, size_t l, void *arg)
{
    struct find_last *f = arg;
    if (!rec || strcmp(rec->kind, f->kind) != 0)
        return true;
    f->fields[0] = '\0';
    const msgpack_object *map = rec->map;
    for (uint32_t i = 0; map && i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        static const char *const common[] = {"seq", "at", "kind", "prev"};
        bool skip = false;
        for (size_t c = 0; c < 4; c++)
            skip = skip || (kv->key.via.str.size == strlen(common[c]) &&
                            memcmp(kv->key.via.str.ptr, common[c], kv->key.via.str.size) == 0);
        if (skip)
            continue;
        char item[512] = "";
        size_t o = (size_t)snprintf(item, sizeof item, "%.*s=", (int)kv->key.via.str.size,
                                    kv->key.via.str.ptr);
        if (kv->val.type == MSGPACK_OBJECT_STR)
            o += (size_t)snprintf(item + o, sizeof item - o, "%.*s", (int)kv->val.via.str.size,
                                  kv->val.via.str.ptr);
        else if (kv->val.type == MSGPACK_OBJECT_BOOLEAN)
            o += (size_t)snprintf(item + o, sizeof item - o, "%s",
                                  kv->val.via.boolean ? "true" : "false");
        else if (kv->val.type == MSGPACK_OBJECT_ARRAY)
            for (uint32_t k = 0; k < kv->val.via.array.size; k++) {
                const msgpack_object *e = &kv->val.via.array.ptr[k];
                if (e->type == MSGPACK_OBJECT_STR && o < sizeof item)
                    o += (size_t)snprintf(item + o, sizeof item - o, "%s%.*s", k ? "," : "",
                                          (int)e->via.str.size, e->via.str.ptr);
            }
        strncat(f->fields, item, sizeof f->fields - strlen(f->fields) - 2);
        strcat(f->fields, ";");
    }
    return true;
}

static const char *
s_last_fields(struct harness *h, const char *kind)
{
    static struct find_last f;
    memset(&f, 0, sizeof f);
    f.kind = kind;
    log_inspect_each(harness_state_dir(h), s_find_last, &f);
    return f.fields;
}

/* Seqs run 1..n without a gap, and no event id was accepted twice. */
struct gapless {
    uint64_t expect;
    bool ok;
};

static bool
s_gapless(uint64_t seq, const struct audit_record *rec, const void *b, size_t l, void *arg)
{
    struct gapless *g = arg;
    g->ok = g->ok && rec && rec->seq == g->expect && seq == g->expect;
    g->expect++;
    return true;
}

static void
s_assert_gapless(struct harness *h)
{
    struct gapless g = {.expect = 1, .ok = true};
    long n = log_inspect_each(harness_state_dir(h), s_gapless, &g);
    cr_assert(n > 0 && g.ok, "seq not gap-free (stopped at %llu)", (unsigned long long)g.expect);
    cr_assert_eq(log_inspect_count_ids(harness_state_dir(h)), s_count(h, "accepted"),
                 "an event is in the log twice");
}

#define AREAS                                                                                      \
    "[area press]\ntypes = press.*\nspawn = no\n"                                                  \
    "[area cyber]\ntypes = cyber.*\nspawn = no\n"

Test(reload, allow_tightened_and_a_broken_file_changes_nothing, .timeout = 60)
{
    struct harness *h = harness_new(NULL, NULL);
    harness_write_config(h, AREAS "[source agency]\nallow = press.* cyber.*\n");
    cr_assert_eq(harness_start(h, 10000), 0, "%s", harness_daemon_log(h));
    void *s = harness_dealer(h);
    cr_assert_str_eq(s_publish(s, "cyber.soc_alert", "agency", 1), "ACK");

    harness_write_config(h, AREAS "[source agency]\nallow = press.*\n");
    s_hup(h, "reloaded");
    cr_assert(strstr(s_last_fields(h, "reloaded"), "sources_changed=agency;"), "%s",
              s_last_fields(h, "reloaded"));
    cr_assert_str_eq(s_publish(s, "cyber.soc_alert", "agency", 2), "NACK");
    cr_assert_str_eq(s_publish(s, "press.conference_notice", "agency", 3), "ACK");

    /* A broken file: nothing changes, and the record says where. */
    harness_write_config(h, AREAS "[source agency]\nallow = cyber.*\nrate = fast\n");
    s_hup(h, "reload_failed");
    const char *failed = s_last_fields(h, "reload_failed");
    cr_assert(strstr(failed, "mandated.conf:14: source.agency.rate"), "%s", failed);
    cr_assert_str_eq(s_publish(s, "cyber.soc_alert", "agency", 4), "NACK",
                     "the broken config's allow was applied");
    cr_assert_str_eq(s_publish(s, "press.conference_notice", "agency", 5), "ACK");

    /* A reload that changes nothing says so with an empty record. */
    harness_write_config(h, AREAS "[source agency]\nallow = press.*\n");
    s_hup(h, "reloaded");
    char want[512];
    snprintf(want, sizeof want, "config=%s;", harness_config_path(h));
    cr_assert_str_eq(s_last_fields(h, "reloaded"), want);
    zmq_close(s);
    cr_assert_eq(harness_stop(h, 10000), 0);
    s_assert_gapless(h);
    cr_assert_eq(s_count(h, "accepted"), 3);
    harness_destroy(&h);
}

/* An area added at a reload takes events from then on; one removed leaves its events pending. */
Test(reload, areas_added_and_removed, .timeout = 90)
{
    struct harness *h = harness_new(NULL, NULL);
    harness_write_config(h, "[delivery]\nheartbeat_ms = 200\n" AREAS);
    cr_assert_eq(harness_start(h, 10000), 0, "%s", harness_daemon_log(h));
    void *s = harness_dealer(h);
    cr_assert_str_eq(s_publish(s, "rf.interference_report", "agency", 1), "NACK");

    harness_write_config(h, "[delivery]\nheartbeat_ms = 200\n" AREAS
                            "[area rf]\ntypes = rf.*\nspawn = no\n");
    s_hup(h, "reloaded");
    cr_assert(strstr(s_last_fields(h, "reloaded"), "areas_added=rf;"), "%s",
              s_last_fields(h, "reloaded"));
    const char *hold[] = {"--hold-ms", "60000", "--credit", "8", "--heartbeat-ms", "200", NULL};
    pid_t w = worker_process_python(h, "rf", hold);
    cr_assert(log_inspect_wait_kind(harness_state_dir(h), "worker_joined", "rf", 1, 10000));
    for (uint64_t n = 2; n <= 6; n++)
        cr_assert_str_eq(s_publish(s, "rf.interference_report", "agency", n), "ACK");
    cr_assert(log_inspect_wait_kind(harness_state_dir(h), "dispatched", "rf", 5, 10000));

    /* The area goes while its worker holds five requests: they stay pending. */
    harness_write_config(h, "[delivery]\nheartbeat_ms = 200\n" AREAS);
    s_hup(h, "reloaded");
    cr_assert(strstr(s_last_fields(h, "reloaded"), "areas_removed=rf;"));
    cr_assert_eq(log_inspect_count_kind(harness_state_dir(h), "worker_lost", "rf"), 1);
    cr_assert_eq(log_inspect_count(harness_state_dir(h), "pending"), 5);
    cr_assert_str_eq(s_publish(s, "rf.interference_report", "agency", 7), "NACK");
    worker_process_stop(w, SIGKILL);

    /* Back again: the five are delivered, as after a restart. */
    harness_write_config(h, "[delivery]\nheartbeat_ms = 200\n" AREAS
                            "[area rf]\ntypes = rf.*\nspawn = no\n");
    s_hup(h, "reloaded");
    const char *fast[] = {"--heartbeat-ms", "200", NULL};
    w = worker_process_python(h, "rf", fast);
    cr_assert(log_inspect_wait_empty(harness_state_dir(h), "pending", 15000), "%s",
              harness_daemon_log(h));
    cr_assert_eq(log_inspect_count_kind(harness_state_dir(h), "completed", "rf"), 5);
    worker_process_stop(w, SIGTERM);
    zmq_close(s);
    cr_assert_eq(harness_stop(h, 10000), 0);
    s_assert_gapless(h);
    harness_destroy(&h);
}

/* Events in flight while reloads happen: every one answered, all in the log once. */
Test(reload, events_during_reloads, .timeout = 90)
{
    struct harness *h = harness_new(NULL, NULL);
    harness_write_config(h, AREAS "[source agency]\nallow = press.* cyber.*\n");
    cr_assert_eq(harness_start(h, 10000), 0, "%s", harness_daemon_log(h));
    void *s = harness_dealer(h);
    uint8_t buf[4096], body[1024];
    unsigned sent = 0, acked = 0;
    for (unsigned round = 0; round < 10; round++) {
        for (unsigned i = 0; i < 100; i++, sent++) {
            uint8_t id[16] = {0xd0, 0x1e};
            memcpy(id + 8, &sent, sizeof sent);
            size_t len =
                harness_envelope(buf, sizeof buf, id, "press.conference_notice", "agency", sent);
            cr_assert_eq(harness_send_pub(s, buf, len), 0);
        }
        /* Alternate two configs, so that every reload changes something. */
        harness_write_config(h, round % 2 ? AREAS "[source agency]\nallow = press.* cyber.*\n"
                                          : AREAS "[source agency]\nallow = press.*\n");
        cr_assert_eq(kill(harness_pid(h), SIGHUP), 0);
    }
    char cmd[8];
    while (acked < sent && harness_recv_reply(s, cmd, body, sizeof body, 10000) >= 0) {
        cr_assert_str_eq(cmd, "ACK");
        acked++;
    }
    cr_assert_eq(acked, sent);
    cr_assert(log_inspect_wait_kind(harness_state_dir(h), "reloaded", NULL, 1, 10000));
    zmq_close(s);
    cr_assert_eq(harness_stop(h, 10000), 0);
    cr_assert_eq(s_count(h, "accepted"), (long)sent);
    s_assert_gapless(h);
    harness_destroy(&h);
}

/* With CURVE: a key added works at once; a key removed stops on its open connection too. */
Test(reload, keys_added_and_removed, .timeout = 60)
{
    struct harness *h = harness_new(NULL, NULL);
    char keys[400], sources[420], made[420];
    struct curve_cert server, soc, agency2;
    struct config_error err;
    snprintf(keys, sizeof keys, "%s/keys", harness_dir(h));
    snprintf(sources, sizeof sources, "%s/sources", keys);
    snprintf(made, sizeof made, "%s/made", keys);
    cr_assert_eq(mkdir(keys, 0700), 0);
    cr_assert_eq(mkdir(sources, 0700), 0);
    cr_assert_eq(mkdir(made, 0700), 0);
    cr_assert_eq(curve_cert_generate(keys, "server", &server, &err), 0);
    cr_assert_eq(curve_cert_generate(made, "soc", &soc, &err), 0);
    cr_assert_eq(curve_cert_generate(made, "agency2", &agency2, &err), 0);
    char from[600], to[600];
    snprintf(from, sizeof from, "%s/soc.key", made);
    snprintf(to, sizeof to, "%s/soc.key", sources);
    cr_assert_eq(rename(from, to), 0);
    char sec[1400];
    snprintf(sec, sizeof sec,
             "[security]\ncurve = on\nserver_secret_key = %s/server.key_secret\nsources_dir = %s\n",
             keys, sources);
    char text[2000];
    snprintf(text, sizeof text, "%s%s", AREAS, sec);
    harness_write_config(h, text);
    harness_set_curve(h, server.public_z85, soc.public_z85, soc.secret_z85);
    cr_assert_eq(harness_start(h, 10000), 0, "%s", harness_daemon_log(h));
    void *old = harness_dealer(h);
    cr_assert_str_eq(s_publish(old, "cyber.soc_alert", "soc", 1), "ACK");

    /* soc's key goes, agency2's comes. */
    snprintf(from, sizeof from, "%s/agency2.key", made);
    snprintf(to, sizeof to, "%s/agency2.key", sources);
    cr_assert_eq(rename(from, to), 0);
    snprintf(to, sizeof to, "%s/soc.key", sources);
    cr_assert_eq(unlink(to), 0);
    s_hup(h, "reloaded");
    const char *f = s_last_fields(h, "reloaded");
    cr_assert(strstr(f, "source_keys_added=agency2;") && strstr(f, "source_keys_removed=soc;"),
              "%s", f);

    /* The connection soc's key opened before is still there: its events are refused. */
    cr_assert_str_eq(s_publish(old, "cyber.soc_alert", "soc", 2), "NACK");
    cr_assert_eq(log_inspect_count_field(harness_state_dir(h), "rejected", "code", "forbidden"), 1);
    harness_set_curve(h, server.public_z85, agency2.public_z85, agency2.secret_z85);
    void *fresh = harness_dealer(h);
    cr_assert_str_eq(s_publish(fresh, "cyber.soc_alert", "agency2", 3), "ACK");
    zmq_close(fresh);
    /* A new connection with soc's key gets none. */
    harness_set_curve(h, server.public_z85, soc.public_z85, soc.secret_z85);
    void *again = harness_dealer(h);
    uint8_t id[16] = {0x99}, buf[4096], body[256];
    char cmd[8];
    size_t len = harness_envelope(buf, sizeof buf, id, "cyber.soc_alert", "soc", 4);
    cr_assert_eq(harness_send_pub(again, buf, len), 0);
    cr_assert_lt(harness_recv_reply(again, cmd, body, sizeof body, 1500), 0);
    cr_assert(log_inspect_wait_kind(harness_state_dir(h), "auth_refused", NULL, 1, 5000));
    zmq_close(again);
    zmq_close(old);
    harness_set_curve(h, server.public_z85, agency2.public_z85, agency2.secret_z85);
    cr_assert_eq(harness_stop(h, 10000), 0);
    cr_assert_eq(s_count(h, "accepted"), 2);
    s_assert_gapless(h);
    harness_destroy(&h);
}

/* systemd's notify protocol: READY=1 at start, RELOADING=1 then READY=1 around a reload. */
Test(reload, tells_systemd, .timeout = 30)
{
    struct harness *h = harness_new(NULL, NULL);
    harness_write_config(h, AREAS);
    char path[400];
    snprintf(path, sizeof path, "%s/notify.sock", harness_dir(h));
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    cr_assert_lt(strlen(path), sizeof sa.sun_path);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    setenv("NOTIFY_SOCKET", path, 1);
    cr_assert_eq(harness_start(h, 10000), 0, "%s", harness_daemon_log(h));
    unsetenv("NOTIFY_SOCKET");
    s_hup(h, "reloaded");
    char all[1024] = "", msg[256];
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssize_t n;
    while (!strstr(all, "RELOADING=1\nREADY=1") && (n = recv(fd, msg, sizeof msg - 1, 0)) > 0) {
        msg[n] = '\0';
        strncat(all, msg, sizeof all - strlen(all) - 2);
        strcat(all, "\n");
    }
    cr_assert(strstr(all, "READY=1\nRELOADING=1\nREADY=1"), "%s", all);
    close(fd);
    cr_assert_eq(harness_stop(h, 10000), 0);
    harness_destroy(&h);
}

/* Spawned workers follow the areas: a new area's start, a removed one's stop. */
Test(reload, spawned_workers_follow_the_areas, .timeout = 60)
{
    struct harness *h = harness_new(NULL, NULL);
    harness_write_config(h, AREAS);
    cr_assert_eq(harness_start(h, 10000), 0, "%s", harness_daemon_log(h));
    harness_write_config(h, AREAS "[area rf]\ntypes = rf.*\nspawn = yes\nworkers = 1\n");
    s_hup(h, "reloaded");
    cr_assert(log_inspect_wait_kind(harness_state_dir(h), "worker_joined", "rf", 1, 15000),
              "no rf worker was started:\n%s", harness_daemon_log(h));
    void *s = harness_dealer(h);
    cr_assert_str_eq(s_publish(s, "rf.interference_report", "agency", 1), "ACK");
    cr_assert(log_inspect_wait_kind(harness_state_dir(h), "completed", "rf", 1, 15000), "%s",
              harness_daemon_log(h));
    harness_write_config(h, AREAS);
    s_hup(h, "reloaded");
    cr_assert(log_inspect_wait_kind(harness_state_dir(h), "worker_lost", "rf", 1, 15000), "%s",
              harness_daemon_log(h));
    zmq_close(s);
    cr_assert_eq(harness_stop(h, 10000), 0);
    s_assert_gapless(h);
    harness_destroy(&h);
}

/* A reload does not hand a source over its rate a fresh burst. */
Test(reload, rate_buckets_keep_their_tokens, .timeout = 30)
{
    struct harness *h = harness_new(NULL, NULL);
    harness_write_config(h, AREAS "[source agency]\nallow = press.*\nrate = 0.01\nburst = 3\n");
    cr_assert_eq(harness_start(h, 10000), 0, "%s", harness_daemon_log(h));
    void *s = harness_dealer(h);
    for (uint64_t n = 1; n <= 3; n++)
        cr_assert_str_eq(s_publish(s, "press.conference_notice", "agency", n), "ACK");
    cr_assert_str_eq(s_publish(s, "press.conference_notice", "agency", 4), "NACK");
    harness_write_config(h, AREAS
                         "[source agency]\nallow = press.* cyber.*\nrate = 0.01\nburst = 3\n");
    s_hup(h, "reloaded");
    cr_assert_str_eq(s_publish(s, "press.conference_notice", "agency", 5), "NACK",
                     "the reload refilled the bucket");
    cr_assert_eq(log_inspect_count_field(harness_state_dir(h), "rejected", "code", "rate_limited"),
                 2);
    zmq_close(s);
    cr_assert_eq(harness_stop(h, 10000), 0);
    harness_destroy(&h);
}
