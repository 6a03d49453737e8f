/* Text normalisation before hashing: none, NFKC + case folding, or "simple"
 * (also punctuation, symbols, digits and white space folded, as datatrove's
 * simplify_text does). ASCII text skips utf8proc: NFKC leaves it as it is and
 * case folding is tolower there, and most of a web corpus is ASCII (bench/dedup). */
#include "dedup.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "utf8.h"

int norm_parse(const char *s, NormMode *m)
{
    if (!strcmp(s, "simple")) *m = NORM_SIMPLE;
    else if (!strcmp(s, "nfkc-lower")) *m = NORM_NFKC_LOWER;
    else if (!strcmp(s, "none")) *m = NORM_NONE;
    else return -1;
    return 0;
}

const char *norm_name(NormMode m)
{
    return m == NORM_SIMPLE ? "simple" : m == NORM_NFKC_LOWER ? "nfkc-lower" : "none";
}

static int is_ascii(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80) return 0;
    return 1;
}

/* What "simple" makes of a code point: ' ' for white space, punctuation,
 * symbols and control characters, '0' for a decimal digit, 0 to keep it. */
static char fold_class(uint32_t cp)
{
    if (cp < 0x80) {
        if (cp >= '0' && cp <= '9') return '0';
        if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z')) return 0;
        return ' '; /* ASCII punctuation, symbols, white space, controls */
    }
    switch (utf8proc_category((utf8proc_int32_t)cp)) {
    case UTF8PROC_CATEGORY_ND: return '0';
    case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE: case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO: case UTF8PROC_CATEGORY_SM: case UTF8PROC_CATEGORY_SC:
    case UTF8PROC_CATEGORY_SK: case UTF8PROC_CATEGORY_SO: case UTF8PROC_CATEGORY_ZS:
    case UTF8PROC_CATEGORY_ZL: case UTF8PROC_CATEGORY_ZP: case UTF8PROC_CATEGORY_CC:
        return ' ';
    default: return 0;
    }
}

/* Fold s[0..n) (already NFKC and case folded) into out as "simple" says. */
static int simple_fold(const char *s, size_t n, Buf *out)
{
    out->len = 0;
    if (buf_reserve(out, n + 1)) return -1;
    char *o = out->data;
    size_t k = 0;
    int space = 1; /* a space is pending only after a word; none at the start */
    for (size_t i = 0; i < n;) {
        uint32_t cp = (unsigned char)s[i];
        size_t len = 1;
        if (cp >= 0x80 && !(len = utf8_decode(s + i, n - i, &cp))) len = 1, cp = 0xFFFD;
        char c = fold_class(cp);
        if (c == ' ') {
            space = 1;
        } else {
            if (space && k) o[k++] = ' ';
            space = 0;
            if (c) o[k++] = c;
            else if (cp < 0x80) o[k++] = (char)(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
            else {
                memcpy(o + k, s + i, len);
                k += len;
            }
        }
        i += len;
    }
    out->len = k;
    return 0;
}

/* NFKC + case folding of s[0..n), appended to out, calling utf8proc only on the
 * runs of non-ASCII characters, each with the ASCII character before it (a
 * combining mark may compose with it). An ASCII character followed by another
 * ASCII character is its own NFKC and case folds to tolower, and no canonical
 * composition has an ASCII second character, so the runs normalise alone exactly
 * as in the whole text (test_minhash checks some). Most documents are mostly
 * ASCII, and utf8proc was a fifth of dedup's time (bench/dedup). */
static int nfkc_runs(const char *s, size_t n, Buf *out)
{
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && (unsigned char)s[j] < 0x80) j++;
        size_t ascii_end = j == n ? n : (j > i ? j - 1 : i); /* keep the one before the run */
        if (buf_reserve(out, ascii_end - i)) return -1;
        for (size_t k = i; k < ascii_end; k++) {
            char c = s[k];
            out->data[out->len++] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
        }
        if (j == n) break;
        size_t k = j;
        while (k < n && (unsigned char)s[k] >= 0x80) k++;
        size_t len;
        char *t = utf8_nfkc(s + ascii_end, k - ascii_end, 1, &len);
        if (!t) return -1;
        int rc = buf_append(out, t, len);
        free(t);
        if (rc) return -1;
        i = k;
    }
    return 0;
}

int norm_text(NormMode m, const char *s, size_t n, Buf *out)
{
    out->len = 0;
    if (m == NORM_NONE) return buf_append(out, s, n);
    if (is_ascii(s, n)) {
        if (m == NORM_SIMPLE) return simple_fold(s, n, out); /* it lowercases ASCII */
        if (buf_reserve(out, n)) return -1;
        for (size_t i = 0; i < n; i++) {
            char c = s[i];
            out->data[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
        }
        out->len = n;
        return 0;
    }
    if (nfkc_runs(s, n, out)) return -1;
    if (m != NORM_SIMPLE) return 0;
    /* Folding never lengthens the text, so it runs in place; the reserve makes
     * sure simple_fold's own reserve does not move the bytes it reads. */
    if (buf_reserve(out, 1)) return -1;
    return simple_fold(out->data, out->len, out);
}



static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int norm_join_words(const char *s, size_t n, Buf *out)
{
    out->len = 0;
    if (buf_reserve(out, n + 1)) return -1;
    char *o = out->data;
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        while (i < n && is_space((unsigned char)s[i])) i++;
        if (i == n) break;
        if (k) o[k++] = ' ';
        while (i < n && !is_space((unsigned char)s[i])) o[k++] = s[i++];
    }
    out->len = k;
    return 0;
}
