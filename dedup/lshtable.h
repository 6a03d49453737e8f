/* Open-addressing hash tables for dedup: band keys -> kept documents (a multimap:
 * with --verify two kept documents may share a band key) and 128-bit exact
 * hashes -> the kept document. Linear probing, kept at most 3/4 full, so an
 * entry costs its size / (3/8 .. 3/4): bands 16 bytes -> 21..43 bytes. */
#ifndef LSHTABLE_H
#define LSHTABLE_H

#include <stddef.h>
#include <stdint.h>

#define LSH_EMPTY UINT32_MAX

typedef struct BandEntry {
    uint64_t key;
    uint32_t id;   /* the kept document; LSH_EMPTY: a free slot */
    uint32_t band;
} BandEntry;

typedef struct BandTable {
    BandEntry *slot;
    size_t cap, n; /* cap a power of two */
} BandTable;

int band_insert(BandTable *t, uint64_t key, uint32_t band, uint32_t id);
/* Walk the entries for (key, band): start with *pos = SIZE_MAX; each call
 * returns the next id, or LSH_EMPTY when there are no more. */
uint32_t band_next(const BandTable *t, uint64_t key, uint32_t band, size_t *pos);
void band_free(BandTable *t);

typedef struct ExactEntry {
    uint64_t lo, hi;
    uint64_t id; /* UINT64_MAX: a free slot */
} ExactEntry;

typedef struct ExactTable {
    ExactEntry *slot;
    size_t cap, n;
} ExactTable;

int exact_insert(ExactTable *t, uint64_t lo, uint64_t hi, uint64_t id);
/* The id stored for (lo, hi), or UINT64_MAX. */
uint64_t exact_find(const ExactTable *t, uint64_t lo, uint64_t hi);
void exact_free(ExactTable *t);

#endif
