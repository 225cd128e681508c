/* router: socket options, bind, and the ZMQ_FD / libevent glue. */
#include <errno.h>
#include <string.h>

#include <zmq.h>

#include "daemon/router.h"

void *
router_new(void *zmq_ctx, const char *endpoint, const struct router_options *o)
{
    int one = 1;
    void *sock = zmq_socket(zmq_ctx, ZMQ_ROUTER);
    if (!sock)
        return NULL;
    if (zmq_setsockopt(sock, ZMQ_ROUTER_MANDATORY, &one, sizeof one) < 0 ||
        zmq_setsockopt(sock, ZMQ_LINGER, &o->linger_ms, sizeof o->linger_ms) < 0 ||
        zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &o->max_msg_bytes, sizeof o->max_msg_bytes) < 0 ||
        (o->sndhwm && zmq_setsockopt(sock, ZMQ_SNDHWM, &o->sndhwm, sizeof o->sndhwm) < 0) ||
        (o->rcvhwm && zmq_setsockopt(sock, ZMQ_RCVHWM, &o->rcvhwm, sizeof o->rcvhwm) < 0) ||
        (o->handover && zmq_setsockopt(sock, ZMQ_ROUTER_HANDOVER, &one, sizeof one) < 0) ||
        (o->curve_secret_key &&
         (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) < 0 ||
          zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, o->curve_secret_key, 32) < 0 ||
          zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, o->zap_domain, strlen(o->zap_domain)) < 0)) ||
        zmq_bind(sock, endpoint) < 0) {
        int saved = errno;
        zmq_close(sock);
        errno = saved;
        return NULL;
    }
    return sock;
}

struct event *
router_event_new(struct event_base *base, void *sock, event_callback_fn cb, void *arg)
{
    int fd;
    size_t len = sizeof fd;
    if (zmq_getsockopt(sock, ZMQ_FD, &fd, &len) < 0)
        return NULL;
    struct event *ev = event_new(base, fd, EV_READ | EV_PERSIST, cb, arg);
    if (!ev) {
        errno = ENOMEM;
        return NULL;
    }
    event_add(ev, NULL);
    event_active(ev, EV_READ, 0);
    return ev;
}

bool
router_rearm(void *sock, struct event *ev)
{
    int events = 0;
    size_t len = sizeof events;
    if (zmq_getsockopt(sock, ZMQ_EVENTS, &events, &len) < 0 || !(events & ZMQ_POLLIN))
        return false;
    event_active(ev, EV_READ, 0);
    return true;
}
