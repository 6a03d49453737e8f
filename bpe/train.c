/* bpe train. Two phases:
 * 1. Count unique pieces: a document pass (lib/docpass.c) whose threads each
 *    count into their own piece -> count table, summed at the end. Memory ~
 *    unique pieces, once a thread.
 * 2. Merge: pair counts (64-bit) with, per pair, the words it occurs in; a
 *    max-heap of (count, pair) updated lazily: a popped entry whose count is
 *    stale is pushed back with the current one. A merge rewrites only the
 *    words listed for its pair. Ties go to the lower (a, b) ids, as in HF's
 *    BpeTrainer, whose ids order the same way as ours (bytes by their
 *    printable stand-in, then merges in order).
 * Speed and memory against HF and sentencepiece: bench/bpe/run.sh. */
#include "train.h"

#include <inttypes.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "classes.h"
#include "docpass.h"
#include "hash.h"
#include "iofile.h"
#include "progress.h"
#include "tokenizer.h"

void bpe_train_defaults(BpeTrainOpts *o)
{
    *o = (BpeTrainOpts){ .vocab_size = 32000, .min_frequency = 2, .n_specials = 1 };
    o->specials[0] = "<|endoftext|>";
    o->regex = pretok_builtin("gpt2");
}

/* ---- piece counting ---- */

#define CACHE_LINE 64

typedef struct PieceEnt {
    uint64_t h, off, count; /* off: into keys */
    uint32_t len;           /* 0: empty slot */
} PieceEnt;

typedef struct PieceMap {
    PieceEnt *slot;
    size_t mask, used;
    Buf keys;
} PieceMap;

static int pmap_init(PieceMap *m)
{
    *m = (PieceMap){ 0 };
    m->mask = (1u << 16) - 1;
    return (m->slot = calloc(m->mask + 1, sizeof *m->slot)) ? 0 : -1;
}

static void pmap_free(PieceMap *m)
{
    free(m->slot);
    buf_free(&m->keys);
}

static int pmap_grow(PieceMap *m)
{
    size_t n = 2 * (m->mask + 1);
    PieceEnt *s = calloc(n, sizeof *s);
    if (!s) return -1;
    for (size_t i = 0; i <= m->mask; i++) {
        if (!m->slot[i].len) continue;
        size_t j = m->slot[i].h & (n - 1);
        while (s[j].len) j = (j + 1) & (n - 1);
        s[j] = m->slot[i];
    }
    free(m->slot);
    m->slot = s;
    m->mask = n - 1;
    return 0;
}

static PieceEnt *pmap_find(PieceMap *m, const char *s, size_t n, uint64_t h)
{
    for (size_t i = h & m->mask; m->slot[i].len; i = (i + 1) & m->mask) {
        PieceEnt *p = &m->slot[i];
        if (p->h == h && p->len == n && !memcmp(m->keys.data + p->off, s, n)) return p;
    }
    return NULL;
}

/* Add count to piece s[0..n) (n > 0). */
static int pmap_add(PieceMap *m, const char *s, size_t n, uint64_t h, uint64_t count)
{
    size_t i = h & m->mask;
    for (; m->slot[i].len; i = (i + 1) & m->mask) {
        PieceEnt *p = &m->slot[i];
        if (p->h == h && p->len == n && !memcmp(m->keys.data + p->off, s, n)) {
            p->count += count;
            return 0;
        }
    }
    if (n > UINT32_MAX) return -1;
    m->slot[i] = (PieceEnt){ h, m->keys.len, count, (uint32_t)n };
    if (buf_append(&m->keys, s, n)) return -1;
    if (++m->used * 2 > m->mask) return pmap_grow(m);
    return 0;
}

/* One thread's share of the counting pass (a worker of lib/docpass.c): the
 * pieces of the documents it took, in a table of its own. Cache lines of
 * its own too: n_pieces changes with every piece, and with two Counters on
 * one line the threads of -j 2 spent 15-20% more CPU time counting
 * bench/bpe/run.sh's corpus. */
typedef struct Counter {
    alignas(CACHE_LINE) const BpeTrainOpts *o;
    PretokCursor *cur; /* NULL: no pattern */
    PieceMap map;
    uint64_t n_pieces;
} Counter;

/* The pieces of one stretch of text with no special token in it. */
static int count_span(Counter *c, const char *s, size_t n, Err *e)
{
    if (!n) return 0;
    if (!c->cur) { /* no pattern: the whole stretch is one piece */
        c->n_pieces++;
        return pmap_add(&c->map, s, n, hash64(s, n, 0), 1) ? err_set(e, "out of memory") : 0;
    }
    pretok_begin(c->cur, s, n);
    size_t at, len;
    int rc;
    while ((rc = pretok_next(c->cur, &at, &len, e)) == 1) {
        c->n_pieces++;
        if (pmap_add(&c->map, s + at, len, hash64(s + at, len, 0), 1)) return err_set(e, "out of memory");
    }
    return rc;
}

/* A document (docpass work): special tokens cut out (never learned), and
 * with --hf-compat each line on its own with its newline, as HF's trainer
 * reads files. */
static int count_doc(void *ctx, void *worker, const Doc *d, void *slot, Err *e)
{
    (void)ctx;
    (void)slot;
    Counter *c = worker;
    const BpeTrainOpts *o = c->o;
    const char *s = d->text;
    size_t n = d->text_len;
    while (n) {
        size_t cut = n, skip = 0;
        for (size_t k = 0; k < o->n_specials; k++) {
            size_t len = strlen(o->specials[k]);
            const char *hit = memmem(s, cut + len <= n ? cut + len : n, o->specials[k], len);
            if (hit && (size_t)(hit - s) < cut) {
                cut = (size_t)(hit - s);
                skip = len;
            }
        }
        if (o->hf_compat) {
            const char *nl = memchr(s, '\n', cut);
            if (nl) {
                cut = (size_t)(nl - s) + 1;
                skip = 0;
            }
        }
        Err inner;
        if (count_span(c, s, cut, &inner)) return err_at(e, d->path, d->lineno, "%s", inner.msg);
        s += cut + skip;
        n -= cut + skip;
    }
    return 0;
}

/* Read every document and count pieces into out: each thread counts the
 * documents it takes into its own table, and the tables are summed into the
 * first. Which thread counted which piece changes the order of the summed
 * table's slots, never its counts, and the merge phase depends only on the
 * counts (ties go by ids), so the tokenizer is the same for any -j. */
static int count_pieces(const BpeTrainOpts *o, const Pretok *pre, unsigned threads, PieceMap *out,
                        uint64_t *n_docs, uint64_t *n_bytes, uint64_t *n_pieces, Progress *p,
                        DocStats *dst, Err *e)
{
    Counter *c = aligned_alloc(CACHE_LINE, threads * sizeof *c);
    DocReader *r = NULL;
    int rc = -1;
    if (!c) return err_set(e, "out of memory");
    memset(c, 0, threads * sizeof *c);
    for (unsigned k = 0; k < threads; k++) {
        c[k].o = o;
        if (pmap_init(&c[k].map) || (pre && !(c[k].cur = pretok_cursor_new(pre)))) {
            err_set(e, "out of memory");
            goto done;
        }
    }
    DocOpts doc = o->doc;
    doc.stats_out = dst;
    if (!(r = doc_open(&doc, o->inputs, o->n_inputs, e))) goto done;
    DocPassOpts po = { .threads = threads, .workers = c, .worker_size = sizeof *c, .work = count_doc,
                       .progress = p };
    DocPassCounts counts;
    if (docpass_run(r, &po, &counts, e)) goto done;
    int closed = doc_close(r, e);
    r = NULL;
    if (closed) goto done;
    *n_docs = counts.n_docs;
    *n_bytes = counts.n_text_bytes;
    *n_pieces = 0;
    for (unsigned k = 0; k < threads; k++) *n_pieces += c[k].n_pieces;
    for (unsigned k = 1; k < threads; k++) {
        PieceMap *m = &c[k].map;
        for (size_t i = 0; i <= m->mask; i++) {
            const PieceEnt *q = &m->slot[i];
            if (q->len && pmap_add(&c[0].map, m->keys.data + q->off, q->len, q->h, q->count)) {
                err_set(e, "out of memory");
                goto done;
            }
        }
        pmap_free(m);
        c[k].map = (PieceMap){ 0 };
    }
    *out = c[0].map;
    c[0].map = (PieceMap){ 0 };
    rc = 0;
done:
    doc_abort(r);
    for (unsigned k = 0; k < threads; k++) {
        pmap_free(&c[k].map);
        pretok_cursor_free(c[k].cur);
    }
    free(c);
    return rc;
}

/* ---- merging ---- */

typedef struct Word {
    uint64_t off; /* symbols[off .. off + len) */
    uint32_t len;
    uint64_t count;
} Word;

typedef struct WordList {
    uint32_t *w;
    uint32_t n, cap;
} WordList;

typedef struct HeapEnt {
    uint64_t count;
    uint32_t a, b;
} HeapEnt;

typedef struct Merger {
    Word *words;
    size_t n_words;
    uint32_t *sym;
    /* pairs: (a, b) -> index */
    uint64_t *pkey; /* a << 32 | b; UINT64_MAX empty */
    uint32_t *pidx;
    size_t pmask, n_pairs, cap_pairs;
    int64_t *count;     /* (n_pairs) signed: deltas are applied one at a time */
    uint64_t *pab;      /* (n_pairs) a << 32 | b */
    WordList *where;    /* (n_pairs) */
    uint32_t *touch;    /* merge number that last pushed the pair */
    HeapEnt *heap;
    size_t heap_len, heap_cap;
    uint32_t *stamp;    /* (n_words) merge number that last rewrote the word */
    uint32_t *tok_len;  /* bytes of each token id */
    size_t tok_cap;
} Merger;

static inline uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

static int pairs_grow(Merger *m)
{
    size_t n = m->pmask ? 2 * (m->pmask + 1) : (1u << 16);
    uint64_t *k = malloc(n * sizeof *k);
    uint32_t *v = malloc(n * sizeof *v);
    if (!k || !v) {
        free(k);
        free(v);
        return -1;
    }
    memset(k, 0xff, n * sizeof *k);
    for (size_t i = 0; m->pkey && i <= m->pmask; i++) {
        if (m->pkey[i] == UINT64_MAX) continue;
        size_t j = mix(m->pkey[i]) & (n - 1);
        while (k[j] != UINT64_MAX) j = (j + 1) & (n - 1);
        k[j] = m->pkey[i];
        v[j] = m->pidx[i];
    }
    free(m->pkey);
    free(m->pidx);
    m->pkey = k;
    m->pidx = v;
    m->pmask = n - 1;
    return 0;
}

/* Index of pair (a, b), created with count 0 when new; -1 out of memory. */
static int64_t pair_get(Merger *m, uint32_t a, uint32_t b)
{
    uint64_t key = (uint64_t)a << 32 | b;
    size_t i = mix(key) & m->pmask;
    for (; m->pkey[i] != UINT64_MAX; i = (i + 1) & m->pmask)
        if (m->pkey[i] == key) return m->pidx[i];
    if (m->n_pairs == m->cap_pairs) {
        size_t cap = m->cap_pairs ? 2 * m->cap_pairs : 65536;
        int64_t *c = realloc(m->count, cap * sizeof *c);
        if (c) m->count = c;
        WordList *w = realloc(m->where, cap * sizeof *w);
        if (w) m->where = w;
        uint32_t *t = realloc(m->touch, cap * sizeof *t);
        if (t) m->touch = t;
        uint64_t *ab = realloc(m->pab, cap * sizeof *ab);
        if (ab) m->pab = ab;
        if (!c || !w || !t || !ab) return -1;
        m->cap_pairs = cap;
    }
    uint32_t p = (uint32_t)m->n_pairs++;
    m->count[p] = 0;
    m->where[p] = (WordList){ 0 };
    m->touch[p] = 0;
    m->pab[p] = key;
    m->pkey[i] = key;
    m->pidx[i] = p;
    if (m->n_pairs * 2 > m->pmask && pairs_grow(m)) return -1;
    return p;
}

static int where_add(WordList *l, uint32_t w)
{
    if (l->n && l->w[l->n - 1] == w) return 0; /* the same word twice in a row */
    if (l->n == l->cap) {
        uint32_t cap = l->cap ? 2 * l->cap : 4;
        uint32_t *p = realloc(l->w, cap * sizeof *p);
        if (!p) return -1;
        l->w = p;
        l->cap = cap;
    }
    l->w[l->n++] = w;
    return 0;
}

/* Max-heap: higher count first, then lower (a, b). */
static int heap_before(const HeapEnt *x, const HeapEnt *y)
{
    if (x->count != y->count) return x->count > y->count;
    if (x->a != y->a) return x->a < y->a;
    return x->b < y->b;
}

static int heap_push(Merger *m, HeapEnt x)
{
    if (m->heap_len == m->heap_cap) {
        size_t cap = m->heap_cap ? 2 * m->heap_cap : 65536;
        HeapEnt *h = realloc(m->heap, cap * sizeof *h);
        if (!h) return -1;
        m->heap = h;
        m->heap_cap = cap;
    }
    size_t i = m->heap_len++;
    while (i && heap_before(&x, &m->heap[(i - 1) / 2])) {
        m->heap[i] = m->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    m->heap[i] = x;
    return 0;
}

static HeapEnt heap_pop(Merger *m)
{
    HeapEnt top = m->heap[0], x = m->heap[--m->heap_len];
    size_t i = 0, n = m->heap_len;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && heap_before(&m->heap[c + 1], &m->heap[c])) c++;
        if (!heap_before(&m->heap[c], &x)) break;
        m->heap[i] = m->heap[c];
        i = c;
    }
    if (n) m->heap[i] = x;
    return top;
}

static void merger_free(Merger *m)
{
    free(m->words);
    free(m->sym);
    free(m->pkey);
    free(m->pidx);
    free(m->count);
    for (size_t p = 0; p < m->n_pairs; p++) free(m->where[p].w);
    free(m->where);
    free(m->touch);
    free(m->pab);
    free(m->heap);
    free(m->stamp);
    free(m->tok_len);
}

/* Count change of pair (a, b) by delta words of weight `count`; a new
 * occurrence lists the word and marks the pair to be pushed. */
static int change(Merger *m, uint32_t a, uint32_t b, int delta, uint64_t count, uint32_t w,
                  uint32_t merge_no, uint32_t **touched, size_t *n_touched, size_t *cap_touched)
{
    int64_t p = pair_get(m, a, b);
    if (p < 0) return -1;
    m->count[p] += delta * (int64_t)count;
    if (delta > 0) {
        if (where_add(&m->where[p], w)) return -1;
        if (m->touch[p] != merge_no) {
            m->touch[p] = merge_no;
            if (*n_touched == *cap_touched) {
                size_t cap = *cap_touched ? 2 * *cap_touched : 1024;
                uint32_t *q = realloc(*touched, cap * sizeof *q);
                if (!q) return -1;
                *touched = q;
                *cap_touched = cap;
            }
            (*touched)[(*n_touched)++] = (uint32_t)p;
        }
    }
    return 0;
}

/* Units of a --classes file become the first merges, left to right ("A0":
 * A + 0), applied to every word before pairs are counted, so no learned merge
 * takes part of a unit, and encoding (lowest ranks first) rebuilds each unit
 * before anything else. */
static int seed_units(const BpeClasses *cls, Tokenizer *t, Merger *m, PieceMap *tokmap,
                      const int32_t *byte_id, const char *path, Err *e)
{
    Buf joined = { 0 };
    for (size_t u = 0; u < cls->n_units; u++) {
        const char *s = cls->units[u];
        int32_t cur = byte_id[(uint8_t)s[0]];
        for (size_t j = 1; s[j]; j++) {
            int32_t b = byte_id[(uint8_t)s[j]];
            if (cur < 0 || b < 0) {
                buf_free(&joined);
                return err_set(e, "%s: unit '%s' holds a byte the vocabulary lacks", err_name(path), s);
            }
            size_t la, lb;
            const char *pa = tok_bytes(t, (uint32_t)cur, &la), *pb = tok_bytes(t, (uint32_t)b, &lb);
            joined.len = 0;
            if (buf_append(&joined, pa, la) || buf_append(&joined, pb, lb)) goto oom;
            uint64_t h = hash64(joined.data, joined.len, 0);
            PieceEnt *have = pmap_find(tokmap, joined.data, joined.len, h);
            uint32_t nid;
            int dup = 0;
            for (uint32_t r = 0; have && r < t->n_merges; r++)
                dup |= t->merges[r].a == (uint32_t)cur && t->merges[r].b == (uint32_t)b;
            if (dup) { /* "A0" and "A1" share "A": that merge is there already */
                cur = (int32_t)have->count;
                continue;
            }
            if (tok_add_merge(t, (uint32_t)cur, (uint32_t)b, have ? (int64_t)have->count : -1, &nid, e)) {
                buf_free(&joined);
                return -1;
            }
            if (!have && pmap_add(tokmap, joined.data, joined.len, h, nid)) goto oom;
            for (size_t w = 0; w < m->n_words; w++) {
                uint32_t *sym = m->sym + m->words[w].off, n = m->words[w].len, out = 0;
                for (uint32_t i = 0; i < n; i++) {
                    if (i + 1 < n && sym[i] == (uint32_t)cur && sym[i + 1] == (uint32_t)b) {
                        sym[out++] = nid;
                        i++;
                    } else {
                        sym[out++] = sym[i];
                    }
                }
                m->words[w].len = out;
            }
            cur = (int32_t)nid;
        }
    }
    buf_free(&joined);
    return 0;
oom:
    buf_free(&joined);
    return err_set(e, "out of memory");
}

/* Write the trained tokenizer: bytes, merges, specials (HF order with
 * --hf-compat: specials, then the bytes seen; else bytes, merges, specials). */
int bpe_train(const BpeTrainOpts *o, Err *e)
{
    if (out_check(o->out, e)) return -1; /* the file is written at the end: refused now, not then */
    Progress p;
    progress_start(&p, "bpe", o->common.progress, 0);
    unsigned threads = o->common.threads ? o->common.threads : cli_cores();
    int rc = -1;
    Tokenizer *t = NULL;
    Pretok *pre = NULL;
    PieceMap pieces = { 0 }, tokmap = { 0 }; /* tokmap: token bytes -> id (in count) */
    Merger m = { 0 };
    uint32_t *touched = NULL;
    size_t n_touched = 0, cap_touched = 0;
    BpeClasses cls = { 0 };
    const char *regex = o->regex;
    if (o->classes) {
        if (bpe_classes_load(o->classes, &cls, e)) return -1;
        regex = cls.regex;
    }
    if (regex && !(pre = pretok_new(regex, e))) {
        Err inner = *e;
        err_set(e, "%s: %s", o->classes ? o->classes : "--pattern-regex", inner.msg);
        goto done;
    }
    uint64_t n_docs = 0, n_bytes = 0, n_pieces = 0;
    DocStats dst = { 0 };
    if (count_pieces(o, pre, threads, &pieces, &n_docs, &n_bytes, &n_pieces, &p, &dst, e)) goto done;

    /* The alphabet: all 256 bytes, or with --hf-compat those seen. */
    int seen[256] = { 0 };
    for (size_t i = 0; i <= pieces.mask; i++)
        if (pieces.slot[i].len)
            for (uint32_t k = 0; k < pieces.slot[i].len; k++)
                seen[(uint8_t)pieces.keys.data[pieces.slot[i].off + k]] = 1;
    int32_t byte_id[256];
    if (!(t = tok_new_empty(regex, e))) goto done;
    if (o->hf_compat)
        for (size_t k = 0; k < o->n_specials; k++)
            if (tok_add_special(t, o->specials[k], strlen(o->specials[k]), NULL, e)) goto done;
    for (unsigned pass = 0; pass < 2; pass++) /* stand-in code point order */
        for (unsigned b = 0; b < 256; b++) {
            uint32_t cp = tok_byte_char((uint8_t)b);
            if ((cp >= 256) != pass) continue;
            byte_id[b] = -1;
            if (o->hf_compat && !seen[b]) continue;
            char c = (char)b;
            uint32_t id;
            if (tok_add_token(t, &c, 1, TOK_NORMAL, &id, e)) goto done;
            byte_id[b] = (int32_t)id;
        }
    if (pmap_init(&tokmap)) goto oom;
    uint32_t target = o->vocab_size - (o->hf_compat ? 0 : (uint32_t)o->n_specials);

    /* Words: one per unique piece of two or more bytes. */
    size_t n_sym = 0;
    for (size_t i = 0; i <= pieces.mask; i++)
        if (pieces.slot[i].len > 1) {
            m.n_words++;
            n_sym += pieces.slot[i].len;
        }
    m.words = malloc((m.n_words ? m.n_words : 1) * sizeof *m.words);
    m.sym = malloc((n_sym ? n_sym : 1) * sizeof *m.sym);
    m.stamp = calloc(m.n_words ? m.n_words : 1, sizeof *m.stamp);
    if (!m.words || !m.sym || !m.stamp || pairs_grow(&m)) {
        err_set(e, "out of memory for %zu unique pieces", m.n_words);
        goto done;
    }
    size_t w = 0, at = 0;
    for (size_t i = 0; i <= pieces.mask; i++) {
        const PieceEnt *q = &pieces.slot[i];
        if (q->len < 2) continue;
        m.words[w] = (Word){ at, q->len, q->count };
        for (uint32_t k = 0; k < q->len; k++)
            m.sym[at + k] = (uint32_t)byte_id[(uint8_t)pieces.keys.data[q->off + k]];
        at += q->len;
        w++;
    }
    size_t n_unique = pieces.used;
    pmap_free(&pieces);
    pieces = (PieceMap){ 0 };
    if (seed_units(&cls, t, &m, &tokmap, byte_id, o->classes, e)) goto done;
    for (size_t i = 0; i < m.n_words; i++) {
        const uint32_t *s = m.sym + m.words[i].off;
        for (uint32_t k = 0; k + 1 < m.words[i].len; k++) {
            int64_t pi = pair_get(&m, s[k], s[k + 1]);
            if (pi < 0 || where_add(&m.where[pi], (uint32_t)i)) {
                err_set(e, "out of memory counting pairs");
                goto done;
            }
            m.count[pi] += (int64_t)m.words[i].count;
        }
    }
    /* Push every pair: walk the table to get (a, b) of each index. */
    for (size_t i = 0; i <= m.pmask; i++) {
        if (m.pkey[i] == UINT64_MAX) continue;
        uint32_t pi = m.pidx[i];
        if (m.count[pi] > 0 &&
            heap_push(&m, (HeapEnt){ (uint64_t)m.count[pi], (uint32_t)(m.pkey[i] >> 32), (uint32_t)m.pkey[i] }))
            goto oom;
    }
    progress_end(&p);

    /* Merge. */
    uint32_t n_merged = 0;
    Progress pm;
    progress_start(&pm, "bpe", o->common.progress, target > t->n_vocab ? target - t->n_vocab : 0);
    Buf joined = { 0 };
    while (t->n_vocab < target && m.heap_len) {
        HeapEnt top = heap_pop(&m);
        int64_t pi = pair_get(&m, top.a, top.b);
        if (pi < 0) goto oom;
        if ((int64_t)top.count != m.count[pi]) { /* stale: put it back with today's count */
            if (m.count[pi] > 0 && heap_push(&m, (HeapEnt){ (uint64_t)m.count[pi], top.a, top.b }))
                goto oom;
            continue;
        }
        if (top.count < o->min_frequency || top.count == 0) break;
        size_t la, lb;
        const char *pa = tok_bytes(t, top.a, &la), *pb = tok_bytes(t, top.b, &lb);
        if (o->max_token_length && la + lb > o->max_token_length) {
            m.count[pi] = 0; /* never merged; drop it for good */
            continue;
        }
        joined.len = 0;
        if (buf_append(&joined, pa, la) || buf_append(&joined, pb, lb)) goto oom;
        /* Two merges can make the same bytes ("a"+"bc", "ab"+"c"): one token. */
        uint64_t jh = hash64(joined.data, joined.len, 0);
        PieceEnt *have = pmap_find(&tokmap, joined.data, joined.len, jh);
        int64_t existing = have ? (int64_t)have->count : -1;
        uint32_t nid;
        if (tok_add_merge(t, top.a, top.b, existing, &nid, e)) goto done;
        if (existing < 0 && pmap_add(&tokmap, joined.data, joined.len, jh, nid)) goto oom;
        n_merged++;
        uint32_t merge_no = n_merged;
        WordList list = m.where[pi];
        m.where[pi] = (WordList){ 0 };
        n_touched = 0;
        for (uint32_t k = 0; k < list.n; k++) {
            uint32_t wi = list.w[k];
            if (m.stamp[wi] == merge_no) continue;
            m.stamp[wi] = merge_no;
            Word *wd = &m.words[wi];
            uint32_t *s = m.sym + wd->off, n = wd->len, out = 0;
            for (uint32_t i = 0; i < n; i++) {
                if (i + 1 < n && s[i] == top.a && s[i + 1] == top.b) {
                    /* neighbours: out-1 (already written) and i+2 */
                    if (out > 0) {
                        if (change(&m, s[out - 1], top.a, -1, wd->count, wi, merge_no, &touched, &n_touched, &cap_touched) ||
                            change(&m, s[out - 1], nid, +1, wd->count, wi, merge_no, &touched, &n_touched, &cap_touched))
                            goto oom;
                    }
                    if (i + 2 < n) {
                        if (change(&m, top.b, s[i + 2], -1, wd->count, wi, merge_no, &touched, &n_touched, &cap_touched) ||
                            change(&m, nid, s[i + 2], +1, wd->count, wi, merge_no, &touched, &n_touched, &cap_touched))
                            goto oom;
                    }
                    s[out++] = nid;
                    i++;
                } else {
                    s[out++] = s[i];
                }
            }
            wd->len = out;
        }
        free(list.w);
        m.count[pi] = 0; /* every occurrence is gone (overlaps like "a a a" counted down too) */
        for (size_t k = 0; k < n_touched; k++) {
            uint32_t q = touched[k];
            if (m.count[q] <= 0) continue;
            uint64_t key = m.pab[q];
            if (heap_push(&m, (HeapEnt){ (uint64_t)m.count[q], (uint32_t)(key >> 32), (uint32_t)key }))
                goto oom;
        }
        progress_update(&pm, n_merged, n_bytes, n_merged, "merges");
    }
    buf_free(&joined);
    progress_end(&pm);
    if (!o->hf_compat)
        for (size_t k = 0; k < o->n_specials; k++)
            if (tok_add_special(t, o->specials[k], strlen(o->specials[k]), NULL, e)) goto done;
    if (tok_finish(t, e) || tok_save_json(t, o->out, e)) goto done;
    double secs = progress_elapsed(&p);
    char files[512];
    doc_summary(&dst, 0, files, sizeof files);
    progress_summary(&p,
                     "trained %s: %u ids (%u merges, %zu special%s) from %" PRIu64 " documents, %.1f MB, %" PRIu64
                     " pieces (%zu unique) in %.2f s, %.0f merges/s%s%s",
                     err_name(o->out), t->n_vocab, t->n_merges, o->n_specials, o->n_specials == 1 ? "" : "s", n_docs, (double)n_bytes / 1e6,
                     n_pieces, n_unique, secs, progress_elapsed(&pm) > 0 ? n_merged / progress_elapsed(&pm) : 0.0,
                     t->n_vocab < o->vocab_size ? " (stopped early: no pair left at --min-frequency)" : "", files);
    rc = 0;
    goto done;
oom:
    err_set(e, "out of memory");
done:
    pmap_free(&pieces);
    pmap_free(&tokmap);
    merger_free(&m);
    free(touched);
    bpe_classes_free(&cls);
    pretok_free(pre);
    tok_free(t);
    return rc;
}
