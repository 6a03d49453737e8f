/* GPT-2 inference with a KV cache: n new rows at positions len..len+n-1 go
 * through the model on the same kernels as training (kernels.h), their keys
 * and values are appended to the cache (L, context, C) and their queries
 * attend to every cached position up to their own. Only the last row gets
 * logits. No dropout, no training state; tests/model/test_infer.c checks these
 * logits against gpt_forward's. */
#include "infer.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

struct Infer {
    const Gpt *g;
    Kern *k;
    int L, C, NH, M, V, max_T;
    int len;                   /* positions cached */
    int *tokens;               /* (max_T) host: the token at each cached position */
    /* in the backend's memory: */
    floatX *kc, *vc;           /* X (L, max_T, C) keys and values */
    floatX *x, *h, *qkv, *y, *fch, *fchg; /* X (max_T, C|3C|M) the new rows */
    float *mean, *rstd;        /* F (max_T) LayerNorm statistics, unused after */
    float *att;                /* F attention_cached_scratch */
    int *ids;                  /* (max_T) the new rows' tokens */
    floatX *logits_x;          /* X (V) */
    void *mem;
    float *logits;             /* (V) host */
};

/* The bytes of each part of the cache's one allocation, in the order
 * infer_new lays them out: keys, values, the new rows (x, h, y, qkv, fch,
 * fchg), LayerNorm statistics, attention scratch, ids, the logits row. */
enum { N_PARTS = 13 };
static void part_bytes(const Kern *k, const GptConfig *c, size_t b[N_PARTS])
{
    size_t L = (size_t)c->n_layer, T = (size_t)c->context, C = (size_t)c->n_embd, M = (size_t)c->n_mlp;
    size_t xb = kern_x_bytes(k);
    size_t parts[N_PARTS] = { L * T * C * xb, L * T * C * xb, T * C * xb, T * C * xb, T * C * xb, T * 3 * C * xb,
                              T * M * xb, T * M * xb, T * sizeof(float), T * sizeof(float),
                              k->ops->attention_cached_scratch(k, (int)T) * sizeof(float), T * sizeof(int),
                              (size_t)c->vocab_size * xb };
    for (int i = 0; i < N_PARTS; i++) b[i] = (parts[i] + 255) / 256 * 256;
}

size_t infer_memory(const Kern *k, const GptConfig *c)
{
    size_t b[N_PARTS], n = 0;
    part_bytes(k, c, b);
    for (int i = 0; i < N_PARTS; i++) n += b[i];
    return n + (size_t)c->context * sizeof(int) + (size_t)c->vocab_size * sizeof(float); /* + the host arrays */
}

Infer *infer_new(const Gpt *g, Err *e)
{
    const GptConfig *c = &g->cfg;
    Infer *inf = calloc(1, sizeof *inf);
    if (!inf) goto oom;
    inf->g = g;
    inf->k = g->k;
    inf->L = c->n_layer;
    inf->C = c->n_embd;
    inf->NH = c->n_head;
    inf->M = c->n_mlp;
    inf->V = c->vocab_size;
    inf->max_T = c->context;
    void *ptrs[N_PARTS] = { &inf->kc, &inf->vc, &inf->x, &inf->h, &inf->y, &inf->qkv, &inf->fch, &inf->fchg,
                            &inf->mean, &inf->rstd, &inf->att, &inf->ids, &inf->logits_x };
    size_t b[N_PARTS], n = 0;
    part_bytes(g->k, c, b);
    for (int i = 0; i < N_PARTS; i++) n += b[i];
    if (!(inf->mem = g->k->ops->alloc(g->k, n)) || !(inf->tokens = malloc((size_t)c->context * sizeof(int))) ||
        !(inf->logits = malloc((size_t)inf->V * sizeof(float))))
        goto oom;
    char *p = inf->mem;
    for (int i = 0; i < N_PARTS; i++) {
        *(void **)ptrs[i] = p;
        p += b[i];
    }
    return inf;
oom:
    infer_free(inf);
    err_set(e, "out of memory for the KV cache (%d positions)", c->context);
    return NULL;
}

void infer_free(Infer *inf)
{
    if (!inf) return;
    if (inf->mem) inf->k->ops->release(inf->k, inf->mem);
    free(inf->tokens);
    free(inf->logits);
    free(inf);
}

void infer_reset(Infer *inf) { inf->len = 0; }

int infer_len(const Infer *inf) { return inf->len; }

#define XAT(p, i) ((floatX *)((char *)(p) + (size_t)(i) * xb))

/* Run tokens[0..n) at positions len..len+n-1, append them to the cache, and
 * return the logits of the last. */
static const float *forward_rows(Infer *inf, const int *tokens, int n)
{
    const Gpt *g = inf->g;
    Kern *k = inf->k;
    const KernOps *o = k->ops;
    const size_t xb = kern_x_bytes(k);
    const int C = inf->C, M = inf->M, NH = inf->NH, p0 = inf->len;
    floatX *const *w = g->tensor;
    memcpy(inf->tokens + p0, tokens, (size_t)n * sizeof(int));
    o->upload(k, inf->ids, tokens, (size_t)n * sizeof(int));
    /* positions p0.. : the position table from row p0 */
    o->encoder_forward(k, inf->x, inf->ids, w[GPT_WTE], XAT(w[GPT_WPE], (size_t)p0 * C), 1, n, C);
    for (int l = 0; l < inf->L; l++) {
        size_t cache = (size_t)l * inf->max_T * C;
        o->layernorm_forward(k, inf->h, inf->mean, inf->rstd, inf->x, XAT(w[GPT_LN1W], (size_t)l * C),
                             XAT(w[GPT_LN1B], (size_t)l * C), n, C);
        o->matmul_forward(k, inf->qkv, inf->h, XAT(w[GPT_QKVW], (size_t)l * 3 * C * C),
                          XAT(w[GPT_QKVB], (size_t)l * 3 * C), NULL, n, C, 3 * C);
        o->attention_cached(k, inf->y, XAT(inf->kc, cache), XAT(inf->vc, cache), inf->qkv, n, p0, C, NH, inf->att);
        o->matmul_forward(k, inf->x, inf->y, XAT(w[GPT_ATTPROJW], (size_t)l * C * C),
                          XAT(w[GPT_ATTPROJB], (size_t)l * C), inf->x, n, C, C);
        o->layernorm_forward(k, inf->h, inf->mean, inf->rstd, inf->x, XAT(w[GPT_LN2W], (size_t)l * C),
                             XAT(w[GPT_LN2B], (size_t)l * C), n, C);
        o->matmul_forward(k, inf->fch, inf->h, XAT(w[GPT_FCW], (size_t)l * M * C), XAT(w[GPT_FCB], (size_t)l * M),
                          NULL, n, C, M);
        o->gelu_forward(k, inf->fchg, inf->fch, (size_t)n * M);
        o->matmul_forward(k, inf->x, inf->fchg, XAT(w[GPT_FCPROJW], (size_t)l * C * M),
                          XAT(w[GPT_FCPROJB], (size_t)l * C), inf->x, n, M, C);
    }
    inf->len = p0 + n;
    o->layernorm_forward(k, inf->h, inf->mean, inf->rstd, XAT(inf->x, (size_t)(n - 1) * C), w[GPT_LNFW],
                         w[GPT_LNFB], 1, C);
    /* the tied output layer, over the V real rows only (the padding is zero) */
    o->matmul_forward(k, inf->logits_x, inf->h, w[GPT_WTE], NULL, NULL, 1, C, inf->V);
    if (xb == sizeof(float)) o->download(k, inf->logits, inf->logits_x, (size_t)inf->V * sizeof(float));
    else o->download_x(k, inf->logits, inf->logits_x, (size_t)inf->V);
    return inf->logits;
}

const float *infer_step(Infer *inf, int token)
{
    assert(inf->len < inf->max_T && token >= 0 && token < inf->V);
    return forward_rows(inf, &token, 1);
}

const float *infer_window(Infer *inf, const int *window, int n)
{
    /* keep the cached positions that hold the window's first tokens (the same
     * tokens at the same positions give the same keys and values); at least
     * the last row is recomputed, for its logits */
    assert(n >= 1 && n <= inf->max_T);
    int keep = 0;
    while (keep < inf->len && keep < n - 1 && inf->tokens[keep] == window[keep]) keep++;
    inf->len = keep;
    return forward_rows(inf, window + keep, n - keep);
}
