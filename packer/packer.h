/* packer: token streams (bpe encode's .tok) to llm.c training shards. Mixes
 * sources by weight, shuffles whole documents with a seed, splits train/val by
 * documents, and writes DIR/train_NNNNNN.bin, DIR/val_NNNNNN.bin, DIR/meta.json
 * and a copy of the tokenizer. main.c parses argv into PackOpts; everything else
 * is here, so that tests call packer_run() directly. */
#ifndef PACKER_H
#define PACKER_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "progress.h"

typedef enum { PACK_STREAM, PACK_BEST_FIT } PackWindow;

typedef struct PackInput {
    const char *path; /* "-": stdin */
    double weight;    /* >= 0; ignored unless has_weight */
    int has_weight;
    const char *const *more; /* n_more streams read after path as the same source (--concat) */
    size_t n_more;
    const char *name; /* the name in meta.json and the report; NULL: path */
} PackInput;

typedef struct PackOpts {
    const char *out_dir;
    const char *tokenizer; /* copied to out_dir/tokenizer.json; NULL: none */
    const char *tiktoken;  /* instead: a rank file, written as out_dir/tokenizer.json ... */
    const char *pattern;   /* ... with this built-in pattern (pretok_builtin name) */
    const PackInput *inputs;
    size_t n_inputs;
    uint64_t total_tokens; /* --tokens: train tokens in all; 0: every source once */
    double val_frac;       /* --val: this fraction of each source's tokens */
    uint64_t val_tokens;   /* --val-tokens: used instead of val_frac when val_by_tokens */
    int val_by_tokens;
    uint64_t context;      /* T; best-fit windows are T + 1 tokens */
    PackWindow window;
    uint64_t shard_tokens; /* tokens a shard at most (best-fit: rounded down to windows) */
    uint64_t seed;
    int no_shuffle;        /* keep input order (sources one after another) */
    uint64_t mem_bytes;    /* piped tokens held in memory before they spill to a file */
    int force;             /* replace packed data already in out_dir */
    ProgressMode progress;
    int catch_signals;     /* remove staged shards on SIGINT/SIGTERM/SIGHUP (main sets it) */
} PackOpts;

/* Entries of the packed order: a source index and a document index in it. */
#define PACK_DOC_BITS 40
#define PACK_ENTRY(src, doc) (((uint64_t)(src) << PACK_DOC_BITS) | (uint64_t)(doc))
#define PACK_ENTRY_SRC(x) ((size_t)((x) >> PACK_DOC_BITS))
#define PACK_ENTRY_DOC(x) ((x) & ((1ull << PACK_DOC_BITS) - 1))

/* Storage of a source's tokens while it is packed. */
typedef enum { PACK_STORE_MAPPED, PACK_STORE_MEMORY, PACK_STORE_SPILLED } PackStore;

/* Token counts count each document's end-of-text: a document of n ids packs
 * as n + 1 tokens. */
typedef struct PackSourceReport {
    const char *name;              /* the path as given (borrowed from PackOpts) */
    double weight;                 /* as given; 1 when no weights were given */
    uint64_t docs_in, tokens_in;   /* the stream as read */
    uint64_t val_docs, val_tokens; /* held out for validation */
    uint64_t pool_docs, pool_tokens; /* left for training: one epoch */
    uint64_t train_docs, train_tokens; /* packed for training, repeats included */
    uint64_t target_tokens;        /* the share of --tokens asked for (pool_tokens without it) */
    uint64_t max_doc_tokens;       /* the largest document (n + 1), for the share bound */
    uint64_t full_epochs;          /* whole passes over the pool */
    double epochs;                 /* train_tokens / pool_tokens */
    double share;                  /* train_tokens / all train tokens */
    double padding;                /* best-fit padding, split over the window's documents */
    PackStore store;
} PackSourceReport;

typedef struct PackReport {
    int keep_order; /* set before packer_run: keep train_order/val_order */
    size_t n_sources;
    PackSourceReport *sources;
    uint32_t vocab_size, eot_id, width;
    uint64_t fingerprint;                    /* the streams' tokenizer fingerprint; 0: none recorded */
    uint64_t train_tokens, val_tokens;       /* in the shards, padding included */
    uint64_t train_padding, val_padding;     /* best-fit padding tokens */
    uint64_t train_windows, val_windows;     /* best-fit windows */
    uint64_t split_docs;                     /* best-fit: documents longer than a window */
    size_t n_train_shards, n_val_shards;
    /* With keep_order: the documents in packed order (PACK_ENTRY values). In
     * best-fit mode this is the order before packing into windows. */
    uint64_t *train_order, *val_order;
    size_t n_train_order, n_val_order;
} PackReport;

/* Read every input, plan the mix and write the shards. 0; or, with e set and
 * nothing left in out_dir (no shard, no temporary file), -1 (bad data, I/O) or
 * 2 (bad usage: out_dir already holds packed data, and no --force). rep (may
 * be NULL) receives the counts; free it with packer_report_free(). */
int packer_run(const PackOpts *o, PackReport *rep, Err *e);
void packer_report_free(PackReport *rep);

/* Split "path:weight" at its last ':' when path itself is not an existing file.
 * 0: *in filled (path points into a copy the caller frees with free(in->path));
 * -1: the weight does not parse or is negative (e says so). */
int packer_parse_input(const char *arg, PackInput *in, Err *e);

#endif
