#include "bench/support/bench_stats.h"

#include <stdio.h>
#include <stdlib.h>

int
bench_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int
bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double
bench_percentile_us(const uint64_t *sorted, size_t n, unsigned pct)
{
    if (n == 0)
        return 0;
    size_t rank = (n * pct + 99) / 100;
    return (double)sorted[rank ? rank - 1 : 0] / 1000.0;
}

struct bench_spread
bench_spread_of(double *v, int n)
{
    struct bench_spread s = {0, 0, 0};
    if (n <= 0)
        return s;
    qsort(v, (size_t)n, sizeof v[0], bench_cmp_double);
    s.min = v[0];
    s.max = v[n - 1];
    s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    return s;
}

/* A 40 µs round trip is not "40 or 41". */
static void
s_fmt(char *buf, size_t size, double v)
{
    snprintf(buf, size, v < 100 ? "%.1f" : "%.0f", v);
}

void
bench_spread_cell(char *buf, size_t size, struct bench_spread s)
{
    char a[32], b[32], c[32];
    s_fmt(a, sizeof a, s.median);
    s_fmt(b, sizeof b, s.min);
    s_fmt(c, sizeof c, s.max);
    snprintf(buf, size, "%8s %8s %8s", a, b, c);
}
