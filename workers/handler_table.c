/*
 * handler_table: which handler serves which area: every area of the shipped
 * config has a line, and its own file workers/area_NAME.c.
 */
#include <string.h>

#include "workers/handlers.h"

const struct handler_entry handler_table[] = {
    {"press", area_press},
    {"publishing", area_publishing},
    {"foreign_info", area_foreign_info},
    {"grassroots", area_grassroots},
    {"einfo", area_einfo},
    {"ads", area_ads},
    {"postal", area_postal},
    {"telecom", area_telecom},
    {"rf", area_rf},
    {"it_industry", handler_generic}, /* no event type of its own yet */
    {"digital", area_digital},
    {"cyber", area_cyber},
    {"inspection", area_inspection},
    {NULL, NULL},
};

handler_fn
handler_lookup(const char *area)
{
    for (const struct handler_entry *e = handler_table; e->area; e++) {
        if (strcmp(e->area, area) == 0)
            return e->handle;
    }
    return NULL;
}
