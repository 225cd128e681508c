/*
 * zap: see zap.h. A REP socket on ZAP_ENDPOINT joined to the loop through
 * ZMQ_FD; every request is answered at once, so REP's strict send/receive
 * alternation always holds. libzmq's I/O thread waits for the reply without
 * blocking the loop: handshakes and events interleave.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "daemon/router.h"
#include "daemon/zap.h"
#include "proto/audit_kinds.h"
#include "proto/pack.h"

#define ZAP_VERSION    "1.0"
#define FRAMES_MAX     8 /* version, id, domain, address, identity, mechanism, credentials... */
#define FIELD_MAX      255
#define PEERS_MAX      256  /* peer addresses whose last refusal is remembered */
#define REFUSAL_GAP_MS 1000 /* one auth_refused record a second per peer */

struct peer {
    char address[FIELD_MAX + 1];
    uint64_t logged_ms; /* when its last record was written; 0: never */
    uint64_t suppressed;
};

struct zap {
    const struct mandated_config *cfg;
    void *sock;
    struct event *ev;
    struct journal *records;
    struct loop_turn *turn;
    struct peer peers[PEERS_MAX];
    struct zap_stats stats;
};

/* One request's frames as C strings (binary frames: credentials only). */
struct request {
    char version[FIELD_MAX + 1], id[FIELD_MAX + 1], domain[FIELD_MAX + 1];
    char address[FIELD_MAX + 1], mechanism[FIELD_MAX + 1];
    size_t id_len;
    uint8_t key[CURVE_KEY_LEN];
    bool has_key;
};

static void
s_reply(struct zap *z, const struct request *r, const char *status, const char *text,
        const char *user_id)
{
    int more = ZMQ_SNDMORE | ZMQ_DONTWAIT;
    int rc = zmq_send(z->sock, ZAP_VERSION, strlen(ZAP_VERSION), more);
    if (rc >= 0)
        rc = zmq_send(z->sock, r->id, r->id_len, more);
    if (rc >= 0)
        rc = zmq_send(z->sock, status, strlen(status), more);
    if (rc >= 0)
        rc = zmq_send(z->sock, text, strlen(text), more);
    if (rc >= 0)
        rc = zmq_send(z->sock, user_id, strlen(user_id), more);
    if (rc >= 0)
        rc = zmq_send(z->sock, "", 0, ZMQ_DONTWAIT); /* no metadata */
    if (rc < 0)
        log_err("zap: cannot reply: %s", zmq_strerror(errno));
}

/* The peer's entry, or the least recently written one, taken over. */
static struct peer *
s_peer(struct zap *z, const char *address)
{
    struct peer *oldest = &z->peers[0];
    for (size_t i = 0; i < PEERS_MAX; i++) {
        struct peer *p = &z->peers[i];
        if (p->logged_ms && strcmp(p->address, address) == 0)
            return p;
        if (p->logged_ms < oldest->logged_ms)
            oldest = p;
    }
    snprintf(oldest->address, sizeof oldest->address, "%s", address);
    oldest->logged_ms = 0;
    oldest->suppressed = 0;
    return oldest;
}

static void
s_refuse(struct zap *z, const struct request *r, const char *status, const char *reason)
{
    z->stats.refused++;
    s_reply(z, r, status, reason, "");

    uint64_t now = monotonic_ms();
    struct peer *p = s_peer(z, r->address);
    if (p->logged_ms && now - p->logged_ms < REFUSAL_GAP_MS) {
        p->suppressed++;
        z->stats.suppressed++;
        return;
    }
    char key[CURVE_KEY_Z85_LEN + 1] = "";
    if (r->has_key)
        zmq_z85_encode(key, r->key, sizeof r->key);
    log_warn("zap: %s refused %s from %s%s%s: %s", r->domain, r->mechanism, r->address,
             key[0] ? ", key " : "", key, reason);
    const struct audit_auth_refused rec = {
        .peer = r->address,
        .domain = r->domain,
        .mechanism = r->mechanism,
        .key = key[0] ? key : NULL,
        .reason = reason,
        .suppressed = p->suppressed,
    };
    msgpack_packer pk;
    struct journal_op *op = journal_begin(z->records, AUDIT_KIND_AUTH_REFUSED, &pk);
    journal_end(z->records, op, audit_pack_auth_refused(&pk, &rec));
    loop_turn_request(z->turn);
    /* 0 is "never": a monotonic clock read as 0 ms still counts as written. */
    p->logged_ms = now ? now : 1;
    p->suppressed = 0;
}

static void
s_decide(struct zap *z, const struct request *r)
{
    if (strcmp(r->mechanism, "CURVE") != 0 || !r->has_key) {
        s_refuse(z, r, "400", "only CURVE clients are admitted");
        return;
    }
    const struct keyring *ring = NULL;
    if (strcmp(r->domain, ZAP_DOMAIN_INGRESS) == 0)
        ring = z->cfg->keys.sources;
    else if (strcmp(r->domain, ZAP_DOMAIN_WORKERS) == 0)
        ring = z->cfg->keys.workers;
    const struct keyring_entry *e = ring ? keyring_find_key(ring, r->key) : NULL;
    if (!e) {
        s_refuse(z, r, "400",
                 ring ? "the key is not in the key directory" : "no keys are admitted here");
        return;
    }
    z->stats.admitted++;
    log_debug("zap: %s admitted %s as '%s'", r->domain, r->address, e->name);
    s_reply(z, r, "200", "OK", e->z85);
}

static bool
s_text(const zmq_msg_t *m, char *out)
{
    size_t n = zmq_msg_size(m);
    if (n > FIELD_MAX || memchr(zmq_msg_data((zmq_msg_t *)m), '\0', n))
        return false;
    memcpy(out, zmq_msg_data((zmq_msg_t *)m), n);
    out[n] = '\0';
    return true;
}

/* Reads one request and answers it. Returns false when nothing was readable. */
static bool
s_serve_one(struct zap *z)
{
    zmq_msg_t f[FRAMES_MAX];
    size_t n = 0;
    bool more = true, overflow = false;
    while (more) {
        zmq_msg_t extra, *m = n < FRAMES_MAX ? &f[n] : &extra;
        zmq_msg_init(m);
        if (zmq_msg_recv(m, z->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(m);
            if (n == 0)
                return false;
            break;
        }
        more = zmq_msg_more(m);
        if (m == &extra) {
            overflow = true;
            zmq_msg_close(m);
        } else {
            n++;
        }
    }
    struct request r;
    memset(&r, 0, sizeof r);
    snprintf(r.mechanism, sizeof r.mechanism, "?");
    bool ok = !overflow && n >= 6 && s_text(&f[0], r.version) &&
              strcmp(r.version, ZAP_VERSION) == 0 && zmq_msg_size(&f[1]) <= FIELD_MAX &&
              s_text(&f[2], r.domain) && s_text(&f[3], r.address) && s_text(&f[5], r.mechanism);
    if (n >= 2 && zmq_msg_size(&f[1]) <= FIELD_MAX) {
        r.id_len = zmq_msg_size(&f[1]);
        memcpy(r.id, zmq_msg_data(&f[1]), r.id_len);
    }
    if (ok && n == 7 && zmq_msg_size(&f[6]) == CURVE_KEY_LEN) {
        memcpy(r.key, zmq_msg_data(&f[6]), CURVE_KEY_LEN);
        r.has_key = true;
    }
    if (!ok) {
        /* Not from libzmq as we know it: answer anyway, or REP would stall. */
        z->stats.malformed++;
        log_warn("zap: malformed request of %zu frame%s; refused", n, n == 1 ? "" : "s");
        s_reply(z, &r, "500", "malformed ZAP request", "");
    } else {
        s_decide(z, &r);
    }
    for (size_t i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
    return true;
}

static void
s_on_readable(evutil_socket_t fd, short what, void *arg)
{
    struct zap *z = arg;
    while (s_serve_one(z))
        ;
    router_rearm(z->sock, z->ev);
}

struct zap *
zap_new(struct event_base *base, void *zmq_ctx, const struct mandated_config *cfg,
        struct journal *records, struct loop_turn *turn)
{
    struct zap *z = xcalloc(1, sizeof *z);
    int linger = 0;
    z->cfg = cfg;
    z->records = records;
    z->turn = turn;
    z->sock = zmq_socket(zmq_ctx, ZMQ_REP);
    if (!z->sock || zmq_setsockopt(z->sock, ZMQ_LINGER, &linger, sizeof linger) < 0 ||
        zmq_bind(z->sock, ZAP_ENDPOINT) < 0 ||
        !(z->ev = router_event_new(base, z->sock, s_on_readable, z))) {
        log_err("zap: cannot serve %s: %s", ZAP_ENDPOINT, zmq_strerror(errno));
        zap_destroy(&z);
        return NULL;
    }
    return z;
}

void
zap_reconfigure(struct zap *z, const struct mandated_config *cfg)
{
    z->cfg = cfg;
}

void
zap_destroy(struct zap **z_p)
{
    struct zap *z = *z_p;
    if (!z)
        return;
    if (z->ev)
        event_free(z->ev);
    if (z->sock)
        zmq_close(z->sock);
    free(z);
    *z_p = NULL;
}

const struct zap_stats *
zap_stats(const struct zap *z)
{
    return &z->stats;
}

const char *
zap_user_key(zmq_msg_t *msg)
{
    const char *uid = zmq_msg_gets(msg, "User-Id");
    return uid && strlen(uid) == CURVE_KEY_Z85_LEN ? uid : NULL;
}
