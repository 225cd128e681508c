/*
 * fuzz_data: arbitrary bytes as a published envelope, then its data checked
 * against every type of the shipped catalogue, as the broker does at intake.
 * A refusal must name a field; nothing may crash, leak or trip a sanitizer.
 * Built as a libFuzzer target or linked with replay_main.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/catalogue.h"
#include "proto/envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct catalogue *s_cat;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!s_cat && catalogue_load_embedded(&s_cat, NULL) < 0)
        abort();
    struct envelope env;
    struct envelope_error err;
    if (envelope_decode(data, size, &envelope_default_limits, &env, &err) < 0)
        return 0;
    for (size_t i = 0; i < s_cat->ntypes; i++) {
        char reason[256] = "";
        if (catalogue_check_data(&s_cat->types[i], env.data, reason, sizeof reason) < 0 &&
            strncmp(reason, "field 'data", 11) != 0)
            abort(); /* every refusal names the field at fault */
    }
    envelope_release(&env);
    return 0;
}
