/* bpe encode / decode / info / convert. Encoding is a document pass
 * (lib/docpass.c): each of its threads encodes documents with its own
 * encoder (and cache) into the document's slot, and the ids are handed on in
 * input order, so the output is the same for any -j. Speed: bench/bpe/run.sh. */
#include "bpe.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docpass.h"
#include "iofile.h"
#include "json.h"
#include "progress.h"
#include "tokfile.h"
#include "utf8.h"

Tokenizer *bpe_load(const BpeSource *src, Err *e)
{
    if (src->tiktoken) return tok_load_tiktoken(src->tiktoken, src->pattern, e);
    return tok_load_json(src->json, e);
}

/* decode --ids: the longest line (a document's ids) read */
#define DECODE_MAX_LINE ((size_t)1 << 30)

/* A slot's ids (or formatted bytes) past this many are given back after the
 * emit: a long document does not keep its memory in the slot for the rest of
 * the run. */
#define SLOT_IDS_KEPT ((size_t)1 << 20)

typedef struct EncodePass {
    int allow_special;
    BpeFormatFn fmt;
    BpeDocFn fn;
    void *ctx;
} EncodePass;

/* A thread's encoder, and where it puts a document's ids when they are
 * formatted at once (then only the bytes, half their size, wait in the slot). */
typedef struct EncodeWorker {
    TokEncoder *enc;
    IdBuf ids;
} EncodeWorker;

/* A document's result: its ids (without a format function) or its bytes. */
typedef struct EncodeSlot {
    IdBuf ids;
    size_t n_ids;
    BpeFormatted f;
} EncodeSlot;

static int encode_one(void *ctx, void *worker, const Doc *d, void *slot, Err *e)
{
    const EncodePass *p = ctx;
    EncodeWorker *w = worker;
    EncodeSlot *s = slot;
    IdBuf *ids = p->fmt ? &w->ids : &s->ids;
    Err inner;
    ids->len = 0;
    if (tok_encode(w->enc, d->text, d->text_len, p->allow_special, ids, &inner))
        return err_at(e, d->path, d->lineno, "%s", inner.msg);
    s->n_ids = ids->len;
    if (!p->fmt) return 0;
    s->f.bytes.len = 0;
    s->f.n_docs = 0;
    int rc = p->fmt(p->ctx, ids->ids, ids->len, &s->f, e);
    if (ids->cap > SLOT_IDS_KEPT) idbuf_free(ids);
    return rc;
}

static void slot_free(void *slot)
{
    EncodeSlot *s = slot;
    idbuf_free(&s->ids);
    buf_free(&s->f.bytes);
}

static int emit_ids(void *ctx, const Doc *d, void *slot, Err *e)
{
    const EncodePass *p = ctx;
    EncodeSlot *s = slot;
    if (d->skipped) return 0;
    int rc = p->fn(p->ctx, d, p->fmt ? NULL : s->ids.ids, s->n_ids, p->fmt ? &s->f : NULL, e);
    if (s->ids.cap > SLOT_IDS_KEPT) idbuf_free(&s->ids);
    if (s->f.bytes.cap > 4 * SLOT_IDS_KEPT) buf_free(&s->f.bytes);
    return rc;
}

int bpe_encode_docs(const Tokenizer *t, const DocOpts *doc, const char *const *inputs,
                    size_t n_inputs, unsigned threads, int allow_special, Progress *p, BpeFormatFn fmt,
                    BpeDocFn fn, void *ctx, uint64_t *n_bytes, Err *e)
{
    if (!threads) threads = cli_cores();
    int rc = -1;
    unsigned n_enc = threads + 1; /* -j encoding threads, and the reading thread, which helps once it has read */
    EncodeWorker *enc = calloc(n_enc, sizeof *enc);
    DocReader *r = NULL;
    *n_bytes = 0;
    if (!enc) return err_set(e, "out of memory");
    for (unsigned k = 0; k < n_enc; k++)
        if (!(enc[k].enc = tok_encoder_new(t, e))) goto done;
    if (!(r = doc_open(doc, inputs, n_inputs, e))) goto done;
    EncodePass ep = { .allow_special = allow_special, .fmt = fmt, .fn = fn, .ctx = ctx };
    DocPassOpts po = { .threads = threads, .reader_apart = 1, .workers = enc, .worker_size = sizeof *enc,
                       .slot_size = sizeof(EncodeSlot), .slot_free = slot_free, .work = encode_one,
                       .emit = emit_ids, .emit_beside_work = 1, .ctx = &ep, .progress = p };
    DocPassCounts counts;
    if (docpass_run(r, &po, &counts, e)) goto done;
    *n_bytes = counts.n_text_bytes;
    rc = doc_close(r, e);
    r = NULL;
done:
    doc_abort(r);
    for (unsigned k = 0; k < n_enc; k++) {
        tok_encoder_free(enc[k].enc);
        idbuf_free(&enc[k].ids);
    }
    free(enc);
    return rc;
}

/* ---- encode ---- */

typedef struct EncodeCtx {
    const Tokenizer *t;
    TokWriter *tw;
    OutFile *ids_out;
    uint64_t n_tokens, n_docs; /* the emit's: format_doc reads only t, tw and ids_out */
} EncodeCtx;

/* Decimal digits of v, written backwards ending at end; returns the start. */
static char *put_decimal(char *end, uint32_t v)
{
    do *--end = (char)('0' + v % 10);
    while (v /= 10);
    return end;
}

/* On the encoding thread: a document's ids as what encode writes. */
static int format_doc(const void *arg, const uint32_t *ids, size_t n, BpeFormatted *f, Err *e)
{
    const EncodeCtx *c = arg;
    Buf *b = &f->bytes;
    if (c->ids_out) {
        if (buf_reserve(b, n * 11 + 1)) return err_set(e, "out of memory");
        for (size_t i = 0; i < n; i++) {
            char digits[10], *end = digits + sizeof digits, *s = put_decimal(end, ids[i]);
            if (i) b->data[b->len++] = ' ';
            memcpy(b->data + b->len, s, (size_t)(end - s));
            b->len += (size_t)(end - s);
        }
        b->data[b->len++] = '\n';
        f->n_docs = 1;
        return 0;
    }
    /* With --allow-special a literal end-of-text in the text ends the document
     * there: the rest (maybe empty) is the next document, so the stream is
     * exactly tiktoken's ids with end-of-text after each document. */
    uint32_t eot = (uint32_t)c->t->eot_id;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && ids[i] != eot) continue;
        if (tokw_format(c->tw, ids + start, i - start, b, e)) return -1;
        f->n_docs++;
        start = i + 1;
    }
    return 0;
}

/* In input order: the bytes format_doc made. */
static int put_doc(void *arg, const Doc *d, const uint32_t *ids, size_t n, const BpeFormatted *f, Err *e)
{
    EncodeCtx *c = arg;
    (void)d;
    (void)ids;
    c->n_tokens += n;
    c->n_docs += f->n_docs;
    return c->tw ? tokw_raw(c->tw, f->bytes.data, f->bytes.len, e)
                 : out_write(c->ids_out, f->bytes.data, f->bytes.len, e);
}

int bpe_encode(const BpeEncodeOpts *o, Err *e)
{
    Tokenizer *t = bpe_load(&o->src, e);
    if (!t) return -1;
    EncodeCtx c = { .t = t };
    int rc = -1;
    if (!o->ids) {
        if (t->eot_id < 0) {
            err_set(e, "%s has no special tokens, so no end-of-text to put between documents "
                       "(train with --special '<|endoftext|>', or use --ids)",
                    o->src.json ? o->src.json : o->src.tiktoken);
            goto done;
        }
        uint64_t fp;
        if (tok_fingerprint(t, &fp, e)) goto done;
        if (!(c.tw = tokw_open(o->out, t->n_vocab, (uint32_t)t->eot_id, fp, e))) goto done;
    } else if (!(c.ids_out = out_open(o->out, e))) {
        goto done;
    }
    DocOpts doc = o->doc;
    DocStats dst = { 0 };
    doc.stats_out = &dst; /* for the summary: bad lines and files, files read each way */
    Progress p;
    progress_start(&p, "bpe", o->common.progress, 0);
    uint64_t n_bytes;
    unsigned threads = o->common.threads ? o->common.threads : cli_cores();
    if (bpe_encode_docs(t, &doc, o->inputs, o->n_inputs, threads, o->allow_special, &p, format_doc,
                        put_doc, &c, &n_bytes, e))
        goto done;
    rc = c.tw ? tokw_close(c.tw, e) : out_close(c.ids_out, e);
    c.tw = NULL;
    c.ids_out = NULL;
    progress_end(&p);
    if (!rc) {
        double s = progress_elapsed(&p);
        char files[512];
        doc_summary(&dst, 0, files, sizeof files);
        progress_summary(&p,
                         "encoded %" PRIu64 " documents, %.1f MB into %" PRIu64
                         " tokens (%.4f tokens/byte) in %.2f s, %.1f MB/s, %u thread%s%s",
                         c.n_docs, (double)n_bytes / 1e6, c.n_tokens,
                         n_bytes ? (double)c.n_tokens / (double)n_bytes : 0.0, s,
                         s > 0 ? (double)n_bytes / 1e6 / s : 0.0, threads, threads == 1 ? "" : "s", files);
    }
done:
    tokw_abort(c.tw);
    out_abort(c.ids_out);
    tok_free(t);
    return rc;
}

/* ---- decode ---- */

/* Where decode's documents go: JSON Lines {"text": ...}, or raw bytes with
 * o->sep between them. */
typedef struct DecodeOut {
    const BpeDecodeOpts *o;
    const Tokenizer *t;
    OutFile *out;
    Buf text, line;
    uint64_t n_docs, n_tokens, n_bytes;
} DecodeOut;

/* Decode ids[0..n) as the next document and write it. Errors say where the
 * document came from: path:lineno for id lists, "path: document N" for a
 * token stream (lineno 0). */
static int decode_doc(DecodeOut *d, const uint32_t *ids, size_t n, const char *path, uint64_t lineno, Err *e)
{
    char where[64];
    d->n_docs++;
    snprintf(where, sizeof where, "document %" PRIu64, d->n_docs);
    d->text.len = 0;
    Err inner;
    if (tok_decode(d->t, ids, n, &d->text, &inner)) {
        if (lineno) return err_at(e, path, lineno, "%s", inner.msg);
        return err_set(e, "%s: %s, %s", path, where, inner.msg);
    }
    d->n_tokens += n;
    d->n_bytes += d->text.len;
    if (d->o->text) {
        const char *sep = d->o->sep;
        if (sep && d->n_docs > 1 &&
            (out_write(d->out, "\n", 1, e) || out_write(d->out, sep, strlen(sep), e) || out_write(d->out, "\n", 1, e)))
            return -1;
        return out_write(d->out, d->text.data, d->text.len, e);
    }
    size_t ok = utf8_valid_prefix(d->text.data, d->text.len);
    if (ok < d->text.len) {
        if (lineno)
            return err_at(e, path, lineno, "the ids decode to invalid UTF-8 at byte %zu, which JSON cannot hold "
                                           "(--text writes raw bytes)", ok + 1);
        return err_set(e, "%s: %s decodes to invalid UTF-8 at byte %zu, which JSON cannot hold (--text writes "
                          "raw bytes)", path, where, ok + 1);
    }
    d->line.len = 0;
    if (buf_append(&d->line, "{\"text\":", 8) || json_escape(&d->line, d->text.data, d->text.len) ||
        buf_append(&d->line, "}\n", 2))
        return err_set(e, "out of memory");
    return out_write(d->out, d->line.data, d->line.len, e);
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* One line of `bpe encode --ids` (decimal ids between blanks; an empty line
 * is an empty document) into ids. */
static int parse_ids(const char *s, size_t n, IdBuf *ids, const char *path, uint64_t lineno, Err *e)
{
    ids->len = 0;
    for (size_t i = 0;;) {
        while (i < n && is_blank(s[i])) i++;
        if (i == n) return 0;
        size_t from = i;
        uint64_t v = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9' && v <= UINT32_MAX) v = 10 * v + (uint64_t)(s[i++] - '0');
        if (i == from || v > UINT32_MAX || (i < n && !is_blank(s[i]))) {
            size_t to = from;
            while (to < n && !is_blank(s[to])) to++;
            return err_at(e, path, lineno, "'%.*s' is not a token id (decimal ids between spaces, one "
                                           "document a line, as bpe encode --ids writes)",
                          (int)(to - from < 40 ? to - from : 40), s + from);
        }
        if (idbuf_push(ids, (uint32_t)v)) return err_set(e, "out of memory");
    }
}

/* A token stream: its header must be the tokenizer's (vocabulary, end-of-text,
 * fingerprint when it records one). */
static int decode_stream(DecodeOut *d, Tokenizer *t, Progress *p, Err *e)
{
    const BpeDecodeOpts *o = d->o;
    int rc = -1;
    TokReader *r = tokr_open(o->in, e);
    if (!r) return -1;
    const TokHeader *h = tokr_header(r);
    if (h->vocab_size > t->n_vocab) {
        err_set(e, "%s: the stream's vocabulary has %u ids, the tokenizer only %u: another tokenizer?",
                err_name(o->in), h->vocab_size, t->n_vocab);
        goto done;
    }
    if ((int64_t)h->eot_id != t->eot_id) {
        err_set(e, "%s: the stream's end-of-text is id %u, the tokenizer's is %" PRId64
                   ": another tokenizer?",
                err_name(o->in), h->eot_id, t->eot_id);
        goto done;
    }
    const char *tok_name = o->src.json ? o->src.json : o->src.tiktoken;
    uint64_t fp;
    char want[17], got[17];
    if (tok_fingerprint(t, &fp, e)) goto done;
    tok_fingerprint_hex(h->fingerprint, want);
    tok_fingerprint_hex(fp, got);
    if (h->fingerprint && h->fingerprint != fp) {
        err_set(e, "%s was encoded with the tokenizer of fingerprint %s, but %s has fingerprint %s: "
                   "another tokenizer",
                err_name(o->in), want, tok_name, got);
        goto done;
    }
    if (!h->fingerprint) {
        Err note;
        err_set(&note, "note: %s records no tokenizer fingerprint (token stream version %u), so "
                       "%s cannot be checked against it",
                err_name(o->in), h->version, tok_name);
        err_warn(&note);
    }
    if (!(d->out = out_open(o->out, e))) goto done;
    const uint32_t *ids;
    size_t n;
    int k;
    while ((k = tokr_doc(r, &ids, &n, e)) == 1) {
        if (decode_doc(d, ids, n, err_name(o->in), 0, e)) goto done;
        progress_update(p, tokr_consumed(r), d->n_bytes, d->n_docs, "docs");
    }
    rc = k;
done:
    tokr_close(r);
    return rc;
}

/* Id lists, as encode --ids writes them: nothing records the tokenizer, so
 * only the ids themselves can be checked (each must hold a token). */
static int decode_id_lines(DecodeOut *d, Progress *p, Err *e)
{
    const BpeDecodeOpts *o = d->o;
    int rc = -1, k;
    IdBuf ids = { 0 };
    InFile *f = in_open(o->in, DECODE_MAX_LINE, e);
    if (!f || !(d->out = out_open(o->out, e))) goto done;
    const char *line;
    size_t len;
    while ((k = in_line(f, &line, &len, e)) == 1) {
        if (parse_ids(line, len, &ids, err_name(o->in), in_lineno(f), e) ||
            decode_doc(d, ids.ids, ids.len, err_name(o->in), in_lineno(f), e))
            goto done;
        progress_update(p, in_consumed(f), d->n_bytes, d->n_docs, "docs");
    }
    rc = k;
done:
    in_close(f);
    idbuf_free(&ids);
    return rc;
}

int bpe_decode(const BpeDecodeOpts *o, Err *e)
{
    Tokenizer *t = bpe_load(&o->src, e);
    if (!t) return -1;
    DecodeOut d = { .o = o, .t = t };
    Progress p;
    progress_start(&p, "bpe", o->common.progress, 0);
    int rc = o->ids ? decode_id_lines(&d, &p, e) : decode_stream(&d, t, &p, e);
    if (!rc) {
        rc = out_close(d.out, e);
        d.out = NULL;
    }
    progress_end(&p);
    if (!rc)
        progress_summary(&p, "decoded %" PRIu64 " documents, %" PRIu64 " tokens into %.1f MB in %.2f s",
                         d.n_docs, d.n_tokens, (double)d.n_bytes / 1e6, progress_elapsed(&p));
    out_abort(d.out);
    buf_free(&d.text);
    buf_free(&d.line);
    tok_free(t);
    return rc;
}

/* ---- info ---- */

typedef struct InfoCtx {
    uint64_t *count; /* per id */
    uint64_t n_tokens, n_docs;
} InfoCtx;

static int count_doc(void *arg, const Doc *d, const uint32_t *ids, size_t n, const BpeFormatted *f, Err *e)
{
    InfoCtx *c = arg;
    (void)d;
    (void)f;
    (void)e;
    for (size_t i = 0; i < n; i++) c->count[ids[i]]++;
    c->n_tokens += n;
    c->n_docs++;
    return 0;
}

/* A token's bytes for people: printable ASCII as is, the rest escaped. */
static void show_token(FILE *f, const char *p, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c == '\n') fputs("\\n", f);
        else if (c == '\t') fputs("\\t", f);
        else if (c >= 0x20 && c < 0x7f) fputc(c, f);
        else if (c >= 0x80 && utf8_valid_prefix(p + i, n - i) > 0) { /* whole UTF-8 characters */
            uint32_t cp;
            size_t k = utf8_decode(p + i, n - i, &cp);
            if (!k) fprintf(f, "\\x%02x", c);
            else {
                fwrite(p + i, 1, k, f);
                i += k - 1;
            }
        } else fprintf(f, "\\x%02x", c);
    }
    fputc('"', f);
}

static const uint64_t *sort_counts;
static int by_count(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    if (sort_counts[a] != sort_counts[b]) return sort_counts[a] > sort_counts[b] ? -1 : 1;
    return a < b ? -1 : a > b;
}

/* Encode the documents and count each id into c (calloc'ed here). */
static int count_tokens(const Tokenizer *t, const BpeInfoOpts *o, InfoCtx *c, uint64_t *n_bytes, Err *e)
{
    if (!(c->count = calloc(t->n_vocab, sizeof *c->count))) return err_set(e, "out of memory");
    DocOpts doc = o->doc;
    return bpe_encode_docs(t, &doc, o->inputs, o->n_inputs, o->common.threads, 0, NULL, NULL, count_doc, c,
                           n_bytes, e);
}

/* --vocab: one line a token, ids in order, tab-separated under a header line;
 * ids that hold no token (cl100k's 100256) are left out. count: NULL without
 * documents. */
static void print_vocab(const Tokenizer *t, const uint64_t *count)
{
    printf("id\tkind\tbytes\thex\ttoken%s\n", count ? "\tcount" : "");
    for (uint32_t id = 0; id < t->n_vocab; id++) {
        if (t->kind[id] == TOK_NONE) continue;
        size_t len;
        const char *p = tok_bytes(t, id, &len);
        printf("%u\t%s\t%zu\t", id, t->kind[id] == TOK_SPECIAL ? "special" : len == 1 ? "byte" : "token", len);
        for (size_t i = 0; i < len; i++) printf("%02x", (unsigned char)p[i]);
        putchar('\t');
        show_token(stdout, p, len);
        if (count) printf("\t%" PRIu64, count[id]);
        putchar('\n');
    }
}

int bpe_info(const BpeInfoOpts *o, Err *e)
{
    Tokenizer *t = bpe_load(&o->src, e);
    if (!t) return -1;
    int rc = -1;
    InfoCtx c = { 0 };
    uint32_t *order = NULL;
    uint64_t n_bytes = 0;
    if (o->vocab) {
        if (o->n_inputs && count_tokens(t, o, &c, &n_bytes, e)) goto done;
        print_vocab(t, c.count);
        goto flush;
    }
    /* the longest token: the first (lowest id) of the greatest length */
    uint32_t n_tokens = 0, n_single = 0, max_len = 0, longest = 0, n_longest = 0;
    for (uint32_t id = 0; id < t->n_vocab; id++) {
        size_t len;
        tok_bytes(t, id, &len);
        n_tokens += t->kind[id] != TOK_NONE;
        n_single += t->kind[id] == TOK_NORMAL && len == 1;
        if (t->kind[id] != TOK_NORMAL) continue;
        if (len > max_len) {
            max_len = (uint32_t)len;
            longest = id;
            n_longest = 1;
        } else if (len == max_len) {
            n_longest++;
        }
    }
    printf("source:        %s\n", o->src.json ? o->src.json : o->src.tiktoken);
    printf("vocab size:    %u ids (%u tokens: %u single bytes, %u longer, %u special)\n", t->n_vocab,
           n_tokens, n_single, n_tokens - n_single - t->n_specials, t->n_specials);
    printf("merges:        %u%s\n", t->n_merges,
           t->rank_by_bytes ? " (implied by the ranks: pairs merge by the rank of their bytes, as tiktoken)" : "");
    printf("longest token: %u bytes", max_len);
    if (n_longest) {
        size_t len;
        const char *p = tok_bytes(t, longest, &len);
        printf(", id %u ", longest);
        show_token(stdout, p, len);
        if (n_longest > 1) printf(" (and %u more of that length)", n_longest - 1);
    }
    putchar('\n');
    const char *bi = t->regex ? pretok_builtin_of(t->regex) : NULL;
    if (bi) printf("pattern:       %s\n", bi);
    else printf("pattern:       %s\n", t->regex ? t->regex : "(none: the whole text is one piece)");
    if (t->add_prefix_space) printf("prefix space:  yes (HF ByteLevel add_prefix_space)\n");
    uint64_t fp;
    char hex[17];
    if (tok_fingerprint(t, &fp, e)) goto done;
    tok_fingerprint_hex(fp, hex);
    printf("fingerprint:   %s\n", hex);
    for (uint32_t i = 0; i < t->n_specials; i++) {
        size_t len;
        const char *p = tok_bytes(t, t->specials[i], &len);
        printf("special:       %u ", t->specials[i]);
        show_token(stdout, p, len);
        printf("%s\n", (int64_t)t->specials[i] == t->eot_id ? "  (end-of-text)" : "");
    }
    if (o->n_inputs) {
        fflush(stdout); /* the description shows while the documents are encoded */
        if (count_tokens(t, o, &c, &n_bytes, e)) goto done;
        uint32_t used = 0;
        for (uint32_t id = 0; id < t->n_vocab; id++) used += c.count[id] > 0;
        printf("documents:     %" PRIu64 ", %" PRIu64 " bytes\n", c.n_docs, n_bytes);
        printf("tokens:        %" PRIu64 " (%.4f tokens/byte, %.3f bytes/token)\n", c.n_tokens,
               n_bytes ? (double)c.n_tokens / (double)n_bytes : 0.0,
               c.n_tokens ? (double)n_bytes / (double)c.n_tokens : 0.0);
        printf("ids used:      %u of %u\n", used, t->n_vocab);
        if (!(order = malloc(t->n_vocab * sizeof *order))) {
            err_set(e, "out of memory");
            goto done;
        }
        for (uint32_t id = 0; id < t->n_vocab; id++) order[id] = id;
        sort_counts = c.count;
        qsort(order, t->n_vocab, sizeof *order, by_count);
        for (uint32_t i = 0; i < o->top && i < t->n_vocab && c.count[order[i]]; i++) {
            size_t len;
            const char *p = tok_bytes(t, order[i], &len);
            printf("top %3u:       %7u %12" PRIu64 " %6.3f%%  ", i + 1, order[i], c.count[order[i]],
                   100.0 * (double)c.count[order[i]] / (double)c.n_tokens);
            show_token(stdout, p, len);
            putchar('\n');
        }
    }
flush:
    if (fflush(stdout) || ferror(stdout)) {
        err_sys(e, "<stdout>", "write");
        goto done;
    }
    rc = 0;
done:
    free(c.count);
    free(order);
    tok_free(t);
    return rc;
}

/* ---- convert ---- */

int bpe_convert(const BpeSource *src, const char *out, CommonOpts common, Err *e)
{
    Progress p;
    progress_start(&p, "bpe", common.progress, 0);
    if (out_check(out, e)) return -1;
    Tokenizer *t = bpe_load(src, e);
    if (!t) return -1;
    int rc = tok_save_json(t, out, e);
    if (!rc)
        progress_summary(&p, "wrote %s: %u ids, %u merges, pattern %s, %u special tokens",
                         err_name(out), t->n_vocab, t->n_merges,
                         t->regex && pretok_builtin_of(t->regex) ? pretok_builtin_of(t->regex) : "custom",
                         t->n_specials);
    tok_free(t);
    return rc;
}
