/* retry_heap: pops in due order whatever the push order, and empties cleanly. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "daemon/retry_heap.h"

Test(retry_heap, pops_in_due_order)
{
    struct retry_heap h;
    retry_heap_init(&h);
    struct retry_entry e;
    cr_expect_null(retry_heap_peek(&h));
    cr_expect_not(retry_heap_pop(&h, &e));

    srand(7);
    for (uint64_t i = 1; i <= 5000; i++)
        retry_heap_push(&h, (uint64_t)(rand() % 1000), i, (unsigned)(i % 5) + 2);
    cr_expect_eq(retry_heap_len(&h), 5000);
    uint64_t last = 0;
    size_t n = 0;
    while (retry_heap_pop(&h, &e)) {
        cr_assert_geq(e.due_ms, last, "entry %zu due %lu after %lu", n, e.due_ms, last);
        cr_assert_eq(e.attempt, (unsigned)(e.seq % 5) + 2, "seq and attempt stay together");
        last = e.due_ms;
        n++;
    }
    cr_expect_eq(n, 5000);
    cr_expect_eq(retry_heap_len(&h), 0);
    /* Usable again after it gave its memory back. */
    retry_heap_push(&h, 5, 1, 1);
    retry_heap_push(&h, 3, 2, 1);
    cr_expect_eq(retry_heap_peek(&h)->seq, 2);
    retry_heap_destroy(&h);
}
