/* The streaming keep-first run: each document is compared only with the
 * documents kept before it (exact hash first, then LSH bands, then with
 * --verify the Jaccard, exact or estimated), kept or dropped, and only kept
 * documents enter the tables. Its keys are computed on -j threads (the
 * document pass, lib/docpass.h, which `sig` takes too); the decisions are
 * made in input order on one thread. Memory per kept document: its location (16
 * bytes), its exact entry (24 bytes in a table at most 3/4 full), its band
 * entries (16 bytes each, same load), and with --verify exact the offset of its
 * words in the spill file (8 bytes; the words go to disk), with --verify
 * estimate its signature (8 bytes a value). */
#include "dedup.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "lshtable.h"
#include "progress.h"

int keymaker_init(KeyMaker *m, const DedupOpts *o, Err *e)
{
    memset(m, 0, sizeof *m);
    m->o = o;
    if (o->mode != MODE_EXACT && minhash_init(&m->mh, o->bands, o->rows, o->ngram, o->seed))
        return err_set(e, "out of memory");
    return 0;
}

void keymaker_free(KeyMaker *m)
{
    if (m->o && m->o->mode != MODE_EXACT) minhash_free(&m->mh);
    buf_free(&m->norm);
    buf_free(&m->joined);
}

void dockeys_free(DocKeys *k)
{
    free(k->sig);
    free(k->bandk);
    buf_free(&k->words);
    k->sig = k->bandk = NULL;
}

int dockeys_compute(KeyMaker *m, const char *text, size_t n, DocKeys *k, Err *e)
{
    const DedupOpts *o = m->o;
    if (norm_text(o->norm, text, n, &m->norm)) return err_set(e, "out of memory");
    const char *t = m->norm.data ? m->norm.data : "";
    if (o->mode != MODE_NEAR) {
        Hash128 h = hash128(t, m->norm.len, 0);
        k->exact_lo = h.lo;
        k->exact_hi = h.hi;
    }
    k->n_shingles = 0;
    if (o->mode != MODE_EXACT) {
        if (!k->sig && !(k->sig = malloc(m->mh.n_perm * sizeof *k->sig))) return err_set(e, "out of memory");
        if (!k->bandk && !(k->bandk = malloc(m->mh.bands * sizeof *k->bandk))) return err_set(e, "out of memory");
        const char *w = t;
        size_t wl = m->norm.len;
        if (o->norm != NORM_SIMPLE) { /* simple already leaves single spaces between words */
            if (norm_join_words(t, m->norm.len, &m->joined)) return err_set(e, "out of memory");
            w = m->joined.data ? m->joined.data : "";
            wl = m->joined.len;
        }
        k->n_shingles = minhash_sign(&m->mh, w, wl, k->sig);
        if (k->n_shingles == SIZE_MAX) return err_set(e, "out of memory");
        if (k->n_shingles) minhash_bands(&m->mh, k->sig, k->bandk);
        k->words.len = 0;
        /* k is reused for documents of every size (a slot of the pass): it
         * keeps no more than 4 KB or four times this document's words */
        if (k->words.cap > 4096 && k->words.cap / 4 > wl) buf_free(&k->words);
        if (o->verify == VERIFY_EXACT && buf_append(&k->words, w, wl)) return err_set(e, "out of memory");
    }
    return 0;
}

static int keys_work(void *ctx, void *worker, const Doc *d, void *slot, Err *e)
{
    (void)ctx;
    return dockeys_compute(worker, d->text, d->text_len, slot, e);
}

static void keys_slot_free(void *slot) { dockeys_free(slot); }

int dedup_keys_pass(const DedupOpts *o, DocReader *in, int keep_raw, DocEmitFn emit, void *ctx,
                    Progress *progress, Err *e)
{
    unsigned threads = o->common.threads ? o->common.threads : cli_cores();
    KeyMaker *km = calloc(threads, sizeof *km);
    if (!km) return err_set(e, "out of memory");
    int rc = 0;
    for (unsigned t = 0; t < threads && !rc; t++) rc = keymaker_init(&km[t], o, e);
    if (!rc) {
        DocPassOpts po = { .threads = threads, .workers = km, .worker_size = sizeof *km,
                           .slot_size = sizeof(DocKeys), .slot_free = keys_slot_free,
                           .work = keys_work, .emit = emit, .ctx = ctx, .keep_raw = keep_raw,
                           .progress = progress };
        DocPassCounts counts;
        rc = docpass_run(in, &po, &counts, e);
    }
    for (unsigned t = 0; t < threads; t++) keymaker_free(&km[t]); /* zeroed ones too */
    free(km);
    return rc;
}

int verify_parse(const char *s, VerifyMode *v)
{
    if (!strcmp(s, "exact")) *v = VERIFY_EXACT;
    else if (!strcmp(s, "estimate")) *v = VERIFY_ESTIMATE;
    else return -1;
    return 0;
}

const char *verify_name(VerifyMode v)
{
    return v == VERIFY_EXACT ? "exact" : v == VERIFY_ESTIMATE ? "estimate" : "off";
}

/* The shingle set of d's words (from the spill when d->words is NULL) into
 * *set; SIZE_MAX on error. */
static size_t verify_set(Verifier *v, const VerifyDoc *d, uint64_t **set, size_t *cap, Err *e)
{
    const char *w = d->words;
    if (!w) {
        if (spill_read(v->spill, d->off_bytes, d->words_len, &v->words, e)) return SIZE_MAX;
        w = v->words.data ? v->words.data : "";
    }
    size_t n = minhash_shingle_set(v->ngram, w, d->words_len, set, cap);
    if (n == SIZE_MAX) err_set(e, "out of memory");
    return n;
}

int verify_pair(Verifier *v, const VerifyDoc *doc, const VerifyDoc *kept, Err *e)
{
    double j;
    if (v->mode == VERIFY_ESTIMATE) {
        j = minhash_jaccard(doc->sig, kept->sig, v->n_perm);
    } else {
        if (v->n_set == SIZE_MAX && (v->n_set = verify_set(v, doc, &v->set, &v->cap_set, e)) == SIZE_MAX)
            return -1;
        size_t kn = verify_set(v, kept, &v->kset, &v->cap_kset, e);
        if (kn == SIZE_MAX) return -1;
        j = minhash_jaccard_sets(v->set, v->n_set, v->kset, kn);
    }
    v->verified++;
    if (j >= v->threshold) return 1;
    v->below++;
    return 0;
}

void verify_free(Verifier *v)
{
    buf_free(&v->words);
    free(v->set);
    free(v->kset);
    v->set = v->kset = NULL;
    v->cap_set = v->cap_kset = 0;
}

void dedup_params(const DedupOpts *o, char *out, size_t n)
{
    snprintf(out, n, "mode=%s norm=%s ngram=%u bands=%u rows=%u seed=%" PRIu64 " verify=%s",
             o->mode == MODE_BOTH ? "both" : o->mode == MODE_EXACT ? "exact" : "near",
             norm_name(o->norm), o->ngram, o->bands, o->rows, o->seed, verify_name(o->verify));
    if (o->verify) {
        size_t l = strlen(out);
        snprintf(out + l, n - l, " threshold=%.17g", o->threshold);
    }
}

/* Where each kept document was read, for "dup_of". */
typedef struct KeptLoc {
    uint64_t lineno;
    uint32_t path; /* index into the run's paths; UINT32_MAX: stdin */
} KeptLoc;

typedef struct Run {
    const DedupOpts *o;
    const char *const *paths;
    size_t n_paths, last_path;
    unsigned n_bands, n_perm;
    DocWriter *out, *rej; /* rej: NULL without --rejects */
    DedupCounts *c;
    ExactTable exact;
    BandTable bands;
    KeptLoc *loc;
    uint64_t *sigs; /* (n_kept, n_perm) with --verify estimate */
    uint64_t *woff; /* (n_kept + 1) with --verify exact: kept document i's words are
                     * spill bytes [woff[i], woff[i + 1]) */
    Spill spill;
    size_t n_kept, cap_kept;
    uint32_t *cand;  /* this document's candidates: kept ids sharing a band */
    size_t cap_cand;
    Verifier ver; /* --verify: its counts are the run's */
    Buf extra;
} Run;

static uint32_t path_index(Run *r, const char *path)
{
    if (!path) return UINT32_MAX;
    if (r->last_path < r->n_paths && r->paths[r->last_path] == path) return (uint32_t)r->last_path;
    if (r->last_path + 1 < r->n_paths && r->paths[r->last_path + 1] == path) /* the next file */
        return (uint32_t)++r->last_path;
    for (size_t i = 0; i < r->n_paths; i++)
        if (r->paths[i] == path || !strcmp(r->paths[i], path)) return (uint32_t)(r->last_path = i);
    return UINT32_MAX;
}

/* The "dedup_reason" and "dup_of" members for a document dropped as a
 * duplicate of `path`:`lineno`. */
int dedup_extra(Buf *b, const char *reason, const char *path, uint64_t lineno)
{
    char line[32];
    snprintf(line, sizeof line, ":%" PRIu64, lineno);
    const char *p = path ? path : "-";
    Buf ref = { 0 };
    b->len = 0;
    int rc = buf_append(b, "\"dedup_reason\":\"", 16) || buf_append(b, reason, strlen(reason)) ||
             buf_append(b, "\",\"dup_of\":", 11) || buf_append(&ref, p, strlen(p)) ||
             buf_append(&ref, line, strlen(line)) || json_escape(b, ref.data, ref.len) ||
             buf_putc(b, 0);
    buf_free(&ref);
    return rc ? -1 : 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The earliest kept document the one with keys k duplicates into *dup
 * (UINT64_MAX: none), *reason "exact" or "near". With --verify, the kept
 * documents sharing a band are checked in the order they were kept, so the
 * first that passes ends it. 0, or -1 on error. */
static int find_dup(Run *r, const DocKeys *k, uint64_t *dup, const char **reason, Err *e)
{
    const DedupOpts *o = r->o;
    *dup = UINT64_MAX;
    if (o->mode != MODE_NEAR) {
        uint64_t id = exact_find(&r->exact, k->exact_lo, k->exact_hi);
        if (id != UINT64_MAX) {
            *reason = "exact";
            *dup = id;
            return 0;
        }
    }
    if (o->mode == MODE_EXACT || !k->n_shingles) return 0;
    size_t n = 0;
    for (unsigned j = 0; j < r->n_bands; j++) {
        size_t pos = SIZE_MAX;
        uint32_t id;
        while ((id = band_next(&r->bands, k->bandk[j], j, &pos)) != LSH_EMPTY) {
            if (n == r->cap_cand) {
                size_t cap = r->cap_cand ? 2 * r->cap_cand : 64;
                uint32_t *c = realloc(r->cand, cap * sizeof *c);
                if (!c) return err_set(e, "out of memory");
                r->cand = c;
                r->cap_cand = cap;
            }
            r->cand[n++] = id;
        }
    }
    if (!n) return 0;
    qsort(r->cand, n, sizeof *r->cand, cmp_u32);
    VerifyDoc doc = { .sig = k->sig, .words = k->words.data ? k->words.data : "", .words_len = k->words.len };
    r->ver.n_set = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        uint32_t id = r->cand[i];
        if (i && id == r->cand[i - 1]) continue; /* shares more than one band */
        VerifyDoc kept = { 0 };
        if (o->verify == VERIFY_ESTIMATE) kept.sig = r->sigs + (size_t)id * r->n_perm;
        else if (o->verify == VERIFY_EXACT)
            kept = (VerifyDoc){ .words_len = (size_t)(r->woff[id + 1] - r->woff[id]), .off_bytes = r->woff[id] };
        int v = o->verify ? verify_pair(&r->ver, &doc, &kept, e) : 1;
        if (v < 0) return -1;
        if (v) {
            *dup = id;
            *reason = "near";
            return 0;
        }
    }
    return 0;
}

static int keep(Run *r, const Doc *d, const DocKeys *k, Err *e)
{
    const DedupOpts *o = r->o;
    if (r->n_kept >= LSH_EMPTY - 1) return err_set(e, "more than %u kept documents", LSH_EMPTY - 2);
    if (r->n_kept == r->cap_kept) {
        size_t cap = r->cap_kept ? r->cap_kept * 2 : 4096;
        KeptLoc *loc = realloc(r->loc, cap * sizeof *loc);
        if (!loc) return err_set(e, "out of memory");
        r->loc = loc;
        if (o->verify == VERIFY_ESTIMATE) {
            uint64_t *s = realloc(r->sigs, cap * r->n_perm * sizeof *s);
            if (!s) return err_set(e, "out of memory");
            r->sigs = s;
        } else if (o->verify == VERIFY_EXACT) {
            uint64_t *w = realloc(r->woff, (cap + 1) * sizeof *w);
            if (!w) return err_set(e, "out of memory");
            r->woff = w;
        }
        r->cap_kept = cap;
    }
    uint32_t id = (uint32_t)r->n_kept++;
    r->loc[id] = (KeptLoc){ d->lineno, path_index(r, d->path) };
    if (o->mode != MODE_NEAR && exact_insert(&r->exact, k->exact_lo, k->exact_hi, id))
        return err_set(e, "out of memory");
    if (o->mode != MODE_EXACT && k->n_shingles) {
        for (unsigned j = 0; j < r->n_bands; j++)
            if (band_insert(&r->bands, k->bandk[j], j, id)) return err_set(e, "out of memory");
        if (o->verify == VERIFY_ESTIMATE)
            memcpy(r->sigs + (size_t)id * r->n_perm, k->sig, r->n_perm * sizeof *k->sig);
    }
    if (o->verify == VERIFY_EXACT && o->mode != MODE_EXACT) {
        /* every kept document has a record (empty without words), so the next
         * one's start is this one's end */
        uint64_t off;
        const char *w = k->n_shingles && k->words.data ? k->words.data : "";
        if (spill_append(&r->spill, w, k->n_shingles ? k->words.len : 0, &off, e)) return -1;
        r->woff[id] = off;
        r->woff[id + 1] = spill_size(&r->spill);
    }
    return 0;
}

/* One document and its keys, in input order: kept (written to out and
 * entered in the tables) or dropped (to --rejects). */
static int emit_doc(void *ctx, const Doc *d, void *slot, Err *e)
{
    Run *r = ctx;
    const DocKeys *k = slot;
    if (d->skipped) /* a file, not a document (no keys) */
        return docw_write_skipped(r->rej, d, "dedup_reason", e);
    r->c->in++;
    const char *reason = NULL;
    uint64_t dup;
    if (find_dup(r, k, &dup, &reason, e)) return -1;
    if (dup == UINT64_MAX) {
        if (keep(r, d, k, e) || docw_write(r->out, d, NULL, 0, NULL, e)) return -1;
        r->c->kept++;
        return 0;
    }
    const KeptLoc *l = &r->loc[dup];
    if (dedup_extra(&r->extra, reason, l->path == UINT32_MAX ? NULL : r->paths[l->path], l->lineno))
        return err_set(e, "out of memory");
    if (r->rej && docw_write(r->rej, d, NULL, 0, r->extra.data, e)) return -1;
    if (reason[0] == 'e') r->c->exact++;
    else r->c->near++;
    return 0;
}

static void run_free(Run *r)
{
    exact_free(&r->exact);
    band_free(&r->bands);
    free(r->loc);
    free(r->sigs);
    free(r->woff);
    spill_close(&r->spill);
    free(r->cand);
    verify_free(&r->ver);
    buf_free(&r->extra);
}

int dedup_run(const DedupOpts *o, const char *const *paths, size_t n, DedupCounts *c, Err *e)
{
    memset(c, 0, sizeof *c);
    Run r = { .o = o, .paths = paths, .n_paths = n, .n_bands = o->bands, .n_perm = o->bands * o->rows, .c = c };
    DocReader *in = NULL;
    DocOpts din = o->doc; /* files skipped as binary come through, for --rejects */
    din.report_skipped = o->rejects != NULL;
    r.ver = (Verifier){ .mode = o->verify, .threshold = o->threshold, .ngram = o->ngram,
                        .n_perm = r.n_perm, .spill = &r.spill };
    if (o->verify == VERIFY_EXACT && o->mode != MODE_EXACT && spill_open(&r.spill, e)) goto fail;
    if (!(in = doc_open(&din, paths, n, e))) goto fail;
    r.paths = doc_paths(in, &r.n_paths); /* the files read: folders expanded */
    if (!(r.out = docw_open(o->out, &o->doc, e))) goto fail;
    if (o->rejects && !(r.rej = docw_open(o->rejects, &o->doc, e))) goto fail;
    Progress p;
    progress_start(&p, "dedup", o->common.progress, doc_total_size(in));
    if (dedup_keys_pass(o, in, 1, emit_doc, &r, &p, e)) goto fail;
    c->bad = doc_stats(in)->n_bad;
    char files[512]; /* bad lines and files, and the files read each way */
    doc_summary(doc_stats(in), 1, files, sizeof files);
    progress_end(&p);
    uint64_t in_bytes = doc_stats(in)->n_bytes;
    if (r.rej) {
        int bad = docw_close(r.rej, e);
        r.rej = NULL;
        if (bad) goto fail;
    }
    if (docw_close(r.out, e)) {
        r.out = NULL;
        goto fail;
    }
    r.out = NULL;
    /* --bad-lines last: a failure before this removes it with the rest. */
    if (doc_close(in, e)) {
        in = NULL;
        goto fail;
    }
    in = NULL;
    double s = progress_elapsed(&p);
    c->verified = r.ver.verified;
    c->below = r.ver.below;
    char vsum[160] = "";
    if (o->verify && o->mode != MODE_EXACT)
        snprintf(vsum, sizeof vsum,
                 "; --verify %s: %" PRIu64 " candidate pairs checked, %" PRIu64 " below %g%s",
                 verify_name(o->verify), c->verified, c->below, o->threshold,
                 o->verify == VERIFY_EXACT ? " (words spilled: " : "");
    if (o->verify == VERIFY_EXACT && o->mode != MODE_EXACT) {
        size_t l = strlen(vsum);
        snprintf(vsum + l, sizeof vsum - l, "%.1f MB)", spill_size(&r.spill) / 1e6);
    }
    progress_summary(&p,
                     "%" PRIu64 " in = %" PRIu64 " kept + %" PRIu64 " exact + %" PRIu64
                     " near duplicates dropped%s%s; %.1f MB in %.2f s%s",
                     c->in, c->kept, c->exact, c->near, o->rejects ? " (to --rejects)" : "",
                     files, in_bytes / 1e6, s, vsum);
    run_free(&r);
    return 0;
fail:
    docw_abort(r.rej);
    docw_abort(r.out);
    doc_abort(in);
    run_free(&r);
    return -1;
}
