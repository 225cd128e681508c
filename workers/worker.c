/*
 * worker: the MDP/0.1 worker side (ZeroMQ RFC 7) with the extensions of
 * DESIGN.md "Worker protocol".
 *
 * The loop is `while (!stop) turn()`: one zmq_poll over the DEALER socket
 * and a signalfd, with a timeout that ends at the next thing due (a
 * heartbeat to send, the broker's liveness running out, the end of a
 * drain). Handlers run synchronously, one request at a time; the credit
 * only lets the broker queue that many at the socket, so that the next
 * request is already here when a reply goes out.
 *
 * Connection life: connect -> READY -> serve. Silence from the broker for
 * liveness * heartbeat_ms, or a DISCONNECT from it, closes the socket (its
 * unsent messages are dropped: the broker redelivers what it lost) and
 * connects again after a backoff that doubles from 100 ms to 10 s and
 * returns to 100 ms once a new connection has received something. Each
 * connection has a fresh routing id AREA-PID-N, so the broker never
 * mistakes a new connection for the old one.
 *
 * With keys in its options, every connection is CURVE (RFC 26): the
 * broker's ZAP handler admits the key, and the worker learns of a refusal
 * only as silence, which reconnects as above.
 *
 * SIGTERM / SIGINT drain: keep serving until no request has arrived for
 * S_DRAIN_QUIET_MS (or S_DRAIN_MAX_MS have passed in all), then DISCONNECT
 * and close with a linger so the last replies reach the broker.
 */
#include "proto/curve_socket.h"
#include "common/clock.h"
#include "workers/worker.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "common/alloc.h"
#include "common/log.h"
#include "proto/envelope.h"
#include "proto/mdp.h"
#include "proto/pack.h"

#define S_BACKOFF_MIN_MS 100
#define S_BACKOFF_MAX_MS 10000
#define S_DRAIN_QUIET_MS 200
#define S_DRAIN_MAX_MS   3000
#define S_LINGER_MS      2000
#define S_MAX_FRAMES     16 /* a broker message has at most 6; the rest is counted and dropped */
#define S_RECV_BUDGET    64 /* messages per turn before timers are looked at again */
#define S_ROUTING_ID_MAX 255

struct worker {
    struct worker_options opt;
    void *ctx;
    void *sock; /* NULL while disconnected */
    int sigfd;
    sigset_t old_mask;

    unsigned connections; /* N of the routing id */
    bool heard;           /* this connection has received something */
    unsigned backoff_ms;  /* wait before the next connect */
    int64_t next_connect; /* while disconnected */
    int64_t last_send;
    int64_t last_recv;

    bool draining;
    int64_t drain_quiet_until;
    int64_t drain_end;

    struct envelope_limits limits;
    msgpack_sbuffer credit, body, repack;
    struct envelope_decoder decoder; /* reused: no allocation per request once warm */
    struct handler_outcome outcome;
    void *handler_state; /* the handler's open hook made it; its close hook ends it */
    uint64_t served, malformed, dropped;
};

static int64_t
s_min(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static int64_t
s_liveness_ms(const struct worker *w)
{
    return (int64_t)w->opt.cfg->delivery.liveness * w->opt.cfg->delivery.heartbeat_ms;
}

/*
 * Sends one message, frames in order. Never blocks: a DEALER whose queue to
 * the broker is full drops the message and counts it; the broker's liveness
 * and redelivery take care of what was lost. A failed send still counts as
 * the last send, so that a full queue is not retried on every turn.
 */
static int
s_send(struct worker *w, const struct mdp_frame *frames, size_t n)
{
    w->last_send = (int64_t)monotonic_ms();
    for (size_t i = 0; i < n; i++) {
        int flags = ZMQ_DONTWAIT | (i + 1 < n ? ZMQ_SNDMORE : 0);

        if (zmq_send(w->sock, frames[i].data, frames[i].len, flags) < 0) {
            /* Only the first frame can fail with EAGAIN: a message goes out whole or not at all. */
            int e = errno;

            w->dropped++;
            log_warn("send %s: %s; %" PRIu64 " messages dropped so far",
                     mdp_command_name(*(const uint8_t *)frames[2].data), zmq_strerror(e),
                     w->dropped);
            return -e;
        }
    }
    return 0;
}

static int
s_send_command(struct worker *w, enum mdp_command cmd)
{
    const uint8_t c = (uint8_t)cmd;
    const struct mdp_frame f[] = {{"", 0}, {MDPW_PROTOCOL, sizeof(MDPW_PROTOCOL) - 1}, {&c, 1}};

    return s_send(w, f, 3);
}

static void
s_close(struct worker *w, int linger_ms)
{
    if (!w->sock)
        return;
    zmq_setsockopt(w->sock, ZMQ_LINGER, &linger_ms, sizeof(linger_ms));
    zmq_close(w->sock);
    w->sock = NULL;
}

/* Opens a new connection and says READY. */
static int
s_connect(struct worker *w)
{
    const uint8_t ready = MDP_READY;
    char id[S_ROUTING_ID_MAX + 1];
    int n, linger = S_LINGER_MS;

    w->sock = zmq_socket(w->ctx, ZMQ_DEALER);
    if (!w->sock) {
        log_err("zmq_socket: %s", zmq_strerror(errno));
        return -errno;
    }
    w->connections++;
    n = snprintf(id, sizeof(id), "%s-%ld-%u", w->opt.area->name, (long)getpid(), w->connections);
    zmq_setsockopt(w->sock, ZMQ_ROUTING_ID, id, (size_t)n);
    zmq_setsockopt(w->sock, ZMQ_LINGER, &linger, sizeof(linger));
    if (curve_socket_client(w->sock, w->opt.curve_server_key, w->opt.curve_public_key,
                            w->opt.curve_secret_key) < 0) {
        log_err("CURVE: the server key and this worker's pair must all be given, as Z85");
        s_close(w, 0);
        return -EINVAL;
    }
    if (zmq_connect(w->sock, w->opt.endpoint) < 0) {
        int e = errno;

        log_err("connect %s: %s", w->opt.endpoint, zmq_strerror(e));
        s_close(w, 0);
        return e == EINVAL || e == EPROTONOSUPPORT || e == ENOCOMPATPROTO ? -EINVAL : -e;
    }

    const struct mdp_frame f[] = {{"", 0},
                                  {MDPW_PROTOCOL, sizeof(MDPW_PROTOCOL) - 1},
                                  {&ready, 1},
                                  {w->opt.area->name, strlen(w->opt.area->name)},
                                  {w->credit.data, w->credit.size}};

    w->heard = false;
    w->last_recv = (int64_t)monotonic_ms();
    s_send(w, f, 5);
    log_info("connected to %s as %s, credit %u%s", w->opt.endpoint, id, w->opt.credit,
             w->opt.curve_server_key ? ", CURVE" : "");
    return 0;
}

/*
 * Whether a message is waiting: a handler that ran longer than the broker's
 * liveness must not make the worker take the broker for dead while the
 * broker's messages sit unread in the socket.
 */
static bool
s_input_pending(struct worker *w)
{
    int events = 0;
    size_t sz = sizeof(events);

    return zmq_getsockopt(w->sock, ZMQ_EVENTS, &events, &sz) == 0 && (events & ZMQ_POLLIN);
}

/* Drops the connection and schedules the next one after the current backoff. */
static void
s_reconnect_later(struct worker *w, const char *why)
{
    s_close(w, 0);
    w->next_connect = (int64_t)monotonic_ms() + w->backoff_ms;
    log_warn("%s; reconnecting in %u ms", why, w->backoff_ms);
    w->backoff_ms = w->backoff_ms * 2 > S_BACKOFF_MAX_MS ? S_BACKOFF_MAX_MS : w->backoff_ms * 2;
}

/* Sends REPLY for address with the body in w->body. */
static void
s_send_reply(struct worker *w, const struct mdp_msg *m)
{
    const uint8_t c = MDP_REPLY;
    const struct mdp_frame f[] = {{"", 0}, {MDPW_PROTOCOL, sizeof(MDPW_PROTOCOL) - 1},
                                  {&c, 1}, {m->address, m->address_len},
                                  {"", 0}, {w->body.data, w->body.size}};

    s_send(w, f, 6);
}

/*
 * Runs the handler on one decoded request. The event is re-packed and
 * decoded as an envelope here, once, so that every handler starts from the
 * same validated view of it.
 */
static void
s_handle(struct worker *w, const struct mdp_request *req)
{
    struct handler_outcome *out = &w->outcome;
    struct envelope env;
    struct envelope_error env_err;
    msgpack_packer pk;
    bool have_env;
    int rc;

    msgpack_sbuffer_clear(&w->repack);
    msgpack_packer_init(&pk, &w->repack, pack_sbuffer_write);
    msgpack_pack_object(&pk, *req->event);
    memset(&env_err, 0, sizeof(env_err));
    have_env = envelope_decode_with(&w->decoder, w->repack.data, w->repack.size, &w->limits, &env,
                                    &env_err) == 0;

    const struct handler_request hreq = {
        .seq = req->seq,
        .attempt = req->attempt,
        .area = req->area,
        .event = req->event,
        .env = have_env ? &env : NULL,
        .env_err = have_env ? NULL : &env_err,
        .cfg = w->opt.cfg,
        .area_conf = w->opt.area,
        .state = w->handler_state,
    };

    handler_outcome_reset(out);
    rc = w->opt.handler->handle(&hreq, out);
    if (rc < 0) {
        handler_outcome_reset(out);
        out->status = MDP_STATUS_RETRY;
        handler_outcome_note(out, "handler error: %s", strerror(-rc));
    }
    if (have_env)
        envelope_release(&env);
    log_debug("seq %" PRIu64 " attempt %u: %s%s%s", req->seq, req->attempt,
              mdp_status_name(out->status), out->note[0] ? ": " : "", out->note);
    mdp_pack_outcome(&w->body, out->status, out->note, out->result.size ? out->result.data : NULL,
                     out->result.size, out->emit, out->nemit);
}

static void
s_on_request(struct worker *w, const struct mdp_msg *m)
{
    struct mdp_request req;
    char err[MDP_ERROR_MAX];

    if (w->draining)
        w->drain_quiet_until = (int64_t)monotonic_ms() + S_DRAIN_QUIET_MS;
    /*
     * A body the worker cannot read is still answered, `failed` with the
     * reason: the broker learns of its own fault instead of waiting for a
     * reply that would never come.
     */
    if (m->nbody != 1) {
        snprintf(err, sizeof(err), "REQUEST has %zu body frames, 1 expected", m->nbody);
        goto failed;
    }
    if (mdp_request_decode(m->body[0].data, m->body[0].len, &req, err) < 0)
        goto failed;
    if (strcmp(req.area, w->opt.area->name) != 0) {
        snprintf(err, sizeof(err), "field 'area': '%s' is not this worker's area '%s'", req.area,
                 w->opt.area->name);
        mdp_request_release(&req);
        goto failed;
    }
    s_handle(w, &req);
    mdp_request_release(&req);
    w->served++;
    s_send_reply(w, m);
    return;

failed:
    w->malformed++;
    log_warn("malformed REQUEST from the broker: %s", err);
    mdp_pack_outcome(&w->body, MDP_STATUS_FAILED, err, NULL, 0, NULL, 0);
    s_send_reply(w, m);
}

/* Receives one whole message: up to S_MAX_FRAMES frames kept in msgs, the rest
 * read and dropped. Returns the frames kept, 0 if nothing was waiting, or -errno. */
static int
s_recv(struct worker *w, zmq_msg_t msgs[S_MAX_FRAMES], size_t *ret_total)
{
    size_t n = 0, total = 0;
    int more;

    do {
        zmq_msg_t scratch, *m = n < S_MAX_FRAMES ? &msgs[n] : &scratch;
        size_t sz = sizeof(more);

        zmq_msg_init(m);
        /* The frames of one message arrive together: only the first may be missing. */
        if (zmq_msg_recv(m, w->sock, total == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            int e = errno;

            zmq_msg_close(m);
            for (size_t i = 0; i < n; i++)
                zmq_msg_close(&msgs[i]);
            return e == EAGAIN && total == 0 ? 0 : -e;
        }
        zmq_getsockopt(w->sock, ZMQ_RCVMORE, &more, &sz);
        total++;
        if (m == &scratch)
            zmq_msg_close(m);
        else
            n++;
    } while (more);
    *ret_total = total;
    return (int)n;
}

static void
s_on_message(struct worker *w, const zmq_msg_t *msgs, size_t n, size_t total)
{
    struct mdp_frame frames[S_MAX_FRAMES];
    struct mdp_msg m;
    char err[MDP_ERROR_MAX];

    w->last_recv = (int64_t)monotonic_ms();
    if (!w->heard) {
        w->heard = true;
        w->backoff_ms = S_BACKOFF_MIN_MS;
    }
    if (total > n) {
        w->malformed++;
        log_warn("message from the broker with %zu frames dropped", total);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        frames[i].data = zmq_msg_data((zmq_msg_t *)&msgs[i]);
        frames[i].len = zmq_msg_size((zmq_msg_t *)&msgs[i]);
    }
    if (mdp_parse_from_broker(frames, n, &m, err) < 0) {
        w->malformed++;
        log_warn("malformed message from the broker dropped: %s", err);
        return;
    }
    switch (m.command) {
    case MDP_REQUEST:
        s_on_request(w, &m);
        break;
    case MDP_HEARTBEAT:
        break;
    case MDP_DISCONNECT:
        s_reconnect_later(w, "the broker sent DISCONNECT");
        break;
    case MDP_READY:
    case MDP_REPLY:
        break; /* refused by the parser */
    }
}

/* Reads what the socket has, up to a budget. */
static int
s_drain_socket(struct worker *w)
{
    zmq_msg_t msgs[S_MAX_FRAMES];

    for (int i = 0; i < S_RECV_BUDGET && w->sock; i++) {
        size_t total = 0;
        int n = s_recv(w, msgs, &total);

        if (n == 0)
            return 0;
        if (n < 0) {
            log_err("receive: %s", zmq_strerror(-n));
            return n;
        }
        s_on_message(w, msgs, (size_t)n, total);
        for (int k = 0; k < n; k++)
            zmq_msg_close(&msgs[k]);
    }
    return 0;
}

static void
s_on_signal(struct worker *w)
{
    struct signalfd_siginfo si;
    int64_t now = (int64_t)monotonic_ms();

    while (read(w->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (w->draining)
            continue;
        log_info("%s: finishing in-flight work, then leaving", strsignal((int)si.ssi_signo));
        w->draining = true;
        w->drain_quiet_until = now + S_DRAIN_QUIET_MS;
        w->drain_end = now + S_DRAIN_MAX_MS;
    }
}

struct worker *
worker_new(const struct worker_options *opt)
{
    struct worker *w = xcalloc(1, sizeof(*w));
    sigset_t mask;

    w->opt = *opt;
    w->sigfd = -1;
    w->backoff_ms = S_BACKOFF_MIN_MS;
    w->limits = envelope_default_limits;
    w->limits.max_bytes = opt->cfg->broker.max_event_bytes;
    msgpack_sbuffer_init(&w->credit);
    msgpack_sbuffer_init(&w->body);
    msgpack_sbuffer_init(&w->repack);
    envelope_decoder_init(&w->decoder);
    handler_outcome_init(&w->outcome);
    mdp_pack_credit(&w->credit, opt->credit);

    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    if (sigprocmask(SIG_BLOCK, &mask, &w->old_mask) < 0) {
        log_err("sigprocmask: %s", strerror(errno));
        goto fail;
    }
    w->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (w->sigfd < 0) {
        log_err("signalfd: %s", strerror(errno));
        sigprocmask(SIG_SETMASK, &w->old_mask, NULL);
        goto fail;
    }
    w->ctx = zmq_ctx_new();
    if (!w->ctx) {
        log_err("zmq_ctx_new: %s", zmq_strerror(errno));
        goto fail;
    }
    if (opt->handler->open) {
        int rc = opt->handler->open(opt->cfg, &w->handler_state);
        if (rc < 0) {
            log_err("area %s: cannot open its handler's state: %s", opt->area->name, strerror(-rc));
            goto fail;
        }
    }
    return w;

fail:
    worker_destroy(&w);
    return NULL;
}

int
worker_run(struct worker *w)
{
    int rc = s_connect(w);

    if (rc < 0)
        return rc;

    for (;;) {
        const int64_t hb = w->opt.cfg->delivery.heartbeat_ms;
        zmq_pollitem_t items[2] = {
            {NULL, w->sigfd, ZMQ_POLLIN, 0},
            {w->sock, 0, ZMQ_POLLIN, 0},
        };
        int64_t now = (int64_t)monotonic_ms(), due;

        /* Timers first: what is due now is done before sleeping. */
        if (w->draining && (!w->sock || now >= w->drain_quiet_until || now >= w->drain_end))
            break;
        if (!w->sock) {
            if (now >= w->next_connect) {
                if ((rc = s_connect(w)) < 0)
                    return rc;
                continue;
            }
            due = w->next_connect;
        } else {
            if (now - w->last_recv >= s_liveness_ms(w) && !s_input_pending(w)) {
                char why[96];

                snprintf(why, sizeof(why), "the broker was silent for %" PRId64 " ms",
                         now - w->last_recv);
                s_reconnect_later(w, why);
                continue;
            }
            if (now - w->last_send >= hb)
                s_send_command(w, MDP_HEARTBEAT);
            due = s_min(w->last_send + hb, w->last_recv + s_liveness_ms(w));
        }
        if (w->draining)
            due = s_min(due, s_min(w->drain_quiet_until, w->drain_end));

        now = (int64_t)monotonic_ms();
        if (zmq_poll(items, w->sock ? 2 : 1, due > now ? (long)(due - now) : 0) < 0) {
            if (errno == EINTR)
                continue;
            log_err("zmq_poll: %s", zmq_strerror(errno));
            return -errno;
        }
        if (items[0].revents & ZMQ_POLLIN)
            s_on_signal(w);
        /* ZMQ_POLLIN is level-triggered through zmq_poll: a budget left over is read next turn. */
        if (w->sock && (items[1].revents & ZMQ_POLLIN) && (rc = s_drain_socket(w)) < 0)
            return rc;
    }

    if (w->sock) {
        s_send_command(w, MDP_DISCONNECT);
        s_close(w, S_LINGER_MS);
    }
    log_info("stopped: %" PRIu64 " requests served, %" PRIu64 " malformed messages, %" PRIu64
             " messages dropped",
             w->served, w->malformed, w->dropped);
    return 0;
}

void
worker_destroy(struct worker **w_p)
{
    struct worker *w = *w_p;

    if (!w)
        return;
    if (w->opt.handler->close)
        w->opt.handler->close(&w->handler_state);
    s_close(w, 0);
    if (w->ctx)
        zmq_ctx_term(w->ctx);
    if (w->sigfd >= 0) {
        close(w->sigfd);
        sigprocmask(SIG_SETMASK, &w->old_mask, NULL);
    }
    handler_outcome_destroy(&w->outcome);
    msgpack_sbuffer_destroy(&w->credit);
    msgpack_sbuffer_destroy(&w->body);
    msgpack_sbuffer_destroy(&w->repack);
    envelope_decoder_destroy(&w->decoder);
    free(w);
    *w_p = NULL;
}
