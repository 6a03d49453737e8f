/* GPT-2 inference with a KV cache: n new rows at positions len..len+n-1 go
 * through the model, their keys and values are appended to the cache
 * (L, context, C) and their queries attend to every cached position up to
 * their own. One row (sampling) uses cblas_sgemv; several (a prompt, or a
 * rebuild after the window slid) use cblas_sgemm. Only the last row gets
 * logits. No dropout, no training state: gpt2.c stays the reference, and
 * tests/model/test_infer.c checks these logits against gpt_forward's. */
#include "infer.h"
#include "vmath.h"

#include <assert.h>
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A product is split into column pieces (run on the model's pool) when it has
 * at least this many weights: the vocabulary, the MLP of wide models. The
 * pieces depend on the shape only, so any -j gives the same bits. */
#define SPLIT_WEIGHTS (1 << 18)
#define SPLIT_MAX 16

struct Infer {
    const Gpt *g;
    int L, C, NH, M, V, max_T;
    int len;                   /* positions cached */
    int *tokens;               /* (max_T) the token at each cached position */
    float *kc, *vc;            /* (L, max_T, C) keys and values */
    float *x, *h, *qkv, *y, *tmp, *fch, *fchg; /* (max_T, C|3C|M) scratch for the new rows */
    float *att;                /* (max_T, max_T) one head's scores */
    float *logits;             /* (V) */
    float *mem;
};

Infer *infer_new(const Gpt *g, Err *e)
{
    const GptConfig *c = &g->cfg;
    Infer *inf = calloc(1, sizeof *inf);
    if (!inf) goto oom;
    inf->g = g;
    inf->L = c->n_layer;
    inf->C = c->n_embd;
    inf->NH = c->n_head;
    inf->M = c->n_mlp;
    inf->V = c->vocab_size;
    inf->max_T = c->context;
    size_t T = (size_t)c->context, C = (size_t)c->n_embd, M = (size_t)c->n_mlp;
    size_t n = 2 * (size_t)inf->L * T * C           /* kc, vc */
             + T * C * 4 + T * 3 * C + 2 * T * M    /* x h y tmp, qkv, fch fchg */
             + T * T + (size_t)inf->V;              /* att, logits */
    if (!(inf->mem = malloc(n * sizeof(float))) || !(inf->tokens = malloc(T * sizeof(int)))) goto oom;
    float *p = inf->mem;
    inf->kc = p, p += (size_t)inf->L * T * C;
    inf->vc = p, p += (size_t)inf->L * T * C;
    inf->x = p, p += T * C;
    inf->h = p, p += T * C;
    inf->y = p, p += T * C;
    inf->tmp = p, p += T * C;
    inf->qkv = p, p += T * 3 * C;
    inf->fch = p, p += T * M;
    inf->fchg = p, p += T * M;
    inf->att = p, p += T * T;
    inf->logits = p;
    return inf;
oom:
    infer_free(inf);
    err_set(e, "out of memory for the KV cache (%d positions)", c->context);
    return NULL;
}

void infer_free(Infer *inf)
{
    if (!inf) return;
    free(inf->mem);
    free(inf->tokens);
    free(inf);
}

void infer_reset(Infer *inf) { inf->len = 0; }

int infer_len(const Infer *inf) { return inf->len; }

/* ---- out (n,oc) = inp (n,k) W (oc,k)^T + bias, in fixed column pieces ---- */

typedef struct Lin {
    float *out;
    const float *inp, *w, *bias;
    int n, k, oc, chunk;
} Lin;

static void lin_task(void *ctx, size_t task)
{
    const Lin *m = ctx;
    int c0 = (int)task * m->chunk, cols = m->oc - c0 < m->chunk ? m->oc - c0 : m->chunk;
    float beta = 0.0f;
    if (m->bias) {
        for (int r = 0; r < m->n; r++) memcpy(m->out + (size_t)r * m->oc + c0, m->bias + c0, cols * sizeof(float));
        beta = 1.0f;
    }
    if (m->n == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, cols, m->k, 1.0f, m->w + (size_t)c0 * m->k, m->k, m->inp, 1,
                    beta, m->out + c0, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m->n, cols, m->k, 1.0f, m->inp, m->k,
                    m->w + (size_t)c0 * m->k, m->k, beta, m->out + c0, m->oc);
}

static void linear(const Infer *inf, float *out, const float *inp, const float *w, const float *bias, int n,
                   int k, int oc)
{
    Lin m = { .out = out, .inp = inp, .w = w, .bias = bias, .n = n, .k = k, .oc = oc, .chunk = oc };
    size_t weights = (size_t)k * oc, pieces = weights / SPLIT_WEIGHTS;
    if (pieces > SPLIT_MAX) pieces = SPLIT_MAX;
    if (pieces < 2) {
        lin_task(&m, 0);
        return;
    }
    m.chunk = (int)(((size_t)oc + pieces - 1) / pieces + 15) / 16 * 16;
    gpool_run(inf->g->pool, (size_t)((oc + m.chunk - 1) / m.chunk), lin_task, &m);
}

/* LayerNorm of n rows over C, eps 1e-5: gpt2.c's arithmetic. */
static void layernorm(float *out, const float *inp, const float *w, const float *b, int n, int c)
{
    for (int r = 0; r < n; r++) {
        const float *x = inp + (size_t)r * c;
        float *o = out + (size_t)r * c;
        float m = 0.0f, v = 0.0f;
        for (int i = 0; i < c; i++) m += x[i];
        m /= (float)c;
        for (int i = 0; i < c; i++) v += (x[i] - m) * (x[i] - m);
        v /= (float)c;
        float s = 1.0f / sqrtf(v + 1e-5f);
        for (int i = 0; i < c; i++) o[i] = (x[i] - m) * s * w[i] + b[i];
    }
}

/* y (n,C) = causal attention of the n new rows (queries in qkv) over the
 * cached keys and values of layer l, positions 0..p0+n-1 (row i sees up to
 * p0+i). Per head: scores by sgemv/sgemm, softmax, then the weighted values. */
static void attention(Infer *inf, int l, int p0, int n)
{
    int C = inf->C, NH = inf->NH, hs = C / NH, S = p0 + n;
    float scale = 1.0f / sqrtf((float)hs);
    const float *kl = inf->kc + (size_t)l * inf->max_T * C, *vl = inf->vc + (size_t)l * inf->max_T * C;
    for (int hd = 0; hd < NH; hd++) {
        const float *q = inf->qkv + hd * hs, *k = kl + hd * hs, *v = vl + hd * hs;
        float *y = inf->y + hd * hs;
        if (n == 1) {
            cblas_sgemv(CblasRowMajor, CblasNoTrans, S, hs, scale, k, C, q, 1, 0.0f, inf->att, 1);
            float sum = vm_exp_sum(inf->att, (size_t)S, vm_max(inf->att, (size_t)S));
            vm_scale(inf->att, (size_t)S, 1.0f / sum);
            cblas_sgemv(CblasRowMajor, CblasTrans, S, hs, 1.0f, v, C, inf->att, 1, 0.0f, y, 1);
            continue;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, S, hs, scale, q, 3 * C, k, C, 0.0f, inf->att, S);
        for (int i = 0; i < n; i++) {
            float *row = inf->att + (size_t)i * S;
            int seen = p0 + i + 1;
            float sum = vm_exp_sum(row, (size_t)seen, vm_max(row, (size_t)seen));
            vm_scale(row, (size_t)seen, 1.0f / sum);
            for (int s = seen; s < S; s++) row[s] = 0.0f;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, hs, S, 1.0f, inf->att, S, v, C, 0.0f, y, C);
    }
}

/* Run tokens[0..n) at positions len..len+n-1, append them to the cache, and
 * return the logits of the last. */
static const float *forward_rows(Infer *inf, const int *tokens, int n)
{
    const Gpt *g = inf->g;
    const int C = inf->C, M = inf->M, p0 = inf->len;
    const size_t nc = (size_t)n * C;
    for (int i = 0; i < n; i++) {
        const float *te = g->tensor[GPT_WTE] + (size_t)tokens[i] * C;
        const float *pe = g->tensor[GPT_WPE] + (size_t)(p0 + i) * C;
        float *x = inf->x + (size_t)i * C;
        for (int j = 0; j < C; j++) x[j] = te[j] + pe[j];
        inf->tokens[p0 + i] = tokens[i];
    }
    for (int l = 0; l < inf->L; l++) {
        layernorm(inf->h, inf->x, g->tensor[GPT_LN1W] + (size_t)l * C, g->tensor[GPT_LN1B] + (size_t)l * C, n, C);
        linear(inf, inf->qkv, inf->h, g->tensor[GPT_QKVW] + (size_t)l * 3 * C * C,
               g->tensor[GPT_QKVB] + (size_t)l * 3 * C, n, C, 3 * C);
        float *kl = inf->kc + ((size_t)l * inf->max_T + p0) * C, *vl = inf->vc + ((size_t)l * inf->max_T + p0) * C;
        for (int i = 0; i < n; i++) {
            memcpy(kl + (size_t)i * C, inf->qkv + (size_t)i * 3 * C + C, C * sizeof(float));
            memcpy(vl + (size_t)i * C, inf->qkv + (size_t)i * 3 * C + 2 * C, C * sizeof(float));
        }
        attention(inf, l, p0, n);
        linear(inf, inf->tmp, inf->y, g->tensor[GPT_ATTPROJW] + (size_t)l * C * C,
               g->tensor[GPT_ATTPROJB] + (size_t)l * C, n, C, C);
        for (size_t i = 0; i < nc; i++) inf->x[i] += inf->tmp[i];
        layernorm(inf->h, inf->x, g->tensor[GPT_LN2W] + (size_t)l * C, g->tensor[GPT_LN2B] + (size_t)l * C, n, C);
        linear(inf, inf->fch, inf->h, g->tensor[GPT_FCW] + (size_t)l * M * C, g->tensor[GPT_FCB] + (size_t)l * M,
               n, C, M);
        vm_gelu(inf->fchg, inf->fch, (size_t)n * M);
        linear(inf, inf->tmp, inf->fchg, g->tensor[GPT_FCPROJW] + (size_t)l * C * M,
               g->tensor[GPT_FCPROJB] + (size_t)l * C, n, M, C);
        for (size_t i = 0; i < nc; i++) inf->x[i] += inf->tmp[i];
    }
    inf->len = p0 + n;
    const float *last = inf->x + (size_t)(n - 1) * C;
    layernorm(inf->h, last, g->tensor[GPT_LNFW], g->tensor[GPT_LNFB], 1, C);
    /* the tied output layer, over the V real rows only (the padding is zero) */
    linear(inf, inf->logits, inf->h, g->tensor[GPT_WTE], NULL, 1, C, inf->V);
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
