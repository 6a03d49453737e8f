/* GPT-2 forward, backward and AdamW on flat float buffers, after llm.c's
 * train_gpt2.c: the same tensors and shapes, but matrix products through
 * cblas_sgemm, activation gradients kept for one layer at a time, and every
 * loop split into tasks whose bounds depend on the shapes only (never on -j),
 * so any thread count gives the same bits. Dropout from hashed masks (none at
 * p 0: that path is the plain model); no mixed precision.
 * Speed is measured by bench/model/run.sh. */
#include "gpt2.h"
#include "vmath.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ROW_TASK 64      /* rows (tokens) per task of the row-wise loops */
#define COL_TASK 64      /* channels per task of the column sums */
#define ELEM_TASK 16384  /* elements per elementwise task */
#define SPLIT_MAX 16     /* pieces a product at most */
#define SPLIT_MIN 128    /* rows a piece at least */
#define SPLITK_OC 4096   /* dinp over more outputs than this (the vocabulary): split the sum */
#define SPLITK 8         /* pieces of that sum, added in order */

static const char *const tensor_names[GPT_N_TENSORS] = {
    "wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb",
    "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb",
};

const char *gpt_tensor_name(int i) { return tensor_names[i]; }

int gpt_tensor_decays(int i)
{
    return i == GPT_WTE || i == GPT_WPE || i == GPT_QKVW || i == GPT_ATTPROJW || i == GPT_FCW ||
           i == GPT_FCPROJW;
}

int gpt_config_check(GptConfig *c, Err *e)
{
    if (c->n_layer < 1 || c->n_layer > 1000) return err_set(e, "--layers must be 1..1000, not %d", c->n_layer);
    if (c->n_head < 1) return err_set(e, "--heads must be at least 1, not %d", c->n_head);
    if (c->n_embd < 1 || c->n_embd % c->n_head)
        return err_set(e, "width %d is not divisible by %d heads", c->n_embd, c->n_head);
    if (c->n_mlp < 1) return err_set(e, "--mlp must be at least 1, not %d", c->n_mlp);
    if (c->vocab_size < 2) return err_set(e, "vocabulary of %d ids is too small", c->vocab_size);
    if (c->context < 1) return err_set(e, "context must be at least 1, not %d", c->context);
    c->padded_vocab = (c->vocab_size + 63) / 64 * 64;
    return 0;
}

static void sizes_for(const GptConfig *c, int Vp, size_t s[GPT_N_TENSORS])
{
    size_t L = c->n_layer, C = c->n_embd, M = c->n_mlp;
    s[GPT_WTE] = (size_t)Vp * C;
    s[GPT_WPE] = (size_t)c->context * C;
    s[GPT_LN1W] = s[GPT_LN1B] = L * C;
    s[GPT_QKVW] = L * 3 * C * C;
    s[GPT_QKVB] = L * 3 * C;
    s[GPT_ATTPROJW] = L * C * C;
    s[GPT_ATTPROJB] = L * C;
    s[GPT_LN2W] = s[GPT_LN2B] = L * C;
    s[GPT_FCW] = L * M * C;
    s[GPT_FCB] = L * M;
    s[GPT_FCPROJW] = L * C * M;
    s[GPT_FCPROJB] = L * C;
    s[GPT_LNFW] = s[GPT_LNFB] = C;
}

void gpt_tensor_sizes(const GptConfig *c, size_t s[GPT_N_TENSORS]) { sizes_for(c, c->padded_vocab, s); }

static size_t sum_sizes(const size_t s[GPT_N_TENSORS])
{
    size_t n = 0;
    for (int i = 0; i < GPT_N_TENSORS; i++) n += s[i];
    return n;
}

size_t gpt_n_params(const GptConfig *c)
{
    size_t s[GPT_N_TENSORS];
    sizes_for(c, c->padded_vocab, s);
    return sum_sizes(s);
}

size_t gpt_n_params_real(const GptConfig *c)
{
    size_t s[GPT_N_TENSORS];
    sizes_for(c, c->vocab_size, s);
    return sum_sizes(s);
}

double gpt_flops_per_token(const GptConfig *c, int T)
{
    double n = (double)gpt_n_params_real(c) - (double)c->context * c->n_embd;
    return 6.0 * n + 12.0 * c->n_layer * c->n_embd * (double)T;
}

/* Activations of one micro-batch; (L, ...) arrays hold every layer. */
typedef struct GptActs {
    float *encoded;                  /* (B,T,C) */
    float *ln1, *ln1_mean, *ln1_rstd; /* (L,B,T,C) (L,B,T) (L,B,T) */
    float *qkv;                      /* (L,B,T,3C) */
    float *atty;                     /* (L,B,T,C) */
    float *att;                      /* (L,B,NH,T,T) attention probabilities */
    float *res2;                     /* (L,B,T,C) residual after attention */
    float *ln2, *ln2_mean, *ln2_rstd;
    float *fch, *fch_gelu;           /* (L,B,T,M) */
    float *res3;                     /* (L,B,T,C) residual after the MLP */
    float *lnf, *lnf_mean, *lnf_rstd; /* (B,T,C) (B,T) (B,T) */
    float *logits;                   /* (B,T,Vp); probabilities after a forward with targets */
    float *losses;                   /* (B,T) */
    /* backward scratch, reused by every layer */
    float *dres, *dln;               /* (B,T,C) */
    float *dqkv;                     /* (B,T,3C) */
    float *dfch;                     /* (B,T,M) */
    float *datt;                     /* (B,NH,T,T) one layer's attention gradients */
    float *dsplit;                   /* (SPLITK,B,T,C) pieces of the output layer's dinp */
} GptActs;

/* Element counts of the activations and of the scratch; with p set, also the pointers. */
static void acts_layout(const GptConfig *c, int B, int T, float *p, GptActs *a, size_t *n_acts,
                        size_t *n_scratch)
{
    size_t L = c->n_layer, C = c->n_embd, M = c->n_mlp, NH = c->n_head, N = (size_t)B * T;
    size_t sz[] = {
        N * C, L * N * C, L * N, L * N, L * N * 3 * C, L * N * C, L * B * NH * T * T, L * N * C,
        L * N * C, L * N, L * N, L * N * M, L * N * M, L * N * C, N * C, N, N,
        N * (size_t)c->padded_vocab, N,
        N * C, N * C, N * 3 * C, N * M, (size_t)B * NH * T * T,
        c->padded_vocab > SPLITK_OC ? SPLITK * N * C : 0,
    };
    float **ptr[] = {
        &a->encoded, &a->ln1, &a->ln1_mean, &a->ln1_rstd, &a->qkv, &a->atty, &a->att, &a->res2,
        &a->ln2, &a->ln2_mean, &a->ln2_rstd, &a->fch, &a->fch_gelu, &a->res3, &a->lnf,
        &a->lnf_mean, &a->lnf_rstd, &a->logits, &a->losses,
        &a->dres, &a->dln, &a->dqkv, &a->dfch, &a->datt, &a->dsplit,
    };
    enum { N_ACTS = 19, N_ALL = sizeof sz / sizeof sz[0] };
    size_t off = 0;
    *n_acts = *n_scratch = 0;
    for (int i = 0; i < N_ALL; i++) {
        if (p) *ptr[i] = p + off;
        off += sz[i];
        if (i < N_ACTS) *n_acts += sz[i];
        else *n_scratch += sz[i];
    }
}

void gpt_memory(const GptConfig *c, int B, int T, GptMemory *m)
{
    GptActs a;
    size_t n_acts, n_scratch;
    acts_layout(c, B, T, NULL, &a, &n_acts, &n_scratch);
    size_t np = gpt_n_params(c) * sizeof(float);
    m->params = np;
    m->grads = np;
    m->adam = 2 * np;
    m->acts = n_acts * sizeof(float) + 2 * (size_t)B * T * sizeof(int);
    m->scratch = n_scratch * sizeof(float);
    m->total = m->params + m->grads + m->adam + m->acts + m->scratch;
}

/* AdamW and the gradient norm walk the flat buffers in fixed chunks, each
 * inside one tensor, so that decay is per chunk and sums merge in chunk order. */
typedef struct AdamTask {
    size_t off, n;
    int decay;
    double sumsq; /* the chunk's share of the squared gradient norm */
} AdamTask;

int gpt_init(Gpt *g, const GptConfig *c, int B, int T, GPool *pool, Err *e)
{
    memset(g, 0, sizeof *g);
    vm_init();
    g->cfg = *c;
    if (gpt_config_check(&g->cfg, e)) return -1;
    if (T < 1 || T > c->context) return err_set(e, "sequence length %d is outside 1..%d", T, c->context);
    g->B = B;
    g->T = T;
    g->pool = pool;
    g->n_params = gpt_n_params(&g->cfg);
    size_t s[GPT_N_TENSORS];
    gpt_tensor_sizes(&g->cfg, s);
    size_t n_acts, n_scratch;
    GptActs probe;
    acts_layout(&g->cfg, B, T, NULL, &probe, &n_acts, &n_scratch);
    size_t n_tasks = 0;
    for (int i = 0; i < GPT_N_TENSORS; i++) n_tasks += (s[i] + ELEM_TASK - 1) / ELEM_TASK;
    g->params = calloc(4 * g->n_params, sizeof(float));
    g->act = calloc(1, sizeof *g->act);
    g->act_mem = malloc((n_acts + n_scratch) * sizeof(float));
    g->inputs = calloc(2 * (size_t)B * T, sizeof(int));
    g->adam_tasks = calloc(n_tasks, sizeof *g->adam_tasks);
    if (!g->params || !g->act || !g->act_mem || !g->inputs || !g->adam_tasks) {
        size_t n_params = g->n_params; /* gpt_free zeroes it */
        gpt_free(g);
        return err_set(e, "out of memory for a model of %zu parameters and batch %d x %d",
                       n_params, B, T);
    }
    g->grads = g->params + g->n_params;
    g->m = g->grads + g->n_params;
    g->v = g->m + g->n_params;
    g->targets = g->inputs + (size_t)B * T;
    acts_layout(&g->cfg, B, T, g->act_mem, g->act, &n_acts, &n_scratch);
    size_t off = 0, k = 0;
    for (int i = 0; i < GPT_N_TENSORS; i++) {
        g->tensor[i] = g->params + off;
        g->grad[i] = g->grads + off;
        for (size_t j = 0; j < s[i]; j += ELEM_TASK) {
            AdamTask *t = &g->adam_tasks[k++];
            t->off = off + j;
            t->n = s[i] - j < ELEM_TASK ? s[i] - j : ELEM_TASK;
            t->decay = gpt_tensor_decays(i);
        }
        off += s[i];
    }
    g->n_adam_tasks = k;
    return 0;
}

void gpt_free(Gpt *g)
{
    if (!g) return;
    free(g->params);
    free(g->act);
    free(g->act_mem);
    free(g->inputs);
    free(g->adam_tasks);
    memset(g, 0, sizeof *g);
}

uint64_t gpt_rand_u64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Box-Muller on two 53-bit uniforms; one draw per call keeps the state simple. */
float gpt_rand_normal(uint64_t *state)
{
    double u1 = ((double)(gpt_rand_u64(state) >> 11) + 0.5) / 9007199254740992.0;
    double u2 = (double)(gpt_rand_u64(state) >> 11) / 9007199254740992.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

void gpt_init_weights(Gpt *g, uint64_t seed)
{
    const GptConfig *c = &g->cfg;
    size_t s[GPT_N_TENSORS];
    gpt_tensor_sizes(c, s);
    memset(g->params, 0, 4 * g->n_params * sizeof(float));
    uint64_t st = seed;
    float resid_std = 0.02f / sqrtf(2.0f * (float)c->n_layer);
    for (int i = 0; i < GPT_N_TENSORS; i++) {
        float *p = g->tensor[i];
        size_t n = s[i];
        if (i == GPT_WTE) n = (size_t)c->vocab_size * c->n_embd; /* padding rows stay 0 */
        if (i == GPT_LN1W || i == GPT_LN2W || i == GPT_LNFW) {
            for (size_t j = 0; j < n; j++) p[j] = 1.0f;
        } else if (gpt_tensor_decays(i)) {
            float std = (i == GPT_ATTPROJW || i == GPT_FCPROJW) ? resid_std : 0.02f;
            for (size_t j = 0; j < n; j++) p[j] = std * gpt_rand_normal(&st);
        }
    }
    g->adam_step = 0;
}

/* ---- matrix products: out (N,OC) = inp (N,K) W (OC,K)^T + bias ----
 * OpenBLAS's results depend on the shape of a call (M=128 and two calls of 64
 * rows differ in the last bit), so a product is split into pieces whose shapes
 * depend on the matrices only, never on -j; tests/model/test_gpt2.c checks that
 * 1 and 2 threads give the same bits. Pieces are few and large, along the side
 * whose split repacks the smaller operand: 64-row pieces repacked a
 * 50257-row embedding 16 times a product (bench/model). */

typedef struct Mm {
    float *out, *dw, *db, *partial;
    const float *inp, *w, *bias, *resid, *dout;
    int n, k, oc;
    int chunk; /* rows or columns a task */
} Mm;

static size_t split(int dim, int *chunk)
{
    int pieces = dim / SPLIT_MIN;
    if (pieces > SPLIT_MAX) pieces = SPLIT_MAX;
    if (pieces < 1) pieces = 1;
    int c = (dim + pieces - 1) / pieces;
    *chunk = (c + 15) / 16 * 16;
    return (size_t)((dim + *chunk - 1) / *chunk);
}

/* Start out's rows r0..r0+rows, columns c0..c0+cols with resid + bias (or
 * either, or nothing); returns the beta for the product that adds to it. */
static float mm_preset(const Mm *m, int r0, int rows, int c0, int cols)
{
    if (!m->resid && !m->bias) return 0.0f;
    for (int r = r0; r < r0 + rows; r++) {
        float *o = m->out + (size_t)r * m->oc + c0;
        if (m->resid) memcpy(o, m->resid + (size_t)r * m->oc + c0, cols * sizeof(float));
        if (m->bias) {
            if (m->resid) for (int j = 0; j < cols; j++) o[j] += m->bias[c0 + j];
            else memcpy(o, m->bias + c0, cols * sizeof(float));
        }
    }
    return 1.0f;
}

static void mm_fwd_rows(void *ctx, size_t task)
{
    const Mm *m = ctx;
    int r0 = (int)task * m->chunk, rows = m->n - r0 < m->chunk ? m->n - r0 : m->chunk;
    float beta = mm_preset(m, r0, rows, 0, m->oc);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, m->oc, m->k, 1.0f,
                m->inp + (size_t)r0 * m->k, m->k, m->w, m->k, beta, m->out + (size_t)r0 * m->oc, m->oc);
}

static void mm_fwd_cols(void *ctx, size_t task)
{
    const Mm *m = ctx;
    int c0 = (int)task * m->chunk, cols = m->oc - c0 < m->chunk ? m->oc - c0 : m->chunk;
    float beta = mm_preset(m, 0, m->n, c0, cols);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m->n, cols, m->k, 1.0f, m->inp, m->k,
                m->w + (size_t)c0 * m->k, m->k, beta, m->out + c0, m->oc);
}

/* out = inp W^T (+ bias) (+ resid, the residual stream the product adds to).
 * Split along the longer side: the output layer has far more columns (the
 * vocabulary) than rows. */
static void matmul_forward(GPool *pool, float *out, const float *inp, const float *w,
                           const float *bias, const float *resid, int n, int k, int oc)
{
    Mm m = { .out = out, .inp = inp, .w = w, .bias = bias, .resid = resid, .n = n, .k = k, .oc = oc };
    if (oc > n) gpool_run(pool, split(oc, &m.chunk), mm_fwd_cols, &m);
    else gpool_run(pool, split(n, &m.chunk), mm_fwd_rows, &m);
}

static void mm_dinp_task(void *ctx, size_t task)
{
    const Mm *m = ctx;
    int r0 = (int)task * m->chunk, rows = m->n - r0 < m->chunk ? m->n - r0 : m->chunk;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, m->k, m->oc, 1.0f,
                m->dout + (size_t)r0 * m->oc, m->oc, m->w, m->k, 0.0f, m->out + (size_t)r0 * m->k, m->k);
}

/* dinp's sum over a vocabulary-sized OC, in SPLITK pieces: piece p writes
 * partial[p] (N,K); mm_dsum_task adds them in order. */
static void mm_dsplit_task(void *ctx, size_t task)
{
    const Mm *m = ctx;
    int per = (m->oc + SPLITK - 1) / SPLITK, o0 = (int)task * per;
    int cols = m->oc - o0 < per ? m->oc - o0 : per;
    float *part = m->partial + task * (size_t)m->n * m->k;
    if (cols <= 0) {
        memset(part, 0, (size_t)m->n * m->k * sizeof(float));
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m->n, m->k, cols, 1.0f, m->dout + o0, m->oc,
                m->w + (size_t)o0 * m->k, m->k, 0.0f, part, m->k);
}

static void mm_dsum_task(void *ctx, size_t task)
{
    const Mm *m = ctx;
    int r0 = (int)task * ROW_TASK, r1 = r0 + ROW_TASK < m->n ? r0 + ROW_TASK : m->n;
    size_t nk = (size_t)m->n * m->k;
    for (size_t i = (size_t)r0 * m->k; i < (size_t)r1 * m->k; i++) {
        float s = m->partial[i];
        for (int p = 1; p < SPLITK; p++) s += m->partial[p * nk + i];
        m->out[i] = s;
    }
}

static void mm_dw_task(void *ctx, size_t task)
{
    const Mm *m = ctx;
    int o0 = (int)task * m->chunk, cols = m->oc - o0 < m->chunk ? m->oc - o0 : m->chunk;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, cols, m->k, m->n, 1.0f, m->dout + o0,
                m->oc, m->inp, m->k, 1.0f, m->dw + (size_t)o0 * m->k, m->k);
    if (!m->db) return;
    float acc[256];
    for (int j0 = 0; j0 < cols; j0 += 256) { /* column sums, rows in order */
        int nj = cols - j0 < 256 ? cols - j0 : 256;
        memset(acc, 0, sizeof acc);
        for (int r = 0; r < m->n; r++) {
            const float *d = m->dout + (size_t)r * m->oc + o0 + j0;
            for (int j = 0; j < nj; j++) acc[j] += d[j];
        }
        for (int j = 0; j < nj; j++) m->db[o0 + j0 + j] += acc[j];
    }
}

/* dinp = dout W (dinp NULL: skip); dw += dout^T inp; db += column sums of dout.
 * partial: SPLITK x (N,K) floats of scratch, used when oc > SPLITK_OC. */
static void matmul_backward(GPool *pool, float *dinp, float *dw, float *db, const float *dout,
                            const float *inp, const float *w, int n, int k, int oc, float *partial)
{
    Mm m = { .out = dinp, .dw = dw, .db = db, .dout = dout, .inp = inp, .w = w, .n = n, .k = k, .oc = oc,
             .partial = partial };
    if (dinp && oc > SPLITK_OC) {
        gpool_run(pool, SPLITK, mm_dsplit_task, &m);
        gpool_run(pool, (size_t)(n + ROW_TASK - 1) / ROW_TASK, mm_dsum_task, &m);
    } else if (dinp) {
        gpool_run(pool, split(n, &m.chunk), mm_dinp_task, &m);
    }
    gpool_run(pool, split(oc, &m.chunk), mm_dw_task, &m);
}

/* ---- dropout: masks from a counter-based hash (splitmix64's finalizer) ----
 * Element i of a site's mask is kept when the top 24 bits of
 * mix64(base + GOLDEN (i + 1)) are >= p 2^24, base a hash of (key, layer,
 * site): no state, any task order, and backward recomputes the same mask.
 * tests/model/ref_gpt2.py replicates it in numpy. */

#define GOLDEN 0x9e3779b97f4a7c15ull

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t gpt_dropout_key(uint64_t seed, uint64_t step, uint64_t micro)
{
    return mix64(mix64(mix64(seed + GOLDEN) + step) + micro);
}

void gpt_set_dropout(Gpt *g, float p, uint64_t key)
{
    g->drop_p = p;
    g->drop_key = key;
}

typedef struct Drop {
    uint64_t base;
    uint32_t thresh; /* keep when the 24-bit hash is >= this */
    float scale;     /* 1 / (1 - p) */
} Drop;

static Drop drop_site(uint64_t key, int layer, int site, float p)
{
    Drop d = { .base = mix64(key + GOLDEN * (uint64_t)(4 * layer + site + 1)),
               .thresh = (uint32_t)((double)p * 16777216.0 + 0.5), .scale = 1.0f / (1.0f - p) };
    return d;
}

/* The factor of element i: 1/(1-p) when kept, 0 when dropped. */
static inline float drop_mul(const Drop *d, uint64_t i)
{
    return (uint32_t)(mix64(d->base + GOLDEN * (i + 1)) >> 40) >= d->thresh ? d->scale : 0.0f;
}

int gpt_dropout_keeps(uint64_t key, int layer, int site, uint64_t i, float p)
{
    Drop d = drop_site(key, layer, site, p);
    return drop_mul(&d, i) != 0.0f;
}

typedef struct Dr {
    float *out;
    const float *inp, *add;
    Drop d;
    size_t n;
} Dr;

static void drop_task(void *ctx, size_t task)
{
    const Dr *r = ctx;
    size_t i0 = task * ELEM_TASK, i1 = i0 + ELEM_TASK < r->n ? i0 + ELEM_TASK : r->n;
    for (size_t i = i0; i < i1; i++) {
        float x = r->inp[i] * drop_mul(&r->d, i);
        r->out[i] = r->add ? r->add[i] + x : x;
    }
}

/* out = add + inp * mask (add NULL: out = inp * mask); out may be inp or add.
 * Backward uses it too: the gradient through a mask is the mask again. */
static void dropout_apply(GPool *pool, float *out, const float *inp, const float *add, Drop d, size_t n)
{
    Dr r = { .out = out, .inp = inp, .add = add, .d = d, .n = n };
    gpool_run(pool, (n + ELEM_TASK - 1) / ELEM_TASK, drop_task, &r);
}

/* ---- LayerNorm over C, eps 1e-5 as PyTorch's default ---- */

typedef struct Ln {
    float *out, *mean, *rstd, *dinp, *dw, *db;
    const float *inp, *w, *b, *dout;
    int n, c;
} Ln;

static void ln_fwd_task(void *ctx, size_t task)
{
    const Ln *l = ctx;
    int r0 = (int)task * ROW_TASK, r1 = r0 + ROW_TASK < l->n ? r0 + ROW_TASK : l->n;
    for (int r = r0; r < r1; r++) {
        const float *x = l->inp + (size_t)r * l->c;
        float *o = l->out + (size_t)r * l->c;
        float m = 0.0f, v = 0.0f;
        for (int i = 0; i < l->c; i++) m += x[i];
        m /= (float)l->c;
        for (int i = 0; i < l->c; i++) v += (x[i] - m) * (x[i] - m);
        v /= (float)l->c;
        float s = 1.0f / sqrtf(v + 1e-5f);
        for (int i = 0; i < l->c; i++) o[i] = (x[i] - m) * s * l->w[i] + l->b[i];
        l->mean[r] = m;
        l->rstd[r] = s;
    }
}

static void layernorm_forward(GPool *pool, float *out, float *mean, float *rstd, const float *inp,
                              const float *w, const float *b, int n, int c)
{
    Ln l = { .out = out, .mean = mean, .rstd = rstd, .inp = inp, .w = w, .b = b, .n = n, .c = c };
    gpool_run(pool, (size_t)(n + ROW_TASK - 1) / ROW_TASK, ln_fwd_task, &l);
}

static void ln_dinp_task(void *ctx, size_t task)
{
    const Ln *l = ctx;
    int r0 = (int)task * ROW_TASK, r1 = r0 + ROW_TASK < l->n ? r0 + ROW_TASK : l->n;
    for (int r = r0; r < r1; r++) {
        const float *x = l->inp + (size_t)r * l->c, *d = l->dout + (size_t)r * l->c;
        float *di = l->dinp + (size_t)r * l->c;
        float m = l->mean[r], s = l->rstd[r], dmean = 0.0f, dnorm_mean = 0.0f;
        for (int i = 0; i < l->c; i++) {
            float dn = l->w[i] * d[i];
            dmean += dn;
            dnorm_mean += dn * (x[i] - m) * s;
        }
        dmean /= (float)l->c;
        dnorm_mean /= (float)l->c;
        for (int i = 0; i < l->c; i++) {
            float norm = (x[i] - m) * s;
            di[i] += (l->w[i] * d[i] - dmean - norm * dnorm_mean) * s;
        }
    }
}

static void ln_dw_task(void *ctx, size_t task)
{
    const Ln *l = ctx;
    int c0 = (int)task * COL_TASK, cols = l->c - c0 < COL_TASK ? l->c - c0 : COL_TASK;
    float aw[COL_TASK] = { 0 }, ab[COL_TASK] = { 0 };
    for (int r = 0; r < l->n; r++) {
        const float *x = l->inp + (size_t)r * l->c + c0, *d = l->dout + (size_t)r * l->c + c0;
        float m = l->mean[r], s = l->rstd[r];
        for (int j = 0; j < cols; j++) {
            aw[j] += d[j] * (x[j] - m) * s;
            ab[j] += d[j];
        }
    }
    for (int j = 0; j < cols; j++) {
        l->dw[c0 + j] += aw[j];
        l->db[c0 + j] += ab[j];
    }
}

/* dinp += the gradient through the norm; dw, db += theirs. */
static void layernorm_backward(GPool *pool, float *dinp, float *dw, float *db, const float *dout,
                               const float *inp, const float *w, const float *mean,
                               const float *rstd, int n, int c)
{
    Ln l = { .dinp = dinp, .dw = dw, .db = db, .dout = dout, .inp = inp, .w = w,
             .mean = (float *)mean, .rstd = (float *)rstd, .n = n, .c = c };
    gpool_run(pool, (size_t)(n + ROW_TASK - 1) / ROW_TASK, ln_dinp_task, &l);
    gpool_run(pool, (size_t)(c + COL_TASK - 1) / COL_TASK, ln_dw_task, &l);
}

/* ---- causal self-attention, one task per (batch row, head) ---- */

typedef struct Att {
    float *out, *att, *dqkv, *datt_rows; /* datt_rows: the dropped probabilities in forward */
    const float *qkv, *dout;
    int B, T, C, NH;
    int drop;
    Drop d; /* mask over this layer's (B,NH,T,T) */
} Att;

/* dst = the task's probabilities times their mask (causal part; the rest 0). */
static void att_drop_rows(const Att *a, size_t task, const float *att, float *dst)
{
    int T = a->T;
    uint64_t i0 = task * (uint64_t)T * T;
    for (int t = 0; t < T; t++) {
        const float *p = att + (size_t)t * T;
        float *o = dst + (size_t)t * T;
        for (int s = 0; s <= t; s++) o[s] = p[s] * drop_mul(&a->d, i0 + (uint64_t)t * T + s);
        for (int s = t + 1; s < T; s++) o[s] = 0.0f;
    }
}

static void att_fwd_task(void *ctx, size_t task)
{
    const Att *a = ctx;
    int b = (int)task / a->NH, h = (int)task % a->NH, T = a->T, C = a->C, hs = C / a->NH;
    float scale = 1.0f / sqrtf((float)hs);
    const float *q = a->qkv + (size_t)b * T * 3 * C + h * hs, *k = q + C, *v = q + 2 * C;
    float *att = a->att + task * (size_t)T * T;
    /* scores for every (t, s), then the causal softmax zeroes s > t: the
     * product does twice the work needed but at BLAS speed, and P V with the
     * zeros is exactly the causal sum */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, scale, q, 3 * C, k, 3 * C, 0.0f,
                att, T);
    for (int t = 0; t < T; t++) {
        float *row = att + (size_t)t * T;
        float sum = vm_exp_sum(row, t + 1, vm_max(row, t + 1));
        vm_scale(row, t + 1, 1.0f / sum);
        for (int s = t + 1; s < T; s++) row[s] = 0.0f;
    }
    const float *pv = att; /* att keeps the probabilities: backward needs them */
    if (a->drop) {
        float *dropped = a->datt_rows + task * (size_t)T * T;
        att_drop_rows(a, task, att, dropped);
        pv = dropped;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, 1.0f, pv, T, v, 3 * C, 0.0f,
                a->out + (size_t)b * T * C + h * hs, C);
}

static void att_bwd_task(void *ctx, size_t task)
{
    const Att *a = ctx;
    int b = (int)task / a->NH, h = (int)task % a->NH, T = a->T, C = a->C, hs = C / a->NH;
    float scale = 1.0f / sqrtf((float)hs);
    size_t off = (size_t)b * T * 3 * C + h * hs;
    const float *q = a->qkv + off, *k = q + C, *v = q + 2 * C;
    float *dq = a->dqkv + off, *dk = dq + C, *dv = dq + 2 * C;
    const float *att = a->att + task * (size_t)T * T, *dy = a->dout + (size_t)b * T * C + h * hs;
    float *d = a->datt_rows + task * (size_t)T * T; /* dP, then dS in place */
    if (a->drop) {
        /* y = (P . mask) V: dV from the dropped P (rebuilt in d), dP through the mask */
        att_drop_rows(a, task, att, d);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, 1.0f, d, T, dy, C, 0.0f, dv, 3 * C);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, 1.0f, dy, C, v, 3 * C, 0.0f, d, T);
        uint64_t i0 = task * (uint64_t)T * T;
        for (int t = 0; t < T; t++)
            for (int s = 0; s <= t; s++) d[(size_t)t * T + s] *= drop_mul(&a->d, i0 + (uint64_t)t * T + s);
    } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, 1.0f, dy, C, v, 3 * C, 0.0f, d, T);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, 1.0f, att, T, dy, C, 0.0f, dv, 3 * C);
    }
    for (int t = 0; t < T; t++) {
        const float *p = att + (size_t)t * T;
        float *row = d + (size_t)t * T, dot = 0.0f;
        for (int s = 0; s <= t; s++) dot += p[s] * row[s];
        for (int s = 0; s <= t; s++) row[s] = p[s] * (row[s] - dot);
        for (int s = t + 1; s < T; s++) row[s] = 0.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, scale, d, T, k, 3 * C, 0.0f, dq, 3 * C);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, scale, d, T, q, 3 * C, 0.0f, dk, 3 * C);
}

/* ---- elementwise: GELU (tanh form, as GPT-2), encoder, cross-entropy ---- */

typedef struct Ew {
    float *out, *dout_inplace;
    const float *inp;
    size_t n;
} Ew;

static void gelu_fwd_task(void *ctx, size_t task)
{
    const Ew *w = ctx;
    size_t i0 = task * ELEM_TASK, i1 = i0 + ELEM_TASK < w->n ? i0 + ELEM_TASK : w->n;
    vm_gelu(w->out + i0, w->inp + i0, i1 - i0);
}

static void gelu_bwd_task(void *ctx, size_t task)
{
    const Ew *w = ctx;
    size_t i0 = task * ELEM_TASK, i1 = i0 + ELEM_TASK < w->n ? i0 + ELEM_TASK : w->n;
    vm_gelu_backward(w->dout_inplace + i0, w->inp + i0, i1 - i0);
}

typedef struct Enc {
    const Gpt *g;
    float *x;
    const float *dres;
    int n;
} Enc;

static void enc_fwd_task(void *ctx, size_t task)
{
    const Enc *e = ctx;
    int C = e->g->cfg.n_embd, T = e->g->T;
    int r0 = (int)task * ROW_TASK, r1 = r0 + ROW_TASK < e->n ? r0 + ROW_TASK : e->n;
    for (int r = r0; r < r1; r++) {
        const float *te = e->g->tensor[GPT_WTE] + (size_t)e->g->inputs[r] * C;
        const float *pe = e->g->tensor[GPT_WPE] + (size_t)(r % T) * C;
        float *o = e->x + (size_t)r * C;
        for (int i = 0; i < C; i++) o[i] = te[i] + pe[i];
    }
}

/* By channel ranges, so that rows add up in one fixed order. */
static void enc_bwd_task(void *ctx, size_t task)
{
    const Enc *e = ctx;
    int C = e->g->cfg.n_embd, T = e->g->T;
    int c0 = (int)task * COL_TASK, cols = C - c0 < COL_TASK ? C - c0 : COL_TASK;
    float *dwte = e->g->grad[GPT_WTE], *dwpe = e->g->grad[GPT_WPE];
    for (int r = 0; r < e->n; r++) {
        const float *d = e->dres + (size_t)r * C + c0;
        float *a = dwte + (size_t)e->g->inputs[r] * C + c0, *p = dwpe + (size_t)(r % T) * C + c0;
        for (int j = 0; j < cols; j++) {
            a[j] += d[j];
            p[j] += d[j];
        }
    }
}

typedef struct Ce {
    const Gpt *g;
    float dloss;
} Ce;

/* Softmax over the V real ids (padding columns get probability 0) and the
 * loss as log-sum-exp minus the target's logit, which is exact for tiny probabilities. */
static void ce_fwd_task(void *ctx, size_t task)
{
    const Ce *c = ctx;
    const Gpt *g = c->g;
    int V = g->cfg.vocab_size, Vp = g->cfg.padded_vocab, n = g->B * g->T;
    int r0 = (int)task * ROW_TASK, r1 = r0 + ROW_TASK < n ? r0 + ROW_TASK : n;
    for (int r = r0; r < r1; r++) {
        float *p = g->act->logits + (size_t)r * Vp;
        float mx = vm_max(p, V), target_logit = p[g->targets[r]];
        float sum = vm_exp_sum(p, V, mx);
        vm_scale(p, V, 1.0f / sum);
        for (int i = V; i < Vp; i++) p[i] = 0.0f;
        g->act->losses[r] = (float)(log((double)sum) + (double)mx - (double)target_logit);
    }
}

static void ce_bwd_task(void *ctx, size_t task)
{
    const Ce *c = ctx;
    const Gpt *g = c->g;
    int V = g->cfg.vocab_size, Vp = g->cfg.padded_vocab, n = g->B * g->T;
    int r0 = (int)task * ROW_TASK, r1 = r0 + ROW_TASK < n ? r0 + ROW_TASK : n;
    for (int r = r0; r < r1; r++) {
        float *p = g->act->logits + (size_t)r * Vp;
        vm_scale(p, V, c->dloss);
        p[g->targets[r]] -= c->dloss;
    }
}

/* ---- the model ---- */

void gpt_forward(Gpt *g, const int *inputs, const int *targets)
{
    const GptConfig *c = &g->cfg;
    GptActs *a = g->act;
    GPool *pool = g->pool;
    int B = g->B, T = g->T, C = c->n_embd, M = c->n_mlp, NH = c->n_head, N = B * T;
    size_t NC = (size_t)N * C;
    memcpy(g->inputs, inputs, (size_t)N * sizeof(int));
    if (targets) memcpy(g->targets, targets, (size_t)N * sizeof(int));
    float p = g->drop_used = g->drop_p;
    int drop = p > 0.0f;
    Enc enc = { .g = g, .x = a->encoded, .n = N };
    gpool_run(pool, (size_t)(N + ROW_TASK - 1) / ROW_TASK, enc_fwd_task, &enc);
    if (drop) dropout_apply(pool, a->encoded, a->encoded, NULL, drop_site(g->drop_key, 0, 0, p), NC);
    for (int l = 0; l < c->n_layer; l++) {
        const float *resid = l == 0 ? a->encoded : a->res3 + (l - 1) * NC;
        float *ln1 = a->ln1 + l * NC, *qkv = a->qkv + l * 3 * NC, *atty = a->atty + l * NC;
        float *res2 = a->res2 + l * NC, *ln2 = a->ln2 + l * NC, *res3 = a->res3 + l * NC;
        float *fch = a->fch + l * (size_t)N * M, *fch_gelu = a->fch_gelu + l * (size_t)N * M;
        layernorm_forward(pool, ln1, a->ln1_mean + (size_t)l * N, a->ln1_rstd + (size_t)l * N, resid,
                          g->tensor[GPT_LN1W] + l * C, g->tensor[GPT_LN1B] + l * C, N, C);
        matmul_forward(pool, qkv, ln1, g->tensor[GPT_QKVW] + (size_t)l * 3 * C * C,
                       g->tensor[GPT_QKVB] + l * 3 * C, NULL, N, C, 3 * C);
        Att at = { .out = atty, .att = a->att + (size_t)l * B * NH * T * T, .qkv = qkv, .B = B,
                   .T = T, .C = C, .NH = NH, .drop = drop, .datt_rows = a->datt };
        if (drop) at.d = drop_site(g->drop_key, l, 1, p);
        gpool_run(pool, (size_t)B * NH, att_fwd_task, &at);
        /* with dropout the residual is added after the mask */
        matmul_forward(pool, res2, atty, g->tensor[GPT_ATTPROJW] + (size_t)l * C * C,
                       g->tensor[GPT_ATTPROJB] + l * C, drop ? NULL : resid, N, C, C);
        if (drop) dropout_apply(pool, res2, res2, resid, drop_site(g->drop_key, l, 2, p), NC);
        layernorm_forward(pool, ln2, a->ln2_mean + (size_t)l * N, a->ln2_rstd + (size_t)l * N, res2,
                          g->tensor[GPT_LN2W] + l * C, g->tensor[GPT_LN2B] + l * C, N, C);
        matmul_forward(pool, fch, ln2, g->tensor[GPT_FCW] + (size_t)l * M * C,
                       g->tensor[GPT_FCB] + (size_t)l * M, NULL, N, C, M);
        Ew ew = { .out = fch_gelu, .inp = fch, .n = (size_t)N * M };
        gpool_run(pool, (ew.n + ELEM_TASK - 1) / ELEM_TASK, gelu_fwd_task, &ew);
        matmul_forward(pool, res3, fch_gelu, g->tensor[GPT_FCPROJW] + (size_t)l * C * M,
                       g->tensor[GPT_FCPROJB] + l * C, drop ? NULL : res2, N, M, C);
        if (drop) dropout_apply(pool, res3, res3, res2, drop_site(g->drop_key, l, 3, p), NC);
    }
    layernorm_forward(pool, a->lnf, a->lnf_mean, a->lnf_rstd, a->res3 + (c->n_layer - 1) * NC,
                      g->tensor[GPT_LNFW], g->tensor[GPT_LNFB], N, C);
    matmul_forward(pool, a->logits, a->lnf, g->tensor[GPT_WTE], NULL, NULL, N, C, c->padded_vocab);
    if (!targets) return;
    Ce ce = { .g = g };
    gpool_run(pool, (size_t)(N + ROW_TASK - 1) / ROW_TASK, ce_fwd_task, &ce);
    double sum = 0.0;
    for (int r = 0; r < N; r++) sum += a->losses[r];
    g->loss = (float)(sum / N);
}

const float *gpt_logits(const Gpt *g) { return g->act->logits; }

void gpt_zero_grad(Gpt *g) { memset(g->grads, 0, g->n_params * sizeof(float)); }

void gpt_backward(Gpt *g, float scale)
{
    const GptConfig *c = &g->cfg;
    GptActs *a = g->act;
    GPool *pool = g->pool;
    int B = g->B, T = g->T, C = c->n_embd, M = c->n_mlp, NH = c->n_head, N = B * T, L = c->n_layer;
    size_t NC = (size_t)N * C;
    float p = g->drop_used;
    int drop = p > 0.0f;
    Ce ce = { .g = g, .dloss = scale / (float)N };
    gpool_run(pool, (size_t)(N + ROW_TASK - 1) / ROW_TASK, ce_bwd_task, &ce);
    const float *dlogits = a->logits;
    /* dres holds d loss / d (the residual stream) as we walk down the layers */
    matmul_backward(pool, a->dln, g->grad[GPT_WTE], NULL, dlogits, a->lnf, g->tensor[GPT_WTE], N, C,
                    c->padded_vocab, a->dsplit);
    memset(a->dres, 0, NC * sizeof(float));
    layernorm_backward(pool, a->dres, g->grad[GPT_LNFW], g->grad[GPT_LNFB], a->dln,
                       a->res3 + (L - 1) * NC, g->tensor[GPT_LNFW], a->lnf_mean, a->lnf_rstd, N, C);
    for (int l = L - 1; l >= 0; l--) {
        const float *resid = l == 0 ? a->encoded : a->res3 + (l - 1) * NC;
        const float *ln1 = a->ln1 + l * NC, *qkv = a->qkv + l * 3 * NC, *atty = a->atty + l * NC;
        const float *res2 = a->res2 + l * NC, *ln2 = a->ln2 + l * NC;
        const float *fch = a->fch + l * (size_t)N * M, *fch_gelu = a->fch_gelu + l * (size_t)N * M;
        /* res3 = res2 + drop(fch_gelu fcprojw^T + b): dres flows to res2 unchanged,
         * through the mask to the product (masked into dln, free until fcw's dinp) */
        const float *dproj = a->dres;
        if (drop) {
            dropout_apply(pool, a->dln, a->dres, NULL, drop_site(g->drop_key, l, 3, p), NC);
            dproj = a->dln;
        }
        matmul_backward(pool, a->dfch, g->grad[GPT_FCPROJW] + (size_t)l * C * M,
                        g->grad[GPT_FCPROJB] + l * C, dproj, fch_gelu,
                        g->tensor[GPT_FCPROJW] + (size_t)l * C * M, N, M, C, NULL);
        Ew ew = { .dout_inplace = a->dfch, .inp = fch, .n = (size_t)N * M };
        gpool_run(pool, (ew.n + ELEM_TASK - 1) / ELEM_TASK, gelu_bwd_task, &ew);
        matmul_backward(pool, a->dln, g->grad[GPT_FCW] + (size_t)l * M * C, g->grad[GPT_FCB] + (size_t)l * M,
                        a->dfch, ln2, g->tensor[GPT_FCW] + (size_t)l * M * C, N, C, M, NULL);
        layernorm_backward(pool, a->dres, g->grad[GPT_LN2W] + l * C, g->grad[GPT_LN2B] + l * C, a->dln,
                           res2, g->tensor[GPT_LN2W] + l * C, a->ln2_mean + (size_t)l * N,
                           a->ln2_rstd + (size_t)l * N, N, C);
        /* res2 = resid + drop(atty attprojw^T + b); the masked gradient goes in
         * dqkv, which attention's backward overwrites only after this product */
        dproj = a->dres;
        if (drop) {
            dropout_apply(pool, a->dqkv, a->dres, NULL, drop_site(g->drop_key, l, 2, p), NC);
            dproj = a->dqkv;
        }
        matmul_backward(pool, a->dln, g->grad[GPT_ATTPROJW] + (size_t)l * C * C,
                        g->grad[GPT_ATTPROJB] + l * C, dproj, atty,
                        g->tensor[GPT_ATTPROJW] + (size_t)l * C * C, N, C, C, NULL);
        Att at = { .att = a->att + (size_t)l * B * NH * T * T, .dqkv = a->dqkv, .datt_rows = a->datt,
                   .qkv = qkv, .dout = a->dln, .B = B, .T = T, .C = C, .NH = NH, .drop = drop };
        if (drop) at.d = drop_site(g->drop_key, l, 1, p);
        gpool_run(pool, (size_t)B * NH, att_bwd_task, &at);
        matmul_backward(pool, a->dln, g->grad[GPT_QKVW] + (size_t)l * 3 * C * C,
                        g->grad[GPT_QKVB] + l * 3 * C, a->dqkv, ln1,
                        g->tensor[GPT_QKVW] + (size_t)l * 3 * C * C, N, C, 3 * C, NULL);
        layernorm_backward(pool, a->dres, g->grad[GPT_LN1W] + l * C, g->grad[GPT_LN1B] + l * C, a->dln,
                           resid, g->tensor[GPT_LN1W] + l * C, a->ln1_mean + (size_t)l * N,
                           a->ln1_rstd + (size_t)l * N, N, C);
    }
    if (drop) dropout_apply(pool, a->dres, a->dres, NULL, drop_site(g->drop_key, 0, 0, p), NC);
    Enc enc = { .g = g, .dres = a->dres, .n = N };
    gpool_run(pool, (size_t)(C + COL_TASK - 1) / COL_TASK, enc_bwd_task, &enc);
}

/* ---- AdamW ---- */

typedef struct Adam {
    Gpt *g;
    const AdamOpts *o;
    float lr, clip_coef, bc1, bc2_sqrt;
} Adam;

static void norm_task(void *ctx, size_t task)
{
    Adam *ad = ctx;
    AdamTask *t = &ad->g->adam_tasks[task];
    const float *gr = ad->g->grads + t->off;
    double s = 0.0;
    for (size_t i = 0; i < t->n; i++) s += (double)gr[i] * gr[i];
    t->sumsq = s;
}

/* PyTorch's AdamW (torch/optim/adamw.py, single-tensor path), in its order. */
static void adam_task(void *ctx, size_t task)
{
    const Adam *ad = ctx;
    const AdamTask *t = &ad->g->adam_tasks[task];
    float *p = ad->g->params + t->off, *m = ad->g->m + t->off, *v = ad->g->v + t->off;
    const float *gr = ad->g->grads + t->off;
    float b1 = ad->o->beta1, b2 = ad->o->beta2, step_size = ad->lr / ad->bc1;
    float decay = t->decay ? 1.0f - ad->lr * ad->o->weight_decay : 1.0f;
    for (size_t i = 0; i < t->n; i++) {
        float gi = gr[i] * ad->clip_coef;
        p[i] *= decay;
        m[i] = m[i] * b1 + gi * (1.0f - b1);
        v[i] = v[i] * b2 + gi * gi * (1.0f - b2);
        float denom = sqrtf(v[i]) / ad->bc2_sqrt + ad->o->eps;
        p[i] -= step_size * m[i] / denom;
    }
}

float gpt_adamw_step(Gpt *g, const AdamOpts *o, float lr)
{
    Adam ad = { .g = g, .o = o, .lr = lr, .clip_coef = 1.0f };
    gpool_run(g->pool, g->n_adam_tasks, norm_task, &ad);
    double s = 0.0;
    for (size_t i = 0; i < g->n_adam_tasks; i++) s += g->adam_tasks[i].sumsq;
    float norm = (float)sqrt(s);
    if (o->clip > 0.0f) {
        float coef = o->clip / (norm + 1e-6f);
        if (coef < 1.0f) ad.clip_coef = coef;
    }
    g->adam_step++;
    ad.bc1 = 1.0f - powf(o->beta1, (float)g->adam_step);
    ad.bc2_sqrt = sqrtf(1.0f - powf(o->beta2, (float)g->adam_step));
    gpool_run(g->pool, g->n_adam_tasks, adam_task, &ad);
    return norm;
}
