/* bpe train: documents -> a byte-level BPE tokenizer.json. Unique pieces are
 * counted once (threads over documents), then merges are learned with pair
 * counts updated incrementally from a priority queue, touching only the
 * pieces a merge changes (the design of HF's BpeTrainer), with 64-bit counts. */
#ifndef TRAIN_H
#define TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "docio.h"
#include "err.h"

#define BPE_MAX_SPECIALS 64

typedef struct BpeTrainOpts {
    DocOpts doc;
    CommonOpts common;
    const char *out;
    uint32_t vocab_size;       /* all ids: 256 bytes + merges + specials */
    uint64_t min_frequency;    /* a pair seen fewer times is not merged */
    uint32_t max_token_length; /* bytes; 0: no limit */
    const char *specials[BPE_MAX_SPECIALS];
    size_t n_specials;
    const char *regex;         /* pre-tokenizer pattern */
    const char *classes;       /* a classes file, compiled to the pattern */
    int hf_compat;
    const char *const *inputs;
    size_t n_inputs;
} BpeTrainOpts;

void bpe_train_defaults(BpeTrainOpts *o);
int bpe_train(const BpeTrainOpts *o, Err *e);

#endif
