/* User rules from a file (--rules-file): per line a name, an action and a
 * PCRE2 pattern, JIT-compiled. "drop-doc" drops a document the pattern matches
 * anywhere in; "drop-line" removes each line it matches in. */
#ifndef URULES_H
#define URULES_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

typedef struct URule {
    char *name;
    int drop_line; /* 0: drop the document; 1: remove the matching lines */
    pcre2_code *re;
    uint64_t lineno; /* where it was defined */
} URule;

typedef struct URules {
    URule *rules;
    size_t n;
    const char *path; /* borrowed */
} URules;

/* Read and compile every rule of path. Errors name the file and line, and for
 * a bad pattern PCRE2's message and the offset in the pattern. The rules file
 * format is in filter/README.md. Free with urules_free(). */
int urules_load(URules *u, const char *path, Err *e);
void urules_free(URules *u);

/* Per-thread match state. Free with urules_ctx_free(). */
typedef struct URulesCtx {
    pcre2_match_data *md;
    pcre2_match_context *mc;
    pcre2_jit_stack *stack;
    Buf text[2];
} URulesCtx;
int urules_ctx_init(URulesCtx *c);
void urules_ctx_free(URulesCtx *c);

/* Apply the rules in file order to text[0..n) (valid UTF-8). Returns the index
 * of the rule that drops the document, or -1 to keep it; when line rules
 * removed lines, *out and *out_len give the new text (in ctx or text, valid
 * until the next call) and *changed is 1 (after a drop: the text the dropping
 * rule matched in). line_drops[i] counts lines rule i removed.
 * -2 on a match error (match limit...) with the message in e, or out of memory. */
int urules_apply(const URules *u, URulesCtx *c, const char *text, size_t n, const char **out, size_t *out_len,
                 int *changed, uint64_t *line_drops, Err *e);

#endif
