/* User PCRE2 rules: reading the rules file and matching. Patterns are compiled
 * with PCRE2_UTF and JIT (falling back to the interpreter where JIT is not
 * available); documents are valid UTF-8 already, so matches skip the check. */
#include "urules.h"

#include <stdlib.h>
#include <string.h>

#include "heur.h"
#include "iofile.h"

void urules_free(URules *u)
{
    if (!u) return;
    for (size_t i = 0; i < u->n; i++) {
        free(u->rules[i].name);
        pcre2_code_free(u->rules[i].re);
    }
    free(u->rules);
    memset(u, 0, sizeof *u);
}

static int name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.' || c == ':';
}

/* Columns count bytes from 1, as editors do for ASCII. */
static int parse_line(URules *u, const char *s, size_t n, uint64_t lineno, Err *e)
{
    const char *path = err_name(u->path);
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
    if (i == n || s[i] == '#') return 0;
    size_t name_at = i;
    while (i < n && s[i] != ' ' && s[i] != '\t') {
        if (!name_char(s[i]))
            return err_at(e, path, lineno, "rule name may hold only letters, digits and _ - . : (column %zu)", i + 1);
        i++;
    }
    size_t name_len = i - name_at;
    while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
    size_t act_at = i;
    while (i < n && s[i] != ' ' && s[i] != '\t') i++;
    size_t act_len = i - act_at;
    while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
    if (act_len == 0 || i == n)
        return err_at(e, path, lineno, "expected 'NAME ACTION PATTERN' (ACTION is drop-doc or drop-line)");
    int drop_line;
    if (act_len == 8 && !memcmp(s + act_at, "drop-doc", 8)) drop_line = 0;
    else if (act_len == 9 && !memcmp(s + act_at, "drop-line", 9)) drop_line = 1;
    else
        return err_at(e, path, lineno, "action is drop-doc or drop-line, not '%.*s'", (int)act_len, s + act_at);
    if (heur_find(s + name_at, name_len) >= 0 || (name_len == 5 && !memcmp(s + name_at, "empty", 5)))
        return err_at(e, path, lineno, "rule name '%.*s' is a built-in rule's", (int)name_len, s + name_at);
    for (size_t k = 0; k < u->n; k++)
        if (strlen(u->rules[k].name) == name_len && !memcmp(u->rules[k].name, s + name_at, name_len))
            return err_at(e, path, lineno, "rule '%.*s' is already defined on line %llu", (int)name_len, s + name_at,
                          (unsigned long long)u->rules[k].lineno);
    int code;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)(s + i), n - i, PCRE2_UTF, &code, &off, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        return err_at(e, path, lineno, "bad pattern of rule '%.*s' at offset %zu (column %zu): %s", (int)name_len,
                      s + name_at, (size_t)off, i + (size_t)off + 1, (const char *)msg);
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* no JIT: the interpreter runs it */
    URule *r = realloc(u->rules, (u->n + 1) * sizeof *r);
    char *name = malloc(name_len + 1);
    if (r) u->rules = r;
    if (!r || !name) {
        free(name);
        pcre2_code_free(re);
        return err_set(e, "%s: out of memory", path);
    }
    memcpy(name, s + name_at, name_len);
    name[name_len] = 0;
    u->rules[u->n++] = (URule){name, drop_line, re, lineno};
    return 0;
}

int urules_load(URules *u, const char *path, Err *e)
{
    memset(u, 0, sizeof *u);
    u->path = path;
    InFile *f = in_open(path, 1 << 20, e);
    if (!f) return -1;
    const char *line;
    size_t len;
    int rc;
    while ((rc = in_line(f, &line, &len, e)) == 1) {
        if (len && line[len - 1] == '\r') len--;
        if (parse_line(u, line, len, in_lineno(f), e)) {
            rc = -1;
            break;
        }
    }
    in_close(f);
    if (rc == 0 && u->n == 0) rc = err_set(e, "%s: no rules in the file", err_name(path));
    if (rc) urules_free(u);
    return rc;
}

int urules_ctx_init(URulesCtx *c)
{
    memset(c, 0, sizeof *c);
    c->md = pcre2_match_data_create(4, NULL);
    c->mc = pcre2_match_context_create(NULL);
    c->stack = pcre2_jit_stack_create(32 << 10, 8 << 20, NULL);
    if (!c->md || !c->mc || !c->stack) {
        urules_ctx_free(c);
        return -1;
    }
    pcre2_jit_stack_assign(c->mc, NULL, c->stack);
    return 0;
}

void urules_ctx_free(URulesCtx *c)
{
    if (!c) return;
    pcre2_match_data_free(c->md);
    pcre2_match_context_free(c->mc);
    pcre2_jit_stack_free(c->stack);
    buf_free(&c->text[0]);
    buf_free(&c->text[1]);
    memset(c, 0, sizeof *c);
}

/* 1 match, 0 none, -1 error (message in e). */
static int match(const URule *r, URulesCtx *c, const char *s, size_t n, Err *e)
{
    int rc = pcre2_match(r->re, (PCRE2_SPTR)s, n, 0, PCRE2_NO_UTF_CHECK, c->md, c->mc);
    if (rc >= 0) return 1;
    if (rc == PCRE2_ERROR_NOMATCH) return 0;
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(rc, msg, sizeof msg);
    return err_set(e, "rule '%s': PCRE2 match error: %s", r->name, (const char *)msg);
}

int urules_apply(const URules *u, URulesCtx *c, const char *text, size_t n, const char **out, size_t *out_len,
                 int *changed, uint64_t *line_drops, Err *e)
{
    const char *cur = text;
    size_t cur_n = n;
    int which = 0;
    *changed = 0;
    for (size_t k = 0; k < u->n; k++) {
        const URule *r = &u->rules[k];
        if (!r->drop_line) {
            int m = match(r, c, cur, cur_n, e);
            if (m < 0) return -2;
            if (m) { /* the text it matched in, which `filter stats` measures */
                *out = cur;
                *out_len = cur_n;
                return (int)k;
            }
            continue;
        }
        Buf *dst = &c->text[which];
        dst->len = 0;
        uint64_t dropped = 0;
        size_t i = 0;
        while (i < cur_n) { /* lines end at '\n'; the '\n' goes with its line */
            const char *nl = memchr(cur + i, '\n', cur_n - i);
            size_t end = nl ? (size_t)(nl - cur) : cur_n;
            int m = match(r, c, cur + i, end - i, e);
            if (m < 0) return -2;
            size_t next = nl ? end + 1 : end;
            if (m) dropped++;
            else if (buf_append(dst, cur + i, next - i)) return err_set(e, "out of memory"), -2;
            i = next;
        }
        if (!dropped) continue;
        /* a kept last line loses the newline its removed successor had */
        if (dst->len && dst->data[dst->len - 1] == '\n' && cur[cur_n - 1] != '\n') dst->len--;
        line_drops[k] += dropped;
        cur = dst->data ? dst->data : "";
        cur_n = dst->len;
        which ^= 1;
        *changed = 1;
    }
    *out = cur;
    *out_len = cur_n;
    return -1;
}
