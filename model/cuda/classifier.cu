/* The cross-entropy head on the GPU, a block a row of logits (N,Vp): the loss
 * as log-sum-exp minus the target's logit (read before the row is
 * overwritten), and in place either the softmax over the V real columns
 * (padding 0) or, fused with the backward when a training step asks for it,
 * dloss (p - onehot) straight from the logits: no probabilities kept, and in
 * bf16 no rounding of p before the subtraction. In float32 the row is read for
 * its max, for its sum of exp (vmath.c's Cephes exp: the CPU's bits) and to
 * write; in bf16 it is read from memory once, into shared memory. Block sums
 * run in a fixed order. The unfused backward is kept for a forward that did not know
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

/* exp(x - mx): vmath.c's Cephes exp (the CPU's bits), or where FAST the
 * special function unit's 2^x, whose last bits a bf16 result does not see */
template <bool FAST> static __device__ __forceinline__ float cls_exp(float x, float mx)
{
    return FAST ? ex2_approx(fmaf(x, LOG2E, -mx * LOG2E)) : exp_cephes(x - mx);
}

/* a b, rounded on its own as the CPU rounds it unless FAST (then free to fuse
 * with an addition after it) */
template <bool FAST> static __device__ __forceinline__ float cls_mul(float a, float b)
{
    return FAST ? a * b : __fmul_rn(a, b);
}

/* logits (N,Vp) -> probabilities in place; losses (N). The row is read for
 * its max, for its sum of exp and to write; where ROW (bf16, the row of Vp
 * bf16 fitting in a block's shared memory: the launch gives its bytes) it is
 * first copied there by cp.async, so memory sees it read once. */
template <typename X, int P, bool ROW>
__global__ __launch_bounds__(CLS_BLOCK) void classifier_forward_kernel(float *losses, X *logits,
                                                                       const int *targets, int V, int Vp,
                                                                       float dloss)
{
    extern __shared__ int4 cls_row[];
    __shared__ float sh[CLS_BLOCK / 32];
    int target = targets[blockIdx.x];
    X *row = logits + (size_t)blockIdx.x * Vp;
    const X *src = row;
    if constexpr (ROW) {
        static_assert(P * sizeof(X) == 16, "cp.async copies 16-byte packs");
        src = reinterpret_cast<const X *>(cls_row);
        for (int c = threadIdx.x * P; c < Vp; c += CLS_BLOCK * P) cp_async<16>(smem_at(src + c), row + c);
        cp_async_commit();
        cp_async_wait<0>();
        __syncthreads();
    }
    /* read before any thread writes: the writes come after two block barriers */
    float target_logit = threadIdx.x == 0 ? to_f(src[target]) : 0.0f;
    float f[P], mx = -INFINITY;
    for (int c = threadIdx.x * P; c < V; c += CLS_BLOCK * P) {
        load_pack<P>(f, src + c);
#pragma unroll
        for (int j = 0; j < P; j++)
            if (c + j < V) mx = fmaxf(mx, f[j]);
    }
    mx = block_reduce<true>(mx, sh);
    float sum = 0.0f;
    for (int c = threadIdx.x * P; c < V; c += CLS_BLOCK * P) {
        load_pack<P>(f, src + c);
#pragma unroll
        for (int j = 0; j < P; j++)
            if (c + j < V) sum += cls_exp<ROW>(f[j], mx);
    }
    sum = block_reduce<false>(sum, sh);
    float inv = __fdiv_rn(1.0f, sum);
    for (int c = threadIdx.x * P; c < Vp; c += CLS_BLOCK * P) {
        load_pack<P>(f, src + c);
#pragma unroll
        for (int j = 0; j < P; j++) {
            float p = c + j < V ? cls_mul<ROW>(cls_exp<ROW>(f[j], mx), inv) : 0.0f;
            if (dloss != 0.0f && c + j < V) p = cls_mul<ROW>(p, dloss) - (c + j == target ? dloss : 0.0f);
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
    cudaStream_t st = cuda_stream(k);
    if constexpr (sizeof(X) == 2) {
        if (Vp % P == 0 && aligned16(logits) && row_bytes <= cuda_state(k)->smem_optin) {
            cuda_allow_smem(classifier_forward_kernel<X, P, true>, row_bytes);
            classifier_forward_kernel<X, P, true><<<N, CLS_BLOCK, row_bytes, st>>>(losses, logits, targets, V, Vp,
                                                                                   dloss);
            LAUNCH_CHECK("classifier_forward_kernel");
            return;
        }
    }
    if (Vp % P == 0 && aligned16(logits))
        classifier_forward_kernel<X, P, false><<<N, CLS_BLOCK, 0, st>>>(losses, logits, targets, V, Vp, dloss);
    else
        classifier_forward_kernel<X, 1, false><<<N, CLS_BLOCK, 0, st>>>(losses, logits, targets, V, Vp, dloss);
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
