/* clock: clock_gettime, in nanoseconds. */
#include <time.h>

#include "daemon/clock.h"

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
