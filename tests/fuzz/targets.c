/* The fuzz targets: each hands one input to one of the readers the programs
 * use, the way a program would, and checks what must hold whatever the bytes:
 * an error names the file it is about; what is accepted is consistent (text
 * is valid UTF-8, ids are inside the vocabulary) and survives a round trip
 * (written back and read again, the same). Crashes, hangs and sanitizer
 * reports are the driver's (test_fuzz.c) to catch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt.h"
#include "data.h"
#include "docio.h"
#include "fuzz.h"
#include "hash.h"
#include "iofile.h"
#include "json.h"
#include "tokenizer.h"
#include "tokfile.h"
#include "urules.h"
#include "utf8.h"

/* model/data.c draws its window order with the model's generator, which
 * lives in gpt2.c with the whole model; the order is not under test here. */
uint64_t gpt_rand_u64(uint64_t *state) { return splitmix64(state); }

/* A property that does not hold: the message on stderr, and 1. */
#define FAIL(...) (fprintf(stderr, "    " __VA_ARGS__), fputc('\n', stderr), 1)

/* dir/name, in one of 8 static buffers. */
static const char *at(const char *dir, const char *name)
{
    static char path[8][4096];
    static int k;
    k = (k + 1) % 8;
    snprintf(path[k], sizeof path[k], "%s/%s", dir, name);
    return path[k];
}

static int write_all(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    int bad = !f || (n && fwrite(p, 1, n, f) != n);
    if (f && fclose(f)) bad = 1;
    if (bad) fprintf(stderr, "test_fuzz: cannot write %s\n", path);
    return bad ? -1 : 0;
}

int fuzz_seed_add(FuzzSeeds *s, const void *p, size_t n)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        Buf *v = realloc(s->v, cap * sizeof *v);
        if (!v) return -1;
        s->v = v;
        s->cap = cap;
    }
    Buf b = { 0 };
    if (buf_reserve(&b, n + 1) || buf_append(&b, p, n)) return -1;
    s->v[s->n++] = b;
    return 0;
}

int fuzz_seed_file(FuzzSeeds *s, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "test_fuzz: cannot open the seed %s (run from the repository's top folder)\n", path);
        return -1;
    }
    Buf b = { 0 };
    char chunk[65536];
    size_t k;
    int rc = 0;
    while (!rc && (k = fread(chunk, 1, sizeof chunk, f)) > 0) rc = buf_append(&b, chunk, k);
    fclose(f);
    rc = rc || fuzz_seed_add(s, b.data, b.len);
    buf_free(&b);
    return rc;
}

/* The error names the file it is about (its path, as given). */
static int names(const Err *e, const char *path)
{
    return strstr(e->msg, path) ? 0 : FAIL("the error does not name %s: %s", path, e->msg);
}

/* The file at path as a seed. */
static int seed_of(FuzzSeeds *s, const char *path)
{
    return fuzz_seed_file(s, path);
}

/* ---- JSON Lines: one line through lib/json.c */

static const char *const json_dict[] = {
    "\"text\"", "\"text\":", "{\"text\":\"", "\\u00e9", "\\ud83d\\ude00", "\\ud800", "\\udc00", "\\u0000",
    "\\\"", "\\\\", "\\n", "\\/", "null", "true", "false", "-0", "1e999", "0.5e-3", "[", "]", "{", "}", ",",
    ":", "\"", "\xc3\xa9", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\xaf", "\xef\xbb\xbf", NULL };

static int run_json(const uint8_t *d, size_t n, const char *dir)
{
    (void)dir;
    const char *s = (const char *)d, *why = NULL;
    size_t at_byte = 0;
    int valid = json_validate(s, n, &why, &at_byte) == 0;
    if (!valid && (!why || at_byte > n)) return FAIL("json_validate: error at byte %zu of %zu", at_byte, n);
    Buf text = { 0 }, line = { 0 }, again = { 0 };
    JsonSpan sp, sp2;
    int bad = 0;
    if (json_doc_scan(s, n, "text", 4, &sp, &text, &why, &at_byte) == 0) {
        if (!valid) bad = FAIL("json_doc_scan took a line json_validate refuses");
        else if (text.len && utf8_valid_prefix(text.data, text.len) != text.len)
            bad = FAIL("the text is not valid UTF-8");
        else if (!(sp.val_off < sp.val_end && sp.val_end <= n && s[sp.val_off] == '"' && s[sp.val_end - 1] == '"' &&
                   sp.close_off < n && s[sp.close_off] == '}' && sp.val_end <= sp.close_off))
            bad = FAIL("the span %zu..%zu (close %zu) does not fit the %zu-byte line", sp.val_off, sp.val_end,
                       sp.close_off, n);
        else if (buf_append(&line, "{\"text\":", 8) || json_escape(&line, text.data, text.len) ||
                 buf_putc(&line, '}'))
            bad = FAIL("out of memory");
        else if (json_doc_scan(line.data, line.len, "text", 4, &sp2, &again, &why, &at_byte) ||
                 again.len != text.len || (text.len && memcmp(again.data, text.data, text.len)))
            bad = FAIL("the text, escaped by json_escape, does not scan back to itself");
    } else if (valid && !(why == json_no_field || why == json_field_not_string || why == json_field_twice ||
                          !strcmp(why, "not a JSON object"))) {
        bad = FAIL("json_doc_scan refused a valid value: %s", why);
    }
    buf_free(&text);
    buf_free(&line);
    buf_free(&again);
    return bad;
}

/* ---- documents: a file through lib/docio.c (and lib/iofile.c's reader) */

/* The hand-written seeds gzip-compressed, through lib's own .gz writer. */
static int docs_seeds(FuzzSeeds *s, const char *dir)
{
    static const char *const plain[] = { "docs.jsonl", "bom.jsonl", "docs.txt" };
    for (size_t i = 0; i < sizeof plain / sizeof *plain; i++) {
        FuzzSeeds one = { 0 };
        char path[4096];
        snprintf(path, sizeof path, "tests/fuzz/corpus/docs/%s", plain[i]);
        if (fuzz_seed_file(&one, path)) return -1;
        Err e;
        const char *gz = at(dir, "seed.gz");
        OutFile *o = out_open(gz, &e);
        int bad = !o || out_write(o, one.v[0].data, one.v[0].len, &e) || out_close(o, &e);
        if (bad) fprintf(stderr, "test_fuzz: %s\n", e.msg);
        buf_free(&one.v[0]);
        free(one.v);
        if (bad || seed_of(s, gz)) return -1;
    }
    return 0;
}

/* The texts read, one after another, with their lengths. */
typedef struct Texts {
    Buf all;
    size_t *len;
    size_t n, cap;
} Texts;

static int texts_add(Texts *t, const char *s, size_t n)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 64;
        size_t *p = realloc(t->len, cap * sizeof *p);
        if (!p) return -1;
        t->len = p;
        t->cap = cap;
    }
    t->len[t->n++] = n;
    return buf_append(&t->all, s, n);
}

/* Read path with o and write every document to out as a program does; the
 * texts go to t. 0 read to the end (and out written), 1 a property failed,
 * 2 the reader stopped with an error (properly named). */
static int read_docs(const DocOpts *o, const char *path, const char *out, Texts *t)
{
    Err e = { { 0 } };
    const char *paths[] = { path };
    DocReader *r = doc_open(o, paths, 1, &e);
    if (!r) return names(&e, path) ? 1 : 2;
    DocWriter *w = out ? docw_open(out, o, &e) : NULL;
    if (out && !w) {
        doc_abort(r);
        return FAIL("docw_open %s: %s", out, e.msg);
    }
    Doc d;
    int rc, bad = 0;
    uint64_t n_docs = 0, last_line = 0;
    while ((rc = doc_next(r, &d, &e)) == 1) {
        if (d.skipped) {
            if (w && docw_write_skipped(w, &d, "fuzz_reason", &e)) bad = FAIL("docw_write_skipped: %s", e.msg);
            if (!bad && texts_add(t, "", 0)) bad = FAIL("out of memory");
            if (bad) break;
            continue;
        }
        n_docs++;
        if (d.text_len && utf8_valid_prefix(d.text, d.text_len) != d.text_len)
            bad = FAIL("document %llu (line %llu) is not valid UTF-8", (unsigned long long)n_docs,
                       (unsigned long long)d.lineno);
        else if (d.lineno < 1 || d.lineno < last_line)
            bad = FAIL("document %llu: line %llu after line %llu", (unsigned long long)n_docs,
                       (unsigned long long)d.lineno, (unsigned long long)last_line);
        else if (w && docw_write(w, &d, NULL, 0, NULL, &e))
            bad = FAIL("docw_write of document %llu: %s", (unsigned long long)n_docs, e.msg);
        else if (texts_add(t, d.text, d.text_len))
            bad = FAIL("out of memory");
        if (bad) break;
        last_line = d.lineno;
    }
    if (!bad && rc < 0) bad = names(&e, path) ? 1 : 2;
    if (!bad && rc == 0 && doc_stats(r)->n_docs != n_docs)
        bad = FAIL("%llu documents read, the reader counts %llu", (unsigned long long)n_docs,
                   (unsigned long long)doc_stats(r)->n_docs);
    if (bad || rc < 0) {
        doc_abort(r);
        docw_abort(w);
        return bad;
    }
    Err e2 = { { 0 } };
    if (doc_close(r, &e2)) bad = FAIL("doc_close: %s", e2.msg);
    if (w && docw_close(w, &e2) && !bad) bad = FAIL("docw_close: %s", e2.msg);
    return bad;
}

static int run_docs(const uint8_t *d, size_t n, const char *dir)
{
    /* How the input is read comes from its hash: each input is always read
     * the same way, and the mutations cover every way. */
    uint64_t h = hash64(d, n, 7);
    static const char *const file_names[] = { "in.jsonl", "in.txt", "in", "in.jsonl" };
    const char *path = at(dir, file_names[h & 3]);
    DocOpts o = { 0 };
    o.format = (DocFormat)((h >> 2) % 3);
    o.on_error = (h >> 4) & 1 ? ON_ERROR_SKIP : ON_ERROR_STOP;
    o.sep = (h >> 5) & 1 ? "--" : NULL;
    o.max_line = (h >> 6) & 1 ? 64 : 0;
    o.encoding = (h >> 7) & 1 ? DOC_LATIN1 : DOC_UTF8;
    o.bad_lines = o.on_error == ON_ERROR_SKIP && (h >> 8) & 1 ? at(dir, "bad.txt") : NULL;
    o.report_skipped = (h >> 9) & 1;
    o.field = (h >> 10) % 8 == 0 ? "id" : NULL;
    if (write_all(path, d, n)) return 1;
    /* What was read, written back as JSON Lines, reads back the same. */
    Texts first = { .n = 0 }, second = { .n = 0 };
    const char *out = at(dir, "out.jsonl");
    int bad = read_docs(&o, path, out, &first);
    if (bad == 0) {
        DocOpts back = { .format = DOC_JSONL, .field = o.field };
        int rc = read_docs(&back, out, NULL, &second);
        if (rc) bad = rc == 2 ? FAIL("the documents written back do not read back") : 1;
        else if (second.n != first.n || second.all.len != first.all.len ||
                 (first.all.len && memcmp(first.all.data, second.all.data, first.all.len)) ||
                 (first.n && memcmp(first.len, second.len, first.n * sizeof *first.len)))
            bad = FAIL("%zu documents read, %zu read back from what was written, not the same", first.n, second.n);
    }
    if (bad == 2) bad = 0; /* an error, properly named */
    buf_free(&first.all);
    buf_free(&second.all);
    free(first.len);
    free(second.len);
    unlink(out);
    return bad;
}

/* ---- tokenizers: tokenizer.json and .tiktoken through lib/tokenizer.h */

static const char *const tok_samples[] = {
    "Hello world, hello!", "  two spaces\n\ttab and\r\nCRLF", "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x8e\x89",
    "<|endoftext|> after a special's text", "I'm 42 years' old; it's 3.14", "" };

/* What holds for any tokenizer that loads from path: a fingerprint (or an
 * error that names the file); text that encodes decodes back to itself (with
 * HF's add_prefix_space, to a space and itself); every id is inside the
 * vocabulary. extra: more text to try. */
static int check_tokenizer(Tokenizer *t, const char *path, const char *extra, size_t extra_len)
{
    Err e = { { 0 } };
    uint64_t fp = 0;
    if (tok_fingerprint(t, &fp, &e)) return names(&e, path) ? 1 : 0;
    if (!fp) return FAIL("a fingerprint of 0 (which means 'none')");
    TokEncoder *enc = tok_encoder_new(t, &e);
    if (!enc) return FAIL("tok_encoder_new: %s", e.msg);
    IdBuf ids = { 0 };
    Buf back = { 0 };
    int bad = 0;
    size_t n_samples = sizeof tok_samples / sizeof *tok_samples;
    for (size_t k = 0; !bad && k <= n_samples; k++) {
        const char *s = k < n_samples ? tok_samples[k] : extra;
        size_t n = k < n_samples ? strlen(s) : extra_len;
        if (!s) break;
        ids.len = 0;
        back.len = 0;
        if (tok_encode(enc, s, n, 0, &ids, &e)) continue; /* e.g. a byte the vocabulary lacks */
        for (size_t i = 0; !bad && i < ids.len; i++)
            if (ids.ids[i] >= t->n_vocab) bad = FAIL("id %u of %u", ids.ids[i], t->n_vocab);
        if (bad) break;
        if (tok_decode(t, ids.ids, ids.len, &back, &e)) {
            bad = FAIL("the ids of sample %zu do not decode: %s", k, e.msg);
            break;
        }
        int same = back.len == n && (!n || !memcmp(back.data, s, n));
        int spaced = t->add_prefix_space && back.len == n + 1 && back.data[0] == ' ' && (!n || !memcmp(back.data + 1, s, n));
        if (!same && !spaced) bad = FAIL("sample %zu (%zu bytes) decodes to %zu other bytes", k, n, back.len);
    }
    idbuf_free(&ids);
    buf_free(&back);
    tok_encoder_free(enc);
    return bad;
}

/* The fingerprint of t, or 0 with the message on stderr. */
static uint64_t fingerprint(Tokenizer *t)
{
    Err e = { { 0 } };
    uint64_t fp = 0;
    if (tok_fingerprint(t, &fp, &e)) fprintf(stderr, "    tok_fingerprint: %s\n", e.msg);
    return fp;
}

static const char *const tokjson_dict[] = {
    "\"merges\"", "\"vocab\"", "\"added_tokens\"", "\"Regex\"", "\"pre_tokenizer\"", "\"type\": \"BPE\"",
    "\"type\": \"ByteLevel\"", "\"type\": \"Split\"", "\"type\": \"Sequence\"", "\"ignore_merges\": true",
    "\"add_prefix_space\": true", "\"use_regex\": false", "\"special\": true", "\"id\": ", "\"content\": ",
    "\"\xc4\xa0\"", "\"\xc4\xa0t\"", "\"t h\"", "[\"t\", \"h\"]", "4294967295", "65536", "-1", "null", "\"(\"",
    "\"\\\\p{L}+\"", "\\u0120", NULL };

/* Some of the input as text for the tokenizer: its longest valid UTF-8 prefix, at most 256 bytes. */
static size_t sample_of(const uint8_t *d, size_t n)
{
    return utf8_valid_prefix((const char *)d, n < 256 ? n : 256);
}

static int run_tokjson(const uint8_t *d, size_t n, const char *dir)
{
    const char *path = at(dir, "tokenizer.json");
    if (write_all(path, d, n)) return 1;
    Err e = { { 0 } };
    Tokenizer *t = tok_load_json(path, &e);
    if (!t) return names(&e, path);
    int bad = check_tokenizer(t, path, (const char *)d, sample_of(d, n));
    /* Saved and loaded again: the same tokenizer (fingerprint). */
    const char *again = at(dir, "again.json");
    if (!bad && tok_save_json(t, again, &e)) bad = FAIL("tok_save_json of a tokenizer that loaded: %s", e.msg);
    if (!bad) {
        Tokenizer *t2 = tok_load_json(again, &e);
        if (!t2) bad = FAIL("what tok_save_json wrote does not load: %s", e.msg);
        else if (fingerprint(t2) != fingerprint(t)) bad = FAIL("saved and loaded again, another fingerprint");
        tok_free(t2);
    }
    tok_free(t);
    return bad;
}

static const char *const tiktoken_dict[] = { "IQ== 0\n", "Ig== 1\n", "ICA= 300\n", "=", "==", " ", "\n", "\r\n",
                                             "Zm9v 50256\n", "4294967295", "-1", "+", "Z", "/", NULL };

static int run_tiktoken(const uint8_t *d, size_t n, const char *dir)
{
    static const char *const patterns[] = { "gpt2", "gpt4", "o200k" };
    const char *path = at(dir, "ranks.tiktoken");
    if (write_all(path, d, n)) return 1;
    Err e = { { 0 } };
    Tokenizer *t = tok_load_tiktoken(path, patterns[hash64(d, n, 3) % 3], &e);
    if (!t) return names(&e, path);
    int bad = check_tokenizer(t, path, (const char *)d, 0);
    /* bpe convert: the merges the ranks imply, saved as tokenizer.json, load
     * as a tokenizer with the same fingerprint that encodes alike. */
    const char *json = at(dir, "converted.json");
    if (!bad && !tok_recover_merges(t, &e)) {
        if (tok_save_json(t, json, &e)) bad = FAIL("tok_save_json after tok_recover_merges: %s", e.msg);
        Tokenizer *t2 = bad ? NULL : tok_load_json(json, &e);
        if (!bad && !t2) bad = FAIL("the converted tokenizer.json does not load: %s", e.msg);
        if (!bad && fingerprint(t2) != fingerprint(t)) bad = FAIL("converted, another fingerprint");
        TokEncoder *a = bad ? NULL : tok_encoder_new(t, &e), *b = bad ? NULL : tok_encoder_new(t2, &e);
        for (size_t k = 0; !bad && a && b && k < sizeof tok_samples / sizeof *tok_samples; k++) {
            IdBuf x = { 0 }, y = { 0 };
            const char *s = tok_samples[k];
            int rx = tok_encode(a, s, strlen(s), 0, &x, &e), ry = tok_encode(b, s, strlen(s), 0, &y, &e);
            if (rx != ry || (!rx && (x.len != y.len || (x.len && memcmp(x.ids, y.ids, x.len * sizeof *x.ids)))))
                bad = FAIL("sample %zu: the rank file and its conversion give other ids", k);
            idbuf_free(&x);
            idbuf_free(&y);
        }
        tok_encoder_free(a);
        tok_encoder_free(b);
        tok_free(t2);
    }
    tok_free(t);
    return bad;
}

/* ---- token streams (lib/tokfile.c), through pipes' reader: plain or gzip */

/* Magic numbers and ids near the seeds' vocabulary (the mutator also writes
 * small and extreme integers of its own); no NUL bytes: C strings. */
static const char *const binary_dict[] = { "GPTKTOKS", "GPTKCKPT", "\x1f\x8b\x08", "\x88\xd8\x34\x01" /* 20240520 */,
                                           "\xa1\xd9\x34\x01" /* 20240801 */, "\xff\xff\xff\xff", "\x3e\x01",
                                           "\x3f\x01", "\x40\x01", "\x70\x11\x01", NULL };

static int stream_seeds(FuzzSeeds *s, const char *dir)
{
    Err e;
    struct { const char *name; uint32_t vocab, eot; } kinds[] = { { "a.tok", 320, 318 }, { "b.tok.gz", 70000, 0 } };
    for (size_t k = 0; k < 2; k++) {
        const char *path = at(dir, kinds[k].name);
        TokWriter *w = tokw_open(path, kinds[k].vocab, kinds[k].eot, 0x14b789817022ed52ull, &e);
        uint32_t ids[40];
        for (uint32_t i = 0; i < 40; i++) ids[i] = (i * 7919 + k) % (kinds[k].vocab - 1) + (kinds[k].eot == 0);
        if (!w || tokw_doc(w, ids, 40, &e) || tokw_doc(w, NULL, 0, &e) || tokw_doc(w, ids + 3, 5, &e) ||
            tokw_close(w, &e) || seed_of(s, path)) {
            fprintf(stderr, "test_fuzz: stream seed: %s\n", e.msg);
            return -1;
        }
    }
    return 0;
}

/* Read the stream at path; each document's ids are hashed into *sum and
 * (when w is not NULL) written to w. 0 read to the end, 1 a property failed,
 * 2 an error, properly named. */
static int read_stream(const char *path, TokWriter *w, uint64_t *sum, uint64_t *n_docs, TokHeader *hdr)
{
    Err e = { { 0 } };
    TokReader *r = tokr_open(path, &e);
    if (!r) return names(&e, path) ? 1 : 2;
    const TokHeader *h = tokr_header(r);
    *hdr = *h;
    const uint32_t *ids;
    size_t k;
    int rc, bad = 0;
    while (!bad && (rc = tokr_doc(r, &ids, &k, &e)) == 1) {
        for (size_t i = 0; !bad && i < k; i++)
            if (ids[i] >= h->vocab_size || ids[i] == h->eot_id)
                bad = FAIL("id %u in a document (vocabulary %u, end-of-text %u)", ids[i], h->vocab_size, h->eot_id);
        *sum = hash64(ids, k * sizeof *ids, *sum);
        ++*n_docs;
        if (!bad && w && tokw_doc(w, ids, k, &e)) bad = FAIL("tokw_doc of what tokr_doc read: %s", e.msg);
    }
    if (!bad && rc < 0) bad = names(&e, path) ? 1 : 2;
    tokr_close(r);
    return bad;
}

static int run_stream(const uint8_t *d, size_t n, const char *dir)
{
    const char *path = at(dir, "in.tok"), *again = at(dir, "again.tok");
    if (write_all(path, d, n)) return 1;
    /* read; if it reads to the end, the documents written again (by
     * tokw_*, with the same header) read back the same */
    TokHeader h, h2;
    uint64_t sum = 0, n_docs = 0, sum2 = 0, n_docs2 = 0;
    int bad = read_stream(path, NULL, &sum, &n_docs, &h);
    if (bad) return bad == 2 ? 0 : 1;
    Err e = { { 0 } };
    TokWriter *w = tokw_open(again, h.vocab_size, h.eot_id, h.fingerprint, &e);
    if (!w) return FAIL("tokw_open with the header of a stream that reads: %s", e.msg);
    sum = n_docs = 0;
    bad = read_stream(path, w, &sum, &n_docs, &h);
    if (bad) {
        tokw_abort(w);
        return FAIL("the stream read once, not twice");
    }
    if (tokw_close(w, &e)) return FAIL("tokw_close: %s", e.msg);
    bad = read_stream(again, NULL, &sum2, &n_docs2, &h2);
    if (bad) return FAIL("the stream written again does not read");
    if (sum2 != sum || n_docs2 != n_docs || h2.vocab_size != h.vocab_size || h2.eot_id != h.eot_id ||
        h2.fingerprint != (h.version >= 2 ? h.fingerprint : 0))
        return FAIL("written again, %llu documents read back of %llu, or another header",
                    (unsigned long long)n_docs2, (unsigned long long)n_docs);
    return 0;
}

/* ---- llm.c shards (lib/tokfile.c, memory-mapped) */

static int shard_write(const char *path, uint32_t width, uint32_t vocab, uint32_t eot, size_t n_tokens, Err *e)
{
    BinWriter *w = binw_open(path, width, vocab, eot, e);
    if (!w) return -1;
    for (size_t i = 0; i < n_tokens; i++) {
        uint32_t id = i % 50 == 49 ? eot : (uint32_t)(i * 7919 % vocab);
        if (binw_write(w, &id, 1, e)) {
            binw_abort(w);
            return -1;
        }
    }
    return binw_close(w, e);
}

static int bin_seeds(FuzzSeeds *s, const char *dir)
{
    Err e;
    if (shard_write(at(dir, "a.bin"), 2, 320, 318, 200, &e) || seed_of(s, at(dir, "a.bin")) ||
        shard_write(at(dir, "b.bin"), 4, 70000, 69999, 100, &e) || seed_of(s, at(dir, "b.bin"))) {
        fprintf(stderr, "test_fuzz: shard seed: %s\n", e.msg);
        return -1;
    }
    return 0;
}

static int run_bin(const uint8_t *d, size_t n, const char *dir)
{
    const char *path = at(dir, "in.bin");
    if (write_all(path, d, n)) return 1;
    Err e = { { 0 } };
    BinFile b;
    if (bin_open(&b, path, &e)) return names(&e, path);
    int bad = 0;
    if ((b.width != 2 && b.width != 4) || b.map_bytes != BIN_HEADER_BYTES + (uint64_t)b.width * b.n_tokens)
        bad = FAIL("width %u, %llu tokens in %zu bytes", b.width, (unsigned long long)b.n_tokens, b.map_bytes);
    volatile uint32_t id = 0;
    for (uint64_t i = 0; !bad && i < b.n_tokens; i++) id = bin_token(&b, i); /* every id readable */
    (void)id;
    bin_close(&b);
    return bad;
}

/* ---- checkpoints (model/ckpt.c: the header, the size, the checksum) */

static int ckpt_seeds(FuzzSeeds *s, const char *dir)
{
    float p[24], m[24], v[24];
    for (int i = 0; i < 24; i++) p[i] = m[i] = v[i] = (float)i / 8;
    Err e;
    const char *path = at(dir, "ckpt-000010.bin");
    if (ckpt_write(path, "{\"config\":{\"layers\":1},\"step\":10}", p, m, v, 24, &e) || seed_of(s, path)) {
        fprintf(stderr, "test_fuzz: checkpoint seed: %s\n", e.msg);
        return -1;
    }
    return 0;
}

static int check_ckpt(const uint8_t *d, size_t n, const char *dir)
{
    const char *path = at(dir, "ckpt-000001.bin");
    if (write_all(path, d, n)) return 1;
    Err e = { { 0 } };
    CkptFile c;
    if (ckpt_open(&c, path, &e)) return names(&e, path);
    int bad = 0;
    if (!c.json || (uint64_t)c.n_params * 12 > n) /* the size check: 3 arrays of floats fit in the file */
        bad = FAIL("a header of %zu parameters in %zu bytes", c.n_params, n);
    float *arr = bad ? NULL : malloc((3 * c.n_params + 1) * sizeof *arr);
    if (!bad && !arr) bad = FAIL("out of memory");
    int read_ok = 0;
    if (!bad && ckpt_read(&c, arr, arr + c.n_params, arr + 2 * c.n_params, &e)) bad = names(&e, path);
    else read_ok = !bad;
    /* one that reads, written again, reads back the same: header text and arrays */
    if (read_ok) {
        const char *again = at(dir, "ckpt-000002.bin");
        CkptFile c2;
        float *arr2 = malloc((3 * c.n_params + 1) * sizeof *arr2);
        if (!arr2) bad = FAIL("out of memory");
        else if (ckpt_write(again, c.json, arr, arr + c.n_params, arr + 2 * c.n_params, c.n_params, &e))
            bad = FAIL("ckpt_write of a checkpoint that read: %s", e.msg);
        else if (ckpt_open(&c2, again, &e)) bad = FAIL("written again, it does not open: %s", e.msg);
        else {
            if (ckpt_read(&c2, arr2, arr2 + c.n_params, arr2 + 2 * c.n_params, &e))
                bad = FAIL("written again, it does not read: %s", e.msg);
            else if (c2.n_params != c.n_params || strcmp(c2.json, c.json) ||
                     (c.n_params && memcmp(arr, arr2, 3 * c.n_params * sizeof *arr)))
                bad = FAIL("written again, it reads back otherwise");
            ckpt_close(&c2);
        }
        free(arr2);
    }
    free(arr);
    ckpt_close(&c);
    return bad;
}

static int run_ckpt(const uint8_t *d0, size_t n, const char *dir)
{
    /* Every other input gets its checksum (XXH3-64 of all before the last 8
     * bytes) made right, so that the mutations reach past it. */
    uint8_t *d = malloc(n + 1);
    if (!d) return FAIL("out of memory");
    memcpy(d, d0, n);
    if (n >= 8 && hash64(d0, n, 5) & 1) {
        uint64_t sum = hash64(d, n - 8, 0);
        memcpy(d + n - 8, &sum, 8);
    }
    int bad = check_ckpt(d, n, dir);
    free(d);
    return bad;
}

/* ---- a data folder (model/data.c): meta.json against its shards and tokenizer */

static const char *const meta_dict[] = { "\"vocab_size\": ", "\"eot_id\": ", "\"context\": ", "\"window\": \"best-fit\"",
                                         "\"tokenizer\": \"../x\"", "\"tokenizer_fingerprint\": null", "320", "318",
                                         "0", "-1", "1048577", "2147483648", "\"14b789817022ed52\"", "null", NULL };

/* The folder the input's meta.json goes in: shards that agree with the seed
 * meta.json (vocabulary 320, end-of-text 318) and its tokenizer, a seed of
 * the tokjson target (so keep that file when its corpus is minimised). */
static int data_setup(const char *dir)
{
    Err e;
    const char *folder = at(dir, "data");
    if (mkdir(folder, 0755) || shard_write(at(dir, "data/train_000000.bin"), 2, 320, 318, 400, &e) ||
        shard_write(at(dir, "data/val_000000.bin"), 2, 320, 318, 60, &e)) {
        fprintf(stderr, "test_fuzz: data folder: %s\n", e.msg);
        return -1;
    }
    FuzzSeeds tok = { 0 };
    int rc = fuzz_seed_file(&tok, "tests/fuzz/corpus/tokjson/tok.json") ||
             write_all(at(dir, "data/tokenizer.json"), tok.v[0].data, tok.v[0].len);
    for (size_t i = 0; i < tok.n; i++) buf_free(&tok.v[i]);
    free(tok.v);
    return rc ? -1 : 0;
}

static int run_data(const uint8_t *d, size_t n, const char *dir)
{
    const char *folder = at(dir, "data");
    if (write_all(at(dir, "data/meta.json"), d, n)) return 1;
    Err e = { { 0 } };
    DataMeta m;
    Shards tr, va;
    int bad = 0;
    if (data_scan(folder, &m, &tr, &va, &e)) { /* the shards found so far are the caller's to free */
        bad = names(&e, folder);
        shards_free(&tr);
        shards_free(&va);
    } else {
        int V = m.vocab_size ? m.vocab_size : 320;
        int T = m.context > 0 && m.context <= 64 ? m.context : 8;
        int x[2 * 65], y[2 * 65];
        if (m.eot_id >= V) bad = FAIL("end-of-text %d outside the vocabulary of %d", m.eot_id, V);
        if (!bad && !shards_map(&tr, T, m.best_fit, &e)) {
            for (uint64_t w = 0; !bad && w < tr.n_windows && w < 4; w++)
                if (shards_window(&tr, w, V, x, y, &e)) bad = names(&e, folder);
            Loader l;
            if (!bad && !loader_init(&l, &tr, 1, 0, 0, &e)) {
                if (loader_next(&l, 2, V, x, y, &e)) bad = names(&e, folder);
                loader_free(&l);
            }
        } else if (!bad) {
            bad = names(&e, folder);
        }
        shards_free(&tr);
        shards_free(&va);
    }
    return bad;
}

/* ---- filter's --rules-file (filter/urules.c): PCRE2 patterns, applied */

static const char *const rules_dict[] = { " drop-doc ", " drop-line ", "\n", "#", "(?i)", "(?m)", "(*UCP)", "\\p{L}+",
                                          "\\b", "\\s*", "^", "$", "(", ")", "(?:a|b)*", "{1000}", "+", "*?", "\\",
                                          "[^\\n]", ".*", "(?=x)", "\\1", "\xc3\xa9", "\xff", NULL };
static const char *const rules_texts[] = { "-- \nclick here\n1. first\nsecond line\n--\n",
                                           "caf\xc3\xa9 CAF\xc3\x89 SHOUTINGLOUDLY and https://x.org/aaaa\n\n\n", "" };

static int run_rules(const uint8_t *d, size_t n, const char *dir)
{
    const char *path = at(dir, "my.rules");
    if (write_all(path, d, n)) return 1;
    Err e = { { 0 } };
    URules u = { 0 };
    if (urules_load(&u, path, &e)) {
        urules_free(&u);
        return names(&e, path);
    }
    URulesCtx c;
    if (urules_ctx_init(&c)) {
        urules_free(&u);
        return FAIL("urules_ctx_init: out of memory");
    }
    uint64_t *drops = calloc(u.n + 1, sizeof *drops);
    int bad = drops ? 0 : FAIL("out of memory");
    size_t n_texts = sizeof rules_texts / sizeof *rules_texts;
    for (size_t k = 0; !bad && k <= n_texts; k++) {
        const char *text = k < n_texts ? rules_texts[k] : (const char *)d; /* and the rules file itself */
        size_t len = k < n_texts ? strlen(text) : utf8_valid_prefix((const char *)d, n);
        const char *out = NULL;
        size_t out_len = 0;
        int changed = 0;
        int r = urules_apply(&u, &c, text, len, &out, &out_len, &changed, drops, &e);
        if (r < -2 || r >= (int)u.n) bad = FAIL("urules_apply: %d with %zu rules", r, u.n);
        else if (r == -1 && changed && (!out || out_len > len || (out_len && utf8_valid_prefix(out, out_len) != out_len)))
            bad = FAIL("the lines left (%zu bytes of %zu) are not valid UTF-8 text", out_len, len);
    }
    free(drops);
    urules_ctx_free(&c);
    urules_free(&u);
    return bad;
}

const FuzzTarget fuzz_targets[] = {
    { "json", "one JSON line: json_validate, json_doc_scan; UTF-8 text, its span, json_escape round trip",
      NULL, NULL, json_dict, run_json, 10000 },
    { "docs", "a documents file (JSON Lines, text, gzip; options from the input's hash): doc_open/doc_next, "
              "written back with docw_write and read again",
      docs_seeds, NULL, json_dict, run_docs, 3000 },
    { "tokjson", "tokenizer.json: tok_load_json, encode/decode round trip, saved and loaded again",
      NULL, NULL, tokjson_dict, run_tokjson, 1500 },
    { "tiktoken", "a .tiktoken rank file: tok_load_tiktoken, round trip, bpe convert's merges alike",
      NULL, NULL, tiktoken_dict, run_tiktoken, 600 },
    { "stream", "a token stream (plain or gzip): tokr_open/tokr_doc; ids inside the vocabulary",
      stream_seeds, NULL, binary_dict, run_stream, 3000 },
    { "bin", "an llm.c shard: bin_open (mapped), every token read", bin_seeds, NULL, binary_dict, run_bin, 3000 },
    { "ckpt", "a checkpoint: ckpt_open/ckpt_read (magic, version, size, checksum)", ckpt_seeds, NULL,
      binary_dict, run_ckpt, 3000 },
    { "data", "meta.json in a data folder: data_scan against shards and tokenizer, shards_map, windows",
      NULL, data_setup, meta_dict, run_data, 1500 },
    { "rules", "filter's --rules-file: urules_load (PCRE2, JIT), urules_apply to texts; lines left UTF-8",
      NULL, NULL, rules_dict, run_rules, 1500 },
};
const size_t fuzz_n_targets = sizeof fuzz_targets / sizeof *fuzz_targets;
