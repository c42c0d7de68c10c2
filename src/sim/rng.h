/* rng.h — the simulator's deterministic random numbers: a splitmix64 stream (per-object state,
 * no globals; the same seed gives the same sequence on every machine) and stateless integer
 * hashes for world-anchored textures (the same ground point always gets the same noise). */
#ifndef STEERD_SIM_RNG_H
#define STEERD_SIM_RNG_H

#include <math.h>
#include <stdint.h>

typedef struct {
    uint64_t s;
} sim_rng;

static inline uint64_t sim_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A stream for (seed, stream id): different ids give independent streams. */
static inline sim_rng sim_rng_make(uint64_t seed, uint64_t stream)
{
    sim_rng r = {sim_mix64(seed * 0x9e3779b97f4a7c15ull + sim_mix64(stream + 0x632be59bd9b4e019ull))};
    return r;
}

static inline uint64_t sim_rng_next(sim_rng *r)
{
    r->s += 0x9e3779b97f4a7c15ull;
    return sim_mix64(r->s);
}

/* Uniform in [0, 1) with 53 random bits. */
static inline double sim_rng_unit(sim_rng *r)
{
    return (double)(sim_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

static inline double sim_rng_range(sim_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * sim_rng_unit(r);
}

/* Standard normal (Box-Muller; one value per call). */
static inline double sim_rng_normal(sim_rng *r)
{
    double u = 1.0 - sim_rng_unit(r), v = sim_rng_unit(r);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* Stateless 32-bit hash of a 2-D integer cell. */
static inline uint32_t sim_hash32(uint32_t seed, int32_t a, int32_t b)
{
    uint32_t h = seed ^ ((uint32_t)a * 0x9e3779b1u) ^ ((uint32_t)b * 0x85ebca77u);
    h ^= h >> 16;
    h *= 0x7feb352du;
    h ^= h >> 15;
    h *= 0x846ca68bu;
    h ^= h >> 16;
    return h;
}

/* The same as a float in [0, 1) (float precision is enough for textures). */
static inline float sim_hash2(uint32_t seed, int32_t a, int32_t b)
{
    return (float)(sim_hash32(seed, a, b) >> 8) * (1.0f / 16777216.0f);
}

#endif
