/* The built-in rules: Gopher repetition and quality, C4, FineWeb, each as
 * datatrove computes it (character counts are code points, as Python's len).
 * The same code measures every rule to the end for `filter stats`. A text
 * over HEUR_LONG_BYTES takes the long-document road to the same values, in a
 * few times its size ("long documents" below; bench/filter/long.sh).
 * Not here: user PCRE2 rules (urules.c), the classifier (model.c).
 * Throughput is measured by bench/filter/run.sh ("heuristics MB/s"). */
#include "heur.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "hash.h"
#include "repeats.h"

/* for the hot paths, where the compiler's own choice costs (see heur_judge) */
#define ALWAYS_INLINE inline __attribute__((always_inline))

const RuleInfo heur_rules[N_RULES] = {
    [R_DUP_PARA_FRAC] = {"dup_para_frac", "gopher", KIND_DOC, 0, 0.30, "duplicate paragraphs / paragraphs > V"},
    [R_DUP_PARA_CHAR_FRAC] = {"dup_para_char_frac", "gopher", KIND_DOC, 0, 0.20, "characters in duplicate paragraphs / characters > V"},
    [R_DUP_LINE_FRAC] = {"dup_line_frac", "gopher", KIND_DOC, 0, 0.30, "duplicate lines / lines > V"},
    [R_DUP_LINE_CHAR_FRAC] = {"dup_line_char_frac", "gopher", KIND_DOC, 0, 0.20, "characters in duplicate lines / characters > V"},
    [R_TOP_2_GRAM] = {"top_2_gram", "gopher", KIND_DOC, 0, 0.20, "characters of the most frequent word 2-gram (x count) / characters > V"},
    [R_TOP_3_GRAM] = {"top_3_gram", "gopher", KIND_DOC, 0, 0.18, "the same for 3-grams"},
    [R_TOP_4_GRAM] = {"top_4_gram", "gopher", KIND_DOC, 0, 0.16, "the same for 4-grams"},
    [R_DUP_5_GRAM] = {"dup_5_gram", "gopher", KIND_DOC, 0, 0.15, "characters in duplicated word 5-grams / characters > V"},
    [R_DUP_6_GRAM] = {"dup_6_gram", "gopher", KIND_DOC, 0, 0.14, "the same for 6-grams"},
    [R_DUP_7_GRAM] = {"dup_7_gram", "gopher", KIND_DOC, 0, 0.13, "the same for 7-grams"},
    [R_DUP_8_GRAM] = {"dup_8_gram", "gopher", KIND_DOC, 0, 0.12, "the same for 8-grams"},
    [R_DUP_9_GRAM] = {"dup_9_gram", "gopher", KIND_DOC, 0, 0.11, "the same for 9-grams"},
    [R_DUP_10_GRAM] = {"dup_10_gram", "gopher", KIND_DOC, 0, 0.10, "the same for 10-grams"},
    [R_GOPHER_MIN_WORDS] = {"gopher_min_words", "gopher", KIND_DOC, 0, 50, "fewer than V words (not counting punctuation)", 1},
    [R_GOPHER_MAX_WORDS] = {"gopher_max_words", "gopher", KIND_DOC, 0, 100000, "more than V words (not counting punctuation)"},
    [R_GOPHER_MIN_MEAN_WORD] = {"gopher_min_mean_word", "gopher", KIND_DOC, 0, 3, "mean word length < V characters", 1},
    [R_GOPHER_MAX_MEAN_WORD] = {"gopher_max_mean_word", "gopher", KIND_DOC, 0, 10, "mean word length > V characters"},
    [R_GOPHER_HASH_RATIO] = {"gopher_hash_ratio", "gopher", KIND_DOC, 0, 0.10, "'#' characters / words > V"},
    [R_GOPHER_ELLIPSIS_RATIO] = {"gopher_ellipsis_ratio", "gopher", KIND_DOC, 0, 0.10, "('...' + U+2026) / words > V"},
    [R_GOPHER_BULLET_LINES] = {"gopher_bullet_lines", "gopher", KIND_DOC, 0, 0.90, "lines starting with '-' or U+2022 / lines > V"},
    [R_GOPHER_ELLIPSIS_LINES] = {"gopher_ellipsis_lines", "gopher", KIND_DOC, 0, 0.30, "lines ending with '...' or U+2026 / lines > V"},
    [R_GOPHER_ALPHA_WORDS] = {"gopher_alpha_words", "gopher", KIND_DOC, 0, 0.80, "words with a letter / words < V", 1},
    [R_GOPHER_STOP_WORDS] = {"gopher_stop_words", "gopher", KIND_DOC, 0, 2, "fewer than V of: the be to of and that have with", 1},
    [R_C4_LONG_WORD] = {"c4_long_word", "c4", KIND_LINE, 0, 1000, "line removed: it has a word of more than V characters"},
    [R_C4_CITATIONS] = {"c4_citations", "c4", KIND_LINE, 1, 1, "'[1]', '[edit]', '[citation needed]' cut out of lines"},
    [R_C4_TERMINAL_PUNCT] = {"c4_terminal_punct", "c4", KIND_LINE, 1, 1, "line removed: does not end in . ? ! \" ' (or ends in ...)"},
    [R_C4_MIN_LINE_WORDS] = {"c4_min_line_words", "c4", KIND_LINE, 0, 3, "line removed: fewer than V words", 1},
    [R_C4_LOREM_IPSUM] = {"c4_lorem_ipsum", "c4", KIND_DOC, 1, 1, "a kept line contains 'lorem ipsum'"},
    [R_C4_JAVASCRIPT] = {"c4_javascript", "c4", KIND_LINE, 1, 1, "line removed: contains 'javascript'"},
    [R_C4_CURLY_BRACKET] = {"c4_curly_bracket", "c4", KIND_DOC, 1, 1, "a kept line contains '{'"},
    [R_C4_POLICY] = {"c4_policy", "c4", KIND_LINE, 1, 1, "line removed: 'terms of use', 'privacy policy', cookies..."},
    [R_C4_MIN_SENTENCES] = {"c4_min_sentences", "c4", KIND_DOC, 0, 5, "fewer than V sentences in the kept lines", 1},
    [R_FW_LINE_PUNCT] = {"fineweb_line_punct", "fineweb", KIND_DOC, 0, 0.12, "lines ending in terminal punctuation / lines < V", 1},
    [R_FW_SHORT_LINES] = {"fineweb_short_lines", "fineweb", KIND_DOC, 0, 0.67, "lines of <= 30 characters / lines > V"},
    [R_FW_CHAR_DUP] = {"fineweb_char_dup", "fineweb", KIND_DOC, 0, 0.01, "characters in duplicate lines / characters > V"},
    [R_FW_LIST_RATIO] = {"fineweb_list_ratio", "fineweb", KIND_DOC, 0, 0.30, "newlines / words > V"},
};

void heur_conf_default(HeurConf *c)
{
    for (int r = 0; r < N_RULES; r++) {
        c->v[r] = heur_rules[r].def;
        c->on[r] = !strcmp(heur_rules[r].set, "gopher");
    }
}

void heur_conf_none(HeurConf *c)
{
    memset(c->on, 0, sizeof c->on);
}

int heur_enable_set(HeurConf *c, const char *set)
{
    int found = 0;
    for (int r = 0; r < N_RULES; r++)
        if (!strcmp(heur_rules[r].set, set)) c->on[r] = 1, found = 1;
    return found ? 0 : -1;
}

int heur_find(const char *name, size_t n)
{
    for (int r = 0; r < N_RULES; r++)
        if (strlen(heur_rules[r].name) == n && !memcmp(heur_rules[r].name, name, n)) return r;
    return -1;
}

void heur_scratch_free(HeurScratch *s)
{
    if (!s) return;
    free(s->tok);
    free(s->pre);
    free(s->set);
    free(s->rep);
    buf_free(&s->tmp);
    memset(s, 0, sizeof *s);
}

/* ---------------------------------------------------------------- characters */

enum { C_SPACE = 1, C_PUNCT = 2, C_ALPHA = 4 };

/* Python's str.isspace for ASCII (0x1c-0x1f included), letters, and everything
 * else that is not a digit counted as punctuation/symbol/control. */
/* ascii_class() for 0..127, as a table: 1 space, 2 punctuation, 4 letter */
static const unsigned char ASCII_CLASS[128] = {
    2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1,
    1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2,
    2, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 2, 2, 2, 2, 2,
    2, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 2, 2, 2, 2, 2,
};

static inline int ascii_class(unsigned c)
{
    return ASCII_CLASS[c & 127];
}

static int uni_class(uint32_t cp)
{
    if (cp < 0x80) return ascii_class(cp);
    if (cp == 0x85 || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
        cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000)
        return C_SPACE;
    switch (utf8proc_category((utf8proc_int32_t)cp)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
        return C_ALPHA;
    case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE: case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO: case UTF8PROC_CATEGORY_SM: case UTF8PROC_CATEGORY_SC:
    case UTF8PROC_CATEGORY_SK: case UTF8PROC_CATEGORY_SO: case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF: case UTF8PROC_CATEGORY_CO: case UTF8PROC_CATEGORY_CN:
        return C_PUNCT;
    default:
        return 0;
    }
}

/* Decode one code point of valid UTF-8 (the reader checked it). */
static inline size_t dec(const unsigned char *s, size_t left, uint32_t *cp)
{
    unsigned c = s[0];
    if (c < 0x80 || left < 2) { *cp = c; return 1; }
    if (c < 0xe0) { *cp = ((c & 0x1f) << 6) | (s[1] & 0x3f); return 2; }
    if (c < 0xf0 || left < 4) {
        *cp = left < 3 ? c : ((c & 0x0f) << 12) | ((s[1] & 0x3f) << 6) | (s[2] & 0x3f);
        return left < 3 ? 1 : 3;
    }
    *cp = ((c & 0x07) << 18) | ((s[1] & 0x3f) << 12) | ((s[2] & 0x3f) << 6) | (s[3] & 0x3f);
    return 4;
}

/* ASCII_CLASS for bytes < 0x80; C_MULTI for the bytes that start (or continue)
 * a multi-byte character, which class_at decodes and looks up. */
#define C_MULTI 8
#define M8 C_MULTI, C_MULTI, C_MULTI, C_MULTI, C_MULTI, C_MULTI, C_MULTI, C_MULTI
static const unsigned char BYTE_CLASS[256] = {
    2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1,
    1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2,
    2, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 2, 2, 2, 2, 2,
    2, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 2, 2, 2, 2, 2,
    M8, M8, M8, M8, M8, M8, M8, M8, M8, M8, M8, M8, M8, M8, M8, M8,
};
#undef M8

static inline int class_at(const unsigned char *s, size_t left, size_t *len)
{
    if (s[0] < 0x80) { *len = 1; return ascii_class(s[0]); }
    uint32_t cp;
    *len = dec(s, left, &cp);
    return uni_class(cp);
}

/* Start of the code point that ends just before s[b] (b > a). */
static inline size_t back1(const unsigned char *s, size_t a, size_t b)
{
    size_t r = b - 1;
    while (r > a && (s[r] & 0xc0) == 0x80) r--;
    return r;
}

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* Eight bytes at a time: the top bit of each byte of the result is set when that
 * byte of x is zero (exact: no borrow crosses bytes). */
static inline uint64_t zero_bytes(uint64_t x)
{
    return ~(((x & ~HIGHS) + ~HIGHS) | x | ~HIGHS);
}

/* How many bytes of m have their top bit set (m has no other bits): the
 * bytes' bits moved to the bottom and summed into the top byte by one
 * multiplication. __builtin_popcountll is a call into libgcc where the
 * target has no popcnt instruction (our -O2 without -march). */
static inline unsigned count_highs(uint64_t m)
{
    return (unsigned)(((m >> 7) * ONES) >> 56);
}

static inline uint64_t load8(const unsigned char *s)
{
    uint64_t w;
    memcpy(&w, s, 8);
    return w;
}

/* Code points: the bytes that are not 10xxxxxx. */
static size_t count_chars(const unsigned char *s, size_t n)
{
    size_t k = n, i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w = load8(s + i);
        k -= count_highs(w & ~(w << 1) & HIGHS);
    }
    for (; i < n; i++) k -= (s[i] & 0xc0) == 0x80;
    return k;
}

static size_t count_byte(const unsigned char *s, size_t n, unsigned char c)
{
    size_t k = 0, i = 0;
    for (; i + 8 <= n; i += 8) k += count_highs(zero_bytes(load8(s + i) ^ (c * ONES)));
    for (; i < n; i++) k += s[i] == c;
    return k;
}

/* Python's str.strip(): [*a, *b) without white space at either end. */
static void strip(const unsigned char *s, size_t *a, size_t *b)
{
    size_t l;
    while (*a < *b && (class_at(s + *a, *b - *a, &l) & C_SPACE)) *a += l;
    while (*b > *a) {
        size_t r = back1(s, *a, *b);
        if (!(class_at(s + r, *b - r, &l) & C_SPACE)) break;
        *b = r;
    }
}

/* Python's str.splitlines(): the line starting at i ends at *end; returns the
 * start of the next line. Separators: \n \r \r\n \v \f \x1c \x1d \x1e U+0085
 * U+2028 U+2029. */
static size_t next_line(const unsigned char *s, size_t n, size_t i, size_t *end)
{
    /* skip blocks of 8 bytes none of which is < 0x1f, 0xc2 or 0xe2 */
    while (i + 8 <= n) {
        uint64_t w = load8(s + i);
        if (((w - 0x1f * ONES) & ~w & HIGHS) | zero_bytes(w ^ (0xc2 * ONES)) | zero_bytes(w ^ (0xe2 * ONES))) break;
        i += 8;
    }
    for (; i < n; i++) {
        unsigned c = s[i];
        if (c == '\n' || c == '\v' || c == '\f' || (c >= 0x1c && c <= 0x1e)) { *end = i; return i + 1; }
        if (c == '\r') { *end = i; return i + 1 < n && s[i + 1] == '\n' ? i + 2 : i + 1; }
        if (c == 0xc2 && i + 1 < n && s[i + 1] == 0x85) { *end = i; return i + 2; }
        if (c == 0xe2 && i + 2 < n && s[i + 1] == 0x80 && (s[i + 2] == 0xa8 || s[i + 2] == 0xa9)) {
            *end = i;
            return i + 3;
        }
    }
    *end = n;
    return n;
}

static int ends_with(const unsigned char *s, size_t a, size_t b, const char *suf)
{
    size_t k = strlen(suf);
    return b - a >= k && !memcmp(s + b - k, suf, k);
}

/* ---------------------------------------------------------------- words */

/* Appends a token; the capacity check is inline because it runs per token. */
static inline int push_tok(HeurTok **t, size_t *cap, size_t *nt, size_t off, size_t len, uint32_t n_chars,
                           int alpha, int sym)
{
    if (*nt == *cap) {
        size_t c = *cap ? *cap * 2 : 1024;
        HeurTok *p = realloc(*t, c * sizeof *p);
        if (!p) return -1;
        *t = p, *cap = c;
    }
    (*t)[(*nt)++] = (HeurTok){off, len, n_chars, (uint8_t)alpha, (uint8_t)sym};
    return 0;
}

/* Punctuation tokens of s[i..b), one character each ("..." as one). */
static inline int push_puncts(const unsigned char *s, size_t i, size_t b, HeurTok **t, size_t *cap, size_t *nt)
{
    while (i < b) {
        size_t l = 1;
        if (s[i] >= 0x80) {
            uint32_t cp;
            l = dec(s + i, b - i, &cp);
        } else if (s[i] == '.' && i + 3 <= b && s[i + 1] == '.' && s[i + 2] == '.') {
            l = 3;
        }
        if (push_tok(t, cap, nt, i, l, l == 3 && s[i] == '.' ? 3 : 1, 0, 1)) return -1;
        i += l;
    }
    return 0;
}

/* The end of the run of ASCII letters and digits at s[i..n); *alpha gets
 * C_ALPHA when the run has a letter. Eight bytes at a time: a byte x < 0x80 is
 * in [lo, hi] when x + (0x80 - lo) has its top bit set and x + (0x7f - hi) has
 * not (no carry crosses bytes), and x | 0x20 folds capitals onto small letters.
 * This is where most bytes go, and the byte loop mispredicted the end of every
 * word (bench/filter: heuristics MB/s). */
static inline size_t plain_run(const unsigned char *s, size_t i, size_t n, int *alpha)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    while (i + 8 <= n) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        uint64_t y = w & ~high, l = y | 0x2020202020202020ull;
        uint64_t letter = (l + (0x80 - 'a') * ones) & ~(l + (0x7f - 'z') * ones);
        uint64_t digit = (y + (0x80 - '0') * ones) & ~(y + (0x7f - '9') * ones);
        letter &= ~w & high;
        uint64_t stop = (~(letter | digit) | w) & high; /* neither, or not ASCII */
        if (!stop) {
            if (letter) *alpha |= C_ALPHA;
            i += 8;
            continue;
        }
        if (letter & ((stop & -stop) - 1)) *alpha |= C_ALPHA;
        return i + (size_t)(__builtin_ctzll(stop) >> 3);
    }
#endif
    unsigned bc;
    while (i < n && !((bc = BYTE_CLASS[s[i]]) & ~C_ALPHA)) *alpha |= (int)bc, i++;
    return i;
}

/* Each white-space-delimited chunk is leading punctuation [a, p), the word
 * [p, q) (from the first to the last character that is not punctuation) and
 * trailing punctuation [q, i). Runs of ASCII letters and digits, most of the
 * bytes of most text, go through a tight loop (bench/filter: heuristics MB/s). */
long heur_words(const char *text, size_t n, HeurTok **toks, size_t *cap)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t nt = 0, i = 0, l;
    while (i < n) {
        int k = class_at(s + i, n - i, &l);
        if (k & C_SPACE) { i += l; continue; }
        size_t a = i;
        while (k & C_PUNCT) {
            i += l;
            if (i >= n) { k = C_SPACE; break; }
            k = class_at(s + i, n - i, &l);
        }
        if (k & C_SPACE) { /* all punctuation */
            if (push_puncts(s, a, i, toks, cap, &nt)) return -1;
            continue;
        }
        /* s[i] starts the word; cw: characters in [p, i), cq: in [p, q) */
        size_t p = i, q = i, cw = 0, cq = 0;
        int alpha = 0;
        for (;;) {
            size_t r = i;
            i = plain_run(s, i, n, &alpha);
            if (i > r) cw += i - r, q = i, cq = cw;
            if (i >= n) break;
            k = class_at(s + i, n - i, &l);
            if (k & C_SPACE) break;
            cw++;
            if (!(k & C_PUNCT)) q = i + l, cq = cw, alpha |= k;
            i += l;
        }
        if (push_puncts(s, a, p, toks, cap, &nt) ||
            push_tok(toks, cap, &nt, p, q - p, (uint32_t)cq, (alpha & C_ALPHA) != 0, 0) ||
            push_puncts(s, q, i, toks, cap, &nt))
            return -1;
    }
    return (long)nt;
}

/* ---------------------------------------------------------------- hash sets */

/* An open-addressing set of 64-bit keys (0 stands for "empty": keys are
 * remapped away from 0), each key followed by `stride - 1` words of value.
 * Sized for `want` keys at most half full; only that much is cleared. */
static int set_reset(HeurScratch *s, size_t want, size_t stride, size_t *mask)
{
    size_t sz = 64;
    while (sz < 2 * want) sz *= 2;
    if (sz * stride > s->set_cap) {
        size_t cap = sz * 2 > 4096 ? sz * 2 : 4096; /* keys and values */
        free(s->set);
        if (!(s->set = malloc(cap * sizeof *s->set))) return s->set_cap = 0, -1;
        s->set_cap = cap;
    }
    memset(s->set, 0, sz * stride * sizeof *s->set);
    *mask = sz - 1;
    return 0;
}

/* Slot of key (inserted when absent, *fresh set to 1): keys[slot * stride]. */
static inline size_t set_slot(uint64_t *keys, size_t stride, size_t mask, uint64_t key, int *fresh)
{
    key |= 1; /* never 0; halves the space, still 63 bits */
    size_t i = (size_t)(key >> 7) & mask;
    for (;;) {
        uint64_t k = keys[i * stride];
        if (k == key) { *fresh = 0; return i; }
        if (!k) { keys[i * stride] = key; *fresh = 1; return i; }
        i = (i + 1) & mask;
    }
}

/* datatrove's find_duplicates over segments: how many repeat an earlier one and
 * their characters. Segments are given by a splitter callback over [a, b). */
typedef size_t (*SplitFn)(const unsigned char *s, size_t n, size_t i, size_t *end, int *last);

/* re.split(r"\n{2,}", x): segment ends at a run of >= 2 newlines. */
static size_t split_paras(const unsigned char *s, size_t n, size_t i, size_t *end, int *last)
{
    const unsigned char *p;
    for (size_t j = i; j + 1 < n && (p = memchr(s + j, '\n', n - j - 1)); j++) {
        j = (size_t)(p - s);
        if (s[j + 1] != '\n') continue;
        *end = j;
        while (j < n && s[j] == '\n') j++;
        *last = 0;
        return j;
    }
    *end = n, *last = 1;
    return n;
}

/* re.split("\n+", x) */
static size_t split_nl(const unsigned char *s, size_t n, size_t i, size_t *end, int *last)
{
    const unsigned char *p = memchr(s + i, '\n', n - i);
    if (!p) { *end = n, *last = 1; return n; }
    size_t j = (size_t)(p - s);
    *end = j;
    while (j < n && s[j] == '\n') j++;
    *last = 0;
    return j;
}

/* x.split("\n") */
static size_t split_1nl(const unsigned char *s, size_t n, size_t i, size_t *end, int *last)
{
    const unsigned char *p = memchr(s + i, '\n', n - i);
    if (!p) { *end = n, *last = 1; return n; }
    *end = (size_t)(p - s), *last = 0;
    return *end + 1;
}

/* Duplicate count and characters; skip_blank drops segments that strip() to
 * nothing (FineWeb). *n_seg gets the number of segments counted. */
static int find_duplicates(HeurScratch *sc, const unsigned char *s, size_t n, SplitFn split, int skip_blank,
                           size_t *n_seg, size_t *dup, size_t *dup_chars)
{
    size_t mask;
    if (set_reset(sc, count_byte(s, n, '\n') + 1, 1, &mask)) return -1;
    *n_seg = *dup = *dup_chars = 0;
    size_t i = 0;
    int last = 0;
    while (!last) {
        size_t end, a, b;
        size_t next = split(s, n, i, &end, &last);
        a = i, b = end;
        i = next;
        if (skip_blank) {
            size_t x = a, y = b;
            strip(s, &x, &y);
            if (x == y) continue;
        }
        ++*n_seg;
        int fresh;
        set_slot(sc->set, 1, mask, hash64(s + a, b - a, 0x5e9), &fresh);
        if (!fresh) ++*dup, *dup_chars += count_chars(s + a, b - a);
    }
    return 0;
}

/* ---------------------------------------------------------------- Gopher */

/* Polynomial hashes mod 2^64: POLY_B over the bytes of joined words (odd, so
 * invertible), POLY_T over per-word hashes. */
#define POLY_B 0x100000001b3ull
#define POLY_T 0x9e3779b97f4a7c15ull

static int want(const HeurConf *c, int from, int to)
{
    for (int r = from; r <= to; r++)
        if (c->on[r]) return 1;
    return 0;
}

int heur_fails(const HeurConf *c, int r, double x)
{
    if (heur_rules[r].is_flag || heur_rules[r].kind == KIND_LINE) return x > 0;
    return heur_rules[r].below ? x < c->v[r] : x > c->v[r];
}

/* One document's judgement. In the normal pass (val NULL) a rule is computed
 * only when it is on, and the first one that fails ends the document. When
 * measuring (`filter stats`), every rule is computed and kept in val, and the
 * first failure is only remembered, so the verdict is the normal pass's. */
typedef struct Judge {
    const HeurConf *c;
    double *val;  /* NULL: the normal pass */
    int verdict;  /* measuring: the first rule that failed, or -1 */
    double value; /* the failing rule's value */
} Judge;

/* Rule r measured x. 1: the normal pass must return r now. */
static inline int test(Judge *j, int r, double x)
{
    int fails = j->c->on[r] && heur_fails(j->c, r, x);
    if (j->val) {
        j->val[r] = x;
        if (fails && j->verdict < 0) j->verdict = r, j->value = x;
        return 0;
    }
    if (fails) j->value = x;
    return fails;
}

/* Rule r, with value x computed only when the rule is on or measured. */
#define RULE(j, r, x)                                                                 \
    do {                                                                              \
        if (((j)->val || (j)->c->on[r]) && test((j), (r), (double)(x))) return (r); \
    } while (0)

/* A verdict that is not a rule's (N_RULES: emptied), measuring or not. */
static inline int verdict(Judge *j, int r)
{
    if (!j->val) return r;
    if (j->verdict < 0) j->verdict = r, j->value = NAN;
    return -1;
}

static int grow_rep(HeurScratch *s, size_t want_n);

static inline uint64_t mix_key(uint64_t h)
{
    h *= 0xff51afd7ed558ccdull;
    return h ^ (h >> 33);
}

/* Top n-gram (" ".join of n words): characters of the most frequent one times
 * its count; ties go to the one seen first, as Counter.most_common does.
 * Each slot is the key then count << 32 | first index, side by side, so a
 * lookup touches one cache line.
 *
 * n == 2 counts at every position, and leaves in rep[i] whether the 2-gram at
 * i occurs more than once. An n-gram that occurs more than once has all its
 * n - 1 2-grams repeated, so n = 3, 4 count only the positions where they are;
 * every occurrence of a repeated n-gram is among them, so the counts of those
 * are exact, and when none repeats the answer is the first n-gram, count 1.
 * n == 2 also puts in *bound3 and *bound4 upper bounds of the top 3- and
 * 4-gram characters: a 3-gram seen c times has a 2-gram prefix p seen >= c
 * times and is at most len(p) + 1 + longest word long. Both are used to skip
 * work that cannot change the result (bench/filter: heuristics MB/s). */
static ALWAYS_INLINE int top_ngram(HeurScratch *sc, size_t nw, const uint64_t *tp, const uint64_t *cpre, int n,
                                   size_t *chars, uint64_t max_word, uint64_t *bound3, uint64_t *bound4)
{
    size_t mask;
    *chars = 0;
    if (nw < (size_t)n) return 0;
    if (n == 2 && grow_rep(sc, nw)) return -1;
    uint32_t *slot_at = sc->rep; /* n == 2: the slot of the 2-gram at each position */
    uint8_t *rep = (uint8_t *)sc->rep;
    size_t n_pos = 0; /* n > 2: positions to count */
    if (n > 2) {
        for (size_t i = 0; i + n <= nw; i++) {
            int all = 1;
            for (int j = 0; j < n - 1; j++) all &= rep[i + j];
            n_pos += all;
        }
    }
    if (set_reset(sc, n == 2 ? nw : n_pos, 2, &mask)) return -1;
    uint64_t *slots = sc->set;
    uint64_t best_count = 1, best_first = 0, bn = 1, b3 = 0, b4 = 0;
    for (int j = 0; j < n; j++) bn *= POLY_T;
    for (size_t i = 0; i + n <= nw; i++) {
        if (n > 2) {
            int all = 1;
            for (int j = 0; j < n - 1; j++) all &= rep[i + j];
            if (!all) continue;
        }
        int fresh;
        uint64_t h = mix_key(tp[i + n] - tp[i] * bn); /* the n word hashes, as a polynomial */
        size_t k = set_slot(slots, 2, mask, h, &fresh);
        uint64_t *v = slots + 2 * k + 1;
        if (n == 2) slot_at[i] = (uint32_t)k;
        uint64_t cnt = 1;
        if (fresh) {
            *v = ((uint64_t)1 << 32) | i;
        } else {
            *v += (uint64_t)1 << 32;
            cnt = *v >> 32;
            uint64_t first = *v & 0xffffffffu;
            if (cnt > best_count || (cnt == best_count && first < best_first)) best_count = cnt, best_first = first;
        }
        if (n == 2) { /* the bounds; every occurrence has the same length */
            uint64_t l2 = cpre[i + 2] - cpre[i] + 1;
            if (cnt * (l2 + 1 + max_word) > b3) b3 = cnt * (l2 + 1 + max_word);
            if (cnt * (l2 + 2 + 2 * max_word) > b4) b4 = cnt * (l2 + 2 + 2 * max_word);
        }
    }
    uint64_t len = cpre[best_first + n] - cpre[best_first] + (uint64_t)(n - 1);
    *chars = (size_t)(len * best_count);
    if (n == 2) {
        *bound3 = b3, *bound4 = b4;
        /* slot indices -> repeated flags, in place: byte i is written after
         * the 4 bytes of slot_at[i / 4] were read, and i / 4 <= i */
        for (size_t i = 0; i + 2 <= nw; i++) rep[i] = (slots[2 * slot_at[i] + 1] >> 32) > 1;
        rep[nw - 1] = 0;
    }
    return 0;
}

/* Hash of the joined bytes of words i..j, position-free:
 * P[j] - P[i] * B^(bytes in between), where B^bytes = pw[j] * ipw[i]. */
static inline uint64_t joined_key(const uint64_t *ph, const uint64_t *pw, const uint64_t *ipw, const uint64_t *cpre,
                                  size_t i, size_t j)
{
    uint64_t h = ph[j] - ph[i] * (pw[j] * ipw[i]);
    h ^= (cpre[j] - cpre[i]) * 0x9e3779b97f4a7c15ull;
    return mix_key(h);
}

/* Duplicated n-grams ("".join of n words, compared as strings through a
 * polynomial hash of the joined bytes), datatrove's find_all_duplicate: a
 * repeat counts its characters and jumps past itself. */
static ALWAYS_INLINE int dup_ngram(HeurScratch *sc, size_t nw, const uint64_t *ph, const uint64_t *pw,
                                   const uint64_t *ipw, const uint64_t *cpre, int n, size_t *chars)
{
    size_t mask;
    *chars = 0;
    if (nw < (size_t)n) return 0;
    if (set_reset(sc, nw, 1, &mask)) return -1;
    size_t idx = 0;
    while (idx + n <= nw) {
        int fresh;
        set_slot(sc->set, 1, mask, joined_key(ph, pw, ipw, cpre, idx, idx + n), &fresh);
        if (!fresh) {
            *chars += (size_t)(cpre[idx + n] - cpre[idx]);
            idx += (size_t)n;
        } else {
            idx++;
        }
    }
    return 0;
}

static int grow_rep(HeurScratch *s, size_t want_n)
{
    if (want_n <= s->rep_cap) return 0;
    size_t c = s->rep_cap ? s->rep_cap : 4096;
    while (c < want_n) c *= 2;
    free(s->rep);
    if (!(s->rep = malloc(c * sizeof *s->rep))) return s->rep_cap = 0, -1;
    s->rep_cap = c;
    return 0;
}

static int grow_pre(HeurScratch *s, size_t want_n)
{
    if (want_n <= s->pre_cap) return 0;
    size_t c = s->pre_cap ? s->pre_cap : 4096;
    while (c < want_n) c *= 2;
    free(s->pre);
    if (!(s->pre = malloc(c * sizeof *s->pre))) return s->pre_cap = 0, -1;
    s->pre_cap = c;
    return 0;
}

static uint64_t inverse_odd(uint64_t a)
{
    uint64_t x = a; /* Newton: each step doubles the correct low bits */
    for (int i = 0; i < 6; i++) x *= 2 - a * x;
    return x;
}

static uint64_t pow_u64(uint64_t b, size_t e)
{
    uint64_t r = 1;
    for (; e; e >>= 1, b *= b)
        if (e & 1) r *= b;
    return r;
}

/* B^len and B^-len for short words from a table; the same values the
 * byte-by-byte products gave. */
static void pow_tables(HeurScratch *sc)
{
    const uint64_t inv_b = inverse_odd(POLY_B);
    sc->bpow[0] = sc->ibpow[0] = 1;
    for (size_t k = 1; k < HEUR_POW_TAB; k++) sc->bpow[k] = sc->bpow[k - 1] * POLY_B, sc->ibpow[k] = sc->ibpow[k - 1] * inv_b;
    sc->pow_ready = 1;
}

/* sum(w[k] B^(len-1-k)), the polynomial hash of the bytes w[0..len). Up to 8
 * bytes with 8 readable (can_load8), it is B^-(8-len) sum(w[k] B^(7-k)) over
 * the 8 bytes with those past len zeroed: eight independent products, where the
 * byte loop chained one multiplication per byte and mispredicted its end
 * (bench/filter: heuristics MB/s). Same value either way. */
static inline uint64_t poly_bytes(const HeurScratch *sc, const unsigned char *w, size_t len, int can_load8)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (len <= 8 && can_load8) {
        const uint64_t *p = sc->bpow, x = load8(w) & (~0ull >> (64 - 8 * len)); /* len >= 1 */
        uint64_t h = (x & 0xff) * p[7] + ((x >> 8) & 0xff) * p[6] + ((x >> 16) & 0xff) * p[5] +
                     ((x >> 24) & 0xff) * p[4] + ((x >> 32) & 0xff) * p[3] + ((x >> 40) & 0xff) * p[2] +
                     ((x >> 48) & 0xff) * p[1] + (x >> 56);
        return h * sc->ibpow[8 - len];
    }
#else
    (void)can_load8;
#endif
    uint64_t h = 0;
    for (size_t k = 0; k < len; k++) h = h * POLY_B + w[k];
    return h;
}

typedef struct LongDoc LongDoc;
static int long_duplicates(LongDoc *ld, const unsigned char *s, size_t n, SplitFn split, int skip_blank,
                           size_t *n_seg, size_t *dup, size_t *dup_chars);

/* Gopher's repeated paragraphs and lines, the fractions of segments and of
 * characters; with ld, through a long text's finder (long_duplicates,
 * defined below). -1 when no rule drops, else as RULE returns. */
static int dup_segment_rules(Judge *j, HeurScratch *sc, LongDoc *ld, const unsigned char *s, size_t n,
                             size_t len_text)
{
    const HeurConf *c = j->c;
    const int all = j->val != NULL;
    size_t seg, dup, dup_chars;
    if (all || c->on[R_DUP_PARA_FRAC] || c->on[R_DUP_PARA_CHAR_FRAC]) {
        size_t a = 0, b = n;
        strip(s, &a, &b);
        if (ld ? long_duplicates(ld, s + a, b - a, split_paras, 0, &seg, &dup, &dup_chars)
               : find_duplicates(sc, s + a, b - a, split_paras, 0, &seg, &dup, &dup_chars))
            return -2;
        RULE(j, R_DUP_PARA_FRAC, (double)dup / seg);
        RULE(j, R_DUP_PARA_CHAR_FRAC, (double)dup_chars / len_text);
    }
    if (all || c->on[R_DUP_LINE_FRAC] || c->on[R_DUP_LINE_CHAR_FRAC]) {
        if (ld ? long_duplicates(ld, s, n, split_nl, 0, &seg, &dup, &dup_chars)
               : find_duplicates(sc, s, n, split_nl, 0, &seg, &dup, &dup_chars))
            return -2;
        RULE(j, R_DUP_LINE_FRAC, (double)dup / seg);
        RULE(j, R_DUP_LINE_CHAR_FRAC, (double)dup_chars / len_text);
    }
    return -1;
}

/* Whether the top g-gram rule (g = 2, 3, 4) needs no count, when not
 * measuring: it is off (and g = 2 is not needed for 3 and 4's bounds), or the
 * bound b3 or b4 the 2-gram count left already keeps it under its limit. */
static int top_gram_settled(const HeurConf *c, int g, uint64_t b3, uint64_t b4, size_t len_text)
{
    int r = R_TOP_2_GRAM + g - 2;
    if (!c->on[r] && !(g == 2 && (c->on[R_TOP_3_GRAM] || c->on[R_TOP_4_GRAM]))) return 1;
    return (g == 3 && (double)b3 / len_text <= c->v[r]) || (g == 4 && (double)b4 / len_text <= c->v[r]);
}

static ALWAYS_INLINE int repetition(Judge *j, HeurScratch *sc, const unsigned char *s, size_t n, const HeurTok *t,
                                    size_t nw)
{
    const HeurConf *c = j->c;
    const int all = j->val != NULL; /* measuring: every rule, no shortcut */
    size_t len_text = count_chars(s, n);
    if (len_text == 0) return -1;
    int dr = dup_segment_rules(j, sc, NULL, s, n, len_text);
    if (dr != -1) return dr;
    if (!all && !want(c, R_TOP_2_GRAM, R_DUP_10_GRAM)) return -1;
    /* per word: prefix sums of characters, of the per-word hashes (as a
     * polynomial), of the joined-bytes polynomial hash, and of B^len and B^-len */
    if (grow_pre(sc, 5 * (nw + 1))) return -2;
    if (!sc->pow_ready) pow_tables(sc);
    uint64_t *tp = sc->pre, *cpre = tp + nw + 1, *ph = cpre + nw + 1, *pw = ph + nw + 1, *ipw = pw + nw + 1;
    const uint64_t inv_b = sc->ibpow[1];
    uint64_t max_word = 0;
    tp[0] = 0, cpre[0] = 0, ph[0] = 0, pw[0] = 1, ipw[0] = 1;
    for (size_t i = 0; i < nw; i++) {
        const unsigned char *w = s + t[i].off;
        size_t len = t[i].len;
        uint64_t raw = poly_bytes(sc, w, len, t[i].off + 8 <= n), bl, ibl;
        if (len < HEUR_POW_TAB) bl = sc->bpow[len], ibl = sc->ibpow[len];
        else bl = pow_u64(POLY_B, len), ibl = pow_u64(inv_b, len);
        uint64_t wh = (len * bl + raw) * 0xc4ceb9fe1a85ec53ull; /* the word's own hash, mixed */
        tp[i + 1] = tp[i] * POLY_T + (wh ^ (wh >> 29));
        ph[i + 1] = ph[i] * bl + raw, pw[i + 1] = pw[i] * bl, ipw[i + 1] = ipw[i] * ibl;
        cpre[i + 1] = cpre[i] + t[i].n_chars;
        if (t[i].n_chars > max_word) max_word = t[i].n_chars;
    }
    uint64_t b3 = UINT64_MAX, b4 = UINT64_MAX;
    for (int g = 2; g <= 4; g++) {
        int r = R_TOP_2_GRAM + g - 2;
        if (!all && top_gram_settled(c, g, b3, b4, len_text)) continue;
        size_t chars;
        if (top_ngram(sc, nw, tp, cpre, g, &chars, max_word, &b3, &b4)) return -2;
        RULE(j, r, (double)chars / len_text);
    }
    if (!all && !want(c, R_DUP_5_GRAM, R_DUP_10_GRAM)) return -1;
    /* No shortcut here: the n-grams are compared joined without spaces (as
     * datatrove does), so a repeated 6-gram need not start with a repeated
     * 5-gram ("abc d e f g h" ... "a b cd e f gh"), and a bound built on word
     * tuples could skip a rule that trips. */
    for (int g = 5; g <= 10; g++) {
        int r = R_DUP_5_GRAM + g - 5;
        if (!all && !c->on[r]) continue;
        size_t chars;
        if (dup_ngram(sc, nw, ph, pw, ipw, cpre, g, &chars)) return -2;
        RULE(j, r, (double)chars / len_text);
    }
    return -1;
}

static int is_stop_word(const unsigned char *w, size_t n)
{
    switch (n) {
    case 2: return !memcmp(w, "be", 2) || !memcmp(w, "to", 2) || !memcmp(w, "of", 2);
    case 3: return !memcmp(w, "the", 3) || !memcmp(w, "and", 3);
    case 4: return !memcmp(w, "that", 4) || !memcmp(w, "have", 4) || !memcmp(w, "with", 4);
    default: return 0;
    }
}

/* text.count("...") + text.count("\u2026") in one pass (the two never
 * overlap: U+2026 is E2 80 A6), skipping blocks of 8 bytes with no '.' and no
 * E2 byte. */
static size_t count_ellipses(const unsigned char *s, size_t n)
{
    size_t cnt = 0, i = 0;
    while (i < n) {
        if (i + 8 <= n) {
            uint64_t w = load8(s + i);
            if (!(zero_bytes(w ^ ('.' * ONES)) | zero_bytes(w ^ (0xe2 * ONES)))) { i += 8; continue; }
        }
        if (s[i] == '.' && i + 3 <= n && s[i + 1] == '.' && s[i + 2] == '.') cnt++, i += 3;
        else if (s[i] == 0xe2 && i + 3 <= n && s[i + 1] == 0x80 && s[i + 2] == 0xa6) cnt++, i += 3;
        else i++;
    }
    return cnt;
}

/* What the Gopher quality rules count over the tokens: nw tokens, n_words of
 * them words (not only punctuation) with chars characters, n_alpha with a
 * letter, n_stop stop words (counted only until there are enough, unless
 * measuring: the count matters only against the threshold; when the rule
 * fails, every word was looked at and the count is whole). */
typedef struct WordStats {
    size_t nw, n_words, chars, n_alpha, n_stop;
} WordStats;

static ALWAYS_INLINE void word_stats(const Judge *j, const unsigned char *s, const HeurTok *t, size_t nw,
                                     WordStats *ws)
{
    const HeurConf *c = j->c;
    const int all = j->val != NULL;
    size_t n_words = 0, chars = 0, n_alpha = 0, n_stop = 0;
    for (size_t i = 0; i < nw; i++) {
        n_words += !t[i].symbol_only;
        chars += t[i].symbol_only ? 0 : t[i].n_chars;
        n_alpha += t[i].alpha;
    }
    /* English text has two stop words in its first few words */
    for (size_t i = 0; i < nw && (all || (c->on[R_GOPHER_STOP_WORDS] && n_stop < c->v[R_GOPHER_STOP_WORDS])); i++)
        n_stop += is_stop_word(s + t[i].off, t[i].len);
    *ws = (WordStats){nw, n_words, chars, n_alpha, n_stop};
}

static ALWAYS_INLINE int quality(Judge *j, const unsigned char *s, size_t n, const WordStats *ws)
{
    const HeurConf *c = j->c;
    const int all = j->val != NULL;
    const size_t nw = ws->nw, n_words = ws->n_words, chars = ws->chars, n_alpha = ws->n_alpha,
                 n_stop = ws->n_stop;
    RULE(j, R_GOPHER_MIN_WORDS, n_words);
    RULE(j, R_GOPHER_MAX_WORDS, n_words);
    if (n_words) { /* numpy's mean of nothing is NaN, which fails no comparison */
        double mean = (double)chars / n_words;
        RULE(j, R_GOPHER_MIN_MEAN_WORD, mean);
        RULE(j, R_GOPHER_MAX_MEAN_WORD, mean);
    }
    if (nw) {
        RULE(j, R_GOPHER_HASH_RATIO, (double)count_byte(s, n, '#') / nw);
        RULE(j, R_GOPHER_ELLIPSIS_RATIO, (double)count_ellipses(s, n) / nw);
    }
    if (all || c->on[R_GOPHER_BULLET_LINES] || c->on[R_GOPHER_ELLIPSIS_LINES]) {
        size_t lines = 0, bullets = 0, ell = 0, i = 0;
        while (i < n) {
            size_t end, next = next_line(s, n, i, &end), a = i, b = end;
            strip(s, &a, &b);
            bullets += a < b && (s[a] == '-' || (b - a >= 3 && !memcmp(s + a, "\xe2\x80\xa2", 3)));
            ell += ends_with(s, a, b, "...") || ends_with(s, a, b, "\xe2\x80\xa6");
            lines++;
            i = next;
        }
        if (lines) {
            RULE(j, R_GOPHER_BULLET_LINES, (double)bullets / lines);
            RULE(j, R_GOPHER_ELLIPSIS_LINES, (double)ell / lines);
        }
    }
    if (nw) RULE(j, R_GOPHER_ALPHA_WORDS, (double)n_alpha / nw);
    RULE(j, R_GOPHER_STOP_WORDS, n_stop);
    return -1;
}

/* ---------------------------------------------------------------- long documents */

/* A text of more than HEUR_LONG_BYTES (one JSON line of 60 MB) takes another
 * road to the same values. The road above keeps 24 bytes a token, 40 more of
 * prefix sums and hash tables of 16 to 64 bytes an n-gram: about 25 times the
 * text, in tables so big that every probe misses the cache. Here:
 * - heur_words runs on slices of the text cut at ASCII white space (a token
 *   never spans white space), so its tokens are those of the whole text;
 * - a token is kept as about one byte (the gap before it and its length); a
 *   pass reads the tokens' bytes again and computes the hashes and prefix
 *   sums of repetition(), in a ring of the last 16;
 * - which lines, paragraphs and n-grams occur more than once is found from a
 *   32-bit fingerprint of each key (4 bytes a position: repeats.h); only keys
 *   whose fingerprint repeats go into exact tables of 64-bit keys, so these
 *   hold the repeats, not the text;
 * - a pass reads the tokens once to fingerprint its keys and once to count;
 *   the second read fingerprints the next pass's keys as well.
 * Every value is the other road's, bit for bit: keys are those of
 * repetition(), equal as set_slot compares them (key | 1), and a fingerprint
 * is taken from the key (tests/filter/test_heur.c judges the bundled corpus
 * both ways). Memory and speed: bench/filter/long.sh. A text with no white
 * space at all is one slice, and a text that repeats itself much fills the
 * exact tables: those two can take more. */

#define LONG_SLICE ((size_t)1 << 16)
#define LONG_CAP ((size_t)1 << 16) /* n-grams long_top_ngram counts exactly at once */
#define LONG_POW 1024              /* POLY_B^d from a table below this */

static int is_long(const HeurScratch *sc, size_t n)
{
    return n > (sc->long_bytes ? sc->long_bytes : HEUR_LONG_BYTES);
}

typedef struct LongDoc {
    uint8_t *rec;     /* per token: (gap << 6 | len) in a byte, or 0 then two varints */
    size_t rec_len, rec_cap;
    size_t nw;
    Repeats rep;
    uint32_t fp_mask; /* HeurScratch.long_fp_mask, or all bits */
    size_t cap;       /* HeurScratch.long_cap, or LONG_CAP */
    uint64_t bpow[LONG_POW]; /* POLY_B^d */
} LongDoc;

static LongDoc *long_new(const HeurScratch *sc)
{
    LongDoc *ld = calloc(1, sizeof *ld);
    if (!ld) return NULL;
    ld->fp_mask = sc->long_fp_mask ? sc->long_fp_mask : UINT32_MAX;
    ld->cap = sc->long_cap ? sc->long_cap : LONG_CAP;
    return ld;
}

/* The tokens and the fingerprints go once the n-gram passes are done: C4's
 * text comes next. */
static void long_release(LongDoc *ld)
{
    free(ld->rec);
    ld->rec = NULL, ld->rec_len = ld->rec_cap = 0;
    repeats_free(&ld->rep);
}

static void long_free(LongDoc *ld)
{
    if (!ld) return;
    long_release(ld);
    free(ld);
}

static inline uint32_t fp_of(const LongDoc *ld, uint64_t key)
{
    return fpset_fp(ld->fp_mask, key);
}

static inline size_t get_varint(const uint8_t *p, size_t *at)
{
    size_t v = 0;
    for (unsigned sh = 0;; sh += 7) {
        uint8_t b = p[(*at)++];
        v |= (size_t)(b & 127) << sh;
        if (b < 128) return v;
    }
}

static inline void put_varint(uint8_t *p, size_t *at, size_t v)
{
    for (; v >= 128; v >>= 7) p[(*at)++] = (uint8_t)(v | 128);
    p[(*at)++] = (uint8_t)v;
}

/* The first white space byte at or after a + LONG_SLICE (or n): a cut that no
 * token crosses. Only ASCII: a byte < 0x80 never sits inside a character. */
static size_t slice_end(const unsigned char *s, size_t n, size_t a)
{
    if (n - a <= LONG_SLICE) return n;
    size_t b = a + LONG_SLICE;
    while (b < n && (s[b] >= 0x80 || ASCII_CLASS[s[b]] != C_SPACE)) b++;
    return b;
}

/* Tokenize text[0..n) slice by slice: *ws for quality(), and with recs the
 * tokens for the n-gram passes (else only counted). */
static int long_words(HeurScratch *sc, LongDoc *ld, const unsigned char *s, size_t n, int recs, WordStats *ws)
{
    WordStats w = {0};
    size_t end = 0, nt = 0;
    ld->rec_len = 0;
    for (size_t a = 0; a < n;) {
        size_t b = slice_end(s, n, a);
        HeurTok *t = sc->tok;
        long k = heur_words((const char *)s + a, b - a, &t, &sc->tok_cap);
        sc->tok = t;
        if (k < 0) return -1;
        if (recs && ld->rec_cap - ld->rec_len < 21 * (size_t)k) { /* 21: a byte and two varints */
            size_t cap = ld->rec_cap + ld->rec_cap / 2 + 21 * (size_t)k + 4096;
            uint8_t *p = realloc(ld->rec, cap);
            if (!p) return -1;
            ld->rec = p, ld->rec_cap = cap;
            buf_advise_huge(p, cap);
        }
        for (long i = 0; i < k; i++) {
            const HeurTok *x = &t[i];
            size_t off = a + x->off;
            w.n_words += !x->symbol_only;
            w.chars += x->symbol_only ? 0 : x->n_chars;
            w.n_alpha += x->alpha;
            w.n_stop += is_stop_word(s + off, x->len);
            if (!recs) continue;
            size_t gap = off - end;
            if (gap < 4 && x->len < 64) {
                ld->rec[ld->rec_len++] = (uint8_t)(gap << 6 | x->len);
            } else {
                ld->rec[ld->rec_len++] = 0;
                put_varint(ld->rec, &ld->rec_len, gap);
                put_varint(ld->rec, &ld->rec_len, x->len);
            }
            end = off + x->len;
        }
        nt += (size_t)k;
        a = b;
    }
    w.nw = ld->nw = nt;
    *ws = w;
    return 0;
}

/* The tokens again, in order: the prefix values repetition() keeps in arrays,
 * for the last 16 indices (index k at k & 15). Where repetition() keeps B^len
 * and B^-len multiplied over the words (pw, ipw), the ring keeps the bytes
 * (cum): B^(bytes between) is one look-up in LongDoc.bpow, the same number. */
typedef struct TokScan {
    const HeurScratch *sc;
    const LongDoc *ld;
    const unsigned char *s;
    size_t n;
    size_t at, end, k; /* next record; end of the last token; tokens read */
    uint64_t tp[16], cpre[16], ph[16], cum[16];
} TokScan;

static void scan_init(TokScan *ts, const HeurScratch *sc, const LongDoc *ld, const unsigned char *s, size_t n)
{
    memset(ts, 0, sizeof *ts);
    ts->sc = sc, ts->ld = ld, ts->s = s, ts->n = n;
}

/* Code points of a token (what heur_words counted). */
static inline uint64_t tok_chars(const unsigned char *w, size_t len, int can_load8)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (len <= 8 && can_load8) {
        uint64_t x = load8(w) & (~0ull >> (64 - 8 * len));
        if (!(x & HIGHS)) return len;
        return len - count_highs(x & ~(x << 1) & HIGHS);
    }
#else
    (void)can_load8;
#endif
    return count_chars(w, len);
}

/* Read the next token: the prefix values at index k + 1 that the pass needs,
 * as repetition() computes them (tuple: the word hashes of the top n-grams;
 * joined: the joined-bytes hash; characters always). */
static ALWAYS_INLINE void scan_next(TokScan *ts, int tuple, int joined)
{
    const uint8_t *rec = ts->ld->rec;
    unsigned b = rec[ts->at++];
    size_t gap = b >> 6, len = b & 63;
    if (!len) gap = get_varint(rec, &ts->at), len = get_varint(rec, &ts->at);
    size_t off = ts->end + gap;
    ts->end = off + len;
    const unsigned char *w = ts->s + off;
    const int can8 = off + 8 <= ts->n;
    uint64_t raw = poly_bytes(ts->sc, w, len, can8);
    uint64_t bl = len < HEUR_POW_TAB ? ts->sc->bpow[len] : pow_u64(POLY_B, len);
    size_t i = ts->k & 15, o = (ts->k + 1) & 15;
    if (tuple) {
        uint64_t wh = (len * bl + raw) * 0xc4ceb9fe1a85ec53ull;
        ts->tp[o] = ts->tp[i] * POLY_T + (wh ^ (wh >> 29));
    }
    if (joined) ts->ph[o] = ts->ph[i] * bl + raw, ts->cum[o] = ts->cum[i] + len;
    ts->cpre[o] = ts->cpre[i] + tok_chars(w, len, can8);
    ts->k++;
}

/* joined_key() and top_ngram()'s key for words i..i+g, from the ring */
static inline uint64_t scan_joined(const TokScan *ts, size_t i, size_t g)
{
    size_t a = i & 15, b = (i + g) & 15;
    uint64_t d = ts->cum[b] - ts->cum[a];
    uint64_t h = ts->ph[b] - ts->ph[a] * (d < LONG_POW ? ts->ld->bpow[d] : pow_u64(POLY_B, d));
    h ^= (ts->cpre[b] - ts->cpre[a]) * 0x9e3779b97f4a7c15ull;
    return mix_key(h);
}

static inline uint64_t scan_tuple(const TokScan *ts, size_t i, size_t g, uint64_t bn)
{
    return mix_key(ts->tp[(i + g) & 15] - ts->tp[i & 15] * bn);
}

static inline uint64_t scan_chars(const TokScan *ts, size_t i, size_t g)
{
    return ts->cpre[(i + g) & 15] - ts->cpre[i & 15];
}

/* The pass after the one a read of the tokens is for, whose fingerprints (of
 * every window of g tokens) the same read takes; g 0: none. */
typedef struct Next {
    size_t g;
    int tuple;   /* a top n-gram pass, else a duplicated n-gram pass */
    uint64_t bn; /* POLY_T^g */
} Next;

static const Next NO_NEXT = {0, 0, 0};

/* scan_next, and the next pass's fingerprint of the window ending there */
static ALWAYS_INLINE void scan_tok(TokScan *ts, LongDoc *ld, const Next *nx, int tuple)
{
    scan_next(ts, tuple || (nx->g && nx->tuple), !tuple || (nx->g && !nx->tuple));
    if (nx->g && ts->k >= nx->g) {
        size_t p = ts->k - nx->g;
        uint64_t key = nx->tuple ? scan_tuple(ts, p, nx->g, nx->bn) : scan_joined(ts, p, nx->g);
        repeats_add(&ld->rep, fp_of(ld, key));
    }
}

/* Only the fingerprints of pass nx. */
static int long_fill(const HeurScratch *sc, LongDoc *ld, const unsigned char *s, size_t n, const Next *nx)
{
    if (repeats_reset(&ld->rep, ld->nw - nx->g + 1)) return -1;
    TokScan ts;
    scan_init(&ts, sc, ld, s, n);
    while (ts.k < ld->nw) scan_tok(&ts, ld, nx, nx->tuple);
    return 0;
}

/* find_duplicates() for a long text: the segments' fingerprints first, then
 * the exact set holds only segments whose fingerprint repeats. */
static int long_duplicates(LongDoc *ld, const unsigned char *s, size_t n, SplitFn split, int skip_blank,
                           size_t *n_seg, size_t *dup, size_t *dup_chars)
{
    size_t m = 0, n_fps = 0, below, i = 0;
    int last = 0, rc = -1;
    FpSet cand = {0};
    if (repeats_reset(&ld->rep, count_byte(s, n, '\n') + 1)) return -1;
    while (!last) {
        size_t end, next = split(s, n, i, &end, &last), a = i, b = end;
        i = next;
        if (skip_blank) {
            size_t x = a, y = b;
            strip(s, &x, &y);
            if (x == y) continue;
        }
        repeats_add(&ld->rep, fp_of(ld, hash64(s + a, b - a, 0x5e9) | 1));
        m++;
    }
    *n_seg = m, *dup = *dup_chars = 0;
    if (repeats_runs(&ld->rep)) goto done;
    repeats_free_pool(&ld->rep);
    if (fpset_select(&cand, &ld->rep, 2, ld->fp_mask, &n_fps, &below)) goto done;
    repeats_free(&ld->rep);
    for (i = 0, last = !n_fps; !last;) {
        size_t end, next = split(s, n, i, &end, &last), a = i, b = end;
        i = next;
        if (skip_blank) {
            size_t x = a, y = b;
            strip(s, &x, &y);
            if (x == y) continue;
        }
        uint64_t h = hash64(s + a, b - a, 0x5e9) | 1;
        long k = fpset_find(&cand, fp_of(ld, h));
        if (k < 0) continue;
        int seen = fpset_seen(&cand, k, h);
        if (seen < 0) goto done;
        if (seen) ++*dup, *dup_chars += count_chars(s + a, b - a);
    }
    rc = 0;
done:
    fpset_free(&cand);
    return rc;
}

/* dup_ngram() for a long text, whose fingerprints are in ld->rep when
 * `filled`; the same read of the tokens takes those of nx, unless many
 * fingerprints repeat (then the set of them is big, and the next pass's
 * fingerprints are taken after it is freed). A repeat needs a key seen
 * before, so only positions whose fingerprint occurs twice or more look
 * whether theirs was. */
static int long_dup_ngram(const HeurScratch *sc, LongDoc *ld, const unsigned char *s, size_t n, size_t g,
                          int filled, const Next *nx, size_t *chars)
{
    const size_t nw = ld->nw;
    *chars = 0;
    if (nw < g) return 0; /* and nx is none */
    size_t n_fps = 0, below;
    int rc = -1;
    FpSet cand = {0};
    TokScan ts;
    const Next self = {g, 0, 0}, *later = nx;
    if (!filled && long_fill(sc, ld, s, n, &self)) return -1;
    if (repeats_runs(&ld->rep)) goto done;
    if (ld->rep.n_runs > nw / 16) repeats_free_pool(&ld->rep); /* many repeat: the set will be big */
    if (fpset_select(&cand, &ld->rep, 2, ld->fp_mask, &n_fps, &below)) goto done;
    if (!n_fps) { /* nothing repeats: only the next pass's fingerprints */
        rc = nx->g ? long_fill(sc, ld, s, n, nx) : 0;
        goto done;
    }
    if (nx->g && n_fps <= nw / 16) {
        if (repeats_reset(&ld->rep, nw - nx->g + 1)) goto done;
        later = &NO_NEXT;
    } else {
        repeats_free(&ld->rep);
        nx = &NO_NEXT;
    }
    scan_init(&ts, sc, ld, s, n);
    const size_t ng = nx->g; /* a duplicated n-gram pass, or none: in a register */
    assert(!ng || !nx->tuple);
    for (size_t idx = 0; idx + g <= nw;) {
        while (ts.k < idx + g) {
            scan_next(&ts, 0, 1);
            if (ng && ts.k >= ng) repeats_add(&ld->rep, fp_of(ld, scan_joined(&ts, ts.k - ng, ng)));
        }
        uint64_t key = scan_joined(&ts, idx, g);
        long k = fpset_find(&cand, fp_of(ld, key));
        if (k >= 0) {
            int seen = fpset_seen(&cand, k, key);
            if (seen < 0) goto done;
            if (seen) {
                *chars += (size_t)scan_chars(&ts, idx, g);
                idx += g;
                continue;
            }
        }
        idx++;
    }
    while (nx->g && ts.k < nw) scan_tok(&ts, ld, nx, 0);
    fpset_free(&cand);
    rc = later->g ? long_fill(sc, ld, s, n, later) : 0;
done:
    fpset_free(&cand);
    return rc;
}

/* top_ngram() for a long text (fingerprints in ld->rep when `filled`; the
 * first count takes those of nx): the count of the most frequent n-gram (the
 * first seen among equals) times its characters, and for n = 2 bounds of the
 * top 3- and 4-gram characters.
 *
 * (The next pass's fingerprints wait for the count when many fingerprints
 * repeat, as in long_dup_ngram; "many" is more than nw / 8 here, where
 * long_dup_ngram's set holds every one that repeats and this one only those
 * that occur tau times, so that only the runs (8 bytes each) sit beside the
 * pool: the 2-grams of bench/filter/long.sh's line repeat at 0.068 nw, and
 * waiting would read the tokens once more, an eighth of the passes' time.)
 *
 * A key occurs at most as often as its fingerprint, so only keys whose
 * fingerprint occurs tau times or more can occur tau times: those are
 * counted exactly. When the most frequent of them occurs tau times or more,
 * it is the answer; else every key occurs fewer than tau times, and the count
 * goes again with tau lowered to what it found (keys that share a
 * fingerprint make that rare). At most cap keys are counted at once, the
 * first seen: when more share the longest run (a text repeated twice), the
 * first of them that occurs as often as the longest run is the answer, for
 * every other is first seen later; only when none of the first cap does are
 * all counted.
 *
 * The bounds: the top 3-gram at i occurs at most as often as the 2-gram at i,
 * so it is at most the largest count(2-gram at i) * (characters of the 3-gram
 * at i); top_ngram's bound, with the longest word in place of the third, is
 * looser (on a long text, with one long word somewhere, no bound at all).
 * Counts not known are bounded: by `below` for 2-grams whose fingerprint is
 * under tau, by ub for those past cap; where `below` would take the bound
 * past need3 or need4 (what the caller can skip with), by the count of the
 * 2-gram's own fingerprint. */
static int long_top_ngram(const HeurScratch *sc, LongDoc *ld, const unsigned char *s, size_t n, size_t g,
                          int filled, const Next *nx, uint64_t need3, uint64_t need4, size_t *chars,
                          uint64_t *bound3, uint64_t *bound4)
{
    const size_t nw = ld->nw, la = g == 2 ? 2 : 0; /* words looked ahead for the bounds */
    *chars = 0;
    if (nw < g) return 0; /* and nx is none */
    size_t m = nw - g + 1, n_fps, below;
    uint64_t bn = 1, first[5] = {0}; /* characters of the first k-gram */
    int rc = -1;
    FpSet cand = {0};
    KeyTab cnt = {0}; /* key, count << 32 | first position, characters, most characters of its 3- and 4-grams */
    TokScan ts;
    for (size_t k = 0; k < g; k++) bn *= POLY_T;
    const Next self = {g, 1, bn};
    scan_init(&ts, sc, ld, s, n);
    for (size_t k = 2; k <= 4 && k <= nw; k++) {
        while (ts.k < k) scan_next(&ts, 0, 0);
        first[k] = scan_chars(&ts, 0, k) + k - 1;
    }
    if (!filled && long_fill(sc, ld, s, n, &self)) return -1;
    if (repeats_runs(&ld->rep)) return -1;
    const Next *later = &NO_NEXT; /* many repeat: the next pass's fingerprints after the count */
    if (ld->rep.n_runs > nw / 8) repeats_free_pool(&ld->rep), later = nx, nx = &NO_NEXT;
    if (nx->g && repeats_reset(&ld->rep, nw - nx->g + 1)) return -1;
    uint64_t best_count = 1, best_len = first[g], b3 = 0, b4 = 0;
    size_t tau = ld->rep.longest, ub = tau, cap = ld->cap;
    while (tau > 1) {
        if (fpset_select(&cand, &ld->rep, tau, ld->fp_mask, &n_fps, &below) || keytab_init(&cnt, 5)) goto done;
        uint64_t l3_below = 0, l4_below = 0, l3_over = 0, l4_over = 0, b3_own = 0, b4_own = 0;
        int over = 0;
        scan_init(&ts, sc, ld, s, n);
        for (size_t i = 0; i < m; i++) {
            while (ts.k < i + g + la && ts.k < nw) scan_tok(&ts, ld, nx, 1);
            uint64_t key = scan_tuple(&ts, i, g, bn), l = scan_chars(&ts, i, g) + g - 1, l3 = 0, l4 = 0;
            if (la) {
                if (i + 3 <= nw) l3 = scan_chars(&ts, i, 3) + 2;
                if (i + 4 <= nw) l4 = scan_chars(&ts, i, 4) + 3;
            }
            uint32_t fp = fp_of(ld, key);
            if (fpset_find(&cand, fp) < 0) {
                if (below * l3 > need3 || below * l4 > need4) { /* rare: look closer */
                    uint64_t c = repeats_count(&ld->rep, fp);
                    b3_own = c * l3 > b3_own ? c * l3 : b3_own, b4_own = c * l4 > b4_own ? c * l4 : b4_own;
                } else {
                    l3_below = l3 > l3_below ? l3 : l3_below, l4_below = l4 > l4_below ? l4 : l4_below;
                }
                continue;
            }
            long k;
            int fresh = 0;
            if (cnt.count < cap) {
                if ((k = keytab_slot(&cnt, key, &fresh)) < 0) goto done;
            } else if ((k = keytab_find(&cnt, key)) < 0) { /* past cap: counted only when already in */
                over = 1;
                l3_over = l3 > l3_over ? l3 : l3_over, l4_over = l4 > l4_over ? l4 : l4_over;
                continue;
            }
            uint64_t *v = cnt.slot + 5 * (size_t)k + 1;
            if (fresh) v[0] = ((uint64_t)1 << 32) | i, v[1] = l, v[2] = l3, v[3] = l4;
            else v[0] += (uint64_t)1 << 32, v[2] = l3 > v[2] ? l3 : v[2], v[3] = l4 > v[3] ? l4 : v[3];
        }
        while (nx->g && ts.k < nw) scan_tok(&ts, ld, nx, 1);
        nx = &NO_NEXT; /* its fingerprints are in */
        uint64_t c_max = 0, c_first = 0, c_len = 0;
        b3 = below * l3_below, b4 = below * l4_below;
        b3 = b3_own > b3 ? b3_own : b3, b4 = b4_own > b4 ? b4_own : b4;
        if (over && ub * l3_over > b3) b3 = ub * l3_over;
        if (over && ub * l4_over > b4) b4 = ub * l4_over;
        for (size_t k = 0; k <= cnt.mask; k++) {
            const uint64_t *v = cnt.slot + 5 * k;
            if (!v[0]) continue;
            uint64_t c = v[1] >> 32, f = v[1] & 0xffffffffu;
            if (c > c_max || (c == c_max && f < c_first)) c_max = c, c_first = f, c_len = v[2];
            if (c * v[3] > b3) b3 = c * v[3];
            if (c * v[4] > b4) b4 = c * v[4];
        }
        fpset_free(&cand);
        keytab_free(&cnt);
        if (c_max == ub || (!over && c_max >= tau)) { /* no key outside can beat or tie it */
            best_count = c_max, best_len = c_len;
            break;
        }
        if (over) { /* none of the first cap is a most frequent one: count them all */
            cap = SIZE_MAX;
            continue;
        }
        ub = tau - 1; /* every key occurs fewer than tau times */
        tau = c_max >= 2 ? c_max : tau > 2 ? 2 : 1;
    }
    if (nx->g && long_fill(sc, ld, s, n, nx)) goto done; /* no 2-gram occurs twice: nothing was counted */
    if (later->g && long_fill(sc, ld, s, n, later)) goto done;
    if (best_count == 1) b3 = first[3], b4 = first[4]; /* every 2-gram once: so every 3- and 4-gram */
    *chars = (size_t)(best_len * best_count);
    if (g == 2) *bound3 = b3, *bound4 = b4;
    rc = 0;
done:
    fpset_free(&cand);
    keytab_free(&cnt);
    return rc;
}

/* The n-gram pass that runs after the one for g (2..10) on nw tokens: top
 * n-grams up to 4, then duplicated ones (none longer than the text).
 * Measuring, every one; else those on, guessing that the bounds skip the top
 * 3- and 4-grams (when they do not, the fingerprints are taken again). */
static Next next_pass(const HeurConf *c, int all, size_t g, size_t nw)
{
    for (size_t h = g + 1; h <= 10 && h <= nw; h++) {
        if (h <= 4 && !all) continue;
        if (all || c->on[R_DUP_5_GRAM + h - 5]) {
            Next nx = {h, h <= 4, 1};
            for (size_t k = 0; k < h; k++) nx.bn *= POLY_T;
            return nx;
        }
    }
    return NO_NEXT;
}

/* The most characters b with (double)b / len_text <= v: a bound up to it
 * skips the rule. */
static uint64_t skip_limit(double v, size_t len_text)
{
    if (!(v >= 0)) return 0;
    if (v * (double)len_text >= 0x1p63) return UINT64_MAX;
    uint64_t b = (uint64_t)(v * (double)len_text);
    while (b && (double)b / (double)len_text > v) b--;
    while ((double)(b + 1) / (double)len_text <= v) b++;
    return b;
}

/* repetition() for a long text, rule by rule in the same order. */
static int long_repetition(Judge *j, HeurScratch *sc, LongDoc *ld, const unsigned char *s, size_t n)
{
    const HeurConf *c = j->c;
    const int all = j->val != NULL;
    size_t len_text = count_chars(s, n);
    if (len_text == 0) return -1;
    int dr = dup_segment_rules(j, NULL, ld, s, n, len_text);
    if (dr != -1) return dr;
    if (!all && !want(c, R_TOP_2_GRAM, R_DUP_10_GRAM)) return -1;
    if (!sc->pow_ready) pow_tables(sc);
    ld->bpow[0] = 1;
    for (size_t d = 1; d < LONG_POW; d++) ld->bpow[d] = ld->bpow[d - 1] * POLY_B;
    Next in = NO_NEXT; /* whose fingerprints ld->rep holds */
    uint64_t b3 = UINT64_MAX, b4 = UINT64_MAX;
    for (int g = 2; g <= 4; g++) {
        int r = R_TOP_2_GRAM + g - 2;
        if (!all && top_gram_settled(c, g, b3, b4, len_text)) continue;
        size_t chars;
        Next nx = next_pass(c, all, (size_t)g, ld->nw);
        uint64_t need3 = all || !c->on[R_TOP_3_GRAM] ? UINT64_MAX : skip_limit(c->v[R_TOP_3_GRAM], len_text),
                 need4 = all || !c->on[R_TOP_4_GRAM] ? UINT64_MAX : skip_limit(c->v[R_TOP_4_GRAM], len_text);
        if (long_top_ngram(sc, ld, s, n, (size_t)g, in.g == (size_t)g, &nx, need3, need4, &chars, &b3, &b4))
            return -2;
        in = nx;
        RULE(j, r, (double)chars / len_text);
    }
    for (int g = 5; g <= 10; g++) {
        int r = R_DUP_5_GRAM + g - 5;
        if (!all && !c->on[r]) continue;
        size_t chars;
        Next nx = next_pass(c, all, (size_t)g, ld->nw);
        if (long_dup_ngram(sc, ld, s, n, (size_t)g, in.g == (size_t)g, &nx, &chars)) return -2;
        in = nx;
        RULE(j, r, (double)chars / len_text);
    }
    return -1;
}

/* ---------------------------------------------------------------- C4 */

static int has_ci(const unsigned char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++) {
        size_t j = 0;
        while (j < k && (s[i + j] | (s[i + j] >= 'A' && s[i + j] <= 'Z' ? 32 : 0)) == (unsigned char)needle[j]) j++;
        if (j == k) return 1;
    }
    return 0;
}

/* Append line s[a..b) to out without "[digits]", "[edit]", "[citation needed]". */
static int cut_citations(Buf *out, const unsigned char *s, size_t a, size_t b)
{
    size_t from = a;
    for (size_t i = a; i < b; i++) {
        if (s[i] != '[') continue;
        size_t j = i + 1;
        while (j < b && s[j] >= '0' && s[j] <= '9') j++;
        size_t end = 0;
        if (j < b && s[j] == ']') end = j + 1;
        else if (b - i >= 6 && !memcmp(s + i, "[edit]", 6)) end = i + 6;
        else if (b - i >= 17 && !memcmp(s + i, "[citation needed]", 17)) end = i + 17;
        if (!end) continue;
        if (buf_append(out, s + from, i - from)) return -1;
        from = end, i = end - 1;
    }
    return buf_append(out, s + from, b - from);
}

/* Sentences in a kept line: runs of . ? ! followed by white space or the end
 * (at least 1: the line ends in terminal punctuation or the rule is off). */
static size_t sentences(const unsigned char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '.' && s[i] != '?' && s[i] != '!') continue;
        while (i + 1 < n && (s[i + 1] == '.' || s[i + 1] == '?' || s[i + 1] == '!')) i++;
        if (i + 1 == n || ascii_class(s[i + 1]) == C_SPACE) k++;
    }
    return k ? k : 1;
}

static const char *const POLICY[] = {"terms of use", "privacy policy", "cookie policy", "uses cookies",
                                     "use of cookies", "use cookies"};

/* C4's lines, in datatrove's order. Measuring, a line rule that is off
 * counts the lines it would remove (those the rules before it keep) and the
 * line goes on; the doc rules note a hit and the loop goes on to the end. */
static ALWAYS_INLINE int c4(Judge *j, HeurScratch *sc, const unsigned char *s, size_t n, Buf *out,
                            uint64_t *line_drops)
{
    const HeurConf *c = j->c;
    const int all = j->val != NULL;
    /* measuring: lines each C4 line rule removes or would remove, by r - R_C4_LONG_WORD */
    size_t lines[R_C4_MIN_SENTENCES - R_C4_LONG_WORD + 1] = {0};
#define LINES(r) lines[(r) - R_C4_LONG_WORD]
    out->len = 0;
    size_t i = 0, n_sent = 0;
    if (all) j->val[R_C4_LOREM_IPSUM] = j->val[R_C4_CURLY_BRACKET] = 0;
    while (i < n) {
        size_t end, next = next_line(s, n, i, &end), a = i, b = end;
        i = next;
        strip(s, &a, &b);
        size_t n_words = 0, longest = 0, l;
        for (size_t k = a; k < b;) {
            if (class_at(s + k, b - k, &l) & C_SPACE) { k += l; continue; }
            size_t wc = 0;
            while (k < b && !(class_at(s + k, b - k, &l) & C_SPACE)) k += l, wc++;
            n_words++;
            if (wc > longest) longest = wc;
        }
        if ((all || c->on[R_C4_LONG_WORD]) && longest > c->v[R_C4_LONG_WORD]) {
            LINES(R_C4_LONG_WORD)++;
            if (c->on[R_C4_LONG_WORD]) { line_drops[R_C4_LONG_WORD]++; continue; }
        }
        /* the line as the rules after c4_citations see it: copied only when
         * a marker may be cut from it (a long text can be one line) */
        const unsigned char *ln = s + a;
        size_t ll = b - a;
        if ((c->on[R_C4_CITATIONS] || all) && memchr(s + a, '[', b - a)) {
            sc->tmp.len = 0;
            if (cut_citations(&sc->tmp, s, a, b)) return -2;
            LINES(R_C4_CITATIONS) += sc->tmp.len != b - a;
            if (c->on[R_C4_CITATIONS]) ln = (const unsigned char *)sc->tmp.data, ll = sc->tmp.len;
        }
        if ((all || c->on[R_C4_TERMINAL_PUNCT]) &&
            (!(ll && ln[ll - 1] && strchr(".?!\"'", ln[ll - 1])) || ends_with(ln, 0, ll, "..."))) {
            LINES(R_C4_TERMINAL_PUNCT)++;
            if (c->on[R_C4_TERMINAL_PUNCT]) { line_drops[R_C4_TERMINAL_PUNCT]++; continue; }
        }
        if ((all || c->on[R_C4_MIN_LINE_WORDS]) && n_words < c->v[R_C4_MIN_LINE_WORDS]) {
            LINES(R_C4_MIN_LINE_WORDS)++;
            if (c->on[R_C4_MIN_LINE_WORDS]) { line_drops[R_C4_MIN_LINE_WORDS]++; continue; }
        }
        if ((all || c->on[R_C4_LOREM_IPSUM]) && has_ci(ln, ll, "lorem ipsum")) RULE(j, R_C4_LOREM_IPSUM, 1);
        if ((all || c->on[R_C4_JAVASCRIPT]) && has_ci(ln, ll, "javascript")) {
            LINES(R_C4_JAVASCRIPT)++;
            if (c->on[R_C4_JAVASCRIPT]) { line_drops[R_C4_JAVASCRIPT]++; continue; }
        }
        if ((all || c->on[R_C4_CURLY_BRACKET]) && ll && memchr(ln, '{', ll)) RULE(j, R_C4_CURLY_BRACKET, 1);
        if (all || c->on[R_C4_POLICY]) {
            int hit = 0;
            for (size_t p = 0; p < sizeof POLICY / sizeof *POLICY && !hit; p++) hit = has_ci(ln, ll, POLICY[p]);
            if (hit) {
                LINES(R_C4_POLICY)++;
                if (c->on[R_C4_POLICY]) { line_drops[R_C4_POLICY]++; continue; }
            }
        }
        n_sent += sentences(ln, ll);
        if ((out->len && buf_putc(out, '\n')) || buf_append(out, ln, ll)) return -2;
    }
    if (all)
        for (int r = R_C4_LONG_WORD; r <= R_C4_POLICY; r++)
            if (heur_rules[r].kind == KIND_LINE) j->val[r] = (double)LINES(r);
#undef LINES
    RULE(j, R_C4_MIN_SENTENCES, n_sent);
    /* "\n".join(kept).strip(): the kept lines are stripped already, but a line
     * can be empty, so strip the whole again */
    size_t a = 0, b = out->len;
    strip((const unsigned char *)out->data, &a, &b);
    if (a) memmove(out->data, out->data + a, b - a);
    out->len = b - a;
    return -1;
}

/* ---------------------------------------------------------------- FineWeb */

static int fw_terminal(const unsigned char *s, size_t a, size_t b)
{
    static const char *const END[] = {".", "!", "?", "\"", "'", ":", "\xe2\x80\xa6", "\xe2\x80\x9d", "\xe2\x80\x99",
                                      "\xe3\x80\x82", "\xef\xbc\x81", "\xef\xbc\x9f", "\xd8\x9f", "\xe0\xa5\xa4"};
    for (size_t k = 0; k < sizeof END / sizeof *END; k++)
        if (ends_with(s, a, b, END[k])) return 1;
    return 0;
}

static ALWAYS_INLINE int fineweb(Judge *j, HeurScratch *sc, LongDoc *ld, const unsigned char *s, size_t n,
                                  size_t nw)
{
    const HeurConf *c = j->c;
    const int all = j->val != NULL;
    size_t lines = 0, punct = 0, short_l = 0, i = 0;
    int last = 0;
    while (!last) {
        size_t end, next = split_1nl(s, n, i, &end, &last), a = i, b = end, x = a, y = b;
        i = next;
        strip(s, &x, &y);
        if (x == y) continue;
        lines++;
        punct += fw_terminal(s, a, b);
        short_l += count_chars(s + a, b - a) <= 30;
    }
    if (!lines) return want(c, R_FW_LINE_PUNCT, R_FW_LIST_RATIO) ? verdict(j, N_RULES) : -1;
    RULE(j, R_FW_LINE_PUNCT, (double)punct / lines);
    RULE(j, R_FW_SHORT_LINES, (double)short_l / lines);
    if (all || c->on[R_FW_CHAR_DUP]) {
        size_t seg, dup, dup_chars, nl = 0;
        if (is_long(sc, n) ? long_duplicates(ld, s, n, split_1nl, 1, &seg, &dup, &dup_chars)
                           : find_duplicates(sc, s, n, split_1nl, 1, &seg, &dup, &dup_chars))
            return -2;
        for (size_t k = 0; k < n; k++) nl += s[k] == '\n';
        size_t chars = count_chars(s, n) - nl;
        if (chars) RULE(j, R_FW_CHAR_DUP, (double)dup_chars / chars);
    }
    if (nw) {
        size_t nl = 0;
        if (all || c->on[R_FW_LIST_RATIO])
            for (size_t k = 0; k < n; k++) nl += s[k] == '\n';
        RULE(j, R_FW_LIST_RATIO, (double)nl / nw);
    }
    return -1;
}

/* ---------------------------------------------------------------- all */

static ALWAYS_INLINE int judge(const HeurConf *c, HeurScratch *s, const char *text, size_t n, Buf *out,
                                int *changed, uint64_t *line_drops, double *value, double *val)
{
    const unsigned char *u = (const unsigned char *)text;
    Judge j = {c, val, -1, NAN};
    const int all = val != NULL;
    *changed = 0;
    *value = NAN;
    if (all)
        for (int r = 0; r < N_RULES; r++) val[r] = NAN;
    long nw = -1;
    HeurTok *t = NULL;
    LongDoc *ld = NULL; /* a long text: the long-document road */
    WordStats ws = {0};
    int r;
    if (is_long(s, n)) {
        if (!(ld = long_new(s))) return -2;
        if ((all || want(c, R_TOP_2_GRAM, R_GOPHER_STOP_WORDS) || c->on[R_FW_LIST_RATIO])) {
            if (long_words(s, ld, u, n, all || want(c, R_TOP_2_GRAM, R_DUP_10_GRAM), &ws)) goto oom;
            nw = (long)ws.nw;
        }
        if ((all || want(c, R_DUP_PARA_FRAC, R_DUP_10_GRAM)) && (r = long_repetition(&j, s, ld, u, n)) != -1)
            goto done;
        long_release(ld);
        if ((all || want(c, R_GOPHER_MIN_WORDS, R_GOPHER_STOP_WORDS)) && (r = quality(&j, u, n, &ws)) != -1)
            goto done;
    } else {
        if (all || want(c, R_DUP_PARA_FRAC, R_GOPHER_STOP_WORDS) || c->on[R_FW_LIST_RATIO]) {
            t = s->tok;
            nw = heur_words(text, n, &t, &s->tok_cap);
            s->tok = t;
            if (nw < 0) return -2;
        }
        if ((all || want(c, R_DUP_PARA_FRAC, R_DUP_10_GRAM)) && (r = repetition(&j, s, u, n, t, (size_t)nw)) != -1)
            goto done;
        if (all || want(c, R_GOPHER_MIN_WORDS, R_GOPHER_STOP_WORDS)) {
            word_stats(&j, u, t, (size_t)nw, &ws);
            if ((r = quality(&j, u, n, &ws)) != -1) goto done;
        }
    }
    /* measuring with C4 off, its values come from a pass whose text is not used */
    const int c4_on = want(c, R_C4_LONG_WORD, R_C4_MIN_SENTENCES);
    if (all || c4_on) {
        if ((r = c4(&j, s, u, n, out, line_drops)) != -1) goto done;
        if (c4_on && out->len == 0 && (r = verdict(&j, N_RULES)) != -1) goto done;
        if (c4_on && (out->len != n || memcmp(out->data, text, n))) { /* measuring, it may be empty */
            *changed = 1;
            u = (const unsigned char *)(out->data ? out->data : ""), n = out->len;
            if ((all || c->on[R_FW_LIST_RATIO]) && is_long(s, n)) {
                if (long_words(s, ld, u, n, 0, &ws)) goto oom;
                nw = (long)ws.nw;
            } else if (all || c->on[R_FW_LIST_RATIO]) {
                t = s->tok;
                nw = heur_words((const char *)u, n, &t, &s->tok_cap);
                s->tok = t;
                if (nw < 0) goto oom;
            }
        }
    }
    if ((all || want(c, R_FW_LINE_PUNCT, R_FW_LIST_RATIO)) &&
        (r = fineweb(&j, s, ld, u, n, (size_t)(nw < 0 ? 0 : nw))) != -1)
        goto done;
    r = j.verdict;
done:
    if (r >= 0 && r < N_RULES && !heur_rules[r].is_flag) *value = j.value;
    long_free(ld);
    return r;
oom:
    long_free(ld);
    return -2;
}

/* Two copies of the pass (judge and the rules it calls are always inlined):
 * in the normal one val is a visible NULL, so every "measuring?" test folds
 * away and the code is what it was before filter stats. top_ngram and
 * dup_ngram are inlined too, as the compiler used to do by itself: per n,
 * their loops over n words unroll. (bench/filter: heuristics MB/s; callgrind
 * counts 0.4% fewer instructions than before filter stats with the default
 * rules, 0.6% fewer with every set.) */
int heur_judge(const HeurConf *c, HeurScratch *s, const char *text, size_t n, Buf *out, int *changed,
               uint64_t *line_drops, double *value, double *val)
{
    if (val) return judge(c, s, text, n, out, changed, line_drops, value, val);
    return judge(c, s, text, n, out, changed, line_drops, value, NULL);
}

int heur_apply(const HeurConf *c, HeurScratch *s, const char *text, size_t n, Buf *out, int *changed,
               uint64_t *line_drops)
{
    double value;
    return heur_judge(c, s, text, n, out, changed, line_drops, &value, NULL);
}
