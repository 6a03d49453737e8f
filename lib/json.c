/* Strict RFC 8259 validation of one JSON value, by recursive descent, with no tree
 * built: only the one string member a program asks for is unescaped. Strings are
 * scanned 8 bytes at a time (bench/json_read times this against jansson).
 * Depth and \u0000 follow jansson (max depth 2048, NUL allowed) so the two agree. */
#include "json.h"

#include <stdint.h>
#include <string.h>

#include "utf8.h"

typedef struct P {
    const char *s;
    size_t n, i;
    const char *why;
    size_t at;
} P;

static int fail(P *p, const char *why)
{
    p->why = why;
    p->at = p->i;
    return -1;
}

static void skip_ws(P *p)
{
    while (p->i < p->n) {
        char c = p->s[p->i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->i++;
    }
}

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* True when none of the 8 bytes of w needs a look: no '"', '\\', control byte
 * (< 0x20) or non-ASCII byte. The "has zero byte" tests are exact as booleans. */
static inline int plain8(uint64_t w)
{
    uint64_t q = w ^ (ONES * '"'), b = w ^ (ONES * '\\');
    uint64_t hit = (w & HIGHS) | ((w - ONES * 0x20) & ~w & HIGHS) | ((q - ONES) & ~q & HIGHS) |
                   ((b - ONES) & ~b & HIGHS);
    return hit == 0;
}

static int hex4(P *p, uint32_t *v)
{
    if (p->n - p->i < 4) return fail(p, "truncated \\u escape");
    uint32_t x = 0;
    for (int k = 0; k < 4; k++) {
        char c = p->s[p->i];
        uint32_t d;
        if (c >= '0' && c <= '9') d = (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f') d = (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') d = (uint32_t)(c - 'A' + 10);
        else return fail(p, "bad hex digit in \\u escape");
        x = x * 16 + d;
        p->i++;
    }
    *v = x;
    return 0;
}

/* s[i] is the opening quote. Validates the string and, when out is not NULL,
 * appends its unescaped bytes to out. Leaves i just past the closing quote. */
static int parse_string(P *p, Buf *out)
{
    const char *s = p->s;
    size_t n = p->n;
    p->i++;
    size_t run = p->i; /* start of the bytes not yet copied to out */
    for (;;) {
        while (p->i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + p->i, 8);
            if (!plain8(w)) break;
            p->i += 8;
        }
        if (p->i >= n) return fail(p, "unterminated string");
        unsigned char c = (unsigned char)s[p->i];
        if (c == '"') {
            if (out && buf_append(out, s + run, p->i - run)) return fail(p, "out of memory");
            p->i++;
            return 0;
        }
        if (c < 0x20) return fail(p, "control character in string (must be escaped)");
        if (c >= 0x80) {
            uint32_t cp;
            size_t k = utf8_decode(s + p->i, n - p->i, &cp);
            if (!k) return fail(p, "invalid UTF-8 in string");
            p->i += k;
            continue;
        }
        if (c != '\\') { p->i++; continue; }
        if (out && buf_append(out, s + run, p->i - run)) return fail(p, "out of memory");
        p->i++;
        if (p->i >= n) return fail(p, "unterminated string");
        char e = s[p->i++], ch;
        switch (e) {
        case '"': ch = '"'; break;
        case '\\': ch = '\\'; break;
        case '/': ch = '/'; break;
        case 'b': ch = '\b'; break;
        case 'f': ch = '\f'; break;
        case 'n': ch = '\n'; break;
        case 'r': ch = '\r'; break;
        case 't': ch = '\t'; break;
        case 'u': {
            uint32_t cp, lo;
            size_t esc_at = p->i - 2;
            if (hex4(p, &cp)) return -1;
            if (cp >= 0xDC00 && cp <= 0xDFFF) {
                p->i = esc_at;
                return fail(p, "lone low surrogate in \\u escape");
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (n - p->i < 2 || s[p->i] != '\\' || s[p->i + 1] != 'u') {
                    p->i = esc_at;
                    return fail(p, "high surrogate not followed by a \\u low surrogate");
                }
                p->i += 2;
                if (hex4(p, &lo)) return -1;
                if (lo < 0xDC00 || lo > 0xDFFF) {
                    p->i = esc_at;
                    return fail(p, "high surrogate not followed by a \\u low surrogate");
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (out) {
                char u[4];
                if (buf_append(out, u, utf8_encode(cp, u))) return fail(p, "out of memory");
            }
            run = p->i;
            continue;
        }
        default:
            p->i--;
            return fail(p, "invalid escape in string");
        }
        if (out && buf_putc(out, ch)) return fail(p, "out of memory");
        run = p->i;
    }
}

static int digits(P *p)
{
    size_t start = p->i;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') p->i++;
    return p->i > start ? 0 : fail(p, "invalid number");
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? ; what follows is the caller's. */
static int parse_number(P *p)
{
    if (p->s[p->i] == '-') p->i++;
    if (p->i >= p->n) return fail(p, "invalid number");
    if (p->s[p->i] == '0') p->i++;
    else if (digits(p)) return -1;
    if (p->i < p->n && p->s[p->i] == '.') {
        p->i++;
        if (digits(p)) return -1;
    }
    if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        p->i++;
        if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-')) p->i++;
        if (digits(p)) return -1;
    }
    return 0;
}

static int literal(P *p, const char *word, size_t len)
{
    if (p->n - p->i < len || memcmp(p->s + p->i, word, len)) return fail(p, "invalid literal");
    p->i += len;
    return 0;
}

static int parse_value(P *p, int depth);

/* s[i] is '{' or '['. */
static int parse_container(P *p, int depth)
{
    char close = p->s[p->i] == '{' ? '}' : ']';
    p->i++;
    skip_ws(p);
    if (p->i < p->n && p->s[p->i] == close) { p->i++; return 0; }
    for (;;) {
        if (close == '}') {
            if (p->i >= p->n || p->s[p->i] != '"') return fail(p, "expected a string key");
            if (parse_string(p, NULL)) return -1;
            skip_ws(p);
            if (p->i >= p->n || p->s[p->i] != ':') return fail(p, "expected ':' after key");
            p->i++;
            skip_ws(p);
        }
        if (parse_value(p, depth + 1)) return -1;
        skip_ws(p);
        if (p->i >= p->n) return fail(p, close == '}' ? "unterminated object" : "unterminated array");
        char c = p->s[p->i++];
        if (c == close) return 0;
        if (c != ',') {
            p->i--;
            return fail(p, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
        }
        skip_ws(p);
    }
}

/* depth counts this value: 1 at the top, as jansson counts. */
static int parse_value(P *p, int depth)
{
    if (depth > JSON_MAX_DEPTH) return fail(p, "nesting deeper than 2048");
    if (p->i >= p->n) return fail(p, "expected a value");
    switch (p->s[p->i]) {
    case '"': return parse_string(p, NULL);
    case '{':
    case '[': return parse_container(p, depth);
    case 't': return literal(p, "true", 4);
    case 'f': return literal(p, "false", 5);
    case 'n': return literal(p, "null", 4);
    default:
        if (p->s[p->i] == '-' || (p->s[p->i] >= '0' && p->s[p->i] <= '9')) return parse_number(p);
        return fail(p, "expected a value");
    }
}

static int report(P *p, int rc, const char **why, size_t *at)
{
    if (rc) {
        *why = p->why;
        *at = p->at;
    }
    return rc;
}

int json_validate(const char *s, size_t n, const char **why, size_t *at)
{
    P p = { s, n, 0, NULL, 0 };
    skip_ws(&p);
    int rc = parse_value(&p, 1);
    if (!rc) {
        skip_ws(&p);
        if (p.i < n) rc = fail(&p, "text after the JSON value");
    }
    return report(&p, rc, why, at);
}

/* Does the key whose opening quote is at key_off (already validated, ending at
 * key_end) spell field? Keys with escapes are unescaped first ("te\u0078t"). */
static int key_is(const char *s, size_t key_off, size_t key_end, const char *field, size_t field_len)
{
    const char *raw = s + key_off + 1;
    size_t raw_len = key_end - key_off - 2;
    if (!memchr(raw, '\\', raw_len)) return raw_len == field_len && !memcmp(raw, field, field_len);
    Buf b = { 0 };
    P q = { s, key_end, key_off, NULL, 0 };
    int same = !parse_string(&q, &b) && b.len == field_len && !memcmp(b.data, field, field_len);
    buf_free(&b);
    return same;
}

const char json_no_field[] = "no text member";
const char json_field_not_string[] = "the text member is not a string";
const char json_field_twice[] = "the text member appears twice";

static int doc_scan(P *p, const char *field, size_t field_len, JsonSpan *span, Buf *text)
{
    int found = 0;
    skip_ws(p);
    if (p->i >= p->n || p->s[p->i] != '{') {
        if (json_validate(p->s, p->n, &p->why, &p->at) == 0) return fail(p, "not a JSON object");
        return -1;
    }
    p->i++;
    skip_ws(p);
    if (p->i < p->n && p->s[p->i] == '}') {
        p->i++;
    } else {
        for (;;) {
            if (p->i >= p->n || p->s[p->i] != '"') return fail(p, "expected a string key");
            size_t key_off = p->i;
            if (parse_string(p, NULL)) return -1;
            int is_field = key_is(p->s, key_off, p->i, field, field_len);
            skip_ws(p);
            if (p->i >= p->n || p->s[p->i] != ':') return fail(p, "expected ':' after key");
            p->i++;
            skip_ws(p);
            if (is_field) {
                if (found) {
                    p->i = key_off;
                    return fail(p, json_field_twice);
                }
                if (p->i >= p->n || p->s[p->i] != '"') {
                    if (parse_value(p, 2)) return -1;
                    p->i = key_off;
                    return fail(p, json_field_not_string);
                }
                found = 1;
                span->val_off = p->i;
                text->len = 0;
                if (parse_string(p, text)) return -1;
                span->val_end = p->i;
            } else if (parse_value(p, 2)) {
                return -1;
            }
            skip_ws(p);
            if (p->i >= p->n) return fail(p, "unterminated object");
            char c = p->s[p->i++];
            if (c == '}') break;
            if (c != ',') {
                p->i--;
                return fail(p, "expected ',' or '}'");
            }
            skip_ws(p);
        }
    }
    span->close_off = p->i - 1;
    skip_ws(p);
    if (p->i < p->n) return fail(p, "text after the JSON value");
    if (!found) {
        p->i = 0;
        return fail(p, json_no_field);
    }
    return 0;
}

int json_doc_scan(const char *s, size_t n, const char *field, size_t field_len, JsonSpan *span,
                  Buf *text, const char **why, size_t *at)
{
    P p = { s, n, 0, NULL, 0 };
    return report(&p, doc_scan(&p, field, field_len, span, text), why, at);
}

int json_escape(Buf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (buf_reserve(out, n + 2) || buf_putc(out, '"')) return -1;
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        if (buf_append(out, s + run, i - run)) return -1;
        run = i + 1;
        char esc[6] = { '\\', 0 };
        size_t len = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            len = 6;
        }
        if (buf_append(out, esc, len)) return -1;
    }
    if (n > run && buf_append(out, s + run, n - run)) return -1; /* n 0: s may be NULL */
    return buf_putc(out, '"');
}
