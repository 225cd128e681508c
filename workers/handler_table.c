/*
 * handler_table: which handler serves which area. Every area of the shipped
 * config has a line; an area that gets its own file (workers/area_NAME.c)
 * changes its line from handler_generic to its own function.
 */
#include <string.h>

#include "workers/handlers.h"

const struct handler_entry handler_table[] = {
    {"press", handler_generic},        {"publishing", handler_generic},
    {"foreign_info", handler_generic}, {"grassroots", handler_generic},
    {"einfo", handler_generic},        {"ads", handler_generic},
    {"postal", handler_generic},       {"telecom", handler_generic},
    {"rf", handler_generic},           {"it_industry", handler_generic},
    {"digital", handler_generic},      {"cyber", handler_generic},
    {"inspection", handler_generic},   {NULL, NULL},
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
