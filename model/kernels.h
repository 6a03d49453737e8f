/* The kernel interface between the model (gpt2.c: layout, layer loop, the
 * order of forward, backward and AdamW) and a backend that runs it: the CPU
 * (kern_cpu.c: OpenBLAS sgemm and threaded C, float32) or an NVIDIA GPU
 * (cuda/: cuBLASLt and our kernels). Each kernel takes pointers and a shape
 * and nothing of the model. Pointers are the backend's memory: host memory on
 * the CPU, device memory on a GPU; kern_upload/kern_download cross over.
 *
 * Types name the precision: `floatX` is the backend's working precision
 * (float on the CPU; float or bf16 on a GPU: kern->prec), `float` is always
 * float32 (parameter gradients, master weights, AdamW moments, LayerNorm
 * statistics, losses). Shapes are in the comments: (B,T,C) is row-major. */
#ifndef KERNELS_H
#define KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "poolsize.h"

typedef void floatX; /* a buffer in the working precision: see above */

typedef enum { KERN_CPU, KERN_CUDA } KernDevice;
typedef enum { PREC_FP32, PREC_BF16 } KernPrec;

/* A dropout mask over one site of one micro-batch: element i is kept (and
 * scaled by `scale` = 1/(1-p)) when the top 24 bits of
 * mix64(base + GOLDEN (i + 1)) are >= thresh. Built by gpt_dropout_site();
 * every backend computes the same bits from it. */
typedef struct KDrop {
    uint64_t base;
    uint32_t thresh;
    float scale;
} KDrop;

#define KDROP_GOLDEN 0x9e3779b97f4a7c15ull

/* The two below run in CUDA kernels too (nvcc compiles this header into model/cuda/). */
#ifdef __CUDACC__
#define KERN_HD __host__ __device__
#else
#define KERN_HD
#endif

/* splitmix64's finalizer: the hash of the dropout masks, of their keys, and of
 * the model's random draws (gpt_rand_u64): the model's one copy of it. */
static inline KERN_HD uint64_t kdrop_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The factor of element i of a mask: d->scale when kept, 0 when dropped. */
static inline KERN_HD float kdrop_mul(const KDrop *d, uint64_t i)
{
    return (uint32_t)(kdrop_mix64(d->base + KDROP_GOLDEN * (i + 1)) >> 40) >= d->thresh ? d->scale : 0.0f;
}

/* The parameter tensors as the optimizer sees them: sizes[i] elements each,
 * one after another in a flat buffer, decays[i] whether weight decay applies. */
typedef struct KTensors {
    int n;
    const size_t *sizes;
    const int *decays;
} KTensors;

typedef struct AdamArgs {
    float lr, beta1, beta2, eps, weight_decay;
    float clip_coef;     /* gradients are multiplied by it first (1: no clipping) */
    float bc1, bc2_sqrt; /* bias corrections 1 - beta1^t and sqrt(1 - beta2^t) */
    uint64_t round_key;  /* without master weights: the key of the step's stochastic rounding */
    size_t first;        /* the index in the whole model of the first weight given (a --zero 1 slice's start) */
} AdamArgs;

typedef struct Kern Kern;

/* One backend: every kernel, and memory. Called as k->ops->name(k, ...). */
typedef struct KernOps {
    void (*free)(Kern *k); /* the backend's own state */
    void *(*alloc)(Kern *k, size_t bytes); /* zeroed; NULL when out of memory */
    void (*release)(Kern *k, void *p);
    void (*upload)(Kern *k, void *dst, const void *host, size_t bytes);
    void (*download)(Kern *k, void *host, const void *src, size_t bytes);
    void (*zero)(Kern *k, void *p, size_t bytes);
    /* dst (n) working precision = src (n) float32, both the backend's */
    void (*cast_x)(Kern *k, floatX *dst, const float *src, size_t n);
    /* host (n) float32 = src (n) working precision */
    void (*download_x)(Kern *k, float *host, const floatX *src, size_t n);

    /* out (B,T,C) = wte[inp] + wpe[t]; inp (B,T) ids */
    void (*encoder_forward)(Kern *k, floatX *out, const int *inp, const floatX *wte, const floatX *wpe, int B,
                            int T, int C);
    /* dwte, dwpe += the rows of dout (B,T,C) */
    void (*encoder_backward)(Kern *k, float *dwte, float *dwpe, const floatX *dout, const int *inp, int B, int T,
                             int C);
    /* out (N,C) = LayerNorm(inp) w + b, eps 1e-5; mean, rstd (N) kept for the backward */
    void (*layernorm_forward)(Kern *k, floatX *out, float *mean, float *rstd, const floatX *inp, const floatX *w,
                              const floatX *b, int N, int C);
    /* dinp (N,C) += the gradient through the norm; dw, db (C) += theirs */
    void (*layernorm_backward)(Kern *k, floatX *dinp, float *dw, float *db, const floatX *dout,
                               const floatX *inp, const floatX *w, const float *mean, const float *rstd, int N,
                               int C);
    /* out (N,OC) = inp (N,K) W^T (W (OC,K)) + bias (OC, or NULL) + resid (N,OC, or NULL) */
    void (*matmul_forward)(Kern *k, floatX *out, const floatX *inp, const floatX *w, const floatX *bias,
                           const floatX *resid, int N, int K, int OC);
    /* dinp (N,K) = dout W (dinp NULL: skip); dw (OC,K) += dout^T inp; db (OC) += column
     * sums of dout (db NULL: skip). scratch: matmul_scratch(N,K,OC) floats. */
    void (*matmul_backward)(Kern *k, floatX *dinp, float *dw, float *db, const floatX *dout, const floatX *inp,
                            const floatX *w, int N, int K, int OC, float *scratch);
    size_t (*matmul_scratch)(const Kern *k, int N, int K, int OC);
    /* Optional (NULL: matmul_forward, then gelu_forward): pre (N,OC) = inp W^T
     * + bias and out (N,OC) = GELU(pre) from one product */
    void (*matmul_gelu_forward)(Kern *k, floatX *out, floatX *pre, const floatX *inp, const floatX *w,
                                const floatX *bias, int N, int K, int OC);
    /* Optional (NULL: matmul_backward, then gelu_backward on dinp):
     * matmul_backward whose dinp (N,K) comes out times GELU'(pre (N,K)) */
    void (*matmul_dgelu_backward)(Kern *k, floatX *dinp, float *dw, float *db, const floatX *dout,
                                  const floatX *inp, const floatX *w, const floatX *pre, int N, int K, int OC,
                                  float *scratch);
    /* Causal self-attention: out (B,T,C) from qkv (B,T,3C), NH heads. state:
     * attention_state(B,T,NH) floats a layer that the backward needs (the
     * probabilities on the CPU, the log-sum-exp on a GPU); scratch:
     * attention_scratch(B,T,NH) floats, shared by every layer. drop NULL: no
     * dropout on the probabilities. */
    void (*attention_forward)(Kern *k, floatX *out, float *state, float *scratch, const floatX *qkv, int B,
                              int T, int C, int NH, const KDrop *drop);
    /* dqkv (B,T,3C) = the gradient of qkv given dout (B,T,C); out and state
     * are the forward's */
    void (*attention_backward)(Kern *k, floatX *dqkv, float *scratch, const floatX *dout, const floatX *qkv,
                               const floatX *out, const float *state, int B, int T, int C, int NH,
                               const KDrop *drop);
    size_t (*attention_state)(const Kern *k, int B, int T, int NH);
    size_t (*attention_scratch)(const Kern *k, int B, int T, int NH);
    /* Attention of n new rows at positions p0..p0+n-1 over a cache of keys and
     * values (max_T, C): the rows' keys and values (in qkv (n,3C)) are written
     * into the cache at p0.., then row i attends to positions 0..p0+i.
     * out (n,C); scratch attention_cached_scratch(max_T) floats. */
    void (*attention_cached)(Kern *k, floatX *out, floatX *kcache, floatX *vcache, const floatX *qkv, int n,
                             int p0, int C, int NH, float *scratch);
    size_t (*attention_cached_scratch)(const Kern *k, int max_T);
    /* out (n) = GELU(inp), tanh form */
    void (*gelu_forward)(Kern *k, floatX *out, const floatX *inp, size_t n);
    /* d (n) *= GELU'(inp) */
    void (*gelu_backward)(Kern *k, floatX *d, const floatX *inp, size_t n);
    /* out (n) = add + inp . mask (add NULL: inp . mask; drop NULL: no mask);
     * out may be inp or add. The backward through a mask is the mask again. */
    void (*residual_forward)(Kern *k, floatX *out, const floatX *inp, const floatX *add, const KDrop *drop,
                             size_t n);
    /* logits (N,Vp) in; losses (N) = -log p[target] with p the softmax over
     * the V real ids. Out, in place: with dloss 0 the probabilities (the
     * padding 0); with dloss != 0, fused with the backward, the gradient
     * dloss (p - onehot(target)) (the padding 0): no probabilities are kept. */
    void (*classifier_forward)(Kern *k, float *losses, floatX *logits, const int *targets, int N, int V, int Vp,
                               float dloss);
    /* probabilities (N,Vp) of classifier_forward in, dloss (p - onehot) out */
    void (*classifier_backward)(Kern *k, floatX *probs, const int *targets, int N, int V, int Vp, float dloss);
    /* The squared global norm of the gradients, summed in a fixed order. */
    double (*grad_norm2)(Kern *k, const float *grads, const KTensors *t);
    /* One AdamW step over every tensor (PyTorch's arithmetic); params_x, when
     * not NULL, receives the new weights in the working precision. params
     * NULL (bf16 without float32 master weights: a GPU only): params_x holds
     * the weights, read and written, each new weight rounded to bf16
     * stochastically with the top 16 bits of kdrop_mix64(a->round_key +
     * KDROP_GOLDEN (i + 1)), i its index in the whole model (a->first plus its
     * index in the buffers given): the same bits on a rerun, and whichever
     * rank updates the weight. */
    void (*adamw)(Kern *k, float *params, floatX *params_x, float *m, float *v, const float *grads,
                  const KTensors *t, const AdamArgs *a);
    /* The backend's matrix-product rate in the working precision, FLOP/s,
     * measured (the denominator of MFU); NULL on the CPU, where the trainer
     * measures sgemm on its own threads. */
    double (*matmul_rate)(Kern *k);
    /* Bytes the backend allocates for itself when training B x T with width
     * C and NH heads (library workspaces, the largest scratch a kernel asks
     * for), for the memory plan; NULL: none. */
    size_t (*workspace_bytes)(const Kern *k, int B, int T, int C, int NH);
    /* Bytes of device memory free now; NULL on the CPU (MemAvailable is the host's figure). */
    size_t (*mem_free)(Kern *k);
    /* Bytes of device memory in use now by every user of the device, the CUDA
     * context included (total less free); NULL on the CPU. */
    size_t (*mem_used)(Kern *k);
    /* Brackets the work a profiler (Nsight Compute with --profile-from-start
     * off) records: on 1 starts, 0 stops, after the work queued so far has
     * finished; NULL on the CPU. */
    void (*profile)(Kern *k, int on);

    /* Several ranks, one GPU each, summing gradients on the devices (NCCL).
     * ranks_id fills id (KERN_RANKS_ID_BYTES) on one rank, which hands it to
     * every rank (dist_bcast); each then joins with ranks_open (rank of size).
     * ranks_sum makes x (n floats, the backend's memory) the sum over ranks of
     * every rank's x, the same bits on every rank, and returns the seconds the
     * sum took on the device once this rank's work before it was done (the
     * wait for a slower rank included). NULL where the backend has none (the
     * CPU: the trainer sums host memory over MPI; a CUDA build without NCCL). */
    int (*ranks_id)(Kern *k, void *id, Err *e);
    int (*ranks_open)(Kern *k, int rank, int size, const void *id, Err *e);
    double (*ranks_sum)(Kern *k, float *x, size_t n);
    /* --zero 1: the size ranks own the slices [lo[r], lo[r + 1]) of a buffer.
     * ranks_sum_slices leaves in this rank's slice of x (floats) the sum over
     * ranks of that slice (the rest of x undefined); ranks_share_slices sends
     * each rank's slice of x (elements of elem bytes) to every rank. Both
     * return seconds as ranks_sum does. */
    double (*ranks_sum_slices)(Kern *k, float *x, const size_t *lo, int size);
    double (*ranks_share_slices)(Kern *k, void *x, size_t elem, const size_t *lo, int size);
} KernOps;

/* Bytes of the identifier of a group of ranks (NCCL's unique id). */
#define KERN_RANKS_ID_BYTES 128

struct Kern {
    const KernOps *ops;
    KernDevice device;
    KernPrec prec;
    GPool *pool;   /* the CPU's threads (borrowed) */
    void *impl;    /* the backend's own state */
    char name[96]; /* the GPU's name; empty on the CPU */
    char bus_id[16]; /* the GPU's PCI bus id ("0000:19:00.0"): which GPU of its machine; empty on the CPU */
    int max_head_dim; /* the largest width / heads the attention takes; 0: any */
    size_t mem_cap;   /* a GPU taken to be this large (bytes in use on the device, its context
                       * included): allocations past it fail, mem_free counts from it; 0: none */
    size_t mem_context; /* bytes in use on the device once the backend's CUDA context and library
                         * handles exist, before its first array (total less free, as mem_used);
                         * kernels CUDA loads at their first launch come later. 0 on the CPU */
};

/* The backend a command asked for: device KERN_CPU, KERN_CUDA or -1 (a GPU
 * when this build has CUDA and one is visible, else the CPU); prec
 * PREC_FP32, PREC_BF16 or -1 (bf16 on a GPU, fp32 on the CPU). pool is the
 * CPU's threads (borrowed). Errors say what is missing. Caller frees with
 * kern_free(). */
int kern_open(Kern *k, int device, int prec, GPool *pool, Err *e);
/* Several ranks on one machine: the GPU that rank local_rank of the
 * machine's local_size ranks opens, called before kern_open. With at least
 * local_size GPUs visible, the local_rank-th; with one visible (a launcher
 * that gives each rank its own, as srun --gpus-per-task=1 does), that one;
 * else an error naming the counts. Nothing to do without CUDA. */
int kern_gpu_for_rank(int local_rank, int local_size, Err *e);
/* Whether kern_open(device, ...) would run on a GPU. */
int kern_would_use_gpu(int device);
/* "cpu, fp32" or "cuda (NVIDIA H200), bf16": for the plan line. */
const char *kern_describe(const Kern *k, char *buf, size_t n);

#ifdef GPTKIT_CUDA
/* cuda/: whether a GPU is visible, and its backend. */
int kern_cuda_visible(void);
int kern_cuda_init(Kern *k, KernPrec prec, GPool *pool, Err *e);
int kern_cuda_for_rank(int local_rank, int local_size, Err *e);
/* The bf16 attention on Hopper (sm_90, built for sm_90a) runs on its
 * warpgroup matrix units, elsewhere on mma.sync; on 0 forces mma.sync, on 1
 * goes back. Returns whether the Hopper kernels are in use now. */
int kern_cuda_flash_hopper(Kern *k, int on);
#endif

/* ---- the CUDA backend's sizes, in plain C (kern_cuda_sizes.c) ----
 * Compiled in every build: cuda/'s size ops are these functions, and a
 * sizes-only Kern (kern_cuda_sizes) lets gpt_memory_for lay out the GPU
 * trainer's memory where there is no GPU or no CUDA (model plan --gpu). */

/* cuBLASLt's workspace, which the backend allocates once (Hopper's kernels want 32 MiB). */
/* Constants of cuda/'s kernels that their scratch follows (the .cu files
 * assert that they agree): encoder.cu's radix sort (keys a tile, counts a
 * tile) and sorted positions a partial sum of dwte in bf16, and
 * layernorm.cu's rows a partial sum of dw, db. */
#define KERN_CUDA_SORT_TILE 256
#define KERN_CUDA_SORT_DIGITS 256
#define KERN_CUDA_LN_CHUNK 32
#define KERN_CUDA_WTE_CHUNK 64
/* flash.cu's backward: rows of a key or query tile, warps a block; its
 * buffers of query tiles; the forward's buffers of key tiles on Hopper (two
 * elsewhere); the widest padded head Hopper's backward takes (wider heads
 * run mma.sync's). kern_cuda_flash_smem sizes the kernels by these. */
#define KERN_CUDA_FLASH_TILE 64
#define KERN_CUDA_FLASH_WARPS 4
#define KERN_CUDA_FLASH_Q_BUFS 2
#define KERN_CUDA_FLASH_KV_BUFS_HOPPER 3
#define KERN_CUDA_FLASH_WG_BWD_MAX 96
#define KERN_CUDA_LT_WORKSPACE ((size_t)32 << 20)
/* What a GPU's memory as its vendor states it loses before the trainer's
 * arrays: the driver's reservation, the CUDA context (code modules, cuBLAS
 * and cuBLASLt handles and kernels, loaded lazily as they are first used)
 * and the allocator's own rounding (cudaMalloc hands out 2 MiB pages).
 * model plan adds it to gpt_memory_for's total and compares that with the
 * card's memory as its vendor states it (--gpu NAME). Measured on an H200:
 * with it, gpt_memory_for's total came within 0.1% of the peak in use that
 * model train reports (total minus free, the context included) for GPT-2 at
 * micro-batch 16 and 32, gpt2-large at 16 and 18 x 1280 with 64 heads at 16,
 * all at context 1024 in bf16 (9.0 to 38.1 GiB). */
#define KERN_CUDA_OVERHEAD ((size_t)600 << 20)
/* The widest head the bf16 attention (cuda/flash.cu's padded tiles) takes. */
#define KERN_CUDA_BF16_MAX_HEAD_DIM 128

/* Floats of attention state a layer keeps for the backward: fp32 the
 * probabilities (B,NH,T,T), bf16 each row's log-sum-exp (B,NH,T). */
size_t kern_cuda_attention_state(KernPrec prec, int B, int T, int NH);
/* Floats of attention scratch shared by every layer: fp32 the dropped
 * probabilities and dP (2 (B,NH,T,T)), bf16 D = rowsum(dout . out) (B,NH,T). */
size_t kern_cuda_attention_scratch(KernPrec prec, int B, int T, int NH);
/* Floats of matmul_backward's scratch: none (cuBLASLt uses its workspace). */
size_t kern_cuda_matmul_scratch(KernPrec prec, int N, int K, int OC);
/* Bytes the backend allocates for itself training B x T, width C, NH heads:
 * cuBLASLt's workspace, cuda_scratch's high-water mark (the largest request
 * of a step in this precision, grown by a quarter as cuda_scratch grows it)
 * and matmul.cu's vector of ones. */
size_t kern_cuda_workspace_bytes(KernPrec prec, int B, int T, int C, int NH);
/* The cuda_scratch of the bf16 attention's backward (flash.cu): the order
 * of its blocks and tiles (B NH ceil(T / tile) warps + 1 counters), then dQ's
 * float32 partial sums, 256-byte aligned: bytes of B T C floats where T is a
 * multiple of the tile and the head dimension C / NH one of 8, else of those
 * rounded up. */
size_t kern_cuda_flash_scratch(int B, int T, int C, int NH);
size_t kern_cuda_flash_counters(int B, int T, int NH);
size_t kern_cuda_flash_sums(int B, int T, int C, int NH);
/* The dynamic shared memory a block of the bf16 attention's forward
 * (backward 0) or backward (1) takes for heads padded to hsp (32, 64, 96 or
 * 128): Hopper's kernels (hopper 1) or mma.sync's (0). flash.cu launches
 * with these bytes. */
size_t kern_cuda_flash_smem(int hsp, int hopper, int backward);
/* The widest head (128, 96, 64, else 32) whose attention kernels fit a
 * block's opt-in shared memory of smem bytes: mma.sync's, and Hopper's where
 * hopper (its backward up to 96: wider heads take mma.sync's). */
int kern_cuda_flash_max_head_dim(size_t smem, int hopper);
/* A Kern for sizes only: device KERN_CUDA, precision prec, the size ops
 * above and nothing else (no memory, no kernels). Nothing to free. */
void kern_cuda_sizes(Kern *k, KernPrec prec);

/* The CPU backend on pool (borrowed; OpenBLAS must run single-threaded).
 * Caller frees with kern_free(). */
int kern_cpu_init(Kern *k, GPool *pool, Err *e);
/* The CPU's table, for sizes (gpt_memory) without a backend. */
const KernOps *kern_cpu_ops(void);
void kern_free(Kern *k);
/* Bytes an element of the working precision takes. */
size_t kern_x_bytes(const Kern *k);

#endif
