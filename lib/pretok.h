/* Pre-tokenization: splitting text into the pieces that BPE merges never cross.
 * A pattern is a PCRE2 regex compiled with UTF + UCP and JIT; the text is cut
 * into its matches and the runs between them (the gaps), in order, so every
 * byte lands in exactly one piece (HF's Split with behavior "Isolated").
 * Invalid UTF-8 never matches (PCRE2_MATCH_INVALID_UTF): its bytes end up in
 * gaps, which byte-level BPE encodes as bytes. */
#ifndef PRETOK_H
#define PRETOK_H

#include <stddef.h>

#include "err.h"

/* The regex of a built-in pattern: "gpt2" (alias "r50k"), "gpt4" (alias
 * "cl100k"), "o200k"; NULL for any other name. The strings are tiktoken's. */
const char *pretok_builtin(const char *name);
/* The canonical name of a built-in ("r50k" -> "gpt2"), or NULL. */
const char *pretok_builtin_name(const char *name);
/* The built-in name whose regex is exactly `regex`, or NULL. */
const char *pretok_builtin_of(const char *regex);

typedef struct Pretok Pretok;

/* Compile regex (NUL-terminated). On error e says PCRE2's message and the
 * offset in the pattern. Caller frees with pretok_free(); read-only after,
 * so threads share it. */
Pretok *pretok_new(const char *regex, Err *e);
void pretok_free(Pretok *p);

/* Per-thread state for walking one text's pieces. */
typedef struct PretokCursor PretokCursor;

/* Caller frees with pretok_cursor_free(). NULL when out of memory. */
PretokCursor *pretok_cursor_new(const Pretok *p);
void pretok_cursor_free(PretokCursor *c);
/* Start on s[0..n) (borrowed until the walk ends). */
void pretok_begin(PretokCursor *c, const char *s, size_t n);
/* The next piece as s[*start .. *start + *len): 1, or 0 at the end; -1 when
 * PCRE2 fails (its message in e: e.g. the JIT stack limit). */
int pretok_next(PretokCursor *c, size_t *start, size_t *len, Err *e);

#endif
