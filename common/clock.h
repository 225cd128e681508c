/*
 * clock: the two clocks every program reads. Monotonic for intervals, rates
 * and timeouts; real time for what goes into records, results and the
 * pending table (`at`, `due_ms`, `handled_at`), which must mean the same
 * after a restart and on another machine.
 */
#ifndef MANDATE_CLOCK_H
#define MANDATE_CLOCK_H

#include <stdint.h>

uint64_t monotonic_ns(void);
uint64_t realtime_ns(void);
/* The same in milliseconds: unix_ms() is ms since the Unix epoch. */
uint64_t monotonic_ms(void);
uint64_t unix_ms(void);

#endif
