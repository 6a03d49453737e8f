/* 13-gram decontamination as in the GPT-3 paper's appendix C. Words are the
 * white-space-separated tokens of a text, lowercased, with punctuation and
 * symbols (Unicode P* and S*) removed; a token left empty is no word. Every
 * gram of the evaluation sets goes in a hash set (XXH3-64 of its words joined
 * by spaces, with a bit per set). With --max-doc-freq N a first pass counts, per
 * evaluation gram, the training documents holding it; grams in more than N are
 * ignored. Files are read twice for that; stdin is copied to a temporary file
 * on the first pass. Across shards that pass is a map (`decontam count`, a
 * count file a shard) and a reduce (--doc-freq: the files summed), so that each
 * shard sees the whole corpus's counts. Character counts (--window,
 * --min-piece) are code points. Both passes over the training documents find
 * the grams on -j threads (lib/docpass.h) and count, cut and write in input
 * order on one; the evaluation sets are read on one. */
#include "dedup.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <utf8proc.h>

#include "hash.h"
#include "iofile.h"
#include "progress.h"
#include "utf8.h"

/* ---- the gram set ---- */

typedef struct GramSlot {
    uint64_t key;
    uint64_t sets;     /* bit s: in evaluation set s; 0: a free slot */
    uint32_t n_docs;   /* training documents holding it (first pass) */
    uint32_t last_doc; /* the last document counted, + 1 */
} GramSlot;

typedef struct GramSet {
    GramSlot *slot;
    size_t cap, n;
} GramSet;

static int gram_add(GramSet *t, uint64_t key, uint64_t set_bit)
{
    if ((t->n + 1) * 4 > t->cap * 3) {
        size_t cap = t->cap ? t->cap * 2 : 4096;
        GramSlot *s = calloc(cap, sizeof *s);
        if (!s) return -1;
        for (size_t i = 0; i < t->cap; i++) {
            if (!t->slot[i].sets) continue;
            size_t j = t->slot[i].key & (cap - 1);
            while (s[j].sets) j = (j + 1) & (cap - 1);
            s[j] = t->slot[i];
        }
        free(t->slot);
        t->slot = s;
        t->cap = cap;
    }
    size_t j = key & (t->cap - 1);
    for (; t->slot[j].sets; j = (j + 1) & (t->cap - 1))
        if (t->slot[j].key == key) {
            t->slot[j].sets |= set_bit;
            return 0;
        }
    t->slot[j] = (GramSlot){ key, set_bit, 0, 0 };
    t->n++;
    return 0;
}

static GramSlot *gram_find(const GramSet *t, uint64_t key)
{
    if (!t->cap) return NULL;
    for (size_t j = key & (t->cap - 1); t->slot[j].sets; j = (j + 1) & (t->cap - 1))
        if (t->slot[j].key == key) return &t->slot[j];
    return NULL;
}

/* ---- words ---- */

typedef struct Words {
    size_t *start, *end;  /* (n) byte spans in the text */
    size_t *noff;         /* (n+1) offsets into norm; words joined by one space */
    size_t n, cap;
    Buf norm;
} Words;

static int is_white(uint32_t cp)
{
    if (cp < 0x80) return cp == ' ' || (cp >= 9 && cp <= 13);
    utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);
    return c == UTF8PROC_CATEGORY_ZS || c == UTF8PROC_CATEGORY_ZL || c == UTF8PROC_CATEGORY_ZP;
}

static int is_punct(uint32_t cp)
{
    if (cp < 0x80)
        return !((cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z'));
    switch (utf8proc_category((utf8proc_int32_t)cp)) {
    case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE: case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO: case UTF8PROC_CATEGORY_SM: case UTF8PROC_CATEGORY_SC:
    case UTF8PROC_CATEGORY_SK: case UTF8PROC_CATEGORY_SO: case UTF8PROC_CATEGORY_CC:
        return 1;
    default: return 0;
    }
}

static size_t decode(const char *s, size_t n, size_t i, uint32_t *cp)
{
    *cp = (unsigned char)s[i];
    if (*cp < 0x80) return 1;
    size_t len = utf8_decode(s + i, n - i, cp);
    if (!len) {
        *cp = 0xFFFD;
        return 1;
    }
    return len;
}

/* Split s[0..n) into words (see the top of the file). 0 or -1 (memory). */
static int decontam_words(const char *s, size_t n, Words *w)
{
    w->n = 0;
    w->norm.len = 0;
    size_t i = 0;
    uint32_t cp;
    while (i < n) {
        size_t len = decode(s, n, i, &cp);
        if (is_white(cp)) {
            i += len;
            continue;
        }
        size_t start = i, mark = w->norm.len;
        if (w->n && buf_putc(&w->norm, ' ')) return -1;
        size_t word_at = w->norm.len;
        while (i < n) {
            len = decode(s, n, i, &cp);
            if (is_white(cp)) break;
            if (!is_punct(cp)) {
                char enc[4];
                uint32_t lc = cp < 0x80 ? (cp >= 'A' && cp <= 'Z' ? cp + 32 : cp)
                                        : (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp);
                if (buf_append(&w->norm, enc, utf8_encode(lc, enc))) return -1;
            }
            i += len;
        }
        if (w->norm.len == word_at) { /* only punctuation: no word */
            w->norm.len = mark;
            continue;
        }
        if (w->n + 2 > w->cap) {
            size_t cap = w->cap ? w->cap * 2 : 1024;
            size_t *a = realloc(w->start, cap * sizeof *a), *b, *c;
            if (!a) return -1;
            w->start = a;
            if (!(b = realloc(w->end, cap * sizeof *b))) return -1;
            w->end = b;
            if (!(c = realloc(w->noff, (cap + 1) * sizeof *c))) return -1;
            w->noff = c;
            w->cap = cap;
        }
        w->start[w->n] = start;
        w->end[w->n] = i;
        w->noff[w->n] = word_at;
        w->n++;
    }
    if (w->noff) w->noff[w->n] = w->norm.len + 1; /* as if a space followed the last word */
    return 0;
}

static void words_free(Words *w)
{
    free(w->start);
    free(w->end);
    free(w->noff);
    buf_free(&w->norm);
}

/* Hash of the gram starting at word i (i + g <= w->n). */
static uint64_t gram_hash(const Words *w, size_t i, unsigned g)
{
    size_t a = w->noff[i], b = w->noff[i + g] - 1;
    return hash64(w->norm.data + a, b - a, 0);
}

/* ---- the run ---- */

/* Code points in s[a..b). */
static size_t n_chars(const char *s, size_t a, size_t b)
{
    size_t k = 0;
    for (size_t i = a; i < b; i++) k += ((unsigned char)s[i] & 0xC0) != 0x80;
    return k;
}

static size_t back_chars(const char *s, size_t pos, size_t k)
{
    while (k && pos) {
        pos--;
        while (pos && ((unsigned char)s[pos] & 0xC0) == 0x80) pos--;
        k--;
    }
    return pos;
}

static size_t fwd_chars(const char *s, size_t n, size_t pos, size_t k)
{
    while (k && pos < n) {
        pos++;
        while (pos < n && ((unsigned char)s[pos] & 0xC0) == 0x80) pos++;
        k--;
    }
    return pos;
}

typedef struct Span {
    size_t a, b;
    uint64_t sets;
} Span;

typedef struct Decon {
    const DecontamOpts *o;
    GramSet grams;
    Words w; /* the evaluation sets' (the passes' are their threads') */
    Buf extra, ref;
    DocWriter *out, *rej, *rem;
    DocWriter *spool; /* the first pass's copy of stdin; NULL: none */
    DecontamCounts *c;
    int spooled; /* the documents come from stdin's spool: name them "-" */
    uint64_t n_counted; /* documents the first pass read */
} Decon;

/* What a pass finds in one training document, on any of -j threads (the
 * document pass's slot, lib/docpass.h); the decisions and counts are made from
 * it in input order. */
typedef struct Hits {
    Span *cut;            /* the run: the spans to cut, merged, in text order */
    size_t n_cut, cap_cut;
    uint64_t touched;     /* the run: the evaluation sets whose grams it holds */
    size_t *found;        /* the first pass: the slots in grams of the evaluation */
    size_t n_found, cap_found; /* grams it holds (a gram as often as it occurs) */
} Hits;

static void hits_free(void *slot)
{
    Hits *h = slot;
    free(h->cut);
    free(h->found);
}

static int lowest_set(uint64_t sets)
{
    return sets ? __builtin_ctzll(sets) : 0;
}

/* ",\"doc\":\"PATH:LINE\"" style reference into r->ref (NUL-terminated). */
static int doc_ref(Decon *r, const Doc *d, uint64_t lineno)
{
    char num[24];
    const char *p = d->path && !r->spooled ? d->path : "-";
    Buf tmp = { 0 };
    snprintf(num, sizeof num, ":%" PRIu64, lineno);
    r->ref.len = 0;
    int rc = buf_append(&tmp, p, strlen(p)) || buf_append(&tmp, num, strlen(num)) ||
             json_escape(&r->ref, tmp.data, tmp.len);
    buf_free(&tmp);
    return rc ? -1 : 0;
}

/* The run's work on one document: where it holds evaluation grams, as the
 * spans to cut (a gram and --window characters on each side, overlapping
 * spans merged), and which sets they come from. */
static int find_cuts(void *ctx, void *worker, const Doc *d, void *slot, Err *e)
{
    const Decon *r = ctx;
    const DecontamOpts *o = r->o;
    Words *w = worker;
    Hits *h = slot;
    if (decontam_words(d->text, d->text_len, w)) return err_set(e, "out of memory");
    size_t n_cut = 0;
    uint64_t touched = 0;
    const char *t = d->text;
    size_t n = d->text_len;
    for (size_t i = 0; i + o->gram <= w->n; i++) {
        const GramSlot *g = gram_find(&r->grams, gram_hash(w, i, o->gram));
        if (!g || (o->max_doc_freq && g->n_docs > o->max_doc_freq)) continue;
        touched |= g->sets;
        size_t a = back_chars(t, w->start[i], o->window);
        size_t b = fwd_chars(t, n, w->end[i + o->gram - 1], o->window);
        if (n_cut && a <= h->cut[n_cut - 1].b) { /* starts and ends only grow with i */
            h->cut[n_cut - 1].b = b;
            h->cut[n_cut - 1].sets |= g->sets;
            continue;
        }
        if (n_cut == h->cap_cut) {
            size_t cap = h->cap_cut ? h->cap_cut * 2 : 64;
            Span *s = realloc(h->cut, cap * sizeof *s);
            if (!s) return err_set(e, "out of memory");
            h->cut = s;
            h->cap_cut = cap;
        }
        h->cut[n_cut++] = (Span){ a, b, g->sets };
    }
    h->n_cut = n_cut;
    h->touched = touched;
    return 0;
}

/* One training document, with its cuts: write it whole, as pieces, or reject it. */
static int one_doc(Decon *r, const Doc *d, const Hits *h, uint64_t lineno, DecontamCounts *c, Err *e)
{
    const DecontamOpts *o = r->o;
    const Span *cut = h->cut;
    size_t n_cut = h->n_cut;
    uint64_t touched = h->touched;
    const char *t = d->text;
    size_t n = d->text_len;
    for (size_t s = 0; s < o->n_evals; s++)
        if (touched >> s & 1) c->touched[s]++;
    if (!n_cut) {
        c->kept++;
        return docw_write(r->out, d, NULL, 0, NULL, e);
    }
    /* The pieces are the gaps between the cuts. */
    size_t n_pieces = 0, n_long = 0;
    for (size_t k = 0; k <= n_cut; k++) {
        size_t a = k ? cut[k - 1].b : 0, b = k < n_cut ? cut[k].a : n;
        if (a < b) {
            n_pieces++;
            n_long += n_chars(t, a, b) >= o->min_piece;
        }
    }
    if (n_pieces > o->max_pieces || !n_long) {
        const char *why = n_pieces > o->max_pieces ? "over-split" : "no-long-piece";
        if (n_pieces > o->max_pieces) c->over_split++;
        else c->too_short++;
        c->dropped++;
        if (!r->rej) return 0;
        const char *ev = o->evals[lowest_set(touched)];
        r->extra.len = 0;
        char num[64];
        snprintf(num, sizeof num, ",\"decontam_pieces\":%zu", n_pieces);
        if (buf_append(&r->extra, "\"dedup_reason\":\"decontam\",\"dup_of\":", 35) ||
            json_escape(&r->extra, ev, strlen(ev)) ||
            buf_append(&r->extra, ",\"decontam_why\":\"", 17) || buf_append(&r->extra, why, strlen(why)) ||
            buf_putc(&r->extra, '"') || buf_append(&r->extra, num, strlen(num)) || buf_putc(&r->extra, 0))
            return err_set(e, "out of memory");
        return docw_write(r->rej, d, NULL, 0, r->extra.data, e);
    }
    c->cut++;
    if (r->rem && doc_ref(r, d, lineno)) return err_set(e, "out of memory");
    Doc plain = { 0 }; /* --removed lines are new documents: {"text":...,"doc":...} */
    size_t piece = 0;
    for (size_t k = 0; k <= n_cut; k++) {
        size_t a = k ? cut[k - 1].b : 0, b = k < n_cut ? cut[k].a : n;
        if (a < b) {
            int is_long = n_chars(t, a, b) >= o->min_piece;
            if (is_long) {
                char num[48];
                snprintf(num, sizeof num, "\"decontam_piece\":%zu", ++piece);
                if (docw_write(r->out, d, t + a, b - a, num, e)) return -1;
                c->pieces++;
            } else if (r->rem) {
                r->extra.len = 0;
                if (buf_append(&r->extra, "\"doc\":", 6) || buf_append(&r->extra, r->ref.data, r->ref.len) ||
                    buf_append(&r->extra, ",\"removed\":\"short\"", 18) || buf_putc(&r->extra, 0))
                    return err_set(e, "out of memory");
                plain.text = t + a;
                plain.text_len = b - a;
                if (docw_write(r->rem, &plain, NULL, 0, r->extra.data, e)) return -1;
            }
        }
        if (k < n_cut && r->rem) {
            const char *ev = o->evals[lowest_set(cut[k].sets)];
            r->extra.len = 0;
            if (buf_append(&r->extra, "\"doc\":", 6) || buf_append(&r->extra, r->ref.data, r->ref.len) ||
                buf_append(&r->extra, ",\"removed\":\"match\",\"eval\":", 26) ||
                json_escape(&r->extra, ev, strlen(ev)) || buf_putc(&r->extra, 0))
                return err_set(e, "out of memory");
            plain.text = t + cut[k].a;
            plain.text_len = cut[k].b - cut[k].a;
            if (docw_write(r->rem, &plain, NULL, 0, r->extra.data, e)) return -1;
        }
    }
    return 0;
}

static int cut_emit(void *ctx, const Doc *d, void *slot, Err *e)
{
    Decon *r = ctx;
    if (d->skipped) /* a file, not a document */
        return docw_write_skipped(r->rej, d, "dedup_reason", e);
    r->c->in++;
    /* a spooled document's line is its ordinal among stdin's documents */
    return one_doc(r, d, slot, d->lineno, r->c, e);
}

/* The first pass's work on one document: the evaluation grams it holds. */
static int find_grams(void *ctx, void *worker, const Doc *d, void *slot, Err *e)
{
    const Decon *r = ctx;
    Words *w = worker;
    Hits *h = slot;
    if (decontam_words(d->text, d->text_len, w)) return err_set(e, "out of memory");
    h->n_found = 0;
    for (size_t i = 0; i + r->o->gram <= w->n; i++) {
        const GramSlot *g = gram_find(&r->grams, gram_hash(w, i, r->o->gram));
        if (!g) continue;
        if (h->n_found == h->cap_found) {
            size_t cap = h->cap_found ? h->cap_found * 2 : 64;
            size_t *f = realloc(h->found, cap * sizeof *f);
            if (!f) return err_set(e, "out of memory");
            h->found = f;
            h->cap_found = cap;
        }
        h->found[h->n_found++] = (size_t)(g - r->grams.slot);
    }
    return 0;
}

/* Each evaluation gram the document holds counts it once. */
static int count_emit(void *ctx, const Doc *d, void *slot, Err *e)
{
    Decon *r = ctx;
    const Hits *h = slot;
    if (d->skipped) return 0;
    uint32_t doc_no = (uint32_t)++r->n_counted;
    for (size_t k = 0; k < h->n_found; k++) {
        GramSlot *g = &r->grams.slot[h->found[k]];
        if (g->last_doc != doc_no) {
            g->last_doc = doc_no;
            if (g->n_docs < UINT32_MAX) g->n_docs++;
        }
    }
    return r->spool ? docw_write(r->spool, d, NULL, 0, NULL, e) : 0;
}

/* A pass over in: work on -j threads, emit in input order (lib/docpass.h). */
static int decon_pass(Decon *r, DocReader *in, DocWorkFn work, DocEmitFn emit, int keep_raw,
                      Progress *progress, Err *e)
{
    unsigned threads = r->o->common.threads ? r->o->common.threads : cli_cores();
    Words *w = calloc(threads, sizeof *w);
    if (!w) return err_set(e, "out of memory");
    DocPassOpts po = { .threads = threads, .workers = w, .worker_size = sizeof *w,
                       .slot_size = sizeof(Hits), .slot_free = hits_free, .work = work,
                       .emit = emit, .ctx = r, .keep_raw = keep_raw, .progress = progress };
    DocPassCounts counts;
    int rc = docpass_run(in, &po, &counts, e);
    for (unsigned t = 0; t < threads; t++) words_free(&w[t]);
    free(w);
    return rc;
}

static int load_evals(Decon *r, Err *e)
{
    const DecontamOpts *o = r->o;
    DocOpts eo = { 0 };
    for (size_t s = 0; s < o->n_evals; s++) {
        DocReader *in = doc_open(&eo, o->evals + s, 1, e);
        if (!in) return -1;
        Doc d;
        int rc;
        uint64_t n_docs = 0, n_grams = 0;
        while ((rc = doc_next(in, &d, e)) == 1) {
            int bad = decontam_words(d.text, d.text_len, &r->w);
            n_docs++;
            for (size_t i = 0; !bad && i + o->gram <= r->w.n; i++, n_grams++)
                bad = gram_add(&r->grams, gram_hash(&r->w, i, o->gram), 1ull << s);
            if (bad) {
                rc = err_set(e, "out of memory");
                break;
            }
        }
        if (rc < 0) {
            doc_abort(in);
            return -1;
        }
        if (doc_close(in, e)) return -1;
        if (!n_grams) { /* an empty or wrong file, not a clean corpus: say so */
            Err w;
            err_set(&w, "warning: %s: no %u-gram in its %" PRIu64 " documents: it can remove nothing", o->evals[s],
                    o->gram, n_docs);
            err_warn(&w);
        }
    }
    return 0;
}

/* The first pass: per evaluation gram, how many training documents hold it.
 * With spool, the documents are also copied there (stdin is read only once).
 * --bad-lines is written by the pass that reads the input last: the second,
 * unless it reads the spool (good documents only). */
static int count_pass(Decon *r, const char *const *paths, size_t n, const char *spool, Err *e)
{
    const DecontamOpts *o = r->o;
    DocOpts opts = o->doc;
    if (!spool && !o->count_only) opts.bad_lines = NULL;
    DocReader *in = doc_open(&opts, paths, n, e);
    if (!in) return -1;
    r->spool = spool ? docw_open(spool, &o->doc, e) : NULL;
    r->n_counted = 0;
    if ((spool && !r->spool) || decon_pass(r, in, find_grams, count_emit, spool != NULL, NULL, e)) {
        doc_abort(in);
        docw_abort(r->spool);
        r->spool = NULL;
        return -1;
    }
    DocWriter *sp = r->spool;
    r->spool = NULL;
    if (doc_close(in, e)) {
        docw_abort(sp);
        return -1;
    }
    return sp ? docw_close(sp, e) : 0;
}

/* ---- count files: the first pass as a map (a file a shard) and a reduce
 * (the files summed), as dedup's sig | sort | cluster is for dedup ---- */

/* An order-free digest of the evaluation grams' keys: a count file made with
 * other --eval sets or another --gram is refused. */
static uint64_t grams_digest(const GramSet *t)
{
    uint64_t d = 0;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slot[i].sets) d += hash64(&t->slot[i].key, sizeof t->slot[i].key, 0);
    return d;
}

static void count_header(const Decon *r, char *out, size_t n)
{
    snprintf(out, n, "!\tdecontam-count gram=%u grams=%zu keys=%016" PRIx64, r->o->gram, r->grams.n,
             grams_digest(&r->grams));
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The count file (see decontam_run in dedup.h) of the first pass, to o->out. */
static int write_counts(const Decon *r, uint64_t *n_found, Err *e)
{
    size_t n = 0;
    uint64_t *keys = malloc((r->grams.n ? r->grams.n : 1) * sizeof *keys);
    if (!keys) return err_set(e, "out of memory");
    for (size_t i = 0; i < r->grams.cap; i++)
        if (r->grams.slot[i].sets && r->grams.slot[i].n_docs) keys[n++] = r->grams.slot[i].key;
    qsort(keys, n, sizeof *keys, cmp_u64); /* the same bytes whatever the table's order */
    *n_found = n;
    OutFile *out = out_open(r->o->out, e);
    if (!out) {
        free(keys);
        return -1;
    }
    char line[128];
    count_header(r, line, sizeof line - 1);
    strcat(line, "\n");
    int rc = out_write(out, line, strlen(line), e);
    for (size_t i = 0; !rc && i < n; i++) {
        int len = snprintf(line, sizeof line, "%016" PRIx64 "\t%" PRIu32 "\n", keys[i],
                           gram_find(&r->grams, keys[i])->n_docs);
        rc = out_write(out, line, (size_t)len, e);
    }
    free(keys);
    if (rc) {
        out_abort(out);
        return -1;
    }
    return out_close(out, e);
}

/* --doc-freq: the count files of the shards, summed into each gram's n_docs
 * (saturating, as the first pass counts). */
static int read_counts(Decon *r, Err *e)
{
    const DecontamOpts *o = r->o;
    char want[128];
    count_header(r, want, sizeof want);
    for (size_t f = 0; f < o->n_doc_freq; f++) {
        const char *path = o->doc_freq[f];
        InFile *in = in_open(path, 4096, e);
        if (!in) return -1;
        const char *line;
        size_t len;
        uint64_t lineno = 0;
        int rc;
        while ((rc = in_line(in, &line, &len, e)) == 1) {
            lineno++;
            if (lineno == 1 || (len && line[0] == '!')) { /* count files cat'ed: a header each */
                if (len != strlen(want) || memcmp(line, want, len)) {
                    rc = err_at(e, path, lineno, "not a count file of these --eval sets with --gram %u "
                                                 "(dedup decontam count makes one)", o->gram);
                    break;
                }
                continue;
            }
            uint64_t key = 0, n_docs = 0;
            size_t i = 0;
            for (; i < 16 && i < len; i++) {
                int c = line[i], v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
                if (v < 0) break;
                key = key << 4 | (uint64_t)v;
            }
            int ok = i == 16 && i + 1 < len && line[i] == '\t';
            for (i++; ok && i < len; i++) {
                if (line[i] < '0' || line[i] > '9' || n_docs > UINT32_MAX) ok = 0;
                else n_docs = n_docs * 10 + (uint64_t)(line[i] - '0');
            }
            GramSlot *g = ok ? gram_find(&r->grams, key) : NULL;
            if (!g) {
                rc = err_at(e, path, lineno, ok ? "%016" PRIx64 " is no evaluation gram" : "expected KEY<tab>COUNT",
                            key);
                break;
            }
            uint64_t sum = g->n_docs + n_docs;
            g->n_docs = sum > UINT32_MAX ? UINT32_MAX : (uint32_t)sum;
        }
        if (rc == 0 && !lineno) rc = err_at(e, path, 1, "empty: not a count file");
        in_close(in);
        if (rc < 0) return -1;
    }
    return 0;
}

void decontam_counts_free(DecontamCounts *c)
{
    free(c->touched);
    c->touched = NULL;
}

int decontam_run(const DecontamOpts *o, const char *const *paths, size_t n, DecontamCounts *c,
                 Err *e)
{
    memset(c, 0, sizeof *c);
    /* the outputs open after the first pass: what they would refuse, refused now */
    if (out_check(o->out, e) || out_check(o->rejects, e) || out_check(o->removed, e)) return -1;
    if (!(c->touched = calloc(o->n_evals ? o->n_evals : 1, sizeof *c->touched)))
        return err_set(e, "out of memory");
    Decon r = { .o = o, .c = c };
    char spool_dir[64] = "", spool[96] = "";
    DocReader *in = NULL;
    DocOpts spool_opts = o->doc;
    const DocOpts *pass2_opts = &o->doc;
    DocOpts din; /* *pass2_opts, and files skipped as binary come through, for --rejects */
    const char *spool_path[1];
    int from_stdin = !n || (n == 1 && !strcmp(paths[0], "-"));
    if (!from_stdin)
        for (size_t i = 0; i < n; i++)
            if (!strcmp(paths[i], "-"))
                return err_set(e, "stdin ('-') can be read only once: give it alone, or save it to a file");
    Progress p;
    progress_start(&p, "dedup decontam", o->common.progress, 0);
    if (load_evals(&r, e)) goto fail;
    c->eval_grams = r.grams.n;
    if (o->count_only) { /* the map: this shard's counts, and no more */
        uint64_t n_found = 0;
        if (count_pass(&r, paths, n, NULL, e) || write_counts(&r, &n_found, e)) goto fail;
        progress_end(&p);
        progress_summary(&p, "%" PRIu64 " in; %" PRIu64 " of %" PRIu64 " eval %u-grams found in them",
                         r.n_counted, n_found, c->eval_grams, o->gram);
        c->in = r.n_counted;
        free(r.grams.slot);
        words_free(&r.w);
        return 0;
    }
    if (o->max_doc_freq && o->n_doc_freq) { /* the reduce: the shards' counts summed */
        if (read_counts(&r, e)) goto fail;
        for (size_t i = 0; i < r.grams.cap; i++)
            if (r.grams.slot[i].sets && r.grams.slot[i].n_docs > o->max_doc_freq) c->frequent_grams++;
    } else if (o->max_doc_freq) {
        if (from_stdin) {
            const char *tmp = getenv("TMPDIR");
            snprintf(spool_dir, sizeof spool_dir, "%s/dedup-XXXXXX", tmp && strlen(tmp) < 40 ? tmp : "/tmp");
            if (!mkdtemp(spool_dir)) {
                err_sys(e, spool_dir, "cannot make a temporary folder");
                spool_dir[0] = 0;
                goto fail;
            }
            snprintf(spool, sizeof spool, "%s/stdin.jsonl", spool_dir);
        }
        if (count_pass(&r, paths, n, spool[0] ? spool : NULL, e)) goto fail;
        for (size_t i = 0; i < r.grams.cap; i++)
            if (r.grams.slot[i].sets && r.grams.slot[i].n_docs > o->max_doc_freq) c->frequent_grams++;
        if (spool[0]) {
            spool_path[0] = spool;
            paths = spool_path;
            n = 1;
            spool_opts.format = DOC_JSONL;
            r.spooled = 1;
            spool_opts.sep = NULL;
            spool_opts.bad_lines = NULL; /* the first pass wrote them */
            pass2_opts = &spool_opts;
        }
    }
    din = *pass2_opts;
    din.report_skipped = o->rejects != NULL;
    if (!(in = doc_open(&din, paths, n, e))) goto fail;
    if (!(r.out = docw_open(o->out, &o->doc, e))) goto fail;
    if (o->rejects && !(r.rej = docw_open(o->rejects, &o->doc, e))) goto fail;
    if (o->removed && !(r.rem = docw_open(o->removed, NULL, e))) goto fail;
    if (decon_pass(&r, in, find_cuts, cut_emit, 1, &p, e)) goto fail;
    int rc;
    c->bad = doc_stats(in)->n_bad;
    char files[512]; /* bad lines and files, and the files read each way */
    doc_summary(doc_stats(in), 1, files, sizeof files);
    if (r.rem) {
        rc = docw_close(r.rem, e);
        r.rem = NULL;
        if (rc) goto fail;
    }
    if (r.rej) {
        rc = docw_close(r.rej, e);
        r.rej = NULL;
        if (rc) goto fail;
    }
    rc = docw_close(r.out, e);
    r.out = NULL;
    if (rc) goto fail;
    /* --bad-lines last: a failure before this removes it with the rest. */
    rc = doc_close(in, e);
    in = NULL;
    if (rc) goto fail;
    progress_end(&p);
    {
        Buf per = { 0 };
        for (size_t s = 0; s < o->n_evals; s++) {
            char line[64];
            snprintf(line, sizeof line, " touched %" PRIu64 " docs", c->touched[s]);
            if ((s && buf_append(&per, ", ", 2)) || buf_append(&per, o->evals[s], strlen(o->evals[s])) ||
                buf_append(&per, line, strlen(line)))
                break;
        }
        buf_putc(&per, 0);
        progress_summary(&p,
                         "%" PRIu64 " in = %" PRIu64 " kept whole + %" PRIu64 " cut (into %" PRIu64
                         " pieces) + %" PRIu64 " dropped (%" PRIu64 " over-split, %" PRIu64
                         " no piece long enough)%s; %" PRIu64
                         " eval %u-grams, %" PRIu64 " ignored as frequent; %s",
                         c->in, c->kept, c->cut, c->pieces, c->dropped, c->over_split, c->too_short,
                         files, c->eval_grams, o->gram, c->frequent_grams, per.data ? per.data : "");
        buf_free(&per);
    }
    if (spool[0]) unlink(spool);
    if (spool_dir[0]) rmdir(spool_dir);
    free(r.grams.slot);
    words_free(&r.w);
    buf_free(&r.extra), buf_free(&r.ref);
    return 0;
fail:
    doc_abort(in);
    docw_abort(r.out);
    docw_abort(r.rej);
    docw_abort(r.rem);
    if (spool[0]) unlink(spool);
    if (spool_dir[0]) rmdir(spool_dir);
    free(r.grams.slot);
    words_free(&r.w);
    buf_free(&r.extra), buf_free(&r.ref);
    return -1;
}
