/*
 * zmq_event: a ZeroMQ socket joined to a libevent loop through ZMQ_FD.
 * ZMQ_FD signals edges only, and any send or ZMQ_EVENTS query may consume
 * one, so callers drain until EAGAIN and ask zmq_has_input() after sending.
 */
#ifndef MANDATE_ZMQ_EVENT_H
#define MANDATE_ZMQ_EVENT_H

#include <stdbool.h>

#include <event2/event.h>

/*
 * A persistent read event on sock's ZMQ_FD, already added and made active
 * once (anything queued before the fd was watched would raise no edge).
 * NULL with errno set on failure.
 */
struct event *zmq_event_new(struct event_base *base, void *sock, event_callback_fn cb, void *arg);
/* Whether a message can be read now. */
bool zmq_has_input(void *sock);

#endif
