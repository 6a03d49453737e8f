/* The cross-entropy head on the GPU, a block a row of logits (N,Vp): the loss
 * as log-sum-exp minus the target's logit (read before the row is
 * overwritten), and in place either the softmax over the V real columns
 * (padding 0) or, fused with the backward when a training step asks for it,
 * dloss (p - onehot) straight from the logits: no probabilities kept, and in
 * bf16 no rounding of p before the subtraction. The row is read for its max,
 * for its sum of exp (vmath.c's Cephes exp) and to write; block sums run in a
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
