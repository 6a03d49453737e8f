/* Token files (formats in docs/formats.md):
 * - the token stream between `bpe encode` and `packer`: a 32-byte header, then
 *   little-endian ids, each document followed by end-of-text. Read and written
 *   sequentially, so it goes through pipes.
 * - llm.c's training shard (.bin): 256 int32 of header, then uint16 ids (magic
 *   20240520, version 1) or uint32 ids (magic 20240801, version 7). Memory-mapped. */
#ifndef TOKFILE_H
#define TOKFILE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

#define TOK_MAGIC "GPTKTOKS"
#define TOK_VERSION 2        /* 2 added the tokenizer's fingerprint at offset 24 */
#define TOK_VERSION_OLDEST 1 /* still read: its fingerprint reads as 0 */
#define TOK_HEADER_BYTES 32

typedef struct TokHeader {
    uint32_t version, width, vocab_size, eot_id; /* width: bytes per id, 2 or 4 */
    uint64_t fingerprint; /* tok_fingerprint() of the encoder; 0: not recorded */
} TokHeader;

typedef struct TokReader TokReader;

/* Open a token stream ("-" or NULL: stdin) and check its header. Caller frees
 * with tokr_close(). */
TokReader *tokr_open(const char *path, Err *e);
const TokHeader *tokr_header(const TokReader *r);
/* The next document's ids, end-of-text not included; *ids is borrowed until
 * the next call. 1: a document; 0: end of stream; -1: error (an id outside the
 * vocabulary, a partial id, or a last document with no end-of-text: truncated). */
int tokr_doc(TokReader *r, const uint32_t **ids, size_t *n, Err *e);
/* On-disk bytes read so far, for progress. */
uint64_t tokr_consumed(const TokReader *r);
void tokr_close(TokReader *r);

typedef struct TokWriter TokWriter;

/* Width is 2 bytes when every id fits (vocab_size <= 65536), else 4.
 * fingerprint: the tokenizer's (tok_fingerprint), 0 when there is none. */
TokWriter *tokw_open(const char *path, uint32_t vocab_size, uint32_t eot_id, uint64_t fingerprint,
                     Err *e);
/* Write one document: ids[0..n) then end-of-text. Ids must be < vocab_size and
 * none may be end-of-text, which would split the document. */
int tokw_doc(TokWriter *w, const uint32_t *ids, size_t n, Err *e);
/* tokw_doc in two halves, for threads that encode documents side by side:
 * tokw_format appends to out the bytes that tokw_doc would write for ids
 * (same checks, same errors) and only reads w, so any thread may call it;
 * tokw_raw writes such bytes, documents in order, on one thread. */
int tokw_format(const TokWriter *w, const uint32_t *ids, size_t n, Buf *out, Err *e);
int tokw_raw(TokWriter *w, const void *p, size_t n, Err *e);
int tokw_close(TokWriter *w, Err *e);
void tokw_abort(TokWriter *w);

#define BIN_HEADER_INTS 256
#define BIN_HEADER_BYTES (BIN_HEADER_INTS * 4)
#define BIN_MAGIC_U16 20240520
#define BIN_VERSION_U16 1
#define BIN_MAGIC_U32 20240801
#define BIN_VERSION_U32 7
#define BIN_MAX_TOKENS 2147483647u /* llm.c keeps the count in an int32 */

typedef struct BinFile {
    const char *path; /* borrowed */
    void *map;
    size_t map_bytes;
    const void *tokens; /* n_tokens ids of width bytes, little-endian */
    uint32_t width, vocab_size, eot_id; /* vocab_size, eot_id: 0 when the file doesn't say */
    uint64_t n_tokens;
} BinFile;

/* Map a shard and check magic, version and that its size is exactly
 * 1024 + width * count. bin_close() unmaps. */
int bin_open(BinFile *b, const char *path, Err *e);
void bin_close(BinFile *b);
static inline uint32_t bin_token(const BinFile *b, uint64_t i)
{
    return b->width == 2 ? ((const uint16_t *)b->tokens)[i] : ((const uint32_t *)b->tokens)[i];
}

typedef struct BinWriter BinWriter;

/* A shard at path (a file: the count is written into the header at the end).
 * width 2 (llm.c's GPT-2 format) or 4 (its uint32 variant). */
BinWriter *binw_open(const char *path, uint32_t width, uint32_t vocab_size, uint32_t eot_id,
                     Err *e);
int binw_write(BinWriter *w, const uint32_t *ids, size_t n, Err *e);
/* ids already in the shard's width (uint16 or uint32, little-endian) and
 * already checked against the vocabulary, e.g. straight from a token stream. */
int binw_write_raw(BinWriter *w, const void *ids, size_t n, Err *e);
int binw_close(BinWriter *w, Err *e);
void binw_abort(BinWriter *w);

#endif
