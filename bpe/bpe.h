/* bpe's commands other than train: encode, decode, info, convert. The
 * tokenizer itself is lib/tokenizer.h; this is the document and token-stream
 * plumbing around it, and the threads of encode. */
#ifndef BPE_H
#define BPE_H

#include <stddef.h>

#include "cli.h"
#include "docio.h"
#include "err.h"
#include "tokenizer.h"

/* Where the vocabulary comes from: a tokenizer.json, or a rank file with a
 * built-in pattern name. */
typedef struct BpeSource {
    const char *json;     /* -t FILE */
    const char *tiktoken; /* --tiktoken FILE */
    const char *pattern;  /* --pattern NAME, with --tiktoken */
} BpeSource;

/* Load what src names; caller frees with tok_free(). */
Tokenizer *bpe_load(const BpeSource *src, Err *e);

typedef struct BpeEncodeOpts {
    BpeSource src;
    DocOpts doc;
    CommonOpts common;
    const char *out;           /* NULL or "-": stdout */
    int allow_special;         /* special-token text becomes its id */
    int ids;                   /* decimal ids, one document a line, instead of a token stream */
    const char *const *inputs; /* n_inputs 0: stdin */
    size_t n_inputs;
} BpeEncodeOpts;

int bpe_encode(const BpeEncodeOpts *o, Err *e);

typedef struct BpeDecodeOpts {
    BpeSource src;
    CommonOpts common;
    const char *in, *out; /* token stream in ("-": stdin), text out */
    int ids;              /* in is decimal ids, one document a line (encode --ids), not a stream */
    int text;             /* 1: raw bytes; 0: JSON Lines {"text": ...} */
    const char *sep;      /* with text: a line written between documents */
} BpeDecodeOpts;

int bpe_decode(const BpeDecodeOpts *o, Err *e);

typedef struct BpeInfoOpts {
    BpeSource src;
    DocOpts doc;
    CommonOpts common;
    unsigned top;              /* most frequent tokens to list */
    int vocab;                 /* the vocabulary as a table (one token a line) instead */
    const char *const *inputs; /* documents to measure; none: only the tokenizer */
    size_t n_inputs;
} BpeInfoOpts;

int bpe_info(const BpeInfoOpts *o, Err *e);

/* A rank file + pattern -> tokenizer.json at out. */
int bpe_convert(const BpeSource *src, const char *out, CommonOpts common, Err *e);

/* The encode loop shared by encode and info: call fn for each document's ids,
 * in input order, whatever the thread count. fmt, when not NULL, runs first,
 * on the thread that encoded the document, and turns its ids into the bytes
 * to write, so that fn, the one part that runs on one thread, only writes
 * them: fmt may only read ctx (fn may change it meanwhile, as long as not
 * what fmt reads). fn runs while the next documents are encoded: it may
 * touch nothing but ctx. */
typedef struct BpeFormatted {
    Buf bytes;       /* fmt's output, emptied before each document */
    uint64_t n_docs; /* documents in bytes (a literal end-of-text splits one with --allow-special) */
} BpeFormatted;
typedef int (*BpeFormatFn)(const void *ctx, const uint32_t *ids, size_t n, BpeFormatted *f, Err *e);
/* f: what fmt made of the ids, NULL without fmt; with fmt, ids is NULL (n
 * still counts them) */
typedef int (*BpeDocFn)(void *ctx, const Doc *d, const uint32_t *ids, size_t n, const BpeFormatted *f,
                        Err *e);
int bpe_encode_docs(const Tokenizer *t, const DocOpts *doc, const char *const *inputs,
                    size_t n_inputs, unsigned threads, int allow_special, Progress *p, BpeFormatFn fmt,
                    BpeDocFn fn, void *ctx, uint64_t *n_bytes, Err *e);

#endif
