/*
 * seq_queue: a FIFO of events waiting for a worker, as (seq, attempt) pairs
 * packed into 8 bytes each. The envelope stays in the audit log and is read
 * back at dispatch, so an area without workers costs 8 bytes per waiting
 * event, not the event itself.
 */
#ifndef MANDATE_SEQ_QUEUE_H
#define MANDATE_SEQ_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SEQ_QUEUE_MAX_ATTEMPT 0xffffu
#define SEQ_QUEUE_MAX_SEQ     ((UINT64_C(1) << 48) - 1)

struct seq_queue {
    uint64_t *ring;
    size_t cap; /* a power of two, or 0 */
    size_t head, len;
};

void seq_queue_init(struct seq_queue *q);
void seq_queue_destroy(struct seq_queue *q);
size_t seq_queue_len(const struct seq_queue *q);
/* Appends at the back (new events) or the front (a send that failed). */
void seq_queue_push(struct seq_queue *q, uint64_t seq, unsigned attempt);
void seq_queue_push_front(struct seq_queue *q, uint64_t seq, unsigned attempt);
/* false if empty. */
bool seq_queue_pop(struct seq_queue *q, uint64_t *ret_seq, unsigned *ret_attempt);

#endif
