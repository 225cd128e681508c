/* rate_limit: the token bucket, at its edges, on a clock the test controls. */
#include <criterion/criterion.h>

#include "daemon/rate_limit.h"

#define SEC 1000000000ull

Test(rate_limit, burst_then_refill_at_rate)
{
    struct rate_limit rl;
    rate_limit_init(&rl, 10, 5, 0);
    for (int i = 0; i < 5; i++)
        cr_assert(rate_limit_take(&rl, 0), "token %d of the burst", i);
    cr_assert_not(rate_limit_take(&rl, 0), "the burst is spent");
    cr_assert_not(rate_limit_take(&rl, SEC / 20), "half a token after 50 ms at 10/s");
    cr_assert(rate_limit_take(&rl, SEC / 10), "one token after 100 ms");
    cr_assert_not(rate_limit_take(&rl, SEC / 10));
}

Test(rate_limit, refill_never_exceeds_burst)
{
    struct rate_limit rl;
    rate_limit_init(&rl, 100, 3, 0);
    for (int i = 0; i < 3; i++)
        cr_assert(rate_limit_take(&rl, 0));
    /* An hour idle refills to the burst, not to 360,000 tokens. */
    int taken = 0;
    while (rate_limit_take(&rl, 3600 * SEC))
        taken++;
    cr_assert_eq(taken, 3);
}

Test(rate_limit, zero_rate_is_unlimited)
{
    struct rate_limit rl;
    rate_limit_init(&rl, 0, 0, 0);
    for (int i = 0; i < 100000; i++)
        cr_assert(rate_limit_take(&rl, 0));
}

Test(rate_limit, clock_going_backwards_takes_nothing_extra)
{
    struct rate_limit rl;
    rate_limit_init(&rl, 1, 1, 10 * SEC);
    cr_assert(rate_limit_take(&rl, 10 * SEC));
    cr_assert_not(rate_limit_take(&rl, 5 * SEC));
    cr_assert(rate_limit_take(&rl, 11 * SEC));
}

Test(rate_limit, fractional_rate_with_a_whole_burst)
{
    struct rate_limit rl;
    rate_limit_init(&rl, 0.5, 1, 0);
    cr_assert(rate_limit_take(&rl, 0));
    cr_assert_not(rate_limit_take(&rl, SEC));
    cr_assert(rate_limit_take(&rl, 2 * SEC));
}

Test(rate_limit, retune_keeps_the_tokens_there_are)
{
    struct rate_limit rl;
    rate_limit_init(&rl, 10, 10, 0);
    for (int i = 0; i < 10; i++)
        cr_assert(rate_limit_take(&rl, 0));
    /* An empty bucket stays empty across a retune: no fresh burst. */
    rate_limit_retune(&rl, 10, 20, 0);
    cr_assert_not(rate_limit_take(&rl, 0));
    /* What the old rate earned until the retune stays, then the new rate fills. */
    rate_limit_retune(&rl, 100, 20, SEC / 2);
    for (int i = 0; i < 5; i++)
        cr_assert(rate_limit_take(&rl, SEC / 2));
    cr_assert_not(rate_limit_take(&rl, SEC / 2));
    cr_assert(rate_limit_take(&rl, SEC / 2 + SEC / 100));
    /* A smaller bucket caps what was kept. */
    rate_limit_retune(&rl, 1, 2, 10 * SEC);
    cr_assert(rate_limit_take(&rl, 10 * SEC));
    cr_assert(rate_limit_take(&rl, 10 * SEC));
    cr_assert_not(rate_limit_take(&rl, 10 * SEC));
    /* From unlimited: the new bucket starts full. */
    rate_limit_init(&rl, 0, 0, 0);
    rate_limit_retune(&rl, 1, 3, 0);
    for (int i = 0; i < 3; i++)
        cr_assert(rate_limit_take(&rl, 0));
    cr_assert_not(rate_limit_take(&rl, 0));
}
