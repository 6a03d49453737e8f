/* Encoding text to ids: special tokens, the pre-tokenizer, then BPE on each
 * piece (a scan for short pieces, a heap for long ones) behind a per-thread
 * cache of piece -> ids. Reads the Tokenizer's tables only (tokenizer.c
 * builds them). Speed is measured by bench/bpe/run.sh against tiktoken and
 * HF tokenizers. */
#include "tokenizer.h"

#include <stdlib.h>
#include <string.h>

#include "hash.h"

#define CACHE_SLOTS (1u << 16)
#define CACHE_MAX_KEY 128       /* longer pieces are rare and not worth keeping */
#define CACHE_MAX_BYTES (8u << 20)
#define LINEAR_MAX 256          /* pieces up to this many bytes: O(n^2) scan; longer: a heap */
#define DEAD UINT32_MAX

typedef struct CacheEnt {
    uint64_t h;
    uint32_t key_off, ids_off;
    uint16_t key_len, n_ids; /* key_len 0: empty slot */
} CacheEnt;

typedef struct HeapEnt {
    uint32_t rank, pos, right, left_id, right_id;
} HeapEnt;

struct TokEncoder {
    const Tokenizer *t;
    PretokCursor *cur;
    CacheEnt *slots;
    size_t used;
    Buf keys;
    IdBuf vals;
    uint32_t *ids, *ranks, *nxt, *prv; /* scratch for one piece */
    size_t cap;
    HeapEnt *heap;
    size_t heap_len, heap_cap;
    Buf pre; /* a segment with HF's prefix space */
};

TokEncoder *tok_encoder_new(const Tokenizer *t, Err *e)
{
    TokEncoder *enc = calloc(1, sizeof *enc);
    if (!enc) goto oom;
    enc->t = t;
    if (!(enc->slots = calloc(CACHE_SLOTS, sizeof *enc->slots))) goto oom;
    if (t->pre && !(enc->cur = pretok_cursor_new(t->pre))) goto oom;
    return enc;
oom:
    tok_encoder_free(enc);
    err_set(e, "out of memory");
    return NULL;
}

void tok_encoder_free(TokEncoder *enc)
{
    if (!enc) return;
    pretok_cursor_free(enc->cur);
    free(enc->slots);
    buf_free(&enc->keys);
    idbuf_free(&enc->vals);
    free(enc->ids);
    free(enc->ranks);
    free(enc->nxt);
    free(enc->prv);
    free(enc->heap);
    buf_free(&enc->pre);
    free(enc);
}

static int scratch(TokEncoder *enc, size_t n)
{
    if (n <= enc->cap) return 0;
    size_t cap = n < 1024 ? 1024 : 2 * n;
    uint32_t *a = realloc(enc->ids, cap * sizeof *a);
    if (a) enc->ids = a;
    uint32_t *b = realloc(enc->ranks, cap * sizeof *b);
    if (b) enc->ranks = b;
    uint32_t *c = realloc(enc->nxt, cap * sizeof *c);
    if (c) enc->nxt = c;
    uint32_t *d = realloc(enc->prv, cap * sizeof *d);
    if (d) enc->prv = d;
    if (!a || !b || !c || !d) return -1;
    enc->cap = cap;
    return 0;
}

static inline uint32_t pair_rank(const Tokenizer *t, uint32_t a, uint32_t b, uint32_t *merged)
{
    uint32_t r;
    return tok_pair(t, a, b, &r, merged) ? r : UINT32_MAX;
}

/* Merge ids[0..n) in place: lowest rank first, leftmost on ties. Returns the
 * new count. O(n^2): for short pieces, where it beats a heap. */
static size_t merge_linear(const Tokenizer *t, uint32_t *ids, uint32_t *ranks, size_t n)
{
    uint32_t merged;
    for (size_t i = 0; i + 1 < n; i++) ranks[i] = pair_rank(t, ids[i], ids[i + 1], &merged);
    while (n > 1) {
        uint32_t best = UINT32_MAX;
        size_t at = 0;
        for (size_t i = 0; i + 1 < n; i++)
            if (ranks[i] < best) {
                best = ranks[i];
                at = i;
            }
        if (best == UINT32_MAX) break;
        tok_pair(t, ids[at], ids[at + 1], &best, &merged);
        ids[at] = merged;
        memmove(ids + at + 1, ids + at + 2, (n - at - 2) * sizeof *ids);
        memmove(ranks + at + 1, ranks + at + 2, (n > at + 3 ? n - at - 3 : 0) * sizeof *ranks);
        n--;
        if (at > 0) ranks[at - 1] = pair_rank(t, ids[at - 1], ids[at], &merged);
        if (at + 1 < n) ranks[at] = pair_rank(t, ids[at], ids[at + 1], &merged);
    }
    return n;
}

static int heap_less(const HeapEnt *a, const HeapEnt *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static int heap_push(TokEncoder *enc, HeapEnt x)
{
    if (enc->heap_len == enc->heap_cap) {
        size_t cap = enc->heap_cap ? 2 * enc->heap_cap : 1024;
        HeapEnt *h = realloc(enc->heap, cap * sizeof *h);
        if (!h) return -1;
        enc->heap = h;
        enc->heap_cap = cap;
    }
    size_t i = enc->heap_len++;
    while (i > 0 && heap_less(&x, &enc->heap[(i - 1) / 2])) {
        enc->heap[i] = enc->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    enc->heap[i] = x;
    return 0;
}

static HeapEnt heap_pop(TokEncoder *enc)
{
    HeapEnt top = enc->heap[0], x = enc->heap[--enc->heap_len];
    size_t i = 0, n = enc->heap_len;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && heap_less(&enc->heap[c + 1], &enc->heap[c])) c++;
        if (!heap_less(&enc->heap[c], &x)) break;
        enc->heap[i] = enc->heap[c];
        i = c;
    }
    if (n) enc->heap[i] = x;
    return top;
}

static int push_pair(TokEncoder *enc, uint32_t pos, uint32_t right)
{
    uint32_t merged, r = pair_rank(enc->t, enc->ids[pos], enc->ids[right], &merged);
    if (r == UINT32_MAX) return 0;
    return heap_push(enc, (HeapEnt){ r, pos, right, enc->ids[pos], enc->ids[right] });
}

/* The same merges as merge_linear, O(n log n), for long pieces (runs of
 * spaces or digits). Parts are linked lists over byte positions; a heap entry
 * is stale when either part has changed since it was pushed. */
static int merge_heap(TokEncoder *enc, size_t n, IdBuf *out)
{
    uint32_t *ids = enc->ids, *nxt = enc->nxt, *prv = enc->prv;
    enc->heap_len = 0;
    for (size_t i = 0; i < n; i++) {
        nxt[i] = (uint32_t)(i + 1);
        prv[i] = i ? (uint32_t)(i - 1) : DEAD;
    }
    for (size_t i = 0; i + 1 < n; i++)
        if (push_pair(enc, (uint32_t)i, (uint32_t)(i + 1))) return -1;
    while (enc->heap_len) {
        HeapEnt h = heap_pop(enc);
        if (ids[h.pos] != h.left_id || nxt[h.pos] != h.right || h.right >= n ||
            ids[h.right] != h.right_id)
            continue;
        uint32_t r, merged;
        tok_pair(enc->t, h.left_id, h.right_id, &r, &merged);
        ids[h.pos] = merged;
        ids[h.right] = DEAD;
        nxt[h.pos] = nxt[h.right];
        if (nxt[h.pos] < n) prv[nxt[h.pos]] = h.pos;
        if (prv[h.pos] != DEAD && push_pair(enc, prv[h.pos], h.pos)) return -1;
        if (nxt[h.pos] < n && push_pair(enc, h.pos, nxt[h.pos])) return -1;
    }
    for (size_t i = 0; i < n; i = nxt[i])
        if (idbuf_push(out, ids[i])) return -1;
    return 0;
}

static int cache_get(TokEncoder *enc, const char *s, size_t n, uint64_t h, IdBuf *out)
{
    for (size_t i = h & (CACHE_SLOTS - 1);; i = (i + 1) & (CACHE_SLOTS - 1)) {
        const CacheEnt *c = &enc->slots[i];
        if (!c->key_len) return 0;
        if (c->h == h && c->key_len == n && !memcmp(enc->keys.data + c->key_off, s, n)) {
            if (idbuf_reserve(out, c->n_ids)) return -1;
            memcpy(out->ids + out->len, enc->vals.ids + c->ids_off, c->n_ids * sizeof *out->ids);
            out->len += c->n_ids;
            return 1;
        }
    }
}

static void cache_put(TokEncoder *enc, const char *s, size_t n, uint64_t h, const uint32_t *ids,
                      size_t n_ids)
{
    if (enc->used >= CACHE_SLOTS / 2 || enc->keys.len + n > CACHE_MAX_BYTES) {
        memset(enc->slots, 0, CACHE_SLOTS * sizeof *enc->slots);
        enc->used = 0;
        enc->keys.len = 0;
        enc->vals.len = 0;
    }
    uint32_t ko = (uint32_t)enc->keys.len, io = (uint32_t)enc->vals.len;
    if (buf_append(&enc->keys, s, n) || idbuf_reserve(&enc->vals, n_ids)) return; /* no room: skip */
    memcpy(enc->vals.ids + io, ids, n_ids * sizeof *ids);
    enc->vals.len += n_ids;
    size_t i = h & (CACHE_SLOTS - 1);
    while (enc->slots[i].key_len) i = (i + 1) & (CACHE_SLOTS - 1);
    enc->slots[i] = (CacheEnt){ h, ko, io, (uint16_t)n, (uint16_t)n_ids };
    enc->used++;
}

/* BPE on one piece; base: its offset in the text, for error messages. */
static int encode_piece(TokEncoder *enc, const char *s, size_t n, size_t base, IdBuf *out, Err *e)
{
    const Tokenizer *t = enc->t;
    if (n == 0) return 0;
    if (n == 1) {
        int32_t id = t->byte_id[(uint8_t)s[0]];
        if (id < 0) return err_set(e, "byte 0x%02x at byte %zu has no token", (uint8_t)s[0], base + 1);
        return idbuf_push(out, (uint32_t)id) ? err_set(e, "out of memory") : 0;
    }
    uint64_t h = 0;
    if (n <= CACHE_MAX_KEY) {
        h = hash64(s, n, 0);
        int rc = cache_get(enc, s, n, h, out);
        if (rc) return rc < 0 ? err_set(e, "out of memory") : 0;
    }
    size_t start = out->len;
    int64_t whole;
    if ((t->rank_by_bytes || t->ignore_merges) && (whole = tok_lookup(t, s, n)) >= 0) {
        /* tiktoken's shortcut, exact under its rule: a piece that is a token is it. */
        if (idbuf_push(out, (uint32_t)whole)) return err_set(e, "out of memory");
    } else {
        if (scratch(enc, n)) return err_set(e, "out of memory");
        for (size_t i = 0; i < n; i++) {
            int32_t id = t->byte_id[(uint8_t)s[i]];
            if (id < 0) return err_set(e, "byte 0x%02x at byte %zu has no token", (uint8_t)s[i], base + i + 1);
            enc->ids[i] = (uint32_t)id;
        }
        if (n <= LINEAR_MAX) {
            size_t m = merge_linear(t, enc->ids, enc->ranks, n);
            if (idbuf_reserve(out, m)) return err_set(e, "out of memory");
            memcpy(out->ids + out->len, enc->ids, m * sizeof *enc->ids);
            out->len += m;
        } else if (merge_heap(enc, n, out)) {
            return err_set(e, "out of memory");
        }
    }
    if (n <= CACHE_MAX_KEY) cache_put(enc, s, n, h, out->ids + start, out->len - start);
    return 0;
}

int tok_encode_piece(TokEncoder *enc, const char *s, size_t n, IdBuf *out, Err *e)
{
    return encode_piece(enc, s, n, 0, out, e);
}

/* A stretch of text with no special token in it. */
static int encode_segment(TokEncoder *enc, const char *s, size_t n, size_t base, IdBuf *out, Err *e)
{
    if (!n) return 0;
    if (enc->t->add_prefix_space && s[0] != ' ') {
        /* HF's ByteLevel option; offsets in errors then count the added space. */
        enc->pre.len = 0;
        if (buf_putc(&enc->pre, ' ') || buf_append(&enc->pre, s, n)) return err_set(e, "out of memory");
        s = enc->pre.data;
        n = enc->pre.len;
    }
    if (!enc->cur) return encode_piece(enc, s, n, base, out, e);
    pretok_begin(enc->cur, s, n);
    size_t at, len;
    int rc;
    while ((rc = pretok_next(enc->cur, &at, &len, e)) == 1)
        if (encode_piece(enc, s + at, len, base + at, out, e)) return -1;
    return rc;
}

int tok_encode(TokEncoder *enc, const char *s, size_t n, int allow_special, IdBuf *out, Err *e)
{
    const Tokenizer *t = enc->t;
    if (!allow_special || !t->n_specials) return encode_segment(enc, s, n, 0, out, e);
    size_t pos = 0;
    while (pos < n) {
        /* The earliest special at or after pos; the longest when two start there. */
        size_t best_at = n, best_len = 0;
        uint32_t best_id = 0;
        for (uint32_t k = 0; k < t->n_specials; k++) {
            size_t len;
            const char *sp = tok_bytes(t, t->specials[k], &len);
            /* Search s[pos, best_at + len) only: a match starting past best_at cannot win. */
            size_t span = best_at + len - pos <= n - pos ? best_at + len - pos : n - pos;
            const char *hit = len ? memmem(s + pos, span, sp, len) : NULL;
            if (!hit) continue;
            size_t at = (size_t)(hit - s);
            if (at < best_at || (at == best_at && len > best_len)) {
                best_at = at;
                best_len = len;
                best_id = t->specials[k];
            }
        }
        if (encode_segment(enc, s + pos, best_at - pos, pos, out, e)) return -1;
        if (best_at == n) break;
        if (idbuf_push(out, best_id)) return err_set(e, "out of memory");
        pos = best_at + best_len;
    }
    return 0;
}
