/*
 * seq_queue: a growable ring. It never shrinks below its high-water mark
 * while in use, but a drained queue gives its memory back, so a backlog
 * that cleared does not pin megabytes.
 */
#include <assert.h>
#include <stdlib.h>

#include "common/alloc.h"
#include "common/log.h"
#include "daemon/seq_queue.h"

#define SEQ_QUEUE_MIN_CAP 64

static uint64_t
s_pack(uint64_t seq, unsigned attempt)
{
    assert(seq <= SEQ_QUEUE_MAX_SEQ && attempt <= SEQ_QUEUE_MAX_ATTEMPT);
    return seq << 16 | attempt;
}

void
seq_queue_init(struct seq_queue *q)
{
    q->ring = NULL;
    q->cap = q->head = q->len = 0;
}

void
seq_queue_destroy(struct seq_queue *q)
{
    free(q->ring);
    seq_queue_init(q);
}

size_t
seq_queue_len(const struct seq_queue *q)
{
    return q->len;
}

static void
s_grow(struct seq_queue *q)
{
    if (q->len < q->cap)
        return;
    size_t cap = q->cap ? q->cap * 2 : SEQ_QUEUE_MIN_CAP;
    uint64_t *ring = xmalloc(cap * sizeof *ring);
    for (size_t i = 0; i < q->len; i++)
        ring[i] = q->ring[(q->head + i) & (q->cap - 1)];
    free(q->ring);
    q->ring = ring;
    q->cap = cap;
    q->head = 0;
}

void
seq_queue_push(struct seq_queue *q, uint64_t seq, unsigned attempt)
{
    s_grow(q);
    q->ring[(q->head + q->len) & (q->cap - 1)] = s_pack(seq, attempt);
    q->len++;
}

void
seq_queue_push_front(struct seq_queue *q, uint64_t seq, unsigned attempt)
{
    s_grow(q);
    q->head = (q->head + q->cap - 1) & (q->cap - 1);
    q->ring[q->head] = s_pack(seq, attempt);
    q->len++;
}

bool
seq_queue_pop(struct seq_queue *q, uint64_t *ret_seq, unsigned *ret_attempt)
{
    if (q->len == 0)
        return false;
    uint64_t v = q->ring[q->head];
    q->head = (q->head + 1) & (q->cap - 1);
    q->len--;
    *ret_seq = v >> 16;
    *ret_attempt = (unsigned)(v & 0xffff);
    if (q->len == 0 && q->cap > SEQ_QUEUE_MIN_CAP)
        seq_queue_destroy(q);
    return true;
}
