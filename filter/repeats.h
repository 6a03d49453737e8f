/* Which of many 32-bit fingerprints occur more than once, in memory that
 * stays near 4 bytes a fingerprint and time that stays near the cache's: the
 * long-document road of heur.c asks it for every n-gram of a 60 MB text.
 * Also the sets it answers with (FpSet) and an exact table of 64-bit keys
 * that grows as keys come (KeyTab). Nothing here knows what was fingerprinted. */
#ifndef REPEATS_H
#define REPEATS_H

#include <stddef.h>
#include <stdint.h>

#define REPEATS_NONE UINT32_MAX

typedef struct RepList {
    uint32_t *at, *end;  /* where the next goes in the last chunk, and its end */
    uint32_t head, tail; /* first and last chunk, or REPEATS_NONE */
    size_t chunks;
} RepList;

/* Fingerprints go, as they come, by their top byte into 256 bins, each a list
 * of chunks of one pool; repeats_runs then sorts each bin in a buffer that
 * stays in the cache. Zero it before first use; free with repeats_free. */
typedef struct Repeats {
    uint32_t *pool;  /* chunk c is pool[c * chunk ...] */
    uint32_t *link;  /* the chunk after c in its list, or in the free list */
    size_t n_chunks, chunk; /* chunk: fingerprints in one, 16 to 1024 by how many come */
    size_t pool_cap, link_cap;
    uint32_t free;   /* first free chunk */
    RepList bin[256];
    /* repeats_runs: each fingerprint that occurs twice or more, as
     * count << 32 | fingerprint, in increasing fingerprint order */
    uint64_t *run;
    size_t n_runs, runs_cap;
    size_t longest;  /* the most times a fingerprint occurs */
    int single;      /* some fingerprint occurs once */
    uint32_t *tmp;   /* sorting: 2 * tmp_cap */
    size_t tmp_cap;
    uint32_t *hist;
} Repeats;

/* Empty, with room for m repeats_add. -1: out of memory. */
int repeats_reset(Repeats *r, size_t m);
/* Frees r's memory; r is then as zeroed, ready for repeats_reset. */
void repeats_free(Repeats *r);
/* Frees the bins' pool (after repeats_runs, when the runs are what is
 * needed); repeats_reset makes it again. */
void repeats_free_pool(Repeats *r);

static inline void repeats_list_add(Repeats *r, RepList *l, uint32_t fp)
{
    if (l->at == l->end) {
        uint32_t c = r->free; /* never REPEATS_NONE: see repeats_reset */
        r->free = r->link[c];
        r->link[c] = REPEATS_NONE;
        if (l->tail == REPEATS_NONE) l->head = c;
        else r->link[l->tail] = c;
        l->tail = c, l->chunks++;
        l->at = r->pool + (size_t)c * r->chunk, l->end = l->at + r->chunk;
    }
    *l->at++ = fp;
}

static inline void repeats_add(Repeats *r, uint32_t fp)
{
    repeats_list_add(r, &r->bin[fp >> 24], fp);
}

/* After the last repeats_add: r->run, r->longest, r->single. The bins are
 * emptied (repeats_add may start again after repeats_reset). */
int repeats_runs(Repeats *r);
/* How many times fp occurred (1 when it is not among the runs). */
size_t repeats_count(const Repeats *r, uint32_t fp);

/* Exact 64-bit keys, compared as key | 1 (as heur.c's set_slot does), each
 * followed by stride - 1 words of value; grown as keys come, at most half
 * full. Free with keytab_free. */
typedef struct KeyTab {
    uint64_t *slot;
    size_t mask, count, stride;
} KeyTab;

int keytab_init(KeyTab *t, size_t stride);
void keytab_free(KeyTab *t);
/* Index of key's slot (slot + index * stride), or -1 when it is not in. */
long keytab_find(const KeyTab *t, uint64_t key);
/* Index of key's slot, inserted when absent (*fresh 1, value words 0), or -1
 * when out of memory. */
long keytab_slot(KeyTab *t, uint64_t key, int *fresh);

/* A set of fingerprints (never 0), each slot also the first key seen with
 * it: open addressing 3/4 full, behind a filter of 16 bits a
 * fingerprint (two bits of one word) that answers most "no"s from the cache
 * with one load (a scan asks for every position, and in text most n-grams
 * occur once). A fingerprint is the top 32 bits of a key, masked and | 1; a
 * slot holds 0 (empty), fp << 32 (no key seen yet), or key | 1: so a text
 * that repeats itself costs about 11 bytes a repeated key. Keys seen that
 * share a fingerprint with the slot's go into `more`. Zero it first; free
 * with fpset_free. */
typedef struct FpSet {
    uint64_t *slot;
    uint64_t *bits;
    size_t n_slots, n_words; /* not powers of 2: places are taken by (x * n) >> 32 */
    uint32_t fp_mask;        /* fingerprint = (key >> 32 & fp_mask) | 1 */
    KeyTab more;
} FpSet;

static inline uint32_t fpset_fp(uint32_t fp_mask, uint64_t key)
{
    return ((uint32_t)(key >> 32) & fp_mask) | 1;
}

/* The fingerprints of r's runs that occur tau times or more (tau >= 2);
 * *n_fps gets their number, *below the most times one occurs that is under
 * tau (0: none). -1: out of memory. */
int fpset_select(FpSet *f, const Repeats *r, size_t tau, uint32_t fp_mask, size_t *n_fps, size_t *below);
void fpset_free(FpSet *f);

static inline uint64_t fpset_bits(const FpSet *f, uint32_t fp, size_t *word)
{
    uint64_t x = fp * 0x9e3779b97f4a7c15ull;
    *word = (size_t)(((x >> 32) * f->n_words) >> 32);
    return (uint64_t)1 << (x & 63) | (uint64_t)1 << ((x >> 6) & 63);
}

/* mixed first: fingerprints that keep few bits (the tests') spread too */
static inline size_t fpset_home(const FpSet *f, uint32_t fp)
{
    return (size_t)(((fp * 0xc2b2ae3d27d4eb4full >> 32) * f->n_slots) >> 32);
}

/* The slot of fp, or -1 when fp is not in. */
static inline long fpset_find(const FpSet *f, uint32_t fp)
{
    size_t w;
    uint64_t m = fpset_bits(f, fp, &w);
    if ((f->bits[w] & m) != m) return -1;
    for (size_t i = fpset_home(f, fp);; i = i + 1 == f->n_slots ? 0 : i + 1) {
        uint64_t x = f->slot[i];
        if (!x) return -1;
        if ((x & 1 ? fpset_fp(f->fp_mask, x) : (uint32_t)(x >> 32)) == fp) return (long)i;
    }
}

/* Whether key (its fingerprint at slot i) was seen before: 1; 0 when not
 * (now it is); -1 when out of memory. */
int fpset_seen(FpSet *f, long i, uint64_t key);

#endif
