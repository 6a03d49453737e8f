/* GPT-2 (learned positions, pre-LayerNorm blocks, causal multi-head attention,
 * tanh-GELU MLP, final LayerNorm, output tied to the token embedding): weights,
 * forward, backward and AdamW on one flat buffer each. Matrix products go
 * through cblas_sgemm in fixed tasks on our pool (OpenBLAS single-threaded),
 * the rest is threaded C; results do not depend on the thread count. */
#ifndef GPT2_H
#define GPT2_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "gpool.h"

typedef struct GptConfig {
    int n_layer, n_embd, n_head, n_mlp; /* L, C, NH, M (hidden width of the MLP) */
    int vocab_size;                     /* V: ids the data uses */
    int padded_vocab;                   /* Vp: V rounded up to 64, never visible outside */
    int context;                        /* longest T: rows of the position embedding */
} GptConfig;

/* Fill padded_vocab; check the shape. 0, or -1 with a message. */
int gpt_config_check(GptConfig *c, Err *e);

/* The parameter tensors, in the order they lie in the flat buffer. */
enum {
    GPT_WTE, GPT_WPE, GPT_LN1W, GPT_LN1B, GPT_QKVW, GPT_QKVB, GPT_ATTPROJW, GPT_ATTPROJB,
    GPT_LN2W, GPT_LN2B, GPT_FCW, GPT_FCB, GPT_FCPROJW, GPT_FCPROJB, GPT_LNFW, GPT_LNFB,
    GPT_N_TENSORS
};
const char *gpt_tensor_name(int i);
/* Weight decay applies to matrices and embeddings, not biases or LayerNorm gains. */
int gpt_tensor_decays(int i);
/* Element counts of each tensor (wte with Vp rows: its padding rows stay zero). */
void gpt_tensor_sizes(const GptConfig *c, size_t sizes[GPT_N_TENSORS]);
size_t gpt_n_params(const GptConfig *c);      /* as stored (padded vocabulary) */
size_t gpt_n_params_real(const GptConfig *c); /* what a user counts (vocabulary V) */
/* Floating-point operations for one trained token (forward + backward):
 * 6 N + 12 L C T, N the parameters without the position embedding (PaLM's rule). */
double gpt_flops_per_token(const GptConfig *c, int T);

/* Bytes the trainer allocates, by part, for micro-batches of B x T. */
typedef struct GptMemory {
    size_t params, grads, adam, acts, scratch, total;
} GptMemory;
void gpt_memory(const GptConfig *c, int B, int T, GptMemory *m);

typedef struct Gpt {
    GptConfig cfg;
    int B, T; /* micro-batch shape the activations are sized for */
    size_t n_params;
    float *params, *grads, *m, *v;       /* n_params each: one allocation */
    float *tensor[GPT_N_TENSORS];        /* views into params */
    float *grad[GPT_N_TENSORS];          /* views into grads */
    struct GptActs *act;                  /* activations and backward scratch (gpt2.c) */
    float *act_mem;                       /* their one allocation */
    size_t n_adam_tasks;                  /* fixed chunks of the flat buffers (gpt2.c) */
    struct AdamTask *adam_tasks;
    int *inputs, *targets;                /* (B,T) of the last forward */
    GPool *pool;
    float loss;                           /* mean loss of the last forward with targets */
    uint64_t adam_step;                   /* AdamW steps taken (bias correction) */
    float drop_p;                         /* dropout of the next forwards (gpt_set_dropout) */
    uint64_t drop_key;                    /* the key of their masks */
    float drop_used;                      /* dropout the last forward applied: its backward's */
} Gpt;

/* Allocate a model for micro-batches of B sequences of T tokens (T <= context),
 * parameters zero. pool is borrowed. Caller frees with gpt_free(). */
int gpt_init(Gpt *g, const GptConfig *c, int B, int T, GPool *pool, Err *e);
void gpt_free(Gpt *g);
/* GPT-2's initialisation: normal(0, 0.02), residual projections 0.02/sqrt(2L),
 * LayerNorm gains 1, biases 0; seeded, the same for any thread count. */
void gpt_init_weights(Gpt *g, uint64_t seed);

/* inputs (B,T) ids < V. With targets: softmax, per-position loss and g->loss
 * (the logits buffer then holds probabilities). Without: the logits, which
 * gpt_logits() shows as (B,T,Vp). */
void gpt_forward(Gpt *g, const int *inputs, const int *targets);
const float *gpt_logits(const Gpt *g);
void gpt_zero_grad(Gpt *g);
/* Add to the gradients those of scale * mean loss of the last forward (which
 * had targets): scale 1/k for one of k accumulated micro-batches. */
void gpt_backward(Gpt *g, float scale);

typedef struct AdamOpts {
    float beta1, beta2, eps, weight_decay, clip; /* clip <= 0: none */
} AdamOpts;
/* Global-norm clipping then one AdamW step at rate lr (PyTorch's arithmetic).
 * Returns the gradient norm before clipping. */
float gpt_adamw_step(Gpt *g, const AdamOpts *o, float lr);

/* Dropout (inverted: kept values scaled by 1/(1-p)) where GPT-2 applies it:
 * the token + position embedding sum, the attention probabilities, and the
 * outputs of the attention and MLP projections before their residual adds.
 * Every later gpt_forward uses it, with or without targets, until it is set
 * again; gpt_init leaves p 0, and p 0 runs exactly the code without dropout.
 * A mask is a hash of (key, layer, site, element index): no state to save,
 * the same bits for any thread count, and gpt_backward recomputes it. */
void gpt_set_dropout(Gpt *g, float p, uint64_t key);
/* The trainer's key for micro-batch `micro` of optimizer step `step` (0-based)
 * of a run seeded `seed`: a resumed run draws the same masks. */
uint64_t gpt_dropout_key(uint64_t seed, uint64_t step, uint64_t micro);
/* Whether element i of a mask is kept (tests replicate the masks with it).
 * site: 0 embedding (B,T,C), 1 attention (B,NH,T,T), 2 attention projection
 * (B,T,C), 3 MLP projection (B,T,C); layer 0 for the embedding. */
int gpt_dropout_keeps(uint64_t key, int layer, int site, uint64_t i, float p);

/* A 64-bit generator (splitmix64) and normal draws, for init and data order. */
uint64_t gpt_rand_u64(uint64_t *state);
float gpt_rand_normal(uint64_t *state);

#endif
