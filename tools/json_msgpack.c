/*
 * json_msgpack: JSON <-> msgpack for mandatectl (see json_msgpack.h).
 */
#include "common/alloc.h"
#include "tools/json_msgpack.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deeper msgpack than this is shown as a placeholder rather than recursed into. */
#define TO_JSON_MAX_DEPTH 64

/* jansson returns NULL only when out of memory: the tools' policy is to abort. */
static json_t *
s_nn(json_t *j)
{
    if (!j)
        alloc_failed(0);
    return j;
}

void
json_msgpack_hex(const void *bytes, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const uint8_t *b = bytes;

    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * len] = '\0';
}

/* ---- JSON -> msgpack ---- */

/* Appends ".key" or "[i]" to the path, truncating quietly when it gets long. */
static size_t
s_path_push(char *path, size_t used, size_t size, const char *key, size_t key_len, size_t index)
{
    int n;

    if (used >= size)
        return used;
    if (key)
        n = snprintf(path + used, size - used, ".%.*s", (int)(key_len > 64 ? 64 : key_len), key);
    else
        n = snprintf(path + used, size - used, "[%zu]", index);
    if (n < 0)
        return used;
    return used + (size_t)n < size ? used + (size_t)n : size - 1;
}

/* Finds the first container nested deeper than max_depth; fills path to it. */
static bool
s_depth_ok(const json_t *j, unsigned depth, unsigned max_depth, char *path, size_t used,
           size_t size)
{
    if (!json_is_object(j) && !json_is_array(j))
        return true;
    if (depth + 1 > max_depth) {
        path[used] = '\0';
        return false;
    }
    if (json_is_object(j)) {
        const char *key;
        size_t key_len;
        json_t *v;

        json_object_keylen_foreach((json_t *)j, key, key_len, v)
        {
            size_t u = s_path_push(path, used, size, key, key_len, 0);
            if (!s_depth_ok(v, depth + 1, max_depth, path, u, size))
                return false;
        }
    } else {
        for (size_t i = 0; i < json_array_size(j); i++) {
            size_t u = s_path_push(path, used, size, NULL, 0, i);
            if (!s_depth_ok(json_array_get(j, i), depth + 1, max_depth, path, u, size))
                return false;
        }
    }
    return true;
}

static void
s_pack(msgpack_packer *pk, const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        const char *key;
        size_t key_len;
        json_t *v;

        msgpack_pack_map(pk, json_object_size(j));
        json_object_keylen_foreach((json_t *)j, key, key_len, v)
        {
            msgpack_pack_str(pk, key_len);
            msgpack_pack_str_body(pk, key, key_len);
            s_pack(pk, v);
        }
        break;
    }
    case JSON_ARRAY:
        msgpack_pack_array(pk, json_array_size(j));
        for (size_t i = 0; i < json_array_size(j); i++)
            s_pack(pk, json_array_get(j, i));
        break;
    case JSON_STRING: {
        size_t len = json_string_length(j);
        msgpack_pack_str(pk, len);
        msgpack_pack_str_body(pk, json_string_value(j), len);
        break;
    }
    case JSON_INTEGER: {
        json_int_t v = json_integer_value(j);
        if (v >= 0)
            msgpack_pack_uint64(pk, (uint64_t)v);
        else
            msgpack_pack_int64(pk, (int64_t)v);
        break;
    }
    case JSON_REAL:
        msgpack_pack_double(pk, json_real_value(j));
        break;
    case JSON_TRUE:
        msgpack_pack_true(pk);
        break;
    case JSON_FALSE:
        msgpack_pack_false(pk);
        break;
    case JSON_NULL:
        msgpack_pack_nil(pk);
        break;
    }
}

int
json_msgpack_pack(msgpack_packer *pk, const json_t *j, unsigned max_depth, char *err,
                  size_t err_size)
{
    char path[256];

    /* Check first, so that a refused value leaves nothing half packed. */
    if (!s_depth_ok(j, 0, max_depth, path, 0, sizeof(path))) {
        if (err && err_size)
            snprintf(err, err_size, "%s: nested deeper than %u levels", path[0] ? path : ".",
                     max_depth);
        return -ELOOP;
    }
    s_pack(pk, j);
    return 0;
}

/* ---- msgpack -> JSON ---- */

static json_t *
s_hex_string(const char *prefix, const void *bytes, size_t len)
{
    size_t plen = strlen(prefix);
    char *buf = malloc(plen + 2 * len + 1);
    json_t *j;

    if (!buf)
        return s_nn(NULL);
    memcpy(buf, prefix, plen);
    json_msgpack_hex(bytes, len, buf + plen);
    j = s_nn(json_stringn(buf, plen + 2 * len));
    free(buf);
    return j;
}

/* A msgpack str as JSON text when it is clean UTF-8 without NUL, else tagged hex. */
static json_t *
s_text(const char *p, size_t len)
{
    json_t *j = NULL;

    if (len == 0)
        return s_nn(json_string(""));
    if (!memchr(p, '\0', len))
        j = json_stringn(p, len); /* NULL: not valid UTF-8 */
    return j ? j : s_hex_string("hex:", p, len);
}

static json_t *s_to_json(const msgpack_object *o, unsigned depth);

/* The text a map key becomes: strings as themselves, anything else as compact JSON. */
static char *
s_key_text(const msgpack_object *k, unsigned depth, size_t *ret_len)
{
    json_t *j = s_to_json(k, depth);
    char *text;

    if (json_is_string(j)) {
        *ret_len = json_string_length(j);
        text = malloc(*ret_len + 1);
        if (text)
            memcpy(text, json_string_value(j), *ret_len + 1);
    } else {
        text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
        if (text)
            *ret_len = strlen(text);
    }
    json_decref(j);
    if (!text)
        s_nn(NULL);
    return text;
}

static json_t *
s_to_json(const msgpack_object *o, unsigned depth)
{
    if (depth > TO_JSON_MAX_DEPTH)
        return s_nn(json_string("(nested too deep)"));
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return s_nn(json_null());
    case MSGPACK_OBJECT_BOOLEAN:
        return s_nn(json_boolean(o->via.boolean));
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 > INT64_MAX) {
            char buf[24];
            snprintf(buf, sizeof(buf), "%" PRIu64, o->via.u64);
            return s_nn(json_string(buf));
        }
        return s_nn(json_integer((json_int_t)o->via.u64));
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return s_nn(json_integer((json_int_t)o->via.i64));
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        if (isnan(o->via.f64))
            return s_nn(json_string("nan"));
        if (isinf(o->via.f64))
            return s_nn(json_string(o->via.f64 > 0 ? "inf" : "-inf"));
        return s_nn(json_real(o->via.f64));
    case MSGPACK_OBJECT_STR:
        return s_text(o->via.str.ptr, o->via.str.size);
    case MSGPACK_OBJECT_BIN:
        return s_hex_string("", o->via.bin.ptr, o->via.bin.size);
    case MSGPACK_OBJECT_EXT: {
        json_t *j = s_nn(json_object());
        json_object_set_new(j, "ext", s_nn(json_integer(o->via.ext.type)));
        json_object_set_new(j, "hex", s_hex_string("", o->via.ext.ptr, o->via.ext.size));
        return j;
    }
    case MSGPACK_OBJECT_ARRAY: {
        json_t *j = s_nn(json_array());
        for (uint32_t i = 0; i < o->via.array.size; i++)
            json_array_append_new(j, s_to_json(&o->via.array.ptr[i], depth + 1));
        return j;
    }
    case MSGPACK_OBJECT_MAP: {
        json_t *j = s_nn(json_object());
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            size_t key_len;
            char *key = s_key_text(&kv->key, depth + 1, &key_len);
            /* A duplicate key keeps the last value, as most JSON readers would. */
            json_object_setn_new(j, key, key_len, s_to_json(&kv->val, depth + 1));
            free(key);
        }
        return j;
    }
    }
    return s_nn(json_string("(unknown msgpack type)"));
}

json_t *
json_msgpack_to_json(const msgpack_object *o)
{
    return s_to_json(o, 0);
}
