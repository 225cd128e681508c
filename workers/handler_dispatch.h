/*
 * handler_dispatch: what an area handler does with one request. It looks up
 * the event's catalogue type once, finds the area's rule for it in the
 * area's table and applies it to a result (area_result.h); an event no rule
 * names (case.decision, deadline.*, a type routed by glob, an area without
 * rules) goes to the generic fallback (handler_generic.h) instead. It sits
 * above both, so the result builder and the fallback never call back up.
 */
#ifndef MANDATE_HANDLER_DISPATCH_H
#define MANDATE_HANDLER_DISPATCH_H

#include "workers/area_result.h"
#include "workers/handlers.h"

/* One type's rules: fill r (outcome, findings, deadlines, extras, emitted
 * events; or area_result_retry()). */
struct area_rules {
    const char *base; /* the type without its version */
    void (*apply)(struct area_result *r);
};

/*
 * Answers req with the rule of rules (ended by a NULL base; NULL: none)
 * that names the event's type, else with the generic fallback. An event
 * that is not a valid envelope fails with the decoder's reason, which
 * names the field. Returns 0, or the -errno of the rule's
 * area_result_retry() (then out holds no result).
 */
int handler_dispatch(const struct handler_request *req, struct handler_outcome *out,
                     const struct area_rules *rules);

#endif
