/*
 * bench_stats: the few statistics every benchmark prints: percentiles of
 * latency samples, and the median and spread of a figure over runs.
 */
#ifndef MANDATED_BENCH_STATS_H
#define MANDATED_BENCH_STATS_H

#include <stddef.h>
#include <stdint.h>

struct bench_spread {
    double median, min, max;
};

/* qsort comparators. */
int bench_cmp_u64(const void *a, const void *b);
int bench_cmp_double(const void *a, const void *b);

/* Nearest-rank percentile (0..100) of n sorted nanosecond samples, in µs; 0 when n is 0. */
double bench_percentile_us(const uint64_t *sorted, size_t n, unsigned pct);

/* Median, min and max of n values; sorts v. All 0 when n is 0. */
struct bench_spread bench_spread_of(double *v, int n);

/* "median min max" in three 8-wide columns; small numbers keep a decimal. */
void bench_spread_cell(char *buf, size_t size, struct bench_spread s);

#endif
