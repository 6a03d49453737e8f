/* Hashing: XXH3 from Debian's libxxhash, under names that say the width. */
#ifndef HASH_H
#define HASH_H

#include <stddef.h>
#include <stdint.h>

typedef struct Hash128 {
    uint64_t lo, hi;
} Hash128;

uint64_t hash64(const void *p, size_t n, uint64_t seed);
Hash128 hash128(const void *p, size_t n, uint64_t seed);

#endif
