/* Inference with a KV cache for `model sample`: the keys and values of every
 * position already seen are kept per layer, so a new token costs one row of
 * the model (embedding, LayerNorms, QKV, attention over the cached positions,
 * MLP, final LayerNorm, one logits row) instead of a forward over the whole
 * window. Reads the weights of a Gpt (gpt2.h); never writes them. */
#ifndef INFER_H
#define INFER_H

#include "err.h"
#include "gpt2.h"

typedef struct Infer Infer;

/* A cache for up to g->cfg.context positions of model g (borrowed, with its
 * backend, until infer_free; only its weights and backend are used, so g may have
 * been allocated for T = 1). Empty at first. NULL with a message when out of
 * memory. Caller frees with infer_free(). */
Infer *infer_new(const Gpt *g, Err *e);
void infer_free(Infer *inf);
/* Bytes infer_new allocates for model shape c on backend k (in the
 * backend's memory, and the window's ids and one row of logits on the
 * host): what a plan adds for a cache. */
size_t infer_memory(const Kern *k, const GptConfig *c);
/* Forget every cached position. */
void infer_reset(Infer *inf);
/* Positions cached. */
int infer_len(const Infer *inf);

/* Append token (< V) at position infer_len() (which must be < context) and
 * return the logits of that position: V floats, valid until the next call. */
const float *infer_step(Infer *inf, int token);

/* The logits of the last position of window[0..n) (1 <= n <= context) seen
 * from position 0, as gpt_forward on that window gives them: the cached
 * positions that hold the window's first tokens are kept and only the rest
 * are computed (in one batch, with sgemm). A window that does not extend the
 * cache (the oldest token slid out: every position moved) rebuilds it from
 * position 0. V floats, valid until the next call. */
const float *infer_window(Infer *inf, const int *window, int n);

#endif
