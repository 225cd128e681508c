/*
 * loop_turn: the work done once at the end of a loop turn, after every
 * callback the turn brought (the broker's before-sleep, as in Redis's
 * beforeSleep()). Modules ask for it with loop_turn_request(); what it does,
 * and in which order, is one function in daemon/broker.c.
 *
 * Why at the end: everything a turn produces (the replies of many workers,
 * a burst of publishes) then shares one dispatch pass and one transaction.
 * An activated libevent event runs after the events already active in the
 * same turn, before the loop polls again.
 */
#ifndef MANDATE_LOOP_TURN_H
#define MANDATE_LOOP_TURN_H

#include <event2/event.h>

struct loop_turn;

/* fn(arg) runs at the end of each turn in which it was requested. NULL on failure. */
struct loop_turn *loop_turn_new(struct event_base *base, void (*fn)(void *arg), void *arg);
void loop_turn_destroy(struct loop_turn **t_p);
/* Asks for fn at the end of this turn; asking twice runs it once. */
void loop_turn_request(struct loop_turn *t);

#endif
