/* What every CUDA kernel file of the backend shares: checked calls (a failure
 * names the call, file:line and CUDA's own text, then exits 1: kernels return
 * nothing, and a checkpoint is only ever renamed into place once complete, so
 * the last complete one stays), the working-precision types, the backend's
 * state (cuBLAS handles, one stream, a growing scratch buffer) and the
 * launchers each file defines, with the signatures of kernels.h. */
#ifndef CUDA_COMMON_CUH
#define CUDA_COMMON_CUH

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

extern "C" {
#include "../kernels.h"
}

typedef __nv_bfloat16 bf16;

[[noreturn]] void cuda_fail(const char *what, const char *call, const char *file, int line);
#define CUDA_CHECK(call)                                                                         \
    do {                                                                                         \
        cudaError_t err_ = (call);                                                               \
        if (err_ != cudaSuccess) cuda_fail(cudaGetErrorString(err_), #call, __FILE__, __LINE__); \
    } while (0)
#define CUBLAS_CHECK(call)                                                                       \
    do {                                                                                         \
        cublasStatus_t st_ = (call);                                                             \
        if (st_ != CUBLAS_STATUS_SUCCESS) cuda_fail(cublasGetStatusString(st_), #call, __FILE__, __LINE__); \
    } while (0)
/* After each launch: a bad configuration surfaces here, named. */
#define LAUNCH_CHECK(name) CUDA_CHECK(cudaPeekAtLastError())

typedef struct CudaState {
    cudaStream_t stream;
    cublasHandle_t blas;
    cublasLtHandle_t lt;
    void *workspace; /* cuBLASLt's */
    size_t workspace_bytes;
    void *scratch; /* cuda_scratch(): partial sums and the like, valid during one kernel call */
    size_t scratch_bytes;
    int n_sm;
    size_t smem_optin; /* the most dynamic shared memory a block may ask for */
    int flash_hopper_ok; /* flash.cu's Hopper kernels are built for this GPU */
    int flash_hopper;    /* and in use (kern_cuda_flash_hopper) */
    struct MatmulState *mm; /* matmul.cu's: the chosen algorithms and a vector of ones */
    struct Ranks *ranks;    /* ranks.cu's: the NCCL communicator, when several ranks train */
} CudaState;

static inline CudaState *cuda_state(Kern *k) { return (CudaState *)k->impl; }
static inline cudaStream_t cuda_stream(Kern *k) { return cuda_state(k)->stream; }
/* A device buffer of at least `bytes`, owned by the backend, valid until the
 * next call of cuda_scratch (one kernel call's partial sums). */
void *cuda_scratch(Kern *k, size_t bytes);

/* Elements to a grid of `block` threads. */
static inline unsigned cuda_blocks(size_t n, unsigned block) { return (unsigned)((n + block - 1) / block); }

/* Let kernel launch with bytes of dynamic shared memory, past the default
 * 48 KB (up to the GPU's opt-in, CudaState's smem_optin). */
template <typename F> static inline void cuda_allow_smem(F *kernel, size_t bytes)
{
    CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes));
}

/* Loads and stores in the working precision, computing in float. */
__device__ __forceinline__ float to_f(float x) { return x; }
__device__ __forceinline__ float to_f(bf16 x) { return __bfloat162float(x); }
template <typename X> __device__ __forceinline__ X from_f(float x);
template <> __device__ __forceinline__ float from_f<float>(float x) { return x; }
template <> __device__ __forceinline__ bf16 from_f<bf16>(float x) { return __float2bfloat16(x); }

/* 16-byte packs: P = 16 / sizeof(X) elements a load, or P = 1 where a row
 * length or a pointer is not a multiple of 16 bytes. */

template <int P, typename X> static __device__ __forceinline__ void load_pack(float (&f)[P], const X *p)
{
    if constexpr (P == 1) {
        f[0] = to_f(*p);
    } else {
        static_assert(P * sizeof(X) == 16, "a pack is 16 bytes");
        int4 raw = *reinterpret_cast<const int4 *>(p);
        const X *x = reinterpret_cast<const X *>(&raw);
#pragma unroll
        for (int j = 0; j < P; j++) f[j] = to_f(x[j]);
    }
}

template <int P, typename X> static __device__ __forceinline__ void store_pack(X *p, const float (&f)[P])
{
    if constexpr (P == 1) {
        *p = from_f<X>(f[0]);
    } else {
        static_assert(P * sizeof(X) == 16, "a pack is 16 bytes");
        int4 raw;
        X *x = reinterpret_cast<X *>(&raw);
#pragma unroll
        for (int j = 0; j < P; j++) x[j] = from_f<X>(f[j]);
        *reinterpret_cast<int4 *>(p) = raw;
    }
}

static inline bool aligned16(const void *p) { return ((uintptr_t)p & 15) == 0; }

/* Cephes' expf as model/vmath.c's exp8, step for step: the GPU's GELU and
 * softmax equal the CPU's where the CPU takes its AVX2 path. */
static __device__ __forceinline__ float exp_cephes(float x)
{
    x = fminf(fmaxf(x, -88.3762626647949f), 88.3762626647949f);
    float fx = floorf(fmaf(x, 1.44269504088896341f, 0.5f));
    x = fmaf(-fx, 0.693359375f, x);
    x = fmaf(-fx, -2.12194440e-4f, x);
    float z = __fmul_rn(x, x), y = 1.9875691500e-4f;
    y = fmaf(y, x, 1.3981999507e-3f);
    y = fmaf(y, x, 8.3334519073e-3f);
    y = fmaf(y, x, 4.1665795894e-2f);
    y = fmaf(y, x, 1.6666665459e-1f);
    y = fmaf(y, x, 5.0000001201e-1f);
    y = fmaf(y, z, x + 1.0f);
    return __fmul_rn(y, __int_as_float(((int)fx + 127) << 23));
}

static constexpr float LOG2E = 1.4426950408889634f; /* log2(e), as a float */

/* Asynchronous copies from global to shared memory (cp.async, sm_80 on):
 * cp_async<B> copies B bytes (16: past L1; 4 or 8: through it) to shared
 * address dst (smem_at);
 * cp_async_commit ends a group of them; cp_async_wait<N> waits until at most
 * N groups are in flight; a block barrier after it makes the copies readable
 * (and keeps the compiler from moving reads above the wait). */
template <int B> static __device__ __forceinline__ void cp_async(uint32_t dst, const void *src)
{
    if constexpr (B == 16) asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(dst), "l"(src));
    else asm volatile("cp.async.ca.shared.global [%0], [%1], %2;\n" ::"r"(dst), "l"(src), "n"(B));
}
/* p's address in shared memory, as cp_async takes it */
static __device__ __forceinline__ uint32_t smem_at(const void *p) { return (uint32_t)__cvta_generic_to_shared(p); }
static __device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N> static __device__ __forceinline__ void cp_async_wait()
{
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

/* 2^x by the special function unit (relative error about 2^-22; 0 for -inf):
 * for bf16 results, which do not see the last bits */
static __device__ __forceinline__ float ex2_approx(float x)
{
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
    return y;
}

/* kernels.h's dropout mask, on the device: the same bits as the CPU's. */
__device__ __forceinline__ float cuda_drop_mul(uint64_t base, uint32_t thresh, float scale, uint64_t i)
{
    const KDrop d = { base, thresh, scale };
    return kdrop_mul(&d, i);
}

/* ---- the launchers: kernels.h's KernOps signatures ---- */
/* encoder.cu */
void cu_encoder_forward(Kern *k, floatX *out, const int *inp, const floatX *wte, const floatX *wpe, int B, int T,
                        int C);
void cu_encoder_backward(Kern *k, float *dwte, float *dwpe, const floatX *dout, const int *inp, int B, int T, int C);
/* layernorm.cu */
void cu_layernorm_forward(Kern *k, floatX *out, float *mean, float *rstd, const floatX *inp, const floatX *w,
                          const floatX *b, int N, int C);
void cu_layernorm_backward(Kern *k, floatX *dinp, float *dw, float *db, const floatX *dout, const floatX *inp,
                           const floatX *w, const float *mean, const float *rstd, int N, int C);
/* gelu.cu: GELU and the residual adds with their dropout masks */
void cu_gelu_forward(Kern *k, floatX *out, const floatX *inp, size_t n);
void cu_gelu_backward(Kern *k, floatX *d, const floatX *inp, size_t n);
void cu_residual_forward(Kern *k, floatX *out, const floatX *inp, const floatX *add, const KDrop *drop, size_t n);
/* classifier.cu */
void cu_classifier_forward(Kern *k, float *losses, floatX *logits, const int *targets, int N, int V, int Vp,
                           float dloss);
void cu_classifier_backward(Kern *k, floatX *probs, const int *targets, int N, int V, int Vp, float dloss);
/* adamw.cu: the global norm, AdamW, and precision casts */
double cu_grad_norm2(Kern *k, const float *grads, const KTensors *t);
void cu_adamw(Kern *k, float *params, floatX *params_x, float *m, float *v, const float *grads, const KTensors *t,
              const AdamArgs *a);
void cu_cast_x(Kern *k, floatX *dst, const float *src, size_t n);
void cu_download_x(Kern *k, float *host, const floatX *src, size_t n);
/* matmul.cu */
void cu_matmul_forward(Kern *k, floatX *out, const floatX *inp, const floatX *w, const floatX *bias,
                       const floatX *resid, int N, int K, int OC);
void cu_matmul_backward(Kern *k, floatX *dinp, float *dw, float *db, const floatX *dout, const floatX *inp,
                        const floatX *w, int N, int K, int OC, float *scratch);
void cu_matmul_gelu_forward(Kern *k, floatX *out, floatX *pre, const floatX *inp, const floatX *w,
                            const floatX *bias, int N, int K, int OC);
void cu_matmul_dgelu_backward(Kern *k, floatX *dinp, float *dw, float *db, const floatX *dout, const floatX *inp,
                              const floatX *w, const floatX *pre, int N, int K, int OC, float *scratch);
size_t cu_matmul_scratch(const Kern *k, int N, int K, int OC);
void cu_matmul_free(CudaState *st);
/* ranks.cu: kernels.h's ranks_* on NCCL (GPTKIT_NCCL), and their state freed */
#ifdef GPTKIT_NCCL
int cu_ranks_id(Kern *k, void *id, Err *e);
int cu_ranks_open(Kern *k, int rank, int size, const void *id, Err *e);
double cu_ranks_sum(Kern *k, float *x, size_t n);
double cu_ranks_sum_slices(Kern *k, float *x, const size_t *lo, int size);
double cu_ranks_share_slices(Kern *k, void *x, size_t elem, const size_t *lo, int size);
#endif
void cu_ranks_free(CudaState *st);
double cu_matmul_rate(Kern *k);
/* attention.cu */
void cu_attention_forward(Kern *k, floatX *out, float *state, float *scratch, const floatX *qkv, int B, int T, int C,
                          int NH, const KDrop *drop);
void cu_attention_backward(Kern *k, floatX *dqkv, float *scratch, const floatX *dout, const floatX *qkv,
                           const floatX *out, const float *state, int B, int T, int C, int NH, const KDrop *drop);
size_t cu_attention_state(const Kern *k, int B, int T, int NH);
size_t cu_attention_scratch(const Kern *k, int B, int T, int NH);
void cu_attention_cached(Kern *k, floatX *out, floatX *kcache, floatX *vcache, const floatX *qkv, int n, int p0,
                         int C, int NH, float *scratch);
size_t cu_attention_cached_scratch(const Kern *k, int max_T);
/* flash.cu: the bf16 attention, which attention.cu's launchers call when
 * k->prec is PREC_BF16. lse (B,NH,T): each row's log-sum-exp, the forward's
 * state; D (B,NH,T): the backward's scratch. Head dimensions 1 to 128. */
void cu_flash_forward(Kern *k, bf16 *out, float *lse, const bf16 *qkv, int B, int T, int C, int NH,
                      const KDrop *drop);
void cu_flash_backward(Kern *k, bf16 *dqkv, float *D, const bf16 *dout, const bf16 *qkv, const bf16 *out,
                       const float *lse, int B, int T, int C, int NH, const KDrop *drop);
/* Whether this build's code for the present GPU has flash.cu's Hopper
 * kernels (sm_90a's warpgroup products). */
int cu_flash_hopper_available(void);

#endif
