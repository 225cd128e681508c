/*
 * retry_heap: events waiting out a retry backoff, ordered by due time, in
 * 16 bytes each. A failing area can hold a large share of its backlog here
 * (every attempt sends the event back for a while), so this stays as small
 * as the queue itself instead of one timer per event; the owner keeps one
 * timer for the earliest due time.
 */
#ifndef MANDATE_RETRY_HEAP_H
#define MANDATE_RETRY_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct retry_entry {
    uint64_t due_ms; /* monotonic ms */
    uint64_t seq;
    unsigned attempt; /* the attempt it will be offered as */
};

struct retry_heap {
    struct retry_entry *v;
    size_t n, cap;
};

void retry_heap_init(struct retry_heap *h);
void retry_heap_destroy(struct retry_heap *h);
size_t retry_heap_len(const struct retry_heap *h);
void retry_heap_push(struct retry_heap *h, uint64_t due_ms, uint64_t seq, unsigned attempt);
/* The earliest entry, or NULL if empty. */
const struct retry_entry *retry_heap_peek(const struct retry_heap *h);
/* Removes the earliest entry into *ret; false if empty. */
bool retry_heap_pop(struct retry_heap *h, struct retry_entry *ret);

#endif
