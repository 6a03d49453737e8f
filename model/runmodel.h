/* A trained run as the read-only subcommands (sample, eval, export) see it:
 * RUN/latest's checkpoint (or a named one) loaded into a Gpt sized for the
 * batch the caller asks, and RUN/tokenizer.json. Training state (AdamW
 * moments, data order) is read because the checksum covers it, then ignored. */
#ifndef RUNMODEL_H
#define RUNMODEL_H

#include <limits.h>
#include <stdint.h>

#include "err.h"
#include "poolsize.h"
#include "gpt2.h"
#include "tokenizer.h"

typedef struct RunModel {
    GptConfig cfg;       /* context = the trained T */
    int eot_id;          /* -1: none */
    int micro_batch;     /* the trainer's, for evaluating in the same batches */
    int eval_batches;    /* the trainer's --eval-batches */
    int best_fit;        /* the training data's window mode */
    uint64_t step;       /* optimizer steps the checkpoint has */
    uint64_t tok_fp;     /* the fingerprint of the tokenizer it trained on; 0: not recorded */
    char ckpt[PATH_MAX]; /* the checkpoint read */
} RunModel;

/* Read RUN/latest (or ckpt_path when not NULL) and the shape in its header,
 * without the weights. Errors name the file. */
int runmodel_open(const char *run_dir, const char *ckpt_path, RunModel *rm, Err *e);
/* The weights of rm->ckpt (n_params floats, checksum verified) in host
 * memory; caller frees with free(). NULL with a message. */
float *runmodel_weights(const RunModel *rm, size_t n_params, Err *e);
/* Allocate g for forwards of up to B x T (T <= context) on backend k and read
 * the weights of rm->ckpt into it; no training state. Caller frees with
 * gpt_free(). */
int runmodel_load(const RunModel *rm, int B, int T, Kern *k, Gpt *g, Err *e);
/* RUN/tokenizer.json, checked to cover the model's vocabulary and to have the
 * fingerprint the checkpoint records (a checkpoint without one: a one-line
 * note on stderr, then accepted). Caller frees with tok_free(). */
Tokenizer *runmodel_tokenizer(const char *run_dir, const RunModel *rm, Err *e);
/* The same checks of the tokenizer at path (model eval --tokenizer FILE, or
 * the data folder's copy). */
Tokenizer *runmodel_tokenizer_at(const char *path, const RunModel *rm, Err *e);

#endif
