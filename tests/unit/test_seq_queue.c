/* seq_queue: FIFO order across growth and wrap-around, front pushes, packing limits. */
#include <criterion/criterion.h>

#include "daemon/seq_queue.h"

Test(seq_queue, fifo_across_growth_and_wrap)
{
    struct seq_queue q;
    seq_queue_init(&q);
    uint64_t seq;
    unsigned attempt;
    cr_expect_not(seq_queue_pop(&q, &seq, &attempt), "empty queue pops nothing");

    /* Interleave pushes and pops so the ring wraps before it grows. */
    uint64_t next_in = 1, next_out = 1;
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 100; i++, next_in++)
            seq_queue_push(&q, next_in, (unsigned)(next_in % 7) + 1);
        for (int i = 0; i < 60; i++, next_out++) {
            cr_assert(seq_queue_pop(&q, &seq, &attempt));
            cr_assert_eq(seq, next_out);
            cr_assert_eq(attempt, (unsigned)(next_out % 7) + 1);
        }
    }
    cr_expect_eq(seq_queue_len(&q), next_in - next_out);
    while (seq_queue_pop(&q, &seq, &attempt))
        cr_assert_eq(seq, next_out++);
    cr_expect_eq(next_out, next_in);
    cr_expect_eq(seq_queue_len(&q), 0);
    seq_queue_destroy(&q);
}

Test(seq_queue, push_front_goes_first_and_extremes_round_trip)
{
    struct seq_queue q;
    seq_queue_init(&q);
    seq_queue_push(&q, 10, 1);
    seq_queue_push(&q, 11, 1);
    seq_queue_push_front(&q, SEQ_QUEUE_MAX_SEQ, SEQ_QUEUE_MAX_ATTEMPT);
    uint64_t seq;
    unsigned attempt;
    cr_assert(seq_queue_pop(&q, &seq, &attempt));
    cr_expect_eq(seq, SEQ_QUEUE_MAX_SEQ);
    cr_expect_eq(attempt, SEQ_QUEUE_MAX_ATTEMPT);
    cr_assert(seq_queue_pop(&q, &seq, &attempt));
    cr_expect_eq(seq, 10);
    /* A push_front on an empty queue works too. */
    seq_queue_pop(&q, &seq, &attempt);
    seq_queue_push_front(&q, 5, 2);
    cr_assert(seq_queue_pop(&q, &seq, &attempt));
    cr_expect(seq == 5 && attempt == 2);
    seq_queue_destroy(&q);
}
