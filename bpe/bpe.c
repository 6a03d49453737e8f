/* bpe encode / decode / info / convert. Encoding runs in rounds: the main
 * thread reads the next batch of documents while N workers encode the current
 * one (taking documents from a shared counter, each with its own cache); the
 * results are then written in input order, so the output is the same for any
 * -j. Speed: bench/bpe/run.sh. */
#include "bpe.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

#define BATCH_BYTES_PER_THREAD (1u << 20)

typedef struct Batch {
    Buf text;
    size_t *off; /* (n + 1) document i is text[off[i] .. off[i+1]) */
    const char **path;
    uint64_t *lineno;
    size_t n, cap;
} Batch;

static void batch_free(Batch *b)
{
    buf_free(&b->text);
    free(b->off);
    free(b->path);
    free(b->lineno);
}

/* Read documents until the batch holds max_bytes (at least one document).
 * 0 ok (b->n 0: no more input), -1 error. */
static int batch_read(Batch *b, DocReader *r, size_t max_bytes, Err *e)
{
    b->n = 0;
    b->text.len = 0;
    while (b->text.len < max_bytes) {
        Doc d;
        int rc = doc_next(r, &d, e);
        if (rc < 0) return -1;
        if (rc == 0) break;
        if (b->n + 1 >= b->cap) {
            size_t cap = b->cap ? 2 * b->cap : 1024;
            size_t *off = realloc(b->off, (cap + 1) * sizeof *off);
            if (off) b->off = off;
            const char **path = realloc(b->path, cap * sizeof *path);
            if (path) b->path = path;
            uint64_t *ln = realloc(b->lineno, cap * sizeof *ln);
            if (ln) b->lineno = ln;
            if (!off || !path || !ln) return err_set(e, "out of memory");
            b->cap = cap;
        }
        b->off[b->n] = b->text.len;
        if (buf_append(&b->text, d.text, d.text_len)) return err_set(e, "out of memory");
        b->path[b->n] = d.path;
        b->lineno[b->n] = d.lineno;
        b->n++;
        b->off[b->n] = b->text.len;
    }
    return 0;
}

/* Workers take documents one at a time from a shared counter (no thread waits
 * on a slow share), and note where each document's ids went; the main thread
 * then visits documents in input order. */
typedef struct Round {
    const Batch *b;
    size_t next;         /* the next document to take (atomic) */
    uint32_t *who;       /* (n) the worker that encoded document i */
    size_t *at, *count;  /* (n) where its ids start in that worker's buffer, how many */
    size_t cap;
} Round;

typedef struct Worker {
    TokEncoder *enc;
    Round *round;
    uint32_t index;
    int allow_special;
    IdBuf ids;
    int failed;
    size_t failed_doc;
    Err err;
    pthread_t th;
} Worker;

static void *work(void *arg)
{
    Worker *w = arg;
    Round *r = w->round;
    const Batch *b = r->b;
    w->ids.len = 0;
    w->failed = 0;
    for (;;) {
        size_t i = __atomic_fetch_add(&r->next, 1, __ATOMIC_RELAXED);
        if (i >= b->n) break;
        size_t before = w->ids.len;
        Err inner;
        if (tok_encode(w->enc, b->text.data + b->off[i], b->off[i + 1] - b->off[i],
                       w->allow_special, &w->ids, &inner)) {
            w->failed = 1;
            w->failed_doc = i;
            err_at(&w->err, b->path[i], b->lineno[i], "%s", inner.msg);
            return NULL;
        }
        r->who[i] = w->index;
        r->at[i] = before;
        r->count[i] = w->ids.len - before;
    }
    return NULL;
}

int bpe_encode_docs(const Tokenizer *t, const DocOpts *doc, const char *const *inputs,
                    size_t n_inputs, unsigned threads, int allow_special, Progress *p, BpeDocFn fn,
                    void *ctx, uint64_t *n_bytes, Err *e)
{
    if (!threads) threads = cli_cores();
    int rc = -1;
    Batch bat[2];
    memset(bat, 0, sizeof bat);
    Round round = { 0 };
    Worker *w = calloc(threads, sizeof *w);
    DocReader *r = NULL;
    uint64_t n_docs = 0;
    *n_bytes = 0;
    if (!w) return err_set(e, "out of memory");
    for (unsigned k = 0; k < threads; k++) {
        if (!(w[k].enc = tok_encoder_new(t, e))) goto done;
        w[k].allow_special = allow_special;
        w[k].round = &round;
        w[k].index = k;
    }
    if (!(r = doc_open(doc, inputs, n_inputs, e))) goto done;
    size_t max_bytes = (size_t)threads * BATCH_BYTES_PER_THREAD;
    Batch *cur = &bat[0], *next = &bat[1];
    if (batch_read(cur, r, max_bytes, e)) goto done;
    while (cur->n) {
        if (cur->n > round.cap) {
            size_t cap = 2 * cur->n;
            uint32_t *who = realloc(round.who, cap * sizeof *who);
            if (who) round.who = who;
            size_t *at = realloc(round.at, cap * sizeof *at);
            if (at) round.at = at;
            size_t *cnt = realloc(round.count, cap * sizeof *cnt);
            if (cnt) round.count = cnt;
            if (!who || !at || !cnt) {
                err_set(e, "out of memory");
                goto done;
            }
            round.cap = cap;
        }
        round.b = cur;
        round.next = 0;
        unsigned used = threads < cur->n ? threads : (unsigned)cur->n, started = 0;
        if (used > 1) {
            for (; started < used; started++)
                if (pthread_create(&w[started].th, NULL, work, &w[started])) break;
            if (started < used) {
                for (unsigned j = 0; j < started; j++) pthread_join(w[j].th, NULL);
                err_set(e, "cannot start a thread");
                goto done;
            }
        } else {
            work(&w[0]);
        }
        int read_rc = batch_read(next, r, max_bytes, e);
        for (unsigned k = 0; k < started; k++) pthread_join(w[k].th, NULL);
        /* The first failed document in input order is the one reported. */
        int failed = -1;
        for (unsigned k = 0; k < used; k++)
            if (w[k].failed && (failed < 0 || w[k].failed_doc < w[failed].failed_doc)) failed = (int)k;
        if (failed >= 0) {
            *e = w[failed].err;
            goto done;
        }
        if (read_rc) goto done;
        for (size_t i = 0; i < cur->n; i++) {
            Doc dd = { .text = cur->text.data + cur->off[i],
                       .text_len = cur->off[i + 1] - cur->off[i],
                       .path = cur->path[i],
                       .lineno = cur->lineno[i] };
            if (fn(ctx, &dd, w[round.who[i]].ids.ids + round.at[i], round.count[i], e)) goto done;
        }
        n_docs += cur->n;
        *n_bytes += cur->text.len;
        if (p) progress_update(p, doc_consumed(r), *n_bytes, n_docs, "docs");
        Batch *tmp = cur;
        cur = next;
        next = tmp;
    }
    rc = doc_close(r, e);
    r = NULL;
done:
    doc_abort(r);
    for (unsigned k = 0; k < threads; k++) {
        tok_encoder_free(w[k].enc);
        idbuf_free(&w[k].ids);
    }
    free(w);
    free(round.who);
    free(round.at);
    free(round.count);
    batch_free(&bat[0]);
    batch_free(&bat[1]);
    return rc;
}

/* ---- encode ---- */

typedef struct EncodeCtx {
    const Tokenizer *t;
    TokWriter *tw;
    OutFile *ids_out;
    Buf line;
    uint64_t n_tokens, n_docs;
} EncodeCtx;

static int put_doc(void *arg, const Doc *d, const uint32_t *ids, size_t n, Err *e)
{
    EncodeCtx *c = arg;
    (void)d;
    c->n_tokens += n;
    if (c->ids_out) {
        Buf *b = &c->line;
        b->len = 0;
        if (buf_reserve(b, n * 11 + 1)) return err_set(e, "out of memory");
        for (size_t i = 0; i < n; i++)
            b->len += (size_t)sprintf(b->data + b->len, i ? " %u" : "%u", ids[i]);
        b->data[b->len++] = '\n';
        c->n_docs++;
        return out_write(c->ids_out, b->data, b->len, e);
    }
    /* With --allow-special a literal end-of-text in the text ends the document
     * there: the rest (maybe empty) is the next document, so the stream is
     * exactly tiktoken's ids with end-of-text after each document. */
    uint32_t eot = (uint32_t)c->t->eot_id;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && ids[i] != eot) continue;
        if (tokw_doc(c->tw, ids + start, i - start, e)) return -1;
        c->n_docs++;
        start = i + 1;
    }
    return 0;
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
    doc.raw_bytes_ok = 1; /* plain text: invalid UTF-8 is encoded as its bytes */
    Progress p;
    progress_start(&p, "bpe", o->common.progress, 0);
    uint64_t n_bytes;
    unsigned threads = o->common.threads ? o->common.threads : cli_cores();
    if (bpe_encode_docs(t, &doc, o->inputs, o->n_inputs, threads, o->allow_special, &p, put_doc,
                        &c, &n_bytes, e))
        goto done;
    rc = c.tw ? tokw_close(c.tw, e) : out_close(c.ids_out, e);
    c.tw = NULL;
    c.ids_out = NULL;
    progress_end(&p);
    if (!rc) {
        double s = progress_elapsed(&p);
        progress_summary(&p,
                         "encoded %" PRIu64 " documents, %.1f MB into %" PRIu64
                         " tokens (%.4f tokens/byte) in %.2f s, %.1f MB/s, %u threads",
                         c.n_docs, (double)n_bytes / 1e6, c.n_tokens,
                         n_bytes ? (double)c.n_tokens / (double)n_bytes : 0.0, s,
                         s > 0 ? (double)n_bytes / 1e6 / s : 0.0, threads);
    }
done:
    tokw_abort(c.tw);
    out_abort(c.ids_out);
    buf_free(&c.line);
    tok_free(t);
    return rc;
}

/* ---- decode ---- */

int bpe_decode(const BpeDecodeOpts *o, Err *e)
{
    Tokenizer *t = bpe_load(&o->src, e);
    if (!t) return -1;
    int rc = -1;
    OutFile *out = NULL;
    Buf text = { 0 }, line = { 0 };
    TokReader *r = tokr_open(o->in, e);
    if (!r) goto done;
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
    if (!(out = out_open(o->out, e))) goto done;
    Progress p;
    progress_start(&p, "bpe", o->common.progress, 0);
    const uint32_t *ids;
    size_t n;
    uint64_t n_docs = 0, n_tokens = 0, n_bytes = 0;
    int k;
    while ((k = tokr_doc(r, &ids, &n, e)) == 1) {
        n_docs++;
        text.len = 0;
        Err inner;
        if (tok_decode(t, ids, n, &text, &inner)) {
            err_set(e, "%s: document %" PRIu64 ", %s", err_name(o->in), n_docs, inner.msg);
            goto done;
        }
        n_tokens += n;
        n_bytes += text.len;
        if (o->text) {
            if (o->sep && n_docs > 1 &&
                (out_write(out, "\n", 1, e) || out_write(out, o->sep, strlen(o->sep), e) ||
                 out_write(out, "\n", 1, e)))
                goto done;
            if (out_write(out, text.data, text.len, e)) goto done;
        } else {
            size_t ok = utf8_valid_prefix(text.data, text.len);
            if (ok < text.len) {
                err_set(e, "%s: document %" PRIu64 " decodes to invalid UTF-8 at byte %zu, which "
                           "JSON cannot hold (--text writes raw bytes)",
                        err_name(o->in), n_docs, ok + 1);
                goto done;
            }
            line.len = 0;
            if (buf_append(&line, "{\"text\":", 8) || json_escape(&line, text.data, text.len) ||
                buf_append(&line, "}\n", 2)) {
                err_set(e, "out of memory");
                goto done;
            }
            if (out_write(out, line.data, line.len, e)) goto done;
        }
        progress_update(&p, tokr_consumed(r), n_bytes, n_docs, "docs");
    }
    if (k < 0) goto done;
    rc = out_close(out, e);
    out = NULL;
    progress_end(&p);
    if (!rc)
        progress_summary(&p, "decoded %" PRIu64 " documents, %" PRIu64 " tokens into %.1f MB in %.2f s",
                         n_docs, n_tokens, (double)n_bytes / 1e6, progress_elapsed(&p));
done:
    out_abort(out);
    tokr_close(r);
    buf_free(&text);
    buf_free(&line);
    tok_free(t);
    return rc;
}

/* ---- info ---- */

typedef struct InfoCtx {
    uint64_t *count; /* per id */
    uint64_t n_tokens, n_docs;
} InfoCtx;

static int count_doc(void *arg, const Doc *d, const uint32_t *ids, size_t n, Err *e)
{
    InfoCtx *c = arg;
    (void)d;
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

int bpe_info(const BpeInfoOpts *o, Err *e)
{
    Tokenizer *t = bpe_load(&o->src, e);
    if (!t) return -1;
    int rc = -1;
    InfoCtx c = { 0 };
    uint32_t *order = NULL;
    uint32_t n_tokens = 0, n_single = 0, max_len = 0;
    for (uint32_t id = 0; id < t->n_vocab; id++) {
        size_t len;
        tok_bytes(t, id, &len);
        n_tokens += t->kind[id] != TOK_NONE;
        n_single += t->kind[id] == TOK_NORMAL && len == 1;
        if (t->kind[id] == TOK_NORMAL && len > max_len) max_len = (uint32_t)len;
    }
    printf("source:        %s\n", o->src.json ? o->src.json : o->src.tiktoken);
    printf("vocab size:    %u ids (%u tokens: %u single bytes, %u longer, %u special)\n", t->n_vocab,
           n_tokens, n_single, n_tokens - n_single - t->n_specials, t->n_specials);
    printf("merges:        %u%s\n", t->n_merges,
           t->rank_by_bytes ? " (rank file: pairs merge by the rank of their bytes, as tiktoken)" : "");
    printf("longest token: %u bytes\n", max_len);
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
        if (!(c.count = calloc(t->n_vocab, sizeof *c.count))) {
            err_set(e, "out of memory");
            goto done;
        }
        DocOpts doc = o->doc;
        doc.raw_bytes_ok = 1;
        uint64_t n_bytes;
        if (bpe_encode_docs(t, &doc, o->inputs, o->n_inputs, o->common.threads, 0, NULL, count_doc,
                            &c, &n_bytes, e))
            goto done;
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
    if (fflush(stdout) || ferror(stdout)) {
        err_sys(e, "-", "write");
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
