/* Byte-level BPE: the vocabulary and merge tables, loading (tokenizer.json
 * through jansson, .tiktoken), saving, encoding with a per-thread piece cache,
 * decoding. Training lives in bpe/; this file only holds the result. Encoding
 * speed is measured by bench/bpe/run.sh against tiktoken and HF tokenizers. */
#include "tokenizer.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "iofile.h"
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
    static int done;
    if (__atomic_load_n(&done, __ATOMIC_ACQUIRE)) return;
    for (unsigned i = 0; i < 324; i++) char_byte_tab[i] = -1;
    for (unsigned b = 0; b < 256; b++) {
        byte_char_tab[b] = tok_byte_char((uint8_t)b);
        char_byte_tab[byte_char_tab[b]] = (int16_t)b;
    }
    __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
}

int tok_bytelevel(const char *s, size_t n, Buf *out)
{
    bytelevel_init();
    if (buf_reserve(out, 2 * n)) return -1;
    for (size_t i = 0; i < n; i++)
        out->len += utf8_encode(byte_char_tab[(uint8_t)s[i]], out->data + out->len);
    return 0;
}

/* Byte-level text back to bytes; -1 when a character is not a stand-in. */
static int from_bytelevel(const char *s, size_t n, Buf *out)
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

/* Set token id's bytes. Tokens must be set in increasing id order (bytes are
 * one array); ids skipped stay empty. */
static int set_token(Tokenizer *t, uint32_t id, const char *s, size_t n, int kind, Err *e)
{
    if (id < t->n_vocab) return err_set(e, "token %u set out of order", id);
    if (grow_vocab(t, id + 1, e)) return -1;
    if (buf_append(&t->bytes, s, n)) return err_set(e, "out of memory");
    t->off[id + 1] = t->bytes.len;
    t->kind[id] = (uint8_t)kind;
    if (kind == TOK_NORMAL && n == 1) t->byte_id[(uint8_t)s[0]] = (int32_t)id;
    return 0;
}

static int add_special_id(Tokenizer *t, uint32_t id, Err *e)
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

static Tokenizer *tok_alloc(Err *e)
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
            if (set_token(t, id++, &c, 1, TOK_NORMAL, e)) goto fail;
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
    if (set_token(t, nid, s, n, TOK_NORMAL, e)) return -1;
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
    if (set_token(t, nid, text, len, TOK_SPECIAL, e) || add_special_id(t, nid, e)) return -1;
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

/* ---- loading a rank file ---- */

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Standard base64 with padding; -1 when malformed. */
static int b64_decode(const char *s, size_t n, Buf *out)
{
    if (n % 4) return -1;
    for (size_t i = 0; i < n; i += 4) {
        int v[4], pad = 0;
        for (int k = 0; k < 4; k++) {
            if (s[i + k] == '=' && i + 4 == n && k >= 2) {
                v[k] = 0;
                pad++;
            } else {
                if (pad || (v[k] = b64_value((unsigned char)s[i + k])) < 0) return -1;
            }
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        char b[3] = { (char)(w >> 16), (char)(w >> 8), (char)w };
        if (buf_append(out, b, 3 - pad)) return -1;
    }
    return 0;
}

/* A decimal below 2^31. 0 ok, -1 not one. */
static int parse_rank(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s) return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || (v = v * 10 + (uint64_t)(*s - '0')) >= 0x7fffffff) return -1;
    }
    *out = v;
    return 0;
}

typedef struct RankLine {
    uint64_t rank;
    uint64_t off, len; /* into a Buf of decoded bytes */
    uint64_t lineno;
} RankLine;

static int cmp_rank(const void *x, const void *y)
{
    const RankLine *a = x, *b = y;
    return a->rank < b->rank ? -1 : a->rank > b->rank;
}

typedef struct SpecialDef {
    const char *text;
    uint32_t id;
} SpecialDef;

Tokenizer *tok_load_tiktoken(const char *path, const char *pattern_name, Err *e)
{
    const char *name = pretok_builtin_name(pattern_name);
    if (!name) {
        err_set(e, "unknown pattern '%s' (gpt2/r50k, gpt4/cl100k, o200k)", pattern_name ? pattern_name : "");
        return NULL;
    }
    static const SpecialDef gpt2_sp[] = { { "<|endoftext|>", 50256 }, { 0, 0 } };
    static const SpecialDef gpt4_sp[] = { { "<|endoftext|>", 100257 }, { "<|fim_prefix|>", 100258 },
                                          { "<|fim_middle|>", 100259 }, { "<|fim_suffix|>", 100260 },
                                          { "<|endofprompt|>", 100276 }, { 0, 0 } };
    static const SpecialDef o200k_sp[] = { { "<|endoftext|>", 199999 }, { "<|endofprompt|>", 200018 },
                                           { 0, 0 } };
    const SpecialDef *sp = !strcmp(name, "gpt2") ? gpt2_sp : !strcmp(name, "gpt4") ? gpt4_sp : o200k_sp;

    Tokenizer *t = NULL;
    RankLine *lines = NULL;
    size_t n_lines = 0, cap = 0;
    Buf raw = { 0 };
    InFile *in = in_open(path, 1 << 20, e);
    if (!in) return NULL;
    const char *line;
    size_t len;
    int rc;
    while ((rc = in_line(in, &line, &len, e)) == 1) {
        uint64_t lineno = in_lineno(in);
        if (len && line[len - 1] == '\r') len--;
        if (!len) continue;
        const char *sp_at = memchr(line, ' ', len);
        uint64_t rank;
        char num[32];
        size_t nl = sp_at ? len - (size_t)(sp_at - line) - 1 : 0;
        if (!sp_at || nl == 0 || nl >= sizeof num) {
            err_at(e, path, lineno, "expected \"BASE64 RANK\"");
            goto fail;
        }
        memcpy(num, sp_at + 1, nl);
        num[nl] = 0;
        if (parse_rank(num, &rank)) {
            err_at(e, path, lineno, "rank '%s' is not a number below 2^31", num);
            goto fail;
        }
        size_t before = raw.len;
        if (b64_decode(line, (size_t)(sp_at - line), &raw) || raw.len == before) {
            err_at(e, path, lineno, "'%.*s' is not base64 of a non-empty token",
                   (int)(sp_at - line > 60 ? 60 : sp_at - line), line);
            goto fail;
        }
        if (n_lines == cap) {
            cap = cap ? 2 * cap : 65536;
            RankLine *p = realloc(lines, cap * sizeof *p);
            if (!p) {
                err_set(e, "out of memory");
                goto fail;
            }
            lines = p;
        }
        lines[n_lines++] = (RankLine){ rank, before, raw.len - before, lineno };
    }
    if (rc < 0) goto fail;
    if (!n_lines) {
        err_set(e, "%s: no tokens (expected \"BASE64 RANK\" lines)", err_name(path));
        goto fail;
    }
    qsort(lines, n_lines, sizeof *lines, cmp_rank);
    if (!(t = tok_alloc(e))) goto fail;
    t->rank_by_bytes = 1;
    for (size_t i = 0; i < n_lines; i++) {
        if (i && lines[i].rank == lines[i - 1].rank) {
            err_at(e, path, lines[i].lineno, "rank %llu appears twice (also line %llu)",
                   (unsigned long long)lines[i].rank, (unsigned long long)lines[i - 1].lineno);
            goto fail;
        }
        if (set_token(t, (uint32_t)lines[i].rank, raw.data + lines[i].off, lines[i].len, TOK_NORMAL, e))
            goto fail;
    }
    for (const SpecialDef *s = sp; s->text; s++) {
        if (s->id < t->n_vocab) {
            err_set(e, "%s: has ranks up to %u, past the %s special token %s (%u): wrong pattern name?",
                    err_name(path), t->n_vocab - 1, name, s->text, s->id);
            goto fail;
        }
        if (set_token(t, s->id, s->text, strlen(s->text), TOK_SPECIAL, e) || add_special_id(t, s->id, e))
            goto fail;
    }
    for (int b = 0; b < 256; b++)
        if (t->byte_id[b] < 0) {
            err_set(e, "%s: no token for the byte 0x%02x (a rank file holds all 256)", err_name(path), b);
            goto fail;
        }
    if (tok_set_regex(t, pretok_builtin(name), e) || tok_finish(t, e)) goto fail;
    in_close(in);
    free(lines);
    buf_free(&raw);
    return t;
fail:
    in_close(in);
    free(lines);
    buf_free(&raw);
    tok_free(t);
    return NULL;
}

/* Derive merges: BPE on each token's bytes with tiktoken's rule, allowing only
 * lower ranks, ends at two parts (tiktoken's recover_merges). */
int tok_recover_merges(Tokenizer *t, Err *e)
{
    if (t->merges) return 0;
    TokPair *m = malloc((size_t)t->n_vocab * sizeof *m);
    uint32_t *parts = NULL;
    size_t cap = 0, n_m = 0;
    if (!m) return err_set(e, "out of memory");
    for (uint32_t id = 0; id < t->n_vocab; id++) {
        size_t len;
        const char *p = tok_bytes(t, id, &len);
        if (t->kind[id] != TOK_NORMAL || len < 2) continue;
        if (len > cap) {
            cap = 2 * len;
            uint32_t *q = realloc(parts, cap * sizeof *q);
            if (!q) goto oom;
            parts = q;
        }
        size_t n = len;
        for (size_t i = 0; i < n; i++) parts[i] = (uint32_t)t->byte_id[(uint8_t)p[i]];
        while (n > 2) {
            uint32_t best = UINT32_MAX, at = 0, nid = 0;
            for (size_t i = 0; i + 1 < n; i++) {
                uint32_t r, x;
                if (tok_pair(t, parts[i], parts[i + 1], &r, &x) && r < id && r < best) {
                    best = r;
                    at = (uint32_t)i;
                    nid = x;
                }
            }
            if (best == UINT32_MAX) break;
            parts[at] = nid;
            memmove(parts + at + 1, parts + at + 2, (n - at - 2) * sizeof *parts);
            n--;
        }
        if (n != 2) {
            free(m);
            free(parts);
            return err_set(e, "token %u cannot be made from two lower-ranked tokens", id);
        }
        m[n_m++] = (TokPair){ parts[0], parts[1] };
    }
    free(parts);
    t->merges = m;
    t->n_merges = (uint32_t)n_m;
    t->merges_cap = t->n_vocab;
    return 0;
oom:
    free(m);
    free(parts);
    return err_set(e, "out of memory");
}

/* ---- tokenizer.json ---- */

typedef struct VocabEnt {
    uint32_t id;
    int kind;
    const char *key; /* from the JSON tree */
    size_t key_len;
    int from_added;  /* the text is the token's bytes as is (not byte-level) */
} VocabEnt;

static int cmp_ent(const void *x, const void *y)
{
    const VocabEnt *a = x, *b = y;
    if (a->id != b->id) return a->id < b->id ? -1 : 1;
    return b->from_added - a->from_added; /* the added_tokens entry first */
}

/* The pattern of a pre_tokenizer we can mirror: ByteLevel (its own GPT-2
 * regex unless use_regex is false), a Split on a regex with behavior Isolated,
 * or a Sequence of a Split and a ByteLevel without regex. */
static int parse_pretok(Tokenizer *t, json_t *pt, const char *path, Err *e)
{
    if (!pt || json_is_null(pt)) return tok_set_regex(t, NULL, e);
    const char *type = json_string_value(json_object_get(pt, "type"));
    if (!type) return err_set(e, "%s: pre_tokenizer has no \"type\"", err_name(path));
    if (!strcmp(type, "ByteLevel")) {
        t->add_prefix_space = json_is_true(json_object_get(pt, "add_prefix_space"));
        json_t *ur = json_object_get(pt, "use_regex");
        return tok_set_regex(t, (ur && json_is_false(ur)) ? NULL : pretok_builtin("gpt2"), e);
    }
    if (!strcmp(type, "Split")) {
        const char *beh = json_string_value(json_object_get(pt, "behavior"));
        json_t *pat = json_object_get(pt, "pattern");
        const char *re = json_string_value(json_object_get(pat, "Regex"));
        const char *lit = json_string_value(json_object_get(pat, "String"));
        if (!beh || strcmp(beh, "Isolated") || json_is_true(json_object_get(pt, "invert")))
            return err_set(e, "%s: pre_tokenizer Split: only behavior \"Isolated\" without invert is supported",
                           err_name(path));
        if (re) return tok_set_regex(t, re, e);
        if (lit) { /* a literal: quote it for PCRE2 */
            Buf q = { 0 };
            int rc = buf_append(&q, "\\Q", 2) || buf_append(&q, lit, strlen(lit)) ||
                     buf_append(&q, "\\E", 3);
            rc = rc ? err_set(e, "out of memory") : tok_set_regex(t, q.data, e);
            buf_free(&q);
            return rc;
        }
        return err_set(e, "%s: pre_tokenizer Split has no pattern Regex or String", err_name(path));
    }
    if (!strcmp(type, "Sequence")) {
        json_t *list = json_object_get(pt, "pretokenizers");
        size_t n = json_array_size(list);
        int have_split = 0;
        for (size_t i = 0; i < n; i++) {
            json_t *p = json_array_get(list, i);
            const char *ty = json_string_value(json_object_get(p, "type"));
            if (ty && !strcmp(ty, "ByteLevel")) {
                json_t *ur = json_object_get(p, "use_regex");
                if (have_split && !(ur && json_is_false(ur)))
                    return err_set(e, "%s: pre_tokenizer: a ByteLevel with its own regex after a "
                                      "Split is not supported", err_name(path));
                if (json_is_true(json_object_get(p, "add_prefix_space")))
                    return err_set(e, "%s: pre_tokenizer: add_prefix_space inside a Sequence is "
                                      "not supported", err_name(path));
                if (!have_split && !(ur && json_is_false(ur))) {
                    if (tok_set_regex(t, pretok_builtin("gpt2"), e)) return -1;
                    have_split = 1;
                }
            } else if (ty && !strcmp(ty, "Split") && !have_split) {
                if (parse_pretok(t, p, path, e)) return -1;
                have_split = 1;
            } else {
                return err_set(e, "%s: pre_tokenizer.pretokenizers[%zu]: \"%s\" is not supported "
                                  "(one Split and a ByteLevel are)", err_name(path), i, ty ? ty : "?");
            }
        }
        return 0;
    }
    return err_set(e, "%s: pre_tokenizer \"%s\" is not supported (ByteLevel, Split, Sequence are)",
                   err_name(path), type);
}

Tokenizer *tok_load_json(const char *path, Err *e)
{
    Tokenizer *t = NULL;
    int t_ignore_merges = 0;
    VocabEnt *ents = NULL;
    Buf text = { 0 }, tmp = { 0 };
    json_t *root = NULL;
    InFile *in = in_open(path, 1, e);
    if (!in) return NULL;
    if (in_slurp(in, &text, e)) goto fail;
    json_error_t je;
    if (!(root = json_loadb(text.data ? text.data : "", text.len, JSON_REJECT_DUPLICATES, &je))) {
        err_at(e, path, (uint64_t)(je.line > 0 ? je.line : 1), "not a tokenizer.json: %s", je.text);
        goto fail;
    }
    json_t *model = json_object_get(root, "model");
    const char *mtype = json_string_value(json_object_get(model, "type"));
    json_t *vocab = json_object_get(model, "vocab"), *merges = json_object_get(model, "merges");
    if (!json_is_object(model) || (mtype && strcmp(mtype, "BPE")) || !json_is_object(vocab) ||
        !json_is_array(merges)) {
        err_set(e, "%s: not a BPE tokenizer.json (expected model.type \"BPE\" with vocab and merges)",
                err_name(path));
        goto fail;
    }
    static const char *const unsupported[] = { "continuing_subword_prefix", "end_of_word_suffix" };
    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(model, unsupported[i]);
        if (v && !json_is_null(v) && !(json_is_string(v) && !*json_string_value(v))) {
            err_set(e, "%s: model.%s is not supported (byte-level BPE has none)", err_name(path),
                    unsupported[i]);
            goto fail;
        }
    }
    t_ignore_merges = json_is_true(json_object_get(model, "ignore_merges"));
    json_t *norm = json_object_get(root, "normalizer");
    if (norm && !json_is_null(norm)) {
        err_set(e, "%s: normalizer %s is not supported (byte-level BPE needs none)", err_name(path),
                json_string_value(json_object_get(norm, "type")) ? json_string_value(json_object_get(norm, "type")) : "?");
        goto fail;
    }
    json_t *added = json_object_get(root, "added_tokens");
    size_t n_added = json_array_size(added), n_ents = json_object_size(vocab) + n_added, k = 0;
    if (!(ents = calloc(n_ents ? n_ents : 1, sizeof *ents))) {
        err_set(e, "out of memory");
        goto fail;
    }
    const char *key;
    json_t *val;
    json_object_foreach(vocab, key, val) {
        json_int_t id = json_integer_value(val);
        if (!json_is_integer(val) || id < 0 || id >= 0x7fffffff) {
            err_set(e, "%s: model.vocab[\"%.100s\"]: id is not an integer in 0..2^31", err_name(path), key);
            goto fail;
        }
        ents[k++] = (VocabEnt){ (uint32_t)id, TOK_NORMAL, key, strlen(key), 0 };
    }
    for (size_t i = 0; i < n_added; i++) {
        json_t *a = json_array_get(added, i);
        json_t *jid = json_object_get(a, "id");
        const char *content = json_string_value(json_object_get(a, "content"));
        json_int_t id = json_integer_value(jid);
        if (!json_is_integer(jid) || id < 0 || id >= 0x7fffffff || !content || !*content) {
            err_set(e, "%s: added_tokens[%zu]: needs an integer \"id\" and a non-empty \"content\"",
                    err_name(path), i);
            goto fail;
        }
        ents[k++] = (VocabEnt){ (uint32_t)id, TOK_SPECIAL, content, strlen(content), 1 };
    }
    qsort(ents, k, sizeof *ents, cmp_ent);
    if (!(t = tok_alloc(e))) goto fail;
    for (size_t i = 0; i < k; i++) {
        const VocabEnt *v = &ents[i];
        if (i && v->id == ents[i - 1].id) {
            /* An added token may also sit in the vocab (HF's GPT-2 does that):
             * then its vocab key must be the same text. */
            if (ents[i - 1].from_added && !v->from_added) {
                tmp.len = 0;
                if (!from_bytelevel(v->key, v->key_len, &tmp) && tmp.len == ents[i - 1].key_len &&
                    !memcmp(tmp.data, ents[i - 1].key, tmp.len))
                    continue;
                if (v->key_len == ents[i - 1].key_len && !memcmp(v->key, ents[i - 1].key, v->key_len))
                    continue;
            }
            err_set(e, "%s: id %u is given to two tokens (\"%.100s\" and \"%.100s\")", err_name(path),
                    v->id, ents[i - 1].key, v->key);
            goto fail;
        }
        if (v->from_added) {
            if (set_token(t, v->id, v->key, v->key_len, TOK_SPECIAL, e)) goto fail;
            continue;
        }
        tmp.len = 0;
        if (from_bytelevel(v->key, v->key_len, &tmp) || !tmp.len) {
            err_set(e, "%s: model.vocab[\"%.100s\"]: not byte-level text (a GPT-2 style "
                       "tokenizer.json maps every byte to a printable character)",
                    err_name(path), v->key);
            goto fail;
        }
        if (set_token(t, v->id, tmp.data, tmp.len, TOK_NORMAL, e)) goto fail;
    }
    for (size_t i = 0; i < n_added; i++) { /* in the file's order */
        json_int_t id = json_integer_value(json_object_get(json_array_get(added, i), "id"));
        if (add_special_id(t, (uint32_t)id, e)) goto fail;
    }
    size_t n_merges = json_array_size(merges);
    t->merges_cap = (uint32_t)(n_merges ? n_merges : 1);
    if (!(t->merges = malloc(t->merges_cap * sizeof *t->merges))) {
        err_set(e, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n_merges; i++) {
        json_t *m = json_array_get(merges, i);
        const char *a = NULL, *b = NULL;
        char *split = NULL;
        if (json_is_string(m)) {
            const char *s = json_string_value(m), *spc = strchr(s, ' ');
            if (spc && !strchr(spc + 1, ' ') && (split = strdup(s))) {
                split[spc - s] = 0;
                a = split;
                b = split + (spc - s) + 1;
            }
        } else if (json_array_size(m) == 2) {
            a = json_string_value(json_array_get(m, 0));
            b = json_string_value(json_array_get(m, 1));
        }
        json_t *ja = a ? json_object_get(vocab, a) : NULL, *jb = b ? json_object_get(vocab, b) : NULL;
        if (!a || !b) {
            free(split);
            err_set(e, "%s: model.merges[%zu]: expected \"A B\" or [\"A\", \"B\"]", err_name(path), i);
            goto fail;
        }
        if (!ja || !jb) {
            err_set(e, "%s: model.merges[%zu]: \"%.100s\" is not in the vocab", err_name(path), i,
                    ja ? b : a);
            free(split);
            goto fail;
        }
        free(split);
        t->merges[t->n_merges++] =
            (TokPair){ (uint32_t)json_integer_value(ja), (uint32_t)json_integer_value(jb) };
    }
    t->ignore_merges = t_ignore_merges;
    if (parse_pretok(t, json_object_get(root, "pre_tokenizer"), path, e)) goto fail;
    if (tok_finish(t, e)) {
        Err inner = *e;
        err_set(e, "%s: %s", err_name(path), inner.msg);
        goto fail;
    }
    json_decref(root);
    free(ents);
    buf_free(&text);
    buf_free(&tmp);
    in_close(in);
    return t;
fail:
    json_decref(root);
    free(ents);
    buf_free(&text);
    buf_free(&tmp);
    in_close(in);
    tok_free(t);
    return NULL;
}

/* Byte-level key of token id (specials as their text), as a jansson string. */
static json_t *token_key(const Tokenizer *t, uint32_t id, Buf *tmp)
{
    size_t len;
    const char *p = tok_bytes(t, id, &len);
    if (t->kind[id] == TOK_SPECIAL) return json_stringn(p, len);
    tmp->len = 0;
    if (tok_bytelevel(p, len, tmp)) return NULL;
    return json_stringn(tmp->data, tmp->len);
}

int tok_save_json(Tokenizer *t, const char *path, Err *e)
{
    if (tok_recover_merges(t, e)) return -1;
    Buf tmp = { 0 }, joined = { 0 };
    int rc = -1;
    json_t *root = json_object(), *vocab = json_object(), *merges = json_array(),
           *added = json_array();
    if (!root || !vocab || !merges || !added) goto oom;
    for (uint32_t id = 0; id < t->n_vocab; id++) {
        if (t->kind[id] == TOK_NONE) continue;
        json_t *k = token_key(t, id, &tmp);
        if (!k || json_object_set_new(vocab, json_string_value(k), json_integer(id))) {
            json_decref(k);
            goto oom;
        }
        json_decref(k);
    }
    for (uint32_t r = 0; r < t->n_merges; r++) {
        json_t *a = token_key(t, t->merges[r].a, &tmp), *b = token_key(t, t->merges[r].b, &tmp);
        joined.len = 0;
        /* "A B" strings: byte-level text never holds a space, so this is
         * unambiguous and every version of tokenizers reads it. */
        if (!a || !b || buf_append(&joined, json_string_value(a), json_string_length(a)) ||
            buf_putc(&joined, ' ') ||
            buf_append(&joined, json_string_value(b), json_string_length(b)) ||
            json_array_append_new(merges, json_stringn(joined.data, joined.len))) {
            json_decref(a);
            json_decref(b);
            goto oom;
        }
        json_decref(a);
        json_decref(b);
    }
    for (uint32_t i = 0; i < t->n_specials; i++) {
        size_t len;
        const char *p = tok_bytes(t, t->specials[i], &len);
        json_t *o = json_pack("{s:I, s:s%, s:b, s:b, s:b, s:b, s:b}", "id", (json_int_t)t->specials[i],
                              "content", p, len, "single_word", 0, "lstrip", 0, "rstrip", 0,
                              "normalized", 0, "special", 1);
        if (!o || json_array_append_new(added, o)) goto oom;
    }
    json_t *bl = json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space",
                           t->add_prefix_space, "trim_offsets", 1, "use_regex", 0);
    json_t *pre;
    if (t->regex)
        pre = json_pack("{s:s, s:[{s:s, s:{s:s}, s:s, s:b}, o]}", "type", "Sequence", "pretokenizers",
                        "type", "Split", "pattern", "Regex", t->regex, "behavior", "Isolated",
                        "invert", 0, bl);
    else
        pre = bl;
    json_t *model = json_pack("{s:s, s:n, s:n, s:n, s:n, s:b, s:b, s:b, s:o, s:o}", "type", "BPE",
                              "dropout", "unk_token", "continuing_subword_prefix",
                              "end_of_word_suffix", "fuse_unk", 0, "byte_fallback", 0,
                              "ignore_merges", t->ignore_merges, "vocab", vocab, "merges", merges);
    vocab = merges = NULL; /* owned by model now (json_pack "o" steals) */
    json_t *dec = json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space", 1,
                            "trim_offsets", 1, "use_regex", 1);
    if (!pre || !model || !dec ||
        json_object_set_new(root, "version", json_string("1.0")) ||
        json_object_set_new(root, "truncation", json_null()) ||
        json_object_set_new(root, "padding", json_null()) ||
        json_object_set_new(root, "added_tokens", added) ||
        json_object_set_new(root, "normalizer", json_null()) ||
        json_object_set_new(root, "pre_tokenizer", pre) ||
        json_object_set_new(root, "post_processor", json_null()) ||
        json_object_set_new(root, "decoder", dec) || json_object_set_new(root, "model", model)) {
        added = NULL;
        goto oom;
    }
    added = NULL;
    char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!s) goto oom;
    OutFile *o = out_open(path, e);
    if (o) {
        size_t n = strlen(s);
        if (out_write(o, s, n, e) || out_write(o, "\n", 1, e)) out_abort(o);
        else rc = out_close(o, e);
    }
    free(s);
    goto done;
oom:
    rc = err_set(e, "out of memory writing %s", err_name(path));
done:
    json_decref(root);
    json_decref(vocab);
    json_decref(merges);
    json_decref(added);
    buf_free(&tmp);
    buf_free(&joined);
    return rc;
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

/* ---- encoding ---- */

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
            const char *hit = len ? memmem(s + pos, best_at + len - pos <= n - pos ? best_at + len - pos : n - pos, sp, len) : NULL;
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
