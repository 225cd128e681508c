/*
 * alloc: the allocation policy of every program here (mandated,
 * mandate-worker, mandatectl) and of the proto/ and config/ code they share:
 * an allocation that fails logs one line and aborts. A broker that cannot
 * allocate cannot keep its promises, and systemd restarts it; a worker or
 * the CLI has nothing better to do either.
 *
 * The one exception is libmandate (tools/mandate_client.c), a library that
 * agencies link into their own programs: it uses plain malloc and returns
 * -ENOMEM, since aborting someone else's process is not its call.
 */
#ifndef MANDATE_ALLOC_H
#define MANDATE_ALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
/* realloc to n * size bytes, aborting on overflow as on failure. */
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
/* vasprintf(3) under the same policy. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The first n bytes of s, NUL-terminated. */
char *xstrndup(const char *s, size_t n);
/* For a library's allocator that failed on its own (msgpack, jansson, inih). */
_Noreturn void alloc_failed(size_t size);

#endif
