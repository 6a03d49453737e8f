/* PCRE2 pre-tokenizer: compile once (UTF, UCP, JIT), walk pieces per thread.
 * Empty matches are never pieces (PCRE2_NOTEMPTY). Speed: bench/bpe/run.sh
 * times encoding, whose first cost is this matcher. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "pretok.h"

#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

static const char re_gpt2[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
static const char re_gpt4[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char re_o200k[] =
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+"
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+"
    "[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

const char *pretok_builtin_name(const char *name)
{
    if (!name) return NULL;
    if (!strcmp(name, "gpt2") || !strcmp(name, "r50k")) return "gpt2";
    if (!strcmp(name, "gpt4") || !strcmp(name, "cl100k")) return "gpt4";
    if (!strcmp(name, "o200k")) return "o200k";
    return NULL;
}

const char *pretok_builtin(const char *name)
{
    const char *n = pretok_builtin_name(name);
    if (!n) return NULL;
    return !strcmp(n, "gpt2") ? re_gpt2 : !strcmp(n, "gpt4") ? re_gpt4 : re_o200k;
}

const char *pretok_builtin_of(const char *regex)
{
    if (!strcmp(regex, re_gpt2)) return "gpt2";
    if (!strcmp(regex, re_gpt4)) return "gpt4";
    if (!strcmp(regex, re_o200k)) return "o200k";
    return NULL;
}

struct Pretok {
    pcre2_code *code;
    int jit;
};

Pretok *pretok_new(const char *regex, Err *e)
{
    Pretok *p = calloc(1, sizeof *p);
    if (!p) {
        err_set(e, "out of memory");
        return NULL;
    }
    int code;
    PCRE2_SIZE at;
    p->code = pcre2_compile((PCRE2_SPTR)regex, PCRE2_ZERO_TERMINATED,
                            PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &code, &at, NULL);
    if (!p->code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        err_set(e, "pattern does not compile at offset %zu: %s", (size_t)at, (char *)msg);
        pretok_free(p);
        return NULL;
    }
    /* Without JIT (a platform without it) pcre2_match interprets: slower, same pieces. */
    p->jit = pcre2_jit_compile(p->code, PCRE2_JIT_COMPLETE) == 0;
    return p;
}

void pretok_free(Pretok *p)
{
    if (!p) return;
    pcre2_code_free(p->code);
    free(p);
}

struct PretokCursor {
    const Pretok *p;
    pcre2_match_data *md;
    pcre2_match_context *mc;
    pcre2_jit_stack *stack;
    const char *s;
    size_t n, pos;
    size_t m_start, m_end; /* a match found past a gap, returned after the gap */
    int pending;
};

PretokCursor *pretok_cursor_new(const Pretok *p)
{
    PretokCursor *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->p = p;
    c->md = pcre2_match_data_create(1, NULL);
    c->mc = pcre2_match_context_create(NULL);
    /* Patterns with lookahead over long runs (\s+(?!\S)) need more than the
     * default 32 KiB of JIT stack on long whitespace. */
    c->stack = pcre2_jit_stack_create(32 << 10, 8 << 20, NULL);
    if (!c->md || !c->mc || !c->stack) {
        pretok_cursor_free(c);
        return NULL;
    }
    pcre2_jit_stack_assign(c->mc, NULL, c->stack);
    return c;
}

void pretok_cursor_free(PretokCursor *c)
{
    if (!c) return;
    pcre2_match_data_free(c->md);
    pcre2_match_context_free(c->mc);
    pcre2_jit_stack_free(c->stack);
    free(c);
}

void pretok_begin(PretokCursor *c, const char *s, size_t n)
{
    c->s = s;
    c->n = n;
    c->pos = 0;
    c->pending = 0;
}

int pretok_next(PretokCursor *c, size_t *start, size_t *len, Err *e)
{
    if (c->pending) {
        c->pending = 0;
        *start = c->m_start;
        *len = c->m_end - c->m_start;
        c->pos = c->m_end;
        return 1;
    }
    if (c->pos >= c->n) return 0;
    int rc = c->p->jit ? pcre2_jit_match(c->p->code, (PCRE2_SPTR)c->s, c->n, c->pos,
                                         PCRE2_NOTEMPTY, c->md, c->mc)
                       : pcre2_match(c->p->code, (PCRE2_SPTR)c->s, c->n, c->pos, PCRE2_NOTEMPTY,
                                     c->md, c->mc);
    if (rc == PCRE2_ERROR_NOMATCH) { /* the rest is one gap */
        *start = c->pos;
        *len = c->n - c->pos;
        c->pos = c->n;
        return 1;
    }
    if (rc < 0) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(rc, msg, sizeof msg);
        return err_set(e, "pre-tokenizer at byte %zu: %s", c->pos, (char *)msg);
    }
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c->md);
    size_t ms = ov[0], me = ov[1];
    if (ms > c->pos) { /* a gap first, then the match */
        *start = c->pos;
        *len = ms - c->pos;
        c->m_start = ms;
        c->m_end = me;
        c->pending = 1;
        return 1;
    }
    *start = ms;
    *len = me - ms;
    c->pos = me;
    return 1;
}
