/* dedup's logic, called by dedup/main.c and the tests: text normalisation,
 * MinHash signatures and LSH band keys, the streaming keep-first run (exact and
 * near duplicates), the sharded chain (sig | sort | cluster | apply) and 13-gram
 * decontamination. */
#ifndef DEDUP_H
#define DEDUP_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "cli.h"
#include "docio.h"
#include "docpass.h"
#include "err.h"
#include "progress.h"

/* ---- normalisation (norm.c) ---- */

typedef enum { NORM_SIMPLE, NORM_NFKC_LOWER, NORM_NONE } NormMode;

/* "simple", "nfkc-lower", "none" -> mode; -1 when unknown. */
int norm_parse(const char *s, NormMode *m);
const char *norm_name(NormMode m);

/* Normalise s[0..n) (valid UTF-8) into out (replaced, not NUL-terminated).
 * none: as is. nfkc-lower: NFKC and case folding. simple: nfkc-lower, then
 * punctuation and symbols (Unicode P* and S*) become spaces, decimal digits
 * become '0', runs of white space become one space, no space at either end.
 * 0, or -1 when out of memory. */
int norm_text(NormMode m, const char *s, size_t n, Buf *out);

/* The white-space-separated words of s[0..n), joined by single spaces, into out
 * (replaced). Shingles are then contiguous spans of out. 0 or -1 (memory). */
int norm_join_words(const char *s, size_t n, Buf *out);

/* ---- MinHash and LSH (minhash.c) ---- */

#define MINHASH_P ((1ull << 61) - 1) /* the Mersenne prime 2^61-1 */
#define MINHASH_MAX_PERM 1024

typedef struct MinHash {
    unsigned bands, rows, n_perm; /* n_perm = bands * rows */
    unsigned ngram;               /* words per shingle */
    uint64_t seed;
    uint64_t *a, *b;              /* (n_perm) a_i in [1,p), b_i in [0,p) */
    uint64_t *xs;                 /* scratch: a document's shingle values */
    size_t xs_cap;
} MinHash;

/* a_i, b_i from splitmix64 seeded with seed (see minhash.c). Caller frees with
 * minhash_free(). 0, or -1 when out of memory. */
int minhash_init(MinHash *m, unsigned bands, unsigned rows, unsigned ngram, uint64_t seed);
void minhash_free(MinHash *m);

/* Signature (n_perm values) of the word shingles of joined (words separated by
 * single spaces, as norm_join_words makes them). Returns the number of shingles:
 * a text of fewer than ngram words is one shingle; no words, none (the signature
 * is then all p, and the caller gives the document no band keys); SIZE_MAX
 * when out of memory. */
size_t minhash_sign(MinHash *m, const char *joined, size_t len, uint64_t *sig);
/* Which signature loop runs: 0 plain C, 1 AVX2, 2 AVX-512 (the same values).
 * level -1 picks the best this CPU has; a level is capped at what it has.
 * Returns the level in use. */
int minhash_simd(int level);
/* Band keys (bands values): XXH3-64 of each band's rows, seeded with the band number. */
void minhash_bands(const MinHash *m, const uint64_t *sig, uint64_t *keys);
/* Estimated Jaccard: the fraction of equal signature values. */
double minhash_jaccard(const uint64_t *s1, const uint64_t *s2, unsigned n_perm);
/* The shingle set of joined (the same shingles minhash_sign sees) as its
 * distinct 64-bit XXH3 hashes (seed 0, not reduced mod p), sorted ascending,
 * into *set (grown with realloc as needed; caller frees). Returns the count (0
 * when there are no words); SIZE_MAX when out of memory. */
size_t minhash_shingle_set(unsigned ngram, const char *joined, size_t len, uint64_t **set,
                           size_t *cap);
/* Exact Jaccard |A and B| / |A or B| of two sorted sets of distinct hashes
 * (two empty sets: 1). */
double minhash_jaccard_sets(const uint64_t *a, size_t na, const uint64_t *b, size_t nb);
/* The (bands, rows) with bands*rows <= max_perm that minimise the false positive
 * plus false negative areas under the LSH S-curve around threshold (datasketch's
 * rule, equal weights). */
void minhash_pick(double threshold, unsigned max_perm, unsigned *bands, unsigned *rows);

/* ---- the streaming run (dedup.c) and the sharded chain (shard.c) ---- */

typedef enum { MODE_BOTH, MODE_EXACT, MODE_NEAR } DedupMode;
/* --verify: off; exact (the Jaccard of the two shingle sets, re-read from a
 * spill file); estimate (the share of equal signature values). */
typedef enum { VERIFY_OFF, VERIFY_EXACT, VERIFY_ESTIMATE } VerifyMode;

/* "exact", "estimate" -> mode; -1 when unknown. */
int verify_parse(const char *s, VerifyMode *v);
const char *verify_name(VerifyMode v);

/* An append-only scratch file, unlinked as soon as it is made (in $TMPDIR, else
 * /tmp), so nothing is left behind however the run ends: the kept documents'
 * words for --verify exact (spill.c). Records are appended whole through a 1 MB
 * buffer and read back with pread (or from the buffer). */
typedef struct Spill {
    int fd, is_open;
    char path[256]; /* for error messages (the name it had) */
    uint64_t flushed; /* bytes on disk; later ones are in pend */
    Buf pend;
} Spill;

/* Caller closes with spill_close(). 0 or -1. */
int spill_open(Spill *s, Err *e);
/* Append n bytes; *off_bytes gets where they start. 0 or -1 (disk full...). */
int spill_append(Spill *s, const void *p, size_t n, uint64_t *off_bytes, Err *e);
/* The n bytes at off_bytes (a whole record) into out (replaced). 0 or -1. */
int spill_read(Spill *s, uint64_t off_bytes, size_t n, Buf *out, Err *e);
/* Bytes appended so far. */
uint64_t spill_size(const Spill *s);
void spill_close(Spill *s); /* on a zeroed Spill: nothing */

/* --verify's check of a candidate pair, for the run (dedup.c) and cluster
 * (shard.c): a document against a kept one, by the share of equal signature
 * values (estimate) or the Jaccard of their shingle sets (exact). */
typedef struct VerifyDoc {
    const uint64_t *sig; /* estimate: (n_perm) */
    const char *words;   /* exact: the words (single-spaced), or NULL: they are */
    size_t words_len;    /* the words_len bytes at off_bytes in the spill */
    uint64_t off_bytes;
} VerifyDoc;

typedef struct Verifier {
    VerifyMode mode;
    double threshold;
    unsigned ngram, n_perm;
    Spill *spill;         /* borrowed: where exact reads words back */
    Buf words;            /* scratch for the words read back */
    uint64_t *set, *kset; /* shingle sets: the current document's, a kept one's */
    size_t n_set;         /* SIZE_MAX: the current document's set is not made yet */
    size_t cap_set, cap_kset;
    uint64_t verified, below; /* pairs checked, and those under the threshold */
} Verifier;

/* 1 when kept passes --verify against doc, 0 when not, -1 on error. The pairs
 * of one document come one after another: v->n_set = SIZE_MAX before its
 * first, so that its set is made once. */
int verify_pair(Verifier *v, const VerifyDoc *doc, const VerifyDoc *kept, Err *e);
void verify_free(Verifier *v); /* frees the scratch; the counts stay */

typedef struct DedupOpts {
    DedupMode mode;
    NormMode norm;
    unsigned ngram, bands, rows;
    double threshold; /* for --verify */
    VerifyMode verify;
    uint64_t seed;
    const char *out;     /* NULL: stdout */
    const char *rejects; /* NULL: none */
    const char *drop;    /* apply: the drop list */
    DocOpts doc;
    CommonOpts common;
} DedupOpts;

typedef struct DedupCounts {
    uint64_t in, kept, exact, near, bad;
    uint64_t verified, below; /* --verify: candidate pairs checked, and those under the threshold */
} DedupCounts;

/* What the run and `sig` compute for each document, on any of -j threads. A
 * zeroed DocKeys is ready; it keeps its memory from document to document.
 * Caller frees with dockeys_free(). */
typedef struct DocKeys {
    uint64_t exact_lo, exact_hi; /* XXH3-128 of the normalised text (mode != MODE_NEAR) */
    size_t n_shingles;    /* 0: no words, so no band keys */
    uint64_t *sig;        /* (n_perm) when mode != MODE_EXACT */
    uint64_t *bandk;      /* (bands) */
    Buf words;            /* with --verify exact (mode != MODE_EXACT): the words the
                           * shingles are cut from, single-spaced */
} DocKeys;

/* A thread's state for computing keys: the hash functions and scratch.
 * Caller frees with keymaker_free(); o is borrowed. 0 or -1 (memory). */
typedef struct KeyMaker {
    const DedupOpts *o;
    MinHash mh;           /* when mode != MODE_EXACT */
    Buf norm, joined;
} KeyMaker;

int keymaker_init(KeyMaker *m, const DedupOpts *o, Err *e);
void keymaker_free(KeyMaker *m);
/* The keys of text[0..n) into k. 0 or -1 (memory). */
int dockeys_compute(KeyMaker *m, const char *text, size_t n, DocKeys *k, Err *e);
void dockeys_free(DocKeys *k);
/* The document pass of the run and `sig` (lib/docpass.h) over what in reads:
 * -j threads compute each document's keys, and emit gets every document with
 * its keys (the slot, a DocKeys) in input order on the calling thread. keep_raw
 * and progress as in DocPassOpts. 0, or -1 with e filled. */
int dedup_keys_pass(const DedupOpts *o, DocReader *in, int keep_raw, DocEmitFn emit, void *ctx,
                    Progress *progress, Err *e);
/* The members a dropped document gets in --rejects, NUL-terminated into b:
 * "dedup_reason":"REASON","dup_of":"PATH:LINE" (PATH NULL: "-"). 0 or -1. */
int dedup_extra(Buf *b, const char *reason, const char *path, uint64_t lineno);
/* The options that must agree between the shards' sig lines, as one string. */
void dedup_params(const DedupOpts *o, char *out, size_t n);

/* dedup / dedup exact / dedup minhash over paths (n 0: stdin). */
int dedup_run(const DedupOpts *o, const char *const *paths, size_t n, DedupCounts *c, Err *e);

/* dedup sig: the keys of every document of the shards, to o->out. */
int dedup_sig(const DedupOpts *o, const char *const *paths, size_t n, Err *e);
/* dedup cluster: sorted sig lines from paths (n 0: stdin) -> drop list to o->out. */
int dedup_cluster(const DedupOpts *o, const char *const *paths, size_t n, DedupCounts *c, Err *e);
/* dedup apply: the shards minus the documents on the drop list o->drop. */
int dedup_apply(const DedupOpts *o, const char *const *paths, size_t n, DedupCounts *c, Err *e);

/* ---- decontamination (decontam.c) ---- */

typedef struct DecontamOpts {
    const char *const *evals;
    size_t n_evals;
    unsigned gram;         /* 13 */
    size_t window;         /* characters removed on each side of a hit: 200 */
    size_t min_piece;      /* pieces shorter than this (characters) are dropped: 200 */
    unsigned max_pieces;   /* more pieces than this: the document is dropped: 10 */
    uint64_t max_doc_freq; /* grams in more training documents are ignored; 0: no limit */
    int count_only;        /* `decontam count`: write the first pass's counts to out, no more */
    const char *const *doc_freq; /* --doc-freq: count files (summed) instead of the first pass */
    size_t n_doc_freq;
    const char *out, *rejects, *removed;
    DocOpts doc;
    CommonOpts common;
} DecontamOpts;

typedef struct DecontamCounts {
    uint64_t in, kept, cut, pieces, dropped, over_split, too_short, bad;
    uint64_t eval_grams, frequent_grams;
    uint64_t *touched; /* (n_evals) training documents each evaluation set touched */
} DecontamCounts;

/* Decontaminate paths (n 0: stdin) against o->evals; fills c (its touched[]
 * is allocated here: free it with decontam_counts_free, also after an error).
 * 0, or -1 with e set and no output file left.
 * With o->count_only it writes instead, to o->out, the count file of paths: a
 * line `!\tdecontam-count gram=G grams=N keys=HEX` (N evaluation grams, HEX
 * a digest of their keys), then `KEY\tN` for each evaluation gram held by N > 0 of
 * the documents, KEY its 16-hex-digit hash, in key order. Count files of
 * disjoint shards summed (o->doc_freq, or the files concatenated: a header
 * line may come again) are the count of their union. */
int decontam_run(const DecontamOpts *o, const char *const *paths, size_t n, DecontamCounts *c,
                 Err *e);
void decontam_counts_free(DecontamCounts *c);

#endif
