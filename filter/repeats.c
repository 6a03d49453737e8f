/* Which fingerprints repeat: scattered into bins as they come, then each bin
 * sorted in the cache. Sorting all of them in place instead (an American flag
 * sort of 51 MB) took 22 ns a fingerprint, its first pass a chain of
 * dependent swaps; this takes about 8 (bench/filter/long.sh). Also the
 * fingerprint sets and the exact key tables of the long-document road. */
#include "repeats.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* A bin of at most this many is sorted through two buffers of its size, in
 * the cache; a bigger one (a fingerprint that occurs very often) is scattered
 * again by its next byte, reusing the chunks it is read from. */
#define SMALL ((size_t)1 << 16)

static const RepList NO_LIST = {NULL, NULL, REPEATS_NONE, REPEATS_NONE, 0};

/* Each level of scattering keeps at most 256 chunks part full (at most m),
 * and a second level comes only past SMALL, a fourth at most: so the pool
 * never runs out. Chunks of about m / 1024 (a quarter of m part full at
 * most) and buffers sized by m, not by the most they may take: the tests
 * send short texts down this road by the thousand. */
int repeats_reset(Repeats *r, size_t m)
{
    size_t chunk = 16;
    while (chunk < 1024 && chunk * 1024 < m) chunk *= 2;
    size_t part = m < 256 ? m : 256, nc = m / chunk + part * (m > SMALL ? 4 : 1) + 1;
    size_t small = m < SMALL ? m + 1 : SMALL;
    if (small > r->tmp_cap) {
        free(r->tmp);
        if (!(r->tmp = malloc(2 * small * sizeof *r->tmp))) return r->tmp_cap = 0, -1;
        r->tmp_cap = small;
    }
    if (!r->hist && !(r->hist = malloc(2 * 4096 * sizeof *r->hist))) return -1;
    if (nc * chunk > r->pool_cap) {
        free(r->pool);
        if (!(r->pool = malloc(nc * chunk * sizeof *r->pool))) return r->pool_cap = 0, -1;
        r->pool_cap = nc * chunk;
        buf_advise_huge(r->pool, r->pool_cap * sizeof *r->pool);
    }
    if (nc > r->link_cap) {
        free(r->link);
        if (!(r->link = malloc(nc * sizeof *r->link))) return r->link_cap = 0, -1;
        r->link_cap = nc;
    }
    r->chunk = chunk, r->n_chunks = nc;
    for (size_t c = 0; c < r->n_chunks; c++) r->link[c] = (uint32_t)(c + 1);
    r->link[r->n_chunks - 1] = REPEATS_NONE;
    r->free = 0;
    for (int d = 0; d < 256; d++) r->bin[d] = NO_LIST;
    return 0;
}

void repeats_free_pool(Repeats *r)
{
    free(r->pool);
    free(r->link);
    r->pool = NULL, r->link = NULL, r->pool_cap = r->link_cap = r->n_chunks = 0;
}

void repeats_free(Repeats *r)
{
    free(r->pool);
    free(r->link);
    free(r->run);
    free(r->tmp);
    free(r->hist);
    memset(r, 0, sizeof *r);
}

static size_t list_count(const RepList *l, size_t chunk)
{
    return l->chunks ? (l->chunks - 1) * chunk + (size_t)(chunk - (l->end - l->at)) : 0;
}

/* For each chunk of l: body on p[0..k), then the chunk goes back to the pool
 * when `done` is set. */
#define EACH_CHUNK(r, l, p, k, done, body)                                                     \
    for (uint32_t c_ = (l)->head; c_ != REPEATS_NONE;) {                                      \
        const uint32_t *p = (r)->pool + (size_t)c_ * (r)->chunk;                             \
        size_t k = c_ == (l)->tail ? (r)->chunk - (size_t)((l)->end - (l)->at) : (r)->chunk;  \
        body;                                                                                  \
        uint32_t n_ = (r)->link[c_];                                                           \
        if (done) (r)->link[c_] = (r)->free, (r)->free = c_;                                   \
        c_ = n_;                                                                               \
    }

/* A fingerprint that occurs count >= 2 times. */
static int add_run(Repeats *r, uint32_t fp, size_t count)
{
    if (count > r->longest) r->longest = count;
    if (r->n_runs == r->runs_cap) {
        size_t cap = r->runs_cap ? 2 * r->runs_cap : 4096;
        uint64_t *p = realloc(r->run, cap * sizeof *p);
        if (!p) return -1;
        r->run = p, r->runs_cap = cap;
    }
    r->run[r->n_runs++] = (uint64_t)count << 32 | fp;
    return 0;
}

/* The runs of sorted a[0..n). */
static int add_runs(Repeats *r, const uint32_t *a, size_t n)
{
    for (size_t i = 0, k; i < n; i += k) {
        for (k = 1; i + k < n && a[i + k] == a[i]; k++) {}
        if (k == 1) r->single = 1;
        else if (add_run(r, a[i], k)) return -1;
    }
    return 0;
}

/* a[0..n) (in r->tmp's first half, n > 32) sorted on its low `bits` bits,
 * least significant digit first between tmp's halves (for a big top bin two
 * of 12 bits, where three of 8 took a quarter more; else bytes, whose counts
 * cost less to clear): where the result is. */
static uint32_t *sort_tmp(Repeats *r, size_t n, unsigned bits)
{
    const unsigned w = bits == 24 && n >= 4096 ? 12 : 8, passes = bits / w, mask = (1u << w) - 1;
    uint32_t *h = r->hist, *src = r->tmp, *dst = r->tmp + r->tmp_cap; /* h: [passes][mask + 1] */
    memset(h, 0, (size_t)passes * (mask + 1) * sizeof *h);
    if (passes == 2) { /* the big bins' case, its loop over digits written out */
        for (size_t i = 0; i < n; i++) h[src[i] & mask]++, h[mask + 1 + ((src[i] >> w) & mask)]++;
    } else {
        for (size_t i = 0; i < n; i++)
            for (unsigned q = 0; q < passes; q++) h[q * (mask + 1) + ((src[i] >> (w * q)) & mask)]++;
    }
    for (unsigned q = 0; q < passes; q++) {
        uint32_t *hq = h + q * (mask + 1), sum = 0;
        for (uint32_t d = 0; d <= mask; d++) {
            uint32_t x = hq[d];
            hq[d] = sum, sum += x;
        }
        for (size_t i = 0; i < n; i++) dst[hq[(src[i] >> (w * q)) & mask]++] = src[i];
        uint32_t *t = src;
        src = dst, dst = t;
    }
    return src;
}

/* The runs of list l, whose fingerprints agree but in their low `bits` bits;
 * its chunks go back to the pool. */
static int list_runs(Repeats *r, RepList *l, unsigned bits)
{
    size_t n = list_count(l, r->chunk);
    if (!n) return 0;
    if (!bits) { /* one fingerprint */
        uint32_t v = r->pool[(size_t)l->head * r->chunk];
        EACH_CHUNK(r, l, p, k, 1, (void)p; (void)k);
        if (n == 1) return r->single = 1, 0;
        return add_run(r, v, n);
    }
    if (n > SMALL) {
        RepList sub[256];
        for (int d = 0; d < 256; d++) sub[d] = NO_LIST;
        unsigned sh = bits - 8;
        EACH_CHUNK(r, l, p, k, 1,
                   for (size_t i = 0; i < k; i++) repeats_list_add(r, &sub[(p[i] >> sh) & 255], p[i]));
        for (int d = 0; d < 256; d++)
            if (list_runs(r, &sub[d], sh)) return -1;
        return 0;
    }
    if (n <= 32) { /* insertion sort; then the runs as below */
        uint32_t *a = r->tmp;
        size_t m = 0;
        EACH_CHUNK(r, l, p, k, 1, for (size_t i = 0; i < k; i++) {
            size_t j = m++;
            for (; j && a[j - 1] > p[i]; j--) a[j] = a[j - 1];
            a[j] = p[i];
        });
        return add_runs(r, a, n);
    }
    /* The chunks into tmp, read once, then sorted there: the pool is in
     * memory and tmp in the cache, and the sorts took about a quarter more
     * time reading the chunks a second time to scatter them (perf, on
     * bench/filter/long.sh's line). */
    uint32_t *a = r->tmp;
    size_t m = 0;
    EACH_CHUNK(r, l, p, k, 1, memcpy(a + m, p, k * sizeof *p); m += k);
    return add_runs(r, sort_tmp(r, n, bits), n);
}

/* The bins go by top byte, each sorted: so the runs come out sorted. */
int repeats_runs(Repeats *r)
{
    r->n_runs = r->longest = 0, r->single = 0;
    for (int d = 0; d < 256; d++)
        if (list_runs(r, &r->bin[d], 24)) return -1;
    for (int d = 0; d < 256; d++) r->bin[d] = NO_LIST;
    return 0;
}

size_t repeats_count(const Repeats *r, uint32_t fp)
{
    size_t lo = 0, hi = r->n_runs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint32_t x = (uint32_t)r->run[mid];
        if (x == fp) return (size_t)(r->run[mid] >> 32);
        if (x < fp) lo = mid + 1;
        else hi = mid;
    }
    return 1;
}

int keytab_init(KeyTab *t, size_t stride)
{
    t->stride = stride, t->count = 0, t->mask = 63;
    return (t->slot = calloc(64 * stride, sizeof *t->slot)) ? 0 : -1;
}

void keytab_free(KeyTab *t)
{
    free(t->slot);
    t->slot = NULL;
}

/* Where key | 1 is, or the empty slot where it would go. */
static size_t probe(const uint64_t *slot, size_t stride, size_t mask, uint64_t key)
{
    size_t i = (size_t)(key >> 7) & mask;
    while (slot[i * stride] && slot[i * stride] != key) i = (i + 1) & mask;
    return i;
}

long keytab_find(const KeyTab *t, uint64_t key)
{
    size_t i = probe(t->slot, t->stride, t->mask, key | 1);
    return t->slot[i * t->stride] ? (long)i : -1;
}

long keytab_slot(KeyTab *t, uint64_t key, int *fresh)
{
    key |= 1;
    if (2 * (t->count + 1) > t->mask + 1) {
        size_t sz = 2 * (t->mask + 1), st = t->stride;
        uint64_t *n = calloc(sz * st, sizeof *n);
        if (!n) return -1;
        for (size_t i = 0; i <= t->mask; i++)
            if (t->slot[i * st]) memcpy(n + probe(n, st, sz - 1, t->slot[i * st]) * st, t->slot + i * st, st * sizeof *n);
        free(t->slot);
        t->slot = n, t->mask = sz - 1;
    }
    size_t i = probe(t->slot, t->stride, t->mask, key);
    *fresh = !t->slot[i * t->stride];
    if (*fresh) t->slot[i * t->stride] = key, t->count++;
    return (long)i;
}

int fpset_select(FpSet *f, const Repeats *r, size_t tau, uint32_t fp_mask, size_t *n_fps, size_t *below)
{
    size_t k = 0, lo = (size_t)r->single;
    for (size_t i = 0; i < r->n_runs; i++) {
        size_t c = (size_t)(r->run[i] >> 32);
        if (c >= tau) k++;
        else if (c > lo) lo = c;
    }
    *n_fps = k, *below = lo;
    f->n_slots = k + k / 3 + 64, f->n_words = k / 4 + 8, f->fp_mask = fp_mask;
    f->slot = calloc(f->n_slots, sizeof *f->slot);
    f->bits = calloc(f->n_words, sizeof *f->bits);
    if (!f->slot || !f->bits || keytab_init(&f->more, 1)) return fpset_free(f), -1;
    for (size_t i = 0; i < r->n_runs; i++) {
        if ((r->run[i] >> 32) < tau) continue;
        uint32_t fp = (uint32_t)r->run[i]; /* distinct: runs are */
        size_t j = fpset_home(f, fp), w;
        uint64_t m = fpset_bits(f, fp, &w);
        f->bits[w] |= m;
        while (f->slot[j]) j = j + 1 == f->n_slots ? 0 : j + 1;
        f->slot[j] = (uint64_t)fp << 32;
    }
    return 0;
}

void fpset_free(FpSet *f)
{
    free(f->slot);
    free(f->bits);
    keytab_free(&f->more);
    f->slot = NULL, f->bits = NULL;
}

int fpset_seen(FpSet *f, long i, uint64_t key)
{
    uint64_t *x = &f->slot[i];
    key |= 1;
    if (!(*x & 1)) { /* the first key with this fingerprint */
        *x = key;
        return 0;
    }
    if (*x == key) return 1;
    int fresh; /* another key with the same fingerprint: rare */
    if (keytab_slot(&f->more, key, &fresh) < 0) return -1;
    return !fresh;
}
