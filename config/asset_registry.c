/*
 * asset_registry: [asset NAME] sections through ini_file; every key is
 * required, so that a system's classification is never guessed.
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "config/asset_registry.h"
#include "config/embedded.h"
#include "proto/text.h"

#define MAX_FILE_BYTES (8 * 1024 * 1024)

enum { K_TITLE, K_LEVEL, K_CRITICAL, K_OWNER, K_COPES, NKEYS };
static const char *const s_keys[NKEYS] = {"title", "system_level", "critical", "owner",
                                          "owner_copes"};

struct parse {
    struct asset_registry *reg;
    unsigned (*lines)[NKEYS + 1]; /* per asset: its header, then each key's line */
};

static bool
s_valid_name(const char *s)
{
    size_t n = strlen(s);
    if (!n || n > 256)
        return false;
    for (; *s; s++)
        if (*s == ' ' || *s == '\t' || *s == '[' || *s == ']')
            return false;
    return true;
}

static void
s_section(struct ini_file *f, void *user, const char *raw)
{
    struct parse *p = user;
    struct asset_registry *reg = p->reg;
    unsigned line = ini_file_line(f);
    char label[140];
    snprintf(label, sizeof label, "[%s]", raw);
    if (strncmp(raw, "asset ", 6) != 0 || !s_valid_name(raw + 6)) {
        ini_file_fail(f, line, label,
                      "unknown section (expected [asset NAME], NAME without blanks)");
        return;
    }
    for (size_t i = 0; i < reg->nassets; i++)
        if (strcmp(reg->assets[i].name, raw + 6) == 0) {
            ini_file_fail(f, line, label, "duplicate asset (first on line %u)", p->lines[i][0]);
            return;
        }
    reg->assets = xreallocarray(reg->assets, reg->nassets + 1, sizeof *reg->assets);
    p->lines = xreallocarray(p->lines, reg->nassets + 1, sizeof *p->lines);
    struct asset *a = &reg->assets[reg->nassets];
    memset(a, 0, sizeof *a);
    memset(p->lines[reg->nassets], 0, sizeof p->lines[reg->nassets]);
    a->name = xstrdup(raw + 6);
    p->lines[reg->nassets][0] = line;
    reg->nassets++;
}

static int
s_bool(const char *v, bool *ret)
{
    if (strcmp(v, "yes") == 0 || strcmp(v, "no") == 0) {
        *ret = v[0] == 'y';
        return 0;
    }
    return -EINVAL;
}

static void
s_key(struct ini_file *f, void *user, const char *key, const char *value)
{
    struct parse *p = user;
    struct asset_registry *reg = p->reg;
    unsigned line = ini_file_line(f);
    if (!reg->nassets) {
        ini_file_fail(f, line, key, "key outside any section (put it under [asset NAME])");
        return;
    }
    struct asset *a = &reg->assets[reg->nassets - 1];
    char full[320];
    snprintf(full, sizeof full, "asset.%s.%s", a->name, key);
    if (ini_file_continuation(f)) {
        ini_file_fail(f, line, full, "a value goes on one line");
        return;
    }
    size_t k;
    for (k = 0; k < NKEYS; k++)
        if (strcmp(key, s_keys[k]) == 0)
            break;
    if (k == NKEYS) {
        ini_file_fail(f, line, full,
                      "unknown key (title, system_level, critical, owner, owner_copes)");
        return;
    }
    unsigned *seen = &p->lines[reg->nassets - 1][k + 1];
    if (*seen) {
        ini_file_fail(f, line, full, "duplicate key (first set on line %u)", *seen);
        return;
    }
    *seen = line;
    uint64_t level;
    switch (k) {
    case K_TITLE:
        a->title = xstrdup(value);
        break;
    case K_OWNER:
        a->owner = xstrdup(value);
        break;
    case K_LEVEL:
        if (text_parse_u64(value, 1, 5, &level) < 0)
            ini_file_fail(f, line, full, "not a level 1..5: '%.32s'", value);
        a->system_level = (unsigned)level;
        break;
    case K_CRITICAL:
        if (s_bool(value, &a->critical) < 0)
            ini_file_fail(f, line, full, "expected yes or no, not '%.32s'", value);
        break;
    default:
        if (s_bool(value, &a->owner_copes) < 0)
            ini_file_fail(f, line, full, "expected yes or no, not '%.32s'", value);
        break;
    }
}

static const struct ini_file_ops s_ops = {
    .section = s_section,
    .key = s_key,
    .long_line_hint = NULL,
};

static int
s_cmp(const void *a, const void *b)
{
    return strcmp(((const struct asset *)a)->name, ((const struct asset *)b)->name);
}

void
asset_registry_destroy(struct asset_registry **reg_p)
{
    if (!reg_p || !*reg_p)
        return;
    struct asset_registry *reg = *reg_p;
    for (size_t i = 0; i < reg->nassets; i++) {
        free(reg->assets[i].name);
        free(reg->assets[i].title);
        free(reg->assets[i].owner);
    }
    free(reg->assets);
    free(reg->path);
    free(reg);
    *reg_p = NULL;
}

static int
s_load_text(const char *text, size_t len, const char *name, struct asset_registry **ret,
            struct config_error *err)
{
    struct asset_registry *reg = xcalloc(1, sizeof *reg);
    reg->path = xstrdup(name);
    crypto_generichash(reg->digest, sizeof reg->digest, (const unsigned char *)text, len, NULL, 0);
    struct parse p = {.reg = reg};
    int rc = ini_file_parse(text, len, name, &s_ops, &p, err);
    for (size_t i = 0; rc == 0 && i < reg->nassets; i++)
        for (size_t k = 0; k < NKEYS; k++)
            if (!p.lines[i][k + 1]) {
                char label[300];
                snprintf(label, sizeof label, "[asset %s]", reg->assets[i].name);
                config_error_set(err, name, p.lines[i][0], label, "%s is missing", s_keys[k]);
                rc = -EINVAL;
                break;
            }
    free(p.lines);
    if (rc < 0) {
        asset_registry_destroy(&reg);
        return rc;
    }
    if (reg->nassets) /* qsort's base may not be NULL, even for no element */
        qsort(reg->assets, reg->nassets, sizeof *reg->assets, s_cmp);
    *ret = reg;
    return 0;
}

int
asset_registry_load_string(const char *text, const char *name, struct asset_registry **ret,
                           struct config_error *err)
{
    struct config_error local;
    return s_load_text(text, strlen(text), name ? name : "(string)", ret, err ? err : &local);
}

int
asset_registry_load(const char *path, struct asset_registry **ret, struct config_error *err)
{
    struct config_error local;
    if (!err)
        err = &local;
    if (!path || !*path)
        return asset_registry_load_string(embedded_assets.text, embedded_assets.name, ret, err);
    char *text;
    size_t len;
    int rc = ini_file_read(path, MAX_FILE_BYTES, &text, &len, err);
    if (rc < 0)
        return rc;
    rc = s_load_text(text, len, path, ret, err);
    free(text);
    return rc;
}

const struct asset *
asset_registry_find(const struct asset_registry *reg, const char *name)
{
    if (!reg || !reg->nassets)
        return NULL;
    struct asset key = {.name = (char *)name};
    return bsearch(&key, reg->assets, reg->nassets, sizeof key, s_cmp);
}
