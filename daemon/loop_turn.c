/* loop_turn: one self-activated libevent event; see loop_turn.h. */
#include <stdlib.h>

#include "common/alloc.h"
#include "daemon/loop_turn.h"

struct loop_turn {
    struct event *ev;
    void (*fn)(void *arg);
    void *arg;
};

static void
s_on_turn_end(evutil_socket_t fd, short what, void *arg)
{
    struct loop_turn *t = arg;
    t->fn(t->arg);
}

struct loop_turn *
loop_turn_new(struct event_base *base, void (*fn)(void *arg), void *arg)
{
    struct loop_turn *t = xcalloc(1, sizeof *t);
    t->fn = fn;
    t->arg = arg;
    t->ev = event_new(base, -1, 0, s_on_turn_end, t);
    if (!t->ev) {
        free(t);
        return NULL;
    }
    return t;
}

void
loop_turn_destroy(struct loop_turn **t_p)
{
    struct loop_turn *t = *t_p;
    if (!t)
        return;
    event_free(t->ev);
    free(t);
    *t_p = NULL;
}

void
loop_turn_request(struct loop_turn *t)
{
    /* Already active: libevent keeps one activation. */
    event_active(t->ev, EV_TIMEOUT, 0);
}
