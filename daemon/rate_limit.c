/* rate_limit: token bucket refilled lazily from the monotonic clock. */
#include "daemon/rate_limit.h"

void
rate_limit_init(struct rate_limit *rl, double rate, double burst, uint64_t now_ns)
{
    rl->rate = rate;
    rl->burst = burst > 0 ? burst : (rate > 1 ? rate : 1);
    rl->tokens = rl->burst;
    rl->last_ns = now_ns;
}

static void
s_refill(struct rate_limit *rl, uint64_t now_ns)
{
    if (now_ns > rl->last_ns) {
        rl->tokens += (double)(now_ns - rl->last_ns) * rl->rate / 1e9;
        if (rl->tokens > rl->burst)
            rl->tokens = rl->burst;
        rl->last_ns = now_ns;
    }
}

void
rate_limit_retune(struct rate_limit *rl, double rate, double burst, uint64_t now_ns)
{
    struct rate_limit next;
    rate_limit_init(&next, rate, burst, now_ns);
    if (rl->rate > 0) {
        /* What the old rate earned until now stays, up to the new bucket. */
        s_refill(rl, now_ns);
        if (rl->tokens < next.tokens)
            next.tokens = rl->tokens;
    }
    *rl = next;
}

bool
rate_limit_take(struct rate_limit *rl, uint64_t now_ns)
{
    if (rl->rate <= 0)
        return true;
    s_refill(rl, now_ns);
    if (rl->tokens < 1.0)
        return false;
    rl->tokens -= 1.0;
    return true;
}
