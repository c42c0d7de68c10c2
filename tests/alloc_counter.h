/* alloc_counter.h — counts the allocator calls of the code under test. A test binary linked with
 * -Wl,--wrap=malloc,calloc,realloc,aligned_alloc,posix_memalign (tests/meson.build: wrap_args)
 * includes this once; `allocations` then grows by one per call made from the linked objects
 * (the engine library included), from any thread. */
#ifndef STEERD_TESTS_ALLOC_COUNTER_H
#define STEERD_TESTS_ALLOC_COUNTER_H

#include <stdatomic.h>
#include <stddef.h>

static atomic_size_t allocations;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t a, size_t n);
int __real_posix_memalign(void **p, size_t a, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_aligned_alloc(size_t a, size_t n);
int __wrap_posix_memalign(void **p, size_t a, size_t n);
void *__wrap_malloc(size_t n) { allocations++; return __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t m) { allocations++; return __real_calloc(n, m); }
void *__wrap_realloc(void *p, size_t n) { allocations++; return __real_realloc(p, n); }
void *__wrap_aligned_alloc(size_t a, size_t n) { allocations++; return __real_aligned_alloc(a, n); }
int __wrap_posix_memalign(void **p, size_t a, size_t n) { allocations++; return __real_posix_memalign(p, a, n); }

#endif
