/* pack: see pack.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "proto/pack.h"

int
pack_sbuffer_write(void *sbuf, const char *buf, size_t len)
{
    if (msgpack_sbuffer_write(sbuf, buf, len) != 0)
        alloc_failed(((msgpack_sbuffer *)sbuf)->size + len);
    return 0;
}

void
pack_strn(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

void
pack_cstr(msgpack_packer *pk, const char *s)
{
    pack_strn(pk, s, strlen(s));
}

bool
pack_str_is(const msgpack_object *o, const char *s)
{
    size_t n = strlen(s);
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
           memcmp(o->via.str.ptr, s, n) == 0;
}

bool
pack_str_copy(const msgpack_object *o, char *buf, size_t size)
{
    if (!o || o->type != MSGPACK_OBJECT_STR || o->via.str.size == 0 || o->via.str.size >= size)
        return false;
    memcpy(buf, o->via.str.ptr, o->via.str.size);
    buf[o->via.str.size] = '\0';
    return true;
}

const msgpack_object *
pack_map_get(const msgpack_object *map, const char *key)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++)
        if (pack_str_is(&map->via.map.ptr[i].key, key))
            return &map->via.map.ptr[i].val;
    return NULL;
}
