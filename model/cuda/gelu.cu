/* Elementwise kernels on the GPU: GELU (tanh form) and its backward, and the
 * residual add with its dropout mask (the add without a mask rides on the
 * matrix product's epilogue, matmul.cu). The arithmetic is vmath.c's AVX2 path
 * op for op (its FMAs, its Cephes exp), so float32 results equal a CPU with
 * AVX2 but for the scalar tail it runs past the last multiple of 8. */
#include "common.cuh"

static constexpr int EW_BLOCK = 256;

/* ---- GELU: vmath.c's exp8, tanh8, gelu_avx and gelu_backward_avx ---- */

#define GELU_K 0.7978845608028654f
#define GELU_A 0.044715f

static __device__ __forceinline__ float tanh_cephes(float u)
{
    u = fminf(fmaxf(u, -15.0f), 15.0f);
    return 1.0f - __fdiv_rn(2.0f, exp_cephes(u + u) + 1.0f);
}

/* 0.5 x (1 + tanh(K (x + A x^3))) */
static __device__ __forceinline__ float gelu(float x)
{
    float x3 = __fmul_rn(__fmul_rn(x, x), x);
    float t = tanh_cephes(__fmul_rn(GELU_K, fmaf(x3, GELU_A, x)));
    return __fmul_rn(__fmul_rn(0.5f, x), 1.0f + t);
}

/* GELU'(x) = 0.5 (1 + t) + 0.5 x (1 - t^2) K (1 + 3 A x^2) */
static __device__ __forceinline__ float gelu_grad(float x)
{
    float x2 = __fmul_rn(x, x);
    float t = tanh_cephes(__fmul_rn(GELU_K, fmaf(__fmul_rn(x2, x), GELU_A, x)));
    float sech2 = fmaf(-t, t, 1.0f);
    float du = __fmul_rn(GELU_K, fmaf(x2, 3.0f * GELU_A, 1.0f));
    return fmaf(__fmul_rn(0.5f, x), __fmul_rn(sech2, du), __fmul_rn(0.5f, 1.0f + t));
}

/* ---- kernels: a thread a pack of P elements; the last thread finishes a
 * short pack element by element ---- */

/* out (n) = GELU(inp) */
template <typename X, int P> __global__ void gelu_forward_kernel(X *out, const X *inp, size_t n)
{
    size_t i = ((size_t)blockIdx.x * blockDim.x + threadIdx.x) * P;
    if (i >= n) return;
    if (i + P <= n) {
        float f[P];
        load_pack<P>(f, inp + i);
#pragma unroll
        for (int j = 0; j < P; j++) f[j] = gelu(f[j]);
        store_pack<P>(out + i, f);
    } else {
        for (; i < n; i++) out[i] = from_f<X>(gelu(to_f(inp[i])));
    }
}

/* d (n) *= GELU'(inp) */
template <typename X, int P> __global__ void gelu_backward_kernel(X *d, const X *inp, size_t n)
{
    size_t i = ((size_t)blockIdx.x * blockDim.x + threadIdx.x) * P;
    if (i >= n) return;
    if (i + P <= n) {
        float f[P], g[P];
        load_pack<P>(f, inp + i);
        load_pack<P>(g, d + i);
#pragma unroll
        for (int j = 0; j < P; j++) g[j] = __fmul_rn(g[j], gelu_grad(f[j]));
        store_pack<P>(d + i, g);
    } else {
        for (; i < n; i++) d[i] = from_f<X>(__fmul_rn(to_f(d[i]), gelu_grad(to_f(inp[i]))));
    }
}

/* The mask of kernels.h's KDrop, passed by value (the launcher's KDrop is on the host). */
struct DropArgs {
    uint64_t base;
    uint32_t thresh;
    float scale;
    int on; /* 0: no mask */
};

static __device__ __forceinline__ float residual(float x, float a, int has_add, const DropArgs &d, uint64_t i)
{
    if (d.on) x = __fmul_rn(x, cuda_drop_mul(d.base, d.thresh, d.scale, i));
    return has_add ? a + x : x;
}

/* out (n) = add + inp . mask (add NULL: inp . mask); out may be inp or add:
 * every element is read before it is written, by the same thread. */
template <typename X, int P>
__global__ void residual_forward_kernel(X *out, const X *inp, const X *add, DropArgs d, size_t n)
{
    size_t i = ((size_t)blockIdx.x * blockDim.x + threadIdx.x) * P;
    if (i >= n) return;
    if (i + P <= n) {
        float x[P], a[P] = {};
        load_pack<P>(x, inp + i);
        if (add) load_pack<P>(a, add + i);
#pragma unroll
        for (int j = 0; j < P; j++) x[j] = residual(x[j], a[j], add != nullptr, d, i + j);
        store_pack<P>(out + i, x);
    } else {
        for (; i < n; i++)
            out[i] = from_f<X>(residual(to_f(inp[i]), add ? to_f(add[i]) : 0.0f, add != nullptr, d, i));
    }
}

/* ---- launchers ---- */

template <int P> static unsigned ew_blocks(size_t n) { return cuda_blocks((n + P - 1) / P, EW_BLOCK); }

template <typename X> static void gelu_forward_as(Kern *k, X *out, const X *inp, size_t n)
{
    constexpr int P = 16 / sizeof(X);
    if (aligned16(out) && aligned16(inp))
        gelu_forward_kernel<X, P><<<ew_blocks<P>(n), EW_BLOCK, 0, cuda_stream(k)>>>(out, inp, n);
    else
        gelu_forward_kernel<X, 1><<<ew_blocks<1>(n), EW_BLOCK, 0, cuda_stream(k)>>>(out, inp, n);
    LAUNCH_CHECK("gelu_forward_kernel");
}

void cu_gelu_forward(Kern *k, floatX *out, const floatX *inp, size_t n)
{
    if (n == 0) return;
    if (k->prec == PREC_BF16) gelu_forward_as(k, (bf16 *)out, (const bf16 *)inp, n);
    else gelu_forward_as(k, (float *)out, (const float *)inp, n);
}

template <typename X> static void gelu_backward_as(Kern *k, X *d, const X *inp, size_t n)
{
    constexpr int P = 16 / sizeof(X);
    if (aligned16(d) && aligned16(inp))
        gelu_backward_kernel<X, P><<<ew_blocks<P>(n), EW_BLOCK, 0, cuda_stream(k)>>>(d, inp, n);
    else
        gelu_backward_kernel<X, 1><<<ew_blocks<1>(n), EW_BLOCK, 0, cuda_stream(k)>>>(d, inp, n);
    LAUNCH_CHECK("gelu_backward_kernel");
}

void cu_gelu_backward(Kern *k, floatX *d, const floatX *inp, size_t n)
{
    if (n == 0) return;
    if (k->prec == PREC_BF16) gelu_backward_as(k, (bf16 *)d, (const bf16 *)inp, n);
    else gelu_backward_as(k, (float *)d, (const float *)inp, n);
}

template <typename X>
static void residual_forward_as(Kern *k, X *out, const X *inp, const X *add, const DropArgs &d, size_t n)
{
    constexpr int P = 16 / sizeof(X);
    if (aligned16(out) && aligned16(inp) && aligned16(add)) /* add NULL is aligned */
        residual_forward_kernel<X, P><<<ew_blocks<P>(n), EW_BLOCK, 0, cuda_stream(k)>>>(out, inp, add, d, n);
    else
        residual_forward_kernel<X, 1><<<ew_blocks<1>(n), EW_BLOCK, 0, cuda_stream(k)>>>(out, inp, add, d, n);
    LAUNCH_CHECK("residual_forward_kernel");
}

void cu_residual_forward(Kern *k, floatX *out, const floatX *inp, const floatX *add, const KDrop *drop, size_t n)
{
    if (n == 0) return;
    DropArgs d = { 0, 0, 0.0f, 0 };
    if (drop) d = { drop->base, drop->thresh, drop->scale, 1 };
    if (k->prec == PREC_BF16)
        residual_forward_as(k, (bf16 *)out, (const bf16 *)inp, (const bf16 *)add, d, n);
    else
        residual_forward_as(k, (float *)out, (const float *)inp, (const float *)add, d, n);
}
