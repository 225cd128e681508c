/*
 * fuzz_config: arbitrary text as a config file. Whatever parses must be
 * describable and freed cleanly; whatever fails must come with a message.
 * Built as a libFuzzer target or linked with replay_main.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mandated_config *cfg = NULL;
    struct config_error err;
    char *text = malloc(size + 1);
    if (!text)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';
    if (config_load_string(text, "fuzz.conf", &cfg, &err) == 0) {
        FILE *sink = fopen("/dev/null", "w");
        if (sink) {
            config_describe(cfg, sink);
            fclose(sink);
        }
        (void)config_area_for_type(cfg, "press.conference_notice");
        config_destroy(&cfg);
    } else {
        char msg[512];
        config_error_format(&err, msg, sizeof msg);
        if (msg[0] == '\0' || cfg != NULL)
            abort(); /* a failure must explain itself and return nothing */
    }
    free(text);
    return 0;
}
