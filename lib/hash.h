/* Hashing: XXH3 from Debian's libxxhash, under names that say the width, and
 * splitmix64, a seeded sequence of 64-bit random numbers. */
#ifndef HASH_H
#define HASH_H

#include <stddef.h>
#include <stdint.h>

typedef struct Hash128 {
    uint64_t lo, hi;
} Hash128;

uint64_t hash64(const void *p, size_t n, uint64_t seed);
Hash128 hash128(const void *p, size_t n, uint64_t seed);

/* splitmix64 (Steele, Lea and Flood): the next value of the sequence whose
 * state is *state. Seeds dedup's a_i, b_i and filter train's shuffles, whose
 * outputs tests pin: never change its constants. (model/kernels.h has its own
 * finalizer, kdrop_mix64, which CUDA code calls on the device.) */
static inline uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

#endif
