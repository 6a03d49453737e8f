/* Matrix products through cuBLASLt: out = inp W^T + bias + resid in one call
 * (the bias as cuBLASLt's epilogue, the residual as its C operand with beta 1),
 * and the backward's dinp = dout W, dW += dout^T inp, db += column sums of
 * dout (a product with a vector of ones), gradients of the weights always in
 * float32. Compute is CUBLAS_COMPUTE_32F: float32 inputs stay float32 (no
 * TF32), bf16 inputs accumulate in float32. Each shape's algorithm is chosen
 * once by the heuristic and kept, and split-K may reduce only through the
 * workspace (never in place), so a step gives the same bits every time. */
#include "common.cuh"

#include <stdlib.h>
#include <string.h>

/* Row-major (R,C) is column-major (C,R): every call below is written in
 * cuBLASLt's column-major terms, D (m,n) = op(A) op(B) [+ C] [+ bias (m)]. */

typedef struct LtKey {
    int ta, tb, m, n, k, lda, ldb, ldd;
    int ab_type, d_type, c_is_d, has_c, has_bias, gelu;
    int align; /* the smallest alignment of the pointers, bytes */
} LtKey;

/* A shape's descriptors and algorithm, made once: creating them every call
 * cost host time on every product of every step. */
typedef struct LtAlgo {
    LtKey key;
    cublasLtMatmulDesc_t op;
    cublasLtMatrixLayout_t la, lb, ld;
    cublasLtMatmulAlgo_t algo;
} LtAlgo;

#define LT_CACHE 256

/* A backend's own: each shape's descriptors and algorithm, and the ones of db. */
struct MatmulState {
    LtAlgo cache[LT_CACHE];
    int cached;
    void *ones; /* (n_ones) in the working precision */
    int n_ones;
};

static struct MatmulState *mm_state(Kern *k)
{
    CudaState *st = cuda_state(k);
    if (!st->mm && !(st->mm = (struct MatmulState *)calloc(1, sizeof *st->mm)))
        cuda_fail("out of host memory", "calloc(MatmulState)", __FILE__, __LINE__);
    return st->mm;
}

static void lt_release(LtAlgo *e)
{
    cublasLtMatrixLayoutDestroy(e->la);
    cublasLtMatrixLayoutDestroy(e->lb);
    cublasLtMatrixLayoutDestroy(e->ld);
    cublasLtMatmulDescDestroy(e->op);
}

void cu_matmul_free(CudaState *st)
{
    if (!st->mm) return;
    for (int i = 0; i < st->mm->cached; i++) lt_release(&st->mm->cache[i]);
    cudaFree(st->mm->ones);
    free(st->mm);
    st->mm = NULL;
}

static int align_of(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    int al = 256;
    while (al > 1 && a % al) al /= 2;
    return al;
}

/* The epilogues beyond the bias: GELU's forward (D = GELU(product + bias),
 * the product + bias kept in aux, D's shape) and backward (D = product .
 * GELU'(aux)). */
enum { LT_PLAIN, LT_GELU, LT_DGELU };

static void lt_matmul(Kern *k, void *d, cudaDataType d_type, const void *a, const void *b, cudaDataType ab_type,
                      int ta, int tb, int m, int n, int kk, int lda, int ldb, int ldd, const void *c,
                      const void *bias, int gelu = LT_PLAIN, const void *aux = NULL)
{
    CudaState *st = cuda_state(k);
    LtKey key;
    memset(&key, 0, sizeof key);
    key.ta = ta, key.tb = tb, key.m = m, key.n = n, key.k = kk, key.lda = lda, key.ldb = ldb, key.ldd = ldd;
    key.ab_type = (int)ab_type, key.d_type = (int)d_type, key.c_is_d = c == d, key.has_c = c != NULL;
    key.has_bias = bias != NULL, key.gelu = gelu;
    int al = align_of(a);
    if (align_of(b) < al) al = align_of(b);
    if (align_of(d) < al) al = align_of(d);
    if (c && align_of(c) < al) al = align_of(c);
    if (aux && align_of(aux) < al) al = align_of(aux);
    if (al > 16) al = 16;
    key.align = al;

    struct MatmulState *ms = mm_state(k);
    LtAlgo *e = NULL, fresh;
    for (int i = 0; i < ms->cached && !e; i++)
        if (!memcmp(&ms->cache[i].key, &key, sizeof key)) e = &ms->cache[i];
    if (!e) {
        e = ms->cached < LT_CACHE ? &ms->cache[ms->cached] : &fresh;
        e->key = key;
        CUBLAS_CHECK(cublasLtMatmulDescCreate(&e->op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
        cublasOperation_t opa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, opb = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
        CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa));
        CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb));
        cublasLtEpilogue_t epi = gelu == LT_GELU  ? (bias ? CUBLASLT_EPILOGUE_GELU_AUX_BIAS : CUBLASLT_EPILOGUE_GELU_AUX)
                                 : gelu == LT_DGELU ? CUBLASLT_EPILOGUE_DGELU
                                 : bias             ? CUBLASLT_EPILOGUE_BIAS
                                                    : CUBLASLT_EPILOGUE_DEFAULT;
        CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
        if (bias) {
            cudaDataType bt = ab_type;
            CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof bt));
        }
        if (gelu != LT_PLAIN) { /* aux: D's shape and type */
            int64_t ld64 = ldd;
            int32_t at = (int32_t)d_type;
            CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, &ld64, sizeof ld64));
            CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_DATA_TYPE, &at, sizeof at));
        }
        CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&e->la, ab_type, ta ? kk : m, ta ? m : kk, lda));
        CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&e->lb, ab_type, tb ? n : kk, tb ? kk : n, ldb));
        CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&e->ld, d_type, m, n, ldd));
        cublasLtMatmulPreference_t pref;
        CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
        CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                          &st->workspace_bytes, sizeof st->workspace_bytes));
        /* split-K reductions through the workspace only: no in-place (output) accumulation */
        uint32_t schemes = CUBLASLT_REDUCTION_SCHEME_NONE | CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE |
                           CUBLASLT_REDUCTION_SCHEME_OUTPUT_TYPE;
        CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, &schemes,
                                                          sizeof schemes));
        uint32_t al32 = (uint32_t)al;
        CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al32, 4));
        CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al32, 4));
        CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al32, 4));
        CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al32, 4));
        cublasLtMatmulHeuristicResult_t h;
        int found = 0;
        CUBLAS_CHECK(cublasLtMatmulAlgoGetHeuristic(st->lt, e->op, e->la, e->lb, e->ld, e->ld, pref, 1, &h, &found));
        cublasLtMatmulPreferenceDestroy(pref);
        if (found < 1) {
            char what[160];
            snprintf(what, sizeof what, "cuBLASLt has no algorithm for %s%s m=%d n=%d k=%d", ta ? "T" : "N",
                     tb ? "T" : "N", m, n, kk);
            cuda_fail(what, "cublasLtMatmulAlgoGetHeuristic", __FILE__, __LINE__);
        }
        e->algo = h.algo;
        if (e != &fresh) ms->cached++;
    }
    if (bias) /* the pointers are the call's; the rest of the descriptor is the shape's */
        CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
    if (aux) CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &aux, sizeof aux));
    const float one = 1.0f, zero = 0.0f;
    CUBLAS_CHECK(cublasLtMatmul(st->lt, e->op, &one, a, e->la, b, e->lb, c ? &one : &zero, c ? c : d, e->ld, d,
                                e->ld, &e->algo, st->workspace, st->workspace_bytes, st->stream));
    if (e == &fresh) lt_release(e); /* the cache is full: this shape's are not kept */
}

static cudaDataType x_type(const Kern *k) { return k->prec == PREC_BF16 ? CUDA_R_16BF : CUDA_R_32F; }

void cu_matmul_forward(Kern *k, floatX *out, const floatX *inp, const floatX *w, const floatX *bias,
                       const floatX *resid, int N, int K, int OC)
{
    cudaDataType xt = x_type(k);
    /* D (OC,N) = W^T (OC,K) inp (K,N): W stored (K,OC) column-major, inp (K,N) */
    lt_matmul(k, out, xt, w, inp, xt, 1, 0, OC, N, K, K, K, OC, resid, bias);
}

template <typename X> __global__ void fill_ones(X *p, size_t n)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < n) p[i] = from_f<X>(1.0f);
}

/* Values in [-1, 1) from a hash of the index. */
template <typename X> __global__ void fill_random(X *p, size_t n, uint64_t seed)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i >= n) return;
    uint64_t z = kdrop_mix64((i + 1) * KDROP_GOLDEN + seed);
    p[i] = from_f<X>((float)((z >> 40) & 0xffffff) / 8388608.0f - 1.0f);
}

/* A vector of N ones in the working precision, kept for the next calls. */
static const void *ones(Kern *k, int N)
{
    struct MatmulState *ms = mm_state(k);
    if (N > ms->n_ones) {
        CUDA_CHECK(cudaStreamSynchronize(cuda_stream(k)));
        CUDA_CHECK(cudaFree(ms->ones));
        ms->ones = NULL;
        CUDA_CHECK(cudaMalloc(&ms->ones, (size_t)N * kern_x_bytes(k)));
        if (k->prec == PREC_BF16) fill_ones<<<cuda_blocks(N, 256), 256, 0, cuda_stream(k)>>>((bf16 *)ms->ones, N);
        else fill_ones<<<cuda_blocks(N, 256), 256, 0, cuda_stream(k)>>>((float *)ms->ones, N);
        LAUNCH_CHECK("fill_ones");
        ms->n_ones = N;
    }
    return ms->ones;
}

/* dW (K,OC) += inp (K,N) dout^T (N,OC), in float32; db (OC) += column sums of dout */
static void matmul_weights_backward(Kern *k, float *dw, float *db, const floatX *dout, const floatX *inp, int N,
                                    int K, int OC)
{
    cudaDataType xt = x_type(k);
    lt_matmul(k, dw, CUDA_R_32F, inp, dout, xt, 0, 1, K, OC, N, K, OC, K, dw, NULL);
    /* db (OC,1) += dout (OC,N) ones (N,1) */
    if (db) lt_matmul(k, db, CUDA_R_32F, dout, ones(k, N), xt, 0, 0, OC, 1, N, OC, N, OC, db, NULL);
}

void cu_matmul_backward(Kern *k, floatX *dinp, float *dw, float *db, const floatX *dout, const floatX *inp,
                        const floatX *w, int N, int K, int OC, float *scratch)
{
    (void)scratch;
    cudaDataType xt = x_type(k);
    /* dinp (K,N) = W (K,OC) dout (OC,N) */
    if (dinp) lt_matmul(k, dinp, xt, w, dout, xt, 0, 0, K, N, OC, K, OC, K, NULL, NULL);
    matmul_weights_backward(k, dw, db, dout, inp, N, K, OC);
}

/* bf16: GELU in the products' epilogues (cuBLASLt's GELU is the tanh form,
 * as gelu.cu's), computed from the float32 sums rather than from pre rounded
 * to bf16. float32 keeps the separate kernels, which equal the CPU. */
void cu_matmul_gelu_forward(Kern *k, floatX *out, floatX *pre, const floatX *inp, const floatX *w,
                            const floatX *bias, int N, int K, int OC)
{
    if (k->prec != PREC_BF16) {
        cu_matmul_forward(k, pre, inp, w, bias, NULL, N, K, OC);
        cu_gelu_forward(k, out, pre, (size_t)N * OC);
        return;
    }
    cudaDataType xt = x_type(k);
    lt_matmul(k, out, xt, w, inp, xt, 1, 0, OC, N, K, K, K, OC, NULL, bias, LT_GELU, pre);
}

void cu_matmul_dgelu_backward(Kern *k, floatX *dinp, float *dw, float *db, const floatX *dout, const floatX *inp,
                              const floatX *w, const floatX *pre, int N, int K, int OC, float *scratch)
{
    if (k->prec != PREC_BF16) {
        cu_matmul_backward(k, dinp, dw, db, dout, inp, w, N, K, OC, scratch);
        cu_gelu_backward(k, dinp, pre, (size_t)N * K);
        return;
    }
    cudaDataType xt = x_type(k);
    lt_matmul(k, dinp, xt, w, dout, xt, 0, 0, K, N, OC, K, OC, K, NULL, NULL, LT_DGELU, pre);
    matmul_weights_backward(k, dw, db, dout, inp, N, K, OC);
}

size_t cu_matmul_scratch(const Kern *k, int N, int K, int OC) { return kern_cuda_matmul_scratch(k->prec, N, K, OC); }

/* The best of a few 4096^3 products in the working precision (random data:
 * zeros run faster than real numbers), timed with events after a warm-up. */
double cu_matmul_rate(Kern *k)
{
    const int n = 4096;
    size_t bytes = (size_t)n * n * kern_x_bytes(k);
    void *a = NULL, *b = NULL, *c = NULL;
    if (cudaMalloc(&a, bytes) != cudaSuccess || cudaMalloc(&b, bytes) != cudaSuccess ||
        cudaMalloc(&c, bytes) != cudaSuccess) {
        cudaGetLastError();
        cudaFree(a);
        cudaFree(b);
        return 0;
    }
    cudaStream_t s = cuda_stream(k);
    size_t count = (size_t)n * n;
    if (k->prec == PREC_BF16) {
        fill_random<<<cuda_blocks(count, 256), 256, 0, s>>>((bf16 *)a, count, 1);
        fill_random<<<cuda_blocks(count, 256), 256, 0, s>>>((bf16 *)b, count, 2);
    } else {
        fill_random<<<cuda_blocks(count, 256), 256, 0, s>>>((float *)a, count, 1);
        fill_random<<<cuda_blocks(count, 256), 256, 0, s>>>((float *)b, count, 2);
    }
    LAUNCH_CHECK("fill_random");
    cudaEvent_t t0, t1;
    CUDA_CHECK(cudaEventCreate(&t0));
    CUDA_CHECK(cudaEventCreate(&t1));
    double best = 0;
    for (int i = 0; i < 8; i++) {
        CUDA_CHECK(cudaEventRecord(t0, s));
        cu_matmul_forward(k, c, a, b, NULL, NULL, n, n, n);
        CUDA_CHECK(cudaEventRecord(t1, s));
        CUDA_CHECK(cudaEventSynchronize(t1));
        float ms = 0;
        CUDA_CHECK(cudaEventElapsedTime(&ms, t0, t1));
        if (i >= 2 && ms > 0 && 2.0 * n * n * (double)n / (ms * 1e-3) > best) best = 2.0 * n * n * (double)n / (ms * 1e-3);
    }
    cudaEventDestroy(t0);
    cudaEventDestroy(t1);
    CUDA_CHECK(cudaFree(a));
    CUDA_CHECK(cudaFree(b));
    CUDA_CHECK(cudaFree(c));
    return best;
}
