/* The sharded chain: `sig` writes one text line per key of each document,
 * `sort` brings equal keys together, `cluster` replays keep-first over the
 * groups of colliding documents in global order (shard name in byte order, then
 * line) and writes the drop list, `apply` removes the listed documents. Only
 * documents that share a key with another are held in memory by `cluster`.
 * Line formats (tab separated; shard names may hold neither tab nor newline):
 *   !\tPARAMS                 the options, once per sig run; all must agree
 *   eHASH128\tSHARD:LINE      exact key
 *   bBBBHASH64\tSHARD:LINE    band BBB's key
 *   z\tSHARD:LINE\tWORDS      with --verify exact: the normalised words the
 *                            shingles are cut from (single spaces; no tab or
 *                            newline can be in them)
 *   z\tSHARD:LINE\tSIG        with --verify estimate: the signature, hex
 * and the drop list: SHARD:LINE\tREASON\tDUP_SHARD:DUP_LINE, in global order.
 * `cluster` keeps the signatures of the documents in a colliding group in
 * memory, and their words in an unlinked spill file, as the single run does. */
#include "dedup.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hash.h"
#include "progress.h"

/* ---- a map (shard, line) -> value ---- */

typedef struct RefSlot {
    uint64_t line;
    uint32_t shard, val; /* val UINT32_MAX: free */
} RefSlot;

typedef struct RefMap {
    RefSlot *slot;
    size_t cap, n;
} RefMap;

static uint64_t ref_hash(uint32_t shard, uint64_t line)
{
    uint64_t k[2] = { shard, line };
    return hash64(k, sizeof k, 0);
}

static int refmap_put(RefMap *m, uint32_t shard, uint64_t line, uint32_t val)
{
    if ((m->n + 1) * 4 > m->cap * 3) {
        size_t cap = m->cap ? m->cap * 2 : 1024;
        RefSlot *s = malloc(cap * sizeof *s);
        if (!s) return -1;
        for (size_t i = 0; i < cap; i++) s[i].val = UINT32_MAX;
        for (size_t i = 0; i < m->cap; i++) {
            if (m->slot[i].val == UINT32_MAX) continue;
            size_t j = ref_hash(m->slot[i].shard, m->slot[i].line) & (cap - 1);
            while (s[j].val != UINT32_MAX) j = (j + 1) & (cap - 1);
            s[j] = m->slot[i];
        }
        free(m->slot);
        m->slot = s;
        m->cap = cap;
    }
    size_t j = ref_hash(shard, line) & (m->cap - 1);
    while (m->slot[j].val != UINT32_MAX) j = (j + 1) & (m->cap - 1);
    m->slot[j] = (RefSlot){ line, shard, val };
    m->n++;
    return 0;
}

static uint32_t refmap_get(const RefMap *m, uint32_t shard, uint64_t line)
{
    if (!m->cap) return UINT32_MAX;
    for (size_t j = ref_hash(shard, line) & (m->cap - 1); m->slot[j].val != UINT32_MAX;
         j = (j + 1) & (m->cap - 1))
        if (m->slot[j].shard == shard && m->slot[j].line == line) return m->slot[j].val;
    return UINT32_MAX;
}

/* Shard names, interned: index by name through a small hash table. */
typedef struct Names {
    char **name;
    size_t n, cap;
    uint32_t *slot; /* index + 1; 0 free */
    size_t n_slots;
} Names;

static uint32_t names_find(const Names *t, const char *s, size_t len, size_t *at)
{
    if (!t->n_slots) return UINT32_MAX;
    size_t j = hash64(s, len, 0) & (t->n_slots - 1);
    for (; t->slot[j]; j = (j + 1) & (t->n_slots - 1)) {
        const char *nm = t->name[t->slot[j] - 1];
        if (!strncmp(nm, s, len) && !nm[len]) {
            if (at) *at = j;
            return t->slot[j] - 1;
        }
    }
    if (at) *at = j;
    return UINT32_MAX;
}

static uint32_t names_add(Names *t, const char *s, size_t len)
{
    uint32_t id = names_find(t, s, len, NULL);
    if (id != UINT32_MAX) return id;
    if ((t->n + 1) * 2 > t->n_slots) {
        size_t ns = t->n_slots ? t->n_slots * 2 : 64;
        uint32_t *sl = calloc(ns, sizeof *sl);
        if (!sl) return UINT32_MAX;
        for (size_t i = 0; i < t->n; i++) {
            size_t j = hash64(t->name[i], strlen(t->name[i]), 0) & (ns - 1);
            while (sl[j]) j = (j + 1) & (ns - 1);
            sl[j] = (uint32_t)i + 1;
        }
        free(t->slot);
        t->slot = sl;
        t->n_slots = ns;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **nm = realloc(t->name, cap * sizeof *nm);
        if (!nm) return UINT32_MAX;
        t->name = nm;
        t->cap = cap;
    }
    char *c = strndup(s, len);
    if (!c) return UINT32_MAX;
    size_t at;
    names_find(t, s, len, &at);
    t->name[t->n] = c;
    t->slot[at] = (uint32_t)t->n + 1;
    return (uint32_t)t->n++;
}

static void names_free(Names *t)
{
    for (size_t i = 0; i < t->n; i++) free(t->name[i]);
    free(t->name);
    free(t->slot);
}

/* "SHARD:LINE" -> name span and line; -1 when malformed. */
static int parse_ref(const char *s, size_t n, size_t *name_len, uint64_t *line)
{
    const char *c = NULL;
    for (size_t i = n; i-- > 0;)
        if (s[i] == ':') {
            c = s + i;
            break;
        }
    if (!c || c == s || c + 1 == s + n) return -1;
    uint64_t v = 0;
    for (const char *p = c + 1; p < s + n; p++) {
        if (*p < '0' || *p > '9' || v > UINT64_MAX / 10 - 1) return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *name_len = (size_t)(c - s);
    *line = v;
    return 0;
}

/* ---- sig ---- */

static const char hexd[] = "0123456789abcdef";

static int put_hex(Buf *b, uint64_t v)
{
    char h[16];
    for (int i = 15; i >= 0; i--, v >>= 4) h[i] = hexd[v & 15];
    return buf_append(b, h, 16);
}

/* One sig run: the shard being read and the lines written so far. */
typedef struct Sig {
    const DedupOpts *o;
    const char *shard;
    OutFile *out;
    Progress *progress;
    Buf line, ref;
    uint64_t n_docs, n_lines;
} Sig;

/* A document's key lines, in input order (its keys come from -j threads:
 * dedup_keys_pass), so the output is the same for any -j. */
static int sig_emit(void *ctx, const Doc *d, void *slot, Err *e)
{
    Sig *g = ctx;
    const DedupOpts *o = g->o;
    const DocKeys *k = slot;
    Buf *line = &g->line, *ref = &g->ref;
    if (d->skipped) return 0; /* sig's reader does not report them */
    g->n_docs++;
    char num[24];
    ref->len = 0;
    snprintf(num, sizeof num, ":%" PRIu64, d->lineno);
    if (buf_putc(ref, '\t') || buf_append(ref, g->shard, strlen(g->shard)) || buf_append(ref, num, strlen(num)))
        return err_set(e, "out of memory");
    line->len = 0;
    int bad = 0;
    if (o->mode != MODE_NEAR) {
        bad |= buf_putc(line, 'e') || put_hex(line, k->exact_hi) || put_hex(line, k->exact_lo) ||
               buf_append(line, ref->data, ref->len) || buf_putc(line, '\n');
        g->n_lines++;
    }
    if (o->mode != MODE_EXACT && k->n_shingles) {
        for (unsigned j = 0; j < o->bands; j++) {
            char band[16];
            snprintf(band, sizeof band, "b%03x", j);
            bad |= buf_append(line, band, 4) || put_hex(line, k->bandk[j]) ||
                   buf_append(line, ref->data, ref->len) || buf_putc(line, '\n');
        }
        g->n_lines += o->bands;
        if (o->verify) {
            bad |= buf_putc(line, 'z') || buf_append(line, ref->data, ref->len) || buf_putc(line, '\t');
            if (o->verify == VERIFY_EXACT) bad |= buf_append(line, k->words.data, k->words.len);
            else
                for (unsigned j = 0; j < o->bands * o->rows; j++) bad |= put_hex(line, k->sig[j]);
            bad |= buf_putc(line, '\n');
            g->n_lines++;
        }
    }
    if (bad) return err_set(e, "out of memory");
    progress_update(g->progress, 0, 0, g->n_docs, "docs");
    return out_write(g->out, line->data, line->len, e);
}

int dedup_sig(const DedupOpts *o, const char *const *paths, size_t n, Err *e)
{
    for (size_t i = 0; i < n; i++)
        if (strpbrk(paths[i], "\t\n") || !strcmp(paths[i], "-"))
            return err_set(e, "sig: shard name '%s' is stdin or holds a tab or newline", paths[i]);
    Progress p;
    Sig g = { .o = o, .progress = &p };
    DocReader *in = NULL;
    if (!(g.out = out_open(o->out, e))) goto fail;
    char params[256];
    dedup_params(o, params, sizeof params);
    buf_append(&g.line, "!\t", 2);
    buf_append(&g.line, params, strlen(params));
    if (buf_putc(&g.line, '\n')) goto oom;
    if (out_write(g.out, g.line.data, g.line.len, e)) goto fail;
    progress_start(&p, "dedup sig", o->common.progress, 0);
    for (size_t s = 0; s < n; s++) {
        if (!(in = doc_open(&o->doc, paths + s, 1, e))) goto fail;
        g.shard = paths[s];
        if (dedup_keys_pass(o, in, 0, sig_emit, &g, NULL, e)) goto fail;
        if (doc_close(in, e)) {
            in = NULL;
            goto fail;
        }
        in = NULL;
    }
    progress_end(&p);
    if (out_close(g.out, e)) {
        g.out = NULL;
        goto fail;
    }
    progress_summary(&p, "%" PRIu64 " documents in %zu shards -> %" PRIu64 " key lines (%s)",
                     g.n_docs, n, g.n_lines, params);
    buf_free(&g.line);
    buf_free(&g.ref);
    return 0;
oom:
    err_set(e, "out of memory");
fail:
    out_abort(g.out);
    doc_abort(in);
    buf_free(&g.line);
    buf_free(&g.ref);
    return -1;
}

/* ---- cluster ---- */

typedef struct CDoc {
    uint64_t line;
    uint32_t shard;
    uint32_t pos;      /* rank in global order */
    int64_t sig;       /* offset into sigs (estimate) or the spill (exact), -1: none */
    uint32_t words_len; /* with --verify exact: bytes of its words in the spill */
    uint32_t dup;      /* the kept doc it duplicates, UINT32_MAX: kept */
    char reason;       /* 'e' or 'n' when dropped */
} CDoc;

typedef struct Cluster {
    Names names;
    RefMap map;
    CDoc *doc;
    size_t n_doc, cap_doc;
    uint32_t *member; /* groups' members, concatenated */
    size_t n_member, cap_member;
    uint64_t *gstart; /* (n_group + 1) */
    char *gtype;      /* 'e' or 'b' */
    size_t n_group, cap_group;
    uint64_t *sigs;
    size_t n_sigs, cap_sigs;
    unsigned n_perm, ngram;
    Spill spill;     /* the words, with --verify exact */
    uint64_t verified, below;
} Cluster;

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 1024;
    while (c < need) c *= 2;
    void *q = realloc(*p, c * size);
    if (!q) return -1;
    *p = q;
    *cap = c;
    return 0;
}

static uint32_t doc_of(Cluster *c, const char *ref, size_t ref_len, int create)
{
    size_t nl;
    uint64_t line;
    if (parse_ref(ref, ref_len, &nl, &line)) return UINT32_MAX - 1;
    uint32_t sh = create ? names_add(&c->names, ref, nl) : names_find(&c->names, ref, nl, NULL);
    if (sh == UINT32_MAX) return UINT32_MAX;
    uint32_t id = refmap_get(&c->map, sh, line);
    if (id != UINT32_MAX || !create) return id;
    if (grow((void **)&c->doc, &c->cap_doc, c->n_doc + 1, sizeof *c->doc)) return UINT32_MAX;
    id = (uint32_t)c->n_doc++;
    c->doc[id] = (CDoc){ line, sh, 0, -1, 0, UINT32_MAX, 0 };
    if (refmap_put(&c->map, sh, line, id)) return UINT32_MAX;
    return id;
}

/* Record a group of colliding documents: refs[off[q]..off[q+1]) for q < n,
 * all sharing one key of the given type. 0, or -1 when out of memory. */
static int add_group(Cluster *c, char type, const char *refs, const size_t *off, size_t n)
{
    if (grow((void **)&c->member, &c->cap_member, c->n_member + n, sizeof *c->member) ||
        grow((void **)&c->gtype, &c->cap_group, c->n_group + 1, 1))
        return -1;
    uint64_t *gs = realloc(c->gstart, (c->n_group + 2) * sizeof *gs);
    if (!gs) return -1;
    c->gstart = gs;
    for (size_t q = 0; q < n; q++) {
        uint32_t d = doc_of(c, refs + off[q], off[q + 1] - off[q], 1);
        if (d >= UINT32_MAX - 1) return -1;
        c->member[c->n_member++] = d;
    }
    c->gtype[c->n_group] = type;
    c->gstart[++c->n_group] = c->n_member;
    return 0;
}

static const Cluster *sort_ctx;

static int cmp_doc(const void *pa, const void *pb)
{
    const CDoc *a = &sort_ctx->doc[*(const uint32_t *)pa], *b = &sort_ctx->doc[*(const uint32_t *)pb];
    int s = strcmp(sort_ctx->names.name[a->shard], sort_ctx->names.name[b->shard]);
    if (s) return s;
    return a->line < b->line ? -1 : a->line > b->line;
}

static int cmp_pos(const void *pa, const void *pb)
{
    uint32_t a = sort_ctx->doc[*(const uint32_t *)pa].pos, b = sort_ctx->doc[*(const uint32_t *)pb].pos;
    return a < b ? -1 : a > b;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    return -1;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* What verify_pair needs of a document: its signature or where its words are. */
static VerifyDoc verify_doc(const Cluster *c, VerifyMode verify, const CDoc *d)
{
    if (verify == VERIFY_ESTIMATE) return (VerifyDoc){ .sig = c->sigs + d->sig };
    return (VerifyDoc){ .words_len = d->words_len, .off_bytes = (uint64_t)d->sig };
}

/* Keep-first over the groups, in global order. */
static int replay(Cluster *c, VerifyMode verify, double threshold, Err *e)
{
    uint32_t *cand = NULL;
    size_t cap_cand = 0;
    size_t nd = c->n_doc;
    uint32_t *order = malloc((nd + 1) * sizeof *order);
    uint64_t *dstart = calloc(nd + 1, sizeof *dstart);
    uint32_t *dgroup = malloc((c->n_member + 1) * sizeof *dgroup);
    uint32_t *first_kept = malloc((c->n_group + 1) * sizeof *first_kept);
    if (!order || !dstart || !dgroup || !first_kept) {
        free(order), free(dstart), free(dgroup), free(first_kept);
        return err_set(e, "out of memory");
    }
    sort_ctx = c;
    for (size_t i = 0; i < nd; i++) order[i] = (uint32_t)i;
    qsort(order, nd, sizeof *order, cmp_doc);
    for (size_t i = 0; i < nd; i++) c->doc[order[i]].pos = (uint32_t)i;
    for (size_t g = 0; g < c->n_group; g++) {
        qsort(c->member + c->gstart[g], c->gstart[g + 1] - c->gstart[g], sizeof *c->member, cmp_pos);
        first_kept[g] = UINT32_MAX;
    }
    /* doc -> its groups (CSR) */
    for (size_t i = 0; i < c->n_member; i++) dstart[c->member[i] + 1]++;
    for (size_t i = 0; i < nd; i++) dstart[i + 1] += dstart[i];
    uint64_t *fill = calloc(nd + 1, sizeof *fill);
    if (!fill) {
        free(order), free(dstart), free(dgroup), free(first_kept);
        return err_set(e, "out of memory");
    }
    for (size_t g = 0; g < c->n_group; g++)
        for (uint64_t m = c->gstart[g]; m < c->gstart[g + 1]; m++) {
            uint32_t d = c->member[m];
            dgroup[dstart[d] + fill[d]++] = (uint32_t)g;
        }
    free(fill);
    Verifier ver = { .mode = verify, .threshold = threshold, .ngram = c->ngram, .n_perm = c->n_perm,
                     .spill = &c->spill };
    int rc = 0;
    for (size_t i = 0; i < nd && !rc; i++) {
        uint32_t d = order[i];
        CDoc *doc = &c->doc[d];
        uint32_t best = UINT32_MAX; /* a pos */
        /* exact first, as the single run does */
        for (uint64_t k = dstart[d]; k < dstart[d + 1]; k++) {
            uint32_t g = dgroup[k];
            if (c->gtype[g] == 'e' && first_kept[g] != UINT32_MAX && c->doc[first_kept[g]].pos < best)
                best = c->doc[first_kept[g]].pos;
        }
        char reason = 'e';
        if (best == UINT32_MAX) {
            /* the kept documents sharing a band, as positions, checked in global
             * order (as the single run checks kept ids): the first to pass wins */
            reason = 'n';
            size_t nc = 0;
            for (uint64_t k = dstart[d]; k < dstart[d + 1]; k++) {
                uint32_t g = dgroup[k];
                if (c->gtype[g] != 'b' || first_kept[g] == UINT32_MAX) continue;
                if (!verify) { /* a group's first kept member is the one that counts */
                    if (c->doc[first_kept[g]].pos < best) best = c->doc[first_kept[g]].pos;
                    continue;
                }
                for (uint64_t m = c->gstart[g]; m < c->gstart[g + 1]; m++) {
                    const CDoc *o = &c->doc[c->member[m]];
                    if (o->pos >= doc->pos) break;
                    if (o->dup != UINT32_MAX) continue;
                    if (nc == cap_cand) {
                        size_t cap = cap_cand ? 2 * cap_cand : 64;
                        uint32_t *q = realloc(cand, cap * sizeof *q);
                        if (!q) {
                            rc = err_set(e, "out of memory");
                            break;
                        }
                        cand = q;
                        cap_cand = cap;
                    }
                    cand[nc++] = o->pos;
                }
            }
            if (rc) break;
            if (nc > 1) qsort(cand, nc, sizeof *cand, cmp_u32);
            ver.n_set = SIZE_MAX;
            for (size_t q = 0; q < nc && best == UINT32_MAX; q++) {
                if (q && cand[q] == cand[q - 1]) continue;
                const CDoc *o = &c->doc[order[cand[q]]];
                const CDoc *missing = doc->sig < 0 ? doc : o->sig < 0 ? o : NULL;
                if (missing) {
                    rc = err_set(e, "cluster: no words or signature line for %s:%" PRIu64
                                    " (sig without --verify?)",
                                 c->names.name[missing->shard], missing->line);
                    break;
                }
                VerifyDoc vd = verify_doc(c, verify, doc), vo = verify_doc(c, verify, o);
                int v = verify_pair(&ver, &vd, &vo, e);
                if (v < 0) {
                    rc = -1;
                    break;
                }
                if (v) best = cand[q];
            }
        }
        if (best != UINT32_MAX) {
            doc->dup = order[best];
            doc->reason = reason;
        } else {
            for (uint64_t k = dstart[d]; k < dstart[d + 1]; k++)
                if (first_kept[dgroup[k]] == UINT32_MAX) first_kept[dgroup[k]] = d;
        }
    }
    free(dstart), free(dgroup), free(first_kept), free(cand);
    free(order); /* each doc's pos keeps its rank in global order for the output */
    c->verified = ver.verified;
    c->below = ver.below;
    verify_free(&ver);
    return rc;
}

static void cluster_free(Cluster *c)
{
    names_free(&c->names);
    free(c->map.slot);
    free(c->doc);
    free(c->member);
    free(c->gstart);
    free(c->gtype);
    free(c->sigs);
    spill_close(&c->spill);
}

/* The options of a "!" header line that cluster needs: the verify mode, the
 * threshold, the signature length and the shingle length. */
static VerifyMode header_verify(const char *params, double *threshold, unsigned *n_perm,
                                unsigned *ngram)
{
    const char *b = strstr(params, "bands="), *r = strstr(params, "rows="), *g = strstr(params, "ngram=");
    *n_perm = (b && r) ? (unsigned)(atoi(b + 6) * atoi(r + 5)) : 0;
    *ngram = g ? (unsigned)atoi(g + 6) : 0;
    const char *t = strstr(params, "threshold=");
    *threshold = t ? strtod(t + 10, NULL) : 1.0;
    return strstr(params, "verify=exact") ? VERIFY_EXACT
           : strstr(params, "verify=estimate") ? VERIFY_ESTIMATE
                                               : VERIFY_OFF;
}

int dedup_cluster(const DedupOpts *o, const char *const *paths, size_t n, DedupCounts *cnt, Err *e)
{
    memset(cnt, 0, sizeof *cnt);
    if (out_check(o->out, e)) return -1; /* now, not after reading every sig line */
    static const char *const stdin_only[] = { "-" };
    if (!n) {
        paths = stdin_only;
        n = 1;
    }
    Cluster c = { 0 };
    Buf key = { 0 }, pend = { 0 }, header = { 0 };
    size_t *pend_off = NULL, n_pend = 0, cap_pend = 0;
    OutFile *out = NULL;
    InFile *in = NULL;
    VerifyMode verify = VERIFY_OFF;
    int have_header = 0, have_keys = 0;
    double threshold = 1.0;
    uint64_t n_lines = 0;
    c.gstart = malloc(sizeof *c.gstart);
    if (!c.gstart) goto oom;
    c.gstart[0] = 0;
    for (size_t f = 0; f < n; f++) {
        /* a words line holds a whole document's text: allow what sig read, and the reference */
        size_t max = o->doc.max_line > DOC_DEFAULT_MAX_LINE ? o->doc.max_line : DOC_DEFAULT_MAX_LINE;
        if (!(in = in_open(paths[f], max + 4096, e))) goto fail;
        const char *l;
        size_t len;
        int rc;
        while ((rc = in_line(in, &l, &len, e)) == 1) {
            n_lines++;
            const char *path = err_name(paths[f]);
            uint64_t ln = in_lineno(in);
            if (len && l[0] == '!') {
                if (have_keys) {
                    err_at(e, path, ln, "options line after key lines: not sorted (LC_ALL=C sort)");
                    goto fail;
                }
                if (!have_header) {
                    if (buf_append(&header, l, len) || buf_putc(&header, 0)) goto oom;
                    have_header = 1;
                    verify = header_verify(header.data, &threshold, &c.n_perm, &c.ngram);
                    if (verify == VERIFY_EXACT && spill_open(&c.spill, e)) goto fail;
                } else if (len + 1 != header.len || memcmp(l, header.data, len)) {
                    err_at(e, path, ln, "sig lines made with different options: '%.*s' vs '%s'",
                           (int)len, l, header.data);
                    goto fail;
                }
                continue;
            }
            const char *tab = memchr(l, '\t', len);
            if (!tab || tab == l) {
                err_at(e, path, ln, "not a sig line (KEY<TAB>SHARD:LINE)");
                goto fail;
            }
            if (!have_header) {
                err_at(e, path, ln, "no options line before the keys: not sig output, or not sorted");
                goto fail;
            }
            size_t klen = (size_t)(tab - l);
            const char *ref = tab + 1;
            const char *tab2 = memchr(ref, '\t', len - klen - 1);
            size_t ref_len = tab2 ? (size_t)(tab2 - ref) : len - klen - 1;
            size_t nl;
            uint64_t lnum;
            if (parse_ref(ref, ref_len, &nl, &lnum)) {
                err_at(e, path, ln, "bad document reference '%.*s' (SHARD:LINE)", (int)ref_len, ref);
                goto fail;
            }
            if (klen == 1 && l[0] == 'z') {
                if (!verify || !tab2) {
                    err_at(e, path, ln, "signature line without --verify in the options line");
                    goto fail;
                }
                uint32_t d = doc_of(&c, ref, ref_len, 0);
                have_keys = 1;
                if (d >= UINT32_MAX - 1) continue; /* in no group: not needed */
                const char *hx = tab2 + 1;
                size_t hl = len - (size_t)(hx - l);
                if (verify == VERIFY_EXACT) {
                    uint64_t off;
                    if (hl > UINT32_MAX) {
                        err_at(e, path, ln, "words of %zu bytes: more than 4 GB", hl);
                        goto fail;
                    }
                    if (spill_append(&c.spill, hx, hl, &off, e)) goto fail;
                    c.doc[d].sig = (int64_t)off;
                    c.doc[d].words_len = (uint32_t)hl;
                    continue;
                }
                if (hl != (size_t)c.n_perm * 16) {
                    err_at(e, path, ln, "signature of %zu hex digits, expected %u", hl, c.n_perm * 16);
                    goto fail;
                }
                if (grow((void **)&c.sigs, &c.cap_sigs, c.n_sigs + c.n_perm, sizeof *c.sigs)) goto oom;
                for (unsigned j = 0; j < c.n_perm; j++) {
                    uint64_t v = 0;
                    for (int q = 0; q < 16; q++) {
                        int h = hexval(hx[j * 16 + q]);
                        if (h < 0) {
                            err_at(e, path, ln, "bad hex digit in the signature");
                            goto fail;
                        }
                        v = v << 4 | (uint64_t)h;
                    }
                    c.sigs[c.n_sigs + j] = v;
                }
                c.doc[d].sig = (int64_t)c.n_sigs;
                c.n_sigs += c.n_perm;
                continue;
            }
            if ((l[0] != 'e' && l[0] != 'b') || tab2) {
                err_at(e, path, ln, "unknown key '%.*s'", (int)(klen > 40 ? 40 : klen), l);
                goto fail;
            }
            have_keys = 1;
            int same = key.len == klen && !memcmp(key.data, l, klen);
            if (!same) {
                if (key.len) {
                    size_t m = key.len < klen ? key.len : klen;
                    int cmp = memcmp(key.data, l, m);
                    if (cmp > 0 || (cmp == 0 && key.len > klen)) {
                        err_at(e, path, ln, "keys not sorted: sort with LC_ALL=C sort");
                        goto fail;
                    }
                }
                /* the previous group ends */
                if (n_pend >= 2 && add_group(&c, key.data[0], pend.data, pend_off, n_pend)) goto oom;
                key.len = 0;
                pend.len = 0;
                n_pend = 0;
                if (buf_append(&key, l, klen)) goto oom;
            }
            if (grow((void **)&pend_off, &cap_pend, n_pend + 2, sizeof *pend_off) ||
                buf_append(&pend, ref, ref_len))
                goto oom;
            pend_off[n_pend + 1] = pend.len;
            pend_off[0] = 0;
            n_pend++;
        }
        if (rc < 0) goto fail;
        in_close(in);
        in = NULL;
    }
    /* the last group */
    if (n_pend >= 2 && add_group(&c, key.data[0], pend.data, pend_off, n_pend)) goto oom;
    /* Signature and words lines ('z') sort after every key line ('b', 'e'), so
     * each one comes when its document's groups are known; a document left
     * without one (sig run without --verify) is reported by replay. */
    if (replay(&c, verify, threshold, e)) goto fail;
    if (!(out = out_open(o->out, e))) goto fail;
    {
        uint32_t *byp = malloc((c.n_doc + 1) * sizeof *byp);
        if (!byp) goto oom;
        for (size_t i = 0; i < c.n_doc; i++) byp[c.doc[i].pos] = (uint32_t)i;
        Buf line = { 0 };
        for (size_t i = 0; i < c.n_doc; i++) {
            const CDoc *d = &c.doc[byp[i]];
            if (d->dup == UINT32_MAX) continue;
            const CDoc *k = &c.doc[d->dup];
            char tail[128];
            line.len = 0;
            const char *nm = c.names.name[d->shard], *km = c.names.name[k->shard];
            snprintf(tail, sizeof tail, ":%" PRIu64 "\t%s\t", d->line, d->reason == 'e' ? "exact" : "near");
            int bad = buf_append(&line, nm, strlen(nm)) || buf_append(&line, tail, strlen(tail)) ||
                      buf_append(&line, km, strlen(km));
            snprintf(tail, sizeof tail, ":%" PRIu64 "\n", k->line);
            bad |= buf_append(&line, tail, strlen(tail));
            if (bad) {
                free(byp);
                buf_free(&line);
                goto oom;
            }
            if (out_write(out, line.data, line.len, e)) {
                free(byp);
                buf_free(&line);
                goto fail;
            }
            if (d->reason == 'e') cnt->exact++;
            else cnt->near++;
        }
        free(byp);
        buf_free(&line);
    }
    if (out_close(out, e)) {
        out = NULL;
        goto fail;
    }
    out = NULL;
    {
        Progress p;
        char vsum[128] = "";
        cnt->verified = c.verified;
        cnt->below = c.below;
        if (verify)
            snprintf(vsum, sizeof vsum, "; --verify %s: %" PRIu64 " candidate pairs checked, %" PRIu64 " below %g",
                     verify_name(verify), c.verified, c.below, threshold);
        progress_start(&p, "dedup cluster", o->common.progress, 0);
        progress_summary(&p,
                         "%" PRIu64 " key lines, %zu colliding groups over %zu documents "
                         "in %zu shards; drop %" PRIu64 " exact + %" PRIu64 " near%s",
                         n_lines, c.n_group, c.n_doc, c.names.n, cnt->exact, cnt->near, vsum);
    }
    cluster_free(&c);
    buf_free(&key), buf_free(&pend), buf_free(&header);
    free(pend_off);
    return 0;
oom:
    err_set(e, "out of memory");
fail:
    if (in) in_close(in);
    out_abort(out);
    cluster_free(&c);
    buf_free(&key), buf_free(&pend), buf_free(&header);
    free(pend_off);
    return -1;
}

/* ---- apply ---- */

typedef struct DropEntry {
    uint32_t reason_off, dup_off, dup_len; /* into the text buffer */
    int used;
} DropEntry;

/* The file a shard name stands for, so that `apply` matches `./s.jsonl` in the
 * list to `s.jsonl` given (or a symlink to the file it points to): realpath
 * when the file exists, else the name made absolute with the working folder
 * and "." and ".." taken out lexically; "-" (stdin) is itself. *here says
 * whether the file exists. Caller frees; NULL when out of memory. */
static char *shard_key(const char *name, size_t len, int *here)
{
    char *raw = strndup(name, len);
    if (!raw) return NULL;
    *here = 1;
    if (!strcmp(raw, "-")) return raw;
    char *real = realpath(raw, NULL);
    if (real) {
        free(raw);
        return real;
    }
    *here = 0;
    char cwd[PATH_MAX] = "";
    if (raw[0] != '/' && !getcwd(cwd, sizeof cwd)) cwd[0] = 0;
    size_t cap = strlen(cwd) + len + 2;
    char *key = malloc(cap), *seg = raw;
    if (!key) {
        free(raw);
        return NULL;
    }
    snprintf(key, cap, "%s", raw[0] == '/' ? "" : cwd);
    size_t at = strlen(key);
    if (at && key[at - 1] == '/') key[--at] = 0; /* cwd "/" */
    while (*seg) { /* append "/SEG" for each segment; "." skipped, ".." drops one */
        char *end = strchr(seg, '/');
        size_t sl = end ? (size_t)(end - seg) : strlen(seg);
        if (sl == 2 && !memcmp(seg, "..", 2)) {
            while (at && key[at - 1] != '/') at--;
            if (at) at--;
        } else if (sl && !(sl == 1 && seg[0] == '.')) {
            key[at++] = '/';
            memcpy(key + at, seg, sl);
            at += sl;
        }
        key[at] = 0;
        seg += sl + (end != NULL);
    }
    if (!at) snprintf(key, cap, "/");
    free(raw);
    return key;
}

/* The last path segment of a shard name (len bytes). */
static const char *base_name(const char *name, size_t len, size_t *base_len)
{
    const char *b = name + len;
    while (b > name && b[-1] != '/') b--;
    *base_len = (size_t)(name + len - b);
    return b;
}

int dedup_apply(const DedupOpts *o, const char *const *paths, size_t n, DedupCounts *c, Err *e)
{
    memset(c, 0, sizeof *c);
    if (out_check(o->out, e) || out_check(o->rejects, e)) return -1; /* before the drop list is read */
    /* shards: the names given; files: the files they stand for (shard_key),
     * file_of[name's index] its file's. The map and the list go by file. */
    Names shards = { 0 }, files = { 0 };
    uint32_t *file_of = calloc(n ? n : 1, sizeof *file_of);
    RefMap map = { 0 };
    DropEntry *ent = NULL;
    size_t n_ent = 0, cap_ent = 0;
    Buf text = { 0 }, extra = { 0 }, last = { 0 }; /* last: the list's previous shard name */
    uint32_t last_file = UINT32_MAX;
    uint64_t n_listed = 0;
    char *key = NULL, *suspect = NULL; /* suspect: a listed name that looks like one of ours */
    int suspect_here = 0;
    DocReader *in = NULL;
    DocWriter *out = NULL, *rej = NULL;
    InFile *dl = NULL;
    DocOpts din = o->doc; /* files skipped as binary come through, for --rejects */
    din.report_skipped = o->rejects != NULL;
    if (!file_of) goto oom;
    for (size_t i = 0; i < n; i++) {
        size_t before = shards.n;
        uint32_t id = names_add(&shards, paths[i], strlen(paths[i]));
        if (id == UINT32_MAX) goto oom;
        if (shards.n == before) continue; /* given twice */
        int here;
        if (!(key = shard_key(paths[i], strlen(paths[i]), &here))) goto oom;
        if ((file_of[id] = names_add(&files, key, strlen(key))) == UINT32_MAX) goto oom;
        free(key);
        key = NULL;
    }
    if (!(dl = in_open(o->drop, DOC_DEFAULT_MAX_LINE, e))) goto fail;
    const char *l;
    size_t len;
    int rc;
    while ((rc = in_line(dl, &l, &len, e)) == 1) {
        const char *t1 = memchr(l, '\t', len);
        const char *t2 = t1 ? memchr(t1 + 1, '\t', len - (size_t)(t1 + 1 - l)) : NULL;
        size_t nl;
        uint64_t line;
        if (!t2 || parse_ref(l, (size_t)(t1 - l), &nl, &line) ||
            !((t2 - t1 - 1 == 5 && !memcmp(t1 + 1, "exact", 5)) ||
              (t2 - t1 - 1 == 4 && !memcmp(t1 + 1, "near", 4)))) {
            err_at(e, o->drop, in_lineno(dl), "not a drop list line (SHARD:LINE<TAB>REASON<TAB>DUP_OF)");
            goto fail;
        }
        n_listed++;
        if (last.len != nl || memcmp(last.data, l, nl)) { /* the list is sorted: names come in runs */
            last.len = 0;
            if (buf_append(&last, l, nl)) goto oom;
            int here;
            if (!(key = shard_key(l, nl, &here))) goto oom;
            last_file = names_find(&files, key, strlen(key), NULL);
            free(key);
            key = NULL;
            size_t bl, gl;
            const char *b = base_name(l, nl, &bl);
            int same_base = 0;
            for (size_t i = 0; i < shards.n && !same_base; i++) {
                const char *g = base_name(shards.name[i], strlen(shards.name[i]), &gl);
                same_base = gl == bl && !memcmp(g, b, bl);
            }
            if (last_file == UINT32_MAX && !suspect && (!here || same_base)) {
                if (!(suspect = strndup(l, nl))) goto oom;
                suspect_here = here;
            }
        }
        uint32_t sh = last_file;
        if (sh == UINT32_MAX) continue; /* another shard's */
        if (refmap_get(&map, sh, line) != UINT32_MAX) continue; /* listed twice: once is enough */
        if (grow((void **)&ent, &cap_ent, n_ent + 1, sizeof *ent)) goto oom;
        ent[n_ent] = (DropEntry){ (uint32_t)text.len, 0, 0, 0 };
        if (buf_append(&text, t1 + 1, (size_t)(t2 - t1 - 1)) || buf_putc(&text, 0)) goto oom;
        ent[n_ent].dup_off = (uint32_t)text.len;
        ent[n_ent].dup_len = (uint32_t)(l + len - t2 - 1);
        if (buf_append(&text, t2 + 1, ent[n_ent].dup_len) || buf_putc(&text, 0)) goto oom;
        if (refmap_put(&map, sh, line, (uint32_t)n_ent)) goto oom;
        n_ent++;
    }
    if (rc < 0) goto fail;
    in_close(dl);
    dl = NULL;
    /* Nothing on the list is ours. Quiet when every shard it names is another
     * file here (apply run shard by shard, on one without duplicates); a name
     * that is no file here, or that shares a file name with one of ours, says
     * that sig saw these shards under other paths (another working folder,
     * moved files): every duplicate would be kept without a word. */
    if (!n_ent && n_listed && suspect) {
        Err w;
        err_set(&w, "warning: %s: none of its %" PRIu64 " entries names the shard%s given (it names '%s', %s): "
                    "nothing is dropped; give sig and apply paths to the same files",
                o->drop, n_listed, n == 1 ? "" : "s", suspect,
                suspect_here ? "another file of the same name" : "which is not a file here");
        err_warn(&w);
    }
    if (!(in = doc_open(&din, paths, n, e))) goto fail;
    if (!(out = docw_open(o->out, &o->doc, e))) goto fail;
    if (o->rejects && !(rej = docw_open(o->rejects, &o->doc, e))) goto fail;
    Progress p;
    progress_start(&p, "dedup apply", o->common.progress, doc_total_size(in));
    Doc d;
    while ((rc = doc_next(in, &d, e)) == 1) {
        if (d.skipped) { /* a file, not a document */
            if (docw_write_skipped(rej, &d, "dedup_reason", e)) goto fail;
            continue;
        }
        c->in++;
        uint32_t sh = names_find(&shards, d.path ? d.path : "-", strlen(d.path ? d.path : "-"), NULL);
        uint32_t k = sh == UINT32_MAX ? UINT32_MAX : refmap_get(&map, file_of[sh], d.lineno);
        if (k == UINT32_MAX) {
            if (docw_write(out, &d, NULL, 0, NULL, e)) goto fail;
            c->kept++;
        } else {
            DropEntry *en = &ent[k];
            const char *reason = text.data + en->reason_off;
            en->used = 1;
            extra.len = 0;
            if (buf_append(&extra, "\"dedup_reason\":\"", 16) || buf_append(&extra, reason, strlen(reason)) ||
                buf_append(&extra, "\",\"dup_of\":", 11) ||
                json_escape(&extra, text.data + en->dup_off, en->dup_len) || buf_putc(&extra, 0))
                goto oom;
            if (rej && docw_write(rej, &d, NULL, 0, extra.data, e)) goto fail;
            if (reason[0] == 'e') c->exact++;
            else c->near++;
        }
        if (!(c->in & 255))
            progress_update(&p, doc_consumed(in), doc_stats(in)->n_bytes, c->in, "docs");
    }
    if (rc < 0) goto fail;
    progress_end(&p);
    c->bad = doc_stats(in)->n_bad;
    char inputs_sum[512]; /* bad lines and files, and the files read each way */
    doc_summary(doc_stats(in), 1, inputs_sum, sizeof inputs_sum);
    for (size_t i = 0; i < n_ent; i++)
        if (!ent[i].used) {
            err_set(e, "%s: %zu listed documents are not in the shards (wrong shard names, or the "
                       "shards changed since sig)",
                    o->drop, n_ent - (size_t)(c->exact + c->near));
            goto fail;
        }
    if (rej) {
        rc = docw_close(rej, e);
        rej = NULL;
        if (rc) goto fail;
    }
    rc = docw_close(out, e);
    out = NULL;
    if (rc) goto fail;
    /* --bad-lines last: a failure before this removes it with the rest. */
    rc = doc_close(in, e);
    in = NULL;
    if (rc) goto fail;
    progress_summary(&p,
                     "%" PRIu64 " in = %" PRIu64 " kept + %" PRIu64 " exact + %" PRIu64
                     " near duplicates dropped%s",
                     c->in, c->kept, c->exact, c->near, inputs_sum);
    names_free(&shards), names_free(&files);
    free(file_of);
    free(suspect);
    free(map.slot);
    free(ent);
    buf_free(&text), buf_free(&extra), buf_free(&last);
    return 0;
oom:
    err_set(e, "out of memory");
fail:
    if (dl) in_close(dl);
    doc_abort(in);
    docw_abort(rej);
    docw_abort(out);
    names_free(&shards), names_free(&files);
    free(file_of);
    free(key);
    free(suspect);
    free(map.slot);
    free(ent);
    buf_free(&text), buf_free(&extra), buf_free(&last);
    return -1;
}
