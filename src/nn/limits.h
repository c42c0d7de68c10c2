/* limits.h — the engine's size limits (docs/FORMATS.md "Size limits") and the overflow-safe
 * arithmetic every size computation goes through. A model is checked against these while its
 * YAML is parsed (every tensor, the parameter count, the activations of one sample) and again
 * when a context is sized for a batch (every batched tensor, the whole arena), always before
 * anything of that size is allocated. The limits keep every per-sample and batched element index
 * inside an int, which the kernels (CPU and CUDA) use for pixel and row counts. */
#ifndef STEERD_NN_LIMITS_H
#define STEERD_NN_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NN_MAX_DIM 65536                     /* height or width of any tensor */
#define NN_MAX_TENSOR (1L << 30)             /* elements of one tensor: per sample, and x batch */
#define NN_MAX_PARAMS (1L << 30)             /* parameters of a model (floats) */
#define NN_MAX_ARENA_BYTES (1ULL << 34)      /* activations (+ scratch, gradients) of one context */

/* *out = a * b; false (and *out = SIZE_MAX) when it overflows. */
static inline bool nn_mul_sz(size_t a, size_t b, size_t *out)
{
    if (__builtin_mul_overflow(a, b, out)) {
        *out = SIZE_MAX;
        return false;
    }
    return true;
}

/* *acc += b; false (and *acc = SIZE_MAX) when it overflows. */
static inline bool nn_add_sz(size_t *acc, size_t b)
{
    if (__builtin_add_overflow(*acc, b, acc)) {
        *acc = SIZE_MAX;
        return false;
    }
    return true;
}

/* Product of n non-negative factors, saturating at SIZE_MAX (which no limit reaches). */
static inline size_t nn_prod_sz(const long *f, int n)
{
    size_t p = 1;
    for (int i = 0; i < n; i++)
        if (f[i] < 0 || !nn_mul_sz(p, (size_t)f[i], &p))
            return SIZE_MAX;
    return p;
}

#endif
