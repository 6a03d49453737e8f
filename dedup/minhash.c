/* MinHash over word shingles with the arithmetic of the issue: each shingle is
 * hashed with XXH3-64 (seed 0) and reduced mod p = 2^61-1, then
 * h_i = (a_i*x + b_i) mod p with 128-bit products; the signature keeps each
 * h_i's minimum. LSH band keys are XXH3-64 of the rows of a band. Also the
 * exact side of --verify: a text's shingle set as sorted 64-bit hashes, and the
 * Jaccard of two such sets.
 * bench/dedup/ref_minhash.py computes the same signatures in numpy. */
#include "dedup.h"

#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"

/* v mod p for v < 2^125: 2^61 = 1 (mod p), so fold the bits above 61 down. */
static inline uint64_t mod_p(unsigned __int128 v)
{
    uint64_t lo = (uint64_t)v & MINHASH_P;
    uint64_t hi = (uint64_t)(v >> 61); /* < 2^64 because v < 2^125 */
    uint64_t r = lo + (hi & MINHASH_P) + (hi >> 61);
    while (r >= MINHASH_P) r -= MINHASH_P;
    return r;
}

int minhash_init(MinHash *m, unsigned bands, unsigned rows, unsigned ngram, uint64_t seed)
{
    memset(m, 0, sizeof *m);
    m->bands = bands;
    m->rows = rows;
    m->n_perm = bands * rows;
    m->ngram = ngram;
    m->seed = seed;
    m->a = malloc(m->n_perm * sizeof *m->a);
    m->b = malloc(m->n_perm * sizeof *m->b);
    if (!m->a || !m->b) {
        minhash_free(m);
        return -1;
    }
    uint64_t s = seed;
    for (unsigned i = 0; i < m->n_perm; i++) {
        m->a[i] = 1 + splitmix64(&s) % (MINHASH_P - 1);
        m->b[i] = splitmix64(&s) % MINHASH_P;
    }
    return 0;
}

void minhash_free(MinHash *m)
{
    free(m->a);
    free(m->b);
    free(m->xs);
    m->a = m->b = m->xs = NULL;
    m->xs_cap = 0;
}

/* (a*x + b) mod p for a, x, b < p: v < 2^122 + 2^61, so with v = hi*2^64 + lo,
 * v = (lo & p) + (lo >> 61) + 8*hi (mod p), a sum under 2^62 + 16 that two
 * conditional subtractions bring below p. Branch-free, so the loop pipelines. */
static inline uint64_t mul_add_mod(uint64_t a, uint64_t x, uint64_t b)
{
    unsigned __int128 v = (unsigned __int128)a * x + b;
    uint64_t lo = (uint64_t)v, hi = (uint64_t)(v >> 64);
    uint64_t s = (lo & MINHASH_P) + (lo >> 61) + (hi << 3);
    s = s >= MINHASH_P ? s - MINHASH_P : s;
    return s >= MINHASH_P ? s - MINHASH_P : s;
}

/* The minima over the shingle values xs[0..n) (each already < p) of each
 * h_i, plainly: per i over all shingles, the minimum in a register. */
static void sign_scalar(const MinHash *m, const uint64_t *xs, size_t n, uint64_t *sig)
{
    for (unsigned i = 0; i < m->n_perm; i++) {
        uint64_t a = m->a[i], b = m->b[i], m0 = MINHASH_P;
        for (size_t s = 0; s < n; s++) {
            uint64_t v = mul_add_mod(a, xs[s], b);
            m0 = v < m0 ? v : m0;
        }
        sig[i] = m0;
    }
}

/* The same with SIMD lanes over the shingles and 32x32->64 products:
 * a = a1*2^32 + a0, x = x1*2^32 + x0 (a1, x1 < 2^29), 2^64 = 8 (mod p), so
 *   a*x + b = 8*a1x1 + (mid >> 29) + (mid mod 2^29)*2^32 + (a0x0 mod 2^61)
 *             + (a0x0 >> 61) + b   (mod p),   mid = a1x0 + a0x1 < 2^62,
 * a sum under 2^64 whose fold (t mod 2^61) + (t >> 61) is under p + 4, so one
 * conditional subtraction ends it. Exactly mul_add_mod's value (test_minhash).
 * About 6x the scalar loop with AVX-512 (bench/dedup). */
#define MID29 ((1ull << 29) - 1)

__attribute__((target("avx2"))) static void sign_avx2(const MinHash *m, const uint64_t *xs,
                                                        size_t n, uint64_t *sig)
{
    const __m256i P = _mm256_set1_epi64x((long long)MINHASH_P);
    const __m256i Pm1 = _mm256_set1_epi64x((long long)MINHASH_P - 1);
    const __m256i M29 = _mm256_set1_epi64x((long long)MID29);
    size_t n4 = n & ~(size_t)3;
    for (unsigned i = 0; i < m->n_perm; i++) {
        const __m256i a = _mm256_set1_epi64x((long long)m->a[i]);
        const __m256i a1 = _mm256_srli_epi64(a, 32);
        const __m256i b = _mm256_set1_epi64x((long long)m->b[i]);
        __m256i acc = P;
        for (size_t s = 0; s < n4; s += 4) {
            __m256i x = _mm256_loadu_si256((const __m256i *)(xs + s));
            __m256i x1 = _mm256_srli_epi64(x, 32);
            __m256i p00 = _mm256_mul_epu32(a, x), p01 = _mm256_mul_epu32(a, x1);
            __m256i p10 = _mm256_mul_epu32(a1, x), p11 = _mm256_mul_epu32(a1, x1);
            __m256i mid = _mm256_add_epi64(p01, p10);
            __m256i t = _mm256_slli_epi64(p11, 3);
            t = _mm256_add_epi64(t, _mm256_srli_epi64(mid, 29));
            t = _mm256_add_epi64(t, _mm256_slli_epi64(_mm256_and_si256(mid, M29), 32));
            t = _mm256_add_epi64(t, _mm256_and_si256(p00, P));
            t = _mm256_add_epi64(t, _mm256_srli_epi64(p00, 61));
            t = _mm256_add_epi64(t, b);
            __m256i v = _mm256_add_epi64(_mm256_and_si256(t, P), _mm256_srli_epi64(t, 61));
            v = _mm256_sub_epi64(v, _mm256_and_si256(_mm256_cmpgt_epi64(v, Pm1), P));
            acc = _mm256_blendv_epi8(acc, v, _mm256_cmpgt_epi64(acc, v)); /* all < 2^62: signed is fine */
        }
        uint64_t lane[4], best = MINHASH_P;
        _mm256_storeu_si256((__m256i *)lane, acc);
        for (int q = 0; q < 4; q++) best = lane[q] < best ? lane[q] : best;
        for (size_t s = n4; s < n; s++) {
            uint64_t v = mul_add_mod(m->a[i], xs[s], m->b[i]);
            best = v < best ? v : best;
        }
        sig[i] = best;
    }
}

/* The same formula on 8 lanes; x (all lanes) and a, b (per lane) below p. */
__attribute__((target("avx512f"))) static inline __m512i mul_add_mod8(__m512i a, __m512i a1,
                                                                        __m512i x, __m512i x1,
                                                                        __m512i b)
{
    const __m512i P = _mm512_set1_epi64((long long)MINHASH_P);
    const __m512i M29 = _mm512_set1_epi64((long long)MID29);
    __m512i p00 = _mm512_mul_epu32(a, x), p01 = _mm512_mul_epu32(a, x1);
    __m512i p10 = _mm512_mul_epu32(a1, x), p11 = _mm512_mul_epu32(a1, x1);
    __m512i mid = _mm512_add_epi64(p01, p10);
    __m512i t = _mm512_slli_epi64(p11, 3);
    t = _mm512_add_epi64(t, _mm512_srli_epi64(mid, 29));
    t = _mm512_add_epi64(t, _mm512_slli_epi64(_mm512_and_si512(mid, M29), 32));
    t = _mm512_add_epi64(t, _mm512_and_si512(p00, P));
    t = _mm512_add_epi64(t, _mm512_srli_epi64(p00, 61));
    t = _mm512_add_epi64(t, b);
    __m512i v = _mm512_add_epi64(_mm512_and_si512(t, P), _mm512_srli_epi64(t, 61));
    return _mm512_mask_sub_epi64(v, _mm512_cmpge_epu64_mask(v, P), v, P);
}

__attribute__((target("avx512f"))) static void sign_avx512(const MinHash *m, const uint64_t *xs,
                                                             size_t n, uint64_t *sig)
{
    const __m512i P = _mm512_set1_epi64((long long)MINHASH_P);
    const __m512i M29 = _mm512_set1_epi64((long long)MID29);
    size_t n8 = n & ~(size_t)7;
    if (n < 8) { /* short texts: lanes over the hash functions instead of the shingles */
        unsigned i8 = m->n_perm & ~7u;
        for (unsigned i = 0; i < i8; i += 8) {
            __m512i a = _mm512_loadu_si512((const void *)(m->a + i)), a1 = _mm512_srli_epi64(a, 32);
            __m512i b = _mm512_loadu_si512((const void *)(m->b + i)), acc = P;
            for (size_t s = 0; s < n; s++) {
                __m512i x = _mm512_set1_epi64((long long)xs[s]);
                acc = _mm512_min_epu64(acc, mul_add_mod8(a, a1, x, _mm512_srli_epi64(x, 32), b));
            }
            _mm512_storeu_si512((void *)(sig + i), acc);
        }
        for (unsigned i = i8; i < m->n_perm; i++) {
            uint64_t best = MINHASH_P;
            for (size_t s = 0; s < n; s++) {
                uint64_t v = mul_add_mod(m->a[i], xs[s], m->b[i]);
                best = v < best ? v : best;
            }
            sig[i] = best;
        }
        return;
    }
    for (unsigned i = 0; i < m->n_perm; i++) {
        const __m512i a = _mm512_set1_epi64((long long)m->a[i]);
        const __m512i a1 = _mm512_srli_epi64(a, 32);
        const __m512i b = _mm512_set1_epi64((long long)m->b[i]);
        __m512i acc = P;
        for (size_t s = 0; s < n8; s += 8) {
            __m512i x = _mm512_loadu_si512((const void *)(xs + s));
            __m512i x1 = _mm512_srli_epi64(x, 32);
            __m512i p00 = _mm512_mul_epu32(a, x), p01 = _mm512_mul_epu32(a, x1);
            __m512i p10 = _mm512_mul_epu32(a1, x), p11 = _mm512_mul_epu32(a1, x1);
            __m512i mid = _mm512_add_epi64(p01, p10);
            __m512i t = _mm512_slli_epi64(p11, 3);
            t = _mm512_add_epi64(t, _mm512_srli_epi64(mid, 29));
            t = _mm512_add_epi64(t, _mm512_slli_epi64(_mm512_and_si512(mid, M29), 32));
            t = _mm512_add_epi64(t, _mm512_and_si512(p00, P));
            t = _mm512_add_epi64(t, _mm512_srli_epi64(p00, 61));
            t = _mm512_add_epi64(t, b);
            __m512i v = _mm512_add_epi64(_mm512_and_si512(t, P), _mm512_srli_epi64(t, 61));
            v = _mm512_mask_sub_epi64(v, _mm512_cmpge_epu64_mask(v, P), v, P);
            acc = _mm512_min_epu64(acc, v);
        }
        uint64_t best = _mm512_reduce_min_epu64(acc);
        for (size_t s = n8; s < n; s++) {
            uint64_t v = mul_add_mod(m->a[i], xs[s], m->b[i]);
            best = v < best ? v : best;
        }
        sig[i] = best;
    }
}

static int simd_level = -1; /* -1: not looked yet; 0 scalar, 1 AVX2, 2 AVX-512 */

int minhash_simd(int level)
{
    static int best = -1;
    if (best < 0) {
        __builtin_cpu_init();
        best = __builtin_cpu_supports("avx512f") ? 2 : __builtin_cpu_supports("avx2") ? 1 : 0;
    }
    simd_level = level >= 0 && level < best ? level : best;
    return simd_level;
}

static void sign_values(const MinHash *m, const uint64_t *xs, size_t n, uint64_t *sig)
{
    int l = simd_level >= 0 ? simd_level : minhash_simd(-1);
    if (l == 2) sign_avx512(m, xs, n, sig);
    else if (l == 1) sign_avx2(m, xs, n, sig);
    else sign_scalar(m, xs, n, sig);
}

/* The shingles' XXH3-64 hashes (seed 0) of joined, in text order, repeats
 * included, into xs (room for len/2 + 2): a window of ngram word starts slides
 * along. Fewer than ngram words: the whole text is the one shingle; none: 0. */
static size_t shingle_hashes(unsigned ngram, const char *joined, size_t len, uint64_t *xs)
{
    if (!len) return 0;
    size_t ring[64], n_words = 0, n = 0;
    unsigned k = ngram;
    for (size_t i = 0; i <= len; i++) {
        if (i == 0 || joined[i - 1] == ' ') ring[n_words++ % k] = i;
        if (i == len || joined[i] == ' ') {
            if (n_words >= k) {
                size_t start = ring[(n_words - k) % k];
                xs[n++] = hash64(joined + start, i - start, 0);
            }
        }
    }
    if (!n) xs[n++] = hash64(joined, len, 0);
    return n;
}

size_t minhash_sign(MinHash *m, const char *joined, size_t len, uint64_t *sig)
{
    for (unsigned i = 0; i < m->n_perm; i++) sig[i] = MINHASH_P; /* above every value */
    if (!len) return 0;
    /* Shingle values first (at most one per word, len/2 + 1), then the minima. */
    size_t need = len / 2 + 2;
    if (need > m->xs_cap) {
        uint64_t *p = realloc(m->xs, need * sizeof *p);
        if (!p) return SIZE_MAX;
        m->xs = p;
        m->xs_cap = need;
    }
    size_t n = shingle_hashes(m->ngram, joined, len, m->xs);
    for (size_t i = 0; i < n; i++) m->xs[i] = mod_p(m->xs[i]);
    sign_values(m, m->xs, n, sig);
    return n;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

size_t minhash_shingle_set(unsigned ngram, const char *joined, size_t len, uint64_t **set,
                           size_t *cap)
{
    size_t need = len / 2 + 2; /* at most one shingle per word */
    if (need > *cap) {
        uint64_t *p = realloc(*set, need * sizeof *p);
        if (!p) return SIZE_MAX;
        *set = p;
        *cap = need;
    }
    uint64_t *v = *set;
    size_t n = shingle_hashes(ngram, joined, len, v);
    qsort(v, n, sizeof *v, cmp_u64); /* only candidates get here: plain is fast enough */
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!k || v[i] != v[k - 1]) v[k++] = v[i];
    return k;
}

double minhash_jaccard_sets(const uint64_t *a, size_t na, const uint64_t *b, size_t nb)
{
    if (!na && !nb) return 1.0;
    size_t i = 0, j = 0, same = 0;
    while (i < na && j < nb) {
        if (a[i] < b[j]) i++;
        else if (a[i] > b[j]) j++;
        else same++, i++, j++;
    }
    return (double)same / (double)(na + nb - same);
}

void minhash_bands(const MinHash *m, const uint64_t *sig, uint64_t *keys)
{
    for (unsigned j = 0; j < m->bands; j++)
        keys[j] = hash64(sig + (size_t)j * m->rows, m->rows * sizeof *sig, j);
}

double minhash_jaccard(const uint64_t *s1, const uint64_t *s2, unsigned n_perm)
{
    unsigned same = 0;
    for (unsigned i = 0; i < n_perm; i++) same += s1[i] == s2[i];
    return n_perm ? (double)same / n_perm : 0.0;
}

/* Simpson's rule over [lo, hi] of the probability that two documents of
 * Jaccard s share a band (or, with miss, share none). */
static double area(double lo, double hi, unsigned b, unsigned r, int miss)
{
    const int n = 200;
    double h = (hi - lo) / n, sum = 0;
    for (int i = 0; i <= n; i++) {
        double s = lo + i * h;
        double p = 1 - pow(1 - pow(s, r), b);
        double f = miss ? 1 - p : p;
        sum += f * (i == 0 || i == n ? 1 : i % 2 ? 4 : 2);
    }
    return sum * h / 3;
}

void minhash_pick(double threshold, unsigned max_perm, unsigned *bands, unsigned *rows)
{
    double best = INFINITY;
    for (unsigned b = 1; b <= max_perm; b++)
        for (unsigned r = 1; b * r <= max_perm; r++) {
            double err = area(0, threshold, b, r, 0) + area(threshold, 1, b, r, 1);
            if (err < best) {
                best = err;
                *bands = b;
                *rows = r;
            }
        }
}
