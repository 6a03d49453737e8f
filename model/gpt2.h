/* GPT-2 (learned positions, pre-LayerNorm blocks, causal multi-head attention,
 * tanh-GELU MLP, final LayerNorm, output tied to the token embedding): weights,
 * forward, backward and AdamW on one flat buffer each, run by a backend of
 * kernels.h (the CPU's results do not depend on the thread count). */
#ifndef GPT2_H
#define GPT2_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "kernels.h"

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

/* gpt_init's flags: GPT_TRAIN allocates gradients, AdamW moments and the
 * backward's scratch; GPT_RECOMPUTE keeps one layer of LayerNorm and GELU
 * outputs instead of every layer's and recomputes them in the backward (the
 * same kernels on the same inputs: the same bits, less memory);
 * GPT_NO_MASTER (training in bf16 only) keeps no float32 master weights: the
 * bf16 weights are the only copy, AdamW rounds its updates into them
 * stochastically (4 bytes a parameter less, slightly noisier steps). */
enum { GPT_TRAIN = 1, GPT_RECOMPUTE = 2, GPT_NO_MASTER = 4 };

/* Bytes the trainer allocates, by part, for micro-batches of B x T: on the
 * CPU (gpt_memory), or on backend k with gpt_init's flags (gpt_memory_for;
 * params then counts the float32 master weights and the working copy). */
typedef struct GptMemory {
    size_t params, grads, adam, acts, scratch, total;
} GptMemory;
void gpt_memory(const GptConfig *c, int B, int T, GptMemory *m);
void gpt_memory_for(const Kern *k, const GptConfig *c, int B, int T, int flags, GptMemory *m);

typedef struct Gpt {
    GptConfig cfg;
    int B, T;      /* the largest micro-batch the activations are sized for */
    int fwd_B, fwd_T; /* the shape of the last forward */
    int training;  /* gradients and AdamW moments allocated */
    int recompute; /* GPT_RECOMPUTE: one layer of LayerNorm and GELU outputs */
    size_t n_params;
    Kern *k;                          /* the backend (borrowed) */
    /* In the backend's memory (never dereference on the host): */
    float *params;                    /* float32 master weights, n_params; NULL with GPT_NO_MASTER */
    floatX *params_x;                 /* the weights in the working precision (== params in fp32) */
    float *grads, *m, *v;             /* grads n_params, m and v the moments of [mom_lo, mom_hi);
                                       * NULL when not training */
    size_t mom_lo, mom_hi;            /* the weights this process updates (ZeRO-1: its slice) */
    floatX *tensor[GPT_N_TENSORS];    /* views into params_x */
    float *grad[GPT_N_TENSORS];       /* views into grads */
    void *act_mem;                    /* the activations' one allocation */
    int *inputs, *targets;            /* (B,T) of the last forward */
    /* Host memory: */
    struct GptActs *act;              /* pointers into act_mem (gpt2.c) */
    float *losses_host;               /* (B,T) the last forward's losses, copied back */
    float loss;                       /* mean loss of the last forward with targets */
    uint64_t adam_step;               /* AdamW steps taken (bias correction) */
    float drop_p;                     /* dropout of the next forwards (gpt_set_dropout) */
    uint64_t drop_key;                /* the key of their masks */
    float drop_used;                  /* dropout the last forward applied: its backward's */
    float bwd_scale;                  /* gpt_set_backward's: the next forward with targets fuses it */
    float fused_scale;                /* the scale the last forward fused into the logits; 0: none */
} Gpt;

/* Allocate a model on backend k (borrowed) for micro-batches of up to B
 * sequences of up to T tokens (T <= context), parameters zero. flags: 0 for
 * only what a forward needs (sample, eval), GPT_TRAIN for training, with
 * GPT_RECOMPUTE for less memory. Caller frees with gpt_free(). */
int gpt_init(Gpt *g, const GptConfig *c, int B, int T, Kern *k, int flags, Err *e);
/* gpt_init for one of several ranks that share the optimizer (ZeRO-1): the
 * AdamW moments of weights [lo, hi) only, which gpt_adamw_apply updates. */
int gpt_init_slice(Gpt *g, const GptConfig *c, int B, int T, Kern *k, int flags, size_t lo, size_t hi, Err *e);
void gpt_free(Gpt *g);
/* GPT-2's initialisation: normal(0, 0.02), residual projections 0.02/sqrt(2L),
 * LayerNorm gains 1, biases 0; seeded, the same on every backend. Moments zero. */
int gpt_init_weights(Gpt *g, uint64_t seed, Err *e);

/* The weights in and out as n_params host floats, in the flat layout. */
void gpt_params_set(Gpt *g, const float *host);
void gpt_params_get(const Gpt *g, float *host);
/* The AdamW moments (a training model only), n_params host floats each, of
 * which [mom_lo, mom_hi) are the model's (the rest are neither read nor written). */
void gpt_moments_set(Gpt *g, const float *m, const float *v);
void gpt_moments_get(const Gpt *g, float *m, float *v);

/* Host views of the float32 weights and AdamW moments (a training model),
 * for checkpoints: on the CPU the model's own buffers, from a GPU host copies
 * that gpt_host_pull fills and gpt_host_push sends back (both do nothing on
 * the CPU). Caller frees with gpt_host_close(). */
typedef struct GptHost {
    float *params, *m, *v;
    float *owned; /* the copies' allocation, NULL on the CPU */
} GptHost;
int gpt_host_open(Gpt *g, GptHost *h, Err *e);
void gpt_host_pull(const Gpt *g, GptHost *h);
void gpt_host_push(Gpt *g, const GptHost *h);
void gpt_host_close(GptHost *h);

/* inputs (B,T) host ids < V, B <= g->B, T <= g->T. With targets: softmax,
 * per-position loss and g->loss. Without: the logits, which gpt_logits_get()
 * copies out. */
void gpt_forward(Gpt *g, const int *inputs, const int *targets, int B, int T);
/* Rows row0..row0+n_rows-1 of the last forward's logits (a forward without
 * targets), Vp floats each, into host memory. */
void gpt_logits_get(const Gpt *g, size_t row0, size_t n_rows, float *out);
void gpt_zero_grad(Gpt *g);
/* Announce the backward that follows every later forward with targets (0:
 * none, the default): the classifier then makes the gradient of the logits in
 * the forward's own pass instead of keeping probabilities for the backward.
 * The same results; less memory traffic. */
void gpt_set_backward(Gpt *g, float scale);
/* Add to the gradients those of scale * mean loss of the last forward (which
 * had targets): scale 1/k for one of k accumulated micro-batches. A forward
 * after gpt_set_backward(g, s) must be followed by scale s. */
void gpt_backward(Gpt *g, float scale);

typedef struct AdamOpts {
    float beta1, beta2, eps, weight_decay, clip; /* clip <= 0: none */
} AdamOpts;
/* Global-norm clipping then one AdamW step at rate lr (PyTorch's arithmetic).
 * Returns the gradient norm before clipping. */
float gpt_adamw_step(Gpt *g, const AdamOpts *o, float lr);
/* The parts of it for weights [mom_lo, mom_hi) (ZeRO-1): the squared norm of
 * those gradients, and the step on those weights given the norm of all. */
double gpt_grad_norm2_slice(Gpt *g);
void gpt_adamw_apply(Gpt *g, const AdamOpts *o, float lr, float norm);

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

/* The mask of one site: what the kernels take (kernels.h). */
KDrop gpt_dropout_site(uint64_t key, int layer, int site, float p);

/* A 64-bit generator (splitmix64) and normal draws, for init and data order. */
uint64_t gpt_rand_u64(uint64_t *state);
float gpt_rand_normal(uint64_t *state);

#endif
