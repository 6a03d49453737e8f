/* Causal self-attention on the GPU, float32: the scores and probabilities of
 * every (batch, head) are materialised as on the CPU (state = the
 * probabilities (B,NH,T,T), kept for the backward), the products run as
 * strided batched SGEMMs with TF32 off, and the softmax, the dropout masks
 * and the gradient through the softmax are our kernels. This is the reference
 * path that equals the CPU; it is not fused. bf16 goes to the fused kernels
 * of flash.cu instead (state = the log-sum-exp (B,NH,T)). Also the attention
 * of new rows over a KV cache, for model sample. */
#include "common.cuh"

#include <math.h>

/* qkv (B,T,3,NH,hs) -> q, k, v (B,NH,T,hs) each */
__global__ void split_heads(float *q, float *k, float *v, const float *qkv, int B, int T, int NH, int hs)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x, n = (size_t)B * NH * T * hs;
    if (i >= n) return;
    int d = (int)(i % hs), t = (int)(i / hs % T), h = (int)(i / ((size_t)hs * T) % NH);
    int b = (int)(i / ((size_t)hs * T * NH)), C = NH * hs;
    const float *src = qkv + ((size_t)b * T + t) * 3 * C + h * hs + d;
    q[i] = src[0];
    k[i] = src[C];
    v[i] = src[2 * C];
}

/* x (B,NH,T,hs) -> out (B,T,NH,hs) at column offset `col` of rows `stride` wide */
__global__ void merge_heads(float *out, const float *x, int B, int T, int NH, int hs, int stride, int col)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x, n = (size_t)B * NH * T * hs;
    if (i >= n) return;
    int d = (int)(i % hs), t = (int)(i / hs % T), h = (int)(i / ((size_t)hs * T) % NH);
    int b = (int)(i / ((size_t)hs * T * NH));
    out[((size_t)b * T + t) * stride + col + h * hs + d] = x[i];
}

/* (B,T,C) -> (B,NH,T,hs) */
__global__ void split_rows(float *x, const float *in, int B, int T, int NH, int hs)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x, n = (size_t)B * NH * T * hs;
    if (i >= n) return;
    int d = (int)(i % hs), t = (int)(i / hs % T), h = (int)(i / ((size_t)hs * T) % NH);
    int b = (int)(i / ((size_t)hs * T * NH));
    x[i] = in[((size_t)b * T + t) * NH * hs + h * hs + d];
}

/* Block reductions in a fixed order (warp shuffles, then the warps' results). */
__device__ float block_max(float x, float *sh)
{
    for (int o = 16; o; o >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffff, x, o));
    int w = threadIdx.x / 32, l = threadIdx.x % 32, nw = blockDim.x / 32;
    __syncthreads();
    if (l == 0) sh[w] = x;
    __syncthreads();
    float r = -INFINITY;
    for (int i = 0; i < nw; i++) r = fmaxf(r, sh[i]);
    return r;
}

__device__ float block_sum(float x, float *sh)
{
    for (int o = 16; o; o >>= 1) x += __shfl_xor_sync(0xffffffff, x, o);
    int w = threadIdx.x / 32, l = threadIdx.x % 32, nw = blockDim.x / 32;
    __syncthreads();
    if (l == 0) sh[w] = x;
    __syncthreads();
    float r = 0.0f;
    for (int i = 0; i < nw; i++) r += sh[i];
    return r;
}

/* One block a row t of one (b,h): P[t][s] = softmax over s <= t of att (in
 * place), zero for s > t; dropped (when not NULL) = P . mask. */
__global__ void causal_softmax(float *att, float *dropped, int T, uint64_t base, uint32_t thresh, float scale)
{
    __shared__ float sh[32];
    size_t row = blockIdx.x; /* (b,h,t) */
    int t = (int)(row % T);
    float *x = att + row * T;
    float mx = -INFINITY;
    for (int s = threadIdx.x; s <= t; s += blockDim.x) mx = fmaxf(mx, x[s]);
    mx = block_max(mx, sh);
    float sum = 0.0f;
    for (int s = threadIdx.x; s <= t; s += blockDim.x) sum += expf(x[s] - mx);
    sum = block_sum(sum, sh);
    float inv = 1.0f / sum;
    for (int s = threadIdx.x; s < T; s += blockDim.x) {
        float p = s <= t ? expf(x[s] - mx) * inv : 0.0f;
        x[s] = p;
        if (dropped) dropped[row * T + s] = s <= t ? p * cuda_drop_mul(base, thresh, scale, row * T + s) : 0.0f;
    }
}

/* dS = P . (dP' - sum_s P dP') per row, dP' = dP . mask when dropping; in place over dp. */
__global__ void causal_softmax_backward(float *dp, const float *att, int T, int drop, uint64_t base, uint32_t thresh,
                                        float scale)
{
    __shared__ float sh[32];
    size_t row = blockIdx.x;
    int t = (int)(row % T);
    float *d = dp + row * T;
    const float *p = att + row * T;
    float dot = 0.0f;
    for (int s = threadIdx.x; s <= t; s += blockDim.x) {
        float g = d[s];
        if (drop) g *= cuda_drop_mul(base, thresh, scale, row * T + s);
        d[s] = g;
        dot += p[s] * g;
    }
    dot = block_sum(dot, sh);
    for (int s = threadIdx.x; s < T; s += blockDim.x) d[s] = s <= t ? p[s] * (d[s] - dot) : 0.0f;
}

/* C (m,n) = alpha op(A) op(B) for `count` matrices apart by the strides, column-major. */
static void sgemm_batched(Kern *k, int ta, int tb, int m, int n, int kk, float alpha, const float *a, int lda,
                          long long sa, const float *b, int ldb, long long sb, float *c, int ldc, long long sc,
                          int count)
{
    const float zero = 0.0f;
    CUBLAS_CHECK(cublasSgemmStridedBatched(cuda_state(k)->blas, ta ? CUBLAS_OP_T : CUBLAS_OP_N,
                                           tb ? CUBLAS_OP_T : CUBLAS_OP_N, m, n, kk, &alpha, a, lda, sa, b, ldb, sb,
                                           &zero, c, ldc, sc, count));
}

/* float32: the probabilities; bf16: each row's log-sum-exp (kern_cuda_sizes.c,
 * plain C: model plan sizes the GPU's layout with it where there is no GPU) */
size_t cu_attention_state(const Kern *k, int B, int T, int NH) { return kern_cuda_attention_state(k->prec, B, T, NH); }
/* float32: the dropped probabilities, and in the backward dP next to them;
 * bf16: D = rowsum(dout . out) of each row */
size_t cu_attention_scratch(const Kern *k, int B, int T, int NH)
{
    return kern_cuda_attention_scratch(k->prec, B, T, NH);
}

static void need_fp32(Kern *k, const char *what)
{
    if (k->prec != PREC_FP32) cuda_fail("this attention kernel is float32 only", what, __FILE__, __LINE__);
}

void cu_attention_forward(Kern *k, floatX *out_x, float *state, float *scratch, const floatX *qkv_x, int B, int T,
                          int C, int NH, const KDrop *drop)
{
    if (k->prec == PREC_BF16) {
        cu_flash_forward(k, (bf16 *)out_x, state, (const bf16 *)qkv_x, B, T, C, NH, drop);
        return;
    }
    need_fp32(k, "attention_forward");
    float *out = (float *)out_x;
    const float *qkv = (const float *)qkv_x;
    int hs = C / NH, BH = B * NH;
    size_t n = (size_t)B * T * C, tt = (size_t)T * T;
    float *q = (float *)cuda_scratch(k, 4 * n * sizeof(float)), *kk = q + n, *v = kk + n, *y = v + n;
    cudaStream_t s = cuda_stream(k);
    split_heads<<<cuda_blocks(n, 256), 256, 0, s>>>(q, kk, v, qkv, B, T, NH, hs);
    LAUNCH_CHECK("split_heads");
    /* S^T (s,t) = K^T Q per (b,h): row-major S = q k^T, scaled */
    sgemm_batched(k, 1, 0, T, T, hs, 1.0f / sqrtf((float)hs), kk, hs, (long long)T * hs, q, hs, (long long)T * hs,
                  state, T, (long long)tt, BH);
    float *pv = drop ? scratch : state;
    causal_softmax<<<(unsigned)((size_t)BH * T), 256, 0, s>>>(state, drop ? scratch : NULL, T, drop ? drop->base : 0,
                                                              drop ? drop->thresh : 0, drop ? drop->scale : 1.0f);
    LAUNCH_CHECK("causal_softmax");
    /* y (hs,T) column-major = V (hs,T) P^T-as-stored (T,T) */
    sgemm_batched(k, 0, 0, hs, T, T, 1.0f, v, hs, (long long)T * hs, pv, T, (long long)tt, y, hs, (long long)T * hs,
                  BH);
    merge_heads<<<cuda_blocks(n, 256), 256, 0, s>>>(out, y, B, T, NH, hs, C, 0);
    LAUNCH_CHECK("merge_heads");
}

/* dropped (B,NH,T,T) = P . mask, zero above the diagonal */
__global__ void mask_probs(float *dropped, const float *att, size_t n, int T, uint64_t base, uint32_t thresh,
                           float scale)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i >= n) return;
    int s = (int)(i % T), t = (int)(i / T % T);
    dropped[i] = s <= t ? att[i] * cuda_drop_mul(base, thresh, scale, i) : 0.0f;
}

void cu_attention_backward(Kern *k, floatX *dqkv_x, float *scratch, const floatX *dout_x, const floatX *qkv_x,
                           const floatX *out, const float *state, int B, int T, int C, int NH, const KDrop *drop)
{
    if (k->prec == PREC_BF16) {
        cu_flash_backward(k, (bf16 *)dqkv_x, scratch, (const bf16 *)dout_x, (const bf16 *)qkv_x, (const bf16 *)out,
                          state, B, T, C, NH, drop);
        return;
    }
    (void)out; /* the kept probabilities are enough here */
    need_fp32(k, "attention_backward");
    float *dqkv = (float *)dqkv_x;
    const float *qkv = (const float *)qkv_x, *dout = (const float *)dout_x;
    int hs = C / NH, BH = B * NH;
    size_t n = (size_t)B * T * C, tt = (size_t)T * T;
    long long sh = (long long)T * hs;
    float *q = (float *)cuda_scratch(k, 7 * n * sizeof(float)), *kk = q + n, *v = kk + n, *dy = v + n;
    float *dq = dy + n, *dk = dq + n, *dv = dk + n;
    float *pdrop = scratch, *dp = scratch + (size_t)BH * tt;
    float scale = 1.0f / sqrtf((float)hs);
    cudaStream_t s = cuda_stream(k);
    split_heads<<<cuda_blocks(n, 256), 256, 0, s>>>(q, kk, v, qkv, B, T, NH, hs);
    LAUNCH_CHECK("split_heads");
    split_rows<<<cuda_blocks(n, 256), 256, 0, s>>>(dy, dout, B, T, NH, hs);
    LAUNCH_CHECK("split_rows");
    const float *pv = state;
    if (drop) { /* y = (P . mask) V: dV from the dropped P, rebuilt */
        mask_probs<<<cuda_blocks((size_t)BH * tt, 256), 256, 0, s>>>(pdrop, state, (size_t)BH * tt, T, drop->base,
                                                                     drop->thresh, drop->scale);
        LAUNCH_CHECK("mask_probs");
        pv = pdrop;
    }
    /* dV: dv[s] = sum_t P'[t][s] dy[t] */
    sgemm_batched(k, 0, 1, hs, T, T, 1.0f, dy, hs, sh, pv, T, (long long)tt, dv, hs, sh, BH);
    /* dP (row-major (t,s)) = dy v^T */
    sgemm_batched(k, 1, 0, T, T, hs, 1.0f, v, hs, sh, dy, hs, sh, dp, T, (long long)tt, BH);
    causal_softmax_backward<<<(unsigned)((size_t)BH * T), 256, 0, s>>>(dp, state, T, drop != NULL,
                                                                        drop ? drop->base : 0, drop ? drop->thresh : 0,
                                                                        drop ? drop->scale : 1.0f);
    LAUNCH_CHECK("causal_softmax_backward");
    /* dq[t] = scale sum_s dS[t][s] k[s]; dk[s] = scale sum_t dS[t][s] q[t] */
    sgemm_batched(k, 0, 0, hs, T, T, scale, kk, hs, sh, dp, T, (long long)tt, dq, hs, sh, BH);
    sgemm_batched(k, 0, 1, hs, T, T, scale, q, hs, sh, dp, T, (long long)tt, dk, hs, sh, BH);
    merge_heads<<<cuda_blocks(n, 256), 256, 0, s>>>(dqkv, dq, B, T, NH, hs, 3 * C, 0);
    LAUNCH_CHECK("merge_heads");
    merge_heads<<<cuda_blocks(n, 256), 256, 0, s>>>(dqkv, dk, B, T, NH, hs, 3 * C, C);
    LAUNCH_CHECK("merge_heads");
    merge_heads<<<cuda_blocks(n, 256), 256, 0, s>>>(dqkv, dv, B, T, NH, hs, 3 * C, 2 * C);
    LAUNCH_CHECK("merge_heads");
}

/* ---- attention of n new rows over a KV cache (model sample) ----
 * Any working precision: loads convert to float, scores and sums in float. */

/* The new rows' keys and values into the cache at p0.. */
template <typename X> __global__ void cache_append(X *kc, X *vc, const X *qkv, int n, int p0, int C)
{
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i >= (size_t)n * C) return;
    int r = (int)(i / C), c = (int)(i % C);
    kc[(size_t)(p0 + r) * C + c] = qkv[(size_t)r * 3 * C + C + c];
    vc[(size_t)(p0 + r) * C + c] = qkv[(size_t)r * 3 * C + 2 * C + c];
}

/* One block a (new row i, head h): scores over positions 0..p0+i in shared
 * memory, the softmax, then the weighted values. */
template <typename X>
__global__ void cached_rows(X *out, const X *kc, const X *vc, const X *qkv, int p0, int C, int NH)
{
    extern __shared__ float sc[];
    __shared__ float sh[32];
    int i = blockIdx.x, h = blockIdx.y, hs = C / NH, S = p0 + i + 1;
    const X *q = qkv + (size_t)i * 3 * C + h * hs;
    float scale = 1.0f / sqrtf((float)hs), mx = -INFINITY;
    for (int s = threadIdx.x; s < S; s += blockDim.x) {
        const X *kr = kc + (size_t)s * C + h * hs;
        float d = 0.0f;
        for (int j = 0; j < hs; j++) d += to_f(q[j]) * to_f(kr[j]);
        sc[s] = d * scale;
        mx = fmaxf(mx, sc[s]);
    }
    mx = block_max(mx, sh);
    float sum = 0.0f;
    for (int s = threadIdx.x; s < S; s += blockDim.x) {
        sc[s] = expf(sc[s] - mx);
        sum += sc[s];
    }
    sum = block_sum(sum, sh); /* also the barrier before every thread reads sc */
    float inv = 1.0f / sum;
    for (int j = threadIdx.x; j < hs; j += blockDim.x) {
        float y = 0.0f;
        for (int s = 0; s < S; s++) y += sc[s] * to_f(vc[(size_t)s * C + h * hs + j]);
        out[(size_t)i * C + h * hs + j] = from_f<X>(y * inv);
    }
}

size_t cu_attention_cached_scratch(const Kern *k, int max_T)
{
    (void)k, (void)max_T;
    return 0;
}

template <typename X>
static void cached_as(Kern *k, X *out, X *kcache, X *vcache, const X *qkv, int n, int p0, int C, int NH)
{
    cudaStream_t s = cuda_stream(k);
    cache_append<X><<<cuda_blocks((size_t)n * C, 256), 256, 0, s>>>(kcache, vcache, qkv, n, p0, C);
    LAUNCH_CHECK("cache_append");
    size_t smem = (size_t)(p0 + n) * sizeof(float);
    static size_t allowed = 48 * 1024; /* per X: a template's own static */
    if (smem > allowed) {
        cuda_allow_smem(cached_rows<X>, smem);
        allowed = smem;
    }
    cached_rows<X><<<dim3(n, NH), 128, smem, s>>>(out, kcache, vcache, qkv, p0, C, NH);
    LAUNCH_CHECK("cached_rows");
}

void cu_attention_cached(Kern *k, floatX *out, floatX *kcache, floatX *vcache, const floatX *qkv, int n, int p0,
                         int C, int NH, float *scratch)
{
    (void)scratch;
    if (k->prec == PREC_BF16) cached_as(k, (bf16 *)out, (bf16 *)kcache, (bf16 *)vcache, (const bf16 *)qkv, n, p0, C, NH);
    else cached_as(k, (float *)out, (float *)kcache, (float *)vcache, (const float *)qkv, n, p0, C, NH);
}
