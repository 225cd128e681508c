/*
 * keyring: a directory of CURVE public key files, one per identity
 * (DESIGN.md "Security model"): NAME.key in the certificate format of
 * config/curve_cert.h, where NAME is who the key is (a source, a worker
 * key). Files that do not end in .key are not keys and are skipped. Two
 * names for one key would make the identity ambiguous: refused.
 */
#ifndef MANDATE_KEYRING_H
#define MANDATE_KEYRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/curve_cert.h"
#include "config/ini_file.h"

#define KEYRING_NAME_MAX 64
#define KEYRING_MAX_KEYS 65536

struct keyring_entry {
    char name[KEYRING_NAME_MAX + 1];
    uint8_t key[CURVE_KEY_LEN];
    char z85[CURVE_KEY_Z85_LEN + 1];
};

struct keyring {
    char *dir;
    struct keyring_entry *entries; /* sorted by z85 */
    size_t n;
};

/* Whether n bytes at s can name a key: a [source NAME]'s characters without
 * ':' (reserved for area:NAME), at most KEYRING_NAME_MAX. */
bool keyring_valid_name(const char *s, size_t n);

/* Reads every NAME.key under dir. Returns 0, or -errno / -EINVAL with err
 * naming the file (and line and key). */
int keyring_load(const char *dir, struct keyring **ret, struct config_error *err);
void keyring_destroy(struct keyring **k_p);

/* The entry of a Z85 public key (40 characters) or of a name; NULL if none. */
const struct keyring_entry *keyring_find_z85(const struct keyring *k, const char *z85);
const struct keyring_entry *keyring_find_key(const struct keyring *k,
                                             const uint8_t key[CURVE_KEY_LEN]);
const struct keyring_entry *keyring_find_name(const struct keyring *k, const char *name);

#endif
