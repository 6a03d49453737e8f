/* Helpers the model tests share (test_gpt2.c, test_dropout.c, test_infer.c):
 * writing the exchange files, tensor sizes as PyTorch sees them, relative
 * error, and a random batch shifted by one as the trainer feeds it. */
#ifndef PARITY_H
#define PARITY_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../model/gpt2.h"

/* A model on the CPU backend of pool, weights initialised with seed; exits on
 * failure. The kernel table goes in *k: free it with kern_free after gpt_free. */
static inline void cpu_model(Gpt *g, Kern *k, const GptConfig *cfg, int B, int T, GPool *pool, int training,
                             uint64_t seed)
{
    Err e = { { 0 } };
    if (kern_cpu_init(k, pool, &e) || gpt_init(g, cfg, B, T, k, training, &e) || gpt_init_weights(g, seed, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        exit(2);
    }
}

/* The logits of the last forward (rows x Vp) in a new host buffer; caller frees. */
static inline float *logits_copy(const Gpt *g, size_t rows)
{
    float *lg = malloc(rows * g->cfg.padded_vocab * sizeof *lg);
    if (!lg) { perror("malloc"); exit(2); }
    gpt_logits_get(g, 0, rows, lg);
    return lg;
}

static inline void put(FILE *f, const void *p, size_t n)
{
    if (fwrite(p, 1, n, f) != n) { perror("write"); exit(2); }
}

/* Open the exchange file ref_gpt2.py reads and write its head: int32 [L, C,
 * NH, M, V, context, B, T, steps, micro, warmup] and float64 [lr, min_frac,
 * beta1, beta2, eps, weight_decay, clip]. Exits on failure. */
static inline FILE *ref_open(const char *path, const int32_t hdr[11], const double hyper[7])
{
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); exit(2); }
    put(f, hdr, 11 * sizeof *hdr);
    put(f, hyper, 7 * sizeof *hyper);
    return f;
}

/* A parameter tensor as PyTorch sees it: wte without its padding rows. */
static inline size_t real_size(const GptConfig *c, int i)
{
    size_t s[GPT_N_TENSORS];
    gpt_tensor_sizes(c, s);
    return i == GPT_WTE ? (size_t)c->vocab_size * c->n_embd : s[i];
}

static inline double rel_err(const float *a, const float *ref, size_t n)
{
    double d = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        d += ((double)a[i] - ref[i]) * ((double)a[i] - ref[i]);
        r += (double)ref[i] * ref[i];
    }
    return sqrt(d) / (sqrt(r) + 1e-30);
}

/* b_seqs sequences of t_len + 1 random ids < vocab, as inputs x and targets y
 * (each (b_seqs, t_len)). */
static inline void random_tokens(uint64_t *st, int *x, int *y, int b_seqs, int t_len, int vocab)
{
    for (int b = 0; b < b_seqs; b++) {
        int prev = (int)(gpt_rand_u64(st) % (uint64_t)vocab);
        for (int t = 0; t < t_len; t++) {
            int next = (int)(gpt_rand_u64(st) % (uint64_t)vocab);
            x[b * t_len + t] = prev;
            y[b * t_len + t] = next;
            prev = next;
        }
    }
}

#endif
