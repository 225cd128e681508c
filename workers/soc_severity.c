/*
 * soc_severity: one small reader per feed; each takes the bare value or
 * digs it out of the feed's object first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/text.h"
#include "workers/soc_severity.h"

static const msgpack_object *
s_get(const msgpack_object *map, const char *key)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t n = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
            memcmp(k->via.str.ptr, key, n) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

/* An integer, or a string of digits (up to 9). */
static bool
s_int(const msgpack_object *o, long *ret)
{
    if (!o)
        return false;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= 1000000) {
        *ret = (long)o->via.u64;
        return true;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *ret = -1;
        return true;
    }
    if (o->type == MSGPACK_OBJECT_STR && o->via.str.size && o->via.str.size <= 9) {
        char buf[10];
        memcpy(buf, o->via.str.ptr, o->via.str.size);
        buf[o->via.str.size] = '\0';
        if (strspn(buf, "0123456789") != o->via.str.size)
            return false;
        *ret = strtol(buf, NULL, 10);
        return true;
    }
    return false;
}

static bool
s_str(const msgpack_object *o, char *buf, size_t size)
{
    if (!o || o->type != MSGPACK_OBJECT_STR || o->via.str.size >= size)
        return false;
    memcpy(buf, o->via.str.ptr, o->via.str.size);
    buf[o->via.str.size] = '\0';
    return true;
}

static int
s_fail(char *why, size_t size, const char *format, const msgpack_object *raw)
{
    snprintf(why, size, "severity_raw (%s) is not a %s severity", text_msgpack_type(raw), format);
    return 0;
}

static int
s_ocsf(const msgpack_object *raw, char *why, size_t size)
{
    long v;
    if (!s_int(raw, &v) && !s_int(s_get(raw, "severity_id"), &v))
        return s_fail(why, size, "OCSF severity_id", raw);
    return v >= 5 && v <= 6 ? 1 : v == 4 ? 2 : v == 3 ? 3 : 4;
}

static int
s_cef(const msgpack_object *raw, char *why, size_t size)
{
    static const struct {
        const char *name;
        int p;
    } names[] = {{"low", 4}, {"medium", 3}, {"high", 2}, {"very-high", 1}, {"very high", 1}};
    const msgpack_object *o = s_get(raw, "severity") ? s_get(raw, "severity") : raw;
    long v;
    char label[16];
    if (s_int(o, &v)) {
        if (v < 0 || v > 10)
            return s_fail(why, size, "CEF 0-10", raw);
        return v >= 9 ? 1 : v >= 7 ? 2 : v >= 4 ? 3 : 4;
    }
    if (s_str(o, label, sizeof label))
        for (size_t i = 0; i < sizeof names / sizeof *names; i++)
            if (strcasecmp(label, names[i].name) == 0)
                return names[i].p;
    return s_fail(why, size, "CEF", raw);
}

static int
s_wazuh(const msgpack_object *raw, char *why, size_t size)
{
    long v;
    if (!s_int(raw, &v) && !s_int(s_get(s_get(raw, "rule"), "level"), &v) &&
        !s_int(s_get(raw, "level"), &v))
        return s_fail(why, size, "Wazuh rule level", raw);
    return v >= 12 ? 1 : v >= 10 ? 2 : v >= 7 ? 3 : 4;
}

static int
s_misp(const msgpack_object *raw, char *why, size_t size)
{
    long v;
    if (!s_int(raw, &v) && !s_int(s_get(raw, "threat_level_id"), &v))
        return s_fail(why, size, "MISP threat_level_id", raw);
    if (v < 1 || v > 4)
        return s_fail(why, size, "MISP threat_level_id 1-4", raw);
    return v == 1 ? 2 : v == 2 ? 3 : 4;
}

static int
s_stix(const msgpack_object *raw, const char *labels, char *why, size_t size)
{
    char label[32];
    if (!s_str(raw, label, sizeof label) && !s_str(s_get(raw, "x_severity"), label, sizeof label))
        return s_fail(why, size, "STIX x_severity label", raw);
    size_t n = strlen(label);
    for (const char *p = labels ? labels : ""; *p;) {
        size_t w = strcspn(p, " \t");
        const char *colon = memchr(p, ':', w);
        if (colon && (size_t)(colon - p) == n && strncasecmp(p, label, n) == 0 && colon[1] == 'P' &&
            colon[2] >= '1' && colon[2] <= '4')
            return colon[2] - '0';
        p += w;
        p += strspn(p, " \t");
    }
    snprintf(why, size, "STIX label '%s' is not in limit.stix_labels", label);
    return 0;
}

int
soc_priority(const char *format, const msgpack_object *raw, const char *stix_labels, char *why,
             size_t size)
{
    if (strcmp(format, "ocsf") == 0)
        return s_ocsf(raw, why, size);
    if (strcmp(format, "cef") == 0)
        return s_cef(raw, why, size);
    if (strcmp(format, "wazuh") == 0)
        return s_wazuh(raw, why, size);
    if (strcmp(format, "misp") == 0)
        return s_misp(raw, why, size);
    if (strcmp(format, "stix") == 0)
        return s_stix(raw, stix_labels, why, size);
    snprintf(why, size, "unknown format '%s'", format);
    return 0;
}
