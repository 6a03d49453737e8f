/* Training data for `model train`: a folder of llm.c shards (train_*.bin and
 * val_*.bin, as packer writes them; any *.bin whose name has "val" in it is
 * validation) and an optional meta.json. Shards are memory-mapped; training
 * windows of T+1 tokens are visited in a seeded order, one permutation per epoch. */
#ifndef DATA_H
#define DATA_H

#include <stdint.h>

#include "err.h"
#include "tokfile.h"

/* What the folder says about itself (meta.json, else the shard headers). */
typedef struct DataMeta {
    int vocab_size, eot_id; /* 0 / -1 when nothing says */
    int context;            /* meta.json "context"; 0 when absent */
    int best_fit;           /* meta.json "window": "best-fit" */
    char tokenizer[4096];   /* path of the tokenizer copy, "" when none */
    uint64_t tok_fp;        /* meta.json "tokenizer_fingerprint"; 0 when absent or null */
} DataMeta;

typedef struct Shards {
    BinFile *files;
    char **paths;
    uint64_t *first_window; /* window number of each file's first window; [n] = total */
    int n;
    int T, stride;          /* window = tokens [i*stride, i*stride + T + 1) */
    uint64_t n_windows, n_tokens, unused_tokens;
} Shards;

/* Read meta.json (if any) and list the shards; check that their vocabularies
 * agree with each other and with meta.json, and that the tokenizer copy has
 * the fingerprint meta.json records (when it records one). train/val are filled with paths
 * only (no windows yet). Caller frees both with shards_free(). */
int data_scan(const char *dir, DataMeta *meta, Shards *train, Shards *val, Err *e);
/* Load the tokenizer at tok_path and compare its fingerprint with want, the
 * one recorded with the tokens of tokens_of (a data folder, a checkpoint):
 * -1 naming both when they differ (or the tokenizer does not load). */
int data_check_tokenizer(const char *tok_path, uint64_t want, const char *tokens_of, Err *e);
/* Map the shards and number their windows for context T. */
int shards_map(Shards *s, int T, int best_fit, Err *e);
void shards_free(Shards *s);
/* Window w: x = its first T tokens, y = the T after the first; every id must
 * be < vocab_size, else an error naming the file and offset. */
int shards_window(const Shards *s, uint64_t w, int vocab_size, int *x, int *y, Err *e);

/* Where training is in the data: window order is a seeded permutation of all
 * windows, redrawn for each epoch. */
typedef struct Loader {
    const Shards *s;
    uint64_t seed, epoch, index; /* index: next position in this epoch's order */
    uint32_t *order;
} Loader;

int loader_init(Loader *l, const Shards *s, uint64_t seed, uint64_t epoch, uint64_t index, Err *e);
/* B windows into x, y (B*T each), moving on to the next epoch as needed. */
int loader_next(Loader *l, int B, int vocab_size, int *x, int *y, Err *e);
/* Past B windows without reading them (the windows another rank trains on). */
void loader_skip(Loader *l, int B);
void loader_free(Loader *l);

/* Unigram entropy in nats of the ids of the first max_tokens tokens (0: all). */
double shards_unigram_entropy(const Shards *s, int vocab_size, uint64_t max_tokens);

#endif
