/* The --classes file. Lines (# starts a comment):
 *   word   CLASS      characters that make words: PCRE2 class syntax without
 *                     the brackets, e.g. "A-Za-z012" (required, once)
 *   prefix CLASS      a character that may lead a word piece, e.g. "\x20"
 *   unit   SEQ...     sequences of word characters never split, e.g. "A0 A1"
 * It compiles to the pattern  P?W+ | N+?(?=PW) | N+  (P prefix, W word, N not
 * word): a piece is one word with at most one leading prefix character, or a
 * run of other characters, so no token spans two words. Units become the
 * first merges (train.c), so every unit is whole before anything else merges. */
#include "classes.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "iofile.h"
#include "pretok.h"

void bpe_classes_free(BpeClasses *c)
{
    if (!c) return;
    free(c->regex);
    for (size_t i = 0; i < c->n_units; i++) free(c->units[i]);
    free(c->units);
    *c = (BpeClasses){ 0 };
}

static int is_space(char ch) { return ch == ' ' || ch == '\t' || ch == '\r'; }

int bpe_classes_load(const char *path, BpeClasses *c, Err *e)
{
    *c = (BpeClasses){ 0 };
    char *word = NULL, *prefix = NULL;
    uint64_t word_line = 0;
    Buf re = { 0 };
    Pretok *check = NULL;
    InFile *in = in_open(path, 1 << 20, e);
    if (!in) return -1;
    const char *line;
    size_t len;
    int rc;
    while ((rc = in_line(in, &line, &len, e)) == 1) {
        uint64_t ln = in_lineno(in);
        char buf[4096];
        if (len >= sizeof buf) {
            err_at(e, path, ln, "line longer than %zu bytes", sizeof buf - 1);
            goto fail;
        }
        memcpy(buf, line, len);
        buf[len] = 0;
        char *hash = strchr(buf, '#');
        if (hash) *hash = 0;
        char *p = buf;
        while (is_space(*p)) p++;
        if (!*p) continue;
        char *key = p;
        while (*p && !is_space(*p)) p++;
        if (*p) *p++ = 0;
        while (is_space(*p)) p++;
        char *end = p + strlen(p);
        while (end > p && is_space(end[-1])) *--end = 0;
        if (!strcmp(key, "word") || !strcmp(key, "prefix")) {
            char **dst = key[0] == 'w' ? &word : &prefix;
            if (!*p) {
                err_at(e, path, ln, "%s needs a character class, e.g. A-Za-z", key);
                goto fail;
            }
            if (*dst) {
                err_at(e, path, ln, "%s given twice", key);
                goto fail;
            }
            if (!(*dst = strdup(p))) goto oom;
            if (key[0] == 'w') word_line = ln;
        } else if (!strcmp(key, "unit")) {
            for (char *tok = strtok(p, " \t"); tok; tok = strtok(NULL, " \t")) {
                if (strlen(tok) < 2) {
                    err_at(e, path, ln, "unit '%s' is one byte: units join two or more", tok);
                    goto fail;
                }
                char **u = realloc(c->units, (c->n_units + 1) * sizeof *u);
                if (!u) goto oom;
                c->units = u;
                if (!(c->units[c->n_units] = strdup(tok))) goto oom;
                c->n_units++;
            }
        } else {
            err_at(e, path, ln, "unknown directive '%s' (word, prefix, unit)", key);
            goto fail;
        }
    }
    if (rc < 0) goto fail;
    if (!word) {
        err_set(e, "%s: no 'word CLASS' line: which characters make words?", err_name(path));
        goto fail;
    }
    int ok = 0;
    if (prefix)
        ok |= buf_append(&re, "[", 1) || buf_append(&re, prefix, strlen(prefix)) || buf_append(&re, "]?", 2);
    ok |= buf_append(&re, "[", 1) || buf_append(&re, word, strlen(word)) || buf_append(&re, "]+|[^", 5) ||
          buf_append(&re, word, strlen(word)) || buf_append(&re, "]+", 2);
    if (prefix)
        ok |= buf_append(&re, "?(?=[", 5) || buf_append(&re, prefix, strlen(prefix)) ||
              buf_append(&re, "][", 2) || buf_append(&re, word, strlen(word)) ||
              buf_append(&re, "])|[^", 5) || buf_append(&re, word, strlen(word)) || buf_append(&re, "]+", 2);
    ok |= buf_putc(&re, 0);
    if (ok) goto oom;
    Err inner;
    if (!(check = pretok_new(re.data, &inner))) {
        err_at(e, path, word_line, "the classes make a pattern that does not compile (%s): %s", re.data, inner.msg);
        goto fail;
    }
    pretok_free(check);
    /* Each unit must be word characters only, or a piece could cut it. */
    Buf wre = { 0 };
    if (buf_append(&wre, "[", 1) || buf_append(&wre, word, strlen(word)) || buf_append(&wre, "]+", 3)) goto oom;
    check = pretok_new(wre.data, &inner);
    buf_free(&wre);
    if (!check) {
        err_set(e, "%s: %s", err_name(path), inner.msg);
        goto fail;
    }
    PretokCursor *cur = pretok_cursor_new(check);
    if (!cur) goto oom;
    for (size_t i = 0; i < c->n_units; i++) {
        size_t at, n, k = 0, whole = 0;
        pretok_begin(cur, c->units[i], strlen(c->units[i]));
        while (pretok_next(cur, &at, &n, &inner) == 1) {
            k++;
            whole = at == 0 && n == strlen(c->units[i]);
        }
        if (k != 1 || !whole) {
            pretok_cursor_free(cur);
            err_set(e, "%s: unit '%s' holds characters outside 'word'", err_name(path), c->units[i]);
            goto fail;
        }
    }
    pretok_cursor_free(cur);
    pretok_free(check);
    check = NULL;
    c->regex = re.data;
    free(word);
    free(prefix);
    in_close(in);
    return 0;
oom:
    err_set(e, "out of memory");
fail:
    pretok_free(check);
    free(word);
    free(prefix);
    buf_free(&re);
    in_close(in);
    bpe_classes_free(c);
    return -1;
}
