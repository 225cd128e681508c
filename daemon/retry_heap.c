/*
 * retry_heap: a binary min-heap on due_ms; ties keep no particular order
 * (each retry's backoff is a lower bound, not a slot).
 */
#include <stdlib.h>

#include "common/alloc.h"
#include "common/log.h"
#include "daemon/retry_heap.h"

void
retry_heap_init(struct retry_heap *h)
{
    h->v = NULL;
    h->n = h->cap = 0;
}

void
retry_heap_destroy(struct retry_heap *h)
{
    free(h->v);
    retry_heap_init(h);
}

size_t
retry_heap_len(const struct retry_heap *h)
{
    return h->n;
}

static void
s_swap(struct retry_entry *a, struct retry_entry *b)
{
    struct retry_entry t = *a;
    *a = *b;
    *b = t;
}

void
retry_heap_push(struct retry_heap *h, uint64_t due_ms, uint64_t seq, unsigned attempt)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 16;
        h->v = xrealloc(h->v, h->cap * sizeof *h->v);
    }
    size_t i = h->n++;
    h->v[i] = (struct retry_entry){.due_ms = due_ms, .seq = seq, .attempt = attempt};
    while (i > 0 && h->v[(i - 1) / 2].due_ms > h->v[i].due_ms) {
        s_swap(&h->v[(i - 1) / 2], &h->v[i]);
        i = (i - 1) / 2;
    }
}

const struct retry_entry *
retry_heap_peek(const struct retry_heap *h)
{
    return h->n ? &h->v[0] : NULL;
}

bool
retry_heap_pop(struct retry_heap *h, struct retry_entry *ret)
{
    if (h->n == 0)
        return false;
    *ret = h->v[0];
    h->v[0] = h->v[--h->n];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && h->v[l].due_ms < h->v[m].due_ms)
            m = l;
        if (r < h->n && h->v[r].due_ms < h->v[m].due_ms)
            m = r;
        if (m == i)
            break;
        s_swap(&h->v[m], &h->v[i]);
        i = m;
    }
    if (h->n == 0)
        retry_heap_destroy(h); /* a cleared backlog gives its memory back */
    return true;
}
