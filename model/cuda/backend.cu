/* The CUDA backend of kernels.h: device memory, one stream, cuBLAS handles
 * and the table of launchers (each kernel family in its own file). Built only
 * where nvcc is found (the Makefile's CUDA=1), and then chosen at run time by
 * kern_open when a GPU is visible or --device cuda asks for it. */
#include "common.cuh"

#include <cuda_profiler_api.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cuda_fail(const char *what, const char *call, const char *file, int line)
{
    fprintf(stderr, "model: CUDA error: %s\nmodel:   in %s (%s:%d)\n", what, call, file, line);
    exit(1);
}

extern "C" int kern_cuda_visible(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError(); /* no driver or no device: not an error to keep */
        return 0;
    }
    return n > 0;
}

/* Whether bytes more fit under the Kern's mem_cap (always, without one). */
static bool cu_fits(Kern *k, size_t bytes)
{
    if (!k->mem_cap) return true;
    size_t free_b = 0, total = 0;
    CUDA_CHECK(cudaMemGetInfo(&free_b, &total));
    return total - free_b + bytes <= k->mem_cap;
}

void *cuda_scratch(Kern *k, size_t bytes)
{
    CudaState *st = cuda_state(k);
    if (bytes > st->scratch_bytes) {
        size_t want = bytes + bytes / 4;
        CUDA_CHECK(cudaStreamSynchronize(st->stream)); /* the old buffer may still be read */
        CUDA_CHECK(cudaFree(st->scratch));
        st->scratch = NULL;
        if (!cu_fits(k, want)) want = bytes;
        if (!cu_fits(k, want)) {
            static char msg[160];
            snprintf(msg, sizeof msg, "a kernel's scratch of %.1f MB does not fit under --gpu-memory %.0f MB",
                     want / 1e6, k->mem_cap / 1e6);
            cuda_fail(msg, "cuda_scratch", __FILE__, __LINE__);
        }
        CUDA_CHECK(cudaMalloc(&st->scratch, want));
        st->scratch_bytes = want;
    }
    return st->scratch;
}

static void *cu_alloc(Kern *k, size_t bytes)
{
    void *p = NULL;
    if (!cu_fits(k, bytes ? bytes : 1)) return NULL; /* the caller reports it */
    if (cudaMalloc(&p, bytes ? bytes : 1) != cudaSuccess) {
        cudaGetLastError(); /* out of memory: the caller reports it */
        return NULL;
    }
    CUDA_CHECK(cudaMemsetAsync(p, 0, bytes ? bytes : 1, cuda_stream(k)));
    return p;
}

static void cu_release(Kern *k, void *p)
{
    if (!p) return;
    CUDA_CHECK(cudaStreamSynchronize(cuda_stream(k)));
    CUDA_CHECK(cudaFree(p));
}

/* Copies are synchronous: the host buffer may be reused as soon as they return. */
static void cu_upload(Kern *k, void *dst, const void *host, size_t bytes)
{
    CUDA_CHECK(cudaMemcpyAsync(dst, host, bytes, cudaMemcpyHostToDevice, cuda_stream(k)));
    CUDA_CHECK(cudaStreamSynchronize(cuda_stream(k)));
}

static void cu_download(Kern *k, void *host, const void *src, size_t bytes)
{
    CUDA_CHECK(cudaMemcpyAsync(host, src, bytes, cudaMemcpyDeviceToHost, cuda_stream(k)));
    CUDA_CHECK(cudaStreamSynchronize(cuda_stream(k)));
}

static void cu_zero(Kern *k, void *p, size_t bytes) { CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, cuda_stream(k))); }

static void cu_free(Kern *k)
{
    CudaState *st = cuda_state(k);
    if (!st) return;
    cudaStreamSynchronize(st->stream);
    cu_ranks_free(st);
    cu_matmul_free(st);
    cudaFree(st->workspace);
    cudaFree(st->scratch);
    if (st->lt) cublasLtDestroy(st->lt);
    if (st->blas) cublasDestroy(st->blas);
    if (st->stream) cudaStreamDestroy(st->stream);
    free(st);
}

static size_t cu_mem_free(Kern *k)
{
    size_t free_b = 0, total = 0;
    CUDA_CHECK(cudaMemGetInfo(&free_b, &total));
    if (k->mem_cap) {
        size_t used = total - free_b, room = k->mem_cap > used ? k->mem_cap - used : 0;
        if (room < free_b) free_b = room;
    }
    return free_b;
}

static size_t cu_mem_used(Kern *k)
{
    (void)k;
    size_t free_b = 0, total = 0;
    CUDA_CHECK(cudaMemGetInfo(&free_b, &total));
    return total - free_b;
}

static void cu_profile(Kern *k, int on)
{
    CUDA_CHECK(cudaStreamSynchronize(cuda_stream(k)));
    CUDA_CHECK(on ? cudaProfilerStart() : cudaProfilerStop());
}

/* cuBLASLt's workspace, the largest cuda_scratch a kernel asks for in this
 * precision and the ones of db: kern_cuda_sizes.c, in plain C, which model
 * plan uses where there is no GPU. */
static size_t cu_workspace_bytes(const Kern *k, int B, int T, int C, int NH)
{
    return kern_cuda_workspace_bytes(k->prec, B, T, C, NH);
}

static const KernOps cuda_ops = {
    .free = cu_free,
    .alloc = cu_alloc,
    .release = cu_release,
    .upload = cu_upload,
    .download = cu_download,
    .zero = cu_zero,
    .cast_x = cu_cast_x,
    .download_x = cu_download_x,
    .encoder_forward = cu_encoder_forward,
    .encoder_backward = cu_encoder_backward,
    .layernorm_forward = cu_layernorm_forward,
    .layernorm_backward = cu_layernorm_backward,
    .matmul_forward = cu_matmul_forward,
    .matmul_backward = cu_matmul_backward,
    .matmul_scratch = cu_matmul_scratch,
    .matmul_gelu_forward = cu_matmul_gelu_forward,
    .matmul_dgelu_backward = cu_matmul_dgelu_backward,
    .attention_forward = cu_attention_forward,
    .attention_backward = cu_attention_backward,
    .attention_state = cu_attention_state,
    .attention_scratch = cu_attention_scratch,
    .attention_cached = cu_attention_cached,
    .attention_cached_scratch = cu_attention_cached_scratch,
    .gelu_forward = cu_gelu_forward,
    .gelu_backward = cu_gelu_backward,
    .residual_forward = cu_residual_forward,
    .classifier_forward = cu_classifier_forward,
    .classifier_backward = cu_classifier_backward,
    .grad_norm2 = cu_grad_norm2,
    .adamw = cu_adamw,
    .matmul_rate = cu_matmul_rate,
    .workspace_bytes = cu_workspace_bytes,
    .mem_free = cu_mem_free,
    .mem_used = cu_mem_used,
    .profile = cu_profile,
#ifdef GPTKIT_NCCL
    .ranks_id = cu_ranks_id,
    .ranks_open = cu_ranks_open,
    .ranks_sum = cu_ranks_sum,
    .ranks_sum_slices = cu_ranks_sum_slices,
    .ranks_share_slices = cu_ranks_share_slices,
#endif
};

extern "C" int kern_cuda_flash_hopper(Kern *k, int on)
{
    CudaState *st = cuda_state(k);
    st->flash_hopper = on && st->flash_hopper_ok;
    return st->flash_hopper;
}

extern "C" int kern_cuda_init(Kern *k, KernPrec prec, GPool *pool, Err *e)
{
    memset(k, 0, sizeof *k);
    int n = 0;
    cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess || n < 1) {
        cudaGetLastError();
        return err_set(e, "--device cuda: no GPU visible (%s)",
                       err != cudaSuccess ? cudaGetErrorString(err) : "the driver reports none");
    }
    int dev = 0;
    cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDevice(&dev));
    CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
    if (prop.major < 8)
        return err_set(e, "--device cuda: %s has compute capability %d.%d; this backend needs 8.0 or newer "
                          "(bf16 matrix units)", prop.name, prop.major, prop.minor);
    CudaState *st = (CudaState *)calloc(1, sizeof *st);
    if (!st) return err_set(e, "out of memory");
    k->impl = st;
    st->n_sm = prop.multiProcessorCount;
    st->smem_optin = prop.sharedMemPerBlockOptin;
    st->flash_hopper = st->flash_hopper_ok = prop.major == 9 && prop.minor == 0 && cu_flash_hopper_available();
    st->workspace_bytes = KERN_CUDA_LT_WORKSPACE; /* Hopper's kernels want 32 MiB */
    CUDA_CHECK(cudaStreamCreateWithFlags(&st->stream, cudaStreamNonBlocking));
    CUBLAS_CHECK(cublasCreate(&st->blas));
    CUBLAS_CHECK(cublasSetStream(st->blas, st->stream));
    /* float32 stays float32: no TF32 on any path (the fp32 path equals the CPU) */
    CUBLAS_CHECK(cublasSetMathMode(st->blas, CUBLAS_PEDANTIC_MATH));
    CUBLAS_CHECK(cublasLtCreate(&st->lt));
    /* before the first array: model train's summary takes this from its peak
     * to give its arrays' part, which compares with PyTorch's
     * max_memory_reserved (neither counts the context or the handles) */
    k->mem_context = cu_mem_used(k);
    if (cudaMalloc(&st->workspace, st->workspace_bytes) != cudaSuccess) {
        cudaGetLastError();
        cu_free(k);
        k->impl = NULL;
        return err_set(e, "--device cuda: out of GPU memory for cuBLASLt's workspace");
    }
    CUBLAS_CHECK(cublasSetWorkspace(st->blas, st->workspace, st->workspace_bytes));
    k->ops = &cuda_ops;
    k->device = KERN_CUDA;
    k->prec = prec;
    k->pool = pool;
    /* flash.cu's padded tiles, as far as its kernels fit this GPU's shared
     * memory: 128 on an A100 or H100, 96 on GPUs of 99 KB a block (RTX 3090,
     * RTX 4090), where a head over 96 would fail at its first launch */
    if (prec == PREC_BF16) k->max_head_dim = kern_cuda_flash_max_head_dim(st->smem_optin, st->flash_hopper_ok);
    else k->max_head_dim = 0;
    snprintf(k->name, sizeof k->name, "%.95s", prop.name);
    CUDA_CHECK(cudaDeviceGetPCIBusId(k->bus_id, sizeof k->bus_id, dev));
    return 0;
}
