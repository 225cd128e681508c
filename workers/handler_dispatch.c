/*
 * handler_dispatch: see handler_dispatch.h. Every area handler and the
 * generic one come through here, so every answer is built the same way:
 * area_result_init, one rule, area_result_finish.
 */
#include <string.h>

#include "workers/handler_dispatch.h"
#include "workers/handler_generic.h"

/* The rule naming type t, or NULL. */
static const struct area_rules *
s_rule(const struct area_rules *rules, const struct catalogue_type *t)
{
    for (const struct area_rules *rule = rules; t && rule && rule->base; rule++)
        if (strcmp(rule->base, t->base) == 0)
            return rule;
    return NULL;
}

int
handler_dispatch(const struct handler_request *req, struct handler_outcome *out,
                 const struct area_rules *rules)
{
    if (!req->env) {
        out->status = MDP_STATUS_FAILED;
        handler_outcome_note(out, "%s", req->env_err->reason);
        return 0;
    }
    const struct catalogue_type *t = config_type(req->cfg, req->env->type);
    const struct area_rules *rule = s_rule(rules, t);
    struct area_result r;
    area_result_init(&r, req, t, out);
    if (rule)
        rule->apply(&r);
    else
        handler_generic_apply(&r);
    int rc = r.rc;
    if (rc == 0)
        area_result_finish(&r);
    area_result_destroy(&r);
    return rc;
}

/* The generic handler is the dispatcher with no rules of its own. */
int
handler_generic(const struct handler_request *req, struct handler_outcome *out)
{
    return handler_dispatch(req, out, NULL);
}
