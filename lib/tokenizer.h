/* The byte-level BPE tokenizer that bpe, packer and model share: load a Hugging
 * Face tokenizer.json or a tiktoken rank file (.tiktoken), encode text to ids,
 * decode ids to bytes, save a tokenizer.json that HF `tokenizers` loads.
 *
 * Two merge rules, one algorithm (repeatedly merge the adjacent pair with the
 * lowest rank, the leftmost on ties):
 * - tokenizer.json: a pair merges only when it is in `merges`; rank = its index.
 * - .tiktoken: a pair merges when its bytes joined are a token; rank = that
 *   token's rank, as tiktoken does. bpe convert writes the merges this implies.
 * Both give the same ids as the tool they come from.
 *
 * Where it lives: tokenizer.c the type, building, tables, fingerprint and
 * decoding; tok_json.c tokenizer.json; tok_tiktoken.c rank files;
 * tok_encode.c the encoder. */
#ifndef TOKENIZER_H
#define TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "pretok.h"

/* A growable array of ids. The owner frees with idbuf_free(). */
typedef struct IdBuf {
    uint32_t *ids;
    size_t len, cap;
} IdBuf;
int idbuf_reserve(IdBuf *b, size_t extra);
static inline int idbuf_push(IdBuf *b, uint32_t id)
{
    if (b->len == b->cap && idbuf_reserve(b, 1)) return -1;
    b->ids[b->len++] = id;
    return 0;
}
void idbuf_free(IdBuf *b);

enum { TOK_NONE = 0, TOK_NORMAL = 1, TOK_SPECIAL = 2 };

typedef struct TokPair {
    uint32_t a, b;
} TokPair;

typedef struct Tokenizer {
    uint32_t n_vocab;      /* ids are < n_vocab; an id may hold no token (kind TOK_NONE) */
    uint32_t vocab_cap;    /* room in kind and off */
    uint8_t *kind;         /* (n_vocab) TOK_NONE / TOK_NORMAL / TOK_SPECIAL */
    uint64_t *off;         /* (n_vocab + 1) token i is bytes[off[i] .. off[i+1]) */
    Buf bytes;
    int32_t byte_id[256];  /* the token of each single byte; -1: none (HF files may lack some) */
    TokPair *merges;       /* (n_merges) in rank order; NULL for a rank file until tok_recover_merges */
    uint32_t n_merges, merges_cap;
    int rank_by_bytes;     /* 1: tiktoken's rule (see above); 0: the merges list */
    uint32_t *specials;    /* (n_specials) ids of TOK_SPECIAL tokens, in the order added */
    uint32_t n_specials;
    int64_t eot_id;        /* "<|endoftext|>", else the first special; -1: none */
    char *regex;           /* the pre-tokenizer pattern; NULL: the whole text is one piece */
    int add_prefix_space;  /* HF ByteLevel's option: a space before text not starting with one */
    int ignore_merges;     /* HF BPE's option: a piece that is a token is that token */
    Pretok *pre;           /* compiled regex */
    /* Private: hash tables (rebuilt by tok_finish). */
    uint64_t *pair_key;    /* a << 32 | b; UINT64_MAX: empty */
    uint32_t *pair_rank, *pair_new;
    size_t pair_mask;
    uint32_t *bytes_slot;  /* id + 1 of the token with these bytes; 0: empty */
    size_t bytes_mask;
} Tokenizer;

/* Load a tokenizer.json (byte-level BPE: model "BPE", a ByteLevel or Split
 * pre-tokenizer). Errors name the file and the entry ("model.merges[12]").
 * Caller frees with tok_free(). */
Tokenizer *tok_load_json(const char *path, Err *e);
/* Load a tiktoken rank file ("base64 rank" lines) with a built-in pattern
 * (pretok_builtin names), which also brings its special tokens. */
Tokenizer *tok_load_tiktoken(const char *path, const char *pattern_name, Err *e);
void tok_free(Tokenizer *t);

/* Building one (training): the 256 byte tokens, ids in GPT-2's order (the byte
 * whose printable stand-in has the lowest code point first), with a pattern
 * (NULL: none). Then tok_add_merge for each merge and tok_add_special. */
Tokenizer *tok_new_bytes(const char *regex, Err *e);
/* No tokens at all (then tok_add_token), e.g. HF's order: specials first. */
Tokenizer *tok_new_empty(const char *regex, Err *e);
/* Append s[0..n) as the next id, TOK_NORMAL or TOK_SPECIAL. */
int tok_add_token(Tokenizer *t, const char *s, size_t n, int kind, uint32_t *id, Err *e);
/* Append the merge (a, b) as the next rank. existing < 0: bytes(a)+bytes(b) is
 * a new token, the next id; else that token is already id `existing` (two
 * merges may make the same bytes, as in HF's trainer). *id gets the id. */
int tok_add_merge(Tokenizer *t, uint32_t a, uint32_t b, int64_t existing, uint32_t *id, Err *e);
/* Append a special token (text as given) as the next id. */
int tok_add_special(Tokenizer *t, const char *text, size_t len, uint32_t *id, Err *e);
/* Build the lookup tables; call after the last tok_add_* and before encoding. */
int tok_finish(Tokenizer *t, Err *e);
/* Replace the pattern (NULL: none); compiles it. */
int tok_set_regex(Tokenizer *t, const char *regex, Err *e);

/* For a rank file: derive the merge list tiktoken's rule implies (each token
 * of two or more bytes is the one pair its bytes come to under the lower
 * ranks). Needed by tok_save_json. No-op when t has merges. */
int tok_recover_merges(Tokenizer *t, Err *e);

/* Write t as a Hugging Face tokenizer.json at path (atomic; "-": stdout). */
int tok_save_json(Tokenizer *t, const char *path, Err *e);

/* The tokenizer's fingerprint: XXH3-64 of a canonical serialisation of what
 * fixes the ids (every id's kind and bytes in id order, the merges in rank
 * order, the pre-tokenizer pattern and add_prefix_space), so that two
 * vocabularies of the same size still differ. A rank file is fingerprinted
 * with the merges it implies (tok_recover_merges, hence not const), so it and
 * the tokenizer.json bpe convert makes of it have the same one. Never 0: 0
 * means "not recorded" in the token stream, meta.json and checkpoints. */
int tok_fingerprint(Tokenizer *t, uint64_t *fp, Err *e);
/* fp as the 16 lowercase hex digits the files hold, into hex (17 bytes). */
void tok_fingerprint_hex(uint64_t fp, char hex[17]);
/* The inverse: 0 ok; -1 when s is not exactly 16 hex digits (or all zeros). */
int tok_fingerprint_parse(const char *s, uint64_t *fp);

/* Token bytes (borrowed for t's life); *len 0 for an id with no token. */
static inline const char *tok_bytes(const Tokenizer *t, uint32_t id, size_t *len)
{
    *len = (size_t)(t->off[id + 1] - t->off[id]);
    return t->bytes.data + t->off[id];
}
/* The id of the token whose bytes are s[0..n), or -1. */
int64_t tok_lookup(const Tokenizer *t, const char *s, size_t n);
/* Rank of merging (a, b) and the id it makes; 0 when they do not merge. */
int tok_pair(const Tokenizer *t, uint32_t a, uint32_t b, uint32_t *rank, uint32_t *merged);

/* GPT-2's printable stand-in for byte b (a code point < 324), and back (-1: none). */
uint32_t tok_byte_char(uint8_t b);
int tok_char_byte(uint32_t cp);
/* s[0..n) as byte-level text (UTF-8 of the stand-ins), appended to out. */
int tok_bytelevel(const char *s, size_t n, Buf *out);

/* Per-thread encoding state: the pre-tokenizer cursor, a cache of piece ->
 * ids, scratch. Caller frees with tok_encoder_free(); t is borrowed. */
typedef struct TokEncoder TokEncoder;
TokEncoder *tok_encoder_new(const Tokenizer *t, Err *e);
void tok_encoder_free(TokEncoder *enc);

/* Append the ids of s[0..n) to out. allow_special: the text of a special token
 * becomes its id (else it is plain text). Errors (e.g. a byte the vocabulary
 * lacks) say the byte offset in s; the caller adds the document's place. */
int tok_encode(TokEncoder *enc, const char *s, size_t n, int allow_special, IdBuf *out, Err *e);
/* BPE on one piece only (no pre-tokenizer, no specials): appended to out. */
int tok_encode_piece(TokEncoder *enc, const char *s, size_t n, IdBuf *out, Err *e);

/* Append the bytes of ids[0..n) to out (specials as their text). An id past
 * the vocabulary or with no token is an error naming its index in ids. */
int tok_decode(const Tokenizer *t, const uint32_t *ids, size_t n, Buf *out, Err *e);

#endif
