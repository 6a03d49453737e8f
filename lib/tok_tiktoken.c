/* tiktoken rank files (.tiktoken: "BASE64 RANK" lines): loading one with a
 * built-in pattern, which brings its special tokens, and recovering the merge
 * list tiktoken's rule implies (tokenizer.json and the fingerprint need it).
 * The rule itself, a pair merging by the rank of its joined bytes, is in
 * tok_finish (tokenizer.c). */
#include "tokenizer.h"

#include <stdlib.h>
#include <string.h>

#include "iofile.h"
#include "tok_internal.h"

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Standard base64 with padding; -1 when malformed, -2 when the bits the
 * padding leaves over are not zero: "IR==" decodes as "IQ==" does, and one
 * token under two spellings is how a duplicate would slip past a text check. */
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
        if (pad && (w & (pad == 1 ? 0xffu : 0xffffu))) return -2;
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

static int recover(Tokenizer *t, uint32_t *bad);

/* The missing ranks before lines[gap - 1] (sorted by rank), at its line. */
static void gap_error(Err *e, const char *path, const RankLine *lines, size_t gap)
{
    const RankLine *g = &lines[gap - 1];
    unsigned long long from = gap > 1 ? lines[gap - 2].rank + 1 : 0, to = g->rank - 1;
    if (from == to)
        err_at(e, path, g->lineno, "rank %llu, but no line has rank %llu: ranks run 0, 1, 2... (a line lost?)",
               (unsigned long long)g->rank, from);
    else
        err_at(e, path, g->lineno, "rank %llu, but no line has ranks %llu to %llu: ranks run 0, 1, 2... "
               "(lines lost?)", (unsigned long long)g->rank, from, to);
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
        int b64 = b64_decode(line, (size_t)(sp_at - line), &raw);
        if (b64 || raw.len == before) {
            err_at(e, path, lineno, b64 == -2 ? "'%.*s' is not canonical base64: its padding bits are not zero"
                                              : "'%.*s' is not base64 of a non-empty token",
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
    size_t gap = 0; /* the first line whose rank does not follow the one before; 0: none */
    for (size_t i = 0; i < n_lines && !gap; i++)
        if (lines[i].rank != (i ? lines[i - 1].rank + 1 : 0) && !(i && lines[i].rank == lines[i - 1].rank))
            gap = i + 1;
    /* more missing ranks than a pattern's specials could fill: said now,
     * before a table of every id up to the largest rank is made */
    if (gap && lines[n_lines - 1].rank + 1 - n_lines > 64) {
        gap_error(e, path, lines, gap);
        goto fail;
    }
    for (size_t i = 0; i < n_lines; i++) {
        if (i && lines[i].rank == lines[i - 1].rank) {
            err_at(e, path, lines[i].lineno, "rank %llu appears twice (also line %llu)",
                   (unsigned long long)lines[i].rank, (unsigned long long)lines[i - 1].lineno);
            goto fail;
        }
        if (tok_set_token(t, (uint32_t)lines[i].rank, raw.data + lines[i].off, lines[i].len,
                          TOK_NORMAL, e))
            goto fail;
    }
    uint32_t n_ranks = t->n_vocab;
    for (const SpecialDef *s = sp; s->text; s++) {
        if (s->id < t->n_vocab) {
            err_set(e, "%s: has ranks up to %u, past the %s special token %s (%u): wrong pattern name?",
                    err_name(path), t->n_vocab - 1, name, s->text, s->id);
            goto fail;
        }
        if (tok_set_token(t, s->id, s->text, strlen(s->text), TOK_SPECIAL, e) ||
            tok_add_special_id(t, s->id, e))
            goto fail;
    }
    /* tiktoken's files number their ranks 0, 1, 2...: a hole is a lost line
     * (checked after the specials: p50k's hole is where its special goes,
     * and the wrong pattern is the better thing to say there). */
    if (gap) {
        gap_error(e, path, lines, gap);
        goto fail;
    }
    if (tok_set_regex(t, pretok_builtin(name), e) || tok_finish(t, e)) goto fail;
    /* One token, one rank: the bytes table (tok_finish) keeps the lower of
     * two ranks, so the higher could never be emitted. */
    for (uint32_t id = 0; id < n_ranks; id++) {
        size_t n_bytes;
        const char *p = tok_bytes(t, id, &n_bytes);
        int64_t first = tok_lookup(t, p, n_bytes);
        if (first != (int64_t)id) {
            err_at(e, path, lines[id].lineno, "rank %u is the same token as rank %lld (line %llu)", id,
                   (long long)first, (unsigned long long)lines[first].lineno);
            goto fail;
        }
    }
    for (int b = 0; b < 256; b++)
        if (t->byte_id[b] < 0) {
            err_set(e, "%s: no token for the byte 0x%02x in its %u ranks (a rank file holds all 256 bytes: "
                       "a file cut short?)", err_name(path), b, n_ranks);
            goto fail;
        }
    /* Each longer token must be the merge of two of lower rank, or BPE can
     * never make it; found now, while the line can be named. */
    uint32_t bad;
    if ((rc = recover(t, &bad)) == -1) {
        err_at(e, path, lines[bad].lineno, "rank %u cannot be made from two lower-ranked tokens, so BPE "
               "never reaches it (a line before it lost or changed?)", bad);
        goto fail;
    }
    if (rc) {
        err_set(e, "%s: out of memory", err_name(path));
        goto fail;
    }
    /* cl100k and o200k leave one id free before their first special; more
     * than that is a file cut short (head -n), which loads but wastes ids. */
    if (sp[0].id - n_ranks > 1) {
        Err w;
        err_set(&w, "warning: %s: ranks end at %u, but %s's %s is id %u: ids %u to %u hold no token "
                    "(a file cut short?)", err_name(path), n_ranks - 1, name, sp[0].text, sp[0].id, n_ranks,
                sp[0].id - 1);
        err_warn(&w);
    }
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
 * lower ranks, ends at two parts (tiktoken's recover_merges). 0; -1 when a
 * token does not come to two parts (*bad is its id); -2 out of memory. */
static int recover(Tokenizer *t, uint32_t *bad)
{
    if (t->merges) return 0;
    TokPair *m = malloc((size_t)t->n_vocab * sizeof *m);
    uint32_t *parts = NULL;
    size_t cap = 0, n_m = 0;
    if (!m) return -2;
    for (uint32_t id = 0; id < t->n_vocab; id++) {
        size_t len;
        const char *p = tok_bytes(t, id, &len);
        if (t->kind[id] != TOK_NORMAL || len < 2) continue;
        if (len > cap) {
            cap = 2 * len;
            uint32_t *q = realloc(parts, cap * sizeof *q);
            if (!q) {
                free(m);
                free(parts);
                return -2;
            }
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
            *bad = id;
            return -1;
        }
        m[n_m++] = (TokPair){ parts[0], parts[1] };
    }
    free(parts);
    t->merges = m;
    t->n_merges = (uint32_t)n_m;
    t->merges_cap = t->n_vocab;
    return 0;
}

int tok_recover_merges(Tokenizer *t, Err *e)
{
    uint32_t bad;
    int rc = recover(t, &bad);
    if (rc == -1) return err_set(e, "token %u cannot be made from two lower-ranked tokens", bad);
    return rc ? err_set(e, "out of memory") : 0;
}
