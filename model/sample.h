/* `model sample` (sample.c): text from a trained run, streamed to stdout.
 * args.c fills SampleOpts from argv; sample_run is the logic, which tests
 * call directly. The generation itself (sample_prompt_ids, sample_continue)
 * also serves the trainer's samples (model train --sample-every). */
#ifndef SAMPLE_H
#define SAMPLE_H

#include <stdint.h>

#include "cli.h"
#include "device.h"
#include "err.h"
#include "gpt2.h"
#include "infer.h"
#include "tokenizer.h"

typedef struct SampleOpts {
    const char *run_dir;  /* required */
    const char *ckpt;     /* NULL: RUN/latest's */
    const char *prompt;   /* NULL: none, start of a document */
    uint64_t max_tokens;
    double temperature;   /* 0: greedy */
    double top_p;         /* 1: all */
    int top_k;            /* 0: all */
    uint64_t seed;
    int keep_going;       /* do not stop at end-of-text */
    int no_cache;         /* full forward on the window for every token */
    CommonOpts common;
    DeviceOpts dev;
} SampleOpts;

/* Defaults for every field (256 tokens, temperature 1, seed 1337). */
void sample_opts_init(SampleOpts *o);
/* Sample; returns the exit status: 0, or 1 (data or I/O error, message in e). */
int sample_run(const SampleOpts *o, Err *e);

/* The ids a sample starts from, appended to ids: end-of-text when eot_id >= 0
 * (every document of the shards follows one), then prompt (NULL: none)
 * encoded with enc, each id checked to be below V. 0, or -1 with a message
 * that starts "--prompt: ". */
int sample_prompt_ids(TokEncoder *enc, int eot_id, const char *prompt, int V, IdBuf *ids, Err *e);

/* Where generated text goes, a token's bytes at a time (n may be 0): 0, or -1
 * with a message in e to stop. */
typedef int (*SampleEmit)(void *arg, const char *bytes, size_t n, Err *e);

/* Continue ids (at least one id, all below V) with up to o->max_tokens
 * tokens of model g, drawn as o says (temperature, top_k, top_p, seed,
 * keep_going), appending them to ids and emitting each one's bytes (decoded
 * with tok) as it comes. The model sees the last g->cfg.context ids. inf: a
 * KV cache of g (infer_new(g)); NULL: a forward of g (allocated for 1 x its
 * context) over the whole window for every token, the reference. Only g's
 * weights are read: a training model's weights, moments and gradients are
 * left as they were (its activations are not, when inf is NULL). *made: the
 * tokens drawn, an end-of-text that stopped it included; *stopped: 1 when it
 * stopped at end-of-text. 0, or -1 with a message. */
int sample_continue(Gpt *g, Infer *inf, const Tokenizer *tok, int eot_id, const SampleOpts *o, IdBuf *ids,
                    SampleEmit emit, void *arg, uint64_t *made, int *stopped, Err *e);

#endif
