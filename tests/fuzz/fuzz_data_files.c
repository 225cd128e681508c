/*
 * fuzz_data_files: arbitrary text as each data file the config names: a
 * type catalogue, a year's calendar, an asset registry. Whatever parses
 * must answer lookups and be freed cleanly; whatever fails must come with a
 * message and return nothing. Built as a libFuzzer target or linked with
 * replay_main.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/asset_registry.h"
#include "config/calendar.h"
#include "config/catalogue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
s_failed(const struct config_error *err, const void *out)
{
    char msg[512];
    config_error_format(err, msg, sizeof msg);
    if (msg[0] == '\0' || out != NULL)
        abort(); /* a failure must explain itself and return nothing */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';
    struct config_error err;

    struct catalogue *cat = NULL;
    if (catalogue_load_string(text, "fuzz.ini", &cat, &err) == 0) {
        for (size_t i = 0; i < cat->ntypes; i++)
            if (catalogue_type(cat, cat->types[i].name) != &cat->types[i])
                abort(); /* sorted, and every type found */
        catalogue_destroy(&cat);
    } else {
        s_failed(&err, cat);
    }

    struct calendar *cal = NULL;
    if (calendar_load_string(text, "fuzz.ini", &cal, &err) == 0) {
        bool missing = false;
        (void)calendar_due(cal, 1780282800000, 10, DEADLINE_WORKING_DAYS, false, &missing);
        calendar_destroy(&cal);
    } else {
        s_failed(&err, cal);
    }

    struct asset_registry *reg = NULL;
    if (asset_registry_load_string(text, "fuzz.ini", &reg, &err) == 0) {
        for (size_t i = 0; i < reg->nassets; i++)
            if (asset_registry_find(reg, reg->assets[i].name) != &reg->assets[i])
                abort();
        asset_registry_destroy(&reg);
    } else {
        s_failed(&err, reg);
    }
    free(text);
    return 0;
}
