/*
 * mandate_client: libmandate, the MEP/1 publisher (see mandate_client.h).
 *
 * Each event in flight owns a slot: its encoded bytes (kept so that a resend
 * is byte-identical, same id included), when it was last sent and how often.
 * Slots sit in two structures at once: an open-addressing map keyed by the
 * 16-byte id, to correlate replies, and a list in last-send order, so the
 * next resend due is always at the head. Both are O(1) per event.
 */
#include "proto/curve_socket.h"
#include "common/clock.h"
#include "tools/mandate_client.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#include <zmq.h>

/* Replies are small maps (a NACK reason is at most a few hundred bytes). */
#define REPLY_BUF_MAX 8192

struct slot {
    uint8_t id[MEP_ID_LEN];
    void *user;
    msgpack_sbuffer body; /* the encoded envelope, sent as is on every resend */
    int64_t sent_ms;      /* last transmission, CLOCK_MONOTONIC */
    uint64_t order;       /* publish order: the oldest is the smallest */
    unsigned sends;       /* transmissions so far */
    int prev, next;       /* send-order list while in flight; free list (next) otherwise */
};

struct mandate_client {
    void *ctx;
    bool own_ctx;
    void *sock;

    unsigned window;
    unsigned timeout_ms;
    unsigned max_resends;
    mandate_reply_fn *on_reply;
    void *cb_arg;

    struct slot *slots; /* window of them */
    int free_head;
    int list_head, list_tail; /* busy slots, oldest transmission first */
    unsigned in_flight;
    uint64_t next_order;

    int *map; /* slot index or -1; linear probing, backward-shift deletion */
    unsigned map_mask;

    bool pong;
    struct mandate_client_stats stats;
    uint8_t rbuf[REPLY_BUF_MAX];
};

static pthread_once_t s_sodium_once = PTHREAD_ONCE_INIT;

static void
s_sodium_init(void)
{
    /* Fails only when no entropy source exists at all; nothing can go on then. */
    if (sodium_init() < 0)
        abort();
}

void
mandate_new_id(uint8_t ret_id[16])
{
    uint64_t ms;

    pthread_once(&s_sodium_once, s_sodium_init);
    ms = unix_ms();
    for (int i = 0; i < 6; i++)
        ret_id[i] = (uint8_t)(ms >> (40 - 8 * i));
    randombytes_buf(ret_id + 6, 10);
    ret_id[6] = (uint8_t)(0x70 | (ret_id[6] & 0x0f)); /* version 7 */
    ret_id[8] = (uint8_t)(0x80 | (ret_id[8] & 0x3f)); /* variant 10 */
}

void
mandate_client_options_init(struct mandate_client_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->window = MANDATE_DEFAULT_WINDOW;
    opts->timeout_ms = MANDATE_DEFAULT_TIMEOUT_MS;
    opts->max_resends = MANDATE_DEFAULT_MAX_RESENDS;
}

/* ---- id map ---- */

/* Ids are chosen by publishers: mix all 16 bytes, not only the random tail of a UUIDv7. */
static unsigned
s_hash(const uint8_t id[MEP_ID_LEN])
{
    uint64_t a, b;

    memcpy(&a, id, 8);
    memcpy(&b, id + 8, 8);
    a = (a ^ (b * 0x9e3779b97f4a7c15ULL)) * 0xbf58476d1ce4e5b9ULL;
    return (unsigned)(a ^ (a >> 31));
}

/* Returns the map position holding id, or -1. */
static int
s_map_find(const struct mandate_client *c, const uint8_t id[MEP_ID_LEN])
{
    unsigned i = s_hash(id) & c->map_mask;

    while (c->map[i] >= 0) {
        if (memcmp(c->slots[c->map[i]].id, id, MEP_ID_LEN) == 0)
            return (int)i;
        i = (i + 1) & c->map_mask;
    }
    return -1;
}

static void
s_map_insert(struct mandate_client *c, int slot)
{
    unsigned i = s_hash(c->slots[slot].id) & c->map_mask;

    /* The map has at least twice as many cells as slots: a free cell exists. */
    while (c->map[i] >= 0)
        i = (i + 1) & c->map_mask;
    c->map[i] = slot;
}

/*
 * Removes the entry at position pos. Later entries of the same probe run are
 * shifted back so that every lookup still finds its key without tombstones.
 */
static void
s_map_remove_at(struct mandate_client *c, unsigned pos)
{
    unsigned i = pos, j = pos;

    for (;;) {
        j = (j + 1) & c->map_mask;
        if (c->map[j] < 0)
            break;
        unsigned home = s_hash(c->slots[c->map[j]].id) & c->map_mask;
        /* Entry j may stay only if its home lies cyclically in (i, j]. */
        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (stays)
            continue;
        c->map[i] = c->map[j];
        i = j;
    }
    c->map[i] = -1;
}

/* ---- send-order list ---- */

static void
s_list_unlink(struct mandate_client *c, int s)
{
    struct slot *sl = &c->slots[s];

    if (sl->prev >= 0)
        c->slots[sl->prev].next = sl->next;
    else
        c->list_head = sl->next;
    if (sl->next >= 0)
        c->slots[sl->next].prev = sl->prev;
    else
        c->list_tail = sl->prev;
    sl->prev = sl->next = -1;
}

static void
s_list_append(struct mandate_client *c, int s)
{
    struct slot *sl = &c->slots[s];

    sl->prev = c->list_tail;
    sl->next = -1;
    if (c->list_tail >= 0)
        c->slots[c->list_tail].next = s;
    else
        c->list_head = s;
    c->list_tail = s;
}

/* ---- lifecycle ---- */

static int
s_setopt_int(void *sock, int opt, int value)
{
    return zmq_setsockopt(sock, opt, &value, sizeof(value));
}

struct mandate_client *
mandate_client_new(const char *endpoint, const struct mandate_client_options *opts)
{
    struct mandate_client_options defaults;
    struct mandate_client *c;
    unsigned cells = 4;
    int saved;

    if (!endpoint) {
        errno = EINVAL;
        return NULL;
    }
    if (!opts) {
        mandate_client_options_init(&defaults);
        opts = &defaults;
    }
    pthread_once(&s_sodium_once, s_sodium_init);

    c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->window = opts->window ? opts->window : MANDATE_DEFAULT_WINDOW;
    c->timeout_ms = opts->timeout_ms ? opts->timeout_ms : MANDATE_DEFAULT_TIMEOUT_MS;
    c->max_resends = opts->max_resends;
    c->on_reply = opts->on_reply;
    c->cb_arg = opts->cb_arg;
    if (c->window > (1u << 24)) {
        errno = EINVAL;
        goto out_free;
    }

    while (cells < 2 * c->window)
        cells *= 2;
    c->map_mask = cells - 1;
    c->map = malloc(cells * sizeof(*c->map));
    c->slots = calloc(c->window, sizeof(*c->slots));
    if (!c->map || !c->slots)
        goto out_free;
    memset(c->map, 0xff, cells * sizeof(*c->map)); /* all -1 */
    for (unsigned i = 0; i < c->window; i++) {
        msgpack_sbuffer_init(&c->slots[i].body);
        c->slots[i].prev = -1;
        c->slots[i].next = i + 1 < c->window ? (int)i + 1 : -1;
    }
    c->free_head = 0;
    c->list_head = c->list_tail = -1;

    if (opts->zmq_ctx) {
        c->ctx = opts->zmq_ctx;
    } else {
        c->ctx = zmq_ctx_new();
        if (!c->ctx)
            goto out_free;
        c->own_ctx = true;
    }
    c->sock = zmq_socket(c->ctx, ZMQ_DEALER);
    if (!c->sock)
        goto out_ctx;
    /*
     * No ZMQ_IMMEDIATE: the connect is asynchronous, and events published
     * before it completes should wait in the pipe rather than fail and sit out
     * a whole timeout. The send queue must hold every resend the window can
     * produce while the broker is away; past that a send counts as a
     * transmission lost on the way, which the resend timer already covers.
     */
    int hwm = (int)(c->window * (c->max_resends < 64 ? c->max_resends + 1 : 64) + 16);
    if (s_setopt_int(c->sock, ZMQ_LINGER, 0) != 0 || s_setopt_int(c->sock, ZMQ_SNDHWM, hwm) != 0 ||
        curve_socket_client(c->sock, opts->curve_server_key, opts->curve_public_key,
                            opts->curve_secret_key) != 0)
        goto out_sock;
    if (zmq_connect(c->sock, endpoint) != 0) {
        /* An unknown transport is as much a bad endpoint as a malformed address. */
        if (errno == EPROTONOSUPPORT || errno == ENOCOMPATPROTO)
            errno = EINVAL;
        goto out_sock;
    }
    return c;

out_sock:
    saved = errno;
    zmq_close(c->sock);
    errno = saved;
out_ctx:
    saved = errno;
    if (c->own_ctx)
        zmq_ctx_term(c->ctx);
    errno = saved;
out_free:
    saved = errno;
    if (c->slots)
        for (unsigned i = 0; i < c->window; i++)
            msgpack_sbuffer_destroy(&c->slots[i].body);
    free(c->slots);
    free(c->map);
    free(c);
    errno = saved;
    return NULL;
}

void
mandate_client_destroy(struct mandate_client **client_p)
{
    struct mandate_client *c;

    if (!client_p || !*client_p)
        return;
    c = *client_p;
    zmq_close(c->sock);
    if (c->own_ctx)
        zmq_ctx_term(c->ctx);
    for (unsigned i = 0; i < c->window; i++)
        msgpack_sbuffer_destroy(&c->slots[i].body);
    free(c->slots);
    free(c->map);
    free(c);
    *client_p = NULL;
}

unsigned
mandate_client_in_flight(const struct mandate_client *c)
{
    return c->in_flight;
}

void
mandate_client_get_stats(const struct mandate_client *c, struct mandate_client_stats *ret)
{
    *ret = c->stats;
}

/* ---- sending ---- */

/*
 * Sends the three frames. The first frame decides: once it is queued, libzmq
 * takes the remaining parts of the message too. A full queue (-EAGAIN) is
 * reported but the caller counts it as a transmission anyway: the resend
 * timer handles both a lost and a never-sent copy the same way.
 */
static int
s_send3(void *sock, const char *cmd, const void *body, size_t len)
{
    if (zmq_send(sock, MEP_PROTOCOL, 4, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return -errno;
    if (zmq_send(sock, cmd, strlen(cmd), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(sock, body, len, ZMQ_DONTWAIT) < 0)
        return -errno;
    return 0;
}

static int
s_transmit(struct mandate_client *c, int s, int64_t now)
{
    struct slot *sl = &c->slots[s];
    int r = s_send3(c->sock, "PUB", sl->body.data, sl->body.size);

    sl->sends++;
    sl->sent_ms = now;
    return r == -EAGAIN ? 0 : r;
}

/* ---- completion ---- */

static void
s_complete(struct mandate_client *c, int s, int map_pos, const struct mep_reply *reply)
{
    struct slot *sl = &c->slots[s];
    void *user = sl->user;

    if (map_pos < 0)
        map_pos = s_map_find(c, sl->id);
    s_map_remove_at(c, (unsigned)map_pos);
    s_list_unlink(c, s);
    sl->next = c->free_head;
    c->free_head = s;
    c->in_flight--;
    if (c->on_reply)
        c->on_reply(c->cb_arg, reply, user);
}

/* Resends what is due and fails what has been resent enough; returns completions. */
static int
s_run_timers(struct mandate_client *c, int64_t now)
{
    int done = 0;

    while (c->list_head >= 0) {
        int s = c->list_head;
        struct slot *sl = &c->slots[s];

        if (now - sl->sent_ms < (int64_t)c->timeout_ms)
            break;
        if (sl->sends > c->max_resends) {
            struct mep_reply r = {
                .is_ack = false, .has_id = true, .code = MEP_UNAVAILABLE, .retry = true};
            memcpy(r.id, sl->id, MEP_ID_LEN);
            snprintf(r.reason, sizeof(r.reason), "timeout: no reply after %u sends over %u ms",
                     sl->sends, sl->sends * c->timeout_ms);
            c->stats.timed_out++;
            s_complete(c, s, -1, &r);
            done++;
            continue;
        }
        s_list_unlink(c, s);
        s_list_append(c, s);
        c->stats.resent++;
        int rc = s_transmit(c, s, now);
        if (rc < 0)
            return rc;
    }
    return done;
}

static int64_t
s_next_due(const struct mandate_client *c)
{
    if (c->list_head < 0)
        return INT64_MAX;
    return c->slots[c->list_head].sent_ms + c->timeout_ms;
}

/* The oldest event in flight by publish order (for a NACK without id). */
static int
s_oldest(const struct mandate_client *c)
{
    int best = -1;

    for (int s = c->list_head; s >= 0; s = c->slots[s].next)
        if (best < 0 || c->slots[s].order < c->slots[best].order)
            best = s;
    return best;
}

/* ---- receiving ---- */

static void
s_handle(struct mandate_client *c, enum mep_command cmd, const void *body, size_t len, int *done)
{
    struct mep_reply r;
    int s, pos = -1;

    if (cmd == MEP_CMD_PONG) {
        c->pong = true;
        c->stats.replies++;
        return;
    }
    if ((cmd != MEP_CMD_ACK && cmd != MEP_CMD_NACK) ||
        mep_reply_decode(body, len, cmd == MEP_CMD_ACK, &r) != 0) {
        c->stats.malformed++;
        return;
    }
    c->stats.replies++;
    if (r.has_id) {
        pos = s_map_find(c, r.id);
        s = pos >= 0 ? c->map[pos] : -1;
    } else {
        s = r.is_ack ? -1 : s_oldest(c);
    }
    if (s < 0) {
        c->stats.stray++;
        return;
    }
    if (r.is_ack) {
        c->stats.acked++;
        c->stats.dups += r.dup;
    } else {
        c->stats.nacked++;
    }
    s_complete(c, s, pos, &r);
    (*done)++;
}

/*
 * Receives one whole message if one is queued. Returns 1 when one was
 * handled, 0 when none was there, -errno on a socket error.
 */
static int
s_recv_one(struct mandate_client *c, int *done)
{
    char f0[8], f1[8];
    int n0, n1 = -1, n2 = -1, more;
    size_t more_len = sizeof(more);
    unsigned parts = 1;

    n0 = zmq_recv(c->sock, f0, sizeof(f0), ZMQ_DONTWAIT);
    if (n0 < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -errno;
    /* Read every part of the message, whatever its shape, before judging it. */
    for (;;) {
        if (zmq_getsockopt(c->sock, ZMQ_RCVMORE, &more, &more_len) != 0)
            return -errno;
        if (!more)
            break;
        int n;
        if (parts == 1)
            n = n1 = zmq_recv(c->sock, f1, sizeof(f1), 0);
        else if (parts == 2)
            n = n2 = zmq_recv(c->sock, c->rbuf, sizeof(c->rbuf), 0);
        else
            n = zmq_recv(c->sock, NULL, 0, 0);
        if (n < 0)
            return -errno;
        parts++;
    }
    if (parts < 2 || parts > 3 || n0 != 4 || memcmp(f0, MEP_PROTOCOL, 4) != 0 ||
        (size_t)n1 > sizeof(f1) || (parts == 3 && (size_t)n2 > sizeof(c->rbuf))) {
        c->stats.malformed++;
        return 1;
    }
    s_handle(c, mep_command_parse(f1, (size_t)n1), c->rbuf, parts == 3 ? (size_t)n2 : 0, done);
    return 1;
}

/* Handles everything readable now, then the timers. Returns completions or -errno. */
static int
s_service(struct mandate_client *c)
{
    int done = 0, r;

    while ((r = s_recv_one(c, &done)) > 0)
        ;
    if (r < 0)
        return r;
    r = s_run_timers(c, (int64_t)monotonic_ms());
    return r < 0 ? r : done + r;
}

/* Sleeps until the socket is readable or until (monotonic ms). */
static int
s_wait_until(struct mandate_client *c, int64_t until)
{
    zmq_pollitem_t item = {.socket = c->sock, .events = ZMQ_POLLIN};
    int64_t wait = until - (int64_t)monotonic_ms();

    if (wait <= 0)
        return 0;
    if (wait > 60000)
        wait = 60000;
    if (zmq_poll(&item, 1, (long)wait) < 0 && errno != EINTR)
        return -errno;
    return 0;
}

int
mandate_client_poll(struct mandate_client *c, int timeout_ms)
{
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : (int64_t)monotonic_ms() + timeout_ms;

    for (;;) {
        int n = s_service(c);
        if (n != 0)
            return n;
        if (c->in_flight == 0 && timeout_ms < 0)
            return 0;
        if ((int64_t)monotonic_ms() >= deadline)
            return 0;
        int64_t until = s_next_due(c);
        int r = s_wait_until(c, until < deadline ? until : deadline);
        if (r < 0)
            return r;
    }
}

int
mandate_client_flush(struct mandate_client *c, int timeout_ms)
{
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : (int64_t)monotonic_ms() + timeout_ms;

    while (c->in_flight > 0) {
        int64_t left = deadline - (int64_t)monotonic_ms();
        if (left <= 0)
            return -ETIMEDOUT;
        int r = mandate_client_poll(c, timeout_ms < 0 ? -1
                                                      : (int)(left > INT32_MAX ? INT32_MAX : left));
        if (r < 0)
            return r;
    }
    return 0;
}

int
mandate_client_ping(struct mandate_client *c, int timeout_ms)
{
    int64_t deadline = (int64_t)monotonic_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
    int r;

    c->pong = false;
    r = s_send3(c->sock, "PING", "", 0);
    if (r < 0)
        return r == -EAGAIN ? -ETIMEDOUT : r;
    for (;;) {
        r = s_service(c);
        if (r < 0)
            return r;
        if (c->pong)
            return 0;
        if ((int64_t)monotonic_ms() >= deadline)
            return -ETIMEDOUT;
        int64_t until = s_next_due(c);
        r = s_wait_until(c, until < deadline ? until : deadline);
        if (r < 0)
            return r;
    }
}

int
mandate_client_publish(struct mandate_client *c, const struct envelope_fields *f, void *user)
{
    static const uint8_t empty_map[1] = {0x80};
    struct envelope_fields fields;
    struct slot *sl;
    int s, r;

    if (!f || !f->id || !f->type || !f->source)
        return -EINVAL;
    /* Replies already here free slots and run callbacks early: cheap when none are. */
    r = s_service(c);
    if (r < 0)
        return r;
    while (c->in_flight >= c->window) {
        r = mandate_client_poll(c, -1);
        if (r < 0)
            return r;
    }
    if (s_map_find(c, f->id) >= 0)
        return -EEXIST;

    fields = *f;
    if (!fields.data) {
        fields.data = empty_map;
        fields.data_len = sizeof(empty_map);
    }
    s = c->free_head;
    sl = &c->slots[s];
    c->free_head = sl->next;
    memcpy(sl->id, f->id, MEP_ID_LEN);
    sl->user = user;
    sl->order = c->next_order++;
    sl->sends = 0;
    msgpack_sbuffer_clear(&sl->body);
    envelope_encode(&fields, &sl->body);
    s_map_insert(c, s);
    s_list_append(c, s);
    c->in_flight++;
    c->stats.published++;

    r = s_transmit(c, s, (int64_t)monotonic_ms());
    if (r < 0) {
        /* The socket is unusable (context terminated...): take the event back. */
        s_map_remove_at(c, (unsigned)s_map_find(c, sl->id));
        s_list_unlink(c, s);
        sl->next = c->free_head;
        c->free_head = s;
        c->in_flight--;
        c->stats.published--;
        return r;
    }
    return 0;
}
