/* GPT-2 forward, backward and AdamW, after llm.c's train_gpt2.c: the same
 * tensors and shapes, activation gradients kept for one layer at a time. This
 * file owns the layout (one flat buffer of parameters, one of activations)
 * and the order of the work; every kernel runs on a backend of kernels.h, so
 * nothing here touches the backend's memory except through it. Dropout from
 * hashed masks (none at p 0: that path is the plain model).
 * Speed is measured by bench/model/run.sh. */
#include "gpt2.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

/* Activations of one micro-batch; (L, ...) arrays hold every layer. Pointers
 * into the backend's memory: X in the working precision, F float32. */
typedef struct GptActs {
    floatX *encoded;                   /* X (B,T,C) */
    floatX *ln1; float *ln1_mean, *ln1_rstd; /* X (L,B,T,C), F (L,B,T) (L,B,T) */
    floatX *qkv;                       /* X (L,B,T,3C) */
    floatX *atty;                      /* X (L,B,T,C) */
    float *att;                        /* F (L, attention_state) what attention's backward needs */
    floatX *res2;                      /* X (L,B,T,C) residual after attention */
    floatX *ln2; float *ln2_mean, *ln2_rstd;
    floatX *fch, *fch_gelu;            /* X (L,B,T,M) */
    floatX *res3;                      /* X (L,B,T,C) residual after the MLP */
    floatX *lnf; float *lnf_mean, *lnf_rstd; /* X (B,T,C), F (B,T) (B,T) */
    floatX *logits;                    /* X (B,T,Vp); probabilities after a forward with targets */
    float *losses;                     /* F (B,T) */
    float *att_scratch;                /* F attention_scratch: shared by every layer */
    /* backward scratch, reused by every layer (training only) */
    floatX *dres, *dln;                /* X (B,T,C) */
    floatX *dqkv;                      /* X (B,T,3C) */
    floatX *dfch;                      /* X (B,T,M) */
    float *mm_scratch;                 /* F matmul_scratch of the output layer's backward */
} GptActs;

/* Bytes of the activations and of the backward's scratch; with base set, also
 * the pointers. Each array starts on a 256-byte boundary (GPU loads). */
static void acts_layout(const Kern *k, size_t xb, const GptConfig *c, int B, int T, int flags,
                        char *base, GptActs *a, size_t *acts_bytes, size_t *scratch_bytes)
{
    int training = flags & GPT_TRAIN;
    size_t Lr = flags & GPT_RECOMPUTE ? 1 : (size_t)c->n_layer; /* layers of LayerNorm and GELU outputs kept */
    const KernOps *ops = k->ops;
    size_t L = c->n_layer, C = c->n_embd, M = c->n_mlp, N = (size_t)B * T, Vp = c->padded_vocab;
    size_t att_state = ops->attention_state(k, B, T, c->n_head);
    size_t F = sizeof(float);
    struct { void *p; size_t bytes; int scratch; } parts[] = {
        { &a->encoded, N * C * xb, 0 },
        { &a->ln1, Lr * N * C * xb, 0 }, { &a->ln1_mean, L * N * F, 0 }, { &a->ln1_rstd, L * N * F, 0 },
        { &a->qkv, L * N * 3 * C * xb, 0 }, { &a->atty, L * N * C * xb, 0 },
        { &a->att, L * att_state * F, 0 }, { &a->res2, L * N * C * xb, 0 },
        { &a->ln2, Lr * N * C * xb, 0 }, { &a->ln2_mean, L * N * F, 0 }, { &a->ln2_rstd, L * N * F, 0 },
        { &a->fch, L * N * M * xb, 0 }, { &a->fch_gelu, Lr * N * M * xb, 0 }, { &a->res3, L * N * C * xb, 0 },
        { &a->lnf, N * C * xb, 0 }, { &a->lnf_mean, N * F, 0 }, { &a->lnf_rstd, N * F, 0 },
        { &a->logits, N * Vp * xb, 0 }, { &a->losses, N * F, 0 },
        { &a->att_scratch, ops->attention_scratch(k, B, T, c->n_head) * F, 1 },
        { &a->dres, training ? N * C * xb : 0, 1 }, { &a->dln, training ? N * C * xb : 0, 1 },
        { &a->dqkv, training ? N * 3 * C * xb : 0, 1 }, { &a->dfch, training ? N * M * xb : 0, 1 },
        { &a->mm_scratch, training ? ops->matmul_scratch(k, (int)N, (int)C, (int)Vp) * F : 0, 1 },
    };
    size_t off = 0;
    *acts_bytes = *scratch_bytes = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        size_t bytes = (parts[i].bytes + 255) / 256 * 256;
        *(void **)parts[i].p = base && parts[i].bytes ? base + off : NULL;
        off += bytes;
        if (parts[i].scratch) *scratch_bytes += bytes;
        else *acts_bytes += bytes;
    }
}

void gpt_memory_for(const Kern *k, const GptConfig *c, int B, int T, int flags, GptMemory *m)
{
    GptActs a;
    size_t acts, scratch, xb = kern_x_bytes(k);
    acts_layout(k, xb, c, B, T, flags, NULL, &a, &acts, &scratch);
    size_t np = gpt_n_params(c) * sizeof(float), train = flags & GPT_TRAIN ? 1 : 0;
    int master = !(flags & GPT_NO_MASTER) || xb == sizeof(float);
    m->params = (master ? np : 0) + (xb == sizeof(float) ? 0 : gpt_n_params(c) * xb);
    m->grads = train * np;
    m->adam = train * 2 * np;
    m->acts = acts + 2 * (size_t)B * T * sizeof(int);
    m->scratch = scratch + (k->ops->workspace_bytes ? k->ops->workspace_bytes(k, B, T, c->n_embd, c->n_head) : 0);
    m->total = m->params + m->grads + m->adam + m->acts + m->scratch;
}

void gpt_memory(const GptConfig *c, int B, int T, GptMemory *m)
{
    Kern cpu = { .ops = kern_cpu_ops(), .device = KERN_CPU, .prec = PREC_FP32 }; /* sizes only */
    gpt_memory_for(&cpu, c, B, T, GPT_TRAIN, m);
}

static size_t n_tensor_bytes(const Gpt *g) { return g->n_params * sizeof(float); }

int gpt_init(Gpt *g, const GptConfig *c, int B, int T, Kern *k, int flags, Err *e)
{
    return gpt_init_slice(g, c, B, T, k, flags, 0, SIZE_MAX, e);
}

int gpt_init_slice(Gpt *g, const GptConfig *c, int B, int T, Kern *k, int flags, size_t lo, size_t hi, Err *e)
{
    int training = flags & GPT_TRAIN;
    memset(g, 0, sizeof *g);
    g->cfg = *c;
    if (gpt_config_check(&g->cfg, e)) return -1;
    if (T < 1 || T > c->context) return err_set(e, "sequence length %d is outside 1..%d", T, c->context);
    if (B < 1) return err_set(e, "micro-batch of %d sequences", B);
    int hs = c->n_embd / c->n_head;
    if (k->max_head_dim && hs > k->max_head_dim)
        return err_set(e, "heads of %d dimensions (width %d / %d heads): %s attention takes 1 to %d; use more "
                          "heads, or --precision fp32", hs, c->n_embd, c->n_head,
                       k->prec == PREC_BF16 ? "the GPU's bf16" : "this backend's", k->max_head_dim);
    g->B = g->fwd_B = B;
    g->T = g->fwd_T = T;
    g->k = k;
    g->training = training;
    g->recompute = !!(flags & GPT_RECOMPUTE);
    g->n_params = gpt_n_params(&g->cfg);
    size_t xb = kern_x_bytes(k), acts, scratch, np = g->n_params;
    g->mom_lo = lo < np ? lo : np;
    g->mom_hi = hi < np ? hi : np;
    if (g->mom_hi < g->mom_lo) g->mom_hi = g->mom_lo;
    size_t nm = g->mom_hi - g->mom_lo;
    int master = !(flags & GPT_NO_MASTER);
    if (!master && (xb == sizeof(float) || !training))
        return err_set(e, "--master-weights off keeps the weights in bf16 alone: it trains on a GPU in bf16 only");
    GptActs probe;
    acts_layout(k, xb, &g->cfg, B, T, flags, NULL, &probe, &acts, &scratch);
    g->act = calloc(1, sizeof *g->act);
    g->losses_host = malloc((size_t)B * T * sizeof(float));
    g->params = master ? k->ops->alloc(k, np * sizeof(float)) : NULL;
    g->params_x = xb == sizeof(float) ? (floatX *)g->params : k->ops->alloc(k, np * xb);
    g->act_mem = k->ops->alloc(k, acts + scratch);
    g->inputs = k->ops->alloc(k, 2 * (size_t)B * T * sizeof(int));
    int ok = g->act && g->losses_host && (g->params || !master) && g->params_x && g->act_mem && g->inputs;
    if (ok && training) {
        g->grads = k->ops->alloc(k, np * sizeof(float));
        g->m = k->ops->alloc(k, nm * sizeof(float));
        g->v = k->ops->alloc(k, nm * sizeof(float));
        ok = g->grads && g->m && g->v;
    }
    if (!ok) {
        gpt_free(g);
        return err_set(e, "out of %s memory for a model of %zu parameters and batch %d x %d",
                       k->device == KERN_CPU ? "host" : "GPU", np, B, T);
    }
    g->targets = g->inputs + (size_t)B * T;
    acts_layout(k, xb, &g->cfg, B, T, flags, g->act_mem, g->act, &acts, &scratch);
    size_t s[GPT_N_TENSORS], off = 0;
    gpt_tensor_sizes(&g->cfg, s);
    for (int i = 0; i < GPT_N_TENSORS; i++) {
        g->tensor[i] = (char *)g->params_x + off * xb;
        g->grad[i] = g->grads ? g->grads + off : NULL;
        off += s[i];
    }
    return 0;
}

void gpt_free(Gpt *g)
{
    if (!g) return;
    Kern *k = g->k;
    if (k) {
        if (g->params_x != (floatX *)g->params) k->ops->release(k, g->params_x);
        k->ops->release(k, g->params);
        k->ops->release(k, g->grads);
        k->ops->release(k, g->m);
        k->ops->release(k, g->v);
        k->ops->release(k, g->act_mem);
        k->ops->release(k, g->inputs);
    }
    free(g->act);
    free(g->losses_host);
    memset(g, 0, sizeof *g);
}

uint64_t gpt_rand_u64(uint64_t *state) { return kdrop_mix64(*state += KDROP_GOLDEN); }

/* Box-Muller on two 53-bit uniforms; one draw per call keeps the state simple. */
float gpt_rand_normal(uint64_t *state)
{
    double u1 = ((double)(gpt_rand_u64(state) >> 11) + 0.5) / 9007199254740992.0;
    double u2 = (double)(gpt_rand_u64(state) >> 11) / 9007199254740992.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

int gpt_init_weights(Gpt *g, uint64_t seed, Err *e)
{
    const GptConfig *c = &g->cfg;
    size_t s[GPT_N_TENSORS];
    gpt_tensor_sizes(c, s);
    float *host = calloc(g->n_params, sizeof(float)); /* drawn here, then copied to the backend */
    if (!host) return err_set(e, "out of memory for the initial weights (%zu parameters)", g->n_params);
    uint64_t st = seed;
    float resid_std = 0.02f / sqrtf(2.0f * (float)c->n_layer);
    float *p = host;
    for (int i = 0; i < GPT_N_TENSORS; p += s[i], i++) {
        size_t n = s[i];
        if (i == GPT_WTE) n = (size_t)c->vocab_size * c->n_embd; /* padding rows stay 0 */
        if (i == GPT_LN1W || i == GPT_LN2W || i == GPT_LNFW) {
            for (size_t j = 0; j < n; j++) p[j] = 1.0f;
        } else if (gpt_tensor_decays(i)) {
            float std = (i == GPT_ATTPROJW || i == GPT_FCPROJW) ? resid_std : 0.02f;
            for (size_t j = 0; j < n; j++) p[j] = std * gpt_rand_normal(&st);
        }
    }
    gpt_params_set(g, host);
    free(host);
    if (g->training) {
        g->k->ops->zero(g->k, g->grads, n_tensor_bytes(g));
        g->k->ops->zero(g->k, g->m, (g->mom_hi - g->mom_lo) * sizeof(float));
        g->k->ops->zero(g->k, g->v, (g->mom_hi - g->mom_lo) * sizeof(float));
    }
    g->adam_step = 0;
    return 0;
}

/* The working copy follows the master weights: AdamW writes both, and here a
 * float32 backend shares the buffer while a lower precision casts the master
 * after the upload. Without master weights the float32 gradients' buffer
 * carries the upload to the cast (a step starts by zeroing it). */
void gpt_params_set(Gpt *g, const float *host)
{
    Kern *k = g->k;
    float *master = g->params ? g->params : g->grads;
    k->ops->upload(k, master, host, n_tensor_bytes(g));
    if (g->params_x != (floatX *)g->params) k->ops->cast_x(k, g->params_x, master, g->n_params);
    if (!g->params) k->ops->zero(k, g->grads, n_tensor_bytes(g));
}

void gpt_params_get(const Gpt *g, float *host)
{
    if (g->params) g->k->ops->download(g->k, host, g->params, n_tensor_bytes(g));
    else g->k->ops->download_x(g->k, host, g->params_x, g->n_params);
}

void gpt_moments_set(Gpt *g, const float *m, const float *v)
{
    size_t lo = g->mom_lo, bytes = (g->mom_hi - lo) * sizeof(float);
    g->k->ops->upload(g->k, g->m, m + lo, bytes);
    g->k->ops->upload(g->k, g->v, v + lo, bytes);
}

void gpt_moments_get(const Gpt *g, float *m, float *v)
{
    size_t lo = g->mom_lo, bytes = (g->mom_hi - lo) * sizeof(float);
    g->k->ops->download(g->k, m + lo, g->m, bytes);
    g->k->ops->download(g->k, v + lo, g->v, bytes);
}

/* (a slice of the moments: full host copies, of which the slice is the model's) */
int gpt_host_open(Gpt *g, GptHost *h, Err *e)
{
    memset(h, 0, sizeof *h);
    int whole = g->mom_lo == 0 && g->mom_hi == g->n_params;
    if (g->k->device == KERN_CPU && whole) {
        h->params = g->params;
        h->m = g->m;
        h->v = g->v;
        return 0;
    }
    if (!(h->owned = calloc(3 * g->n_params, sizeof(float))))
        return err_set(e, "out of host memory for a copy of the weights and moments (%zu parameters)", g->n_params);
    h->params = h->owned;
    h->m = h->params + g->n_params;
    h->v = h->m + g->n_params;
    return 0;
}

void gpt_host_pull(const Gpt *g, GptHost *h)
{
    if (!h->owned) return;
    gpt_params_get(g, h->params);
    gpt_moments_get(g, h->m, h->v);
}

void gpt_host_push(Gpt *g, const GptHost *h)
{
    if (!h->owned) return;
    gpt_params_set(g, h->params);
    gpt_moments_set(g, h->m, h->v);
}

void gpt_host_close(GptHost *h)
{
    free(h->owned);
    memset(h, 0, sizeof *h);
}

/* ---- dropout: masks from a counter-based hash (kernels.h: KDrop) ----
 * Element i of a site's mask is kept when the top 24 bits of
 * mix64(base + GOLDEN (i + 1)) are >= p 2^24, base a hash of (key, layer,
 * site): no state, any task order, and backward recomputes the same mask.
 * tests/model/ref_gpt2.py replicates it in numpy. */

uint64_t gpt_dropout_key(uint64_t seed, uint64_t step, uint64_t micro)
{
    return kdrop_mix64(kdrop_mix64(kdrop_mix64(seed + KDROP_GOLDEN) + step) + micro);
}

void gpt_set_dropout(Gpt *g, float p, uint64_t key)
{
    g->drop_p = p;
    g->drop_key = key;
}

KDrop gpt_dropout_site(uint64_t key, int layer, int site, float p)
{
    KDrop d = { .base = kdrop_mix64(key + KDROP_GOLDEN * (uint64_t)(4 * layer + site + 1)),
                .thresh = (uint32_t)((double)p * 16777216.0 + 0.5), .scale = 1.0f / (1.0f - p) };
    return d;
}

int gpt_dropout_keeps(uint64_t key, int layer, int site, uint64_t i, float p)
{
    KDrop d = gpt_dropout_site(key, layer, site, p);
    return kdrop_mul(&d, i) != 0.0f;
}

/* ---- the model ---- */

/* Pointer arithmetic on working-precision buffers. */
#define XAT(p, i) ((floatX *)((char *)(p) + (size_t)(i) * xb))

void gpt_forward(Gpt *g, const int *inputs, const int *targets, int B, int T)
{
    const GptConfig *c = &g->cfg;
    const GptActs *a = g->act;
    Kern *k = g->k;
    const KernOps *o = k->ops;
    const size_t xb = kern_x_bytes(k);
    g->fwd_B = B;
    g->fwd_T = T;
    int C = c->n_embd, M = c->n_mlp, NH = c->n_head, N = B * T;
    size_t NC = (size_t)N * C, att_state = o->attention_state(k, B, T, NH);
    o->upload(k, g->inputs, inputs, (size_t)N * sizeof(int));
    if (targets) o->upload(k, g->targets, targets, (size_t)N * sizeof(int));
    float p = g->drop_used = g->drop_p;
    int drop = p > 0.0f;
    KDrop d;
    o->encoder_forward(k, a->encoded, g->inputs, g->tensor[GPT_WTE], g->tensor[GPT_WPE], B, T, C);
    if (drop) o->residual_forward(k, a->encoded, a->encoded, NULL, (d = gpt_dropout_site(g->drop_key, 0, 0, p), &d), NC);
    for (int l = 0; l < c->n_layer; l++) {
        const floatX *resid = l == 0 ? a->encoded : XAT(a->res3, (l - 1) * NC);
        size_t lk = g->recompute ? 0 : (size_t)l; /* the layer's slot of what --recompute keeps once */
        floatX *ln1 = XAT(a->ln1, lk * NC), *qkv = XAT(a->qkv, l * 3 * NC), *atty = XAT(a->atty, l * NC);
        floatX *res2 = XAT(a->res2, l * NC), *ln2 = XAT(a->ln2, lk * NC), *res3 = XAT(a->res3, l * NC);
        floatX *fch = XAT(a->fch, l * (size_t)N * M), *fch_gelu = XAT(a->fch_gelu, lk * (size_t)N * M);
        o->layernorm_forward(k, ln1, a->ln1_mean + (size_t)l * N, a->ln1_rstd + (size_t)l * N, resid,
                             XAT(g->tensor[GPT_LN1W], l * C), XAT(g->tensor[GPT_LN1B], l * C), N, C);
        o->matmul_forward(k, qkv, ln1, XAT(g->tensor[GPT_QKVW], (size_t)l * 3 * C * C),
                          XAT(g->tensor[GPT_QKVB], l * 3 * C), NULL, N, C, 3 * C);
        if (drop) d = gpt_dropout_site(g->drop_key, l, 1, p);
        o->attention_forward(k, atty, a->att + l * att_state, a->att_scratch, qkv, B, T, C, NH, drop ? &d : NULL);
        /* with dropout the residual is added after the mask */
        o->matmul_forward(k, res2, atty, XAT(g->tensor[GPT_ATTPROJW], (size_t)l * C * C),
                          XAT(g->tensor[GPT_ATTPROJB], l * C), drop ? NULL : resid, N, C, C);
        if (drop) o->residual_forward(k, res2, res2, resid, (d = gpt_dropout_site(g->drop_key, l, 2, p), &d), NC);
        o->layernorm_forward(k, ln2, a->ln2_mean + (size_t)l * N, a->ln2_rstd + (size_t)l * N, res2,
                             XAT(g->tensor[GPT_LN2W], l * C), XAT(g->tensor[GPT_LN2B], l * C), N, C);
        if (o->matmul_gelu_forward) {
            o->matmul_gelu_forward(k, fch_gelu, fch, ln2, XAT(g->tensor[GPT_FCW], (size_t)l * M * C),
                                   XAT(g->tensor[GPT_FCB], (size_t)l * M), N, C, M);
        } else {
            o->matmul_forward(k, fch, ln2, XAT(g->tensor[GPT_FCW], (size_t)l * M * C),
                              XAT(g->tensor[GPT_FCB], (size_t)l * M), NULL, N, C, M);
            o->gelu_forward(k, fch_gelu, fch, (size_t)N * M);
        }
        o->matmul_forward(k, res3, fch_gelu, XAT(g->tensor[GPT_FCPROJW], (size_t)l * C * M),
                          XAT(g->tensor[GPT_FCPROJB], l * C), drop ? NULL : res2, N, M, C);
        if (drop) o->residual_forward(k, res3, res3, res2, (d = gpt_dropout_site(g->drop_key, l, 3, p), &d), NC);
    }
    o->layernorm_forward(k, a->lnf, a->lnf_mean, a->lnf_rstd, XAT(a->res3, (c->n_layer - 1) * NC),
                         g->tensor[GPT_LNFW], g->tensor[GPT_LNFB], N, C);
    o->matmul_forward(k, a->logits, a->lnf, g->tensor[GPT_WTE], NULL, NULL, N, C, c->padded_vocab);
    if (!targets) return;
    /* fused with the backward when one was announced: the logits become d loss / d logits */
    g->fused_scale = g->bwd_scale;
    o->classifier_forward(k, a->losses, a->logits, g->targets, N, c->vocab_size, c->padded_vocab,
                          g->fused_scale / (float)N);
    /* the mean on the host, in row order: the same sum on every backend */
    o->download(k, g->losses_host, a->losses, (size_t)N * sizeof(float));
    double sum = 0.0;
    for (int r = 0; r < N; r++) sum += g->losses_host[r];
    g->loss = (float)(sum / N);
}

void gpt_logits_get(const Gpt *g, size_t row0, size_t n_rows, float *out)
{
    Kern *k = g->k;
    size_t Vp = (size_t)g->cfg.padded_vocab, xb = kern_x_bytes(k);
    if (xb == sizeof(float)) k->ops->download(k, out, XAT(g->act->logits, row0 * Vp), n_rows * Vp * sizeof(float));
    else k->ops->download_x(k, out, XAT(g->act->logits, row0 * Vp), n_rows * Vp);
}

void gpt_zero_grad(Gpt *g) { g->k->ops->zero(g->k, g->grads, n_tensor_bytes(g)); }

void gpt_set_backward(Gpt *g, float scale) { g->bwd_scale = scale; }

void gpt_backward(Gpt *g, float scale)
{
    const GptConfig *c = &g->cfg;
    const GptActs *a = g->act;
    Kern *k = g->k;
    const KernOps *o = k->ops;
    const size_t xb = kern_x_bytes(k);
    int B = g->fwd_B, T = g->fwd_T, C = c->n_embd, M = c->n_mlp, NH = c->n_head, N = B * T, L = c->n_layer;
    size_t NC = (size_t)N * C, att_state = o->attention_state(k, B, T, NH);
    float p = g->drop_used;
    int drop = p > 0.0f;
    KDrop d;
    if (g->fused_scale == 0.0f)
        o->classifier_backward(k, a->logits, g->targets, N, c->vocab_size, c->padded_vocab, scale / (float)N);
    else
        assert(g->fused_scale == scale); /* the forward made the gradient of the scale it was told */
    /* dres holds d loss / d (the residual stream) as we walk down the layers */
    o->matmul_backward(k, a->dln, g->grad[GPT_WTE], NULL, a->logits, a->lnf, g->tensor[GPT_WTE], N, C,
                       c->padded_vocab, a->mm_scratch);
    o->zero(k, a->dres, NC * xb);
    o->layernorm_backward(k, a->dres, g->grad[GPT_LNFW], g->grad[GPT_LNFB], a->dln, XAT(a->res3, (L - 1) * NC),
                          g->tensor[GPT_LNFW], a->lnf_mean, a->lnf_rstd, N, C);
    for (int l = L - 1; l >= 0; l--) {
        const floatX *resid = l == 0 ? a->encoded : XAT(a->res3, (l - 1) * NC);
        size_t lk = g->recompute ? 0 : (size_t)l;
        const floatX *ln1 = XAT(a->ln1, lk * NC), *qkv = XAT(a->qkv, l * 3 * NC), *atty = XAT(a->atty, l * NC);
        const floatX *res2 = XAT(a->res2, l * NC), *ln2 = XAT(a->ln2, lk * NC);
        const floatX *fch = XAT(a->fch, l * (size_t)N * M), *fch_gelu = XAT(a->fch_gelu, lk * (size_t)N * M);
        if (g->recompute) { /* this layer's GELU and second LayerNorm again, from what the forward kept */
            o->gelu_forward(k, a->fch_gelu, fch, (size_t)N * M);
            o->layernorm_forward(k, a->ln2, a->ln2_mean + (size_t)l * N, a->ln2_rstd + (size_t)l * N, res2,
                                 XAT(g->tensor[GPT_LN2W], l * C), XAT(g->tensor[GPT_LN2B], l * C), N, C);
        }
        /* res3 = res2 + drop(fch_gelu fcprojw^T + b): dres flows to res2 unchanged,
         * through the mask to the product (masked into dln, free until fcw's dinp) */
        const floatX *dproj = a->dres;
        if (drop) {
            d = gpt_dropout_site(g->drop_key, l, 3, p);
            o->residual_forward(k, a->dln, a->dres, NULL, &d, NC);
            dproj = a->dln;
        }
        if (o->matmul_dgelu_backward) {
            o->matmul_dgelu_backward(k, a->dfch, g->grad[GPT_FCPROJW] + (size_t)l * C * M,
                                     g->grad[GPT_FCPROJB] + l * C, dproj, fch_gelu,
                                     XAT(g->tensor[GPT_FCPROJW], (size_t)l * C * M), fch, N, M, C, NULL);
        } else {
            o->matmul_backward(k, a->dfch, g->grad[GPT_FCPROJW] + (size_t)l * C * M, g->grad[GPT_FCPROJB] + l * C,
                               dproj, fch_gelu, XAT(g->tensor[GPT_FCPROJW], (size_t)l * C * M), N, M, C, NULL);
            o->gelu_backward(k, a->dfch, fch, (size_t)N * M);
        }
        o->matmul_backward(k, a->dln, g->grad[GPT_FCW] + (size_t)l * M * C, g->grad[GPT_FCB] + (size_t)l * M,
                           a->dfch, ln2, XAT(g->tensor[GPT_FCW], (size_t)l * M * C), N, C, M, NULL);
        o->layernorm_backward(k, a->dres, g->grad[GPT_LN2W] + l * C, g->grad[GPT_LN2B] + l * C, a->dln, res2,
                              XAT(g->tensor[GPT_LN2W], l * C), a->ln2_mean + (size_t)l * N,
                              a->ln2_rstd + (size_t)l * N, N, C);
        /* res2 = resid + drop(atty attprojw^T + b); the masked gradient goes in
         * dqkv, which attention's backward overwrites only after this product */
        dproj = a->dres;
        if (drop) {
            d = gpt_dropout_site(g->drop_key, l, 2, p);
            o->residual_forward(k, a->dqkv, a->dres, NULL, &d, NC);
            dproj = a->dqkv;
        }
        o->matmul_backward(k, a->dln, g->grad[GPT_ATTPROJW] + (size_t)l * C * C, g->grad[GPT_ATTPROJB] + l * C,
                           dproj, atty, XAT(g->tensor[GPT_ATTPROJW], (size_t)l * C * C), N, C, C, NULL);
        if (drop) d = gpt_dropout_site(g->drop_key, l, 1, p);
        o->attention_backward(k, a->dqkv, a->att_scratch, a->dln, qkv, atty, a->att + l * att_state, B, T, C, NH,
                              drop ? &d : NULL);
        if (g->recompute) /* and the first LayerNorm, for the QKV product's weight gradient */
            o->layernorm_forward(k, a->ln1, a->ln1_mean + (size_t)l * N, a->ln1_rstd + (size_t)l * N, resid,
                                 XAT(g->tensor[GPT_LN1W], l * C), XAT(g->tensor[GPT_LN1B], l * C), N, C);
        o->matmul_backward(k, a->dln, g->grad[GPT_QKVW] + (size_t)l * 3 * C * C, g->grad[GPT_QKVB] + l * 3 * C,
                           a->dqkv, ln1, XAT(g->tensor[GPT_QKVW], (size_t)l * 3 * C * C), N, C, 3 * C, NULL);
        o->layernorm_backward(k, a->dres, g->grad[GPT_LN1W] + l * C, g->grad[GPT_LN1B] + l * C, a->dln, resid,
                              XAT(g->tensor[GPT_LN1W], l * C), a->ln1_mean + (size_t)l * N,
                              a->ln1_rstd + (size_t)l * N, N, C);
    }
    if (drop) {
        d = gpt_dropout_site(g->drop_key, 0, 0, p);
        o->residual_forward(k, a->dres, a->dres, NULL, &d, NC);
    }
    o->encoder_backward(k, g->grad[GPT_WTE], g->grad[GPT_WPE], a->dres, g->inputs, B, T, C);
}

/* ---- AdamW ---- */

/* The tensors' pieces within [mom_lo, mom_hi), each with its tensor's decay
 * rule, into sizes and decays (GPT_N_TENSORS each). */
static KTensors slice_tensors(const Gpt *g, size_t *sizes, int *decays)
{
    size_t s[GPT_N_TENSORS], off = 0;
    gpt_tensor_sizes(&g->cfg, s);
    int n = 0;
    for (int i = 0; i < GPT_N_TENSORS; off += s[i], i++) {
        size_t a = off > g->mom_lo ? off : g->mom_lo, b = off + s[i] < g->mom_hi ? off + s[i] : g->mom_hi;
        if (b <= a) continue;
        sizes[n] = b - a;
        decays[n++] = gpt_tensor_decays(i);
    }
    return (KTensors){ .n = n, .sizes = sizes, .decays = decays };
}

double gpt_grad_norm2_slice(Gpt *g)
{
    size_t sizes[GPT_N_TENSORS];
    int decays[GPT_N_TENSORS];
    KTensors t = slice_tensors(g, sizes, decays);
    return g->k->ops->grad_norm2(g->k, g->grads + g->mom_lo, &t);
}

float gpt_adamw_step(Gpt *g, const AdamOpts *o, float lr)
{
    float norm = (float)sqrt(gpt_grad_norm2_slice(g)); /* the whole model's, unless sliced */
    gpt_adamw_apply(g, o, lr, norm);
    return norm;
}

void gpt_adamw_apply(Gpt *g, const AdamOpts *o, float lr, float norm)
{
    size_t sizes[GPT_N_TENSORS];
    int decays[GPT_N_TENSORS];
    KTensors t = slice_tensors(g, sizes, decays);
    AdamArgs a = { .lr = lr, .beta1 = o->beta1, .beta2 = o->beta2, .eps = o->eps,
                   .weight_decay = o->weight_decay, .clip_coef = 1.0f };
    if (o->clip > 0.0f) {
        float coef = o->clip / (norm + 1e-6f);
        if (coef < 1.0f) a.clip_coef = coef;
    }
    g->adam_step++;
    a.bc1 = 1.0f - powf(o->beta1, (float)g->adam_step);
    a.bc2_sqrt = sqrtf(1.0f - powf(o->beta2, (float)g->adam_step));
    a.round_key = kdrop_mix64(0x726f756e64ull ^ g->adam_step); /* "round": this step's, the same after a resume */
    size_t lo = g->mom_lo;
    a.first = lo;
    floatX *px = g->params_x == (floatX *)g->params ? NULL : (char *)g->params_x + lo * kern_x_bytes(g->k);
    g->k->ops->adamw(g->k, g->params ? g->params + lo : NULL, px, g->m, g->v, g->grads + lo, &t, &a);
}
