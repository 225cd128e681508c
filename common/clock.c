/* clock: clock_gettime, in nanoseconds and milliseconds. */
#include <time.h>

#include "common/clock.h"

static uint64_t
s_read(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t
monotonic_ns(void)
{
    return s_read(CLOCK_MONOTONIC);
}

uint64_t
realtime_ns(void)
{
    return s_read(CLOCK_REALTIME);
}

uint64_t
monotonic_ms(void)
{
    return monotonic_ns() / 1000000u;
}

uint64_t
unix_ms(void)
{
    return realtime_ns() / 1000000u;
}
