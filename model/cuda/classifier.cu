/* The cross-entropy head on the GPU, a block a row of logits (N,Vp): the loss
 * as log-sum-exp minus the target's logit (read before the row is
 * overwritten), and in place either the softmax over the V real columns
 * (padding 0) or, fused with the backward when a training step asks for it,
 * dloss (p - onehot) straight from the logits: no probabilities kept, and in
 * bf16 no rounding of p before the subtraction. In float32 the row is read for
 * its max, for its sum of exp (vmath.c's Cephes exp: the CPU's bits) and to
 * write; in bf16 it is read once into shared memory. Block sums run in a
 * fixed order. The unfused backward is kept for a forward that did not know
 * its backward's scale. */
#include "common.cuh"

#include <math.h>

static constexpr int CLS_BLOCK = 512;

/* The max or the sum over the block: warps by xor shuffles, then every thread
 * combines the warps' results in warp order (the same bits in every thread). */
template <bool MAX> static __device__ float block_reduce(float v, float *sh)
{
    constexpr int WARPS = CLS_BLOCK / 32;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        float u = __shfl_xor_sync(0xffffffffu, v, o);
        v = MAX ? fmaxf(v, u) : v + u;
    }
    if (threadIdx.x % 32 == 0) sh[threadIdx.x / 32] = v;
    __syncthreads();
    float r = sh[0];
    for (int w = 1; w < WARPS; w++) r = MAX ? fmaxf(r, sh[w]) : r + sh[w];
    __syncthreads(); /* sh is free for the next reduction */
    return r;
}

/* ---- kernels: a block a row; thread t takes the packs t, t + CLS_BLOCK, ... ---- */

/* logits (N,Vp) -> probabilities in place; losses (N) */
template <typename X, int P>
__global__ __launch_bounds__(CLS_BLOCK) void classifier_forward_kernel(float *losses, X *logits,
                                                                       const int *targets, int V, int Vp,
                                                                       float dloss)
{
    int target = targets[blockIdx.x];
    __shared__ float sh[CLS_BLOCK / 32];
    X *row = logits + (size_t)blockIdx.x * Vp;
    /* read before any thread writes: the writes come after two block barriers */
    float target_logit = threadIdx.x == 0 ? to_f(row[targets[blockIdx.x]]) : 0.0f;
    float f[P], mx = -INFINITY;
    for (int c = threadIdx.x * P; c < V; c += CLS_BLOCK * P) {
        load_pack<P>(f, row + c);
#pragma unroll
        for (int j = 0; j < P; j++)
            if (c + j < V) mx = fmaxf(mx, f[j]);
    }
    mx = block_reduce<true>(mx, sh);
    float sum = 0.0f;
    for (int c = threadIdx.x * P; c < V; c += CLS_BLOCK * P) {
        load_pack<P>(f, row + c);
#pragma unroll
        for (int j = 0; j < P; j++)
            if (c + j < V) sum += exp_cephes(f[j] - mx);
    }
    sum = block_reduce<false>(sum, sh);
    float inv = __fdiv_rn(1.0f, sum);
    for (int c = threadIdx.x * P; c < Vp; c += CLS_BLOCK * P) {
        load_pack<P>(f, row + c);
#pragma unroll
        for (int j = 0; j < P; j++) {
            float p = c + j < V ? __fmul_rn(exp_cephes(f[j] - mx), inv) : 0.0f;
            if (dloss != 0.0f && c + j < V) p = __fmul_rn(p, dloss) - (c + j == target ? dloss : 0.0f);
            f[j] = p;
        }
        store_pack<P>(row + c, f);
    }
    if (threadIdx.x == 0) losses[blockIdx.x] = (float)(log((double)sum) + (double)mx - (double)target_logit);
}

/* The same in bf16 with the row in shared memory (Vp bf16, where that fits
 * in a block's): the logits are read from memory once, by cp.async, and the
 * result written once, where the kernel above reads them three times; exp is
 * the special function unit's 2^x, whose last bits a bf16 result does not
 * see. Each thread reads back only the packs it copied, so only the target's
 * logit, read by thread 0, waits for the block's barrier. */
static constexpr float CLS_LOG2E = 1.4426950408889634f;
__global__ __launch_bounds__(CLS_BLOCK) void classifier_forward_row_kernel(float *losses, bf16 *logits,
                                                                           const int *targets, int V, int Vp,
                                                                           float dloss)
{
    constexpr int P = 8;
    extern __shared__ int4 cls_row[];
    __shared__ float sh[CLS_BLOCK / 32];
    const bf16 *srow = reinterpret_cast<const bf16 *>(cls_row);
    bf16 *row = logits + (size_t)blockIdx.x * Vp;
    int target = targets[blockIdx.x];
    for (int c = threadIdx.x * P; c < Vp; c += CLS_BLOCK * P) {
        unsigned a = (unsigned)__cvta_generic_to_shared(srow + c);
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(a), "l"(row + c));
    }
    asm volatile("cp.async.commit_group;\n" ::);
    asm volatile("cp.async.wait_group 0;\n" ::: "memory");
    float f[P], mx = -INFINITY;
    for (int c = threadIdx.x * P; c < V; c += CLS_BLOCK * P) {
        load_pack<P>(f, srow + c);
#pragma unroll
        for (int j = 0; j < P; j++)
            if (c + j < V) mx = fmaxf(mx, f[j]);
    }
    mx = block_reduce<true>(mx, sh); /* its barrier: every thread's copies are in */
    float target_logit = threadIdx.x == 0 ? to_f(srow[target]) : 0.0f, off = mx * CLS_LOG2E, sum = 0.0f;
    for (int c = threadIdx.x * P; c < V; c += CLS_BLOCK * P) {
        load_pack<P>(f, srow + c);
#pragma unroll
        for (int j = 0; j < P; j++)
            if (c + j < V) sum += ex2_approx(fmaf(f[j], CLS_LOG2E, -off));
    }
    sum = block_reduce<false>(sum, sh);
    float inv = __fdiv_rn(1.0f, sum);
    for (int c = threadIdx.x * P; c < Vp; c += CLS_BLOCK * P) {
        load_pack<P>(f, srow + c);
#pragma unroll
        for (int j = 0; j < P; j++) {
            float p = c + j < V ? ex2_approx(fmaf(f[j], CLS_LOG2E, -off)) * inv : 0.0f;
            if (dloss != 0.0f && c + j < V) p = p * dloss - (c + j == target ? dloss : 0.0f);
            f[j] = p;
        }
        store_pack<P>(row + c, f);
    }
    if (threadIdx.x == 0) losses[blockIdx.x] = (float)(log((double)sum) + (double)mx - (double)target_logit);
}

/* probs (N,Vp) -> p dloss - dloss onehot(target) in place, over the V real
 * columns (padding left as it is) */
template <typename X, int P>
__global__ __launch_bounds__(CLS_BLOCK) void classifier_backward_kernel(X *probs, const int *targets, int V,
                                                                        int Vp, float dloss)
{
    X *row = probs + (size_t)blockIdx.x * Vp;
    int target = targets[blockIdx.x];
    for (int c = threadIdx.x * P; c < V; c += CLS_BLOCK * P) {
        float f[P];
        load_pack<P>(f, row + c);
#pragma unroll
        for (int j = 0; j < P; j++) {
            if (c + j >= V) continue;
            f[j] = __fmul_rn(f[j], dloss);
            if (c + j == target) f[j] -= dloss;
        }
        store_pack<P>(row + c, f);
    }
}

/* ---- launchers ---- */

template <typename X>
static void classifier_forward_as(Kern *k, float *losses, X *logits, const int *targets, int N, int V, int Vp,
                                  float dloss)
{
    constexpr int P = 16 / sizeof(X);
    size_t row_bytes = (size_t)Vp * sizeof(X);
    if constexpr (sizeof(X) == 2) {
        if (Vp % P == 0 && aligned16(logits) && row_bytes <= cuda_state(k)->smem_optin) {
            CUDA_CHECK(cudaFuncSetAttribute(classifier_forward_row_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                            (int)row_bytes));
            classifier_forward_row_kernel<<<N, CLS_BLOCK, row_bytes, cuda_stream(k)>>>(losses, logits, targets, V, Vp,
                                                                                       dloss);
            LAUNCH_CHECK("classifier_forward_row_kernel");
            return;
        }
    }
    if (Vp % P == 0 && aligned16(logits))
        classifier_forward_kernel<X, P><<<N, CLS_BLOCK, 0, cuda_stream(k)>>>(losses, logits, targets, V, Vp, dloss);
    else
        classifier_forward_kernel<X, 1><<<N, CLS_BLOCK, 0, cuda_stream(k)>>>(losses, logits, targets, V, Vp, dloss);
    LAUNCH_CHECK("classifier_forward_kernel");
}

void cu_classifier_forward(Kern *k, float *losses, floatX *logits, const int *targets, int N, int V, int Vp,
                           float dloss)
{
    if (N == 0) return;
    if (k->prec == PREC_BF16) classifier_forward_as(k, losses, (bf16 *)logits, targets, N, V, Vp, dloss);
    else classifier_forward_as(k, losses, (float *)logits, targets, N, V, Vp, dloss);
}

template <typename X>
static void classifier_backward_as(Kern *k, X *probs, const int *targets, int N, int V, int Vp, float dloss)
{
    constexpr int P = 16 / sizeof(X);
    if (Vp % P == 0 && aligned16(probs))
        classifier_backward_kernel<X, P><<<N, CLS_BLOCK, 0, cuda_stream(k)>>>(probs, targets, V, Vp, dloss);
    else
        classifier_backward_kernel<X, 1><<<N, CLS_BLOCK, 0, cuda_stream(k)>>>(probs, targets, V, Vp, dloss);
    LAUNCH_CHECK("classifier_backward_kernel");
}

void cu_classifier_backward(Kern *k, floatX *probs, const int *targets, int N, int V, int Vp, float dloss)
{
    if (N == 0) return;
    if (k->prec == PREC_BF16) classifier_backward_as(k, (bf16 *)probs, targets, N, V, Vp, dloss);
    else classifier_backward_as(k, (float *)probs, targets, N, V, Vp, dloss);
}
