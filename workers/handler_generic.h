/*
 * handler_generic: the fallback rule, what every area does with an event
 * its own rules do not name. handler_dispatch() applies it; the handler
 * that has nothing else, handler_generic() (handlers.h), is the dispatcher
 * with no rules.
 */
#ifndef MANDATE_HANDLER_GENERIC_H
#define MANDATE_HANDLER_GENERIC_H

#include "workers/area_result.h"

/* Fills r for a decision on a case, a deadline warning or breach, or
 * anything else (recorded: who took it). */
void handler_generic_apply(struct area_result *r);

#endif
