/*
 * mandate-worker against a broker played by the test: the real binary, a
 * ROUTER the test binds on ipc in a temporary directory, and a config with
 * a 100 ms heartbeat. READY with its credit, REQUEST -> REPLY through the
 * generic handler, an event that is no envelope, heartbeats, reconnection
 * after broker silence and after DISCONNECT, and the SIGTERM drain.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <msgpack.h>
#include <zmq.h>

#include "proto/mdp.h"
#include "tests/support/daemon_harness.h"

#define HEARTBEAT_MS 100
#define LIVENESS     3
#define CREDIT       4
#define MAX_FRAMES   8

static struct {
    char dir[256];
    char config[300];
    char log[300];
    char endpoint[300];
    void *ctx;
    void *router;
    pid_t pid;
} s_t;

/* One message from the worker: the routing id, then the MDP frames. */
struct wmsg {
    size_t n;
    zmq_msg_t part[MAX_FRAMES];
    struct mdp_frame fr[MAX_FRAMES];
    struct mdp_msg mdp;
    char id[256];
};

static int64_t
s_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *
s_worker_bin(void)
{
    const char *b = getenv("MANDATE_WORKER_BIN");

    return b ? b : "build/mandate-worker";
}

static void
s_setup(void)
{
    FILE *f;

    cr_assert_eq(harness_mkdtemp(s_t.dir, sizeof(s_t.dir), "mandate-worker-test"), 0);
    snprintf(s_t.config, sizeof(s_t.config), "%s/mandated.conf", s_t.dir);
    snprintf(s_t.log, sizeof(s_t.log), "%s/worker.log", s_t.dir);
    snprintf(s_t.endpoint, sizeof(s_t.endpoint), "ipc://%s/workers.ipc", s_t.dir);
    f = fopen(s_t.config, "w");
    cr_assert_not_null(f);
    fprintf(f,
            "[broker]\nworkers = %s\nstate_dir = %s/var\n\n"
            "[delivery]\nheartbeat_ms = %d\nliveness = %d\n\n"
            "[area press]\nunit = Phòng Thông tin - Báo chí - Xuất bản\n"
            "types = press.conference_notice\ncredit = %d\nspawn = no\n",
            s_t.endpoint, s_t.dir, HEARTBEAT_MS, LIVENESS, CREDIT);
    fclose(f);

    s_t.ctx = zmq_ctx_new();
    s_t.router = zmq_socket(s_t.ctx, ZMQ_ROUTER);
    int one = 1, zero = 0;
    zmq_setsockopt(s_t.router, ZMQ_ROUTER_MANDATORY, &one, sizeof(one));
    zmq_setsockopt(s_t.router, ZMQ_LINGER, &zero, sizeof(zero));
    cr_assert_eq(zmq_bind(s_t.router, s_t.endpoint), 0, "bind %s: %s", s_t.endpoint,
                 zmq_strerror(errno));
    s_t.pid = -1;
}

static void
s_teardown(void)
{
    if (s_t.pid > 0) {
        kill(s_t.pid, SIGKILL);
        waitpid(s_t.pid, NULL, 0);
    }
    zmq_close(s_t.router);
    zmq_ctx_term(s_t.ctx);
    harness_rm_rf(s_t.dir);
}

TestSuite(worker, .init = s_setup, .fini = s_teardown, .timeout = 60);

/* What the worker logged so far, for failure messages (static, cut short). */
static const char *
s_log(void)
{
    static char buf[8192];
    char *all = harness_read_file(s_t.log);
    size_t n = strlen(all);
    const char *tail = n > sizeof(buf) - 1 ? all + n - (sizeof(buf) - 1) : all;

    snprintf(buf, sizeof(buf), "%s", tail);
    free(all);
    return buf;
}

/* Starts mandate-worker --area press with extra arguments (NULL-terminated). */
static void
s_spawn(const char *extra, ...)
{
    const char *argv[16] = {s_worker_bin(), "--area", "press", "-c", s_t.config, "-v"};
    size_t argc = 6;
    va_list ap;

    va_start(ap, extra);
    for (const char *a = extra; a && argc < 15; a = va_arg(ap, const char *))
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;

    fflush(NULL);
    s_t.pid = fork();
    cr_assert_geq(s_t.pid, 0);
    if (s_t.pid == 0) {
        int fd = open(s_t.log, O_WRONLY | O_CREAT | O_APPEND, 0600);

        if (fd >= 0) {
            dup2(fd, 2);
            close(fd);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
}

/* Waits up to timeout_ms for the worker to exit; its exit code, or -1. */
static int
s_wait_exit(int timeout_ms)
{
    int64_t end = s_now_ms() + timeout_ms;
    int status;

    while (s_now_ms() < end) {
        pid_t r = waitpid(s_t.pid, &status, WNOHANG);

        if (r == s_t.pid) {
            s_t.pid = -1;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        usleep(10000);
    }
    return -1;
}

static void
s_msg_close(struct wmsg *m)
{
    for (size_t i = 0; i < m->n; i++)
        zmq_msg_close(&m->part[i]);
    m->n = 0;
}

/* Receives one message within timeout_ms and parses it; false on timeout. */
static bool
s_recv(struct wmsg *m, int timeout_ms)
{
    zmq_pollitem_t item = {s_t.router, 0, ZMQ_POLLIN, 0};
    char err[MDP_ERROR_MAX];
    int more = 1, rc;

    m->n = 0;
    if (zmq_poll(&item, 1, timeout_ms) <= 0)
        return false;
    while (more) {
        size_t sz = sizeof(more);

        cr_assert_lt(m->n, MAX_FRAMES, "too many frames");
        zmq_msg_init(&m->part[m->n]);
        cr_assert_geq(zmq_msg_recv(&m->part[m->n], s_t.router, 0), 0);
        m->fr[m->n].data = zmq_msg_data(&m->part[m->n]);
        m->fr[m->n].len = zmq_msg_size(&m->part[m->n]);
        m->n++;
        zmq_getsockopt(s_t.router, ZMQ_RCVMORE, &more, &sz);
    }
    snprintf(m->id, sizeof(m->id), "%.*s", (int)m->fr[0].len, (const char *)m->fr[0].data);
    rc = mdp_parse_from_worker(m->fr + 1, m->n - 1, &m->mdp, err);
    cr_assert_eq(rc, 0, "worker sent a malformed message: %s\nworker log:\n%s", err, s_log());
    return true;
}

/*
 * Receives until a message with command cmd arrives (heartbeats skipped
 * unless cmd is HEARTBEAT); fails on anything else or after timeout_ms.
 */
static void
s_expect(struct wmsg *m, enum mdp_command cmd, int timeout_ms)
{
    int64_t end = s_now_ms() + timeout_ms;

    for (;;) {
        int64_t left = end - s_now_ms();

        cr_assert(left > 0 && s_recv(m, (int)left), "no %s within %d ms\nworker log:\n%s",
                  mdp_command_name(cmd), timeout_ms, s_log());
        if (m->mdp.command == cmd)
            return;
        cr_assert_eq(m->mdp.command, MDP_HEARTBEAT, "%s while waiting for %s\nworker log:\n%s",
                     mdp_command_name(m->mdp.command), mdp_command_name(cmd), s_log());
        s_msg_close(m);
    }
}

/* Sends id + the MDP frames to the worker. */
static void
s_send(const char *id, const struct mdp_frame *f, size_t n)
{
    cr_assert_eq(zmq_send(s_t.router, id, strlen(id), ZMQ_SNDMORE), (int)strlen(id), "%s",
                 zmq_strerror(errno));
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(zmq_send(s_t.router, f[i].data, f[i].len, i + 1 < n ? ZMQ_SNDMORE : 0),
                     (int)f[i].len);
}

static void
s_send_command(const char *id, enum mdp_command cmd)
{
    const uint8_t c = (uint8_t)cmd;
    const struct mdp_frame f[] = {{"", 0}, {MDPW_PROTOCOL, 6}, {&c, 1}};

    s_send(id, f, 3);
}

static void
s_send_request(const char *id, uint64_t seq, const void *event, size_t len)
{
    const uint8_t c = MDP_REQUEST;
    char addr[24];
    msgpack_sbuffer body;

    msgpack_sbuffer_init(&body);
    mdp_pack_request(&body, seq, 1, "press", event, len);
    {
        const struct mdp_frame f[] = {{"", 0}, {MDPW_PROTOCOL, 6},
                                      {&c, 1}, {addr, mdp_seq_address(seq, addr)},
                                      {"", 0}, {body.data, body.size}};

        s_send(id, f, 6);
    }
    msgpack_sbuffer_destroy(&body);
}

static size_t
s_envelope(uint8_t *buf, size_t size, uint64_t n)
{
    uint8_t id[16] = {0xaa};

    memcpy(id + 8, &n, sizeof(n));
    return harness_envelope(buf, size, id, "press.conference_notice", "soc", n);
}

/* The str value of key in map, or NULL. */
static const msgpack_object *
s_get(const msgpack_object *map, const char *key)
{
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];

        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen(key) &&
            memcmp(kv->key.via.str.ptr, key, kv->key.via.str.size) == 0)
            return &kv->val;
    }
    return NULL;
}

static void
s_assert_str(const msgpack_object *o, const char *want)
{
    cr_assert_not_null(o);
    cr_assert_eq(o->type, MSGPACK_OBJECT_STR);
    cr_assert_eq(o->via.str.size, strlen(want), "'%.*s' vs '%s'", (int)o->via.str.size,
                 o->via.str.ptr, want);
    cr_assert_eq(memcmp(o->via.str.ptr, want, o->via.str.size), 0);
}

/* Receives READY and checks service and credit; leaves its id in id. */
static void
s_expect_ready(char *id, size_t size, unsigned credit)
{
    struct wmsg m;

    s_expect(&m, MDP_READY, 5000);
    cr_assert_str_eq(m.mdp.service, "press");
    cr_assert_eq(m.n, 6, "READY carries the credit frame");
    cr_assert_eq(m.mdp.credit, credit);
    snprintf(id, size, "%s", m.id);
    s_msg_close(&m);
}

Test(worker, ready_request_reply_and_heartbeats)
{
    char id[256], want_id[64];
    uint8_t env[512];
    size_t len = s_envelope(env, sizeof(env), 1);
    struct wmsg m;
    struct mdp_outcome out;

    s_spawn(NULL);
    s_expect_ready(id, sizeof(id), CREDIT);
    snprintf(want_id, sizeof(want_id), "press-%ld-1", (long)s_t.pid);
    cr_assert_str_eq(id, want_id, "routing id AREA-PID-N");

    s_send_request(id, 42, env, len);
    s_expect(&m, MDP_REPLY, 5000);
    cr_assert_str_eq(m.id, id);
    cr_assert(m.mdp.has_seq);
    cr_assert_eq(m.mdp.seq, 42);
    cr_assert_eq(m.mdp.nbody, 1);
    mdp_outcome_decode(m.mdp.body[0].data, m.mdp.body[0].len, &out);
    cr_assert_not(out.opaque);
    cr_assert_eq(out.status, MDP_STATUS_DONE, "%s: %s", mdp_status_name(out.status), out.note);
    cr_assert_not_null(out.result);
    s_assert_str(s_get(out.result, "area"), "press");
    s_assert_str(s_get(out.result, "unit"), "Phòng Thông tin - Báo chí - Xuất bản");
    s_assert_str(s_get(out.result, "type"), "press.conference_notice");
    {
        const msgpack_object *at = s_get(out.result, "handled_at");
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        cr_assert_not_null(at);
        cr_assert_eq(at->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
        cr_assert_leq(at->via.u64, (uint64_t)ts.tv_sec * 1000 + 1000);
        cr_assert_geq(at->via.u64, (uint64_t)ts.tv_sec * 1000 - 60000);
    }
    cr_assert_eq(out.nemit, 0);
    mdp_outcome_release(&out);
    s_msg_close(&m);

    /* Heartbeats every HEARTBEAT_MS while nothing else is sent; ours keep it connected. */
    {
        int64_t end = s_now_ms() + 10 * HEARTBEAT_MS;
        int beats = 0;

        while (s_now_ms() < end) {
            if (!s_recv(&m, 20))
                continue;
            cr_assert_eq(m.mdp.command, MDP_HEARTBEAT, "%s", mdp_command_name(m.mdp.command));
            cr_assert_str_eq(m.id, id, "same connection");
            beats++;
            s_msg_close(&m);
            s_send_command(id, MDP_HEARTBEAT);
        }
        cr_assert_geq(beats, 5, "%d heartbeats in %d ms", beats, 10 * HEARTBEAT_MS);
        cr_assert_leq(beats, 12, "%d heartbeats in %d ms", beats, 10 * HEARTBEAT_MS);
    }
}

Test(worker, event_that_is_not_an_envelope_fails_naming_the_field)
{
    static const uint8_t no_id[] = "\x82\xa1v\x01\xa4type\xa1x"; /* {"v": 1, "type": "x"} */
    uint8_t env[512];
    size_t len = s_envelope(env, sizeof(env), 7);
    char id[256];
    struct wmsg m;
    struct mdp_outcome out;

    s_spawn("--credit", "2", NULL);
    s_expect_ready(id, sizeof(id), 2);

    s_send_request(id, 8, no_id, sizeof(no_id) - 1);
    s_expect(&m, MDP_REPLY, 5000);
    cr_assert_eq(m.mdp.seq, 8);
    mdp_outcome_decode(m.mdp.body[0].data, m.mdp.body[0].len, &out);
    cr_assert_not(out.opaque);
    cr_assert_eq(out.status, MDP_STATUS_FAILED);
    cr_assert(strstr(out.note, "field '") != NULL, "note names a field: %s", out.note);
    cr_assert_null(out.result);
    mdp_outcome_release(&out);
    s_msg_close(&m);

    /* The next good event is served normally. */
    s_send_request(id, 9, env, len);
    s_expect(&m, MDP_REPLY, 5000);
    cr_assert_eq(m.mdp.seq, 9);
    mdp_outcome_decode(m.mdp.body[0].data, m.mdp.body[0].len, &out);
    cr_assert_eq(out.status, MDP_STATUS_DONE, "%s", out.note);
    mdp_outcome_release(&out);
    s_msg_close(&m);

    /* A body that is not a REQUEST map is answered `failed`, naming the fault. */
    {
        const uint8_t c = MDP_REQUEST;
        const struct mdp_frame f[] = {{"", 0}, {MDPW_PROTOCOL, 6},    {&c, 1}, {"10", 2},
                                      {"", 0}, {"\x81\xa3seq\x0a", 6}};

        s_send(id, f, 6);
    }
    s_expect(&m, MDP_REPLY, 5000);
    cr_assert_eq(m.mdp.seq, 10);
    mdp_outcome_decode(m.mdp.body[0].data, m.mdp.body[0].len, &out);
    cr_assert_eq(out.status, MDP_STATUS_FAILED);
    cr_assert(strstr(out.note, "field 'attempt': missing"), "%s", out.note);
    mdp_outcome_release(&out);
    s_msg_close(&m);
}

Test(worker, silent_broker_means_reconnect_with_a_new_identity)
{
    char id1[256], id2[256], want[64];
    int64_t t0;
    struct wmsg m;

    s_spawn(NULL);
    s_expect_ready(id1, sizeof(id1), CREDIT);
    t0 = s_now_ms();
    /* Say nothing: after LIVENESS * HEARTBEAT_MS the worker gives up on us. */
    s_expect_ready(id2, sizeof(id2), CREDIT);
    cr_assert_geq(s_now_ms() - t0, LIVENESS * HEARTBEAT_MS - 20, "not before liveness ran out");
    snprintf(want, sizeof(want), "press-%ld-2", (long)s_t.pid);
    cr_assert_str_eq(id2, want);
    cr_assert_str_neq(id1, id2);

    /* The new connection works. */
    {
        uint8_t env[512];
        size_t len = s_envelope(env, sizeof(env), 3);

        s_send_request(id2, 3, env, len);
        s_expect(&m, MDP_REPLY, 5000);
        cr_assert_str_eq(m.id, id2);
        cr_assert_eq(m.mdp.seq, 3);
        s_msg_close(&m);
    }
}

Test(worker, disconnect_from_the_broker_means_reconnect)
{
    char id1[256], id2[256];

    s_spawn(NULL);
    s_expect_ready(id1, sizeof(id1), CREDIT);
    s_send_command(id1, MDP_DISCONNECT);
    s_expect_ready(id2, sizeof(id2), CREDIT);
    cr_assert_str_neq(id1, id2);
}

Test(worker, sigterm_answers_what_is_in_flight_then_disconnects)
{
    enum { N = CREDIT };
    char id[256];
    uint8_t env[512];
    struct wmsg m;
    bool seen[N + 1] = {false};

    s_spawn(NULL);
    s_expect_ready(id, sizeof(id), CREDIT);
    for (uint64_t seq = 1; seq <= N; seq++) {
        size_t len = s_envelope(env, sizeof(env), seq);

        s_send_request(id, seq, env, len);
    }
    cr_assert_eq(kill(s_t.pid, SIGTERM), 0);

    for (int i = 0; i < N; i++) {
        struct mdp_outcome out;

        s_expect(&m, MDP_REPLY, 5000);
        cr_assert(m.mdp.has_seq && m.mdp.seq >= 1 && m.mdp.seq <= N);
        cr_assert_not(seen[m.mdp.seq], "one reply per request");
        seen[m.mdp.seq] = true;
        mdp_outcome_decode(m.mdp.body[0].data, m.mdp.body[0].len, &out);
        cr_assert_eq(out.status, MDP_STATUS_DONE, "%s", out.note);
        mdp_outcome_release(&out);
        s_msg_close(&m);
    }
    s_expect(&m, MDP_DISCONNECT, 5000);
    cr_assert_str_eq(m.id, id);
    s_msg_close(&m);
    cr_assert_eq(s_wait_exit(10000), 0, "exit code\nworker log:\n%s", s_log());
    cr_assert(strstr(s_log(), "4 requests served"), "%s", s_log());
}

/* A request that arrives during the drain is still answered. */
Test(worker, drain_keeps_answering_until_quiet)
{
    char id[256];
    uint8_t env[512];
    struct wmsg m;

    s_spawn(NULL);
    s_expect_ready(id, sizeof(id), CREDIT);
    cr_assert_eq(kill(s_t.pid, SIGTERM), 0);
    usleep(50 * 1000);
    s_send_request(id, 5, env, s_envelope(env, sizeof(env), 5));
    s_expect(&m, MDP_REPLY, 5000);
    cr_assert_eq(m.mdp.seq, 5);
    s_msg_close(&m);
    s_expect(&m, MDP_DISCONNECT, 5000);
    s_msg_close(&m);
    cr_assert_eq(s_wait_exit(10000), 0, "worker log:\n%s", s_log());
}

Test(worker, bad_area_and_bad_config_exit_78)
{
    const char *argv_area[] = {s_worker_bin(), "--area", "nope", "-c", s_t.config, NULL};

    s_t.pid = fork();
    cr_assert_geq(s_t.pid, 0);
    if (s_t.pid == 0) {
        int fd = open(s_t.log, O_WRONLY | O_CREAT | O_APPEND, 0600);

        dup2(fd, 2);
        execv(argv_area[0], (char *const *)argv_area);
        _exit(127);
    }
    cr_assert_eq(s_wait_exit(10000), 78);
    cr_assert(strstr(s_log(), "no [area nope]"), "%s", s_log());

    s_spawn("-c", "/nonexistent/mandated.conf", NULL);
    cr_assert_eq(s_wait_exit(10000), 78);
}
