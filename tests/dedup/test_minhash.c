/* dedup's hashing logic: normalisation, the MinHash arithmetic against a plain
 * reimplementation of the formula, the SIMD loops against the plain one,
 * the Jaccard estimate, the (bands, rows) choice, the streaming run's
 * decisions and counts (exact, near, --verify, rejects with dup_of), and
 * --verify exact against --verify estimate on pairs built so that the estimate
 * and the true Jaccard fall on either side of the threshold. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "check.h"
#include "../../dedup/dedup.h"
#include "hash.h"
#include "utf8.h"
#include "lib/testutil.h"

static const char *norm(NormMode m, const char *s)
{
    static Buf b;
    if (norm_text(m, s, strlen(s), &b) || buf_putc(&b, 0)) return "(oom)";
    return b.data;
}

/* The formula, written out with % on 128-bit numbers. */
static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void reference_sig(const char *const *shingles, size_t n, unsigned n_perm, uint64_t seed,
                          uint64_t *sig)
{
    const uint64_t p = (1ull << 61) - 1;
    uint64_t s = seed;
    for (unsigned i = 0; i < n_perm; i++) {
        uint64_t a = 1 + splitmix(&s) % (p - 1), b = splitmix(&s) % p;
        sig[i] = p;
        for (size_t k = 0; k < n; k++) {
            uint64_t x = hash64(shingles[k], strlen(shingles[k]), 0) % p;
            uint64_t h = (uint64_t)(((unsigned __int128)a * x + b) % p);
            if (h < sig[i]) sig[i] = h;
        }
    }
}

static void test_norm(void)
{
    CHECK_STR("hello world 00 times", norm(NORM_SIMPLE, "  Hello,   WORLD! 42\ttimes\n"));
    CHECK_STR("stra\xc3\x9f" "e", norm(NORM_NONE, "stra\xc3\x9f" "e"));
    CHECK_STR("strasse fi", norm(NORM_NFKC_LOWER, "STRA\xc3\x9f" "E \xef\xac\x81")); /* ß, the ﬁ ligature */
    CHECK_STR("caf\xc3\xa9 0 0 0", norm(NORM_SIMPLE, "Caf\xc3\xa9 \xe2\x80\x94 \xd9\xa3 \xc2\xbd"));
    CHECK_STR("", norm(NORM_SIMPLE, " ... !!! "));
    /* normalising the non-ASCII runs alone gives what utf8proc gives on the whole */
    const char *tricky[] = { "Cafe\xcc\x81 X", "A\xcc\x8a\xcc\x81" "B", "\xea\xb0\x80\xe1\x86\xa8 ok", "x\xef\xac\x81y",
                             "\xc3\x85ngstr\xc3\xb6m \xe2\x84\xab", "MASSE STRA\xc3\x9f" "E", "\xcc\x81start", "end\xcc\x81",
                             "\xce\xa3\xce\x99\xce\xa3 \xe2\x91\xa0\xe2\x85\xab" };
    for (size_t i = 0; i < sizeof tricky / sizeof *tricky; i++) {
        size_t len;
        char *whole = utf8_nfkc(tricky[i], strlen(tricky[i]), 1, &len);
        CHECK_STR(whole, norm(NORM_NFKC_LOWER, tricky[i]));
        free(whole);
    }
    Buf j = { 0 };
    CHECK(!norm_join_words(" a\tb \n\n c ", 10, &j));
    CHECK_MEM("a b c", j.data, j.len);
    buf_free(&j);
}

static void test_arithmetic(void)
{
    MinHash m;
    CHECK(!minhash_init(&m, 14, 8, 5, 1));
    const char *text = "one two three four five six seven";
    const char *sh[] = { "one two three four five", "two three four five six", "three four five six seven" };
    uint64_t want[112], got[112];
    reference_sig(sh, 3, 112, 1, want);
    for (int level = 0; level <= 2; level++) {
        minhash_simd(level);
        CHECK_INT(3, minhash_sign(&m, text, strlen(text), got));
        CHECK(!memcmp(want, got, sizeof want));
    }
    /* 40 words, 36 shingles: the SIMD loops run whole vectors, not only their tails */
    char text40[512], *sh40[36];
    size_t l40 = 0;
    for (int w = 0; w < 40; w++) l40 += (size_t)snprintf(text40 + l40, sizeof text40 - l40, "%sword%d", w ? " " : "", w * 7919 % 1000);
    for (int k = 0; k < 36; k++) {
        const char *p = text40;
        for (int w = 0; w < k; w++) p = strchr(p, ' ') + 1;
        const char *q = p;
        for (int w = 0; w < 5; w++) q = strchr(q, ' ') ? strchr(q, ' ') + 1 : q + strlen(q) + 1;
        sh40[k] = strndup(p, (size_t)(q - p - 1));
    }
    reference_sig((const char *const *)sh40, 36, 112, 1, want);
    for (int level = 0; level <= 2; level++) {
        minhash_simd(level);
        CHECK_INT(36, minhash_sign(&m, text40, l40, got));
        CHECK(!memcmp(want, got, sizeof want));
    }
    for (int k = 0; k < 36; k++) free(sh40[k]);
    /* fewer words than the shingle: the whole text is the one shingle */
    const char *one[] = { "tiny text" };
    reference_sig(one, 1, 112, 1, want);
    CHECK_INT(1, minhash_sign(&m, "tiny text", 9, got));
    CHECK(!memcmp(want, got, sizeof want));
    CHECK_INT(0, minhash_sign(&m, "", 0, got));
    /* random texts: every SIMD level gives the plain loop's values */
    unsigned seed = (unsigned)time(NULL);
    srand(seed);
    char buf[4096];
    int same = 1;
    for (int t = 0; t < 50; t++) {
        size_t len = 0, words = (size_t)(rand() % 300);
        for (size_t w = 0; w < words && len < sizeof buf - 16; w++)
            len += (size_t)snprintf(buf + len, sizeof buf - len, "%sw%d", len ? " " : "", rand() % 100);
        uint64_t s0[112], s1[112];
        minhash_simd(0);
        minhash_sign(&m, buf, len, s0);
        minhash_simd(-1);
        minhash_sign(&m, buf, len, s1);
        same &= !memcmp(s0, s1, sizeof s0);
    }
    if (!CHECK(same)) fprintf(stderr, "random seed %u\n", seed);
    minhash_free(&m);
}

/* Two texts of 400 distinct words sharing a known part: the estimate is near
 * the true Jaccard of their shingle sets. */
static void test_jaccard(void)
{
    MinHash m;
    CHECK(!minhash_init(&m, 16, 8, 1, 7)); /* 1-word shingles: the Jaccard is easy to count */
    char a[8192], b[8192];
    size_t la = 0, lb = 0;
    for (int i = 0; i < 400; i++) la += (size_t)snprintf(a + la, sizeof a - la, "%sa%d", i ? " " : "", i);
    for (int i = 100; i < 500; i++) lb += (size_t)snprintf(b + lb, sizeof b - lb, "%sa%d", i > 100 ? " " : "", i);
    uint64_t sa[128], sb[128];
    minhash_sign(&m, a, la, sa);
    minhash_sign(&m, b, lb, sb);
    double j = minhash_jaccard(sa, sb, 128); /* true: 300 / 500 = 0.6; sd about 0.043 */
    CHECK(j > 0.45 && j < 0.75);
    CHECK(minhash_jaccard(sa, sa, 128) == 1.0);
    minhash_free(&m);
    unsigned bands = 0, rows = 0;
    minhash_pick(0.8, 112, &bands, &rows);
    CHECK(bands * rows <= 112 && bands > 1 && rows > 1);
    double mid = pow(1.0 / bands, 1.0 / rows); /* where the S-curve is at about 1/2 */
    CHECK(mid > 0.65 && mid < 0.9);
    unsigned b2, r2;
    minhash_pick(0.5, 112, &b2, &r2);
    CHECK(pow(1.0 / b2, 1.0 / r2) < mid);
}

static char *run(const DedupOpts *o, const char *in, DedupCounts *c, char **rej)
{
    const char *ip = scratch("in.jsonl"), *op = scratch("out.jsonl"), *rp = scratch("rej.jsonl");
    write_file(ip, in, strlen(in));
    DedupOpts oo = *o;
    oo.out = op;
    oo.rejects = rp;
    oo.common.progress = PROGRESS_QUIET;
    Err e = { { 0 } };
    const char *paths[] = { ip };
    if (dedup_run(&oo, paths, 1, c, &e)) {
        fprintf(stderr, "dedup_run: %s\n", e.msg);
        return NULL;
    }
    *rej = read_file(rp, NULL);
    return read_file(op, NULL);
}

static void test_run(void)
{
    DedupOpts o = { .mode = MODE_BOTH, .norm = NORM_SIMPLE, .ngram = 5, .bands = 14, .rows = 8,
                    .threshold = 0.8, .seed = 1 };
    const char *base = "the committee met on tuesday to review the budget and agreed to fund the new "
                       "library wing, the park repairs, and a study of traffic on the main road";
    char in[4096];
    snprintf(in, sizeof in,
             "{\"text\":\"%s\",\"id\":1}\n"
             "{\"text\":\"%s\",\"id\":2}\n"                        /* exact */
             "{\"text\":\"THE %s!!\",\"id\":3}\n"                  /* exact after normalising */
             "{\"text\":\"%s, and more\",\"id\":4}\n"              /* near: two words added */
             "{\"text\":\"a recipe for bread: flour, water, salt and yeast, left overnight to rise\",\"id\":5}\n",
             base, base, base + 4, base);
    DedupCounts c;
    char *rej, *out = run(&o, in, &c, &rej);
    CHECK(out && rej);
    if (!out || !rej) return;
    CHECK_INT(5, c.in);
    CHECK_INT(2, c.kept);
    CHECK_INT(2, c.exact);
    CHECK_INT(1, c.near);
    CHECK_INT(c.in, c.kept + c.exact + c.near);
    CHECK_HAS("\"id\":1}", out);
    CHECK_HAS("\"id\":5}", out);
    CHECK(!strstr(out, "\"id\":4"));
    char want[512];
    snprintf(want, sizeof want, "\"id\":3,\"dedup_reason\":\"exact\",\"dup_of\":\"%s:1\"}", scratch("in.jsonl"));
    CHECK_HAS(want, rej);
    snprintf(want, sizeof want, "\"id\":4,\"dedup_reason\":\"near\",\"dup_of\":\"%s:1\"}", scratch("in.jsonl"));
    CHECK_HAS(want, rej);
    free(out), free(rej);
    /* exact mode keeps the near duplicate; --verify at 0.99 keeps it too */
    o.mode = MODE_EXACT;
    out = run(&o, in, &c, &rej);
    CHECK_INT(3, c.kept);
    CHECK_INT(0, c.near);
    free(out), free(rej);
    o.mode = MODE_NEAR;
    o.verify = VERIFY_EXACT;
    o.threshold = 0.99;
    out = run(&o, in, &c, &rej);
    CHECK_INT(3, c.kept);
    CHECK_INT(2, c.near); /* ids 2 and 3 are identical after normalising: near, J = 1 */
    CHECK_HAS("\"id\":4}", out);
    free(out), free(rej);
    /* a bad line: an error naming file and line, and no output left */
    const char *bad = scratch("bad.jsonl"), *op = scratch("never.jsonl");
    const char *bad_text = "{\"text\":\"a\"}\n{\"text\":3}\n";
    write_file(bad, bad_text, strlen(bad_text));
    o.out = op;
    Err e = { { 0 } };
    CHECK_INT(-1, dedup_run(&o, &bad, 1, &c, &e));
    snprintf(want, sizeof want, "%s:2: \"text\" is not a string", bad);
    CHECK_STR(want, e.msg);
    CHECK(!file_or_temp_exists(op));
}

/* ---- --verify exact against --verify estimate ---- */

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

/* n random words ("w" + 6 letters) into out, space-separated. */
static void random_words(uint64_t *s, char (*w)[8], int n)
{
    for (int i = 0; i < n; i++) {
        w[i][0] = 'w';
        for (int c = 1; c < 7; c++) w[i][c] = (char)('a' + lcg(s) % 26);
        w[i][7] = 0;
    }
}

static size_t join(char (*w)[8], int n, char *out)
{
    size_t l = 0;
    for (int i = 0; i < n; i++) l += (size_t)sprintf(out + l, "%s%s", i ? " " : "", w[i]);
    return l;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The true Jaccard of the 5-word shingle sets, counted on the strings
 * themselves (no hashes): sort both, count the distinct common ones. */
static double reference_jaccard(char (*a)[8], char (*b)[8], int n)
{
    int ns = n - 4;
    char **sa = malloc(ns * sizeof *sa), **sb = malloc(ns * sizeof *sb);
    for (int i = 0; i < ns; i++) {
        sa[i] = malloc(48), sb[i] = malloc(48);
        sprintf(sa[i], "%s %s %s %s %s", a[i], a[i + 1], a[i + 2], a[i + 3], a[i + 4]);
        sprintf(sb[i], "%s %s %s %s %s", b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4]);
    }
    qsort(sa, ns, sizeof *sa, cmp_str);
    qsort(sb, ns, sizeof *sb, cmp_str);
    int da = 0, db = 0, same = 0;
    for (int i = 0; i < ns; i++) da += !i || strcmp(sa[i], sa[i - 1]);
    for (int i = 0; i < ns; i++) db += !i || strcmp(sb[i], sb[i - 1]);
    for (int i = 0, j = 0; i < ns && j < ns;) {
        int c = strcmp(sa[i], sb[j]);
        if (c < 0) i++;
        else if (c > 0) j++;
        else {
            same++;
            const char *x = sa[i];
            while (i < ns && !strcmp(sa[i], x)) i++;
            while (j < ns && !strcmp(sb[j], x)) j++;
        }
    }
    for (int i = 0; i < ns; i++) free(sa[i]), free(sb[i]);
    free(sa), free(sb);
    return (double)same / (da + db - same);
}

/* Search, deterministically, for a pair of 200-word texts (B = A with `edits`
 * words replaced) whose true Jaccard is in [jlo, jhi), whose 112-value
 * estimate is on the other side of 0.8, and which share an LSH band (or the
 * run would never compare them). Returns the attempt number, -1 if none. */
static int find_pair(MinHash *m, uint64_t seed, int edits, double jlo, double jhi, int est_above,
                     char *ta, char *tb, double *truth, double *est)
{
    enum { N = 200 };
    static char a[N][8], b[N][8];
    uint64_t s = seed;
    for (int t = 0; t < 5000; t++) {
        random_words(&s, a, N);
        memcpy(b, a, sizeof a);
        for (int k = 0; k < edits; k++) random_words(&s, &b[lcg(&s) % N], 1);
        double j = reference_jaccard(a, b, N);
        if (j < jlo || j >= jhi) continue;
        size_t la = join(a, N, ta), lb = join(b, N, tb);
        uint64_t sa[112], sb[112], ka[14], kb[14];
        minhash_sign(m, ta, la, sa);
        minhash_sign(m, tb, lb, sb);
        minhash_bands(m, sa, ka);
        minhash_bands(m, sb, kb);
        int band = 0;
        for (int q = 0; q < 14; q++) band |= ka[q] == kb[q];
        double e = minhash_jaccard(sa, sb, 112);
        if (!band || (est_above ? e < 0.8 : e >= 0.8)) continue;
        *truth = j;
        *est = e;
        return t;
    }
    return -1;
}

static void test_verify_exact(void)
{
    MinHash m;
    CHECK(!minhash_init(&m, 14, 8, 5, 1));
    /* the shingle sets and their Jaccard, against the strings counted plainly */
    static char a[60][8], b[60][8], ta[60 * 8 + 1], tb[60 * 8 + 1];
    uint64_t s = 99, *sa = NULL, *sb = NULL;
    size_t ca = 0, cb = 0;
    for (int t = 0; t < 20; t++) {
        random_words(&s, a, 60);
        memcpy(b, a, sizeof a);
        for (int k = 0; k < t; k++) random_words(&s, &b[lcg(&s) % 60], 1);
        if (t % 5 == 4) memcpy(b[30], b[10], 5 * 8); /* a repeated shingle: sets, not lists */
        size_t la = join(a, 60, ta), lb = join(b, 60, tb);
        size_t na = minhash_shingle_set(5, ta, la, &sa, &ca), nb = minhash_shingle_set(5, tb, lb, &sb, &cb);
        CHECK_INT(56, na);
        int sorted = 1;
        for (size_t i = 1; i < nb; i++) sorted &= sb[i - 1] < sb[i];
        CHECK(sorted);
        CHECK(fabs(minhash_jaccard_sets(sa, na, sb, nb) - reference_jaccard(a, b, 60)) < 1e-12);
    }
    CHECK_INT(1, minhash_shingle_set(5, "tiny text", 9, &sa, &ca)); /* under 5 words: one shingle */
    CHECK_INT(0, minhash_shingle_set(5, "", 0, &sa, &ca));
    free(sa), free(sb);

    /* Pairs whose estimate and true Jaccard fall on either side of 0.8, built
     * on purpose: P, Q with J just under 0.8 but estimate >= 0.8 (the false
     * positive --verify estimate makes); R, S with J >= 0.8 but estimate
     * below (its false negative). --verify exact decides by the true value. */
    enum { L = 200 * 8 + 1 };
    static char p[L], q[L], r[L], t2[L];
    double jpq, epq, jrs, ers;
    int f1 = find_pair(&m, 11, 5, 0.74, 0.8, 1, p, q, &jpq, &epq);
    int f2 = find_pair(&m, 12, 4, 0.8, 0.87, 0, r, t2, &jrs, &ers);
    if (!CHECK(f1 >= 0 && f2 >= 0)) return;
    fprintf(stderr, "test_verify_exact: P~Q true J %.4f, estimate %.4f (attempt %d); R~S true J %.4f, estimate %.4f (attempt %d)\n",
            jpq, epq, f1, jrs, ers, f2);
    static char in[4 * L + 256];
    snprintf(in, sizeof in,
             "{\"text\":\"%s\",\"id\":\"P\"}\n{\"text\":\"%s\",\"id\":\"R\"}\n"
             "{\"text\":\"%s\",\"id\":\"Q\"}\n{\"text\":\"%s\",\"id\":\"S\"}\n",
             p, r, q, t2);
    DedupOpts o = { .mode = MODE_NEAR, .norm = NORM_SIMPLE, .ngram = 5, .bands = 14, .rows = 8,
                    .threshold = 0.8, .seed = 1 };
    DedupCounts c;
    char *rej, *out, want[512], ip[300];
    snprintf(ip, sizeof ip, "%s", scratch("in.jsonl"));
    /* no verify: both pairs share a band, both second documents dropped */
    out = run(&o, in, &c, &rej);
    if (!CHECK(out && rej)) return;
    CHECK_INT(2, c.near);
    free(out), free(rej);
    /* estimate: Q dropped (wrongly), S kept (wrongly) */
    o.verify = VERIFY_ESTIMATE;
    out = run(&o, in, &c, &rej);
    CHECK_INT(1, c.near);
    CHECK_INT(2, c.verified);
    snprintf(want, sizeof want, "\"id\":\"Q\",\"dedup_reason\":\"near\",\"dup_of\":\"%s:1\"}", ip);
    CHECK_HAS(want, rej);
    CHECK_HAS("\"id\":\"S\"}", out);
    free(out), free(rej);
    /* exact: Q kept, S dropped as a duplicate of R */
    o.verify = VERIFY_EXACT;
    out = run(&o, in, &c, &rej);
    CHECK_INT(1, c.near);
    CHECK_INT(2, c.verified);
    CHECK_INT(1, c.below);
    snprintf(want, sizeof want, "\"id\":\"S\",\"dedup_reason\":\"near\",\"dup_of\":\"%s:2\"}", ip);
    CHECK_HAS(want, rej);
    CHECK_HAS("\"id\":\"Q\"}", out);
    CHECK(!strstr(rej, "\"id\":\"Q\""));
    free(out), free(rej);
    /* exact decides by the true values: a threshold just under J(P,Q) drops both
     * copies, one just over J(R,S) neither */
    o.threshold = jpq - 1e-9;
    out = run(&o, in, &c, &rej);
    CHECK_INT(2, c.near);
    free(out), free(rej);
    o.threshold = jrs + 1e-9;
    out = run(&o, in, &c, &rej);
    CHECK_INT(0, c.near);
    free(out), free(rej);
    minhash_free(&m);
}

int main(void)
{
    test_norm();
    test_arithmetic();
    test_jaccard();
    test_run();
    test_verify_exact();
    scratch_cleanup();
    return check_done("test_minhash");
}
