/* bench.h — what the benchmark programs in kernels/bench share: a monotonic clock and the
 * comparison that sorts latencies for the median and p99. */
#ifndef STEERD_KERNELS_BENCH_H
#define STEERD_KERNELS_BENCH_H

#include <stdint.h>
#include <time.h>

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

#endif
