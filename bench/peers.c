/*
 * peers: mandated's durable intake against the brokers a user would pick
 * instead. One run of the program measures, interleaved, the real daemon
 * (an ACK after an fsync'd LMDB commit), Redis Streams (XADD with
 * appendfsync always) and NATS JetStream (a PubAck from a file-storage
 * stream, fsync left at its default), each started by this program on
 * loopback in a fresh temporary directory, each loaded by the same C
 * clients: 8 connections with 125 events in flight each, the same 300-byte
 * payload, for --seconds. Then medians with their spread, CPU per event, and
 * the two target ratios. bench/README.md says how to run it and read it.
 *
 * Everything it starts it also stops, by pid: the daemon (through the
 * harness), redis-server and nats-server (which also die with this
 * process); a watchdog alarm bounds the whole run.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <zmq.h>

#include "bench/support/bench_event.h"
#include "bench/support/bench_machine.h"
#include "bench/support/bench_mep.h"
#include "bench/support/bench_proc.h"
#include "bench/support/bench_spawn.h"
#include "bench/support/bench_stats.h"
#include "bench/support/bench_stop.h"
#include "bench/support/nats_client.h"
#include "common/clock.h"
#include "proto/mep.h"
#include "proto/text.h"
#include "tests/support/daemon_harness.h"
#include "tests/support/log_inspect.h"

#define DEFAULT_CLIENTS   8
#define DEFAULT_WINDOW    125
#define MAX_CLIENTS       64 /* threads on two cores; the id has one byte for it */
#define MAX_WINDOW        10000
#define MAX_RUNS          50
#define DEFAULT_RUNS      3
#define DEFAULT_SECONDS   10
#define QUICK_SECONDS     2
#define DEFAULT_MAX_SECS  1200
#define WARMUP_PER_CLIENT 10 /* lock-step, before the clock starts */
#define REPLY_TIMEOUT_MS  10000
#define POLL_SLICE_MS     200 /* how soon a client notices an interruption */
#define START_MS          15000
#define STOP_MS           10000
#define SETUP_MS          5000 /* one setup request (stream create, stream info, XLEN) */
#define ROOM_FIRST        ((size_t)1 << 16) /* events per client before the arrays grow */
#define READ_CHUNK        (64 * 1024)

#define TARGET_VS_REDIS 2.0
#define TARGET_VS_NATS  1.6

#define REDIS_PACKAGE "redis-server"
#define NATS_PACKAGE  "nats-server"
#define REDIS_KEY     "bench"
#define NATS_STREAM   "BENCH"
#define NATS_SUBJECT  "bench.e"

/* Debian's paths. nats-server's package puts it in /usr/sbin; /usr/bin is also looked at. */
static const char *const g_redis_paths[] = {"/usr/bin/redis-server", NULL};
static const char *const g_nats_paths[] = {"/usr/sbin/nats-server", "/usr/bin/nats-server", NULL};

enum broker { B_MANDATED, B_REDIS, B_NATS, B_COUNT };

static const char *const g_broker_name[B_COUNT] = {"mandated", "redis", "nats"};

struct options {
    const char *mandated;
    const char *redis_bin, *nats_bin; /* found on the machine, when they run */
    int runs;
    unsigned seconds;
    unsigned clients, window;
    unsigned max_seconds;
    bool only[B_COUNT]; /* which brokers run */
};

/* ---- a client's connection, whichever the broker ---------------------- */

/* Where the clients connect: what the run's server gave. */
struct target {
    enum broker kind;
    int port;
    const char *endpoint; /* mandated: the ZeroMQ endpoint */
    void *zmq_ctx;        /* mandated: one context for all clients, as bench/ingest */
    char token[24];       /* nats: this run's inbox token */
};

/* One phase of one client: warm-up (count-bounded, lock-step) or measured (timed). */
struct stream {
    unsigned phase;
    size_t room; /* in sent_ns and lat_ns, grown as needed */
    uint64_t *sent_ns;
    uint64_t *lat_ns; /* 0 until answered */
    size_t sent, acked;
    size_t limit;      /* > 0: send this many; 0: timed */
    uint64_t until_ns; /* timed: no send from then on */
};

struct conn {
    enum broker kind;
    unsigned client;
    void *zsock;
    redisContext *redis;
    struct nats_conn *nats;
    char inbox[64]; /* nats: _INBOX.TOKEN.CLIENT; each event's reply subject adds .PHASE.INDEX */
    char *rbuf;     /* redis: what one read takes */
    uint8_t ev[BENCH_EVENT_BYTES];
    size_t id_at; /* where the id sits in ev: rewritten before each send */
};

static int
s_stream_grow(struct stream *st)
{
    size_t room = st->room ? st->room * 2 : (st->limit ? st->limit : ROOM_FIRST);
    uint64_t *sent = realloc(st->sent_ns, room * sizeof *sent);
    if (!sent)
        return -ENOMEM;
    st->sent_ns = sent;
    uint64_t *lat = realloc(st->lat_ns, room * sizeof *lat);
    if (!lat)
        return -ENOMEM;
    st->lat_ns = lat;
    memset(lat + st->room, 0, (room - st->room) * sizeof *lat);
    st->room = room;
    return 0;
}

static void
s_stream_free(struct stream *st)
{
    free(st->sent_ns);
    free(st->lat_ns);
    memset(st, 0, sizeof *st);
}

/* Books the reply to event idx of st: it must be in flight. */
static int
s_book(struct stream *st, size_t idx, uint64_t now, char *err, size_t errlen)
{
    if (idx >= st->sent || st->lat_ns[idx] != 0) {
        snprintf(err, errlen, "reply for event %zu, which is not in flight", idx);
        return -EPROTO;
    }
    uint64_t lat = now - st->sent_ns[idx];
    st->lat_ns[idx] = lat ? lat : 1;
    st->acked++;
    return 0;
}

/* Queues one event. Every broker gets the same bytes, with the id of this event. */
static int
s_conn_send(struct conn *cn, struct stream *st, char *err, size_t errlen)
{
    int rc = 0;

    /* The id's index is 32 bits: far more than a run's events. */
    if (st->sent >= UINT32_MAX) {
        snprintf(err, errlen, "too many events for one stream");
        return -EOVERFLOW;
    }
    if (st->sent == st->room && (rc = s_stream_grow(st)) < 0) {
        snprintf(err, errlen, "out of memory");
        return rc;
    }
    bench_event_id(cn->ev + cn->id_at, st->phase, cn->client, (uint32_t)st->sent);
    uint64_t t = monotonic_ns();
    switch (cn->kind) {
    case B_MANDATED:
        rc = harness_send_pub(cn->zsock, cn->ev, BENCH_EVENT_BYTES);
        if (rc < 0)
            snprintf(err, errlen, "send: %s", zmq_strerror(-rc));
        break;
    case B_REDIS:
        if (redisAppendCommand(cn->redis, "XADD " REDIS_KEY " * e %b", cn->ev,
                               (size_t)BENCH_EVENT_BYTES) != REDIS_OK) {
            snprintf(err, errlen, "XADD: %s", cn->redis->errstr);
            rc = -EIO;
        }
        break;
    case B_NATS: {
        char reply[96];
        snprintf(reply, sizeof reply, "%s.%u.%zu", cn->inbox, st->phase, st->sent);
        rc = nats_pub(cn->nats, NATS_SUBJECT, reply, cn->ev, BENCH_EVENT_BYTES);
        if (rc < 0)
            snprintf(err, errlen, "PUB: %s", strerror(-rc));
        break;
    }
    case B_COUNT:
        break;
    }
    if (rc < 0)
        return rc;
    st->sent_ns[st->sent++] = t;
    return 0;
}

/* Writes what was queued, as far as the socket takes it: 0 all out, 1 some waits, -errno. */
static int
s_conn_flush(struct conn *cn, char *err, size_t errlen)
{
    int rc = 0;
    switch (cn->kind) {
    case B_MANDATED:
        break; /* zmq_send handed it to the I/O thread */
    case B_REDIS:
        for (;;) {
            int done = 0;
            size_t before = sdslen(cn->redis->obuf);
            if (before == 0)
                break;
            if (redisBufferWrite(cn->redis, &done) != REDIS_OK) {
                snprintf(err, errlen, "write: %s", cn->redis->errstr);
                return -EIO;
            }
            if (done)
                break;
            if (sdslen(cn->redis->obuf) == before)
                return 1; /* the socket is full */
        }
        break;
    case B_NATS:
        rc = nats_flush(cn->nats);
        if (rc < 0)
            snprintf(err, errlen, "send: %s", strerror(-rc));
        break;
    case B_COUNT:
        break;
    }
    return rc;
}

/* Waits up to timeout_ms for a reply (or room to write, want_write). >0 ready, 0 not, -errno. */
static int
s_conn_wait(struct conn *cn, bool want_write, int timeout_ms)
{
    if (cn->kind == B_MANDATED) {
        zmq_pollitem_t item = {.socket = cn->zsock, .events = ZMQ_POLLIN};
        int r = zmq_poll(&item, 1, timeout_ms);
        return r < 0 ? (errno == EINTR ? 0 : -errno) : r;
    }
    int fd = cn->kind == B_REDIS ? cn->redis->fd : nats_fd(cn->nats);
    struct pollfd p = {.fd = fd, .events = POLLIN | (want_write ? POLLOUT : 0)};
    int r = poll(&p, 1, timeout_ms);
    return r < 0 ? (errno == EINTR ? 0 : -errno) : r;
}

/* Every mandated reply must be an ACK, not dup, for an event of this client in flight. */
static int
s_recv_mandated(struct conn *cn, struct stream *st, char *err, size_t errlen)
{
    int got = 0;
    for (;;) {
        char cmd[8];
        uint8_t body[512];
        size_t len;
        int frames = 0;
        struct mep_reply r;
        int rc = bench_mep_recv(cn->zsock, cmd, body, sizeof body, &len, &frames);
        if (rc == 0)
            return got;
        if (rc < 0) {
            snprintf(err, errlen, "recv: %s", zmq_strerror(-rc));
            return rc;
        }
        uint64_t now = monotonic_ns();
        if (frames != 3) {
            snprintf(err, errlen, "reply with %d frames, expected 3", frames);
            return -EPROTO;
        }
        if (strcmp(cmd, "ACK") != 0) {
            if (strcmp(cmd, "NACK") == 0 && mep_reply_decode(body, len, false, &r) == 0)
                snprintf(err, errlen, "NACK %s: %s", mep_code_name(r.code), r.reason);
            else
                snprintf(err, errlen, "unexpected reply command '%s'", cmd);
            return -EPROTO;
        }
        if (mep_reply_decode(body, len, true, &r) < 0 || !r.has_id) {
            snprintf(err, errlen, "undecodable ACK body (%zu bytes)", len);
            return -EPROTO;
        }
        if (r.dup) {
            snprintf(err, errlen, "ACK with dup = true for a fresh id (seq %llu)",
                     (unsigned long long)r.seq);
            return -EPROTO;
        }
        if (r.id[0] != BENCH_EVENT_MAGIC || r.id[1] != st->phase || r.id[2] != cn->client) {
            snprintf(err, errlen, "ACK for an id this client never sent");
            return -EPROTO;
        }
        /* The id, not the order, names the event. */
        if ((rc = s_book(st, bench_event_id_index(r.id), now, err, errlen)) < 0)
            return rc;
        got++;
    }
}

/*
 * redis: one connection, one server loop, so the replies keep the order of
 * the commands and the oldest unanswered event is the one answered. Each
 * must be a stream id ("1700000000000-0").
 */
static int
s_recv_redis(struct conn *cn, struct stream *st, char *err, size_t errlen)
{
    redisContext *c = cn->redis;
    int got = 0;

    for (;;) {
        ssize_t n = recv(c->fd, cn->rbuf, READ_CHUNK, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            snprintf(err, errlen, "recv: %s", n < 0 ? strerror(errno) : "server closed");
            return n < 0 ? -errno : -EPIPE;
        }
        if (redisReaderFeed(c->reader, cn->rbuf, (size_t)n) != REDIS_OK) {
            snprintf(err, errlen, "reply reader: %s", c->reader->errstr);
            return -EPROTO;
        }
        if ((size_t)n < READ_CHUNK)
            break; /* the socket is empty: no EAGAIN round needed */
    }
    uint64_t now = monotonic_ns();
    for (;;) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK) {
            snprintf(err, errlen, "reply: %s", c->errstr);
            return -EPROTO;
        }
        if (!r)
            return got;
        bool ok = r->type == REDIS_REPLY_STRING && r->len >= 3 && memchr(r->str, '-', r->len);
        if (!ok) {
            snprintf(err, errlen, "XADD answered %s '%.*s', not a stream id",
                     r->type == REDIS_REPLY_ERROR ? "an error" : "a reply",
                     (int)(r->str && r->len < 200 ? r->len : 0), r->str ? r->str : "");
            freeReplyObject(r);
            return -EPROTO;
        }
        freeReplyObject(r);
        int rc = s_book(st, st->acked, now, err, errlen);
        if (rc < 0)
            return rc;
        got++;
    }
}

/* A PubAck: {"stream":"BENCH","seq":N} with N > 0; an error reply has "error". */
static bool
s_puback_ok(const uint8_t *data, size_t len)
{
    static const char seq_key[] = "\"seq\":";
    static const char stream_key[] = "\"stream\":\"" NATS_STREAM "\"";
    if (len < 2 || data[0] != '{' || memmem(data, len, "\"error\"", 7))
        return false;
    if (!memmem(data, len, stream_key, sizeof stream_key - 1))
        return false;
    const uint8_t *p = memmem(data, len, seq_key, sizeof seq_key - 1);
    if (!p)
        return false;
    p += sizeof seq_key - 1;
    uint64_t seq = 0;
    const uint8_t *end = data + len;
    while (p < end && *p == ' ')
        p++;
    const uint8_t *digits = p;
    while (p < end && *p >= '0' && *p <= '9' && p - digits < 19)
        seq = seq * 10 + (uint64_t)(*p++ - '0');
    return p > digits && seq > 0;
}

/* nats: each PubAck comes to the reply subject of its event: INBOX.PHASE.INDEX. */
static int
s_recv_nats(struct conn *cn, struct stream *st, char *err, size_t errlen)
{
    size_t inbox_len = strlen(cn->inbox);
    int got = 0, rc = nats_read(cn->nats);

    if (rc < 0) {
        snprintf(err, errlen, "recv: %s", rc == -EPIPE ? "server closed" : strerror(-rc));
        return rc;
    }
    uint64_t now = monotonic_ns();
    for (;;) {
        struct nats_msg m;
        rc = nats_next(cn->nats, &m, err, errlen);
        if (rc < 0)
            return rc;
        if (rc == 0)
            break;
        const char *s = m.subject;
        size_t n = m.subject_len;
        if (n <= inbox_len + 1 || memcmp(s, cn->inbox, inbox_len) != 0 || s[inbox_len] != '.') {
            snprintf(err, errlen, "message on '%.*s', not this client's inbox", (int)n, s);
            return -EPROTO;
        }
        /* .PHASE.INDEX: parsed by hand, the subject is not NUL-terminated. */
        size_t i = inbox_len + 1;
        uint64_t phase = 0, idx = 0;
        bool ok = i < n && s[i] >= '0' && s[i] <= '9';
        while (ok && i < n && s[i] != '.')
            ok = s[i] >= '0' && s[i] <= '9', phase = phase * 10 + (uint64_t)(s[i++] - '0');
        ok = ok && i + 1 < n && s[i] == '.';
        for (i++; ok && i < n; i++)
            ok = s[i] >= '0' && s[i] <= '9' && idx < UINT32_MAX,
            idx = idx * 10 + (uint64_t)(s[i] - '0');
        if (!ok || phase != st->phase) {
            snprintf(err, errlen, "reply subject '%.*s' names no event of this phase", (int)n, s);
            return -EPROTO;
        }
        if (!s_puback_ok(m.data, m.len)) {
            snprintf(err, errlen, "JetStream answered '%.*s', not a PubAck",
                     (int)(m.len < 300 ? m.len : 300), (const char *)m.data);
            return -EPROTO;
        }
        if ((rc = s_book(st, (size_t)idx, now, err, errlen)) < 0)
            return rc;
        got++;
    }
    /* A PING from the server queued a PONG. */
    if (nats_want_write(cn->nats) && (rc = nats_flush(cn->nats)) < 0) {
        snprintf(err, errlen, "send: %s", strerror(-rc));
        return rc;
    }
    return got;
}

static int
s_conn_recv(struct conn *cn, struct stream *st, char *err, size_t errlen)
{
    switch (cn->kind) {
    case B_MANDATED:
        return s_recv_mandated(cn, st, err, errlen);
    case B_REDIS:
        return s_recv_redis(cn, st, err, errlen);
    case B_NATS:
        return s_recv_nats(cn, st, err, errlen);
    case B_COUNT:
        break;
    }
    return -EINVAL;
}

static bool
s_may_send(const struct stream *st, unsigned window, uint64_t now)
{
    if (st->sent - st->acked >= window)
        return false;
    return st->limit ? st->sent < st->limit : now < st->until_ns;
}

static bool
s_finished(const struct stream *st, uint64_t now)
{
    if (st->limit)
        return st->acked == st->limit;
    return now >= st->until_ns && st->acked == st->sent;
}

/*
 * Keeps up to window events of st in flight on cn until all it sent is
 * answered. Bounded: REPLY_TIMEOUT_MS without a reply, with events in flight,
 * fails the run.
 */
static int
s_drive(struct conn *cn, struct stream *st, unsigned window, char *err, size_t errlen)
{
    uint64_t last_reply = monotonic_ns();
    bool want_write = false;

    for (;;) {
        /* One clock reading a turn: a timed stream stops sending at most a turn late. */
        uint64_t now = monotonic_ns();
        if (s_finished(st, now))
            return 0;
        while (s_may_send(st, window, now)) {
            int rc = s_conn_send(cn, st, err, errlen);
            if (rc < 0)
                return rc;
        }
        int rc = s_conn_flush(cn, err, errlen);
        if (rc < 0)
            return rc;
        want_write = rc > 0;
        int ready = s_conn_wait(cn, want_write, POLL_SLICE_MS);
        if (bench_stop_signal) {
            snprintf(err, errlen, "interrupted");
            return -EINTR;
        }
        if (ready < 0) {
            snprintf(err, errlen, "poll: %s", strerror(-ready));
            return ready;
        }
        int got = ready > 0 ? s_conn_recv(cn, st, err, errlen) : 0;
        if (got < 0)
            return got;
        now = monotonic_ns();
        if (got > 0 || st->acked == st->sent) {
            last_reply = now;
        } else if (now - last_reply >= (uint64_t)REPLY_TIMEOUT_MS * 1000000u) {
            snprintf(err, errlen, "no reply for %d ms (%zu of %zu answered)", REPLY_TIMEOUT_MS,
                     st->acked, st->sent);
            return -ETIMEDOUT;
        }
    }
}

static void
s_conn_close(struct conn *cn)
{
    if (cn->zsock)
        zmq_close(cn->zsock);
    if (cn->redis)
        redisFree(cn->redis);
    nats_close(&cn->nats);
    free(cn->rbuf);
    memset(cn, 0, sizeof *cn);
}

/* A hiredis context on a non-blocking socket: the clients poll, hiredis only (un)packs. */
static redisContext *
s_redis_connect(int port, int timeout_ms, char *err, size_t errlen)
{
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (!c || c->err) {
        snprintf(err, errlen, "connect 127.0.0.1:%d: %s", port, c ? c->errstr : "out of memory");
        if (c)
            redisFree(c);
        return NULL;
    }
    return c;
}

static int
s_redis_nonblocking(redisContext *c, char *err, size_t errlen)
{
    int fl = fcntl(c->fd, F_GETFL);
    if (fl < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        snprintf(err, errlen, "fcntl: %s", strerror(errno));
        return -errno;
    }
    /* hiredis then takes EAGAIN for "later" in redisBufferWrite, as its async API does. */
    c->flags &= ~REDIS_BLOCK;
    return 0;
}

static int
s_conn_open(struct conn *cn, const struct target *t, unsigned client, char *err, size_t errlen)
{
    int rc;

    memset(cn, 0, sizeof *cn);
    cn->kind = t->kind;
    cn->client = client;
    if ((rc = bench_event_make(cn->ev, 0, client, 0)) < 0 ||
        (rc = bench_event_find_id(cn->ev, 0, client, 0, &cn->id_at)) < 0) {
        snprintf(err, errlen, "cannot make a %d-byte event", BENCH_EVENT_BYTES);
        return rc;
    }
    switch (t->kind) {
    case B_MANDATED: {
        int linger = 0, sndtimeo = REPLY_TIMEOUT_MS;
        cn->zsock = zmq_socket(t->zmq_ctx, ZMQ_DEALER);
        if (!cn->zsock) {
            snprintf(err, errlen, "zmq_socket: %s", zmq_strerror(errno));
            return -errno;
        }
        zmq_setsockopt(cn->zsock, ZMQ_LINGER, &linger, sizeof linger);
        /* A DEALER with no peer blocks in send; a dead server must fail the run instead. */
        zmq_setsockopt(cn->zsock, ZMQ_SNDTIMEO, &sndtimeo, sizeof sndtimeo);
        if (zmq_connect(cn->zsock, t->endpoint) < 0) {
            snprintf(err, errlen, "connect %s: %s", t->endpoint, zmq_strerror(errno));
            return -errno;
        }
        return 0;
    }
    case B_REDIS:
        cn->rbuf = malloc(READ_CHUNK);
        if (!cn->rbuf) {
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
        cn->redis = s_redis_connect(t->port, START_MS, err, errlen);
        if (!cn->redis)
            return -ECONNREFUSED;
        return s_redis_nonblocking(cn->redis, err, errlen);
    case B_NATS: {
        char sub[96], name[32];
        snprintf(cn->inbox, sizeof cn->inbox, "_INBOX.%s.%u", t->token, client);
        snprintf(sub, sizeof sub, "%s.>", cn->inbox);
        snprintf(name, sizeof name, "bench-%u", client);
        rc = nats_connect(&cn->nats, "127.0.0.1", t->port, name, START_MS, err, errlen);
        if (rc < 0)
            return rc;
        /* One connection keeps its order: the SUB is in place before the first PUB. */
        if ((rc = nats_sub(cn->nats, sub, 1)) < 0) {
            snprintf(err, errlen, "SUB %s: %s", sub, strerror(-rc));
            return rc;
        }
        return nats_flush_all(cn->nats, SETUP_MS, err, errlen);
    }
    case B_COUNT:
        break;
    }
    return -EINVAL;
}

/* ---- a run: the clients against one server ---------------------------- */

struct run_result {
    double per_s;
    double p50_us, p99_us;
    /* CPU time over the measured phase, per event; 0 when not measured. */
    double server_cpu_us, client_cpu_us;
    double server_cores; /* CPU time / wall time: 1.0 = one core kept busy */
    size_t events;       /* answered in the measured phase */
    double seconds;      /* length of the measured phase */
};

/*
 * Starts the clients' clock together, once every one has warmed up. Not a
 * pthread barrier: if one thread cannot be created, the others must still
 * be released (cancelled), and a barrier cannot be.
 */
struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    size_t ready;
    bool open, cancelled;
    uint64_t start_ns;
};

struct worker {
    pthread_t tid;
    struct gate *gate;
    struct conn *cn;
    struct stream warm, meas;
    unsigned window;
    uint64_t duration_ns;
    uint64_t end_ns;
    int rc;
    char err[256];
};

static void *
s_worker_main(void *arg)
{
    struct worker *w = arg;
    struct gate *g = w->gate;
    bool go;

    w->rc = s_drive(w->cn, &w->warm, 1, w->err, sizeof w->err);
    /* Reported ready even after a failure, so that the main thread never waits forever. */
    pthread_mutex_lock(&g->mu);
    g->ready++;
    pthread_cond_broadcast(&g->cond);
    while (!g->open && !g->cancelled)
        pthread_cond_wait(&g->cond, &g->mu);
    go = !g->cancelled;
    w->meas.until_ns = g->start_ns + w->duration_ns;
    pthread_mutex_unlock(&g->mu);
    if (go && w->rc == 0) {
        w->rc = s_drive(w->cn, &w->meas, w->window, w->err, sizeof w->err);
        w->end_ns = monotonic_ns();
    }
    return NULL;
}

/*
 * The clients of one run against t: o->clients threads, one connection
 * each, WARMUP_PER_CLIENT lock-step events each, then the measured phase of
 * o->seconds with o->window in flight per connection. server: its pid, for
 * its CPU time. *ret_total: every event answered, warm-up included.
 */
static int
s_run_clients(const struct options *o, const struct target *t, pid_t server, struct run_result *ret,
              size_t *ret_total, char *err, size_t errlen)
{
    struct conn *conns = calloc(o->clients, sizeof *conns);
    struct worker *workers = calloc(o->clients, sizeof *workers);
    struct gate gate = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    uint64_t srv0 = 0, cli0 = 0, srv1, cli1, start = 0, end = 0;
    size_t started = 0, total = 0, answered = 0;
    uint64_t *all = NULL;
    int rc = 0;

    if (!conns || !workers) {
        free(conns);
        free(workers);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    /* Every connection is made before any thread starts: setup is not measured. */
    for (unsigned c = 0; c < o->clients && rc == 0; c++) {
        char cerr[256] = "";
        rc = s_conn_open(&conns[c], t, c, cerr, sizeof cerr);
        if (rc < 0) {
            snprintf(err, errlen, "client %u: %s", c, cerr);
            break;
        }
        struct worker *w = &workers[c];
        *w = (struct worker){.gate = &gate,
                             .cn = &conns[c],
                             .window = o->window,
                             .duration_ns = (uint64_t)o->seconds * 1000000000u};
        w->warm = (struct stream){.phase = 0, .limit = WARMUP_PER_CLIENT};
        w->meas = (struct stream){.phase = 1};
        /* The room for the first events now, not while the clock runs. */
        if (s_stream_grow(&w->warm) < 0 || s_stream_grow(&w->meas) < 0) {
            snprintf(err, errlen, "out of memory");
            rc = -ENOMEM;
        }
    }
    if (rc < 0)
        goto out;

    for (started = 0; started < o->clients; started++)
        if (pthread_create(&workers[started].tid, NULL, s_worker_main, &workers[started]))
            break;
    pthread_mutex_lock(&gate.mu);
    if (started < o->clients) {
        snprintf(err, errlen, "pthread_create failed");
        rc = -EAGAIN;
        gate.cancelled = true;
    } else {
        while (gate.ready < o->clients)
            pthread_cond_wait(&gate.cond, &gate.mu);
        srv0 = bench_proc_cpu_ns(server);
        cli0 = bench_proc_cpu_ns(0);
        start = monotonic_ns();
        gate.start_ns = start;
        gate.open = true;
    }
    pthread_cond_broadcast(&gate.cond);
    pthread_mutex_unlock(&gate.mu);
    for (size_t c = 0; c < started; c++)
        pthread_join(workers[c].tid, NULL);
    srv1 = bench_proc_cpu_ns(server);
    cli1 = bench_proc_cpu_ns(0);
    for (size_t c = 0; c < started && rc == 0; c++) {
        if (workers[c].rc < 0) {
            rc = workers[c].rc;
            snprintf(err, errlen, "client %zu: %s", c, workers[c].err);
        }
        if (workers[c].end_ns > end)
            end = workers[c].end_ns;
    }
    if (rc < 0)
        goto out;

    for (unsigned c = 0; c < o->clients; c++) {
        total += workers[c].meas.acked;
        answered += workers[c].meas.acked + workers[c].warm.acked;
    }
    if (total == 0) {
        snprintf(err, errlen, "no event was answered in the measured phase");
        rc = -EPROTO;
        goto out;
    }
    all = malloc(total * sizeof *all);
    if (!all) {
        snprintf(err, errlen, "out of memory");
        rc = -ENOMEM;
        goto out;
    }
    for (size_t c = 0, at = 0; c < o->clients; at += workers[c].meas.acked, c++)
        memcpy(all + at, workers[c].meas.lat_ns, workers[c].meas.acked * sizeof *all);
    qsort(all, total, sizeof *all, bench_cmp_u64);
    uint64_t elapsed = end > start ? end - start : 1;
    ret->p50_us = bench_percentile_us(all, total, 50);
    ret->p99_us = bench_percentile_us(all, total, 99);
    ret->per_s = (double)total / ((double)elapsed / 1e9);
    ret->events = total;
    ret->seconds = (double)elapsed / 1e9;
    if (srv0 && srv1 > srv0) {
        ret->server_cpu_us = (double)(srv1 - srv0) / 1000.0 / (double)total;
        ret->server_cores = (double)(srv1 - srv0) / (double)elapsed;
    }
    if (cli0 && cli1 > cli0)
        ret->client_cpu_us = (double)(cli1 - cli0) / 1000.0 / (double)total;
    *ret_total = answered;
    free(all);

out:
    for (unsigned c = 0; c < o->clients; c++) {
        s_conn_close(&conns[c]);
        s_stream_free(&workers[c].warm);
        s_stream_free(&workers[c].meas);
    }
    free(conns);
    free(workers);
    return rc;
}

/* ---- mandated --------------------------------------------------------- */

static int
s_run_mandated(const struct options *o, struct run_result *ret, char *err, size_t errlen)
{
    char extra[256], log_path[512];
    size_t answered = 0;
    int port = bench_free_port();

    if (port < 0) {
        snprintf(err, errlen, "no free loopback port");
        return port;
    }
    /* durability = full is the default; said here so that no default can change what we measure. */
    snprintf(extra, sizeof extra, "ingress = tcp://127.0.0.1:%d\ndurability = full\n", port);
    struct harness *h = harness_new(extra, BENCH_EVENT_SOURCE_CONFIG);
    snprintf(log_path, sizeof log_path, "%s/mandated.log", harness_dir(h));
    int rc = harness_start(h, START_MS);
    bench_stop_watch(1, harness_pid(h));
    if (rc < 0) {
        snprintf(err, errlen, "daemon did not start (%s)", strerror(-rc));
        bench_proc_print_log_tail(log_path, 20);
        bench_stop_watch(1, 0);
        harness_destroy(&h);
        return rc;
    }
    void *ctx = zmq_ctx_new();
    if (!ctx) {
        snprintf(err, errlen, "zmq_ctx_new: %s", zmq_strerror(errno));
        rc = -ENOMEM;
    } else {
        struct target t = {.kind = B_MANDATED, .endpoint = harness_endpoint(h), .zmq_ctx = ctx};
        rc = s_run_clients(o, &t, harness_pid(h), ret, &answered, err, errlen);
        zmq_ctx_term(ctx);
    }
    /* Cleared first: once reaped, the pid may be someone else's. harness_stop is bounded. */
    bench_stop_watch(1, 0);
    int status = harness_stop(h, STOP_MS);
    if (rc == 0 && status != 0) {
        snprintf(err, errlen, "daemon exited with %d on SIGTERM", status);
        rc = -ECHILD;
    }
    if (rc == 0 && !bench_stop_signal) {
        /* Every ACK must stand for an id in the log: count them now the writer is gone. */
        long ids = log_inspect_count_ids(harness_state_dir(h));
        if (ids != (long)answered) {
            snprintf(err, errlen, "daemon ACKed %zu events but its ids table has %ld", answered,
                     ids);
            rc = -EBADMSG;
        }
    }
    if (rc < 0)
        bench_proc_print_log_tail(log_path, 20);
    harness_destroy(&h);
    return rc;
}

/* ---- redis-server and nats-server ------------------------------------- */

/* One peer server's life: its directory, its log, its pid. */
struct peer {
    char dir[256];
    char log[320];
    int port;
    pid_t pid;
    int stop_sig; /* its clean stop: redis-server SIGTERM; nats-server SIGINT, which exits 0
                   * (it stops just as cleanly on SIGTERM, but then exits 1) */
};

static int
s_peer_start(struct peer *p, const char *const argv[], char *err, size_t errlen)
{
    int rc = bench_spawn(argv, p->log, &p->pid);
    if (rc < 0) {
        snprintf(err, errlen, "%s would not run (%s)", argv[0], strerror(-rc));
        return rc;
    }
    bench_stop_watch(1, p->pid);
    return 0;
}

/* Stops the server by its pid: SIGTERM, SIGKILL after STOP_MS. 0 when it exited 0. */
static int
s_peer_stop(struct peer *p, const char *what, char *err, size_t errlen)
{
    if (p->pid <= 0)
        return 0;
    bench_stop_watch(1, 0); /* as for the daemon: this stop is bounded */
    int status = bench_spawn_stop(p->pid, p->stop_sig, STOP_MS);
    p->pid = 0;
    if (status == 0)
        return 0;
    if (status < 0)
        snprintf(err, errlen, "%s did not exit within %d ms of SIG%s: killed", what, STOP_MS,
                 sigabbrev_np(p->stop_sig));
    else
        snprintf(err, errlen, "%s exited with %d on SIG%s", what, status,
                 sigabbrev_np(p->stop_sig));
    return -ECHILD;
}

static void
s_peer_destroy(struct peer *p)
{
    if (p->pid > 0) {
        bench_stop_watch(1, 0);
        bench_spawn_stop(p->pid, SIGKILL, STOP_MS);
        p->pid = 0;
    }
    if (p->dir[0])
        harness_rm_rf(p->dir);
    p->dir[0] = '\0';
}

static int
s_peer_prepare(struct peer *p, const char *prefix, int stop_sig, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    p->stop_sig = stop_sig;
    int rc = harness_mkdtemp(p->dir, sizeof p->dir, prefix);
    if (rc < 0) {
        p->dir[0] = '\0';
        snprintf(err, errlen, "mkdtemp: %s", strerror(-rc));
        return rc;
    }
    snprintf(p->log, sizeof p->log, "%s/server.log", p->dir);
    p->port = bench_free_port();
    if (p->port < 0) {
        snprintf(err, errlen, "no free loopback port");
        return p->port;
    }
    return 0;
}

/* Fails when the server died, so that a start does not wait out its whole bound. */
static int
s_peer_alive(struct peer *p, const char *what, char *err, size_t errlen)
{
    int status;
    if (p->pid > 0 && bench_spawn_exited(p->pid, &status)) {
        bench_stop_watch(1, 0);
        p->pid = 0;
        snprintf(err, errlen, "%s exited during start (status %d)", what, status);
        return -ECHILD;
    }
    return 0;
}

/* A blocking command on a setup connection; the reply, or NULL with err set. */
static redisReply *
s_redis_command(redisContext *c, const char *cmd, char *err, size_t errlen)
{
    redisReply *r = redisCommand(c, cmd);
    if (!r) {
        snprintf(err, errlen, "%s: %s", cmd, c->errstr);
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "%s: %s", cmd, r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

/* Connects until the server answers PING with PONG, within START_MS. */
static redisContext *
s_redis_ready(struct peer *p, char *err, size_t errlen)
{
    uint64_t deadline = monotonic_ns() + (uint64_t)START_MS * 1000000u;
    while (!bench_stop_signal) {
        if (s_peer_alive(p, "redis-server", err, errlen) < 0)
            return NULL;
        redisContext *c = s_redis_connect(p->port, 1000, err, errlen);
        if (c) {
            redisReply *r = s_redis_command(c, "PING", err, errlen);
            bool pong = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
            if (r)
                freeReplyObject(r);
            if (pong)
                return c;
            redisFree(c);
        }
        if (monotonic_ns() >= deadline) {
            snprintf(err, errlen, "redis-server did not answer PING within %d ms", START_MS);
            return NULL;
        }
        usleep(20000);
    }
    snprintf(err, errlen, "interrupted");
    return NULL;
}

static int
s_run_redis(const struct options *o, struct run_result *ret, char *err, size_t errlen)
{
    struct peer p;
    char port[16];
    size_t answered = 0;
    redisContext *setup = NULL;
    int rc = s_peer_prepare(&p, "mandated-bench-redis", SIGTERM, err, errlen);

    if (rc < 0)
        goto out;
    snprintf(port, sizeof port, "%d", p.port);
    /* No config file: Redis's own defaults but for what makes the log durable and local.
     * appendfsync always: the AOF is written and fsync'd before the replies of a loop turn. */
    const char *const argv[] = {o->redis_bin, "--port",        port,     "--bind",
                                "127.0.0.1",  "--dir",         p.dir,    "--appendonly",
                                "yes",        "--appendfsync", "always", "--save",
                                "",           "--daemonize",   "no",     NULL};
    if ((rc = s_peer_start(&p, argv, err, errlen)) < 0)
        goto out;
    if (!(setup = s_redis_ready(&p, err, errlen))) {
        rc = -ETIMEDOUT;
        goto out;
    }
    struct target t = {.kind = B_REDIS, .port = p.port};
    rc = s_run_clients(o, &t, p.pid, ret, &answered, err, errlen);
    if (rc == 0) {
        /* Every stream id stands for an entry: the stream holds exactly what was answered. */
        redisReply *r = s_redis_command(setup, "XLEN " REDIS_KEY, err, errlen);
        if (!r) {
            rc = -EIO;
        } else {
            if (r->type != REDIS_REPLY_INTEGER || r->integer != (long long)answered) {
                snprintf(err, errlen, "redis answered %zu XADDs but the stream has %lld entries",
                         answered, r->type == REDIS_REPLY_INTEGER ? r->integer : -1);
                rc = -EBADMSG;
            }
            freeReplyObject(r);
        }
    }
    redisFree(setup);
    setup = NULL;
    char serr[256];
    int stop = s_peer_stop(&p, "redis-server", serr, sizeof serr);
    if (rc == 0 && stop < 0) {
        snprintf(err, errlen, "%s", serr);
        rc = stop;
    }

out:
    if (setup)
        redisFree(setup);
    if (rc < 0 && p.log[0] && !bench_stop_signal)
        bench_proc_print_log_tail(p.log, 20);
    s_peer_destroy(&p);
    return rc;
}

/* A JetStream API request: the JSON answer, or NULL with err set (the server's error too). */
static json_t *
s_js_request(struct nats_conn *c, const char *inbox, const char *subject, const char *body,
             int timeout_ms, char *err, size_t errlen)
{
    static char answer[64 * 1024];
    json_error_t jerr;
    int rc = nats_request(c, subject, inbox, body, strlen(body), timeout_ms, answer, sizeof answer,
                          err, errlen);
    if (rc < 0)
        return NULL;
    json_t *j = json_loads(answer, 0, &jerr);
    if (!j) {
        snprintf(err, errlen, "%s: not JSON: %.200s", subject, answer);
        return NULL;
    }
    json_t *e = json_object_get(j, "error");
    if (e) {
        const char *d = json_string_value(json_object_get(e, "description"));
        snprintf(err, errlen, "%s: %s (code %lld)", subject, d ? d : "error",
                 (long long)json_integer_value(json_object_get(e, "code")));
        json_decref(j);
        return NULL;
    }
    return j;
}

/* Connects until the server takes a CONNECT, then creates the stream, within START_MS. */
static struct nats_conn *
s_nats_ready(struct peer *p, const char *inbox, char *err, size_t errlen)
{
    static const char create[] = "{\"name\":\"" NATS_STREAM "\",\"subjects\":[\"bench.>\"],"
                                 "\"storage\":\"file\"}";
    uint64_t deadline = monotonic_ns() + (uint64_t)START_MS * 1000000u;
    struct nats_conn *c = NULL;

    while (!bench_stop_signal && !c) {
        if (s_peer_alive(p, "nats-server", err, errlen) < 0)
            return NULL;
        if (nats_connect(&c, "127.0.0.1", p->port, "bench-setup", 1000, err, errlen) < 0) {
            if (monotonic_ns() >= deadline)
                return NULL;
            usleep(20000);
        }
    }
    if (!c) {
        snprintf(err, errlen, "interrupted");
        return NULL;
    }
    if (nats_sub(c, inbox, 1) < 0) {
        snprintf(err, errlen, "SUB %s failed", inbox);
        nats_close(&c);
        return NULL;
    }
    /* JetStream may still be coming up when clients are already taken: ask again until then. */
    for (;;) {
        json_t *j =
            s_js_request(c, inbox, "$JS.API.STREAM.CREATE." NATS_STREAM, create, 2000, err, errlen);
        if (j) {
            json_decref(j);
            return c;
        }
        if (bench_stop_signal || monotonic_ns() >= deadline || !strstr(err, "no answer")) {
            nats_close(&c);
            return NULL;
        }
    }
}

static int
s_run_nats(const struct options *o, struct run_result *ret, char *err, size_t errlen)
{
    struct peer p;
    char port[16], inbox[64];
    size_t answered = 0;
    struct nats_conn *setup = NULL;
    int rc = s_peer_prepare(&p, "mandated-bench-nats", SIGINT, err, errlen);
    struct target t = {.kind = B_NATS};

    if (rc < 0)
        goto out;
    snprintf(port, sizeof port, "%d", p.port);
    /* Each run's own inbox token: no reply of an earlier run can pass for one of this run. */
    snprintf(t.token, sizeof t.token, "b%x%llx", (unsigned)getpid(),
             (unsigned long long)(monotonic_ns() & 0xffffffffull));
    snprintf(inbox, sizeof inbox, "_INBOX.%s.setup", t.token);
    /* JetStream on, its store in the run's directory; everything else at its default,
     * the file store's fsync too (it syncs in the background, not per message). */
    const char *const argv[] = {o->nats_bin, "-js", "-sd", p.dir, "-a",
                                "127.0.0.1", "-p",  port,  NULL};
    if ((rc = s_peer_start(&p, argv, err, errlen)) < 0)
        goto out;
    if (!(setup = s_nats_ready(&p, inbox, err, errlen))) {
        rc = -ETIMEDOUT;
        goto out;
    }
    t.port = p.port;
    rc = s_run_clients(o, &t, p.pid, ret, &answered, err, errlen);
    if (rc == 0) {
        /* Every PubAck stands for a message: the stream holds exactly what was answered. */
        json_t *j = s_js_request(setup, inbox, "$JS.API.STREAM.INFO." NATS_STREAM, "", SETUP_MS,
                                 err, errlen);
        if (!j) {
            rc = -EIO;
        } else {
            json_t *msgs = json_object_get(json_object_get(j, "state"), "messages");
            if (!json_is_integer(msgs) || json_integer_value(msgs) != (json_int_t)answered) {
                snprintf(err, errlen, "JetStream acked %zu messages but the stream has %lld",
                         answered, msgs ? (long long)json_integer_value(msgs) : -1LL);
                rc = -EBADMSG;
            }
            json_decref(j);
        }
    }
    nats_close(&setup);
    char serr[256];
    int stop = s_peer_stop(&p, "nats-server", serr, sizeof serr);
    if (rc == 0 && stop < 0) {
        snprintf(err, errlen, "%s", serr);
        rc = stop;
    }

out:
    nats_close(&setup);
    if (rc < 0 && p.log[0] && !bench_stop_signal)
        bench_proc_print_log_tail(p.log, 20);
    s_peer_destroy(&p);
    return rc;
}

/* ---- results ---------------------------------------------------------- */

struct scenario {
    struct run_result runs[MAX_RUNS];
    int nruns;
};

enum metric { M_RATE, M_P50, M_P99, M_SRV_CPU, M_SRV_CORES, M_CLI_CPU, M_SECONDS };

static double
s_metric(const struct run_result *r, enum metric m)
{
    switch (m) {
    case M_RATE:
        return r->per_s;
    case M_P50:
        return r->p50_us;
    case M_P99:
        return r->p99_us;
    case M_SRV_CPU:
        return r->server_cpu_us;
    case M_SRV_CORES:
        return r->server_cores;
    case M_CLI_CPU:
        return r->client_cpu_us;
    case M_SECONDS:
        return r->seconds;
    }
    return 0;
}

static struct bench_spread
s_spread(const struct scenario *sc, enum metric m)
{
    double v[MAX_RUNS];
    for (int i = 0; i < sc->nruns; i++)
        v[i] = s_metric(&sc->runs[i], m);
    return bench_spread_of(v, sc->nruns);
}

/* Per-run ratios of rates: run k of both ran next to each other. */
static struct bench_spread
s_pair_ratios(const struct scenario *a, const struct scenario *b)
{
    double v[MAX_RUNS];
    int n = 0;
    for (int i = 0; i < a->nruns && i < b->nruns; i++)
        if (b->runs[i].per_s > 0)
            v[n++] = a->runs[i].per_s / b->runs[i].per_s;
    return bench_spread_of(v, n);
}

static const char *const g_broker_label[B_COUNT] = {
    "mandated (durability full)",
    "redis XADD (fsync always)",
    "nats JetStream (no fsync)",
};

static void
s_print_table(const struct options *o, struct scenario *sc)
{
    /* Written out: printf widths count bytes, and "µ" is two. */
    printf("\n%-28s  %s\n", "broker",
           "    acknowledged events/s      p50 latency (µs)            p99 latency (µs)");
    printf("%-28s  %8s %8s %8s  %8s %8s %8s  %8s %8s %8s\n", "", "median", "min", "max", "median",
           "min", "max", "median", "min", "max");
    for (int b = 0; b < B_COUNT; b++) {
        char r[128], p50[128], p99[128];
        if (!o->only[b])
            continue;
        bench_spread_cell(r, sizeof r, s_spread(&sc[b], M_RATE));
        bench_spread_cell(p50, sizeof p50, s_spread(&sc[b], M_P50));
        bench_spread_cell(p99, sizeof p99, s_spread(&sc[b], M_P99));
        printf("%-28s  %s  %s  %s\n", g_broker_label[b], r, p50, p99);
    }
}

/*
 * Where the CPU goes: with two cores shared by server and clients, a server
 * that is slower per event also leaves the clients less room, and this
 * table tells the two apart.
 */
static void
s_print_cpu_table(const struct options *o, struct scenario *sc)
{
    printf("\nCPU over the measured phase, per event (median of runs; server = every thread of "
           "its process,\nclients = this process: client threads, and for mandated their "
           "libzmq I/O thread)\n");
    printf("%-28s  %s\n", "broker", "server µs/event   server cores   client µs/event");
    for (int b = 0; b < B_COUNT; b++) {
        if (!o->only[b])
            continue;
        printf("%-28s  %15.2f   %12.2f   %15.2f\n", g_broker_label[b],
               s_spread(&sc[b], M_SRV_CPU).median, s_spread(&sc[b], M_SRV_CORES).median,
               s_spread(&sc[b], M_CLI_CPU).median);
    }
}

static void
s_print_machine(const struct options *o, struct scenario *sc)
{
    static const struct {
        enum metric m;
        const char *name;
        int decimals;
    } metrics[] = {{M_RATE, "per_s", 1},
                   {M_P50, "p50_us", 1},
                   {M_P99, "p99_us", 1},
                   {M_SRV_CPU, "server_cpu_us_per_event", 2},
                   {M_SRV_CORES, "server_cores", 3},
                   {M_CLI_CPU, "client_cpu_us_per_event", 2},
                   {M_SECONDS, "seconds", 2}};
    printf("\n");
    for (int b = 0; b < B_COUNT; b++) {
        if (!o->only[b])
            continue;
        for (size_t k = 0; k < sizeof metrics / sizeof metrics[0]; k++) {
            struct bench_spread s = s_spread(&sc[b], metrics[k].m);
            int d = metrics[k].decimals;
            printf("BENCH peers %s.%s median=%.*f min=%.*f max=%.*f runs=%d\n", g_broker_name[b],
                   metrics[k].name, d, s.median, d, s.min, d, s.max, sc[b].nruns);
        }
    }
}

/* The ratio mandated / peer of median rates, its line in the text, and its machine line. */
static void
s_print_ratio(struct scenario *sc, enum broker peer, double target, const char *key, char *machine,
              size_t msize)
{
    double m = s_spread(&sc[B_MANDATED], M_RATE).median;
    double p = s_spread(&sc[peer], M_RATE).median;
    double r = p > 0 ? m / p : 0;
    bool pass = r >= target;
    struct bench_spread pr = s_pair_ratios(&sc[B_MANDATED], &sc[peer]);

    printf("  mandated / %-6s %6.2f   target >= %.1f   %s   = %.0f / %.0f events/s   run by run "
           "%.2f, %.2f–%.2f\n",
           g_broker_name[peer], r, target, pass ? "PASS" : "MISS", m, p, pr.median, pr.min, pr.max);
    snprintf(machine, msize,
             "BENCH peers ratio.%s value=%.3f target>=%.1f %s\n"
             "BENCH peers ratio.%s.run_by_run median=%.3f min=%.3f max=%.3f\n",
             key, r, target, pass ? "PASS" : "MISS", key, pr.median, pr.min, pr.max);
}

static void
s_print_header(const struct options *o, const char *redis_version, const char *nats_version,
               double busy)
{
    struct utsname u;
    char real[PATH_MAX];
    const char *fstype = bench_fs_type(bench_tmpdir());
    int zmaj, zmin, zpat;

    uname(&u);
    zmq_version(&zmaj, &zmin, &zpat);
    printf("mandated peers benchmark: durable intake against Redis Streams and NATS JetStream\n");
    if (o->only[B_MANDATED])
        printf("  mandated   %s\n"
               "             durability = full (ACK after the fsync'd LMDB commit), a fresh "
               "state dir per run;\n"
               "             MEP/1 PUB over ZeroMQ DEALER, every reply an ACK with dup = false\n",
               realpath(o->mandated, real) ? real : o->mandated);
    if (o->only[B_REDIS])
        printf("  redis      %s %s\n"
               "             --appendonly yes --appendfsync always --save \"\", a fresh --dir "
               "per run;\n"
               "             XADD %s * e PAYLOAD pipelined (hiredis %d.%d.%d), every reply a "
               "stream id\n",
               o->redis_bin, redis_version, REDIS_KEY, HIREDIS_MAJOR, HIREDIS_MINOR, HIREDIS_PATCH);
    if (o->only[B_NATS])
        printf("  nats       %s %s\n"
               "             -js, a fresh -sd per run; stream %s (subjects bench.>, storage "
               "file);\n"
               "             PUB %s with a reply inbox per event, every reply a PubAck\n"
               "  NOTE       JetStream's fsync is left at its default: its file store syncs in "
               "the\n"
               "             background (every 2 minutes), not before a PubAck, so its ack "
               "does not mean\n"
               "             the event is on disk; mandated's and redis's do\n",
               o->nats_bin, nats_version, NATS_STREAM, NATS_SUBJECT);
    printf("  load       %u connections x %u in flight (%u in all) for %u s per run, "
           "%d-byte payload\n"
           "             (the MEP/1 envelope, type %s, source %s, for all three);\n"
           "             not measured: %d lock-step warm-up events per connection\n",
           o->clients, o->window, o->clients * o->window, o->seconds, BENCH_EVENT_BYTES,
           BENCH_EVENT_TYPE, BENCH_EVENT_SOURCE, WARMUP_PER_CLIENT);
    char order[64] = "";
    for (int b = 0; b < B_COUNT; b++)
        if (o->only[b])
            snprintf(order + strlen(order), sizeof order - strlen(order), "%s, ", g_broker_name[b]);
    printf("  runs       %d per broker, interleaved (%s...)\n", o->runs, order);
    printf("  transport  tcp on loopback (127.0.0.1), a free port per run; one client thread "
           "per connection\n");
    printf("  disk       %s: %s (every server's files live here)\n", bench_tmpdir(), fstype);
    printf("  machine    %ld CPUs online, %s %s, libzmq %d.%d.%d\n", sysconf(_SC_NPROCESSORS_ONLN),
           u.sysname, u.release, zmaj, zmin, zpat);
    bench_print_busy("before the first run", busy);
    bench_print_tmpfs_warning();
    fflush(stdout);
}

/* ---- options ---------------------------------------------------------- */

static void
s_usage(FILE *out)
{
    fprintf(out,
            "usage: peers [--mandated PATH] [--runs N] [--seconds S] [--clients N] [--window W]\n"
            "             [--only LIST] [--max-seconds S] [--quick]\n"
            "  --mandated PATH   daemon binary (default: $MANDATED_BIN, else build/mandated)\n"
            "  --runs N          runs per broker, 3..%d (default %d)\n"
            "  --seconds S       how long every client sends in each run, 1..600 (default %d)\n"
            "  --clients N       connections, one thread each, 1..%d (default %d)\n"
            "  --window W        events in flight per connection, 1..%d (default %d)\n"
            "  --only LIST       a subset of mandated,redis,nats (default: all three)\n"
            "  --max-seconds S   kill everything and fail after S seconds (default %d)\n"
            "  --quick           smoke run: --runs 3 --seconds %d\n"
            "  -h, --help        this text\n"
            "Needs Debian's %s and %s (scripts/install-deps installs both).\n"
            "Exit status: 0 when every run ran, whatever the targets; %d when a server is\n"
            "missing; non-zero when something broke (NACK, error reply, timeout, a server\n"
            "that would not start or stop).\n",
            MAX_RUNS, DEFAULT_RUNS, DEFAULT_SECONDS, MAX_CLIENTS, DEFAULT_CLIENTS, MAX_WINDOW,
            DEFAULT_WINDOW, DEFAULT_MAX_SECS, QUICK_SECONDS, REDIS_PACKAGE, NATS_PACKAGE,
            EX_UNAVAILABLE);
}

static bool
s_parse_uint(const char *s, unsigned min, unsigned max, unsigned *ret)
{
    uint64_t v;
    if (text_parse_u64(s, min, max, &v) < 0)
        return false;
    *ret = (unsigned)v;
    return true;
}

static bool
s_parse_only(const char *list, bool only[B_COUNT])
{
    char buf[128];
    char *save = NULL;
    if (strlen(list) >= sizeof buf)
        return false;
    snprintf(buf, sizeof buf, "%s", list);
    memset(only, 0, B_COUNT * sizeof only[0]);
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int b;
        for (b = 0; b < B_COUNT && strcmp(tok, g_broker_name[b]) != 0; b++)
            ;
        if (b == B_COUNT)
            return false;
        only[b] = true;
    }
    return only[B_MANDATED] || only[B_REDIS] || only[B_NATS];
}

static int
s_parse_args(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {{"mandated", required_argument, NULL, 'm'},
                                             {"runs", required_argument, NULL, 'r'},
                                             {"seconds", required_argument, NULL, 'S'},
                                             {"clients", required_argument, NULL, 'c'},
                                             {"window", required_argument, NULL, 'w'},
                                             {"only", required_argument, NULL, 'o'},
                                             {"max-seconds", required_argument, NULL, 's'},
                                             {"quick", no_argument, NULL, 'q'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *bin = getenv("MANDATED_BIN");
    unsigned v;
    int opt;
    bool quick = false, runs_given = false, seconds_given = false;

    *o = (struct options){.mandated = bin && *bin ? bin : "build/mandated",
                          .runs = DEFAULT_RUNS,
                          .seconds = DEFAULT_SECONDS,
                          .clients = DEFAULT_CLIENTS,
                          .window = DEFAULT_WINDOW,
                          .max_seconds = DEFAULT_MAX_SECS,
                          .only = {true, true, true}};
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'm':
            o->mandated = optarg;
            break;
        case 'r':
            if (!s_parse_uint(optarg, 3, MAX_RUNS, &v))
                goto bad;
            o->runs = (int)v;
            runs_given = true;
            break;
        case 'S':
            if (!s_parse_uint(optarg, 1, 600, &o->seconds))
                goto bad;
            seconds_given = true;
            break;
        case 'c':
            if (!s_parse_uint(optarg, 1, MAX_CLIENTS, &o->clients))
                goto bad;
            break;
        case 'w':
            if (!s_parse_uint(optarg, 1, MAX_WINDOW, &o->window))
                goto bad;
            break;
        case 'o':
            if (!s_parse_only(optarg, o->only))
                goto bad;
            break;
        case 's':
            if (!s_parse_uint(optarg, 10, 86400, &o->max_seconds))
                goto bad;
            break;
        case 'q':
            quick = true;
            break;
        case 'h':
            s_usage(stdout);
            exit(EX_OK);
        default:
            s_usage(stderr);
            return -EINVAL;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "peers: unexpected argument '%s'\n", argv[optind]);
        s_usage(stderr);
        return -EINVAL;
    }
    /* --quick sets what was not said outright, whatever the order of the options. */
    if (quick && !runs_given)
        o->runs = 3;
    if (quick && !seconds_given)
        o->seconds = QUICK_SECONDS;
    return 0;

bad:
    fprintf(stderr, "peers: bad value '%s'\n", optarg);
    s_usage(stderr);
    return -EINVAL;
}

/* The first of paths that can run, or NULL. */
static const char *
s_find(const char *const *paths)
{
    for (; *paths; paths++)
        if (access(*paths, X_OK) == 0)
            return *paths;
    return NULL;
}

/*
 * The version number in a --version line: after "v=" (Redis: "Redis server
 * v=7.0.15 sha=..."), else its last word without a leading v ("nats-server:
 * v2.9.10"); "unknown" when the line is empty.
 */
static void
s_version(const char *line, char *buf, size_t size)
{
    const char *v = strstr(line, "v=");
    if (v)
        v += 2;
    else if ((v = strrchr(line, ' ')))
        v += 1 + (v[1] == 'v');
    else
        v = line;
    size_t n = strcspn(v, " \t");
    snprintf(buf, size, "%.*s", (int)n, n ? v : "unknown");
}

int
main(int argc, char **argv)
{
    static struct scenario sc[B_COUNT];
    struct options o;
    char err[512], line[256], redis_version[64] = "", nats_version[64] = "";
    uint8_t probe[BENCH_EVENT_BYTES];
    int rc = 0;

    if (s_parse_args(argc, argv, &o) < 0)
        return EX_USAGE;
    if (o.only[B_MANDATED] && access(o.mandated, X_OK) < 0) {
        fprintf(stderr,
                "peers: no daemon at %s (%s): build it, or set $MANDATED_BIN or --mandated\n",
                o.mandated, strerror(errno));
        return EX_UNAVAILABLE;
    }
    if (o.only[B_REDIS] && !(o.redis_bin = s_find(g_redis_paths))) {
        fprintf(stderr,
                "peers: no redis-server at %s: install Debian's package: apt-get install %s "
                "(or scripts/install-deps)\n",
                g_redis_paths[0], REDIS_PACKAGE);
        return EX_UNAVAILABLE;
    }
    if (o.only[B_NATS] && !(o.nats_bin = s_find(g_nats_paths))) {
        fprintf(stderr,
                "peers: no nats-server at %s or %s: install Debian's package: apt-get install "
                "%s (or scripts/install-deps)\n",
                g_nats_paths[0], g_nats_paths[1], NATS_PACKAGE);
        return EX_UNAVAILABLE;
    }
    /* The harness finds the daemon here. */
    setenv("MANDATED_BIN", o.mandated, 1);
    /* Made once here: the first call finds the padding, before any thread runs. */
    if (bench_event_make(probe, 0, 0, 0) < 0) {
        fprintf(stderr, "peers: cannot make a %d-byte envelope\n", BENCH_EVENT_BYTES);
        return EX_SOFTWARE;
    }
    if (o.redis_bin) {
        const char *const args[] = {o.redis_bin, "--version", NULL};
        bench_spawn_first_line(args, line, sizeof line);
        s_version(line, redis_version, sizeof redis_version);
    }
    if (o.nats_bin) {
        const char *const args[] = {o.nats_bin, "--version", NULL};
        bench_spawn_first_line(args, line, sizeof line);
        s_version(line, nats_version, sizeof nats_version);
    }

    bench_stop_install("peers", o.max_seconds);

    double busy_before = bench_busy_cores();
    s_print_header(&o, redis_version, nats_version, busy_before);

    /* Interleaved, so that a drift of the machine (page cache, another tenant) hits all alike. */
    for (int run = 0; run < o.runs && rc == 0; run++) {
        for (int b = 0; b < B_COUNT && rc == 0; b++) {
            if (!o.only[b])
                continue;
            struct run_result *r = &sc[b].runs[sc[b].nruns];
            memset(r, 0, sizeof *r);
            err[0] = '\0';
            if (b == B_MANDATED)
                rc = s_run_mandated(&o, r, err, sizeof err);
            else if (b == B_REDIS)
                rc = s_run_redis(&o, r, err, sizeof err);
            else
                rc = s_run_nats(&o, r, err, sizeof err);
            if (rc < 0) {
                fprintf(stderr, "peers: run %d, %s: %s\n", run + 1, g_broker_name[b], err);
                break;
            }
            sc[b].nruns++;
            fprintf(stderr,
                    "[run %d/%d] %-9s %9.0f events/s   p50 %8.1f µs   p99 %8.1f µs   server "
                    "%.2f µs/event (%.2f cores)   client %.2f µs/event   %zu events in %.2f s\n",
                    run + 1, o.runs, g_broker_name[b], r->per_s, r->p50_us, r->p99_us,
                    r->server_cpu_us, r->server_cores, r->client_cpu_us, r->events, r->seconds);
        }
    }
    int status = bench_stop_failed(rc);
    if (status >= 0)
        return status;

    double busy_after = bench_busy_cores();
    s_print_table(&o, sc);
    s_print_cpu_table(&o, sc);
    printf("\n");
    bench_print_busy("before the first run", busy_before);
    bench_print_busy("after the last run  ", busy_after);

    char vs_redis[256] = "", vs_nats[256] = "";
    printf("\ntargets (ratio of the median rates; then the same ratio run by run: median, "
           "min–max)\n");
    if (o.only[B_MANDATED] && o.only[B_REDIS])
        s_print_ratio(sc, B_REDIS, TARGET_VS_REDIS, "vs_redis", vs_redis, sizeof vs_redis);
    if (o.only[B_MANDATED] && o.only[B_NATS])
        s_print_ratio(sc, B_NATS, TARGET_VS_NATS, "vs_nats", vs_nats, sizeof vs_nats);
    if (!o.only[B_MANDATED] || (!o.only[B_REDIS] && !o.only[B_NATS]))
        printf("  (not computed: --only left out mandated or both peers)\n");
    if (o.only[B_NATS])
        printf("  nats acks before its data is on disk (fsync at its default): the other two "
               "do not\n");
    if (o.clients != DEFAULT_CLIENTS || o.window != DEFAULT_WINDOW || o.seconds < 10)
        printf("  NOTE       the targets are set for %d x %d and runs of at least 10 s\n",
               DEFAULT_CLIENTS, DEFAULT_WINDOW);

    s_print_machine(&o, sc);
    printf("%s%s", vs_redis, vs_nats);
    if (o.only[B_REDIS])
        printf("BENCH peers redis.version value=%s appendfsync=always\n", redis_version);
    if (o.only[B_NATS])
        printf("BENCH peers nats.version value=%s fsync=default\n", nats_version);
    printf("BENCH peers machine.busy_cores before=%.2f after=%.2f\n", busy_before, busy_after);
    return EX_OK;
}
