/* Inside the tokenizer only (tokenizer.c, and the loaders tok_json.c and
 * tok_tiktoken.c), not for programs: setting tokens at the ids a file gives
 * them, which may skip some (cl100k has no 100256), where the public
 * tok_add_* only append. Specials set this way are recorded with
 * tok_add_special_id; tok_finish builds the tables after the last one. */
#ifndef TOK_INTERNAL_H
#define TOK_INTERNAL_H

#include "tokenizer.h"

/* No tokens, no pattern, no end-of-text (eot_id -1). Caller frees with tok_free(). */
Tokenizer *tok_alloc(Err *e);
/* Set token id's bytes (copied) and kind. Tokens must be set in increasing id
 * order (bytes are one array); ids skipped stay empty (TOK_NONE). */
int tok_set_token(Tokenizer *t, uint32_t id, const char *s, size_t n, int kind, Err *e);
/* Record id, already set as TOK_SPECIAL, as the next special token; it becomes
 * eot_id when its text is "<|endoftext|>" or when it is the first special. */
int tok_add_special_id(Tokenizer *t, uint32_t id, Err *e);
/* Byte-level text (UTF-8 of GPT-2's stand-ins) back to bytes, appended to out;
 * -1 when a character is not a stand-in or memory runs out. */
int tok_from_bytelevel(const char *s, size_t n, Buf *out);

#endif
