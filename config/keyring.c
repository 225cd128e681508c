/*
 * keyring: see keyring.h. A directory is read whole and sorted once, so a
 * ZAP request or an event's user id is a binary search.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "common/alloc.h"
#include "config/keyring.h"

#define KEY_SUFFIX ".key"

static int
s_by_z85(const void *a, const void *b)
{
    return strcmp(((const struct keyring_entry *)a)->z85, ((const struct keyring_entry *)b)->z85);
}

bool
keyring_valid_name(const char *s, size_t n)
{
    if (n == 0 || n > KEYRING_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("_.-", c)))
            return false;
    }
    return true;
}

static int
s_name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int
keyring_load(const char *dir, struct keyring **ret, struct config_error *err)
{
    struct config_error local;
    if (!err)
        err = &local;
    DIR *d = opendir(dir);
    if (!d) {
        int e = errno;
        config_error_set(err, dir, 0, "", "cannot open the key directory: %s", strerror(e));
        return -e;
    }
    /* File names first, sorted: errors and duplicates are then reported in
     * the same order every time, whatever readdir's. */
    char **names = NULL;
    size_t nnames = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name), sl = strlen(KEY_SUFFIX);
        if (de->d_name[0] == '.' || len <= sl || strcmp(de->d_name + len - sl, KEY_SUFFIX) != 0)
            continue; /* NAME.key_secret, notes, editor files: not public keys */
        if (nnames == KEYRING_MAX_KEYS) {
            config_error_set(err, dir, 0, "", "more than %d key files", KEYRING_MAX_KEYS);
            rc = -E2BIG;
            break;
        }
        names = xreallocarray(names, nnames + 1, sizeof *names);
        names[nnames++] = xstrdup(de->d_name);
    }
    closedir(d);
    if (names)
        qsort(names, nnames, sizeof *names, s_name_cmp);

    struct keyring *k = xcalloc(1, sizeof *k);
    k->dir = xstrdup(dir);
    k->entries = xcalloc(nnames ? nnames : 1, sizeof *k->entries);
    char path[4096];
    for (size_t i = 0; rc == 0 && i < nnames; i++) {
        size_t n = strlen(names[i]) - strlen(KEY_SUFFIX);
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (!keyring_valid_name(names[i], n)) {
            config_error_set(err, path, 0, "",
                             "the file name makes the identity: use letters, digits and _ . -, "
                             "at most %d characters, before .key",
                             KEYRING_NAME_MAX);
            rc = -EINVAL;
            break;
        }
        struct curve_cert cert;
        rc = curve_cert_load(path, false, &cert, err);
        if (rc < 0)
            break;
        struct keyring_entry *e = &k->entries[k->n++];
        memcpy(e->name, names[i], n);
        e->name[n] = '\0';
        memcpy(e->key, cert.public_key, sizeof e->key);
        memcpy(e->z85, cert.public_z85, sizeof e->z85);
        curve_cert_clear(&cert);
    }
    for (size_t i = 0; i < nnames; i++)
        free(names[i]);
    free(names);
    if (rc == 0) {
        qsort(k->entries, k->n, sizeof *k->entries, s_by_z85);
        for (size_t i = 1; i < k->n; i++)
            if (strcmp(k->entries[i - 1].z85, k->entries[i].z85) == 0) {
                snprintf(path, sizeof path, "%s/%s%s", dir, k->entries[i].name, KEY_SUFFIX);
                config_error_set(err, path, 0, "public-key",
                                 "the same key as %s%s: one key, one identity",
                                 k->entries[i - 1].name, KEY_SUFFIX);
                rc = -EINVAL;
                break;
            }
    }
    if (rc < 0) {
        keyring_destroy(&k);
        return rc;
    }
    *ret = k;
    return 0;
}

void
keyring_destroy(struct keyring **k_p)
{
    struct keyring *k = *k_p;
    if (!k)
        return;
    free(k->dir);
    free(k->entries);
    free(k);
    *k_p = NULL;
}

const struct keyring_entry *
keyring_find_z85(const struct keyring *k, const char *z85)
{
    if (!k || !z85 || strlen(z85) != CURVE_KEY_Z85_LEN)
        return NULL;
    struct keyring_entry key;
    memcpy(key.z85, z85, sizeof key.z85);
    return bsearch(&key, k->entries, k->n, sizeof key, s_by_z85);
}

const struct keyring_entry *
keyring_find_key(const struct keyring *k, const uint8_t key[CURVE_KEY_LEN])
{
    char z85[CURVE_KEY_Z85_LEN + 1];
    if (!k || !zmq_z85_encode(z85, key, CURVE_KEY_LEN))
        return NULL;
    return keyring_find_z85(k, z85);
}

const struct keyring_entry *
keyring_find_name(const struct keyring *k, const char *name)
{
    for (size_t i = 0; k && name && i < k->n; i++)
        if (strcmp(k->entries[i].name, name) == 0)
            return &k->entries[i];
    return NULL;
}
