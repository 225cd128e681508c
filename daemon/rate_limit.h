/*
 * rate_limit: a token bucket. Used per source at intake and to cap how many
 * `rejected` records a flood can write.
 */
#ifndef MANDATE_RATE_LIMIT_H
#define MANDATE_RATE_LIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct rate_limit {
    double rate;  /* tokens per second; <= 0 means unlimited */
    double burst; /* bucket size */
    double tokens;
    uint64_t last_ns; /* monotonic time of the last refill */
};

void rate_limit_init(struct rate_limit *rl, double rate, double burst, uint64_t now_ns);
/* New rate and bucket size, keeping the tokens there are (at most the new
 * bucket): a reload must not hand a flooding source a fresh burst. */
void rate_limit_retune(struct rate_limit *rl, double rate, double burst, uint64_t now_ns);
/* Takes one token if there is one. */
bool rate_limit_take(struct rate_limit *rl, uint64_t now_ns);

#endif
