/*
 * asset_registry: the information systems the SOC watches (config/
 * assets.ini, grammar in its header): level, critical-list membership,
 * owner and whether the owner can cope alone, for the serious-incident test
 * of Quyết định 05/2017/QĐ-TTg.
 */
#ifndef MANDATE_ASSET_REGISTRY_H
#define MANDATE_ASSET_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/ini_file.h"

struct asset {
    char *name;
    char *title;
    unsigned system_level; /* 1..5 */
    bool critical;
    char *owner;
    bool owner_copes;
};

struct asset_registry {
    char *path;
    struct asset *assets; /* sorted by name */
    size_t nassets;
    uint8_t digest[32]; /* BLAKE2b-256 of the text loaded: a reload compares it */
};

/* path NULL or "": the compiled-in example. 0, or -errno / -EINVAL with *err. */
int asset_registry_load(const char *path, struct asset_registry **ret, struct config_error *err);
int asset_registry_load_string(const char *text, const char *name, struct asset_registry **ret,
                               struct config_error *err);
void asset_registry_destroy(struct asset_registry **reg_p);

const struct asset *asset_registry_find(const struct asset_registry *reg, const char *name);

#endif
