/* The band and exact tables of lshtable.h. Keys are already XXH3 hashes, so
 * their low bits index the table directly. */
#include "lshtable.h"

#include <stdlib.h>

static int band_grow(BandTable *t)
{
    size_t cap = t->cap ? t->cap * 2 : 1024;
    BandEntry *s = malloc(cap * sizeof *s);
    if (!s) return -1;
    for (size_t i = 0; i < cap; i++) s[i].id = LSH_EMPTY;
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slot[i].id == LSH_EMPTY) continue;
        size_t j = t->slot[i].key & (cap - 1);
        while (s[j].id != LSH_EMPTY) j = (j + 1) & (cap - 1);
        s[j] = t->slot[i];
    }
    free(t->slot);
    t->slot = s;
    t->cap = cap;
    return 0;
}

int band_insert(BandTable *t, uint64_t key, uint32_t band, uint32_t id)
{
    if ((t->n + 1) * 4 > t->cap * 3 && band_grow(t)) return -1;
    size_t j = key & (t->cap - 1);
    while (t->slot[j].id != LSH_EMPTY) j = (j + 1) & (t->cap - 1);
    t->slot[j] = (BandEntry){ key, id, band };
    t->n++;
    return 0;
}

uint32_t band_next(const BandTable *t, uint64_t key, uint32_t band, size_t *pos)
{
    if (!t->cap) return LSH_EMPTY;
    size_t j = *pos == SIZE_MAX ? key & (t->cap - 1) : (*pos + 1) & (t->cap - 1);
    for (; t->slot[j].id != LSH_EMPTY; j = (j + 1) & (t->cap - 1))
        if (t->slot[j].key == key && t->slot[j].band == band) {
            *pos = j;
            return t->slot[j].id;
        }
    return LSH_EMPTY;
}

void band_free(BandTable *t)
{
    free(t->slot);
    t->slot = NULL;
    t->cap = t->n = 0;
}

static int exact_grow(ExactTable *t)
{
    size_t cap = t->cap ? t->cap * 2 : 1024;
    ExactEntry *s = malloc(cap * sizeof *s);
    if (!s) return -1;
    for (size_t i = 0; i < cap; i++) s[i].id = UINT64_MAX;
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slot[i].id == UINT64_MAX) continue;
        size_t j = t->slot[i].lo & (cap - 1);
        while (s[j].id != UINT64_MAX) j = (j + 1) & (cap - 1);
        s[j] = t->slot[i];
    }
    free(t->slot);
    t->slot = s;
    t->cap = cap;
    return 0;
}

int exact_insert(ExactTable *t, uint64_t lo, uint64_t hi, uint64_t id)
{
    if ((t->n + 1) * 4 > t->cap * 3 && exact_grow(t)) return -1;
    size_t j = lo & (t->cap - 1);
    while (t->slot[j].id != UINT64_MAX) j = (j + 1) & (t->cap - 1);
    t->slot[j] = (ExactEntry){ lo, hi, id };
    t->n++;
    return 0;
}

uint64_t exact_find(const ExactTable *t, uint64_t lo, uint64_t hi)
{
    if (!t->cap) return UINT64_MAX;
    for (size_t j = lo & (t->cap - 1); t->slot[j].id != UINT64_MAX; j = (j + 1) & (t->cap - 1))
        if (t->slot[j].lo == lo && t->slot[j].hi == hi) return t->slot[j].id;
    return UINT64_MAX;
}

void exact_free(ExactTable *t)
{
    free(t->slot);
    t->slot = NULL;
    t->cap = t->n = 0;
}
