/* packer's logic, called directly: the shards hold exactly the inputs' tokens
 * in the seeded order (every epoch a permutation of the source), validation
 * and training are disjoint, weights give their shares within one document,
 * best-fit splits no document that fits, every shard meets llm.c's reader
 * conditions (through bin_open and by reading the raw header here), the same
 * seed gives the same bytes, piped/gzip inputs pack as mapped files do, and
 * every failure leaves nothing in the output folder. Random documents come
 * from a printed seed (PACKER_TEST_SEED=N repeats a run). */
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "../../packer/pack_internal.h"
#include "../../packer/packer.h"
#include "check.h"
#include "hash.h"
#include "lib/testutil.h"
#include "tokfile.h"

typedef struct Doc {
    uint32_t *ids;
    size_t n;
} Doc;

typedef struct Corpus {
    Doc *docs;
    size_t n;
    uint32_t vocab, eot;
} Corpus;

static uint64_t rng_state;
static uint64_t rnd(void) /* splitmix64: the test's own generator, not packer's */
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* n random documents of lo..hi ids, written to path as a token stream. */
static Corpus make_stream(const char *path, size_t n, uint32_t vocab, uint32_t eot, size_t lo,
                          size_t hi)
{
    Corpus c = { calloc(n, sizeof(Doc)), n, vocab, eot };
    Err e;
    TokWriter *w = tokw_open(path, vocab, eot, 0, &e);
    if (!w) {
        fprintf(stderr, "%s\n", e.msg);
        exit(2);
    }
    for (size_t d = 0; d < n; d++) {
        size_t len = lo + (size_t)(rnd() % (hi - lo + 1));
        c.docs[d].ids = malloc((len ? len : 1) * sizeof(uint32_t));
        c.docs[d].n = len;
        for (size_t i = 0; i < len; i++) {
            uint32_t t = (uint32_t)(rnd() % (vocab - 1));
            c.docs[d].ids[i] = t < eot ? t : t + 1;
        }
        if (tokw_doc(w, c.docs[d].ids, len, &e)) {
            fprintf(stderr, "%s\n", e.msg);
            exit(2);
        }
    }
    if (tokw_close(w, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        exit(2);
    }
    return c;
}

static void corpus_free(Corpus *c)
{
    for (size_t d = 0; d < c->n; d++) free(c->docs[d].ids);
    free(c->docs);
}

/* scratch() reuses its buffers: keep a copy, freed at the end. */
static char *sp_kept[256];
static size_t sp_n;
static const char *sp(const char *name)
{
    if (sp_n == 256) exit(2);
    return sp_kept[sp_n++] = strdup(scratch(name));
}

static PackOpts opts(const char *dir, const PackInput *in, size_t n)
{
    return (PackOpts){ .out_dir = dir, .inputs = in, .n_inputs = n, .context = 64,
                       .shard_tokens = 100000000, .seed = 7, .mem_bytes = 1u << 30,
                       .progress = PROGRESS_QUIET };
}

/* A folder's entries besides . and .. (-1: no folder). */
static int n_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) n++;
    closedir(d);
    return n;
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Every kind_NNNNNN.bin in dir, concatenated; checks each shard's header with
 * bin_open and again from the raw bytes, as llm.c's loader reads them. */
static uint32_t *read_shards(const char *dir, const char *kind, size_t n_shards, uint32_t vocab,
                             uint32_t eot, uint64_t *n_out, uint64_t *first_shard_tokens)
{
    uint32_t *all = NULL;
    uint64_t n = 0;
    for (size_t i = 0; i < n_shards; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s_%06zu.bin", dir, kind, i);
        size_t bytes;
        unsigned char *raw = (unsigned char *)read_file(path, &bytes);
        if (!CHECK(raw != NULL && bytes >= 1024)) {
            free(raw);
            continue;
        }
        uint32_t width = vocab <= 65536 ? 2 : 4;
        CHECK_INT(width == 2 ? 20240520 : 20240801, get_u32(raw));
        CHECK_INT(width == 2 ? 1 : 7, get_u32(raw + 4));
        uint32_t count = get_u32(raw + 8);
        CHECK_INT(1024 + (uint64_t)width * count, bytes);
        CHECK_INT(vocab, get_u32(raw + 12));
        CHECK_INT(eot, get_u32(raw + 16));
        int zero = 1;
        for (size_t k = 20; k < 1024; k++) zero &= raw[k] == 0;
        CHECK(zero);
        free(raw);

        BinFile b;
        Err e;
        if (!CHECK_INT_RC(0, bin_open(&b, path, &e))) {
            fprintf(stderr, "%s\n", e.msg);
            continue;
        }
        CHECK_INT(count, b.n_tokens);
        CHECK_INT(width, b.width);
        if (i == 0 && first_shard_tokens) *first_shard_tokens = b.n_tokens;
        all = realloc(all, (n + b.n_tokens + 1) * sizeof *all);
        for (uint64_t k = 0; k < b.n_tokens; k++) all[n + k] = bin_token(&b, k);
        n += b.n_tokens;
        bin_close(&b);
    }
    char path[512];
    snprintf(path, sizeof path, "%s/%s_%06zu.bin", dir, kind, n_shards);
    CHECK(access(path, F_OK) != 0); /* no shard past the reported count */
    *n_out = n;
    return all;
}

/* The stream layout: for each entry, end-of-text then the document's ids. */
static uint32_t *expected_stream(const Corpus *const *c, const uint64_t *order, size_t n,
                                 uint64_t *n_out)
{
    uint64_t len = 0;
    for (size_t i = 0; i < n; i++) len += 1 + c[PACK_ENTRY_SRC(order[i])]->docs[PACK_ENTRY_DOC(order[i])].n;
    uint32_t *v = malloc((len + 1) * sizeof *v);
    uint64_t at = 0;
    for (size_t i = 0; i < n; i++) {
        const Corpus *x = c[PACK_ENTRY_SRC(order[i])];
        const Doc *d = &x->docs[PACK_ENTRY_DOC(order[i])];
        v[at++] = x->eot;
        memcpy(v + at, d->ids, d->n * sizeof *v);
        at += d->n;
    }
    *n_out = len;
    return v;
}

static int same_files(const char *a, const char *b)
{
    size_t na = 0, nb = 0;
    char *pa = read_file(a, &na), *pb = read_file(b, &nb);
    int same = pa && pb && na == nb && !memcmp(pa, pb, na);
    free(pa);
    free(pb);
    return same;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Two weighted sources, --tokens larger than both: epochs, sample, shares,
 * validation, order, exact tokens. */
static void mix_and_epochs(void)
{
    const char *pa = sp("web.tok"), *pb = sp("books.tok");
    Corpus a = make_stream(pa, 300, 1000, 999, 0, 60);
    Corpus b = make_stream(pb, 120, 1000, 999, 1, 150);
    const Corpus *cs[2] = { &a, &b };
    PackInput in[2] = { { pa, 0.7, 1, NULL, 0, NULL }, { pb, 0.3, 1, NULL, 0, NULL } };
    PackOpts o = opts(sp("mix"), in, 2);
    o.total_tokens = 40000;
    o.val_frac = 0.05;
    o.shard_tokens = 7000;
    PackReport rep = { .keep_order = 1 };
    Err e;
    if (!CHECK_INT_RC(0, packer_run(&o, &rep, &e))) {
        fprintf(stderr, "%s\n", e.msg);
        return;
    }

    /* The shards are exactly the documents of the plan, in its order. */
    uint64_t n_got, n_want, first;
    uint32_t *got = read_shards(o.out_dir, "train", rep.n_train_shards, 1000, 999, &n_got, &first);
    uint32_t *want = expected_stream(cs, rep.train_order, rep.n_train_order, &n_want);
    CHECK_INT(n_want, n_got);
    CHECK_INT(rep.train_tokens, n_got);
    CHECK(n_got == n_want && !memcmp(got, want, n_got * sizeof *got));
    CHECK_INT(7000, first); /* shards are cut at --shard-tokens exactly */
    CHECK_INT((n_got + 6999) / 7000, rep.n_train_shards);
    free(got);
    free(want);
    got = read_shards(o.out_dir, "val", rep.n_val_shards, 1000, 999, &n_got, NULL);
    want = expected_stream(cs, rep.val_order, rep.n_val_order, &n_want);
    CHECK(n_got == n_want && n_got > 0 && !memcmp(got, want, n_got * sizeof *got));
    free(got);
    free(want);

    for (size_t s = 0; s < 2; s++) {
        const Corpus *x = cs[s];
        const PackSourceReport *r = &rep.sources[s];
        /* Validation: whole documents, about 5% of the source's tokens. */
        char *is_val = calloc(x->n, 1);
        uint64_t vt = 0, vd = 0, total = 0, maxdoc = 0;
        for (size_t d = 0; d < x->n; d++) {
            total += x->docs[d].n + 1;
            if (x->docs[d].n + 1 > maxdoc) maxdoc = x->docs[d].n + 1;
        }
        for (size_t i = 0; i < rep.n_val_order; i++)
            if (PACK_ENTRY_SRC(rep.val_order[i]) == s) {
                uint64_t d = PACK_ENTRY_DOC(rep.val_order[i]);
                CHECK(!is_val[d]); /* each once */
                is_val[d] = 1;
                vd++;
                vt += x->docs[d].n + 1;
            }
        CHECK_INT(r->val_docs, vd);
        CHECK_INT(r->val_tokens, vt);
        CHECK(vt >= 0.05 * total && vt < 0.05 * total + maxdoc);
        /* Training, in order of appearance: epoch after epoch, each a
         * permutation of the documents not in validation; no val document. */
        uint64_t pool = x->n - vd, seen = 0, tokens = 0;
        uint32_t *count = calloc(x->n, sizeof *count);
        int ok_epochs = 1, ok_disjoint = 1;
        for (size_t i = 0; i < rep.n_train_order; i++) {
            if (PACK_ENTRY_SRC(rep.train_order[i]) != s) continue;
            uint64_t d = PACK_ENTRY_DOC(rep.train_order[i]);
            if (is_val[d]) ok_disjoint = 0;
            uint64_t epoch = seen / pool;
            if (count[d] != epoch) ok_epochs = 0; /* seen once in every earlier epoch */
            count[d]++;
            seen++;
            tokens += x->docs[d].n + 1;
        }
        CHECK(ok_disjoint);
        CHECK(ok_epochs);
        CHECK_INT(r->train_docs, seen);
        CHECK_INT(r->train_tokens, tokens);
        /* The asked share of 40000 tokens, within one document. */
        double target = 40000.0 * (s == 0 ? 0.7 : 0.3);
        char m[200];
        snprintf(m, sizeof m, "source %zu: %llu tokens for a share of %.0f (largest document %llu)",
                 s, (unsigned long long)tokens, target, (unsigned long long)maxdoc);
        check_report(tokens + maxdoc >= target && tokens <= target + maxdoc, __FILE__, __LINE__, m);
        CHECK(r->full_epochs >= 1); /* both shares are larger than the source */
        CHECK_INT(r->full_epochs, seen / pool);
        free(count);
        free(is_val);
    }
    CHECK(rep.sources[0].share > 0.69 && rep.sources[0].share < 0.71);

    /* The order is shuffled: documents of an epoch are not in input order. */
    size_t in_order = 0, n0 = 0;
    uint64_t prev = 0;
    for (size_t i = 0; i < rep.n_train_order; i++)
        if (PACK_ENTRY_SRC(rep.train_order[i]) == 0) {
            in_order += n0 && PACK_ENTRY_DOC(rep.train_order[i]) == prev + 1;
            prev = PACK_ENTRY_DOC(rep.train_order[i]);
            n0++;
        }
    CHECK(in_order < n0 / 10);

    /* meta.json: the keys of docs/formats.md. */
    char path[512];
    snprintf(path, sizeof path, "%s/meta.json", o.out_dir);
    char *meta = read_file(path, NULL);
    CHECK(meta != NULL);
    if (meta) {
        CHECK_HAS("\"vocab_size\": 1000", meta);
        CHECK_HAS("\"eot_id\": 999", meta);
        CHECK_HAS("\"context\": 64", meta);
        CHECK_HAS("\"window\": \"stream\"", meta);
        CHECK_HAS("\"tokenizer\": null", meta);
        CHECK_HAS("\"seed\": 7", meta);
        CHECK_HAS("\"weight\": 0.7", meta);
        char want_docs[64];
        snprintf(want_docs, sizeof want_docs, "\"documents\": %llu",
                 (unsigned long long)rep.sources[1].train_docs);
        CHECK_HAS(want_docs, meta);
        CHECK_HAS("\"epochs\": ", meta);
        free(meta);
    }

    /* Same seed: the same bytes; another seed: another order. */
    PackOpts o2 = o;
    o2.out_dir = sp("mix-again");
    PackReport rep2 = { 0 };
    CHECK_INT(0, packer_run(&o2, &rep2, &e));
    for (size_t i = 0; i < rep.n_train_shards; i++) {
        char p1[512], p2[512];
        snprintf(p1, sizeof p1, "%s/train_%06zu.bin", o.out_dir, i);
        snprintf(p2, sizeof p2, "%s/train_%06zu.bin", o2.out_dir, i);
        CHECK(same_files(p1, p2));
    }
    char m1[512], m2[512];
    snprintf(m1, sizeof m1, "%s/meta.json", o.out_dir);
    snprintf(m2, sizeof m2, "%s/meta.json", o2.out_dir);
    CHECK(same_files(m1, m2));
    packer_report_free(&rep2);
    o2.out_dir = sp("mix-seed8");
    o2.seed = 8;
    rep2.keep_order = 1;
    CHECK_INT(0, packer_run(&o2, &rep2, &e));
    CHECK(rep2.n_train_order != rep.n_train_order ||
          memcmp(rep2.train_order, rep.train_order, rep.n_train_order * 8));
    packer_report_free(&rep2);

    /* A second run into the same folder is refused; --force replaces. */
    CHECK_INT(2, packer_run(&o, NULL, &e)); /* bad usage */
    CHECK_HAS("already holds packed data", e.msg);
    o.force = 1;
    o.shard_tokens = 100000; /* fewer shards: the old ones past them go */
    PackReport rep3 = { 0 };
    CHECK_INT(0, packer_run(&o, &rep3, &e));
    CHECK_INT(1, rep3.n_train_shards);
    CHECK_INT(3, n_entries(o.out_dir)); /* train_000000, val_000000, meta.json */
    packer_report_free(&rep3);

    packer_report_free(&rep);
    corpus_free(&a);
    corpus_free(&b);
}

/* No --tokens: every document exactly once, train and val a partition. */
static void every_source_once(void)
{
    const char *pa = sp("once-a.tok"), *pb = sp("once-b.tok");
    Corpus a = make_stream(pa, 200, 5000, 0, 0, 40);
    Corpus b = make_stream(pb, 50, 5000, 0, 0, 40);
    PackInput in[2] = { { pa, 0, 0, NULL, 0, NULL }, { pb, 0, 0, NULL, 0, NULL } };
    PackOpts o = opts(sp("once"), in, 2);
    o.val_by_tokens = 1;
    o.val_tokens = 500;
    PackReport rep = { .keep_order = 1 };
    Err e;
    if (!CHECK_INT_RC(0, packer_run(&o, &rep, &e))) {
        fprintf(stderr, "%s\n", e.msg);
        return;
    }
    uint32_t *seen[2] = { calloc(200, 4), calloc(50, 4) };
    for (size_t i = 0; i < rep.n_train_order; i++)
        seen[PACK_ENTRY_SRC(rep.train_order[i])][PACK_ENTRY_DOC(rep.train_order[i])]++;
    for (size_t i = 0; i < rep.n_val_order; i++)
        seen[PACK_ENTRY_SRC(rep.val_order[i])][PACK_ENTRY_DOC(rep.val_order[i])] += 100;
    int ok = 1;
    for (size_t d = 0; d < 200; d++) ok &= seen[0][d] == 1 || seen[0][d] == 100;
    for (size_t d = 0; d < 50; d++) ok &= seen[1][d] == 1 || seen[1][d] == 100;
    CHECK(ok);
    CHECK(rep.sources[0].epochs == 1.0 && rep.sources[1].epochs == 1.0);
    uint64_t vt = rep.sources[0].val_tokens + rep.sources[1].val_tokens;
    CHECK(vt >= 500 && vt < 500 + 2 * 41);
    CHECK(rep.sources[0].val_docs > 0 && rep.sources[1].val_docs > 0);
    free(seen[0]);
    free(seen[1]);
    packer_report_free(&rep);
    corpus_free(&a);
    corpus_free(&b);
}

/* --no-shuffle: sources one after another, documents in input order. */
static void input_order(void)
{
    const char *pa = sp("ord.tok");
    Corpus a = make_stream(pa, 30, 300, 7, 0, 9);
    const Corpus *cs[1] = { &a };
    PackInput in[1] = { { pa, 0, 0, NULL, 0, NULL } };
    PackOpts o = opts(sp("ord"), in, 1);
    o.no_shuffle = 1;
    PackReport rep = { .keep_order = 1 };
    Err e;
    CHECK_INT(0, packer_run(&o, &rep, &e));
    uint64_t order[30];
    for (size_t d = 0; d < 30; d++) order[d] = d;
    uint64_t n_got, n_want;
    uint32_t *got = read_shards(o.out_dir, "train", rep.n_train_shards, 300, 7, &n_got, NULL);
    uint32_t *want = expected_stream(cs, order, 30, &n_want);
    CHECK(n_got == n_want && !memcmp(got, want, n_got * 4));
    CHECK_INT(7, got[0]); /* the shard starts with end-of-text, as llm.c's fineweb.py writes */
    free(got);
    free(want);
    packer_report_free(&rep);
    corpus_free(&a);
}

/* The segments between end-of-texts of each window, as hashes. */
static void window_segments(const uint32_t *t, uint64_t n, uint32_t W, uint32_t eot,
                            uint64_t **seg, size_t *n_seg, uint64_t *pad)
{
    *n_seg = 0;
    *pad = 0;
    for (uint64_t w = 0; w < n / W; w++) {
        const uint32_t *x = t + w * W;
        uint64_t end = W;
        while (end > 0 && x[end - 1] == eot) end--; /* trailing padding (and empty documents) */
        *pad += W - end;
        uint64_t i = 0;
        while (i < end) {
            if (x[i] == eot) {
                i++;
                continue;
            }
            uint64_t j = i;
            while (j < end && x[j] != eot) j++;
            (*seg)[(*n_seg)++] = hash64(x + i, (j - i) * 4, 0) ^ (j - i);
            i = j;
        }
    }
}

/* Best-fit: windows of exactly T+1, no document that fits is split, the
 * pieces of longer ones are as documented, padding is counted. */
static void best_fit(void)
{
    const char *pa = sp("bf-a.tok"), *pb = sp("bf-b.tok");
    Corpus a = make_stream(pa, 400, 2000, 1999, 1, 40);
    Corpus b = make_stream(pb, 60, 2000, 1999, 1, 200);
    const Corpus *cs[2] = { &a, &b };
    PackInput in[2] = { { pa, 0, 0, NULL, 0, NULL }, { pb, 0, 0, NULL, 0, NULL } };
    PackOpts o = opts(sp("bf"), in, 2);
    o.window = PACK_BEST_FIT;
    o.context = 63;
    o.shard_tokens = 1000; /* rounded down to 15 windows of 64 */
    o.val_frac = 0.02;
    const uint32_t W = 64;
    PackReport rep = { .keep_order = 1 };
    Err e;
    if (!CHECK_INT_RC(0, packer_run(&o, &rep, &e))) {
        fprintf(stderr, "%s\n", e.msg);
        return;
    }
    uint64_t n_got, first;
    uint32_t *got = read_shards(o.out_dir, "train", rep.n_train_shards, 2000, 1999, &n_got, &first);
    CHECK_INT(15 * W, first);
    CHECK_INT(0, n_got % W);
    CHECK_INT(rep.train_windows * W, n_got);
    /* Expected segments: a document that fits is one; a longer one is
     * W-1 ids, then runs of W ids, then the rest. */
    size_t cap = 4 * rep.n_train_order + n_got / W + 16, n_want = 0, n_seg;
    uint64_t *want = malloc(cap * 8), *seg = malloc((n_got + 1) * 8), ids = 0, pad;
    uint64_t split = 0;
    for (size_t i = 0; i < rep.n_train_order; i++) {
        const Doc *d = &cs[PACK_ENTRY_SRC(rep.train_order[i])]->docs[PACK_ENTRY_DOC(rep.train_order[i])];
        ids += d->n;
        if (d->n + 1 <= W) {
            want[n_want++] = hash64(d->ids, d->n * 4, 0) ^ d->n;
            continue;
        }
        split++;
        want[n_want++] = hash64(d->ids, (W - 1) * 4, 0) ^ (W - 1);
        size_t at = W - 1;
        for (; d->n - at >= W; at += W) want[n_want++] = hash64(d->ids + at, W * 4, 0) ^ W;
        if (d->n > at) want[n_want++] = hash64(d->ids + at, (d->n - at) * 4, 0) ^ (d->n - at);
    }
    CHECK(split > 0); /* the test has documents longer than a window */
    window_segments(got, n_got, W, 1999, &seg, &n_seg, &pad);
    CHECK_INT(n_want, n_seg);
    qsort(want, n_want, 8, cmp_u64);
    qsort(seg, n_seg, 8, cmp_u64);
    CHECK(n_want == n_seg && !memcmp(want, seg, n_seg * 8));
    /* Every token accounted for: ids + one end-of-text a piece + padding. */
    uint64_t non_eot = 0;
    for (uint64_t i = 0; i < n_got; i++) non_eot += got[i] != 1999;
    CHECK_INT(ids, non_eot);
    uint64_t src_tokens = rep.sources[0].train_tokens + rep.sources[1].train_tokens;
    CHECK_INT(n_got, src_tokens + rep.train_padding);
    double pad_sum = rep.sources[0].padding + rep.sources[1].padding;
    CHECK(pad_sum > rep.train_padding - 0.5 && pad_sum < rep.train_padding + 0.5);
    /* Best-fit decreasing leaves little room: under 3% padding here. */
    char m[128];
    snprintf(m, sizeof m, "padding %llu of %llu tokens", (unsigned long long)rep.train_padding,
             (unsigned long long)n_got);
    check_report(rep.train_padding * 100 < 3 * n_got, __FILE__, __LINE__, m);
    free(got);
    free(want);
    free(seg);

    got = read_shards(o.out_dir, "val", rep.n_val_shards, 2000, 1999, &n_got, NULL);
    CHECK(n_got > 0 && n_got % W == 0);
    free(got);
    char path[512];
    snprintf(path, sizeof path, "%s/meta.json", o.out_dir);
    char *meta = read_file(path, NULL);
    CHECK_HAS("\"window\": \"best-fit\"", meta ? meta : "");
    free(meta);
    packer_report_free(&rep);
    corpus_free(&a);
    corpus_free(&b);
}

/* Fixed lengths at the edges: a document of exactly T ids fits a window of
 * T+1 with its end-of-text and stays whole; T+1 ids is split as documented. */
static void best_fit_edges(void)
{
    const char *path = sp("edge.tok");
    Err e;
    TokWriter *w = tokw_open(path, 100, 0, 0, &e);
    uint32_t ids[40];
    const size_t lens[] = { 9, 10, 11, 25, 1, 3, 0, 5 };
    for (size_t i = 0; i < 40; i++) ids[i] = 1 + (uint32_t)i;
    for (size_t k = 0; k < sizeof lens / sizeof *lens; k++) CHECK_INT(0, tokw_doc(w, ids, lens[k], &e));
    CHECK_INT(0, tokw_close(w, &e));
    PackInput in[1] = { { path, 0, 0, NULL, 0, NULL } };
    PackOpts o = opts(sp("edge"), in, 1);
    o.window = PACK_BEST_FIT;
    o.context = 10;
    o.no_shuffle = 1;
    PackReport rep = { 0 };
    if (!CHECK_INT_RC(0, packer_run(&o, &rep, &e))) {
        fprintf(stderr, "%s\n", e.msg);
        return;
    }
    uint64_t n;
    uint32_t *t = read_shards(o.out_dir, "train", 1, 100, 0, &n, NULL);
    /* Pieces, largest first: 11 tokens: the 10 (eot + 10 ids), the 11's and
     * the 25's first windows (eot + 10), the 25's next 11 ids (no eot: it goes
     * on); then 10: the 9; 6: the 5; 5: the 25's tail (eot + ids 22..25);
     * 4: the 3; 2: the 11's tail (eot + id 11); 2: the 1; 1: the empty one.
     * Best-fit: the 9 opens window A (room 1), the 5 window B (room 5), the
     * 25's tail fills B, the 3 opens C (room 7), the two 2s go to C (the
     * least room that holds them), the empty document fills A. Input order
     * (no_shuffle) keeps the windows in the order they were opened. */
    static const uint32_t want[77] = {
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,           /* the 10-id document, whole */
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,           /* the 11's first window */
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,           /* the 25's first window */
        11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, /* the 25 goes on */
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0,            /* A: the 9, the empty one */
        0, 1, 2, 3, 4, 5, 0, 22, 23, 24, 25,        /* B: the 5, the 25's tail */
        0, 1, 2, 3, 0, 11, 0, 1, 0, 0, 0,           /* C: the 3, the 11's tail, the 1, padding */
    };
    CHECK_INT(77, n);
    CHECK(n == 77 && !memcmp(t, want, sizeof want));
    CHECK_INT(3, rep.train_padding);
    CHECK_INT(2, rep.split_docs);
    CHECK_INT(74, rep.sources[0].train_tokens); /* 72 of documents, 2 tails' end-of-texts */
    free(t);
    packer_report_free(&rep);
}

/* A vocabulary over 65,536: llm.c's uint32 shards. */
static void wide_ids(void)
{
    const char *pa = sp("wide.tok");
    Corpus a = make_stream(pa, 40, 100000, 99999, 0, 30);
    const Corpus *cs[1] = { &a };
    PackInput in[1] = { { pa, 0, 0, NULL, 0, NULL } };
    PackOpts o = opts(sp("wide"), in, 1);
    o.val_frac = 0;
    PackReport rep = { .keep_order = 1 };
    Err e;
    CHECK_INT(0, packer_run(&o, &rep, &e));
    CHECK_INT(0, rep.n_val_shards);
    uint64_t n_got, n_want;
    uint32_t *got = read_shards(o.out_dir, "train", rep.n_train_shards, 100000, 99999, &n_got, NULL);
    uint32_t *want = expected_stream(cs, rep.train_order, rep.n_train_order, &n_want);
    CHECK(n_got == n_want && !memcmp(got, want, n_got * 4));
    free(got);
    free(want);
    packer_report_free(&rep);
    corpus_free(&a);
}

/* A gzip copy is read like a pipe: into memory, or spilled to a temporary
 * file with --mem 0. Both pack to the same bytes as the mapped file. */
static void piped_inputs(void)
{
    const char *plain = sp("pipe.tok"), *gz = sp("pipe.tok.gz");
    Corpus a = make_stream(plain, 500, 3000, 5, 0, 80);
    Err e;
    TokWriter *w = tokw_open(gz, 3000, 5, 0, &e);
    for (size_t d = 0; d < a.n; d++) tokw_doc(w, a.docs[d].ids, a.docs[d].n, &e);
    CHECK_INT(0, tokw_close(w, &e));
    const char *dirs[3] = { sp("pipe-map"), sp("pipe-mem"), sp("pipe-spill") };
    PackStore want[3] = { PACK_STORE_MAPPED, PACK_STORE_MEMORY, PACK_STORE_SPILLED };
    for (int k = 0; k < 3; k++) {
        PackInput in[1] = { { k ? gz : plain, 0, 0, NULL, 0, NULL } };
        PackOpts o = opts(dirs[k], in, 1);
        o.mem_bytes = k == 2 ? 0 : 1u << 30;
        o.shard_tokens = 5000;
        PackReport rep = { 0 };
        if (!CHECK_INT_RC(0, packer_run(&o, &rep, &e))) fprintf(stderr, "%s\n", e.msg);
        CHECK_INT(want[k], rep.sources[0].store);
        CHECK(rep.n_train_shards > 2);
        for (size_t i = 0; k && i < rep.n_train_shards; i++) {
            char p1[512], p2[512];
            snprintf(p1, sizeof p1, "%s/train_%06zu.bin", dirs[0], i);
            snprintf(p2, sizeof p2, "%s/train_%06zu.bin", dirs[k], i);
            CHECK(same_files(p1, p2));
        }
        /* the spill file is unlinked at once: only the outputs are left */
        CHECK_INT(rep.n_train_shards + 1, n_entries(dirs[k]));
        packer_report_free(&rep);
    }
    corpus_free(&a);
}

static void expect_failure(PackOpts *o, const char *msg, int dir_existed)
{
    Err e = { { 0 } };
    PackReport rep = { 0 };
    CHECK_INT(-1, packer_run(o, &rep, &e));
    CHECK_HAS(msg, e.msg);
    if (dir_existed) CHECK_INT(0, n_entries(o->out_dir));
    else CHECK_INT(-1, n_entries(o->out_dir)); /* the folder it made is gone too */
}

static void failures(void)
{
    const char *pa = sp("f-a.tok"), *pv = sp("f-vocab.tok"), *pe = sp("f-eot.tok");
    Corpus a = make_stream(pa, 50, 1000, 999, 0, 20);
    Corpus v = make_stream(pv, 5, 1001, 999, 0, 20);
    Corpus t = make_stream(pe, 5, 1000, 0, 0, 20);
    PackInput in[2] = { { pa, 0, 0, NULL, 0, NULL }, { pv, 0, 0, NULL, 0, NULL } };
    PackOpts o = opts(sp("fail-vocab"), in, 2);
    expect_failure(&o, "f-vocab.tok: offset 16: vocabulary size 1001 disagrees with", 0);
    in[1].path = pe;
    o.out_dir = sp("fail-eot");
    expect_failure(&o, "f-eot.tok: offset 20: end-of-text id 0 disagrees with", 0);

    /* Truncated: cut in the middle of the last document. */
    size_t n;
    char *raw = read_file(pa, &n);
    const char *pt = sp("f-trunc.tok");
    write_file(pt, raw, n - 3);
    free(raw);
    in[1].path = pt;
    o.out_dir = sp("fail-trunc");
    expect_failure(&o, "truncated token stream", 0);

    /* Best-fit windows longer than all the data. */
    PackInput one[1] = { { pa, 0, 0, NULL, 0, NULL } };
    o = opts(sp("fail-context"), one, 1);
    o.window = PACK_BEST_FIT;
    o.context = 100000;
    o.shard_tokens = 200000;
    expect_failure(&o, "longer than all the training data", 0);

    /* Stream shards shorter than one window (context + 1) hold no training
     * sample, and the trainer refuses them: refused here, before any write. */
    o = opts(sp("fail-shard"), one, 1);
    o.shard_tokens = o.context;
    expect_failure(&o, "--shard-tokens 64 is smaller than one window of 65 tokens", 0);

    /* Weights that sum to zero. */
    PackInput zero[2] = { { pa, 0, 1, NULL, 0, NULL }, { pa, 0, 1, NULL, 0, NULL } };
    o = opts(sp("fail-zero"), zero, 2);
    o.total_tokens = 1000;
    expect_failure(&o, "sum to zero", 0);

    /* A failure while writing the second shard: the first, already staged,
     * is removed too. A folder at the second shard's temporary name makes
     * its creation fail. */
    o = opts(sp("fail-write"), one, 1);
    o.shard_tokens = 100;
    o.val_frac = 0;
    mkdir(o.out_dir, 0777);
    char block[256];
    snprintf(block, sizeof block, "%s/train_000001.bin.tmp.%ld.done.tmp.%ld", o.out_dir,
             (long)getpid(), (long)getpid());
    mkdir(block, 0777);
    Err e = { { 0 } };
    CHECK_INT(-1, packer_run(&o, NULL, &e));
    CHECK_HAS("cannot create", e.msg);
    rmdir(block);
    CHECK_INT(0, n_entries(o.out_dir));
    snprintf(block, sizeof block, "%s/train_000000.bin", o.out_dir);
    CHECK(!file_or_temp_exists(block));

    /* A failure at the commit (the tokenizer copy cannot be written over a
     * folder): every staged shard is removed. */
    const char *tok = sp("tok.json");
    write_file(tok, "{\"model\": {}}\n", 14);
    o = opts(sp("fail-commit"), one, 1);
    o.tokenizer = tok;
    o.shard_tokens = 100;
    mkdir(o.out_dir, 0777);
    snprintf(block, sizeof block, "%s/tokenizer.json", o.out_dir);
    mkdir(block, 0777);
    CHECK_INT(-1, packer_run(&o, NULL, &e));
    CHECK_HAS("tokenizer.json", e.msg);
    CHECK_INT(1, n_entries(o.out_dir)); /* only the folder that was in the way */
    rmdir(block);

    /* A tokenizer that is not JSON is refused before anything is read. */
    write_file(tok, "nope", 4);
    o.out_dir = sp("fail-tok");
    expect_failure(&o, "not a tokenizer file", 0);
    /* and a good one is copied byte for byte */
    write_file(tok, "{\"model\": {}}\n", 14);
    o.out_dir = sp("tok-ok");
    CHECK_INT(0, packer_run(&o, NULL, &e));
    snprintf(block, sizeof block, "%s/tokenizer.json", o.out_dir);
    CHECK(same_files(tok, block));

    corpus_free(&a);
    corpus_free(&v);
    corpus_free(&t);
}

/* Weight strings. */
static void parse_inputs(void)
{
    PackInput in;
    Err e;
    CHECK_INT(0, packer_parse_input("web.tok:0.6", &in, &e));
    CHECK_STR("web.tok", in.path);
    CHECK(in.has_weight && in.weight == 0.6);
    free((char *)in.path);
    CHECK_INT(0, packer_parse_input("w.tok:60%", &in, &e));
    CHECK(in.has_weight && in.weight > 0.5999 && in.weight < 0.6001);
    free((char *)in.path);
    CHECK_INT(0, packer_parse_input("-", &in, &e));
    CHECK(!in.has_weight);
    free((char *)in.path);
    CHECK_INT(-1, packer_parse_input("web.tok:abc", &in, &e));
    CHECK_HAS("weight 'abc'", e.msg);
    CHECK_INT(-1, packer_parse_input("web.tok:-1", &in, &e));
    CHECK_INT(-1, packer_parse_input("web.tok:", &in, &e));
    /* an existing file whose name has a colon is a file, not a weight */
    const char *odd = sp("odd:1");
    write_file(odd, "", 0);
    CHECK_INT(0, packer_parse_input(odd, &in, &e));
    CHECK(!in.has_weight);
    free((char *)in.path);
}

int main(void)
{
    const char *env = getenv("PACKER_TEST_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
    printf("test_packer: seed %llu (PACKER_TEST_SEED=%llu repeats it)\n", (unsigned long long)seed,
           (unsigned long long)seed);
    rng_state = seed;
    parse_inputs();
    mix_and_epochs();
    every_source_once();
    input_order();
    best_fit();
    best_fit_edges();
    wide_ids();
    piped_inputs();
    failures();
    scratch_cleanup();
    for (size_t i = 0; i < sp_n; i++) free(sp_kept[i]);
    return check_done("test_packer");
}
