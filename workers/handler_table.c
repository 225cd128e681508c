/*
 * handler_table: which handler serves which area, with the hooks of its
 * state if it keeps one: every area of the shipped config has a line, and
 * its own file workers/area_NAME.c.
 */
#include <string.h>

#include "workers/handlers.h"

const struct handler_entry handler_table[] = {
    {"press", area_press, NULL, NULL},
    {"publishing", area_publishing, NULL, NULL},
    {"foreign_info", area_foreign_info, NULL, NULL},
    {"grassroots", area_grassroots, NULL, NULL},
    {"einfo", area_einfo, NULL, NULL},
    {"ads", area_ads, NULL, NULL},
    {"postal", area_postal, NULL, NULL},
    {"telecom", area_telecom, NULL, NULL},
    {"rf", area_rf, NULL, NULL},
    {"it_industry", handler_generic, NULL, NULL}, /* no event type of its own yet */
    {"digital", area_digital, NULL, NULL},
    {"cyber", area_cyber, area_cyber_open, area_cyber_close},
    {"inspection", area_inspection, NULL, NULL},
    {NULL, NULL, NULL, NULL},
};

const struct handler_entry handler_generic_entry = {"*", handler_generic, NULL, NULL};

const struct handler_entry *
handler_lookup(const char *area)
{
    for (const struct handler_entry *e = handler_table; e->area; e++) {
        if (strcmp(e->area, area) == 0)
            return e;
    }
    return NULL;
}
