/* The CPU backend of kernels.h: float32, matrix products through
 * cblas_sgemm in fixed tasks on our pool (OpenBLAS single-threaded), the rest
 * threaded C. Every loop is split into tasks whose bounds depend on the shapes
 * only (never on -j), so any thread count gives the same bits; sums over rows
 * run in one fixed order. No mixed precision: floatX is float here.
 * Speed is measured by bench/model/run.sh. */
#include "kernels.h"
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
        if (m->resid && m->resid != m->out) memcpy(o, m->resid + (size_t)r * m->oc + c0, cols * sizeof(float));
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
    if (m->n == 1) { /* one row (model sample's next token): a matrix-vector product */
        cblas_sgemv(CblasRowMajor, CblasNoTrans, cols, m->k, 1.0f, m->w + (size_t)c0 * m->k, m->k, m->inp, 1,
                    beta, m->out + c0, 1);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m->n, cols, m->k, 1.0f, m->inp, m->k,
                m->w + (size_t)c0 * m->k, m->k, beta, m->out + c0, m->oc);
}

/* out = inp W^T (+ bias) (+ resid, the residual stream the product adds to).
 * Split along the longer side: the output layer has far more columns (the
 * vocabulary) than rows. */
static void matmul_forward(Kern *kn, floatX *out, const floatX *inp, const floatX *w, const floatX *bias,
                           const floatX *resid, int n, int k, int oc)
{
    Mm m = { .out = out, .inp = inp, .w = w, .bias = bias, .resid = resid, .n = n, .k = k, .oc = oc };
    if (oc > n) gpool_run(kn->pool, split(oc, &m.chunk), mm_fwd_cols, &m);
    else gpool_run(kn->pool, split(n, &m.chunk), mm_fwd_rows, &m);
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
static size_t matmul_scratch(const Kern *kn, int n, int k, int oc)
{
    (void)kn;
    return oc > SPLITK_OC ? (size_t)SPLITK * n * k : 0;
}

static void matmul_backward(Kern *kn, floatX *dinp, float *dw, float *db, const floatX *dout,
                            const floatX *inp, const floatX *w, int n, int k, int oc, float *partial)
{
    GPool *pool = kn->pool;
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

/* ---- residual adds and dropout masks (kernels.h: KDrop) ---- */

typedef struct Dr {
    float *out;
    const float *inp, *add;
    const KDrop *d;
    size_t n;
} Dr;

static void drop_task(void *ctx, size_t task)
{
    const Dr *r = ctx;
    size_t i0 = task * ELEM_TASK, i1 = i0 + ELEM_TASK < r->n ? i0 + ELEM_TASK : r->n;
    for (size_t i = i0; i < i1; i++) {
        float x = r->d ? r->inp[i] * kdrop_mul(r->d, i) : r->inp[i];
        r->out[i] = r->add ? r->add[i] + x : x;
    }
}

/* out = add + inp * mask (add NULL: out = inp * mask); out may be inp or add.
 * Backward uses it too: the gradient through a mask is the mask again. */
static void residual_forward(Kern *k, floatX *out, const floatX *inp, const floatX *add, const KDrop *d,
                             size_t n)
{
    Dr r = { .out = out, .inp = inp, .add = add, .d = d, .n = n };
    gpool_run(k->pool, (n + ELEM_TASK - 1) / ELEM_TASK, drop_task, &r);
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

static void layernorm_forward(Kern *k, floatX *out, float *mean, float *rstd, const floatX *inp,
                              const floatX *w, const floatX *b, int n, int c)
{
    Ln l = { .out = out, .mean = mean, .rstd = rstd, .inp = inp, .w = w, .b = b, .n = n, .c = c };
    gpool_run(k->pool, (size_t)(n + ROW_TASK - 1) / ROW_TASK, ln_fwd_task, &l);
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
static void layernorm_backward(Kern *k, floatX *dinp, float *dw, float *db, const floatX *dout,
                               const floatX *inp, const floatX *w, const float *mean, const float *rstd,
                               int n, int c)
{
    Ln l = { .dinp = dinp, .dw = dw, .db = db, .dout = dout, .inp = inp, .w = w,
             .mean = (float *)mean, .rstd = (float *)rstd, .n = n, .c = c };
    gpool_run(k->pool, (size_t)(n + ROW_TASK - 1) / ROW_TASK, ln_dinp_task, &l);
    gpool_run(k->pool, (size_t)(c + COL_TASK - 1) / COL_TASK, ln_dw_task, &l);
}

/* ---- causal self-attention, one task per (batch row, head) ---- */

typedef struct Att {
    float *out, *att, *dqkv, *datt_rows; /* datt_rows: the dropped probabilities in forward */
    const float *qkv, *dout;
    int B, T, C, NH;
    const KDrop *d; /* mask over this layer's (B,NH,T,T); NULL: none */
} Att;

/* dst = the task's probabilities times their mask (causal part; the rest 0). */
static void att_drop_rows(const Att *a, size_t task, const float *att, float *dst)
{
    int T = a->T;
    uint64_t i0 = task * (uint64_t)T * T;
    for (int t = 0; t < T; t++) {
        const float *p = att + (size_t)t * T;
        float *o = dst + (size_t)t * T;
        for (int s = 0; s <= t; s++) o[s] = p[s] * kdrop_mul(a->d, i0 + (uint64_t)t * T + s);
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
    if (a->d) {
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
    if (a->d) {
        /* y = (P . mask) V: dV from the dropped P (rebuilt in d), dP through the mask */
        att_drop_rows(a, task, att, d);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, 1.0f, d, T, dy, C, 0.0f, dv, 3 * C);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, 1.0f, dy, C, v, 3 * C, 0.0f, d, T);
        uint64_t i0 = task * (uint64_t)T * T;
        for (int t = 0; t < T; t++)
            for (int s = 0; s <= t; s++) d[(size_t)t * T + s] *= kdrop_mul(a->d, i0 + (uint64_t)t * T + s);
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

/* The state a layer keeps is its probabilities (B,NH,T,T); the scratch holds
 * the dropped probabilities in the forward and dP in the backward. */
static size_t attention_state(const Kern *k, int B, int T, int NH)
{
    (void)k;
    return (size_t)B * NH * T * T;
}
static size_t attention_scratch(const Kern *k, int B, int T, int NH)
{
    (void)k;
    return (size_t)B * NH * T * T;
}

static void attention_forward(Kern *k, floatX *out, float *state, float *scratch, const floatX *qkv, int B,
                              int T, int C, int NH, const KDrop *drop)
{
    Att at = { .out = out, .att = state, .qkv = qkv, .B = B, .T = T, .C = C, .NH = NH, .d = drop,
               .datt_rows = scratch };
    gpool_run(k->pool, (size_t)B * NH, att_fwd_task, &at);
}

static void attention_backward(Kern *k, floatX *dqkv, float *scratch, const floatX *dout, const floatX *qkv,
                               const floatX *out, const float *state, int B, int T, int C, int NH,
                               const KDrop *drop)
{
    (void)out; /* the kept probabilities are enough here */
    Att at = { .att = (float *)state, .dqkv = dqkv, .datt_rows = scratch, .qkv = qkv, .dout = dout, .B = B,
               .T = T, .C = C, .NH = NH, .d = drop };
    gpool_run(k->pool, (size_t)B * NH, att_bwd_task, &at);
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

static void gelu_forward(Kern *k, floatX *out, const floatX *inp, size_t n)
{
    Ew ew = { .out = out, .inp = inp, .n = n };
    gpool_run(k->pool, (n + ELEM_TASK - 1) / ELEM_TASK, gelu_fwd_task, &ew);
}

static void gelu_backward(Kern *k, floatX *d, const floatX *inp, size_t n)
{
    Ew ew = { .dout_inplace = d, .inp = inp, .n = n };
    gpool_run(k->pool, (n + ELEM_TASK - 1) / ELEM_TASK, gelu_bwd_task, &ew);
}

typedef struct Enc {
    float *x, *dwte, *dwpe;
    const float *wte, *wpe, *dres;
    const int *inp;
    int n, T, C;
} Enc;

static void enc_fwd_task(void *ctx, size_t task)
{
    const Enc *e = ctx;
    int C = e->C;
    int r0 = (int)task * ROW_TASK, r1 = r0 + ROW_TASK < e->n ? r0 + ROW_TASK : e->n;
    for (int r = r0; r < r1; r++) {
        const float *te = e->wte + (size_t)e->inp[r] * C;
        const float *pe = e->wpe + (size_t)(r % e->T) * C;
        float *o = e->x + (size_t)r * C;
        for (int i = 0; i < C; i++) o[i] = te[i] + pe[i];
    }
}

static void encoder_forward(Kern *k, floatX *out, const int *inp, const floatX *wte, const floatX *wpe, int B,
                            int T, int C)
{
    Enc e = { .x = out, .wte = wte, .wpe = wpe, .inp = inp, .n = B * T, .T = T, .C = C };
    gpool_run(k->pool, (size_t)(e.n + ROW_TASK - 1) / ROW_TASK, enc_fwd_task, &e);
}

/* By channel ranges, so that rows add up in one fixed order. */
static void enc_bwd_task(void *ctx, size_t task)
{
    const Enc *e = ctx;
    int C = e->C, T = e->T;
    int c0 = (int)task * COL_TASK, cols = C - c0 < COL_TASK ? C - c0 : COL_TASK;
    for (int r = 0; r < e->n; r++) {
        const float *d = e->dres + (size_t)r * C + c0;
        float *a = e->dwte + (size_t)e->inp[r] * C + c0, *p = e->dwpe + (size_t)(r % T) * C + c0;
        for (int j = 0; j < cols; j++) {
            a[j] += d[j];
            p[j] += d[j];
        }
    }
}

static void encoder_backward(Kern *k, float *dwte, float *dwpe, const floatX *dout, const int *inp, int B, int T,
                             int C)
{
    Enc e = { .dwte = dwte, .dwpe = dwpe, .dres = dout, .inp = inp, .n = B * T, .T = T, .C = C };
    gpool_run(k->pool, (size_t)(C + COL_TASK - 1) / COL_TASK, enc_bwd_task, &e);
}

typedef struct Ce {
    float *logits, *losses;
    const int *targets;
    int n, V, Vp;
    float dloss;
} Ce;

/* Softmax over the V real ids (padding columns get probability 0) and the
 * loss as log-sum-exp minus the target's logit, which is exact for tiny probabilities. */
static void ce_fwd_task(void *ctx, size_t task)
{
    const Ce *c = ctx;
    int V = c->V, Vp = c->Vp;
    int r0 = (int)task * ROW_TASK, r1 = r0 + ROW_TASK < c->n ? r0 + ROW_TASK : c->n;
    for (int r = r0; r < r1; r++) {
        float *p = c->logits + (size_t)r * Vp;
        float mx = vm_max(p, V), target_logit = p[c->targets[r]];
        float sum = vm_exp_sum(p, V, mx);
        vm_scale(p, V, 1.0f / sum);
        for (int i = V; i < Vp; i++) p[i] = 0.0f;
        c->losses[r] = (float)(log((double)sum) + (double)mx - (double)target_logit);
        if (c->dloss != 0.0f) { /* fused: the backward's arithmetic, while the row is in cache */
            vm_scale(p, V, c->dloss);
            p[c->targets[r]] -= c->dloss;
        }
    }
}

static void classifier_forward(Kern *k, float *losses, floatX *logits, const int *targets, int N, int V, int Vp,
                               float dloss)
{
    Ce c = { .logits = logits, .losses = losses, .targets = targets, .n = N, .V = V, .Vp = Vp, .dloss = dloss };
    gpool_run(k->pool, (size_t)(N + ROW_TASK - 1) / ROW_TASK, ce_fwd_task, &c);
}

static void ce_bwd_task(void *ctx, size_t task)
{
    const Ce *c = ctx;
    int r0 = (int)task * ROW_TASK, r1 = r0 + ROW_TASK < c->n ? r0 + ROW_TASK : c->n;
    for (int r = r0; r < r1; r++) {
        float *p = c->logits + (size_t)r * c->Vp;
        vm_scale(p, c->V, c->dloss);
        p[c->targets[r]] -= c->dloss;
    }
}

static void classifier_backward(Kern *k, floatX *probs, const int *targets, int N, int V, int Vp, float dloss)
{
    Ce c = { .logits = probs, .targets = targets, .n = N, .V = V, .Vp = Vp, .dloss = dloss };
    gpool_run(k->pool, (size_t)(N + ROW_TASK - 1) / ROW_TASK, ce_bwd_task, &c);
}

/* ---- attention of new rows over a KV cache (model sample) ----
 * Per head: scores by sgemv (one row) or sgemm, softmax, the weighted values. */
static size_t attention_cached_scratch(const Kern *k, int max_T)
{
    (void)k;
    return (size_t)max_T * max_T;
}

static void attention_cached(Kern *k, floatX *out, floatX *kcache, floatX *vcache, const floatX *qkv_x, int n,
                             int p0, int C, int NH, float *att)
{
    (void)k;
    const float *qkv = qkv_x;
    float *kc = kcache, *vc = vcache, *y_all = out;
    for (int i = 0; i < n; i++) {
        memcpy(kc + (size_t)(p0 + i) * C, qkv + (size_t)i * 3 * C + C, C * sizeof(float));
        memcpy(vc + (size_t)(p0 + i) * C, qkv + (size_t)i * 3 * C + 2 * C, C * sizeof(float));
    }
    int hs = C / NH, S = p0 + n;
    float scale = 1.0f / sqrtf((float)hs);
    for (int hd = 0; hd < NH; hd++) {
        const float *q = qkv + hd * hs, *kh = kc + hd * hs, *v = vc + hd * hs;
        float *y = y_all + hd * hs;
        if (n == 1) {
            cblas_sgemv(CblasRowMajor, CblasNoTrans, S, hs, scale, kh, C, q, 1, 0.0f, att, 1);
            float sum = vm_exp_sum(att, (size_t)S, vm_max(att, (size_t)S));
            vm_scale(att, (size_t)S, 1.0f / sum);
            cblas_sgemv(CblasRowMajor, CblasTrans, S, hs, 1.0f, v, C, att, 1, 0.0f, y, 1);
            continue;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, S, hs, scale, q, 3 * C, kh, C, 0.0f, att, S);
        for (int i = 0; i < n; i++) {
            float *row = att + (size_t)i * S;
            int seen = p0 + i + 1;
            float sum = vm_exp_sum(row, (size_t)seen, vm_max(row, (size_t)seen));
            vm_scale(row, (size_t)seen, 1.0f / sum);
            for (int s = seen; s < S; s++) row[s] = 0.0f;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, hs, S, 1.0f, att, S, v, C, 0.0f, y, C);
    }
}

/* ---- the global norm and AdamW ----
 * Both walk the flat buffers in fixed chunks of ELEM_TASK, each inside one
 * tensor (the last chunk of a tensor may be short), so that decay is per chunk
 * and the norm's partial sums merge in chunk order. */

typedef struct CpuState {
    double *sumsq; /* a chunk's share of the squared gradient norm */
    size_t cap;
} CpuState;

typedef struct Adam {
    const KTensors *t;
    double *sumsq;
    float *p, *m, *v;
    const float *g;
    const AdamArgs *a;
} Adam;

static size_t n_chunks(const KTensors *t)
{
    size_t n = 0;
    for (int i = 0; i < t->n; i++) n += (t->sizes[i] + ELEM_TASK - 1) / ELEM_TASK;
    return n;
}

/* Chunk `task`: its offset in the flat buffer, its length and tensor. */
static void chunk_at(const KTensors *t, size_t task, size_t *off, size_t *n, int *tensor)
{
    size_t base = 0;
    for (int i = 0; i < t->n; i++) {
        size_t c = (t->sizes[i] + ELEM_TASK - 1) / ELEM_TASK;
        if (task < c) {
            size_t j = task * ELEM_TASK;
            *off = base + j;
            *n = t->sizes[i] - j < ELEM_TASK ? t->sizes[i] - j : ELEM_TASK;
            *tensor = i;
            return;
        }
        task -= c;
        base += t->sizes[i];
    }
    *off = *n = 0;
    *tensor = 0;
}

static void norm_task(void *ctx, size_t task)
{
    Adam *ad = ctx;
    size_t off, n;
    int ti;
    chunk_at(ad->t, task, &off, &n, &ti);
    const float *gr = ad->g + off;
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)gr[i] * gr[i];
    ad->sumsq[task] = s;
}

static double grad_norm2(Kern *k, const float *grads, const KTensors *t)
{
    CpuState *st = k->impl;
    size_t n = n_chunks(t);
    if (n > st->cap) {
        double *p = realloc(st->sumsq, n * sizeof *p);
        if (!p) return NAN; /* out of memory: a NaN norm stops training with a message */
        st->sumsq = p;
        st->cap = n;
    }
    Adam ad = { .t = t, .g = grads, .sumsq = st->sumsq };
    gpool_run(k->pool, n, norm_task, &ad);
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += st->sumsq[i];
    return s;
}

/* PyTorch's AdamW (torch/optim/adamw.py, single-tensor path), in its order. */
static void adam_task(void *ctx, size_t task)
{
    const Adam *ad = ctx;
    const AdamArgs *a = ad->a;
    size_t off, n;
    int ti;
    chunk_at(ad->t, task, &off, &n, &ti);
    float *p = ad->p + off, *m = ad->m + off, *v = ad->v + off;
    const float *gr = ad->g + off;
    float b1 = a->beta1, b2 = a->beta2, step_size = a->lr / a->bc1;
    float decay = ad->t->decays[ti] ? 1.0f - a->lr * a->weight_decay : 1.0f;
    for (size_t i = 0; i < n; i++) {
        float gi = gr[i] * a->clip_coef;
        p[i] *= decay;
        m[i] = m[i] * b1 + gi * (1.0f - b1);
        v[i] = v[i] * b2 + gi * gi * (1.0f - b2);
        float denom = sqrtf(v[i]) / a->bc2_sqrt + a->eps;
        p[i] -= step_size * m[i] / denom;
    }
}

static void adamw(Kern *k, float *params, floatX *params_x, float *m, float *v, const float *grads,
                  const KTensors *t, const AdamArgs *a)
{
    (void)params_x; /* float32 is the working precision: the weights are the master copy */
    Adam ad = { .t = t, .p = params, .m = m, .v = v, .g = grads, .a = a };
    gpool_run(k->pool, n_chunks(t), adam_task, &ad);
}

/* ---- memory: host memory ---- */

static void *cpu_alloc(Kern *k, size_t bytes)
{
    (void)k;
    return calloc(1, bytes ? bytes : 1);
}

static void cpu_release(Kern *k, void *p)
{
    (void)k;
    free(p);
}

static void cpu_copy(Kern *k, void *dst, const void *src, size_t bytes)
{
    (void)k;
    if (dst != src) memmove(dst, src, bytes);
}

static void cpu_zero(Kern *k, void *p, size_t bytes)
{
    (void)k;
    memset(p, 0, bytes);
}

static void cpu_cast_x(Kern *k, floatX *dst, const float *src, size_t n) { cpu_copy(k, dst, src, n * sizeof(float)); }

static void cpu_download_x(Kern *k, float *host, const floatX *src, size_t n)
{
    cpu_copy(k, host, src, n * sizeof(float));
}

static void cpu_free(Kern *k);

static const KernOps cpu_ops = {
    .free = cpu_free,
    .alloc = cpu_alloc,
    .release = cpu_release,
    .upload = cpu_copy,
    .download = cpu_copy,
    .zero = cpu_zero,
    .cast_x = cpu_cast_x,
    .download_x = cpu_download_x,
    .encoder_forward = encoder_forward,
    .encoder_backward = encoder_backward,
    .layernorm_forward = layernorm_forward,
    .layernorm_backward = layernorm_backward,
    .matmul_forward = matmul_forward,
    .matmul_backward = matmul_backward,
    .matmul_scratch = matmul_scratch,
    .attention_forward = attention_forward,
    .attention_backward = attention_backward,
    .attention_state = attention_state,
    .attention_scratch = attention_scratch,
    .attention_cached = attention_cached,
    .attention_cached_scratch = attention_cached_scratch,
    .gelu_forward = gelu_forward,
    .gelu_backward = gelu_backward,
    .residual_forward = residual_forward,
    .classifier_forward = classifier_forward,
    .classifier_backward = classifier_backward,
    .grad_norm2 = grad_norm2,
    .adamw = adamw,
};

int kern_cpu_init(Kern *k, GPool *pool, Err *e)
{
    vm_init();
    *k = (Kern){ .ops = &cpu_ops, .device = KERN_CPU, .prec = PREC_FP32, .pool = pool };
    if (!(k->impl = calloc(1, sizeof(CpuState)))) return err_set(e, "out of memory");
    return 0;
}

const KernOps *kern_cpu_ops(void) { return &cpu_ops; }

static void cpu_free(Kern *k)
{
    CpuState *st = k->impl;
    free(st->sumsq);
    free(st);
}
