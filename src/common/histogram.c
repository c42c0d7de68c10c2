/* histogram.c — log-linear histogram: values below 32 have their own bucket; above, each power
 * of two [2^k, 2^(k+1)) is split into 16 equal sub-buckets (the 4 bits below the top bit). */
#include "common/histogram.h"

#include <string.h>

void hist_reset(histogram *h)
{
    memset(h, 0, sizeof *h);
}

static int msb(uint64_t v)
{
    return 63 - __builtin_clzll(v);
}

int hist_bucket(uint64_t v)
{
    if (v < 2 * HIST_SUB)
        return (int)v;
    int k = msb(v); /* > HIST_SUB_BITS */
    if (k >= HIST_MAGS)
        return HIST_BUCKETS - 1;
    int sub = (int)(v >> (k - HIST_SUB_BITS)) & (HIST_SUB - 1); /* the 4 bits below the msb */
    return 2 * HIST_SUB + (k - HIST_SUB_BITS - 1) * HIST_SUB + sub;
}

uint64_t hist_bucket_lo(int b)
{
    if (b < 2 * HIST_SUB)
        return (uint64_t)b;
    int k = (b - 2 * HIST_SUB) / HIST_SUB + HIST_SUB_BITS + 1;
    int sub = (b - 2 * HIST_SUB) % HIST_SUB;
    return ((uint64_t)(HIST_SUB + sub)) << (k - HIST_SUB_BITS);
}

uint64_t hist_bucket_hi(int b)
{
    if (b < 2 * HIST_SUB)
        return (uint64_t)b;
    if (b == HIST_BUCKETS - 1)
        return UINT64_MAX;
    return hist_bucket_lo(b + 1) - 1;
}

void hist_record(histogram *h, uint64_t v)
{
    if (h->count == 0 || v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
    h->count++;
    h->sum += (double)v;
    h->buckets[hist_bucket(v)]++;
}

uint64_t hist_percentile(const histogram *h, double p)
{
    if (h->count == 0)
        return 0;
    if (p <= 0)
        return h->min;
    if (p >= 100)
        return h->max;
    /* rank = ceil(p/100 * count), at least 1 (nearest-rank definition) */
    double r = p / 100.0 * (double)h->count;
    uint64_t rank = (uint64_t)r;
    if ((double)rank < r)
        rank++;
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (int b = 0; b < HIST_BUCKETS; b++) {
        seen += h->buckets[b];
        if (seen >= rank) {
            uint64_t v = hist_bucket_hi(b);
            if (v > h->max)
                v = h->max;
            if (v < h->min)
                v = h->min;
            return v;
        }
    }
    return h->max;
}

double hist_mean(const histogram *h)
{
    return h->count ? h->sum / (double)h->count : 0.0;
}

void hist_merge(histogram *dst, const histogram *src)
{
    if (src->count == 0)
        return;
    if (dst->count == 0 || src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    dst->count += src->count;
    dst->sum += src->sum;
    for (int b = 0; b < HIST_BUCKETS; b++)
        dst->buckets[b] += src->buckets[b];
}
