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

bool
rate_limit_take(struct rate_limit *rl, uint64_t now_ns)
{
    if (rl->rate <= 0)
        return true;
    if (now_ns > rl->last_ns) {
        rl->tokens += (double)(now_ns - rl->last_ns) * rl->rate / 1e9;
        if (rl->tokens > rl->burst)
            rl->tokens = rl->burst;
        rl->last_ns = now_ns;
    }
    if (rl->tokens < 1.0)
        return false;
    rl->tokens -= 1.0;
    return true;
}
