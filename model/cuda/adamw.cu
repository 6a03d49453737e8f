/* The optimizer on the GPU: the squared global norm of the gradients (fixed
 * blocks of the flat buffer summed in double, then the blocks in order), AdamW
 * (PyTorch's arithmetic in kern_cpu.c's order, rounded step by step with no FMA,
 * so float32 equals the CPU bit for bit; the working-precision copy of the
 * weights is written in the same pass) and the float32 <-> floatX casts. */
#include "common.cuh"

static constexpr int NORM_BLOCK = 512;
static constexpr int NORM_LOADS = 8;                          /* float4 loads a thread */
static constexpr size_t NORM_CHUNK = NORM_BLOCK * NORM_LOADS * 4; /* floats a block: 16384 */
static constexpr int ADAM_BLOCK = 256;
static constexpr int CAST_BLOCK = 256;
static constexpr size_t DOWNLOAD_CHUNK = (size_t)1 << 22; /* floats converted a copy: 16 MiB of scratch */

/* ---- kernels ---- */

/* The sum over the block of v, by halves in shared memory (a fixed tree);
 * thread 0 gets it. */
static __device__ double block_sum(double v, double *sh)
{
    sh[threadIdx.x] = v;
    for (int half = NORM_BLOCK / 2; half > 0; half >>= 1) {
        __syncthreads();
        if (threadIdx.x < half) sh[threadIdx.x] += sh[threadIdx.x + half];
    }
    return sh[0];
}

/* partial[b] = the sum of g[i]^2 over i in [b NORM_CHUNK, (b+1) NORM_CHUNK) of
 * g (n), in double. VEC: g is 16-byte aligned, read as float4. */
template <bool VEC> __global__ __launch_bounds__(NORM_BLOCK) void norm_partial_kernel(double *partial, const float *g, size_t n)
{
    __shared__ double sh[NORM_BLOCK];
    size_t base = blockIdx.x * NORM_CHUNK;
    double s = 0.0;
#pragma unroll
    for (int it = 0; it < NORM_LOADS; it++) {
        size_t i = base + ((size_t)it * NORM_BLOCK + threadIdx.x) * 4;
        if (VEC && i + 4 <= n) {
            float4 v = *reinterpret_cast<const float4 *>(g + i);
            s += (double)v.x * v.x;
            s += (double)v.y * v.y;
            s += (double)v.z * v.z;
            s += (double)v.w * v.w;
        } else {
            for (size_t j = i; j < i + 4 && j < n; j++) s += (double)g[j] * g[j];
        }
    }
    s = block_sum(s, sh);
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

/* out[0] = the sum of partial (n): thread t adds t, t + NORM_BLOCK, ... in
 * order, then the block's tree. One block. */
__global__ __launch_bounds__(NORM_BLOCK) void norm_sum_kernel(double *out, const double *partial, size_t n)
{
    __shared__ double sh[NORM_BLOCK];
    double s = 0.0;
    for (size_t i = threadIdx.x; i < n; i += NORM_BLOCK) s += partial[i];
    s = block_sum(s, sh);
    if (threadIdx.x == 0) out[0] = s;
}

/* One tensor's step, its scalars computed once on the host as kern_cpu.c's
 * adam_task computes them (float arithmetic). */
struct AdamStep {
    float clip, decay, b1, b2, one_b1, one_b2, step_size, bc2_sqrt, eps;
};

/* x rounded to bf16 up or down, up with probability the distance from the
 * lower one over their gap: r's low 16 bits added below bf16's last bit, then
 * cut (an unbiased rounding: small updates survive on average). */
static __device__ __forceinline__ bf16 bf16_round_stochastic(float x, uint64_t r)
{
    uint32_t u = __float_as_uint(x);
    if ((u & 0x7f800000u) != 0x7f800000u) u += (uint32_t)(r & 0xffffu); /* not inf or NaN */
    return __ushort_as_bfloat16((unsigned short)(u >> 16));
}

/* params, m, v (n) updated from grads (n); px (n, or NULL) = the new params in
 * X. MASTER false: no params, px (bf16) holds the weights and takes the new
 * ones rounded stochastically (weight off + i of the whole model's key). */
template <typename X, bool MASTER>
__global__ void adamw_kernel(float *params, X *px, float *m, float *v, const float *grads, size_t n, AdamStep a,
                             uint64_t key, size_t off)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float g = __fmul_rn(grads[i], a.clip);
    float p = __fmul_rn(MASTER ? params[i] : to_f(px[i]), a.decay);
    float mi = __fadd_rn(__fmul_rn(m[i], a.b1), __fmul_rn(g, a.one_b1));
    float vi = __fadd_rn(__fmul_rn(v[i], a.b2), __fmul_rn(__fmul_rn(g, g), a.one_b2));
    float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vi), a.bc2_sqrt), a.eps);
    p = __fsub_rn(p, __fdiv_rn(__fmul_rn(a.step_size, mi), denom));
    m[i] = mi;
    v[i] = vi;
    if constexpr (MASTER) {
        params[i] = p;
        if (px) px[i] = from_f<X>(p);
    } else {
        px[i] = bf16_round_stochastic(p, kdrop_mix64(key + KDROP_GOLDEN * (off + i + 1)) >> 48);
    }
}

/* dst (n) = src (n), converted through float */
template <typename D, typename S> __global__ void cast_kernel(D *dst, const S *src, size_t n)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) dst[i] = from_f<D>(to_f(src[i]));
}

/* ---- launchers ---- */

/* Scratch: ceil(total / NORM_CHUNK) + 1 doubles. Waits for the stream: the
 * caller needs the number now. */
double cu_grad_norm2(Kern *k, const float *grads, const KTensors *t)
{
    cudaStream_t st = cuda_stream(k);
    size_t n = 0;
    for (int i = 0; i < t->n; i++) n += t->sizes[i];
    if (n == 0) return 0.0;
    size_t blocks = (n + NORM_CHUNK - 1) / NORM_CHUNK;
    double *partial = (double *)cuda_scratch(k, (blocks + 1) * sizeof(double)), *sum = partial + blocks;
    if (((uintptr_t)grads & 15) == 0) norm_partial_kernel<true><<<(unsigned)blocks, NORM_BLOCK, 0, st>>>(partial, grads, n);
    else norm_partial_kernel<false><<<(unsigned)blocks, NORM_BLOCK, 0, st>>>(partial, grads, n);
    LAUNCH_CHECK("norm_partial_kernel");
    norm_sum_kernel<<<1, NORM_BLOCK, 0, st>>>(sum, partial, blocks);
    LAUNCH_CHECK("norm_sum_kernel");
    double host = 0.0;
    CUDA_CHECK(cudaMemcpyAsync(&host, sum, sizeof host, cudaMemcpyDeviceToHost, st));
    CUDA_CHECK(cudaStreamSynchronize(st));
    return host;
}

/* One launch a tensor: decay is the tensor's. */
template <typename X>
static void adamw_as(Kern *k, float *params, X *params_x, float *m, float *v, const float *grads, const KTensors *t,
                     const AdamArgs *a)
{
    AdamStep s = { a->clip_coef, 1.0f, a->beta1, a->beta2, 1.0f - a->beta1, 1.0f - a->beta2, a->lr / a->bc1,
                   a->bc2_sqrt, a->eps };
    float decay = 1.0f - a->lr * a->weight_decay;
    size_t off = 0;
    for (int i = 0; i < t->n; i++) {
        size_t n = t->sizes[i];
        if (n > 0) {
            s.decay = t->decays[i] ? decay : 1.0f;
            unsigned grid = cuda_blocks(n, ADAM_BLOCK);
            if (params)
                adamw_kernel<X, true><<<grid, ADAM_BLOCK, 0, cuda_stream(k)>>>(
                    params + off, params_x ? params_x + off : nullptr, m + off, v + off, grads + off, n, s, 0, 0);
            else if constexpr (sizeof(X) == 2)
                adamw_kernel<X, false><<<grid, ADAM_BLOCK, 0, cuda_stream(k)>>>(
                    nullptr, params_x + off, m + off, v + off, grads + off, n, s, a->round_key, a->first + off);
            else
                cuda_fail("float32 weights without a master copy", "adamw_as", __FILE__, __LINE__);
            LAUNCH_CHECK("adamw_kernel");
        }
        off += n;
    }
}

void cu_adamw(Kern *k, float *params, floatX *params_x, float *m, float *v, const float *grads, const KTensors *t,
              const AdamArgs *a)
{
    if (k->prec == PREC_BF16) adamw_as(k, params, (bf16 *)params_x, m, v, grads, t, a);
    else adamw_as(k, params, (float *)params_x, m, v, grads, t, a);
}

void cu_cast_x(Kern *k, floatX *dst, const float *src, size_t n)
{
    cudaStream_t st = cuda_stream(k);
    if (n == 0) return;
    if (k->prec == PREC_FP32) {
        if (dst != src) CUDA_CHECK(cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyDeviceToDevice, st));
        return;
    }
    cast_kernel<bf16, float><<<cuda_blocks(n, CAST_BLOCK), CAST_BLOCK, 0, st>>>((bf16 *)dst, src, n);
    LAUNCH_CHECK("cast_kernel");
}

/* Synchronous. bf16 goes through a float buffer on the device, DOWNLOAD_CHUNK
 * elements at a time (scratch: at most that many floats); the stream orders
 * each conversion after the copy before it. */
void cu_download_x(Kern *k, float *host, const floatX *src, size_t n)
{
    cudaStream_t st = cuda_stream(k);
    if (n == 0) return;
    if (k->prec == PREC_FP32) {
        CUDA_CHECK(cudaMemcpyAsync(host, src, n * sizeof(float), cudaMemcpyDeviceToHost, st));
    } else {
        size_t chunk = n < DOWNLOAD_CHUNK ? n : DOWNLOAD_CHUNK;
        float *buf = (float *)cuda_scratch(k, chunk * sizeof(float));
        for (size_t off = 0; off < n; off += chunk) {
            size_t len = n - off < chunk ? n - off : chunk;
            cast_kernel<float, bf16><<<cuda_blocks(len, CAST_BLOCK), CAST_BLOCK, 0, st>>>(buf, (const bf16 *)src + off,
                                                                                          len);
            LAUNCH_CHECK("cast_kernel");
            CUDA_CHECK(cudaMemcpyAsync(host + off, buf, len * sizeof(float), cudaMemcpyDeviceToHost, st));
        }
    }
    CUDA_CHECK(cudaStreamSynchronize(st));
}
