/* Thin wrappers, so that programs include one header and link one library. */
#include "hash.h"

#include <xxhash.h>

uint64_t hash64(const void *p, size_t n, uint64_t seed) { return XXH3_64bits_withSeed(p, n, seed); }

Hash128 hash128(const void *p, size_t n, uint64_t seed)
{
    XXH128_hash_t h = XXH3_128bits_withSeed(p, n, seed);
    return (Hash128){ h.low64, h.high64 };
}
