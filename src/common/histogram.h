/* histogram.h — fixed-size log-linear latency histogram (HDR style): 16 sub-buckets per power
 * of two, so a reported percentile is within 1/16 (6.25 %) of the true value; exact min/max.
 * Plain struct, no allocation: record() is a few instructions, safe to call per frame. */
#ifndef STEERD_HISTOGRAM_H
#define STEERD_HISTOGRAM_H

#include <stdint.h>

#define HIST_SUB_BITS 4
#define HIST_SUB (1 << HIST_SUB_BITS)
#define HIST_MAGS 44 /* values up to 2^44 (about 4.9 hours in ns); larger ones clamp */
#define HIST_BUCKETS (2 * HIST_SUB + (HIST_MAGS - HIST_SUB_BITS - 1) * HIST_SUB)

typedef struct {
    uint64_t count;
    uint64_t min, max;
    double sum;
    uint32_t buckets[HIST_BUCKETS];
} histogram;

void hist_reset(histogram *h);
void hist_record(histogram *h, uint64_t v);
/* Value at percentile p in [0, 100]: the upper edge of the bucket holding the rank, clamped to
 * [min, max] (so p=100 gives max exactly). 0 when empty. */
uint64_t hist_percentile(const histogram *h, double p);
double hist_mean(const histogram *h);
/* dst += src */
void hist_merge(histogram *dst, const histogram *src);

/* Bucket index and bucket bounds [lo, hi] (exposed for tests). */
int hist_bucket(uint64_t v);
uint64_t hist_bucket_lo(int b);
uint64_t hist_bucket_hi(int b);

#endif
