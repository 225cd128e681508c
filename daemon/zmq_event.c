/* zmq_event: the ZMQ_FD / libevent glue shared by the broker's sockets. */
#include <errno.h>

#include <zmq.h>

#include "daemon/zmq_event.h"

struct event *
zmq_event_new(struct event_base *base, void *sock, event_callback_fn cb, void *arg)
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
zmq_has_input(void *sock)
{
    int events = 0;
    size_t len = sizeof events;
    if (zmq_getsockopt(sock, ZMQ_EVENTS, &events, &len) < 0)
        return false;
    return (events & ZMQ_POLLIN) != 0;
}
