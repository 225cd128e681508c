/*
 * clock: the two clocks the broker reads. Monotonic for intervals, rates and
 * timeouts; real time for what goes into records and the pending table
 * (`at`, `due_ms`), which must mean the same after a restart.
 */
#ifndef MANDATE_CLOCK_H
#define MANDATE_CLOCK_H

#include <stdint.h>

uint64_t monotonic_ns(void);
uint64_t realtime_ns(void);

#endif
