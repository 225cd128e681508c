/*
 * pack: the msgpack-c helpers every codec here needs: the sbuffer writer that
 * applies the project's allocation policy (abort with a message), a C-string
 * packer, and the string-key comparison of decoders.
 */
#ifndef MANDATE_PACK_H
#define MANDATE_PACK_H

#include <stdbool.h>
#include <stddef.h>
#include <msgpack.h>

/* A msgpack_packer_write for sbuffers: aborts if the buffer cannot grow. */
int pack_sbuffer_write(void *sbuf, const char *buf, size_t len);
/* Packs s (NUL-terminated) as a str. */
void pack_cstr(msgpack_packer *pk, const char *s);
/* Packs the first n bytes of s as a str. */
void pack_strn(msgpack_packer *pk, const char *s, size_t n);
/* Copies the str o into buf as a C string: false if o is no str, is empty or
 * does not fit in size - 1 bytes (buf is then untouched). */
bool pack_str_copy(const msgpack_object *o, char *buf, size_t size);
/* The value of the str key in the map (NULL if map is NULL, no map, or has no such key). */
const msgpack_object *pack_map_get(const msgpack_object *map, const char *key);
/* Whether o is the str s. */
bool pack_str_is(const msgpack_object *o, const char *s);

#endif
