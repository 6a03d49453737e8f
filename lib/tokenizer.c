/* Byte-level BPE: the Tokenizer itself. GPT-2's byte stand-ins, building a
 * vocabulary a token and a merge at a time, the lookup tables that encoding
 * runs on (tok_finish), the fingerprint, decoding. The file formats are in
 * tok_json.c and tok_tiktoken.c, encoding in tok_encode.c; training lives in
 * bpe/: this code only holds the result. */
#include "tokenizer.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "tok_internal.h"
#include "utf8.h"

int idbuf_reserve(IdBuf *b, size_t extra)
{
    if (b->cap - b->len >= extra) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < extra) cap *= 2;
    uint32_t *p = realloc(b->ids, cap * sizeof *p);
    if (!p) return -1;
    b->ids = p;
    b->cap = cap;
    return 0;
}

void idbuf_free(IdBuf *b)
{
    free(b->ids);
    *b = (IdBuf){ 0 };
}

/* ---- byte-level stand-ins (GPT-2's bytes_to_unicode) ---- */

static int printable_byte(unsigned b)
{
    return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
}

uint32_t tok_byte_char(uint8_t b)
{
    if (printable_byte(b)) return b;
    uint32_t k = 0; /* the k-th non-printable byte maps to 256 + k */
    for (unsigned c = 0; c < b; c++) k += !printable_byte(c);
    return 256 + k;
}

int tok_char_byte(uint32_t cp)
{
    if (cp < 256) return printable_byte(cp) ? (int)cp : -1;
    uint32_t k = 0;
    for (unsigned c = 0; c < 256; c++)
        if (!printable_byte(c) && k++ == cp - 256) return (int)c;
    return -1;
}

static uint32_t byte_char_tab[256];
static int16_t char_byte_tab[324];
static void bytelevel_init(void)
{
    static atomic_int done;
    if (atomic_load_explicit(&done, memory_order_acquire)) return;
    for (unsigned i = 0; i < 324; i++) char_byte_tab[i] = -1;
    for (unsigned b = 0; b < 256; b++) {
        byte_char_tab[b] = tok_byte_char((uint8_t)b);
        char_byte_tab[byte_char_tab[b]] = (int16_t)b;
    }
    atomic_store_explicit(&done, 1, memory_order_release);
}

int tok_bytelevel(const char *s, size_t n, Buf *out)
{
    bytelevel_init();
    if (buf_reserve(out, 2 * n)) return -1;
    for (size_t i = 0; i < n; i++)
        out->len += utf8_encode(byte_char_tab[(uint8_t)s[i]], out->data + out->len);
    return 0;
}

int tok_from_bytelevel(const char *s, size_t n, Buf *out)
{
    bytelevel_init();
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = utf8_decode(s + i, n - i, &cp);
        if (!k || cp >= 324 || char_byte_tab[cp] < 0) return -1;
        if (buf_putc(out, (char)char_byte_tab[cp])) return -1;
        i += k;
    }
    return 0;
}

/* ---- building ---- */

static int grow_vocab(Tokenizer *t, uint32_t n, Err *e)
{
    if (n <= t->n_vocab) return 0;
    if (n > t->vocab_cap) { /* doubling: tokens are added one at a time */
        size_t cap = t->vocab_cap ? 2 * (size_t)t->vocab_cap : 1024;
        while (cap < n) cap *= 2;
        uint8_t *kind = realloc(t->kind, cap);
        if (kind) t->kind = kind;
        uint64_t *off = realloc(t->off, (cap + 1) * sizeof *off);
        if (off) t->off = off;
        if (!kind || !off) return err_set(e, "out of memory for %u tokens", n);
        t->vocab_cap = (uint32_t)cap;
    }
    for (uint32_t i = t->n_vocab; i < n; i++) {
        t->kind[i] = TOK_NONE;
        t->off[i + 1] = t->off[i];
    }
    t->n_vocab = n;
    return 0;
}

int tok_set_token(Tokenizer *t, uint32_t id, const char *s, size_t n, int kind, Err *e)
{
    if (id < t->n_vocab) return err_set(e, "token %u set out of order", id);
    if (grow_vocab(t, id + 1, e)) return -1;
    if (buf_append(&t->bytes, s, n)) return err_set(e, "out of memory");
    t->off[id + 1] = t->bytes.len;
    t->kind[id] = (uint8_t)kind;
    if (kind == TOK_NORMAL && n == 1) t->byte_id[(uint8_t)s[0]] = (int32_t)id;
    return 0;
}

int tok_add_special_id(Tokenizer *t, uint32_t id, Err *e)
{
    uint32_t *p = realloc(t->specials, (t->n_specials + 1) * sizeof *p);
    if (!p) return err_set(e, "out of memory");
    t->specials = p;
    t->specials[t->n_specials++] = id;
    size_t len;
    const char *s = tok_bytes(t, id, &len);
    if (len == 13 && !memcmp(s, "<|endoftext|>", 13)) t->eot_id = id;
    else if (t->eot_id < 0) t->eot_id = id;
    return 0;
}

Tokenizer *tok_alloc(Err *e)
{
    Tokenizer *t = calloc(1, sizeof *t);
    if (!t || !(t->off = calloc(1, sizeof *t->off))) {
        free(t);
        err_set(e, "out of memory");
        return NULL;
    }
    for (int i = 0; i < 256; i++) t->byte_id[i] = -1;
    t->eot_id = -1;
    return t;
}

void tok_free(Tokenizer *t)
{
    if (!t) return;
    free(t->kind);
    free(t->off);
    buf_free(&t->bytes);
    free(t->merges);
    free(t->specials);
    free(t->regex);
    pretok_free(t->pre);
    free(t->pair_key);
    free(t->pair_rank);
    free(t->pair_new);
    free(t->bytes_slot);
    free(t);
}

int tok_set_regex(Tokenizer *t, const char *regex, Err *e)
{
    Pretok *p = NULL;
    char *r = NULL;
    if (regex) {
        if (!(p = pretok_new(regex, e))) return -1;
        if (!(r = strdup(regex))) {
            pretok_free(p);
            return err_set(e, "out of memory");
        }
    }
    pretok_free(t->pre);
    free(t->regex);
    t->pre = p;
    t->regex = r;
    return 0;
}

Tokenizer *tok_new_bytes(const char *regex, Err *e)
{
    Tokenizer *t = tok_alloc(e);
    if (!t) return NULL;
    bytelevel_init();
    uint32_t id = 0;
    /* Code points of the stand-ins ascend with this walk: printable bytes keep
     * their value (33..255 minus gaps), the others come after at 256 + k. */
    for (unsigned pass = 0; pass < 2; pass++)
        for (unsigned b = 0; b < 256; b++) {
            if (printable_byte(b) != (pass == 0)) continue;
            char c = (char)b;
            if (tok_set_token(t, id++, &c, 1, TOK_NORMAL, e)) goto fail;
        }
    if (tok_set_regex(t, regex, e)) goto fail;
    return t;
fail:
    tok_free(t);
    return NULL;
}

Tokenizer *tok_new_empty(const char *regex, Err *e)
{
    Tokenizer *t = tok_alloc(e);
    if (t && tok_set_regex(t, regex, e)) {
        tok_free(t);
        return NULL;
    }
    return t;
}

int tok_add_token(Tokenizer *t, const char *s, size_t n, int kind, uint32_t *id, Err *e)
{
    if (kind == TOK_SPECIAL) return tok_add_special(t, s, n, id, e);
    uint32_t nid = t->n_vocab;
    if (tok_set_token(t, nid, s, n, TOK_NORMAL, e)) return -1;
    if (id) *id = nid;
    return 0;
}

int tok_add_merge(Tokenizer *t, uint32_t a, uint32_t b, int64_t existing, uint32_t *id, Err *e)
{
    if (a >= t->n_vocab || b >= t->n_vocab) return err_set(e, "merge of unknown ids %u %u", a, b);
    if (t->n_merges >= t->merges_cap) {
        size_t cap = t->merges_cap ? 2 * (size_t)t->merges_cap : 1024;
        TokPair *p = realloc(t->merges, cap * sizeof *p);
        if (!p) return err_set(e, "out of memory");
        t->merges = p;
        t->merges_cap = (uint32_t)cap;
    }
    if (existing >= 0) {
        t->merges[t->n_merges++] = (TokPair){ a, b };
        if (id) *id = (uint32_t)existing;
        return 0;
    }
    size_t la, lb;
    tok_bytes(t, a, &la);
    tok_bytes(t, b, &lb);
    uint64_t oa = t->off[a], ob = t->off[b];
    if (buf_reserve(&t->bytes, la + lb)) return err_set(e, "out of memory");
    uint32_t nid = t->n_vocab;
    if (grow_vocab(t, nid + 1, e)) return -1;
    memcpy(t->bytes.data + t->bytes.len, t->bytes.data + oa, la);
    memcpy(t->bytes.data + t->bytes.len + la, t->bytes.data + ob, lb);
    t->bytes.len += la + lb;
    t->off[nid + 1] = t->bytes.len;
    t->kind[nid] = TOK_NORMAL;
    t->merges[t->n_merges++] = (TokPair){ a, b };
    if (id) *id = nid;
    return 0;
}

int tok_add_special(Tokenizer *t, const char *text, size_t len, uint32_t *id, Err *e)
{
    uint32_t nid = t->n_vocab;
    if (tok_set_token(t, nid, text, len, TOK_SPECIAL, e) || tok_add_special_id(t, nid, e)) return -1;
    if (id) *id = nid;
    return 0;
}

/* ---- lookup tables ---- */

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static size_t table_size(size_t n)
{
    size_t s = 16;
    while (s < 2 * n + 2) s *= 2;
    return s;
}

int64_t tok_lookup(const Tokenizer *t, const char *s, size_t n)
{
    if (!t->bytes_slot) return -1;
    for (size_t i = hash64(s, n, 0) & t->bytes_mask;; i = (i + 1) & t->bytes_mask) {
        uint32_t v = t->bytes_slot[i];
        if (!v) return -1;
        size_t len;
        const char *p = tok_bytes(t, v - 1, &len);
        if (len == n && !memcmp(p, s, n)) return v - 1;
    }
}

int tok_pair(const Tokenizer *t, uint32_t a, uint32_t b, uint32_t *rank, uint32_t *merged)
{
    uint64_t key = (uint64_t)a << 32 | b;
    for (size_t i = mix64(key) & t->pair_mask;; i = (i + 1) & t->pair_mask) {
        uint64_t k = t->pair_key[i];
        if (k == key) {
            *rank = t->pair_rank[i];
            *merged = t->pair_new[i];
            return 1;
        }
        if (k == UINT64_MAX) return 0;
    }
}

/* Insert (a, b) -> (rank, merged) unless the pair is there already (the lower
 * rank, inserted first, wins). */
static void pair_put(Tokenizer *t, uint32_t a, uint32_t b, uint32_t rank, uint32_t merged)
{
    uint64_t key = (uint64_t)a << 32 | b;
    size_t i = mix64(key) & t->pair_mask;
    while (t->pair_key[i] != UINT64_MAX) {
        if (t->pair_key[i] == key) return;
        i = (i + 1) & t->pair_mask;
    }
    t->pair_key[i] = key;
    t->pair_rank[i] = rank;
    t->pair_new[i] = merged;
}

static int alloc_pairs(Tokenizer *t, size_t n, Err *e)
{
    free(t->pair_key);
    free(t->pair_rank);
    free(t->pair_new);
    size_t s = table_size(n);
    t->pair_key = malloc(s * sizeof *t->pair_key);
    t->pair_rank = malloc(s * sizeof *t->pair_rank);
    t->pair_new = malloc(s * sizeof *t->pair_new);
    if (!t->pair_key || !t->pair_rank || !t->pair_new) return err_set(e, "out of memory");
    memset(t->pair_key, 0xff, s * sizeof *t->pair_key);
    t->pair_mask = s - 1;
    return 0;
}

int tok_finish(Tokenizer *t, Err *e)
{
    /* bytes -> id, for normal tokens (a special's text is not a BPE token). */
    free(t->bytes_slot);
    size_t s = table_size(t->n_vocab);
    if (!(t->bytes_slot = calloc(s, sizeof *t->bytes_slot))) return err_set(e, "out of memory");
    t->bytes_mask = s - 1;
    for (uint32_t id = 0; id < t->n_vocab; id++) {
        size_t len;
        const char *p = tok_bytes(t, id, &len);
        if (t->kind[id] != TOK_NORMAL || !len) continue;
        size_t i = hash64(p, len, 0) & t->bytes_mask;
        while (t->bytes_slot[i]) i = (i + 1) & t->bytes_mask;
        t->bytes_slot[i] = id + 1;
    }
    if (!t->rank_by_bytes) {
        if (alloc_pairs(t, t->n_merges, e)) return -1;
        for (uint32_t r = 0; r < t->n_merges; r++) {
            TokPair m = t->merges[r];
            size_t la, lb;
            const char *pa = tok_bytes(t, m.a, &la), *pb = tok_bytes(t, m.b, &lb);
            char tmp[1024];
            Buf joined = { 0 };
            const char *q = tmp;
            if (la + lb <= sizeof tmp) {
                memcpy(tmp, pa, la);
                memcpy(tmp + la, pb, lb);
            } else {
                if (buf_append(&joined, pa, la) || buf_append(&joined, pb, lb))
                    return err_set(e, "out of memory");
                q = joined.data;
            }
            int64_t id = tok_lookup(t, q, la + lb);
            buf_free(&joined);
            if (id < 0)
                return err_set(e, "merge %u (%u %u) makes a token that is not in the vocabulary", r,
                               m.a, m.b);
            pair_put(t, m.a, m.b, r, (uint32_t)id);
        }
        return 0;
    }
    /* tiktoken's rule: every split of a token into two tokens is a pair that
     * merges to it, ranked by the token's rank (= its id). */
    size_t n_pairs = 0;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1 && alloc_pairs(t, n_pairs, e)) return -1;
        for (uint32_t id = 0; id < t->n_vocab; id++) {
            size_t len;
            const char *p = tok_bytes(t, id, &len);
            if (t->kind[id] != TOK_NORMAL) continue;
            for (size_t k = 1; k < len; k++) {
                int64_t a = tok_lookup(t, p, k), b;
                if (a < 0 || (b = tok_lookup(t, p + k, len - k)) < 0) continue;
                if (pass == 0) n_pairs++;
                else pair_put(t, (uint32_t)a, (uint32_t)b, id, id);
            }
        }
    }
    return 0;
}


/* ---- fingerprint ---- */

static int put_u32le(Buf *b, uint32_t v)
{
    unsigned char c[4] = { (unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                           (unsigned char)(v >> 24) };
    return buf_append(b, (const char *)c, 4);
}

/* The serialisation, all integers u32 little-endian: a tag, n_vocab, then per
 * id its kind (u8), length and bytes; n_merges, then a and b of each; the
 * pattern's length and bytes (0xffffffff: none); add_prefix_space (u8).
 * Changing it changes every fingerprint: bump the tag's version then. */
int tok_fingerprint(Tokenizer *t, uint64_t *fp, Err *e)
{
    static const char tag[] = "gptk tokenizer fingerprint 1";
    if (tok_recover_merges(t, e)) return -1;
    Buf b = { 0 };
    int bad = buf_append(&b, tag, sizeof tag) || put_u32le(&b, t->n_vocab);
    for (uint32_t id = 0; !bad && id < t->n_vocab; id++) {
        size_t len;
        const char *p = tok_bytes(t, id, &len);
        char kind = (char)t->kind[id];
        bad = buf_append(&b, &kind, 1) || put_u32le(&b, (uint32_t)len) || buf_append(&b, p, len);
    }
    bad = bad || put_u32le(&b, t->n_merges);
    for (uint32_t r = 0; !bad && r < t->n_merges; r++)
        bad = put_u32le(&b, t->merges[r].a) || put_u32le(&b, t->merges[r].b);
    size_t rlen = t->regex ? strlen(t->regex) : 0;
    char aps = (char)(t->add_prefix_space != 0);
    bad = bad || put_u32le(&b, t->regex ? (uint32_t)rlen : 0xffffffffu) ||
          (t->regex && buf_append(&b, t->regex, rlen)) || buf_append(&b, &aps, 1);
    if (bad) {
        buf_free(&b);
        return err_set(e, "out of memory for the tokenizer's fingerprint");
    }
    uint64_t h = hash64(b.data, b.len, 0);
    buf_free(&b);
    *fp = h ? h : 1; /* 0 is "not recorded" */
    return 0;
}

void tok_fingerprint_hex(uint64_t fp, char hex[17])
{
    static const char digit[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) hex[i] = digit[(fp >> (60 - 4 * i)) & 15];
    hex[16] = 0;
}

int tok_fingerprint_parse(const char *s, uint64_t *fp)
{
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v << 4 | (uint64_t)d;
    }
    if (s[16] || !v) return -1;
    *fp = v;
    return 0;
}

/* ---- decoding ---- */

int tok_decode(const Tokenizer *t, const uint32_t *ids, size_t n, Buf *out, Err *e)
{
    for (size_t i = 0; i < n; i++) {
        if (ids[i] >= t->n_vocab || t->kind[ids[i]] == TOK_NONE)
            return err_set(e, "token %zu: id %u is not in the vocabulary (%u ids)", i + 1, ids[i], t->n_vocab);
        size_t len;
        const char *p = tok_bytes(t, ids[i], &len);
        if (buf_append(out, p, len)) return err_set(e, "out of memory");
    }
    return 0;
}
