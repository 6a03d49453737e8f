/* The classifier: hashed features, the model file (round trip, and every bad
 * file refused with its offset), AUC, training on a separable set, and the
 * pareto keep rule (reproducible, and keeping the expected fraction). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../filter/filter.h"
#include "../../filter/model.h"
#include "check.h"
#include "hash.h"
#include "lib/testutil.h"

static void features(void)
{
    uint32_t *idx = NULL;
    size_t cap = 0;
    Buf low = {0};
    const char *t = "The  CAT\tsat.\n\xc3\x89t\xc3\xa9";
    long k = qm_features(t, strlen(t), 20, 7, &idx, &cap, &low);
    CHECK_INT(7, k); /* 4 words ("the" "cat" "sat." "été"), 3 bigrams */
    CHECK_MEM("the  cat\tsat.\n\xc3\xa9t\xc3\xa9", low.data, low.len);
    if (k == 7) {
        CHECK_INT(hash64("the", 3, 7) & 0xfffff, idx[0]);
        CHECK_INT(hash64("cat", 3, 7) & 0xfffff, idx[1]);
        uint64_t pair[2] = {hash64("the", 3, 7), hash64("cat", 3, 7)};
        CHECK_INT(hash64(pair, 16, 7 ^ 0xb16ea3ull) & 0xfffff, idx[2]);
        CHECK_INT(hash64("\xc3\xa9t\xc3\xa9", 5, 7) & 0xfffff, idx[5]);
    }
    CHECK_INT(0, qm_features(" \n\t", 3, 20, 7, &idx, &cap, &low));
    free(idx);
    buf_free(&low);
}

static void model_file(void)
{
    QModel m, r;
    Err e = {{0}};
    CHECK_INT(0, qm_init(&m, 4, 99));
    for (int i = 0; i < 16; i++) m.w[i] = (float)(i - 8) / 3.0f;
    m.bias = -0.25;
    const char *p = scratch("m.model");
    CHECK_INT(0, qm_save(&m, p, &e));
    CHECK_INT(0, qm_load(&r, p, &e));
    CHECK_INT(4, r.log2_buckets);
    CHECK_INT(99, r.seed);
    CHECK(r.bias == -0.25);
    CHECK(!memcmp(m.w, r.w, 16 * sizeof *m.w));
    qm_free(&r);
    size_t n = 0;
    char *bytes = read_file(p, &n);
    CHECK_INT(64 + 64, n);
    const char *q = scratch("bad.model");
    struct { size_t len; int patch_at; unsigned char val; const char *want; } bad[] = {
        {100, -1, 0, "bad.model: offset 100: truncated: 2^4 weights end at byte 128, the file at 100"},
        {40, -1, 0, "bad.model: offset 40: truncated header"},
        {128, 0, 'X', "bad.model: offset 0: not a filter model"},
        {128, 8, 2, "bad.model: offset 8: model version 2, this build reads version 1"},
        {128, 12, 31, "bad.model: offset 12: log2 of buckets is 31"},
        {128, 16, 1, "bad.model: offset 16: feature settings"},
        {128, 64 + 4 * 3 + 3, 0x7f, "bad.model: offset 76: weight 3 is not a finite number"},
        {0, -1, 0, "bad.model: offset 0: not a filter model"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *c = malloc(n + 8);
        memcpy(c, bytes, n);
        if (bad[i].patch_at >= 0) {
            if (bad[i].patch_at == 64 + 15) c[64 + 14] = (char)0x80; /* exponent all ones: NaN/inf */
            c[bad[i].patch_at] = (char)bad[i].val;
            if (bad[i].patch_at == 64 + 15) c[64 + 14] = (char)0xff;
        }
        write_file(q, c, bad[i].len);
        free(c);
        memset(&e, 0, sizeof e);
        CHECK_INT(-1, qm_load(&r, q, &e));
        CHECK_HAS(bad[i].want, e.msg);
    }
    /* one byte too many */
    char *c = malloc(n + 1);
    memcpy(c, bytes, n);
    c[n] = 0;
    write_file(q, c, n + 1);
    free(c);
    CHECK_INT(-1, qm_load(&r, q, &e));
    CHECK_HAS("offset 128: 1 bytes after the last weight", e.msg);
    free(bytes);
    qm_free(&m);
}

static void auc(void)
{
    double s[] = {0.1, 0.4, 0.35, 0.8};
    unsigned char y[] = {0, 0, 1, 1};
    CHECK(fabs(qm_auc(s, y, 4) - 0.75) < 1e-12); /* sklearn's example */
    double t[] = {0.5, 0.5, 0.5, 0.5};
    CHECK(fabs(qm_auc(t, y, 4) - 0.5) < 1e-12);
}

/* Good documents use words from one half of a vocabulary, bad ones the other
 * half, with 20% of words shared noise: a linear model separates them. */
static void training(void)
{
    QSet tr = {0}, te = {0};
    uint32_t *idx = NULL;
    size_t cap = 0;
    Buf low = {0}, text = {0};
    uint64_t rng = 12345;
    for (int d = 0; d < 1200; d++) {
        int y = d % 2;
        text.len = 0;
        for (int w = 0; w < 40; w++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            unsigned r = (unsigned)(rng >> 33);
            unsigned word = (r % 5 == 0) ? 200 + r % 50 : (y ? r % 100 : 100 + r % 100);
            char tok[16];
            int l = snprintf(tok, sizeof tok, "w%u ", word);
            buf_append(&text, tok, (size_t)l);
        }
        long k = qm_features(text.data, text.len, 12, 3, &idx, &cap, &low);
        if (k != 79) CHECK_INT(79, k); /* 40 words, 39 bigrams */
        qset_add(d < 1000 ? &tr : &te, idx, (size_t)k, y);
    }
    QModel m;
    Err e = {{0}};
    CHECK_INT(0, qm_init(&m, 12, 3));
    QTrainOpts o = {.epochs = 5, .lr = 0.5, .l2 = 0, .seed = 1};
    CHECK_INT(0, qm_train(&m, &tr, &o, &e));
    QMetrics mt;
    CHECK_INT(0, qm_evaluate(&m, &te, &mt));
    CHECK_INT(200, mt.n);
    CHECK_INT(100, mt.n_pos);
    CHECK(mt.accuracy >= 0.97);
    CHECK(mt.auc >= 0.99);
    /* the same seed trains the same weights */
    QModel m2;
    CHECK_INT(0, qm_init(&m2, 12, 3));
    CHECK_INT(0, qm_train(&m2, &tr, &o, &e));
    CHECK(!memcmp(m.w, m2.w, sizeof(float) << 12) && m.bias == m2.bias);
    qm_free(&m);
    qm_free(&m2);
    qset_free(&tr);
    qset_free(&te);
    free(idx);
    buf_free(&low);
    buf_free(&text);
}

/* P(Lomax(a) > 1 - s) = (2 - s)^-a. For s uniform on [0,1] and a = 9 the
 * kept fraction is (1 - 2^-8) / 8 = 0.124512; for s = 0.5 it is 1.5^-9. */
static void pareto(void)
{
    const int n = 200000;
    int kept = 0, kept_half = 0, kept_one = 0, same = 1;
    char t[32];
    for (int i = 0; i < n; i++) {
        double s = (i + 0.5) / n;
        size_t l = (size_t)snprintf(t, sizeof t, "document %d", i);
        kept += filter_pareto_keep(42, t, l, 9, s);
        kept_half += filter_pareto_keep(42, t, l, 9, 0.5);
        kept_one += filter_pareto_keep(42, t, l, 9, 1.0);
        same &= filter_pareto_keep(42, t, l, 9, s) == filter_pareto_keep(42, t, l, 9, s);
    }
    double f = (double)kept / n, want = (1 - pow(2, -8)) / 8;
    double sd = sqrt(want * (1 - want) / n);
    printf("pareto: kept %.5f (expected %.5f, sd %.5f); score 0.5: %.5f (expected %.5f)\n", f, want, sd,
           (double)kept_half / n, pow(1.5, -9));
    CHECK(fabs(f - want) < 4 * sd);
    double want_half = pow(1.5, -9), sd_half = sqrt(want_half * (1 - want_half) / n);
    CHECK(fabs((double)kept_half / n - want_half) < 4 * sd_half);
    CHECK_INT(n, kept_one); /* a draw is > 0 with U < 1 */
    CHECK(same);
    /* another seed, other draws; another text, another draw */
    int differ = 0, differ_text = 0;
    for (int i = 0; i < 1000; i++) {
        size_t l = (size_t)snprintf(t, sizeof t, "document %d", i);
        differ += filter_pareto_keep(42, t, l, 9, 0.9) != filter_pareto_keep(43, t, l, 9, 0.9);
        differ_text += filter_pareto_keep(42, t, l, 9, 0.9) != filter_pareto_keep(42, t, l - 1, 9, 0.9);
    }
    CHECK(differ > 100);
    CHECK(differ_text > 100);
}

int main(void)
{
    features();
    model_file();
    auc();
    training();
    pareto();
    scratch_cleanup();
    return check_done("test_model");
}
