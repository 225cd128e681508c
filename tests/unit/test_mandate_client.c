/*
 * test_mandate_client: libmandate against a scripted ROUTER in the same
 * process (no daemon): correlation of out-of-order replies, resends of the
 * very same bytes, the local timeout, a NACK without id, stray and malformed
 * replies, PING, the window under a real broker-like echo thread, and the
 * UUIDv7 ids.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "proto/envelope.h"
#include "proto/mep.h"
#include "tools/mandate_client.h"

static void *s_ctx, *s_router;
static char s_endpoint[64];

static void
s_setup(void)
{
    int linger = 0;

    snprintf(s_endpoint, sizeof(s_endpoint), "ipc:///tmp/test_mandate_client.%d", (int)getpid());
    s_ctx = zmq_ctx_new();
    s_router = zmq_socket(s_ctx, ZMQ_ROUTER);
    zmq_setsockopt(s_router, ZMQ_LINGER, &linger, sizeof(linger));
    cr_assert_eq(zmq_bind(s_router, s_endpoint), 0);
}

static void
s_teardown(void)
{
    zmq_close(s_router);
    zmq_ctx_term(s_ctx);
    unlink(s_endpoint + 6);
}

TestSuite(client, .init = s_setup, .fini = s_teardown);

/* ---- the scripted broker ---- */

struct req {
    uint8_t peer[256];
    size_t peer_len;
    char cmd[8];
    uint8_t body[4096];
    size_t body_len;
};

/* Receives one request (identity, "MEP1", cmd, body) within timeout_ms; false if none. */
static bool
s_recv_req(struct req *r, int timeout_ms)
{
    zmq_pollitem_t it = {.socket = s_router, .events = ZMQ_POLLIN};
    char proto[8];
    int n;

    if (zmq_poll(&it, 1, timeout_ms) <= 0)
        return false;
    memset(r, 0, sizeof(*r));
    n = zmq_recv(s_router, r->peer, sizeof(r->peer), 0);
    cr_assert_gt(n, 0);
    r->peer_len = (size_t)n;
    cr_assert_eq(zmq_recv(s_router, proto, sizeof(proto), 0), 4);
    cr_assert_eq(memcmp(proto, "MEP1", 4), 0);
    n = zmq_recv(s_router, r->cmd, sizeof(r->cmd) - 1, 0);
    cr_assert_gt(n, 0);
    n = zmq_recv(s_router, r->body, sizeof(r->body), 0);
    cr_assert_geq(n, 0);
    r->body_len = (size_t)n;
    int more;
    size_t ml = sizeof(more);
    zmq_getsockopt(s_router, ZMQ_RCVMORE, &more, &ml);
    cr_assert_eq(more, 0, "exactly three frames after the identity");
    return true;
}

static void
s_reply_raw(const struct req *to, const char *proto, const char *cmd, const void *body, size_t len)
{
    zmq_send(s_router, to->peer, to->peer_len, ZMQ_SNDMORE);
    zmq_send(s_router, proto, strlen(proto), ZMQ_SNDMORE);
    zmq_send(s_router, cmd, strlen(cmd), ZMQ_SNDMORE);
    zmq_send(s_router, body, len, 0);
}

static void
s_ack(const struct req *to, const uint8_t id[16], uint64_t seq, bool dup)
{
    msgpack_sbuffer sb;

    msgpack_sbuffer_init(&sb);
    mep_pack_ack(&sb, id, seq, dup);
    s_reply_raw(to, "MEP1", "ACK", sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

static void
s_nack(const struct req *to, const uint8_t *id, enum mep_code code, const char *reason)
{
    msgpack_sbuffer sb;

    msgpack_sbuffer_init(&sb);
    mep_pack_nack(&sb, id, code, reason);
    s_reply_raw(to, "MEP1", "NACK", sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

static void
s_req_id(const struct req *r, uint8_t id[16])
{
    struct envelope env;
    struct envelope_error err;

    cr_assert_str_eq(r->cmd, "PUB");
    cr_assert_eq(envelope_decode(r->body, r->body_len, &envelope_default_limits, &env, &err), 0,
                 "the client sends valid envelopes: %s", err.reason);
    memcpy(id, env.id, 16);
    envelope_release(&env);
}

/* ---- the client side ---- */

struct got {
    unsigned n;
    struct mep_reply replies[64];
    void *users[64];
};

static void
s_on_reply(void *cb_arg, const struct mep_reply *reply, void *user)
{
    struct got *g = cb_arg;

    cr_assert_lt(g->n, 64);
    g->replies[g->n] = *reply;
    g->users[g->n] = user;
    g->n++;
}

static struct mandate_client *
s_client(struct got *g, unsigned window, unsigned timeout_ms, unsigned resends)
{
    struct mandate_client_options o;
    struct mandate_client *c;

    mandate_client_options_init(&o);
    o.window = window;
    o.timeout_ms = timeout_ms;
    o.max_resends = resends;
    o.on_reply = s_on_reply;
    o.cb_arg = g;
    c = mandate_client_new(s_endpoint, &o);
    cr_assert_not_null(c);
    return c;
}

static void
s_publish(struct mandate_client *c, uint8_t id[16], void *user)
{
    struct envelope_fields f = {.id = id, .type = "press.bulletin", .source = "test", .time_ms = 1};

    mandate_new_id(id);
    cr_assert_eq(mandate_client_publish(c, &f, user), 0);
}

static void
s_poll_until(struct mandate_client *c, struct got *g, unsigned n)
{
    for (int i = 0; i < 100 && g->n < n; i++)
        mandate_client_poll(c, 20);
    cr_assert_eq(g->n, n, "%u callbacks, want %u", g->n, n);
}

Test(client, correlates_out_of_order_acks)
{
    struct got g = {0};
    struct mandate_client *c = s_client(&g, 8, 5000, 0);
    uint8_t ids[3][16], rid[16];
    struct req r[3];

    for (int i = 0; i < 3; i++)
        s_publish(c, ids[i], (void *)(uintptr_t)(i + 1));
    cr_expect_eq(mandate_client_in_flight(c), 3);
    for (int i = 0; i < 3; i++) {
        cr_assert(s_recv_req(&r[i], 1000));
        s_req_id(&r[i], rid);
        cr_expect_eq(memcmp(rid, ids[i], 16), 0, "sent in publish order");
    }
    s_ack(&r[2], ids[2], 30, false);
    s_ack(&r[0], ids[0], 10, true);
    s_ack(&r[1], ids[1], 20, false);
    s_poll_until(c, &g, 3);
    cr_expect_eq(g.users[0], (void *)3);
    cr_expect_eq(g.replies[0].seq, 30);
    cr_expect_eq(g.users[1], (void *)1);
    cr_expect(g.replies[1].dup);
    cr_expect_eq(g.users[2], (void *)2);
    cr_expect_eq(mandate_client_in_flight(c), 0);
    cr_expect_eq(mandate_client_flush(c, 0), 0);

    struct mandate_client_stats st;
    mandate_client_get_stats(c, &st);
    cr_expect(st.published == 3 && st.acked == 3 && st.dups == 1 && st.resent == 0);
    mandate_client_destroy(&c);
    cr_expect_null(c);
    mandate_client_destroy(&c);
}

Test(client, resends_the_same_bytes_then_ignores_the_late_ack)
{
    struct got g = {0};
    struct mandate_client *c = s_client(&g, 8, 40, 3);
    uint8_t id[16];
    struct req a, b;

    s_publish(c, id, NULL);
    cr_assert(s_recv_req(&a, 1000));
    mandate_client_poll(c, 100); /* the timer fires inside */
    cr_assert(s_recv_req(&b, 1000), "a resend after the timeout");
    cr_expect_eq(a.body_len, b.body_len);
    cr_expect_eq(memcmp(a.body, b.body, a.body_len), 0, "byte for byte, same id");
    s_ack(&b, id, 5, false);
    s_poll_until(c, &g, 1);
    s_ack(&a, id, 5, true); /* the answer to the first copy comes late */
    mandate_client_poll(c, 50);
    cr_expect_eq(g.n, 1, "one callback per event");

    struct mandate_client_stats st;
    mandate_client_get_stats(c, &st);
    cr_expect_geq(st.resent, 1);
    cr_expect_eq(st.stray, 1);
    mandate_client_destroy(&c);
}

Test(client, times_out_after_max_resends)
{
    struct got g = {0};
    struct mandate_client *c = s_client(&g, 8, 30, 2);
    uint8_t id[16];
    struct req r;
    int copies = 0;

    s_publish(c, id, (void *)7);
    cr_expect_eq(mandate_client_flush(c, 5000), 0, "flush ends when the event fails");
    while (s_recv_req(&r, 0))
        copies++;
    cr_expect_eq(copies, 3, "sent once and resent twice");
    cr_assert_eq(g.n, 1);
    cr_expect(!g.replies[0].is_ack);
    cr_expect_eq(g.replies[0].code, MEP_UNAVAILABLE);
    cr_expect(g.replies[0].retry);
    cr_expect(g.replies[0].has_id && memcmp(g.replies[0].id, id, 16) == 0);
    cr_expect(strncmp(g.replies[0].reason, "timeout", 7) == 0, "%s", g.replies[0].reason);
    cr_expect_eq(g.users[0], (void *)7);
    mandate_client_destroy(&c);
}

Test(client, nack_without_id_goes_to_the_oldest)
{
    struct got g = {0};
    struct mandate_client *c = s_client(&g, 8, 5000, 0);
    uint8_t ids[2][16];
    struct req r;

    s_publish(c, ids[0], (void *)1);
    s_publish(c, ids[1], (void *)2);
    cr_assert(s_recv_req(&r, 1000));
    s_nack(&r, NULL, MEP_BAD_MSGPACK, "not msgpack");
    s_poll_until(c, &g, 1);
    cr_expect_eq(g.users[0], (void *)1);
    cr_expect(!g.replies[0].has_id, "the id stays unknown");
    cr_expect_eq(g.replies[0].code, MEP_BAD_MSGPACK);
    cr_expect_str_eq(g.replies[0].reason, "not msgpack");
    s_nack(&r, ids[1], MEP_RATE_LIMITED, "slow down");
    s_poll_until(c, &g, 2);
    cr_expect_eq(g.users[1], (void *)2);
    cr_expect(g.replies[1].retry);
    mandate_client_destroy(&c);
}

Test(client, ignores_malformed_replies)
{
    struct got g = {0};
    struct mandate_client *c = s_client(&g, 8, 5000, 0);
    uint8_t id[16];
    struct req r;

    s_publish(c, id, NULL);
    cr_assert(s_recv_req(&r, 1000));
    s_reply_raw(&r, "MEP2", "ACK", "\x80", 1);
    s_reply_raw(&r, "MEP1", "WHAT", "\x80", 1);
    s_reply_raw(&r, "MEP1", "ACK", "\xc1", 1);
    s_reply_raw(&r, "MEP1", "ACK", "\x80", 1); /* a map without the fields */
    zmq_send(s_router, r.peer, r.peer_len, ZMQ_SNDMORE);
    zmq_send(s_router, "MEP1", 4, 0); /* one frame only */
    mandate_client_poll(c, 100);
    cr_expect_eq(g.n, 0);
    struct mandate_client_stats st;
    mandate_client_get_stats(c, &st);
    cr_expect_eq(st.malformed, 5);
    s_ack(&r, id, 1, false);
    s_poll_until(c, &g, 1);
    mandate_client_destroy(&c);
}

Test(client, refuses_bad_calls)
{
    struct got g = {0};
    struct mandate_client *c = s_client(&g, 8, 5000, 0);
    uint8_t id[16];
    struct envelope_fields f = {.id = id, .type = "press.bulletin", .source = "test"};

    cr_expect_null(mandate_client_new("nonsense://x", NULL));
    cr_expect_eq(errno, EINVAL);
    s_publish(c, id, NULL);
    cr_expect_eq(mandate_client_publish(c, &f, NULL), -EEXIST, "same id still in flight");
    f.type = NULL;
    cr_expect_eq(mandate_client_publish(c, &f, NULL), -EINVAL);
    mandate_client_destroy(&c);
}

Test(client, ping)
{
    struct got g = {0};
    struct mandate_client *c = s_client(&g, 8, 5000, 0);
    struct req r;

    cr_expect_eq(mandate_client_ping(c, 50), -ETIMEDOUT);
    cr_assert(s_recv_req(&r, 1000));
    cr_expect_str_eq(r.cmd, "PING");
    cr_expect_eq(r.body_len, 0);
    s_reply_raw(&r, "MEP1", "PONG", "\x80", 1); /* answers the first, late */
    cr_expect_eq(mandate_client_ping(c, 1000), 0);
    mandate_client_destroy(&c);
}

/* ---- the window, against a broker thread that ACKs in batches ---- */

struct echo {
    unsigned max_batch;
    unsigned total;
    volatile bool stop;
};

static void *
s_echo(void *arg)
{
    struct echo *e = arg;
    struct req batch[64];

    while (!e->stop) {
        unsigned n = 0;
        if (!s_recv_req(&batch[n], 20))
            continue;
        n++;
        /* Take everything already queued, as the broker does per loop turn. */
        while (n < 64 && s_recv_req(&batch[n], 5))
            n++;
        if (n > e->max_batch)
            e->max_batch = n;
        for (unsigned i = 0; i < n; i++) {
            uint8_t id[16];
            s_req_id(&batch[i], id);
            s_ack(&batch[i], id, ++e->total, false);
        }
    }
    return NULL;
}

static void
s_count(void *cb_arg, const struct mep_reply *reply, void *user)
{
    unsigned *count = cb_arg;

    cr_assert(reply->is_ack);
    cr_assert_eq((uintptr_t)user, *count + 1, "this broker ACKs in order");
    (*count)++;
}

Test(client, window_bounds_what_is_in_flight)
{
    struct echo e = {0};
    struct mandate_client_options o;
    struct mandate_client *c;
    pthread_t th;
    unsigned count = 0;

    mandate_client_options_init(&o);
    o.window = 4;
    o.on_reply = s_count;
    o.cb_arg = &count;
    c = mandate_client_new(s_endpoint, &o);
    cr_assert_not_null(c);
    pthread_create(&th, NULL, s_echo, &e);
    for (uintptr_t i = 1; i <= 2000; i++) {
        uint8_t id[16];
        s_publish(c, id, (void *)i);
        cr_assert_leq(mandate_client_in_flight(c), 4);
    }
    cr_expect_eq(mandate_client_flush(c, 10000), 0);
    e.stop = true;
    pthread_join(th, NULL);
    cr_expect_eq(count, 2000);
    cr_expect_leq(e.max_batch, 4, "never more than the window at the broker");
    mandate_client_destroy(&c);
}

Test(client, uuidv7_ids)
{
    uint8_t a[16], b[16];
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000, t = 0;
    mandate_new_id(a);
    mandate_new_id(b);
    for (int i = 0; i < 6; i++)
        t = t << 8 | a[i];
    cr_expect(t >= now && t < now + 1000, "48-bit ms timestamp first");
    cr_expect_eq(a[6] >> 4, 7, "version 7");
    cr_expect_eq(a[8] >> 6, 2, "variant 10");
    cr_expect_neq(memcmp(a, b, 16), 0);
}
